//! The keystore contract, run against both keystores: the encrypted key directory, and a
//! PKCS#11 token (SoftHSM2, created for the test in a temporary directory; the SoftHSM2
//! part runs in a child process, see `softhsm/mod.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod softhsm;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sceau_pki::{FileKeystore, KeyLabel, Keystore, KeystoreError, Pkcs11Keystore};
use sha2::{Digest, Sha256};
use softhsm::{MODULE as SOFTHSM2_MODULE, TOKEN, USER_PIN};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use zeroize::Zeroizing;

fn label(text: &str) -> KeyLabel {
    KeyLabel::new(text).unwrap()
}

fn digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// What every keystore must do. `prefix` keeps the labels of one run apart.
fn contract(store: Arc<dyn Keystore>, prefix: &str) {
    let name = |suffix: &str| label(&format!("{prefix}-{suffix}"));
    // Generate, then sign and verify; a signature fits its data and key only.
    let alice = store.generate(&name("alice")).unwrap();
    assert_eq!(store.public_key(&name("alice")).unwrap(), alice);
    let signature = store
        .sign_digest(&name("alice"), &digest(b"contract"))
        .unwrap();
    assert!(
        alice
            .verify_prehash(&digest(b"contract"), &signature)
            .is_ok()
    );
    assert!(
        alice
            .verify_prehash(&digest(b"contracT"), &signature)
            .is_err()
    );
    let bob = store.generate(&name("bob")).unwrap();
    assert_ne!(alice, bob);
    assert!(
        bob.verify_prehash(&digest(b"contract"), &signature)
            .is_err()
    );
    // Many signatures, each valid (tokens and keys are reused).
    for n in 0..32_u32 {
        let data = digest(&n.to_be_bytes());
        let signature = store.sign_digest(&name("bob"), &data).unwrap();
        assert!(
            bob.verify_prehash(&data, &signature).is_ok(),
            "signature {n}"
        );
    }
    // A group signed with one use of the key: each signature for its own digest, in order.
    let digests: Vec<[u8; 32]> = (0..8_u32).map(|n| digest(&n.to_le_bytes())).collect();
    let signatures = store.sign_digests(&name("bob"), &digests).unwrap();
    assert_eq!(signatures.len(), digests.len());
    for (n, (data, signature)) in digests.iter().zip(&signatures).enumerate() {
        assert!(
            bob.verify_prehash(data, signature).is_ok(),
            "group signature {n}"
        );
        let other = &digests[(n + 1) % digests.len()];
        assert!(
            bob.verify_prehash(other, signature).is_err(),
            "group signature {n}"
        );
    }
    assert!(store.sign_digests(&name("bob"), &[]).unwrap().is_empty());
    assert!(store.sign_digests(&name("nobody"), &digests).is_err());
    // A label is never reused, and an unknown one is not found.
    assert_eq!(
        store.generate(&name("alice")),
        Err(KeystoreError::Exists(name("alice")))
    );
    assert_eq!(
        store.public_key(&name("alice")).unwrap(),
        alice,
        "not replaced"
    );
    assert_eq!(
        store.sign_digest(&name("nobody"), &digest(b"x")),
        Err(KeystoreError::NotFound(name("nobody")))
    );
    // Destroyed: gone for every operation.
    store.destroy(&name("bob")).unwrap();
    assert_eq!(
        store.sign_digest(&name("bob"), &digest(b"x")),
        Err(KeystoreError::NotFound(name("bob")))
    );
    assert_eq!(
        store.public_key(&name("bob")),
        Err(KeystoreError::NotFound(name("bob")))
    );
    assert_eq!(
        store.destroy(&name("bob")),
        Err(KeystoreError::NotFound(name("bob")))
    );
    // Racing generations of one label make one key.
    let results: Vec<_> = (0..6)
        .map(|_| {
            let store = Arc::clone(&store);
            let contested = name("contested");
            std::thread::spawn(move || store.generate(&contested))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    let made: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(made.len(), 1, "{results:?}");
    assert_eq!(store.public_key(&name("contested")).unwrap(), *made[0]);
    // Signing from several threads at once.
    let signers: Vec<_> = (0..4_u8)
        .map(|n| {
            let store = Arc::clone(&store);
            let key = name("alice");
            std::thread::spawn(move || {
                let data = digest(&[n; 8]);
                (data, store.sign_digest(&key, &data).unwrap())
            })
        })
        .collect();
    for signer in signers {
        let (data, signature) = signer.join().unwrap();
        assert!(alice.verify_prehash(&data, &signature).is_ok());
    }
    agreement_contract(&store, prefix);
}

/// A fresh ephemeral key, as a sender's.
fn ephemeral() -> p256::SecretKey {
    use rand::RngCore;
    loop {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// Agreement keys: ECDH as the sender computes it, and one use per key.
fn agreement_contract(store: &Arc<dyn Keystore>, prefix: &str) {
    let name = |suffix: &str| label(&format!("{prefix}-{suffix}"));
    let escrow = store.generate_agreement(&name("escrow")).unwrap();
    assert_eq!(
        p256::PublicKey::from(&store.public_key(&name("escrow")).unwrap()),
        escrow
    );
    // The keystore's secret is the sender's: ECDH of its ephemeral key and the public key.
    for _ in 0..4 {
        let sender = ephemeral();
        let expected = p256::ecdh::diffie_hellman(sender.to_nonzero_scalar(), escrow.as_affine());
        let agreed = store.agree(&name("escrow"), &sender.public_key()).unwrap();
        assert_eq!(agreed.as_slice(), expected.raw_secret_bytes().as_slice());
    }
    // Another agreement key agrees on another secret.
    let other = store.generate_agreement(&name("escrow-other")).unwrap();
    assert_ne!(other, escrow);
    let sender = ephemeral();
    assert_ne!(
        store.agree(&name("escrow"), &sender.public_key()).unwrap(),
        store
            .agree(&name("escrow-other"), &sender.public_key())
            .unwrap()
    );
    // One use per key: an agreement key does not sign, a signing key does not agree.
    assert_eq!(
        store.sign_digest(&name("escrow"), &digest(b"x")),
        Err(KeystoreError::WrongUse(name("escrow")))
    );
    assert_eq!(
        store.agree(&name("alice"), &sender.public_key()),
        Err(KeystoreError::WrongUse(name("alice")))
    );
    // Labels are shared by both uses: never reused, and unknown ones are not found.
    assert_eq!(
        store.generate_agreement(&name("alice")),
        Err(KeystoreError::Exists(name("alice")))
    );
    assert_eq!(
        store.generate(&name("escrow")),
        Err(KeystoreError::Exists(name("escrow")))
    );
    assert_eq!(
        store.agree(&name("nobody"), &sender.public_key()),
        Err(KeystoreError::NotFound(name("nobody")))
    );
    store.destroy(&name("escrow-other")).unwrap();
    assert_eq!(
        store.agree(&name("escrow-other"), &sender.public_key()),
        Err(KeystoreError::NotFound(name("escrow-other")))
    );
}

#[test]
fn the_file_keystore_keeps_the_contract() {
    let directory = tempfile::tempdir().unwrap();
    let store = FileKeystore::open(&directory.path().join("keys"), &[3; 32]).unwrap();
    assert_eq!(store.kind(), "file");
    contract(Arc::new(store), "file");
}

#[test]
fn the_pkcs11_keystore_keeps_the_contract_on_softhsm2() {
    softhsm::run_inner("inner_pkcs11_contract");
}

/// Run by [`the_pkcs11_keystore_keeps_the_contract_on_softhsm2`] in a child process.
#[test]
#[ignore = "run by the_pkcs11_keystore_keeps_the_contract_on_softhsm2, in a child process"]
fn inner_pkcs11_contract() {
    softhsm::assert_inner();
    let module = Path::new(SOFTHSM2_MODULE);
    // A wrong PIN or token is refused at opening.
    assert!(matches!(
        Pkcs11Keystore::open(module, TOKEN, Zeroizing::new("wrong".into())),
        Err(KeystoreError::Unavailable(_))
    ));
    assert!(matches!(
        Pkcs11Keystore::open(module, "no-such-token", Zeroizing::new(USER_PIN.into())),
        Err(KeystoreError::Unavailable(_))
    ));
    let store = Pkcs11Keystore::open(module, TOKEN, Zeroizing::new(USER_PIN.into())).unwrap();
    assert_eq!(store.kind(), "pkcs11");
    let store: Arc<dyn Keystore> = Arc::new(store);
    contract(Arc::clone(&store), "hsm");
    // The private key cannot leave the token: sensitive, never extractable, and its
    // value cannot be read.
    store.generate(&label("hsm-sealed")).unwrap();
    store.generate_agreement(&label("hsm-agreement")).unwrap();
    // The white room on the token: openssl verifies what it signs.
    white_room_verified_by_openssl(Arc::clone(&store));
    // Last: the raw session's context finalizes the module for the whole process when
    // it is dropped.
    let [signing, agreement] = raw_private_key_attributes(["hsm-sealed", "hsm-agreement"]);
    assert!(signing.sensitive && !signing.extractable && !signing.value_readable);
    assert!(signing.sign && !signing.derive, "{signing:?}");
    // An agreement key is as sealed, and the token itself keeps it to ECDH.
    assert!(agreement.sensitive && !agreement.extractable && !agreement.value_readable);
    assert!(!agreement.sign && agreement.derive, "{agreement:?}");
}

/// Runs `openssl args` in `directory`: whether it succeeded, and what it printed.
fn openssl(directory: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(directory)
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The whole white room on `store`, checked by openssl: the authority's chain, a
/// client's certificate with the phone sealed to the escrow key (opened through the
/// keystore), a CMS signature with its signature time-stamp, a time-stamp answered to
/// `openssl ts -query`, and the CRL; a changed byte of data is refused each time.
fn white_room_verified_by_openssl(store: Arc<dyn Keystore>) {
    use sceau_pki::ca::{ClientProfile, ID_ESCROWED_PHONE, Revocation, RevocationReason};
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let pki = sceau_pki::Pki::open_or_create(
        Arc::clone(&store),
        &dir.join("pki"),
        "sceau",
        "1.2.3.4.1".parse().unwrap(),
        now_s - 60,
    )
    .unwrap();
    let key = label("white-room-client");
    store.generate(&key).unwrap();
    let envelope = pki.seal_for_escrow(b"+33612345678").unwrap();
    let client = pki
        .authority
        .issue_for_client(
            &key,
            "Client on a token",
            ClientProfile::Holder {
                escrowed_phone: &envelope,
            },
            now_s - 60,
            3_600,
        )
        .unwrap();
    let sealed = sceau_pki::ca::extension_value(&client, ID_ESCROWED_PHONE).unwrap();
    assert_eq!(&pki.open_escrowed(sealed).unwrap()[..], b"+33612345678");
    for (name, issued) in [
        ("root.pem", pki.authority.root()),
        ("issuing.pem", pki.authority.issuing()),
        ("client.pem", &client),
    ] {
        std::fs::write(dir.join(name), issued.to_pem().unwrap()).unwrap();
    }
    let (verified, text) = openssl(
        dir,
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

    // A signature in the client's name, stamped.
    let data = b"Signed on whatever keystore holds the key.";
    let signature = sceau_pki::sign_detached(
        Arc::clone(&store),
        &sceau_pki::DetachedSignature {
            key: &key,
            certificate: &client,
            chain: &[pki.authority.issuing()],
            content_digest: digest(data),
            signing_time_s: now_s,
            time_stamp: Some(&pki.tsa),
        },
    )
    .unwrap();
    std::fs::write(dir.join("data"), data).unwrap();
    std::fs::write(
        dir.join("changed"),
        b"Signed on whatever keystore holds the keY.",
    )
    .unwrap();
    std::fs::write(dir.join("sig.p7s"), &signature).unwrap();
    let cms_verify = |content: &str| {
        openssl(
            dir,
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "sig.p7s",
                "-content",
                content,
                "-CAfile",
                "root.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        )
    };
    let (verified, text) = cms_verify("data");
    assert!(
        verified && text.contains("Verification successful"),
        "{text}"
    );
    assert!(!cms_verify("changed").0);
    let report =
        sceau_pki::verify_signature(&signature, data, &pki.authority.root().der, None).unwrap();
    assert_eq!(report.time_stamp.map(|stamp| stamp.time_s), Some(now_s));

    // A time-stamp for openssl's own request.
    let (made, text) = openssl(
        dir,
        &[
            "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "q.tsq",
        ],
    );
    assert!(made, "{text}");
    let request = std::fs::read(dir.join("q.tsq")).unwrap();
    let answer = pki.tsa.answer(&request, now_s);
    assert!(matches!(answer, sceau_pki::Answer::Granted { .. }));
    std::fs::write(dir.join("r.tsr"), answer.response()).unwrap();
    let ts_verify = |data: &str| {
        openssl(
            dir,
            &[
                "ts", "-verify", "-data", data, "-in", "r.tsr", "-CAfile", "root.pem",
            ],
        )
    };
    let (verified, text) = ts_verify("data");
    assert!(verified && text.contains("Verification: OK"), "{text}");
    assert!(!ts_verify("changed").0);

    // The CRL, with the client's certificate on it.
    let crl = pki
        .authority
        .crl(
            &[Revocation {
                serial: client
                    .certificate
                    .tbs_certificate
                    .serial_number
                    .as_bytes()
                    .to_vec(),
                at_s: now_s - 1,
                reason: RevocationReason::KeyCompromise,
            }],
            now_s,
            now_s + 3_600,
            1,
        )
        .unwrap();
    std::fs::write(dir.join("issuing.crl"), &crl).unwrap();
    let (verified, text) = openssl(
        dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-CAfile",
            "issuing.pem",
            "-noout",
        ],
    );
    assert!(verified && text.contains("verify OK"), "{text}");
}

#[test]
fn the_white_room_works_on_file_keys_too() {
    let directory = tempfile::tempdir().unwrap();
    let store = FileKeystore::open(&directory.path().join("keys"), &[4; 32]).unwrap();
    white_room_verified_by_openssl(Arc::new(store));
}

/// What any program with the PIN can learn of a private key.
#[derive(Debug)]
struct RawAttributes {
    sensitive: bool,
    extractable: bool,
    value_readable: bool,
    sign: bool,
    derive: bool,
}

/// Reads the private keys' attributes through a session of its own, as any program with
/// the PIN could (one session for all: dropping its context finalizes the module).
fn raw_private_key_attributes<const N: usize>(names: [&str; N]) -> [RawAttributes; N] {
    use cryptoki::context::{CInitializeArgs, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let context = Pkcs11::new(SOFTHSM2_MODULE).unwrap();
    let _ = context.initialize(CInitializeArgs::OsThreads);
    let slot = context
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|slot| context.get_token_info(*slot).unwrap().label() == TOKEN)
        .unwrap();
    let session = context.open_ro_session(slot).unwrap();
    let _ = session.login(UserType::User, Some(&AuthPin::from(USER_PIN.to_owned())));
    names.map(|name| {
        let handle = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(name.as_bytes().to_vec()),
            ])
            .unwrap()[0];
        let flags = session
            .get_attributes(
                handle,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Sign,
                    AttributeType::Derive,
                ],
            )
            .unwrap();
        let value = session.get_attributes(handle, &[AttributeType::Value]);
        RawAttributes {
            sensitive: flags.contains(&Attribute::Sensitive(true)),
            extractable: flags.contains(&Attribute::Extractable(true)),
            value_readable: matches!(&value, Ok(attributes) if attributes.iter().any(|a| matches!(a, Attribute::Value(_)))),
            sign: flags.contains(&Attribute::Sign(true)),
            derive: flags.contains(&Attribute::Derive(true)),
        }
    })
}
