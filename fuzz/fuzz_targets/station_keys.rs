//! A station's public key as it sends it to the notary (SubjectPublicKeyInfo, DER): never
//! a panic; a key that parses is a P-256 key whose encoding parses back to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p256::pkcs8::EncodePublicKey;
use sceau_pki::station::parse_station_key;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = parse_station_key(data) {
        let der = key.to_public_key_der().expect("a parsed key encodes");
        assert_eq!(parse_station_key(der.as_bytes()), Ok(key));
    }
});
