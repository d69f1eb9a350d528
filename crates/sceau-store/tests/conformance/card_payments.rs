//! Card payments: issuing numbers, authorizations and their declines, capture, void,
//! refund, expiry of holds and numbers, idempotent commands, and all of it under races.

use crate::fixtures::*;
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::policy::{AmountRule, MerchantLock, NumberState, UsagePolicy};
use sceau_domain::reach::{MessageBudget, TooMany};
use sceau_domain::{Expiry, Money};
use sceau_store::{
    AuthorizationView, ClientRecord, Executed, Expired, IdempotencyKey, IssueOutcome,
    MerchantCommand, MerchantRecord, NewNumber, NumberView, Origin, Outcome, Paused, PaymentEntry,
    SealOutcome, StoreError,
};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------
// Issuing numbers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn issue_a_number_and_queue_its_message() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let named = policy(2, AmountRule::Exact(4_999), MerchantLock::Named(shop.id));
        let card = f.issue(&alice, named).await;
        let expiry = Expiry::of_instant(NOW + VALIDITY_S);
        let n = u64::from_le_bytes(card.number[1..9].try_into().unwrap());
        let expected = NumberView {
            id: card.view.id,
            client_id: alice.id,
            last_four: format!("{:04}", n % 10_000),
            expiry_month: expiry.month,
            expiry_year: expiry.year,
            currency: "EUR".into(),
            origin: Origin::Client,
            policy: named,
            state: NumberState::Live,
            uses_count: 0,
            amount_used: 0,
            locked_merchant: Some(shop.id),
            created_at_s: NOW,
        };
        assert_eq!(card.view, expected);
        assert_eq!(f.number(&card).await, expected);

        let pending = f.store.pending_messages(LIST_LIMIT).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].address, alice.phone.as_str());
        assert_eq!(pending[0].sealed_body, format!("sealed-{n}").into_bytes());
        assert_eq!(
            (pending[0].state.as_str(), pending[0].route.as_deref()),
            ("pending", None)
        );
        assert_eq!(pending[0].created_at_s, NOW);

        let first = f.issue(&alice, one_use()).await;
        assert_eq!(first.view.locked_merchant, None);
        assert_eq!(first.view.policy.merchant, MerchantLock::Any);
        let listed: Vec<i64> = f
            .store
            .client_numbers(alice.id, LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(listed, vec![first.view.id, card.view.id], "newest first");
        assert_eq!(f.store.client_numbers(alice.id, 1).await.unwrap().len(), 1);

        // By their last four digits: the client's own only, newest first, `limit` at most
        // (two numbers of Alice's end alike here).
        let bob = f.client(10_000, 0).await;
        let bobs = f.issue(&bob, one_use()).await;
        let mut alike = Vec::new();
        for client in [&alice, &alice, &bob] {
            let n = f.next();
            let mut number = new_number(client, one_use(), bytes32(NUMBER_TAG, n), n, NOW);
            number.last_four = "4242".into();
            match f.store.issue_number(number).await.unwrap() {
                IssueOutcome::Issued(view) => alike.push(view.id),
                _ => panic!("a number not issued"),
            }
        }
        let ending = |client: &ClientRecord, last_four: &str, limit| {
            let (client_id, last_four) = (client.id, last_four.to_owned());
            async move {
                let found = f
                    .store
                    .client_numbers_ending(client_id, &last_four, limit)
                    .await
                    .unwrap();
                assert!(
                    found
                        .iter()
                        .all(|n| n.last_four == last_four && n.client_id == client_id)
                );
                found.iter().map(|n| n.id).collect::<Vec<i64>>()
            }
        };
        assert_eq!(
            ending(&alice, "4242", LIST_LIMIT).await,
            [alike[1], alike[0]]
        );
        assert_eq!(ending(&alice, "4242", 1).await, [alike[1]]);
        assert_eq!(ending(&bob, "4242", LIST_LIMIT).await, [alike[2]]);
        let bobs_four = bobs.view.last_four.as_str();
        assert!(
            ending(&bob, bobs_four, LIST_LIMIT)
                .await
                .contains(&bobs.view.id)
        );
        assert!(
            !ending(&alice, bobs_four, LIST_LIMIT)
                .await
                .contains(&bobs.view.id)
        );
        let none = f
            .store
            .client_numbers_ending(alice.id, "abcd", LIST_LIMIT)
            .await
            .unwrap();
        assert!(none.is_empty());
    })
    .await;
}

#[tokio::test]
async fn sending_numbers_is_throttled_per_client_and_window() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        // Numbers a merchant asks for go only to its clients (paid long before).
        let shop = f.merchant().await;
        let other_shop = f.merchant().await;
        f.pays(&shop, &bob, NOW - 2 * 3600).await;
        f.pays(&other_shop, &bob, NOW - 2 * 3600).await;
        let budget = MessageBudget {
            client_numbers_max: 2,
            per_merchant_max: 1,
            ..MessageBudget::UNLIMITED
        };
        let issue = async |holder: &ClientRecord, now_s: i64| {
            let n = f.next();
            let number = NewNumber {
                budget,
                ..new_number(holder, one_use(), bytes32(NUMBER_TAG, n), n, now_s)
            };
            f.store.issue_number(number).await.unwrap()
        };
        assert!(matches!(issue(&alice, NOW).await, IssueOutcome::Issued(_)));
        assert!(matches!(
            issue(&alice, NOW + 10).await,
            IssueOutcome::Issued(_)
        ));
        let pending = f.pending_count().await;
        assert!(
            matches!(
                issue(&alice, NOW + 20).await,
                IssueOutcome::Throttled(TooMany::Numbers)
            ),
            "{}",
            f.name
        );
        assert_eq!(
            f.pending_count().await,
            pending,
            "a throttled number sends nothing"
        );
        assert!(
            matches!(issue(&bob, NOW + 20).await, IssueOutcome::Issued(_)),
            "the limit is per client"
        );
        assert!(
            matches!(issue(&alice, NOW + 3600).await, IssueOutcome::Issued(_)),
            "the window slides"
        );

        // Numbers a merchant asks for are limited per merchant and do not use up the
        // client's own allowance.
        let at_checkout = async |merchant: &MerchantRecord| {
            let n = f.next();
            let policy = UsagePolicy {
                merchant: MerchantLock::Named(merchant.id),
                ..one_use()
            };
            let number = NewNumber {
                budget,
                origin: Origin::Merchant,
                ..new_number(&bob, policy, bytes32(NUMBER_TAG, n), n, NOW + 30)
            };
            f.store.issue_number(number).await.unwrap()
        };
        assert!(matches!(at_checkout(&shop).await, IssueOutcome::Issued(_)));
        assert!(
            matches!(
                at_checkout(&shop).await,
                IssueOutcome::Throttled(TooMany::Numbers)
            ),
            "{}: per merchant",
            f.name
        );
        assert!(matches!(
            at_checkout(&other_shop).await,
            IssueOutcome::Issued(_)
        ));
        assert!(
            matches!(issue(&bob, NOW + 40).await, IssueOutcome::Issued(_)),
            "the client's own allowance is untouched"
        );
    })
    .await;
}

