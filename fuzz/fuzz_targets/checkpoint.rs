//! A log's checkpoints and keys as a monitor reads them: never a panic, and no random
//! note verifies.
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
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert!(sceau_log::parse_and_verify(text, key()).is_err());
    let _ = sceau_log::Checkpoint::parse_body(text);
    let _ = sceau_log::VerifierKey::parse(text);
});
