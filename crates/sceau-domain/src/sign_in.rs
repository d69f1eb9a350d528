//! Sign-in's limits: how wrong passwords pause an account's sign-in, and how the holder
//! lifts the pause with a code sent to their own phone.
//!
//! Guessing stays bounded (NIST SP 800-63B §5.2.2): ten wrong passwords in a row pause
//! the account's sign-in, and each pause in a row lasts twice the one before (15 minutes,
//! 30, 1 hour, ... at most a day), so a login can be tried about ten times a pause, ever
//! fewer a day. But a pause must not be a way to keep the holder out: anyone who knows a
//! login can cause it. So while paused, the holder signs in with their password **and**
//! an unlock code sent to the account's phone. The code is a MAC of the client, its issue
//! time and a nonce (never stored). Sends come in windows of an hour: the first send of a
//! window makes a new code, which lives as long as the window; the window's other sends
//! (three in all) send that same code again, so that someone else asking can neither
//! replace the holder's code nor leave them without a live one: whenever a send is
//! refused, the code last sent is live. A wrong code costs nothing and kills nothing
//! (someone else typing wrong codes cannot spoil the holder's): with the password unknown
//! and a code of 10^8 values, typed through the server's few password checks at a time,
//! guessing both is hopeless. Every answer during a pause is the same as for a wrong
//! password, whatever was typed, so a pause is no oracle for the password; and the store
//! decides each attempt under the account's lock, so guesses sent at once are judged one
//! after the other, the pause included.

use crate::limits::{SIGN_IN_FAILURES_MAX, SIGN_IN_LOCK_S};

/// The longest pause.
pub const SIGN_IN_LOCK_S_MAX: i64 = 24 * 3600;
/// A window of unlock sends, and the life of the code it sends.
pub const UNLOCK_WINDOW_S: i64 = 3600;
/// How long an unlock code may be typed: its window's length.
pub const UNLOCK_CODE_VALIDITY_S: i64 = UNLOCK_WINDOW_S;
/// Sends of an unlock code in one window (an hour).
pub const UNLOCK_CODES_PER_HOUR_MAX: u32 = 3;
/// Digits of an unlock code.
pub const UNLOCK_CODE_DIGITS: u8 = 8;
/// Bytes of the nonce an unlock code is derived from.
pub const UNLOCK_NONCE_LEN: usize = 16;

const _: () = assert!(SIGN_IN_LOCK_S <= SIGN_IN_LOCK_S_MAX);

/// An account's sign-in failures after one more wrong password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Wrong passwords in a row since the last pause (or success).
    pub failures: u32,
    /// Pauses in a row since the last success.
    pub locks: u32,
    /// The end of the pause this failure starts, if it starts one.
    pub locked_until_s: Option<i64>,
}

/// The pause that the `locks`-th pause in a row lasts (1 is the first).
pub fn lock_s(locks: u32) -> i64 {
    let doublings = locks.saturating_sub(1).min(16);
    SIGN_IN_LOCK_S
        .saturating_mul(1_i64 << doublings)
        .min(SIGN_IN_LOCK_S_MAX)
}

/// One more wrong password, counted on `failures` wrong in a row and `locks` pauses in a
/// row.
pub fn wrong_password(failures: u32, locks: u32, now_s: i64) -> Failure {
    let failures = failures.saturating_add(1);
    if failures < SIGN_IN_FAILURES_MAX {
        return Failure {
            failures,
            locks,
            locked_until_s: None,
        };
    }
    let locks = locks.saturating_add(1);
    Failure {
        failures: 0,
        locks,
        locked_until_s: Some(now_s.saturating_add(lock_s(locks))),
    }
}

/// Domain separation of an unlock code's MAC input, with its version.
const UNLOCK_TAG: &[u8; 16] = b"sceau-unlock-v1\0";

/// What an unlock code is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnlockInput {
    pub client_id: i64,
    pub issued_at_s: i64,
    pub nonce: [u8; UNLOCK_NONCE_LEN],
}

