//! `sceau verify BUNDLE`'s check of an envelope's evidence bundle from anyone: never a
//! panic, and a bundle of random bytes is never valid.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let report =
        sceau_server::envelope_bundle::check(data, b"not a certificate", common::log_key());
    assert!(!report.valid(), "a valid envelope bundle against no root");
});
