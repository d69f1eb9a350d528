//! A client's e-mail address as an operator types it at enrolment (`"email"` of
//! `POST /admin/v1/clients`, `--email`): never a panic; an address taken is one bare
//! address within its limits, with no character that could break a mail header, and its
//! masked form keeps only its first character and its domain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_domain::email::EmailAddress;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(address) = text.parse::<EmailAddress>() else {
        return;
    };
    let taken = address.as_str();
    assert!(taken.len() <= 254, "{taken:?}");
    assert!(!taken.chars().any(|c| c.is_control() || c == ' ' || c == ','), "{taken:?}");
    assert_eq!(taken.matches('@').count(), 1, "{taken:?}");
    let masked = address.masked();
    let domain = taken.rsplit('@').next().unwrap_or_default();
    assert!(masked.ends_with(domain), "{masked:?}");
});
