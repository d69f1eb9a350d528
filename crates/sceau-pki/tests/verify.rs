//! The offline verifier against real signatures and time-stamps: made by sceau, and made
//! by the real `openssl` (its own keys, certificates and TSA), then tampered with.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfos};
use common::openssl;
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};
use sceau_pki::verify::ID_AA_SIGNATURE_TIME_STAMP_TOKEN;
use sceau_pki::{
    DetachedSignature, FileKeystore, Issued, KeyLabel, Keystore, Pki, Refusal, TimeStampAuthority,
    Verified, sign_detached, verify_signature, verify_time_stamp,
};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use x509_cert::attr::Attribute;

/// The tests' fixed clock: sceau's certificates, signatures and stamps are made at these
/// times, and the verifier reads no clock, so nothing here depends on the real time.
const T0: i64 = 1_800_000_000;
const SIGNED_AT: i64 = T0 + 100;
const STAMPED_AT: i64 = T0 + 200;
const POLICY: &str = "1.2.3.4.1";
const DATA: &[u8] = b"I, Alice Martin, agree to pay 34.80 EUR to Librairie du Port.";

/// A sceau PKI in its own directory, and Alice's key and certificate (one hour long).
struct Sceau {
    directory: tempfile::TempDir,
    keystore: Arc<dyn Keystore>,
    pki: Pki,
    key: KeyLabel,
    certificate: Issued,
}

fn sceau(organisation: &str) -> Sceau {
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[6; 32]).unwrap());
    let pki = Pki::open_or_create(
        Arc::clone(&keystore),
        &directory.path().join("pki"),
        organisation,
        POLICY.parse().unwrap(),
        T0,
    )
    .unwrap();
    let key = KeyLabel::new("client-9").unwrap();
    keystore.generate(&key).unwrap();
    let certificate = pki
        .authority
        .issue_client(&key, "Alice Martin", T0, 3_600)
        .unwrap();
    Sceau {
        directory,
        keystore,
        pki,
        key,
        certificate,
    }
}

impl Sceau {
    fn root(&self) -> &[u8] {
        &self.pki.authority.root().der
    }

    fn sign(&self, data: &[u8], at_s: i64) -> Vec<u8> {
        sign_detached(
            Arc::clone(&self.keystore),
            &DetachedSignature {
                key: &self.key,
                certificate: &self.certificate,
                chain: &[self.pki.authority.issuing()],
                content_digest: Sha256::digest(data).into(),
                signing_time_s: at_s,
                time_stamp: None,
            },
        )
        .unwrap()
    }

    /// A granted response from sceau's TSA for `digest` (SHA-256), nonce 42.
    fn stamp(&self, digest: [u8; 32], at_s: i64) -> Vec<u8> {
        let request = sceau_pki::tsa::query(&digest, 42, true).unwrap();
        self.pki.tsa.answer(&request, at_s).response().to_vec()
    }
}

fn flipped(bytes: &[u8], index: usize, mask: u8) -> Vec<u8> {
    let mut changed = bytes.to_vec();
    changed[index] ^= mask;
    changed
}

/// Where `needle` starts in `haystack`.
fn position(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("present")
}

fn signed_data(content_info: &[u8]) -> SignedData {
    let info = ContentInfo::from_der(content_info).unwrap();
    SignedData::from_der(&info.content.to_der().unwrap()).unwrap()
}

/// The value of the SignerInfo's `signature` OCTET STRING.
fn signature_value(content_info: &[u8]) -> Vec<u8> {
    signed_data(content_info).signer_infos.0.as_slice()[0]
        .signature
        .as_bytes()
        .to_vec()
}

/// The token of a TimeStampResp.
fn token_of(response: &[u8]) -> Vec<u8> {
    x509_tsp::TimeStampResp::from_der(response)
        .unwrap()
        .time_stamp_token
        .unwrap()
        .to_der()
        .unwrap()
}

