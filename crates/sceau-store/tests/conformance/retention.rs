//! The purge: what is past its retention window goes, a batch at a time; what is still in
//! use, and what is never the purge's (a paid checkout, a held one, a pending message or
//! webhook), stays.

use crate::fixtures::*;
use sceau_domain::retention::Cutoffs;
use sceau_store::Medium;
use sceau_store::{
    MessageDelivery, NewMessage, NewSession, PartOutcome, Purge, Purged, SealOutcome, WebhookResult,
};

const DAY: i64 = 86_400;

/// Everything that ended by `before` is past its window.
fn all_before(before: i64) -> Cutoffs {
    Cutoffs {
        sessions_expired: before,
        checkouts_ended: before,
        bodies_ended: before,
        messages_ended: before,
        webhooks_ended: before,
        idempotency_created: before,
    }
}

async fn purge(f: &Fixture, cutoffs: Cutoffs, batch_max: u32) -> Purged {
    f.store.purge(Purge { cutoffs, batch_max }).await.unwrap()
}

/// Purges batch after batch until nothing is left: the total.
async fn purge_all(f: &Fixture, cutoffs: Cutoffs) -> Purged {
    let mut total = Purged::default();
    loop {
        let batch = purge(f, cutoffs, 1_000).await;
        if batch == Purged::default() {
            return total;
        }
        total.add(&batch);
    }
}

async fn session(f: &Fixture, client_id: i64, expires_at_s: i64) -> [u8; 32] {
    let token_hash = bytes32(TOKEN_TAG, 50_000 + f.next());
    f.store
        .create_session(NewSession {
            token_hash,
            client_id,
            now_s: NOW,
            expires_at_s,
        })
        .await
        .unwrap();
    token_hash
}

#[tokio::test]
async fn sessions_go_after_their_window_a_batch_at_a_time() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(1_000, 0).await;
        for _ in 0..5 {
            session(f, alice.id, NOW + 10).await;
        }
        let live = session(f, alice.id, NOW + 10 * DAY).await;
        // Not yet past the window: nothing.
        assert_eq!(purge(f, all_before(NOW + 9), 2).await, Purged::default());
        // Two at most per batch.
        let cutoffs = all_before(NOW + 10);
        for expected in [2, 2, 1, 0] {
            assert_eq!(purge(f, cutoffs, 2).await.sessions, expected, "{}", f.name);
        }
        let kept = f.store.session_client(live, NOW + 11).await.unwrap();
        assert_eq!(
            kept.map(|client| client.id),
            Some(alice.id),
            "{}: a live session stays",
            f.name
        );
    })
    .await;
}

#[tokio::test]
async fn an_idempotency_key_is_forgotten_after_its_window() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let key = "order-77";
        let mut new = new_checkout(&shop, f.next(), 1_000, Some(key));
        new.now_s = NOW;
        let (first, replayed) = f.store.create_checkout(new).await.unwrap();
        assert!(!replayed);
        let again = new_checkout(&shop, f.next(), 1_000, Some(key));
        let (same, replayed) = f.store.create_checkout(again).await.unwrap();
        assert!(replayed && same.id == first.id, "{}: replayed", f.name);

        let mut cutoffs = all_before(i64::MIN);
        cutoffs.idempotency_created = NOW;
        assert_eq!(
            purge_all(f, cutoffs).await.idempotency_keys,
            1,
            "{}",
            f.name
        );
        let later = new_checkout(&shop, f.next(), 1_000, Some(key));
        let (other, replayed) = f.store.create_checkout(later).await.unwrap();
        assert!(
            !replayed && other.id != first.id,
            "{}: the key is new again",
            f.name
        );
    })
    .await;
}