impl UnlockInput {
    /// Every field at a fixed width after a versioned tag of its own.
    pub fn canonical(&self) -> [u8; 16 + 8 + 8 + UNLOCK_NONCE_LEN] {
        let mut out = [0_u8; 16 + 8 + 8 + UNLOCK_NONCE_LEN];
        out[..16].copy_from_slice(UNLOCK_TAG);
        out[16..24].copy_from_slice(&self.client_id.to_be_bytes());
        out[24..32].copy_from_slice(&self.issued_at_s.to_be_bytes());
        out[32..].copy_from_slice(&self.nonce);
        out
    }

    /// Whether a code of this input may still be typed.
    pub fn live(&self, now_s: i64) -> bool {
        (self.issued_at_s..self.issued_at_s.saturating_add(UNLOCK_CODE_VALIDITY_S)).contains(&now_s)
    }
}

/// An account's unlock codes, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnlockState {
    /// The last code's input, if one was made since the last success.
    pub code: Option<UnlockInput>,
    /// Codes sent in the window that began at `sends_since_s` (its first send).
    pub sends: u32,
    pub sends_since_s: i64,
}

/// What to do with a request for an unlock code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockSend {
    /// Send the code of this input; the state after the send.
    Send {
        code: UnlockInput,
        after: UnlockState,
    },
    /// Enough codes were sent this hour; the code sent last may still be typed.
    Throttled,
}

/// Decides a request for an unlock code at `now_s`. The first send of a window (an hour
/// from it) makes a new code from `fresh_nonce`, living as long as the window; the
/// window's other sends send that code again, up to [`UNLOCK_CODES_PER_HOUR_MAX`]. So a
/// refused send always leaves the code last sent live.
pub fn unlock_send(
    state: UnlockState,
    client_id: i64,
    fresh_nonce: [u8; UNLOCK_NONCE_LEN],
    now_s: i64,
) -> UnlockSend {
    let window_open =
        state.sends > 0 && now_s.saturating_sub(state.sends_since_s) < UNLOCK_WINDOW_S;
    let (sends, sends_since_s) = if window_open {
        (state.sends, state.sends_since_s)
    } else {
        (0, now_s)
    };
    if sends >= UNLOCK_CODES_PER_HOUR_MAX {
        return UnlockSend::Throttled;
    }
    let code = match state.code {
        Some(code) if window_open && code.client_id == client_id && code.live(now_s) => code,
        _ => UnlockInput {
            client_id,
            issued_at_s: now_s,
            nonce: fresh_nonce,
        },
    };
    UnlockSend::Send {
        code,
        after: UnlockState {
            code: Some(code),
            sends: sends + 1,
            sends_since_s,
        },
    }
}

/// What the store decides of a password attempt, under the account's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInVerdict {
    /// Signed in: failures, pauses, code and sends start again.
    Accepted,
    /// A wrong password, counted; `paused_until_s` if it starts a pause.
    Wrong(Failure),
    /// Paused, and not lifted: refused like a wrong password, not counted.
    Paused,
}

