//! Evidence records: one canonical document per event that matters, written by the store
//! operation that makes the event, in its transaction, on both backends. What a record
//! says is built here from the operation's views; a backend only reads the subject's
//! previous record and writes the new one with its log entry.
//!
//! A record is JSON in the canonical form of RFC 8785 (JCS): readable with any tool and
//! re-canonicalizable by any language, so that anyone can find its hash again. Numbers
//! are integers (identifiers and counts); amounts are decimal strings with their
//! currency, times RFC 3339 UTC. The envelope is
//! `{"v":1,"type":…,"at":…,"subject":…,"seq":…,"prev":…}` plus the event's fields:
//! `seq` counts the subject's records from 1 and `prev` is the SHA-256 (hex) of the
//! subject's previous record (null for the first), so a subject's records form a chain.
//!
//! The log holds the record's SHA-256, not the record: the log is public, the records
//! are the parties'. They reach a client and a merchant in evidence bundles. A record
//! holds no secret: a number by its last four digits, a seal by its times (never its
//! digits or inputs), a client by their identifier (never a phone number).

use crate::StoreError;
use crate::model::{
    AuthorizationView, CertificateRecord, CheckoutState, CheckoutView, ClearingBatch,
    EnvelopeFileView, EnvelopeView, EvidenceRecord, NewCertificate, NotarizedEnvelope, NumberView,
    Payout, Refusal, SignedFile, StoredSeal,
};
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_domain::{Currency, Money};
use sceau_log::{Canon, Object};
use sha2::{Digest, Sha256};

/// An [`Object`] of `"name": value` members, each value anything that is
/// `Into<Canon>` (written canonically at once, with no `serde_json` map in between:
/// these are built on the store's writer for every payment).
macro_rules! object {
    ($($name:literal : $value:expr),* $(,)?) => {
        Object::from_members(vec![$(($name, Canon::from($value))),*])
    };
}

/// The version of the records' shape.
pub const RECORD_VERSION: u32 = 1;

/// An event about to be recorded: its subject, type, time and fields.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) subject: String,
    pub(crate) kind: &'static str,
    pub(crate) at_s: i64,
    /// Where the subject's head is kept (see [`Head`]).
    pub(crate) head: HeadRow,
    fields: Object,
}

/// A subject's head, its last record: id, `seq` and hash.
pub(crate) type Head = (i64, i64, [u8; 32]);

/// Where a subject's head is kept. A number's is on its own `numbers` row
/// (`evidence_last_id`, `evidence_seq`, `evidence_hash`): an authorization updates that
/// row anyway and moves the head in the same update, so a payment's record costs no
/// head row, page or statement of its own; a number's other events (capture, void,
/// expiry, refund) update the row for the head alone, as they did `evidence_heads`.
/// Every other subject's head is in `evidence_heads`, by subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadRow {
    Number(i64),
    Keyed,
}

impl HeadRow {
    /// Where the head of `subject` is kept.
    pub(crate) fn of(subject: &str) -> HeadRow {
        subject
            .strip_prefix(NUMBER_SUBJECT_PREFIX)
            .and_then(|id| id.parse::<i64>().ok())
            .filter(|id| number_subject(*id) == subject)
            .map_or(HeadRow::Keyed, HeadRow::Number)
    }

    /// The number whose row keeps the head, if it is a number's.
    pub(crate) fn number_id(self) -> Option<i64> {
        match self {
            HeadRow::Number(id) => Some(id),
            HeadRow::Keyed => None,
        }
    }
}

/// A record as written: its subject, type and time, its place in its subject's chain,
/// its bytes and their hash (the log entry).
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) subject: String,
    pub(crate) kind: &'static str,
    pub(crate) at_s: i64,
    pub(crate) seq: i64,
    pub(crate) hash: [u8; 32],
    pub(crate) bytes: Vec<u8>,
}

impl Written {
    /// The record as stored under `id` (not yet in the log).
    pub(crate) fn into_record(self, id: i64) -> EvidenceRecord {
        EvidenceRecord {
            id,
            subject: self.subject,
            seq: self.seq,
            kind: self.kind.to_owned(),
            hash: self.hash,
            record: self.bytes,
            created_at_s: self.at_s,
            log_index: None,
        }
    }
}

impl Event {
    fn new(subject: String, kind: &'static str, at_s: i64, fields: Object) -> Event {
        Event {
            head: HeadRow::of(&subject),
            subject,
            kind,
            at_s,
            fields,
        }
    }

