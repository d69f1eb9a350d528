//! The notary's envelopes: opened for a disposable certificate, the signed manifest kept
//! (its files and destinations) or refused with its evidence, each file kept only as the
//! manifest states it, and nothing moved for another client or out of turn.

use crate::fixtures::*;
use sceau_domain::envelope::{
    Arrival, Destination, FileEntry, FileName, Manifest, ManifestCheck, Refusal,
};
use sceau_store::evidence::envelope_subject;
use sceau_store::{
    EnvelopeState, FilePlan, ManifestPlan, NewEnvelope, ReceivedFile, SignedManifest,
};

const GOOD: ManifestCheck = ManifestCheck {
    valid: true,
    names_this_envelope: true,
    signature_verifies: true,
    certificate_usable: true,
};

fn new_envelope(client_id: i64, public_id: &str, serial: &str) -> NewEnvelope {
    NewEnvelope {
        public_id: public_id.to_owned(),
        client_id,
        certificate_serial: serial.to_owned(),
        certificate_expires_at_s: NOW + 600,
        now_s: NOW,
    }
}

fn manifest(public_id: &str, serial: &str) -> Manifest {
    Manifest {
        envelope: public_id.to_owned(),
        certificate: serial.to_owned(),
        files: vec![
            FileEntry {
                name: FileName::parse("contrat signé.pdf").unwrap(),
                size: 1_234,
                sha256: [1; 32],
            },
            FileEntry {
                name: FileName::parse("empty").unwrap(),
                size: 0,
                sha256: [2; 32],
            },
        ],
        destinations: vec![Destination {
            email: Some("bob@example.org".parse().unwrap()),
            phone: Some("+33687654321".parse().unwrap()),
        }],
    }
}

fn signed(client_id: i64, manifest: &Manifest, check: ManifestCheck, now_s: i64) -> SignedManifest {
    let canonical = manifest.canonical().unwrap();
    SignedManifest {
        public_id: manifest.envelope.clone(),
        client_id,
        manifest: check.valid.then(|| manifest.clone()),
        sent_sha256: sha256(canonical.as_bytes()),
        check,
        now_s,
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn received(client_id: i64, public_id: &str, arrival: Arrival, now_s: i64) -> ReceivedFile {
    ReceivedFile {
        public_id: public_id.to_owned(),
        client_id,
        arrival,
        now_s,
    }
}

fn arrival(index: usize, size: u64, byte: u8) -> Arrival {
    Arrival {
        index,
        size,
        sha256: [byte; 32],
    }
}

#[tokio::test]
async fn a_manifest_is_kept_then_each_file_as_it_states_it() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let bob = f.client(0, 0).await;
        let opened = f
            .store
            .create_envelope(new_envelope(alice.id, "env_a1", "d15a01"))
            .await
            .unwrap();
        assert_eq!(opened.state, EnvelopeState::Open, "{}", f.name);
        assert!(opened.files.is_empty() && opened.manifest.is_none());

        // Another client's manifest finds nothing and moves nothing.
        let stated = manifest("env_a1", "d15a01");
        let (plan, _) = f
            .store
            .sign_manifest(signed(bob.id, &stated, GOOD, NOW + 1))
            .await
            .unwrap();
        assert_eq!(plan, ManifestPlan::NotFound, "{}", f.name);

        let (plan, view) = f
            .store
            .sign_manifest(signed(alice.id, &stated, GOOD, NOW + 1))
            .await
            .unwrap();
        assert_eq!(plan, ManifestPlan::Accept, "{}", f.name);
        let view = view.unwrap();
        assert_eq!(view.state, EnvelopeState::Receiving);
        assert_eq!(
            view.manifest.as_deref(),
            Some(stated.canonical().unwrap().as_str())
        );
        assert_eq!(
            view.manifest_sha256,
            Some(sha256(stated.canonical().unwrap().as_bytes()))
        );
        let files: Vec<_> = view
            .files
            .iter()
            .map(|file| {
                (
                    file.position,
                    file.name.as_str(),
                    file.size,
                    file.received_at_s,
                )
            })
            .collect();
        assert_eq!(
            files,
            [(0, "contrat signé.pdf", 1_234, None), (1, "empty", 0, None)],
            "{}",
            f.name
        );
        assert_eq!(view.destinations.len(), 1);
        assert_eq!(view.destinations[0].phone.as_deref(), Some("+33687654321"));

        // A second manifest is not taken.
        let (plan, _) = f
            .store
            .sign_manifest(signed(alice.id, &stated, GOOD, NOW + 2))
            .await
            .unwrap();
        assert_eq!(plan, ManifestPlan::NotOpen);

        let (plan, view) = f
            .store
            .receive_file(received(alice.id, "env_a1", arrival(1, 0, 2), NOW + 3))
            .await
            .unwrap();
        assert_eq!(plan, FilePlan::Keep { last: false }, "{}", f.name);
        assert_eq!(view.unwrap().files[1].received_at_s, Some(NOW + 3));
        let (plan, _) = f
            .store
            .receive_file(received(alice.id, "env_a1", arrival(1, 0, 2), NOW + 4))
            .await
            .unwrap();
        assert_eq!(plan, FilePlan::AlreadyReceived);
        let (plan, view) = f
            .store
            .receive_file(received(alice.id, "env_a1", arrival(0, 1_234, 1), NOW + 5))
            .await
            .unwrap();
        assert_eq!(plan, FilePlan::Keep { last: true }, "{}", f.name);
        let view = view.unwrap();
        assert!(view.files.iter().all(|file| file.received_at_s.is_some()));
        assert_eq!(view.state, EnvelopeState::Receiving);

        let listed = f.store.client_envelopes(alice.id, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].files.len(), 2);
        assert!(
            f.store
                .client_envelopes(bob.id, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let records = f.store.evidence(&envelope_subject(view.id)).await.unwrap();
        assert!(records.is_empty(), "nothing refused: {records:?}");
    })
    .await;
}

