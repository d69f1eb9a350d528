//! An envelope's evidence bundle over real HTTP: notarized (the station played by the
//! test), downloaded, checked offline with the root and the log's key alone, then every
//! changed part refused by name; its signatures and time-stamps checked by openssl from
//! the bundle's parts alone (and the file); a refused envelope's bundle proving its
//! refusal; and the envelope past its retention, its content deleted with evidence.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::notary::*;
use common::*;
use reqwest::StatusCode;
use sceau_server::envelope_bundle::{self, EnvelopeBundle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ALICE_PHONE: &str = "+33612345678";

impl Server {
    async fn fetch(&self, session: &Session, path: &str) -> Reply {
        self.send(
            self.http
                .get(self.url(path))
                .header("cookie", &session.cookie),
        )
        .await
    }

    /// Opens an envelope of `files`, signs and sends its manifest: its id.
    async fn envelope_of(&self, session: &Session, station: &Station, files: &Files) -> String {
        let reply = self
            .notary_post(
                session,
                "/api/v1/envelopes",
                json!({"public_key": station.public_key()}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let envelope = reply.json();
        let manifest = manifest_of(&envelope, files, Vec::new());
        let id = envelope["id"].as_str().unwrap().to_owned();
        let reply = self
            .notary_post(
                session,
                &format!("/api/v1/envelopes/{id}/manifest"),
                json!({"manifest": manifest, "signature": station.sign(manifest.as_bytes())}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        id
    }
}

/// The parts of a report that failed.
fn failed(report: &sceau_server::bundle::Report) -> Vec<&'static str> {
    envelope_bundle::failed(report)
}

/// The bundle changed by `change`, written back in canonical form.
fn changed(bundle: &[u8], change: impl FnOnce(&mut EnvelopeBundle)) -> Vec<u8> {
    let mut parsed: EnvelopeBundle = serde_json::from_slice(bundle).unwrap();
    change(&mut parsed);
    sceau_log::canonical(&serde_json::to_value(&parsed).unwrap()).unwrap()
}

/// Base64 of `text`'s bytes with the byte at `at` flipped.
fn flipped(text: &str, at: usize) -> String {
    let mut bytes = BASE64.decode(text).unwrap();
    bytes[at] ^= 1;
    BASE64.encode(bytes)
}

#[tokio::test]
async fn an_envelope_has_an_evidence_bundle_that_anyone_can_check_offline() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let station = Station::new();
    let files: Files = vec![
        (
            "procès-verbal.txt".to_owned(),
            "Procès-verbal de l'assemblée\n".as_bytes().to_vec(),
        ),
        (
            "données.bin".to_owned(),
            (0..=255_u8).cycle().take(70_000).collect(),
        ),
    ];
    let id = server.envelope_of(&session, &station, &files).await;
    let evidence = format!("/api/v1/envelopes/{id}/evidence");

    // Not notarized yet: no bundle.
    check_error(
        &server.fetch(&session, &evidence).await,
        409,
        "envelope_state",
    );

    let view = server
        .notarized_envelope(&session, ALICE_PHONE, &id, &files)
        .await;
    assert_eq!(view["evidence_url"], evidence.as_str());

    // Asked for at once: the service integrates the log itself rather than answer
    // evidence_pending while the integrator sleeps.
    let reply = server.fetch(&session, &evidence).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.header("content-disposition"),
        Some(format!("attachment; filename=\"{id}.evidence.json\"").as_str())
    );
    let bundle = reply.text.clone().into_bytes();
    // Nobody else's: no session, another client.
    let anonymous = server.page(&evidence, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    server.enroll_client("bob", "+33698765432", "0").await;
    let bob = server.sign_in("bob").await;
    check_error(
        &server.fetch(&bob, &evidence).await,
        404,
        "unknown_envelope",
    );

    // Offline: the root certificate and the log's key, fetched once, and nothing else.
    let root_pem = server.page("/pki/root.pem", None).await.text;
    let root = sceau_pki::Issued::from_pem_or_der(root_pem.as_bytes())
        .unwrap()
        .der;
    let key_text = server.page("/log/key", None).await.text;
    let key = sceau_log::VerifierKey::parse(key_text.trim()).unwrap();
    let report = envelope_bundle::check(&bundle, &root, &key);
    assert!(report.valid(), "{report:#?}");
    let parts: Vec<&str> = report.checks.iter().map(|check| check.part).collect();
    assert_eq!(
        parts,
        [
            "bundle",
            "checkpoint",
            "log entries",
            "envelope chain",
            "certificate chain",
            "station certificate",
            "submission",
            "file signature",
            "file signature",
            "container",
            "certificates",
        ]
    );
    let said = |part: &str| {
        report
            .checks
            .iter()
            .find(|check| check.part == part)
            .and_then(|check| check.outcome.clone().ok())
            .unwrap()
    };
    assert!(
        said("envelope chain").contains(
            "envelope.submitted → seal.sent → seal.verified → file.signed → file.signed → \
             envelope.archived"
        ),
        "{}",
        said("envelope chain")
    );
    assert!(said("station certificate").contains("used once and revoked"));
    assert!(
        said("submission").contains("signed by the station's key under its certificate"),
        "{}",
        said("submission")
    );
    assert!(said("file signature").contains("procès-verbal.txt"));
    assert!(
        said("file signature").contains("alice"),
        "{}",
        said("file signature")
    );

    // Each changed part is refused, by name.
    let refused = |bytes: &[u8]| failed(&envelope_bundle::check(bytes, &root, &key));
    let digest_changed = changed(&bundle, |b| {
        b.files[0].sha256 = hex::encode(Sha256::digest(b"another file"));
    });
    let found = refused(&digest_changed);
    for part in ["submission", "file signature", "container"] {
        assert!(found.contains(&part), "{part}: {found:?}");
    }
    let signature_changed = changed(&bundle, |b| {
        let length = BASE64.decode(&b.files[1].signature).unwrap().len();
        // A byte of the ECDSA signature value, near the end of the SignerInfo (before
        // the unsigned time-stamp): the DER still parses.
        let value = sceau_pki::signature_parts(&BASE64.decode(&b.files[1].signature).unwrap())
            .unwrap()
            .signature_value;
        let der = BASE64.decode(&b.files[1].signature).unwrap();
        let at = der
            .windows(value.len())
            .position(|window| window == value.as_slice())
            .unwrap();
        assert!(at + 10 < length);
        b.files[1].signature = flipped(&b.files[1].signature, at + 10);
    });
    assert_eq!(refused(&signature_changed), ["file signature"]);
    // The station's signature over the manifest, changed, or another key's: refused; left
    // out, the bundle says so; in a bundle of the first format, which had none, refused.
    let station_changed = changed(&bundle, |b| {
        let signature = b.manifest_signature.clone().unwrap();
        b.manifest_signature = Some(flipped(&signature, 40));
    });
    assert_eq!(refused(&station_changed), ["submission"]);
    let stranger_station = sceau_pki::station::StationKey::new();
    let manifest = serde_json::from_slice::<EnvelopeBundle>(&bundle)
        .unwrap()
        .manifest
        .unwrap();
    let signed_by_another = changed(&bundle, |b| {
        b.manifest_signature = Some(BASE64.encode(stranger_station.sign(manifest.as_bytes())));
    });
    assert_eq!(refused(&signed_by_another), ["submission"]);
    let left_out = changed(&bundle, |b| b.manifest_signature = None);
    let report = envelope_bundle::check(&left_out, &root, &key);
    assert!(report.valid(), "{report:#?}");
    let submission = report
        .checks
        .iter()
        .find(|check| check.part == "submission");
    let said_of_it = submission
        .and_then(|check| check.outcome.clone().ok())
        .unwrap();
    assert!(
        said_of_it.contains("rest on sceau's records alone"),
        "{said_of_it}"
    );
    // A bundle of the first format (no station signature) is still read, and said so.
    let first = changed(&bundle, |b| {
        b.format = envelope_bundle::FORMAT_1.to_owned();
        b.manifest_signature = None;
    });
    let report = envelope_bundle::check(&first, &root, &key);
    assert!(report.valid(), "{report:#?}");
    assert_eq!(
        report.checks[0].outcome,
        Ok("sceau-envelope-evidence/1, canonical JSON".to_owned())
    );
    let first_format = changed(&bundle, |b| {
        b.format = envelope_bundle::FORMAT_1.to_owned();
    });
    assert_eq!(refused(&first_format), ["bundle"]);
    let record_changed = changed(&bundle, |b| {
        let record = String::from_utf8(BASE64.decode(&b.records[0].record).unwrap()).unwrap();
        b.records[0].record = BASE64.encode(record.replace("procès-verbal", "procès-verbaL"));
    });
    let found = refused(&record_changed);
    assert!(found.contains(&"log entries"), "{found:?}");
    assert!(found.contains(&"envelope chain"), "{found:?}");
    let checkpoint_changed = changed(&bundle, |b| {
        let mut lines: Vec<String> = b.log.checkpoint.lines().map(str::to_owned).collect();
        lines[1] = (lines[1].parse::<u64>().unwrap() + 1).to_string();
        b.log.checkpoint = lines.join("\n") + "\n";
    });
    assert_eq!(refused(&checkpoint_changed), ["checkpoint"]);
    let directory = tempfile::tempdir().unwrap();
    let stranger = common::white_room(&directory.path().join("other").join("x.db"), START_S);
    let stranger_root = stranger.authority.root().der.clone();
    assert_eq!(
        failed(&envelope_bundle::check(&bundle, &stranger_root, &key)),
        [
            "file signature",
            "file signature",
            "container",
            "certificates"
        ]
    );
    let other_key =
        sceau_log::NoteSigner::new(key.name(), ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
            .unwrap()
            .verifier_key();
    assert_eq!(
        failed(&envelope_bundle::check(&bundle, &root, &other_key)),
        ["checkpoint"]
    );
    // A record left out breaks the chain; a bundle not in canonical form is refused.
    let shortened = changed(&bundle, |b| {
        b.records.remove(1);
    });
    assert!(refused(&shortened).contains(&"envelope chain"));
    let mut spaced = bundle.clone();
    spaced.insert(1, b' ');
    assert_eq!(refused(&spaced), ["bundle"]);

    // openssl agrees, from the bundle's parts (and each file, which the bundle names by
    // its digest only), as `sceau verify --extract` writes them.
    let dir = directory.path();
    std::fs::write(dir.join("root.pem"), &root_pem).unwrap();
    let contents = envelope_bundle::decode(&serde_json::from_slice(&bundle).unwrap()).unwrap();
    let mut signed = Vec::new();
    for (index, file) in contents.files.iter().enumerate() {
        std::fs::write(dir.join(format!("file-{index}.p7s")), &file.signature).unwrap();
        std::fs::write(dir.join(format!("file-{index}.tst")), &file.time_stamp).unwrap();
        std::fs::write(dir.join(format!("content-{index}")), &files[index].1).unwrap();
        signed.push((
            format!("file-{index}"),
            format!("content-{index}"),
            &file.signature,
        ));
    }
    let container = contents.container.as_ref().unwrap();
    std::fs::write(dir.join("ASiCManifest.xml"), &container.manifest).unwrap();
    std::fs::write(dir.join("ASiCManifest.p7s"), &container.signature).unwrap();
    let token = sceau_pki::signature_parts(&container.signature)
        .unwrap()
        .time_stamp_token
        .unwrap();
    std::fs::write(dir.join("ASiCManifest.tst"), token).unwrap();
    signed.push((
        "ASiCManifest".to_owned(),
        "ASiCManifest.xml".to_owned(),
        &container.signature,
    ));
    for (stem, content, signature) in signed {
        let value = sceau_pki::signature_parts(signature)
            .unwrap()
            .signature_value;
        std::fs::write(dir.join(format!("{stem}.signature-value.bin")), value).unwrap();
        let (ok, output) = openssl(
            dir,
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                &format!("{stem}.p7s"),
                "-content",
                &content,
                "-CAfile",
                "root.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        );
        assert!(
            ok && output.contains("Verification successful"),
            "{stem}: {output}"
        );
        let (ok, output) = openssl(
            dir,
            &[
                "ts",
                "-verify",
                "-token_in",
                "-in",
                &format!("{stem}.tst"),
                "-data",
                &format!("{stem}.signature-value.bin"),
                "-CAfile",
                "root.pem",
            ],
        );
        assert!(
            ok && output.contains("Verification: OK"),
            "{stem}: {output}"
        );
    }
    // The ASiC manifest lists each file's SHA-256, as the container holds it.
    let container_bytes = server
        .http
        .get(server.url(&format!("/api/v1/envelopes/{id}/container.asice")))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(&container_bytes)),
        container.sha256
    );
    let checked =
        sceau_notary::asic::check_container(std::io::Cursor::new(&container_bytes)).unwrap();
    assert_eq!(checked.manifest, container.manifest);

    // A refused envelope's bundle proves the refusal: its SubmissionRejection.
    let refused_id = server.envelope_of(&session, &station, &files).await;
    let mut other = files[0].1.clone();
    other[0] ^= 1;
    check_error(
        &server.put_file(&session, &refused_id, 0, other).await,
        422,
        "file_digest_mismatch",
    );
    let reply = server
        .fetch(
            &session,
            &format!("/api/v1/envelopes/{refused_id}/evidence"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let report = envelope_bundle::check(reply.text.as_bytes(), &root, &key);
    assert!(report.valid(), "{report:#?}");
    let refusal = report
        .checks
        .iter()
        .find(|check| check.part == "refusal")
        .and_then(|check| check.outcome.clone().ok())
        .unwrap();
    assert!(refusal.contains("SubmissionRejection"), "{refusal}");
    assert!(
        refusal.contains("file_digest_mismatch (file 0)"),
        "{refusal}"
    );
    let refused_bundle: EnvelopeBundle = serde_json::from_str(&reply.text).unwrap();
    assert!(refused_bundle.files.is_empty() && refused_bundle.container.is_none());
    let last = BASE64
        .decode(&refused_bundle.records.last().unwrap().record)
        .unwrap();
    let last: Value = serde_json::from_slice(&last).unwrap();
    assert_eq!(last["type"], "envelope.refused");
    assert_eq!(last["event"], "SubmissionRejection");

    // Past its retention, the content is deleted with evidence, and its downloads answer
    // 410; its bundle outlives it, its chain ending with the deletion.
    let digests: Vec<String> = files
        .iter()
        .map(|(_, bytes)| hex::encode(Sha256::digest(bytes)))
        .chain([hex::encode(container.sha256)])
        .collect();
    let archived = |digest: &str| server.archived_contents().iter().any(|name| name == digest);
    assert!(digests.iter().all(|digest| archived(digest)), "{digests:?}");
    assert!(
        server
            .service
            .archive_expired(false, 10)
            .await
            .unwrap()
            .is_empty()
    );
    server
        .clock
        .advance(sceau_app::notary::RETENTION_S_DEFAULT + 1);
    let listed = server.service.archive_expired(false, 10).await.unwrap();
    let listed: Vec<&str> = listed.iter().map(|view| view.public_id.as_str()).collect();
    assert_eq!(listed, [id.as_str()]);
    assert!(digests.iter().all(|digest| archived(digest)), "only listed");
    let deleted = server.service.archive_expired(true, 10).await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert!(
        !digests.iter().any(|digest| archived(digest)),
        "{digests:?}"
    );
    assert!(
        server
            .service
            .archive_expired(true, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let view = server.service.store.envelope(&id).await.unwrap().unwrap();
    let records = server
        .service
        .store
        .evidence(&sceau_store::evidence::envelope_subject(view.id))
        .await
        .unwrap();
    let last: Value = serde_json::from_slice(&records.last().unwrap().record).unwrap();
    assert_eq!(last["type"], "envelope.deleted");
    assert_eq!(last["envelope"]["id"], id.as_str());
    let session = server.sign_in("alice").await;
    check_error(
        &server
            .fetch(&session, &format!("/api/v1/envelopes/{id}/files/0"))
            .await,
        410,
        "archive_deleted",
    );
    let reply = server.fetch(&session, &evidence).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let report = envelope_bundle::check(reply.text.as_bytes(), &root, &key);
    assert!(report.valid(), "{report:#?}");
    let retention = report
        .checks
        .iter()
        .find(|check| check.part == "retention")
        .expect("the deletion is reported");
    assert!(
        retention
            .outcome
            .as_ref()
            .is_ok_and(|found| found.contains("deleted") && found.contains("its retention over")),
        "{retention:?}"
    );
    server.stop().await;
}
