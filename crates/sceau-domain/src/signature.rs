//! The life of a request for a signature in a client's name: every rule of it, in one
//! place.
//!
//! `AwaitingSeal → Sealed → Signed`, `AwaitingSeal → Failed` (three wrong seals) and
//! `Sealed → Failed` (the signature could not be made).
//!
//! What does a typed seal do to a request? [`on_typed_seal`] says: the right seal in
//! time seals it (the client consented to sign this very data) and clears the client's
//! consecutive failures; a wrong seal counts a try on the request and a failure against
//! the client (five in a row pause them, see [`crate::policy::client_failure`]); the
//! third wrong seal fails the request; a seal typed after its time counts nothing. The
//! store reads what it takes inside its transaction, and applies the plan it returns.

use crate::seal::{self, SealStatus, SealVerdict};
use serde::{Deserialize, Serialize};

/// Where a request for a signature in a client's name stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureState {
    /// Waiting for the seal sent to the client's phone.
    AwaitingSeal,
    /// The right seal was typed: the client consented to sign this very data. The
    /// signature is being made (or is made again after a failure).
    Sealed,
    /// Signed: the signature is stored.
    Signed,
    /// Three wrong seals: nothing will be signed for this request.
    Failed,
}

impl SignatureState {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureState::AwaitingSeal => "awaiting_seal",
            SignatureState::Sealed => "sealed",
            SignatureState::Signed => "signed",
            SignatureState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<SignatureState> {
        [
            SignatureState::AwaitingSeal,
            SignatureState::Sealed,
            SignatureState::Signed,
            SignatureState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// A request as its rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub client_id: i64,
    pub state: SignatureState,
    pub issued_at_s: i64,
    pub expires_at_s: i64,
    pub wrong_tries: u32,
}

/// What the store read for a seal typed for a request in a client's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealTyped<'a> {
    pub request: Option<&'a Request>,
    /// The client of the session the seal was typed in (`None`: signed out).
    pub session_client: Option<i64>,
    /// The client exists and is neither blocked nor paused.
    pub client_may_pay: bool,
    /// Whether the typed seal is the request's (compared in constant time upstream).
    pub matched: bool,
    pub now_s: i64,
}

/// What a typed seal does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignaturePlan {
    /// No live session, no such request, or not this client's: nothing is said of
    /// which, nothing is written.
    NotFound,
    /// The request is no longer waiting for a seal: nothing is written.
    NotAwaiting,
    /// The client is blocked or paused: nothing is written.
    ClientStopped,
    /// The seal's time had passed: nothing is counted (a new request is needed).
    Expired,
    /// The right seal: the request becomes sealed, the client's failures start again.
    Seal,
    /// A wrong seal: a try counted on the request, a failure against the client.
    Wrong { tries_left: u32 },
    /// The third wrong seal: counted like a wrong one, and the request fails.
    Fail,
}

impl SignaturePlan {
    /// What it does to the request, on condition that it still awaits its seal: wrong
    /// tries to add and the new state (`None`: nothing).
    pub fn change(&self) -> Option<(u32, SignatureState)> {
        match self {
            SignaturePlan::Seal => Some((0, SignatureState::Sealed)),
            SignaturePlan::Wrong { .. } => Some((1, SignatureState::AwaitingSeal)),
            SignaturePlan::Fail => Some((1, SignatureState::Failed)),
            _ => None,
        }
    }

    /// The tries left the judged seal's evidence record states (`None` for the right
    /// seal); only for plans that write.
    pub fn tries_left(&self) -> Option<u32> {
        match self {
            SignaturePlan::Wrong { tries_left } => Some(*tries_left),
            SignaturePlan::Fail => Some(0),
            _ => None,
        }
    }
}