/// A checkout that ended unpaid goes once its webhooks are gone; a paid or held one, or
/// one whose webhook is still being tried, stays.
#[tokio::test]
async fn unpaid_checkouts_go_after_their_webhooks_and_paid_ones_stay() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(100_000, 0).await;
        let unpaid = f.checkout(&shop, 500).await;
        let paid = f.held(&shop, &alice, 700).await;
        f.sent(&paid, &alice, 1, NOW).await;
        assert!(matches!(
            f.type_seal(&paid, &alice, 1, true, NOW + 1).await,
            SealOutcome::Paid(..)
        ));
        let held = f.held(&shop, &alice, 900).await;
        // The newest row is never purged (SQLite would give its id again): this one
        // expires too and stays.
        let newest = f.checkout(&shop, 300).await;
        // Open, held or paid: none is the purge's, whatever the window.
        let early = purge_all(f, all_before(NOW + 1_000 * DAY)).await;
        assert_eq!(early.checkouts, 0, "{}", f.name);
        // The open and the held one expire (each with its webhook, as the paid one has).
        let expired_at = NOW + CHECKOUT_S;
        f.store.expire(expired_at).await.unwrap();
        assert_eq!(
            f.reread_checkout(&unpaid).await.state.as_str(),
            "expired",
            "{}",
            f.name
        );
        let everything = all_before(expired_at + 100 * DAY);
        // Their webhooks are pending: nothing of theirs goes.
        let first = purge_all(f, everything).await;
        assert_eq!((first.checkouts, first.webhooks), (0, 0), "{}", f.name);
        for webhook in f.webhooks(expired_at + 1).await {
            f.store
                .mark_webhook(
                    webhook.id,
                    WebhookResult::Delivered {
                        now_s: expired_at + 2,
                    },
                )
                .await
                .unwrap();
        }
        // Webhooks kept longer than checkouts: the checkout waits for its webhook.
        let mut cutoffs = everything;
        cutoffs.webhooks_ended = expired_at + 1;
        let waiting = purge_all(f, cutoffs).await;
        assert_eq!((waiting.checkouts, waiting.webhooks), (0, 0), "{}", f.name);
        let done = purge_all(f, everything).await;
        assert!(done.webhooks >= 2, "{}: {done:?}", f.name);
        assert_eq!(done.checkouts, 2, "{}: the unpaid ones only", f.name);
        for gone in [&unpaid, &held] {
            assert!(f.store.checkout(&gone.public_id).await.unwrap().is_none());
        }
        for kept in [&paid, &newest] {
            assert!(
                f.store.checkout(&kept.public_id).await.unwrap().is_some(),
                "{}: {} stays",
                f.name,
                kept.public_id
            );
        }
        f.assert_sound().await;
    })
    .await;
}

/// Bodies are emptied after their window and the records kept; records go after theirs.
/// A message is done with once it ended, or once a route took it and its secret's life
/// is over without a report (e-mail, routes without receipts). A pending one stays.
#[tokio::test]
async fn message_bodies_then_messages_go_once_done_with() {
    each_backend(async |f: &Fixture| {
        let phone = "+33622220001";
        let mut ids = Vec::new();
        for n in 0..4 {
            let message = NewMessage {
                address: phone.to_owned(),
                sealed_body: format!("secret {n}").into_bytes(),
                medium: Medium::Sms,
                expires_at_s: NOW + 600,
            };
            ids.push(f.store.enqueue_message(message, NOW).await.unwrap());
        }
        f.store.claim_messages(NOW, 15, 10).await.unwrap();
        let submitted = |part: &str| MessageDelivery::Submitted {
            route: "smsc".into(),
            parts: vec![part.into()],
            now_s: NOW + 1,
        };
        // 0: delivered; 1: failed; 2: taken, no report ever; 3: still pending.
        assert!(f.store.mark_message(ids[0], submitted("a1")).await.unwrap());
        f.store
            .record_report("smsc", &["a1".to_owned()], PartOutcome::Delivered, NOW + 2)
            .await
            .unwrap();
        let failed = MessageDelivery::Failed {
            route: None,
            reason: "refused".into(),
            now_s: NOW + 3,
        };
        assert!(f.store.mark_message(ids[1], failed).await.unwrap());
        assert!(f.store.mark_message(ids[2], submitted("b2")).await.unwrap());

        let bodies = async || {
            let mut found: Vec<(i64, usize)> = f
                .store
                .messages_to(phone, 10)
                .await
                .unwrap()
                .iter()
                .map(|message| (message.id, message.sealed_body.len()))
                .collect();
            found.sort();
            found
        };
        let mut cutoffs = all_before(i64::MIN);
        cutoffs.bodies_ended = NOW + 3;
        let purged = purge_all(f, cutoffs).await;
        assert_eq!(
            (purged.message_bodies, purged.messages),
            (2, 0),
            "{}",
            f.name
        );
        assert_eq!(
            bodies().await,
            vec![(ids[0], 0), (ids[1], 0), (ids[2], 8), (ids[3], 8)],
            "{}: the ended ones' bodies",
            f.name
        );
        // The one taken without a report, once its secret's life is over.
        cutoffs.bodies_ended = NOW + 600;
        assert_eq!(purge_all(f, cutoffs).await.message_bodies, 1, "{}", f.name);
        cutoffs.messages_ended = NOW + 2;
        assert_eq!(purge_all(f, cutoffs).await.messages, 1, "{}", f.name);
        cutoffs.messages_ended = NOW + 3;
        assert_eq!(purge_all(f, cutoffs).await.messages, 1, "{}", f.name);
        cutoffs.messages_ended = NOW + 600;
        assert_eq!(purge_all(f, cutoffs).await.messages, 1, "{}", f.name);
        assert_eq!(bodies().await, vec![(ids[3], 8)], "{}", f.name);
        // A report for a purged message matches nothing.
        for part in ["a1", "b2"] {
            let report = f
                .store
                .record_report("smsc", &[part.to_owned()], PartOutcome::Failed, NOW + 700)
                .await
                .unwrap();
            assert_eq!(report, None, "{}", f.name);
        }
        // Nothing is past a window that reaches back before it all.
        assert_eq!(purge_all(f, all_before(NOW - 1)).await, Purged::default());
    })
    .await;
}

