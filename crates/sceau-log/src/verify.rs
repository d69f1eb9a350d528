//! Proof verification for clients and monitors: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
//! (consistency), step by step, so that a reader can hold the code against the RFC.
//!
//! These take nothing from the log but the proof: sizes, hashes and roots come from a
//! checkpoint the client has verified. The edge cases the RFC leaves implicit are decided here
//! once: a consistency proof between equal sizes, or from size 0, must be empty; the empty tree's
//! root must be `SHA-256("")`; when the old size is a power of two the old root is the first
//! node of the path implicitly and must not be sent.

use crate::hash::{Hash, empty_root, node_hash};

/// Why a proof was refused. The codes (before the colon) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("log.proof.index_out_of_range: leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("log.proof.sizes_reversed: old size {old_size} is above new size {new_size}")]
    SizesReversed { old_size: u64, new_size: u64 },
    #[error("log.proof.wrong_length: the proof has the wrong number of hashes for these sizes")]
    WrongLength,
    #[error("log.proof.old_root_mismatch: the proof does not lead to the old root")]
    OldRootMismatch,
    #[error("log.proof.root_mismatch: the proof does not lead to the (new) root")]
    RootMismatch,
}

/// Checks that the leaf `leaf_hash` is at `index` in the tree of `size` leaves whose root is
/// `root`, given the audit path `proof` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return verify_proof_is_empty(old_size, new_size, old_root, new_root, proof);
    }
    // 1. An empty path fails.
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongLength);
    };
    // 2. If `first` is a power of two, the old root is prepended to the path.
    let (seed, path) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (*first, rest)
    };
    // 3.–5.
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = seed;
    let mut s_r = seed;
    // 6.
    for c in path {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // 7.
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if f_r != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if s_r != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The cases the RFC leaves implicit: from size 0, or between equal sizes, the proof must be
/// empty; the old root must then be the empty tree's, or the new root itself.
fn verify_proof_is_empty(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if !proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    if old_size == 0 && *old_root != empty_root() {
        return Err(ProofError::OldRootMismatch);
    }
    if old_size == new_size && old_root != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
