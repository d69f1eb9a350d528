//! Sign-in's limits: how wrong passwords pause an account's sign-in, and how the holder
//! lifts the pause with a code sent to their own phone.
//!
//! Guessing stays bounded (NIST SP 800-63B §5.2.2): ten wrong passwords in a row pause
//! the account's sign-in, and each pause in a row lasts twice the one before (15 minutes,
//! 30, 1 hour, ... at most a day), so a login can be tried about ten times a pause, ever
//! fewer a day. But a pause must not be a way to keep the holder out: anyone who knows a
//! login can cause it. So while paused, the holder signs in with their password **and**
//! an unlock code sent to the account's phone. The code is a MAC of the client, its issue
//! time and a nonce (never stored); it lives 10 minutes, asking again within that time
//! sends the same code (so that someone else asking cannot replace the holder's), and at
//! most three are sent an hour. A wrong code costs nothing and kills nothing (someone
//! else typing wrong codes cannot spoil the holder's): with the password unknown and a
//! code of 10^8 values living 10 minutes, typed through the server's few password checks
//! at a time, guessing both is hopeless. Every answer during a pause is the same as for a
//! wrong password, whatever was typed, so a pause is no oracle for the password.

use crate::limits::{SIGN_IN_FAILURES_MAX, SIGN_IN_LOCK_S};

/// The longest pause.
pub const SIGN_IN_LOCK_S_MAX: i64 = 24 * 3600;
/// How long an unlock code may be typed.
pub const UNLOCK_CODE_VALIDITY_S: i64 = 10 * 60;
/// Unlock codes sent to one account within an hour.
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
    /// Codes sent since `sends_since_s`.
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

/// Decides a request for an unlock code at `now_s`: the live code is sent again (so that
/// another's request cannot replace the holder's), else a new one from `fresh_nonce`;
/// at most [`UNLOCK_CODES_PER_HOUR_MAX`] sends in an hour.
pub fn unlock_send(
    state: UnlockState,
    client_id: i64,
    fresh_nonce: [u8; UNLOCK_NONCE_LEN],
    now_s: i64,
) -> UnlockSend {
    let (sends, sends_since_s) = if now_s.saturating_sub(state.sends_since_s) >= 3600 {
        (0, now_s)
    } else {
        (state.sends, state.sends_since_s)
    };
    if sends >= UNLOCK_CODES_PER_HOUR_MAX {
        return UnlockSend::Throttled;
    }
    let code = match state.code {
        Some(code) if code.client_id == client_id && code.live(now_s) => code,
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
    fn a_live_code_is_sent_again_and_sends_are_capped_by_the_hour() {
        let now_s = 10_000;
        let first = match unlock_send(UnlockState::default(), 7, [1; 16], now_s) {
            UnlockSend::Send { code, after } => {
                assert_eq!(code.issued_at_s, now_s);
                assert_eq!(after.sends, 1);
                after
            }
            UnlockSend::Throttled => panic!("the first code is sent"),
        };
        // Another asks a minute later: the same code goes out again.
        let second = match unlock_send(first, 7, [2; 16], now_s + 60) {
            UnlockSend::Send { code, after } => {
                assert_eq!(Some(code), first.code, "the live code is kept");
                after
            }
            UnlockSend::Throttled => panic!("the second send is allowed"),
        };
        // After its life, a new one.
        let third = match unlock_send(second, 7, [3; 16], now_s + UNLOCK_CODE_VALIDITY_S) {
            UnlockSend::Send { code, after } => {
                assert_eq!(code.nonce, [3; 16]);
                assert_eq!(after.sends, 3);
                after
            }
            UnlockSend::Throttled => panic!("the third send is allowed"),
        };
        assert_eq!(
            unlock_send(third, 7, [4; 16], now_s + 3599),
            UnlockSend::Throttled
        );
        assert!(matches!(
            unlock_send(third, 7, [4; 16], now_s + 3600),
            UnlockSend::Send {
                after: UnlockState { sends: 1, .. },
                ..
            }
        ));
        let code = third.code.unwrap();
        assert!(code.live(code.issued_at_s));
        assert!(!code.live(code.issued_at_s + UNLOCK_CODE_VALIDITY_S));
        assert!(!code.live(code.issued_at_s - 1));
    }
}
