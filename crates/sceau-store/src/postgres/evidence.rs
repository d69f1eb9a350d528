//! Evidence records on PostgreSQL (what they say is `crate::evidence`'s). A group of
//! records is two statements whatever its size: one reads the subjects' heads and draws
//! the new rows' ids, one writes the records, moves the heads and queues the log
//! entries. An operation that already has such statements carries the records in them
//! instead (authorizations read the numbers' heads with the numbers and write the
//! records with the holds: [`chain`], [`ctes`]). A head moves only from the record its writer read (so a chain cannot fork:
//! a writer that raced another on the same subject fails, and its batch runs again);
//! a subject's events already hold the subject's row locks (the accounts, the checkout,
//! the certificate, the request), so that race does not happen in practice. The reads
//! and receipts are `ops::evidence`.

use super::{Conn, Fail, col, rows};
use crate::StoreError;
use crate::evidence::{Event, Head, HeadRow, head_from_stored};
use crate::model::EvidenceRecord;
use std::collections::HashMap;
use std::sync::LazyLock;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Records made, not yet written: each after its subject's last one, with the ids drawn
/// for them, and the heads to move (each subject's last record, on condition of the
/// `seq` its head had when read: 0 for a head to create or a number's first record),
/// those in `evidence_heads` apart from those on `numbers` rows.
pub(super) struct Chained {
    records: Vec<EvidenceRecord>,
    prev_ids: Vec<Option<i64>>,
    moved: Vec<(String, i64, i64, [u8; 32], i64)>,
    numbers_moved: Vec<NumberHeadMove>,
}

/// A number's head to move: the number, the new head (id, seq, hash), and the `seq` it
/// must still have.
#[derive(Debug, Clone, Copy)]
pub(super) struct NumberHeadMove {
    pub(super) number_id: i64,
    pub(super) last_id: i64,
    pub(super) seq: i64,
    pub(super) hash: [u8; 32],
    pub(super) was: i64,
}

/// Makes the records of `events`, in order, with `ids`, after the subjects' `heads` as
/// read.
pub(super) fn chain(
    events: Vec<Event>,
    ids: Vec<i64>,
    mut heads: HashMap<String, Head>,
) -> Result<Chained, Fail> {
    if ids.len() != events.len() {
        return Err(super::corrupt("evidence ids drawn"));
    }
    let read: HashMap<String, i64> = heads
        .iter()
        .map(|(subject, (_, seq, _))| (subject.clone(), *seq))
        .collect();
    let mut records = Vec::with_capacity(events.len());
    let mut prev_ids: Vec<Option<i64>> = Vec::with_capacity(events.len());
    let mut recorded: HashMap<String, HeadRow> = HashMap::new();
    for (event, id) in events.into_iter().zip(ids) {
        recorded.insert(event.subject.clone(), event.head);
        let head = heads.get(&event.subject).copied();
        let written = event.write_after(head.map(|(_, seq, hash)| (seq, hash)))?;
        heads.insert(written.subject.clone(), (id, written.seq, written.hash));
        prev_ids.push(head.map(|(last_id, _, _)| last_id));
        records.push(written.into_record(id));
    }
    let mut moved = Vec::new();
    let mut numbers_moved = Vec::new();
    for (subject, (last_id, seq, hash)) in heads {
        let Some(&row) = recorded.get(&subject) else {
            continue;
        };
        let was = read.get(&subject).copied().unwrap_or(0);
        match row {
            HeadRow::Number(number_id) => numbers_moved.push(NumberHeadMove {
                number_id,
                last_id,
                seq,
                hash,
                was,
            }),
            HeadRow::Keyed => moved.push((subject, last_id, seq, hash, was)),
        }
    }
    Ok(Chained {
        records,
        prev_ids,
        moved,
        numbers_moved,
    })
}