    /// The record that follows `previous` (the subject's last record: its `seq` and
    /// hash), canonicalized and hashed.
    pub(crate) fn write_after(
        self,
        previous: Option<(i64, [u8; 32])>,
    ) -> Result<Written, StoreError> {
        let seq = previous.map_or(1, |(seq, _)| seq + 1);
        let mut record = self.fields;
        record.extend(object! {
            "v": RECORD_VERSION,
            "type": self.kind,
            "at": rfc3339(self.at_s),
            "subject": &self.subject,
            "seq": seq,
            "prev": previous.map(|(_, hash)| hex(&hash)),
        });
        let bytes = record
            .canonical()
            .map_err(|error| StoreError::Corrupt(format!("evidence record: {error}")))?;
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        Ok(Written {
            subject: self.subject,
            kind: self.kind,
            at_s: self.at_s,
            seq,
            hash,
            bytes,
        })
    }
}

/// A subject's records, oldest first, each with its log index once integrated: walked
/// back from the subject's head along `prev_id` (the same SQL on both backends: SQLite
/// reads `$1` and `$2` as parameters too). `$1` is the subject, `$2` the number whose
/// row keeps its head (null for another subject: [`HeadRow`]); `log_index` is the
/// backend's expression of the log index of the record `e`, null before it is
/// integrated.
pub(crate) fn chain_sql(log_index: &str) -> String {
    format!(
        "WITH RECURSIVE chain (id) AS ( \
         SELECT last_id FROM (SELECT last_id FROM evidence_heads WHERE subject = $1 \
         UNION ALL SELECT evidence_last_id FROM numbers WHERE id = $2 \
         AND evidence_last_id IS NOT NULL) AS head \
         UNION ALL SELECT e.prev_id FROM evidence e JOIN chain c ON e.id = c.id \
         WHERE e.prev_id IS NOT NULL) \
         SELECT e.id, e.subject, e.seq, e.type, e.hash, e.record, e.created_at, \
         ({log_index}) AS log_index \
         FROM evidence e JOIN chain c ON e.id = c.id ORDER BY e.seq"
    )
}

/// A record's log index when its log entry names it (`log_entries.evidence_id`).
pub(crate) const LOG_INDEX_BY_ENTRY: &str =
    "SELECT l.idx FROM log_entries l WHERE l.evidence_id = e.id";

/// A subject's head as stored: its columns all null (or, on a `numbers` row, a `seq` of
/// 0) before the subject's first record, all set after.
pub(crate) fn head_from_stored(
    last_id: Option<i64>,
    seq: Option<i64>,
    hash: Option<Vec<u8>>,
) -> Result<Option<Head>, StoreError> {
    match (last_id, seq, hash) {
        (None, None | Some(0), None) => Ok(None),
        (Some(last_id), Some(seq), Some(hash)) if seq >= 1 => {
            let hash = <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| {
                StoreError::Corrupt("an evidence head's hash is not 32 bytes".into())
            })?;
            Ok(Some((last_id, seq, hash)))
        }
        _ => Err(StoreError::Corrupt("an evidence head half set".into())),
    }
}

/// `2026-11-25T03:07:30Z`.
pub fn rfc3339(unix_s: i64) -> String {
    format!("{}Z", sceau_domain::clearing::utc_date_time(unix_s))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// `amount` minor units of the currency named `code`, as a decimal string.
fn decimal(amount: i64, code: &str) -> Result<String, StoreError> {
    let currency: Currency = code
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("evidence: unknown currency {code}")))?;
    Ok(Money::new(amount, currency).to_decimal())
}

/// An identifier, as a string in records.
fn id(value: i64) -> Canon {
    Canon::IntString(value)
}

/// The subject of a number's records (issued, authorized, captured, voided, expired,
/// refunded: the authorizations made with a number are events of that number).
pub fn number_subject(number_id: i64) -> String {
    format!("{NUMBER_SUBJECT_PREFIX}{number_id}")
}

/// What a number's subject is before its id (for SQL that finds a number's head).
pub(crate) const NUMBER_SUBJECT_PREFIX: &str = "number:";

/// The subject of a checkout's records (its seals and its end), by the checkout's row
/// (its public id is in the records; a row id keeps the subjects' index appended to).
pub fn checkout_subject(checkout_id: i64) -> String {
    format!("checkout:{checkout_id}")
}

/// The subject of a signature request's records (its seal), by the request's row: the
/// records of the legacy requests, written before signature requests became one-file
/// envelopes.
pub fn signature_subject(request_id: i64) -> String {
    format!("signature:{request_id}")
}

/// The subject of an envelope's records, by the envelope's row.
pub fn envelope_subject(envelope_id: i64) -> String {
    format!("envelope:{envelope_id}")
}

