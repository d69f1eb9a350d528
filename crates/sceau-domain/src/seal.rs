//! Seals: the short secret that binds a client's consent to one payment (Figures 1–3).
//!
//! A seal is derived from the transaction (session, amount, currency, merchant, payee
//! account, client, time and a fresh nonce) by a keyed MAC that `sceau-crypto` computes
//! over [`SealInput::canonical`]; [`seal_from_mac`] reduces the MAC to digits. The server
//! keeps the inputs, never the seal, and recomputes it to check what the client types: any
//! change of amount, currency or payee gives another seal (dynamic linking).
//!
//! This module also holds the seal's lifecycle rules: how long a seal lives, how many
//! wrong tries a payment survives, and when a new seal may be sent.

use crate::money::Currency;
use std::fmt;
use std::str::FromStr;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Digits of a seal unless configured otherwise (8 digits: one guess in 10^8).
pub const SEAL_DIGITS_DEFAULT: u8 = 8;
/// Fewest digits a seal may be configured with.
pub const SEAL_DIGITS_MIN: u8 = 6;
/// Most digits a seal may be configured with (10^10 < 2^64: the reduction stays unbiased
/// to within 2^-30).
pub const SEAL_DIGITS_MAX: u8 = 10;
/// How long a seal may be typed back, by default.
pub const SEAL_VALIDITY_S_DEFAULT: i64 = 5 * 60;
/// The longest a seal may ever live (SPEC: never more than 10 minutes).
pub const SEAL_VALIDITY_S_MAX: i64 = 10 * 60;
/// Wrong seals a payment survives: the third wrong seal kills it and the payment fails.
pub const SEAL_TRIES_MAX: u32 = 3;
/// Seals sent for one payment, the first included (so two resends).
pub const SEAL_SENDS_MAX: u32 = 3;
/// Wait between two seals sent for one payment.
pub const SEAL_RESEND_COOLDOWN_S: i64 = 30;
/// Checkouts a client may have held (amount on hold, waiting for the seal) at once, by
/// default (`client_held_checkouts_max`).
pub const CLIENT_HELD_CHECKOUTS_MAX: i64 = 3;
/// Seals that may be sent to one client within an hour, across their checkouts (sending
/// is throttled apart from checking), by default (`client_seals_per_hour_max`).
pub const CLIENT_SEALS_PER_HOUR_MAX: i64 = 10;
/// Bytes of the fresh random nonce in every seal's input.
pub const SEAL_NONCE_LEN: usize = 16;
/// Domain separation of the MAC input, with its version (2: the check's date and time
/// are covered; a seal sent by a version-1 server does not match after an upgrade, and
/// the client asks for another).
const SEAL_INPUT_TAG: &[u8; 14] = b"sceau-seal-v2\0";

const _: () = assert!(SEAL_VALIDITY_S_DEFAULT <= SEAL_VALIDITY_S_MAX);
const _: () =
    assert!(SEAL_DIGITS_MIN <= SEAL_DIGITS_DEFAULT && SEAL_DIGITS_DEFAULT <= SEAL_DIGITS_MAX);

/// Everything a seal is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealInput {
    pub checkout_id: i64,
    pub amount_minor: i64,
    pub currency: Currency,
    pub merchant_id: i64,
    /// The account the money goes to (the merchant's settlement account).
    pub payee_account_id: i64,
    pub client_id: i64,
    /// The date and time the check shows (zone 29): the checkout's own, when it was made
    /// (Unix seconds).
    pub check_time_s: i64,
    /// When the seal was issued (Unix seconds).
    pub issued_at_s: i64,
    pub nonce: [u8; SEAL_NONCE_LEN],
}

impl SealInput {
    /// The unambiguous encoding the MAC covers: a versioned tag, then every field at a
    /// fixed width (integers as 8 bytes big-endian, the currency as its 3 ASCII letters,
    /// the nonce as 16 bytes), so that no two different inputs encode alike.
    pub fn canonical(&self) -> [u8; 14 + 8 * 7 + 3 + SEAL_NONCE_LEN] {
        let mut out = [0_u8; 14 + 8 * 7 + 3 + SEAL_NONCE_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(SEAL_INPUT_TAG);
        put(&self.checkout_id.to_be_bytes());
        put(&self.amount_minor.to_be_bytes());
        put(self.currency.code().as_bytes());
        put(&self.merchant_id.to_be_bytes());
        put(&self.payee_account_id.to_be_bytes());
        put(&self.client_id.to_be_bytes());
        put(&self.check_time_s.to_be_bytes());
        put(&self.issued_at_s.to_be_bytes());
        put(&self.nonce);
        out
    }
}

const ENVELOPE_SEAL_TAG: &[u8; 14] = b"sceau-envl-v1\0";

/// Everything the seal of an envelope is derived from: the envelope, the client, the
/// SHA-256 of the manifest the station signed (which states every file's name, size and
/// SHA-256, their count and order, and the destinations), the time and a fresh nonce.
/// Another file, another name, one file more or less, or another destination gives
/// another seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeSealInput {
    /// The envelope's public identifier (16 random bytes).
    pub envelope: [u8; 16],
    pub client_id: i64,
    pub manifest_digest: [u8; 32],
    pub issued_at_s: i64,
    pub nonce: [u8; SEAL_NONCE_LEN],
}

