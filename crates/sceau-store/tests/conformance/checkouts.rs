//! Checkouts paid with a seal (Figures 1-3): creation, hold, seals right and wrong,
//! resends, expiry, and what a merchant may do with a checkout's authorization.

use crate::fixtures::*;
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::ledger::AuthorizationState;
use sceau_store::{
    CancelCheckout, CancelOutcome, CheckoutEvent, CheckoutRefusal, CheckoutState, CheckoutView,
    ClientRecord, HoldOutcome, MerchantCommand, MerchantRecord, NewSession, Outcome, SealOutcome,
    SendOutcome, StoreError,
};
use std::sync::Arc;

fn refusal_of_seal(outcome: SealOutcome) -> CheckoutRefusal {
    match outcome {
        SealOutcome::Refused(refusal) => refusal,
        SealOutcome::Paid(..) => panic!("expected a refusal, the checkout was paid"),
        SealOutcome::Wrong { tries_left, .. } => {
            panic!("expected a refusal, got wrong ({tries_left} left)")
        }
        SealOutcome::Failed { .. } => panic!("expected a refusal, the checkout failed"),
        SealOutcome::Expired => panic!("expected a refusal, the seal expired"),
    }
}

#[tokio::test]
async fn checkout_creation_is_idempotent_and_readable_by_its_public_id() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let first = new_checkout(&shop, 1, 4_990, Some("cart-1"));
        let (created, replayed) = f.store.create_checkout(first).await.unwrap();
        assert!(!replayed);
        assert_eq!(created.state, CheckoutState::Open);
        assert_eq!((created.amount, created.currency.as_str()), (4_990, "EUR"));
        assert_eq!(created.merchant_name, shop.name);
        assert_eq!(
            (
                created.client_id,
                created.authorization_id,
                created.seal.clone()
            ),
            (None, None, None)
        );
        // The same key and request: the same checkout, not a second one.
        let again = new_checkout(&shop, 2, 4_990, Some("cart-1"));
        let (replay, replayed) = f.store.create_checkout(again).await.unwrap();
        assert!(replayed);
        assert_eq!(replay, created);
        // The same key with another request is refused.
        let mut other = new_checkout(&shop, 3, 5_000, Some("cart-1"));
        other.idempotency.as_mut().unwrap().request_hash = bytes32(REQUEST_TAG, 78);
        assert!(matches!(
            f.store.create_checkout(other).await,
            Err(StoreError::IdempotencyMismatch)
        ));
        assert_eq!(f.reread_checkout(&created).await, created);
        assert_eq!(f.store.checkout("co_nothing").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn checkout_hold_binds_the_client_and_holds_the_amount_once() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        let checkout = f.checkout(&shop, 4_990).await;
        let HoldOutcome::Held(held) = f.hold(&checkout, &alice, NOW + 1).await else {
            panic!("{}: not held", f.name);
        };
        assert_eq!(held.state, CheckoutState::Held);
        assert_eq!(held.client_id, Some(alice.id));
        assert!(held.authorization_id.is_some() && held.payee_account_id.is_some());
        assert!(
            held.number_last_four
                .as_ref()
                .is_some_and(|four| four.len() == 4)
        );
        assert_eq!(
            (
                f.account(&alice).await.balance,
                f.account(&alice).await.held
            ),
            (10_000, 4_990)
        );
        // Signing in again changes nothing; another client cannot take it over.
        assert!(matches!(
            f.hold(&checkout, &alice, NOW + 2).await,
            HoldOutcome::Held(_)
        ));
        assert_eq!(f.account(&alice).await.held, 4_990);
        assert!(matches!(
            f.hold(&checkout, &bob, NOW + 2).await,
            HoldOutcome::Refused(CheckoutRefusal::OtherClient)
        ));
        assert_eq!(f.account(&bob).await.held, 0);
        // Funds, currency, time.
        let poor = f.client(100, 0).await;
        let dear = f.checkout(&shop, 4_990).await;
        assert!(matches!(
            f.hold(&dear, &poor, NOW).await,
            HoldOutcome::Declined(Decline::InsufficientFunds)
        ));
        assert_eq!(f.reread_checkout(&dear).await.state, CheckoutState::Open);
        let dollars = f.client_in("USD", 10_000, 0).await;
        assert!(matches!(
            f.hold(&dear, &dollars, NOW).await,
            HoldOutcome::Declined(Decline::CurrencyMismatch)
        ));
        assert!(matches!(
            f.hold(&dear, &bob, NOW + CHECKOUT_S).await,
            HoldOutcome::Refused(CheckoutRefusal::Expired)
        ));
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn checkout_the_right_seal_pays_once_and_tells_the_merchant() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 4_990).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 5).await,
            SealOutcome::Refused(CheckoutRefusal::NoLiveSeal)
        ));
        let pending_before = f.pending_count().await;
        let sealed = f.sent(&held, &alice, 1, NOW + 10).await;
        assert_eq!(
            f.pending_count().await,
            pending_before + 1,
            "the SMS is queued with the seal"
        );
        assert_eq!(sealed.seal_sends, 1);
        let stored = sealed.seal.clone().unwrap();
        assert_eq!(
            (
                stored.nonce,
                stored.digits,
                stored.issued_at_s,
                stored.expires_at_s
            ),
            ([1; 16], 8, NOW + 10, NOW + 10 + SEAL_S)
        );
        // Another client cannot type it.
        let bob = f.client(10_000, 0).await;
        assert_eq!(
            refusal_of_seal(f.type_seal(&held, &bob, 1, true, NOW + 20).await),
            CheckoutRefusal::OtherClient
        );
        let SealOutcome::Paid(paid, _) = f.type_seal(&held, &alice, 1, true, NOW + 20).await else {
            panic!("{}: the right seal did not pay", f.name);
        };
        assert_eq!(paid.state, CheckoutState::Paid);
        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (10_000 - 4_990, 0));
        assert_eq!(f.merchant_balance(&shop, &paid).await, 4_990);
        let authorization = f
            .store
            .authorization(shop.id, paid.authorization_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (authorization.state, authorization.captured),
            (AuthorizationState::Captured, 4_990)
        );
        // A seal is accepted once.
        assert_eq!(
            refusal_of_seal(f.type_seal(&held, &alice, 1, true, NOW + 21).await),
            CheckoutRefusal::WrongState
        );
        assert!(matches!(
            f.send_seal(&held, &alice, 2, NOW + 100).await,
            SendOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        // The merchant's webhook, once.
        let hooks = f.webhooks(NOW + 21).await;
        assert_eq!(hooks.len(), 1, "{}", f.name);
        assert_eq!(
            (
                hooks[0].event.as_str(),
                hooks[0].merchant_id,
                hooks[0].url.as_str()
            ),
            ("checkout.paid", shop.id, "https://shop.example/hooks")
        );
        let event: CheckoutEvent = serde_json::from_str(&hooks[0].body).unwrap();
        assert_eq!(
            (
                event.checkout_id.as_str(),
                event.amount.as_str(),
                event.state
            ),
            (held.public_id.as_str(), "49.90", CheckoutState::Paid)
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn checkout_three_wrong_seals_fail_the_payment_and_release_the_hold() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 2_500).await;
        f.sent(&held, &alice, 1, NOW).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, false, NOW + 1).await,
            SealOutcome::Wrong {
                tries_left: 2,
                paused: None
            }
        ));
        // A new seal kills the old one but not the count of wrong tries of this payment:
        // the old seal, typed now, is a wrong one.
        f.sent(&held, &alice, 2, NOW + 60).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 61).await,
            SealOutcome::Wrong {
                tries_left: 1,
                paused: None
            }
        ));
        let SealOutcome::Failed { view, paused: None } =
            f.type_seal(&held, &alice, 2, false, NOW + 63).await
        else {
            panic!("{}: the third wrong seal did not fail the payment", f.name);
        };
        assert_eq!(
            (view.state, view.failure.as_deref(), view.seal_wrong_tries),
            (CheckoutState::Failed, Some("seal_tries_exhausted"), 3)
        );
        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (10_000, 0));
        // Dead: even the right seal does nothing now.
        assert_eq!(
            refusal_of_seal(f.type_seal(&held, &alice, 2, true, NOW + 64).await),
            CheckoutRefusal::WrongState
        );
        let hooks = f.webhooks(NOW + 64).await;
        assert_eq!(
            hooks
                .iter()
                .map(|hook| hook.event.as_str())
                .collect::<Vec<_>>(),
            ["checkout.failed"]
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn seals_are_resent_after_a_cooldown_a_bounded_number_of_times_and_expire() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        assert!(matches!(
            f.send_seal(&held, &alice, 2, NOW + 29).await,
            SendOutcome::Refused(CheckoutRefusal::SealCooldown { until_s }) if until_s == NOW + 30
        ));
        f.sent(&held, &alice, 2, NOW + 30).await;
        let third = f.sent(&held, &alice, 3, NOW + 60).await;
        assert_eq!(third.seal_sends, 3);
        assert!(matches!(
            f.send_seal(&held, &alice, 4, NOW + 200).await,
            SendOutcome::Refused(CheckoutRefusal::NoSealsLeft)
        ));
        // Typed after its time: refused without counting a try.
        assert!(matches!(
            f.type_seal(&held, &alice, 3, true, NOW + 60 + SEAL_S).await,
            SealOutcome::Expired
        ));
        assert_eq!(f.reread_checkout(&held).await.seal_wrong_tries, 0);
        assert_eq!(f.reread_checkout(&held).await.state, CheckoutState::Held);
    })
    .await;
}

