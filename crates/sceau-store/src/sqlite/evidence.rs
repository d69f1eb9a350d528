//! Evidence records on SQLite (what they say is `crate::evidence`'s): written row by row,
//! reached through `Tx::record`; the reads and receipts are `ops::evidence`.

use crate::StoreError;
use crate::evidence::{Event, Head, HeadRow, Written, head_from_stored};
use crate::model::EvidenceRecord;
use rusqlite::{Connection, OptionalExtension, params};

/// Writes the record of `event` after its subject's last one (moving the subject's
/// head), in the caller's transaction. Its hash needs no queueing for the log: the
/// integrator takes records from `evidence` itself, by id (see `log::integrate`).
pub(super) fn write(connection: &Connection, event: Event) -> Result<EvidenceRecord, StoreError> {
    let head_row = event.head;
    let head = head(connection, head_row, &event.subject)?;
    let (id, written) = insert_after(connection, event, head)?;
    let (seq, hash) = (written.seq, written.hash);
    // The head moves from the record read, or is made: anything else is a fork.
    let moved = match head_row {
        HeadRow::Number(number_id) => connection
            .prepare_cached(
                "UPDATE numbers SET evidence_last_id = ?2, evidence_seq = ?3, evidence_hash = ?4 \
                 WHERE id = ?1 AND evidence_seq = ?3 - 1",
            )?
            .execute(params![number_id, id, seq, &hash[..]])?,
        HeadRow::Keyed => connection
            .prepare_cached(
                "INSERT INTO evidence_heads (subject, last_id, seq, hash) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (subject) DO UPDATE SET last_id = excluded.last_id, seq = excluded.seq, \
                 hash = excluded.hash WHERE evidence_heads.seq = excluded.seq - 1",
            )?
            .execute(params![written.subject, id, seq, &hash[..]])?,
    };
    if moved != 1 {
        return Err(StoreError::Conflict("evidence_changed_concurrently"));
    }
    Ok(written.into_record(id))
}

/// The head of `subject`, kept where `row` says.
fn head(connection: &Connection, row: HeadRow, subject: &str) -> Result<Option<Head>, StoreError> {
    let stored: Option<(Option<i64>, i64, Option<Vec<u8>>)> = match row {
        HeadRow::Number(number_id) => connection
            .prepare_cached(
                "SELECT evidence_last_id, evidence_seq, evidence_hash FROM numbers WHERE id = ?1",
            )?
            .query_row([number_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?,
        HeadRow::Keyed => connection
            .prepare_cached("SELECT last_id, seq, hash FROM evidence_heads WHERE subject = ?1")?
            .query_row([subject], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?,
    };
    match (stored, row) {
        (Some((last_id, seq, hash)), _) => head_from_stored(last_id, Some(seq), hash),
        (None, HeadRow::Keyed) => Ok(None),
        (None, HeadRow::Number(_)) => Err(StoreError::Corrupt(
            "a number's evidence record without its number".into(),
        )),
    }
}

/// Writes the record of `event` after `head` (its subject's last record as read),
/// leaving the head for the caller to move: the new record's id and what was written.
/// An operation that updates the head's row anyway (a number's authorization) moves
/// the head in that update.
pub(super) fn insert_after(
    connection: &Connection,
    event: Event,
    head: Option<Head>,
) -> Result<(i64, Written), StoreError> {
    let written = event.write_after(head.map(|(_, seq, hash)| (seq, hash)))?;
    connection
        .prepare_cached(
            "INSERT INTO evidence (subject, seq, prev_id, type, hash, record, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            written.subject,
            written.seq,
            head.map(|(last_id, _, _)| last_id),
            written.kind,
            &written.hash[..],
            &written.bytes,
            written.at_s
        ])?;
    Ok((connection.last_insert_rowid(), written))
}

use super::{SqliteStore, SqliteTx};
use crate::capabilities::Evidence;
use crate::ops::evidence as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Evidence for SqliteStore {
    async fn evidence(&self, subject: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        let subject = subject.to_owned();
        self.read(move |c| run_now(ops::of_subject(&SqliteTx(c), &subject)))
            .await
    }

    async fn record_receipt(
        &self,
        evidence_id: i64,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |c| {
            run_now(ops::record_receipt(
                &SqliteTx(c),
                evidence_id,
                &signature,
                now_s,
            ))
        })
        .await
    }

    async fn receipt(&self, evidence_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |c| run_now(ops::receipt(&SqliteTx(c), evidence_id)))
            .await
    }

    async fn receipts_after(&self, evidence_id: i64) -> Result<(i64, i64), StoreError> {
        self.read(move |c| run_now(ops::receipts_after(&SqliteTx(c), evidence_id)))
            .await
    }
}

/// A subject's records as the migrations' tests read them.
#[cfg(test)]
pub(super) fn of_subject(
    connection: &Connection,
    subject: &str,
) -> Result<Vec<EvidenceRecord>, StoreError> {
    run_now(ops::of_subject(&SqliteTx(connection), subject))
}