#[tokio::test]
async fn a_live_fingerprint_is_not_issued_twice() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        let card = f.issue(&alice, one_use()).await;
        let before = (
            f.pending_count().await,
            f.store
                .client_numbers(bob.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
        );

        for holder in [&alice, &bob] {
            let n = f.next();
            let again = new_number(holder, one_use(), card.number, n, NOW);
            let outcome = f.store.issue_number(again).await.unwrap();
            assert!(
                matches!(outcome, IssueOutcome::FingerprintTaken),
                "{}: the fingerprint is live",
                f.name
            );
        }
        let after = (
            f.pending_count().await,
            f.store
                .client_numbers(bob.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
        );
        assert_eq!(after, before, "nothing half-written: no message, no number");

        // A number for no client is refused whole, its message with it.
        let ghost = ClientRecord {
            id: i64::MAX,
            ..bob.clone()
        };
        let n = f.next();
        assert!(
            f.store
                .issue_number(new_number(
                    &ghost,
                    one_use(),
                    bytes32(NUMBER_TAG, n),
                    n,
                    NOW
                ))
                .await
                .is_err()
        );
        assert_eq!(f.pending_count().await, before.0);
    })
    .await;
}

#[tokio::test]
async fn an_expired_fingerprint_may_be_drawn_again() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f
            .issue(&alice, policy(2, AmountRule::Any, MerchantLock::Any))
            .await;
        let later = NOW + VALIDITY_S;
        let n = f.next();
        let again = || {
            new_number(
                &alice,
                UsagePolicy {
                    valid_until_s: later + VALIDITY_S,
                    ..one_use()
                },
                card.number,
                n,
                later,
            )
        };

        // Past its validity but not yet swept: still holds its fingerprint.
        assert!(matches!(
            f.store.issue_number(again()).await.unwrap(),
            IssueOutcome::FingerprintTaken
        ));
        assert_eq!(f.store.expire(later).await.unwrap().numbers_expired, 1);
        let IssueOutcome::Issued(fresh) = f.store.issue_number(again()).await.unwrap() else {
            panic!("{}: an expired fingerprint is free", f.name);
        };
        assert_eq!(f.number(&card).await.state, NumberState::Expired);
        // The merchant reaches the live number, not the expired one with the same fingerprint.
        let card = Card {
            details: bytes32(DETAILS_TAG, n),
            view: fresh.clone(),
            ..card
        };
        let authorization = authorized(f.authorize(shop.id, &card, 100, later).await);
        assert_eq!(authorization.number_id, fresh.id);
        f.assert_sound().await;
    })
    .await;
}

/// A merchant's idempotency key on a checkout number: a retry gets the first number's
/// view and sends nothing; another request under the same key is refused.
#[tokio::test]
async fn checkout_numbers_are_idempotent() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        f.pays(&shop, &alice, NOW - 2 * 3600).await;
        let key = |hash_tag: u8| IdempotencyKey {
            key: "checkout-77".into(),
            request_hash: [hash_tag; 32],
        };
        let issue = async |hash_tag: u8| {
            let n = f.next();
            let policy = UsagePolicy {
                merchant: MerchantLock::Named(shop.id),
                ..one_use()
            };
            let number = NewNumber {
                origin: Origin::Merchant,
                idempotency: Some((shop.id, key(hash_tag))),
                ..new_number(&alice, policy, bytes32(NUMBER_TAG, n), n, NOW)
            };
            f.store.issue_number(number).await
        };
        let IssueOutcome::Issued(first) = issue(1).await.unwrap() else {
            panic!("{}: not issued", f.name);
        };
        let pending = f.pending_count().await;
        let IssueOutcome::Replayed(again) = issue(1).await.unwrap() else {
            panic!("{}: not replayed", f.name);
        };
        assert_eq!(again, first, "{}", f.name);
        assert_eq!(
            f.pending_count().await,
            pending,
            "{}: a replay sends nothing",
            f.name
        );
        assert!(
            matches!(issue(2).await, Err(StoreError::IdempotencyMismatch)),
            "{}",
            f.name
        );
        assert_eq!(
            f.store
                .client_numbers(alice.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
            2,
            "the number she paid with, and the checkout number"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Authorization: the happy path and every decline
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn authorize_places_a_hold_and_consumes_a_one_use_number() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let authorization = authorized(f.authorize(shop.id, &card, 2_500, NOW + 5).await);
        let expected = AuthorizationView {
            id: authorization.id,
            merchant_id: shop.id,
            number_id: card.view.id,
            number_last_four: card.view.last_four.clone(),
            client_id: alice.id,
            currency: "EUR".into(),
            amount: 2_500,
            captured: 0,
            refunded: 0,
            state: AuthorizationState::Authorized,
            merchant_reference: "order-2500".into(),
            created_at_s: NOW + 5,
            hold_expires_at_s: NOW + 5 + HOLD_TTL_S,
        };
        assert_eq!(authorization, expected);
        assert_eq!(f.reread(&authorization).await, expected);

        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (10_000, 2_500));
        let number = f.number(&card).await;
        assert_eq!(
            (number.state, number.uses_count, number.amount_used),
            (NumberState::Consumed, 1, 2_500)
        );
        f.assert_sound().await;
    })
    .await;
}

#[derive(Debug, Clone, Copy)]
enum Who {
    A,
    B,
}

#[derive(Debug, Clone, Copy)]
enum Lock {
    Any,
    Named(Who),
    First,
}

/// One authorization attempt, relative to the case's merchants and start time.
#[derive(Debug, Clone, Copy)]
struct Try {
    by: Who,
    amount: i64,
    right_details: bool,
    currency: &'static str,
    after_s: i64,
}

const fn pay(amount: i64) -> Try {
    Try {
        by: Who::A,
        amount,
        right_details: true,
        currency: "EUR",
        after_s: 0,
    }
}

impl Try {
    const fn by(self, by: Who) -> Try {
        Try { by, ..self }
    }
    const fn wrong_details(self) -> Try {
        Try {
            right_details: false,
            ..self
        }
    }
    const fn in_currency(self, currency: &'static str) -> Try {
        Try { currency, ..self }
    }
    const fn after(self, after_s: i64) -> Try {
        Try { after_s, ..self }
    }
}

/// A number, its holder, attempts that set the scene, and the attempt under test.
#[derive(Debug)]
struct AuthorizeCase {
    name: &'static str,
    opening: i64,
    credit: i64,
    holder_blocked: bool,
    uses_max: u32,
    amount: AmountRule,
    lock: Lock,
    unknown_number: bool,
    before: &'static [(Try, Option<Decline>)],
    attempt: Try,
    /// `None`: authorized.
    expected: Option<Decline>,
}

const CASE: AuthorizeCase = AuthorizeCase {
    name: "",
    opening: 10_000,
    credit: 0,
    holder_blocked: false,
    uses_max: 1,
    amount: AmountRule::Any,
    lock: Lock::Any,
    unknown_number: false,
    before: &[],
    attempt: pay(1_000),
    expected: None,
};

const WRONG: (Try, Option<Decline>) = (pay(1_000).wrong_details(), Some(Decline::WrongCardDetails));
const PAID: (Try, Option<Decline>) = (pay(1_000), None);

