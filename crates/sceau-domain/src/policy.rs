//! Usage policies of payment numbers and the one function that decides an authorization
//! attempt against them.

use crate::decline::Decline;
use crate::limits::{CLIENT_FAILURES_MAX, CLIENT_PAUSE_S, NUMBER_TRIES_MAX};
use serde::{Deserialize, Serialize};

/// To which merchant a number may pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "merchant_id", rename_all = "snake_case")]
pub enum MerchantLock {
    /// Any merchant.
    Any,
    /// Only the merchant named at issue.
    Named(i64),
    /// The first merchant that authorizes, then only that one.
    FirstMerchant,
}

/// What amounts a number may authorize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "minor", rename_all = "snake_case")]
pub enum AmountRule {
    /// Any amount the account can cover.
    Any,
    /// The sum of all authorizations stays at or below this.
    Cap(i64),
    /// Each authorization is exactly this amount (Figure 4: locked to the checkout).
    Exact(i64),
}

/// The limits a number was issued with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePolicy {
    pub uses_max: u32,
    pub amount: AmountRule,
    pub merchant: MerchantLock,
    pub valid_until_s: i64,
}

/// Lifecycle of a number: `Live → Consumed | Blocked | Expired`. A live number past its
/// validity is already treated as expired; the sweep only records it (and frees its
/// fingerprint for a new draw).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberState {
    Live,
    Consumed,
    Blocked,
    Expired,
}

impl NumberState {
    pub fn as_str(&self) -> &'static str {
        match self {
            NumberState::Live => "live",
            NumberState::Consumed => "consumed",
            NumberState::Blocked => "blocked",
            NumberState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<NumberState> {
        match text {
            "live" => Some(NumberState::Live),
            "consumed" => Some(NumberState::Consumed),
            "blocked" => Some(NumberState::Blocked),
            "expired" => Some(NumberState::Expired),
            _ => None,
        }
    }

    /// What a client sees: a live number past its validity shows as expired.
    pub fn shown(&self, valid_until_s: i64, now_s: i64) -> &'static str {
        match self {
            NumberState::Live if now_s >= valid_until_s => "expired",
            other => other.as_str(),
        }
    }
}

/// A number as stored: its policy and how much of it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberUsage {
    pub state: NumberState,
    pub policy: UsagePolicy,
    pub uses_count: u32,
    pub amount_used_minor: i64,
    pub locked_merchant: Option<i64>,
    pub failed_tries: u32,
}

/// One authorization attempt with a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub merchant_id: i64,
    pub amount_minor: i64,
    pub same_currency: bool,
    /// Whether the expiry and security code matched (compared in constant time upstream).
    pub details_match: bool,
    pub holder_blocked: bool,
}

/// The decision on an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Approved by the policy (funds are the ledger's to check): the usage after it.
    Approve(NumberUsage),
    /// Declined without changing the number.
    Decline(Decline),
    /// Wrong expiry or security code: a failed try, and the usage after it.
    WrongDetails(NumberUsage),
}

/// A consecutive-failure count after one more failure: the new count, and the end of the
/// pause it starts when it reaches `failures_max` (the count then starts again).
pub fn count_failure(
    consecutive_failures: u32,
    failures_max: u32,
    pause_s: i64,
    now_s: i64,
) -> (u32, Option<i64>) {
    let failures = consecutive_failures.saturating_add(1);
    if failures >= failures_max {
        (0, Some(now_s + pause_s))
    } else {
        (failures, None)
    }
}

/// A client's payment failures after one more wrong card detail (SPEC: 5 in a row pause).
pub fn client_failure(consecutive_failures: u32, now_s: i64) -> (u32, Option<i64>) {
    count_failure(
        consecutive_failures,
        CLIENT_FAILURES_MAX,
        CLIENT_PAUSE_S,
        now_s,
    )
}