/// `signature` with `token` as its SignerInfo's signature time-stamp (CAdES-B-T), as a
/// signer would add it after signing.
fn with_signature_time_stamp(signature: &[u8], token: &[u8]) -> Vec<u8> {
    let info = ContentInfo::from_der(signature).unwrap();
    let mut signed = SignedData::from_der(&info.content.to_der().unwrap()).unwrap();
    let mut signers = signed.signer_infos.0.into_vec();
    let attribute = Attribute {
        oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
        values: SetOfVec::try_from(vec![Any::from_der(token).unwrap()]).unwrap(),
    };
    signers[0].unsigned_attrs = Some(SetOfVec::try_from(vec![attribute]).unwrap());
    signed.signer_infos = SignerInfos::try_from(signers).unwrap();
    ContentInfo {
        content_type: info.content_type,
        content: Any::encode_from(&signed).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_signature_by_sceau_verifies_and_names_its_signer() {
    let sceau = sceau("sceau");
    let signature = sceau.sign(DATA, SIGNED_AT);
    let verified = verify_signature(&signature, DATA, sceau.root(), None).unwrap();
    assert_eq!(verified.signer, "CN=Alice Martin");
    assert_eq!(
        verified.serial,
        hex(sceau
            .certificate
            .certificate
            .tbs_certificate
            .serial_number
            .as_bytes())
    );
    assert_eq!(verified.signing_time_s, Some(SIGNED_AT));
    assert_eq!(verified.time_stamp, None);
    // The certificates checked at a time given: Alice's lives one hour from T0.
    assert!(verify_signature(&signature, DATA, sceau.root(), Some(T0 + 3_000)).is_ok());
    for outside in [T0 - 1, T0 + 3_601] {
        let refusal = verify_signature(&signature, DATA, sceau.root(), Some(outside));
        assert!(
            matches!(&refusal, Err(Refusal::NotValidAt { subject, at_s, .. })
                if subject == "CN=Alice Martin" && *at_s == outside),
            "{refusal:?}"
        );
    }
    // Signed after the certificate's end: refused at its own signing time.
    let late = sceau.sign(DATA, T0 + 7_200);
    assert!(matches!(
        verify_signature(&late, DATA, sceau.root(), None),
        Err(Refusal::NotValidAt { .. })
    ));
}

/// A signature sceau stamps itself (CAdES-B-T, as `sign_detached` makes it with a TSA):
/// the report names the stamp, checked at its own time; a changed content is refused.
#[test]
fn a_signature_stamped_by_sceau_reports_its_time_stamp() {
    let sceau = sceau("sceau");
    let signature = sign_detached(
        Arc::clone(&sceau.keystore),
        &DetachedSignature {
            key: &sceau.key,
            certificate: &sceau.certificate,
            chain: &[sceau.pki.authority.issuing()],
            content_digest: Sha256::digest(DATA).into(),
            signing_time_s: SIGNED_AT,
            time_stamp: Some(&sceau.pki.tsa),
        },
    )
    .unwrap();
    let verified = verify_signature(&signature, DATA, sceau.root(), None).unwrap();
    let stamp = verified.time_stamp.expect("a signature time-stamp");
    assert_eq!(stamp.time_s, SIGNED_AT);
    assert_eq!(stamp.policy, POLICY);
    assert!(stamp.tsa.contains("Time-Stamp Authority"), "{}", stamp.tsa);
    assert!(matches!(
        verify_signature(&signature, b"another text", sceau.root(), None),
        Err(Refusal::ContentMismatch)
    ));
}

#[test]
fn each_change_to_a_signature_is_refused_for_its_reason() {
    let sceau = sceau("sceau");
    let signature = sceau.sign(DATA, SIGNED_AT);
    let root = sceau.root();
    let check = |signature: &[u8], content: &[u8], root: &[u8], expected: Refusal| {
        let refusal = verify_signature(signature, content, root, None).unwrap_err();
        assert_eq!(refusal, expected, "{refusal}");
        refusal
    };

    let refusal = check(
        &signature,
        &flipped(DATA, 7, 0x20),
        root,
        Refusal::ContentMismatch,
    );
    assert_eq!(
        refusal.to_string(),
        "the content does not match the signature (the message-digest differs)"
    );
    assert_eq!(refusal.code(), "content-mismatch");
    check(&signature, b"", root, Refusal::ContentMismatch);
    // The last byte is the signature value's.
    check(
        &flipped(&signature, signature.len() - 1, 0x01),
        DATA,
        root,
        Refusal::BadSignature,
    );
    // The signing time is signed.
    let time = chrono::DateTime::from_timestamp(SIGNED_AT, 0)
        .unwrap()
        .format("%y%m%d%H%M%SZ")
        .to_string();
    let at = position(&signature, time.as_bytes());
    check(
        &flipped(&signature, at + 11, 0x01),
        DATA,
        root,
        Refusal::BadSignature,
    );
    check(
        b"not a signature",
        DATA,
        root,
        Refusal::NotDer("ContentInfo"),
    );
    check(&signature, DATA, b"not a root", Refusal::BadRoot);
    check(
        &sceau.pki.authority.root().der,
        DATA,
        root,
        Refusal::NotDer("ContentInfo"),
    );

    // Another PKI's root, with the same names: the issuing CA's signature fails.
    let twin = sceau_root_of("sceau");
    let refusal = verify_signature(&signature, DATA, &twin, None).unwrap_err();
    assert!(
        matches!(&refusal, Refusal::CertificateSignature { subject }
            if subject == "CN=sceau Issuing CA,O=sceau"),
        "{refusal:?}"
    );
    assert!(
        refusal
            .to_string()
            .starts_with("the chain does not lead to the given root")
    );
    // Another PKI's root, with other names: no issuer found.
    let other = sceau_root_of("other");
    let refusal = verify_signature(&signature, DATA, &other, None).unwrap_err();
    assert!(
        matches!(&refusal, Refusal::IssuerNotFound { issuer, .. }
            if issuer == "CN=sceau Root CA,O=sceau"),
        "{refusal:?}"
    );
    // The issuing CA given as the root: trusted as given.
    assert!(verify_signature(&signature, DATA, &sceau.pki.authority.issuing().der, None).is_ok());
    // The signer's own certificate given as the root: trusted as given.
    assert!(verify_signature(&signature, DATA, &sceau.certificate.der, None).is_ok());
}

/// The root of a fresh sceau PKI for `organisation`.
fn sceau_root_of(organisation: &str) -> Vec<u8> {
    sceau(organisation).root().to_vec()
}

/// Writes an openssl configuration for a root, an end-entity signer and a TSA (two TSA
/// sections: openssl's default ESS signing-certificate with SHA-1, and v2 with SHA-256),
/// then makes their EC P-256 keys and certificates; `root.der` is the root in DER.
fn openssl_pki(directory: &Path) {
    std::fs::write(
        directory.join("openssl.cnf"),
        "[req]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [dn]\n\
         CN = unused\n\
         [v3_root]\n\
         basicConstraints = critical,CA:true\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [v3_signer]\n\
         basicConstraints = CA:false\n\
         keyUsage = critical,digitalSignature,nonRepudiation\n\
         subjectKeyIdentifier = hash\n\
         [v3_tsa]\n\
         basicConstraints = CA:false\n\
         keyUsage = critical,digitalSignature\n\
         extendedKeyUsage = critical,timeStamping\n\
         [tsa]\n\
         default_tsa = tsa_v1\n\
         [tsa_v1]\n\
         dir = .\n\
         serial = ./tsaserial\n\
         crypto_device = builtin\n\
         signer_cert = ./tsa.pem\n\
         certs = ./tsa.pem\n\
         signer_key = ./tsa.key\n\
         signer_digest = sha256\n\
         default_policy = 1.2.3.4.7\n\
         digests = sha256, sha384, sha512\n\
         accuracy = secs:1\n\
         ordering = no\n\
         tsa_name = yes\n\
         [tsa_v2]\n\
         dir = .\n\
         serial = ./tsaserial\n\
         crypto_device = builtin\n\
         signer_cert = ./tsa.pem\n\
         certs = ./tsa.pem\n\
         signer_key = ./tsa.key\n\
         signer_digest = sha256\n\
         default_policy = 1.2.3.4.8\n\
         digests = sha256, sha384, sha512\n\
         ess_cert_id_alg = sha256\n",
    )
    .unwrap();
    std::fs::write(directory.join("tsaserial"), "01\n").unwrap();
    let run = |args: &[&str]| {
        let (done, text) = openssl(directory, args);
        assert!(done, "openssl {args:?}: {text}");
    };
    for key in ["root", "signer", "tsa"] {
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &format!("{key}.key"),
        ]);
    }
    run(&[
        "req",
        "-config",
        "openssl.cnf",
        "-new",
        "-x509",
        "-key",
        "root.key",
        "-out",
        "root.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Interop Root/O=openssl",
        "-extensions",
        "v3_root",
    ]);
    for (name, subject) in [("signer", "/CN=Interop Signer"), ("tsa", "/CN=Interop TSA")] {
        run(&[
            "req",
            "-config",
            "openssl.cnf",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "1",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            &format!("v3_{name}"),
        ]);
    }
    run(&[
        "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
    ]);
}

