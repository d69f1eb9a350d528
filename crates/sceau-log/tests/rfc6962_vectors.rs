//! Known-answer tests: the 8-leaf reference tree of the certificate-transparency and Trillian
//! test suites. Values typed from transparency-dev/merkle `proof/verify_test.go` (roots,
//! inclusion and consistency proofs; its inclusion vectors number leaves from 1, here from 0)
//! and `rfc6962/rfc6962_test.go` (leaf and empty hashes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sceau_log::{
    Hash, MemoryTree, ProofError, consistency_proof, empty_root, inclusion_proof, leaf_hash, root,
    verify_consistency, verify_inclusion,
};

const LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// ROOTS[n - 1] is the root of the first n leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index from 0, tree size, audit path).
const INCLUSION_PROOFS: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, proof).
const CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn h(hex_text: &str) -> Hash {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

fn hashes(hex_texts: &[&str]) -> Vec<Hash> {
    hex_texts.iter().map(|text| h(text)).collect()
}

fn reference_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    let leaf_hashes: Vec<Hash> = LEAVES.iter().map(|entry| leaf_hash(entry)).collect();
    tree.append(&leaf_hashes).unwrap();
    tree
}

fn root_of(size: u64) -> Hash {
    if size == 0 {
        empty_root()
    } else {
        h(ROOTS[size as usize - 1])
    }
}

#[test]
fn roots_of_every_size() {
    let tree = reference_tree();
    assert_eq!(root(0, &tree).unwrap(), empty_root());
    for size in 1..=8u64 {
        assert_eq!(root(size, &tree).unwrap(), root_of(size), "size {size}");
        // The frontier, fed one leaf at a time, agrees.
        let mut prefix = MemoryTree::new();
        for entry in &LEAVES[..size as usize] {
            prefix.append(&[leaf_hash(entry)]).unwrap();
        }
        assert_eq!(prefix.root(), root_of(size), "frontier, size {size}");
    }
}

#[test]
fn inclusion_proofs_are_generated_and_verified() {
    let tree = reference_tree();
    for (index, size, expected) in INCLUSION_PROOFS {
        let expected = hashes(expected);
        let proof = inclusion_proof(index, size, &tree).unwrap();
        assert_eq!(proof, expected, "index {index}, size {size}");
        let leaf = leaf_hash(LEAVES[index as usize]);
        verify_inclusion(&leaf, index, size, &proof, &root_of(size)).unwrap();
        for (what, result) in corrupted_inclusion(&leaf, index, size, &proof, &root_of(size)) {
            assert!(
                result.is_err(),
                "accepted {what}, index {index}, size {size}"
            );
        }
    }
}

#[test]
fn consistency_proofs_are_generated_and_verified() {
    let tree = reference_tree();
    for (old_size, new_size, expected) in CONSISTENCY_PROOFS {
        let expected = hashes(expected);
        let proof = consistency_proof(old_size, new_size, &tree).unwrap();
        assert_eq!(proof, expected, "{old_size} → {new_size}");
        let (old_root, new_root) = (root_of(old_size), root_of(new_size));
        verify_consistency(old_size, new_size, &old_root, &new_root, &proof).unwrap();
        if proof.is_empty() {
            continue;
        }
        for (what, result) in
            corrupted_consistency(old_size, new_size, &old_root, &new_root, &proof)
        {
            assert!(result.is_err(), "accepted {what}, {old_size} → {new_size}");
        }
    }
}