/// The data-modifying CTEs that write [`Chained`] records (the records, their log
/// entries queued, the heads moved), its parameters numbered from `first`: to be put in
/// a statement's `WITH` (alone, or with an operation's own writes, so that the records
/// cost no statement of their own), with [`COUNTS`] in its `SELECT`.
pub(super) fn ctes(first: usize) -> String {
    let p = |offset: usize| format!("${}", first + offset);
    format!(
        "evidence_input AS (SELECT * FROM unnest({}::BIGINT[], {}::TEXT[], {}::BIGINT[], {}::BIGINT[], \
         {}::TEXT[], {}::BYTEA[], {}::BYTEA[], {}::BIGINT[]) WITH ORDINALITY \
         AS t (id, subject, seq, prev_id, type, hash, record, created_at, n)), \
         evidence_recorded AS (INSERT INTO evidence (id, subject, seq, prev_id, type, hash, record, created_at) \
         SELECT id, subject, seq, prev_id, type, hash, record, created_at FROM evidence_input ORDER BY n \
         RETURNING 1), \
         evidence_queued AS (INSERT INTO log_pending (entry, created_at, evidence_id) \
         SELECT hash, created_at, id FROM evidence_input ORDER BY n RETURNING 1), \
         evidence_heads_input AS (SELECT * FROM unnest({}::TEXT[], {}::BIGINT[], {}::BIGINT[], {}::BYTEA[], \
         {}::BIGINT[]) AS h (subject, last_id, seq, hash, was)), \
         evidence_moved AS (INSERT INTO evidence_heads (subject, last_id, seq, hash) \
         SELECT subject, last_id, seq, hash FROM evidence_heads_input \
         ON CONFLICT (subject) DO UPDATE SET last_id = excluded.last_id, seq = excluded.seq, \
         hash = excluded.hash WHERE evidence_heads.seq = \
         (SELECT was FROM evidence_heads_input h WHERE h.subject = excluded.subject) RETURNING 1), \
         evidence_numbers_moved AS (UPDATE numbers n SET evidence_last_id = m.last_id, \
         evidence_seq = m.seq, evidence_hash = m.hash \
         FROM unnest({}::BIGINT[], {}::BIGINT[], {}::BIGINT[], {}::BYTEA[], {}::BIGINT[]) \
         AS m (number_id, last_id, seq, hash, was) \
         WHERE n.id = m.number_id AND n.evidence_seq = m.was RETURNING 1)",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8),
        p(9),
        p(10),
        p(11),
        p(12),
        p(13),
        p(14),
        p(15),
        p(16),
        p(17)
    )
}

/// The counts [`Chained::check`] reads, three columns for a statement's `SELECT`.
pub(super) const COUNTS: &str = "(SELECT count(*) FROM evidence_recorded), \
     (SELECT count(*) FROM evidence_queued), \
     (SELECT count(*) FROM evidence_moved) + (SELECT count(*) FROM evidence_numbers_moved)";

/// [`Chained`]'s columns, owned, for [`ctes`]' parameters.
pub(super) struct Columns<'a> {
    ids: Vec<i64>,
    subjects: Vec<&'a str>,
    seqs: Vec<i64>,
    prev_ids: &'a [Option<i64>],
    kinds: Vec<&'a str>,
    hashes: Vec<&'a [u8]>,
    bytes: Vec<&'a [u8]>,
    times: Vec<i64>,
    head_subjects: Vec<&'a str>,
    head_ids: Vec<i64>,
    head_seqs: Vec<i64>,
    head_hashes: Vec<&'a [u8]>,
    head_was: Vec<i64>,
    number_ids: Vec<i64>,
    number_head_ids: Vec<i64>,
    number_head_seqs: Vec<i64>,
    number_head_hashes: Vec<&'a [u8]>,
    number_head_was: Vec<i64>,
}

impl Columns<'_> {
    /// The eighteen parameters of [`ctes`], in order.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 18] {
        [
            &self.ids,
            &self.subjects,
            &self.seqs,
            &self.prev_ids,
            &self.kinds,
            &self.hashes,
            &self.bytes,
            &self.times,
            &self.head_subjects,
            &self.head_ids,
            &self.head_seqs,
            &self.head_hashes,
            &self.head_was,
            &self.number_ids,
            &self.number_head_ids,
            &self.number_head_seqs,
            &self.number_head_hashes,
            &self.number_head_was,
        ]
    }
}

