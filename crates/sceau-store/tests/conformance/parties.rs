//! Parties: enrolling clients and merchants, blocking a client, and which clients a
//! merchant may reach (those tests ask for numbers and sign in on checkouts: the rule
//! they check is the merchant's reach). `a_failing_command_does_not_fail_its_batch` is
//! here because its failing command is an enrolment.

use crate::fixtures::*;
use sceau_domain::Currency;
use sceau_domain::decline::Decline;
use sceau_domain::email::EmailAddress;
use sceau_domain::ledger::AccountKind;
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_domain::reach::MessageBudget;
use sceau_store::{
    AccountView, ClientRecord, IssueOutcome, Medium, MerchantCommand, NewClient, NewMerchant,
    NewMessage, Outcome, StoreError,
};
use std::sync::Arc;

#[tokio::test]
async fn enrol_clients_with_an_opening_balance() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 2_500).await;
        assert_eq!(alice.currency, currency("EUR"));
        assert!(!alice.blocked);
        let account = f.account(&alice).await;
        let expected = AccountView {
            id: alice.account_id,
            kind: AccountKind::Client,
            currency: currency("EUR"),
            balance: 10_000,
            held: 0,
            credit_limit: 2_500,
        };
        assert_eq!(account, expected);

        let broke = f.client_in("JPY", 0, 0).await;
        assert_eq!(f.account(&broke).await.balance, 0);
        assert_eq!(f.account(&broke).await.currency, currency("JPY"));

        let by_login = f
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .expect("found by login");
        assert_eq!(
            (by_login.id, by_login.account_id),
            (alice.id, alice.account_id)
        );
        let by_phone = f
            .store
            .client_by_phone(&alice.phone)
            .await
            .unwrap()
            .expect("found by phone");
        assert_eq!(by_phone.id, alice.id);
        let by_id = f
            .store
            .client(alice.id)
            .await
            .unwrap()
            .expect("found by id");
        assert_eq!(
            (by_id.login.as_str(), by_id.password_hash.as_str()),
            (alice.login.as_str(), alice.password_hash.as_str())
        );
        assert!(f.store.client_by_login("nobody").await.unwrap().is_none());
        assert!(
            f.store
                .client_by_phone(&phone(999_999))
                .await
                .unwrap()
                .is_none()
        );
        assert!(f.store.client(i64::MAX).await.unwrap().is_none());

        let listed: Vec<i64> = f
            .store
            .clients(LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(listed, vec![alice.id, broke.id]);
        assert_eq!(f.store.clients(1).await.unwrap().len(), 1);
        f.assert_sound().await;
    })
    .await;
}

/// A client's e-mail address is kept as given and read back by every lookup; a client
/// without one reads back `None`.
#[tokio::test]
async fn a_client_may_have_an_email_address() {
    each_backend(async |f: &Fixture| {
        let n = f.next();
        let address: EmailAddress = "zoé.martin+sceau@exemple.fr".parse().unwrap();
        let alice = f
            .store
            .enroll_client(NewClient {
                email: Some(address.clone()),
                ..new_client(n, "EUR", 0, 0)
            })
            .await
            .unwrap();
        assert_eq!(alice.email.as_ref(), Some(&address));
        let by_id = f.store.client(alice.id).await.unwrap().unwrap();
        let by_login = f
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .unwrap();
        let by_phone = f
            .store
            .client_by_phone(&alice.phone)
            .await
            .unwrap()
            .unwrap();
        for read in [by_id, by_login, by_phone] {
            assert_eq!(read.email.as_ref(), Some(&address), "{}", f.name);
        }
        let bob = f.client(0, 0).await;
        assert_eq!(bob.email, None);
        let listed = f.store.clients(LIST_LIMIT).await.unwrap();
        let emails: Vec<_> = listed.iter().map(|client| client.email.clone()).collect();
        assert_eq!(emails, vec![Some(address), None]);
    })
    .await;
}

