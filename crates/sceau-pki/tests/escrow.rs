//! The escrow envelope against the real `openssl`: what `seal` makes, `openssl cms
//! -decrypt` opens, and what `openssl cms -encrypt` makes (in the one scheme supported),
//! `open` opens through a keystore, the encrypted key directory or SoftHSM2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod softhsm;

use common::{now_s, openssl};
use der::DecodePem;
use sceau_pki::escrow::{self, PLAINTEXT_LEN_MAX};
use sceau_pki::{Authority, FileKeystore, KeyLabel, Keystore, KeystoreError, PkiError};
use std::path::Path;
use std::sync::Arc;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

const PHONE: &[u8] = b"+33612345678";

fn label(text: &str) -> KeyLabel {
    KeyLabel::new(text).unwrap()
}

/// The values sealed in the tests: a phone number, every byte value, nothing.
fn values() -> Vec<Vec<u8>> {
    vec![PHONE.to_vec(), (0..=255).collect(), Vec::new()]
}

/// A certificate's public key and subjectKeyIdentifier.
fn key_and_id(certificate_pem: &str) -> (p256::PublicKey, Vec<u8>) {
    let certificate = Certificate::from_pem(certificate_pem).unwrap();
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    let public = p256::PublicKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).unwrap();
    let (_, id) = certificate
        .tbs_certificate
        .get::<SubjectKeyIdentifier>()
        .unwrap()
        .expect("a subjectKeyIdentifier");
    (public, id.0.as_bytes().to_vec())
}

fn file_keystore(directory: &Path) -> Arc<dyn Keystore> {
    Arc::new(FileKeystore::open(&directory.join("keys"), &[5; 32]).unwrap())
}

fn is_refused_envelope(result: &Result<zeroize::Zeroizing<Vec<u8>>, PkiError>) -> bool {
    matches!(result, Err(PkiError::Certificate(message)) if message.starts_with("escrow envelope: "))
}

/// (a) The layout is the standard one: openssl opens what `seal` sealed to its key.
#[test]
fn openssl_opens_what_seal_sealed() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path();
    for args in [
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "key.pem",
        ][..],
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "key.pem",
            "-subj",
            "/CN=escrow",
            "-days",
            "1",
            "-out",
            "cert.pem",
        ],
    ] {
        let (ok, output) = openssl(path, args);
        assert!(ok, "openssl {args:?}: {output}");
    }
    let (public, key_id) = key_and_id(&std::fs::read_to_string(path.join("cert.pem")).unwrap());
    for value in values() {
        let envelope = escrow::seal(&public, &key_id, &value).unwrap();
        std::fs::write(path.join("env.der"), &envelope).unwrap();
        let _ = std::fs::remove_file(path.join("plain.bin"));
        let (ok, output) = openssl(
            path,
            &[
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-in",
                "env.der",
                "-inkey",
                "key.pem",
                "-recip",
                "cert.pem",
                "-out",
                "plain.bin",
            ],
        );
        assert!(ok, "openssl cms -decrypt: {output}");
        assert_eq!(std::fs::read(path.join("plain.bin")).unwrap(), value);
    }
}

/// `openssl cms -encrypt` of `value` to `cert.pem` in `directory`, with `options`.
fn openssl_encrypt(directory: &Path, value: &[u8], options: &[&str]) -> Vec<u8> {
    std::fs::write(directory.join("msg.bin"), value).unwrap();
    let mut args = vec![
        "cms", "-encrypt", "-binary", "-outform", "DER", "-in", "msg.bin", "-out", "env.der",
    ];
    args.extend_from_slice(options);
    let (ok, output) = openssl(directory, &args);
    assert!(ok, "openssl {args:?}: {output}");
    std::fs::read(directory.join("env.der")).unwrap()
}

/// The escrow key in `store`, certified by an authority in the same store: openssl seals
/// to its certificate, `open` opens through the store; `seal` and `open` agree; another
/// key, or a signing key, does not open.
fn escrow_through(store: Arc<dyn Keystore>) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path();
    let escrow_key = label("escrow");
    let public = store.generate_agreement(&escrow_key).unwrap();
    let authority = Authority::create(Arc::clone(&store), "sceau", now_s() - 60).unwrap();
    let certificate = authority
        .issue_client(&escrow_key, "sceau escrow", now_s() - 60, 3_600)
        .unwrap()
        .to_pem()
        .unwrap();
    std::fs::write(path.join("cert.pem"), &certificate).unwrap();
    let (certified, key_id) = key_and_id(&certificate);
    assert_eq!(certified, public);
    // (b) openssl → open, in the supported scheme.
    let supported = [
        "-aes-256-gcm",
        "-recip",
        "cert.pem",
        "-keyopt",
        "ecdh_kdf_md:sha256",
    ];
    for value in values() {
        let envelope = openssl_encrypt(path, &value, &supported);
        let opened = escrow::open(store.as_ref(), &escrow_key, &envelope).unwrap();
        assert_eq!(opened.as_slice(), value.as_slice());
    }
    // Other schemes are refused: openssl's default KDF hash (SHA-1), and EnvelopedData
    // with AES-256-CBC.
    for options in [
        &["-aes-256-gcm", "-recip", "cert.pem"][..],
        &[
            "-aes256",
            "-recip",
            "cert.pem",
            "-keyopt",
            "ecdh_kdf_md:sha256",
        ],
    ] {
        let envelope = openssl_encrypt(path, PHONE, options);
        let opened = escrow::open(store.as_ref(), &escrow_key, &envelope);
        assert!(is_refused_envelope(&opened), "{options:?}: {opened:?}");
    }
    // seal → open.
    let envelope = escrow::seal(&public, &key_id, PHONE).unwrap();
    assert_eq!(
        escrow::open(store.as_ref(), &escrow_key, &envelope)
            .unwrap()
            .as_slice(),
        PHONE
    );
    // (d) Another agreement key does not open it; a signing key is not asked to agree.
    store.generate_agreement(&label("escrow-other")).unwrap();
    let opened = escrow::open(store.as_ref(), &label("escrow-other"), &envelope);
    assert!(is_refused_envelope(&opened), "{opened:?}");
    let opened = escrow::open(store.as_ref(), &label("ca-issuing"), &envelope);
    assert!(
        matches!(&opened, Err(PkiError::Keystore(KeystoreError::WrongUse(key))) if *key == label("ca-issuing")),
        "{opened:?}"
    );
}

