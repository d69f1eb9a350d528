//! Detached CMS signatures in a user's name, checked by `openssl cms -verify`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{now_s, openssl};
use sceau_pki::{
    Authority, DetachedSignature, FileKeystore, KeyLabel, Keystore, PkiError, sign_detached,
};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// `openssl cms -verify` of `signature` over `data` in `directory`: (success, output).
fn cms_verify(directory: &Path, signature: &str, data: &str) -> (bool, String) {
    openssl(
        directory,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            signature,
            "-content",
            data,
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    )
}

/// A white room in a temporary directory: an encrypted key directory under `master`,
/// the authority and the TSA.
fn white_room(master: u8) -> (tempfile::TempDir, Arc<dyn Keystore>, sceau_pki::Pki) {
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[master; 32]).unwrap());
    let pki = sceau_pki::Pki::open_or_create(
        Arc::clone(&keystore),
        &directory.path().join("pki"),
        "sceau",
        "1.2.3.4.1".parse().unwrap(),
        now_s() - 60,
    )
    .unwrap();
    (directory, keystore, pki)
}

/// A new key `label` and a client certificate for `name`, valid for the next hour.
fn client(
    keystore: &Arc<dyn Keystore>,
    pki: &sceau_pki::Pki,
    label: &str,
    name: &str,
) -> (KeyLabel, sceau_pki::Issued) {
    let key = KeyLabel::new(label).unwrap();
    keystore.generate(&key).unwrap();
    let certificate = pki
        .authority
        .issue_client(&key, name, now_s() - 60, 3_600)
        .unwrap();
    (key, certificate)
}

#[test]
fn openssl_verifies_a_detached_signature_and_detects_any_change() {
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[6; 32]).unwrap());
    let authority = Authority::create(Arc::clone(&keystore), "sceau", now_s() - 60).unwrap();
    let key = KeyLabel::new("client-9").unwrap();
    keystore.generate(&key).unwrap();
    let certificate = authority
        .issue_client(&key, "Alice Martin", now_s() - 60, 3_600)
        .unwrap();
    let data = b"I, Alice Martin, agree to pay 34.80 EUR to Librairie du Port.".to_vec();
    let signing_time_s = now_s();
    let signature = sign_detached(
        Arc::clone(&keystore),
        &DetachedSignature {
            key: &key,
            certificate: &certificate,
            chain: &[authority.issuing()],
            content_digest: Sha256::digest(&data).into(),
            signing_time_s,
            time_stamp: None,
        },
    )
    .unwrap();
    let path = |name: &str| directory.path().join(name);
    std::fs::write(path("root.pem"), authority.root().to_pem().unwrap()).unwrap();
    std::fs::write(path("data"), &data).unwrap();
    std::fs::write(path("sig.p7s"), &signature).unwrap();

    let (verified, text) = cms_verify(directory.path(), "sig.p7s", "data");
    assert!(
        verified && text.contains("Verification successful"),
        "{text}"
    );

    // What openssl reads in it: the signer and the signing time.
    let output = Command::new("openssl")
        .args([
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.p7s",
        ])
        .current_dir(directory.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "signingTime",
        "signingCertificateV2",
        "messageDigest",
        "ecdsa-with-SHA256",
        "Alice Martin",
    ] {
        assert!(
            printed.contains(expected),
            "{expected:?} missing:\n{printed}"
        );
    }

    // Another byte of data: refused.
    let mut changed = data.clone();
    changed[7] ^= 0x20;
    std::fs::write(path("changed"), &changed).unwrap();
    let (verified, text) = cms_verify(directory.path(), "sig.p7s", "changed");
    assert!(!verified, "{text}");

    // Any byte of the signature value (the last bytes of the structure), or of the signed
    // attributes (the signing time): refused. (Some bytes of a SignedData are not
    // signed, by design: the list of digest algorithms, the certificates' order.)
    for back in 1..=64 {
        let mut altered = signature.clone();
        let index = altered.len() - back;
        altered[index] ^= 0x01;
        std::fs::write(path("altered.p7s"), &altered).unwrap();
        let (verified, text) = cms_verify(directory.path(), "altered.p7s", "data");
        assert!(
            !verified,
            "byte -{back} of the signature changed, still verified: {text}"
        );
    }
    let time = chrono_utc(signing_time_s);
    let at = signature
        .windows(time.len())
        .position(|window| window == time.as_bytes())
        .expect("the signing time in the signature");
    let mut backdated = signature.clone();
    backdated[at + 1] = if backdated[at + 1] == b'0' {
        b'1'
    } else {
        b'0'
    };
    std::fs::write(path("backdated.p7s"), &backdated).unwrap();
    let (verified, text) = cms_verify(directory.path(), "backdated.p7s", "data");
    assert!(!verified, "a changed signing time still verified: {text}");
}