/// Decides an attempt. The order matters: wrong details are counted before anything is
/// revealed, so that someone without the expiry and security code learns nothing about
/// the number's state — not even that it is blocked (a blocked number keeps counting).
pub fn decide(usage: &NumberUsage, attempt: &Attempt, now_s: i64) -> Verdict {
    if !attempt.details_match {
        let failed_tries = usage.failed_tries.saturating_add(1);
        let state = if failed_tries >= NUMBER_TRIES_MAX {
            NumberState::Blocked
        } else {
            usage.state
        };
        return Verdict::WrongDetails(NumberUsage {
            failed_tries,
            state,
            ..*usage
        });
    }
    if usage.state == NumberState::Blocked || attempt.holder_blocked {
        return Verdict::Decline(Decline::Blocked);
    }
    if now_s >= usage.policy.valid_until_s || usage.state == NumberState::Expired {
        return Verdict::Decline(Decline::Expired);
    }
    if usage.state == NumberState::Consumed || usage.uses_count >= usage.policy.uses_max {
        return Verdict::Decline(Decline::AlreadyUsed);
    }
    if !attempt.same_currency {
        return Verdict::Decline(Decline::CurrencyMismatch);
    }
    let merchant_allowed = match (usage.policy.merchant, usage.locked_merchant) {
        (_, Some(locked)) => locked == attempt.merchant_id,
        (MerchantLock::Named(named), None) => named == attempt.merchant_id,
        (MerchantLock::Any | MerchantLock::FirstMerchant, None) => true,
    };
    if !merchant_allowed {
        return Verdict::Decline(Decline::OtherMerchant);
    }
    let amount_used_minor = match usage.amount_used_minor.checked_add(attempt.amount_minor) {
        Some(total) => total,
        None => return Verdict::Decline(Decline::OverCap),
    };
    let cap_reached = match usage.policy.amount {
        AmountRule::Any => false,
        AmountRule::Cap(cap) if amount_used_minor > cap => {
            return Verdict::Decline(Decline::OverCap);
        }
        AmountRule::Cap(cap) => amount_used_minor == cap,
        AmountRule::Exact(exact) if attempt.amount_minor != exact => {
            return Verdict::Decline(Decline::AmountMismatch);
        }
        AmountRule::Exact(_) => false,
    };
    let uses_count = usage.uses_count + 1;
    let consumed = uses_count >= usage.policy.uses_max || cap_reached;
    let locked_merchant = match usage.policy.merchant {
        MerchantLock::Any => usage.locked_merchant,
        MerchantLock::Named(_) | MerchantLock::FirstMerchant => Some(attempt.merchant_id),
    };
    Verdict::Approve(NumberUsage {
        state: if consumed {
            NumberState::Consumed
        } else {
            NumberState::Live
        },
        uses_count,
        amount_used_minor,
        locked_merchant,
        failed_tries: 0,
        policy: usage.policy,
    })
}

/// The holder of a number, as an authorization sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub client_id: i64,
    pub blocked: bool,
    /// Payments are paused until then (0: never).
    pub paused_until_s: i64,
    pub consecutive_failures: u32,
}

/// What an authorization attempt does, everything the store writes for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationPlan {
    /// Declined: nothing is written.
    Decline(Decline),
    /// Wrong expiry or security code: write the number's `usage` (a failed try, which
    /// may block it) and the holder's consecutive failures (which may pause them until
    /// `paused_until_s`); declined `WrongCardDetails`.
    WrongDetails {
        usage: NumberUsage,
        client_id: i64,
        holder_failures: u32,
        paused_until_s: Option<i64>,
    },
    /// Approved by the policy: hold the amount on the holder's account if its floor
    /// allows it (else `Decline(InsufficientFunds)`, nothing written), write the number's
    /// `usage`, start the holder's consecutive failures again (`reset_failures`: they
    /// were not zero) and record the authorization.
    Approve {
        usage: NumberUsage,
        reset_failures: bool,
    },
}

