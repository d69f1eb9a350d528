//! The life of a checkout paid with a seal (Figures 1–3): every rule of it, in one place.
//!
//! `Open → Held → Paid | Failed`, `Open | Held → Expired`, and `Open | Held → Canceled`
//! (the client refused to pay).
//!
//! Where is the rule for a wrong seal, and what does it do to the checkout? Here, in
//! [`on_typed_seal`]: a wrong seal counts one try on the checkout and one consecutive
//! failure against the client (five in a row pause their payments, see
//! [`crate::policy::client_failure`]); the third wrong seal also fails the checkout
//! (`seal_tries_exhausted`), releases its hold and tells the merchant. A right seal in
//! time captures the hold in full and the checkout is paid; a seal typed after its time
//! counts nothing.
//!
//! Each step has one function that takes what the store read, inside its transaction,
//! and returns the plan of what must happen: [`on_sign_in`] (the hold),
//! [`on_send_seal`], [`on_typed_seal`], [`on_cancel`] and [`ON_EXPIRY`]. The store applies the plan
//! with its own SQL and decides nothing itself.

use crate::decline::Decline;
use crate::ledger::{self, AuthorizationFigures};
use crate::reach::TooMany;
use crate::seal::{self, ResendRefusal, SealStatus, SealVerdict};
use serde::{Deserialize, Serialize};

/// A checkout's failure after its third wrong seal.
pub const FAILED_SEAL: &str = "seal_tries_exhausted";
/// A checkout's failure when its time ran out before it was paid.
pub const FAILED_EXPIRED: &str = "checkout_expired";
/// A checkout's end when its client refused to pay it.
pub const CANCELED_BY_CLIENT: &str = "canceled_by_client";

/// Where a checkout stands, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutState {
    /// Waiting for the client to sign in.
    Open,
    /// The client signed in and the amount is held on their account: the electronic
    /// check is shown, a seal may be sent and typed.
    Held,
    /// The seal was typed right: the hold was captured.
    Paid,
    /// The payment failed (three wrong seals); the hold was released.
    Failed,
    /// The session ran out before it was paid; any hold was released.
    Expired,
    /// The client refused to pay (on the payment page); any hold was released.
    Canceled,
}

impl CheckoutState {
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckoutState::Open => "open",
            CheckoutState::Held => "held",
            CheckoutState::Paid => "paid",
            CheckoutState::Failed => "failed",
            CheckoutState::Expired => "expired",
            CheckoutState::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<CheckoutState> {
        [
            CheckoutState::Open,
            CheckoutState::Held,
            CheckoutState::Paid,
            CheckoutState::Failed,
            CheckoutState::Expired,
            CheckoutState::Canceled,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// Whether nothing can change it any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            CheckoutState::Paid
                | CheckoutState::Failed
                | CheckoutState::Expired
                | CheckoutState::Canceled
        )
    }
}

/// Where a checkout stands, with what each state has by construction: a held checkout
/// has the authorization that holds its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Open,
    Held { authorization_id: i64 },
    Paid,
    Failed,
    Expired,
    Canceled,
}

impl Stage {
    /// The stage of a stored state and authorization; `None` for a checkout held without
    /// an authorization (which sceau never writes).
    pub fn of(state: CheckoutState, authorization_id: Option<i64>) -> Option<Stage> {
        Some(match state {
            CheckoutState::Open => Stage::Open,
            CheckoutState::Held => Stage::Held {
                authorization_id: authorization_id?,
            },
            CheckoutState::Paid => Stage::Paid,
            CheckoutState::Failed => Stage::Failed,
            CheckoutState::Expired => Stage::Expired,
            CheckoutState::Canceled => Stage::Canceled,
        })
    }

    pub fn state(&self) -> CheckoutState {
        match self {
            Stage::Open => CheckoutState::Open,
            Stage::Held { .. } => CheckoutState::Held,
            Stage::Paid => CheckoutState::Paid,
            Stage::Failed => CheckoutState::Failed,
            Stage::Expired => CheckoutState::Expired,
            Stage::Canceled => CheckoutState::Canceled,
        }
    }
}

/// A checkout as its rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkout {
    pub stage: Stage,
    /// The client who signed in on it, if one did.
    pub client_id: Option<i64>,
    pub expires_at_s: i64,
    /// The live seal, if one was sent.
    pub seal: Option<SealStatus>,
}

