//! The transparency log on PostgreSQL (the steps of `sqlite/log.rs`). An integration
//! holds `log_state`'s row lock from its first read to its commit: integrations of
//! several instances take turns, and none takes another's entries.

use super::{Conn, Fail, col, exec, one_row, opt_row, rows};
use crate::StoreError;
use crate::log::signed;
use crate::log::{
    CHECKPOINT, CHECKPOINT_INSERT, NODES, ProofRequest, derivation, frontier_from_stored,
    frontier_to_stored, stored_level,
};
use crate::model::*;
use crate::sql::ReadRow;
use sceau_log::Frontier;
use sceau_log::frontier::CompletedNode;
use std::collections::HashMap;

pub(super) async fn append(c: &Conn, entries: &[Vec<u8>], now_s: i64) -> Result<(), Fail> {
    // One statement for the lot, in their order.
    let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    exec(
        c,
        "INSERT INTO log_pending (entry, created_at) \
         SELECT entry, $2 FROM unnest($1::BYTEA[]) WITH ORDINALITY AS t (entry, n) ORDER BY n",
        &[&entries, &now_s],
    )
    .await?;
    Ok(())
}

pub(super) async fn integrate(
    c: &Conn,
    integrate: &IntegrateLog,
) -> Result<Option<LogCheckpoint>, Fail> {
    let state = one_row(
        c,
        "SELECT size, frontier FROM log_state WHERE id = 1 FOR UPDATE",
        &[],
    )
    .await?;
    let size: u64 = state.column("size")?;
    let stored: Vec<u8> = state.column("frontier")?;
    let pending: Vec<(i64, Vec<u8>, Option<i64>)> = rows(
        c,
        "SELECT id, entry, evidence_id FROM log_pending ORDER BY id LIMIT $1",
        &[&i64::from(integrate.batch_max)],
    )
    .await?
    .iter()
    .map(|row| Ok((col(row, 0)?, col(row, 1)?, col(row, 2)?)))
    .collect::<Result<_, Fail>>()?;
    if pending.is_empty() {
        return Ok(None);
    }
    // Delete the ids taken, and only them. Ids are drawn before commit, so an append
    // that drew a smaller id can commit after the SELECT above, and each statement of a
    // READ COMMITTED transaction sees what committed before it: a DELETE of "every id up
    // to the last taken" would delete that entry unintegrated (the benchmark lost 6%
    // of its entries so). It waits for the next integration instead.
    let taken: Vec<i64> = pending.iter().map(|(id, _, _)| *id).collect();
    let mut frontier = frontier_from_stored(size, &stored).map_err(Fail::Store)?;
    let leaves: Vec<[u8; 32]> = pending
        .iter()
        .map(|(_, entry, _)| sceau_log::leaf_hash(entry))
        .collect();
    let completed = frontier
        .append(&leaves)
        .map_err(|error| Fail::Store(StoreError::Corrupt(format!("log append: {error}"))))?;
    // One statement per table for the whole batch.
    insert_entries(c, size, &pending, integrate.now_s).await?;
    insert_nodes(c, completed).await?;
    let new_size = frontier.size();
    exec(
        c,
        "UPDATE log_state SET size = $1, frontier = $2 WHERE id = 1",
        &[&signed(new_size)?, &frontier_to_stored(&frontier)],
    )
    .await?;
    exec(c, "DELETE FROM log_pending WHERE id = ANY($1)", &[&taken]).await?;
    write_checkpoint(c, integrate, &frontier).await.map(Some)
}

/// Inserts the entries taken, from index `size` on, in their order.
async fn insert_entries(
    c: &Conn,
    size: u64,
    pending: &[(i64, Vec<u8>, Option<i64>)],
    now_s: i64,
) -> Result<(), Fail> {
    let indexes: Vec<i64> = (0..pending.len() as u64)
        .map(|offset| signed(size + offset))
        .collect::<Result<_, StoreError>>()?;
    let entries: Vec<&[u8]> = pending
        .iter()
        .map(|(_, entry, _)| entry.as_slice())
        .collect();
    let evidence: Vec<Option<i64>> = pending.iter().map(|(_, _, id)| *id).collect();
    exec(
        c,
        "INSERT INTO log_entries (idx, entry, created_at, evidence_id) \
         SELECT idx, entry, $3, evidence_id \
         FROM unnest($1::BIGINT[], $2::BYTEA[], $4::BIGINT[]) AS t (idx, entry, evidence_id)",
        &[&indexes, &entries, &now_s, &evidence],
    )
    .await?;
    Ok(())
}