#[rustfmt::skip]
const AUTHORIZE_CASES: &[AuthorizeCase] = &[
    AuthorizeCase { name: "approved within the policy", ..CASE },
    AuthorizeCase { name: "unknown number", unknown_number: true, expected: Some(Decline::UnknownNumber), ..CASE },
    AuthorizeCase { name: "wrong card details", attempt: pay(1_000).wrong_details(), expected: Some(Decline::WrongCardDetails), ..CASE },
    AuthorizeCase { name: "two wrong tries are forgiven by a right one", uses_max: 2, before: &[WRONG, WRONG], ..CASE },
    AuthorizeCase { name: "three wrong tries block the number", before: &[WRONG, WRONG, WRONG], expected: Some(Decline::Blocked), ..CASE },
    AuthorizeCase { name: "wrong details are told before the state", before: &[PAID], attempt: pay(1_000).wrong_details(), expected: Some(Decline::WrongCardDetails), ..CASE },
    AuthorizeCase { name: "valid until the last second", attempt: pay(1_000).after(VALIDITY_S - 1), ..CASE },
    AuthorizeCase { name: "expired at the end of validity", attempt: pay(1_000).after(VALIDITY_S), expected: Some(Decline::Expired), ..CASE },
    AuthorizeCase { name: "expired long after", attempt: pay(1_000).after(VALIDITY_S * 100), expected: Some(Decline::Expired), ..CASE },
    AuthorizeCase { name: "already used", before: &[PAID], expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "already used, by another merchant", before: &[PAID], attempt: pay(1_000).by(Who::B), expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "used up after n uses", uses_max: 2, before: &[PAID, PAID], expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "over the cap at once", uses_max: 3, amount: AmountRule::Cap(1_000), attempt: pay(1_001), expected: Some(Decline::OverCap), ..CASE },
    AuthorizeCase { name: "over the cap across uses", uses_max: 3, amount: AmountRule::Cap(1_000), before: &[(pay(600), None)], attempt: pay(401), expected: Some(Decline::OverCap), ..CASE },
    AuthorizeCase { name: "up to the cap", uses_max: 3, amount: AmountRule::Cap(1_000), before: &[(pay(600), None)], attempt: pay(400), ..CASE },
    AuthorizeCase { name: "reaching the cap consumes", uses_max: 3, amount: AmountRule::Cap(1_000), before: &[(pay(1_000), None)], attempt: pay(1), expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "exact amount", amount: AmountRule::Exact(4_999), attempt: pay(4_999), ..CASE },
    AuthorizeCase { name: "exact amount, one more", amount: AmountRule::Exact(4_999), attempt: pay(5_000), expected: Some(Decline::AmountMismatch), ..CASE },
    AuthorizeCase { name: "exact amount, one less", amount: AmountRule::Exact(4_999), attempt: pay(4_998), expected: Some(Decline::AmountMismatch), ..CASE },
    AuthorizeCase { name: "named merchant", lock: Lock::Named(Who::B), attempt: pay(1_000).by(Who::B), ..CASE },
    AuthorizeCase { name: "named merchant, another pays", lock: Lock::Named(Who::A), attempt: pay(1_000).by(Who::B), expected: Some(Decline::OtherMerchant), ..CASE },
    AuthorizeCase { name: "first merchant, same again", uses_max: 2, lock: Lock::First, before: &[PAID], ..CASE },
    AuthorizeCase { name: "first merchant, another after", uses_max: 2, lock: Lock::First, before: &[PAID], attempt: pay(1_000).by(Who::B), expected: Some(Decline::OtherMerchant), ..CASE },
    AuthorizeCase { name: "currency mismatch", attempt: pay(1_000).in_currency("USD"), expected: Some(Decline::CurrencyMismatch), ..CASE },
    AuthorizeCase { name: "insufficient funds", opening: 1_000, attempt: pay(1_001), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "the whole balance", opening: 1_000, attempt: pay(1_000), ..CASE },
    AuthorizeCase { name: "the credit limit extends the floor", opening: 1_000, credit: 500, attempt: pay(1_500), ..CASE },
    AuthorizeCase { name: "beyond the credit limit", opening: 1_000, credit: 500, attempt: pay(1_501), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "holds count against funds", opening: 1_000, credit: 500, uses_max: 3, before: &[PAID], attempt: pay(501), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "what the holds leave", opening: 1_000, credit: 500, uses_max: 3, before: &[PAID], attempt: pay(500), ..CASE },
    AuthorizeCase { name: "no funds at all", opening: 0, attempt: pay(1), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "blocked holder", holder_blocked: true, expected: Some(Decline::Blocked), ..CASE },
    AuthorizeCase { name: "blocked holder, wrong details (not revealed)", holder_blocked: true, attempt: pay(1_000).wrong_details(), expected: Some(Decline::WrongCardDetails), ..CASE },
];

#[tokio::test]
async fn every_decline_is_reachable_and_changes_nothing() {
    for case in AUTHORIZE_CASES {
        each_backend(async |f: &Fixture| check_authorize(f, case).await).await;
    }
}

async fn check_authorize(f: &Fixture, case: &AuthorizeCase) {
    let context = format!("{}: {}", f.name, case.name);
    let (a, b) = (f.merchant().await, f.merchant().await);
    let merchant = |who: Who| match who {
        Who::A => a.id,
        Who::B => b.id,
    };
    let lock = match case.lock {
        Lock::Any => MerchantLock::Any,
        Lock::Named(who) => MerchantLock::Named(merchant(who)),
        Lock::First => MerchantLock::FirstMerchant,
    };
    let holder = f.client(case.opening, case.credit).await;
    let card = f
        .issue(&holder, policy(case.uses_max, case.amount, lock))
        .await;
    if case.holder_blocked {
        assert!(f.set_blocked(holder.id, true).await);
    }
    let command = |attempt: &Try| MerchantCommand::Authorize {
        number_fingerprint: if case.unknown_number {
            bytes32(NUMBER_TAG, u64::MAX)
        } else {
            card.number
        },
        details_fingerprint: if attempt.right_details {
            card.details
        } else {
            bytes32(DETAILS_TAG, u64::MAX)
        },
        amount: attempt.amount,
        currency: currency(attempt.currency),
        merchant_reference: "order".into(),
        hold_ttl_s: HOLD_TTL_S,
    };
    let decline_of = |outcome: Outcome| match outcome {
        Outcome::Authorized { .. } => None,
        Outcome::Declined { decline, .. } => Some(decline),
        other => panic!("{context}: {other:?}"),
    };
    for (index, (attempt, expected)) in case.before.iter().enumerate() {
        let outcome = f
            .run(
                merchant(attempt.by),
                command(attempt),
                NOW + attempt.after_s,
            )
            .await;
        assert_eq!(
            decline_of(outcome),
            *expected,
            "{context}: attempt {index} before"
        );
    }

    let account_before = f.account(&holder).await;
    let number_before = f.number(&card).await;
    let now_s = NOW + case.attempt.after_s;
    let outcome = f
        .run(merchant(case.attempt.by), command(&case.attempt), now_s)
        .await;
    let account_after = f.account(&holder).await;
    let number_after = f.number(&card).await;
    match (outcome, case.expected) {
        (Outcome::Declined { decline, .. }, Some(expected)) => {
            assert_eq!(decline, expected, "{context}: got {}", decline.code());
            assert_eq!(
                account_after, account_before,
                "{context}: a decline moved money"
            );
            let usage = |n: &NumberView| (n.uses_count, n.amount_used, n.locked_merchant);
            assert_eq!(
                usage(&number_after),
                usage(&number_before),
                "{context}: a decline used the number"
            );
        }
        (Outcome::Authorized { authorization }, None) => {
            assert_eq!(authorization.amount, case.attempt.amount, "{context}");
            assert_eq!(
                authorization.merchant_id,
                merchant(case.attempt.by),
                "{context}"
            );
            assert_eq!(
                authorization.state,
                AuthorizationState::Authorized,
                "{context}"
            );
            assert_eq!(
                authorization.hold_expires_at_s,
                now_s + HOLD_TTL_S,
                "{context}"
            );
            assert_eq!(
                account_after.held,
                account_before.held + case.attempt.amount,
                "{context}"
            );
            assert_eq!(account_after.balance, account_before.balance, "{context}");
            assert_eq!(
                number_after.uses_count,
                number_before.uses_count + 1,
                "{context}"
            );
            assert_eq!(
                number_after.amount_used,
                number_before.amount_used + case.attempt.amount,
                "{context}"
            );
        }
        (outcome, expected) => panic!("{context}: expected {expected:?}, got {outcome:?}"),
    }
    f.assert_sound().await;
}

