//! Evidence records on PostgreSQL (what they say is `crate::evidence`'s). A group of
//! records is two statements whatever its size: one reads the subjects' last records,
//! one writes the records with their log entries. A subject's records are made by
//! writes that hold the subject's row locks (the accounts, the checkout, the
//! certificate), so the last record read is the last one; `UNIQUE (subject, seq)`
//! refuses a record that would fork a chain all the same.

use super::{Conn, Fail, col, exec, rows};
use crate::evidence::{Event, Written, previous_from_stored};
use crate::model::EvidenceRecord;
use std::collections::HashMap;

/// Writes the records of `events`, in order, each after its subject's last one, and
/// queues their hashes for the log, in the caller's transaction.
pub(super) async fn write_all(c: &Conn, events: Vec<Event>) -> Result<(), Fail> {
    if events.is_empty() {
        return Ok(());
    }
    let subjects: Vec<&str> = events.iter().map(|event| event.subject.as_str()).collect();
    let mut last: HashMap<String, Option<(i64, [u8; 32])>> = HashMap::new();
    for row in rows(
        c,
        "SELECT DISTINCT ON (subject) subject, seq, hash FROM evidence \
         WHERE subject = ANY($1) ORDER BY subject, seq DESC",
        &[&subjects],
    )
    .await?
    {
        let subject: String = col(&row, 0)?;
        let previous = previous_from_stored(Some((col(&row, 1)?, col(&row, 2)?)))?;
        last.insert(subject, previous);
    }
    let mut written: Vec<(String, &'static str, i64, Written)> = Vec::with_capacity(events.len());
    for event in events {
        let previous = last.get(&event.subject).copied().flatten();
        let (subject, kind, at_s) = (event.subject.clone(), event.kind, event.at_s);
        let record = event.write_after(previous)?;
        last.insert(subject.clone(), Some((record.seq, record.hash)));
        written.push((subject, kind, at_s, record));
    }
    let subjects: Vec<&str> = written.iter().map(|(s, ..)| s.as_str()).collect();
    let kinds: Vec<&str> = written.iter().map(|(_, kind, ..)| *kind).collect();
    let times: Vec<i64> = written.iter().map(|(_, _, at_s, _)| *at_s).collect();
    let seqs: Vec<i64> = written.iter().map(|(.., record)| record.seq).collect();
    let hashes: Vec<&[u8]> = written.iter().map(|(.., r)| r.hash.as_slice()).collect();
    let records: Vec<&[u8]> = written.iter().map(|(.., r)| r.bytes.as_slice()).collect();
    exec(
        c,
        "WITH input AS (SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::BYTEA[], \
         $5::BYTEA[], $6::BIGINT[]) WITH ORDINALITY AS t (subject, seq, type, hash, record, created_at, n)), \
         recorded AS (INSERT INTO evidence (subject, seq, type, hash, record, created_at) \
         SELECT subject, seq, type, hash, record, created_at FROM input ORDER BY n) \
         INSERT INTO log_pending (entry, created_at) SELECT hash, created_at FROM input ORDER BY n",
        &[&subjects, &seqs, &kinds, &hashes, &records, &times],
    )
    .await?;
    Ok(())
}

pub(super) async fn write(c: &Conn, event: Event) -> Result<(), Fail> {
    write_all(c, vec![event]).await
}

pub(super) async fn of_subject(c: &Conn, subject: &str) -> Result<Vec<EvidenceRecord>, Fail> {
    rows(
        c,
        "SELECT e.subject, e.seq, e.type, e.hash, e.record, e.created_at, \
         (SELECT min(l.idx) FROM log_entries l WHERE l.entry = e.hash) \
         FROM evidence e WHERE e.subject = $1 ORDER BY e.seq",
        &[&subject],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(crate::evidence::stored_record(
            col(row, 0)?,
            col(row, 1)?,
            col(row, 2)?,
            col(row, 3)?,
            col(row, 4)?,
            col(row, 5)?,
            col(row, 6)?,
        )?)
    })
    .collect()
}

pub(super) async fn record_receipt(
    c: &Conn,
    record_hash: &[u8; 32],
    signature: &[u8],
    now_s: i64,
) -> Result<bool, Fail> {
    let inserted = exec(
        c,
        "INSERT INTO receipts (record_hash, signature, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (record_hash) DO NOTHING",
        &[&record_hash.as_slice(), &signature, &now_s],
    )
    .await?;
    Ok(inserted == 1)
}

pub(super) async fn receipt(c: &Conn, record_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, Fail> {
    super::opt_row(
        c,
        "SELECT signature FROM receipts WHERE record_hash = $1",
        &[&record_hash.as_slice()],
    )
    .await?
    .map(|row| col(&row, 0))
    .transpose()
}
