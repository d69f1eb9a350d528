//! The ledger check: the ledger stays sound under random sequences of operations.

use crate::fixtures::*;
use proptest::prelude::*;
use proptest::sample::Index;
use sceau_domain::decline::Decline;
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::policy::{AmountRule, MerchantLock, NumberState, UsagePolicy};
use sceau_store::{AuthorizationView, ClientRecord, MerchantCommand, MerchantRecord, Outcome};
use std::collections::HashMap;

const CLIENTS: [(&str, i64, i64); 3] =
    [("EUR", 10_000, 0), ("EUR", 3_000, 2_000), ("USD", 5_000, 0)];
const MERCHANTS_COUNT: usize = 3;

#[derive(Debug, Clone, Copy)]
enum AmountChoice {
    Any,
    Cap(i64),
    Exact(i64),
}

#[derive(Debug, Clone, Copy)]
enum LockChoice {
    Any,
    Named(usize),
    First,
}

/// How much of what is there: all of it (`None`), a part (per mille), or one more.
#[derive(Debug, Clone, Copy)]
enum Portion {
    All,
    PerMille(i64),
    TooMuch,
}

#[derive(Debug, Clone)]
enum Op {
    Issue {
        client: usize,
        uses_max: u32,
        amount: AmountChoice,
        lock: LockChoice,
        validity_s: i64,
    },
    /// `amount: None` pays what the number's policy names (or 500).
    Authorize {
        number: Pick,
        merchant: usize,
        amount: Option<i64>,
        wrong_details: bool,
        wrong_currency: bool,
        hold_ttl_s: i64,
    },
    Capture {
        authorization: Pick,
        portion: Portion,
        by_other: bool,
    },
    Void {
        authorization: Pick,
    },
    Refund {
        authorization: Pick,
        portion: Portion,
    },
    Expire {
        advance_s: i64,
    },
}

/// Which of the numbers or authorizations so far: mostly one of the latest, so that
/// sequences act on what is still live; sometimes any.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Recent(Index),
    Any(Index),
}

impl Pick {
    const RECENT_COUNT: usize = 3;

