//! The JSON bodies merchants and operators send: never a panic, and an error never
//! repeats a value that was sent (it could be a card number or a password).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let checks = [
        sceau_server::api::parse_json::<sceau_server::api::checkout::CheckoutBody>(data).err(),
        sceau_server::api::parse_json::<sceau_server::api::merchant::AuthorizeBody>(data).err(),
        sceau_server::api::parse_json::<sceau_server::api::merchant::RotateSecretBody>(data).err(),
        sceau_server::api::parse_json::<serde_json::Value>(data).err(),
    ];
    for error in checks.into_iter().flatten() {
        // Field names are repeated only when they look like ours.
        let message = error.message;
        for secret in ["4999", "password"] {
            if message.contains(secret) {
                assert!(!String::from_utf8_lossy(data).contains(&format!("\"{secret}")), "{message}");
            }
        }
    }
});
