//! The transparency log on SQLite (the shared steps and the reads are `ops::log`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::TransparencyLog;
use crate::log::{ProofRequest, frontier_to_stored, signed, stored_level};
use crate::model::*;
use crate::ops::log as ops;
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, args, broken, run_now, scalar};
use async_trait::async_trait;
use rusqlite::{Connection, params};

pub(super) fn append(
    connection: &Connection,
    entries: &[Vec<u8>],
    now_s: i64,
) -> Result<(), StoreError> {
    let mut insert =
        connection.prepare_cached("INSERT INTO log_pending (entry, created_at) VALUES (?1, ?2)")?;
    for entry in entries {
        insert.execute(params![entry, now_s])?;
    }
    Ok(())
}

/// What an integration would take: the queued entries, and the evidence records past
/// the last one appended.
static WAITING: Sql = Sql::new(
    "SELECT (SELECT count(*) FROM log_pending) + (SELECT count(*) FROM evidence \
     WHERE id > (SELECT evidence_through FROM log_state WHERE id = 1)) AS waiting",
);
static PENDING: Sql = Sql::new("SELECT id, entry FROM log_pending ORDER BY id LIMIT $1");
static THROUGH: Sql = Sql::new("SELECT evidence_through FROM log_state WHERE id = 1");
static RECORDS: Sql =
    Sql::new("SELECT id, hash AS entry FROM evidence WHERE id > $1 ORDER BY id LIMIT $2");
static ENTRY_INSERT: Sql =
    Sql::new("INSERT INTO log_entries (idx, entry, created_at) VALUES ($1, $2, $3)");
static RUN_INSERT: Sql =
    Sql::new("INSERT INTO log_runs (first_idx, first_evidence_id, count) VALUES ($1, $2, $3)");
static NODE_INSERT: Sql = Sql::new("INSERT INTO log_nodes (level, idx, hash) VALUES ($1, $2, $3)");
static STATE_UPDATE: Sql =
    Sql::new("UPDATE log_state SET size = $1, frontier = $2, evidence_through = $3 WHERE id = 1");
static PENDING_DELETE: Sql = Sql::new("DELETE FROM log_pending WHERE id <= $1");

/// Appends what waits to the tree: entries queued by [`append`] first, then the evidence
/// records written since the last integration, by id. Records need no queue of their
/// own here: SQLite has one writer, so a record's id is larger than every id committed
/// before it, and `log_state.evidence_through` (the last record appended) is all the
/// integrator needs to take them in order, once each.
pub(super) fn integrate(
    connection: &Connection,
    integrate: &IntegrateLog,
) -> Result<Option<LogCheckpoint>, StoreError> {
    run_now(integrate_on(&SqliteTx(connection), integrate))
}

async fn integrate_on(
    tx: &SqliteTx<'_>,
    integrate: &IntegrateLog,
) -> Result<Option<LogCheckpoint>, Fail> {
    let numbered = |row: &rusqlite::Row<'_>| Ok((row.column::<i64>("id")?, row.column("entry")?));
    let pending: Vec<(i64, Vec<u8>)> = tx
        .rows(&PENDING, args![integrate.batch_max], numbered)
        .await?;
    let room = i64::from(integrate.batch_max).saturating_sub(pending.len() as i64);
    let through: i64 = scalar(tx, &THROUGH, args![], "evidence_through")
        .await?
        .ok_or_else(|| broken("log_state has no row"))?;
    let records: Vec<(i64, Vec<u8>)> = tx.rows(&RECORDS, args![through, room], numbered).await?;
    if pending.is_empty() && records.is_empty() {
        return Ok(None);
    }
    let mut tree = ops::tree(tx).await?;
    let size = tree.size();
    let completed = ops::grow(
        &mut tree,
        pending.iter().chain(&records).map(|(_, entry)| entry),
    )?;
    // Entries queued by `append` are rows of their own; evidence records are appended
    // as runs of consecutive ids, one `log_runs` row each (normally one per
    // integration): a record's entry is its hash, already in `evidence`.
    for (offset, (_, entry)) in pending.iter().enumerate() {
        let index = signed(size + offset as u64)?;
        tx.execute(&ENTRY_INSERT, args![index, entry, integrate.now_s])
            .await?;
    }
    let first_record = size + pending.len() as u64;
    for (offset, first_id, count) in runs(&records) {
        let index = signed(first_record + offset as u64)?;
        tx.execute(&RUN_INSERT, args![index, first_id, count])
            .await?;
    }
    for node in completed.iter().filter(|node| stored_level(node.level)) {
        let values = args![node.level, signed(node.index)?, &node.hash];
        tx.execute(&NODE_INSERT, values).await?;
    }
    let through = records.last().map_or(through, |(id, _)| *id);
    let stored = frontier_to_stored(&tree);
    let values = args![signed(tree.size())?, &stored, through];
    tx.execute(&STATE_UPDATE, values).await?;
    if let Some((last_id, _)) = pending.last() {
        tx.execute(&PENDING_DELETE, args![*last_id]).await?;
    }
    ops::write_checkpoint(tx, integrate, &tree).await.map(Some)
}

