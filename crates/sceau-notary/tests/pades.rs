//! PAdES signatures of PDFs, checked by the independent validator pyHanko (in a Python
//! virtual environment: `SCEAU_PYHANKO` names its python, with pyhanko,
//! pyhanko-certvalidator and pikepdf installed) and by `openssl cms -verify`.
//!
//! Without that python the tests that need it say so and pass, except under `CI=true`,
//! where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sceau_notary::pades::{
    PDF_BYTES_MAX_DEFAULT, PadesError, PadesOptions, ValidationData, add_validation_data, sign_pdf,
};
use sceau_pki::{
    Authority, DetachedSignature, FileKeystore, Issued, KeyLabel, Keystore, PkiError, Profile,
    TimeStampAuthority,
    ca::{Revocation, RevocationReason},
    sign_detached_as,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client's key and certificate and a TSA under one authority, in a temporary
/// directory that also holds `root.pem`.
struct Signer {
    directory: tempfile::TempDir,
    keystore: Arc<dyn Keystore>,
    authority: Authority,
    key: KeyLabel,
    certificate: Issued,
    tsa_certificate: Issued,
    tsa: TimeStampAuthority,
}

fn signer() -> Signer {
    let directory = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.path().join("keys"), &[7; 32]).unwrap());
    let authority = Authority::create(Arc::clone(&keystore), "sceau", now_s() - 60).unwrap();
    let key = KeyLabel::new("client-1").unwrap();
    keystore.generate(&key).unwrap();
    let certificate = authority
        .issue_client(&key, "Alice Martin", now_s() - 60, 3_600)
        .unwrap();
    let tsa_key = KeyLabel::new("tsa").unwrap();
    keystore.generate(&tsa_key).unwrap();
    let tsa_certificate = authority
        .issue_time_stamping(&tsa_key, "sceau TSA", now_s() - 60, 86_400)
        .unwrap();
    let tsa = TimeStampAuthority::new(
        Arc::clone(&keystore),
        tsa_key,
        tsa_certificate.clone(),
        vec![authority.issuing().clone()],
        "1.2.3.4.1".parse().unwrap(),
    )
    .unwrap();
    std::fs::write(
        directory.path().join("root.pem"),
        authority.root().to_pem().unwrap(),
    )
    .unwrap();
    Signer {
        directory,
        keystore,
        authority,
        key,
        certificate,
        tsa_certificate,
        tsa,
    }
}

impl Signer {
    /// The PAdES CMS over `digest`, time-stamped.
    fn cms(&self, digest: [u8; 32]) -> Result<Vec<u8>, PkiError> {
        sign_detached_as(
            Arc::clone(&self.keystore),
            &DetachedSignature {
                key: &self.key,
                certificate: &self.certificate,
                chain: &[self.authority.issuing()],
                content_digest: digest,
                signing_time_s: now_s(),
                time_stamp: Some(&self.tsa),
            },
            Profile::Pades,
        )
    }

    /// `pdf` signed: the original bytes followed by the update.
    fn sign(&self, pdf: &[u8]) -> Vec<u8> {
        let update = sign_pdf(pdf, &PadesOptions::new(now_s()), |digest| self.cms(digest)).unwrap();
        [pdf, &update].concat()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }
}

