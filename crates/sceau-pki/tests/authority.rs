//! The certificate authority's certificates, checked by the real `openssl` binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{now_s, openssl};
use sceau_pki::ca::CLIENT_VALIDITY_S;
use sceau_pki::{Authority, FileKeystore, KeyLabel, Keystore, PkiError};
use std::sync::Arc;

/// 2026-11-24T00:00:00Z.
const NOW_S: i64 = 1_795_478_400;

#[test]
fn openssl_verifies_the_chain_and_reads_the_certificates() {
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[5; 32]).unwrap());
    let now_s = now_s();
    let authority = Authority::create(Arc::clone(&keystore), "sceau test", now_s - 60).unwrap();
    let client_key = KeyLabel::new("client-7").unwrap();
    keystore.generate(&client_key).unwrap();
    let client = authority
        .issue_client(&client_key, "Alice Martin", now_s - 60, CLIENT_VALIDITY_S)
        .unwrap();
    let write = |name: &str, pem: String| std::fs::write(directory.path().join(name), pem).unwrap();
    write("root.pem", authority.root().to_pem().unwrap());
    write("issuing.pem", authority.issuing().to_pem().unwrap());
    write("client.pem", client.to_pem().unwrap());

    let (verified, text) = openssl(
        directory.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "client.pem",
        ],
    );
    assert!(verified && text.contains("client.pem: OK"), "{text}");

    let (read, text) = openssl(
        directory.path(),
        &["x509", "-in", "client.pem", "-noout", "-text"],
    );
    assert!(read, "{text}");
    for expected in [
        "Version: 3 (0x2)",
        "Signature Algorithm: ecdsa-with-SHA256",
        "Subject: CN = Alice Martin",
        "Issuer: O = sceau test, CN = sceau test Issuing CA",
        "ASN1 OID: prime256v1",
        "CA:FALSE",
        "Digital Signature, Non Repudiation",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    let (_, root_text) = openssl(
        directory.path(),
        &["x509", "-in", "root.pem", "-noout", "-text"],
    );
    assert!(root_text.contains("CA:TRUE") && root_text.contains("Certificate Sign, CRL Sign"));
    let (_, issuing_text) = openssl(
        directory.path(),
        &["x509", "-in", "issuing.pem", "-noout", "-text"],
    );
    assert!(
        issuing_text.contains("CA:TRUE, pathlen:0"),
        "{issuing_text}"
    );

    // Any altered byte of the signed part, or of the signature, fails verification.
    let mut altered = client.der.clone();
    let index = altered.len() / 2;
    altered[index] ^= 0x01;
    std::fs::write(directory.path().join("altered.der"), &altered).unwrap();
    let (verified, text) = openssl(
        directory.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "altered.der",
        ],
    );
    assert!(!verified || !text.contains(": OK"), "{text}");
    let mut resigned = client.der.clone();
    let last = resigned.len() - 3;
    resigned[last] ^= 0x01;
    let forged = sceau_pki::Issued::from_der(&resigned).unwrap();
    write("forged.pem", forged.to_pem().unwrap());
    let (verified, _) = openssl(
        directory.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "forged.pem",
        ],
    );
    assert!(!verified);
}

#[test]
fn an_authority_reopens_with_its_own_keys_only() {
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[5; 32]).unwrap());
    let authority = Authority::create(Arc::clone(&keystore), "sceau", NOW_S).unwrap();
    let (root, issuing) = (authority.root().clone(), authority.issuing().clone());
    // Created once: the keys exist now.
    assert!(matches!(
        Authority::create(Arc::clone(&keystore), "sceau", NOW_S),
        Err(PkiError::Keystore(_))
    ));
    let reopened = Authority::open(Arc::clone(&keystore), root.clone(), issuing.clone()).unwrap();
    assert_eq!(reopened.root().der, root.der);
    assert!(Authority::open(Arc::clone(&keystore), issuing, root).is_err());
    // A common name is taken literally: what would be structure in RFC 4514 text is
    // part of the one name. Empty, control characters, over 64 characters: refused.
    let key = KeyLabel::new("client-1").unwrap();
    keystore.generate(&key).unwrap();
    let literal = reopened
        .issue_client(&key, "Mallory,O=sceau", NOW_S, CLIENT_VALIDITY_S)
        .unwrap();
    let subject = &literal.certificate.tbs_certificate.subject;
    assert_eq!(subject.0.len(), 1);
    assert_eq!(subject.0[0].0.len(), 1);
    let too_long = "x".repeat(65);
    for bad in ["", "line\nbreak", too_long.as_str()] {
        assert!(
            matches!(
                reopened.issue_client(&key, bad, NOW_S, CLIENT_VALIDITY_S),
                Err(PkiError::InvalidName(_))
            ),
            "{bad:?}"
        );
    }
    assert!(
        reopened
            .issue_client(&key, "Zoé Lefèvre", NOW_S, CLIENT_VALIDITY_S)
            .is_ok()
    );
}

