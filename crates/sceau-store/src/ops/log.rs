//! The transparency log: what both backends' integrations share (the tree read and
//! grown, the checkpoint signed) and every read (checkpoints, entries, tiles' nodes,
//! proofs). The tree's rules are `crate::log`'s.
//!
//! The backends keep their entries differently, by design: PostgreSQL appends every
//! entry to `log_entries` (an evidence record's with its id); SQLite appends an
//! evidence record as part of a run of consecutive ids (`log_runs`, its entry being its
//! hash in `evidence`). So an entry's read is one statement of two forms ([`entry_range`]).

use crate::log::{
    CHECKPOINT, CHECKPOINT_INSERT, NODES, ProofRequest, base_ranges, contiguous, derivation,
    derive, frontier_from_stored, signed,
};
use crate::model::{IntegrateLog, LogCheckpoint};
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, args, broken, first, scalar};
use sceau_log::frontier::CompletedNode;
use sceau_log::{Frontier, Hash};
use std::collections::HashMap;

static TREE: Sql = Sql::each(
    "SELECT size, frontier FROM log_state WHERE id = 1 FOR UPDATE",
    "SELECT size, frontier FROM log_state WHERE id = 1",
);

/// The tree as stored, for an integration to grow: on PostgreSQL, `log_state`'s row is
/// locked until the transaction ends, so that integrations take turns and none takes
/// another's entries.
pub(crate) async fn tree(tx: &impl Tx) -> Result<Frontier, Fail> {
    let stored = tx.row(&TREE, args![], |row| {
        Ok((
            row.column::<u64>("size")?,
            row.column::<Vec<u8>>("frontier")?,
        ))
    });
    let (size, stored) = stored
        .await?
        .ok_or_else(|| broken("log_state has no row"))?;
    Ok(frontier_from_stored(size, &stored)?)
}

/// Appends `entries` to `tree`: the complete nodes the append made.
pub(crate) fn grow<'e>(
    tree: &mut Frontier,
    entries: impl Iterator<Item = &'e Vec<u8>>,
) -> Result<Vec<CompletedNode>, Fail> {
    let leaves: Vec<Hash> = entries.map(|entry| sceau_log::leaf_hash(entry)).collect();
    tree.append(&leaves)
        .map_err(|error| broken(&format!("log append: {error}")))
}

/// Signs the tree's new size and root and records them as a checkpoint.
pub(crate) async fn write_checkpoint(
    tx: &impl Tx,
    integrate: &IntegrateLog,
    tree: &Frontier,
) -> Result<LogCheckpoint, Fail> {
    let (size, root) = (tree.size(), tree.root());
    let note = (integrate.sign)(size, &root);
    let values = args![signed(size)?, &root, &note, integrate.now_s];
    tx.execute(&CHECKPOINT_INSERT, values).await?;
    Ok(LogCheckpoint {
        size,
        root,
        note,
        created_at_s: integrate.now_s,
    })
}

/// The last checkpoint signed.
pub(crate) async fn checkpoint(tx: &impl Tx) -> Result<Option<LogCheckpoint>, Fail> {
    first(tx, &CHECKPOINT, args![]).await
}

/// The log index of the record `e` from the SQLite run it was appended in (null before).
pub(crate) const LOG_INDEX_BY_RUN: &str = "SELECT CASE WHEN e.id < r.first_evidence_id + r.count \
     THEN r.first_idx + (e.id - r.first_evidence_id) END FROM log_runs r \
     WHERE r.first_evidence_id <= e.id ORDER BY r.first_evidence_id DESC LIMIT 1";

/// The entries of indexes `[$1, $2)`, in order. On SQLite, the rows of `log_entries` and
/// the hashes of the records of the runs that overlap the window (the run that holds
/// `$1`, if one does, and those that begin before `$2`); one statement, one snapshot:
/// an integration commits its entries and its run together.
static RANGE: Sql = Sql::each(
    "SELECT idx, entry FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
    "SELECT idx, entry FROM log_entries WHERE idx >= ?1 AND idx < ?2 \
     UNION ALL SELECT r.first_idx + (e.id - r.first_evidence_id), e.hash \
     FROM log_runs r JOIN evidence e \
     ON e.id >= r.first_evidence_id + max(?1 - r.first_idx, 0) \
     AND e.id < r.first_evidence_id + min(?2 - r.first_idx, r.count) \
     WHERE r.first_idx >= COALESCE((SELECT max(first_idx) FROM log_runs WHERE first_idx <= ?1), ?1) \
     AND r.first_idx < ?2 ORDER BY idx",
);