pub fn certificate_subject(serial: &str) -> String {
    format!("certificate:{serial}")
}

pub fn clearing_subject(batch_id: i64) -> String {
    format!("clearing:{batch_id}")
}

/// A number was issued (by the client, for a merchant, or drawn for a checkout).
pub(crate) fn number_issued(view: &NumberView, at_s: i64) -> Result<Event, StoreError> {
    let (amount_rule, amount_limit) = match view.policy.amount {
        AmountRule::Any => ("any", None),
        AmountRule::Cap(limit) => ("cap", Some(limit)),
        AmountRule::Exact(limit) => ("exact", Some(limit)),
    };
    let amount_limit = amount_limit
        .map(|limit| decimal(limit, &view.currency))
        .transpose()?;
    let merchant = match view.policy.merchant {
        MerchantLock::Any => object! {"lock": "any"},
        MerchantLock::Named(merchant_id) => {
            object! {"lock": "named", "merchant": id(merchant_id)}
        }
        MerchantLock::FirstMerchant => object! {"lock": "first"},
    };
    Ok(Event::new(
        number_subject(view.id),
        "number.issued",
        at_s,
        object! {
            "number": object! {
                "id": id(view.id),
                "last_four": &view.last_four,
                "expiry": format!("{:04}-{:02}", view.expiry_year, view.expiry_month),
            },
            "client": id(view.client_id),
            "origin": view.origin.as_str(),
            "currency": &view.currency,
            "policy": object! {
                "uses_max": view.policy.uses_max,
                "amount_rule": amount_rule,
                "amount_limit": amount_limit,
                "merchant": merchant,
                "valid_until": rfc3339(view.policy.valid_until_s),
            },
        },
    ))
}

/// What happened to an authorization made with a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthorizationEvent {
    Authorized,
    /// `amount` captured (the rest of the hold released).
    Captured {
        amount: i64,
    },
    Voided,
    /// The hold's time passed.
    Expired,
    Refunded {
        amount: i64,
        transfer_id: i64,
    },
}

/// The event of an authorization leaving `authorized` for `new_state`.
pub(crate) fn released_by(new_state: AuthorizationState, captured: i64) -> AuthorizationEvent {
    match new_state {
        AuthorizationState::Captured => AuthorizationEvent::Captured { amount: captured },
        AuthorizationState::Expired => AuthorizationEvent::Expired,
        AuthorizationState::Authorized | AuthorizationState::Voided => AuthorizationEvent::Voided,
    }
}
/// An authorization event, from the authorization as it was before the event (its
/// figures after it are in the event).
pub(crate) fn authorization(
    view: &AuthorizationView,
    event: AuthorizationEvent,
    at_s: i64,
) -> Result<Event, StoreError> {
    let currency: Currency = view.currency.parse().map_err(|_| {
        StoreError::Corrupt(format!("evidence: unknown currency {}", view.currency))
    })?;
    let money = |amount: i64| -> Result<String, StoreError> {
        Ok(Money::new(amount, currency).to_decimal())
    };
    let (kind, captured, refunded, detail) = match event {
        AuthorizationEvent::Authorized => ("number.authorized", 0, 0, None),
        AuthorizationEvent::Captured { amount } => (
            "number.captured",
            amount,
            0,
            Some(object! {"captured": money(amount)?}),
        ),
        AuthorizationEvent::Voided => ("number.voided", 0, 0, None),
        AuthorizationEvent::Expired => ("number.expired", 0, 0, None),
        AuthorizationEvent::Refunded {
            amount,
            transfer_id,
        } => (
            "number.refunded",
            view.captured,
            view.refunded + amount,
            Some(object! {
                "refund": object! {"amount": money(amount)?, "transfer": id(transfer_id)},
            }),
        ),
    };
    let mut fields = object! {
        "number": object! {"id": id(view.number_id), "last_four": &view.number_last_four},
        "authorization": object! {
            "id": id(view.id),
            "merchant": id(view.merchant_id),
            "reference": &view.merchant_reference,
            "currency": &view.currency,
            "amount": money(view.amount)?,
            "captured": money(captured)?,
            "refunded": money(refunded)?,
            "hold_expires_at": rfc3339(view.hold_expires_at_s),
        },
        "client": id(view.client_id),
    };
    if let Some(detail) = detail {
        fields.extend(detail);
    }
    Ok(Event::new(
        number_subject(view.number_id),
        kind,
        at_s,
        fields,
    ))
}