/// The runs of consecutive ids in `records` (ordered by id): each run's offset in
/// `records`, its first id and its length.
fn runs(records: &[(i64, Vec<u8>)]) -> Vec<(usize, i64, i64)> {
    let mut runs: Vec<(usize, i64, i64)> = Vec::new();
    for (offset, (id, _)) in records.iter().enumerate() {
        match runs.last_mut() {
            Some((_, first_id, count)) if *first_id + *count == *id => *count += 1,
            _ => runs.push((offset, *id, 1)),
        }
    }
    runs
}

#[async_trait]
impl TransparencyLog for SqliteStore {
    async fn append_log(&self, entries: Vec<Vec<u8>>, now_s: i64) -> Result<(), StoreError> {
        self.write(move |c| self::append(c, &entries, now_s)).await
    }

    async fn integrate_log(
        &self,
        integrate: IntegrateLog,
    ) -> Result<Option<LogCheckpoint>, StoreError> {
        self.write(move |c| self::integrate(c, &integrate)).await
    }

    async fn log_checkpoint(&self) -> Result<Option<LogCheckpoint>, StoreError> {
        self.read(|c| run_now(ops::checkpoint(&SqliteTx(c)))).await
    }

    async fn log_waiting(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            run_now(async {
                scalar(&SqliteTx(c), &WAITING, args![], "waiting")
                    .await?
                    .ok_or_else(|| broken("a count returned no row"))
            })
        })
        .await
    }

    async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |c| run_now(ops::entry(&SqliteTx(c), index)))
            .await
    }

    async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = ProofRequest::Inclusion { index, size };
        self.read(move |c| run_now(ops::proof(&SqliteTx(c), &request, size)))
            .await
    }

    async fn log_inclusion_proofs(
        &self,
        indexes: Vec<u64>,
        size: u64,
    ) -> Result<Option<Vec<Vec<[u8; 32]>>>, StoreError> {
        let requests: Vec<ProofRequest> = indexes
            .into_iter()
            .map(|index| ProofRequest::Inclusion { index, size })
            .collect();
        self.read(move |c| run_now(ops::proofs(&SqliteTx(c), &requests, size)))
            .await
    }

    async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = ProofRequest::Consistency { old, new };
        self.read(move |c| run_now(ops::proof(&SqliteTx(c), &request, new)))
            .await
    }

    async fn log_nodes(
        &self,
        level: u8,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let count = u64::from(count);
        self.read(move |c| run_now(ops::nodes(&SqliteTx(c), level, start, count)))
            .await
    }

    async fn log_entries(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(move |c| run_now(ops::entries(&SqliteTx(c), start, count)))
            .await
    }
}

// The shared reads as the tests of this module and of the migrations call them.
#[cfg(test)]
pub(crate) use crate::ops::log::LOG_INDEX_BY_RUN;

#[cfg(test)]
pub(super) fn entry_range(
    connection: &Connection,
    start: i64,
    count: i64,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    run_now(ops::entry_range(&SqliteTx(connection), start, count))
}

#[cfg(test)]
fn entry(connection: &Connection, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
    run_now(ops::entry(&SqliteTx(connection), index))
}

#[cfg(test)]
fn checkpoint(connection: &Connection) -> Result<Option<LogCheckpoint>, StoreError> {
    run_now(ops::checkpoint(&SqliteTx(connection)))
}

