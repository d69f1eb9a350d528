//! The keystore contract, run against both keystores: the encrypted key directory, and a
//! PKCS#11 token (SoftHSM2, created for the test in a temporary directory).
//!
//! SoftHSM2 reads its configuration file from `SOFTHSM2_CONF` when the module is
//! initialized, once per process; this test binary does not change its own environment, so
//! the SoftHSM2 part runs in a child process of this same binary (`inner_` tests, ignored
//! unless asked for) with the variable set, and the outer test checks that it ran and
//! passed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sceau_pki::{FileKeystore, KeyLabel, Keystore, KeystoreError, Pkcs11Keystore};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use zeroize::Zeroizing;

const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "sceau-test";
const USER_PIN: &str = "4321-user";
const SO_PIN: &str = "8765-so";

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
}

#[test]
fn the_file_keystore_keeps_the_contract() {
    let directory = tempfile::tempdir().unwrap();
    let store = FileKeystore::open(&directory.path().join("keys"), &[3; 32]).unwrap();
    assert_eq!(store.kind(), "file");
    contract(Arc::new(store), "file");
}

/// A SoftHSM2 configuration and an initialized token in `directory`.
fn softhsm_token(directory: &Path) -> PathBuf {
    let tokens = directory.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = directory.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .unwrap();
    let output = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            USER_PIN,
            "--so-pin",
            SO_PIN,
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("run softhsm2-util");
    assert!(
        output.status.success(),
        "softhsm2-util --init-token: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    conf
}

#[test]
fn the_pkcs11_keystore_keeps_the_contract_on_softhsm2() {
    if !Path::new(SOFTHSM2_MODULE).exists() {
        assert!(
            std::env::var("CI").is_err(),
            "SoftHSM2 is not installed ({SOFTHSM2_MODULE}): CI must install softhsm2"
        );
        eprintln!("note: SoftHSM2 is not installed: the PKCS#11 keystore was not tested");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let conf = softhsm_token(directory.path());
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "inner_pkcs11_contract",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env("SCEAU_TEST_SOFTHSM2", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the SoftHSM2 run failed:\n{stdout}\n{stderr}"
    );
}

/// Run by [`the_pkcs11_keystore_keeps_the_contract_on_softhsm2`] in a child process.
#[test]
#[ignore = "run by the_pkcs11_keystore_keeps_the_contract_on_softhsm2, in a child process"]
fn inner_pkcs11_contract() {
    assert!(
        std::env::var("SCEAU_TEST_SOFTHSM2").is_ok() && std::env::var("SOFTHSM2_CONF").is_ok(),
        "run through the_pkcs11_keystore_keeps_the_contract_on_softhsm2"
    );
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
    // The authority's keys on the token: openssl verifies what it signs.
    authority_verified_by_openssl(Arc::clone(&store));
    // Last: the raw session's context finalizes the module for the whole process when
    // it is dropped.
    let (sensitive, extractable, value_readable) = raw_private_key_attributes("hsm-sealed");
    assert!(sensitive && !extractable && !value_readable);
}

/// The authority in `store`, a client certificate, and `openssl verify` on the chain.
fn authority_verified_by_openssl(store: Arc<dyn Keystore>) {
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let authority = sceau_pki::Authority::create(Arc::clone(&store), "sceau", now_s - 60).unwrap();
    let key = label("hsm-client");
    store.generate(&key).unwrap();
    let client = authority
        .issue_client(&key, "Client on a token", now_s - 60, 3_600)
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    for (name, issued) in [
        ("root.pem", authority.root()),
        ("issuing.pem", authority.issuing()),
        ("client.pem", &client),
    ] {
        std::fs::write(directory.path().join(name), issued.to_pem().unwrap()).unwrap();
    }
    let output = Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "client.pem",
        ])
        .current_dir(directory.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains("client.pem: OK"),
        "{text}"
    );
}

#[test]
fn the_authority_signs_with_file_keys_too() {
    let directory = tempfile::tempdir().unwrap();
    let store = FileKeystore::open(&directory.path().join("keys"), &[4; 32]).unwrap();
    authority_verified_by_openssl(Arc::new(store));
}

/// Reads the private key's attributes through a session of its own, as any program with
/// the PIN could.
fn raw_private_key_attributes(name: &str) -> (bool, bool, bool) {
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
    let handle = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(name.as_bytes().to_vec()),
        ])
        .unwrap()[0];
    let flags = session
        .get_attributes(
            handle,
            &[AttributeType::Sensitive, AttributeType::Extractable],
        )
        .unwrap();
    let flag = |wanted: AttributeType| {
        flags.iter().any(|attribute| match attribute {
            Attribute::Sensitive(true) => wanted == AttributeType::Sensitive,
            Attribute::Extractable(true) => wanted == AttributeType::Extractable,
            _ => false,
        })
    };
    let value = session.get_attributes(handle, &[AttributeType::Value]);
    let value_readable = matches!(&value, Ok(attributes) if attributes.iter().any(|a| matches!(a, Attribute::Value(_))));
    (
        flag(AttributeType::Sensitive),
        flag(AttributeType::Extractable),
        value_readable,
    )
}