#[tokio::test]
async fn five_wrong_seals_in_a_row_pause_the_client() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(100_000, 0).await;
        let mut pauses = Vec::new();
        for (checkout_index, wrongs) in [2, 2, 1].into_iter().enumerate() {
            let held = f.held(&shop, &alice, 1_000).await;
            let nonce = checkout_index as u8 + 1;
            f.sent(&held, &alice, nonce, NOW).await;
            for _ in 0..wrongs {
                match f.type_seal(&held, &alice, nonce, false, NOW + 1).await {
                    SealOutcome::Wrong { paused, .. } | SealOutcome::Failed { paused, .. } => {
                        pauses.push(paused)
                    }
                    _ => panic!("{}: expected a wrong seal", f.name),
                }
            }
        }
        assert_eq!(pauses.len(), 5);
        assert!(pauses[..4].iter().all(Option::is_none), "{pauses:?}");
        let paused = pauses[4].expect("the fifth failure pauses the client");
        assert_eq!(paused.client_id, alice.id);
        assert!(paused.until_s > NOW + 1);
        let held = f.held_or_declined(&shop, &alice).await;
        assert!(held.is_none(), "a paused client cannot start a payment");
    })
    .await;
}

impl Fixture {
    /// Holds a fresh checkout for `client`; `None` if it was declined as blocked.
    async fn held_or_declined(
        &self,
        merchant: &MerchantRecord,
        client: &ClientRecord,
    ) -> Option<CheckoutView> {
        let checkout = self.checkout(merchant, 1_000).await;
        match self.hold(&checkout, client, NOW + 2).await {
            HoldOutcome::Held(view) => Some(*view),
            HoldOutcome::Declined(Decline::Blocked) => None,
            HoldOutcome::Declined(other) => panic!("{}: declined {other:?}", self.name),
            HoldOutcome::Refused(refusal) => panic!("{}: refused {refusal:?}", self.name),
        }
    }
}

