//! The transparency log: batches, checkpoints, inclusion and consistency proofs.

use crate::fixtures::*;
use sceau_store::IntegrateLog;
use std::sync::Arc;

/// The transparency log: entries appended in batches (one checkpoint each), every entry
/// provably in every later tree, every tree consistent with every later one; the roots
/// are the RFC 6962 roots of the entries; racing integrations append each entry once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_appends_in_batches_and_proves_inclusion_and_consistency() {
    each_backend(async |f: &Fixture| {
        let integrate = |batch_max| IntegrateLog {
            batch_max,
            sign: test_signer(),
            now_s: NOW,
        };
        assert!(f.store.log_checkpoint().await.unwrap().is_none());
        assert!(
            f.store
                .integrate_log(integrate(10))
                .await
                .unwrap()
                .is_none()
        );
        let entries: Vec<Vec<u8>> = (0..300_u32)
            .map(|n| format!("entry {n}").into_bytes())
            .collect();
        let mut reference = sceau_log::MemoryTree::new();
        let mut checkpoints = Vec::new();
        for chunk in entries.chunks(70) {
            f.store.append_log(chunk.to_vec(), NOW).await.unwrap();
            while let Some(checkpoint) = f.store.integrate_log(integrate(32)).await.unwrap() {
                checkpoints.push(checkpoint);
            }
        }
        let last = checkpoints.last().unwrap().clone();
        assert_eq!(last.size, 300, "{}", f.name);
        assert_eq!(f.store.log_checkpoint().await.unwrap(), Some(last.clone()));
        // The roots are those of the entries, batch by batch.
        let leaves: Vec<[u8; 32]> = entries.iter().map(|e| sceau_log::leaf_hash(e)).collect();
        let mut at = 0_usize;
        for checkpoint in &checkpoints {
            let size = checkpoint.size as usize;
            reference.append(&leaves[at..size]).unwrap();
            at = size;
            assert_eq!(checkpoint.root, reference.root(), "{} at {size}", f.name);
            assert_eq!(
                checkpoint.note,
                format!("size {size} root {}", hex_of(&checkpoint.root))
            );
        }
        // Every entry is there, and in every tree from its own on.
        for index in [0_u64, 1, 31, 32, 63, 64, 150, 299] {
            assert_eq!(
                f.store.log_entry(index).await.unwrap().as_deref(),
                Some(entries[index as usize].as_slice())
            );
            for checkpoint in checkpoints.iter().filter(|c| c.size > index) {
                let proof = f
                    .store
                    .log_inclusion_proof(index, checkpoint.size)
                    .await
                    .unwrap()
                    .expect("a proof");
                sceau_log::verify_inclusion(
                    &leaves[index as usize],
                    index,
                    checkpoint.size,
                    &proof,
                    &checkpoint.root,
                )
                .unwrap_or_else(|e| panic!("{}: {index} in {}: {e}", f.name, checkpoint.size));
            }
        }
        // Several proofs read at once are each the one read alone.
        let indexes = vec![0_u64, 1, 31, 32, 63, 64, 150, 297, 298, 299];
        for checkpoint in checkpoints.iter().filter(|c| c.size >= 300) {
            let together = f
                .store
                .log_inclusion_proofs(indexes.clone(), checkpoint.size)
                .await
                .unwrap()
                .expect("the proofs");
            assert_eq!(together.len(), indexes.len());
            for (index, proof) in indexes.iter().zip(&together) {
                let alone = f
                    .store
                    .log_inclusion_proof(*index, checkpoint.size)
                    .await
                    .unwrap()
                    .expect("a proof");
                assert_eq!(proof, &alone, "{}: {index} in {}", f.name, checkpoint.size);
            }
        }
        for (at, checkpoint) in checkpoints.iter().enumerate().filter(|(_, c)| c.size > 150) {
            let some: Vec<u64> = (140..150).chain([checkpoint.size - 1]).collect();
            let together = f
                .store
                .log_inclusion_proofs(some.clone(), checkpoint.size)
                .await
                .unwrap()
                .expect("the proofs");
            for (index, proof) in some.iter().zip(&together) {
                sceau_log::verify_inclusion(
                    &leaves[*index as usize],
                    *index,
                    checkpoint.size,
                    proof,
                    &checkpoint.root,
                )
                .unwrap_or_else(|e| panic!("{}: {index} in checkpoint {at}: {e}", f.name));
            }
        }
        assert!(
            f.store
                .log_inclusion_proofs(vec![5, 300], 300)
                .await
                .unwrap()
                .is_none()
        );
        for (old, new) in checkpoints.iter().zip(checkpoints.iter().skip(3)) {
            let proof = f
                .store
                .log_consistency_proof(old.size, new.size)
                .await
                .unwrap()
                .expect("a proof");
            sceau_log::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
                .unwrap_or_else(|e| panic!("{}: {} to {}: {e}", f.name, old.size, new.size));
        }
        // Beyond what is integrated, or backwards: no proof.
        assert!(f.store.log_entry(300).await.unwrap().is_none());
        assert!(f.store.log_inclusion_proof(5, 301).await.unwrap().is_none());
        assert!(
            f.store
                .log_inclusion_proof(300, 300)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            f.store
                .log_consistency_proof(10, 301)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            f.store
                .log_consistency_proof(20, 10)
                .await
                .unwrap()
                .is_none()
        );

        // Integrations racing each other append every entry once, in order.
        let more: Vec<Vec<u8>> = (300..500_u32)
            .map(|n| format!("entry {n}").into_bytes())
            .collect();
        f.store.append_log(more.clone(), NOW).await.unwrap();
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move {
                    let mut made = 0;
                    while store
                        .integrate_log(IntegrateLog {
                            batch_max: 16,
                            sign: test_signer(),
                            now_s: NOW,
                        })
                        .await
                        .unwrap()
                        .is_some()
                    {
                        made += 1;
                    }
                    made
                })
            })
            .collect();
        for racer in racers {
            racer.await.unwrap();
        }
        let last = f.store.log_checkpoint().await.unwrap().unwrap();
        assert_eq!(last.size, 500, "{}", f.name);
        let more_leaves: Vec<[u8; 32]> = more.iter().map(|e| sceau_log::leaf_hash(e)).collect();
        reference.append(&more_leaves).unwrap();
        assert_eq!(last.root, reference.root(), "{}", f.name);
        assert_eq!(
            f.store.log_entry(499).await.unwrap().as_deref(),
            Some(more[199].as_slice())
        );

        // Appends racing integrations: an entry whose transaction drew its place early
        // but committed late is integrated later, never lost or taken twice.
        let appenders: Vec<_> = (0..8_u32)
            .map(|writer| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move {
                    for write in 0..10_u32 {
                        let batch = (0..5_u32)
                            .map(|n| format!("raced {writer} {write} {n}").into_bytes())
                            .collect();
                        store.append_log(batch, NOW).await.unwrap();
                    }
                })
            })
            .collect();
        let integrators: Vec<_> = (0..3)
            .map(|_| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move {
                    for _ in 0..40 {
                        store
                            .integrate_log(IntegrateLog {
                                batch_max: 7,
                                sign: test_signer(),
                                now_s: NOW,
                            })
                            .await
                            .unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in appenders.into_iter().chain(integrators) {
            task.await.unwrap();
        }
        while f
            .store
            .integrate_log(integrate(1_000))
            .await
            .unwrap()
            .is_some()
        {}
        let last = f.store.log_checkpoint().await.unwrap().unwrap();
        assert_eq!(last.size, 900, "{}: entries lost or doubled", f.name);
        let mut raced = std::collections::HashSet::new();
        for index in 500..900 {
            let entry = f.store.log_entry(index).await.unwrap().unwrap();
            assert!(entry.starts_with(b"raced "), "{}", f.name);
            assert!(raced.insert(entry), "{}: an entry twice", f.name);
        }
    })
    .await;
}