/// The probes of `corruptInclusionProof` in transparency-dev/merkle.
fn corrupted_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Vec<(String, Result<(), ProofError>)> {
    let some_hash = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut probes = vec![
        (
            "index - 1".to_owned(),
            index
                .checked_sub(1)
                .map(|i| verify_inclusion(leaf, i, size, proof, root)),
        ),
        (
            "index + 1".to_owned(),
            Some(verify_inclusion(leaf, index + 1, size, proof, root)),
        ),
        (
            "index ^ 2".to_owned(),
            Some(verify_inclusion(leaf, index ^ 2, size, proof, root)),
        ),
        (
            "size * 2".to_owned(),
            Some(verify_inclusion(leaf, index, size * 2, proof, root)),
        ),
        (
            "size / 2".to_owned(),
            Some(verify_inclusion(leaf, index, size / 2, proof, root)),
        ),
        (
            "wrong leaf".to_owned(),
            Some(verify_inclusion(
                &leaf_hash(b"WrongLeaf"),
                index,
                size,
                proof,
                root,
            )),
        ),
        (
            "empty root".to_owned(),
            Some(verify_inclusion(leaf, index, size, proof, &empty_root())),
        ),
        (
            "random root".to_owned(),
            Some(verify_inclusion(leaf, index, size, proof, &some_hash)),
        ),
        (
            "trailing root".to_owned(),
            Some(verify_inclusion(
                leaf,
                index,
                size,
                &[proof, &[*root]].concat(),
                root,
            )),
        ),
        (
            "preceding root".to_owned(),
            Some(verify_inclusion(
                leaf,
                index,
                size,
                &[&[*root], proof].concat(),
                root,
            )),
        ),
    ];
    for i in 0..proof.len() {
        let mut wrong = proof.to_vec();
        wrong[i][0] ^= 8;
        probes.push((
            format!("modified proof[{i}]"),
            Some(verify_inclusion(leaf, index, size, &wrong, root)),
        ));
    }
    if let Some((_, shorter)) = proof.split_last() {
        probes.push((
            "removed component".to_owned(),
            Some(verify_inclusion(leaf, index, size, shorter, root)),
        ));
    }
    if proof.len() > 1 {
        let inserted = [&[proof[0], some_hash], &proof[1..]].concat();
        probes.push((
            "inserted component".to_owned(),
            Some(verify_inclusion(leaf, index, size, &inserted, root)),
        ));
    }
    probes
        .into_iter()
        .filter_map(|(what, result)| result.map(|result| (what, result)))
        .collect()
}

/// The probes of `corruptConsistencyProof` in transparency-dev/merkle.
fn corrupted_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Vec<(String, Result<(), ProofError>)> {
    let wrong_root = leaf_hash(b"WrongRoot");
    let check = |old_size, new_size, old_root: &Hash, new_root: &Hash, proof: &[Hash]| {
        verify_consistency(old_size, new_size, old_root, new_root, proof)
    };
    let mut probes = vec![
        (
            "old size - 1".to_owned(),
            check(old_size - 1, new_size, old_root, new_root, proof),
        ),
        (
            "old size + 1".to_owned(),
            check(old_size + 1, new_size, old_root, new_root, proof),
        ),
        (
            "old size ^ 2".to_owned(),
            check(old_size ^ 2, new_size, old_root, new_root, proof),
        ),
        (
            "new size * 2".to_owned(),
            check(old_size, new_size * 2, old_root, new_root, proof),
        ),
        (
            "new size / 2".to_owned(),
            check(old_size, new_size / 2, old_root, new_root, proof),
        ),
        (
            "wrong old root".to_owned(),
            check(old_size, new_size, &wrong_root, new_root, proof),
        ),
        (
            "wrong new root".to_owned(),
            check(old_size, new_size, old_root, &wrong_root, proof),
        ),
        (
            "swapped roots".to_owned(),
            check(old_size, new_size, new_root, old_root, proof),
        ),
        (
            "empty proof".to_owned(),
            check(old_size, new_size, old_root, new_root, &[]),
        ),
        (
            "trailing old root".to_owned(),
            check(
                old_size,
                new_size,
                old_root,
                new_root,
                &[proof, &[*old_root]].concat(),
            ),
        ),
        (
            "trailing new root".to_owned(),
            check(
                old_size,
                new_size,
                old_root,
                new_root,
                &[proof, &[*new_root]].concat(),
            ),
        ),
        (
            "preceding old root".to_owned(),
            check(
                old_size,
                new_size,
                old_root,
                new_root,
                &[&[*old_root], proof].concat(),
            ),
        ),
        (
            "preceding new root".to_owned(),
            check(
                old_size,
                new_size,
                old_root,
                new_root,
                &[&[*new_root], proof].concat(),
            ),
        ),
        (
            "preceding proof[0]".to_owned(),
            check(
                old_size,
                new_size,
                old_root,
                new_root,
                &[&[proof[0]], proof].concat(),
            ),
        ),
    ];
    if let Some((_, shorter)) = proof.split_last() {
        probes.push((
            "truncated proof".to_owned(),
            check(old_size, new_size, old_root, new_root, shorter),
        ));
    }
    for i in 0..proof.len() {
        let mut wrong = proof.to_vec();
        wrong[i][0] ^= 16;
        probes.push((
            format!("modified proof[{i}]"),
            check(old_size, new_size, old_root, new_root, &wrong),
        ));
    }
    probes
}