#[tokio::test]
async fn checkouts_past_their_time_expire_and_release_their_holds() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 3_000).await;
        let open = f.checkout(&shop, 1_000).await;
        let early = f.store.expire(NOW + CHECKOUT_S - 1).await.unwrap();
        assert_eq!(early.checkouts_expired, 0);
        let swept = f.store.expire(NOW + CHECKOUT_S).await.unwrap();
        assert_eq!((swept.checkouts_expired, swept.holds_released), (2, 1));
        for checkout in [&held, &open] {
            let view = f.reread_checkout(checkout).await;
            assert_eq!(
                (view.state, view.failure.as_deref()),
                (CheckoutState::Expired, Some("checkout_expired"))
            );
        }
        assert_eq!(f.account(&alice).await.held, 0);
        assert!(matches!(
            f.send_seal(&held, &alice, 1, NOW + CHECKOUT_S + 1).await,
            SendOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        let hooks = f.webhooks(NOW + CHECKOUT_S).await;
        assert_eq!(
            hooks
                .iter()
                .filter(|hook| hook.event == "checkout.expired")
                .count(),
            2
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_seal_counts_only_in_a_live_session_of_the_checkouts_client() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let (alice, bob) = (f.client(10_000, 0).await, f.client(10_000, 0).await);
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        let type_in = async |session: [u8; 32], now_s: i64| {
            f.store
                .type_seal(Fixture::typed(&held, session, 1, true, now_s))
                .await
                .expect("type a seal")
        };
        // Signed out, or never signed in: refused, and nothing counted.
        let signed_out = f.session(&alice).await;
        f.store.delete_session(signed_out).await.unwrap();
        assert_eq!(
            refusal_of_seal(type_in(signed_out, NOW + 1).await),
            CheckoutRefusal::SignedOut
        );
        assert_eq!(
            refusal_of_seal(type_in(bytes32(TOKEN_TAG, 999_999), NOW + 1).await),
            CheckoutRefusal::SignedOut
        );
        // Expired.
        let short = bytes32(TOKEN_TAG, 1_000 + f.next());
        f.store
            .create_session(NewSession {
                token_hash: short,
                client_id: alice.id,
                now_s: NOW,
                expires_at_s: NOW + 2,
            })
            .await
            .unwrap();
        assert_eq!(
            refusal_of_seal(type_in(short, NOW + 2).await),
            CheckoutRefusal::SignedOut
        );
        // Another client's live session: refused too.
        let bobs = f.session(&bob).await;
        assert_eq!(
            refusal_of_seal(type_in(bobs, NOW + 3).await),
            CheckoutRefusal::OtherClient
        );
        let unchanged = f.reread_checkout(&held).await;
        assert_eq!(
            (unchanged.state, unchanged.seal_wrong_tries),
            (CheckoutState::Held, 0),
            "{}",
            f.name
        );
        // The client's own session: paid.
        let alices = f.session(&alice).await;
        assert!(matches!(
            type_in(alices, NOW + 4).await,
            SealOutcome::Paid(..)
        ));
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn racing_right_seals_pay_once() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        let session = f.session(&alice).await;
        // Spawned all before the first is awaited, so that they race.
        let tries: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&f.store);
                let typed = Fixture::typed(&held, session, 1, true, NOW + 1);
                tokio::spawn(async move { store.type_seal(typed).await })
            })
            .collect();
        let mut paid = 0;
        for task in tries {
            match task.await.unwrap() {
                Ok(SealOutcome::Paid(..)) => paid += 1,
                Ok(SealOutcome::Refused(CheckoutRefusal::WrongState)) => {}
                Err(StoreError::Conflict(_)) => {}
                Ok(_) => panic!("{}: unexpected outcome", f.name),
                Err(error) => panic!("{}: {error}", f.name),
            }
        }
        assert_eq!(paid, 1, "{}", f.name);
        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (9_000, 0));
        assert_eq!(f.webhooks(NOW + 2).await.len(), 1);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_merchant_cannot_capture_or_void_a_checkout_only_refund_it_once_paid() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 4_000).await;
        let authorization_id = held.authorization_id.unwrap();
        let capture = MerchantCommand::Capture {
            authorization_id,
            amount: None,
        };
        let void = MerchantCommand::Void { authorization_id };
        assert_eq!(
            rejected(f.run(shop.id, capture.clone(), NOW + 1).await),
            Rejection::OfCheckout
        );
        assert_eq!(
            rejected(f.run(shop.id, void.clone(), NOW + 1).await),
            Rejection::OfCheckout
        );
        let account = f.account(&alice).await;
        assert_eq!(
            (account.balance, account.held),
            (10_000, 4_000),
            "{}",
            f.name
        );
        f.sent(&held, &alice, 1, NOW + 2).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 3).await,
            SealOutcome::Paid(..)
        ));
        assert_eq!(
            rejected(f.run(shop.id, void, NOW + 4).await),
            Rejection::OfCheckout
        );
        let refund = MerchantCommand::Refund {
            authorization_id,
            amount: Some(eur(1_000)),
        };
        assert!(matches!(
            f.run(shop.id, refund, NOW + 5).await,
            Outcome::Refunded { amount: 1_000, .. }
        ));
        assert_eq!(f.account(&alice).await.balance, 7_000);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_client_has_at_most_three_checkouts_held_and_ten_seals_an_hour() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(100_000, 0).await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(f.held(&shop, &alice, 1_000).await);
        }
        let fourth = f.checkout(&shop, 1_000).await;
        assert!(matches!(
            f.hold(&fourth, &alice, NOW).await,
            HoldOutcome::Refused(CheckoutRefusal::TooManyHeld)
        ));
        assert_eq!(
            f.account(&alice).await.held,
            3_000,
            "nothing held for the fourth"
        );
        // Ten seals an hour across the client's checkouts: 3 + 3 + 3 + 1.
        let mut sent = 0;
        for (index, checkout) in held.iter().enumerate() {
            for send in 0..3 {
                let nonce = (index * 3 + send) as u8 + 1;
                f.sent(checkout, &alice, nonce, NOW + 30 * send as i64)
                    .await;
                sent += 1;
            }
        }
        assert_eq!(sent, 9);
        let SealOutcome::Paid(..) = f.type_seal(&held[0], &alice, 3, true, NOW + 61).await else {
            panic!("{}: the right seal did not pay", f.name);
        };
        let next = f.held(&shop, &alice, 1_000).await;
        f.sent(&next, &alice, 20, NOW + 62).await;
        let SealOutcome::Paid(..) = f.type_seal(&held[1], &alice, 6, true, NOW + 63).await else {
            panic!("{}: the right seal did not pay", f.name);
        };
        let last = f.held(&shop, &alice, 1_000).await;
        assert!(matches!(
            f.send_seal(&last, &alice, 21, NOW + 64).await,
            SendOutcome::Refused(CheckoutRefusal::TooManySeals)
        ));
        f.assert_sound().await;
    })
    .await;
}

