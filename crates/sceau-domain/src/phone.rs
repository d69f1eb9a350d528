//! The unique address on the second network: a phone number in E.164.

use std::fmt;
use std::str::FromStr;

/// A phone number in E.164 form: `+`, then 7 to 15 digits, the first not zero.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "phone number must be in international form (E.164): + then 7 to 15 digits, e.g. +33612345678"
)]
pub struct PhoneError;

impl PhoneNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the last two digits hidden, for logs and pages.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let shown = &digits[digits.len() - 2..];
        format!("+{}{}", "•".repeat(digits.len() - 2), shown)
    }
}

/// A stored phone number as pages show it ([`PhoneNumber::masked`]); nothing of it when
/// it is not one ([`crate::NOTHING_SHOWN`]).
pub fn mask(text: &str) -> String {
    text.parse::<PhoneNumber>()
        .map_or_else(|_| crate::NOTHING_SHOWN.to_owned(), |phone| phone.masked())
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text.strip_prefix('+').ok_or(PhoneError)?;
        let valid = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(PhoneNumber(text.to_owned()))
        } else {
            Err(PhoneError)
        }
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, valid: bool) {
        assert_eq!(text.parse::<PhoneNumber>().is_ok(), valid, "{text:?}");
    }

    #[test]
    fn accepts_only_e164() {
        check("+33612345678", true);
        check("+1234567", true);
        check("+123456789012345", true);
        check("+1234567890123456", false);
        check("+123456", false);
        check("33612345678", false);
        check("+0612345678", false);
        check("+33 612345678", false);
        check("+33-612345678", false);
        check("", false);
        check("+", false);
    }

    #[test]
    fn masks_all_but_two_digits() {
        let phone: PhoneNumber = "+33612345678".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(phone.masked(), "+•••••••••78");
        assert_eq!(format!("{phone:?}"), "+•••••••••78");
    }
}