/// Inserts the nodes an append completed, those of the levels stored.
async fn insert_nodes(c: &Conn, completed: Vec<CompletedNode>) -> Result<(), Fail> {
    let completed: Vec<_> = completed
        .into_iter()
        .filter(|node| stored_level(node.level))
        .collect();
    let levels: Vec<i16> = completed.iter().map(|node| i16::from(node.level)).collect();
    let node_indexes: Vec<i64> = completed
        .iter()
        .map(|node| signed(node.index))
        .collect::<Result<_, StoreError>>()?;
    let hashes: Vec<&[u8]> = completed.iter().map(|node| node.hash.as_slice()).collect();
    exec(
        c,
        "INSERT INTO log_nodes (level, idx, hash) \
         SELECT * FROM unnest($1::SMALLINT[], $2::BIGINT[], $3::BYTEA[])",
        &[&levels, &node_indexes, &hashes],
    )
    .await?;
    Ok(())
}

/// Signs the tree's new size and root and records them as a checkpoint.
async fn write_checkpoint(
    c: &Conn,
    integrate: &IntegrateLog,
    frontier: &Frontier,
) -> Result<LogCheckpoint, Fail> {
    let new_size = frontier.size();
    let root = frontier.root();
    let checkpoint = LogCheckpoint {
        size: new_size,
        root,
        note: (integrate.sign)(new_size, &root),
        created_at_s: integrate.now_s,
    };
    exec(
        c,
        CHECKPOINT_INSERT.postgres(),
        &[
            &signed(new_size)?,
            &&root[..],
            &checkpoint.note,
            &integrate.now_s,
        ],
    )
    .await?;
    Ok(checkpoint)
}

pub(super) async fn checkpoint(c: &Conn) -> Result<Option<LogCheckpoint>, Fail> {
    super::read::first(c, CHECKPOINT.postgres(), &[]).await
}

pub(super) async fn entry(c: &Conn, index: u64) -> Result<Option<Vec<u8>>, Fail> {
    let Ok(index) = i64::try_from(index) else {
        return Ok(None);
    };
    opt_row(c, "SELECT entry FROM log_entries WHERE idx = $1", &[&index])
        .await?
        .map(|row| col(&row, 0))
        .transpose()
}

pub(super) async fn proof(
    c: &Conn,
    request: &ProofRequest,
    largest: u64,
) -> Result<Option<Vec<[u8; 32]>>, Fail> {
    let state = one_row(c, "SELECT size FROM log_state WHERE id = 1", &[]).await?;
    let size: u64 = state.column("size")?;
    if largest > size {
        return Ok(None);
    }
    let Some(nodes) = request.nodes() else {
        return Ok(None);
    };
    // The nodes' bases in two queries whatever their number: the entries (level 0) and
    // the stored levels.
    let ranges = crate::log::base_ranges(&nodes);
    let column = |base: bool, field: fn(&crate::log::Derivation) -> u64| {
        ranges
            .iter()
            .filter(|range| (range.base == 0) == base)
            .map(|range| signed(field(range)))
            .collect::<Result<Vec<i64>, StoreError>>()
    };
    let mut base = HashMap::new();
    for row in rows(
        c,
        "SELECT e.idx, e.entry FROM log_entries e \
         JOIN unnest($1::BIGINT[], $2::BIGINT[]) AS r (first, count) \
         ON e.idx >= r.first AND e.idx < r.first + r.count",
        &[&column(true, |r| r.start)?, &column(true, |r| r.count)?],
    )
    .await?
    {
        let entry: Vec<u8> = row.column("entry")?;
        base.insert((0, row.column("idx")?), sceau_log::leaf_hash(&entry));
    }
    let levels: Vec<i16> = ranges
        .iter()
        .filter(|range| range.base != 0)
        .map(|range| i16::from(range.base))
        .collect();
    for row in rows(
        c,
        "SELECT n.level, n.idx, n.hash FROM log_nodes n \
         JOIN unnest($1::SMALLINT[], $2::BIGINT[], $3::BIGINT[]) AS r (level, first, count) \
         ON n.level = r.level AND n.idx >= r.first AND n.idx < r.first + r.count",
        &[
            &levels,
            &column(false, |r| r.start)?,
            &column(false, |r| r.count)?,
        ],
    )
    .await?
    {
        let node = (row.column("level")?, row.column("idx")?);
        base.insert(node, row.column("hash")?);
    }
    let fetched = crate::log::derive(&nodes, &base);
    request.with_nodes(fetched).map(Some).map_err(Fail::Store)
}