#[tokio::test]
async fn a_refused_manifest_or_file_ends_the_envelope_with_its_evidence() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        // A manifest whose signature does not verify.
        let opened = f
            .store
            .create_envelope(new_envelope(alice.id, "env_r1", "d15b01"))
            .await
            .unwrap();
        let stated = manifest("env_r1", "d15b01");
        let forged = ManifestCheck {
            signature_verifies: false,
            ..GOOD
        };
        let (plan, view) = f
            .store
            .sign_manifest(signed(alice.id, &stated, forged, NOW + 1))
            .await
            .unwrap();
        assert_eq!(
            plan,
            ManifestPlan::Refuse(Refusal::ManifestSignatureInvalid),
            "{}",
            f.name
        );
        let view = view.unwrap();
        assert_eq!(view.state, EnvelopeState::Refused);
        assert_eq!(view.refusal.as_deref(), Some("manifest_signature_invalid"));
        assert!(
            view.files.is_empty() && view.manifest.is_none(),
            "nothing kept"
        );
        let records = f
            .store
            .evidence(&envelope_subject(opened.id))
            .await
            .unwrap();
        assert_eq!(records.len(), 1, "{}", f.name);
        assert_eq!(records[0].kind, "envelope.refused");
        let text = String::from_utf8(records[0].record.clone()).unwrap();
        assert!(text.contains("\"event\":\"SubmissionRejection\""), "{text}");
        assert!(
            text.contains("\"reason\":\"manifest_signature_invalid\""),
            "{text}"
        );
        let sent = sha256(stated.canonical().unwrap().as_bytes());
        assert!(text.contains(&hex::encode(sent)), "{text}");

        // A file that is not the one the manifest states.
        f.store
            .create_envelope(new_envelope(alice.id, "env_r2", "d15b02"))
            .await
            .unwrap();
        let stated = manifest("env_r2", "d15b02");
        f.store
            .sign_manifest(signed(alice.id, &stated, GOOD, NOW + 1))
            .await
            .unwrap();
        let (plan, view) = f
            .store
            .receive_file(received(alice.id, "env_r2", arrival(0, 1_234, 9), NOW + 2))
            .await
            .unwrap();
        assert_eq!(
            plan,
            FilePlan::Refuse(Refusal::DigestMismatch { index: 0 }),
            "{}",
            f.name
        );
        let view = view.unwrap();
        assert_eq!(view.state, EnvelopeState::Refused);
        assert_eq!(view.refusal.as_deref(), Some("file_digest_mismatch"));
        let (plan, _) = f
            .store
            .receive_file(received(alice.id, "env_r2", arrival(1, 0, 2), NOW + 3))
            .await
            .unwrap();
        assert_eq!(
            plan,
            FilePlan::NotReceiving,
            "a refused envelope takes nothing"
        );
        let records = f.store.evidence(&envelope_subject(view.id)).await.unwrap();
        assert_eq!(records.len(), 1);
        let text = String::from_utf8(records[0].record.clone()).unwrap();
        assert!(text.contains("\"file\":0"), "{text}");
        assert!(text.contains("\"manifest_sha256\""), "{text}");
    })
    .await;
}

#[tokio::test]
async fn an_envelope_expires_with_its_disposable_certificate() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        f.store
            .create_envelope(new_envelope(alice.id, "env_x1", "d15c01"))
            .await
            .unwrap();
        let stated = manifest("env_x1", "d15c01");
        let (plan, view) = f
            .store
            .sign_manifest(signed(alice.id, &stated, GOOD, NOW + 600))
            .await
            .unwrap();
        assert_eq!(plan, ManifestPlan::Expire, "{}", f.name);
        assert_eq!(view.unwrap().state, EnvelopeState::Expired);

        f.store
            .create_envelope(new_envelope(alice.id, "env_x2", "d15c02"))
            .await
            .unwrap();
        let stated = manifest("env_x2", "d15c02");
        f.store
            .sign_manifest(signed(alice.id, &stated, GOOD, NOW + 1))
            .await
            .unwrap();
        let (plan, view) = f
            .store
            .receive_file(received(alice.id, "env_x2", arrival(1, 0, 2), NOW + 600))
            .await
            .unwrap();
        assert_eq!(plan, FilePlan::Expire, "{}", f.name);
        let view = view.unwrap();
        assert_eq!(view.state, EnvelopeState::Expired);
        assert!(view.files.iter().all(|file| file.received_at_s.is_none()));

        // One envelope per disposable certificate.
        let again = f
            .store
            .create_envelope(new_envelope(alice.id, "env_x3", "d15c02"))
            .await;
        assert!(
            again.is_err(),
            "{}: a certificate serves one envelope",
            f.name
        );
        assert!(f.store.envelope("env_x3").await.unwrap().is_none());
    })
    .await;
}
