//! Money: integer minor units with an ISO 4217 currency. No floats anywhere.

use crate::limits::AMOUNT_MINOR_MAX;
use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency: its alphabetic code and its minor-unit exponent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// ISO 4217 active currencies and their minor-unit exponents (the standard's table).
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

impl Currency {
    /// The three-letter code, e.g. `"EUR"`.
    pub fn code(&self) -> &str {
        // The code is built only from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits after the decimal point in this currency (JPY 0, EUR 2, KWD 3).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// 10^exponent: minor units in one major unit.
    pub fn minor_per_major(&self) -> i64 {
        10_i64.pow(u32::from(self.exponent))
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let found = ISO_4217.iter().find(|(code, _)| *code == text);
        match found {
            Some((code, exponent)) => {
                let bytes = code.as_bytes();
                Ok(Currency {
                    code: [bytes[0], bytes[1], bytes[2]],
                    exponent: *exponent,
                })
            }
            None => Err(MoneyError::UnknownCurrency),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code())
    }
}

/// Why an amount or currency was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency: not an ISO 4217 code")]
    UnknownCurrency,
    #[error("amount is not a decimal number like 12.50")]
    Malformed,
    #[error("amount has more decimals than the currency allows")]
    TooManyDecimals,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount is too large")]
    TooLarge,
}

impl MoneyError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::UnknownCurrency => "unknown_currency",
            MoneyError::Malformed => "invalid_amount",
            MoneyError::TooManyDecimals => "too_many_decimals",
            MoneyError::NotPositive => "amount_not_positive",
            MoneyError::TooLarge => "amount_too_large",
        }
    }
}

/// An amount of money: minor units and currency. May be zero or negative (a balance);
/// amounts that move are checked positive by [`Money::parse_positive`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Parses a decimal text ("12.50", "1000", "0.5") as a positive amount in `currency`.
    /// Refuses signs, exponents, spaces, more decimals than the currency has, zero, and
    /// anything above [`AMOUNT_MINOR_MAX`].
    pub fn parse_positive(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let minor = parse_minor(text, currency)?;
        if minor == 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Money { minor, currency })
    }

    /// Parses a decimal text as a non-negative amount (an opening balance, a credit limit).
    pub fn parse_non_negative(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        Ok(Money {
            minor: parse_minor(text, currency)?,
            currency,
        })
    }

    /// The amount as decimal text with exactly the currency's decimals: "-12.50", "1000".
    pub fn to_decimal(&self) -> String {
        format_minor(self.minor, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.to_decimal(), self.currency)
    }
}

fn parse_minor(text: &str, currency: Currency) -> Result<i64, MoneyError> {
    if text.starts_with('-') {
        return Err(MoneyError::NotPositive);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(MoneyError::Malformed);
    }
    let fraction = fraction.unwrap_or("");
    let exponent = usize::from(currency.exponent());
    if fraction.len() > exponent {
        return Err(MoneyError::TooManyDecimals);
    }
    // Leading zeros are fine ("0.50"), but a whole part longer than any allowed amount
    // cannot fit; checking length first keeps the arithmetic below from overflowing.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 18 {
        return Err(MoneyError::TooLarge);
    }
    let mut minor: i64 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(digit - b'0')))
            .ok_or(MoneyError::TooLarge)?;
    }
    for _ in fraction.len()..exponent {
        minor = minor.checked_mul(10).ok_or(MoneyError::TooLarge)?;
    }
    if minor > AMOUNT_MINOR_MAX {
        return Err(MoneyError::TooLarge);
    }
    Ok(minor)
}

fn format_minor(minor: i64, currency: Currency) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    let exponent = u32::from(currency.exponent());
    if exponent == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10_u64.pow(exponent);
    let width = exponent as usize;
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        code.parse()
            .unwrap_or_else(|_| unreachable!("test currency {code}"))
    }

    fn check(text: &str, code: &str, expected: Result<i64, MoneyError>) {
        let parsed = Money::parse_positive(text, currency(code)).map(|m| m.minor);
        assert_eq!(parsed, expected, "parsing {text:?} in {code}");
    }

    #[test]
    fn parses_amounts_by_currency_exponent() {
        check("12.50", "EUR", Ok(1250));
        check("12.5", "EUR", Ok(1250));
        check("12", "EUR", Ok(1200));
        check("0.01", "EUR", Ok(1));
        check("007.10", "EUR", Ok(710));
        check("1500", "JPY", Ok(1500));
        check("1.5", "JPY", Err(MoneyError::TooManyDecimals));
        check("1.234", "KWD", Ok(1234));
        check("1.2345", "KWD", Err(MoneyError::TooManyDecimals));
        check("1.234", "EUR", Err(MoneyError::TooManyDecimals));
    }

    #[test]
    fn refuses_malformed_zero_negative_and_huge() {
        check("", "EUR", Err(MoneyError::Malformed));
        check(".5", "EUR", Err(MoneyError::Malformed));
        check("5.", "EUR", Err(MoneyError::Malformed));
        check("1e3", "EUR", Err(MoneyError::Malformed));
        check("+5", "EUR", Err(MoneyError::Malformed));
        check(" 5", "EUR", Err(MoneyError::Malformed));
        check("5,00", "EUR", Err(MoneyError::Malformed));
        check("１", "EUR", Err(MoneyError::Malformed));
        check("0", "EUR", Err(MoneyError::NotPositive));
        check("0.00", "EUR", Err(MoneyError::NotPositive));
        check("-5", "EUR", Err(MoneyError::NotPositive));
        check("10000000000000.00", "EUR", Ok(AMOUNT_MINOR_MAX));
        check("10000000000000.01", "EUR", Err(MoneyError::TooLarge));
        check(
            "99999999999999999999999999",
            "EUR",
            Err(MoneyError::TooLarge),
        );
        check("9223372036854775807", "JPY", Err(MoneyError::TooLarge));
    }

    #[test]
    fn formats_with_the_currency_decimals() {
        let cases = [
            (1250, "EUR", "12.50"),
            (-5, "EUR", "-0.05"),
            (0, "EUR", "0.00"),
            (1500, "JPY", "1500"),
            (1234, "KWD", "1.234"),
            (i64::MIN, "EUR", "-92233720368547758.08"),
        ];
        for (minor, code, expected) in cases {
            assert_eq!(Money::new(minor, currency(code)).to_decimal(), expected);
        }
    }

    #[test]
    fn knows_currencies() {
        assert_eq!(currency("JPY").exponent(), 0);
        assert_eq!(currency("EUR").minor_per_major(), 100);
        assert_eq!("eur".parse::<Currency>(), Err(MoneyError::UnknownCurrency));
        assert_eq!("XYZ".parse::<Currency>(), Err(MoneyError::UnknownCurrency));
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in 1_i64..=AMOUNT_MINOR_MAX, index in 0usize..ISO_4217.len()) {
            let currency = currency(ISO_4217[index].0);
            let text = Money::new(minor, currency).to_decimal();
            proptest::prop_assert_eq!(Money::parse_positive(&text, currency).map(|m| m.minor), Ok(minor));
        }
    }
}
