//! Evidence records on SQLite (what they say is `crate::evidence`'s).

use crate::StoreError;
use crate::evidence::{Event, previous_from_stored};
use crate::model::EvidenceRecord;
use rusqlite::{Connection, OptionalExtension, params};

/// Writes the record of `event` after its subject's last one (moving the subject's
/// head), in the caller's transaction. Its hash needs no queueing for the log: the
/// integrator takes records from `evidence` itself, by id (see `log::integrate`).
pub(super) fn write(connection: &Connection, event: Event) -> Result<EvidenceRecord, StoreError> {
    let head: Option<(i64, i64, Vec<u8>)> = connection
        .prepare_cached("SELECT last_id, seq, hash FROM evidence_heads WHERE subject = ?1")?
        .query_row([&event.subject], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let prev_id = head.as_ref().map(|(id, _, _)| *id);
    let previous = previous_from_stored(head.map(|(_, seq, hash)| (seq, hash)))?;
    let written = event.write_after(previous)?;
    connection
        .prepare_cached(
            "INSERT INTO evidence (subject, seq, prev_id, type, hash, record, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            written.subject,
            written.seq,
            prev_id,
            written.kind,
            &written.hash[..],
            &written.bytes,
            written.at_s
        ])?;
    let id = connection.last_insert_rowid();
    // The head moves from the record read, or is made: anything else is a fork.
    let moved = connection
        .prepare_cached(
            "INSERT INTO evidence_heads (subject, last_id, seq, hash) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (subject) DO UPDATE SET last_id = excluded.last_id, seq = excluded.seq, \
             hash = excluded.hash WHERE evidence_heads.seq = excluded.seq - 1",
        )?
        .execute(params![written.subject, id, written.seq, &written.hash[..]])?;
    if moved != 1 {
        return Err(StoreError::Conflict("evidence_changed_concurrently"));
    }
    Ok(written.into_record(id))
}

/// Writes each of `events` in order.
pub(super) fn write_all(
    connection: &Connection,
    events: impl IntoIterator<Item = Event>,
) -> Result<(), StoreError> {
    events
        .into_iter()
        .try_for_each(|event| write(connection, event).map(|_| ()))
}

/// An `evidence` row with its log index: id, subject, seq, type, hash, record, created_at.
type StoredRow = (i64, String, i64, String, Vec<u8>, Vec<u8>, i64, Option<i64>);

/// A subject's records, oldest first: walked back from its head.
pub(super) fn of_subject(
    connection: &Connection,
    subject: &str,
) -> Result<Vec<EvidenceRecord>, StoreError> {
    let rows: Vec<StoredRow> = connection
        .prepare_cached(crate::evidence::CHAIN_SQL)?
        .query_map([subject], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(
            |(id, subject, seq, kind, hash, record, created_at_s, index)| {
                crate::evidence::stored_record(
                    id,
                    subject,
                    seq,
                    kind,
                    hash,
                    record,
                    created_at_s,
                    index,
                )
            },
        )
        .collect()
}

pub(super) fn record_receipt(
    connection: &Connection,
    evidence_id: i64,
    signature: &[u8],
    now_s: i64,
) -> Result<bool, StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO receipts (evidence_id, signature, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (evidence_id) DO NOTHING",
        )?
        .execute(params![evidence_id, signature, now_s])?;
    Ok(inserted == 1)
}

pub(super) fn receipt(
    connection: &Connection,
    evidence_id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(connection
        .prepare_cached("SELECT signature FROM receipts WHERE evidence_id = ?1")?
        .query_row([evidence_id], |row| row.get(0))
        .optional()?)
}