#[test]
fn a_signature_by_openssl_verifies() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    openssl_pki(dir);
    std::fs::write(dir.join("data"), DATA).unwrap();
    let sign = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-md",
            "sha256",
            "-in",
            "data",
            "-signer",
            "signer.pem",
            "-inkey",
            "signer.key",
            "-out",
            out,
        ];
        args.extend_from_slice(extra);
        let (signed, text) = openssl(dir, &args);
        assert!(signed, "{text}");
        std::fs::read(dir.join(out)).unwrap()
    };
    let root = std::fs::read(dir.join("root.der")).unwrap();

    // With signed attributes (openssl's signing time: the real time, within the
    // certificates' life, which began before).
    let signature = sign("sig.der", &[]);
    let verified = verify_signature(&signature, DATA, &root, None).unwrap();
    assert_eq!(verified.signer, "CN=Interop Signer");
    assert!(verified.signing_time_s.is_some());
    assert_eq!(
        verify_signature(&signature, &flipped(DATA, 0, 1), &root, None),
        Err(Refusal::ContentMismatch)
    );

    // Identified by subject key identifier.
    let by_key = sign("keyid.der", &["-keyid"]);
    assert_eq!(
        verify_signature(&by_key, DATA, &root, None).unwrap().signer,
        "CN=Interop Signer"
    );

    // Without signed attributes: the signature is over the content; there is no time,
    // so one must be given (the signer certificate's first second here).
    let bare = sign("noattr.der", &["-noattr"]);
    assert_eq!(
        verify_signature(&bare, DATA, &root, None),
        Err(Refusal::NoTime)
    );
    let signer = x509_cert::Certificate::from_der(
        &Issued::from_der(&pem_to_der(dir, "signer.pem"))
            .unwrap()
            .der,
    )
    .unwrap();
    let born_s = signer
        .tbs_certificate
        .validity
        .not_before
        .to_unix_duration()
        .as_secs() as i64;
    let verified = verify_signature(&bare, DATA, &root, Some(born_s)).unwrap();
    assert_eq!(verified.signing_time_s, None);
    assert_eq!(
        verify_signature(&bare, &flipped(DATA, 0, 1), &root, Some(born_s)),
        Err(Refusal::BadSignature)
    );

    // sceau's root does not lead there.
    assert!(matches!(
        verify_signature(&signature, DATA, &sceau_root_of("sceau"), None),
        Err(Refusal::IssuerNotFound { .. })
    ));

    // A certificate issued by the signer, who is no CA (basicConstraints cA false), and
    // a signature under it carrying the whole chain: refused at the signer.
    let (issued, text) = openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "signer.pem",
            "-CAkey",
            "signer.key",
            "-CAcreateserial",
            "-out",
            "under-signer.pem",
            "-days",
            "1",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "v3_signer",
        ],
    );
    assert!(issued, "{text}");
    let (signed, text) = openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-md",
            "sha256",
            "-in",
            "data",
            "-signer",
            "under-signer.pem",
            "-inkey",
            "tsa.key",
            "-certfile",
            "signer.pem",
            "-out",
            "under-signer.der",
        ],
    );
    assert!(signed, "{text}");
    let refusal = verify_signature(
        &std::fs::read(dir.join("under-signer.der")).unwrap(),
        DATA,
        &root,
        None,
    )
    .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::NotACa {
            subject: "CN=Interop Signer".to_owned()
        }
    );
}

