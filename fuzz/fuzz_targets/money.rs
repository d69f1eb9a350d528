//! Amounts and currencies as merchants and operators type them: never a panic, and an
//! amount that parses is written back as text that parses to the same amount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_domain::{Currency, Money};

/// Currencies of every exponent: none, two and three decimals.
const CURRENCIES: [&str; 3] = ["JPY", "EUR", "KWD"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(currency) = text.parse::<Currency>() {
        assert_eq!(currency.code(), text);
        assert_eq!(currency.to_string().parse::<Currency>(), Ok(currency));
    }
    for code in CURRENCIES {
        let currency: Currency = code.parse().expect("a known currency");
        let Ok(amount) = Money::parse_non_negative(text, currency) else {
            assert!(Money::parse_positive(text, currency).is_err(), "{text:?}");
            continue;
        };
        assert!(amount.minor >= 0, "{text:?}");
        let written = amount.to_decimal();
        let decimals = written.split_once('.').map_or(0, |(_, fraction)| fraction.len());
        assert_eq!(decimals, usize::from(currency.exponent()), "{written}");
        assert_eq!(Money::parse_non_negative(&written, currency), Ok(amount));
        match Money::parse_positive(text, currency) {
            Ok(positive) => assert_eq!(positive, amount),
            Err(_) => assert_eq!(amount.minor, 0, "{text:?}"),
        }
    }
});