fn checkout_fields(view: &CheckoutView) -> Result<Object, StoreError> {
    Ok(object! {
        "checkout": object! {
            "id": &view.public_id,
            "merchant": id(view.merchant_id),
            "merchant_name": &view.merchant_name,
            "reference": &view.merchant_reference,
            "object": &view.object,
            "amount": decimal(view.amount, &view.currency)?,
            "currency": &view.currency,
        },
        "client": view.client_id.map(id),
        "authorization": view.authorization_id.map(id),
        "number_last_four": view.number_last_four.as_deref(),
    })
}

/// A seal was sent for a checkout (`seal_sends` counts it).
pub(crate) fn checkout_seal_sent(view: &CheckoutView, at_s: i64) -> Result<Event, StoreError> {
    let mut fields = checkout_fields(view)?;
    if let Some(seal) = &view.seal {
        fields.insert(
            "seal",
            object! {
                "send": view.seal_sends,
                "digits": u32::from(seal.digits),
                "issued_at": rfc3339(seal.issued_at_s),
                "expires_at": rfc3339(seal.expires_at_s),
            },
        );
    }
    Ok(Event::new(
        checkout_subject(view.id),
        "seal.sent",
        at_s,
        fields,
    ))
}

/// The verdict on a seal typed for a checkout: right (`seal.verified`) or wrong
/// (`seal.failed`, with the tries left: none when the payment failed with it).
pub(crate) fn checkout_seal_judged(
    view: &CheckoutView,
    wrong_tries_left: Option<u32>,
    at_s: i64,
) -> Result<Event, StoreError> {
    let mut fields = checkout_fields(view)?;
    let kind = judged(wrong_tries_left, &mut fields);
    Ok(Event::new(checkout_subject(view.id), kind, at_s, fields))
}

/// The type of a seal's verdict (`seal.verified`, or `seal.failed` with the tries left
/// added to `fields`), for checkouts and signature requests alike.
fn judged(wrong_tries_left: Option<u32>, fields: &mut Object) -> &'static str {
    match wrong_tries_left {
        Some(tries_left) => {
            fields.insert("tries_left", tries_left);
            "seal.failed"
        }
        None => "seal.verified",
    }
}

/// A checkout reached its end: `checkout.paid` (the record a receipt signs),
/// `checkout.failed`, `checkout.expired` or `checkout.canceled` (by its client), from
/// the checkout as it is then.
pub(crate) fn checkout_ended(view: &CheckoutView, at_s: i64) -> Result<Event, StoreError> {
    let mut fields = checkout_fields(view)?;
    let kind = match view.state {
        CheckoutState::Paid => "checkout.paid",
        CheckoutState::Expired => "checkout.expired",
        CheckoutState::Canceled => "checkout.canceled",
        _ => "checkout.failed",
    };
    if view.state != CheckoutState::Paid {
        fields.insert("failure", view.failure.as_deref());
    }
    Ok(Event::new(checkout_subject(view.id), kind, at_s, fields))
}

/// An envelope was refused (ETSI EN 319 522: SubmissionRejection): why, and what was
/// sent when the manifest is what was refused; nothing of its files is kept.
pub(crate) fn envelope_refused(
    view: &EnvelopeView,
    refusal: Refusal,
    sent_sha256: Option<&[u8; 32]>,
    at_s: i64,
) -> Event {
    let mut fields = object! {
        "envelope": &view.public_id,
        "client": id(view.client_id),
        "event": "SubmissionRejection",
        "reason": refusal.code(),
        "disposable_certificate": &view.certificate_serial,
    };
    if let Some(digest) = sent_sha256 {
        fields.insert("manifest_sent_sha256", hex(digest));
    }
    if let Some(digest) = &view.manifest_sha256 {
        fields.insert("manifest_sha256", hex(digest));
    }
    if let Refusal::SizeMismatch { index } | Refusal::DigestMismatch { index } = refusal {
        fields.insert("file", i64::try_from(index).unwrap_or(i64::MAX));
    }
    Event::new(envelope_subject(view.id), "envelope.refused", at_s, fields)
}

fn envelope_fields(view: &EnvelopeView) -> Object {
    let mut fields = object! {
        "id": &view.public_id,
        "disposable_certificate": &view.certificate_serial,
    };
    if let Some(digest) = &view.manifest_sha256 {
        fields.insert("manifest_sha256", hex(digest));
    }
    if let Some(signer) = &view.signer_serial {
        fields.insert("certificate", signer.as_str());
    }
    fields
}

fn envelope_files(view: &EnvelopeView) -> Vec<Canon> {
    view.files
        .iter()
        .map(|file| {
            Canon::from(object! {
                "index": i64::from(file.position),
                "name": &file.name,
                "size": i64::try_from(file.size).unwrap_or(i64::MAX),
                "sha256": hex(&file.sha256),
            })
        })
        .collect()
}

