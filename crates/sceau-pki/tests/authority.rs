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
    // Names that would change the subject's structure are refused.
    let key = KeyLabel::new("client-1").unwrap();
    keystore.generate(&key).unwrap();
    for bad in ["", "Mallory,O=sceau", "Eve+CN=x", "line\nbreak"] {
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