impl Fixture {
    async fn cancel(
        &self,
        checkout: &CheckoutView,
        client: &ClientRecord,
        now_s: i64,
    ) -> CancelOutcome {
        self.store
            .cancel_checkout(CancelCheckout {
                public_id: checkout.public_id.clone(),
                client_id: client.id,
                now_s,
            })
            .await
            .expect("cancel a checkout")
    }

    async fn canceled(
        &self,
        checkout: &CheckoutView,
        client: &ClientRecord,
        now_s: i64,
    ) -> CheckoutView {
        match self.cancel(checkout, client, now_s).await {
            CancelOutcome::Canceled(view) => *view,
            CancelOutcome::Refused(refusal) => panic!("{}: cancel refused: {refusal:?}", self.name),
        }
    }

    async fn cancel_refused(
        &self,
        checkout: &CheckoutView,
        client: &ClientRecord,
        now_s: i64,
    ) -> CheckoutRefusal {
        match self.cancel(checkout, client, now_s).await {
            CancelOutcome::Refused(refusal) => refusal,
            CancelOutcome::Canceled(_) => panic!("{}: expected a refusal, canceled", self.name),
        }
    }
}

#[tokio::test]
async fn a_cancel_racing_the_right_seal_ends_the_checkout_one_way() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(100_000, 0).await;
        let session = f.session(&alice).await;
        let rounds = 6;
        let mut paid = 0;
        for round in 0..rounds {
            let held = f.held(&shop, &alice, 1_000).await;
            f.sent(&held, &alice, 1, NOW).await;
            // Both spawned before either is awaited, so that they race.
            let seal = {
                let store = Arc::clone(&f.store);
                let typed = Fixture::typed(&held, session, 1, true, NOW + 1);
                tokio::spawn(async move { store.type_seal(typed).await })
            };
            let cancel = {
                let store = Arc::clone(&f.store);
                let cancel = CancelCheckout {
                    public_id: held.public_id.clone(),
                    client_id: alice.id,
                    now_s: NOW + 1,
                };
                tokio::spawn(async move { store.cancel_checkout(cancel).await })
            };
            let sealed = match seal.await.unwrap() {
                Ok(SealOutcome::Paid(..)) => true,
                Ok(SealOutcome::Refused(CheckoutRefusal::WrongState))
                | Err(StoreError::Conflict(_)) => false,
                Ok(_) => panic!("{}: unexpected seal outcome", f.name),
                Err(error) => panic!("{}: {error}", f.name),
            };
            let canceled = match cancel.await.unwrap() {
                Ok(CancelOutcome::Canceled(_)) => true,
                Ok(CancelOutcome::Refused(CheckoutRefusal::WrongState))
                | Err(StoreError::Conflict(_)) => false,
                Ok(CancelOutcome::Refused(refusal)) => panic!("{}: {refusal:?}", f.name),
                Err(error) => panic!("{}: {error}", f.name),
            };
            let state = f.reread_checkout(&held).await.state;
            let authorization = f
                .store
                .authorization(shop.id, held.authorization_id.unwrap())
                .await
                .unwrap()
                .unwrap()
                .state;
            match (sealed, canceled) {
                (true, false) => {
                    assert_eq!(state, CheckoutState::Paid, "{} round {round}", f.name);
                    assert_eq!(authorization, AuthorizationState::Captured);
                    paid += 1;
                }
                (false, true) => {
                    assert_eq!(state, CheckoutState::Canceled, "{} round {round}", f.name);
                    assert_eq!(authorization, AuthorizationState::Voided);
                }
                // A conflict on both sides leaves it held, its seal still good.
                (false, false) => {
                    assert_eq!(state, CheckoutState::Held, "{} round {round}", f.name);
                    let view = f.canceled(&held, &alice, NOW + 2).await;
                    assert_eq!(view.state, CheckoutState::Canceled);
                }
                (true, true) => panic!("{} round {round}: paid and canceled", f.name),
            }
        }
        let account = f.account(&alice).await;
        assert_eq!(
            (account.balance, account.held),
            (100_000 - 1_000 * paid, 0),
            "{}",
            f.name
        );
        assert_eq!(f.webhooks(NOW + 3).await.len(), rounds, "{}", f.name);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_client_cancels_a_held_checkout_its_hold_released_and_the_merchant_told() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let (alice, bob) = (f.client(10_000, 0).await, f.client(10_000, 0).await);
        let held = f.held(&shop, &alice, 2_500).await;
        f.sent(&held, &alice, 1, NOW).await;
        assert_eq!(f.account(&alice).await.held, 2_500);
        let other = f.cancel_refused(&held, &bob, NOW + 1).await;
        assert_eq!(other, CheckoutRefusal::OtherClient);
        let view = f.canceled(&held, &alice, NOW + 2).await;
        assert_eq!(
            (view.state, view.failure.as_deref(), view.client_id),
            (
                CheckoutState::Canceled,
                Some("canceled_by_client"),
                Some(alice.id)
            )
        );
        assert_eq!(f.reread_checkout(&held).await, view);
        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (10_000, 0));
        let authorization_id = held.authorization_id.unwrap();
        let authorization = f.store.authorization(shop.id, authorization_id).await;
        assert_eq!(
            authorization.unwrap().unwrap().state,
            AuthorizationState::Voided
        );
        // The live seal died with it, and nothing more can happen to it.
        assert_eq!(
            refusal_of_seal(f.type_seal(&held, &alice, 1, true, NOW + 3).await),
            CheckoutRefusal::WrongState
        );
        assert!(matches!(
            f.send_seal(&held, &alice, 2, NOW + 60).await,
            SendOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        assert!(matches!(
            f.hold(&held, &alice, NOW + 61).await,
            HoldOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        let twice = f.cancel_refused(&held, &alice, NOW + 62).await;
        assert_eq!(twice, CheckoutRefusal::WrongState);
        assert_eq!(f.account(&alice).await.held, 0);
        // The sweep leaves it as it is.
        f.store.expire(NOW + CHECKOUT_S).await.unwrap();
        assert_eq!(
            f.reread_checkout(&held).await.state,
            CheckoutState::Canceled
        );
        let hooks = f.webhooks(NOW + CHECKOUT_S).await;
        let events: Vec<CheckoutEvent> = hooks
            .iter()
            .map(|hook| serde_json::from_str(&hook.body).unwrap())
            .collect();
        assert_eq!(events.len(), 1, "{}: {events:?}", f.name);
        assert_eq!(
            (events[0].event.as_str(), events[0].state),
            ("checkout.canceled", CheckoutState::Canceled)
        );
        assert_eq!(events[0].checkout_id, held.public_id);
        assert_eq!(hooks[0].event, "checkout.canceled");
        let phone = alice.phone.as_str();
        let chain = f.evidence(&format!("checkout:{}", held.id)).await;
        assert_eq!(
            crate::evidence::checked_chain(f.name, &chain, phone),
            ["seal.sent", "checkout.canceled"]
        );
        let record: serde_json::Value = serde_json::from_slice(&chain[1].record).unwrap();
        assert_eq!(record["failure"], "canceled_by_client");
        assert_eq!(record["client"], alice.id.to_string());
        let number_id = f
            .store
            .authorization(shop.id, authorization_id)
            .await
            .unwrap()
            .unwrap()
            .number_id;
        let number = f.evidence(&format!("number:{number_id}")).await;
        assert_eq!(
            crate::evidence::checked_chain(f.name, &number, phone),
            ["number.issued", "number.authorized", "number.voided"]
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_checkout_is_canceled_only_before_it_ends() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let (alice, bob) = (f.client(10_000, 0).await, f.client(10_000, 0).await);
        // Open: nobody's yet; canceled by the client who refused it, nothing held.
        let open = f.checkout(&shop, 1_000).await;
        let view = f.canceled(&open, &bob, NOW + 1).await;
        assert_eq!(
            (view.state, view.client_id, view.authorization_id),
            (CheckoutState::Canceled, Some(bob.id), None)
        );
        assert!(matches!(
            f.hold(&open, &bob, NOW + 2).await,
            HoldOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        assert!(matches!(
            f.hold(&open, &alice, NOW + 2).await,
            HoldOutcome::Refused(CheckoutRefusal::OtherClient)
        ));
        // Paid: refused, and the payment stands.
        let paid = f.held(&shop, &alice, 1_000).await;
        f.sent(&paid, &alice, 1, NOW).await;
        assert!(matches!(
            f.type_seal(&paid, &alice, 1, true, NOW + 3).await,
            SealOutcome::Paid(..)
        ));
        let after_paid = f.cancel_refused(&paid, &alice, NOW + 4).await;
        assert_eq!(after_paid, CheckoutRefusal::WrongState);
        assert_eq!(f.reread_checkout(&paid).await.state, CheckoutState::Paid);
        assert_eq!(f.account(&alice).await.balance, 9_000);
        // Run out (before the sweep): refused as expired; the sweep ends it.
        let late = f.held(&shop, &alice, 500).await;
        let run_out = f.cancel_refused(&late, &alice, NOW + CHECKOUT_S).await;
        assert_eq!(run_out, CheckoutRefusal::Expired);
        f.store.expire(NOW + CHECKOUT_S).await.unwrap();
        let expired = f.cancel_refused(&late, &alice, NOW + CHECKOUT_S).await;
        assert_eq!(expired, CheckoutRefusal::WrongState);
        let unknown = CheckoutView {
            public_id: "co_nothing".to_owned(),
            ..open
        };
        let missing = f.cancel_refused(&unknown, &alice, NOW).await;
        assert_eq!(missing, CheckoutRefusal::NotFound);
        assert_eq!(f.account(&alice).await.held, 0);
        f.assert_sound().await;
    })
    .await;
}
