//! A station's own key: certified by sceau's authority (checked by openssl), and the
//! signatures it makes in WebCrypto's form (`r || s`) checked against the certificate,
//! including what a station made with openssl.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{now_s, openssl};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use sceau_pki::station::{
    STATION_KEY_BYTES_MAX, StationKeyError, parse_station_key, station_signature_verifies,
};
use sceau_pki::{Authority, FileKeystore, Keystore};
use std::sync::Arc;

fn random_key() -> SigningKey {
    SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap()
}

fn authority(directory: &std::path::Path, now_s: i64) -> Authority {
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.join("keys"), &[6; 32]).unwrap());
    Authority::create(keystore, "sceau test", now_s - 60).unwrap()
}

#[test]
fn a_station_key_is_certified_and_its_signatures_check() {
    let directory = tempfile::tempdir().unwrap();
    let now_s = now_s();
    let authority = authority(directory.path(), now_s);
    let station = random_key();
    let spki = station.verifying_key().to_public_key_der().unwrap();
    let public = parse_station_key(spki.as_bytes()).unwrap();
    let certificate = authority
        .certify_station_key(&public, "sceau disposable certificate", now_s - 60, 600)
        .unwrap();

    let write = |name: &str, pem: String| std::fs::write(directory.path().join(name), pem).unwrap();
    write("root.pem", authority.root().to_pem().unwrap());
    write("issuing.pem", authority.issuing().to_pem().unwrap());
    write("station.pem", certificate.to_pem().unwrap());
    let (verified, text) = openssl(
        directory.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "station.pem",
        ],
    );
    assert!(verified, "{text}");
    let (_, text) = openssl(
        directory.path(),
        &["x509", "-in", "station.pem", "-noout", "-text"],
    );
    assert!(text.contains("Digital Signature"), "{text}");
    let (not_before, not_after) = certificate.validity_s();
    assert_eq!(not_after - not_before, 600);

    let manifest = br#"{"certificate":"0a","destinations":[],"envelope":"env_1","files":[],"v":1}"#;
    let signature: Signature = station.sign(manifest);
    let raw = signature.to_bytes();
    assert_eq!(raw.len(), 64);
    assert!(station_signature_verifies(&certificate, manifest, &raw));
    let mut changed = manifest.to_vec();
    changed[3] ^= 1;
    assert!(!station_signature_verifies(&certificate, &changed, &raw));
    let other: Signature = random_key().sign(manifest);
    assert!(!station_signature_verifies(
        &certificate,
        manifest,
        &other.to_bytes()
    ));
    // Only WebCrypto's form: a DER signature, a truncated one, nothing at all are not
    // signatures.
    assert!(!station_signature_verifies(
        &certificate,
        manifest,
        signature.to_der().as_bytes()
    ));
    assert!(!station_signature_verifies(
        &certificate,
        manifest,
        &raw[..63]
    ));
    assert!(!station_signature_verifies(&certificate, manifest, &[]));

    // A station that is a terminal: openssl makes the key and signs; its DER signature,
    // turned into r || s, checks.
    let (made, text) = openssl(
        directory.path(),
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "cli.key",
        ],
    );
    assert!(made, "{text}");
    let (made, text) = openssl(
        directory.path(),
        &[
            "ec", "-in", "cli.key", "-pubout", "-outform", "DER", "-out", "cli.spki",
        ],
    );
    assert!(made, "{text}");
    std::fs::write(directory.path().join("manifest.json"), manifest).unwrap();
    let (made, text) = openssl(
        directory.path(),
        &[
            "dgst",
            "-sha256",
            "-sign",
            "cli.key",
            "-out",
            "manifest.sig",
            "manifest.json",
        ],
    );
    assert!(made, "{text}");
    let spki = std::fs::read(directory.path().join("cli.spki")).unwrap();
    let public = parse_station_key(&spki).unwrap();
    let certificate = authority
        .certify_station_key(&public, "sceau disposable certificate", now_s - 60, 600)
        .unwrap();
    let der = std::fs::read(directory.path().join("manifest.sig")).unwrap();
    let raw = Signature::from_der(&der).unwrap().to_bytes();
    assert!(station_signature_verifies(&certificate, manifest, &raw));
}

#[test]
fn keys_that_are_not_p256_public_keys_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    assert_eq!(parse_station_key(&[]), Err(StationKeyError::NotP256));
    assert_eq!(
        parse_station_key(b"not a key"),
        Err(StationKeyError::NotP256)
    );
    let long = vec![0x30; STATION_KEY_BYTES_MAX + 1];
    assert_eq!(parse_station_key(&long), Err(StationKeyError::TooLong));
    // A P-384 key and an RSA key, made by openssl, are refused.
    for (name, args) in [
        (
            "p384",
            vec![
                "ecparam",
                "-name",
                "secp384r1",
                "-genkey",
                "-noout",
                "-out",
                "p384.key",
            ],
        ),
        ("rsa", vec!["genrsa", "-out", "rsa.key", "2048"]),
    ] {
        let (made, text) = openssl(directory.path(), &args);
        assert!(made, "{text}");
        let key = format!("{name}.key");
        let public = format!("{name}.spki");
        let subcommand = if name == "rsa" { "rsa" } else { "ec" };
        let (made, text) = openssl(
            directory.path(),
            &[
                subcommand, "-in", &key, "-pubout", "-outform", "DER", "-out", &public,
            ],
        );
        assert!(made, "{text}");
        let der = std::fs::read(directory.path().join(&public)).unwrap();
        let refused = parse_station_key(&der);
        assert!(
            refused == Err(StationKeyError::NotP256) || refused == Err(StationKeyError::TooLong),
            "{name}: {refused:?}"
        );
    }
}
