//! Not a test: how fast the frontier integrates leaves, hashing only (no storage).
//! `cargo run --release -p sceau-log --example append_speed`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use sceau_log::{Frontier, leaf_hash};

const LEAVES: u64 = 1_000_000;
const BATCH: u64 = 1_000;

fn main() {
    let leaf_hashes: Vec<_> = (0..LEAVES).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut frontier = Frontier::new();
    let mut completed = Vec::with_capacity(2 * BATCH as usize);
    let mut nodes = 0usize;
    let started = Instant::now();
    for batch in leaf_hashes.chunks(BATCH as usize) {
        completed.clear();
        frontier.append_into(batch, &mut completed).unwrap();
        nodes += completed.len();
        std::hint::black_box(frontier.root());
    }
    let elapsed = started.elapsed();
    println!(
        "{LEAVES} leaf hashes in batches of {BATCH}: {:.3} s, {:.0} leaves/s, {nodes} nodes completed, root {}",
        elapsed.as_secs_f64(),
        LEAVES as f64 / elapsed.as_secs_f64(),
        hex_of(&frontier.root()),
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
