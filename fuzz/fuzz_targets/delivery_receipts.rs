//! `sceau verify RECEIPT`'s check of a certified delivery's receipt from anyone: never a
//! panic, and a receipt of random bytes is never valid.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let report =
        sceau_server::delivery_receipt::check(data, b"not a certificate", common::log_key());
    assert!(!report.valid(), "a valid receipt under an unknown log key");
});