/// The edge cases of `TestVerifyConsistency` in transparency-dev/merkle, with one deliberate
/// difference: from size 0 we also require the old root to be the empty tree's root, which is
/// the only root a tree of size 0 can have.
#[test]
fn consistency_edge_cases() {
    let (a, b) = (leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2"));
    let empty = empty_root();
    let check = |old_size, new_size, old_root: &Hash, new_root: &Hash, proof: &[Hash]| {
        verify_consistency(old_size, new_size, old_root, new_root, proof)
    };
    use ProofError::*;
    assert_eq!(check(0, 0, &empty, &b, &[]), Err(RootMismatch));
    assert_eq!(check(1, 1, &a, &b, &[]), Err(RootMismatch));
    assert_eq!(check(0, 0, &empty, &empty, &[]), Ok(()));
    assert_eq!(check(0, 1, &empty, &b, &[]), Ok(()));
    assert_eq!(check(0, 1, &a, &b, &[]), Err(OldRootMismatch));
    assert_eq!(check(1, 1, &b, &b, &[]), Ok(()));
    assert!(matches!(
        check(1, 0, &a, &b, &[]),
        Err(SizesReversed { .. })
    ));
    assert!(matches!(
        check(2, 1, &a, &b, &[]),
        Err(SizesReversed { .. })
    ));
    assert_eq!(check(1, 2, &a, &b, &[]), Err(WrongLength));
    assert_eq!(check(0, 0, &empty, &empty, &[empty]), Err(WrongLength));
    assert_eq!(check(0, 1, &empty, &empty, &[empty]), Err(WrongLength));
    assert_eq!(check(1, 1, &empty, &empty, &[empty]), Err(WrongLength));
}

/// `TestVerifyInclusion` and `TestVerifyInclusionSingleEntry` of transparency-dev/merkle.
#[test]
fn inclusion_edge_cases() {
    let some_hash = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    for (index, size) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(&some_hash, index, size, &[], &empty_root()).is_err());
    }
    let leaf = leaf_hash(b"data");
    assert_eq!(verify_inclusion(&leaf, 0, 1, &[], &leaf), Ok(()));
    assert!(verify_inclusion(&leaf, 0, 1, &[], &some_hash).is_err());
    assert!(verify_inclusion(&some_hash, 0, 1, &[], &leaf).is_err());
}

#[test]
fn proofs_refuse_impossible_requests() {
    let tree = reference_tree();
    assert!(inclusion_proof(8, 8, &tree).is_err());
    assert!(inclusion_proof(0, 0, &tree).is_err());
    assert!(consistency_proof(5, 4, &tree).is_err());
    assert_eq!(consistency_proof(0, 8, &tree).unwrap(), Vec::<Hash>::new());
    assert_eq!(consistency_proof(8, 8, &tree).unwrap(), Vec::<Hash>::new());
    // Asking beyond what the store holds is the store's error, not a wrong answer.
    assert!(root(9, &tree).is_err());
    assert!(inclusion_proof(0, 9, &tree).is_err());
}
