//! Evidence bundles: everything that proves one payment, in one file that anyone can check
//! offline with the root certificate and the log's public key alone.
//!
//! A bundle is JSON in the canonical form of RFC 8785, so that one payment has one bundle
//! byte for byte and a changed byte anywhere is found: the checker refuses a file that is
//! not in canonical form, binary parts in other than padded standard base64, and hashes
//! in other than lowercase hexadecimal. Its parts:
//!
//! - `record`: the `checkout.paid` evidence record (base64 of its canonical JSON);
//! - `signature`: the receipt, a detached CMS signature of the record by the client's
//!   key, with the client's certificate and the issuing CA's, and the signature
//!   time-stamp (CAdES-B-T);
//! - `time_stamp`: that time-stamp token again, on its own, for `openssl ts -verify`;
//! - `log`: the record's index in the transparency log, the inclusion proof of its hash
//!   at the checkpoint's size, and the checkpoint (a C2SP signed note);
//! - `certificates`: the signature's certificates as it carries them, then the root.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sceau_log::{VerifierKey, leaf_hash, parse_and_verify, verify_inclusion};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `format` of the bundles this version writes and reads.
pub const FORMAT: &str = "sceau-evidence-bundle/1";

/// Largest bundle the checker reads.
pub const BUNDLE_LEN_MAX: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub record: String,
    pub signature: String,
    pub time_stamp: String,
    pub log: LogProof,
    pub certificates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogProof {
    pub index: u64,
    pub size: u64,
    pub inclusion_proof: Vec<String>,
    pub checkpoint: String,
}

/// The binary parts of a bundle, as the server has them.
pub struct Parts<'a> {
    pub record: &'a [u8],
    pub signature: &'a [u8],
    pub time_stamp: &'a [u8],
    pub index: u64,
    pub size: u64,
    pub inclusion_proof: &'a [[u8; 32]],
    pub checkpoint: &'a str,
    /// The signature's certificates then the root, DER.
    pub certificates: &'a [Vec<u8>],
}

/// The bundle of `parts`, as its canonical bytes.
pub fn write(parts: &Parts<'_>) -> Result<Vec<u8>, String> {
    let bundle = Bundle {
        format: FORMAT.to_owned(),
        record: STANDARD.encode(parts.record),
        signature: STANDARD.encode(parts.signature),
        time_stamp: STANDARD.encode(parts.time_stamp),
        log: LogProof {
            index: parts.index,
            size: parts.size,
            inclusion_proof: parts.inclusion_proof.iter().map(hex::encode).collect(),
            checkpoint: parts.checkpoint.to_owned(),
        },
        certificates: parts
            .certificates
            .iter()
            .map(|der| STANDARD.encode(der))
            .collect(),
    };
    let value = serde_json::to_value(&bundle).map_err(|error| error.to_string())?;
    sceau_log::canonical(&value).map_err(|error| error.to_string())
}

/// One check of a bundle: its part, and what was found or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `bundle`, `record`, `signature`, `time-stamp`, `certificates`, `checkpoint`,
    /// `log entry`.
    pub part: &'static str,
    pub outcome: Result<String, String>,
}

/// The report on a bundle: every check made, in order. Checks that need a part that
/// failed to decode are not made (the decoding's failure says where), nor is the record's
/// unless its signature verified: what a forged record says is never reported as found.
/// The text comes partly from the bundle: escape it before printing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn valid(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|check| check.outcome.is_ok())
    }

    pub(crate) fn ok(&mut self, part: &'static str, found: impl Into<String>) {
        self.checks.push(Check {
            part,
            outcome: Ok(found.into()),
        });
    }

    pub(crate) fn fail(&mut self, part: &'static str, why: impl Into<String>) {
        self.checks.push(Check {
            part,
            outcome: Err(why.into()),
        });
    }

    pub(crate) fn push(&mut self, part: &'static str, outcome: Result<String, String>) {
        self.checks.push(Check { part, outcome });
    }
}

/// Base64 that is exactly the encoding of what it decodes to (padded, no line breaks).
pub(crate) fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|error| format!("{field} is not base64: {error}"))?;
    if STANDARD.encode(&bytes) != text {
        return Err(format!("{field} is not in canonical base64"));
    }
    Ok(bytes)
}

pub(crate) fn decode_hash(field: &str, text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text).map_err(|_| format!("{field} is not hexadecimal"))?;
    if hex::encode(&bytes) != text {
        return Err(format!("{field} is not lowercase hexadecimal"));
    }
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| format!("{field} is not 32 bytes"))
}

/// The decoded binary parts.
struct Decoded {
    record: Vec<u8>,
    signature: Vec<u8>,
    time_stamp: Vec<u8>,
    proof: Vec<[u8; 32]>,
    certificates: Vec<Vec<u8>>,
}

