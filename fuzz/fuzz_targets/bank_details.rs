//! IBANs and BICs as merchants give them: never a panic, and what parses is written
//! back (plain, grouped, displayed) as text that parses to the same account and bank.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_domain::bank::{Bic, Iban};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(iban) = text.parse::<Iban>() {
        let plain = iban.as_str().to_owned();
        assert!(plain.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(iban.country(), &plain[..2]);
        for written in [plain.clone(), iban.printable(), iban.to_string()] {
            let again: Iban = written.parse().expect("a written IBAN parses");
            assert_eq!(again.as_str(), plain);
        }
    }
    if let Ok(bic) = text.parse::<Bic>() {
        let plain = bic.as_str().to_owned();
        assert!(matches!(plain.len(), 8 | 11), "{plain}");
        assert_eq!(bic.institution(), &plain[..4]);
        assert_eq!(bic.country(), &plain[4..6]);
        for written in [plain.clone(), bic.to_string()] {
            let again: Bic = written.parse().expect("a written BIC parses");
            assert_eq!(again.as_str(), plain);
        }
    }
});
