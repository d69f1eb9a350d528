//! Receipts of certified delivery (the source document's operation 525): one per
//! recipient, for the sender, in one file that anyone can check offline with the root
//! certificate and the log's public key alone (the envelope's bundle,
//! `envelope_bundle.rs`, is its model: the same canonical form, encodings and report).
//!
//! Its parts:
//!
//! - `delivery`, and `recipient`: their place in the delivery, the e-mail address and
//!   phone the sender gave (no phone when the recipient is a client of the bank whose own
//!   phone was used: the sender is never shown it), and the salt the records' digests of
//!   them are made with (so the checker finds them again in the records, which never hold
//!   them in clear);
//! - `log`: one checkpoint and its size; every record below is proved an entry of it;
//! - `records`: the delivery's own chain (its submission, naming every recipient by
//!   their digests), and `recipient_records`: this recipient's chain of events, each
//!   record with its log index and inclusion proof;
//! - `withdrawal_records` and `withdrawal_certificate`: the chain of the certificate the
//!   recipient's browser answered under, and that certificate (absent if the recipient
//!   never withdrew);
//! - `answer`: the statement the recipient's browser signed, its signature (P-256,
//!   `r || s`) under the withdrawal certificate's key, and sceau's RFC 3161 time-stamp
//!   token over the statement and the signature (absent until the recipient answered).

use crate::bundle::{Report, decode_base64, opened, text};
use crate::envelope_bundle::{
    LogCheckpoint, Logged, LoggedRecord, check_chain, check_logged, decode_logged, logged_json,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sceau_log::VerifierKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `format` of the receipts this version writes and reads.
pub const FORMAT: &str = "sceau-delivery-receipt/1";
/// Largest receipt the checker reads (a delivery of 500 recipients' events).
pub const RECEIPT_LEN_MAX: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub format: String,
    pub delivery: String,
    pub recipient: RecipientPart,
    pub log: LogCheckpoint,
    pub records: Vec<LoggedRecord>,
    pub recipient_records: Vec<LoggedRecord>,
    pub withdrawal_records: Vec<LoggedRecord>,
    pub withdrawal_certificate: Option<String>,
    pub answer: Option<AnswerPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientPart {
    pub position: u32,
    pub email: String,
    pub phone: Option<String>,
    pub contact_salt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerPart {
    pub statement: String,
    pub signature: String,
    pub time_stamp: String,
}

/// The recipient's answer, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub statement: String,
    pub signature: Vec<u8>,
    pub time_stamp: Vec<u8>,
}

/// A receipt's parts, as the server has them and as the checker decodes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub delivery: String,
    pub position: u32,
    pub email: String,
    /// The phone the sender gave (none: the recipient's own, as a client of the bank).
    pub phone: Option<String>,
    pub contact_salt: [u8; 16],
    pub size: u64,
    pub checkpoint: String,
    pub records: Vec<Logged>,
    pub recipient_records: Vec<Logged>,
    pub withdrawal_records: Vec<Logged>,
    pub withdrawal_certificate: Option<Vec<u8>>,
    pub answer: Option<Answer>,
}

/// The receipt of `contents`, as its canonical bytes.
pub fn write(contents: &Contents) -> Result<Vec<u8>, String> {
    let receipt = Receipt {
        format: FORMAT.to_owned(),
        delivery: contents.delivery.clone(),
        recipient: RecipientPart {
            position: contents.position,
            email: contents.email.clone(),
            phone: contents.phone.clone(),
            contact_salt: hex::encode(contents.contact_salt),
        },
        log: LogCheckpoint {
            size: contents.size,
            checkpoint: contents.checkpoint.clone(),
        },
        records: contents.records.iter().map(logged_json).collect(),
        recipient_records: contents.recipient_records.iter().map(logged_json).collect(),
        withdrawal_records: contents
            .withdrawal_records
            .iter()
            .map(logged_json)
            .collect(),
        withdrawal_certificate: contents
            .withdrawal_certificate
            .as_ref()
            .map(|der| STANDARD.encode(der)),
        answer: contents.answer.as_ref().map(|answer| AnswerPart {
            statement: answer.statement.clone(),
            signature: STANDARD.encode(&answer.signature),
            time_stamp: STANDARD.encode(&answer.time_stamp),
        }),
    };
    let value = serde_json::to_value(&receipt).map_err(|error| error.to_string())?;
    sceau_log::canonical(&value).map_err(|error| error.to_string())
}