/// Decides an attempt on the account's state as the store holds it: `password_right`,
/// and `unlock` the code the attempt typed rightly (checked by the caller against the
/// code it read); during a pause only the right password with that very code, still the
/// stored one and live, signs in.
pub fn judge_attempt(
    password_right: bool,
    unlock: Option<UnlockInput>,
    paused_until_s: i64,
    stored_code: Option<UnlockInput>,
    failures: u32,
    locks: u32,
    now_s: i64,
) -> SignInVerdict {
    if now_s < paused_until_s {
        let lifted = password_right
            && unlock.is_some_and(|typed| Some(typed) == stored_code && typed.live(now_s));
        return if lifted {
            SignInVerdict::Accepted
        } else {
            SignInVerdict::Paused
        };
    }
    if password_right {
        SignInVerdict::Accepted
    } else {
        SignInVerdict::Wrong(wrong_password(failures, locks, now_s))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_a_day() {
        let check = |locks, expected_s| assert_eq!(lock_s(locks), expected_s, "lock {locks}");
        check(1, 15 * 60);
        check(2, 30 * 60);
        check(3, 60 * 60);
        check(7, 16 * 3600);
        check(8, 24 * 3600);
        check(u32::MAX, 24 * 3600);
        // Ten wrong in a row start a pause; the count starts again, the pauses add up.
        let mut state = (0, 0);
        let mut pauses = Vec::new();
        for attempt in 0..30 {
            let failure = wrong_password(state.0, state.1, 1_000 + attempt);
            state = (failure.failures, failure.locks);
            if let Some(until_s) = failure.locked_until_s {
                pauses.push(until_s - (1_000 + attempt));
            }
        }
        assert_eq!(pauses, vec![15 * 60, 30 * 60, 60 * 60]);
    }

    #[test]
    fn a_window_sends_one_code_which_lives_as_long_as_the_window() {
        let now_s = 10_000;
        let send = |state, nonce, at_s| match unlock_send(state, 7, [nonce; 16], at_s) {
            UnlockSend::Send { code, after } => (code, after),
            UnlockSend::Throttled => panic!("a send at {at_s}"),
        };
        let (first, state) = send(UnlockState::default(), 1, now_s);
        assert_eq!(first.issued_at_s, now_s);
        assert_eq!(state.sends, 1);
        // Others ask later in the hour: the same code goes out again.
        let (second, state) = send(state, 2, now_s + 600);
        assert_eq!(second, first, "the window's code is kept");
        let (third, state) = send(state, 3, now_s + 3000);
        assert_eq!(third, first);
        // Refused for the rest of the hour, and the code last sent is live all along.
        for at_s in [now_s + 3001, now_s + UNLOCK_WINDOW_S - 1] {
            assert_eq!(unlock_send(state, 7, [4; 16], at_s), UnlockSend::Throttled);
            assert!(first.live(at_s), "live at {at_s} while sends are refused");
        }
        // A new window: a new code.
        let (fourth, state) = send(state, 5, now_s + UNLOCK_WINDOW_S);
        assert_eq!(fourth.nonce, [5; 16]);
        assert_eq!(state.sends, 1);
        assert!(!first.live(now_s + UNLOCK_WINDOW_S));
        // After a success the state is cleared: a new window and code at once.
        let (fifth, _) = send(UnlockState::default(), 6, now_s + UNLOCK_WINDOW_S + 1);
        assert_eq!(fifth.nonce, [6; 16]);
        assert!(!first.live(first.issued_at_s - 1));
    }

    #[test]
    fn a_pause_is_lifted_only_by_the_password_with_the_stored_live_code() {
        let code = UnlockInput {
            client_id: 7,
            issued_at_s: 1_000,
            nonce: [1; 16],
        };
        let other = UnlockInput {
            nonce: [2; 16],
            ..code
        };
        let paused_until_s = 2_000;
        let check = |right, typed, stored, now_s, expected| {
            assert_eq!(
                judge_attempt(right, typed, paused_until_s, stored, 3, 1, now_s),
                expected,
                "{right} {typed:?} {stored:?} {now_s}"
            );
        };
        use SignInVerdict::*;
        check(true, Some(code), Some(code), 1_500, Accepted);
        check(false, Some(code), Some(code), 1_500, Paused);
        check(true, None, Some(code), 1_500, Paused);
        check(true, Some(other), Some(code), 1_500, Paused);
        check(true, Some(code), None, 1_500, Paused);
        // Not paused: the password decides, and a wrong one counts.
        check(true, None, None, 2_000, Accepted);
        check(false, None, None, 2_000, Wrong(wrong_password(3, 1, 2_000)));
        // A code past its life lifts nothing.
        let paused_long = 1_000 + UNLOCK_CODE_VALIDITY_S + 10;
        assert_eq!(
            judge_attempt(
                true,
                Some(code),
                paused_long,
                Some(code),
                0,
                1,
                1_000 + UNLOCK_CODE_VALIDITY_S
            ),
            Paused
        );
    }
}
