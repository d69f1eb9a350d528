//! Evidence records on PostgreSQL (what they say is `crate::evidence`'s). A group of
//! records is two statements whatever its size: one reads the subjects' heads and draws
//! the new rows' ids, one writes the records, moves the heads and queues the log
//! entries. A head moves only from the record its writer read (so a chain cannot fork:
//! a writer that raced another on the same subject fails, and its batch runs again);
//! a subject's events already hold the subject's row locks (the accounts, the checkout,
//! the certificate, the request), so that race does not happen in practice.

use super::{Conn, Fail, col, exec, rows};
use crate::StoreError;
use crate::evidence::{Event, previous_from_stored};
use crate::model::EvidenceRecord;
use std::collections::HashMap;

/// A subject's last record as its head says: id, seq, hash.
type Head = (i64, i64, [u8; 32]);

/// Writes the records of `events`, in order, each after its subject's last one, and
/// queues their hashes for the log, in the caller's transaction. Returns the records.
pub(super) async fn write_all(c: &Conn, events: Vec<Event>) -> Result<Vec<EvidenceRecord>, Fail> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let subjects: Vec<&str> = events.iter().map(|event| event.subject.as_str()).collect();
    let count = events.len() as i64;
    let mut heads: HashMap<String, Head> = HashMap::new();
    let mut ids: Vec<i64> = Vec::new();
    for row in rows(
        c,
        "SELECT subject, last_id, seq, hash, NULL::BIGINT[] FROM evidence_heads \
         WHERE subject = ANY($1) \
         UNION ALL SELECT NULL, NULL, NULL, NULL, \
         ARRAY(SELECT nextval('evidence_id_seq') FROM generate_series(1::BIGINT, $2::BIGINT))",
        &[&subjects, &count],
    )
    .await?
    {
        match col::<Option<String>>(&row, 0)? {
            Some(subject) => {
                let last_id: i64 = col(&row, 1)?;
                let previous = previous_from_stored(Some((col(&row, 2)?, col(&row, 3)?)))?;
                if let Some((seq, hash)) = previous {
                    heads.insert(subject, (last_id, seq, hash));
                }
            }
            None => ids = col(&row, 4)?,
        }
    }
    if ids.len() != events.len() {
        return Err(super::corrupt("evidence ids drawn"));
    }
    // The heads as read, to move on condition; then each record after the one before.
    let read: HashMap<String, i64> = heads
        .iter()
        .map(|(subject, (_, seq, _))| (subject.clone(), *seq))
        .collect();
    let mut records = Vec::with_capacity(events.len());
    let mut prev_ids: Vec<Option<i64>> = Vec::with_capacity(events.len());
    for (event, id) in events.into_iter().zip(ids) {
        let head = heads.get(&event.subject).copied();
        let (subject, kind, at_s) = (event.subject.clone(), event.kind, event.at_s);
        let written = event.write_after(head.map(|(_, seq, hash)| (seq, hash)))?;
        heads.insert(subject.clone(), (id, written.seq, written.hash));
        prev_ids.push(head.map(|(last_id, _, _)| last_id));
        records.push(EvidenceRecord {
            id,
            subject,
            seq: written.seq,
            kind: kind.to_owned(),
            hash: written.hash,
            record: written.bytes,
            created_at_s: at_s,
            log_index: None,
        });
    }
    // The heads to write: each subject's last record, and the seq its head had.
    let mut moved: Vec<(&str, i64, i64, &[u8], i64)> = Vec::new();
    for (subject, (last_id, seq, hash)) in &heads {
        if records.iter().any(|record| &record.subject == subject) {
            let was = read.get(subject).copied().unwrap_or(0);
            moved.push((subject.as_str(), *last_id, *seq, hash.as_slice(), was));
        }
    }
    let column = |field: fn(&EvidenceRecord) -> i64| records.iter().map(field).collect::<Vec<_>>();
    let ids = column(|record| record.id);
    let seqs = column(|record| record.seq);
    let times = column(|record| record.created_at_s);
    let record_subjects: Vec<&str> = records.iter().map(|r| r.subject.as_str()).collect();
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    let hashes: Vec<&[u8]> = records.iter().map(|r| r.hash.as_slice()).collect();
    let bytes: Vec<&[u8]> = records.iter().map(|r| r.record.as_slice()).collect();
    let head_subjects: Vec<&str> = moved.iter().map(|m| m.0).collect();
    let head_ids: Vec<i64> = moved.iter().map(|m| m.1).collect();
    let head_seqs: Vec<i64> = moved.iter().map(|m| m.2).collect();
    let head_hashes: Vec<&[u8]> = moved.iter().map(|m| m.3).collect();
    let head_was: Vec<i64> = moved.iter().map(|m| m.4).collect();
    let row = super::one_row(
        c,
        "WITH input AS (SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], \
         $5::TEXT[], $6::BYTEA[], $7::BYTEA[], $8::BIGINT[]) WITH ORDINALITY \
         AS t (id, subject, seq, prev_id, type, hash, record, created_at, n)), \
         recorded AS (INSERT INTO evidence (id, subject, seq, prev_id, type, hash, record, created_at) \
         SELECT id, subject, seq, prev_id, type, hash, record, created_at FROM input ORDER BY n RETURNING 1), \
         queued AS (INSERT INTO log_pending (entry, created_at, evidence_id) \
         SELECT hash, created_at, id FROM input ORDER BY n RETURNING 1), \
         heads AS (SELECT * FROM unnest($9::TEXT[], $10::BIGINT[], $11::BIGINT[], $12::BYTEA[], $13::BIGINT[]) \
         AS h (subject, last_id, seq, hash, was)), \
         moved AS (INSERT INTO evidence_heads (subject, last_id, seq, hash) \
         SELECT subject, last_id, seq, hash FROM heads \
         ON CONFLICT (subject) DO UPDATE SET last_id = excluded.last_id, seq = excluded.seq, hash = excluded.hash \
         WHERE evidence_heads.seq = (SELECT was FROM heads WHERE heads.subject = excluded.subject) \
         RETURNING 1) \
         SELECT (SELECT count(*) FROM recorded), (SELECT count(*) FROM queued), (SELECT count(*) FROM moved)",
        &[
            &ids,
            &record_subjects,
            &seqs,
            &prev_ids,
            &kinds,
            &hashes,
            &bytes,
            &times,
            &head_subjects,
            &head_ids,
            &head_seqs,
            &head_hashes,
            &head_was,
        ],
    )
    .await?;
    let written = records.len() as i64;
    if col::<i64>(&row, 0)? != written || col::<i64>(&row, 1)? != written {
        return Err(super::corrupt("evidence rows written"));
    }
    if col::<i64>(&row, 2)? != moved.len() as i64 {
        return Err(Fail::Store(StoreError::Conflict(
            "evidence_changed_concurrently",
        )));
    }
    Ok(records)
}