/// Why a step of a checkout was refused (not a decline of the payment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutRefusal {
    NotFound,
    /// Another client signed in on this checkout first.
    OtherClient,
    /// The checkout is not in the state this step needs (already paid, failed...).
    WrongState,
    Expired,
    /// No new seal before `until_s`.
    SealCooldown {
        until_s: i64,
    },
    /// All the seals this payment may have were sent.
    NoSealsLeft,
    /// No seal was sent, or a newer one replaced it.
    NoLiveSeal,
    /// The client's payments are paused (after consecutive failures) or blocked.
    ClientStopped,
    /// The client already has as many checkouts held as allowed.
    TooManyHeld,
    /// The client was sent as many seals this hour as allowed.
    TooManySeals,
    /// The client was sent as many messages this hour as allowed, all kinds together.
    TooManyMessages,
    /// The session the seal was typed in has ended (signed out, or expired).
    SignedOut,
}

impl CheckoutRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            CheckoutRefusal::NotFound => "checkout_not_found",
            CheckoutRefusal::OtherClient => "checkout_of_another_client",
            CheckoutRefusal::WrongState => "checkout_state",
            CheckoutRefusal::Expired => "checkout_expired",
            CheckoutRefusal::SealCooldown { .. } => "seal_cooldown",
            CheckoutRefusal::NoSealsLeft => "no_seals_left",
            CheckoutRefusal::NoLiveSeal => "no_live_seal",
            CheckoutRefusal::ClientStopped => "client_paused",
            CheckoutRefusal::TooManyHeld => "too_many_checkouts",
            CheckoutRefusal::TooManySeals => "too_many_seals",
            CheckoutRefusal::TooManyMessages => "too_many_messages",
            CheckoutRefusal::SignedOut => "unauthorized",
        }
    }
}

impl From<TooMany> for CheckoutRefusal {
    fn from(too_many: TooMany) -> CheckoutRefusal {
        match too_many {
            TooMany::Seals | TooMany::Numbers => CheckoutRefusal::TooManySeals,
            TooMany::Messages => CheckoutRefusal::TooManyMessages,
        }
    }
}

impl From<ResendRefusal> for CheckoutRefusal {
    fn from(refusal: ResendRefusal) -> CheckoutRefusal {
        match refusal {
            ResendRefusal::Cooldown { until_s } => CheckoutRefusal::SealCooldown { until_s },
            ResendRefusal::NoneLeft => CheckoutRefusal::NoSealsLeft,
        }
    }
}

/// The checks every step by a client makes first: the checkout exists, is this client's
/// (or nobody's yet), is in `expected` state and has not run out.
fn step(
    checkout: Option<&Checkout>,
    client_id: i64,
    expected: CheckoutState,
    now_s: i64,
) -> Result<&Checkout, CheckoutRefusal> {
    let checkout = checkout.ok_or(CheckoutRefusal::NotFound)?;
    if checkout.client_id.is_some_and(|owner| owner != client_id) {
        return Err(CheckoutRefusal::OtherClient);
    }
    if checkout.stage.state() != expected {
        return Err(CheckoutRefusal::WrongState);
    }
    if now_s >= checkout.expires_at_s {
        return Err(CheckoutRefusal::Expired);
    }
    Ok(checkout)
}

/// The client signing in on a checkout, as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payer {
    /// Blocked, or paused after consecutive failures.
    pub stopped: bool,
    /// Whether the client's account is in the checkout's currency.
    pub same_currency: bool,
}

/// What the store read for a client signing in on a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignIn<'a> {
    pub checkout: Option<&'a Checkout>,
    pub client_id: i64,
    /// The client's record (`None`: no such client).
    pub payer: Option<Payer>,
    /// Checkouts the client has held now, not yet run out.
    pub held_now: i64,
    /// Checkouts the client may have held at once (this one included).
    pub held_max: i64,
    pub now_s: i64,
}

/// What signing in on a checkout does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldPlan {
    /// Signing in again on a checkout already held for this client changes nothing.
    AlreadyHeld,
    Refused(CheckoutRefusal),
    /// The client's account or state does not allow the payment: nothing is written.
    Declined(Decline),
    /// Hold the amount on the client's account if its floor allows it (else
    /// `Declined(InsufficientFunds)` and nothing is written), draw the single-use number
    /// locked to this amount and merchant, authorize with it, and move the checkout to
    /// held for this client with that authorization.
    Hold,
}