/// Operators' lag of the log: what an integration would take, queued entries and
/// evidence records alike, counted down as integrations take them.
#[tokio::test]
async fn the_entries_waiting_for_an_integration_are_counted() {
    each_backend(async |f: &Fixture| {
        let integrate = |batch_max| IntegrateLog {
            batch_max,
            sign: test_signer(),
            now_s: NOW,
        };
        while f
            .store
            .integrate_log(integrate(1_000))
            .await
            .unwrap()
            .is_some()
        {}
        assert_eq!(f.store.log_waiting().await.unwrap(), 0, "{}", f.name);
        let entries = (0..5_u8).map(|n| vec![n]).collect();
        f.store.append_log(entries, NOW).await.unwrap();
        assert_eq!(f.store.log_waiting().await.unwrap(), 5, "{}", f.name);
        // A client's enrolment and a payment write evidence records.
        let client = f.client(10_000, 0).await;
        let merchant = f.merchant().await;
        f.pays(&merchant, &client, NOW).await;
        let waiting = f.store.log_waiting().await.unwrap();
        assert!(waiting > 5, "{}: records wait too ({waiting})", f.name);
        f.store.integrate_log(integrate(3)).await.unwrap().unwrap();
        assert_eq!(
            f.store.log_waiting().await.unwrap(),
            waiting - 3,
            "{}",
            f.name
        );
        while f
            .store
            .integrate_log(integrate(1_000))
            .await
            .unwrap()
            .is_some()
        {}
        assert_eq!(f.store.log_waiting().await.unwrap(), 0, "{}", f.name);
    })
    .await;
}
