//! Text people read, and what people type (seals, amounts, numbers, phones, IBANs):
//! never a panic, and text a rule accepts holds nothing unprintable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_domain::text::{NAME, OBJECT, REFERENCE, unprintable};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for rule in [NAME, REFERENCE, OBJECT] {
        if rule.check(text).is_ok() {
            assert!(!text.chars().any(unprintable), "{text:?}");
        }
    }
    let _ = text.parse::<sceau_domain::seal::Seal>();
    let _ = text.parse::<sceau_domain::PhoneNumber>();
    let _ = text.parse::<sceau_domain::CardNumber>();
    let _ = text.parse::<sceau_domain::SecurityCode>();
    let _ = text.parse::<sceau_domain::bank::Iban>();
    let _ = text.parse::<sceau_domain::bank::Bic>();
    if let Ok(currency) = text.get(..3).unwrap_or("EUR").parse::<sceau_domain::Currency>() {
        let _ = sceau_domain::Money::parse_positive(text, currency);
        let _ = sceau_domain::Money::parse_non_negative(text, currency);
    }
});