/// SPEC: at most 5 consecutive failures per client, then a temporary pause. The count is
/// across the client's numbers, a success resets it, and the pause ends by itself.
#[tokio::test]
async fn consecutive_failures_pause_the_client_for_a_while() {
    use sceau_domain::limits::{CLIENT_FAILURES_MAX, CLIENT_PAUSE_S};
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let uses_ten = UsagePolicy {
            valid_until_s: NOW + 10 * CLIENT_PAUSE_S,
            ..policy(10, AmountRule::Any, MerchantLock::Any)
        };
        let first = f.issue(&alice, uses_ten).await;
        let second = f.issue(&alice, uses_ten).await;
        let third = f.issue(&alice, uses_ten).await;
        let fourth = f.issue(&alice, uses_ten).await;
        let wrong = |card: &Card| authorize_command_with(card, 100, [0xEE; 32], HOLD_TTL_S);
        let decline_of = |outcome: Outcome| match outcome {
            Outcome::Declined { decline, paused } => (decline, paused),
            other => panic!("{}: expected a decline, got {other:?}", f.name),
        };

        // Two failures, a success: the count starts again.
        for card in [&first, &second] {
            assert_eq!(
                decline_of(f.run(shop.id, wrong(card), NOW).await),
                (Decline::WrongCardDetails, None)
            );
        }
        assert!(matches!(
            f.authorize(shop.id, &first, 100, NOW).await,
            Outcome::Authorized { .. }
        ));

        // Then five in a row, spread over three numbers (two tries each at most, so none
        // reaches its own limit of three): the fifth pauses the client.
        let cards = [&third, &third, &fourth, &fourth, &first];
        for (index, card) in cards.iter().enumerate() {
            let (decline, paused) = decline_of(f.run(shop.id, wrong(card), NOW + 1).await);
            assert_eq!(decline, Decline::WrongCardDetails);
            if index + 1 < CLIENT_FAILURES_MAX as usize {
                assert_eq!(paused, None, "{}: failure {}", f.name, index + 1);
            } else {
                assert_eq!(
                    paused,
                    Some(Paused {
                        client_id: alice.id,
                        until_s: NOW + 1 + CLIENT_PAUSE_S
                    })
                );
            }
        }
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert!(
            record.stopped(NOW + 1) && !record.blocked,
            "{}: paused, not blocked",
            f.name
        );
        assert_eq!(
            decline_of(f.authorize(shop.id, &second, 100, NOW + 2).await).0,
            Decline::Blocked
        );
        // The pause ends by itself.
        let after = NOW + 1 + CLIENT_PAUSE_S;
        let outcome = f.authorize(shop.id, &second, 100, after).await;
        assert!(
            matches!(outcome.clone(), Outcome::Authorized { .. }),
            "{outcome:?}"
        );
        assert!(f.store.check_ledger().await.unwrap().is_sound());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Capture, void, refund; expiry of holds
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Step {
    Capture(Option<i64>),
    Void,
    Refund(Option<i64>),
    CaptureByOther,
    VoidByOther,
    RefundByOther,
    /// `expire(now)`.
    Sweep,
    /// Reads the number's state.
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Captured(i64),
    Voided,
    Refunded { amount: i64, refunded: i64 },
    Rejected(Rejection),
    Swept(Expired),
    NumberIs(NumberState),
}

const fn swept(holds_released: u64, numbers_expired: u64) -> Expect {
    Expect::Swept(Expired {
        holds_released,
        numbers_expired,
        checkouts_expired: 0,
    })
}

/// An authorization of [`AMOUNT`] at `NOW`, then steps at `NOW + after_s`.
#[derive(Debug)]
struct LifecycleCase {
    name: &'static str,
    uses_max: u32,
    steps: &'static [(i64, Step, Expect)],
}

const OPENING: i64 = 5_000;
const AMOUNT: i64 = 1_000;

#[rustfmt::skip]
const LIFECYCLE_CASES: &[LifecycleCase] = &[
    LifecycleCase { name: "full capture, once", uses_max: 1, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (11, Step::Capture(None), Expect::Rejected(Rejection::AlreadyCaptured)),
        (12, Step::Capture(Some(1)), Expect::Rejected(Rejection::AlreadyCaptured)),
        (13, Step::Void, Expect::Rejected(Rejection::AlreadyCaptured)),
    ] },
    LifecycleCase { name: "partial capture releases the whole hold", uses_max: 1, steps: &[
        (10, Step::Capture(Some(400)), Expect::Captured(400)),
        (11, Step::Capture(Some(100)), Expect::Rejected(Rejection::AlreadyCaptured)),
    ] },
    LifecycleCase { name: "capture beyond the authorization, or of nothing", uses_max: 1, steps: &[
        (10, Step::Capture(Some(AMOUNT + 1)), Expect::Rejected(Rejection::ExceedsAuthorized)),
        (10, Step::Capture(Some(0)), Expect::Rejected(Rejection::ExceedsAuthorized)),
        (10, Step::Capture(Some(-5)), Expect::Rejected(Rejection::ExceedsAuthorized)),
        (11, Step::Capture(Some(AMOUNT)), Expect::Captured(AMOUNT)),
    ] },
    LifecycleCase { name: "void", uses_max: 1, steps: &[
        (10, Step::Void, Expect::Voided),
        (11, Step::Capture(None), Expect::Rejected(Rejection::Voided)),
        (12, Step::Void, Expect::Rejected(Rejection::Voided)),
        (13, Step::Refund(None), Expect::Rejected(Rejection::NotCaptured)),
        (14, Step::Sweep, swept(0, 0)),
    ] },
    LifecycleCase { name: "another merchant sees nothing", uses_max: 1, steps: &[
        (10, Step::CaptureByOther, Expect::Rejected(Rejection::NotFound)),
        (10, Step::VoidByOther, Expect::Rejected(Rejection::NotFound)),
        (11, Step::Capture(None), Expect::Captured(AMOUNT)),
        (12, Step::RefundByOther, Expect::Rejected(Rejection::NotFound)),
    ] },
    LifecycleCase { name: "refund in parts, never beyond", uses_max: 1, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (11, Step::Refund(Some(300)), Expect::Refunded { amount: 300, refunded: 300 }),
        (12, Step::Refund(Some(701)), Expect::Rejected(Rejection::ExceedsRefundable)),
        (12, Step::Refund(Some(0)), Expect::Rejected(Rejection::ExceedsRefundable)),
        (13, Step::Refund(None), Expect::Refunded { amount: 700, refunded: AMOUNT }),
        (14, Step::Refund(None), Expect::Rejected(Rejection::ExceedsRefundable)),
        (15, Step::Refund(Some(1)), Expect::Rejected(Rejection::ExceedsRefundable)),
    ] },
    LifecycleCase { name: "refund of a partial capture", uses_max: 1, steps: &[
        (10, Step::Capture(Some(600)), Expect::Captured(600)),
        (11, Step::Refund(Some(601)), Expect::Rejected(Rejection::ExceedsRefundable)),
        (12, Step::Refund(None), Expect::Refunded { amount: 600, refunded: 600 }),
    ] },
    LifecycleCase { name: "refund before capture", uses_max: 1, steps: &[
        (10, Step::Refund(Some(100)), Expect::Rejected(Rejection::NotCaptured)),
        (11, Step::Refund(None), Expect::Rejected(Rejection::NotCaptured)),
        (12, Step::Capture(None), Expect::Captured(AMOUNT)),
    ] },
    LifecycleCase { name: "refund after the one-use number is consumed and past validity", uses_max: 1, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (VALIDITY_S * 10, Step::Sweep, swept(0, 0)),
        (VALIDITY_S * 10, Step::Number, Expect::NumberIs(NumberState::Consumed)),
        (VALIDITY_S * 10, Step::Refund(Some(250)), Expect::Refunded { amount: 250, refunded: 250 }),
    ] },
    LifecycleCase { name: "refund after the number expired", uses_max: 2, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (VALIDITY_S, Step::Sweep, swept(0, 1)),
        (VALIDITY_S, Step::Number, Expect::NumberIs(NumberState::Expired)),
        (VALIDITY_S + 1, Step::Refund(None), Expect::Refunded { amount: AMOUNT, refunded: AMOUNT }),
    ] },
    LifecycleCase { name: "the hold expires", uses_max: 1, steps: &[
        (HOLD_TTL_S - 1, Step::Sweep, swept(0, 0)),
        (HOLD_TTL_S, Step::Capture(None), Expect::Rejected(Rejection::HoldExpired)),
        (HOLD_TTL_S, Step::Sweep, swept(1, 0)),
        (HOLD_TTL_S, Step::Sweep, swept(0, 0)),
        (HOLD_TTL_S + 1, Step::Capture(None), Expect::Rejected(Rejection::HoldExpired)),
        (HOLD_TTL_S + 1, Step::Void, Expect::Rejected(Rejection::HoldExpired)),
        (HOLD_TTL_S + 1, Step::Refund(None), Expect::Rejected(Rejection::NotCaptured)),
    ] },
    LifecycleCase { name: "a capture just before the hold expires", uses_max: 1, steps: &[
        (HOLD_TTL_S - 1, Step::Capture(None), Expect::Captured(AMOUNT)),
        (HOLD_TTL_S, Step::Sweep, swept(0, 0)),
    ] },
];

