//! The ASiC-E container checked with real tools: `zipinfo` and `unzip` read it,
//! `openssl` recomputes the manifest's digests and verifies the CAdES-B-T signature over
//! it against sceau's root; the checker accepts it and refuses tampered copies; the
//! writer refuses files that are not what the caller announced.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sceau_notary::asic::{
    self, AsicError, ContainerFile, MANIFEST_NAME, MIMETYPE, SIGNATURE_NAME, Written,
};
use sceau_pki::{DetachedSignature, FileKeystore, KeyLabel, Keystore, Pki, sign_detached};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Whether `tool` can run; when it cannot, the test says so and skips, except on CI
/// (`CI=true`) where it fails.
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("-h").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is not installed (CI=true: every tool must be)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Runs `program args` in `directory` (UTF-8 locale): success, stdout, stderr.
fn run(directory: &Path, program: &str, args: &[&str]) -> (bool, Vec<u8>, String) {
    let output = Command::new(program)
        .args(args)
        .current_dir(directory)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|error| panic!("run {program}: {error}"));
    (
        output.status.success(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A real authority with its TSA, and a client's key and certificate.
struct Signer {
    _directory: tempfile::TempDir,
    keystore: Arc<dyn Keystore>,
    pki: Pki,
    key: KeyLabel,
    certificate: sceau_pki::Issued,
}

impl Signer {
    fn new() -> Signer {
        let directory = tempfile::tempdir().unwrap();
        let keystore: Arc<dyn Keystore> =
            Arc::new(FileKeystore::open(&directory.path().join("keys"), &[9; 32]).unwrap());
        let pki = Pki::open_or_create(
            Arc::clone(&keystore),
            &directory.path().join("pki"),
            "sceau",
            "1.2.3.4.1".parse().unwrap(),
            now_s() - 60,
        )
        .unwrap();
        let key = KeyLabel::new("client-20").unwrap();
        keystore.generate(&key).unwrap();
        let certificate = pki
            .authority
            .issue_client(&key, "Claire Dubois", now_s() - 60, 3_600)
            .unwrap();
        Signer {
            _directory: directory,
            keystore,
            pki,
            key,
            certificate,
        }
    }

    /// A detached CAdES-B-T signature over content whose SHA-256 is `digest`.
    fn sign(&self, digest: [u8; 32]) -> Result<Vec<u8>, sceau_pki::PkiError> {
        sign_detached(
            Arc::clone(&self.keystore),
            &DetachedSignature {
                key: &self.key,
                certificate: &self.certificate,
                chain: &[self.pki.authority.issuing()],
                content_digest: digest,
                signing_time_s: now_s(),
                time_stamp: Some(&self.pki.tsa),
            },
        )
    }
}

fn file(name: &str, bytes: &[u8]) -> ContainerFile<Cursor<Vec<u8>>> {
    ContainerFile {
        name: name.to_owned(),
        media_type: asic::media_type_for_name(name).to_owned(),
        content: Cursor::new(bytes.to_vec()),
        size: bytes.len() as u64,
        sha256: Sha256::digest(bytes).into(),
    }
}

/// Bytes that do not compress and differ at every offset.
fn pseudo_random(length: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

const ACCENTED: &str = "résumé été.txt";

fn three_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty.txt", Vec::new()),
        (
            ACCENTED,
            "Contrat signé à Lyon, 3 pages.\n".as_bytes().to_vec(),
        ),
        ("scan.bin", pseudo_random(3 * 1024 * 1024 + 17)),
    ]
}

fn write(signer: &Signer, files: &[(&str, Vec<u8>)]) -> Written<Cursor<Vec<u8>>> {
    asic::write_container(
        Cursor::new(Vec::new()),
        files
            .iter()
            .map(|(name, bytes)| file(name, bytes))
            .collect(),
        now_s(),
        |digest| signer.sign(digest),
    )
    .unwrap()
}

#[test]
fn a_container_of_three_files_reads_with_unzip_and_verifies_with_openssl() {
    if !have("unzip") || !have("zipinfo") || !have("openssl") {
        return;
    }
    let signer = Signer::new();
    let files = three_files();
    let written = write(&signer, &files);
    let container = written.sink.into_inner();
    let directory = tempfile::tempdir().unwrap();
    let path = |name: &str| directory.path().join(name);
    std::fs::write(path("envelope.asice"), &container).unwrap();
    std::fs::write(
        path("root.pem"),
        signer.pki.authority.root().to_pem().unwrap(),
    )
    .unwrap();

    // The first bytes say what the file is: `mimetype` stored with no extra field, its
    // content at offset 38.
    assert_eq!(&container[..4], b"PK\x03\x04");
    assert_eq!(&container[8..10], [0, 0], "compression method STORED");
    assert_eq!(&container[28..30], [0, 0], "no extra field");
    assert_eq!(&container[30..38], b"mimetype");
    assert_eq!(&container[38..38 + MIMETYPE.len()], MIMETYPE.as_bytes());

    // zipinfo lists `mimetype` first and stored, then the files, the manifest, the
    // signature.
    let (listed, names, error) = run(directory.path(), "zipinfo", &["-1", "envelope.asice"]);
    assert!(listed, "{error}");
    let names = String::from_utf8(names).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(
        names,
        [
            "mimetype",
            "empty.txt",
            ACCENTED,
            "scan.bin",
            MANIFEST_NAME,
            SIGNATURE_NAME
        ]
    );
    let (listed, long, error) = run(directory.path(), "zipinfo", &["envelope.asice"]);
    assert!(listed, "{error}");
    let long = String::from_utf8(long).unwrap();
    let mimetype_line = long
        .lines()
        .find(|line| line.ends_with(" mimetype"))
        .expect("a mimetype line");
    assert!(mimetype_line.contains(" stor "), "{mimetype_line}");
    let (tested, output, error) = run(directory.path(), "unzip", &["-t", "envelope.asice"]);
    assert!(tested, "{error}{}", String::from_utf8_lossy(&output));

    // unzip gives back every file as it was.
    for (name, bytes) in &files {
        let (extracted, output, error) =
            run(directory.path(), "unzip", &["-p", "envelope.asice", name]);
        assert!(extracted, "{name}: {error}");
        assert!(output == *bytes, "{name} differs once extracted");
        std::fs::write(path(&format!("{}.out", bytes.len())), &output).unwrap();
    }

    // The manifest's digests are the files' as openssl computes them.
    let (extracted, manifest, error) = run(
        directory.path(),
        "unzip",
        &["-p", "envelope.asice", MANIFEST_NAME],
    );
    assert!(extracted, "{error}");
    assert_eq!(manifest, written.manifest);
    std::fs::write(path("ASiCManifest.xml"), &manifest).unwrap();
    let parsed = asic::parse_manifest(&manifest).unwrap();
    assert_eq!(parsed.references.len(), files.len());
    for ((name, bytes), reference) in files.iter().zip(&parsed.references) {
        assert_eq!(reference.name, *name);
        let input = format!("{}.out", bytes.len());
        let (hashed, digest, error) = run(
            directory.path(),
            "openssl",
            &["dgst", "-sha256", "-binary", &input],
        );
        assert!(hashed, "{error}");
        assert_eq!(digest, reference.sha256, "{name}");
        let base64 = base64_of(directory.path(), &input);
        let text = String::from_utf8(manifest.clone()).unwrap();
        assert!(
            text.contains(&format!("<ds:DigestValue>{base64}</ds:DigestValue>")),
            "{name}: {base64} not in {text}"
        );
    }

    // The signature over the manifest verifies, and fails on a manifest one byte off.
    let (extracted, signature, error) = run(
        directory.path(),
        "unzip",
        &["-p", "envelope.asice", SIGNATURE_NAME],
    );
    assert!(extracted, "{error}");
    assert_eq!(signature, written.signature);
    std::fs::write(path("signature.p7s"), &signature).unwrap();
    let verify = |content: &str| {
        run(
            directory.path(),
            "openssl",
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "signature.p7s",
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
    let (verified, _, error) = verify("ASiCManifest.xml");
    assert!(
        verified && error.contains("Verification successful"),
        "{error}"
    );
    let mut changed = manifest.clone();
    let last = changed.len() - 3;
    changed[last] ^= 0x01;
    std::fs::write(path("changed.xml"), &changed).unwrap();
    let (verified, _, error) = verify("changed.xml");
    assert!(!verified, "a changed manifest verified: {error}");

    // The signature is CAdES-B-T: it carries a signature time-stamp.
    let (printed, text, error) = run(
        directory.path(),
        "openssl",
        &[
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            "signature.p7s",
        ],
    );
    assert!(printed, "{error}");
    assert!(
        String::from_utf8_lossy(&text).contains("id-smime-aa-timeStampToken"),
        "no signature time-stamp"
    );

    // The checker agrees, and hands back what a CMS verifier needs.
    let checked = asic::check_container(Cursor::new(container)).unwrap();
    assert_eq!(checked.manifest, written.manifest);
    assert_eq!(checked.signature, written.signature);
    assert_eq!(checked.references, parsed.references);
}

fn base64_of(directory: &Path, input: &str) -> String {
    let (encoded, output, error) = run(
        directory,
        "sh",
        &[
            "-c",
            &format!("openssl dgst -sha256 -binary '{input}' | base64"),
        ],
    );
    assert!(encoded, "{error}");
    String::from_utf8(output).unwrap().trim().to_owned()
}

/// A container's entries, in order: name, bytes, compression method.
type Entries = Vec<(String, Vec<u8>, CompressionMethod)>;

fn entries_of(container: &[u8]) -> Entries {
    let mut archive = ZipArchive::new(Cursor::new(container)).unwrap();
    (0..archive.len())
        .map(|index| {
            let mut entry = archive.by_index(index).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            (
                entry.name().unwrap().into_owned(),
                bytes,
                entry.compression(),
            )
        })
        .collect()
}

fn zip_of(entries: &Entries) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes, method) in entries {
        zip.start_file(
            name.as_str(),
            SimpleFileOptions::default().compression_method(*method),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn check(container: Vec<u8>) -> Result<(), AsicError> {
    asic::check_container(Cursor::new(container)).map(|_| ())
}

#[test]
fn the_checker_refuses_tampered_containers() {
    let signer = Signer::new();
    let files = vec![
        ("a.txt", b"first".to_vec()),
        (ACCENTED, b"second".to_vec()),
        ("c.pdf", b"%PDF-1.7 third".to_vec()),
    ];
    let container = write(&signer, &files).sink.into_inner();
    assert!(check(container.clone()).is_ok());
    let good = entries_of(&container);
    // Rebuilt by another ZIP writer, as is: still accepted (the check is of the
    // container, not of our writer's bytes).
    assert!(check(zip_of(&good)).is_ok());

    let index_of = |name: &str| good.iter().position(|entry| entry.0 == name).unwrap();
    let mut changed = good.clone();
    changed[index_of(ACCENTED)].1[0] ^= 0x20;
    assert!(
        matches!(check(zip_of(&changed)), Err(AsicError::FileChanged(name)) if name == ACCENTED)
    );

    let mut moved = good.clone();
    let mimetype = moved.remove(0);
    moved.insert(1, mimetype);
    assert!(matches!(
        check(zip_of(&moved)),
        Err(AsicError::MimetypeNotFirst)
    ));

    let mut compressed = good.clone();
    compressed[0].2 = CompressionMethod::Deflated;
    assert!(matches!(
        check(zip_of(&compressed)),
        Err(AsicError::MimetypeNotStored)
    ));

    let mut wrong_type = good.clone();
    wrong_type[0].1 = b"application/vnd.etsi.asic-s+zip".to_vec();
    assert!(matches!(
        check(zip_of(&wrong_type)),
        Err(AsicError::MimetypeContent)
    ));

    let mut missing = good.clone();
    missing.remove(index_of("c.pdf"));
    assert!(
        matches!(check(zip_of(&missing)), Err(AsicError::FileMissing(name)) if name == "c.pdf")
    );

    let mut extra = good.clone();
    extra.push((
        "d.txt".into(),
        b"unsigned".to_vec(),
        CompressionMethod::Stored,
    ));
    assert!(matches!(check(zip_of(&extra)), Err(AsicError::FileUnlisted(name)) if name == "d.txt"));

    let mut no_signature = good.clone();
    no_signature.remove(index_of(SIGNATURE_NAME));
    assert!(matches!(
        check(zip_of(&no_signature)),
        Err(AsicError::EntryMissing(SIGNATURE_NAME))
    ));

    let mut bad_manifest = good.clone();
    bad_manifest[index_of(MANIFEST_NAME)].1.truncate(40);
    assert!(matches!(
        check(zip_of(&bad_manifest)),
        Err(AsicError::ManifestMalformed(_))
    ));

    // One byte of a file changed in place (its CRC no longer matches either).
    let mut flipped = container.clone();
    let at = flipped
        .windows(14)
        .position(|window| window == b"%PDF-1.7 third")
        .unwrap();
    flipped[at + 9] ^= 0x01;
    assert!(check(flipped).is_err());

    // Not a ZIP at all, or cut short.
    assert!(check(b"not a zip".to_vec()).is_err());
    assert!(check(container[..container.len() / 2].to_vec()).is_err());
}

#[test]
fn the_writer_refuses_files_that_are_not_what_was_announced() {
    let signed = Cell::new(false);
    let sign = |_: [u8; 32]| -> Result<Vec<u8>, std::io::Error> {
        signed.set(true);
        Ok(b"a signature".to_vec())
    };
    let attempt = |files: Vec<ContainerFile<Cursor<Vec<u8>>>>| {
        let mut sink = Cursor::new(Vec::new());
        let result = asic::write_container(&mut sink, files, now_s(), sign).map(|_| ());
        (result, sink.into_inner())
    };

    // The bytes differ from the announced digest: an error, no signature asked for, and
    // what was written does not open as a ZIP.
    let mut liar = file("b.txt", b"what was hashed");
    liar.content = Cursor::new(b"what was uploaded".to_vec());
    liar.size = 17;
    let (result, written) = attempt(vec![file("a.txt", b"fine"), liar]);
    assert!(matches!(result, Err(AsicError::DigestMismatch { name }) if name == "b.txt"));
    assert!(!signed.get());
    assert!(ZipArchive::new(Cursor::new(written)).is_err());

    let mut longer = file("b.txt", b"12345");
    longer.size = 4;
    let (result, _) = attempt(vec![longer]);
    assert!(matches!(
        result,
        Err(AsicError::SizeMismatch {
            expected: 4,
            actual: 5,
            ..
        })
    ));
    let mut shorter = file("b.txt", b"12345");
    shorter.size = 6;
    let (result, _) = attempt(vec![shorter]);
    assert!(matches!(
        result,
        Err(AsicError::SizeMismatch {
            expected: 6,
            actual: 5,
            ..
        })
    ));
    assert!(!signed.get());

    for name in [
        "mimetype",
        "META-INF/signature.p7s",
        "META-INF/ASiCManifest.xml",
        "meta-inf/other.xml",
        "/etc/passwd",
        "../escape.txt",
        "a/../../b",
        "a\\b.txt",
        "",
    ] {
        let (result, written) = attempt(vec![file(name, b"x")]);
        assert!(
            matches!(result, Err(AsicError::NameUnsafe { .. })),
            "{name:?}"
        );
        assert!(
            written.is_empty(),
            "{name:?}: written before the names were checked"
        );
    }
    for names in [["a.txt", "a.txt"], ["a.txt", "A.TXT"], ["a", "a/b"]] {
        let (result, written) = attempt(names.iter().map(|name| file(name, b"x")).collect());
        assert!(
            matches!(result, Err(AsicError::NameDuplicate { .. })),
            "{names:?}"
        );
        assert!(written.is_empty());
    }
    let mut typed = file("a.txt", b"x");
    typed.media_type = "text/plain\"><evil".into();
    assert!(matches!(
        attempt(vec![typed]).0,
        Err(AsicError::MediaTypeInvalid(_))
    ));
    assert!(matches!(attempt(Vec::new()).0, Err(AsicError::NoFiles)));
    assert!(!signed.get());

    // The same files, honest: written, signed once.
    let (result, written) = attempt(vec![file("a.txt", b"fine"), file("b.txt", b"too")]);
    result.unwrap();
    assert!(signed.get());
    let checked = asic::check_container(Cursor::new(written)).unwrap();
    assert_eq!(checked.signature, b"a signature");
}

#[test]
fn a_signing_failure_fails_the_container() {
    let mut sink = Cursor::new(Vec::new());
    let result = asic::write_container(&mut sink, vec![file("a.txt", b"x")], now_s(), |_| {
        Err(std::io::Error::other(
            "the time-stamp authority did not answer",
        ))
    });
    let error = result.err().expect("an error");
    assert_eq!(error.code(), "asic_signing_failed");
    assert!(error.to_string().contains("did not answer"), "{error}");
    assert!(ZipArchive::new(Cursor::new(sink.into_inner())).is_err());
}
