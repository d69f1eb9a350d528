#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The recipient's programs of certified delivery, tested under node: the DER reader and
//! CMS SignedData parser (`static/cms.js`, `tests/js/cms.test.mjs`) and the files page's
//! program (`static/delivery.js`, `tests/js/delivery.test.mjs`), both on signatures
//! `openssl cms` makes at test time; and both on a signature sceau itself writes
//! (`tests/js/sceau-signature.check.mjs`). Without node these tests note it and pass,
//! except under `CI=true`, where they fail.

#[path = "common/node.rs"]
mod node;

use node::{run_in_node, run_in_node_with};
use sceau_pki::{DetachedSignature, FileKeystore, KeyLabel, Keystore, Pki, sign_detached};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Runs the node test script of the CMS parser: `openssl cms -sign` signatures (the
/// signer named by issuer and serial number, or by key identifier, beside a CA
/// certificate) read back, the message digest equal to node's SHA-256 of the file, the
/// signed attributes re-tagged byte for byte (node verifies the signature over them), and
/// every malformed input refused with a code: each truncation, random bytes and byte
/// flips, indefinite and non-minimal lengths, trailing bytes, attached content, two
/// signers, the message digest missing or twice, other curves and digests.
#[test]
fn cms_js_in_node() {
    run_in_node("tests/js/cms.test.mjs");
}

/// Runs the node test script of the files page: each file's check (the file changed by a
/// byte, another signer, another sender certificate, the signed attributes tampered, a
/// signature that cannot be read), the answer's statement byte for byte, the withdrawal
/// and the answer against a fake of the JSON API (the key not extractable, the
/// certificate checked to be the key's, the signature sent verifying over the statement
/// sent), the server's refusals with their code, and the page's wiring on a small fake
/// document.
#[test]
fn delivery_js_in_node() {
    run_in_node("tests/js/delivery.test.mjs");
}

/// A detached signature as sceau writes a sender's (`sign_detached`: CAdES, signed by a
/// client certificate of sceau's CA, the issuing CA's certificate beside it, a time-stamp
/// token from sceau's TSA in the unsigned attributes) passes the recipient's check:
/// read, its digest the file's, its signature verified with WebCrypto under the sender's
/// certificate; and fails it for a changed byte or another certificate.
#[test]
fn a_signature_sceau_writes_passes_the_browser_check() {
    let directory = tempfile::tempdir().unwrap();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[9; 32]).unwrap());
    let pki = Pki::open_or_create(
        Arc::clone(&keystore),
        &directory.path().join("pki"),
        "sceau",
        "1.2.3.4.1".parse().unwrap(),
        now_s - 60,
    )
    .unwrap();
    let key = KeyLabel::new("sender").unwrap();
    keystore.generate(&key).unwrap();
    let certificate = pki
        .authority
        .issue_client(&key, "Étude Martin", now_s - 60, 3_600)
        .unwrap();
    let content = b"Contrat de bail, 12 rue du Port.".repeat(1000);
    let signature = sign_detached(
        Arc::clone(&keystore),
        &DetachedSignature {
            key: &key,
            certificate: &certificate,
            chain: &[pki.authority.issuing()],
            content_digest: Sha256::digest(&content).into(),
            signing_time_s: now_s,
            time_stamp: Some(&pki.tsa),
        },
    )
    .unwrap();
    for (name, bytes) in [
        ("file.bin", content.as_slice()),
        ("file.p7s", &signature),
        ("sender.der", &certificate.der),
        ("issuing.der", &pki.authority.issuing().der),
    ] {
        std::fs::write(directory.path().join(name), bytes).unwrap();
    }
    run_in_node_with(
        "tests/js/sceau-signature.check.mjs",
        &[directory.path().as_os_str()],
    );
}