/// Every file of an envelope arrived and matched its signed manifest (ETSI EN 319 522:
/// SubmissionAcceptance): each file's digest and the manifest's.
pub(crate) fn envelope_submitted(view: &EnvelopeView, at_s: i64) -> Event {
    let destinations: Vec<Canon> = view
        .destinations
        .iter()
        .map(|destination| {
            let mut object = Object::default();
            if let Some(email) = &destination.email {
                object.insert("email", email.as_str());
            }
            if let Some(phone) = &destination.phone {
                object.insert("phone", phone.as_str());
            }
            Canon::from(object)
        })
        .collect();
    Event::new(
        envelope_subject(view.id),
        "envelope.submitted",
        at_s,
        object! {
            "envelope": envelope_fields(view),
            "client": id(view.client_id),
            "event": "SubmissionAcceptance",
            "files": envelope_files(view),
            "destinations": destinations,
        },
    )
}

/// A seal was sent for an envelope (`send`: the how-manieth).
pub(crate) fn envelope_seal_sent(view: &EnvelopeView, seal: &StoredSeal, at_s: i64) -> Event {
    Event::new(
        envelope_subject(view.id),
        "seal.sent",
        at_s,
        object! {
            "envelope": envelope_fields(view),
            "client": id(view.client_id),
            "seal": object! {
                "digits": u32::from(seal.digits),
                "issued_at": rfc3339(seal.issued_at_s),
                "expires_at": rfc3339(seal.expires_at_s),
            },
        },
    )
}

/// The verdict on a seal typed for an envelope (as for checkouts).
pub(crate) fn envelope_seal_judged(
    view: &EnvelopeView,
    wrong_tries_left: Option<u32>,
    at_s: i64,
) -> Event {
    let mut fields = object! {
        "envelope": envelope_fields(view),
        "client": id(view.client_id),
    };
    let kind = judged(wrong_tries_left, &mut fields);
    Event::new(envelope_subject(view.id), kind, at_s, fields)
}

/// One file of an envelope was signed in the client's name: the signature's digest and
/// the time of its time-stamp.
pub(crate) fn envelope_file_signed(
    view: &EnvelopeView,
    file: &EnvelopeFileView,
    signed: &SignedFile,
    at_s: i64,
) -> Event {
    let mut fields = object! {
        "envelope": &view.public_id,
        "client": id(view.client_id),
        "certificate": view.signer_serial.as_deref(),
        "file": object! {
            "index": i64::from(file.position),
            "name": &file.name,
            "sha256": hex(&file.sha256),
        },
        "signature_sha256": hex(&Sha256::digest(&signed.signature)),
        "time_stamped": true,
    };
    if let Some(pdf) = &signed.signed_pdf {
        fields.insert("signed_pdf_sha256", hex(&pdf.sha256));
    }
    if let Some(note) = &signed.pdf_note {
        fields.insert("pdf_note", note.as_str());
    }
    Event::new(envelope_subject(view.id), "file.signed", at_s, fields)
}

/// An envelope's files, signatures and container are archived: it is notarized.
pub(crate) fn envelope_archived(view: &EnvelopeView, notarized: &NotarizedEnvelope) -> Event {
    Event::new(
        envelope_subject(view.id),
        "envelope.archived",
        notarized.now_s,
        object! {
            "envelope": envelope_fields(view),
            "client": id(view.client_id),
            "files": envelope_files(view),
            "container": object! {
                "sha256": hex(&notarized.container.sha256),
                "size": i64::try_from(notarized.container.size).unwrap_or(i64::MAX),
            },
            "retain_until": rfc3339(notarized.retain_until_s),
        },
    )
}

/// A sealed envelope failed before its signatures were kept (the certificate its seal
/// consented to was revoked or ended): why, and that certificate.
pub(crate) fn envelope_failed(view: &EnvelopeView, why: &str, at_s: i64) -> Event {
    Event::new(
        envelope_subject(view.id),
        "envelope.failed",
        at_s,
        object! {
            "envelope": envelope_fields(view),
            "client": id(view.client_id),
            "certificate": view.signer_serial.as_deref(),
            "reason": why,
        },
    )
}

/// An envelope never finished expired (what it was waiting for, in `from`): its files
/// are no longer kept.
pub(crate) fn envelope_expired(view: &EnvelopeView, at_s: i64) -> Event {
    Event::new(
        envelope_subject(view.id),
        "envelope.expired",
        at_s,
        object! {
            "envelope": envelope_fields(view),
            "client": id(view.client_id),
            "from": view.state.as_str(),
        },
    )
}