/// What signing in on a checkout does (see [`HoldPlan`]).
pub fn on_sign_in(sign_in: &SignIn<'_>) -> HoldPlan {
    if let Some(checkout) = sign_in.checkout
        && checkout.stage.state() == CheckoutState::Held
        && checkout.client_id == Some(sign_in.client_id)
    {
        return HoldPlan::AlreadyHeld;
    }
    let checked = step(
        sign_in.checkout,
        sign_in.client_id,
        CheckoutState::Open,
        sign_in.now_s,
    );
    if let Err(refusal) = checked {
        return HoldPlan::Refused(refusal);
    }
    let Some(payer) = sign_in.payer else {
        return HoldPlan::Refused(CheckoutRefusal::NotFound);
    };
    if payer.stopped {
        return HoldPlan::Declined(Decline::Blocked);
    }
    if !payer.same_currency {
        return HoldPlan::Declined(Decline::CurrencyMismatch);
    }
    if sign_in.held_now >= sign_in.held_max {
        return HoldPlan::Refused(CheckoutRefusal::TooManyHeld);
    }
    HoldPlan::Hold
}

/// Whether a (new) seal may be sent for a checkout now: it must be held by this client
/// (and not run out), the client may pay, the hour's messages allow one more (`budget`)
/// and the seal rules allow a resend ([`seal::may_send`]). `Ok`: record the new seal
/// (replacing the previous one, which dies), count the send and queue its SMS.
pub fn on_send_seal(
    checkout: Option<&Checkout>,
    client_id: i64,
    client_may_pay: bool,
    budget: Result<(), TooMany>,
    now_s: i64,
) -> Result<(), CheckoutRefusal> {
    let checkout = step(checkout, client_id, CheckoutState::Held, now_s)?;
    if !client_may_pay {
        return Err(CheckoutRefusal::ClientStopped);
    }
    budget?;
    seal::may_send(checkout.seal.as_ref(), now_s)?;
    Ok(())
}

/// What the store read for a seal typed in a client's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealTyped<'a> {
    pub checkout: Option<&'a Checkout>,
    /// The client of the session the seal was typed in (`None`: signed out).
    pub session_client: Option<i64>,
    /// The client exists and is neither blocked nor paused.
    pub client_may_pay: bool,
    /// Whether the typed seal is the live seal (compared in constant time upstream).
    pub matched: bool,
    /// The figures of the authorization a held checkout names, as read.
    pub hold: Option<AuthorizationFigures>,
    pub now_s: i64,
}

/// What a typed seal does to a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealPlan {
    /// Nothing is written.
    Refused(CheckoutRefusal),
    /// The seal's time had passed: nothing is counted, nothing written.
    Expired,
    /// The right seal: capture `amount` (the whole hold) of the authorization, mark the
    /// checkout paid, clear the client's consecutive failures, queue the webhook.
    Pay { authorization_id: i64, amount: i64 },
    /// The right seal, but the hold is gone (released by the sweep at the checkout's
    /// end): mark the checkout failed with `failure`, queue the webhook; nothing counted.
    Unpaid { failure: &'static str },
    /// A wrong seal: count the try on the checkout and a consecutive failure against the
    /// client (which may pause them).
    Wrong { tries_left: u32 },
    /// The third wrong seal: count the try and the client's failure, release the hold
    /// (if it is still held: `release`), mark the checkout failed with [`FAILED_SEAL`]
    /// and queue the webhook.
    Fail {
        authorization_id: i64,
        release: bool,
    },
}

/// What a plan does to the checkout's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckoutChange {
    /// Wrong tries to add (one for a wrong seal).
    pub wrong_tries_added: u32,
    pub state: CheckoutState,
    /// Why it failed, when it does.
    pub failure: Option<&'static str>,
}

impl SealPlan {
    /// Whether the plan writes (so that the store must hold the locks for it).
    pub fn writes(&self) -> bool {
        self.change().is_some()
    }

    /// What it does to the checkout (`None`: nothing).
    pub fn change(&self) -> Option<CheckoutChange> {
        let (wrong_tries_added, state, failure) = match self {
            SealPlan::Refused(_) | SealPlan::Expired => return None,
            SealPlan::Pay { .. } => (0, CheckoutState::Paid, None),
            SealPlan::Unpaid { failure } => (0, CheckoutState::Failed, Some(*failure)),
            SealPlan::Wrong { .. } => (1, CheckoutState::Held, None),
            SealPlan::Fail { .. } => (1, CheckoutState::Failed, Some(FAILED_SEAL)),
        };
        Some(CheckoutChange {
            wrong_tries_added,
            state,
            failure,
        })
    }

    /// The tries left the judged seal's evidence record states: `None` for a right seal.
    pub fn tries_left(&self) -> Option<u32> {
        match self {
            SealPlan::Wrong { tries_left } => Some(*tries_left),
            SealPlan::Fail { .. } => Some(0),
            _ => None,
        }
    }