/// SQLite, where a row's state can be set by hand: a checkout that ended while its hold
/// is still an authorization stays until the hold is released (a checkout is what keeps
/// the merchant from capturing or voiding the client's hold).
#[tokio::test]
async fn sqlite_a_checkout_whose_hold_lives_is_kept() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("sceau.db");
    let f = Fixture::new(Backend {
        name: "sqlite",
        store: std::sync::Arc::new(sceau_store::SqliteStore::open(&path).unwrap()),
        archive: None,
        guard: Box::new(()),
    });
    let shop = f.merchant().await;
    let alice = f.client(10_000, 0).await;
    let held = f.held(&shop, &alice, 1_000).await;
    f.checkout(&shop, 300).await;
    let by_hand = rusqlite::Connection::open(&path).unwrap();
    by_hand
        .execute(
            "UPDATE checkouts SET state = 'failed', failure = 'unpaid' WHERE id = ?1",
            [held.id],
        )
        .unwrap();
    let everything = all_before(NOW + 1_000 * DAY);
    assert_eq!(purge_all(&f, everything).await.checkouts, 0);
    assert!(f.store.checkout(&held.public_id).await.unwrap().is_some());
    by_hand
        .execute(
            "UPDATE authorizations SET state = 'voided' WHERE id = \
             (SELECT authorization_id FROM checkouts WHERE id = ?1)",
            [held.id],
        )
        .unwrap();
    assert_eq!(purge_all(&f, everything).await.checkouts, 1);
}

/// Instances purging at once (each worker runs on its own clock) purge each row once,
/// together exactly what is past its window, and never a live row, without an error
/// (a deadlock between two purges' statements would be one). PostgreSQL's row locks
/// alone keep the counts exact: the next test is the one of the instances' lock.
#[tokio::test]
async fn instances_purging_at_once_purge_each_row_once() {
    use std::sync::atomic::{AtomicU64, Ordering};
    for (name, stores, _guard) in instances_of_each_backend().await {
        let f = on_first_instance(name, &stores);
        let alice = f.client(1_000, 0).await;
        const EXPIRED: u64 = 120;
        for _ in 0..EXPIRED {
            session(&f, alice.id, NOW + 10).await;
        }
        let live = session(&f, alice.id, NOW + 10 * DAY).await;
        let cutoffs = all_before(NOW + 10);
        let purged = std::sync::Arc::new(AtomicU64::new(0));
        // Each instance twice (two workers each), batches of 7, until all are gone.
        let runs: Vec<_> = stores
            .iter()
            .chain(stores.iter())
            .map(|store| {
                let (store, purged) = (store.clone(), purged.clone());
                tokio::spawn(async move {
                    for _ in 0..100_000 {
                        if purged.load(Ordering::SeqCst) >= EXPIRED {
                            return;
                        }
                        let batch = store
                            .purge(Purge {
                                cutoffs,
                                batch_max: 7,
                            })
                            .await;
                        purged.fetch_add(batch.unwrap().sessions, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                    }
                    panic!("the sessions were never all purged");
                })
            })
            .collect();
        for run in runs {
            run.await.unwrap();
        }
        assert_eq!(purged.load(Ordering::SeqCst), EXPIRED, "{name}: each once");
        assert_eq!(purge(&f, cutoffs, 1_000).await, Purged::default(), "{name}");
        let kept = f.store.session_client(live, NOW + 11).await.unwrap();
        assert_eq!(kept.map(|client| client.id), Some(alice.id), "{name}");
    }
}

/// PostgreSQL: while another instance purges the schema (its advisory lock held), a
/// purge skips its turn and says so by purging nothing; the lock released, it purges.
#[tokio::test]
async fn a_purge_skips_its_turn_while_another_instance_purges() {
    let Some(url) = sceau_store::postgres::scratch::test_database_url() else {
        return;
    };
    let schema = sceau_store::postgres::scratch::ScratchSchema::create(&url)
        .await
        .unwrap();
    let store: std::sync::Arc<dyn sceau_store::Store> = std::sync::Arc::new(
        sceau_store::PostgresStore::open(&schema.url, Default::default())
            .await
            .unwrap(),
    );
    let f = on_first_instance("postgres", &[store]);
    let alice = f.client(1_000, 0).await;
    for _ in 0..3 {
        session(&f, alice.id, NOW + 10).await;
    }
    let (other, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // The key the purge takes: its class and the schema's name.
    other
        .execute(
            "SELECT pg_advisory_lock(1550, hashtext($1))",
            &[&schema.name()],
        )
        .await
        .unwrap();
    let cutoffs = all_before(NOW + 10);
    assert_eq!(purge(&f, cutoffs, 1_000).await, Purged::default());
    let released: bool = other
        .query_one(
            "SELECT pg_advisory_unlock(1550, hashtext($1))",
            &[&schema.name()],
        )
        .await
        .unwrap()
        .get(0);
    assert!(released, "the lock taken was the one released");
    assert_eq!(purge(&f, cutoffs, 1_000).await.sessions, 3);
}
