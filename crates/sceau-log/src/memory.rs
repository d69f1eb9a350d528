//! A whole tree in memory: the reference [`NodeSource`] for tests, and for tools that check a
//! small log end to end. It stores exactly what a database store would (the nodes that
//! [`Frontier::append`] reports completed), so it exercises the same contract.

use crate::frontier::{CompletedNode, Frontier, FrontierError};
use crate::hash::Hash;
use crate::tree::NodeSource;

/// Every complete node of a tree, by level, plus its frontier.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

/// A node was asked for that is not complete (or not yet appended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("log.memory.missing_node: no complete node at level {level}, index {index}")]
pub struct MissingNode {
    pub level: u8,
    pub index: u64,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Appends leaf hashes and returns the nodes that became complete.
    pub fn append(&mut self, leaf_hashes: &[Hash]) -> Result<Vec<CompletedNode>, FrontierError> {
        let completed = self.frontier.append(leaf_hashes)?;
        for node in &completed {
            let level = usize::from(node.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            debug_assert_eq!(self.levels[level].len() as u64, node.index);
            self.levels[level].push(node.hash);
        }
        Ok(completed)
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}
