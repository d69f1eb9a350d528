//! Property tests against a reference written straight from the RFC's recursive definitions
//! (MTH, PATH, SUBPROOF over a slice of leaves): the store-shaped code must give the same
//! answers for every size, and the verifiers must accept exactly what the prover produces.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use sceau_log::{
    CompletedNode, Frontier, Hash, MemoryTree, consistency_proof, empty_root, inclusion_proof,
    leaf_hash, node_hash, root, verify_consistency, verify_inclusion,
};

// --- RFC 9162 §2.1, verbatim -------------------------------------------------------------

fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split_point(n);
    if m < k {
        let mut proof = path(m, &leaves[..k]);
        proof.push(mth(&leaves[k..]));
        proof
    } else {
        let mut proof = path(m - k, &leaves[k..]);
        proof.push(mth(&leaves[..k]));
        proof
    }
}

fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = split_point(n);
    if m <= k {
        let mut proof = subproof(m, &leaves[..k], b);
        proof.push(mth(&leaves[k..]));
        proof
    } else {
        let mut proof = subproof(m - k, &leaves[k..], false);
        proof.push(mth(&leaves[..k]));
        proof
    }
}

// --- helpers ------------------------------------------------------------------------------

fn leaves(count: usize) -> Vec<Hash> {
    (0..count as u64)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect()
}

fn tree_of(leaves: &[Hash]) -> MemoryTree {
    let mut tree = MemoryTree::new();
    tree.append(leaves).unwrap();
    tree
}

/// Every complete node of the tree over `leaves`, computed from scratch.
fn complete_nodes(leaves: &[Hash]) -> BTreeSet<(u8, u64, Hash)> {
    let mut nodes = BTreeSet::new();
    let mut width = 1usize;
    let mut level = 0u8;
    while width <= leaves.len() {
        for (index, chunk) in leaves.chunks_exact(width).enumerate() {
            nodes.insert((level, index as u64, mth(chunk)));
        }
        width *= 2;
        level += 1;
    }
    nodes
}

fn flip(hash: &Hash, byte: usize) -> Hash {
    let mut flipped = *hash;
    flipped[byte] ^= 0x01;
    flipped
}

// --- exhaustive on small trees -----------------------------------------------------------

#[test]
fn small_trees_match_the_rfc_definitions() {
    let all = leaves(70);
    let tree = tree_of(&all);
    for size in 0..=all.len() {
        let prefix = &all[..size];
        let expected_root = mth(prefix);
        assert_eq!(
            root(size as u64, &tree).unwrap(),
            expected_root,
            "root {size}"
        );
        for index in 0..size {
            let proof = inclusion_proof(index as u64, size as u64, &tree).unwrap();
            assert_eq!(proof, path(index, prefix), "inclusion {index} in {size}");
        }
        for old_size in 1..size {
            let proof = consistency_proof(old_size as u64, size as u64, &tree).unwrap();
            assert_eq!(
                proof,
                subproof(old_size, prefix, true),
                "consistency {old_size} → {size}"
            );
        }
    }
}

// --- properties ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Every entry has a valid inclusion proof at every size above its index.
    #[test]
    fn every_entry_is_included_at_every_later_size(count in 1usize..=300) {
        let all = leaves(count);
        let tree = tree_of(&all);
        for size in 1..=count as u64 {
            let tree_root = root(size, &tree).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(index, size, &tree).unwrap();
                verify_inclusion(&all[index as usize], index, size, &proof, &tree_root).unwrap();
            }
        }
    }

    /// Every pair of sizes old <= new has a valid consistency proof.
    #[test]
    fn every_pair_of_sizes_is_consistent(count in 0usize..=300) {
        let all = leaves(count);
        let tree = tree_of(&all);
        let roots: Vec<Hash> = (0..=count as u64).map(|size| root(size, &tree).unwrap()).collect();
        for new_size in 0..=count as u64 {
            for old_size in 0..=new_size {
                let proof = consistency_proof(old_size, new_size, &tree).unwrap();
                verify_consistency(
                    old_size, new_size, &roots[old_size as usize], &roots[new_size as usize], &proof,
                ).unwrap();
            }
        }
    }
}

proptest! {
    /// Flipping any byte of the proof, the leaf or the root makes inclusion fail.
    #[test]
    fn inclusion_refuses_any_flipped_byte(size in 1u64..=300, index_seed in any::<u64>()) {
        let index = index_seed % size;
        let all = leaves(size as usize);
        let tree = tree_of(&all);
        let tree_root = tree.root();
        let leaf = all[index as usize];
        let proof = inclusion_proof(index, size, &tree).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &tree_root).is_ok());
        for byte in 0..32 {
            prop_assert!(verify_inclusion(&flip(&leaf, byte), index, size, &proof, &tree_root).is_err());
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&tree_root, byte)).is_err());
            for position in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[position] = flip(&wrong[position], byte);
                prop_assert!(verify_inclusion(&leaf, index, size, &wrong, &tree_root).is_err());
            }
        }
    }

    /// Flipping any byte of the proof or of either root makes consistency fail.
    #[test]
    fn consistency_refuses_any_flipped_byte(new_size in 2u64..=300, old_seed in any::<u64>()) {
        let old_size = 1 + old_seed % (new_size - 1);
        let tree = tree_of(&leaves(new_size as usize));
        let old_root = root(old_size, &tree).unwrap();
        let new_root = tree.root();
        let proof = consistency_proof(old_size, new_size, &tree).unwrap();
        prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof).is_ok());
        for byte in 0..32 {
            prop_assert!(verify_consistency(old_size, new_size, &flip(&old_root, byte), &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &flip(&new_root, byte), &proof).is_err());
            for position in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[position] = flip(&wrong[position], byte);
                prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &wrong).is_err());
            }
        }
    }

    /// Fed in batches of any sizes, the frontier gives the same roots and completes exactly
    /// the complete nodes of the tree, each once, in index order per level; and it can be
    /// rebuilt from the nodes it reported.
    #[test]
    fn frontier_in_batches_matches_from_scratch(batches in proptest::collection::vec(0usize..40, 0..20)) {
        let total: usize = batches.iter().sum();
        let all = leaves(total);
        let mut frontier = Frontier::new();
        let mut tree = MemoryTree::new();
        let mut completed: Vec<CompletedNode> = Vec::new();
        let mut appended = 0;
        for batch in batches {
            let slice = &all[appended..appended + batch];
            let nodes = frontier.append(slice).unwrap();
            prop_assert_eq!(&tree.append(slice).unwrap(), &nodes);
            completed.extend(nodes);
            appended += batch;
            prop_assert_eq!(frontier.size(), appended as u64);
            prop_assert_eq!(frontier.root(), mth(&all[..appended]));
            prop_assert_eq!(&Frontier::from_source(appended as u64, &tree).unwrap(), &frontier);
            prop_assert_eq!(
                &Frontier::from_parts(appended as u64, frontier.hashes().to_vec()).unwrap(),
                &frontier
            );
        }
        let reported: BTreeSet<(u8, u64, Hash)> =
            completed.iter().map(|node| (node.level, node.index, node.hash)).collect();
        prop_assert_eq!(reported.len(), completed.len(), "a node was reported twice");
        prop_assert_eq!(reported, complete_nodes(&all));
        for level in 0..64u8 {
            let indexes: Vec<u64> =
                completed.iter().filter(|node| node.level == level).map(|node| node.index).collect();
            prop_assert!(indexes.iter().enumerate().all(|(i, &index)| i as u64 == index));
        }
    }
}
