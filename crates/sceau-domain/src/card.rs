//! Single-use payment numbers look like card numbers: 16 digits, Luhn-valid, from a
//! reserved BIN range, with an expiry and a 3-digit security code.

use std::fmt;
use std::str::FromStr;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const CARD_DIGITS: usize = 16;

/// A 16-digit, Luhn-valid card number. A secret: `Debug` shows only the last four digits
/// and the digits are wiped from memory on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CardNumber([u8; CARD_DIGITS]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("card number must be 16 digits")]
    NotSixteenDigits,
    #[error("card number fails the Luhn check")]
    Luhn,
    #[error("expiry must be a month 1-12 and a four-digit year")]
    Expiry,
    #[error("security code must be 3 digits")]
    SecurityCode,
    #[error("BIN range must be 6 to 8 digits")]
    BinRange,
}

impl CardError {
    pub fn code(&self) -> &'static str {
        match self {
            CardError::NotSixteenDigits | CardError::Luhn => "invalid_number",
            CardError::Expiry => "invalid_expiry",
            CardError::SecurityCode => "invalid_security_code",
            CardError::BinRange => "invalid_bin_range",
        }
    }
}

/// Luhn check digit for the given digits (each 0-9), as it would be appended to them.
fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| {
            let digit = u32::from(digit);
            if position % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl CardNumber {
    /// Draws a number in `bin`: the BIN, then random digits, then the Luhn digit.
    /// `random` must come from a CSPRNG; 128 bits reduced modulo 10^k (k ≤ 9) has a
    /// bias below 2^-98.
    pub fn draw(bin: &BinRange, random: [u8; 16]) -> CardNumber {
        let mut digits = [0_u8; CARD_DIGITS];
        let prefix = bin.digits();
        digits[..prefix.len()].copy_from_slice(prefix);
        let free = CARD_DIGITS - 1 - prefix.len();
        let mut value = u128::from_le_bytes(random) % 10_u128.pow(free as u32);
        for slot in digits[prefix.len()..CARD_DIGITS - 1].iter_mut().rev() {
            *slot = (value % 10) as u8;
            value /= 10;
        }
        digits[CARD_DIGITS - 1] = luhn_check_digit(&digits[..CARD_DIGITS - 1]);
        CardNumber(digits)
    }

    /// The 16 digits as text. Only for the message to the client's phone.
    pub fn reveal(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// The number grouped by four, as printed on a card. Only for the client's phone.
    pub fn reveal_grouped(&self) -> String {
        let text = self.reveal();
        let groups: Vec<&str> = (0..4).map(|i| &text[i * 4..i * 4 + 4]).collect();
        groups.join(" ")
    }

    /// The last four digits, which may be shown and stored.
    pub fn last_four(&self) -> String {
        self.0[CARD_DIGITS - 4..]
            .iter()
            .map(|d| char::from(b'0' + d))
            .collect()
    }

    pub fn in_range(&self, bin: &BinRange) -> bool {
        self.0.starts_with(bin.digits())
    }
}

impl FromStr for CardNumber {
    type Err = CardError;

    /// Accepts 16 digits, optionally grouped with single spaces ("4000 1234 ...").
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut digits = [0_u8; CARD_DIGITS];
        let mut count = 0;
        for byte in text.bytes() {
            match byte {
                b'0'..=b'9' if count < CARD_DIGITS => {
                    digits[count] = byte - b'0';
                    count += 1;
                }
                b' ' => {}
                _ => return Err(CardError::NotSixteenDigits),
            }
        }
        if count != CARD_DIGITS || text.len() > CARD_DIGITS + 3 {
            return Err(CardError::NotSixteenDigits);
        }
        if luhn_check_digit(&digits[..CARD_DIGITS - 1]) != digits[CARD_DIGITS - 1] {
            return Err(CardError::Luhn);
        }
        Ok(CardNumber(digits))
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "CardNumber(****{})", self.last_four())
    }
}

/// The reserved BIN range numbers are drawn from: 6 to 8 leading digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinRange {
    digits: Vec<u8>,
}

impl BinRange {
    fn digits(&self) -> &[u8] {
        &self.digits
    }
}

impl FromStr for BinRange {
    type Err = CardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !(6..=8).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::BinRange);
        }
        Ok(BinRange {
            digits: text.bytes().map(|b| b - b'0').collect(),
        })
    }
}

impl fmt::Display for BinRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for digit in &self.digits {
            write!(formatter, "{digit}")?;
        }
        Ok(())
    }
}

/// Card expiry: month and four-digit year. A card is valid through the end of its month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub month: u8,
    pub year: u16,
}

