//! What several targets share: the log key they check notes and bundles against.

use std::sync::OnceLock;

/// A fixed verifier key: no fuzzed input is signed by it.
pub fn log_key() -> &'static sceau_log::VerifierKey {
    static KEY: OnceLock<sceau_log::VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        sceau_log::NoteSigner::new("fuzz.example/log", signing)
            .expect("a signer")
            .verifier_key()
    })
}
