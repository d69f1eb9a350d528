//! Card details as a merchant sends them (number, expiry, security code): never a panic,
//! and what parses is written back as text that parses to the same details.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_domain::{CardNumber, Expiry, SecurityCode};

fuzz_target!(|data: &[u8]| {
    if let [month, year_high, year_low, ..] = data {
        let year = u16::from_be_bytes([*year_high, *year_low]);
        if let Ok(expiry) = Expiry::new(*month, year) {
            assert!((1..=12).contains(&expiry.month) && (2000..=2999).contains(&expiry.year));
            assert_eq!(expiry.display_short().len(), 5);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(number) = text.parse::<CardNumber>() {
        let digits = number.reveal();
        assert_eq!(digits.len(), 16);
        assert_eq!(digits, text.replace(' ', ""));
        for written in [&digits, &number.reveal_grouped()] {
            let again: CardNumber = written.parse().expect("a written number parses");
            assert_eq!(again.reveal(), digits);
        }
        assert_eq!(number.last_four(), digits[12..]);
        assert!(!format!("{number:?}").contains(&digits[..12]));
    }
    if let Ok(code) = text.parse::<SecurityCode>() {
        assert_eq!(code.reveal(), text);
    }
});