    /// Whether the client's consecutive failures grow by one (a wrong seal), or start
    /// again (`Some(false)`: a payment made), or stay.
    pub fn client_failure(&self) -> Option<bool> {
        match self {
            SealPlan::Wrong { .. } | SealPlan::Fail { .. } => Some(true),
            SealPlan::Pay { .. } => Some(false),
            _ => None,
        }
    }
}

/// A held checkout whose authorization was not found: sceau never writes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldMissing {
    pub authorization_id: i64,
}

/// What a typed seal does to a checkout (see [`SealPlan`]).
pub fn on_typed_seal(typed: &SealTyped<'_>) -> Result<SealPlan, HoldMissing> {
    let Some(client_id) = typed.session_client else {
        return Ok(SealPlan::Refused(CheckoutRefusal::SignedOut));
    };
    let checkout = match step(typed.checkout, client_id, CheckoutState::Held, typed.now_s) {
        Ok(checkout) => checkout,
        Err(refusal) => return Ok(SealPlan::Refused(refusal)),
    };
    if !typed.client_may_pay {
        return Ok(SealPlan::Refused(CheckoutRefusal::ClientStopped));
    }
    let Some(status) = checkout.seal else {
        return Ok(SealPlan::Refused(CheckoutRefusal::NoLiveSeal));
    };
    let Stage::Held { authorization_id } = checkout.stage else {
        return Ok(SealPlan::Refused(CheckoutRefusal::WrongState));
    };
    let verdict = seal::judge(&status, typed.matched, typed.now_s);
    if let SealVerdict::Expired = verdict {
        return Ok(SealPlan::Expired);
    }
    if let SealVerdict::Wrong { tries_left } = verdict {
        return Ok(SealPlan::Wrong { tries_left });
    }
    let hold = typed.hold.ok_or(HoldMissing { authorization_id })?;
    Ok(match verdict {
        SealVerdict::Accept => match ledger::capture(&hold, None, typed.now_s) {
            Ok(amount) => SealPlan::Pay {
                authorization_id,
                amount,
            },
            Err(rejection) => SealPlan::Unpaid {
                failure: rejection.code(),
            },
        },
        _ => SealPlan::Fail {
            authorization_id,
            release: ledger::void(&hold).is_ok(),
        },
    })
}

/// What the end of a checkout's time does to it, open or held: it becomes expired with
/// [`FAILED_EXPIRED`] and the merchant is told. Its hold (if any) expires with it and is
/// released by the same sweep (the hold's end is the checkout's).
pub const ON_EXPIRY: (CheckoutState, &str) = (CheckoutState::Expired, FAILED_EXPIRED);

/// What the store read for a client canceling a checkout on its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancel<'a> {
    pub checkout: Option<&'a Checkout>,
    /// The client signed in on the page.
    pub client_id: i64,
    /// The figures of the authorization a held checkout names, as read.
    pub hold: Option<AuthorizationFigures>,
    pub now_s: i64,
}

/// What canceling a checkout does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelPlan {
    /// Nothing is written.
    Refused(CheckoutRefusal),
    /// Release the hold of `authorization_id` if there is one still held (`release`),
    /// mark the checkout canceled with [`CANCELED_BY_CLIENT`] by this client (the seal,
    /// if one was sent, dies with it), record it and queue the merchant's webhook.
    Cancel {
        authorization_id: Option<i64>,
        release: bool,
    },
}

/// The client refuses to pay: a checkout open (nobody's yet) or held for this client,
/// not run out, is canceled at once and its hold released; another client's held
/// checkout is refused with [`CheckoutRefusal::OtherClient`], one that already ended
/// (paid, failed, expired, canceled) with [`CheckoutRefusal::WrongState`].
///
/// An open checkout may be canceled by any signed-in client, on purpose: whoever has its
/// address (128 random bits, given by the merchant to its client, never logged nor sent
/// as a referrer) may already sign in and hold it; canceling costs the merchant that one
/// checkout, which it is told of, and the canceling client is recorded as its client.
pub fn on_cancel(cancel: &Cancel<'_>) -> Result<CancelPlan, HoldMissing> {
    // Open or held, as it is: any other state has ended, and is refused as not open.
    let state = match cancel.checkout {
        Some(checkout) if !checkout.stage.state().is_final() => checkout.stage.state(),
        _ => CheckoutState::Open,
    };
    let checkout = match step(cancel.checkout, cancel.client_id, state, cancel.now_s) {
        Ok(checkout) => checkout,
        Err(refusal) => return Ok(CancelPlan::Refused(refusal)),
    };
    Ok(match checkout.stage {
        Stage::Held { authorization_id } => {
            let hold = cancel.hold.ok_or(HoldMissing { authorization_id })?;
            CancelPlan::Cancel {
                authorization_id: Some(authorization_id),
                release: ledger::void(&hold).is_ok(),
            }
        }
        _ => CancelPlan::Cancel {
            authorization_id: None,
            release: false,
        },
    })
}

