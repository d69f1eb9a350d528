//! The store as one state machine: random, interleaved sequences of every kind of
//! operation (enrolments, numbers, authorizations and what follows them, checkouts and
//! their seals, certificates, clearing, the clock moving), checked
//! after every step against a model kept here: the ledger's own report, the evidence
//! chains of the subjects the step touched, and each lifecycle's state and figures.
//!
//! Runs on SQLite, and on PostgreSQL when `SCEAU_TEST_DATABASE_URL` names a database.
//! Time is an argument everywhere; the cases are drawn from a fixed seed unless
//! `PROPTEST_RNG_SEED` says otherwise, and `PROPTEST_CASES` raises their number.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "state_machine/model.rs"]
mod model;

use model::{Backend, World};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngSeed;

/// Which of the things made so far: mostly one the step can act on (a held checkout for
/// a seal, a held authorization for a capture...), else one of the latest; sometimes any.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    Live(Index),
    Recent(Index),
    Any(Index),
}

impl Pick {
    const RECENT_COUNT: usize = 3;

    /// An index below `len`, or none if there is nothing to pick.
    pub fn of(self, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        Some(match self {
            Pick::Live(index) | Pick::Recent(index) => {
                len - 1 - index.index(len.min(Pick::RECENT_COUNT))
            }
            Pick::Any(index) => index.index(len),
        })
    }

    /// As [`Pick::of`], a live one among those `live` says are, if there are any.
    pub fn of_live(self, len: usize, live: impl Fn(usize) -> bool) -> Option<usize> {
        let Pick::Live(index) = self else {
            return self.of(len);
        };
        let candidates: Vec<usize> = (0..len).filter(|candidate| live(*candidate)).collect();
        if candidates.is_empty() {
            return self.of(len);
        }
        Some(candidates[index.index(candidates.len())])
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        8 => any::<Index>().prop_map(Pick::Live),
        2 => any::<Index>().prop_map(Pick::Recent),
        1 => any::<Index>().prop_map(Pick::Any),
    ]
}

/// How much of what is there: all of it, a part (per mille), or one more.
#[derive(Debug, Clone, Copy)]
pub enum Portion {
    All,
    PerMille(i64),
    TooMuch,
}

impl Portion {
    /// The amount asked for (`None`: all, as the API says it).
    pub fn of(self, whole: i64) -> Option<i64> {
        match self {
            Portion::All => None,
            Portion::PerMille(per_mille) => Some((whole * per_mille / 1_000).max(1)),
            Portion::TooMuch => Some(whole + 1),
        }
    }
}

/// A seal as typed: the live one, a wrong one, or the one a newer seal replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    Right,
    Wrong,
    Stale,
}