fn format_of(receipt: &Receipt) -> &str {
    &receipt.format
}

/// The receipt's parts decoded (the format, base64 and hexadecimal checked).
pub fn decode(receipt: &Receipt) -> Result<Contents, String> {
    if receipt.format != FORMAT {
        return Err(format!(
            "format {:?} is not {FORMAT:?} (a receipt of another version, or altered)",
            receipt.format
        ));
    }
    let mut contact_salt = [0_u8; 16];
    hex::decode_to_slice(&receipt.recipient.contact_salt, &mut contact_salt)
        .map_err(|_| "recipient.contact_salt is not 32 hexadecimal digits".to_owned())?;
    if receipt.answer.is_some() && receipt.withdrawal_certificate.is_none() {
        return Err("an answer without the withdrawal certificate it was signed under".into());
    }
    let answer = receipt
        .answer
        .as_ref()
        .map(|answer| {
            Ok::<_, String>(Answer {
                statement: answer.statement.clone(),
                signature: decode_base64("answer.signature", &answer.signature)?,
                time_stamp: decode_base64("answer.time_stamp", &answer.time_stamp)?,
            })
        })
        .transpose()?;
    Ok(Contents {
        delivery: receipt.delivery.clone(),
        position: receipt.recipient.position,
        email: receipt.recipient.email.clone(),
        phone: receipt.recipient.phone.clone(),
        contact_salt,
        size: receipt.log.size,
        checkpoint: receipt.log.checkpoint.clone(),
        records: decode_logged("records", &receipt.records)?,
        recipient_records: decode_logged("recipient_records", &receipt.recipient_records)?,
        withdrawal_records: decode_logged("withdrawal_records", &receipt.withdrawal_records)?,
        withdrawal_certificate: receipt
            .withdrawal_certificate
            .as_ref()
            .map(|der| decode_base64("withdrawal_certificate", der))
            .transpose()?,
        answer,
    })
}