fn pem_to_der(directory: &Path, pem: &str) -> Vec<u8> {
    let out = format!("{pem}.der");
    let (done, text) = openssl(
        directory,
        &["x509", "-in", pem, "-outform", "DER", "-out", &out],
    );
    assert!(done, "{text}");
    std::fs::read(directory.join(out)).unwrap()
}

/// `openssl ts -query -data data -sha256 -cert` in `directory`: the request and its nonce.
fn openssl_query(directory: &Path) -> (Vec<u8>, u64) {
    let (made, text) = openssl(
        directory,
        &[
            "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "q.tsq",
        ],
    );
    assert!(made, "{text}");
    let request = std::fs::read(directory.join("q.tsq")).unwrap();
    let parsed = x509_tsp::TimeStampReq::from_der(&request).unwrap();
    let nonce = parsed
        .nonce
        .unwrap()
        .as_bytes()
        .iter()
        .fold(0_u64, |value, byte| (value << 8) | u64::from(*byte));
    (request, nonce)
}

#[test]
fn a_time_stamp_by_sceau_verifies_as_response_and_as_token() {
    let sceau = sceau("sceau");
    let dir = sceau.directory.path();
    std::fs::write(dir.join("data"), DATA).unwrap();
    let (request, nonce) = openssl_query(dir);
    let answer = sceau.pki.tsa.answer(&request, STAMPED_AT);
    let sceau_pki::Answer::Granted { response, serial } = &answer else {
        panic!("{answer:?}");
    };
    let root = sceau.root();
    let stamp = verify_time_stamp(response, DATA, root, Some(nonce)).unwrap();
    assert_eq!(stamp.time_s, STAMPED_AT);
    assert_eq!(stamp.tsa, "CN=sceau Time-Stamp Authority");
    assert_eq!(stamp.policy, POLICY);
    assert_eq!(stamp.serial, hex(serial));
    assert_eq!(
        verify_time_stamp(response, DATA, root, None).unwrap(),
        stamp
    );
    let token = token_of(response);
    assert_eq!(
        verify_time_stamp(&token, DATA, root, Some(nonce)).unwrap(),
        stamp
    );

    // What is refused, and why.
    let check = |input: &[u8], data: &[u8], root: &[u8], expected: Refusal| {
        let refusal = verify_time_stamp(input, data, root, Some(nonce)).unwrap_err();
        assert_eq!(refusal, expected, "{refusal}");
    };
    check(
        response,
        &flipped(DATA, 3, 0x01),
        root,
        Refusal::ImprintMismatch,
    );
    check(&token, b"", root, Refusal::ImprintMismatch);
    assert_eq!(
        verify_time_stamp(response, DATA, root, Some(nonce ^ 1)),
        Err(Refusal::NonceMismatch)
    );
    check(
        &flipped(response, response.len() - 1, 0x01),
        DATA,
        root,
        Refusal::BadSignature,
    );
    check(
        &flipped(&token, token.len() - 1, 0x01),
        DATA,
        root,
        Refusal::BadSignature,
    );
    // The time in the TSTInfo (GeneralizedTime, tag 0x18 length 15): the signed
    // content's digest no longer matches.
    let at = position(response, &[0x18, 0x0f]);
    check(
        &flipped(response, at + 12, 0x01),
        DATA,
        root,
        Refusal::ContentMismatch,
    );
    assert!(matches!(
        verify_time_stamp(response, DATA, &sceau_root_of("sceau"), None),
        Err(Refusal::CertificateSignature { .. })
    ));
    check(
        b"\x30\x03\x02\x01",
        DATA,
        root,
        Refusal::NotDer("TimeStampResp or TimeStampToken"),
    );

    // A rejection says so, with the failure bits.
    let rejected = sceau.pki.tsa.answer(b"garbage", STAMPED_AT);
    let refusal = verify_time_stamp(rejected.response(), DATA, root, None).unwrap_err();
    assert!(
        matches!(&refusal, Refusal::NotGranted { status: 2, failure, .. }
            if failure == "badDataFormat"),
        "{refusal:?}"
    );
    assert_eq!(refusal.code(), "time-stamp-not-granted");
    assert!(refusal.to_string().contains("rejection"), "{refusal}");

    // Without certReq the token carries no certificate: its signer cannot be found.
    let bare = sceau.pki.tsa.answer(
        &sceau_pki::tsa::query(&Sha256::digest(DATA).into(), 7, false).unwrap(),
        STAMPED_AT,
    );
    assert_eq!(
        verify_time_stamp(bare.response(), DATA, root, None),
        Err(Refusal::SignerNotFound)
    );
}