    /// An index below `len`, which must not be zero.
    fn of(self, len: usize) -> usize {
        match self {
            Pick::Recent(index) => len - 1 - index.index(len.min(Pick::RECENT_COUNT)),
            Pick::Any(index) => index.index(len),
        }
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![3 => any::<Index>().prop_map(Pick::Recent), 2 => any::<Index>().prop_map(Pick::Any)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![
        Just(AmountChoice::Any),
        (1..5_000_i64).prop_map(AmountChoice::Cap),
        (1..3_000_i64).prop_map(AmountChoice::Exact),
    ];
    let lock = prop_oneof![
        Just(LockChoice::Any),
        (0..MERCHANTS_COUNT).prop_map(LockChoice::Named),
        Just(LockChoice::First)
    ];
    let validity_s = prop_oneof![300..=VALIDITY_S, 3_600..=86_400_i64];
    let issue = (0..CLIENTS.len(), 1..=3_u32, amount, lock, validity_s).prop_map(
        |(client, uses_max, amount, lock, validity_s)| Op::Issue {
            client,
            uses_max,
            amount,
            lock,
            validity_s,
        },
    );
    let authorize = (
        pick(),
        0..MERCHANTS_COUNT,
        prop::option::weighted(0.5, 1..6_000_i64),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
        30..=3_000_i64,
    )
        .prop_map(
            |(number, merchant, amount, wrong_details, wrong_currency, hold_ttl_s)| Op::Authorize {
                number,
                merchant,
                amount,
                wrong_details,
                wrong_currency,
                hold_ttl_s,
            },
        );
    let portion = || {
        prop_oneof![
            Just(Portion::All),
            (1..=1_000_i64).prop_map(Portion::PerMille),
            Just(Portion::TooMuch)
        ]
    };
    let capture = (pick(), portion(), prop::bool::weighted(0.1)).prop_map(
        |(authorization, portion, by_other)| Op::Capture {
            authorization,
            portion,
            by_other,
        },
    );
    let void = pick().prop_map(|authorization| Op::Void { authorization });
    let refund = (pick(), portion()).prop_map(|(authorization, portion)| Op::Refund {
        authorization,
        portion,
    });
    let expire = (0..=900_i64).prop_map(|advance_s| Op::Expire { advance_s });
    prop_oneof![3 => issue, 6 => authorize, 4 => capture, 1 => void, 3 => refund, 1 => expire]
}

/// What the test knows independently of the store.
struct World {
    now_s: i64,
    clients: Vec<(ClientRecord, i64)>,
    merchants: Vec<MerchantRecord>,
    cards: Vec<Card>,
    /// (merchant, authorization) of every approval.
    authorizations: Vec<(i64, i64)>,
    /// Per number: approvals and their sum.
    usage: HashMap<i64, (u32, i64)>,
}

impl Portion {
    fn of(self, whole: i64) -> Option<i64> {
        match self {
            Portion::All => None,
            Portion::PerMille(per_mille) => Some((whole * per_mille / 1_000).max(1)),
            Portion::TooMuch => Some(whole + 1),
        }
    }
}

async fn apply(f: &Fixture, world: &mut World, op: &Op) {
    let now_s = world.now_s;
    match op {
        Op::Issue {
            client,
            uses_max,
            amount,
            lock,
            validity_s,
        } => {
            let amount = match amount {
                AmountChoice::Any => AmountRule::Any,
                AmountChoice::Cap(cap) => AmountRule::Cap(*cap),
                AmountChoice::Exact(exact) => AmountRule::Exact(*exact),
            };
            let merchant = match lock {
                LockChoice::Any => MerchantLock::Any,
                LockChoice::Named(index) => MerchantLock::Named(world.merchants[*index].id),
                LockChoice::First => MerchantLock::FirstMerchant,
            };
            let policy = UsagePolicy {
                uses_max: *uses_max,
                amount,
                merchant,
                valid_until_s: now_s + validity_s,
            };
            let card = f.issue_at(&world.clients[*client].0, policy, now_s).await;
            world.cards.push(card);
        }
        Op::Authorize {
            number,
            merchant,
            amount,
            wrong_details,
            wrong_currency,
            hold_ttl_s,
        } => {
            if world.cards.is_empty() {
                return;
            }
            let card = &world.cards[number.of(world.cards.len())];
            let amount = amount.unwrap_or(match card.view.policy.amount {
                AmountRule::Any => 500,
                AmountRule::Cap(limit) | AmountRule::Exact(limit) => limit,
            });
            let other_currency = if card.currency == currency("EUR") {
                currency("USD")
            } else {
                currency("EUR")
            };
            let command = MerchantCommand::Authorize {
                number_fingerprint: card.number,
                details_fingerprint: if *wrong_details {
                    bytes32(DETAILS_TAG, u64::MAX)
                } else {
                    card.details
                },
                amount,
                currency: if *wrong_currency {
                    other_currency
                } else {
                    card.currency
                },
                merchant_reference: "order".into(),
                hold_ttl_s: *hold_ttl_s,
            };
            let merchant_id = world.merchants[*merchant].id;
            match f.run(merchant_id, command, now_s).await {
                Outcome::Authorized { authorization } => {
                    assert!(
                        !wrong_details && !wrong_currency,
                        "approved a bad attempt: {op:?}"
                    );
                    assert_eq!(
                        (authorization.number_id, authorization.amount),
                        (card.view.id, amount)
                    );
                    world.authorizations.push((merchant_id, authorization.id));
                    let usage = world.usage.entry(card.view.id).or_default();
                    *usage = (usage.0 + 1, usage.1 + amount);
                }
                Outcome::Declined { decline, .. } => {
                    if *wrong_details {
                        assert!(
                            matches!(decline, Decline::WrongCardDetails | Decline::Blocked),
                            "{decline:?}"
                        );
                    }
                }
                other => panic!("authorize answered {other:?}"),
            }
        }
        Op::Capture {
            authorization,
            portion,
            by_other,
        } => {
            let Some(view) = pick_authorization(f, world, authorization).await else {
                return;
            };
            let merchant_id = if *by_other {
                other_merchant(world, view.merchant_id)
            } else {
                view.merchant_id
            };
            let command = MerchantCommand::Capture {
                authorization_id: view.id,
                amount: portion.of(view.amount).map(eur),
            };
            match f.run(merchant_id, command, now_s).await {
                Outcome::Captured { authorization } => {
                    assert!(!by_other && !matches!(portion, Portion::TooMuch), "{op:?}");
                    assert_eq!(view.state, AuthorizationState::Authorized);
                    assert_eq!(
                        authorization.captured,
                        portion.of(view.amount).unwrap_or(view.amount)
                    );
                }
                Outcome::Rejected { .. } => {}
                other => panic!("capture answered {other:?}"),
            }
        }
        Op::Void { authorization } => {
            let Some(view) = pick_authorization(f, world, authorization).await else {
                return;
            };
            match f
                .run(
                    view.merchant_id,
                    MerchantCommand::Void {
                        authorization_id: view.id,
                    },
                    now_s,
                )
                .await
            {
                Outcome::Voided { .. } => assert_eq!(view.state, AuthorizationState::Authorized),
                Outcome::Rejected { .. } => {}
                other => panic!("void answered {other:?}"),
            }
        }
        Op::Refund {
            authorization,
            portion,
        } => {
            let Some(view) = pick_authorization(f, world, authorization).await else {
                return;
            };
            let refundable = view.captured - view.refunded;
            let command = MerchantCommand::Refund {
                authorization_id: view.id,
                amount: portion.of(refundable).map(eur),
            };
            match f.run(view.merchant_id, command, now_s).await {
                Outcome::Refunded { amount, .. } => {
                    assert!(!matches!(portion, Portion::TooMuch), "{op:?}");
                    assert!(
                        amount > 0 && amount <= refundable,
                        "refunded {amount} of {refundable}"
                    );
                }
                Outcome::Rejected { .. } => {}
                other => panic!("refund answered {other:?}"),
            }
        }
        Op::Expire { advance_s } => {
            world.now_s += advance_s;
            f.store.expire(world.now_s).await.unwrap();
        }
    }
}

async fn pick_authorization(f: &Fixture, world: &World, index: &Pick) -> Option<AuthorizationView> {
    if world.authorizations.is_empty() {
        return None;
    }
    let (merchant_id, id) = world.authorizations[index.of(world.authorizations.len())];
    Some(
        f.store
            .authorization(merchant_id, id)
            .await
            .unwrap()
            .expect("an approved authorization exists"),
    )
}

fn other_merchant(world: &World, merchant_id: i64) -> i64 {
    world
        .merchants
        .iter()
        .map(|m| m.id)
        .find(|id| *id != merchant_id)
        .expect("several merchants")
}

/// The invariants, after every step: the ledger's own report, and what the test can
/// check independently through the trait.
async fn check_invariants(f: &Fixture, world: &World, context: &str) {
    let report = f.store.check_ledger().await.unwrap();
    assert!(report.is_sound(), "{context}: {report:?}");

    for (client, _) in &world.clients {
        for number in f.store.client_numbers(client.id, LIST_LIMIT).await.unwrap() {
            let label = format!("{context}: number {}", number.id);
            assert!(
                number.uses_count <= number.policy.uses_max,
                "{label}: {number:?}"
            );
            match number.policy.amount {
                AmountRule::Any => {}
                AmountRule::Cap(cap) => assert!(number.amount_used <= cap, "{label}: {number:?}"),
                AmountRule::Exact(exact) => assert_eq!(
                    number.amount_used,
                    exact * i64::from(number.uses_count),
                    "{label}"
                ),
            }
            let expected = world.usage.get(&number.id).copied().unwrap_or_default();
            assert_eq!(
                (number.uses_count, number.amount_used),
                expected,
                "{label}: usage differs from approvals"
            );
            if number.uses_count == number.policy.uses_max {
                assert_ne!(number.state, NumberState::Live, "{label}: used up but live");
            }
        }
    }

    let mut held: HashMap<i64, i64> = HashMap::new();
    let mut moved: HashMap<i64, i64> = HashMap::new();
    for (merchant_id, id) in &world.authorizations {
        let view = f
            .store
            .authorization(*merchant_id, *id)
            .await
            .unwrap()
            .expect("authorization exists");
        assert!(
            view.captured <= view.amount && view.refunded <= view.captured,
            "{context}: {view:?}"
        );
        assert_eq!(
            view.state == AuthorizationState::Captured,
            view.captured > 0,
            "{context}: {view:?}"
        );
        if view.state == AuthorizationState::Authorized {
            *held.entry(view.client_id).or_default() += view.amount;
        }
        *moved.entry(view.client_id).or_default() += view.refunded - view.captured;
    }
    for (client, opening) in &world.clients {
        let account = f.account(client).await;
        assert_eq!(
            account.held,
            held.get(&client.id).copied().unwrap_or(0),
            "{context}: held of {}",
            client.id
        );
        assert_eq!(
            account.balance,
            opening + moved.get(&client.id).copied().unwrap_or(0),
            "{context}: balance of {}",
            client.id
        );
        assert!(
            account.balance - account.held >= -account.credit_limit,
            "{context}: below the floor: {account:?}"
        );
    }
}

async fn run_sequence(ops: &[Op]) {
    for backend in backends().await {
        let f = Fixture::new(backend);
        let mut world = World {
            now_s: NOW,
            clients: Vec::new(),
            merchants: Vec::new(),
            cards: Vec::new(),
            authorizations: Vec::new(),
            usage: HashMap::new(),
        };
        for (code, opening, credit) in CLIENTS {
            world
                .clients
                .push((f.client_in(code, opening, credit).await, opening));
        }
        for _ in 0..MERCHANTS_COUNT {
            world.merchants.push(f.merchant().await);
        }
        // One number per client to start with, so that the first steps have work.
        for (client, _) in &world.clients {
            let policy = UsagePolicy {
                valid_until_s: NOW + 86_400,
                ..policy(3, AmountRule::Any, MerchantLock::Any)
            };
            world.cards.push(f.issue(client, policy).await);
        }
        for (index, op) in ops.iter().enumerate() {
            apply(&f, &mut world, op).await;
            check_invariants(&f, &world, &format!("{}: step {index} {op:?}", f.name)).await;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_stays_sound_under_any_sequence(ops in prop::collection::vec(op_strategy(), 5..=40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run_sequence(&ops));
    }
}