/// A PDF with a classic cross-reference table made of `objects` (object 1 the catalog).
fn classic_pdf(objects: &[String]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{body}\nendobj\n", index + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// One page saying hello; with `text_field`, an AcroForm with a filled-in text field.
fn hello_pdf(text_field: bool) -> Vec<u8> {
    let text = "BT /F1 24 Tf 72 720 Td (Hello, notary) Tj ET";
    let (form, annotations) = if text_field {
        (" /AcroForm << /Fields [6 0 R] >>", " /Annots [6 0 R]")
    } else {
        ("", "")
    };
    let mut objects = vec![
        format!("<< /Type /Catalog /Pages 2 0 R{form} >>"),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >>{annotations} >>"
        ),
        format!(
            "<< /Length {} >>\nstream\n{text}\nendstream",
            text.len() + 1
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    if text_field {
        objects.push(
            "<< /Type /Annot /Subtype /Widget /FT /Tx /T (Name) /V (Alice Martin) \
             /Rect [72 600 272 620] /P 3 0 R /DA (/Helv 0 Tf 0 g) >>"
                .to_string(),
        );
    }
    classic_pdf(&objects)
}

/// The python of the virtual environment with pyHanko and pikepdf; `None` (the test then
/// passes, saying why) when it is missing, except under CI, where the test fails.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("SCEAU_PYHANKO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv-pdf/bin/python")
        });
    let ready = Command::new(&path)
        .args(["-c", "import pyhanko, pyhanko_certvalidator, pikepdf"])
        .output()
        .is_ok_and(|output| output.status.success());
    if ready {
        return Some(path);
    }
    let why = format!(
        "no python with pyhanko, pyhanko-certvalidator and pikepdf at {} (set SCEAU_PYHANKO)",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// Runs python `code` with `args`; panics with its output unless it succeeds.
fn run_python(python: &Path, code: &str, args: &[&Path]) -> String {
    let output = Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// pyHanko's report on every signature of `pdf` (tests/pdf/validate.py).
fn validate(python: &Path, signer: &Signer, pdf: &[u8]) -> Value {
    let path = signer.path("signed.pdf");
    std::fs::write(&path, pdf).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pdf/validate.py");
    let output = Command::new(python)
        .arg(script)
        .arg(signer.path("root.pem"))
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

/// Asserts that pyHanko finds `signature` intact, valid, trusted, time-stamped, with
/// `coverage`.
fn assert_good(signature: &Value, coverage: &str) {
    let good = signature["intact"] == true
        && signature["valid"] == true
        && signature["trusted"] == true
        && signature["coverage"] == coverage
        && signature["sub_filter"] == "/ETSI.CAdES.detached"
        && signature["time_stamp"]["intact"] == true
        && signature["time_stamp"]["valid"] == true
        && signature["time_stamp"]["trusted"] == true;
    assert!(good, "{signature:#}");
}

/// The last signature's `/ByteRange` and its CMS (the `/Contents` bytes up to the end of
/// the DER).
fn last_signature(pdf: &[u8]) -> ([usize; 4], Vec<u8>) {
    let key = b"/ByteRange";
    let at = pdf.windows(key.len()).rposition(|w| w == key).unwrap();
    let open = at + pdf[at..].iter().position(|&b| b == b'[').unwrap();
    let close = open + pdf[open..].iter().position(|&b| b == b']').unwrap();
    let numbers: Vec<usize> = std::str::from_utf8(&pdf[open + 1..close])
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let range: [usize; 4] = numbers.try_into().unwrap();
    assert_eq!(pdf[range[1]], b'<');
    assert_eq!(pdf[range[2] - 1], b'>');
    assert_eq!(
        range[2] + range[3],
        pdf.len(),
        "the byte range ends the file"
    );
    let contents = hex::decode(&pdf[range[1] + 1..range[2] - 1]).unwrap();
    // DER: 0x30, then the length (long form, as a CMS is longer than 127 bytes).
    let length_bytes = usize::from(contents[1] & 0x7f);
    let length = contents[2..2 + length_bytes]
        .iter()
        .fold(0usize, |n, &b| n * 256 + usize::from(b));
    (range, contents[..2 + length_bytes + length].to_vec())
}

/// `openssl cms -verify` of the last signature of `pdf` over its byte range.
fn assert_openssl_verifies(signer: &Signer, pdf: &[u8]) {
    let (range, cms) = last_signature(pdf);
    let covered = [&pdf[..range[1]], &pdf[range[2]..]].concat();
    std::fs::write(signer.path("covered"), covered).unwrap();
    std::fs::write(signer.path("cms.der"), cms).unwrap();
    let output = Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "cms.der",
            "-content",
            "covered",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ])
        .current_dir(signer.directory.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && text.contains("Verification successful"),
        "{text}"
    );
}

#[test]
fn a_pdf_with_a_cross_reference_table_gets_a_signature_pyhanko_and_openssl_accept() {
    let signer = signer();
    let pdf = hello_pdf(false);
    let signed = signer.sign(&pdf);
    assert!(signed.starts_with(&pdf), "the original bytes are kept");
    let update = &signed[pdf.len()..];
    assert!(
        String::from_utf8_lossy(update).contains("\nxref\n"),
        "a table, as the original"
    );
    assert_openssl_verifies(&signer, &signed);
    let Some(python) = python() else { return };
    let report = validate(&python, &signer, &signed);
    assert_eq!(report["revisions"], 2, "{report:#}");
    let signatures = report["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 1, "{report:#}");
    assert_good(&signatures[0], "ENTIRE_FILE");
    assert_eq!(signatures[0]["field"], "Signature1");

    // Under another root, the same signature is intact but not trusted.
    let report = validate(&python, &self::signer(), &signed);
    let other = &report["signatures"][0];
    assert!(
        other["intact"] == true && other["trusted"] == false,
        "{report:#}"
    );

    // One byte changed in the covered part: pyHanko sees it.
    let mut changed = signed.clone();
    let at = changed.windows(5).position(|w| w == b"Hello").unwrap();
    changed[at] = b'J';
    let report = validate(&python, &signer, &changed);
    assert_eq!(report["signatures"][0]["intact"], false, "{report:#}");
}

#[test]
fn the_pades_cms_has_signing_certificate_v2_and_no_signing_time() {
    let signer = signer();
    let signed = signer.sign(&hello_pdf(false));
    let (_, cms) = last_signature(&signed);
    std::fs::write(signer.path("cms.der"), cms).unwrap();
    let output = Command::new("openssl")
        .args([
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "cms.der",
        ])
        .current_dir(signer.directory.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    // The signer's attributes come before the time-stamp token (whose own signed
    // attributes have a signing time, the TSA's).
    let (signer, token) = text.split_once("id-smime-aa-timeStampToken").expect(&text);
    assert!(signer.contains("signingCertificateV2"), "{text}");
    assert!(!signer.contains("signingTime"), "{text}");
    assert!(token.contains("id-smime-ct-TSTInfo"), "{text}");
    let dictionary = String::from_utf8_lossy(&signed);
    assert!(
        dictionary.contains("/M(D:"),
        "the time is in the dictionary"
    );
}

/// `pdf` rewritten by pikepdf (qpdf) with object streams and a cross-reference stream.
fn with_object_streams(python: &Path, signer: &Signer, pdf: &[u8]) -> Vec<u8> {
    std::fs::write(signer.path("plain.pdf"), pdf).unwrap();
    run_python(
        python,
        "import pikepdf, sys\n\
         with pikepdf.open(sys.argv[1]) as pdf:\n\
         \x20   pdf.save(sys.argv[2], object_stream_mode=pikepdf.ObjectStreamMode.generate)",
        &[&signer.path("plain.pdf"), &signer.path("streams.pdf")],
    );
    std::fs::read(signer.path("streams.pdf")).unwrap()
}

#[test]
fn a_pdf_with_object_and_cross_reference_streams_gets_a_cross_reference_stream() {
    let Some(python) = python() else { return };
    let signer = signer();
    let pdf = with_object_streams(&python, &signer, &hello_pdf(true));
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("/ObjStm") && !text.contains("\nxref"),
        "{text}"
    );
    let signed = signer.sign(&pdf);
    let update = String::from_utf8_lossy(&signed[pdf.len()..]).to_string();
    assert!(
        update.contains("/XRef") && !update.contains("\nxref"),
        "{update}"
    );
    let report = validate(&python, &signer, &signed);
    let signatures = report["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 1, "{report:#}");
    assert_good(&signatures[0], "ENTIRE_FILE");
    assert_openssl_verifies(&signer, &signed);
}

#[test]
fn signing_a_signed_pdf_keeps_the_first_signature_valid() {
    let Some(python) = python() else { return };
    let signer = signer();
    for pdf in [
        hello_pdf(false),
        with_object_streams(&python, &signer, &hello_pdf(false)),
    ] {
        let once = signer.sign(&pdf);
        let twice = signer.sign(&once);
        assert!(twice.starts_with(&once));
        let report = validate(&python, &signer, &twice);
        let signatures = report["signatures"].as_array().unwrap();
        assert_eq!(signatures.len(), 2, "{report:#}");
        assert_good(&signatures[0], "ENTIRE_REVISION");
        assert_eq!(signatures[0]["docmdp_ok"], true, "{report:#}");
        assert_good(&signatures[1], "ENTIRE_FILE");
        assert_eq!(signatures[0]["field"], "Signature1");
        assert_eq!(signatures[1]["field"], "Signature2");
        assert_openssl_verifies(&signer, &twice);
    }
}

#[test]
fn an_existing_form_field_is_kept() {
    let signer = signer();
    let signed = signer.sign(&hello_pdf(true));
    let document = lopdf::Document::load_mem(&signed).unwrap();
    let form = document
        .catalog()
        .unwrap()
        .get(b"AcroForm")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(form.get(b"SigFlags").unwrap().as_i64().unwrap(), 3);
    let names: Vec<Vec<u8>> = form
        .get(b"Fields")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|field| {
            let field = document
                .get_dictionary(field.as_reference().unwrap())
                .unwrap();
            field.get(b"T").unwrap().as_str().unwrap().to_vec()
        })
        .collect();
    assert_eq!(names, vec![b"Name".to_vec(), b"Signature1".to_vec()]);
    let page = document.get_pages()[&1];
    let annotations = document
        .get_dictionary(page)
        .unwrap()
        .get(b"Annots")
        .unwrap();
    assert_eq!(annotations.as_array().unwrap().len(), 2);
    let Some(python) = python() else { return };
    let report = validate(&python, &signer, &signed);
    assert_good(&report["signatures"][0], "ENTIRE_FILE");
}

/// Signs `bytes`, expecting a refusal before the closure is called.
fn refusal(bytes: &[u8]) -> PadesError<PkiError> {
    sign_pdf(
        bytes,
        &PadesOptions::new(now_s()),
        |_| -> Result<Vec<u8>, PkiError> {
            panic!("the closure must not be called for a refused file")
        },
    )
    .unwrap_err()
}

#[test]
fn what_is_not_a_whole_pdf_is_refused_with_a_reason() {
    let pdf = hello_pdf(false);
    let check = |bytes: &[u8], code: &str| {
        let error = refusal(bytes);
        assert_eq!(error.code(), code, "{error}");
    };
    check(b"", "not_a_pdf");
    check(b"Dear notary, this is a letter, not a PDF.\n", "not_a_pdf");
    check(&pdf[..pdf.len() / 2], "not_a_pdf");
    check(&pdf[..pdf.len() - 20], "not_a_pdf");
    // A header and an end, nothing readable between.
    check(b"%PDF-1.7\ngarbage\n%%EOF\n", "not_a_pdf");
    // Cross-reference offsets that point nowhere: a damaged file is not repaired.
    let shifted = [&b"%PDF-1.7\n%%%%%%%%%%\n"[..], &pdf[9..]].concat();
    check(&shifted, "not_a_pdf");
    // Certified with no changes allowed (/Perms /DocMDP, /P 1): refused.
    let certified = classic_pdf(&[
        "<< /Type /Catalog /Pages 2 0 R /Perms << /DocMDP 4 0 R >> >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_string(),
        "<< /Type /Sig /Reference [<< /Type /SigRef /TransformMethod /DocMDP \
         /TransformParams << /Type /TransformParams /P 1 /V /1.2 >> >>] >>"
            .to_string(),
    ]);
    check(&certified, "pdf_unsupported");
    let mut allowed = certified.clone();
    let at = allowed.windows(5).position(|w| w == b"/P 1 ").unwrap();
    allowed[at + 3] = b'2';
    let update = sign_pdf(&allowed, &PadesOptions::new(now_s()), |_| {
        Ok::<_, PkiError>(vec![0x30, 0x00])
    });
    assert!(update.is_ok(), "{update:?}");
    let mut options = PadesOptions::new(now_s());
    options.pdf_bytes_max = pdf.len() - 1;
    let error = sign_pdf(&pdf, &options, |_| Ok::<_, PkiError>(Vec::new())).unwrap_err();
    assert_eq!(error.code(), "pdf_too_large", "{error}");
}

#[test]
fn an_encrypted_pdf_is_refused() {
    let Some(python) = python() else { return };
    let signer = signer();
    std::fs::write(signer.path("plain.pdf"), hello_pdf(false)).unwrap();
    for user_password in ["", "secret"] {
        run_python(
            &python,
            &format!(
                "import pikepdf, sys\n\
                 with pikepdf.open(sys.argv[1]) as pdf:\n\
                 \x20   pdf.save(sys.argv[2], encryption=pikepdf.Encryption(owner='owner', user='{user_password}'))"
            ),
            &[&signer.path("plain.pdf"), &signer.path("encrypted.pdf")],
        );
        let error = refusal(&std::fs::read(signer.path("encrypted.pdf")).unwrap());
        assert_eq!(error.code(), "pdf_encrypted", "{error}");
    }
}

#[test]
fn a_signature_larger_than_its_reservation_is_refused() {
    let signer = signer();
    let mut options = PadesOptions::new(now_s());
    options.contents_bytes = 256;
    let error = sign_pdf(&hello_pdf(false), &options, |digest| signer.cms(digest)).unwrap_err();
    assert_eq!(error.code(), "signature_too_large", "{error}");
    let error = sign_pdf(&hello_pdf(false), &PadesOptions::new(now_s()), |_| {
        Err::<Vec<u8>, _>("the time-stamp authority did not answer")
    })
    .unwrap_err();
    assert!(matches!(
        error,
        PadesError::Signing("the time-stamp authority did not answer")
    ));
}

impl Signer {
    /// The issuing CA's CRL, listing `revoked`.
    fn crl(&self, revoked: &[&Issued]) -> Vec<u8> {
        let revoked: Vec<Revocation> = revoked
            .iter()
            .map(|issued| Revocation {
                serial: issued
                    .certificate
                    .tbs_certificate
                    .serial_number
                    .as_bytes()
                    .to_vec(),
                at_s: now_s() - 30,
                reason: RevocationReason::KeyCompromise,
            })
            .collect();
        self.authority
            .crl(&revoked, now_s() - 30, now_s() + 86_400, now_s() as u64)
            .unwrap()
    }

    /// `pdf` followed by the update that stores `crl` and every certificate up to the root.
    fn with_validation_data(&self, pdf: &[u8], crl: &[u8]) -> Vec<u8> {
        let certificates = [
            &self.certificate,
            self.authority.issuing(),
            &self.tsa_certificate,
            self.authority.root(),
        ]
        .map(|issued| issued.der.as_slice());
        let data = ValidationData {
            certificates: &certificates,
            crls: &[crl],
        };
        let update = add_validation_data(pdf, &data, PDF_BYTES_MAX_DEFAULT).unwrap();
        [pdf, &update].concat()
    }
}

#[test]
fn pades_b_lt_stores_the_chain_and_the_crl_in_the_pdf() {
    let Some(python) = python() else { return };
    let signer = signer();
    for pdf in [
        hello_pdf(true),
        with_object_streams(&python, &signer, &hello_pdf(false)),
    ] {
        let signed = signer.sign(&pdf);
        let report = validate(&python, &signer, &signed);
        assert_eq!(report["dss"], Value::Null, "{report:#}");
        let lt = &report["signatures"][0]["lt"];
        assert_eq!(
            lt["trusted"], false,
            "no CRL, no long-term validation: {report:#}"
        );

        let stored = signer.with_validation_data(&signed, &signer.crl(&[]));
        assert!(stored.starts_with(&signed));
        let report = validate(&python, &signer, &stored);
        assert_eq!(report["dss"]["certificates"], 4, "{report:#}");
        assert_eq!(report["dss"]["crls"], 1, "{report:#}");
        let signature = &report["signatures"][0];
        assert_good(signature, "ENTIRE_REVISION");
        assert_eq!(signature["docmdp_ok"], true, "{report:#}");
        assert_eq!(signature["lt"]["trusted"], true, "{report:#}");
        assert_eq!(signature["lt"]["time_stamp_trusted"], true, "{report:#}");

        // A second store update adds to the first (pyHanko counts certificates once per
        // issuer and serial number, CRLs as they are listed).
        let again = signer.with_validation_data(&stored, &signer.crl(&[]));
        let report = validate(&python, &signer, &again);
        assert_eq!(report["dss"]["crls"], 2, "{report:#}");
        assert_eq!(report["dss"]["certificates"], 4, "{report:#}");
        assert_good(&report["signatures"][0], "ENTIRE_REVISION");
    }
}

#[test]
fn a_stored_crl_that_revokes_the_signer_fails_long_term_validation() {
    let Some(python) = python() else { return };
    let signer = signer();
    let signed = signer.sign(&hello_pdf(false));
    let revoked = signer.with_validation_data(&signed, &signer.crl(&[&signer.certificate]));
    let report = validate(&python, &signer, &revoked);
    assert_eq!(report["dss"]["crls"], 1, "{report:#}");
    assert_eq!(
        report["signatures"][0]["lt"]["trusted"], false,
        "{report:#}"
    );
}

/// Damaged PDFs (cut anywhere, a byte changed anywhere) are signed or refused, never a
/// panic, and a signature is never made over a file the reader had to repair.
#[test]
fn damaged_pdfs_are_refused_or_signed_without_panicking() {
    let sources = [hello_pdf(false), hello_pdf(true)];
    let fake_cms = |_: [u8; 32]| Ok::<_, PkiError>(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    let mut options = PadesOptions::new(now_s());
    options.contents_bytes = 64;
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for pdf in &sources {
        for length in 0..pdf.len() {
            let outcome = sign_pdf(&pdf[..length], &options, fake_cms);
            *outcomes
                .entry(outcome.map_or_else(|e| e.code(), |_| "signed"))
                .or_default() += 1;
        }
        for at in 0..pdf.len() {
            for replacement in [b'0', b' ', b'<', b'/', 0xff] {
                let mut changed = pdf.clone();
                changed[at] = replacement;
                let outcome = sign_pdf(&changed, &options, fake_cms);
                if let Ok(update) = &outcome {
                    let signed = [&changed[..], update].concat();
                    assert!(lopdf::Document::load_mem(&signed).is_ok());
                }
                *outcomes
                    .entry(outcome.map_or_else(|e| e.code(), |_| "signed"))
                    .or_default() += 1;
            }
        }
    }
    assert!(
        outcomes["not_a_pdf"] > 0 && outcomes["signed"] > 0,
        "{outcomes:?}"
    );
}