#[tokio::test]
async fn capture_void_refund_and_hold_expiry() {
    for case in LIFECYCLE_CASES {
        each_backend(async |f: &Fixture| check_lifecycle(f, case).await).await;
    }
}

async fn check_lifecycle(f: &Fixture, case: &LifecycleCase) {
    let (shop, other) = (f.merchant().await, f.merchant().await);
    let holder = f.client(OPENING, 0).await;
    let card = f
        .issue(
            &holder,
            policy(case.uses_max, AmountRule::Any, MerchantLock::Any),
        )
        .await;
    let authorization = authorized(f.authorize(shop.id, &card, AMOUNT, NOW).await);
    let id = authorization.id;
    for (index, (after_s, step, expect)) in case.steps.iter().enumerate() {
        let context = format!("{}: {}: step {index} {step:?}", f.name, case.name);
        let now_s = NOW + after_s;
        let command =
            |merchant_id: i64, command: MerchantCommand| f.run(merchant_id, command, now_s);
        let answer = match step {
            Step::Capture(amount) => {
                command(
                    shop.id,
                    MerchantCommand::Capture {
                        authorization_id: id,
                        amount: amount.map(eur),
                    },
                )
                .await
            }
            Step::Void => {
                command(
                    shop.id,
                    MerchantCommand::Void {
                        authorization_id: id,
                    },
                )
                .await
            }
            Step::Refund(amount) => {
                command(
                    shop.id,
                    MerchantCommand::Refund {
                        authorization_id: id,
                        amount: amount.map(eur),
                    },
                )
                .await
            }
            Step::CaptureByOther => {
                command(
                    other.id,
                    MerchantCommand::Capture {
                        authorization_id: id,
                        amount: None,
                    },
                )
                .await
            }
            Step::VoidByOther => {
                command(
                    other.id,
                    MerchantCommand::Void {
                        authorization_id: id,
                    },
                )
                .await
            }
            Step::RefundByOther => {
                command(
                    other.id,
                    MerchantCommand::Refund {
                        authorization_id: id,
                        amount: None,
                    },
                )
                .await
            }
            Step::Sweep => {
                let expired = f.store.expire(now_s).await.unwrap();
                assert_eq!(Expect::Swept(expired), *expect, "{context}");
                check_figures(f, &holder, &authorization, &context).await;
                continue;
            }
            Step::Number => {
                assert_eq!(
                    Expect::NumberIs(f.number(&card).await.state),
                    *expect,
                    "{context}"
                );
                continue;
            }
        };
        let now = check_figures(f, &holder, &authorization, &context).await;
        match (answer, *expect) {
            (Outcome::Captured { authorization }, Expect::Captured(captured)) => {
                assert_eq!(
                    authorization, now,
                    "{context}: the answer is the stored authorization"
                );
                assert_eq!(
                    (now.state, now.captured, now.refunded),
                    (AuthorizationState::Captured, captured, 0),
                    "{context}"
                );
            }
            (Outcome::Voided { authorization }, Expect::Voided) => {
                assert_eq!(authorization, now, "{context}");
                assert_eq!(
                    (now.state, now.captured),
                    (AuthorizationState::Voided, 0),
                    "{context}"
                );
            }
            (
                Outcome::Refunded {
                    authorization,
                    amount,
                    ..
                },
                Expect::Refunded {
                    amount: expected,
                    refunded,
                },
            ) => {
                assert_eq!(authorization, now, "{context}");
                assert_eq!((amount, now.refunded), (expected, refunded), "{context}");
            }
            (Outcome::Rejected { rejection }, Expect::Rejected(expected)) => {
                assert_eq!(rejection, expected, "{context}: got {}", rejection.code());
            }
            (answer, expected) => panic!("{context}: expected {expected:?}, got {answer:?}"),
        }
    }
    assert_eq!(
        f.store.authorization(other.id, id).await.unwrap(),
        None,
        "only its merchant sees an authorization"
    );
}

/// The client's account follows from its authorization: balance = opening − captured +
/// refunded, and held = the amount while authorized. Returns the authorization as stored.
async fn check_figures(
    f: &Fixture,
    holder: &ClientRecord,
    authorization: &AuthorizationView,
    context: &str,
) -> AuthorizationView {
    let now = f.reread(authorization).await;
    let account = f.account(holder).await;
    let held = if now.state == AuthorizationState::Authorized {
        now.amount
    } else {
        0
    };
    assert_eq!(
        account.balance,
        OPENING - now.captured + now.refunded,
        "{context}: balance"
    );
    assert_eq!(account.held, held, "{context}: held");
    f.assert_sound().await;
    now
}