pub(super) async fn write(c: &Conn, event: Event) -> Result<EvidenceRecord, Fail> {
    write_all(c, vec![event])
        .await?
        .pop()
        .ok_or_else(|| super::corrupt("evidence row written"))
}

/// A subject's records, oldest first (walked back from its head).
pub(super) async fn of_subject(c: &Conn, subject: &str) -> Result<Vec<EvidenceRecord>, Fail> {
    rows(c, crate::evidence::CHAIN_SQL, &[&subject])
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
                col(row, 7)?,
            )?)
        })
        .collect()
}

pub(super) async fn record_receipt(
    c: &Conn,
    evidence_id: i64,
    signature: &[u8],
    now_s: i64,
) -> Result<bool, Fail> {
    let inserted = exec(
        c,
        "INSERT INTO receipts (evidence_id, signature, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (evidence_id) DO NOTHING",
        &[&evidence_id, &signature, &now_s],
    )
    .await?;
    Ok(inserted == 1)
}

pub(super) async fn receipt(c: &Conn, evidence_id: i64) -> Result<Option<Vec<u8>>, Fail> {
    super::opt_row(
        c,
        "SELECT signature FROM receipts WHERE evidence_id = $1",
        &[&evidence_id],
    )
    .await?
    .map(|row| col(&row, 0))
    .transpose()
}
