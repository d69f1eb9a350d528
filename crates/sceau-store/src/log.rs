//! The transparency log's rules that both backends share: appending a batch through the
//! frontier, and proofs computed from the stored complete nodes. The tree's mathematics
//! are `sceau-log`'s; here is only how the store feeds it.
//!
//! A proof needs a handful of nodes, which a backend fetches in one query: the nodes a
//! proof reads depend on the sizes only, never on the hashes, so the proof is computed
//! once against a recorder (which notes the coordinates and answers zeros), the noted
//! nodes are fetched, and the proof is computed again from them.

use crate::StoreError;
use crate::model::LogCheckpoint;
use crate::sql::Sql;
use sceau_log::{Frontier, Hash, NodeSource};
use std::cell::RefCell;
use std::collections::HashMap;

/// Most nodes a proof may read (a proof of a tree of 2^64 leaves reads fewer).
const PROOF_NODES_MAX: usize = 4 * 64;

/// The frontier as stored: its hashes concatenated.
pub(crate) fn frontier_from_stored(size: u64, stored: &[u8]) -> Result<Frontier, StoreError> {
    let hashes = stored
        .chunks(32)
        .map(|chunk| <Hash>::try_from(chunk).map_err(|_| corrupt("log_state.frontier")))
        .collect::<Result<Vec<Hash>, StoreError>>()?;
    Frontier::from_parts(size, hashes).map_err(|_| corrupt("log_state.frontier"))
}

pub(crate) fn frontier_to_stored(frontier: &Frontier) -> Vec<u8> {
    frontier.hashes().concat()
}

/// A log index or size as the databases hold it (`BIGINT`).
pub(crate) fn signed(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt("log size past i64".into()))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} holds a value sceau never writes"))
}

pub(crate) static CHECKPOINT: Sql =
    Sql::new("SELECT size, root, note, created_at FROM log_checkpoints ORDER BY size DESC LIMIT 1");
pub(crate) static CHECKPOINT_INSERT: Sql =
    Sql::new("INSERT INTO log_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4)");
/// The stored nodes of level `$1` from index `$2`, at most `$3`.
pub(crate) static NODES: Sql = Sql::new(
    "SELECT idx, hash FROM log_nodes WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
);

impl crate::sql::Decode for LogCheckpoint {
    fn decode(row: &impl crate::sql::ReadRow) -> Result<Self, StoreError> {
        Ok(LogCheckpoint {
            size: row.column("size")?,
            root: row.column("root")?,
            note: row.column("note")?,
            created_at_s: row.column("created_at")?,
        })
    }
}

/// Whether the complete nodes of `level` are stored (in `log_nodes`): only the levels
/// of tlog-tiles' hash tiles above the entries (8, 16, ...). A node of level 0 is its
/// entry's leaf hash, and a node between two stored levels is computed, when a proof or
/// a tile asks for it, from the level below it that is stored or from the entries: at
/// most 128 of them, within one tile. So an integration writes about one node row per
/// 256 entries instead of two per entry.
pub(crate) fn stored_level(level: u8) -> bool {
    level != 0 && level.is_multiple_of(8)
}

/// How the complete nodes `[start, start + count)` of a level are found: from the
/// nodes `[start, start + count) << width_log` of `base` (a stored level, or 0: the
/// entries' leaf hashes), folded by groups of `2^width_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Derivation {
    pub(crate) base: u8,
    pub(crate) start: u64,
    pub(crate) count: u64,
    width_log: u8,
}

/// The derivation of the nodes `[start, start + count)` of `level`, or `None` if their
/// coordinates overflow (no such nodes).
pub(crate) fn derivation(level: u8, start: u64, count: u64) -> Option<Derivation> {
    if level >= 64 {
        return None;
    }
    let base = level - level % 8;
    let width_log = level - base;
    let start = start.checked_mul(1 << width_log)?;
    let count = count.checked_mul(1 << width_log)?;
    start.checked_add(count)?;
    Some(Derivation {
        base,
        start,
        count,
        width_log,
    })
}

impl Derivation {
    /// The base nodes' first index and count as the databases hold indexes (`i64`), or
    /// `None` past them (no such nodes).
    pub(crate) fn rows(&self) -> Option<(i64, i64)> {
        Some((
            i64::try_from(self.start).ok()?,
            i64::try_from(self.count).ok()?,
        ))
    }

    /// The nodes asked, from the base nodes found (contiguous from `start`): a group
    /// cut short (the tree's right edge) makes no node.
    pub(crate) fn fold(&self, base: Vec<Hash>) -> Vec<Hash> {
        if self.width_log == 0 {
            return base;
        }
        base.chunks_exact(1 << self.width_log)
            .map(subtree_root)
            .collect()
    }
}

/// The base ranges that the nodes `wanted` (level, index) are computed from.
pub(crate) fn base_ranges(wanted: &[(u8, u64)]) -> Vec<Derivation> {
    wanted
        .iter()
        .filter_map(|&(level, index)| derivation(level, index, 1))
        .collect()
}