/// A partial capture or refund in another currency than the authorization is refused by
/// the store itself, and moves nothing.
#[tokio::test]
async fn partial_amounts_must_be_in_the_authorizations_currency() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let Outcome::Authorized { authorization } = f.authorize(shop.id, &card, 1_000, NOW).await
        else {
            panic!("{}: not authorized", f.name);
        };
        let usd = Money::new(500, currency("USD"));
        let commands = [
            MerchantCommand::Capture {
                authorization_id: authorization.id,
                amount: Some(usd),
            },
            MerchantCommand::Refund {
                authorization_id: authorization.id,
                amount: Some(usd),
            },
        ];
        for command in commands {
            assert_eq!(
                f.run(shop.id, command, NOW).await,
                Outcome::Rejected {
                    rejection: Rejection::CurrencyMismatch
                },
                "{}",
                f.name
            );
        }
        let account = f.account(&alice).await;
        assert_eq!(
            (account.balance, account.held),
            (10_000, 1_000),
            "{}",
            f.name
        );
    })
    .await;
}

#[tokio::test]
async fn expire_releases_holds_and_numbers() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let short = f
            .issue(
                &alice,
                UsagePolicy {
                    valid_until_s: NOW + 100,
                    ..policy(5, AmountRule::Any, MerchantLock::Any)
                },
            )
            .await;
        let long = f
            .issue(
                &alice,
                UsagePolicy {
                    valid_until_s: NOW + 10_000,
                    ..policy(5, AmountRule::Any, MerchantLock::Any)
                },
            )
            .await;
        let early = authorize_command_with(&short, 1_000, short.details, 50);
        let early = authorized(f.run(shop.id, early, NOW).await);
        let late = authorized(f.authorize(shop.id, &long, 2_000, NOW).await);
        assert_eq!(f.account(&alice).await.held, 3_000);

        assert_eq!(
            f.store.expire(NOW + 49).await.unwrap(),
            Expired {
                holds_released: 0,
                numbers_expired: 0,
                checkouts_expired: 0,
            }
        );
        assert_eq!(
            f.store.expire(NOW + 50).await.unwrap(),
            Expired {
                holds_released: 1,
                numbers_expired: 0,
                checkouts_expired: 0,
            }
        );
        assert_eq!(f.reread(&early).await.state, AuthorizationState::Expired);
        assert_eq!(f.reread(&late).await.state, AuthorizationState::Authorized);
        assert_eq!(f.account(&alice).await.held, 2_000);
        let capture = MerchantCommand::Capture {
            authorization_id: early.id,
            amount: None,
        };
        assert_eq!(
            rejected(f.run(shop.id, capture, NOW + 51).await),
            Rejection::HoldExpired
        );
        assert_eq!(f.number(&short).await.state, NumberState::Live);

        assert_eq!(
            f.store.expire(NOW + 100).await.unwrap(),
            Expired {
                holds_released: 0,
                numbers_expired: 1,
                checkouts_expired: 0,
            }
        );
        assert_eq!(f.number(&short).await.state, NumberState::Expired);
        assert_eq!(f.number(&long).await.state, NumberState::Live);
        assert_eq!(
            declined(f.authorize(shop.id, &short, 10, NOW + 100).await),
            Decline::Expired
        );

        let both = f.store.expire(NOW + HOLD_TTL_S).await.unwrap();
        assert_eq!(
            both,
            Expired {
                holds_released: 1,
                numbers_expired: 0,
                checkouts_expired: 0,
            }
        );
        let account = f.account(&alice).await;
        assert_eq!(
            (account.balance, account.held),
            (10_000, 0),
            "every hold released"
        );
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn idempotent_requests_are_replayed_without_a_second_effect() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let (shop, cafe) = (f.merchant().await, f.merchant().await);
        let card = f
            .issue(&alice, policy(5, AmountRule::Any, MerchantLock::Any))
            .await;
        let pay = || authorize_command(&card, 1_000);

        let first = f
            .store
            .execute(keyed(shop.id, "k1", 1, pay(), NOW))
            .await
            .unwrap();
        assert!(!first.replayed);
        let authorization = authorized(first.outcome.clone());
        let again = f
            .store
            .execute(keyed(shop.id, "k1", 1, pay(), NOW + 1))
            .await
            .unwrap();
        assert_eq!(
            again,
            Executed {
                outcome: first.outcome.clone(),
                replayed: true
            }
        );
        assert_eq!(f.account(&alice).await.held, 1_000, "one hold");
        assert_eq!(f.number(&card).await.uses_count, 1, "one use");

        match f
            .store
            .execute(keyed(shop.id, "k1", 2, pay(), NOW + 2))
            .await
        {
            Err(StoreError::IdempotencyMismatch) => {}
            other => panic!("{}: expected IdempotencyMismatch, got {other:?}", f.name),
        }
        let elsewhere = f
            .store
            .execute(keyed(cafe.id, "k1", 1, pay(), NOW + 3))
            .await
            .unwrap();
        assert!(!elsewhere.replayed, "keys are per merchant");
        assert_ne!(authorized(elsewhere.outcome).id, authorization.id);
        assert_eq!(f.account(&alice).await.held, 2_000);

        // A capture replayed moves money once; the replay of the authorization still
        // answers what it answered first, though the authorization has moved on.
        let capture = || MerchantCommand::Capture {
            authorization_id: authorization.id,
            amount: Some(eur(400)),
        };
        let captured = f
            .store
            .execute(keyed(shop.id, "c1", 3, capture(), NOW + 4))
            .await
            .unwrap();
        assert!(matches!(captured.outcome, Outcome::Captured { .. }));
        let replayed = f
            .store
            .execute(keyed(shop.id, "c1", 3, capture(), NOW + 5))
            .await
            .unwrap();
        assert_eq!(
            replayed,
            Executed {
                outcome: captured.outcome,
                replayed: true
            }
        );
        assert_eq!(f.account(&alice).await.balance, 9_600);
        let late = f
            .store
            .execute(keyed(shop.id, "k1", 1, pay(), NOW + 6))
            .await
            .unwrap();
        assert_eq!(
            late,
            Executed {
                outcome: first.outcome,
                replayed: true
            }
        );

        // Refunds too.
        let refund = || MerchantCommand::Refund {
            authorization_id: authorization.id,
            amount: Some(eur(100)),
        };
        let refunded = f
            .store
            .execute(keyed(shop.id, "r1", 4, refund(), NOW + 7))
            .await
            .unwrap();
        let replayed = f
            .store
            .execute(keyed(shop.id, "r1", 4, refund(), NOW + 8))
            .await
            .unwrap();
        assert_eq!(
            replayed,
            Executed {
                outcome: refunded.outcome,
                replayed: true
            }
        );
        assert_eq!(f.account(&alice).await.balance, 9_700);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_decline_is_replayed_too() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let wrong = authorize_command_with(&card, 100, bytes32(DETAILS_TAG, u64::MAX), HOLD_TTL_S);
        let first = f
            .store
            .execute(keyed(shop.id, "w", 1, wrong.clone(), NOW))
            .await
            .unwrap();
        assert_eq!(declined(first.outcome.clone()), Decline::WrongCardDetails);
        // Replayed more often than the try limit: still one wrong try, the number is not blocked.
        for _ in 0..5 {
            let again = f
                .store
                .execute(keyed(shop.id, "w", 1, wrong.clone(), NOW + 1))
                .await
                .unwrap();
            assert_eq!(
                again,
                Executed {
                    outcome: first.outcome.clone(),
                    replayed: true
                }
            );
        }
        authorized(f.authorize(shop.id, &card, 100, NOW + 2).await);
        // And the stored decline is what is replayed even now that the number is used.
        let again = f
            .store
            .execute(keyed(shop.id, "w", 1, wrong, NOW + 3))
            .await
            .unwrap();
        assert_eq!(
            again,
            Executed {
                outcome: first.outcome,
                replayed: true
            }
        );
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

