//! The pure foundation of sceau's transparency log.
//!
//! Everything that a log server, a monitor and `sceau verify` must agree on bit for bit lives
//! here, away from any database or HTTP: the RFC 6962/9162 Merkle tree hashes, the inclusion and
//! consistency proofs, their verifiers, and the C2SP signed checkpoints. No I/O, no clock, no
//! randomness: a store plugs in through [`NodeSource`] and persists what [`Frontier::append`]
//! hands back.
//!
//! The storage model is the "tiles" one: a store keeps, for each level, the hashes of the
//! complete, aligned subtrees (the node at level `L`, index `i` covers leaves
//! `[i·2^L, (i+1)·2^L)`). Such a node never changes once it exists, so it can be written once
//! and cached forever; every root and every proof of any tree size is computed from them.

pub mod canonical;
pub mod checkpoint;
pub mod frontier;
pub mod hash;
pub mod memory;
pub mod note;
pub mod tree;
pub mod verify;

pub use canonical::{Canon, CanonicalError, Object, canonical};
pub use checkpoint::{Checkpoint, CheckpointError, parse_and_verify};
pub use frontier::{CompletedNode, Frontier, FrontierError};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use memory::{MemoryTree, MissingNode};
pub use note::{NoteError, NoteSigner, VerifierKey};
pub use tree::{NodeSource, TreeError, consistency_proof, inclusion_proof, root};
pub use verify::{ProofError, verify_consistency, verify_inclusion};
