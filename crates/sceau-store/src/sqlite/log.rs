//! The transparency log on SQLite (see `crate::log` for what both backends share).

use crate::StoreError;
use crate::log::signed;
use crate::log::{
    CHECKPOINT, CHECKPOINT_INSERT, NODES, ProofRequest, derivation, frontier_from_stored,
    frontier_to_stored, stored_level,
};
use crate::model::*;
use crate::sql::{ReadRow, sqlite_first};
use rusqlite::{Connection, params};
use sceau_log::Frontier;
use sceau_log::frontier::CompletedNode;
use std::collections::HashMap;

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

fn state(connection: &Connection) -> Result<(u64, Vec<u8>), StoreError> {
    let sql = "SELECT size, frontier FROM log_state WHERE id = 1";
    let state = sqlite_first(connection, sql, [], |row| {
        Ok((row.column("size")?, row.column("frontier")?))
    })?;
    state.ok_or_else(|| StoreError::Corrupt("log_state has no row".into()))
}

/// Appends what waits to the tree: entries queued by [`append`] first, then the evidence
/// records written since the last integration, by id. Records need no queue of their
/// own here: SQLite has one writer, so a record's id is larger than every id committed
/// before it, and `log_state.evidence_through` (the last record appended) is all the
/// integrator needs to take them in order, once each.
pub(super) fn integrate(
    connection: &Connection,
    integrate: &IntegrateLog,
) -> Result<Option<LogCheckpoint>, StoreError> {
    let pending: Vec<(i64, Vec<u8>)> = connection
        .prepare_cached("SELECT id, entry FROM log_pending ORDER BY id LIMIT ?1")?
        .query_map([integrate.batch_max], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let room = i64::from(integrate.batch_max).saturating_sub(pending.len() as i64);
    let evidence_through: i64 = connection
        .prepare_cached("SELECT evidence_through FROM log_state WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    let records: Vec<(i64, Vec<u8>)> = connection
        .prepare_cached("SELECT id, hash FROM evidence WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map([evidence_through, room], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    if pending.is_empty() && records.is_empty() {
        return Ok(None);
    }
    let (size, stored) = state(connection)?;
    let mut frontier = frontier_from_stored(size, &stored)?;
    let leaves: Vec<[u8; 32]> = pending
        .iter()
        .map(|(_, entry)| entry)
        .chain(records.iter().map(|(_, hash)| hash))
        .map(|entry| sceau_log::leaf_hash(entry))
        .collect();
    let completed = frontier
        .append(&leaves)
        .map_err(|error| StoreError::Corrupt(format!("log append: {error}")))?;
    // Entries queued by `append` are rows of their own; evidence records are appended
    // as runs of consecutive ids, one `log_runs` row each (normally one per
    // integration): a record's entry is its hash, already in `evidence`.
    insert_entries(connection, size, &pending, integrate.now_s)?;
    let mut insert_run = connection.prepare_cached(
        "INSERT INTO log_runs (first_idx, first_evidence_id, count) VALUES (?1, ?2, ?3)",
    )?;
    let first_record = size + pending.len() as u64;
    for (offset, first_id, count) in runs(&records) {
        insert_run.execute(params![
            signed(first_record + offset as u64)?,
            first_id,
            count
        ])?;
    }
    insert_nodes(connection, completed)?;
    let new_size = frontier.size();
    let evidence_through = records.last().map_or(evidence_through, |(id, _)| *id);
    connection
        .prepare_cached(
            "UPDATE log_state SET size = ?1, frontier = ?2, evidence_through = ?3 WHERE id = 1",
        )?
        .execute(params![
            signed(new_size)?,
            frontier_to_stored(&frontier),
            evidence_through
        ])?;
    if let Some((last_id, _)) = pending.last() {
        connection
            .prepare_cached("DELETE FROM log_pending WHERE id <= ?1")?
            .execute([last_id])?;
    }
    write_checkpoint(connection, integrate, &frontier).map(Some)
}

/// Inserts the entries taken, from index `size` on, in their order.
fn insert_entries(
    connection: &Connection,
    size: u64,
    pending: &[(i64, Vec<u8>)],
    now_s: i64,
) -> Result<(), StoreError> {
    let mut insert_entry = connection
        .prepare_cached("INSERT INTO log_entries (idx, entry, created_at) VALUES (?1, ?2, ?3)")?;
    for (offset, (_, entry)) in pending.iter().enumerate() {
        insert_entry.execute(params![signed(size + offset as u64)?, entry, now_s])?;
    }
    Ok(())
}

/// Inserts the nodes an append completed, those of the levels stored.
fn insert_nodes(connection: &Connection, completed: Vec<CompletedNode>) -> Result<(), StoreError> {
    let mut insert_node = connection
        .prepare_cached("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    for node in completed.iter().filter(|node| stored_level(node.level)) {
        insert_node.execute(params![node.level, signed(node.index)?, &node.hash[..]])?;
    }
    Ok(())
}

/// Signs the tree's new size and root and records them as a checkpoint.
fn write_checkpoint(
    connection: &Connection,
    integrate: &IntegrateLog,
    frontier: &Frontier,
) -> Result<LogCheckpoint, StoreError> {
    let new_size = frontier.size();
    let root = frontier.root();
    let checkpoint = LogCheckpoint {
        size: new_size,
        root,
        note: (integrate.sign)(new_size, &root),
        created_at_s: integrate.now_s,
    };
    connection
        .prepare_cached(CHECKPOINT_INSERT.sqlite())?
        .execute(params![
            signed(new_size)?,
            &root[..],
            checkpoint.note,
            integrate.now_s
        ])?;
    Ok(checkpoint)
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

/// The log index of the record `e` from the run it was appended in (null before).
pub(super) const LOG_INDEX_BY_RUN: &str = "SELECT CASE WHEN e.id < r.first_evidence_id + r.count \
     THEN r.first_idx + (e.id - r.first_evidence_id) END FROM log_runs r \
     WHERE r.first_evidence_id <= e.id ORDER BY r.first_evidence_id DESC LIMIT 1";

/// The log's entries from `start`, at most `count`, in order, with their indexes: the
/// rows of `log_entries` and the hashes of the records of the runs in `log_runs`.
pub(super) fn entry_range(
    connection: &Connection,
    start: i64,
    count: i64,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    let end = start.saturating_add(count.max(0));
    // Three reads, one snapshot: an integration commits its queued entries and its run
    // together, and a window must not show one without the other.
    let snapshot = if connection.is_autocommit() {
        Some(connection.unchecked_transaction()?)
    } else {
        None
    };
    let mut found: Vec<(i64, Vec<u8>)> = connection
        .prepare_cached("SELECT idx, entry FROM log_entries WHERE idx >= ?1 AND idx < ?2")?
        .query_map([start, end], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    // The run that holds `start`, if one does, and those that begin before `end`.
    let runs: Vec<(i64, i64, i64)> = connection
        .prepare_cached(
            "SELECT first_idx, first_evidence_id, count FROM log_runs \
             WHERE first_idx >= COALESCE((SELECT max(first_idx) FROM log_runs WHERE first_idx <= ?1), ?1) \
             AND first_idx < ?2 ORDER BY first_idx",
        )?
        .query_map([start, end], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut hashes =
        connection.prepare_cached("SELECT id, hash FROM evidence WHERE id >= ?1 AND id < ?2")?;
    for (first_idx, first_id, run_count) in runs {
        let (from, to) = (start.max(first_idx), end.min(first_idx + run_count));
        if from >= to {
            continue;
        }
        let ids = (first_id + (from - first_idx), first_id + (to - first_idx));
        for row in hashes.query_map([ids.0, ids.1], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })? {
            let (id, hash) = row?;
            found.push((first_idx + (id - first_id), hash));
        }
    }
    drop(hashes);
    drop(snapshot);
    found.sort_unstable_by_key(|(index, _)| *index);
    Ok(found)
}

pub(super) fn checkpoint(connection: &Connection) -> Result<Option<LogCheckpoint>, StoreError> {
    super::read::first(connection, CHECKPOINT.sqlite(), [])
}

pub(super) fn entry(connection: &Connection, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let Ok(index) = i64::try_from(index) else {
        return Ok(None);
    };
    Ok(entry_range(connection, index, 1)?
        .pop()
        .map(|(_, entry)| entry))
}

pub(super) fn proof(
    connection: &Connection,
    request: &ProofRequest,
    largest: u64,
) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
    let (size, _) = state(connection)?;
    if largest > size {
        return Ok(None);
    }
    let Some(nodes) = request.nodes() else {
        return Ok(None);
    };
    let mut base = HashMap::new();
    for range in crate::log::base_ranges(&nodes) {
        let found = level_nodes(connection, range.base, range.start, range.count)?;
        for (offset, hash) in found.into_iter().enumerate() {
            base.insert((range.base, range.start + offset as u64), hash);
        }
    }
    request
        .with_nodes(crate::log::derive(&nodes, &base))
        .map(Some)
}

/// The complete nodes of `level` from `start`, in order, up to `count` (stopping at the
/// first missing): stored, or computed from the stored level below or from the entries
/// (see `crate::log::stored_level`).
pub(super) fn nodes(
    connection: &Connection,
    level: u8,
    start: u64,
    count: u32,
) -> Result<Vec<[u8; 32]>, StoreError> {
    level_nodes(connection, level, start, u64::from(count))
}

fn level_nodes(
    connection: &Connection,
    level: u8,
    start: u64,
    count: u64,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let Some(derivation) = derivation(level, start, count) else {
        return Ok(Vec::new());
    };
    let Some((base_start, base_count)) = derivation.rows() else {
        return Ok(Vec::new());
    };
    let base = if derivation.base == 0 {
        let leaves = entry_range(connection, base_start, base_count)?
            .into_iter()
            .map(|(index, entry)| (index, sceau_log::leaf_hash(&entry).to_vec()))
            .collect();
        crate::log::contiguous(base_start, leaves)
    } else {
        let rows: Vec<(i64, Vec<u8>)> = connection
            .prepare_cached(NODES.sqlite())?
            .query_map(params![derivation.base, base_start, base_count], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        crate::log::contiguous(base_start, rows)
    };
    Ok(derivation.fold(base))
}

pub(super) fn entries(
    connection: &Connection,
    start: u64,
    count: u32,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let Ok(start) = i64::try_from(start) else {
        return Ok(Vec::new());
    };
    Ok(entry_range(connection, start, i64::from(count))?
        .into_iter()
        .map(|(_, entry)| entry)
        .collect())
}

use super::SqliteStore;
use crate::capabilities::TransparencyLog;
use async_trait::async_trait;

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
        self.read(self::checkpoint).await
    }

    async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |c| self::entry(c, index)).await
    }

    async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Inclusion { index, size };
        self.read(move |c| self::proof(c, &request, size)).await
    }

    async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Consistency { old, new };
        self.read(move |c| self::proof(c, &request, new)).await
    }

    async fn log_nodes(
        &self,
        level: u8,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(move |c| self::nodes(c, level, start, count))
            .await
    }

    async fn log_entries(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(move |c| self::entries(c, start, count)).await
    }
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