impl EnvelopeSealInput {
    /// Every field at a fixed width after a versioned tag of its own (no payment or
    /// signature seal input encodes like an envelope's).
    pub fn canonical(&self) -> [u8; 14 + 16 + 8 + 32 + 8 + SEAL_NONCE_LEN] {
        let mut out = [0_u8; 14 + 16 + 8 + 32 + 8 + SEAL_NONCE_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(ENVELOPE_SEAL_TAG);
        put(&self.envelope);
        put(&self.client_id.to_be_bytes());
        put(&self.manifest_digest);
        put(&self.issued_at_s.to_be_bytes());
        put(&self.nonce);
        out
    }
}

const DELIVERY_CODE_TAG: &[u8; 14] = b"sceau-dlvr-v1\0";

/// Everything the code of a delivery's recipient is derived from: the delivery, the
/// recipient's place in it, the SHA-256 of the envelope's manifest (every file's name,
/// size and digest), the SHA-256 of the phone the code goes to, the time and a fresh
/// nonce. A code is good for one recipient of one delivery of one content, on one phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCodeInput {
    /// The delivery's public identifier (16 random bytes).
    pub delivery: [u8; 16],
    pub recipient: u32,
    pub manifest_digest: [u8; 32],
    pub phone_digest: [u8; 32],
    pub issued_at_s: i64,
    pub nonce: [u8; SEAL_NONCE_LEN],
}

impl DeliveryCodeInput {
    /// Every field at a fixed width after a versioned tag of its own (no other seal's
    /// input encodes like a delivery code's).
    pub fn canonical(&self) -> [u8; 14 + 16 + 4 + 32 + 32 + 8 + SEAL_NONCE_LEN] {
        let mut out = [0_u8; 14 + 16 + 4 + 32 + 32 + 8 + SEAL_NONCE_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(DELIVERY_CODE_TAG);
        put(&self.delivery);
        put(&self.recipient.to_be_bytes());
        put(&self.manifest_digest);
        put(&self.phone_digest);
        put(&self.issued_at_s.to_be_bytes());
        put(&self.nonce);
        out
    }
}

/// Why a configured seal length or a typed seal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a seal has 6 to 10 digits")]
    BadLength,
    #[error("a seal is made of digits")]
    NotDigits,
}

/// A seal: 6 to 10 decimal digits. Prints as `****`; wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Seal(String);

impl Seal {
    /// The digits, for the SMS and the constant-time comparison only.
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl FromStr for Seal {
    type Err = SealError;

    /// Reads a seal as a person types it: spaces and dashes between digits are ignored.
    fn from_str(text: &str) -> Result<Seal, SealError> {
        let mut digits = String::with_capacity(SEAL_DIGITS_MAX as usize);
        for character in text.trim().chars() {
            match character {
                '0'..='9' if digits.len() < SEAL_DIGITS_MAX as usize => digits.push(character),
                '0'..='9' => return Err(SealError::BadLength),
                ' ' | '-' => {}
                _ => return Err(SealError::NotDigits),
            }
        }
        if digits.len() < SEAL_DIGITS_MIN as usize {
            return Err(SealError::BadLength);
        }
        Ok(Seal(digits))
    }
}

impl fmt::Debug for Seal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Seal(****)")
    }
}

impl fmt::Display for Seal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("****")
    }
}

/// A checked seal length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealDigits(u8);

impl SealDigits {
    pub fn new(digits: u8) -> Result<SealDigits, SealError> {
        if (SEAL_DIGITS_MIN..=SEAL_DIGITS_MAX).contains(&digits) {
            Ok(SealDigits(digits))
        } else {
            Err(SealError::BadLength)
        }
    }

    pub fn get(&self) -> u8 {
        self.0
    }
}

impl Default for SealDigits {
    fn default() -> SealDigits {
        SealDigits(SEAL_DIGITS_DEFAULT)
    }
}

/// Reduces a MAC to a seal: its first 64 bits, big-endian, modulo 10^digits, written with
/// leading zeros. 2^64 is so much larger than 10^10 that the bias is below 2^-30.
pub fn seal_from_mac(mac: &[u8; 32], digits: SealDigits) -> Seal {
    let mut head = [0_u8; 8];
    head.copy_from_slice(&mac[..8]);
    let value = u64::from_be_bytes(head) % 10_u64.pow(u32::from(digits.get()));
    Seal(format!(
        "{value:0width$}",
        width = usize::from(digits.get())
    ))
}

