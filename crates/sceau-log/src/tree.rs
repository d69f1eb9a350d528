//! Roots and proofs of a tree of any size, computed from complete subtree hashes only.
//!
//! Why complete subtrees: a node at level `L`, index `i` (leaves `[i·2^L, (i+1)·2^L)`) never
//! changes once all its leaves exist, so a store can write it once, serve it from a cache and
//! lay it out in tiles. Nodes on the right edge of a tree whose size is not a power of two are
//! *not* complete; they are recomputed here from the complete subtrees they decompose into
//! (at most one per bit of the size), so a store never has to keep a hash that will change.
//!
//! The proofs are RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF), which are RFC 6962's.
//! Every subtree they name, `D[start:end]`, starts at a multiple of the smallest power of two
//! `>= end - start`: it is a (possibly truncated) node of the aligned tree, which is what
//! [`subtree_hash`] relies on.

use crate::hash::{Hash, empty_root, node_hash};

/// Where the complete subtree hashes come from: a database, tiles, memory.
pub trait NodeSource {
    /// What a failed read looks like (I/O, a missing row).
    type Error;

    /// The hash of the complete node at `level` and `index`, which covers the leaves
    /// `[index·2^level, (index+1)·2^level)`; level 0 holds the leaf hashes. Only ever called
    /// for nodes whose leaves are all below the tree size being asked about.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// Why a proof could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError<E> {
    #[error("log.tree.index_out_of_range: leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("log.tree.sizes_reversed: old size {old_size} is above new size {new_size}")]
    SizesReversed { old_size: u64, new_size: u64 },
    #[error("log.tree.source: {0}")]
    Source(#[source] E),
}

/// The root hash (MTH) of the first `size` leaves.
pub fn root<S: NodeSource>(size: u64, source: &S) -> Result<Hash, S::Error> {
    subtree_hash(0, size, source)
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, from the
/// leaf's sibling up to the root's child (RFC 9162 §2.1.3.1).
pub fn inclusion_proof<S: NodeSource>(
    index: u64,
    size: u64,
    source: &S,
) -> Result<Vec<Hash>, TreeError<S::Error>> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    // Walk up the aligned tree; at each level the sibling of the node holding the leaf is in
    // the proof unless it lies wholly past the end of the tree (then the node is promoted).
    let height = u64::BITS - (size - 1).leading_zeros();
    let mut proof = Vec::with_capacity(height as usize);
    for level in 0..height {
        let width = 1u64 << level;
        let sibling = (index >> level) ^ 1;
        let Some(start) = sibling.checked_mul(width) else {
            continue;
        };
        if start >= size {
            continue;
        }
        let end = start.saturating_add(width).min(size);
        proof.push(subtree_hash(start, end, source).map_err(TreeError::Source)?);
    }
    Ok(proof)
}

/// The consistency proof between the trees of `old_size` and `new_size` leaves
/// (RFC 9162 §2.1.4.1); empty when `old_size` is 0 or equal to `new_size`.
pub fn consistency_proof<S: NodeSource>(
    old_size: u64,
    new_size: u64,
    source: &S,
) -> Result<Vec<Hash>, TreeError<S::Error>> {
    if old_size > new_size {
        return Err(TreeError::SizesReversed { old_size, new_size });
    }
    let mut proof = Vec::new();
    if old_size != 0 && old_size != new_size {
        subproof(old_size, 0, new_size, true, source, &mut proof).map_err(TreeError::Source)?;
    }
    Ok(proof)
}

/// SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1, appending to `proof`.
fn subproof<S: NodeSource>(
    m: u64,
    start: u64,
    end: u64,
    old_tree_is_this_subtree: bool,
    source: &S,
    proof: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !old_tree_is_this_subtree {
            proof.push(subtree_hash(start, end, source)?);
        }
        return Ok(());
    }
    debug_assert!(0 < m && m < n);
    let k = largest_power_of_two_below(n);
    if m <= k {
        subproof(m, start, start + k, old_tree_is_this_subtree, source, proof)?;
        proof.push(subtree_hash(start + k, end, source)?);
    } else {
        subproof(m - k, start + k, end, false, source, proof)?;
        proof.push(subtree_hash(start, start + k, source)?);
    }
    Ok(())
}

/// The largest power of two strictly below `n` (`n >= 2`): the `k` of RFC 9162.
fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH(D[start:end]) for a subtree that starts at a multiple of the smallest power of two
/// `>= end - start` (see the module documentation). It splits into complete nodes, one per set
/// bit of `end - start`, largest on the left; the hash is their fold from the right, which is
/// RFC 6962's recursion with `k` the largest power of two below the width.
fn subtree_hash<S: NodeSource>(start: u64, end: u64, source: &S) -> Result<Hash, S::Error> {
    debug_assert!(start <= end);
    let mut remaining = end - start;
    debug_assert!(
        remaining
            .checked_next_power_of_two()
            .is_none_or(|width| start.is_multiple_of(width))
    );
    let mut piece_end = end;
    let mut folded: Option<Hash> = None;
    while remaining != 0 {
        let level = remaining.trailing_zeros();
        let piece_start = piece_end - (1 << level);
        let piece = source.node(level as u8, piece_start >> level)?;
        folded = Some(match folded {
            None => piece,
            Some(right) => node_hash(&piece, &right),
        });
        piece_end = piece_start;
        remaining &= remaining - 1;
    }
    Ok(folded.unwrap_or_else(empty_root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_power_of_two() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (u64::MAX, 1 << 63),
        ] {
            assert_eq!(largest_power_of_two_below(n), k, "n = {n}");
        }
    }
}