/// A client's own certificate carries the sealed phone number in a private extension; a
/// second one carries none and names the first; both revoked ones are on the issuing
/// CA's CRL, which `openssl crl` verifies and `openssl verify -crl_check` applies.
#[test]
fn client_certificates_and_the_revocation_list_pass_openssl() {
    use der::Decode;
    use sceau_pki::ca::{
        ClientProfile, ID_ESCROWED_PHONE, ID_NAMES_CERTIFICATE, NamesCertificate, Revocation,
        RevocationReason, extension_value, serial_hex,
    };
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[8; 32]).unwrap());
    let now_s = now_s();
    let authority = Authority::create(Arc::clone(&keystore), "sceau test", now_s - 60).unwrap();
    let (first_key, second_key) = (
        KeyLabel::new("client-a").unwrap(),
        KeyLabel::new("client-b").unwrap(),
    );
    keystore.generate(&first_key).unwrap();
    keystore.generate(&second_key).unwrap();
    // Any DER stands for the envelope here (tests/escrow.rs checks real envelopes).
    let envelope = [0x30, 0x03, 0x02, 0x01, 0x07];
    let first = authority
        .issue_for_client(
            &first_key,
            "Alice Martin",
            ClientProfile::Holder {
                escrowed_phone: &envelope,
            },
            now_s - 60,
            CLIENT_VALIDITY_S,
        )
        .unwrap();
    let second = authority
        .issue_for_client(
            &second_key,
            "Alice M.",
            ClientProfile::Pseudonym { first: &first },
            now_s - 60,
            CLIENT_VALIDITY_S,
        )
        .unwrap();
    assert_eq!(
        extension_value(&first, ID_ESCROWED_PHONE),
        Some(&envelope[..])
    );
    assert_eq!(extension_value(&second, ID_ESCROWED_PHONE), None);
    let named = NamesCertificate::from_der(extension_value(&second, ID_NAMES_CERTIFICATE).unwrap())
        .unwrap();
    assert_eq!(
        named.serial_number,
        first.certificate.tbs_certificate.serial_number
    );
    use sha2::Digest;
    assert_eq!(
        named.cert_hash.as_bytes(),
        sha2::Sha256::digest(&first.der).as_slice()
    );
    let write = |name: &str, contents: &[u8]| {
        std::fs::write(directory.path().join(name), contents).unwrap()
    };
    write("root.pem", authority.root().to_pem().unwrap().as_bytes());
    write(
        "issuing.pem",
        authority.issuing().to_pem().unwrap().as_bytes(),
    );
    write("first.pem", first.to_pem().unwrap().as_bytes());
    write("second.pem", second.to_pem().unwrap().as_bytes());
    let (read, text) = openssl(
        directory.path(),
        &["x509", "-in", "first.pem", "-noout", "-text"],
    );
    assert!(read && text.contains("1.2.3.4.2.1"), "{text}");
    assert!(!text.contains("1.2.3.4.2.2"), "{text}");
    let (read, text) = openssl(
        directory.path(),
        &["x509", "-in", "second.pem", "-noout", "-text"],
    );
    assert!(read && text.contains("1.2.3.4.2.2"), "{text}");
    assert!(!text.contains("1.2.3.4.2.1"), "{text}");

    // Revoke the first; the CRL names it, with its reason, and no other.
    let serial = sceau_pki::ca::serial_from_hex(&serial_hex(&first)).unwrap();
    assert_eq!(
        serial,
        first.certificate.tbs_certificate.serial_number.as_bytes()
    );
    let crl = authority
        .crl(
            &[Revocation {
                serial,
                at_s: now_s - 10,
                reason: RevocationReason::KeyCompromise,
            }],
            now_s - 5,
            now_s + 3_600,
            now_s as u64,
        )
        .unwrap();
    write("crl.der", &crl);
    let (read, text) = openssl(
        directory.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-CAfile",
            "issuing.pem",
            "-noout",
            "-text",
        ],
    );
    assert!(read && text.contains("verify OK"), "{text}");
    for expected in [
        "Version 2 (0x1)",
        "Issuer: O = sceau test, CN = sceau test Issuing CA",
        "X509v3 CRL Number",
        "X509v3 Authority Key Identifier",
        "Key Compromise",
        &serial_hex(&first).to_uppercase(),
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    let (_, pem) = openssl(
        directory.path(),
        &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"],
    );
    let verify = |certificate: &str| {
        openssl(
            directory.path(),
            &[
                "verify",
                "-crl_check",
                "-CRLfile",
                "crl.pem",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
                certificate,
            ],
        )
    };
    let (verified, text) = verify("first.pem");
    assert!(
        !verified && text.contains("certificate revoked"),
        "{pem}{text}"
    );
    let (verified, text) = verify("second.pem");
    assert!(verified && text.contains("second.pem: OK"), "{text}");
    // A CRL altered in one byte of its signed part no longer verifies.
    let mut altered = crl.clone();
    let at = altered.len() / 2;
    altered[at] ^= 0x01;
    write("altered.der", &altered);
    let (read, text) = openssl(
        directory.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "altered.der",
            "-CAfile",
            "issuing.pem",
            "-noout",
        ],
    );
    assert!(!read || !text.contains("verify OK"), "{text}");
    // Reasons round-trip through their names and codes.
    for code in 0..=10 {
        if let Some(reason) = RevocationReason::from_code(code) {
            assert_eq!(reason.name().parse::<RevocationReason>().unwrap(), reason);
            assert_eq!(reason.code(), code);
        }
    }
}