/// `YYMMDDhhmmssZ`, as UTCTime writes `unix_s`.
fn chrono_utc(unix_s: i64) -> String {
    chrono::DateTime::from_timestamp(unix_s, 0)
        .unwrap()
        .format("%y%m%d%H%M%SZ")
        .to_string()
}

#[test]
fn only_the_certificates_own_key_signs_under_it() {
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[6; 32]).unwrap());
    let authority = Authority::create(Arc::clone(&keystore), "sceau", now_s()).unwrap();
    let (alice, mallory) = (
        KeyLabel::new("alice").unwrap(),
        KeyLabel::new("mallory").unwrap(),
    );
    keystore.generate(&alice).unwrap();
    keystore.generate(&mallory).unwrap();
    let alices = authority
        .issue_client(&alice, "Alice", now_s(), 3_600)
        .unwrap();
    let refused = sign_detached(
        keystore,
        &DetachedSignature {
            key: &mallory,
            certificate: &alices,
            chain: &[],
            content_digest: [0; 32],
            signing_time_s: now_s(),
            time_stamp: None,
        },
    );
    assert!(matches!(refused, Err(PkiError::Certificate(_))));
}

#[test]
fn a_signature_carries_a_time_stamp_on_its_value_that_openssl_verifies() {
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use der::{Decode, Encode};
    let (directory, keystore, pki) = white_room(7);
    let (key, certificate) = client(&keystore, &pki, "client-7", "Bruno Petit");
    let data = b"Contract 2026-114, signed.".to_vec();
    let signature = sign_detached(
        Arc::clone(&keystore),
        &DetachedSignature {
            key: &key,
            certificate: &certificate,
            chain: &[pki.authority.issuing()],
            content_digest: Sha256::digest(&data).into(),
            signing_time_s: now_s(),
            time_stamp: Some(&pki.tsa),
        },
    )
    .unwrap();
    let path = |name: &str| directory.path().join(name);
    std::fs::write(path("root.pem"), pki.authority.root().to_pem().unwrap()).unwrap();
    std::fs::write(path("data"), &data).unwrap();
    std::fs::write(path("sig.p7s"), &signature).unwrap();
    // The signature itself still verifies (the token is an unsigned attribute).
    let (verified, text) = cms_verify(directory.path(), "sig.p7s", "data");
    assert!(verified, "{text}");

    // The token, taken out of the SignerInfo, is a time-stamp on SHA-256 of the
    // signature value that `openssl ts -verify` accepts against the root.
    let info = ContentInfo::from_der(&signature).unwrap();
    let signed: SignedData = info.content.decode_as().unwrap();
    // Written as DER (sceau assembles it by hand): the decoder, which refuses a SET OF
    // out of order, reads it, and writing back what it read gives the same bytes.
    assert_eq!(signed.to_der().unwrap(), info.content.to_der().unwrap());
    assert_eq!(signed.version, cms::content_info::CmsVersion::V1);
    let certificates: Vec<Vec<u8>> = signed
        .certificates
        .as_ref()
        .expect("certificates")
        .0
        .iter()
        .map(|choice| choice.to_der().unwrap())
        .collect();
    let mut expected = vec![certificate.der.clone(), pki.authority.issuing().der.clone()];
    expected.sort();
    assert_eq!(certificates, expected);
    let signer = signed.signer_infos.0.get(0).unwrap();
    let attribute = signer
        .unsigned_attrs
        .as_ref()
        .expect("unsigned attributes")
        .iter()
        .find(|attribute| attribute.oid == sceau_pki::signing::ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
        .expect("a signature time-stamp");
    let token = attribute.values.get(0).unwrap().to_der().unwrap();
    std::fs::write(path("token.der"), &token).unwrap();
    let digest: String = Sha256::digest(signer.signature.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let verify = |digest: &str| {
        openssl(
            directory.path(),
            &[
                "ts",
                "-verify",
                "-token_in",
                "-in",
                "token.der",
                "-digest",
                digest,
                "-CAfile",
                "root.pem",
            ],
        )
    };
    let (verified, text) = verify(&digest);
    assert!(verified && text.contains("Verification: OK"), "{text}");
    // The token is bound to this signature value and no other.
    let other: String = Sha256::digest(b"another signature")
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let (verified, text) = verify(&other);
    assert!(!verified, "{text}");
}

/// The PAdES profile (a PDF's signature), with and without a signature time-stamp:
/// strict DER (the cms crate reads it and writes back the same bytes, the signed
/// attributes in DER order, the certificates too), no signing time (the PDF's `/M`
/// holds it), the signing certificate bound.
#[test]
fn a_pades_signature_is_strict_der_without_a_signing_time() {
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use der::{Decode, Encode};
    let (_directory, keystore, pki) = white_room(8);
    let (key, certificate) = client(&keystore, &pki, "client-8", "Chloé Durand");
    for time_stamp in [None, Some(&pki.tsa)] {
        let signature = sceau_pki::sign_detached_as(
            Arc::clone(&keystore),
            &DetachedSignature {
                key: &key,
                certificate: &certificate,
                chain: &[pki.authority.issuing()],
                content_digest: Sha256::digest(b"%PDF-1.7 byte ranges").into(),
                signing_time_s: now_s(),
                time_stamp,
            },
            sceau_pki::Profile::Pades,
        )
        .unwrap();
        let info = ContentInfo::from_der(&signature).unwrap();
        let signed: SignedData = info.content.decode_as().unwrap();
        assert_eq!(signed.to_der().unwrap(), info.content.to_der().unwrap());
        let signer = signed.signer_infos.0.get(0).unwrap();
        let signed_attributes: Vec<String> = signer
            .signed_attrs
            .as_ref()
            .unwrap()
            .iter()
            .map(|attribute| attribute.oid.to_string())
            .collect();
        // content type, message digest, signing-certificate-v2: in DER order.
        assert_eq!(
            signed_attributes,
            [
                "1.2.840.113549.1.9.3",
                "1.2.840.113549.1.9.4",
                "1.2.840.113549.1.9.16.2.47"
            ]
        );
        assert_eq!(signer.unsigned_attrs.is_some(), time_stamp.is_some());
        // The signature is over the signed attributes as a SET OF.
        let set = signer.signed_attrs.as_ref().unwrap().to_der().unwrap();
        let verifying = keystore.public_key(&key).unwrap();
        let value = p256::ecdsa::Signature::from_der(signer.signature.as_bytes()).unwrap();
        use p256::ecdsa::signature::Verifier;
        verifying.verify(&set, &value).unwrap();
    }
}

/// Signatures made together (the receipts of payments made at once): each by its own
/// key, each with a time-stamp on its own value, the tokens signed with one use of the
/// TSA's key; a request whose key is not its certificate's fails alone, and one without
/// a time-stamp authority gets none.
#[test]
fn signatures_made_together_each_verify_with_their_own_time_stamp() {
    let (directory, keystore, pki) = white_room(9);
    let names = ["Alice Martin", "Bruno Petit", "Chloé Durand"];
    let signers: Vec<(KeyLabel, sceau_pki::Issued)> = names
        .iter()
        .enumerate()
        .map(|(index, name)| client(&keystore, &pki, &format!("client-{index}"), name))
        .collect();
    let data: Vec<Vec<u8>> = names
        .iter()
        .map(|name| format!("{name} paid 12.00 EUR").into_bytes())
        .collect();
    let chain = [pki.authority.issuing()];
    let signing_time_s = now_s();
    let request = |index: usize, key: usize, stamped: bool| DetachedSignature {
        key: &signers[key].0,
        certificate: &signers[index].1,
        chain: &chain,
        content_digest: Sha256::digest(&data[index]).into(),
        signing_time_s,
        time_stamp: stamped.then_some(&pki.tsa),
    };
    let requests = [
        request(0, 0, true),
        // Bruno's certificate, Alice's key: refused.
        request(1, 0, true),
        request(2, 2, true),
        request(1, 1, false),
    ];
    let signed = sceau_pki::sign_detached_many(Arc::clone(&keystore), &requests);
    assert_eq!(signed.len(), 4);
    assert!(matches!(&signed[1], Err(PkiError::Certificate(_))));
    let root = pki.authority.root().der.clone();
    for (index, signer, stamped) in [(0, 0, true), (2, 2, true), (3, 1, false)] {
        let signature = signed[index].as_ref().unwrap();
        let verified = sceau_pki::verify_signature(signature, &data[signer], &root, None).unwrap();
        assert_eq!(verified.signer, format!("CN={}", names[signer]));
        assert_eq!(verified.signing_time_s, Some(signing_time_s));
        // The verifier checks that a token covers its signature's value: tokens given
        // to the wrong signatures would be refused here.
        assert_eq!(verified.time_stamp.is_some(), stamped, "signature {index}");
        // Each signature is over its own data.
        assert!(
            sceau_pki::verify_signature(signature, &data[(signer + 1) % 3], &root, None).is_err()
        );
    }
    // openssl agrees, signature and token.
    let path = |name: &str| directory.path().join(name);
    std::fs::write(path("root.pem"), pki.authority.root().to_pem().unwrap()).unwrap();
    std::fs::write(path("data"), &data[2]).unwrap();
    std::fs::write(path("sig.p7s"), signed[2].as_ref().unwrap()).unwrap();
    let (verified, text) = cms_verify(directory.path(), "sig.p7s", "data");
    assert!(verified, "{text}");
}

/// A keystore that counts the uses of each key for signing and, once told, refuses to
/// sign with any key but the clients' (`client-…`): the time-stamp authority's key away.
struct Watched {
    inner: Arc<dyn Keystore>,
    uses: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    tsa_away: std::sync::atomic::AtomicBool,
}

impl Watched {
    fn used(&self, label: &KeyLabel) -> Result<(), sceau_pki::KeystoreError> {
        *self
            .uses
            .lock()
            .unwrap()
            .entry(label.as_str().to_owned())
            .or_default() += 1;
        let away = self.tsa_away.load(std::sync::atomic::Ordering::SeqCst);
        if away && !label.as_str().starts_with("client-") {
            return Err(sceau_pki::KeystoreError::Unavailable("away".into()));
        }
        Ok(())
    }

    fn uses_of_others(&self) -> usize {
        let uses = self.uses.lock().unwrap();
        uses.iter()
            .filter(|(label, _)| !label.starts_with("client-"))
            .map(|(_, count)| count)
            .sum()
    }
}

impl Keystore for Watched {
    fn generate(
        &self,
        label: &KeyLabel,
    ) -> Result<sceau_pki::VerifyingKey, sceau_pki::KeystoreError> {
        self.inner.generate(label)
    }
    fn generate_agreement(
        &self,
        label: &KeyLabel,
    ) -> Result<p256::PublicKey, sceau_pki::KeystoreError> {
        self.inner.generate_agreement(label)
    }
    fn public_key(
        &self,
        label: &KeyLabel,
    ) -> Result<sceau_pki::VerifyingKey, sceau_pki::KeystoreError> {
        self.inner.public_key(label)
    }
    fn sign_digest(
        &self,
        label: &KeyLabel,
        digest: &[u8; 32],
    ) -> Result<sceau_pki::Signature, sceau_pki::KeystoreError> {
        self.used(label)?;
        self.inner.sign_digest(label, digest)
    }
    fn sign_digests(
        &self,
        label: &KeyLabel,
        digests: &[[u8; 32]],
    ) -> Result<Vec<sceau_pki::Signature>, sceau_pki::KeystoreError> {
        self.used(label)?;
        self.inner.sign_digests(label, digests)
    }
    fn agree(
        &self,
        label: &KeyLabel,
        peer: &p256::PublicKey,
    ) -> Result<zeroize::Zeroizing<[u8; 32]>, sceau_pki::KeystoreError> {
        self.inner.agree(label, peer)
    }
    fn destroy(&self, label: &KeyLabel) -> Result<(), sceau_pki::KeystoreError> {
        self.inner.destroy(label)
    }
    fn kind(&self) -> &'static str {
        "watched"
    }
}

/// Signatures made together open the time-stamp authority's key once for them all; when
/// it cannot sign, every signature that asked for a time-stamp fails (none comes back
/// without it), and one that asked for none is made.
#[test]
fn signatures_made_together_use_the_tsa_key_once_and_fail_together_without_it() {
    let directory = tempfile::tempdir().unwrap();
    let watched = Arc::new(Watched {
        inner: Arc::new(FileKeystore::open(&directory.path().join("keys"), &[10; 32]).unwrap()),
        uses: std::sync::Mutex::new(std::collections::HashMap::new()),
        tsa_away: std::sync::atomic::AtomicBool::new(false),
    });
    let keystore: Arc<dyn Keystore> = watched.clone();
    let pki = sceau_pki::Pki::open_or_create(
        Arc::clone(&keystore),
        &directory.path().join("pki"),
        "sceau",
        "1.2.3.4.1".parse().unwrap(),
        now_s() - 60,
    )
    .unwrap();
    let signers: Vec<(KeyLabel, sceau_pki::Issued)> = (0..3)
        .map(|index| client(&keystore, &pki, &format!("client-{index}"), "Denis Roy"))
        .collect();
    let chain = [pki.authority.issuing()];
    let requests: Vec<DetachedSignature<'_>> = signers
        .iter()
        .enumerate()
        .map(|(index, (key, certificate))| DetachedSignature {
            key,
            certificate,
            chain: &chain,
            content_digest: [index as u8; 32],
            signing_time_s: now_s(),
            // The last asks for no time-stamp.
            time_stamp: (index < 2).then_some(&pki.tsa),
        })
        .collect();
    let before = watched.uses_of_others();
    let signed = sceau_pki::sign_detached_many(Arc::clone(&keystore), &requests);
    assert!(signed.iter().all(Result::is_ok));
    assert_eq!(
        watched.uses_of_others() - before,
        1,
        "one use of the TSA's key"
    );

    watched
        .tsa_away
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let signed = sceau_pki::sign_detached_many(Arc::clone(&keystore), &requests);
    assert!(signed[0].is_err() && signed[1].is_err(), "{signed:?}");
    let alone = signed[2].as_ref().unwrap();
    let verified =
        sceau_pki::verify_signature_of_digest(alone, &[2; 32], &pki.authority.root().der, None)
            .unwrap();
    assert!(verified.time_stamp.is_none());
}