/// An envelope's archived content was deleted, its retention over.
pub(crate) fn envelope_deleted(view: &EnvelopeView, at_s: i64) -> Event {
    Event::new(
        envelope_subject(view.id),
        "envelope.deleted",
        at_s,
        object! {
            "envelope": envelope_fields(view),
            "client": id(view.client_id),
            "retain_until": view.retain_until_s.map(rfc3339),
        },
    )
}

/// A clearing batch was closed: what it paid, to whom, and the settlement file's hash.
pub(crate) fn clearing_closed(
    batch: &ClearingBatch,
    payouts: &[Payout],
    settlement_file: &str,
    by: &crate::model::ActedBy,
) -> Result<Event, StoreError> {
    let code = batch.currency.code();
    let payouts = payouts
        .iter()
        .map(|payout| {
            Ok(Canon::from(object! {
                "merchant": id(payout.merchant_id),
                "amount": decimal(payout.amount, code)?,
                "transfer": id(payout.transfer_id),
            }))
        })
        .collect::<Result<Vec<Canon>, StoreError>>()?;
    Ok(Event::new(
        clearing_subject(batch.id),
        "clearing.closed",
        batch.created_at_s,
        object! {
            "batch": object! {
                "id": id(batch.id),
                "message_id": &batch.message_id,
                "currency": code,
                "total": decimal(batch.total, code)?,
                "payouts_count": batch.payouts_count,
            },
            "payouts": payouts,
            "settlement_file_sha256": hex(&Sha256::digest(settlement_file.as_bytes())),
            "by": acted_by(by),
        },
    ))
}

/// A certificate was issued (recorded).
pub(crate) fn certificate_issued(certificate: &NewCertificate, client_id: Option<i64>) -> Event {
    Event::new(
        certificate_subject(&certificate.serial),
        "certificate.issued",
        certificate.now_s,
        object! {
            "certificate": object! {
                "serial": &certificate.serial,
                "kind": certificate.kind.as_str(),
                "sha256": hex(&Sha256::digest(&certificate.der)),
                "not_before": rfc3339(certificate.not_before_s),
                "not_after": rfc3339(certificate.not_after_s),
                "names": certificate.names_serial.as_deref(),
            },
            "client": client_id.map(id),
        },
    )
}

/// A client was blocked or unblocked: by whom (an operator, by identifier and login; or
/// the admin token's holder), on the client's chain.
pub(crate) fn client_block_changed(
    action: sceau_domain::operator::OperatorAction,
    by: &crate::model::ActedBy,
    at_s: i64,
) -> Event {
    Event::new(
        sceau_domain::operator::client_subject(action.client_id()),
        action.kind(),
        at_s,
        object! {
            "client": id(action.client_id()),
            "by": acted_by(by),
        },
    )
}

/// A merchant's webhook secret was rotated: the version now in use, until when the one
/// before still signs (null: it ended at once), and who rotated it. Never a secret.
pub(crate) fn webhook_secret_rotated(
    merchant_id: i64,
    secrets: &sceau_domain::webhook_secret::WebhookSecrets,
    by: &crate::model::ActedBy,
    at_s: i64,
) -> Event {
    Event::new(
        merchant_subject(merchant_id),
        "merchant.webhook_secret_rotated",
        at_s,
        object! {
            "merchant": id(merchant_id),
            "version": secrets.version,
            "previous_until": secrets.previous.map(|(_, until_s)| rfc3339(until_s)),
            "by": acted_by(by),
        },
    )
}

/// Who acted, as records the issuer keeps name them: `{"merchant": true}`,
/// `{"admin": true}` or `{"operator": {"id": "7", "login": "jane"}}`.
fn acted_by(by: &crate::model::ActedBy) -> Canon {
    use crate::model::ActedBy;
    match by {
        ActedBy::Operator {
            id: operator_id,
            login,
        } => object! { "operator": object! { "id": id(*operator_id), "login": login.as_str() } }
            .into(),
        other => acted_by_number(other),
    }
}

/// Who acted, as records handed to others name them (a certificate's chain goes into
/// the evidence clients and recipients are given): an operator by number only, never
/// by login (`{"operator": {"id": "7"}}`; the issuer's `operators` table names them).
fn acted_by_number(by: &crate::model::ActedBy) -> Canon {
    use crate::model::ActedBy;
    match by {
        ActedBy::Merchant => object! { "merchant": true },
        ActedBy::Admin => object! { "admin": true },
        ActedBy::Operator {
            id: operator_id, ..
        } => {
            object! { "operator": object! { "id": id(*operator_id) } }
        }
    }
    .into()
}

