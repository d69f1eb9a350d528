//! Evidence bundles of envelopes: everything that proves what became of one envelope,
//! in one file that anyone can check offline with the root certificate and the log's
//! public key alone (the payment's bundle, `bundle.rs`, is its model: the same canonical
//! form, the same encodings, the same kind of report).
//!
//! Its parts:
//!
//! - `envelope`: the envelope's id;
//! - `log`: one checkpoint (a C2SP signed note) and its size; every record below is
//!   proved an entry of that tree;
//! - `records`: the envelope's evidence records in order (`envelope.submitted`, the
//!   seals, `file.signed` per file, `envelope.archived`; or `envelope.refused`), each the
//!   base64 of its canonical JSON with its log index and inclusion proof;
//! - `station_records`: the same for the station's certificate (`certificate.issued`,
//!   then its use and revocation);
//! - `station_certificate`: that certificate (DER);
//! - `manifest`: the manifest the station signed (canonical JSON text), when sceau kept
//!   it (a manifest refused as invalid is not kept: its record gives its SHA-256);
//! - `manifest_signature`: the station's signature over that manifest (P-256, `r || s`,
//!   base64), checked with the station certificate's key: the files' digests are the
//!   station's own (format 2; absent for an envelope accepted before sceau kept it, and
//!   in format 1);
//! - `files`: each file's name, size and SHA-256 (not its bytes), its detached signature
//!   (CAdES-B-T) and the time-stamp token taken out of it;
//! - `container`: the ASiC-E container's SHA-256 and size (not the container), its
//!   `META-INF/ASiCManifest.xml` and the signature over it (`META-INF/signature.p7s`);
//! - `certificates`: the signer's certificates as the signatures carry them, then the
//!   root.
//!
//! A refused envelope's bundle proves the refusal: its records and its station
//! certificate's, no files, no container, and the root alone as certificates.