/// What a typed seal does to a request (see [`SignaturePlan`]).
pub fn on_typed_seal(typed: &SealTyped<'_>) -> SignaturePlan {
    let request = match (typed.session_client, typed.request) {
        (Some(client_id), Some(request)) if request.client_id == client_id => request,
        _ => return SignaturePlan::NotFound,
    };
    if request.state != SignatureState::AwaitingSeal {
        return SignaturePlan::NotAwaiting;
    }
    if !typed.client_may_pay {
        return SignaturePlan::ClientStopped;
    }
    let status = SealStatus {
        issued_at_s: request.issued_at_s,
        expires_at_s: request.expires_at_s,
        wrong_tries: request.wrong_tries,
        sends: 1,
    };
    match seal::judge(&status, typed.matched, typed.now_s) {
        SealVerdict::Expired => SignaturePlan::Expired,
        SealVerdict::Accept => SignaturePlan::Seal,
        SealVerdict::Wrong { tries_left } => SignaturePlan::Wrong { tries_left },
        SealVerdict::Exhausted => SignaturePlan::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::SEAL_TRIES_MAX;

    const NOW: i64 = 1_000_000;
    const CLIENT: i64 = 9;

    fn awaiting(wrong_tries: u32) -> Request {
        Request {
            client_id: CLIENT,
            state: SignatureState::AwaitingSeal,
            issued_at_s: NOW - 30,
            expires_at_s: NOW + 270,
            wrong_tries,
        }
    }

    fn check(
        request: Option<&Request>,
        tweak: impl Fn(&mut SealTyped<'_>),
        expected: SignaturePlan,
    ) {
        let mut typed = SealTyped {
            request,
            session_client: Some(CLIENT),
            client_may_pay: true,
            matched: true,
            now_s: NOW,
        };
        tweak(&mut typed);
        assert_eq!(on_typed_seal(&typed), expected);
    }

    #[test]
    fn states_round_trip_through_their_text() {
        for state in [
            SignatureState::AwaitingSeal,
            SignatureState::Sealed,
            SignatureState::Signed,
            SignatureState::Failed,
        ] {
            assert_eq!(SignatureState::parse(state.as_str()), Some(state));
        }
        assert_eq!(SignatureState::parse("awaiting"), None);
    }

    #[test]
    fn the_right_seal_seals_the_request() {
        check(Some(&awaiting(0)), |_| {}, SignaturePlan::Seal);
        check(
            Some(&awaiting(SEAL_TRIES_MAX - 1)),
            |_| {},
            SignaturePlan::Seal,
        );
        assert_eq!(
            SignaturePlan::Seal.change(),
            Some((0, SignatureState::Sealed))
        );
        assert_eq!(SignaturePlan::Seal.tries_left(), None);
    }

    #[test]
    fn wrong_seals_count_then_fail_the_request() {
        let wrong = |typed: &mut SealTyped<'_>| typed.matched = false;
        check(
            Some(&awaiting(0)),
            wrong,
            SignaturePlan::Wrong {
                tries_left: SEAL_TRIES_MAX - 1,
            },
        );
        check(
            Some(&awaiting(SEAL_TRIES_MAX - 1)),
            wrong,
            SignaturePlan::Fail,
        );
        let plan = SignaturePlan::Wrong { tries_left: 1 };
        assert_eq!(plan.change(), Some((1, SignatureState::AwaitingSeal)));
        assert_eq!(plan.tries_left(), Some(1));
        assert_eq!(
            SignaturePlan::Fail.change(),
            Some((1, SignatureState::Failed))
        );
        assert_eq!(SignaturePlan::Fail.tries_left(), Some(0));
    }

    #[test]
    fn a_late_seal_counts_nothing() {
        check(
            Some(&awaiting(0)),
            |typed| typed.now_s = NOW + 270,
            SignaturePlan::Expired,
        );
        assert_eq!(SignaturePlan::Expired.change(), None);
    }

    #[test]
    fn refusals_write_nothing() {
        check(
            Some(&awaiting(0)),
            |typed| typed.session_client = None,
            SignaturePlan::NotFound,
        );
        check(None, |_| {}, SignaturePlan::NotFound);
        check(
            Some(&awaiting(0)),
            |typed| typed.session_client = Some(CLIENT + 1),
            SignaturePlan::NotFound,
        );
        let sealed = Request {
            state: SignatureState::Sealed,
            ..awaiting(0)
        };
        check(Some(&sealed), |_| {}, SignaturePlan::NotAwaiting);
        check(
            Some(&awaiting(0)),
            |typed| typed.client_may_pay = false,
            SignaturePlan::ClientStopped,
        );
        for plan in [
            SignaturePlan::NotFound,
            SignaturePlan::NotAwaiting,
            SignaturePlan::ClientStopped,
        ] {
            assert_eq!((plan.change(), plan.tries_left()), (None, None));
        }
    }
}
