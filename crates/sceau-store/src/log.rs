//! The transparency log's rules that both backends share: appending a batch through the
//! frontier, and proofs computed from the stored complete nodes. The tree's mathematics
//! are `sceau-log`'s; here is only how the store feeds it.
//!
//! A proof needs a handful of nodes, which a backend fetches in one query: the nodes a
//! proof reads depend on the sizes only, never on the hashes, so the proof is computed
//! once against a recorder (which notes the coordinates and answers zeros), the noted
//! nodes are fetched, and the proof is computed again from them.

use crate::StoreError;
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

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} holds a value sceau never writes"))
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