/// The log's entries from `start`, at most `count`, in order, with their indexes.
pub(crate) async fn entry_range(
    tx: &impl Tx,
    start: i64,
    count: i64,
) -> Result<Vec<(i64, Vec<u8>)>, Fail> {
    let end = start.saturating_add(count.max(0));
    tx.rows(&RANGE, args![start, end], |row| {
        Ok((row.column("idx")?, row.column("entry")?))
    })
    .await
}

/// The entry of index `index`, once appended.
pub(crate) async fn entry(tx: &impl Tx, index: u64) -> Result<Option<Vec<u8>>, Fail> {
    let Ok(index) = i64::try_from(index) else {
        return Ok(None);
    };
    Ok(entry_range(tx, index, 1)
        .await?
        .pop()
        .map(|(_, entry)| entry))
}

/// The entries from `start`, at most `count`, in order.
pub(crate) async fn entries(tx: &impl Tx, start: u64, count: u32) -> Result<Vec<Vec<u8>>, Fail> {
    let Ok(start) = i64::try_from(start) else {
        return Ok(Vec::new());
    };
    let found = entry_range(tx, start, i64::from(count)).await?;
    Ok(found.into_iter().map(|(_, entry)| entry).collect())
}

/// The complete nodes of `level` from `start`, in order, up to `count` (stopping at the
/// first missing): stored, or computed from the stored level below or from the entries
/// (see `crate::log::stored_level`).
pub(crate) async fn nodes(
    tx: &impl Tx,
    level: u8,
    start: u64,
    count: u64,
) -> Result<Vec<Hash>, Fail> {
    let Some(derivation) = derivation(level, start, count) else {
        return Ok(Vec::new());
    };
    let Some((base_start, base_count)) = derivation.rows() else {
        return Ok(Vec::new());
    };
    let base = if derivation.base == 0 {
        let entries = entry_range(tx, base_start, base_count).await?.into_iter();
        let leaf = |(index, entry): (i64, Vec<u8>)| (index, sceau_log::leaf_hash(&entry).to_vec());
        entries.map(leaf).collect()
    } else {
        let values = args![derivation.base, base_start, base_count];
        tx.rows(&NODES, values, |row| {
            Ok((row.column("idx")?, row.column("hash")?))
        })
        .await?
    };
    Ok(derivation.fold(contiguous(base_start, base)))
}

static SIZE: Sql = Sql::new("SELECT size FROM log_state WHERE id = 1");

/// The nodes `request` reads, if the tree has reached `largest` (the proof's larger
/// size) and the proof can be made.
pub(crate) async fn proof_nodes(
    tx: &impl Tx,
    request: &ProofRequest,
    largest: u64,
) -> Result<Option<Vec<(u8, u64)>>, Fail> {
    let size: u64 = scalar(tx, &SIZE, args![], "size")
        .await?
        .ok_or_else(|| broken("log_state has no row"))?;
    Ok(if largest > size {
        None
    } else {
        request.nodes()
    })
}

/// Several proofs in one read: the base ranges their nodes derive from are read once
/// for all (proofs of nearby entries share most of them); `None` unless the tree has
/// reached `largest`.
pub(crate) async fn proofs(
    tx: &impl Tx,
    requests: &[ProofRequest],
    largest: u64,
) -> Result<Option<Vec<Vec<Hash>>>, Fail> {
    let mut wanted_each = Vec::with_capacity(requests.len());
    for request in requests {
        let Some(wanted) = proof_nodes(tx, request, largest).await? else {
            return Ok(None);
        };
        wanted_each.push(wanted);
    }
    let mut all: Vec<(u8, u64)> = wanted_each.iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    let mut base = HashMap::new();
    for range in base_ranges(&all) {
        let found = nodes(tx, range.base, range.start, range.count).await?;
        for (offset, hash) in found.into_iter().enumerate() {
            base.insert((range.base, range.start + offset as u64), hash);
        }
    }
    let mut proofs = Vec::with_capacity(requests.len());
    for (request, wanted) in requests.iter().zip(&wanted_each) {
        proofs.push(request.with_nodes(derive(wanted, &base))?);
    }
    Ok(Some(proofs))
}

/// An inclusion or consistency proof (see [`ProofRequest`]), if the tree has reached
/// `largest`: its nodes read range by range.
pub(crate) async fn proof(
    tx: &impl Tx,
    request: &ProofRequest,
    largest: u64,
) -> Result<Option<Vec<Hash>>, Fail> {
    let Some(wanted) = proof_nodes(tx, request, largest).await? else {
        return Ok(None);
    };
    let mut base = HashMap::new();
    for range in base_ranges(&wanted) {
        let found = nodes(tx, range.base, range.start, range.count).await?;
        for (offset, hash) in found.into_iter().enumerate() {
            base.insert((range.base, range.start + offset as u64), hash);
        }
    }
    Ok(Some(request.with_nodes(derive(&wanted, &base))?))
}