/// (b) and (d) with the encrypted key directory.
#[test]
fn the_escrow_key_works_in_the_file_keystore() {
    let directory = tempfile::tempdir().unwrap();
    escrow_through(file_keystore(directory.path()));
}

/// (c) Every seal draws a new ephemeral key, content key and nonce.
#[test]
fn two_seals_of_one_value_share_nothing_but_their_shape() {
    let directory = tempfile::tempdir().unwrap();
    let store = file_keystore(directory.path());
    let public = store.generate_agreement(&label("escrow")).unwrap();
    let first = escrow::seal(&public, &[7; 20], PHONE).unwrap();
    let second = escrow::seal(&public, &[7; 20], PHONE).unwrap();
    assert_ne!(first, second);
    assert_eq!(
        first.len(),
        second.len(),
        "the length depends on the value only"
    );
    // The ephemeral public key: an uncompressed point in a BIT STRING (03 42 00 04 ...).
    let ephemeral = |envelope: &[u8]| {
        let start = envelope
            .windows(4)
            .position(|window| window == [0x03, 0x42, 0x00, 0x04])
            .unwrap();
        envelope[start + 4..start + 68].to_vec()
    };
    assert_ne!(ephemeral(&first), ephemeral(&second));
    // The mac (the envelope's last 16 bytes) differs: another content key or nonce.
    assert_ne!(first[first.len() - 16..], second[second.len() - 16..]);
    for envelope in [&first, &second] {
        let opened = escrow::open(store.as_ref(), &label("escrow"), envelope).unwrap();
        assert_eq!(opened.as_slice(), PHONE);
    }
}

/// (d) No altered envelope opens, and no input makes `open` panic.
#[test]
fn altered_envelopes_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let store = file_keystore(directory.path());
    let escrow_key = label("escrow");
    let public = store.generate_agreement(&escrow_key).unwrap();
    let key_id = [0xa5_u8; 20];
    let envelope = escrow::seal(&public, &key_id, PHONE).unwrap();
    // The recipient identifier is a hint that `open` does not read (the label names the
    // key): altering it changes nothing. Every other byte is structure, algorithm, key or
    // content, and altering it is refused.
    let id_start = envelope
        .windows(key_id.len())
        .position(|window| window == key_id)
        .unwrap();
    let hint = id_start..id_start + key_id.len();
    for index in 0..envelope.len() {
        for flip in [0x01_u8, 0x80] {
            let mut altered = envelope.clone();
            altered[index] ^= flip;
            let opened = escrow::open(store.as_ref(), &escrow_key, &altered);
            if hint.contains(&index) {
                assert_eq!(opened.unwrap().as_slice(), PHONE);
            } else {
                assert!(
                    is_refused_envelope(&opened),
                    "byte {index} ^ {flip:#x}: {opened:?}"
                );
            }
        }
    }
    // Cut short anywhere, or lengthened.
    for length in 0..envelope.len() {
        let opened = escrow::open(store.as_ref(), &escrow_key, &envelope[..length]);
        assert!(is_refused_envelope(&opened), "cut at {length}: {opened:?}");
    }
    let lengthened = [envelope.as_slice(), &[0]].concat();
    assert!(is_refused_envelope(&escrow::open(
        store.as_ref(),
        &escrow_key,
        &lengthened
    )));
    // Limits on what is sealed and opened.
    assert!(escrow::seal(&public, &key_id, &vec![0; PLAINTEXT_LEN_MAX]).is_ok());
    assert!(escrow::seal(&public, &key_id, &vec![0; PLAINTEXT_LEN_MAX + 1]).is_err());
    assert!(escrow::seal(&public, &[], PHONE).is_err());
    assert!(is_refused_envelope(&escrow::open(
        store.as_ref(),
        &escrow_key,
        &vec![0x30; escrow::ENVELOPE_LEN_MAX + 1]
    )));
}

/// (e) The same with the escrow key on a PKCS#11 token.
#[test]
fn the_escrow_key_works_on_softhsm2() {
    softhsm::run_inner("inner_escrow_on_softhsm2");
}

/// Run by [`the_escrow_key_works_on_softhsm2`] in a child process.
#[test]
#[ignore = "run by the_escrow_key_works_on_softhsm2, in a child process"]
fn inner_escrow_on_softhsm2() {
    softhsm::assert_inner();
    let store = sceau_pki::Pkcs11Keystore::open(
        Path::new(softhsm::MODULE),
        softhsm::TOKEN,
        zeroize::Zeroizing::new(softhsm::USER_PIN.into()),
    )
    .unwrap();
    escrow_through(Arc::new(store));
}
