//! The outbox: messages claimed by one dispatcher at a time, kept until marked, and the
//! one budget that counts every message to a client (its tests queue signature seals,
//! payment seals and numbers: the rule they check is the budget's).

use crate::fixtures::*;
use sceau_domain::reach::{MessageBudget, TooMany};
use sceau_store::postgres::scratch::{ScratchSchema, test_database_url};
use sceau_store::{
    CertificateKind, CheckoutRefusal, CheckoutView, IssueOutcome, MerchantRecord, MessageDelivery,
    NewClient, NewMessage, NewNumber, NewSignatureRequest, PostgresSettings, PostgresStore,
    SendOutcome, SendSeal, SignatureRequestOutcome, Store, StoredSeal,
};
use std::sync::Arc;

/// Dispatchers of several instances claim messages: a claimed message is not handed to
/// another claim until it lapses, and a marked one never again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_claimed_by_one_dispatcher_at_a_time() {
    const LEASE_S: i64 = 15;
    each_backend(async |f: &Fixture| {
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
            .map(|_| {
                let store = Arc::clone(&f.store);
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
        let sent = MessageDelivery::Sent {
            channel: "sms".into(),
            reference: "ref".into(),
            now_s: NOW + 1,
        };
        f.store.mark_message(all[0], sent).await.unwrap();
        let again: Vec<i64> = f
            .store
            .claim_messages(NOW + LEASE_S, LEASE_S, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(again, all[1..].to_vec(), "{}", f.name);
    })
    .await;
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

        let sent = MessageDelivery::Sent {
            channel: "sms".into(),
            reference: "ref-1".into(),
            now_s: NOW + 2,
        };
        f.store.mark_message(pending[0].id, sent).await.unwrap();
        let failed = MessageDelivery::Failed {
            channel: "smtp".into(),
            reason: "refused".into(),
            now_s: NOW + 3,
        };
        f.store.mark_message(pending[1].id, failed).await.unwrap();
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
            (to_alice[1].state.as_str(), to_alice[1].channel.as_deref()),
            ("sent", Some("sms"))
        );
        assert_eq!(to_alice[1].sealed_body, pending[0].sealed_body);
        let to_bob = f
            .store
            .messages_to(bob.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(
            (to_bob[0].state.as_str(), to_bob[0].channel.as_deref()),
            ("failed", Some("smtp"))
        );
    })
    .await;
}

/// Requests that arrive together, on several instances (two PostgreSQL stores on one
/// database; SQLite's one writer), are counted one after the other: exactly the budget
/// goes out, whatever the interleaving. A multi-threaded runtime, so that the requests
/// really overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_holds_against_requests_at_once_on_several_instances() {
    /// A backend's name, its instances on one database, and what keeps it.
    type Instances = (&'static str, Vec<Arc<dyn Store>>, Guard);
    let mut setups: Vec<Instances> = Vec::new();
    let sqlite = sqlite_backend();
    setups.push(("sqlite", vec![sqlite.store.clone()], sqlite.guard));
    if let Some(url) = test_database_url() {
        let schema = ScratchSchema::create(&url).await.expect("a scratch schema");
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..2 {
            let settings = PostgresSettings {
                lanes: 4,
                ..PostgresSettings::default()
            };
            stores.push(Arc::new(
                PostgresStore::open(&schema.url, settings)
                    .await
                    .expect("an instance"),
            ));
        }
        setups.push(("postgres, two instances", stores, Box::new(schema)));
    }
    for (name, stores, _guard) in setups {
        let alice = stores[0]
            .enroll_client(NewClient {
                certificates: vec![new_certificate("5c01", CertificateKind::Holder, None)],
                ..new_client(1, "EUR", 100_000, 0)
            })
            .await
            .unwrap();
        let budget = MessageBudget::new(40, 5, 20, 5);
        let mut requests = Vec::new();
        for index in 0..24_usize {
            let store = stores[index % stores.len()].clone();
            let address = alice.phone.as_str().to_owned();
            requests.push(tokio::spawn(async move {
                let request = NewSignatureRequest {
                    certificate_serial: "5c01".into(),
                    message: NewMessage {
                        address,
                        sealed_body: b"signature seal".to_vec(),
                    },
                    budget,
                    ..signature_request(alice.id, &format!("{index:032x}"), NOW)
                };
                store.create_signature_request(request).await.unwrap()
            }));
        }
        let mut created = 0;
        for request in requests {
            match request.await.unwrap() {
                SignatureRequestOutcome::Created(_) => created += 1,
                SignatureRequestOutcome::Throttled(too_many) => {
                    assert_eq!(too_many, TooMany::Seals, "{name}")
                }
            }
        }
        assert_eq!(created, 5, "{name}: exactly the budget's seals");
        let sent = stores[0]
            .messages_to(alice.phone.as_str(), 100)
            .await
            .unwrap()
            .len();
        assert_eq!(sent, 5, "{name}: as many messages queued");
    }
}

/// One budget covers every message to a client, whoever asks: signature seals, payment
/// seals, numbers the client asks for and numbers merchants ask for. The burst that once
/// sent 40 messages sends exactly the budget; each refusal names its limit and leaves
/// nothing behind; a pause notice still goes out, and counts.
#[tokio::test]
async fn one_budget_counts_every_message_to_a_client() {
    each_backend(async |f: &Fixture| {
        let alice = f
            .store
            .enroll_client(NewClient {
                certificates: vec![new_certificate("5b01", CertificateKind::Holder, None)],
                ..new_client(f.next(), "EUR", 100_000, 0)
            })
            .await
            .unwrap();
        let shop = f.merchant().await;
        let cafe = f.merchant().await;
        f.pays(&shop, &alice, NOW - 2 * 3600).await;
        f.pays(&cafe, &alice, NOW - 2 * 3600).await;
        let budget = MessageBudget::new(12, 5, 6, 2);
        let eur = currency("EUR");
        let signature = async |public_id: &str| {
            let request = NewSignatureRequest {
                certificate_serial: "5b01".into(),
                message: NewMessage {
                    address: alice.phone.as_str().to_owned(),
                    sealed_body: b"signature seal".to_vec(),
                },
                budget,
                ..signature_request(alice.id, public_id, NOW + 1)
            };
            f.store.create_signature_request(request).await.unwrap()
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

        // Signature seals: 4 of the 5 seals of the hour.
        for index in 0..4 {
            let outcome = signature(&format!("b{index:03}")).await;
            assert!(
                matches!(outcome, SignatureRequestOutcome::Created(_)),
                "{}",
                f.name
            );
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
        assert!(matches!(
            signature("b900").await,
            SignatureRequestOutcome::Throttled(TooMany::Seals)
        ));
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

        // Nothing half-written by the refusals: no request, seal or number.
        assert!(f.store.signature_request("b900").await.unwrap().is_none());
        assert_eq!(
            f.store
                .client_signature_requests(alice.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
            4
        );
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