/// The nodes `wanted`, computed from the base nodes fetched (by level and index; level
/// 0 holds the entries' leaf hashes). A node whose base is incomplete is left out (the
/// proof then reports it missing).
pub(crate) fn derive(
    wanted: &[(u8, u64)],
    base: &HashMap<(u8, u64), Hash>,
) -> HashMap<(u8, u64), Hash> {
    wanted
        .iter()
        .filter_map(|&(level, index)| {
            let derivation = derivation(level, index, 1)?;
            let nodes = (derivation.start..derivation.start + derivation.count)
                .map(|at| base.get(&(derivation.base, at)).copied())
                .collect::<Option<Vec<Hash>>>()?;
            let node = derivation.fold(nodes).first().copied()?;
            Some(((level, index), node))
        })
        .collect()
}

/// The root of a complete subtree from its `2^k` nodes of one level.
fn subtree_root(nodes: &[Hash]) -> Hash {
    match nodes {
        [node] => *node,
        _ => {
            let (left, right) = nodes.split_at(nodes.len() / 2);
            sceau_log::node_hash(&subtree_root(left), &subtree_root(right))
        }
    }
}

/// The hashes of `rows` (index, hash) that follow `start` without a gap, in order.
pub(crate) fn contiguous(start: i64, rows: Vec<(i64, Vec<u8>)>) -> Vec<Hash> {
    rows.into_iter()
        .enumerate()
        .take_while(|(offset, (index, _))| *index == start + *offset as i64)
        .map_while(|(_, (_, hash))| <Hash>::try_from(hash.as_slice()).ok())
        .collect()
}

/// Answers zeros and notes what was asked.
struct Recorder(RefCell<Vec<(u8, u64)>>);

impl NodeSource for Recorder {
    type Error = std::convert::Infallible;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        self.0.borrow_mut().push((level, index));
        Ok([0; 32])
    }
}

/// The fetched nodes.
struct Fetched(HashMap<(u8, u64), Hash>);

impl NodeSource for Fetched {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or_else(|| StoreError::Corrupt(format!("log node ({level}, {index}) missing")))
    }
}

/// What a proof asks of the store.
pub(crate) enum ProofRequest {
    Inclusion { index: u64, size: u64 },
    Consistency { old: u64, new: u64 },
}

impl ProofRequest {
    fn compute<S: NodeSource>(
        &self,
        source: &S,
    ) -> Result<Vec<Hash>, sceau_log::TreeError<S::Error>> {
        match *self {
            ProofRequest::Inclusion { index, size } => {
                sceau_log::inclusion_proof(index, size, source)
            }
            ProofRequest::Consistency { old, new } => {
                sceau_log::consistency_proof(old, new, source)
            }
        }
    }

    /// The nodes the proof reads, or why it cannot be made (`None`: out of range).
    pub(crate) fn nodes(&self) -> Option<Vec<(u8, u64)>> {
        let recorder = Recorder(RefCell::new(Vec::new()));
        self.compute(&recorder).ok()?;
        let mut nodes = recorder.0.into_inner();
        nodes.sort_unstable();
        nodes.dedup();
        (nodes.len() <= PROOF_NODES_MAX).then_some(nodes)
    }

    /// The proof from the fetched nodes.
    pub(crate) fn with_nodes(
        &self,
        fetched: HashMap<(u8, u64), Hash>,
    ) -> Result<Vec<Hash>, StoreError> {
        self.compute(&Fetched(fetched))
            .map_err(|error| match error {
                sceau_log::TreeError::Source(error) => error,
                other => StoreError::Corrupt(format!("log proof: {other}")),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every complete node of trees of many sizes is found again from what the store
    /// keeps (the entries' leaf hashes and the tile levels), and no node past the
    /// tree's right edge is made up.
    #[test]
    fn nodes_derive_from_the_entries_and_the_stored_levels() {
        let leaves: Vec<Hash> = (0..700_u32)
            .map(|n| sceau_log::leaf_hash(&n.to_be_bytes()))
            .collect();
        for size in [1_usize, 2, 3, 255, 256, 257, 511, 512, 700] {
            let mut frontier = Frontier::default();
            let complete: HashMap<(u8, u64), Hash> = frontier
                .append(&leaves[..size])
                .unwrap()
                .into_iter()
                .map(|node| ((node.level, node.index), node.hash))
                .collect();
            let mut base: HashMap<(u8, u64), Hash> = complete
                .iter()
                .filter(|((level, _), _)| stored_level(*level))
                .map(|(key, hash)| (*key, *hash))
                .collect();
            for (index, leaf) in leaves[..size].iter().enumerate() {
                base.insert((0, index as u64), *leaf);
            }
            let wanted: Vec<(u8, u64)> = complete.keys().copied().collect();
            assert_eq!(derive(&wanted, &base), complete, "size {size}");
            // The first node past the right edge of each level is not complete.
            let past: Vec<(u8, u64)> = (0..10_u8)
                .map(|level| (level, (size as u64) >> level))
                .collect();
            assert!(derive(&past, &base).is_empty(), "size {size}");
        }
        assert_eq!(derivation(64, 0, 1), None);
        assert_eq!(derivation(7, u64::MAX, 1), None);
        let tile_row = derivation(8, 3, 256).unwrap();
        assert_eq!((tile_row.base, tile_row.start, tile_row.count), (8, 3, 256));
        let inside = derivation(13, 5, 1).unwrap();
        assert_eq!((inside.base, inside.start, inside.count), (8, 5 * 32, 32));
    }
}