/// The complete nodes of `level` from `start`, in order, up to `count` (stopping at the
/// first missing): stored, or computed from the stored level below or from the entries
/// (see `crate::log::stored_level`).
pub(super) async fn nodes(
    c: &Conn,
    level: u8,
    start: u64,
    count: u32,
) -> Result<Vec<[u8; 32]>, Fail> {
    level_nodes(c, level, start, u64::from(count)).await
}

async fn level_nodes(c: &Conn, level: u8, start: u64, count: u64) -> Result<Vec<[u8; 32]>, Fail> {
    let Some(derivation) = derivation(level, start, count) else {
        return Ok(Vec::new());
    };
    let Some((base_start, base_count)) = derivation.rows() else {
        return Ok(Vec::new());
    };
    let found = if derivation.base == 0 {
        rows(
            c,
            "SELECT idx, entry FROM log_entries WHERE idx >= $1 AND idx < $1 + $2 ORDER BY idx",
            &[&base_start, &base_count],
        )
        .await?
        .iter()
        .map(|row| {
            let entry: Vec<u8> = col(row, 1)?;
            Ok((col(row, 0)?, sceau_log::leaf_hash(&entry).to_vec()))
        })
        .collect::<Result<Vec<(i64, Vec<u8>)>, Fail>>()?
    } else {
        rows(
            c,
            NODES.postgres(),
            &[&i16::from(derivation.base), &base_start, &base_count],
        )
        .await?
        .iter()
        .map(|row| Ok((col(row, 0)?, col(row, 1)?)))
        .collect::<Result<Vec<(i64, Vec<u8>)>, Fail>>()?
    };
    Ok(derivation.fold(crate::log::contiguous(base_start, found)))
}

pub(super) async fn entries(c: &Conn, start: u64, count: u32) -> Result<Vec<Vec<u8>>, Fail> {
    let Ok(start) = i64::try_from(start) else {
        return Ok(Vec::new());
    };
    rows(
        c,
        "SELECT entry FROM log_entries WHERE idx >= $1 AND idx < $1 + $2 ORDER BY idx",
        &[&start, &i64::from(count)],
    )
    .await?
    .iter()
    .map(|row| col(row, 0))
    .collect()
}

use super::PostgresStore;
use super::command::Guard;
use crate::capabilities::TransparencyLog;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl TransparencyLog for PostgresStore {
    async fn append_log(&self, entries: Vec<Vec<u8>>, now_s: i64) -> Result<(), StoreError> {
        self.write(Guard::Nothing, (entries, now_s), |c, d, _| {
            self::append(c, &d.0, d.1).boxed()
        })
        .await
    }

    async fn integrate_log(
        &self,
        integrate: IntegrateLog,
    ) -> Result<Option<LogCheckpoint>, StoreError> {
        self.write(Guard::Nothing, integrate, |c, integrate, _| {
            self::integrate(c, integrate).boxed()
        })
        .await
    }

    async fn log_checkpoint(&self) -> Result<Option<LogCheckpoint>, StoreError> {
        self.read(async |c| self::checkpoint(c).await).await
    }

    async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(async |c| self::entry(c, index).await).await
    }

    async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Inclusion { index, size };
        self.read(async move |c| self::proof(c, &request, size).await)
            .await
    }

    async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Consistency { old, new };
        self.read(async move |c| self::proof(c, &request, new).await)
            .await
    }

    async fn log_nodes(
        &self,
        level: u8,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(async |c| self::nodes(c, level, start, count).await)
            .await
    }

    async fn log_entries(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(async |c| self::entries(c, start, count).await)
            .await
    }
}
