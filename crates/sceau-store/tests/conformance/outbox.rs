//! The outbox: messages claimed by one dispatcher at a time, kept until marked, and the
//! one budget that counts every message to a client (its tests queue envelope seals,
//! payment seals and numbers: the rule they check is the budget's).

use crate::envelopes::{self, arrival, prepared_seal, received_with, receiving};
use crate::fixtures::*;
use sceau_domain::reach::{MessageBudget, TooMany};
use sceau_store::{
    CheckoutRefusal, CheckoutView, FilePlan, IssueOutcome, Medium, MerchantRecord, MessageCount,
    MessageDelivery, MessageStatus, NewMessage, NewNumber, OutboxBacklog, PartOutcome,
    PreparedEnvelopeSeal, ReportRecorded, SendOutcome, SendSeal, StoredSeal,
};
use std::sync::Arc;

/// Dispatchers of several instances claim messages: a claimed message is not handed to
/// another claim until it lapses, and a marked one never again. On PostgreSQL the two
/// claims are two instances' (an instance's dispatcher writes in one lane of its own, so
/// only instances race: `FOR UPDATE SKIP LOCKED`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_claimed_by_one_dispatcher_at_a_time() {
    const LEASE_S: i64 = 15;
    for (name, stores, _guard) in instances_of_each_backend().await {
        let f = on_first_instance(name, &stores);
        let alice = f.client(10_000, 0).await;
        for _ in 0..6 {
            f.issue(&alice, one_use()).await;
        }
        let all: Vec<i64> = f
            .store
            .pending_messages(LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(all.len(), 6);
        // Two dispatchers at once, each wanting four: together they get each message once.
        let claims: Vec<_> = (0..2)
            .map(|index| {
                let store = Arc::clone(&stores[index % stores.len()]);
                tokio::spawn(async move { store.claim_messages(NOW, LEASE_S, 4).await })
            })
            .collect();
        let mut claimed = Vec::new();
        for claim in claims {
            let taken = claim.await.unwrap().unwrap();
            assert!(
                taken.windows(2).all(|pair| pair[0].id < pair[1].id),
                "oldest first"
            );
            claimed.extend(taken.iter().map(|m| m.id));
        }
        claimed.sort_unstable();
        assert_eq!(
            claimed, all,
            "{}: every message claimed exactly once",
            f.name
        );
        assert!(
            f.store
                .claim_messages(NOW + LEASE_S - 1, LEASE_S, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            f.pending_count().await,
            6,
            "claimed messages are still pending"
        );

        // One is sent; when the claims lapse, the others are claimable again, it is not.
        let sent = MessageDelivery::Submitted {
            route: "smsc".into(),
            parts: vec!["ref".into()],
            now_s: NOW + 1,
        };
        assert!(f.store.mark_message(all[0], sent).await.unwrap());
        let again: Vec<i64> = f
            .store
            .claim_messages(NOW + LEASE_S, LEASE_S, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(again, all[1..].to_vec(), "{}", f.name);
    }
}

/// PostgreSQL: a claim skips the messages another transaction holds (another instance's
/// claim, still open) rather than waiting for them or taking them too; released, they are
/// claimable. (Two dispatchers' claims rarely overlap in time; this holds one open.)
#[tokio::test]
async fn a_claim_skips_the_messages_another_transaction_holds() {
    let Some(url) = sceau_store::postgres::scratch::test_database_url() else {
        return;
    };
    let schema = sceau_store::postgres::scratch::ScratchSchema::create(&url)
        .await
        .unwrap();
    let store: Arc<dyn sceau_store::Store> = Arc::new(
        sceau_store::PostgresStore::open(&schema.url, Default::default())
            .await
            .unwrap(),
    );
    let f = on_first_instance("postgres", &[store]);
    let alice = f.client(10_000, 0).await;
    for _ in 0..4 {
        f.issue(&alice, one_use()).await;
    }
    let ids = |messages: Vec<sceau_store::StoredMessage>| -> Vec<i64> {
        messages.iter().map(|m| m.id).collect()
    };
    let all = ids(f.store.pending_messages(LIST_LIMIT).await.unwrap());
    assert_eq!(all.len(), 4);
    let (other, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // Should the test fail while it holds the rows, the server ends its transaction a
    // minute later, so that the scratch schema can still be dropped.
    other
        .batch_execute("SET idle_in_transaction_session_timeout = '60s'; BEGIN")
        .await
        .unwrap();
    other
        .query(
            "SELECT id FROM messages WHERE id = ANY($1) FOR UPDATE",
            &[&all[..2].to_vec()],
        )
        .await
        .unwrap();
    // Without SKIP LOCKED the claim would wait for the other transaction: bounded here,
    // so that such a wait fails the test rather than hanging it.
    let claim = f.store.claim_messages(NOW, 15, 10);
    let taken = tokio::time::timeout(std::time::Duration::from_secs(30), claim)
        .await
        .expect("a claim waited for the messages another transaction holds")
        .unwrap();
    let taken = ids(taken);
    assert_eq!(taken, all[2..].to_vec());
    other.batch_execute("ROLLBACK").await.unwrap();
    let taken = ids(f.store.claim_messages(NOW, 15, 10).await.unwrap());
    assert_eq!(taken, all[..2].to_vec());
}

#[tokio::test]
async fn messages_wait_until_marked() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        let first = f.issue(&alice, one_use()).await;
        let _bobs = f.issue(&bob, one_use()).await;
        let second = f.issue_at(&alice, one_use(), NOW + 1).await;

        let pending = f.store.pending_messages(LIST_LIMIT).await.unwrap();
        let addresses: Vec<&str> = pending.iter().map(|m| m.address.as_str()).collect();
        assert_eq!(
            addresses,
            vec![
                alice.phone.as_str(),
                bob.phone.as_str(),
                alice.phone.as_str()
            ],
            "oldest first"
        );
        assert!(pending.windows(2).all(|pair| pair[0].id < pair[1].id));
        assert_eq!(
            f.store.pending_messages(2).await.unwrap(),
            pending[..2].to_vec()
        );

        let to_alice = f
            .store
            .messages_to(alice.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(
            to_alice.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![pending[2].id, pending[0].id],
            "newest first"
        );
        assert_eq!(to_alice[0].created_at_s, NOW + 1);
        assert_ne!(first.view.id, second.view.id);
        assert_eq!(
            f.store
                .messages_to(alice.phone.as_str(), 1)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            f.store
                .messages_to("+10000000", LIST_LIMIT)
                .await
                .unwrap()
                .is_empty()
        );

        let sent = MessageDelivery::Submitted {
            route: "smsc".into(),
            parts: vec!["ref-1".into()],
            now_s: NOW + 2,
        };
        assert!(f.store.mark_message(pending[0].id, sent).await.unwrap());
        let failed = MessageDelivery::Failed {
            route: Some("smtp".into()),
            reason: "refused".into(),
            now_s: NOW + 3,
        };
        assert!(f.store.mark_message(pending[1].id, failed).await.unwrap());
        let still: Vec<i64> = f
            .store
            .pending_messages(LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(still, vec![pending[2].id]);

        let to_alice = f
            .store
            .messages_to(alice.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(
            (to_alice[1].state.as_str(), to_alice[1].route.as_deref()),
            ("submitted", Some("smsc"))
        );
        assert_eq!(to_alice[1].sealed_body, pending[0].sealed_body);
        let to_bob = f
            .store
            .messages_to(bob.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(
            (to_bob[0].state.as_str(), to_bob[0].route.as_deref()),
            ("failed", Some("smtp"))
        );
    })
    .await;
}

/// Requests that arrive together, on several instances (two PostgreSQL stores on one
/// database; SQLite's one writer), are counted one after the other: exactly the budget
/// goes out, whatever the interleaving. The last files of 24 envelopes arrive at once,
/// each asking for its seal; a multi-threaded runtime, so that they really overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_holds_against_requests_at_once_on_several_instances() {
    let setups = instances_of_each_backend().await;
    for (name, stores, _guard) in setups {
        let f = on_first_instance(name, &stores);
        let alice = f.client(0, 0).await;
        let envelope = |index: u8| format!("env_{index:02}");
        for index in 0..24 {
            let serial = format!("d17a{index:02}");
            receiving(&f, &alice, &envelope(index), &serial, true, NOW).await;
        }
        let budget = MessageBudget::new(40, 5, 20, 5);
        let mut last_files = Vec::new();
        for index in 0..24_u8 {
            let store = stores[usize::from(index) % stores.len()].clone();
            let seal = PreparedEnvelopeSeal {
                budget,
                ..prepared_seal(&alice, index, budget.seals_max, NOW)
            };
            let last = received_with(&alice, &envelope(index), arrival(0, 1_234, 1), seal, NOW);
            last_files.push(tokio::spawn(async move {
                store.receive_file(last).await.unwrap()
            }));
        }
        let mut sealed = 0;
        for last_file in last_files {
            let receipt = last_file.await.unwrap();
            assert_eq!(receipt.plan, FilePlan::Keep { last: true }, "{name}");
            match receipt.seal_throttled {
                None => sealed += 1,
                Some(too_many) => assert_eq!(too_many, TooMany::Seals, "{name}"),
            }
        }
        assert_eq!(sealed, 5, "{name}: exactly the budget's seals");
        let sent = stores[0]
            .messages_to(alice.phone.as_str(), 100)
            .await
            .unwrap()
            .len();
        assert_eq!(sent, 5, "{name}: as many messages queued");
    }
}

/// One budget covers every message to a client, whoever asks: envelope seals, payment
/// seals, numbers the client asks for and numbers merchants ask for. The burst that once
/// sent 40 messages sends exactly the budget; each refusal names its limit and leaves
/// nothing behind; a pause notice still goes out, and counts.
#[tokio::test]
async fn one_budget_counts_every_message_to_a_client() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let shop = f.merchant().await;
        let cafe = f.merchant().await;
        f.pays(&shop, &alice, NOW - 2 * 3600).await;
        f.pays(&cafe, &alice, NOW - 2 * 3600).await;
        let budget = MessageBudget::new(12, 5, 6, 2);
        let eur = currency("EUR");
        let envelope_seal = async |index: u8| {
            let seal = PreparedEnvelopeSeal {
                budget,
                ..prepared_seal(&alice, index, budget.seals_max, NOW + 1)
            };
            let (public_id, serial) = (format!("env_b{index:02}"), format!("d16b{index:02}"));
            envelopes::submitted(f, &alice, &public_id, &serial, seal, NOW + 1).await
        };
        let client_number = async || {
            let n = f.next();
            let number = NewNumber {
                budget,
                ..new_number(&alice, one_use(), bytes32(NUMBER_TAG, n), n, NOW + 3)
            };
            f.store.issue_number(number).await.unwrap()
        };
        let payment_seal = async |checkout: &CheckoutView, nonce: u8| {
            f.store
                .send_seal(SendSeal {
                    checkout_id: checkout.id,
                    client_id: alice.id,
                    seal: StoredSeal {
                        nonce: [nonce; 16],
                        digits: 8,
                        issued_at_s: NOW + 2,
                        expires_at_s: NOW + 2 + SEAL_S,
                    },
                    message: NewMessage {
                        address: alice.phone.as_str().to_owned(),
                        sealed_body: vec![nonce],
                        medium: Medium::Sms,
                        expires_at_s: NOW + 2 + SEAL_S,
                    },
                    budget,
                    now_s: NOW + 2,
                })
                .await
                .unwrap()
        };
        let checkouts = [
            f.held(&shop, &alice, 100).await,
            f.held(&shop, &alice, 200).await,
            f.held(&cafe, &alice, 300).await,
        ];

        // Envelope seals: 4 of the 5 seals of the hour.
        for index in 0..4 {
            let receipt = envelope_seal(index).await;
            assert_eq!(receipt.seal_throttled, None, "{}", f.name);
        }
        // Payment seals: the fifth seal, then none.
        assert!(matches!(
            payment_seal(&checkouts[0], 1).await,
            SendOutcome::Sent(_)
        ));
        for (checkout, nonce) in [(&checkouts[1], 2), (&checkouts[2], 3)] {
            assert!(
                matches!(
                    payment_seal(checkout, nonce).await,
                    SendOutcome::Refused(CheckoutRefusal::TooManySeals)
                ),
                "{}",
                f.name
            );
        }
        assert_eq!(
            envelope_seal(90).await.seal_throttled,
            Some(TooMany::Seals),
            "{}",
            f.name
        );
        // Numbers the client asks for: 6 of them, then none.
        for _ in 0..6 {
            assert!(
                matches!(client_number().await, IssueOutcome::Issued(_)),
                "{}",
                f.name
            );
        }
        assert!(matches!(
            client_number().await,
            IssueOutcome::Throttled(TooMany::Numbers)
        ));
        // Numbers merchants ask for: one fits in the total, then the total refuses them.
        let merchant_number = async |merchant: &MerchantRecord| {
            f.merchant_number(merchant, &alice, eur, budget, u32::MAX, NOW + 4)
                .await
        };
        assert!(matches!(
            merchant_number(&shop).await,
            IssueOutcome::Issued(_)
        ));
        for merchant in [&shop, &cafe, &cafe] {
            assert!(
                matches!(
                    merchant_number(merchant).await,
                    IssueOutcome::Throttled(TooMany::Messages)
                ),
                "{}",
                f.name
            );
        }
        assert_eq!(
            f.messages_since(&alice, NOW).await,
            budget.total_max as usize,
            "{}: the burst sent exactly the budget",
            f.name
        );

        // Nothing half-written by the refusals: no seal or number. (The throttled envelope
        // was submitted all the same: it awaits a seal none was sent for.)
        let views = f
            .store
            .client_envelopes(alice.id, LIST_LIMIT)
            .await
            .unwrap();
        let with_seal = views.iter().filter(|view| view.seal.is_some()).count();
        assert_eq!((views.len(), with_seal), (5, 4), "{}", f.name);
        let throttled = f.store.envelope("env_b90").await.unwrap().unwrap();
        assert_eq!(throttled.seal, None, "{}", f.name);
        for (checkout, sends) in checkouts.iter().zip([1, 0, 0]) {
            let view = f
                .store
                .checkout(&checkout.public_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(view.seal_sends, sends, "{}", f.name);
            assert_eq!(view.seal.is_some(), sends > 0, "{}", f.name);
        }
        let numbers = f.store.client_numbers(alice.id, LIST_LIMIT).await.unwrap();
        // 2 paid with long before, 3 drawn for the checkouts, 6 asked for, 1 a merchant's.
        assert_eq!(numbers.len(), 2 + 3 + 6 + 1, "{}", f.name);

        // A notice (the client's payments were paused) always goes out, and counts.
        let notice = NewMessage {
            address: alice.phone.as_str().to_owned(),
            sealed_body: b"paused".to_vec(),
            medium: Medium::Sms,
            expires_at_s: NOW + 5 + 900,
        };
        f.store.enqueue_message(notice, NOW + 5).await.unwrap();
        assert_eq!(
            f.messages_since(&alice, NOW).await,
            budget.total_max as usize + 1
        );

        // An hour after the burst, its messages no longer count.
        let n = f.next();
        let number = NewNumber {
            budget,
            ..new_number(&alice, one_use(), bytes32(NUMBER_TAG, n), n, NOW + 3 + 3600)
        };
        assert!(matches!(
            f.store.issue_number(number).await.unwrap(),
            IssueOutcome::Issued(_)
        ));
        f.assert_sound().await;
    })
    .await;
}

/// Queues a notice to `address` (its body names it) at `now_s`, alive until `expires_at_s`.
async fn notice(f: &Fixture, address: &str, expires_at_s: i64, now_s: i64) -> i64 {
    let message = NewMessage {
        address: address.to_owned(),
        sealed_body: format!("body of a notice to {address}").into_bytes(),
        medium: Medium::Sms,
        expires_at_s,
    };
    f.store.enqueue_message(message, now_s).await.unwrap()
}

/// What operators see of message `id`.
async fn status(f: &Fixture, id: i64) -> MessageStatus {
    let states = f.store.message_states(Some(id + 1), 1).await.unwrap();
    assert_eq!(states.len(), 1, "{}: message {id}", f.name);
    states.into_iter().next().unwrap()
}

fn submitted(route: &str, parts: &[&str], now_s: i64) -> MessageDelivery {
    MessageDelivery::Submitted {
        route: route.into(),
        parts: parts.iter().map(|part| (*part).to_owned()).collect(),
        now_s,
    }
}

fn forms(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// Each state a message can reach, with its times, route, attempts and last error; a
/// final state never goes back, and a second mark (another instance's) changes nothing.
#[tokio::test]
async fn a_message_goes_through_its_states_and_never_back() {
    const LIFE_S: i64 = 600;
    each_backend(async |f: &Fixture| {
        let phone = "+33611110001";
        let ids = [
            notice(f, phone, NOW + LIFE_S, NOW).await,
            notice(f, phone, NOW + LIFE_S, NOW).await,
            notice(f, phone, NOW + LIFE_S, NOW).await,
            notice(f, phone, NOW + LIFE_S, NOW).await,
        ];
        let claimed = f.store.claim_messages(NOW, 15, 10).await.unwrap();
        assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
        assert!(claimed.iter().all(|m| m.state == "pending"
            && m.route.is_none()
            && m.attempts == 0
            && m.medium == Medium::Sms
            && m.expires_at_s == NOW + LIFE_S));

        let store = &f.store;
        assert!(
            store
                .mark_message(ids[0], submitted("smsc-a", &["1a2b"], NOW + 1))
                .await
                .unwrap()
        );
        let failed = MessageDelivery::Failed {
            route: Some("smsc-a".into()),
            reason: "unknown subscriber".into(),
            now_s: NOW + 2,
        };
        assert!(store.mark_message(ids[1], failed.clone()).await.unwrap());
        let expired = MessageDelivery::Expired { now_s: NOW + 3 };
        assert!(store.mark_message(ids[2], expired.clone()).await.unwrap());
        let unopened = MessageDelivery::Failed {
            route: None,
            reason: "cannot be opened".into(),
            now_s: NOW + 4,
        };
        assert!(store.mark_message(ids[3], unopened).await.unwrap());

        let first = status(f, ids[0]).await;
        assert_eq!(
            (
                first.state.as_str(),
                first.route.as_deref(),
                first.attempts,
                first.parts
            ),
            ("submitted", Some("smsc-a"), 1, 1),
            "{}",
            f.name
        );
        assert_eq!(
            (first.submitted_at_s, first.ended_at_s),
            (Some(NOW + 1), None)
        );
        let second = status(f, ids[1]).await;
        assert_eq!(
            (
                second.state.as_str(),
                second.route.as_deref(),
                second.attempts
            ),
            ("failed", Some("smsc-a"), 1)
        );
        assert_eq!(
            second.last_error.as_deref(),
            Some("smsc-a: unknown subscriber")
        );
        assert_eq!(
            (second.submitted_at_s, second.ended_at_s),
            (None, Some(NOW + 2))
        );
        let third = status(f, ids[2]).await;
        assert_eq!(
            (third.state.as_str(), third.attempts, third.ended_at_s),
            ("expired", 0, Some(NOW + 3))
        );
        let fourth = status(f, ids[3]).await;
        assert_eq!(
            (
                fourth.state.as_str(),
                fourth.route,
                fourth.attempts,
                fourth.last_error.as_deref()
            ),
            ("failed", None, 0, Some("cannot be opened"))
        );

        // The receipt: delivered, and final.
        let delivered = store
            .record_report("smsc-a", &forms(&["1a2b"]), PartOutcome::Delivered, NOW + 5)
            .await
            .unwrap();
        let ended = ReportRecorded {
            message_id: ids[0],
            settled: true,
        };
        assert_eq!(delivered, Some(ended), "{}", f.name);
        let first = status(f, ids[0]).await;
        assert_eq!(
            (first.state.as_str(), first.ended_at_s),
            ("delivered", Some(NOW + 5))
        );

        // Marked again, by a late dispatcher of another instance: nothing goes back.
        let late = [
            (ids[0], failed.clone()),
            (ids[1], submitted("smsc-b", &["77"], NOW + 6)),
            (ids[2], submitted("smsc-b", &["78"], NOW + 6)),
            (ids[1], expired),
            (
                ids[0],
                MessageDelivery::Retry {
                    route: None,
                    reason: "late".into(),
                    retry_at_s: NOW + 60,
                    now_s: NOW + 6,
                },
            ),
        ];
        for (id, delivery) in late {
            assert!(
                !store.mark_message(id, delivery).await.unwrap(),
                "{}: {id}",
                f.name
            );
        }
        let states: Vec<String> = store
            .messages_to(phone, 10)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|m| m.state)
            .collect();
        assert_eq!(
            states,
            ["delivered", "failed", "expired", "failed"],
            "{}",
            f.name
        );
        assert_eq!(
            status(f, ids[1]).await.parts,
            0,
            "no part recorded by a late mark"
        );
        assert!(
            store
                .record_report("smsc-b", &forms(&["77"]), PartOutcome::Delivered, NOW + 7)
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

/// A transient failure keeps the message pending, counts the attempt, keeps the reason
/// and the last route tried (the one before when no route was tried: every one rested),
/// and defers the next claim to the retry time; a submission mark applies once, and shows
/// the route that took the message.
#[tokio::test]
async fn a_retry_counts_the_attempt_and_defers_the_claim() {
    each_backend(async |f: &Fixture| {
        let id = notice(f, "+33611110002", NOW + 600, NOW).await;
        let tries = [
            (Some("smsc-a"), "throttled", "smsc-a: throttled"),
            (None, "every route is resting", "every route is resting"),
        ];
        for (attempt, (route, reason, last_error)) in (1..=2_u32).zip(tries) {
            let now_s = NOW + 100 * i64::from(attempt);
            assert_eq!(
                f.store.claim_messages(now_s, 15, 10).await.unwrap().len(),
                1
            );
            let retry = MessageDelivery::Retry {
                route: route.map(str::to_owned),
                reason: reason.into(),
                retry_at_s: now_s + 60,
                now_s,
            };
            assert!(f.store.mark_message(id, retry).await.unwrap());
            let seen = status(f, id).await;
            assert_eq!(
                (seen.state.as_str(), seen.attempts, seen.route.as_deref()),
                ("pending", attempt, Some("smsc-a")),
                "{}: the last route tried",
                f.name
            );
            assert_eq!(seen.last_error.as_deref(), Some(last_error));
            assert!(
                f.store
                    .claim_messages(now_s + 59, 15, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        let counted = f.store.message_counts(NOW).await.unwrap();
        let pending = MessageCount {
            route: Some("smsc-a".into()),
            state: "pending".into(),
            count: 1,
        };
        assert_eq!(counted, [pending], "{}", f.name);
        let again = f.store.claim_messages(NOW + 260, 15, 10).await.unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 2), "{}", f.name);
        assert_eq!(again[0].route.as_deref(), Some("smsc-a"), "{}", f.name);
        assert!(
            f.store
                .mark_message(id, submitted("http-b", &["x1"], NOW + 261))
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .mark_message(id, submitted("http-b", &["x2"], NOW + 262))
                .await
                .unwrap()
        );
        let seen = status(f, id).await;
        assert_eq!(
            (
                seen.state.as_str(),
                seen.attempts,
                seen.route.as_deref(),
                seen.parts
            ),
            ("submitted", 3, Some("http-b"), 1),
            "{}",
            f.name
        );
        assert!(f.store.pending_messages(10).await.unwrap().is_empty());
    })
    .await;
}

/// Receipts: a part is found by any form of its id (the SMSC wrote it in hex, the
/// receipt in decimal), on its route only; a message is delivered when all its parts
/// are, failed as soon as one fails; a receipt twice, or after the end, changes nothing;
/// an unknown one writes nothing.
#[tokio::test]
async fn receipts_settle_a_message_by_its_parts() {
    each_backend(async |f: &Fixture| {
        let store = &f.store;
        let long = notice(f, "+33611110003", NOW + 600, NOW).await;
        let other = notice(f, "+33611110004", NOW + 600, NOW).await;
        assert_eq!(store.claim_messages(NOW, 15, 10).await.unwrap().len(), 2);
        assert!(
            store
                .mark_message(long, submitted("smsc-a", &["a1", "a2", "a3"], NOW + 1))
                .await
                .unwrap()
        );
        assert!(
            store
                .mark_message(other, submitted("smsc-a", &["b1", "b2"], NOW + 1))
                .await
                .unwrap()
        );
        assert_eq!(status(f, long).await.parts, 3);
        let report = async |route: &str, ids: &[&str], outcome: PartOutcome, now_s: i64| {
            store
                .record_report(route, &forms(ids), outcome, now_s)
                .await
                .unwrap()
                .map(|recorded| recorded.message_id)
        };
        let state = async |id: i64| status(f, id).await.state;

        // Unknown ids, or a known id on another route: nothing found, nothing written.
        let before = store.message_states(None, 10).await.unwrap();
        assert_eq!(
            report("smsc-a", &["ffff", "65535"], PartOutcome::Failed, NOW + 2).await,
            None
        );
        assert_eq!(
            report("smsc-b", &["a1"], PartOutcome::Failed, NOW + 2).await,
            None
        );
        assert_eq!(
            report("smsc-a", &[], PartOutcome::Failed, NOW + 2).await,
            None
        );
        assert_eq!(
            store.message_states(None, 10).await.unwrap(),
            before,
            "{}",
            f.name
        );

        // "161" is a1 in decimal: the forms are tried in order, the second matches.
        assert_eq!(
            report("smsc-a", &["161", "a1"], PartOutcome::Delivered, NOW + 3).await,
            Some(long)
        );
        assert_eq!(
            report("smsc-a", &["a1"], PartOutcome::Delivered, NOW + 3).await,
            Some(long)
        );
        assert_eq!(
            report("smsc-a", &["a2"], PartOutcome::Delivered, NOW + 4).await,
            Some(long)
        );
        assert_eq!(
            report("smsc-a", &["a3"], PartOutcome::Pending, NOW + 5).await,
            Some(long)
        );
        assert_eq!(
            state(long).await,
            "submitted",
            "{}: one part is not delivered yet",
            f.name
        );
        assert_eq!(
            report("smsc-a", &["a3"], PartOutcome::Delivered, NOW + 6).await,
            Some(long)
        );
        let seen = status(f, long).await;
        assert_eq!(
            (seen.state.as_str(), seen.ended_at_s),
            ("delivered", Some(NOW + 6)),
            "{}",
            f.name
        );
        // A late failure of a delivered part changes nothing.
        assert_eq!(
            report("smsc-a", &["a1"], PartOutcome::Failed, NOW + 7).await,
            Some(long)
        );
        assert_eq!(state(long).await, "delivered");

        // One part failed: the message failed, whatever the other says later.
        assert_eq!(
            report("smsc-a", &["b2"], PartOutcome::Failed, NOW + 8).await,
            Some(other)
        );
        let seen = status(f, other).await;
        assert_eq!(
            (seen.state.as_str(), seen.ended_at_s),
            ("failed", Some(NOW + 8)),
            "{}",
            f.name
        );
        assert!(seen.last_error.is_some());
        assert_eq!(
            report("smsc-a", &["b1"], PartOutcome::Delivered, NOW + 9).await,
            Some(other)
        );
        assert_eq!(
            report("smsc-a", &["b2"], PartOutcome::Delivered, NOW + 9).await,
            Some(other)
        );
        assert_eq!(state(other).await, "failed", "{}", f.name);
    })
    .await;
}

/// A message whose secret expired is never handed out, even if it was never tried; the
/// sweep records it `expired` (once the claim of a dispatcher holding it lapses), and it
/// is counted.
#[tokio::test]
async fn expired_messages_are_never_claimed_and_are_counted() {
    const LEASE_S: i64 = 15;
    each_backend(async |f: &Fixture| {
        let held = notice(f, "+33611110005", NOW + 5, NOW).await;
        let waiting = notice(f, "+33611110005", NOW + 5, NOW).await;
        let alive = notice(f, "+33611110005", NOW + 3600, NOW).await;
        let taken = f.store.claim_messages(NOW, LEASE_S, 1).await.unwrap();
        assert_eq!(taken.iter().map(|m| m.id).collect::<Vec<_>>(), [held]);

        // At its end, the waiting one is not handed out; the alive one is.
        let later = f.store.claim_messages(NOW + 5, LEASE_S, 10).await.unwrap();
        assert_eq!(
            later.iter().map(|m| m.id).collect::<Vec<_>>(),
            [alive],
            "{}",
            f.name
        );
        assert_eq!(
            f.store.expire_messages(NOW + 6).await.unwrap(),
            1,
            "{}",
            f.name
        );
        assert_eq!(status(f, waiting).await.state, "expired");
        assert_eq!(status(f, waiting).await.ended_at_s, Some(NOW + 6));
        assert_eq!(
            status(f, held).await.state,
            "pending",
            "a dispatcher holds it"
        );
        assert!(
            f.store
                .claim_messages(NOW + LEASE_S, LEASE_S, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(f.store.expire_messages(NOW + LEASE_S).await.unwrap(), 1);
        assert_eq!(f.store.expire_messages(NOW + LEASE_S).await.unwrap(), 0);
        // The dispatcher's late mark does not resurrect it.
        let late = submitted("smsc-a", &["99"], NOW + LEASE_S + 1);
        assert!(!f.store.mark_message(held, late).await.unwrap());
        assert_eq!(status(f, alive).await.state, "pending");
        assert_eq!(
            f.store.message_counts(NOW).await.unwrap(),
            [
                MessageCount {
                    route: None,
                    state: "expired".into(),
                    count: 2
                },
                MessageCount {
                    route: None,
                    state: "pending".into(),
                    count: 1
                },
            ],
            "{}",
            f.name
        );
    })
    .await;
}

/// Operators' counts: by route (not yet routed first), then state, over the messages
/// created since the time asked.
#[tokio::test]
async fn messages_are_counted_by_route_and_state() {
    each_backend(async |f: &Fixture| {
        let phone = "+33611110006";
        let _old = notice(f, phone, NOW + 600, NOW - 10).await;
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(notice(f, phone, NOW + 600, NOW).await);
        }
        assert_eq!(f.store.claim_messages(NOW, 15, 10).await.unwrap().len(), 7);
        let store = &f.store;
        for (index, id) in ids[..3].iter().enumerate() {
            let part = format!("{index}f");
            assert!(
                store
                    .mark_message(*id, submitted("smsc-a", &[&part], NOW + 1))
                    .await
                    .unwrap()
            );
        }
        store
            .record_report("smsc-a", &forms(&["0f"]), PartOutcome::Delivered, NOW + 2)
            .await
            .unwrap();
        let failed = MessageDelivery::Failed {
            route: Some("http-b".into()),
            reason: "400".into(),
            now_s: NOW + 2,
        };
        assert!(store.mark_message(ids[3], failed).await.unwrap());
        assert!(
            store
                .mark_message(ids[4], MessageDelivery::Expired { now_s: NOW + 2 })
                .await
                .unwrap()
        );
        let count = |route: Option<&str>, state: &str, count: u64| MessageCount {
            route: route.map(str::to_owned),
            state: state.to_owned(),
            count,
        };
        assert_eq!(
            store.message_counts(NOW).await.unwrap(),
            [
                count(None, "expired", 1),
                count(None, "pending", 1),
                count(Some("http-b"), "failed", 1),
                count(Some("smsc-a"), "delivered", 1),
                count(Some("smsc-a"), "submitted", 2),
            ],
            "{}",
            f.name
        );
        let all = store.message_counts(NOW - 10).await.unwrap();
        assert_eq!(
            all[1],
            count(None, "pending", 2),
            "{}: the older one too",
            f.name
        );
        assert!(store.message_counts(NOW + 1).await.unwrap().is_empty());
    })
    .await;
}

/// Operators' outbox depth: the messages not sent yet (waiting, claimed or waiting to be
/// tried again), and when the oldest of them was queued.
#[tokio::test]
async fn the_backlog_counts_what_is_not_sent_yet_and_dates_the_oldest() {
    each_backend(async |f: &Fixture| {
        let empty = OutboxBacklog {
            pending: 0,
            oldest_created_at_s: None,
        };
        assert_eq!(f.store.outbox_backlog().await.unwrap(), empty, "{}", f.name);
        let phone = "+33611110007";
        let first = notice(f, phone, NOW + 600, NOW - 30).await;
        let second = notice(f, phone, NOW + 600, NOW - 20).await;
        let third = notice(f, phone, NOW + 600, NOW - 10).await;
        let backlog = |pending, oldest| OutboxBacklog {
            pending,
            oldest_created_at_s: Some(oldest),
        };
        assert_eq!(
            f.store.outbox_backlog().await.unwrap(),
            backlog(3, NOW - 30),
            "{}",
            f.name
        );
        // Claimed, and one to be tried again: still not sent.
        assert_eq!(f.store.claim_messages(NOW, 15, 10).await.unwrap().len(), 3);
        let retry = MessageDelivery::Retry {
            route: Some("smsc-a".into()),
            reason: "throttled".into(),
            retry_at_s: NOW + 30,
            now_s: NOW,
        };
        assert!(f.store.mark_message(second, retry).await.unwrap());
        assert_eq!(
            f.store.outbox_backlog().await.unwrap(),
            backlog(3, NOW - 30),
            "{}",
            f.name
        );
        // Sent or ended, they leave it; the oldest is then the next one.
        let store = &f.store;
        assert!(
            store
                .mark_message(first, submitted("smsc-a", &["1a"], NOW + 1))
                .await
                .unwrap()
        );
        assert_eq!(
            store.outbox_backlog().await.unwrap(),
            backlog(2, NOW - 20),
            "{}",
            f.name
        );
        let expired = MessageDelivery::Expired { now_s: NOW + 1 };
        assert!(store.mark_message(third, expired).await.unwrap());
        assert_eq!(
            store.outbox_backlog().await.unwrap(),
            backlog(1, NOW - 20),
            "{}",
            f.name
        );
    })
    .await;
}

/// Operators see each message's course, newest first, a page at a time, with its
/// address masked and never its body.
#[tokio::test]
async fn message_states_show_no_body_and_mask_addresses() {
    each_backend(async |f: &Fixture| {
        let phone = "+33611117890";
        let sms = notice(f, phone, NOW + 600, NOW).await;
        let message = NewMessage {
            address: "alice@example.org".into(),
            sealed_body: b"body of an e-mail".to_vec(),
            medium: Medium::Email,
            expires_at_s: NOW + 86_400,
        };
        let email = f.store.enqueue_message(message, NOW + 1).await.unwrap();
        let third = notice(f, phone, NOW + 600, NOW + 2).await;

        let page = f.store.message_states(None, 2).await.unwrap();
        assert_eq!(
            page.iter().map(|s| s.id).collect::<Vec<_>>(),
            [third, email],
            "{}",
            f.name
        );
        let rest = f.store.message_states(Some(email), 10).await.unwrap();
        assert_eq!(rest.iter().map(|s| s.id).collect::<Vec<_>>(), [sms]);
        let seen = &rest[0];
        assert_eq!(seen.address_masked, "+•••••••••90", "{}", f.name);
        assert_eq!(
            (
                seen.medium,
                seen.kind.as_str(),
                seen.state.as_str(),
                seen.created_at_s,
                seen.expires_at_s
            ),
            (Medium::Sms, "notice", "pending", NOW, NOW + 600)
        );
        assert_eq!(page[1].medium, Medium::Email);
        assert_eq!(page[1].address_masked, "a***@example.org");
        for status in page.iter().chain(&rest) {
            let shown = format!("{status:?}");
            assert!(
                !shown.contains("body of") && !shown.contains("alice@") && !shown.contains(phone),
                "{shown}"
            );
        }
        assert!(
            f.store
                .message_states(Some(sms), 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}
