//! `sceau verify BUNDLE`'s check of an evidence bundle from anyone: never a panic, and a
//! bundle of random bytes is never valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn key() -> &'static sceau_log::VerifierKey {
    static KEY: OnceLock<sceau_log::VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        sceau_log::NoteSigner::new("fuzz.example/log", signing)
            .expect("a signer")
            .verifier_key()
    })
}

fuzz_target!(|data: &[u8]| {
    let report = sceau_server::bundle::check(data, b"not a certificate", key());
    assert!(!report.valid(), "a valid bundle against no root");
});