/// What is stored of the live seal of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealStatus {
    pub issued_at_s: i64,
    pub expires_at_s: i64,
    /// Wrong seals typed for this payment so far (across its seals).
    pub wrong_tries: u32,
    /// Seals sent for this payment so far.
    pub sends: u32,
}

/// The decision on a typed seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealVerdict {
    /// Right and in time: the payment goes through, the seal dies.
    Accept,
    /// Wrong: `tries_left` more tries.
    Wrong { tries_left: u32 },
    /// Wrong for the last time: the seal dies and the payment fails.
    Exhausted,
    /// Typed after the seal's time: nothing is counted; a new seal may be asked for.
    Expired,
}

/// Judges a typed seal. `matched` comes from a constant-time comparison upstream. An
/// expired seal is refused whatever was typed, and without counting a try (the client
/// did nothing wrong; a new seal is needed).
pub fn judge(status: &SealStatus, matched: bool, now_s: i64) -> SealVerdict {
    if now_s >= status.expires_at_s {
        return SealVerdict::Expired;
    }
    if matched {
        return SealVerdict::Accept;
    }
    let wrong = status.wrong_tries.saturating_add(1);
    if wrong >= SEAL_TRIES_MAX {
        SealVerdict::Exhausted
    } else {
        SealVerdict::Wrong {
            tries_left: SEAL_TRIES_MAX - wrong,
        }
    }
}

/// Why no new seal may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendRefusal {
    /// Too soon after the last one: a new seal may be sent from then.
    Cooldown { until_s: i64 },
    /// This payment has had all its seals.
    NoneLeft,
}

/// Whether a (new) seal may be sent for a payment: the first always; later ones after the
/// cooldown and up to [`SEAL_SENDS_MAX`]. Sending is throttled apart from checking.
pub fn may_send(status: Option<&SealStatus>, now_s: i64) -> Result<(), ResendRefusal> {
    let Some(status) = status else {
        return Ok(());
    };
    if status.sends >= SEAL_SENDS_MAX {
        return Err(ResendRefusal::NoneLeft);
    }
    let until_s = status.issued_at_s.saturating_add(SEAL_RESEND_COOLDOWN_S);
    if now_s < until_s {
        return Err(ResendRefusal::Cooldown { until_s });
    }
    Ok(())
}

