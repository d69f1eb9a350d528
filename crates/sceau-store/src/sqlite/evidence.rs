//! Evidence records on SQLite (what they say is `crate::evidence`'s).

use crate::StoreError;
use crate::evidence::{Event, previous_from_stored};
use crate::model::EvidenceRecord;
use rusqlite::{Connection, OptionalExtension, params};

/// Writes the record of `event` after its subject's last one, and queues its hash for
/// the log, in the caller's transaction.
pub(super) fn write(connection: &Connection, event: Event) -> Result<(), StoreError> {
    let previous: Option<(i64, Vec<u8>)> = connection
        .prepare_cached(
            "SELECT seq, hash FROM evidence WHERE subject = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([&event.subject], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (subject, kind, at_s) = (event.subject.clone(), event.kind, event.at_s);
    let written = event.write_after(previous_from_stored(previous)?)?;
    connection
        .prepare_cached(
            "INSERT INTO evidence (subject, seq, type, hash, record, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            subject,
            written.seq,
            kind,
            &written.hash[..],
            written.bytes,
            at_s
        ])?;
    connection
        .prepare_cached("INSERT INTO log_pending (entry, created_at) VALUES (?1, ?2)")?
        .execute(params![&written.hash[..], at_s])?;
    Ok(())
}

/// Writes each of `events` in order.
pub(super) fn write_all(
    connection: &Connection,
    events: impl IntoIterator<Item = Event>,
) -> Result<(), StoreError> {
    events
        .into_iter()
        .try_for_each(|event| write(connection, event))
}

/// An `evidence` row with its log index: subject, seq, type, hash, record, created_at.
type StoredRow = (String, i64, String, Vec<u8>, Vec<u8>, i64, Option<i64>);

pub(super) fn of_subject(
    connection: &Connection,
    subject: &str,
) -> Result<Vec<EvidenceRecord>, StoreError> {
    let rows: Vec<StoredRow> = connection
        .prepare_cached(
            "SELECT e.subject, e.seq, e.type, e.hash, e.record, e.created_at, \
             (SELECT min(l.idx) FROM log_entries l WHERE l.entry = e.hash) \
             FROM evidence e WHERE e.subject = ?1 ORDER BY e.seq",
        )?
        .query_map([subject], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(subject, seq, kind, hash, record, created_at_s, index)| {
            crate::evidence::stored_record(subject, seq, kind, hash, record, created_at_s, index)
        })
        .collect()
}

pub(super) fn record_receipt(
    connection: &Connection,
    record_hash: &[u8; 32],
    signature: &[u8],
    now_s: i64,
) -> Result<bool, StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO receipts (record_hash, signature, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (record_hash) DO NOTHING",
        )?
        .execute(params![&record_hash[..], signature, now_s])?;
    Ok(inserted == 1)
}

pub(super) fn receipt(
    connection: &Connection,
    record_hash: &[u8; 32],
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(connection
        .prepare_cached("SELECT signature FROM receipts WHERE record_hash = ?1")?
        .query_row([&record_hash[..]], |row| row.get(0))
        .optional()?)
}