/// A client who chooses calls is read back so by every lookup, and may go back to SMS;
/// their messages are queued and handed out as `voice`.
#[tokio::test]
async fn a_client_may_choose_to_be_called() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        assert!(!alice.by_call, "{}", f.name);
        assert_eq!(alice.phone_medium(), Medium::Sms);
        assert!(f.store.set_client_by_call(alice.id, true).await.unwrap());
        let by_id = f.store.client(alice.id).await.unwrap().unwrap();
        let by_login = f
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .unwrap();
        let by_phone = f
            .store
            .client_by_phone(&alice.phone)
            .await
            .unwrap()
            .unwrap();
        for read in [&by_id, &by_login, &by_phone] {
            assert!(read.by_call, "{}", f.name);
            assert_eq!(read.phone_medium(), Medium::Voice);
        }
        assert!(
            !f.store
                .set_client_by_call(alice.id + 1_000, true)
                .await
                .unwrap()
        );

        let message = NewMessage {
            address: alice.phone.as_str().to_owned(),
            sealed_body: b"sealed".to_vec(),
            medium: by_id.phone_medium(),
            expires_at_s: 10_600,
        };
        let id = f.store.enqueue_message(message, 10_000).await.unwrap();
        let claimed = f.store.claim_messages(10_001, 60, 10).await.unwrap();
        let ours: Vec<_> = claimed.iter().filter(|m| m.id == id).collect();
        assert_eq!(ours.len(), 1, "{}", f.name);
        assert_eq!(ours[0].medium, Medium::Voice, "{}", f.name);

        assert!(f.store.set_client_by_call(alice.id, false).await.unwrap());
        let back = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(back.phone_medium(), Medium::Sms, "{}", f.name);
    })
    .await;
}

#[tokio::test]
async fn enrolment_conflicts_write_nothing() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let n = f.next();
        let same_login = NewClient {
            login: alice.login.clone(),
            ..new_client(n, "EUR", 5_000, 0)
        };
        let same_phone = NewClient {
            phone: alice.phone.clone(),
            ..new_client(n, "EUR", 5_000, 0)
        };
        let cases = [(same_login, "login_taken"), (same_phone, "phone_taken")];
        for (client, code) in cases {
            match f.store.enroll_client(client).await {
                Err(StoreError::Conflict(found)) => assert_eq!(found, code),
                other => panic!("{}: expected Conflict({code}), got {other:?}", f.name),
            }
        }
        assert_eq!(f.store.clients(LIST_LIMIT).await.unwrap().len(), 1);
        // The opening transfers of the refused enrolments were undone with them.
        f.assert_sound().await;
        // The login and phone are still free for someone else.
        let bob = f
            .store
            .enroll_client(new_client(n, "EUR", 5_000, 0))
            .await
            .expect("enrol after conflicts");
        assert_eq!(f.account(&bob).await.balance, 5_000);
        f.assert_sound().await;
    })
    .await;
}

/// The same login enrolled twice at once, in two currencies (so not behind the same
/// funding account): one enrolment wins, the other is told `login_taken`, never an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_enrolments_of_one_login_conflict_cleanly() {
    const PAIRS_COUNT: u64 = 24;
    each_backend(async |f: &Fixture| {
        let mut racers = Vec::new();
        for pair in 0..PAIRS_COUNT {
            let n = f.next();
            for (code, phone_n) in [("EUR", n), ("USD", n + 1_000_000)] {
                let store = Arc::clone(&f.store);
                let client = NewClient {
                    phone: phone(phone_n),
                    ..new_client(n, code, 1_000, 0)
                };
                racers.push((
                    pair,
                    tokio::spawn(async move { store.enroll_client(client).await }),
                ));
            }
        }
        let mut enrolled = vec![0; PAIRS_COUNT as usize];
        for (pair, racer) in racers {
            match racer.await.unwrap() {
                Ok(_) => enrolled[pair as usize] += 1,
                Err(StoreError::Conflict("login_taken")) => {}
                Err(other) => panic!("{}: expected login_taken, got {other:?}", f.name),
            }
        }
        assert!(
            enrolled.iter().all(|&count| count == 1),
            "{}: {enrolled:?}",
            f.name
        );
        f.assert_sound().await;
    })
    .await;
}

/// Commands sent together share a batch; one that fails (here: a login already taken,
/// after it has written its account) must leave its batch-mates applied and itself
/// wholly undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_does_not_fail_its_batch() {
    each_backend(async |f: &Fixture| {
        let taken = f.client(1_000, 0).await;
        let mut tasks = Vec::new();
        for round in 0..32_u64 {
            let store = Arc::clone(&f.store);
            let n = f.next();
            let mut client = new_client(n, "EUR", 500, 0);
            if round % 4 == 0 {
                client.login = taken.login.clone();
            }
            tasks.push(tokio::spawn(
                async move { store.enroll_client(client).await },
            ));
        }
        let mut enrolled = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => enrolled += 1,
                Err(StoreError::Conflict("login_taken")) => refused += 1,
                Err(other) => panic!("{}: unexpected {other:?}", f.name),
            }
        }
        assert_eq!((enrolled, refused), (24, 8), "{}", f.name);
        let clients = f.store.clients(1_000).await.unwrap();
        assert_eq!(
            clients.len(),
            25,
            "{}: the refused enrolments left nothing",
            f.name
        );
        let report = f.store.check_ledger().await.unwrap();
        assert!(report.is_sound(), "{}: {report:?}", f.name);
        let funding_total: i64 = report.currency_sums.iter().map(|(_, sum)| sum).sum();
        assert_eq!(funding_total, 0);
    })
    .await;
}