#[test]
fn a_time_stamp_by_openssl_verifies() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    openssl_pki(dir);
    std::fs::write(dir.join("data"), DATA).unwrap();
    let (_, nonce) = openssl_query(dir);
    let root = std::fs::read(dir.join("root.der")).unwrap();
    // ESS signing-certificate v1 (SHA-1, openssl's default) and v2 (SHA-256).
    for (section, policy) in [("tsa_v1", "1.2.3.4.7"), ("tsa_v2", "1.2.3.4.8")] {
        let (replied, text) = openssl(
            dir,
            &[
                "ts",
                "-reply",
                "-config",
                "openssl.cnf",
                "-section",
                section,
                "-queryfile",
                "q.tsq",
                "-out",
                "r.tsr",
            ],
        );
        assert!(replied, "{text}");
        let response = std::fs::read(dir.join("r.tsr")).unwrap();
        let stamp = verify_time_stamp(&response, DATA, &root, Some(nonce)).unwrap();
        assert_eq!(stamp.tsa, "CN=Interop TSA", "{section}");
        assert_eq!(stamp.policy, policy);
        assert_eq!(
            verify_time_stamp(&token_of(&response), DATA, &root, Some(nonce)).unwrap(),
            stamp
        );
        assert_eq!(
            verify_time_stamp(&response, b"other data", &root, None),
            Err(Refusal::ImprintMismatch)
        );
        assert_eq!(
            verify_time_stamp(
                &flipped(&response, response.len() - 2, 0x01),
                DATA,
                &root,
                None
            ),
            Err(Refusal::BadSignature)
        );
    }
    // sceau's root does not lead to openssl's TSA.
    let response = std::fs::read(dir.join("r.tsr")).unwrap();
    assert!(matches!(
        verify_time_stamp(&response, DATA, &sceau_root_of("sceau"), None),
        Err(Refusal::IssuerNotFound { .. })
    ));
}