fn decode(bundle: &Bundle) -> Result<Decoded, String> {
    if bundle.format != FORMAT {
        return Err(format!(
            "format {:?} is not {FORMAT:?} (a bundle of another version, or altered)",
            bundle.format
        ));
    }
    Ok(Decoded {
        record: decode_base64("record", &bundle.record)?,
        signature: decode_base64("signature", &bundle.signature)?,
        time_stamp: decode_base64("time_stamp", &bundle.time_stamp)?,
        proof: bundle
            .log
            .inclusion_proof
            .iter()
            .enumerate()
            .map(|(index, hash)| decode_hash(&format!("log.inclusion_proof[{index}]"), hash))
            .collect::<Result<_, _>>()?,
        certificates: bundle
            .certificates
            .iter()
            .enumerate()
            .map(|(index, der)| decode_base64(&format!("certificates[{index}]"), der))
            .collect::<Result<_, _>>()?,
    })
}

/// Where two byte strings first differ.
fn first_difference(left: &[u8], right: &[u8]) -> usize {
    left.iter()
        .zip(right)
        .position(|(a, b)| a != b)
        .unwrap_or(left.len().min(right.len()))
}

/// Checks the bundle `bytes` against the trusted `root` (DER) and the log's key.
pub fn check(bytes: &[u8], root: &[u8], log_key: &VerifierKey) -> Report {
    let mut report = Report::default();
    let Some((bundle, parts)) = opened(bytes, BUNDLE_LEN_MAX, format_of, decode, &mut report)
    else {
        return report;
    };
    if check_signature(&parts, root, &mut report) {
        check_record(&parts.record, &mut report);
    }
    check_log(&bundle.log, &parts, log_key, &mut report);
    report
}

/// The format a payment bundle says it is (`decode` accepts only [`FORMAT`]).
fn format_of(bundle: &Bundle) -> &str {
    &bundle.format
}

/// A bundle opened: canonical JSON of its shape (`T`), at most `len_max` bytes, whose
/// fields `decode` reads (its format among them); the `bundle` check says so, naming the
/// format `format` reads from it, or says why not.
pub(crate) fn opened<T: serde::de::DeserializeOwned, P>(
    bytes: &[u8],
    len_max: usize,
    format: fn(&T) -> &str,
    decode: impl FnOnce(&T) -> Result<P, String>,
    report: &mut Report,
) -> Option<(T, P)> {
    let bundle = check_form::<T>(bytes, len_max, report)?;
    match decode(&bundle) {
        Ok(parts) => {
            report.ok("bundle", format!("{}, canonical JSON", format(&bundle)));
            Some((bundle, parts))
        }
        Err(why) => {
            report.fail("bundle", why);
            None
        }
    }
}

/// The bundle is canonical JSON of the known shape (`T`), at most `len_max` bytes.
fn check_form<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    len_max: usize,
    report: &mut Report,
) -> Option<T> {
    if bytes.len() > len_max {
        report.fail("bundle", format!("larger than {len_max} bytes"));
        return None;
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(error) => {
            report.fail("bundle", format!("not JSON: {error}"));
            return None;
        }
    };
    match sceau_log::canonical(&value) {
        Ok(canonical) if canonical == bytes => {}
        Ok(canonical) => {
            report.fail(
                "bundle",
                format!(
                    "not in canonical form (RFC 8785): it differs at byte {}",
                    first_difference(bytes, &canonical)
                ),
            );
            return None;
        }
        Err(error) => {
            report.fail("bundle", format!("not canonical JSON: {error}"));
            return None;
        }
    }
    match serde_json::from_value(value) {
        Ok(bundle) => Some(bundle),
        Err(error) => {
            report.fail("bundle", format!("not a bundle: {error}"));
            None
        }
    }
}

/// The record is a canonical `checkout.paid` record.
fn check_record(record: &[u8], report: &mut Report) {
    let value: Value = match serde_json::from_slice(record) {
        Ok(value) => value,
        Err(error) => return report.fail("record", format!("not JSON: {error}")),
    };
    match sceau_log::canonical(&value) {
        Ok(canonical) if canonical == record => {}
        _ => return report.fail("record", "not in canonical form (RFC 8785)"),
    }
    if value["type"] != "checkout.paid" || value["v"] != 1 {
        return report.fail(
            "record",
            format!(
                "a {} record of version {}, not a checkout.paid record of version 1",
                value["type"], value["v"]
            ),
        );
    }
    let checkout = &value["checkout"];
    report.ok(
        "record",
        format!(
            "a canonical checkout.paid record: {} at {}, {} {} to merchant {} ({}), reference {}, client {}, number …{}",
            text(&checkout["id"]),
            text(&value["at"]),
            text(&checkout["amount"]),
            text(&checkout["currency"]),
            text(&checkout["merchant"]),
            text(&checkout["merchant_name"]),
            text(&checkout["reference"]),
            text(&value["client"]),
            text(&value["number_last_four"]),
        ),
    );
}

pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The receipt signs the record, under a chain to the root, with a time-stamp; the
/// bundle's time-stamp and certificates are the signature's own. True when the signature
/// verified: the record is then the signer's.
fn check_signature(parts: &Decoded, root: &[u8], report: &mut Report) -> bool {
    match sceau_pki::verify_signature(&parts.signature, &parts.record, root, None) {
        Ok(verified) => {
            report.ok(
                "signature",
                format!(
                    "the record is signed by {} (certificate {}), whose chain leads to the root",
                    verified.signer, verified.serial
                ),
            );
            match verified.time_stamp {
                Some(stamp) => report.ok(
                    "time-stamp",
                    format!(
                        "the signature existed at {} (time-stamp {} by {})",
                        crate::clock::rfc3339(stamp.time_s),
                        stamp.serial,
                        stamp.tsa
                    ),
                ),
                None => report.fail("time-stamp", "the signature carries no time-stamp"),
            }
        }
        Err(refusal) => {
            report.fail(
                "signature",
                format!("refused ({}): {refusal}", refusal.code()),
            );
            return false;
        }
    }
    let carried = match sceau_pki::signature_parts(&parts.signature) {
        Ok(carried) => carried,
        Err(refusal) => {
            report.fail("signature", refusal.to_string());
            return false;
        }
    };
    if carried.time_stamp_token.as_deref() != Some(parts.time_stamp.as_slice()) {
        report.fail(
            "time-stamp",
            "the bundle's time_stamp is not the token the signature carries",
        );
    }
    let mut expected = carried.certificates;
    expected.push(root.to_vec());
    report.push(
        "certificates",
        certificates_match(&parts.certificates, &expected),
    );
    true
}

/// Whether the bundle's certificates are the `expected` ones (the signature's chain,
/// then the root), and if not where they part.
pub(crate) fn certificates_match(
    given: &[Vec<u8>],
    expected: &[Vec<u8>],
) -> Result<String, String> {
    if given == expected {
        Ok(format!(
            "{} certificates: the signature's chain, then the given root",
            expected.len()
        ))
    } else {
        match given
            .iter()
            .zip(expected)
            .position(|(given, carried)| given != carried)
        {
            Some(index) if index + 1 == expected.len() => {
                Err("the bundle's root is not the given root".to_owned())
            }
            Some(index) => Err(format!(
                "certificates[{index}] is not the signature's certificate {index}"
            )),
            None => Err(format!(
                "{} certificates where the signature's chain and the root are {}",
                given.len(),
                expected.len()
            )),
        }
    }
}

/// The checkpoint `note`, if the log's key signed it and it is of `size` entries (the
/// size its `holder`, the proof or the bundle, states): reported as the `checkpoint`
/// line either way.
pub(crate) fn checked_checkpoint(
    note: &str,
    size: u64,
    holder: &str,
    key: &VerifierKey,
    report: &mut Report,
) -> Option<sceau_log::Checkpoint> {
    let checkpoint = match parse_and_verify(note, key) {
        Ok(checkpoint) => checkpoint,
        Err(error) => {
            report.fail(
                "checkpoint",
                format!("not signed by the given log key ({}): {error}", key.name()),
            );
            return None;
        }
    };
    if checkpoint.size() != size {
        report.fail(
            "checkpoint",
            format!(
                "its size {} is not the {holder}'s size {size}",
                checkpoint.size(),
            ),
        );
        return None;
    }
    report.ok(
        "checkpoint",
        format!(
            "signed by {}: {} entries, root {}",
            checkpoint.origin(),
            checkpoint.size(),
            hex::encode(checkpoint.root_hash())
        ),
    );
    Some(checkpoint)
}

/// The checkpoint is signed by the log's key, and the record's hash is the log entry at
/// `index` in its tree: the inclusion proof leads from that entry to the checkpoint's
/// root. Without a signed checkpoint there is nothing to check the entry against, and no
/// line about it.
fn check_log(log: &LogProof, parts: &Decoded, key: &VerifierKey, report: &mut Report) {
    let Some(checkpoint) = checked_checkpoint(&log.checkpoint, log.size, "proof", key, report)
    else {
        return;
    };
    let entry: [u8; 32] = Sha256::digest(&parts.record).into();
    let included = verify_inclusion(
        &leaf_hash(&entry),
        log.index,
        log.size,
        &parts.proof,
        checkpoint.root_hash(),
    );
    report.push(
        "log entry",
        match included {
            Ok(()) => Ok(format!(
                "the record's SHA-256 {} is entry {} of the checkpoint's {} entries \
                 (inclusion proof of {} hashes)",
                hex::encode(entry),
                log.index,
                log.size,
                parts.proof.len()
            )),
            Err(error) => Err(format!(
                "the record's SHA-256 {} is not shown to be entry {} of the checkpoint's {} \
                 entries: {error} (the record, its index or the inclusion proof changed)",
                hex::encode(entry),
                log.index,
                log.size
            )),
        },
    );
}
