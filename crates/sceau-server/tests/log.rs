//! The transparency log as a monitor sees it, over HTTP and without signing in: the
//! checkpoint verifies with the published key, entries are provably in it, and each
//! checkpoint provably extends the one before.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

impl Server {
    /// Integrates until the log holds `size` entries (the server's own integrator may
    /// take some batches: either way they end up in).
    async fn integrated(&self, size: u64) -> String {
        loop {
            self.service.integrate_log_once().await.unwrap();
            let checkpoint = self.service.store.log_checkpoint().await.unwrap();
            if checkpoint.as_ref().is_some_and(|c| c.size == size) {
                return self.page("/log/checkpoint", None).await.text;
            }
        }
    }
}

fn decoded(hashes: &Value) -> Vec<[u8; 32]> {
    hashes
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(hash.as_str().unwrap())
                .unwrap();
            <[u8; 32]>::try_from(bytes.as_slice()).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_monitor_follows_the_log_and_checks_every_proof() {
    let server = Server::start().await;
    check_error(
        &server.page("/log/checkpoint", None).await,
        404,
        "log_empty",
    );
    let key = server.page("/log/key", None).await;
    assert_eq!(key.status, StatusCode::OK);
    let key = sceau_log::VerifierKey::parse(key.text.trim()).unwrap();
    assert_eq!(key.name(), LOG_ORIGIN);

    let first: Vec<Vec<u8>> = (0..100_u32)
        .map(|n| format!("event {n}").into_bytes())
        .collect();
    server
        .service
        .store
        .append_log(first.clone(), START_S)
        .await
        .unwrap();
    let note = server.integrated(100).await;
    let old = sceau_log::parse_and_verify(&note, &key).unwrap();
    assert_eq!((old.origin(), old.size()), (LOG_ORIGIN, 100));

    // An entry, and its proof in the checkpoint.
    let entry = server.page("/log/entries/42", None).await;
    assert_eq!(entry.text.as_bytes(), first[42].as_slice());
    let proof = server
        .page("/log/proof/inclusion?index=42&size=100", None)
        .await
        .json();
    sceau_log::verify_inclusion(
        &sceau_log::leaf_hash(&first[42]),
        42,
        100,
        &decoded(&proof["hashes"]),
        old.root_hash(),
    )
    .unwrap();
    // Not another entry's.
    assert!(
        sceau_log::verify_inclusion(
            &sceau_log::leaf_hash(&first[41]),
            42,
            100,
            &decoded(&proof["hashes"]),
            old.root_hash(),
        )
        .is_err()
    );

    // More entries: the new checkpoint extends the old one.
    let second: Vec<Vec<u8>> = (100..250_u32)
        .map(|n| format!("event {n}").into_bytes())
        .collect();
    server
        .service
        .store
        .append_log(second, START_S)
        .await
        .unwrap();
    let note = server.integrated(250).await;
    let new = sceau_log::parse_and_verify(&note, &key).unwrap();
    let proof = server
        .page("/log/proof/consistency?old=100&new=250", None)
        .await
        .json();
    sceau_log::verify_consistency(
        100,
        250,
        old.root_hash(),
        new.root_hash(),
        &decoded(&proof["hashes"]),
    )
    .unwrap();
    // A checkpoint signed by another key, or altered, does not verify.
    let mut altered = note.clone();
    altered.replace_range(
        altered.find('\n').unwrap() + 1..altered.find('\n').unwrap() + 2,
        "9",
    );
    assert!(sceau_log::parse_and_verify(&altered, &key).is_err());

    // What cannot be proved is refused plainly.
    for bad in [
        "/log/proof/inclusion?index=250&size=250",
        "/log/proof/inclusion?index=1&size=251",
        "/log/proof/consistency?old=200&new=100",
    ] {
        check_error(&server.page(bad, None).await, 404, "no_proof");
    }
    check_error(
        &server
            .page("/log/proof/inclusion?index=x&size=2", None)
            .await,
        400,
        "invalid_query",
    );
    check_error(
        &server.page("/log/entries/250", None).await,
        404,
        "no_entry",
    );
    check_error(&server.page("/log/entries/-1", None).await, 404, "no_entry");

    // Tiles (C2SP tlog-tiles): a partial tile of leaf hashes and its entry bundle now, a
    // full one and the level-1 tile (the root of the first 256) at 256 entries.
    let bytes = |path: &'static str| {
        let http = server.http.clone();
        let url = server.url(path);
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status(), response.bytes().await.unwrap().to_vec())
        }
    };
    let all: Vec<Vec<u8>> = (0..256_u32)
        .map(|n| format!("event {n}").into_bytes())
        .collect();
    let (status, tile) = bytes("/log/tile/0/000.p/250").await;
    assert_eq!(status, StatusCode::OK);
    let expected: Vec<u8> = all[..250]
        .iter()
        .flat_map(|e| sceau_log::leaf_hash(e))
        .collect();
    assert_eq!(tile, expected);
    let (status, bundle) = bytes("/log/tile/entries/000.p/250").await;
    assert_eq!(status, StatusCode::OK);
    let mut at = 0;
    for entry in &all[..250] {
        let length = u16::from_be_bytes([bundle[at], bundle[at + 1]]) as usize;
        assert_eq!(&bundle[at + 2..at + 2 + length], entry.as_slice());
        at += 2 + length;
    }
    assert_eq!(at, bundle.len());
    assert_eq!(bytes("/log/tile/0/000").await.0, StatusCode::NOT_FOUND);
    server
        .service
        .store
        .append_log(all[250..].to_vec(), START_S)
        .await
        .unwrap();
    let note = server.integrated(256).await;
    let full = sceau_log::parse_and_verify(&note, &key).unwrap();
    let (status, tile) = bytes("/log/tile/0/000").await;
    assert_eq!((status, tile.len()), (StatusCode::OK, 256 * 32));
    let (status, upper) = bytes("/log/tile/1/000.p/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(upper.as_slice(), full.root_hash().as_slice());
    assert_eq!(bytes("/log/tile/1/000").await.0, StatusCode::NOT_FOUND);
    assert_eq!(bytes("/log/tile/9/000").await.0, StatusCode::NOT_FOUND);
    server.stop().await;
}
