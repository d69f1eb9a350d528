//! Stand-in for `crate::receipt` (the text of a delivery receipt) until that module is
//! merged; it has the same interface, reads `id:` and `stat:` and `err:` only. To be
//! deleted on that merge.

use crate::ReportOutcome;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptText {
    pub id: String,
    pub stat: Stat,
    pub err: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    Delivered,
    Failed,
    Pending,
}

impl Stat {
    pub fn outcome(&self) -> ReportOutcome {
        match self {
            Stat::Delivered => ReportOutcome::Delivered,
            Stat::Failed => ReportOutcome::Failed,
            Stat::Pending => ReportOutcome::Pending,
        }
    }
}

pub fn parse(text: &[u8]) -> Option<ReceiptText> {
    let text = std::str::from_utf8(text).ok()?;
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .map(str::to_owned)
    };
    let stat = match field("stat:")?.to_ascii_uppercase().as_str() {
        "DELIVRD" => Stat::Delivered,
        "UNDELIV" | "REJECTD" | "EXPIRED" | "DELETED" => Stat::Failed,
        _ => Stat::Pending,
    };
    Some(ReceiptText {
        id: field("id:")?,
        stat,
        err: field("err:"),
    })
}
