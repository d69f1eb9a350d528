//! Signatures and time-stamps from anyone, checked offline: never a panic, and nothing
//! verifies against a root that is not a certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (signature, content) = data.split_at(data.len() / 2);
    assert!(sceau_pki::verify_signature(signature, content, b"not a root", None).is_err());
    assert!(sceau_pki::verify_time_stamp(signature, content, b"not a root", None).is_err());
    let _ = sceau_pki::signature_parts(data);
    let _ = sceau_pki::Issued::from_pem_or_der(data);
});