#[test]
fn a_time_stamp_signed_without_the_time_stamping_usage_is_refused() {
    let sceau = sceau("sceau");
    // A "TSA" whose certificate is a client's: no extended key usage timeStamping.
    let impostor = TimeStampAuthority::new(
        Arc::clone(&sceau.keystore),
        sceau.key.clone(),
        sceau.certificate.clone(),
        vec![sceau.pki.authority.issuing().clone()],
        POLICY.parse().unwrap(),
    )
    .unwrap();
    let request = sceau_pki::tsa::query(&Sha256::digest(DATA).into(), 1, true).unwrap();
    let response = impostor.answer(&request, STAMPED_AT);
    let refusal = verify_time_stamp(response.response(), DATA, sceau.root(), None).unwrap_err();
    assert!(
        matches!(&refusal, Refusal::NotTimeStamping { subject } if subject == "CN=Alice Martin"),
        "{refusal:?}"
    );
    assert!(refusal.to_string().contains("RFC 3161"), "{refusal}");
}

#[test]
fn a_signature_time_stamp_must_cover_the_signature() {
    let sceau = sceau("sceau");
    let signature = sceau.sign(DATA, SIGNED_AT);
    let value = signature_value(&signature);
    let token = token_of(&sceau.stamp(Sha256::digest(&value).into(), STAMPED_AT));
    let stamped = with_signature_time_stamp(&signature, &token);
    let verified = verify_signature(&stamped, DATA, sceau.root(), None).unwrap();
    let stamp = verified.time_stamp.expect("the signature time-stamp");
    assert_eq!(stamp.time_s, STAMPED_AT);
    assert_eq!(stamp.tsa, "CN=sceau Time-Stamp Authority");
    assert_eq!(verified.signing_time_s, Some(SIGNED_AT));
    assert_eq!(verified.signer, "CN=Alice Martin");

    // The stamped time is the one certificates are checked at: a signing time claimed
    // outside Alice's certificate does not matter, the stamp's does.
    let late_token = token_of(&sceau.stamp(Sha256::digest(&value).into(), T0 + 7_200));
    assert!(matches!(
        verify_signature(
            &with_signature_time_stamp(&signature, &late_token),
            DATA,
            sceau.root(),
            None
        ),
        Err(Refusal::NotValidAt { .. })
    ));

    // A token for another value: refused.
    let other = token_of(&sceau.stamp(Sha256::digest(b"another signature").into(), STAMPED_AT));
    let refusal = verify_signature(
        &with_signature_time_stamp(&signature, &other),
        DATA,
        sceau.root(),
        None,
    )
    .unwrap_err();
    assert_eq!(refusal, Refusal::NotThisSignature);
    assert_eq!(
        refusal.to_string(),
        "the signature time-stamp does not cover this signature"
    );
    // A token from this signature on another signature of the same data: refused.
    let again = sceau.sign(DATA, SIGNED_AT + 1);
    assert_eq!(
        verify_signature(
            &with_signature_time_stamp(&again, &token),
            DATA,
            sceau.root(),
            None
        ),
        Err(Refusal::NotThisSignature)
    );
    // A broken token: refused, saying where.
    let broken = flipped(&token, token.len() - 1, 0x01);
    let refusal = verify_signature(
        &with_signature_time_stamp(&signature, &broken),
        DATA,
        sceau.root(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::InSignatureTimeStamp(Box::new(Refusal::BadSignature))
    );
    assert!(refusal.to_string().starts_with("signature time-stamp: "));
    // Something else in the attribute.
    let not_a_token = with_signature_time_stamp(&signature, &[0x04, 0x01, 0x00]);
    assert!(matches!(
        verify_signature(&not_a_token, DATA, sceau.root(), None),
        Err(Refusal::InSignatureTimeStamp(_))
    ));
}

/// Every single-bit change to a signature with its time-stamp, and to the content: no
/// panic, and a refusal wherever the change touches the content, the signature value or
/// the token's signature value. (Some bytes are not signed by design: the versions, the
/// list of digest algorithms, the outer algorithm names.)
#[test]
fn every_flipped_bit_is_refused_or_harmless() {
    let sceau = sceau("sceau");
    let signature = sceau.sign(DATA, SIGNED_AT);
    let value = signature_value(&signature);
    let token = token_of(&sceau.stamp(Sha256::digest(&value).into(), STAMPED_AT));
    let token_value = signature_value(&token);
    let stamped = with_signature_time_stamp(&signature, &token);
    let root = sceau.root();
    let expected = verify_signature(&stamped, DATA, root, None).unwrap();

    let regions = [
        (position(&stamped, &value), value.len(), "signature value"),
        (
            position(&stamped, &token_value),
            token_value.len(),
            "token's signature value",
        ),
    ];
    let mut accepted = Vec::new();
    for index in 0..stamped.len() {
        for mask in [0x01, 0x80] {
            let result = verify_signature(&flipped(&stamped, index, mask), DATA, root, None);
            for (start, length, what) in regions {
                if (start..start + length).contains(&index) {
                    assert!(
                        result.is_err(),
                        "byte {index} of the {what} changed: {result:?}"
                    );
                }
            }
            if let Ok(verified) = result {
                // What is not signed may change; what is reported may not, except that an
                // unsigned attribute may go unrecognised (as it may be removed).
                if verified.time_stamp.is_none() {
                    let stripped = Verified {
                        time_stamp: None,
                        ..expected.clone()
                    };
                    assert_eq!(verified, stripped, "byte {index}");
                } else {
                    assert_eq!(verified, expected, "byte {index}");
                }
                accepted.push(index);
            }
        }
    }
    for index in 0..DATA.len() {
        for mask in [0x01, 0x80] {
            assert_eq!(
                verify_signature(&stamped, &flipped(DATA, index, mask), root, None),
                Err(Refusal::ContentMismatch)
            );
        }
    }
    // Most changes are refused. `accepted` holds the flips of unsigned bytes: the
    // versions, the digest algorithm lists, the unsigned attribute's tag and type (the
    // time-stamp then goes unrecognised, as if removed).
    assert!(
        accepted.len() * 20 < stamped.len(),
        "{} of {} flips accepted at {accepted:?}",
        accepted.len(),
        stamped.len() * 2
    );

    // The time-stamp response alone, too.
    let response = sceau.stamp(Sha256::digest(DATA).into(), STAMPED_AT);
    let token_value = signature_value(&token_of(&response));
    let start = position(&response, &token_value);
    for index in 0..response.len() {
        for mask in [0x01, 0x80] {
            let result = verify_time_stamp(&flipped(&response, index, mask), DATA, root, None);
            if (start..start + token_value.len()).contains(&index) {
                assert!(result.is_err(), "byte {index}: {result:?}");
            }
        }
    }
    // Truncations and garbage: no panic.
    for length in 0..stamped.len() {
        assert!(verify_signature(&stamped[..length], DATA, root, None).is_err());
    }
    assert_eq!(
        verify_signature(
            &vec![0x30; sceau_pki::verify::INPUT_LEN_MAX + 1],
            DATA,
            root,
            None
        ),
        Err(Refusal::TooLong)
    );
}

/// A time-stamp token's SignerInfo, its TSTInfo taken out to make a "detached signature"
/// of the TSTInfo by the TSA, is not a signature of data: refused for its content type.
#[test]
fn a_time_stamp_token_is_not_taken_for_a_signature() {
    let sceau = sceau("sceau");
    let response = sceau.stamp(Sha256::digest(DATA).into(), STAMPED_AT);
    let token = token_of(&response);
    let info = ContentInfo::from_der(&token).unwrap();
    let mut signed: SignedData = info.content.decode_as().unwrap();
    let tst_info = signed
        .encap_content_info
        .econtent
        .take()
        .expect("the TSTInfo")
        .decode_as::<der::asn1::OctetString>()
        .unwrap()
        .as_bytes()
        .to_vec();
    let detached = ContentInfo {
        content_type: info.content_type,
        content: Any::from_der(&signed.to_der().unwrap()).unwrap(),
    }
    .to_der()
    .unwrap();
    assert!(matches!(
        verify_signature(&detached, &tst_info, sceau.root(), None),
        Err(Refusal::Unsupported(_))
    ));
}