/// Checks the receipt `bytes` against the trusted `root` (DER) and the log's key. The
/// checks, by part: `receipt`, `checkpoint`, `log entries`, `delivery chain`, `recipient`
/// (the submission names this recipient's address and phone), `recipient chain`, `events`
/// (what became of the recipient), then, once they withdrew, `certificate chain` and `withdrawal
/// certificate`; once they answered, `answer` (the statement and its signature),
/// `content` (the digests their browser computed against the sent files') and
/// `time-stamp`.
pub fn check(bytes: &[u8], root: &[u8], log_key: &VerifierKey) -> Report {
    let mut report = Report::default();
    let Some((_, contents)) = opened(bytes, RECEIPT_LEN_MAX, format_of, decode, &mut report) else {
        return report;
    };
    // The report's first line is named after a receipt, not a bundle.
    if let Some(first) = report.checks.first_mut() {
        first.part = "receipt";
    }
    check_log(&contents, log_key, &mut report);
    let Some(records) = check_chain("delivery chain", &contents.records, &mut report) else {
        return report;
    };
    let Some(sent) = check_recipient(&contents, &records, &mut report) else {
        return report;
    };
    // Nothing happened to a recipient whose notice is not sent yet: no chain yet.
    let own = if contents.recipient_records.is_empty() {
        report.ok("recipient chain", "no records yet");
        Vec::new()
    } else {
        let Some(own) = check_chain("recipient chain", &contents.recipient_records, &mut report)
        else {
            return report;
        };
        own
    };
    let mine: Vec<&Value> = own.iter().collect();
    if let Some(stranger) = mine.iter().position(|record| {
        record["recipient"]["position"] != contents.position
            || record["delivery"]["id"] != contents.delivery.as_str()
    }) {
        report.fail(
            "events",
            format!(
                "record {stranger} of the recipient's chain is of another recipient or delivery"
            ),
        );
        return report;
    }
    report.push("events", events(&mine));
    let withdrawn: Vec<&Value> = mine
        .iter()
        .copied()
        .filter(|record| record["type"] == "delivery.withdrawn")
        .collect();
    if withdrawn.is_empty() {
        if contents.withdrawal_certificate.is_some() || !contents.withdrawal_records.is_empty() {
            report.fail(
                "withdrawal certificate",
                "the receipt gives a withdrawal certificate the records never name",
            );
        }
        return report;
    }
    let Some(certificate) = &contents.withdrawal_certificate else {
        if contents.answer.is_some() {
            report.fail("withdrawal certificate", "missing");
        }
        return report;
    };
    let Some(chain) = check_chain(
        "certificate chain",
        &contents.withdrawal_records,
        &mut report,
    ) else {
        return report;
    };
    let serial = match withdrawal_outcome(certificate, &chain, &withdrawn) {
        Ok((serial, found)) => {
            report.ok("withdrawal certificate", found);
            serial
        }
        Err(why) => {
            report.fail("withdrawal certificate", why);
            return report;
        }
    };
    let answered = mine.iter().copied().find(|record| {
        matches!(
            text(&record["type"]).as_str(),
            "delivery.accepted" | "delivery.rejected"
        )
    });
    match (answered, &contents.answer) {
        (Some(record), Some(answer)) => check_answer(
            &contents,
            answer,
            certificate,
            &serial,
            record,
            sent,
            root,
            &mut report,
        ),
        (Some(_), None) => report.fail(
            "answer",
            "the records say the recipient answered, but the receipt has no answer",
        ),
        (None, Some(_)) => report.fail("answer", "the receipt gives an answer no record names"),
        (None, None) => {}
    }
    report
}

/// Every record's SHA-256 is an entry of the signed checkpoint's tree.
fn check_log(contents: &Contents, key: &VerifierKey, report: &mut Report) {
    let chains = [
        ("records", contents.records.as_slice()),
        ("recipient_records", contents.recipient_records.as_slice()),
        ("withdrawal_records", contents.withdrawal_records.as_slice()),
    ];
    check_logged(
        &contents.checkpoint,
        contents.size,
        "receipt",
        &chains,
        key,
        report,
    );
}

/// The chain is the delivery's and starts with its submission, which names this
/// recipient by the digests of the address and phone the receipt gives: the submission.
fn check_recipient<'a>(
    contents: &Contents,
    records: &'a [Value],
    report: &mut Report,
) -> Option<&'a Value> {
    let sent = &records[0];
    let named = |value: &str| {
        hex::encode(sceau_store::evidence::contact_digest(
            &contents.contact_salt,
            value,
        ))
    };
    let listed = sent["recipients"].as_array().and_then(|all| {
        all.iter()
            .find(|recipient| recipient["position"] == contents.position)
    });
    let why = if sent["type"] != "delivery.sent" || sent["event"] != "SubmissionAcceptance" {
        Some("the chain does not start with the delivery's submission".to_owned())
    } else if sent["delivery"]["id"] != contents.delivery.as_str() {
        Some(format!(
            "the records are of delivery {}, not {}",
            text(&sent["delivery"]["id"]),
            contents.delivery
        ))
    } else if let Some(listed) = listed {
        // A phone the sender gave has its digest in the records; a client's own has none,
        // and the receipt gives none (the sender was never shown it).
        let phone_differs = match (&contents.phone, listed["phone_of_client"] == true) {
            (Some(phone), false) => listed["phone_sha256"] != named(phone).as_str(),
            (None, true) => false,
            _ => true,
        };
        if listed["email_sha256"] != named(&contents.email).as_str() || phone_differs {
            Some(format!(
                "recipient {} of the records is not {} {} (their digests differ)",
                contents.position,
                contents.email,
                contents.phone.as_deref().unwrap_or("")
            ))
        } else {
            None
        }
    } else {
        Some(format!(
            "the delivery has no recipient {}",
            contents.position
        ))
    };
    if let Some(why) = why {
        report.fail("recipient", why);
        return None;
    }
    report.ok(
        "recipient",
        format!(
            "recipient {} of delivery {} (envelope {}, sent {}, deadline {}): {} {}",
            contents.position + 1,
            contents.delivery,
            text(&sent["delivery"]["envelope"]),
            text(&sent["at"]),
            text(&sent["deadline"]),
            contents.email,
            contents
                .phone
                .as_deref()
                .unwrap_or("(their own phone, as a client of the bank)")
        ),
    );
    Some(sent)
}