/// The states whose checkouts the expiry sweep ends when their time has passed.
pub const EXPIRING: [CheckoutState; 2] = [CheckoutState::Open, CheckoutState::Held];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::AuthorizationState;
    use crate::seal::{SEAL_SENDS_MAX, SEAL_TRIES_MAX};

    const NOW: i64 = 1_000_000;
    const CLIENT: i64 = 7;
    const AUTHORIZATION: i64 = 42;

    fn live_seal(wrong_tries: u32) -> SealStatus {
        SealStatus {
            issued_at_s: NOW - 60,
            expires_at_s: NOW + 240,
            wrong_tries,
            sends: 1,
        }
    }

    fn held(wrong_tries: u32) -> Checkout {
        Checkout {
            stage: Stage::Held {
                authorization_id: AUTHORIZATION,
            },
            client_id: Some(CLIENT),
            expires_at_s: NOW + 600,
            seal: Some(live_seal(wrong_tries)),
        }
    }

    fn open() -> Checkout {
        Checkout {
            stage: Stage::Open,
            client_id: None,
            expires_at_s: NOW + 600,
            seal: None,
        }
    }

    fn hold(state: AuthorizationState) -> AuthorizationFigures {
        AuthorizationFigures {
            state,
            amount: 1_250,
            captured: 0,
            refunded: 0,
            hold_expires_at_s: NOW + 600,
        }
    }

    fn typed(checkout: &Checkout, matched: bool) -> SealTyped<'_> {
        SealTyped {
            checkout: Some(checkout),
            session_client: Some(CLIENT),
            client_may_pay: true,
            matched,
            hold: Some(hold(AuthorizationState::Authorized)),
            now_s: NOW,
        }
    }

    fn check_seal(typed: SealTyped<'_>, expected: SealPlan) {
        assert_eq!(on_typed_seal(&typed), Ok(expected));
    }

    #[test]
    fn states_round_trip_through_their_text() {
        for state in [
            CheckoutState::Open,
            CheckoutState::Held,
            CheckoutState::Paid,
            CheckoutState::Failed,
            CheckoutState::Expired,
            CheckoutState::Canceled,
        ] {
            assert_eq!(CheckoutState::parse(state.as_str()), Some(state));
            let final_state = !matches!(state, CheckoutState::Open | CheckoutState::Held);
            assert_eq!(state.is_final(), final_state);
        }
        assert_eq!(CheckoutState::parse("HELD"), None);
    }

    #[test]
    fn a_held_checkout_has_its_authorization() {
        assert_eq!(Stage::of(CheckoutState::Held, None), None);
        let stage = Stage::of(CheckoutState::Held, Some(3));
        assert_eq!(
            stage,
            Some(Stage::Held {
                authorization_id: 3
            })
        );
        assert_eq!(stage.map(|stage| stage.state()), Some(CheckoutState::Held));
        assert_eq!(Stage::of(CheckoutState::Open, None), Some(Stage::Open));
        assert_eq!(Stage::of(CheckoutState::Paid, Some(3)), Some(Stage::Paid));
        assert_eq!(
            Stage::of(CheckoutState::Expired, None).map(|stage| stage.state()),
            Some(CheckoutState::Expired)
        );
        assert_eq!(
            Stage::of(CheckoutState::Failed, Some(1)).map(|stage| stage.state()),
            Some(CheckoutState::Failed)
        );
    }

    #[test]
    fn the_right_seal_captures_the_whole_hold() {
        check_seal(
            typed(&held(0), true),
            SealPlan::Pay {
                authorization_id: AUTHORIZATION,
                amount: 1_250,
            },
        );
        // Even after two wrong tries.
        check_seal(
            typed(&held(SEAL_TRIES_MAX - 1), true),
            SealPlan::Pay {
                authorization_id: AUTHORIZATION,
                amount: 1_250,
            },
        );
    }

    #[test]
    fn the_right_seal_on_a_released_hold_fails_the_checkout() {
        let checkout = held(0);
        let mut released = typed(&checkout, true);
        released.hold = Some(hold(AuthorizationState::Expired));
        check_seal(
            released,
            SealPlan::Unpaid {
                failure: "authorization_expired",
            },
        );
    }

    #[test]
    fn a_wrong_seal_counts_a_try() {
        check_seal(
            typed(&held(0), false),
            SealPlan::Wrong {
                tries_left: SEAL_TRIES_MAX - 1,
            },
        );
        check_seal(typed(&held(1), false), SealPlan::Wrong { tries_left: 1 });
        // The hold is not needed to count a try.
        let checkout = held(0);
        let mut unread = typed(&checkout, false);
        unread.hold = None;
        check_seal(unread, SealPlan::Wrong { tries_left: 2 });
    }

    #[test]
    fn the_third_wrong_seal_fails_the_checkout_and_releases_its_hold() {
        check_seal(
            typed(&held(SEAL_TRIES_MAX - 1), false),
            SealPlan::Fail {
                authorization_id: AUTHORIZATION,
                release: true,
            },
        );
        // A hold already released (by the sweep) is not released twice.
        let checkout = held(SEAL_TRIES_MAX - 1);
        let mut released = typed(&checkout, false);
        released.hold = Some(hold(AuthorizationState::Expired));
        check_seal(
            released,
            SealPlan::Fail {
                authorization_id: AUTHORIZATION,
                release: false,
            },
        );
    }

    #[test]
    fn a_seal_typed_late_counts_nothing() {
        let mut late = held(2);
        late.seal = Some(SealStatus {
            expires_at_s: NOW,
            ..live_seal(2)
        });
        check_seal(typed(&late, true), SealPlan::Expired);
        check_seal(typed(&late, false), SealPlan::Expired);
        assert!(!SealPlan::Expired.writes());
    }

    #[test]
    fn a_typed_seal_is_refused_before_it_is_judged() {
        let checkout = held(0);
        let mut signed_out = typed(&checkout, true);
        signed_out.session_client = None;
        check_seal(signed_out, SealPlan::Refused(CheckoutRefusal::SignedOut));
        let mut missing = typed(&checkout, true);
        missing.checkout = None;
        check_seal(missing, SealPlan::Refused(CheckoutRefusal::NotFound));
        let mut other = typed(&checkout, true);
        other.session_client = Some(CLIENT + 1);
        check_seal(other, SealPlan::Refused(CheckoutRefusal::OtherClient));
        let mut stopped = typed(&checkout, true);
        stopped.client_may_pay = false;
        check_seal(stopped, SealPlan::Refused(CheckoutRefusal::ClientStopped));
        let mut run_out = held(0);
        run_out.expires_at_s = NOW;
        check_seal(
            typed(&run_out, true),
            SealPlan::Refused(CheckoutRefusal::Expired),
        );
        let mut unsent = held(0);
        unsent.seal = None;
        check_seal(
            typed(&unsent, true),
            SealPlan::Refused(CheckoutRefusal::NoLiveSeal),
        );
        let mut paid = held(0);
        paid.stage = Stage::Paid;
        check_seal(
            typed(&paid, true),
            SealPlan::Refused(CheckoutRefusal::WrongState),
        );
        assert!(!SealPlan::Refused(CheckoutRefusal::WrongState).writes());
        assert!(SealPlan::Wrong { tries_left: 1 }.writes());
    }

    #[test]
    fn what_each_plan_does_to_the_checkout_and_the_client() {
        let change = |wrong_tries_added, state, failure| {
            Some(CheckoutChange {
                wrong_tries_added,
                state,
                failure,
            })
        };
        let pay = SealPlan::Pay {
            authorization_id: 1,
            amount: 5,
        };
        assert_eq!(pay.change(), change(0, CheckoutState::Paid, None));
        assert_eq!(
            (pay.tries_left(), pay.client_failure()),
            (None, Some(false))
        );
        let unpaid = SealPlan::Unpaid { failure: "x" };
        assert_eq!(unpaid.change(), change(0, CheckoutState::Failed, Some("x")));
        assert_eq!((unpaid.tries_left(), unpaid.client_failure()), (None, None));
        let wrong = SealPlan::Wrong { tries_left: 2 };
        assert_eq!(wrong.change(), change(1, CheckoutState::Held, None));
        assert_eq!(
            (wrong.tries_left(), wrong.client_failure()),
            (Some(2), Some(true))
        );
        let fail = SealPlan::Fail {
            authorization_id: 1,
            release: true,
        };
        assert_eq!(
            fail.change(),
            change(1, CheckoutState::Failed, Some(FAILED_SEAL))
        );
        assert_eq!(
            (fail.tries_left(), fail.client_failure()),
            (Some(0), Some(true))
        );
        for nothing in [
            SealPlan::Expired,
            SealPlan::Refused(CheckoutRefusal::NotFound),
        ] {
            assert_eq!(
                (
                    nothing.change(),
                    nothing.tries_left(),
                    nothing.client_failure()
                ),
                (None, None, None)
            );
        }
    }

    #[test]
    fn a_held_checkout_whose_hold_was_not_read_is_an_error() {
        let checkout = held(0);
        let mut unread = typed(&checkout, true);
        unread.hold = None;
        assert_eq!(
            on_typed_seal(&unread),
            Err(HoldMissing {
                authorization_id: AUTHORIZATION
            })
        );
    }

    fn sign_in(checkout: &Checkout) -> SignIn<'_> {
        SignIn {
            checkout: Some(checkout),
            client_id: CLIENT,
            payer: Some(Payer {
                stopped: false,
                same_currency: true,
            }),
            held_now: 0,
            held_max: 3,
            now_s: NOW,
        }
    }

    #[test]
    fn signing_in_on_an_open_checkout_holds_it() {
        assert_eq!(on_sign_in(&sign_in(&open())), HoldPlan::Hold);
        let checkout = open();
        let mut two_held = sign_in(&checkout);
        two_held.held_now = 2;
        assert_eq!(on_sign_in(&two_held), HoldPlan::Hold);
    }

    #[test]
    fn signing_in_again_changes_nothing() {
        assert_eq!(on_sign_in(&sign_in(&held(0))), HoldPlan::AlreadyHeld);
        let checkout = held(0);
        let mut other = sign_in(&checkout);
        other.client_id = CLIENT + 1;
        assert_eq!(
            on_sign_in(&other),
            HoldPlan::Refused(CheckoutRefusal::OtherClient)
        );
    }

    #[test]
    fn signing_in_is_refused_or_declined() {
        let checkout = open();
        let mut missing = sign_in(&checkout);
        missing.checkout = None;
        assert_eq!(
            on_sign_in(&missing),
            HoldPlan::Refused(CheckoutRefusal::NotFound)
        );
        let mut run_out = open();
        run_out.expires_at_s = NOW;
        assert_eq!(
            on_sign_in(&sign_in(&run_out)),
            HoldPlan::Refused(CheckoutRefusal::Expired)
        );
        let mut failed = open();
        failed.stage = Stage::Failed;
        assert_eq!(
            on_sign_in(&sign_in(&failed)),
            HoldPlan::Refused(CheckoutRefusal::WrongState)
        );
        let mut unknown = sign_in(&checkout);
        unknown.payer = None;
        assert_eq!(
            on_sign_in(&unknown),
            HoldPlan::Refused(CheckoutRefusal::NotFound)
        );
        let mut stopped = sign_in(&checkout);
        stopped.payer = Some(Payer {
            stopped: true,
            same_currency: true,
        });
        assert_eq!(on_sign_in(&stopped), HoldPlan::Declined(Decline::Blocked));
        let mut foreign = sign_in(&checkout);
        foreign.payer = Some(Payer {
            stopped: false,
            same_currency: false,
        });
        assert_eq!(
            on_sign_in(&foreign),
            HoldPlan::Declined(Decline::CurrencyMismatch)
        );
        let mut many = sign_in(&checkout);
        many.held_now = 3;
        assert_eq!(
            on_sign_in(&many),
            HoldPlan::Refused(CheckoutRefusal::TooManyHeld)
        );
    }

    #[test]
    fn sending_a_seal() {
        let checkout = held(0);
        let mut unsent = held(0);
        unsent.seal = None;
        let send = |checkout: &Checkout, may_pay, budget| {
            on_send_seal(Some(checkout), CLIENT, may_pay, budget, NOW)
        };
        assert_eq!(send(&unsent, true, Ok(())), Ok(()));
        // A resend after the cooldown.
        assert_eq!(send(&checkout, true, Ok(())), Ok(()));
        assert_eq!(
            on_send_seal(None, CLIENT, true, Ok(()), NOW),
            Err(CheckoutRefusal::NotFound)
        );
        assert_eq!(
            send(&open(), true, Ok(())),
            Err(CheckoutRefusal::WrongState)
        );
        assert_eq!(
            send(&checkout, false, Ok(())),
            Err(CheckoutRefusal::ClientStopped)
        );
        // A stopped client learns nothing of their budget of messages.
        assert_eq!(
            send(&checkout, false, Err(TooMany::Messages)),
            Err(CheckoutRefusal::ClientStopped)
        );
        assert_eq!(
            send(&checkout, true, Err(TooMany::Seals)),
            Err(CheckoutRefusal::TooManySeals)
        );
        assert_eq!(
            send(&checkout, true, Err(TooMany::Messages)),
            Err(CheckoutRefusal::TooManyMessages)
        );
        let mut recent = held(0);
        recent.seal = Some(SealStatus {
            issued_at_s: NOW - 1,
            ..live_seal(0)
        });
        assert!(matches!(
            send(&recent, true, Ok(())),
            Err(CheckoutRefusal::SealCooldown { .. })
        ));
        let mut spent = held(0);
        spent.seal = Some(SealStatus {
            sends: SEAL_SENDS_MAX,
            ..live_seal(0)
        });
        assert_eq!(
            send(&spent, true, Ok(())),
            Err(CheckoutRefusal::NoSealsLeft)
        );
    }

    #[test]
    fn expiry_ends_open_and_held_checkouts() {
        assert_eq!(ON_EXPIRY, (CheckoutState::Expired, "checkout_expired"));
        assert!(EXPIRING.iter().all(|state| !state.is_final()));
        assert!(ON_EXPIRY.0.is_final());
    }

    fn cancel(checkout: &Checkout) -> Cancel<'_> {
        Cancel {
            checkout: Some(checkout),
            client_id: CLIENT,
            hold: Some(hold(AuthorizationState::Authorized)),
            now_s: NOW,
        }
    }

    fn check_cancel(cancel: Cancel<'_>, expected: CancelPlan) {
        assert_eq!(on_cancel(&cancel), Ok(expected));
    }

    #[test]
    fn canceling_a_held_checkout_releases_its_hold() {
        let release = |release| CancelPlan::Cancel {
            authorization_id: Some(AUTHORIZATION),
            release,
        };
        check_cancel(cancel(&held(0)), release(true));
        // With a seal out and two wrong tries: the seal dies with the checkout.
        check_cancel(cancel(&held(2)), release(true));
        // A hold already released (by the sweep) is not released twice.
        let checkout = held(0);
        let mut released = cancel(&checkout);
        released.hold = Some(hold(AuthorizationState::Expired));
        check_cancel(released, release(false));
        let mut unread = cancel(&checkout);
        unread.hold = None;
        assert_eq!(
            on_cancel(&unread),
            Err(HoldMissing {
                authorization_id: AUTHORIZATION
            })
        );
    }

    #[test]
    fn canceling_an_open_checkout_holds_nothing() {
        let nothing = CancelPlan::Cancel {
            authorization_id: None,
            release: false,
        };
        check_cancel(cancel(&open()), nothing);
        let checkout = open();
        let mut anyone = cancel(&checkout);
        anyone.client_id = CLIENT + 1;
        check_cancel(anyone, nothing);
    }

    #[test]
    fn canceling_is_refused_once_the_checkout_ended_or_is_anothers() {
        let refused = |refusal| CancelPlan::Refused(refusal);
        for stage in [Stage::Paid, Stage::Failed, Stage::Expired, Stage::Canceled] {
            let mut ended = held(0);
            ended.stage = stage;
            check_cancel(cancel(&ended), refused(CheckoutRefusal::WrongState));
        }
        let checkout = held(0);
        let mut other = cancel(&checkout);
        other.client_id = CLIENT + 1;
        check_cancel(other, refused(CheckoutRefusal::OtherClient));
        let mut missing = cancel(&checkout);
        missing.checkout = None;
        check_cancel(missing, refused(CheckoutRefusal::NotFound));
        let mut run_out = held(0);
        run_out.expires_at_s = NOW;
        check_cancel(cancel(&run_out), refused(CheckoutRefusal::Expired));
    }

    #[test]
    fn a_canceled_checkout_is_neither_held_sealed_nor_paid() {
        let mut canceled = held(0);
        canceled.stage = Stage::Canceled;
        check_seal(
            typed(&canceled, true),
            SealPlan::Refused(CheckoutRefusal::WrongState),
        );
        assert_eq!(
            on_send_seal(Some(&canceled), CLIENT, true, Ok(()), NOW),
            Err(CheckoutRefusal::WrongState)
        );
        assert_eq!(
            on_sign_in(&sign_in(&canceled)),
            HoldPlan::Refused(CheckoutRefusal::WrongState)
        );
        assert!(!EXPIRING.contains(&CheckoutState::Canceled));
    }

    #[test]
    fn refusal_codes_are_stable() {
        assert_eq!(CheckoutRefusal::SignedOut.code(), "unauthorized");
        assert_eq!(CheckoutRefusal::ClientStopped.code(), "client_paused");
        assert_eq!(CheckoutRefusal::TooManyHeld.code(), "too_many_checkouts");
        assert_eq!(
            CheckoutRefusal::from(TooMany::Numbers),
            CheckoutRefusal::TooManySeals
        );
    }
}
