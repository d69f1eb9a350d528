//! The notary over real HTTP, the station played by the test (its own P-256 key, as the
//! page's script and `sceau notarize` make one): an envelope of three files (a PDF, a
//! binary, a file with a non-ASCII name) opened, its manifest signed, its files uploaded
//! and held to the manifest, the seal read on the phone, and what was made checked by
//! `openssl cms -verify`, `openssl ts -verify`, `openssl verify -crl_check`, unzip and
//! pyHanko; then every way an envelope is refused, with nothing of it left in the
//! archive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::notary::*;
use common::*;
use reqwest::StatusCode;
use sceau_domain::envelope::Destination;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

const ALICE_PHONE: &str = "+33612345678";

impl Server {
    async fn open_envelope(&self, session: &Session, station: &Station) -> Value {
        let reply = self
            .notary_post(
                session,
                "/api/v1/envelopes",
                json!({"public_key": station.public_key()}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    async fn send_manifest(
        &self,
        session: &Session,
        envelope: &Value,
        manifest: &str,
        signature: &str,
    ) -> Reply {
        let id = envelope["id"].as_str().unwrap();
        self.notary_post(
            session,
            &format!("/api/v1/envelopes/{id}/manifest"),
            json!({"manifest": manifest, "signature": signature}),
        )
        .await
    }

    async fn fetch(&self, session: &Session, path: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .http
            .get(self.url(path))
            .header("cookie", &session.cookie)
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }

    /// Opens an envelope of `files`, signs and sends its manifest.
    async fn envelope_of(&self, session: &Session, station: &Station, files: &Files) -> Value {
        let envelope = self.open_envelope(session, station).await;
        let manifest = manifest_of(&envelope, files, Vec::new());
        let reply = self
            .send_manifest(
                session,
                &envelope,
                &manifest,
                &station.sign(manifest.as_bytes()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()
    }
}

fn random_bytes(length: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(length);
    while bytes.len() < length {
        bytes.extend_from_slice(&sceau_crypto::random_bytes::<32>());
    }
    bytes.truncate(length);
    bytes
}

/// The python of the virtual environment with pyHanko (as the notary crate's tests find
/// it); `None` outside CI when it is missing.
fn pyhanko() -> Option<PathBuf> {
    let path = std::env::var_os("SCEAU_PYHANKO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv-pdf/bin/python")
        });
    let ready = Command::new(&path)
        .args(["-c", "import pyhanko, pyhanko_certvalidator"])
        .output()
        .is_ok_and(|output| output.status.success());
    if ready {
        return Some(path);
    }
    assert!(
        !std::env::var("CI").is_ok_and(|value| value == "true"),
        "no python with pyhanko at {}",
        path.display()
    );
    eprintln!(
        "skipped pyHanko: no python with pyhanko at {}",
        path.display()
    );
    None
}

#[tokio::test]
async fn an_envelope_is_hashed_at_the_station_sealed_on_the_phone_signed_and_archived() {
    // At the real time: pyHanko judges the PDF's long-term validation data (the CRL in
    // its document security store, good for an hour) at the time it runs.
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let server = Server::start_with_channels(
        sceau_server::clock::ManualClock::starting_at(now_s),
        sceau_server::dispatch::Channels::dev_phone(),
    )
    .await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let station = Station::new();
    let files: Files = vec![
        ("contrat.pdf".to_owned(), hello_pdf()),
        ("données.bin".to_owned(), random_bytes(3 * 1024 * 1024 + 17)),
        (
            "報告 été.txt".to_owned(),
            "Procès-verbal\n".as_bytes().to_vec(),
        ),
    ];

    // Opened: a disposable certificate for the station's key, issued by sceau's CA.
    let envelope = server.open_envelope(&session, &station).await;
    assert_eq!(envelope["state"], "open");
    let id = envelope["id"].as_str().unwrap().to_owned();
    let station_certificate = BASE64
        .decode(envelope["certificate"].as_str().unwrap())
        .unwrap();
    assert_eq!(envelope["limits"]["files_max"], 20);

    // The manifest, signed by the station, names the files and a destination.
    let manifest = manifest_of(
        &envelope,
        &files,
        vec![Destination {
            email: Some("bob@example.org".parse().unwrap()),
            phone: Some("+33687654321".parse().unwrap()),
        }],
    );
    let reply = server
        .send_manifest(
            &session,
            &envelope,
            &manifest,
            &station.sign(manifest.as_bytes()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let view = reply.json();
    assert_eq!(view["state"], "receiving");
    assert_eq!(
        view["manifest_sha256"],
        hex::encode(Sha256::digest(manifest.as_bytes()))
    );

    // The files; the last one sends the seal, which says what is signed and for whom.
    let newest = server.newest_message_id(ALICE_PHONE).await;
    for (index, (_, bytes)) in files.iter().enumerate() {
        let reply = server.put_file(&session, &id, index, bytes.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let expected = if index + 1 == files.len() {
            "awaiting_seal"
        } else {
            "receiving"
        };
        assert_eq!(reply.json()["state"], expected);
    }
    let text = server.message_after(ALICE_PHONE, newest).await;
    let first_digest = hex::encode(&Sha256::digest(&files[0].1)[..4]);
    assert!(
        text.contains("3 files for bob@example.org +33687654321 ("),
        "both addresses of the destination: {text}"
    );
    assert!(text.contains(&first_digest), "{text}");
    assert!(text.contains("\"contrat.pdf\""), "{text}");
    let seal = seal_in(&text);
    assert_eq!(seal.len(), 8, "{text}");

    // A wrong seal is counted; the right one notarizes.
    let wrong = if seal == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let reply = server
        .notary_post(
            &session,
            &format!("/api/v1/envelopes/{id}/seal"),
            json!({"seal": wrong}),
        )
        .await;
    check_error(&reply, 422, "wrong_seal");
    let reply = server
        .notary_post(
            &session,
            &format!("/api/v1/envelopes/{id}/seal"),
            json!({"seal": seal}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let view = reply.json();
    assert_eq!(view["state"], "notarized", "{view}");
    assert!(view["waiting"].is_null());

    // Each file and its detached signature, checked by openssl with sceau's root alone.
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let (_, root) = server.fetch(&session, "/pki/root.pem").await;
    std::fs::write(dir.join("root.pem"), &root).unwrap();
    let (_, issuing) = server.fetch(&session, "/pki/issuing.pem").await;
    std::fs::write(dir.join("issuing.pem"), &issuing).unwrap();
    let (_, tsa) = server.fetch(&session, "/pki/tsa.pem").await;
    std::fs::write(dir.join("tsa.pem"), &tsa).unwrap();
    for (index, (name, bytes)) in files.iter().enumerate() {
        let (status, downloaded) = server
            .fetch(&session, &format!("/api/v1/envelopes/{id}/files/{index}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&downloaded, bytes, "{name} as archived");
        let (status, signature) = server
            .fetch(
                &session,
                &format!("/api/v1/envelopes/{id}/files/{index}/signature.p7s"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        std::fs::write(dir.join("file"), bytes).unwrap();
        std::fs::write(dir.join("file.p7s"), &signature).unwrap();
        let (ok, output) = openssl(
            dir,
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "file.p7s",
                "-content",
                "file",
                "-CAfile",
                "root.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        );
        assert!(ok, "{name}: {output}");
        // Its signature time-stamp, taken out of the CMS, verifies with openssl ts.
        let parts = sceau_pki::signature_parts(&signature).unwrap();
        let token = parts.time_stamp_token.expect("a signature time-stamp");
        std::fs::write(dir.join("token.der"), &token).unwrap();
        let digest = hex::encode(Sha256::digest(&parts.signature_value));
        let (ok, output) = openssl(
            dir,
            &[
                "ts",
                "-verify",
                "-token_in",
                "-in",
                "token.der",
                "-digest",
                &digest,
                "-CAfile",
                "root.pem",
            ],
        );
        assert!(
            ok && output.contains("Verification: OK"),
            "{name} time-stamp: {output}"
        );
    }

    // The station's certificate was used once and revoked (listed from the second after
    // its use): openssl refuses it at any time of its life.
    server.clock.advance(2);
    let at = (sceau_server::clock::Clock::now_s(&server.clock) - 1).to_string();
    std::fs::write(dir.join("station.der"), &station_certificate).unwrap();
    let (_, crl) = server.fetch(&session, "/pki/issuing.crl").await;
    std::fs::write(dir.join("issuing.crl"), &crl).unwrap();
    let (ok, _) = openssl(
        dir,
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "station.der",
            "-out",
            "station.pem",
        ],
    );
    assert!(ok);
    let (ok, _) = openssl(
        dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-out",
            "issuing-crl.pem",
        ],
    );
    assert!(ok);
    let (ok, output) = openssl(
        dir,
        &[
            "verify",
            "-attime",
            &at,
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "issuing-crl.pem",
            "station.pem",
        ],
    );
    assert!(!ok && output.contains("certificate revoked"), "{output}");
    assert!(
        !output.contains("expired"),
        "judged at a time of its life: {output}"
    );

    // The container: mimetype first and stored, the manifest's digests the files', its
    // signature over the manifest checked by openssl.
    let (status, container) = server
        .fetch(&session, &format!("/api/v1/envelopes/{id}/container.asice"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&container[30..38], b"mimetype");
    assert_eq!(
        u16::from_le_bytes([container[8], container[9]]),
        0,
        "stored"
    );
    let checked = sceau_notary::asic::check_container(std::io::Cursor::new(&container)).unwrap();
    let names: Vec<&str> = checked.references.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["contrat.pdf", "données.bin", "報告 été.txt"]);
    for (reference, (_, bytes)) in checked.references.iter().zip(&files) {
        assert_eq!(reference.sha256, <[u8; 32]>::from(Sha256::digest(bytes)));
    }
    std::fs::write(dir.join("ASiCManifest.xml"), &checked.manifest).unwrap();
    std::fs::write(dir.join("signature.p7s"), &checked.signature).unwrap();
    let (ok, output) = openssl(
        dir,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signature.p7s",
            "-content",
            "ASiCManifest.xml",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok, "container: {output}");
    std::fs::write(dir.join("envelope.asice"), &container).unwrap();
    let unzip = Command::new("unzip")
        .args(["-t", "envelope.asice"])
        .current_dir(dir)
        .output();
    if let Ok(unzip) = unzip {
        assert!(
            unzip.status.success(),
            "{}",
            String::from_utf8_lossy(&unzip.stdout)
        );
    }

    // The PDF, signed in PAdES and validated by pyHanko against sceau's root alone.
    let (status, signed_pdf) = server
        .fetch(
            &session,
            &format!("/api/v1/envelopes/{id}/files/0/signed.pdf"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(signed_pdf.starts_with(&files[0].1), "an incremental update");
    let (status, _) = server
        .fetch(
            &session,
            &format!("/api/v1/envelopes/{id}/files/1/signed.pdf"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "not a PDF");
    if let Some(python) = pyhanko() {
        std::fs::write(dir.join("signed.pdf"), &signed_pdf).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../sceau-notary/tests/pdf/validate.py");
        let output = Command::new(python)
            .arg(script)
            .arg(dir.join("root.pem"))
            .arg(dir.join("signed.pdf"))
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
        let signature = &report["signatures"][0];
        for field in ["intact", "valid", "trusted"] {
            assert_eq!(signature[field], true, "{field}: {report}");
        }
        // The signature covers its whole revision; what follows is the document
        // security store (PAdES-B-LT), a change the signature allows.
        assert_eq!(signature["coverage"], "ENTIRE_REVISION", "{report}");
        assert_eq!(signature["docmdp_ok"], true, "{report}");
        assert_eq!(signature["sub_filter"], "/ETSI.CAdES.detached", "{report}");
        for field in ["intact", "valid", "trusted"] {
            assert_eq!(
                signature["time_stamp"][field], true,
                "time-stamp {field}: {report}"
            );
        }
        assert!(report["dss"]["crls"].as_u64() >= Some(1), "{report}");
        assert_eq!(signature["lt"]["trusted"], true, "long-term: {report}");
    }

    // The wallet lists it; another client sees nothing of it.
    let reply = server
        .send(
            server
                .http
                .get(server.url("/api/v1/envelopes"))
                .header("cookie", &session.cookie),
        )
        .await;
    assert_eq!(reply.json()["envelopes"][0]["id"], id.as_str());
    server.enroll_client("bob", "+33698765432", "0").await;
    let bobs = server.sign_in("bob").await;
    let (status, _) = server
        .fetch(&bobs, &format!("/api/v1/envelopes/{id}/files/0"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    drop(alice);
}

#[tokio::test]
async fn an_envelope_that_is_not_what_the_station_signed_is_refused_and_nothing_is_kept() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let station = Station::new();
    let files: Files = vec![
        ("a.txt".to_owned(), b"first".to_vec()),
        ("b.bin".to_owned(), random_bytes(200_000)),
        ("empty".to_owned(), Vec::new()),
    ];

    // A key that is not P-256, or not a key: refused before anything is issued.
    let reply = server
        .notary_post(&session, "/api/v1/envelopes", json!({"public_key": "AAAA"}))
        .await;
    check_error(&reply, 422, "invalid_station_key");

    // A manifest signed by another key.
    let envelope = server.open_envelope(&session, &station).await;
    let manifest = manifest_of(&envelope, &files, Vec::new());
    let other = Station::new();
    let reply = server
        .send_manifest(
            &session,
            &envelope,
            &manifest,
            &other.sign(manifest.as_bytes()),
        )
        .await;
    check_error(&reply, 422, "manifest_signature_invalid");
    // Refused for good: even the right signature is too late.
    let reply = server
        .send_manifest(
            &session,
            &envelope,
            &manifest,
            &station.sign(manifest.as_bytes()),
        )
        .await;
    check_error(&reply, 409, "envelope_state");

    // A manifest naming another envelope's certificate (a certificate reused).
    let first = server.open_envelope(&session, &station).await;
    let second = server.open_envelope(&session, &station).await;
    let mut crossed = first.clone();
    crossed["id"] = second["id"].clone();
    let manifest = manifest_of(&crossed, &files, Vec::new());
    let reply = server
        .send_manifest(
            &session,
            &second,
            &manifest,
            &station.sign(manifest.as_bytes()),
        )
        .await;
    check_error(&reply, 422, "manifest_not_for_this_envelope");

    // Names that are paths, hide or are too long; the same name twice.
    for name in [
        "../etc/passwd",
        "a/b",
        "evil\u{202E}fdp.exe",
        &"x".repeat(300),
    ] {
        let envelope = server.open_envelope(&session, &station).await;
        let manifest = manifest_of(&envelope, &files, Vec::new())
            .replace("\"a.txt\"", &serde_json::to_string(name).unwrap());
        let reply = server
            .send_manifest(
                &session,
                &envelope,
                &manifest,
                &station.sign(manifest.as_bytes()),
            )
            .await;
        check_error(&reply, 422, "manifest_invalid");
    }
    let envelope = server.open_envelope(&session, &station).await;
    let manifest = manifest_of(&envelope, &files, Vec::new()).replace("\"b.bin\"", "\"a.txt\"");
    let reply = server
        .send_manifest(
            &session,
            &envelope,
            &manifest,
            &station.sign(manifest.as_bytes()),
        )
        .await;
    check_error(&reply, 422, "manifest_invalid");

    // Too many files for the limit.
    let many: Files = (0..21).map(|i| (format!("f{i}"), vec![i as u8])).collect();
    let envelope = server.open_envelope(&session, &station).await;
    let manifest = manifest_of(&envelope, &many, Vec::new());
    let reply = server
        .send_manifest(
            &session,
            &envelope,
            &manifest,
            &station.sign(manifest.as_bytes()),
        )
        .await;
    check_error(&reply, 422, "manifest_invalid");
    assert!(reply.text.contains("at most 20 files"), "{}", reply.text);

    // An upload cut in the middle keeps nothing and may be sent again; a file twice, an
    // index the manifest has not: refused without harm; a changed file refuses the
    // envelope and nothing of it stays in the archive.
    let envelope = server.envelope_of(&session, &station, &files).await;
    let id = envelope["id"].as_str().unwrap().to_owned();
    let reply = server.put_file(&session, &id, 0, b"first".to_vec()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    check_error(
        &server.put_file(&session, &id, 0, b"first".to_vec()).await,
        409,
        "file_already_received",
    );
    check_error(
        &server.put_file(&session, &id, 3, Vec::new()).await,
        404,
        "unknown_file",
    );
    let cut = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from(files[1].1[..50_000].to_vec())),
        Err(std::io::Error::other("the station went away")),
    ]);
    let cut_reply = server
        .http
        .put(server.url(&format!("/api/v1/envelopes/{id}/files/1")))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .body(reqwest::Body::wrap(http_body_util::StreamBody::new(
            futures_util::StreamExt::map(cut, |piece| piece.map(hyper::body::Frame::data)),
        )))
        .send()
        .await;
    if let Ok(response) = cut_reply {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let view = server
        .send(
            server
                .http
                .get(server.url(&format!("/api/v1/envelopes/{id}")))
                .header("cookie", &session.cookie),
        )
        .await
        .json();
    assert_eq!(view["state"], "receiving", "{view}");
    assert_eq!(view["files"][1]["received"], false);
    let mut changed = files[1].1.clone();
    changed[100] ^= 1;
    let reply = server.put_file(&session, &id, 1, changed).await;
    check_error(&reply, 422, "file_digest_mismatch");
    let reply = server.put_file(&session, &id, 2, Vec::new()).await;
    check_error(&reply, 409, "envelope_state");
    // A file longer than stated.
    let envelope = server.envelope_of(&session, &station, &files).await;
    let other_id = envelope["id"].as_str().unwrap().to_owned();
    let reply = server
        .put_file(&session, &other_id, 0, b"first!".to_vec())
        .await;
    check_error(&reply, 422, "file_size_mismatch");

    // Nothing of the refused envelopes is left in the archive: no file (not even an
    // upload's temporary one), no content in the database.
    assert_eq!(server.archived_contents(), Vec::<String>::new());

    // A seal typed for another envelope is a wrong seal for this one.
    let one: Files = vec![("one.txt".to_owned(), b"one".to_vec())];
    let newest = server.newest_message_id(ALICE_PHONE).await;
    let first = server.envelope_of(&session, &station, &one).await;
    let first_id = first["id"].as_str().unwrap();
    server
        .put_file(&session, first_id, 0, b"one".to_vec())
        .await;
    let first_seal = seal_in(&server.message_after(ALICE_PHONE, newest).await);
    let newest = server.newest_message_id(ALICE_PHONE).await;
    let second = server.envelope_of(&session, &station, &one).await;
    let second_id = second["id"].as_str().unwrap();
    server
        .put_file(&session, second_id, 0, b"one".to_vec())
        .await;
    let second_seal = seal_in(&server.message_after(ALICE_PHONE, newest).await);
    if first_seal != second_seal {
        let reply = server
            .notary_post(
                &session,
                &format!("/api/v1/envelopes/{second_id}/seal"),
                json!({"seal": first_seal}),
            )
            .await;
        check_error(&reply, 422, "wrong_seal");
    }
    let reply = server
        .notary_post(
            &session,
            &format!("/api/v1/envelopes/{second_id}/seal"),
            json!({"seal": second_seal}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["state"], "notarized");
}

/// A file is signed as a PDF too when its name says so or when its first bytes do: a PDF
/// without the extension gets its PAdES copy, a file named `.pdf` that is not one gets a
/// note, and any other file only its detached signature (the first bytes are those the
/// container's writer read).
#[tokio::test]
async fn a_file_is_signed_as_a_pdf_when_its_name_or_its_first_bytes_say_so() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let station = Station::new();
    let files: Files = vec![
        ("scan".to_owned(), hello_pdf()),
        ("fake.pdf".to_owned(), b"not a PDF at all".to_vec()),
        ("notes.txt".to_owned(), b"%PDX-1.7 almost".to_vec()),
        ("empty".to_owned(), Vec::new()),
    ];
    let envelope = server.envelope_of(&session, &station, &files).await;
    let id = envelope["id"].as_str().unwrap();
    let view = server
        .notarized_envelope(&session, ALICE_PHONE, id, &files)
        .await;
    let file = |index: usize| &view["files"][index];

    let url = file(0)["signed_pdf_url"]
        .as_str()
        .expect("a PDF by its bytes");
    assert!(file(0)["pdf_note"].is_null(), "{view}");
    let (status, signed) = server.fetch(&session, url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(signed.starts_with(&files[0].1), "an incremental update");
    assert!(signed.len() > files[0].1.len());

    assert!(file(1)["signed_pdf_url"].is_null(), "{view}");
    assert!(file(1)["pdf_note"].is_string(), "{view}");
    for index in [2, 3] {
        assert!(file(index)["signed_pdf_url"].is_null(), "{view}");
        assert!(file(index)["pdf_note"].is_null(), "{view}");
    }

    // Every file is kept as long as the envelope (a day past the station's certificate
    // until it was notarized), the signed PDF too.
    let now_s = sceau_server::clock::Clock::now_s(&server.clock);
    let at_least = now_s + 365 * 86_400;
    for (name, bytes) in &files {
        let kept = server.archive_retention(&Sha256::digest(bytes)).unwrap();
        assert!(kept >= at_least, "{name} kept until {kept}");
    }
    let kept = server.archive_retention(&Sha256::digest(&signed)).unwrap();
    assert!(kept >= at_least, "the signed PDF kept until {kept}");
}

/// The head of a `PUT` of file `index` of envelope `id` announcing `length` bytes.
fn file_put_head(
    server: &Server,
    session: &Session,
    id: &str,
    index: usize,
    length: usize,
) -> String {
    let host = server.base.strip_prefix("http://").unwrap();
    format!(
        "PUT /api/v1/envelopes/{id}/files/{index} HTTP/1.1\r\nHost: {host}\r\n\
         Origin: http://{host}\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n",
        cookie = session.cookie,
        csrf = session.csrf,
    )
}

/// Sends `head` and `body` on a new connection, and leaves it open.
async fn held_put(server: &Server, head: &str, body: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(server.base.strip_prefix("http://").unwrap())
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream
}

/// A `PUT` of `body` to `path` on a connection of its own: an upload refused before its
/// body is read closes its connection, which a pooled client could take up again.
async fn put_alone(server: &Server, session: &Session, path: &str, body: Vec<u8>) -> Reply {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = http
        .put(server.url(path))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("connection", "close")
        .body(body)
        .send()
        .await
        .unwrap();
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

/// The status of a `PUT` of an empty file to an envelope that does not exist: 404 when
/// the upload got a place (nothing is written), 429 or 503 when it did not.
async fn probe_status(server: &Server, session: &Session) -> u16 {
    let path = format!("/api/v1/envelopes/{}/files/0", "0".repeat(32));
    put_alone(server, session, &path, Vec::new())
        .await
        .status
        .as_u16()
}

/// Holds an upload (`head` and the first bytes of its body) until it has its place: the
/// probes that tell when it has may take a place themselves for a moment, and an upload
/// that arrives then is refused (429 or 503) and answered; it is then sent again, on a
/// new connection, until [`probe_status`] answers `status` (404 meanwhile: the uploads
/// held have not all reached their places yet).
async fn hold_placed(
    server: &Server,
    head: &str,
    body: &[u8],
    probe: &Session,
    status: u16,
) -> tokio::net::TcpStream {
    let mut stream = held_put(server, head, body).await;
    for _ in 0..6_000 {
        match probe_status(server, probe).await {
            found if found == status => return stream,
            404 => {
                let mut byte = [0_u8; 1];
                let waiting = matches!(
                    stream.try_read(&mut byte),
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
                );
                if !waiting {
                    stream = held_put(server, head, body).await;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => panic!("expected {status}, got {other}"),
        }
    }
    panic!("never {status}");
}

/// Envelope files received at once are capped per client (429 `too_many_uploads`: one
/// client cannot take every place) and per server (503 `uploads_busy`); the places come
/// back as the uploads end, and the uploads held meanwhile go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_uploads_at_once_are_capped_per_client_and_per_server() {
    let server = Server::start_with(|state| {
        state.limits.file_uploads_max = 5;
        // The uploads held below must outlast the whole test, however slow the machine.
        state.limits.body_idle_timeout = std::time::Duration::from_secs(600);
        state.limits.request_timeout = std::time::Duration::from_secs(600);
    })
    .await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    server.enroll_client("bob", "+33687654321", "0").await;
    let alice = server.sign_in("alice").await;
    let bob = server.sign_in("bob").await;
    let station = Station::new();
    let alice_files: Files = (0..5)
        .map(|index| (format!("part-{index}.bin"), random_bytes(64 * 1024)))
        .collect();
    let bob_files: Files = vec![("bob.bin".to_owned(), random_bytes(64 * 1024))];
    let alice_envelope = server.envelope_of(&alice, &station, &alice_files).await;
    let alice_id = alice_envelope["id"].as_str().unwrap();
    let bob_envelope = server.envelope_of(&bob, &Station::new(), &bob_files).await;
    let bob_id = bob_envelope["id"].as_str().unwrap();
    assert_eq!(
        probe_status(&server, &alice).await,
        404,
        "a place, nothing written"
    );

    // Alice's four uploads on their way take her share: her fifth is refused at once.
    let mut held = Vec::new();
    for (index, (_, bytes)) in alice_files.iter().enumerate().take(3) {
        let head = file_put_head(&server, &alice, alice_id, index, bytes.len());
        held.push((held_put(&server, &head, &bytes[..10]).await, index));
    }
    let fourth = &alice_files[3].1;
    let head = file_put_head(&server, &alice, alice_id, 3, fourth.len());
    held.push((
        hold_placed(&server, &head, &fourth[..10], &alice, 429).await,
        3,
    ));
    let path = format!("/api/v1/envelopes/{alice_id}/files/4");
    let reply = put_alone(&server, &alice, &path, alice_files[4].1.clone()).await;
    check_error(&reply, 429, "too_many_uploads");
    // Bob still gets a place; with his upload the server's five are taken, and an
    // upload of a client under their share is refused as the server's.
    assert_eq!(probe_status(&server, &bob).await, 404);
    let head = file_put_head(&server, &bob, bob_id, 0, bob_files[0].1.len());
    let mut bob_held = hold_placed(&server, &head, &bob_files[0].1[..10], &bob, 503).await;

    // The uploads held end, each kept; the places come back.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for (stream, index) in &mut held {
        stream
            .write_all(&alice_files[*index].1[10..])
            .await
            .unwrap();
        let mut answer = [0_u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200", "file {index}");
    }
    bob_held.write_all(&bob_files[0].1[10..]).await.unwrap();
    let mut answer = [0_u8; 12];
    bob_held.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let reply = server
        .put_file(&alice, alice_id, 4, alice_files[4].1.clone())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["state"], "awaiting_seal");
    assert_eq!(probe_status(&server, &alice).await, 404);
    assert_eq!(probe_status(&server, &bob).await, 404);
}