const RACERS_COUNT: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_use_number_is_authorized_once_under_a_race() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let mut merchants = Vec::with_capacity(RACERS_COUNT);
        for _ in 0..RACERS_COUNT {
            merchants.push(f.merchant().await);
        }
        let card = f.issue(&alice, one_use()).await;
        let start = Arc::new(tokio::sync::Barrier::new(RACERS_COUNT));
        let racers: Vec<_> = merchants
            .iter()
            .map(|merchant| {
                let (store, start) = (Arc::clone(&f.store), Arc::clone(&start));
                let command = request(merchant.id, authorize_command(&card, 1_234), NOW);
                tokio::spawn(async move {
                    start.wait().await;
                    store.execute(command).await
                })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(RACERS_COUNT);
        for racer in racers {
            outcomes.push(racer.await.unwrap().unwrap().outcome);
        }
        let approved = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Authorized { .. }))
            .count();
        let used = outcomes
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Outcome::Declined {
                        decline: Decline::AlreadyUsed,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(
            (approved, used),
            (1, RACERS_COUNT - 1),
            "{}: {outcomes:?}",
            f.name
        );
        assert_eq!(f.account(&alice).await.held, 1_234);
        let number = f.number(&card).await;
        assert_eq!(
            (number.state, number.uses_count),
            (NumberState::Consumed, 1)
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_racing_idempotent_request_has_one_effect() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let shop = f.merchant().await;
        let card = f
            .issue(
                &alice,
                policy(RACERS_COUNT as u32, AmountRule::Any, MerchantLock::Any),
            )
            .await;
        let racers: Vec<_> = (0..RACERS_COUNT)
            .map(|_| {
                let store = Arc::clone(&f.store);
                let command = keyed(shop.id, "once", 7, authorize_command(&card, 500), NOW);
                tokio::spawn(async move { store.execute(command).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(RACERS_COUNT);
        for racer in racers {
            answers.push(racer.await.unwrap().unwrap());
        }
        assert_eq!(
            answers.iter().filter(|a| !a.replayed).count(),
            1,
            "{}: one request ran",
            f.name
        );
        assert!(
            answers.iter().all(|a| a.outcome == answers[0].outcome),
            "all got the same answer"
        );
        authorized(answers[0].outcome.clone());
        assert_eq!(f.account(&alice).await.held, 500);
        assert_eq!(f.number(&card).await.uses_count, 1);
        f.assert_sound().await;
    })
    .await;
}

/// Many authorizations on different numbers at once (a backend may run them together, as
/// PostgreSQL's waves do): each gets exactly the answer it would get alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_authorizations_at_once_each_get_their_own_answer() {
    const CLIENTS_COUNT: usize = 24;
    each_backend(async |f: &Fixture| {
        let mut parties = Vec::with_capacity(CLIENTS_COUNT);
        for _ in 0..CLIENTS_COUNT {
            let client = f.client(10_000, 0).await;
            let shop = f.merchant().await;
            let card = f
                .issue(&client, policy(3, AmountRule::Any, MerchantLock::Any))
                .await;
            parties.push((client, shop, card));
        }
        let mut racers = Vec::new();
        for (index, (_, shop, card)) in parties.iter().enumerate() {
            let requests = match index % 4 {
                0 => vec![request(shop.id, authorize_command(card, 1_000), NOW)],
                1 => vec![request(shop.id, authorize_command(card, 50_000), NOW)],
                2 => vec![request(
                    shop.id,
                    authorize_command_with(card, 1_000, bytes32(DETAILS_TAG, 999_999), HOLD_TTL_S),
                    NOW,
                )],
                _ => (0..2)
                    .map(|_| keyed(shop.id, "twice", 1, authorize_command(card, 1_000), NOW))
                    .collect(),
            };
            for command in requests {
                let store = Arc::clone(&f.store);
                racers.push((
                    index,
                    tokio::spawn(async move { store.execute(command).await }),
                ));
            }
        }
        let mut answers: Vec<Vec<Executed>> = vec![Vec::new(); CLIENTS_COUNT];
        for (index, racer) in racers {
            answers[index].push(racer.await.unwrap().unwrap());
        }
        for (index, (client, _, card)) in parties.iter().enumerate() {
            let answers = &answers[index];
            let account = f.account(client).await;
            let number = f.number(card).await;
            match index % 4 {
                0 => {
                    authorized(answers[0].outcome.clone());
                    assert_eq!((account.held, number.uses_count), (1_000, 1), "{}", f.name);
                }
                1 => {
                    assert_eq!(
                        declined(answers[0].outcome.clone()),
                        Decline::InsufficientFunds
                    );
                    assert_eq!((account.held, number.uses_count), (0, 0), "{}", f.name);
                }
                2 => {
                    assert_eq!(
                        declined(answers[0].outcome.clone()),
                        Decline::WrongCardDetails
                    );
                    assert_eq!((account.held, number.uses_count), (0, 0), "{}", f.name);
                }
                _ => {
                    assert_eq!(
                        answers.iter().filter(|a| !a.replayed).count(),
                        1,
                        "{}",
                        f.name
                    );
                    assert_eq!(answers[0].outcome, answers[1].outcome, "{}", f.name);
                    authorized(answers[0].outcome.clone());
                    assert_eq!((account.held, number.uses_count), (1_000, 1), "{}", f.name);
                }
            }
        }
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_captures_voids_and_refunds_move_money_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let authorization = authorized(f.authorize(shop.id, &card, 1_000, NOW).await);
        let id = authorization.id;
        let race = async |command: &dyn Fn(usize) -> MerchantCommand| {
            let racers: Vec<_> = (0..RACERS_COUNT)
                .map(|index| {
                    let store = Arc::clone(&f.store);
                    let command = request(shop.id, command(index), NOW + 1);
                    tokio::spawn(async move { store.execute(command).await.unwrap().outcome })
                })
                .collect();
            let mut outcomes = Vec::with_capacity(RACERS_COUNT);
            for racer in racers {
                outcomes.push(racer.await.unwrap());
            }
            outcomes
        };
        let settled = race(&|index| {
            if index % 2 == 0 {
                MerchantCommand::Capture {
                    authorization_id: id,
                    amount: None,
                }
            } else {
                MerchantCommand::Void {
                    authorization_id: id,
                }
            }
        })
        .await;
        let done = settled
            .iter()
            .filter(|o| matches!(o, Outcome::Captured { .. } | Outcome::Voided { .. }))
            .count();
        assert_eq!(
            done, 1,
            "{}: exactly one capture or void: {settled:?}",
            f.name
        );
        f.assert_sound().await;
        if settled
            .iter()
            .any(|o| matches!(o, Outcome::Captured { .. }))
        {
            let refunds = race(&|_| MerchantCommand::Refund {
                authorization_id: id,
                amount: Some(eur(100)),
            })
            .await;
            let refunded = refunds
                .iter()
                .filter(|o| matches!(o, Outcome::Refunded { .. }))
                .count();
            assert_eq!(refunded, 10, "{}: ten refunds of 100 fit in 1000", f.name);
            assert_eq!(f.account(&alice).await.balance, 100_000);
        } else {
            let account = f.account(&alice).await;
            assert_eq!(
                (account.balance, account.held),
                (100_000, 0),
                "voided: nothing moved"
            );
        }
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// The client's history
// ---------------------------------------------------------------------------------------

/// What a history entry says, in short: authorization, state, amounts, when captured
/// and refunded, and the checkout's state if a seal paid it.
type Shown = (
    i64,
    String,
    (i64, i64, i64),
    (Option<i64>, Option<i64>),
    Option<String>,
);

fn shown(entry: &PaymentEntry) -> Shown {
    (
        entry.authorization_id,
        entry.state.clone(),
        (entry.amount, entry.captured, entry.refunded),
        (entry.captured_at_s, entry.refunded_at_s),
        entry
            .checkout
            .as_ref()
            .map(|checkout| checkout.state.clone()),
    )
}

#[tokio::test]
async fn a_clients_history_lists_their_own_payments_newest_first_a_page_at_a_time() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(100_000, 0).await;
        let bob = f.client(100_000, 0).await;
        // Two payments by seal: one paid, one left to expire.
        let paid = f.held(&shop, &alice, 4_990).await;
        f.sent(&paid, &alice, 1, NOW + 1).await;
        assert!(matches!(
            f.type_seal(&paid, &alice, 1, true, NOW + 2).await,
            SealOutcome::Paid(..)
        ));
        let left = f.held(&shop, &alice, 500).await;
        // Card payments: captured then partly refunded, voided, left to expire, held.
        let captured = f.issue(&alice, one_use()).await;
        let captured = authorized(f.authorize(shop.id, &captured, 1_000, NOW + 3).await);
        let capture = MerchantCommand::Capture {
            authorization_id: captured.id,
            amount: None,
        };
        f.run(shop.id, capture, NOW + 4).await;
        let refund = MerchantCommand::Refund {
            authorization_id: captured.id,
            amount: Some(eur(400)),
        };
        f.run(shop.id, refund, NOW + 5).await;
        let voided = f.issue(&alice, one_use()).await;
        let voided = authorized(f.authorize(shop.id, &voided, 2_000, NOW + 6).await);
        let void = MerchantCommand::Void {
            authorization_id: voided.id,
        };
        f.run(shop.id, void, NOW + 7).await;
        let lapsing = f.issue(&alice, one_use()).await;
        let lapsing = f
            .run(
                shop.id,
                authorize_command_with(&lapsing, 3_000, lapsing.details, 60),
                NOW + 8,
            )
            .await;
        let lapsing = authorized(lapsing);
        let bobs = f.issue(&bob, one_use()).await;
        let bobs = authorized(f.authorize(shop.id, &bobs, 777, NOW + 9).await);
        let held = f.issue(&alice, one_use()).await;
        let held = authorized(f.authorize(shop.id, &held, 600, NOW + 10).await);
        let swept = f.store.expire(NOW + CHECKOUT_S).await.unwrap();
        assert_eq!(swept.checkouts_expired, 1, "{}", f.name);

        let all = f.store.client_payments(alice.id, None, 100).await.unwrap();
        let text = |state: &str| state.to_owned();
        let paid_id = paid.id;
        let checkout_of = |entry: &PaymentEntry| entry.checkout.clone();
        assert_eq!(
            all.iter().map(shown).collect::<Vec<_>>(),
            vec![
                (held.id, text("authorized"), (600, 0, 0), (None, None), None),
                (
                    lapsing.id,
                    text("expired"),
                    (3_000, 0, 0),
                    (None, None),
                    None
                ),
                (voided.id, text("voided"), (2_000, 0, 0), (None, None), None),
                (
                    captured.id,
                    text("captured"),
                    (1_000, 1_000, 400),
                    (Some(NOW + 4), Some(NOW + 5)),
                    None
                ),
                (
                    all[4].authorization_id,
                    text("expired"),
                    (500, 0, 0),
                    (None, None),
                    Some(text("expired"))
                ),
                (
                    all[5].authorization_id,
                    text("captured"),
                    (4_990, 4_990, 0),
                    (Some(NOW + 2), None),
                    Some(text("paid"))
                ),
            ],
            "{}",
            f.name
        );
        assert_eq!(
            Some(all[4].authorization_id),
            f.reread_checkout(&left).await.authorization_id
        );
        let checkout = checkout_of(&all[5]).unwrap();
        let paid = f.reread_checkout(&paid).await;
        assert_eq!(paid.id, paid_id);
        assert_eq!(Some(all[5].authorization_id), paid.authorization_id);
        assert_eq!(
            (checkout.public_id.as_str(), checkout.object.as_str()),
            (paid.public_id.as_str(), "Two tickets")
        );
        let entry = &all[2];
        assert_eq!(
            (
                entry.updated_at_s,
                entry.created_at_s,
                entry.number_last_four.as_str()
            ),
            (NOW + 7, NOW + 6, voided.number_last_four.as_str())
        );
        assert_eq!(
            (all[0].merchant_name.as_str(), all[0].currency.as_str()),
            (shop.name.as_str(), "EUR")
        );
        assert_eq!(all[0].merchant_reference, "order-600");
        assert_eq!(all[1].hold_expires_at_s, NOW + 8 + 60);

        // Pages of two, each before the last one shown, add up to the whole.
        let mut paged = Vec::new();
        let mut before = None;
        // Bounded: a cursor that stopped moving fails here rather than hang.
        for _ in 0..=all.len() {
            let page = f.store.client_payments(alice.id, before, 2).await.unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            before = Some(last.authorization_id);
            paged.extend(page);
        }
        assert_eq!(paged, all, "{}", f.name);

        // Bob sees his own payment only; a client with none sees nothing.
        let bobs_history = f.store.client_payments(bob.id, None, 100).await.unwrap();
        assert_eq!(
            bobs_history
                .iter()
                .map(|e| e.authorization_id)
                .collect::<Vec<_>>(),
            vec![bobs.id]
        );
        let carol = f.client(100, 0).await;
        assert!(
            f.store
                .client_payments(carol.id, None, 100)
                .await
                .unwrap()
                .is_empty()
        );

        // The wallet's numbers: what became of each one's payments.
        let numbers = f.store.numbers_used(alice.id, 100).await.unwrap();
        let used: Vec<(i64, i64, u32, bool)> = numbers
            .iter()
            .map(|n| (n.paid, n.held, n.released, n.for_checkout))
            .collect();
        assert_eq!(
            used,
            vec![
                (0, 600, 0, false),
                (0, 0, 1, false),
                (0, 0, 1, false),
                (600, 0, 0, false),
                (0, 0, 1, true),
                (4_990, 0, 0, true),
            ],
            "{}",
            f.name
        );
        assert_eq!(numbers[0].number.id, held.number_id, "newest first");
        assert_eq!(numbers[3].number.id, captured.number_id);
        assert_eq!(f.store.numbers_used(alice.id, 2).await.unwrap().len(), 2);
        f.assert_sound().await;
    })
    .await;
}