#[tokio::test]
async fn enrol_merchants_and_find_them_by_key_hash() {
    each_backend(async |f: &Fixture| {
        let shop = NewMerchant {
            name: "Shop".into(),
            api_key_hash: bytes32(KEY_TAG, 1_000),
            bank: None,
            now_s: NOW,
        };
        let shop = f.store.enroll_merchant(shop).await.unwrap();
        let cafe = NewMerchant {
            name: "Café".into(),
            api_key_hash: bytes32(KEY_TAG, 1_001),
            bank: None,
            now_s: NOW,
        };
        let cafe = f.store.enroll_merchant(cafe).await.unwrap();
        assert_eq!(shop.name, "Shop");
        assert_ne!(shop.id, cafe.id);

        let found = f
            .store
            .merchant_by_key_hash(bytes32(KEY_TAG, 1_001))
            .await
            .unwrap();
        assert_eq!(found, Some(cafe.clone()));
        assert_eq!(
            f.store
                .merchant_by_key_hash(bytes32(KEY_TAG, 1_002))
                .await
                .unwrap(),
            None
        );
        assert_eq!(f.store.merchant(shop.id).await.unwrap(), Some(shop.clone()));
        assert_eq!(f.store.merchant(i64::MAX).await.unwrap(), None);
        assert_eq!(
            f.store.merchants(LIST_LIMIT).await.unwrap(),
            vec![shop.clone(), cafe.clone()]
        );
        assert_eq!(f.store.merchants(1).await.unwrap(), vec![shop.clone()]);

        let copy = NewMerchant {
            name: "Copy".into(),
            api_key_hash: bytes32(KEY_TAG, 1_000),
            bank: None,
            now_s: NOW,
        };
        match f.store.enroll_merchant(copy).await {
            Err(StoreError::Conflict(code)) => assert_eq!(code, "api_key_taken"),
            other => panic!(
                "{}: expected Conflict(api_key_taken), got {other:?}",
                f.name
            ),
        }
        assert_eq!(f.store.merchants(LIST_LIMIT).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn block_and_unblock_a_client() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f
            .issue(&alice, policy(3, AmountRule::Any, MerchantLock::Any))
            .await;

        assert!(f.set_blocked(alice.id, true).await);
        assert!(f.store.client(alice.id).await.unwrap().unwrap().blocked);
        assert_eq!(
            declined(f.authorize(shop.id, &card, 100, NOW).await),
            Decline::Blocked
        );

        assert!(f.set_blocked(alice.id, false).await);
        assert!(!f.store.client(alice.id).await.unwrap().unwrap().blocked);
        authorized(f.authorize(shop.id, &card, 100, NOW).await);

        assert!(!f.set_blocked(i64::MAX, true).await, "no such client");
        f.assert_sound().await;
    })
    .await;
}

/// A merchant may have a number sent only to a client who paid it (a captured payment)
/// or signed in on one of its checkouts, and not while their payments are stopped; every
/// other case is one refusal, with nothing issued or queued.
#[tokio::test]
async fn a_merchant_reaches_only_clients_who_dealt_with_it() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let other_shop = f.merchant().await;
        let eur = currency("EUR");
        let ask = async |client: &ClientRecord, currency: Currency| {
            f.merchant_number(
                &shop,
                client,
                currency,
                MessageBudget::UNLIMITED,
                u32::MAX,
                NOW,
            )
            .await
        };
        let unreachable = async |client: &ClientRecord, currency: Currency| {
            let before = (f.messages_since(client, 0).await, f.pending_count().await);
            let outcome = ask(client, currency).await;
            assert!(
                matches!(outcome, IssueOutcome::Unreachable),
                "{}: client {} reached",
                f.name,
                client.id
            );
            let after = (f.messages_since(client, 0).await, f.pending_count().await);
            assert_eq!(after, before, "{}: nothing queued", f.name);
        };

        // A client who never dealt with the shop: whatever the currency asked.
        let alice = f.client(10_000, 0).await;
        unreachable(&alice, eur).await;
        unreachable(&alice, currency("USD")).await;
        assert!(
            f.store
                .client_numbers(alice.id, LIST_LIMIT)
                .await
                .unwrap()
                .is_empty()
        );
        // Nor does paying another merchant, or an authorization voided, introduce her.
        f.pays(&other_shop, &alice, NOW - 100).await;
        let card = f.issue_at(&alice, one_use(), NOW - 50).await;
        let voided = authorized(f.authorize(shop.id, &card, 100, NOW - 50).await);
        let void = MerchantCommand::Void {
            authorization_id: voided.id,
        };
        assert!(matches!(
            f.run(shop.id, void, NOW - 50).await,
            Outcome::Voided { .. }
        ));
        unreachable(&alice, eur).await;
        // Signing in on one of the shop's checkouts does.
        f.held(&shop, &alice, 1_000).await;
        assert!(
            matches!(ask(&alice, eur).await, IssueOutcome::Issued(_)),
            "{}",
            f.name
        );
        assert!(
            matches!(
                ask(&alice, currency("USD")).await,
                IssueOutcome::CurrencyMismatch
            ),
            "{}: a client of the shop hears of the currency",
            f.name
        );

        // Paying the shop does; a blocked client is unreachable again until unblocked.
        let bob = f.client(10_000, 0).await;
        unreachable(&bob, eur).await;
        f.pays(&shop, &bob, NOW - 100).await;
        assert!(
            matches!(ask(&bob, eur).await, IssueOutcome::Issued(_)),
            "{}",
            f.name
        );
        assert!(f.set_blocked(bob.id, true).await);
        let blocked = f.store.client(bob.id).await.unwrap().unwrap();
        unreachable(&blocked, eur).await;
        assert!(f.set_blocked(bob.id, false).await);
        assert!(
            matches!(ask(&bob, eur).await, IssueOutcome::Issued(_)),
            "{}",
            f.name
        );
        f.assert_sound().await;
    })
    .await;
}