impl Chained {
    pub(super) fn columns(&self) -> Columns<'_> {
        let records = &self.records;
        Columns {
            ids: records.iter().map(|r| r.id).collect(),
            subjects: records.iter().map(|r| r.subject.as_str()).collect(),
            seqs: records.iter().map(|r| r.seq).collect(),
            prev_ids: &self.prev_ids,
            kinds: records.iter().map(|r| r.kind.as_str()).collect(),
            hashes: records.iter().map(|r| r.hash.as_slice()).collect(),
            bytes: records.iter().map(|r| r.record.as_slice()).collect(),
            times: records.iter().map(|r| r.created_at_s).collect(),
            head_subjects: self.moved.iter().map(|m| m.0.as_str()).collect(),
            head_ids: self.moved.iter().map(|m| m.1).collect(),
            head_seqs: self.moved.iter().map(|m| m.2).collect(),
            head_hashes: self.moved.iter().map(|m| m.3.as_slice()).collect(),
            head_was: self.moved.iter().map(|m| m.4).collect(),
            number_ids: self.numbers_moved.iter().map(|m| m.number_id).collect(),
            number_head_ids: self.numbers_moved.iter().map(|m| m.last_id).collect(),
            number_head_seqs: self.numbers_moved.iter().map(|m| m.seq).collect(),
            number_head_hashes: self
                .numbers_moved
                .iter()
                .map(|m| m.hash.as_slice())
                .collect(),
            number_head_was: self.numbers_moved.iter().map(|m| m.was).collect(),
        }
    }

    /// Takes the numbers' heads to move out of the records' statement, for an
    /// operation that updates those numbers' rows anyway to move them in its own update
    /// (a statement may not update one row twice), and check them there.
    pub(super) fn take_number_moves(&mut self) -> Vec<NumberHeadMove> {
        std::mem::take(&mut self.numbers_moved)
    }

    /// Checks [`COUNTS`], read from `row` at column `first`: every record written and
    /// queued, every head moved (a head that moved since it was read means a writer
    /// raced this one on the subject: the transaction fails rather than fork a chain).
    pub(super) fn check(self, row: &Row, first: usize) -> Result<Vec<EvidenceRecord>, Fail> {
        let written = self.records.len() as i64;
        if col::<i64>(row, first)? != written || col::<i64>(row, first + 1)? != written {
            return Err(super::corrupt("evidence rows written"));
        }
        if col::<i64>(row, first + 2)? != (self.moved.len() + self.numbers_moved.len()) as i64 {
            return Err(Fail::Store(StoreError::Conflict(
                "evidence_changed_concurrently",
            )));
        }
        Ok(self.records)
    }
}

/// Writes the records of `events`, in order, each after its subject's last one, and
/// queues their hashes for the log, in the caller's transaction. Returns the records.
pub(super) async fn write_all(c: &Conn, events: Vec<Event>) -> Result<Vec<EvidenceRecord>, Fail> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let subjects: Vec<&str> = events
        .iter()
        .filter(|event| event.head == HeadRow::Keyed)
        .map(|event| event.subject.as_str())
        .collect();
    let numbers: Vec<i64> = events
        .iter()
        .filter_map(|event| event.head.number_id())
        .collect();
    let count = events.len() as i64;
    let mut heads: HashMap<String, Head> = HashMap::new();
    let mut ids: Vec<i64> = Vec::new();
    let mut found: Vec<String> = Vec::new();
    for row in rows(
        c,
        "SELECT subject, last_id, seq, hash, NULL::BIGINT[] FROM evidence_heads \
         WHERE subject = ANY($1) \
         UNION ALL SELECT 'number:' || id, evidence_last_id, evidence_seq, evidence_hash, NULL \
         FROM numbers WHERE id = ANY($3) \
         UNION ALL SELECT NULL, NULL, NULL, NULL, \
         ARRAY(SELECT nextval('evidence_id_seq') FROM generate_series(1::BIGINT, $2::BIGINT))",
        &[&subjects, &count, &numbers],
    )
    .await?
    {
        match col::<Option<String>>(&row, 0)? {
            Some(subject) => {
                found.push(subject.clone());
                if let Some(head) = head_from_stored(col(&row, 1)?, col(&row, 2)?, col(&row, 3)?)? {
                    heads.insert(subject, head);
                }
            }
            None => ids = col(&row, 4)?,
        }
    }
    // Every number's row was read (a number's head is on it, even before its first record).
    if events
        .iter()
        .any(|event| event.head != HeadRow::Keyed && !found.contains(&event.subject))
    {
        return Err(super::corrupt(
            "a number's evidence record without its number",
        ));
    }
    let chained = chain(events, ids, heads)?;
    let row = {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("WITH {} SELECT {COUNTS}", ctes(1)));
        let columns = chained.columns();
        super::one_row(c, &SQL, &columns.params()).await?
    };
    chained.check(&row, 0)
}

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::capabilities::Evidence;
use crate::ops::evidence as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Evidence for PostgresStore {
    async fn evidence(&self, subject: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        self.read(async |c| ops::of_subject(&PgTx::reader(c), subject).await)
            .await
    }

    async fn record_receipt(
        &self,
        evidence_id: i64,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        self.write(
            Guard::Nothing,
            (evidence_id, signature, now_s),
            |c, d, locked| {
                async move { ops::record_receipt(&PgTx::new(c, locked), d.0, &d.1, d.2).await }
                    .boxed()
            },
        )
        .await
    }

    async fn receipt(&self, evidence_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(async |c| ops::receipt(&PgTx::reader(c), evidence_id).await)
            .await
    }

    async fn receipts_after(&self, evidence_id: i64) -> Result<(i64, i64), StoreError> {
        self.read(async |c| ops::receipts_after(&PgTx::reader(c), evidence_id).await)
            .await
    }
}