#[cfg(test)]
fn nodes(
    connection: &Connection,
    level: u8,
    start: u64,
    count: u32,
) -> Result<Vec<[u8; 32]>, StoreError> {
    run_now(ops::nodes(
        &SqliteTx(connection),
        level,
        start,
        u64::from(count),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;

    /// The runs of `log_runs`, in order: first index, first record id, count.
    pub(in crate::sqlite) fn stored_runs(connection: &Connection) -> Vec<(i64, i64, i64)> {
        connection
            .prepare("SELECT first_idx, first_evidence_id, count FROM log_runs ORDER BY first_idx")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn record(connection: &Connection, id: i64) {
        connection
            .execute(
                "INSERT INTO evidence (id, subject, seq, prev_id, type, hash, record, created_at) \
                 VALUES (?1, 's' || ?1, 1, NULL, 't', ?2, x'7b7d', 1)",
                params![id, vec![id as u8; 32]],
            )
            .unwrap();
    }

    fn integrate(connection: &Connection, batch_max: u32) -> LogCheckpoint {
        super::integrate(
            connection,
            &IntegrateLog {
                batch_max,
                sign: Box::new(|size, _| format!("size {size}")),
                now_s: 2,
            },
        )
        .unwrap()
        .unwrap()
    }

    /// Records are appended as runs of consecutive ids (a gap in the ids starts a new
    /// run), after the entries queued by `append`; every window of the log reads back
    /// the entries in order, each record finds its index, and the tree is the one of
    /// those entries.
    #[test]
    fn records_are_appended_as_runs_and_read_back_in_order() {
        let mut connection = Connection::open_in_memory().unwrap();
        crate::sqlite::schema::migrate(&mut connection).unwrap();
        for id in [1, 2, 3, 5, 6] {
            record(&connection, id);
        }
        append(&connection, &[vec![0xaa]], 1).unwrap();
        assert_eq!(integrate(&connection, 100).size, 6);
        record(&connection, 7);
        append(&connection, &[vec![0xbb], vec![0xcc]], 1).unwrap();
        assert_eq!(integrate(&connection, 100).size, 9);
        record(&connection, 8);
        record(&connection, 9);
        assert_eq!(
            integrate(&connection, 1).size,
            10,
            "a batch stops at its size"
        );
        assert_eq!(integrate(&connection, 1).size, 11);

        let expected: Vec<(i64, Vec<u8>)> = vec![
            (0, vec![0xaa]),
            (1, vec![1; 32]),
            (2, vec![2; 32]),
            (3, vec![3; 32]),
            (4, vec![5; 32]),
            (5, vec![6; 32]),
            (6, vec![0xbb]),
            (7, vec![0xcc]),
            (8, vec![7; 32]),
            (9, vec![8; 32]),
            (10, vec![9; 32]),
        ];
        assert_eq!(
            stored_runs(&connection),
            vec![(1, 1, 3), (4, 5, 2), (8, 7, 1), (9, 8, 1), (10, 9, 1)]
        );
        for start in 0..12_i64 {
            for count in 0..13_i64 {
                let window: Vec<(i64, Vec<u8>)> = expected
                    .iter()
                    .filter(|(index, _)| *index >= start && *index < start + count)
                    .cloned()
                    .collect();
                assert_eq!(entry_range(&connection, start, count).unwrap(), window);
            }
        }
        assert_eq!(entry(&connection, 5).unwrap(), Some(vec![6; 32]));
        assert_eq!(entry(&connection, 11).unwrap(), None);

        let index_of = |id: i64| -> Option<i64> {
            connection
                .query_row(
                    &format!("SELECT ({LOG_INDEX_BY_RUN}) FROM evidence e WHERE e.id = ?1"),
                    [id],
                    |row| row.get(0),
                )
                .unwrap()
        };
        let indexes: Vec<Option<i64>> =
            [1, 2, 3, 5, 6, 7, 8, 9].into_iter().map(index_of).collect();
        assert_eq!(
            indexes,
            vec![
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(5),
                Some(8),
                Some(9),
                Some(10)
            ]
        );
        record(&connection, 10);
        assert_eq!(index_of(10), None, "a record not yet appended has no index");

        let leaves: Vec<[u8; 32]> = expected
            .iter()
            .map(|(_, entry)| sceau_log::leaf_hash(entry))
            .collect();
        let mut tree = sceau_log::Frontier::default();
        tree.append(&leaves).unwrap();
        assert_eq!(checkpoint(&connection).unwrap().unwrap().root, tree.root());
        let level_zero = nodes(&connection, 0, 0, 16).unwrap();
        assert_eq!(level_zero, leaves);
    }
}