/// A seal's validity as configured: at most [`SEAL_VALIDITY_S_MAX`], at least a minute.
pub fn seal_validity_s(configured_s: i64) -> i64 {
    configured_s.clamp(60, SEAL_VALIDITY_S_MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn input() -> SealInput {
        SealInput {
            checkout_id: 7,
            amount_minor: 12_345,
            currency: "EUR".parse().unwrap(),
            merchant_id: 3,
            payee_account_id: 11,
            client_id: 5,
            check_time_s: 1_699_999_000,
            issued_at_s: 1_700_000_000,
            nonce: [9; SEAL_NONCE_LEN],
        }
    }

    #[test]
    fn the_canonical_encoding_changes_with_every_field() {
        let base = input();
        let variants = [
            SealInput {
                checkout_id: 8,
                ..base
            },
            SealInput {
                amount_minor: 12_346,
                ..base
            },
            SealInput {
                currency: "USD".parse().unwrap(),
                ..base
            },
            SealInput {
                merchant_id: 4,
                ..base
            },
            SealInput {
                payee_account_id: 12,
                ..base
            },
            SealInput {
                client_id: 6,
                ..base
            },
            SealInput {
                check_time_s: 1_699_999_001,
                ..base
            },
            SealInput {
                issued_at_s: 1_700_000_001,
                ..base
            },
            SealInput {
                nonce: [8; SEAL_NONCE_LEN],
                ..base
            },
        ];
        for variant in variants {
            assert_ne!(variant.canonical(), base.canonical(), "{variant:?}");
        }
        assert_eq!(&base.canonical()[..14], b"sceau-seal-v2\0");
    }

    #[test]
    fn an_envelope_s_seal_input_changes_with_every_field_and_has_its_own_tag() {
        let base = EnvelopeSealInput {
            envelope: [1; 16],
            client_id: 5,
            manifest_digest: [2; 32],
            issued_at_s: 1_700_000_000,
            nonce: [3; SEAL_NONCE_LEN],
        };
        let mut one_bit = base.manifest_digest;
        one_bit[31] ^= 1;
        let variants = [
            EnvelopeSealInput {
                envelope: [4; 16],
                ..base
            },
            EnvelopeSealInput {
                client_id: 6,
                ..base
            },
            EnvelopeSealInput {
                manifest_digest: one_bit,
                ..base
            },
            EnvelopeSealInput {
                issued_at_s: 1_700_000_001,
                ..base
            },
            EnvelopeSealInput {
                nonce: [8; SEAL_NONCE_LEN],
                ..base
            },
        ];
        for variant in variants {
            assert_ne!(variant.canonical(), base.canonical(), "{variant:?}");
        }
        let canonical = base.canonical();
        assert_eq!(&canonical[..14], b"sceau-envl-v1\0");
        assert_eq!(&canonical[14..30], &[1; 16]);
        assert_eq!(&canonical[30..38], &5_i64.to_be_bytes());
    }

    #[test]
    fn a_mac_reduces_to_the_configured_digits_with_leading_zeros() {
        let check = |head: [u8; 8], digits: u8, expected: &str| {
            let mut mac = [0xff_u8; 32];
            mac[..8].copy_from_slice(&head);
            let digits = SealDigits::new(digits).unwrap();
            assert_eq!(seal_from_mac(&mac, digits).digits(), expected);
        };
        check([0; 8], 8, "00000000");
        check(1_u64.to_be_bytes(), 6, "000001");
        check(123_456_789_u64.to_be_bytes(), 8, "23456789");
        check(u64::MAX.to_be_bytes(), 10, "3709551615");
        check(u64::MAX.to_be_bytes(), 8, "09551615");
        check(9_999_999_999_u64.to_be_bytes(), 10, "9999999999");
    }

    #[test]
    fn typed_seals_are_read_as_people_type_them() {
        let check = |text: &str, expected: Result<&str, SealError>| {
            let read = text.parse::<Seal>();
            assert_eq!(
                read.as_ref().map(Seal::digits),
                expected.as_ref().map(|d| *d),
                "{text}"
            );
        };
        check("12345678", Ok("12345678"));
        check(" 1234 5678 ", Ok("12345678"));
        check("1234-5678", Ok("12345678"));
        check("123456", Ok("123456"));
        check("12345", Err(SealError::BadLength));
        check("12345678901", Err(SealError::BadLength));
        check("1234567a", Err(SealError::NotDigits));
        check("١٢٣٤٥٦٧٨", Err(SealError::NotDigits));
        check("", Err(SealError::BadLength));
    }

    #[test]
    fn a_seal_never_prints_its_digits() {
        let seal: Seal = "12345678".parse().unwrap();
        assert_eq!(format!("{seal} {seal:?}"), "**** Seal(****)");
    }

    #[test]
    fn seal_lengths_outside_six_to_ten_are_refused() {
        for digits in 0..=20 {
            assert_eq!(SealDigits::new(digits).is_ok(), (6..=10).contains(&digits));
        }
    }

    #[test]
    fn the_third_wrong_seal_kills_the_payment_and_an_expired_seal_counts_nothing() {
        let status = |wrong_tries| SealStatus {
            issued_at_s: 100,
            expires_at_s: 400,
            wrong_tries,
            sends: 1,
        };
        assert_eq!(judge(&status(0), true, 399), SealVerdict::Accept);
        assert_eq!(
            judge(&status(0), false, 200),
            SealVerdict::Wrong { tries_left: 2 }
        );
        assert_eq!(
            judge(&status(1), false, 200),
            SealVerdict::Wrong { tries_left: 1 }
        );
        assert_eq!(judge(&status(2), false, 200), SealVerdict::Exhausted);
        assert_eq!(judge(&status(2), true, 200), SealVerdict::Accept);
        assert_eq!(judge(&status(0), true, 400), SealVerdict::Expired);
        assert_eq!(judge(&status(2), false, 401), SealVerdict::Expired);
    }

    #[test]
    fn seals_are_resent_after_the_cooldown_and_a_bounded_number_of_times() {
        let status = |sends| SealStatus {
            issued_at_s: 1_000,
            expires_at_s: 1_300,
            wrong_tries: 0,
            sends,
        };
        assert_eq!(may_send(None, 0), Ok(()));
        assert_eq!(
            may_send(Some(&status(1)), 1_000 + SEAL_RESEND_COOLDOWN_S - 1),
            Err(ResendRefusal::Cooldown {
                until_s: 1_000 + SEAL_RESEND_COOLDOWN_S
            })
        );
        assert_eq!(
            may_send(Some(&status(1)), 1_000 + SEAL_RESEND_COOLDOWN_S),
            Ok(())
        );
        assert_eq!(
            may_send(Some(&status(SEAL_SENDS_MAX)), 5_000),
            Err(ResendRefusal::NoneLeft)
        );
    }

    #[test]
    fn a_seal_never_lives_more_than_ten_minutes() {
        assert_eq!(seal_validity_s(300), 300);
        assert_eq!(seal_validity_s(3_600), 600);
        assert_eq!(seal_validity_s(0), 60);
    }
}
