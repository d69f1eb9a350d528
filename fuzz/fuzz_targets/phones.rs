//! Phone numbers (E.164) as operators and clients type them: never a panic, a number
//! that parses is itself written back, and its masked form shows two digits only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_domain::PhoneNumber;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(phone) = text.parse::<PhoneNumber>() else {
        return;
    };
    assert_eq!(phone.as_str(), text);
    assert_eq!(phone.to_string().parse::<PhoneNumber>(), Ok(phone.clone()));
    let masked = phone.masked();
    let shown = masked.chars().filter(char::is_ascii_digit).count();
    assert_eq!(shown, 2, "{masked}");
    assert!(masked.ends_with(&text[text.len() - 2..]));
});
