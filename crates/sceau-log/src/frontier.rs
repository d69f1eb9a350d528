//! The right edge of the tree, kept in memory, so that appending costs no reads.
//!
//! A tree of `size` leaves is the concatenation of complete subtrees, one per set bit of
//! `size`, largest first (a "compact range" over `[0, size)`). Their hashes, at most 64, are
//! all that is needed to compute the root and to append: a new leaf merges with the subtrees
//! of levels 0, 1, ... while `size` has those bits set, each merge completing a node that will
//! never change again. Appending is therefore amortised two hash computations per leaf, with
//! no signature and no read: the log integrates a batch by persisting the completed nodes and
//! the new frontier in one transaction, then signs one checkpoint for the whole batch.

use crate::hash::{Hash, empty_root, node_hash};
use crate::tree::NodeSource;

/// A node that became complete during an append: the store must persist it, since every
/// later root and proof reads it through [`NodeSource::node`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedNode {
    pub level: u8,
    pub index: u64,
    pub hash: Hash,
}

/// The hashes of the complete subtrees that make up `[0, size)`, left to right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    #[error(
        "log.frontier.hash_count: a tree of {size} leaves has {expected} frontier hashes, not {given}"
    )]
    HashCount {
        size: u64,
        expected: u32,
        given: usize,
    },
    #[error("log.frontier.full: {size} + {appended} leaves do not fit in a u64")]
    Full { size: u64, appended: usize },
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier as it was stored: `hashes` are the complete subtrees of `[0, size)`, largest
    /// first, one per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, FrontierError> {
        if hashes.len() != size.count_ones() as usize {
            return Err(FrontierError::HashCount {
                size,
                expected: size.count_ones(),
                given: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its stored complete nodes.
    pub fn from_source<S: NodeSource>(size: u64, source: &S) -> Result<Self, S::Error> {
        let hashes = Self::node_positions(size)
            .map(|(level, index)| source.node(level, index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, hashes })
    }

    /// (level, index) of each frontier node of a tree of `size` leaves, largest first.
    fn node_positions(size: u64) -> impl Iterator<Item = (u8, u64)> {
        (0..u64::BITS)
            .rev()
            .filter(move |level| size & (1 << level) != 0)
            .map(move |level| {
                let start = size & !((1u64 << level) - 1) & !(1u64 << level);
                (level as u8, start >> level)
            })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The complete subtree hashes, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The root hash of the tree of [`Self::size`] leaves.
    pub fn root(&self) -> Hash {
        let mut hashes = self.hashes.iter().rev();
        let Some(rightmost) = hashes.next() else {
            return empty_root();
        };
        hashes.fold(*rightmost, |right, left| node_hash(left, &right))
    }

    /// Appends `leaf_hashes` and returns the nodes that became complete, leaves (level 0)
    /// included, in the order they were completed. On error nothing is appended.
    pub fn append(&mut self, leaf_hashes: &[Hash]) -> Result<Vec<CompletedNode>, FrontierError> {
        let mut completed = Vec::with_capacity(leaf_hashes.len() * 2);
        self.append_into(leaf_hashes, &mut completed)?;
        Ok(completed)
    }

    /// [`Self::append`] into a caller's buffer, to reuse one allocation across batches.
    pub fn append_into(
        &mut self,
        leaf_hashes: &[Hash],
        completed: &mut Vec<CompletedNode>,
    ) -> Result<(), FrontierError> {
        let fits = u64::try_from(leaf_hashes.len())
            .ok()
            .and_then(|count| self.size.checked_add(count))
            .is_some();
        if !fits {
            return Err(FrontierError::Full {
                size: self.size,
                appended: leaf_hashes.len(),
            });
        }
        for leaf in leaf_hashes {
            self.push(*leaf, completed);
        }
        Ok(())
    }

    fn push(&mut self, leaf: Hash, completed: &mut Vec<CompletedNode>) {
        let mut index = self.size;
        let mut level = 0u8;
        let mut hash = leaf;
        completed.push(CompletedNode { level, index, hash });
        // Each trailing one bit of the old size is a complete subtree on the right edge, of
        // the same size as the one being carried: merge them, as in a binary counter.
        while index & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                break; // unreachable: one hash per set bit of `size`
            };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed.push(CompletedNode { level, index, hash });
        }
        self.hashes.push(hash);
        self.size += 1;
        debug_assert_eq!(self.hashes.len(), self.size.count_ones() as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_positions_cover_the_size() {
        let positions: Vec<_> = Frontier::node_positions(13).collect();
        // 13 = 8 + 4 + 1: [0,8) [8,12) [12,13)
        assert_eq!(positions, vec![(3, 0), (2, 2), (0, 12)]);
        assert_eq!(Frontier::node_positions(0).count(), 0);
        assert_eq!(
            Frontier::node_positions(u64::MAX).last(),
            Some((0, u64::MAX - 1))
        );
    }

    #[test]
    fn from_parts_checks_the_hash_count() {
        assert!(Frontier::from_parts(3, vec![[0; 32]; 2]).is_ok());
        assert_eq!(
            Frontier::from_parts(3, vec![[0; 32]; 1]),
            Err(FrontierError::HashCount {
                size: 3,
                expected: 2,
                given: 1
            })
        );
    }
}