pub fn merchant_subject(merchant_id: i64) -> String {
    format!("merchant:{merchant_id}")
}

/// A certificate was revoked: `used` when a disposable certificate's one use revoked it;
/// by whom when someone did (`by` null: the service did, as when a recipient's new
/// withdrawal certificate supersedes the one before). An operator is named by number
/// only: this chain goes into evidence handed to clients and recipients.
pub(crate) fn certificate_revoked(
    record: &CertificateRecord,
    used: bool,
    by: Option<&crate::model::ActedBy>,
    at_s: i64,
) -> Event {
    Event::new(
        certificate_subject(&record.serial),
        "certificate.revoked",
        at_s,
        object! {
            "certificate": object! {
                "serial": &record.serial,
                "kind": record.kind.as_str(),
                "sha256": hex(&Sha256::digest(&record.der)),
            },
            "client": record.client_id.map(id),
            "reason": record.revocation_reason.map(u32::from),
            "revoked_at": record.revoked_at_s.map(rfc3339),
            "used": used,
            "by": by.map(acted_by_number),
        },
    )
}

/// A stored record's row (with its log index, see [`chain_sql`]) as the model's
/// [`EvidenceRecord`].
impl crate::sql::Decode for EvidenceRecord {
    fn decode(row: &impl crate::sql::ReadRow) -> Result<Self, StoreError> {
        Ok(EvidenceRecord {
            id: row.column("id")?,
            subject: row.column("subject")?,
            seq: row.column("seq")?,
            kind: row.column("type")?,
            hash: row.column("hash")?,
            record: row.column("record")?,
            created_at_s: row.column("created_at")?,
            log_index: row.column("log_index")?,
        })
    }
}

/// Records a receipt for a record, once (a second receipt for it changes nothing).
pub(crate) static RECEIPT_INSERT: crate::sql::Sql = crate::sql::Sql::new(
    "INSERT INTO receipts (evidence_id, signature, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (evidence_id) DO NOTHING",
);
pub(crate) static RECEIPT: crate::sql::Sql =
    crate::sql::Sql::new("SELECT signature FROM receipts WHERE evidence_id = $1");
pub(crate) static RECEIPTS_AFTER: crate::sql::Sql = crate::sql::Sql::new(
    "SELECT count(*) AS n, coalesce(max(evidence_id), $1) AS newest FROM receipts \
     WHERE evidence_id > $1",
);

/// The subject of a delivery's own records (its submission), by the delivery's row; each
/// recipient's events are a chain of their own ([`delivery_recipient_subject`]).
pub fn delivery_subject(delivery_id: i64) -> String {
    format!("delivery:{delivery_id}")
}

/// The subject of one recipient's records of a delivery (each recipient's events are a
/// chain of their own, which their receipt carries whole; the delivery's own chain
/// holds its submission).
pub fn delivery_recipient_subject(delivery_id: i64, position: u32) -> String {
    format!("delivery:{delivery_id}/{position}")
}

/// The digest a delivery's evidence names a recipient's address or phone by: SHA-256
/// over the recipient's salt and the value, so that a record shows neither, and anyone
/// who holds the value and the salt (the sender, with the receipt) finds it again.
pub fn contact_digest(salt: &[u8; 16], value: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(value.as_bytes());
    hasher.finalize().into()
}

fn delivery_fields(view: &crate::model::DeliveryView) -> Object {
    object! {
        "id": &view.public_id,
        "envelope": &view.envelope_public_id,
        "manifest_sha256": hex(&view.manifest_sha256),
        "sender": id(view.client_id),
    }
}

/// A recipient as records name them: by position, and by the salted digests of their
/// address and of the phone the sender gave. A client's own phone, which the sender did
/// not give and is never shown, has no digest in records the sender receives (the salt is
/// in their receipt: a phone number's digest would be found by trying them all): the
/// record says so instead (`phone_of_client`).
fn recipient_fields(recipient: &crate::model::RecipientView) -> Object {
    let mut fields = object! {
        "position": i64::from(recipient.position),
        "email_sha256": hex(&contact_digest(&recipient.contact_salt, &recipient.email)),
    };
    if recipient.phone_given {
        fields.insert(
            "phone_sha256",
            hex(&contact_digest(&recipient.contact_salt, &recipient.phone)),
        );
    } else {
        fields.insert("phone_of_client", true);
    }
    fields
}

