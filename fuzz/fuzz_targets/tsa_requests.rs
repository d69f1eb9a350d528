//! RFC 3161 time-stamp requests as `POST /tsa` receives them: never a panic, every
//! request is answered with a response, and only a DER sequence is ever granted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_pki::{Answer, FileKeystore, Keystore, Pki};
use std::sync::{Arc, OnceLock};

/// The instant every request is answered at.
const NOW_S: i64 = 1_800_000_000;

/// A PKI made once, in a directory of its own under the system's temporary directory.
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let directory = std::env::temp_dir().join(format!("sceau-fuzz-tsa-{}", std::process::id()));
        let keystore: Arc<dyn Keystore> = Arc::new(
            FileKeystore::open(&directory.join("keys"), &[7; 32]).expect("a keystore"),
        );
        let policy = "1.3.6.1.4.1.99999.1".parse().expect("an object identifier");
        Pki::open_or_create(keystore, &directory.join("pki"), "fuzz", policy, NOW_S)
            .expect("a PKI")
    })
}

fuzz_target!(|data: &[u8]| {
    let answer = pki().tsa.answer(data, NOW_S);
    assert!(!answer.response().is_empty());
    if let Answer::Granted { .. } = answer {
        assert_eq!(data.first(), Some(&0x30), "granted a request that is not a sequence");
    }
});