/// A merchant reaches at most so many distinct clients an hour; a client already reached
/// within the hour does not count again, and the window slides.
#[tokio::test]
async fn a_merchant_reaches_so_many_clients_an_hour() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let eur = currency("EUR");
        let mut clients = Vec::new();
        for _ in 0..3 {
            let client = f.client(10_000, 0).await;
            f.pays(&shop, &client, NOW - 2 * 3600).await;
            clients.push(client);
        }
        let ask = async |client: &ClientRecord, now_s: i64| {
            f.merchant_number(&shop, client, eur, MessageBudget::UNLIMITED, 2, now_s)
                .await
        };
        assert!(matches!(
            ask(&clients[0], NOW).await,
            IssueOutcome::Issued(_)
        ));
        assert!(matches!(
            ask(&clients[1], NOW + 1).await,
            IssueOutcome::Issued(_)
        ));
        assert!(matches!(
            ask(&clients[0], NOW + 2).await,
            IssueOutcome::Issued(_)
        ));
        let pending = f.pending_count().await;
        assert!(
            matches!(
                ask(&clients[2], NOW + 3).await,
                IssueOutcome::TooManyClients
            ),
            "{}",
            f.name
        );
        assert_eq!(
            f.pending_count().await,
            pending,
            "{}: nothing queued",
            f.name
        );
        assert!(
            matches!(ask(&clients[2], NOW + 3601).await, IssueOutcome::Issued(_)),
            "{}: the window slides",
            f.name
        );

        // Several asked at once (on PostgreSQL, in lanes that run side by side): the
        // merchant's row is locked while its clients are counted, so exactly the
        // allowance goes out.
        let crowd_shop = f.merchant().await;
        let mut crowd = Vec::new();
        for _ in 0..8 {
            let client = f.client(10_000, 0).await;
            f.pays(&crowd_shop, &client, NOW - 2 * 3600).await;
            crowd.push(client);
        }
        let asked = crowd.iter().map(|client| {
            f.merchant_number(&crowd_shop, client, eur, MessageBudget::UNLIMITED, 3, NOW)
        });
        let outcomes = futures_util::future::join_all(asked).await;
        let issued = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, IssueOutcome::Issued(_)))
            .count();
        let refused = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, IssueOutcome::TooManyClients))
            .count();
        assert_eq!((issued, refused), (3, 5), "{}", f.name);
    })
    .await;
}