use crate::bundle::{
    Report, certificates_match, checked_checkpoint, decode_base64, decode_hash, opened, text,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sceau_log::{VerifierKey, leaf_hash, verify_inclusion};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `format` of the envelope bundles this version writes and reads.
pub const FORMAT: &str = "sceau-envelope-evidence/2";
/// The format before the station's signature over the manifest was given: read still.
pub const FORMAT_1: &str = "sceau-envelope-evidence/1";

/// Largest envelope bundle the checker reads (20 files' signatures and a few dozen
/// records take about 200 KB).
pub const BUNDLE_LEN_MAX: usize = 4 << 20;

/// Most records a chain of the bundle holds.
pub const RECORDS_MAX: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeBundle {
    pub format: String,
    pub envelope: String,
    pub log: LogCheckpoint,
    pub records: Vec<LoggedRecord>,
    pub station_records: Vec<LoggedRecord>,
    pub station_certificate: String,
    pub manifest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_signature: Option<String>,
    pub files: Vec<FilePart>,
    pub container: Option<ContainerPart>,
    pub certificates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogCheckpoint {
    pub size: u64,
    pub checkpoint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedRecord {
    pub record: String,
    pub index: u64,
    pub inclusion_proof: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePart {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub signature: String,
    pub time_stamp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerPart {
    pub sha256: String,
    pub size: u64,
    pub manifest: String,
    pub signature: String,
}

/// A record with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub record: Vec<u8>,
    pub index: u64,
    pub inclusion_proof: Vec<[u8; 32]>,
}

/// A file's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFile {
    pub name: String,
    pub size: u64,
    pub sha256: [u8; 32],
    pub signature: Vec<u8>,
    pub time_stamp: Vec<u8>,
}

/// The container's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub sha256: [u8; 32],
    pub size: u64,
    pub manifest: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The bundle's binary parts, as the server has them and as the checker decodes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub envelope: String,
    pub size: u64,
    pub checkpoint: String,
    pub records: Vec<Logged>,
    pub station_records: Vec<Logged>,
    pub station_certificate: Vec<u8>,
    pub manifest: Option<String>,
    /// The station's signature over `manifest`.
    pub manifest_signature: Option<Vec<u8>>,
    pub files: Vec<SignedFile>,
    pub container: Option<Container>,
    /// The signer's certificates, then the root (DER).
    pub certificates: Vec<Vec<u8>>,
}

pub(crate) fn logged_json(logged: &Logged) -> LoggedRecord {
    LoggedRecord {
        record: STANDARD.encode(&logged.record),
        index: logged.index,
        inclusion_proof: logged.inclusion_proof.iter().map(hex::encode).collect(),
    }
}

/// The bundle of `contents`, as its canonical bytes.
pub fn write(contents: &Contents) -> Result<Vec<u8>, String> {
    let bundle = EnvelopeBundle {
        format: FORMAT.to_owned(),
        envelope: contents.envelope.clone(),
        log: LogCheckpoint {
            size: contents.size,
            checkpoint: contents.checkpoint.clone(),
        },
        records: contents.records.iter().map(logged_json).collect(),
        station_records: contents.station_records.iter().map(logged_json).collect(),
        station_certificate: STANDARD.encode(&contents.station_certificate),
        manifest: contents.manifest.clone(),
        manifest_signature: contents
            .manifest_signature
            .as_ref()
            .map(|signature| STANDARD.encode(signature)),
        files: contents
            .files
            .iter()
            .map(|file| FilePart {
                name: file.name.clone(),
                size: file.size,
                sha256: hex::encode(file.sha256),
                signature: STANDARD.encode(&file.signature),
                time_stamp: STANDARD.encode(&file.time_stamp),
            })
            .collect(),
        container: contents.container.as_ref().map(|container| ContainerPart {
            sha256: hex::encode(container.sha256),
            size: container.size,
            manifest: STANDARD.encode(&container.manifest),
            signature: STANDARD.encode(&container.signature),
        }),
        certificates: contents
            .certificates
            .iter()
            .map(|der| STANDARD.encode(der))
            .collect(),
    };
    let value = serde_json::to_value(&bundle).map_err(|error| error.to_string())?;
    sceau_log::canonical(&value).map_err(|error| error.to_string())
}

pub(crate) fn decode_logged(field: &str, records: &[LoggedRecord]) -> Result<Vec<Logged>, String> {
    if records.len() > RECORDS_MAX {
        return Err(format!("{field} holds more than {RECORDS_MAX} records"));
    }
    records
        .iter()
        .enumerate()
        .map(|(at, logged)| {
            Ok(Logged {
                record: decode_base64(&format!("{field}[{at}].record"), &logged.record)?,
                index: logged.index,
                inclusion_proof: logged
                    .inclusion_proof
                    .iter()
                    .enumerate()
                    .map(|(step, hash)| {
                        decode_hash(&format!("{field}[{at}].inclusion_proof[{step}]"), hash)
                    })
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

/// The format an envelope bundle says it is ([`decode`] accepts [`FORMAT`] and
/// [`FORMAT_1`]).
fn format_of(bundle: &EnvelopeBundle) -> &str {
    &bundle.format
}

/// The bundle's parts decoded (the format, base64 and hexadecimal checked).
pub fn decode(bundle: &EnvelopeBundle) -> Result<Contents, String> {
    if bundle.format != FORMAT && bundle.format != FORMAT_1 {
        return Err(format!(
            "format {:?} is not {FORMAT:?} nor {FORMAT_1:?} (a bundle of another version, or \
             altered)",
            bundle.format
        ));
    }
    if bundle.format == FORMAT_1 && bundle.manifest_signature.is_some() {
        return Err(format!("{FORMAT_1:?} has no manifest_signature"));
    }
    if bundle.manifest.is_none() && bundle.manifest_signature.is_some() {
        return Err("a manifest_signature without its manifest".to_owned());
    }
    let files = bundle
        .files
        .iter()
        .enumerate()
        .map(|(at, file)| {
            Ok(SignedFile {
                name: file.name.clone(),
                size: file.size,
                sha256: decode_hash(&format!("files[{at}].sha256"), &file.sha256)?,
                signature: decode_base64(&format!("files[{at}].signature"), &file.signature)?,
                time_stamp: decode_base64(&format!("files[{at}].time_stamp"), &file.time_stamp)?,
            })
        })
        .collect::<Result<_, String>>()?;
    let container = bundle
        .container
        .as_ref()
        .map(|container| {
            Ok::<_, String>(Container {
                sha256: decode_hash("container.sha256", &container.sha256)?,
                size: container.size,
                manifest: decode_base64("container.manifest", &container.manifest)?,
                signature: decode_base64("container.signature", &container.signature)?,
            })
        })
        .transpose()?;
    Ok(Contents {
        envelope: bundle.envelope.clone(),
        size: bundle.log.size,
        checkpoint: bundle.log.checkpoint.clone(),
        records: decode_logged("records", &bundle.records)?,
        station_records: decode_logged("station_records", &bundle.station_records)?,
        station_certificate: decode_base64("station_certificate", &bundle.station_certificate)?,
        manifest: bundle.manifest.clone(),
        manifest_signature: bundle
            .manifest_signature
            .as_ref()
            .map(|signature| decode_base64("manifest_signature", signature))
            .transpose()?,
        files,
        container,
        certificates: bundle
            .certificates
            .iter()
            .enumerate()
            .map(|(at, der)| decode_base64(&format!("certificates[{at}]"), der))
            .collect::<Result<_, _>>()?,
    })
}

/// Checks the envelope bundle `bytes` against the trusted `root` (DER) and the log's
/// key. The checks, by part: `bundle`, `checkpoint`, `log entries`, `envelope chain`,
/// `certificate chain`, `station certificate`, then for a notarized envelope
/// `submission`, one `file signature` per file, `container` and `certificates`; for a
/// refused one `refusal` and `certificates`.
pub fn check(bytes: &[u8], root: &[u8], log_key: &VerifierKey) -> Report {
    let mut report = Report::default();
    let Some((_, contents)) = opened(bytes, BUNDLE_LEN_MAX, format_of, decode, &mut report) else {
        return report;
    };
    check_log(&contents, log_key, &mut report);
    let records = check_chain("envelope chain", &contents.records, &mut report);
    let station = check_chain("certificate chain", &contents.station_records, &mut report);
    let (Some(records), Some(station)) = (records, station) else {
        return report;
    };
    let Some(envelope) = Envelope::read(&contents.envelope, &records, &mut report) else {
        return report;
    };
    check_station(&contents, &envelope, &station, &mut report);
    match envelope.end {
        End::Notarized => {
            check_submission(&contents, &envelope, &mut report);
            let carried = check_files(&contents, &envelope, root, &mut report);
            let container = check_container(&contents, &envelope, root, &mut report);
            check_certificates(&contents, root, carried, container, &mut report);
            if let Some(deleted) = &envelope.deleted {
                check_deletion(deleted, &envelope, &mut report);
            }
        }
        End::Refused => {
            check_refusal(&contents, &envelope, &mut report);
            check_certificates(&contents, root, Vec::new(), None, &mut report);
        }
    }
    report
}

/// The checkpoint is signed by the log's key, and every record's SHA-256 is the log
/// entry at its index: its inclusion proof leads from it to the checkpoint's root.
fn check_log(contents: &Contents, key: &VerifierKey, report: &mut Report) {
    let chains = [
        ("records", contents.records.as_slice()),
        ("station_records", contents.station_records.as_slice()),
    ];
    check_logged(
        &contents.checkpoint,
        contents.size,
        "bundle",
        &chains,
        key,
        report,
    );
}

/// The `log entries` check of a bundle or a receipt (`holder`): the checkpoint `note` of
/// `size` entries is signed by `key`, and each record of `chains` (named by their field)
/// is the log's entry at its index.
pub(crate) fn check_logged(
    note: &str,
    size: u64,
    holder: &str,
    chains: &[(&str, &[Logged])],
    key: &VerifierKey,
    report: &mut Report,
) {
    let Some(checkpoint) = checked_checkpoint(note, size, holder, key, report) else {
        return;
    };
    let mut indexes = Vec::new();
    for (field, records) in chains {
        for (at, logged) in records.iter().enumerate() {
            let entry: [u8; 32] = Sha256::digest(&logged.record).into();
            if let Err(error) = verify_inclusion(
                &leaf_hash(&entry),
                logged.index,
                size,
                &logged.inclusion_proof,
                checkpoint.root_hash(),
            ) {
                report.fail(
                    "log entries",
                    format!(
                        "{field}[{at}], SHA-256 {}, is not shown to be entry {} of the \
                         checkpoint's {} entries: {error} (the record, its index or its \
                         inclusion proof changed)",
                        hex::encode(entry),
                        logged.index,
                        size
                    ),
                );
                return;
            }
            indexes.push(logged.index.to_string());
        }
    }
    report.ok(
        "log entries",
        format!(
            "every record's SHA-256 is an entry of the checkpoint's {} entries (entries {})",
            size,
            indexes.join(", ")
        ),
    );
}

/// One subject's records form a chain: each canonical JSON of version 1, all of one
/// subject, `seq` counting from 1, each `prev` the SHA-256 of the record before (null
/// for the first). The records as JSON if so.
pub(crate) fn check_chain(
    part: &'static str,
    records: &[Logged],
    report: &mut Report,
) -> Option<Vec<Value>> {
    let mut values: Vec<Value> = Vec::with_capacity(records.len());
    let mut previous: Option<&[u8]> = None;
    for (at, logged) in records.iter().enumerate() {
        let value: Value = match serde_json::from_slice(&logged.record) {
            Ok(value) => value,
            Err(error) => {
                report.fail(part, format!("record {at} is not JSON: {error}"));
                return None;
            }
        };
        if !sceau_log::canonical(&value).is_ok_and(|canonical| canonical == logged.record) {
            report.fail(
                part,
                format!("record {at} is not in canonical form (RFC 8785)"),
            );
            return None;
        }
        let subject = values
            .first()
            .map_or(&value["subject"], |first| &first["subject"]);
        let prev = previous.map(|bytes| Value::String(hex::encode(Sha256::digest(bytes))));
        let why = if value["v"] != 1 {
            Some(format!("record {at} is of version {}, not 1", value["v"]))
        } else if !value["subject"].is_string() || value["subject"] != *subject {
            Some(format!(
                "record {at} is about {}, not {}",
                value["subject"], subject
            ))
        } else if value["seq"] != at + 1 {
            Some(format!(
                "record {at} has seq {}, not {}",
                value["seq"],
                at + 1
            ))
        } else if value["prev"] != prev.unwrap_or(Value::Null) {
            Some(format!(
                "record {at}'s prev {} is not the SHA-256 of the record before it",
                value["prev"]
            ))
        } else {
            None
        };
        if let Some(why) = why {
            report.fail(part, why);
            return None;
        }
        previous = Some(&logged.record);
        values.push(value);
    }
    let Some(first) = values.first() else {
        report.fail(part, "no records");
        return None;
    };
    let kinds: Vec<String> = values.iter().map(|value| text(&value["type"])).collect();
    report.ok(
        part,
        format!(
            "{} records of {}, each linked to the one before: {}",
            values.len(),
            text(&first["subject"]),
            kinds.join(" → ")
        ),
    );
    Some(values)
}

/// The content of a notarized envelope was deleted only once its retention was over: the
/// deletion's time is at or after the retention the envelope was archived for (which the
/// deletion record repeats).
fn check_deletion(deleted: &Value, envelope: &Envelope, report: &mut Report) {
    let time = |value: &Value| chrono::DateTime::parse_from_rfc3339(&text(value)).ok();
    let kept_until = envelope
        .of_kind("envelope.archived")
        .next()
        .and_then(|archived| time(&archived["retain_until"]));
    let archived_at = envelope
        .of_kind("envelope.archived")
        .next()
        .and_then(|archived| time(&archived["at"]));
    let (Some(at), Some(archived_at), Some(until), Some(repeated)) = (
        time(&deleted["at"]),
        archived_at,
        kept_until,
        time(&deleted["retain_until"]),
    ) else {
        return report.fail(
            "retention",
            "envelope.deleted or envelope.archived does not say when (at, retain_until)",
        );
    };
    if repeated != until {
        report.fail(
            "retention",
            "envelope.deleted names another retention than envelope.archived's",
        );
    } else if until <= archived_at {
        report.fail(
            "retention",
            "the envelope was archived with a retention already over",
        );
    } else if at < until {
        report.fail(
            "retention",
            "the content was deleted before the retention it was archived for was over",
        );
    } else {
        report.ok(
            "retention",
            format!(
                "the content was deleted {}, its retention over (kept from {} until {})",
                text(&deleted["at"]),
                archived_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                text(&deleted["retain_until"])
            ),
        );
    }
}

/// How an envelope's chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Notarized,
    Refused,
}

/// What the envelope's records say.
struct Envelope {
    records: Vec<Value>,
    end: End,
    /// The envelope.deleted record of a notarized envelope whose content was deleted
    /// after its retention.
    deleted: Option<Value>,
    /// The station's certificate the records name.
    station_serial: String,
}

impl Envelope {
    /// The records of the envelope `id`, ending notarized or refused.
    fn read(id: &str, records: &[Value], report: &mut Report) -> Option<Envelope> {
        let mut fail = |why: String| {
            report.fail("envelope chain", why);
            None
        };
        for (at, record) in records.iter().enumerate() {
            let named = match &record["envelope"] {
                Value::Object(fields) => fields.get("id"),
                other => Some(other),
            };
            if named.and_then(Value::as_str) != Some(id) {
                return fail(format!("record {at} is not about envelope {id}"));
            }
        }
        // What ends an envelope ends its chain: envelope.refused and envelope.deleted
        // only last, envelope.archived last or just before envelope.deleted.
        let count = records.len();
        let deleted_last = records
            .last()
            .is_some_and(|record| record["type"] == "envelope.deleted");
        for (at, record) in records.iter().enumerate() {
            let kind = text(&record["type"]);
            let in_place = match kind.as_str() {
                "envelope.refused" | "envelope.deleted" => at + 1 == count,
                "envelope.archived" => at + 1 == count || (deleted_last && at + 2 == count),
                _ => true,
            };
            if !in_place {
                return fail(format!(
                    "record {at} is {kind}, which only ends an envelope's chain"
                ));
            }
        }
        // A notarized envelope's content deleted after its retention: the chain goes on
        // past envelope.archived with envelope.deleted, and nothing after.
        let (ending, deleted) = match records.split_last() {
            Some((last, before)) if last["type"] == "envelope.deleted" => {
                (before.last(), Some(last.clone()))
            }
            _ => (records.last(), None),
        };
        let last = ending.map(|record| text(&record["type"]));
        let end = match last.as_deref() {
            Some("envelope.archived") => End::Notarized,
            Some("envelope.refused") if deleted.is_none() => End::Refused,
            other => {
                return fail(format!(
                    "the last record is {other:?}{}: the envelope is neither notarized \
                     (envelope.archived, then envelope.deleted once its retention is over) \
                     nor refused (envelope.refused)",
                    if deleted.is_some() {
                        " before envelope.deleted"
                    } else {
                        ""
                    }
                ));
            }
        };
        let station_serial = records.first().and_then(|first| {
            first["disposable_certificate"]
                .as_str()
                .or(first["envelope"]["disposable_certificate"].as_str())
        });
        let Some(station_serial) = station_serial else {
            return fail("the first record names no station certificate".to_owned());
        };
        Some(Envelope {
            station_serial: station_serial.to_owned(),
            records: records.to_vec(),
            end,
            deleted,
        })
    }

    /// The records of type `kind`.
    fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
        let kind = kind.to_owned();
        self.records
            .iter()
            .filter(move |record| record["type"] == kind.as_str())
    }

    fn one(&self, kind: &str) -> Result<&Value, String> {
        let mut found = self.of_kind(kind);
        match (found.next(), found.next()) {
            (Some(record), None) => Ok(record),
            (None, _) => Err(format!("the envelope's chain has no {kind} record")),
            (Some(_), Some(_)) => Err(format!("the envelope's chain has two {kind} records")),
        }
    }
}

/// The station's certificate is the one its records and the envelope's name.
fn check_station(contents: &Contents, envelope: &Envelope, station: &[Value], report: &mut Report) {
    report.push(
        "station certificate",
        station_outcome(contents, envelope, station),
    );
}

fn station_outcome(
    contents: &Contents,
    envelope: &Envelope,
    station: &[Value],
) -> Result<String, String> {
    let issued = sceau_pki::Issued::from_der(&contents.station_certificate)
        .map_err(|_| "station_certificate is not a certificate".to_owned())?;
    let serial = sceau_pki::ca::serial_hex(&issued);
    if serial != envelope.station_serial {
        return Err(format!(
            "its serial {serial} is not the envelope's station certificate {}",
            envelope.station_serial
        ));
    }
    let first = &station[0];
    let certificate = &first["certificate"];
    if first["type"] != "certificate.issued"
        || first["subject"] != format!("certificate:{serial}")
        || certificate["serial"] != serial.as_str()
        || certificate["kind"] != "station"
    {
        return Err(format!(
            "the certificate chain does not start with the issuance of station \
             certificate {serial}"
        ));
    }
    let digest = hex::encode(Sha256::digest(&contents.station_certificate));
    if certificate["sha256"] != digest.as_str() {
        return Err(format!(
            "its SHA-256 {digest} is not the one its certificate.issued record gives"
        ));
    }
    let revoked = station
        .iter()
        .find(|record| record["type"] == "certificate.revoked");
    Ok(format!(
        "station certificate {serial} (SHA-256 {digest}), issued {}, valid until {}{}",
        text(&first["at"]),
        text(&certificate["not_after"]),
        match revoked {
            Some(record) if record["used"] == true => {
                format!(", used once and revoked {}", text(&record["at"]))
            }
            Some(record) => format!(", revoked {}", text(&record["at"])),
            None => String::new(),
        }
    ))
}

/// A file as a record lists it: index, name, size, SHA-256.
fn listed_file(at: usize, file: &SignedFile) -> Value {
    serde_json::json!({
        "index": at,
        "name": file.name,
        "size": file.size,
        "sha256": hex::encode(file.sha256),
    })
}

/// `envelope.submitted` (SubmissionAcceptance) and `envelope.archived` list the bundle's
/// files, and the manifest the station signed is the one `envelope.submitted` names by
/// its SHA-256 and lists the same files.
fn check_submission(contents: &Contents, envelope: &Envelope, report: &mut Report) {
    report.push("submission", submission_outcome(contents, envelope));
}

fn submission_outcome(contents: &Contents, envelope: &Envelope) -> Result<String, String> {
    let submitted = envelope.one("envelope.submitted")?;
    let archived = envelope.one("envelope.archived")?;
    let listed: Vec<Value> = contents
        .files
        .iter()
        .enumerate()
        .map(|(at, file)| listed_file(at, file))
        .collect();
    if contents.files.is_empty() {
        return Err("a notarized envelope's bundle lists no files".to_owned());
    }
    for (record, kind) in [
        (submitted, "envelope.submitted"),
        (archived, "envelope.archived"),
    ] {
        if record["files"].as_array() != Some(&listed) {
            return Err(format!(
                "the files of {kind} are not the bundle's files (name, size and SHA-256)"
            ));
        }
    }
    let manifest = contents
        .manifest
        .as_deref()
        .ok_or("the bundle has no manifest from the station")?;
    let digest = hex::encode(Sha256::digest(manifest.as_bytes()));
    if submitted["envelope"]["manifest_sha256"] != digest.as_str() {
        return Err(format!(
            "the manifest's SHA-256 {digest} is not the one envelope.submitted gives"
        ));
    }
    let sent: Value = serde_json::from_str(manifest)
        .map_err(|error| format!("the station's manifest is not JSON: {error}"))?;
    let sent_files: Vec<Value> = contents
        .files
        .iter()
        .map(|file| {
            serde_json::json!({
                "name": file.name,
                "sha256": hex::encode(file.sha256),
                "size": file.size,
            })
        })
        .collect();
    if sent["envelope"] != contents.envelope.as_str()
        || sent["certificate"] != envelope.station_serial.as_str()
        || sent["files"].as_array() != Some(&sent_files)
    {
        return Err(
            "the station's manifest does not name this envelope, its certificate and the \
             bundle's files"
                .to_owned(),
        );
    }
    let signed = match &contents.manifest_signature {
        Some(signature) => {
            let station = sceau_pki::Issued::from_der(&contents.station_certificate)
                .map_err(|_| "station_certificate is not a certificate".to_owned())?;
            if !sceau_pki::station::station_signature_verifies(
                &station,
                manifest.as_bytes(),
                signature,
            ) {
                return Err(
                    "the station's signature over the manifest does not verify with its \
                     certificate's key"
                        .to_owned(),
                );
            }
            "signed by the station's key under its certificate"
        }
        None => {
            "the station's signature is not in this bundle (an envelope accepted before \
             sceau kept it, or a bundle without it): the files' digests rest on sceau's \
             records alone"
        }
    };
    Ok(format!(
        "SubmissionAcceptance at {} of {} files, as the manifest the station signed lists \
         them (its SHA-256 {digest}; {signed})",
        text(&submitted["at"]),
        contents.files.len()
    ))
}

/// Each file's signature verifies over its SHA-256 under a chain to the root, with a
/// signature time-stamp; the bundle's token is the one it carries; its `file.signed`
/// record names it. The certificates each signature carries.
fn check_files(
    contents: &Contents,
    envelope: &Envelope,
    root: &[u8],
    report: &mut Report,
) -> Vec<Vec<Vec<u8>>> {
    let mut carried = Vec::with_capacity(contents.files.len());
    for (at, file) in contents.files.iter().enumerate() {
        let outcome = file_outcome(at, file, envelope, root);
        if let Ok(certificates) = &outcome {
            carried.push(certificates.1.clone());
        }
        report.push("file signature", outcome.map(|(found, _)| found));
    }
    carried
}

fn file_outcome(
    at: usize,
    file: &SignedFile,
    envelope: &Envelope,
    root: &[u8],
) -> Result<(String, Vec<Vec<u8>>), String> {
    let named = format!("file {at} ({})", file.name);
    let verified = sceau_pki::verify_signature_of_digest(&file.signature, &file.sha256, root, None)
        .map_err(|refusal| {
            format!(
                "{named}: the signature over SHA-256 {} is refused ({}): {refusal}",
                hex::encode(file.sha256),
                refusal.code()
            )
        })?;
    let stamp = verified
        .time_stamp
        .ok_or_else(|| format!("{named}: the signature carries no time-stamp"))?;
    let parts = sceau_pki::signature_parts(&file.signature)
        .map_err(|refusal| format!("{named}: {refusal}"))?;
    if parts.time_stamp_token.as_deref() != Some(file.time_stamp.as_slice()) {
        return Err(format!(
            "{named}: the bundle's time_stamp is not the token the signature carries"
        ));
    }
    let signature_digest = hex::encode(Sha256::digest(&file.signature));
    let recorded = envelope.of_kind("file.signed").any(|record| {
        record["file"]["index"] == at
            && record["file"]["sha256"] == hex::encode(file.sha256).as_str()
            && record["signature_sha256"] == signature_digest.as_str()
    });
    if !recorded {
        return Err(format!(
            "{named}: no file.signed record names this signature (SHA-256 {signature_digest})"
        ));
    }
    Ok((
        format!(
            "{named}: {} bytes, SHA-256 {}, signed by {} (certificate {}), time-stamped at {} \
             (time-stamp {} by {})",
            file.size,
            hex::encode(file.sha256),
            verified.signer,
            verified.serial,
            crate::clock::rfc3339(stamp.time_s),
            stamp.serial,
            stamp.tsa
        ),
        parts.certificates,
    ))
}

/// The container is the one `envelope.archived` names; its signature verifies over the
/// ASiC manifest (with a time-stamp), and the manifest lists the files by name and
/// SHA-256, in order. The certificates the signature carries.
fn check_container(
    contents: &Contents,
    envelope: &Envelope,
    root: &[u8],
    report: &mut Report,
) -> Option<Vec<Vec<u8>>> {
    match container_outcome(contents, envelope, root) {
        Ok((found, carried)) => {
            report.ok("container", found);
            Some(carried)
        }
        Err(why) => {
            report.fail("container", why);
            None
        }
    }
}

fn container_outcome(
    contents: &Contents,
    envelope: &Envelope,
    root: &[u8],
) -> Result<(String, Vec<Vec<u8>>), String> {
    let container = contents
        .container
        .as_ref()
        .ok_or("a notarized envelope's bundle has no container")?;
    let archived = envelope.one("envelope.archived")?;
    let digest = hex::encode(container.sha256);
    if archived["container"]["sha256"] != digest.as_str()
        || archived["container"]["size"] != container.size
    {
        return Err(format!(
            "the container (SHA-256 {digest}, {} bytes) is not the one envelope.archived \
             names",
            container.size
        ));
    }
    let verified =
        sceau_pki::verify_signature(&container.signature, &container.manifest, root, None)
            .map_err(|refusal| {
                format!(
                    "the signature over the ASiC manifest is refused ({}): {refusal}",
                    refusal.code()
                )
            })?;
    let stamp = verified
        .time_stamp
        .ok_or("the container's signature carries no time-stamp")?;
    let manifest = sceau_notary::asic::parse_manifest(&container.manifest)
        .map_err(|error| format!("the ASiC manifest is refused: {error}"))?;
    let listed: Vec<(&str, [u8; 32])> = manifest
        .references
        .iter()
        .map(|reference| (reference.name.as_str(), reference.sha256))
        .collect();
    let files: Vec<(&str, [u8; 32])> = contents
        .files
        .iter()
        .map(|file| (file.name.as_str(), file.sha256))
        .collect();
    if listed != files {
        return Err(
            "the ASiC manifest does not list the bundle's files (names and SHA-256, in order)"
                .to_owned(),
        );
    }
    let carried = sceau_pki::signature_parts(&container.signature)
        .map_err(|refusal| format!("the container's signature: {refusal}"))?
        .certificates;
    Ok((
        format!(
            "container SHA-256 {digest} ({} bytes): its manifest lists the {} files, signed by \
             {} (certificate {}), time-stamped at {}",
            container.size,
            listed.len(),
            verified.signer,
            verified.serial,
            crate::clock::rfc3339(stamp.time_s)
        ),
        carried,
    ))
}

/// A refused envelope's bundle holds its refusal (SubmissionRejection) and nothing made
/// of its files; the station's manifest, when given, is the one the refusal names.
fn check_refusal(contents: &Contents, envelope: &Envelope, report: &mut Report) {
    report.push("refusal", refusal_outcome(contents, envelope));
}

fn refusal_outcome(contents: &Contents, envelope: &Envelope) -> Result<String, String> {
    let refused = envelope.one("envelope.refused")?;
    if refused["event"] != "SubmissionRejection" {
        return Err("envelope.refused is not a SubmissionRejection".to_owned());
    }
    if !contents.files.is_empty() || contents.container.is_some() {
        return Err("a refused envelope's bundle lists files or a container".to_owned());
    }
    if let Some(manifest) = &contents.manifest {
        let digest = hex::encode(Sha256::digest(manifest.as_bytes()));
        if refused["manifest_sha256"] != digest.as_str()
            && refused["manifest_sent_sha256"] != digest.as_str()
        {
            return Err(format!(
                "the manifest's SHA-256 {digest} is not the one envelope.refused gives"
            ));
        }
    }
    Ok(format!(
        "SubmissionRejection at {}: {}{}",
        text(&refused["at"]),
        text(&refused["reason"]),
        match &refused["file"] {
            Value::Null => String::new(),
            file => format!(" (file {file})"),
        }
    ))
}

/// The bundle's certificates are those every signature carries, then the given root.
fn check_certificates(
    contents: &Contents,
    root: &[u8],
    files: Vec<Vec<Vec<u8>>>,
    container: Option<Vec<Vec<u8>>>,
    report: &mut Report,
) {
    let mut carried = files.into_iter().chain(container);
    let mut expected = carried.next().unwrap_or_default();
    if carried.any(|other| other != expected) {
        report.fail(
            "certificates",
            "the signatures do not all carry the same certificates",
        );
        return;
    }
    expected.push(root.to_vec());
    report.push(
        "certificates",
        certificates_match(&contents.certificates, &expected),
    );
}

/// The parts of a report that failed (for tests and callers that only need names).
pub fn failed(report: &Report) -> Vec<&'static str> {
    report
        .checks
        .iter()
        .filter(|check| check.outcome.is_err())
        .map(|check| check.part)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The retention check of a deletion, on records as the store writes them (the
    /// envelope archived on 2026-12-05).
    fn retention(archived_until: &str, deleted_at: &str, deleted_until: &str) -> Report {
        let envelope = Envelope {
            records: vec![json!({
                "type": "envelope.archived", "at": "2026-12-05T10:00:00Z",
                "retain_until": archived_until,
            })],
            end: End::Notarized,
            deleted: None,
            station_serial: "01".to_owned(),
        };
        let deleted = json!({
            "type": "envelope.deleted", "at": deleted_at, "retain_until": deleted_until,
        });
        let mut report = Report::default();
        check_deletion(&deleted, &envelope, &mut report);
        report
    }

    #[test]
    fn a_deletion_is_accepted_only_once_the_retention_is_over() {
        let until = "2036-12-05T10:00:00Z";
        assert!(retention(until, "2036-12-05T10:00:00Z", until).valid());
        assert!(retention(until, "2036-12-06T00:00:00Z", until).valid());
        // Before the retention's end, or with another retention than the archived one.
        assert!(!retention(until, "2036-12-05T09:59:59Z", until).valid());
        assert!(!retention(until, "2036-12-06T00:00:00Z", "2036-12-04T00:00:00Z").valid());
        // Without its times, or a time that is not text; the same instant written with
        // another offset is the same time.
        assert!(!retention(until, "", until).valid());
        assert!(!retention("", "2036-12-06T00:00:00Z", until).valid());
        assert!(retention(until, "2036-12-05T11:00:00+01:00", until).valid());
        // A retention already over when the envelope was archived.
        let past = "2026-12-05T09:00:00Z";
        assert!(!retention(past, "2036-12-06T00:00:00Z", past).valid());
    }

    /// Envelope::read on a chain of these record types, all about envelope `e1`.
    fn read(kinds: &[&str]) -> Option<End> {
        let records: Vec<Value> = kinds
            .iter()
            .map(|kind| {
                json!({
                    "type": kind,
                    "envelope": {"id": "e1", "disposable_certificate": "0a"},
                })
            })
            .collect();
        let mut report = Report::default();
        Envelope::read("e1", &records, &mut report).map(|envelope| envelope.end)
    }

    #[test]
    fn a_chain_ends_with_what_ends_an_envelope_and_nothing_after() {
        let start = ["envelope.submitted", "file.signed"];
        let chain = |ending: &[&'static str]| -> Vec<&str> {
            start
                .iter()
                .copied()
                .chain(ending.iter().copied())
                .collect()
        };
        assert_eq!(read(&chain(&["envelope.archived"])), Some(End::Notarized));
        assert_eq!(
            read(&chain(&["envelope.archived", "envelope.deleted"])),
            Some(End::Notarized)
        );
        assert_eq!(read(&chain(&["envelope.refused"])), Some(End::Refused));
        for wrong in [
            // a deletion in the middle, twice, after a refusal, or alone
            &["envelope.deleted", "file.signed", "envelope.archived"][..],
            &["envelope.archived", "envelope.deleted", "envelope.deleted"],
            &["envelope.refused", "envelope.deleted"],
            &["envelope.deleted"],
            // a refusal not last, records after the archive, two archives
            &["envelope.refused", "envelope.archived"],
            &["envelope.archived", "file.signed"],
            &["envelope.archived", "envelope.archived", "envelope.deleted"],
            &["envelope.archived", "envelope.deleted", "envelope.refused"],
        ] {
            assert_eq!(read(&chain(wrong)), None, "{wrong:?}");
        }
    }
}
