//! A log's checkpoints and keys as a monitor reads them: never a panic, and no random
//! note verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert!(sceau_log::parse_and_verify(text, common::log_key()).is_err());
    let _ = sceau_log::Checkpoint::parse_body(text);
    let _ = sceau_log::VerifierKey::parse(text);
});