impl Expiry {
    pub fn new(month: u8, year: u16) -> Result<Expiry, CardError> {
        if (1..=12).contains(&month) && (2000..=2999).contains(&year) {
            Ok(Expiry { month, year })
        } else {
            Err(CardError::Expiry)
        }
    }

    /// The expiry printed on the number: the month in which `valid_until_s` falls.
    /// Uses the civil-from-days algorithm (proleptic Gregorian, UTC).
    pub fn of_instant(valid_until_s: i64) -> Expiry {
        let (year, month, _) = civil_from_days(valid_until_s.div_euclid(86_400));
        Expiry {
            month: month as u8,
            year: year.clamp(2000, 2999) as u16,
        }
    }

    /// "MM/YY", as on a card.
    pub fn display_short(&self) -> String {
        format!("{:02}/{:02}", self.month, self.year % 100)
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31). Howard Hinnant's algorithm.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The 3-digit security code. A secret: never displayed by `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecurityCode([u8; 3]);

impl SecurityCode {
    /// Draws a code from CSPRNG output (64 bits mod 1000: bias below 2^-54).
    pub fn draw(random: [u8; 8]) -> SecurityCode {
        let value = u64::from_le_bytes(random) % 1000;
        SecurityCode([
            (value / 100) as u8,
            (value / 10 % 10) as u8,
            (value % 10) as u8,
        ])
    }

    pub fn reveal(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl FromStr for SecurityCode {
    type Err = CardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(|b| b.is_ascii_digit()) {
            return Err(CardError::SecurityCode);
        }
        Ok(SecurityCode([
            bytes[0] - b'0',
            bytes[1] - b'0',
            bytes[2] - b'0',
        ]))
    }
}

impl fmt::Debug for SecurityCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SecurityCode(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, CardError>) {
        let parsed = text.parse::<CardNumber>().map(|n| n.reveal());
        assert_eq!(parsed.as_deref().map_err(|e| *e), expected, "{text:?}");
    }

    #[test]
    fn luhn_accepts_known_test_numbers() {
        check("4111111111111111", Ok("4111111111111111"));
        check("5555555555554444", Ok("5555555555554444"));
        check("4000 0566 5566 5556", Ok("4000056655665556"));
        check("4111111111111112", Err(CardError::Luhn));
        check("411111111111111", Err(CardError::NotSixteenDigits));
        check("41111111111111111", Err(CardError::NotSixteenDigits));
        check("4111-1111-1111-1111", Err(CardError::NotSixteenDigits));
        check("4111111111111111    ", Err(CardError::NotSixteenDigits));
        check("", Err(CardError::NotSixteenDigits));
    }

    #[test]
    fn drawn_numbers_are_valid_and_in_range() {
        let bin: BinRange = "49999912".parse().unwrap_or_else(|_| unreachable!());
        for seed in 0..200_u8 {
            let number = CardNumber::draw(&bin, [seed.wrapping_mul(37); 16]);
            assert!(number.in_range(&bin));
            assert_eq!(number.reveal().parse::<CardNumber>(), Ok(number.clone()));
        }
        let first = CardNumber::draw(&bin, [1; 16]);
        let second = CardNumber::draw(&bin, [2; 16]);
        assert_ne!(first, second);
    }

    #[test]
    fn secrets_do_not_print() {
        let number: CardNumber = "4111111111111111"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(format!("{number:?}"), "CardNumber(****1111)");
        let code: SecurityCode = "123".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(format!("{code:?}"), "SecurityCode(***)");
    }

    #[test]
    fn expiry_and_codes() {
        assert_eq!(Expiry::new(13, 2027), Err(CardError::Expiry));
        assert_eq!(Expiry::new(0, 2027), Err(CardError::Expiry));
        assert_eq!(Expiry::new(12, 27), Err(CardError::Expiry));
        // 2026-11-24T12:00:00Z
        assert_eq!(
            Expiry::of_instant(1_795_521_600),
            Expiry {
                month: 11,
                year: 2026
            }
        );
        assert_eq!(
            Expiry::of_instant(0),
            Expiry {
                month: 1,
                year: 2000
            }
        );
        assert_eq!(
            Expiry {
                month: 3,
                year: 2027
            }
            .display_short(),
            "03/27"
        );
        assert_eq!(SecurityCode::draw(1234_u64.to_le_bytes()).reveal(), "234");
        assert_eq!(SecurityCode::draw(7_u64.to_le_bytes()).reveal(), "007");
        assert!("12".parse::<SecurityCode>().is_err());
        assert!("12a".parse::<SecurityCode>().is_err());
        assert!("1234".parse::<SecurityCode>().is_err());
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
