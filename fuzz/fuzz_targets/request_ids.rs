//! The `X-Request-Id` a client sends: never a panic, and an id kept is 1 to 64 letters,
//! digits, `-`, `_`, `.` or `:` (what goes into every log line of its request).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    if sceau_server::edge::well_formed_request_id(id) {
        assert!((1..=64).contains(&id.len()), "{id:?}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')),
            "{id:?}"
        );
    }
});