#[derive(Debug, Clone)]
pub enum Op {
    EnrolClient {
        euro: bool,
        opening: i64,
        credit: i64,
    },
    EnrolMerchant {
        with_bank: bool,
    },
    Block {
        client: Pick,
        blocked: bool,
    },
    Issue {
        client: Pick,
        uses_max: u32,
        /// 0: any amount, 1: a cap, 2: an exact amount (`limit`).
        rule: u8,
        limit: i64,
        /// None: any merchant; Some(None): the first; Some(Some(m)): merchant m.
        lock: Option<Option<Pick>>,
        validity_s: i64,
    },
    Authorize {
        number: Pick,
        merchant: Pick,
        amount: Option<i64>,
        wrong_details: bool,
        hold_ttl_s: i64,
        /// The same attempt made again and again, as someone guessing would: enough,
        /// now and then, to block a number and pause its holder.
        tries: u8,
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
    /// The clock moves forward and the sweep runs.
    Advance {
        seconds: i64,
    },
    CreateCheckout {
        merchant: Pick,
        amount: i64,
        euro: bool,
        lifetime_s: i64,
    },
    Hold {
        checkout: Pick,
        client: Pick,
    },
    SendSeal {
        checkout: Pick,
        by_other: Option<Pick>,
        validity_s: i64,
    },
    TypeSeal {
        checkout: Pick,
        typed: Typed,
        by_other: Option<Pick>,
    },
    /// The client (or another) refuses to pay a checkout.
    Cancel {
        checkout: Pick,
        by_other: Option<Pick>,
    },
    RecordCertificate {
        /// A holder's certificate for this client, or a disposable one.
        holder: Option<Pick>,
        starts_in_s: i64,
        lifetime_s: i64,
    },
    UseCertificate {
        certificate: Pick,
    },
    RevokeCertificate {
        certificate: Pick,
        reason: u8,
    },
    SetBank {
        merchant: Pick,
    },
    CloseClearing {
        euro: bool,
    },
}

fn ledger_ops() -> impl Strategy<Value = Op> {
    let lock = prop::option::weighted(0.5, prop::option::weighted(0.7, pick()));
    let issue = (
        pick(),
        1..=3_u32,
        0..3_u8,
        1..5_000_i64,
        lock,
        prop_oneof![60..=600_i64, 600..=86_400_i64],
    )
        .prop_map(
            |(client, uses_max, rule, limit, lock, validity_s)| Op::Issue {
                client,
                uses_max,
                rule,
                limit,
                lock,
                validity_s,
            },
        );
    let authorize = (
        pick(),
        pick(),
        prop::option::weighted(0.5, 1..6_000_i64),
        prop::bool::weighted(0.3),
        30..=3_000_i64,
        prop_oneof![Just(1_u8), 3..=6_u8],
    )
        .prop_map(
            |(number, merchant, amount, wrong_details, hold_ttl_s, tries)| Op::Authorize {
                number,
                merchant,
                amount,
                wrong_details,
                hold_ttl_s,
                tries,
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
    let enrol_client =
        (any::<bool>(), 0..20_000_i64, 0..3_000_i64).prop_map(|(euro, opening, credit)| {
            Op::EnrolClient {
                euro,
                opening,
                credit,
            }
        });
    let enrol_merchant = any::<bool>().prop_map(|with_bank| Op::EnrolMerchant { with_bank });
    let block = (pick(), prop::bool::weighted(0.3))
        .prop_map(|(client, blocked)| Op::Block { client, blocked });
    prop_oneof![
        3 => issue,
        10 => authorize,
        3 => capture,
        1 => void,
        2 => refund,
        1 => enrol_client,
        1 => enrol_merchant,
        1 => block,
    ]
}

fn checkout_ops() -> impl Strategy<Value = Op> {
    let other = || prop::option::weighted(0.15, pick());
    let create = (
        pick(),
        1..6_000_i64,
        prop::bool::weighted(0.8),
        60..=900_i64,
    )
        .prop_map(|(merchant, amount, euro, lifetime_s)| Op::CreateCheckout {
            merchant,
            amount,
            euro,
            lifetime_s,
        });
    let hold = (pick(), pick()).prop_map(|(checkout, client)| Op::Hold { checkout, client });
    let send =
        (pick(), other(), 60..=300_i64).prop_map(|(checkout, by_other, validity_s)| Op::SendSeal {
            checkout,
            by_other,
            validity_s,
        });
    let typed = prop_oneof![
        1 => Just(Typed::Right),
        3 => Just(Typed::Wrong),
        1 => Just(Typed::Stale)
    ];
    let type_seal = (pick(), typed, other()).prop_map(|(checkout, typed, by_other)| Op::TypeSeal {
        checkout,
        typed,
        by_other,
    });
    let cancel =
        (pick(), other()).prop_map(|(checkout, by_other)| Op::Cancel { checkout, by_other });
    prop_oneof![2 => create, 3 => hold, 2 => send, 3 => type_seal, 2 => cancel]
}

fn other_ops() -> impl Strategy<Value = Op> {
    let record = (
        prop::option::weighted(0.3, pick()),
        -60..=60_i64,
        30..=900_i64,
    )
        .prop_map(|(holder, starts_in_s, lifetime_s)| Op::RecordCertificate {
            holder,
            starts_in_s,
            lifetime_s,
        });
    prop_oneof![
        2 => record,
        3 => pick().prop_map(|certificate| Op::UseCertificate { certificate }),
        1 => (pick(), 0..=10_u8).prop_map(|(certificate, reason)| Op::RevokeCertificate { certificate, reason }),
        1 => pick().prop_map(|merchant| Op::SetBank { merchant }),
        1 => any::<bool>().prop_map(|euro| Op::CloseClearing { euro }),
        2 => (0..=400_i64).prop_map(|seconds| Op::Advance { seconds }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![4 => ledger_ops(), 5 => checkout_ops(), 3 => other_ops()]
}

/// 32 cases from a fixed seed, unless the environment asks for others.
fn config() -> ProptestConfig {
    let from_environment = ProptestConfig::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    ProptestConfig {
        cases: if set("PROPTEST_CASES") {
            from_environment.cases
        } else {
            32
        },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            from_environment.rng_seed
        } else {
            RngSeed::Fixed(17)
        },
        max_shrink_iters: 256,
        ..from_environment
    }
}

/// Seconds that pass before a step (the sweep runs only when asked: [`Op::Advance`]).
const STEP_S_MAX: i64 = 20;

async fn run_sequence(steps: &[(i64, Op)]) {
    for backend in Backend::all().await {
        let mut world = World::start(&backend).await;
        for (index, (elapsed_s, op)) in steps.iter().enumerate() {
            let context = format!("{}: step {index} (+{elapsed_s} s) {op:?}", backend.name);
            world.elapse(*elapsed_s);
            world.apply(op, &context).await;
            world.check(&context).await;
        }
        world.check_every_chain(backend.name).await;
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_lifecycle_keeps_its_rules_under_any_interleaving(
        steps in prop::collection::vec((0..=STEP_S_MAX, op()), 5..=40)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run_sequence(&steps));
    }
}
