//! The limits of the system, in one place, units last.

/// Default validity of a single-use payment number.
pub const NUMBER_VALIDITY_S_DEFAULT: i64 = 15 * 60;
/// Longest validity a payment number may be given.
pub const NUMBER_VALIDITY_S_MAX: i64 = 24 * 60 * 60;
/// Wrong expiry or security code submissions before a number is blocked.
pub const NUMBER_TRIES_MAX: u32 = 3;
/// Consecutive wrong card details across a client's numbers before the client's payments
/// are paused (SPEC: at most 5 consecutive failures per client).
pub const CLIENT_FAILURES_MAX: u32 = 5;
/// How long such a pause lasts. It is temporary; only an operator blocks for good.
pub const CLIENT_PAUSE_S: i64 = 15 * 60;
/// Consecutive wrong passwords before sign-in to that account is locked (NIST SP 800-63B
/// asks for a limit on failed attempts).
pub const SIGN_IN_FAILURES_MAX: u32 = 10;
/// How long such a lock lasts.
pub const SIGN_IN_LOCK_S: i64 = 15 * 60;
/// Most uses a multi-use number may be given.
pub const NUMBER_USES_MAX: u32 = 1_000_000;
/// How long an uncaptured authorization holds funds before it is released.
pub const HOLD_TTL_S_DEFAULT: i64 = 7 * 24 * 60 * 60;
/// Largest amount, in minor units, that any single movement or balance may carry.
/// 10^15 minor units leaves three orders of magnitude of headroom inside an `i64`
/// for sums of many movements.
pub const AMOUNT_MINOR_MAX: i64 = 1_000_000_000_000_000;
/// Longest merchant reference accepted.
pub const REFERENCE_LEN_MAX: usize = 128;
/// Longest login, display name or merchant name accepted.
pub const NAME_LEN_MAX: usize = 100;
/// Longest description of what a checkout is for: it is on the check (zone 27) and in
/// the seal's SMS, which it should not make much longer.
pub const OBJECT_LEN_MAX: usize = 60;

const _: () = assert!(NUMBER_VALIDITY_S_DEFAULT <= NUMBER_VALIDITY_S_MAX);
const _: () = assert!(AMOUNT_MINOR_MAX < i64::MAX / 1000);
