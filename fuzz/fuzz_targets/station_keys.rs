//! A station's public key as it sends it to the notary (SubjectPublicKeyInfo, DER), and a
//! station's signature as an envelope bundle carries it (`r || s`): never a panic; a key
//! that parses is a P-256 key whose encoding parses back to the same key, and a signature
//! that converts is 64 bytes whose DER form converts back to them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p256::ecdsa::Signature;
use p256::pkcs8::EncodePublicKey;
use sceau_pki::station::{parse_station_key, signature_der};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = parse_station_key(data) {
        let der = key.to_public_key_der().expect("a parsed key encodes");
        assert_eq!(parse_station_key(der.as_bytes()), Ok(key));
    }
    if let Some(der) = signature_der(data) {
        assert_eq!(data.len(), 64);
        let back = Signature::from_der(&der).expect("the DER form parses");
        assert_eq!(back.to_bytes().as_slice(), data);
    }
});
