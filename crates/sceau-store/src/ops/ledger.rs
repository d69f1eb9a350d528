//! The ledger's invariants, recomputed from the stored rows.

use crate::model::LedgerReport;
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, args};

/// The sum of all balances per currency (PostgreSQL sums integers as `NUMERIC`).
static CURRENCY_SUMS: Sql = Sql::each(
    "SELECT currency, SUM(balance)::BIGINT AS total FROM accounts GROUP BY currency \
     ORDER BY currency",
    "SELECT currency, SUM(balance) AS total FROM accounts GROUP BY currency ORDER BY currency",
);

/// Recomputes every ledger invariant from the rows; see [`LedgerReport`].
pub(crate) async fn check_ledger(tx: &impl Tx) -> Result<LedgerReport, Fail> {
    let currency_sums = tx
        .rows(&CURRENCY_SUMS, args![], |row| {
            Ok((row.column("currency")?, row.column("total")?))
        })
        .await?;
    let mut violations = Vec::new();
    for (rule, check) in &crate::shared::LEDGER_CHECKS {
        let ids: Vec<i64> = tx.rows(check, args![], |row| row.column("id")).await?;
        violations.extend(ids.into_iter().map(|id| format!("{rule}: id {id}")));
    }
    Ok(LedgerReport {
        currency_sums,
        violations,
    })
}