/// What became of the recipient, from their records.
fn events(mine: &[&Value]) -> Result<String, String> {
    if mine.is_empty() {
        return Ok("nothing happened to this recipient yet".to_owned());
    }
    let lines: Vec<String> = mine
        .iter()
        .map(|record| {
            let event = record["event"]
                .as_str()
                .map(|name| format!(" ({name})"))
                .unwrap_or_default();
            format!("{}{event} {}", text(&record["type"]), text(&record["at"]))
        })
        .collect();
    Ok(lines.join(" → "))
}

/// The withdrawal certificate is the one the records name (its SHA-256 as issued), and
/// was issued as a disposable certificate of a browser's key: its serial and what was found.
fn withdrawal_outcome(
    certificate: &[u8],
    chain: &[Value],
    withdrawn: &[&Value],
) -> Result<(String, String), String> {
    let issued = sceau_pki::Issued::from_der(certificate)
        .map_err(|_| "withdrawal_certificate is not a certificate".to_owned())?;
    let serial = sceau_pki::ca::serial_hex(&issued);
    let last = withdrawn
        .last()
        .map(|record| text(&record["withdrawal_certificate"]))
        .unwrap_or_default();
    if last != serial {
        return Err(format!(
            "its serial {serial} is not the recipient's last withdrawal certificate {last}"
        ));
    }
    let first = &chain[0];
    let recorded = &first["certificate"];
    if first["type"] != "certificate.issued"
        || first["subject"] != format!("certificate:{serial}")
        || recorded["serial"] != serial.as_str()
        || recorded["kind"] != "station"
    {
        return Err(format!(
            "the certificate chain does not start with the issuance of certificate {serial}"
        ));
    }
    let digest = hex::encode(Sha256::digest(certificate));
    if recorded["sha256"] != digest.as_str() {
        return Err(format!(
            "its SHA-256 {digest} is not the one its certificate.issued record gives"
        ));
    }
    let used = chain
        .iter()
        .find(|record| record["type"] == "certificate.revoked" && record["used"] == true);
    Ok((
        serial.clone(),
        format!(
            "certificate {serial} of the recipient's browser key (SHA-256 {digest}), issued {}{}",
            text(&first["at"]),
            match used {
                Some(record) => format!(
                    ", used once for the answer and revoked {}",
                    text(&record["at"])
                ),
                None => String::new(),
            }
        ),
    ))
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "type")]
    kind: String,
    delivery: String,
    recipient: u32,
    certificate: String,
    answer: String,
    files: Vec<StatementFile>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct StatementFile {
    position: u32,
    sha256: Option<String>,
}