/// What an authorization attempt with a number does (`None`: no such number); see
/// [`AuthorizationPlan`]. The attempt's `holder_blocked` is taken from `holder`.
pub fn plan_authorization(
    number: Option<(&NumberUsage, &Holder)>,
    attempt: &Attempt,
    now_s: i64,
) -> AuthorizationPlan {
    let Some((usage, holder)) = number else {
        return AuthorizationPlan::Decline(Decline::UnknownNumber);
    };
    let attempt = Attempt {
        holder_blocked: holder.blocked || now_s < holder.paused_until_s,
        ..*attempt
    };
    match decide(usage, &attempt, now_s) {
        Verdict::Decline(decline) => AuthorizationPlan::Decline(decline),
        Verdict::WrongDetails(usage) => {
            let (holder_failures, paused_until_s) =
                client_failure(holder.consecutive_failures, now_s);
            AuthorizationPlan::WrongDetails {
                usage,
                client_id: holder.client_id,
                holder_failures,
                paused_until_s,
            }
        }
        Verdict::Approve(usage) => AuthorizationPlan::Approve {
            usage,
            reset_failures: holder.consecutive_failures > 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn usage(policy: UsagePolicy) -> NumberUsage {
        NumberUsage {
            state: NumberState::Live,
            policy,
            uses_count: 0,
            amount_used_minor: 0,
            locked_merchant: None,
            failed_tries: 0,
        }
    }

    fn policy() -> UsagePolicy {
        UsagePolicy {
            uses_max: 1,
            amount: AmountRule::Any,
            merchant: MerchantLock::Any,
            valid_until_s: NOW + 900,
        }
    }

    fn attempt(merchant_id: i64, amount_minor: i64) -> Attempt {
        Attempt {
            merchant_id,
            amount_minor,
            same_currency: true,
            details_match: true,
            holder_blocked: false,
        }
    }

    fn check(usage: &NumberUsage, attempt: Attempt, now_s: i64, expected: Result<(), Decline>) {
        let verdict = decide(usage, &attempt, now_s);
        let got = match verdict {
            Verdict::Approve(_) => Ok(()),
            Verdict::Decline(decline) => Err(decline),
            Verdict::WrongDetails(_) => Err(Decline::WrongCardDetails),
        };
        assert_eq!(got, expected, "{usage:?} {attempt:?}");
    }

    fn approved(usage: &NumberUsage, attempt: Attempt) -> NumberUsage {
        match decide(usage, &attempt, NOW) {
            Verdict::Approve(after) => after,
            other => unreachable!("expected approval, got {other:?}"),
        }
    }

    #[test]
    fn one_use_number_is_consumed_by_its_first_use() {
        let fresh = usage(policy());
        let after = approved(&fresh, attempt(7, 500));
        assert_eq!(after.state, NumberState::Consumed);
        check(&after, attempt(7, 500), NOW, Err(Decline::AlreadyUsed));
        check(&after, attempt(8, 1), NOW, Err(Decline::AlreadyUsed));
    }

    #[test]
    fn n_uses_and_total_cap() {
        let fresh = usage(UsagePolicy {
            uses_max: 3,
            amount: AmountRule::Cap(1000),
            ..policy()
        });
        let one = approved(&fresh, attempt(1, 400));
        let two = approved(&one, attempt(2, 400));
        assert_eq!(two.state, NumberState::Live);
        check(&two, attempt(3, 201), NOW, Err(Decline::OverCap));
        let three = approved(&two, attempt(3, 200));
        assert_eq!(three.state, NumberState::Consumed);
        assert_eq!(three.amount_used_minor, 1000);
    }

    #[test]
    fn cap_reached_consumes_before_uses_run_out() {
        let fresh = usage(UsagePolicy {
            uses_max: 10,
            amount: AmountRule::Cap(500),
            ..policy()
        });
        let after = approved(&fresh, attempt(1, 500));
        assert_eq!(after.state, NumberState::Consumed);
    }

    #[test]
    fn validity_is_exclusive_of_its_end() {
        let fresh = usage(policy());
        check(&fresh, attempt(1, 1), NOW + 899, Ok(()));
        check(&fresh, attempt(1, 1), NOW + 900, Err(Decline::Expired));
    }

    #[test]
    fn merchant_locks() {
        let named = usage(UsagePolicy {
            merchant: MerchantLock::Named(5),
            ..policy()
        });
        check(&named, attempt(6, 1), NOW, Err(Decline::OtherMerchant));
        check(&named, attempt(5, 1), NOW, Ok(()));
        let first = usage(UsagePolicy {
            uses_max: 2,
            merchant: MerchantLock::FirstMerchant,
            ..policy()
        });
        let after = approved(&first, attempt(9, 1));
        assert_eq!(after.locked_merchant, Some(9));
        check(&after, attempt(10, 1), NOW, Err(Decline::OtherMerchant));
        check(&after, attempt(9, 1), NOW, Ok(()));
    }

    #[test]
    fn exact_amount_lock() {
        let exact = usage(UsagePolicy {
            amount: AmountRule::Exact(4999),
            ..policy()
        });
        check(&exact, attempt(1, 5000), NOW, Err(Decline::AmountMismatch));
        check(&exact, attempt(1, 4998), NOW, Err(Decline::AmountMismatch));
        check(&exact, attempt(1, 4999), NOW, Ok(()));
    }

    #[test]
    fn three_wrong_tries_block_the_number() {
        let mut current = usage(UsagePolicy {
            uses_max: 2,
            ..policy()
        });
        for try_number in 1..=NUMBER_TRIES_MAX {
            let wrong = Attempt {
                details_match: false,
                ..attempt(1, 1)
            };
            match decide(&current, &wrong, NOW) {
                Verdict::WrongDetails(after) => current = after,
                other => unreachable!("try {try_number}: {other:?}"),
            }
        }
        assert_eq!(current.state, NumberState::Blocked);
        check(&current, attempt(1, 1), NOW, Err(Decline::Blocked));
    }

    #[test]
    fn a_blocked_number_is_not_revealed_without_its_details() {
        let blocked = NumberUsage {
            state: NumberState::Blocked,
            failed_tries: 3,
            ..usage(policy())
        };
        let wrong = Attempt {
            details_match: false,
            ..attempt(1, 1)
        };
        check(&blocked, wrong, NOW, Err(Decline::WrongCardDetails));
        check(&blocked, attempt(1, 1), NOW, Err(Decline::Blocked));
    }

    #[test]
    fn wrong_details_are_counted_before_state_is_revealed() {
        let consumed = approved(&usage(policy()), attempt(1, 1));
        let wrong = Attempt {
            details_match: false,
            ..attempt(1, 1)
        };
        check(
            &consumed,
            wrong,
            NOW + 10_000,
            Err(Decline::WrongCardDetails),
        );
    }

    #[test]
    fn five_consecutive_failures_pause_the_client() {
        let mut count = 0;
        for _ in 1..CLIENT_FAILURES_MAX {
            let (next, paused) = client_failure(count, NOW);
            assert_eq!(paused, None);
            count = next;
        }
        assert_eq!(client_failure(count, NOW), (0, Some(NOW + CLIENT_PAUSE_S)));
    }

    #[test]
    fn a_success_resets_failed_tries() {
        let fresh = usage(UsagePolicy {
            uses_max: 2,
            ..policy()
        });
        let wrong = Attempt {
            details_match: false,
            ..attempt(1, 1)
        };
        let Verdict::WrongDetails(after_wrong) = decide(&fresh, &wrong, NOW) else {
            unreachable!()
        };
        assert_eq!(after_wrong.failed_tries, 1);
        assert_eq!(approved(&after_wrong, attempt(1, 1)).failed_tries, 0);
    }

    #[test]
    fn blocked_holder_and_currency() {
        let fresh = usage(policy());
        check(
            &fresh,
            Attempt {
                holder_blocked: true,
                ..attempt(1, 1)
            },
            NOW,
            Err(Decline::Blocked),
        );
        check(
            &fresh,
            Attempt {
                same_currency: false,
                ..attempt(1, 1)
            },
            NOW,
            Err(Decline::CurrencyMismatch),
        );
    }

    #[test]
    fn shown_state() {
        assert_eq!(NumberState::Live.shown(10, 9), "live");
        assert_eq!(NumberState::Live.shown(10, 10), "expired");
        assert_eq!(NumberState::Consumed.shown(10, 100), "consumed");
    }

    fn holder(consecutive_failures: u32) -> Holder {
        Holder {
            client_id: 4,
            blocked: false,
            paused_until_s: 0,
            consecutive_failures,
        }
    }

    #[test]
    fn the_plan_of_an_authorization() {
        let number = usage(policy());
        let plan = |holder: &Holder, attempt: Attempt| {
            plan_authorization(Some((&number, holder)), &attempt, NOW)
        };
        assert_eq!(
            plan_authorization(None, &attempt(1, 100), NOW),
            AuthorizationPlan::Decline(Decline::UnknownNumber)
        );
        let Verdict::Approve(after) = decide(&number, &attempt(1, 100), NOW) else {
            unreachable!("a fresh number is approved");
        };
        assert_eq!(
            plan(&holder(0), attempt(1, 100)),
            AuthorizationPlan::Approve {
                usage: after,
                reset_failures: false
            }
        );
        assert_eq!(
            plan(&holder(2), attempt(1, 100)),
            AuthorizationPlan::Approve {
                usage: after,
                reset_failures: true
            }
        );
        let paused = Holder {
            paused_until_s: NOW + 1,
            ..holder(0)
        };
        assert_eq!(
            plan(&paused, attempt(1, 100)),
            AuthorizationPlan::Decline(Decline::Blocked)
        );
        let blocked = Holder {
            blocked: true,
            ..holder(0)
        };
        assert_eq!(
            plan(&blocked, attempt(1, 100)),
            AuthorizationPlan::Decline(Decline::Blocked)
        );
        let wrong = Attempt {
            details_match: false,
            ..attempt(1, 100)
        };
        let Verdict::WrongDetails(counted) = decide(&number, &wrong, NOW) else {
            unreachable!("wrong details are counted");
        };
        assert_eq!(
            plan(&holder(1), wrong),
            AuthorizationPlan::WrongDetails {
                usage: counted,
                client_id: 4,
                holder_failures: 2,
                paused_until_s: None
            }
        );
        assert_eq!(
            plan(&holder(CLIENT_FAILURES_MAX - 1), wrong),
            AuthorizationPlan::WrongDetails {
                usage: counted,
                client_id: 4,
                holder_failures: 0,
                paused_until_s: Some(NOW + CLIENT_PAUSE_S)
            }
        );
    }
}