/// A delivery was accepted for sending (EN 319 522's SubmissionAcceptance): the
/// envelope's digests, the deadline and every recipient by their digests.
pub(crate) fn delivery_sent(view: &crate::model::DeliveryView, at_s: i64) -> Event {
    let files: Vec<Canon> = view
        .file_digests
        .iter()
        .enumerate()
        .map(|(position, digest)| {
            Canon::from(object! {
                "position": i64::try_from(position).unwrap_or(i64::MAX),
                "sha256": hex(digest),
            })
        })
        .collect();
    let recipients: Vec<Canon> = view
        .recipients
        .iter()
        .map(|recipient| Canon::from(recipient_fields(recipient)))
        .collect();
    Event::new(
        delivery_subject(view.id),
        "delivery.sent",
        at_s,
        object! {
            "delivery": delivery_fields(view),
            "event": "SubmissionAcceptance",
            "files": files,
            "deadline": rfc3339(view.deadline_s),
            "hide_sender": view.hide_sender,
            "recipients": recipients,
        },
    )
}

/// What happened to one recipient of a delivery: `kind` (the record's type), the name
/// EN 319 522 gives it when it has one, and the event's own fields.
pub(crate) fn delivery_event(
    view: &crate::model::DeliveryView,
    recipient: &crate::model::RecipientView,
    kind: &'static str,
    etsi: Option<&'static str>,
    extra: Object,
    at_s: i64,
) -> Event {
    let mut fields = object! {
        "delivery": delivery_fields(view),
        "recipient": recipient_fields(recipient),
    };
    if let Some(etsi) = etsi {
        fields.insert("event", etsi);
    }
    fields.extend(extra);
    Event::new(
        delivery_recipient_subject(view.id, recipient.position),
        kind,
        at_s,
        fields,
    )
}

/// A delivery code's times, for its record (never its digits).
pub(crate) fn code_fields(code: &StoredSeal) -> Object {
    object! {
        "code": object! {
            "digits": u32::from(code.digits),
            "issued_at": rfc3339(code.issued_at_s),
            "expires_at": rfc3339(code.expires_at_s),
        },
    }
}

/// An answer's fields: the digests the recipient's browser computed, those that differ
/// from the envelope's, the withdrawal certificate, and the digests of the signed
/// statement, its signature and its time-stamp.
pub(crate) fn answer_fields(
    view: &crate::model::DeliveryView,
    serial: &str,
    digests: &[Option<[u8; 32]>],
    answer: &crate::model::RecipientAnswer,
) -> Object {
    let computed: Vec<Canon> = digests
        .iter()
        .enumerate()
        .map(|(position, digest)| {
            let sha256 = match digest {
                Some(digest) => Canon::from(hex(digest)),
                None => Canon::Null,
            };
            Canon::from(object! {
                "position": i64::try_from(position).unwrap_or(i64::MAX),
                "sha256": sha256,
            })
        })
        .collect();
    let differ: Vec<Canon> = differing(view, digests)
        .into_iter()
        .map(|position| Canon::from(i64::from(position)))
        .collect();
    object! {
        "withdrawal_certificate": serial,
        "computed": computed,
        "differ": differ,
        "statement_sha256": hex(&Sha256::digest(answer.statement.as_bytes())),
        "signature_sha256": hex(&Sha256::digest(&answer.signature)),
        "time_stamp_sha256": hex(&Sha256::digest(&answer.time_stamp)),
    }
}

/// The positions of the envelope's files whose digest a recipient's browser computed
/// otherwise (a digest missing, or a file it could not read, counts as differing).
pub fn differing(view: &crate::model::DeliveryView, digests: &[Option<[u8; 32]>]) -> Vec<u32> {
    view.file_digests
        .iter()
        .enumerate()
        .filter(|(position, digest)| digests.get(*position).copied().flatten() != Some(**digest))
        .map(|(position, _)| u32::try_from(position).unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_chain_and_are_canonical() {
        let event = || {
            Event::new(
                "checkout:7".into(),
                "seal.sent",
                1_764_039_600,
                object! {"b": "2", "a": 1_u32},
            )
        };
        let first = event().write_after(None).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&first.bytes),
            r#"{"a":1,"at":"2025-11-25T03:00:00Z","b":"2","prev":null,"seq":1,"subject":"checkout:7","type":"seal.sent","v":1}"#
        );
        let second = event().write_after(Some((first.seq, first.hash))).unwrap();
        assert_eq!(second.seq, 2);
        let text = String::from_utf8_lossy(&second.bytes).into_owned();
        assert!(text.contains(&format!(r#""prev":"{}""#, hex(&first.hash))));
        assert_eq!(second.hash, <[u8; 32]>::from(Sha256::digest(&second.bytes)));
    }
}