/// The answer: its record names the statement, signature and time-stamp by their digests;
/// the statement is this recipient's, under this certificate, signed by its key; an
/// acceptance names exactly the sent files' digests; the time-stamp is sceau's TSA's over
/// the statement and the signature.
#[allow(clippy::too_many_arguments)]
fn check_answer(
    contents: &Contents,
    answer: &Answer,
    certificate: &[u8],
    serial: &str,
    record: &Value,
    sent: &Value,
    root: &[u8],
    report: &mut Report,
) {
    let hash = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    let answer_outcome = (|| {
        if record["statement_sha256"] != hash(answer.statement.as_bytes()).as_str()
            || record["signature_sha256"] != hash(&answer.signature).as_str()
            || record["time_stamp_sha256"] != hash(&answer.time_stamp).as_str()
        {
            return Err("the statement, its signature or its time-stamp is not the one the answer's record names".to_owned());
        }
        let issued = sceau_pki::Issued::from_der(certificate)
            .map_err(|_| "withdrawal_certificate is not a certificate".to_owned())?;
        if !sceau_pki::station::station_signature_verifies(
            &issued,
            answer.statement.as_bytes(),
            &answer.signature,
        ) {
            return Err(
                "the statement's signature does not verify with the withdrawal certificate's key"
                    .to_owned(),
            );
        }
        let statement: Statement = serde_json::from_str(&answer.statement)
            .map_err(|_| "the statement is not a delivery answer".to_owned())?;
        let expected = if record["type"] == "delivery.accepted" {
            "accept"
        } else {
            "reject"
        };
        if statement.kind != crate::delivery::STATEMENT_TYPE
            || statement.delivery != contents.delivery
            || statement.recipient != contents.position
            || statement.certificate != serial
            || statement.answer != expected
        {
            return Err("the statement names another delivery, recipient, certificate or answer than its record".to_owned());
        }
        Ok((statement, expected))
    })();
    let (statement, expected) = match answer_outcome {
        Ok(read) => read,
        Err(why) => {
            report.fail("answer", why);
            return;
        }
    };
    report.ok(
        "answer",
        format!(
            "{} by the recipient's browser ({}), signed with the key of certificate {serial}{}",
            if expected == "accept" {
                "accepted"
            } else {
                "refused"
            },
            text(&record["event"]),
            statement
                .reason
                .as_deref()
                .map(|reason| format!("; reason: {reason:?}"))
                .unwrap_or_default()
        ),
    );
    let sent_files: Vec<String> = sent["files"]
        .as_array()
        .map(|files| files.iter().map(|file| text(&file["sha256"])).collect())
        .unwrap_or_default();
    let computed: Vec<Option<String>> = statement
        .files
        .iter()
        .map(|file| file.sha256.clone())
        .collect();
    let in_order = statement
        .files
        .iter()
        .enumerate()
        .all(|(at, file)| usize::try_from(file.position).ok() == Some(at));
    let differ: Vec<usize> = sent_files
        .iter()
        .enumerate()
        .filter(|(at, digest)| {
            computed.get(*at).cloned().flatten().as_deref() != Some(digest.as_str())
        })
        .map(|(at, _)| at + 1)
        .collect();
    let content = if !in_order || computed.len() != sent_files.len() {
        Err("the statement does not name each sent file once, in order".to_owned())
    } else if expected == "accept" && !differ.is_empty() {
        Err(format!(
            "an acceptance of files whose digests are not the sent ones (files {differ:?})"
        ))
    } else if differ.is_empty() {
        Ok(format!(
            "the recipient's browser computed every sent file's SHA-256 ({} file{})",
            sent_files.len(),
            if sent_files.len() == 1 { "" } else { "s" }
        ))
    } else {
        Ok(format!(
            "the recipient's browser found files {differ:?} different from those sent"
        ))
    };
    report.push("content", content);
    let mut stamped = Vec::with_capacity(answer.statement.len() + answer.signature.len());
    stamped.extend_from_slice(answer.statement.as_bytes());
    stamped.extend_from_slice(&answer.signature);
    let outcome = sceau_pki::verify::verify_time_stamp(&answer.time_stamp, &stamped, root, None)
        .map(|stamp| {
            format!(
                "the statement and its signature were time-stamped {} by {} (serial {})",
                sceau_store::evidence::rfc3339(stamp.time_s),
                stamp.tsa,
                stamp.serial
            )
        })
        .map_err(|refusal| format!("the answer's time-stamp does not verify: {refusal}"));
    report.push("time-stamp", outcome);
}
