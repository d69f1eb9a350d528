//! The notary's envelopes: opened for a station's disposable certificate (recorded with
//! the envelope), the signed manifest kept (its files and destinations) or refused with
//! its evidence, each file kept only as the manifest states it, and nothing moved for
//! another client or out of turn. The last file uses and revokes the certificate and sends
//! the seal; the right seal typed in the client's session seals the envelope, which is
//! then notarized, kept until its retention ends, and deleted once.

use crate::fixtures::*;
use sceau_domain::envelope::{
    Arrival, Destination, FileEntry, FileName, Manifest, ManifestCheck, Refusal,
};
use sceau_domain::limits::CLIENT_PAUSE_S;
use sceau_domain::reach::{MessageBudget, MessageKind, TooMany};
use sceau_store::evidence::{certificate_subject, envelope_subject};
use sceau_store::{
    ActedBy, Archive, ArchivedObject, CertificateKind, ClientRecord, Deposit,
    EnvelopeResendOutcome, EnvelopeSealOutcome, EnvelopeSealResend, EnvelopeState, EnvelopeView,
    FilePlan, FileReceipt, ManifestPlan, Medium, NewCertificate, NewEnvelope, NewMessage,
    NotarizedEnvelope, Paused, PreparedEnvelopeSeal, REVOKED_AFTER_USE, ReceivedFile,
    RevokeOutcome, SignedFile, SignedManifest, StoreError, StoredSeal, TypedEnvelopeSeal,
    UseOutcome,
};
use std::sync::Arc;

const GOOD: ManifestCheck = ManifestCheck {
    valid: true,
    names_this_envelope: true,
    signature_verifies: true,
    certificate_usable: true,
};

/// The holder certificate an envelope's seal consents to signing under: the client's
/// own (recorded by [`sealed`], before a notarization checks it).
fn signer_of(client: &ClientRecord) -> String {
    format!("5e{:04x}", client.id)
}

/// Records `client`'s holder certificate ([`signer_of`]) unless it is recorded: valid for
/// a year from `NOW`.
async fn holder_certificate(f: &Fixture, client: &ClientRecord) {
    let serial = signer_of(client);
    if f.store.certificate(&serial).await.unwrap().is_some() {
        return;
    }
    f.store
        .record_certificate(NewCertificate {
            serial: serial.clone(),
            kind: CertificateKind::Holder,
            client_id: Some(client.id),
            key_label: Some(format!("key-{serial}")),
            der: format!("holder-{serial}").into_bytes(),
            not_before_s: NOW,
            not_after_s: NOW + 365 * 86_400,
            names_serial: None,
            now_s: NOW,
        })
        .await
        .unwrap();
}

/// The disposable certificate issued for a station's key: no key label (sceau does not
/// hold the key), no client, ten minutes of life.
fn station_certificate(serial: &str) -> NewCertificate {
    NewCertificate {
        serial: serial.to_owned(),
        kind: CertificateKind::Station,
        client_id: None,
        key_label: None,
        der: format!("station-{serial}").into_bytes(),
        not_before_s: NOW,
        not_after_s: NOW + 600,
        names_serial: None,
        now_s: NOW,
    }
}

fn new_envelope(client_id: i64, public_id: &str, serial: &str) -> NewEnvelope {
    NewEnvelope {
        public_id: public_id.to_owned(),
        client_id,
        certificate: station_certificate(serial),
        open_max: 100,
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
        signature: station_signature(&manifest.envelope),
        check,
        now_s,
    }
}

/// What stands for the station's signature over an envelope's manifest.
fn station_signature(public_id: &str) -> Vec<u8> {
    format!("signature-of-{public_id}").into_bytes()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// The seal prepared for `client`'s envelope at `now_s` (nonce `nonce`), sent within a
/// budget of `seals_max` seals an hour.
pub(crate) fn prepared_seal(
    client: &ClientRecord,
    nonce: u8,
    seals_max: u32,
    now_s: i64,
) -> PreparedEnvelopeSeal {
    PreparedEnvelopeSeal {
        seal: StoredSeal {
            nonce: [nonce; 16],
            digits: 8,
            issued_at_s: now_s,
            expires_at_s: now_s + SEAL_S,
        },
        message: NewMessage {
            address: client.phone.as_str().to_owned(),
            sealed_body: format!("envelope-seal-{nonce}").into_bytes(),
            medium: Medium::Sms,
            expires_at_s: now_s + SEAL_S,
        },
        budget: MessageBudget {
            seals_max,
            ..MessageBudget::UNLIMITED
        },
        signer_serial: signer_of(client),
    }
}

/// A file of `client`'s envelope, arrived at `now_s` with the seal the use case prepares
/// in case it is the last.
fn received(client: &ClientRecord, public_id: &str, arrival: Arrival, now_s: i64) -> ReceivedFile {
    received_with(
        client,
        public_id,
        arrival,
        prepared_seal(client, 1, 100, now_s),
        now_s,
    )
}

pub(crate) fn received_with(
    client: &ClientRecord,
    public_id: &str,
    arrival: Arrival,
    seal: PreparedEnvelopeSeal,
    now_s: i64,
) -> ReceivedFile {
    ReceivedFile {
        public_id: public_id.to_owned(),
        client_id: client.id,
        arrival,
        seal: Some(seal),
        now_s,
    }
}

pub(crate) fn arrival(index: usize, size: u64, byte: u8) -> Arrival {
    Arrival {
        index,
        size,
        sha256: [byte; 32],
    }
}

/// Opens an envelope of `client` whose manifest is accepted at `now_s`; its first file
/// (the empty one) arrives then too when `first_file`.
pub(crate) async fn receiving(
    f: &Fixture,
    client: &ClientRecord,
    public_id: &str,
    serial: &str,
    first_file: bool,
    now_s: i64,
) -> EnvelopeView {
    f.store
        .create_envelope(new_envelope(client.id, public_id, serial))
        .await
        .unwrap();
    let stated = manifest(public_id, serial);
    let (plan, view) = f
        .store
        .sign_manifest(signed(client.id, &stated, GOOD, now_s))
        .await
        .unwrap();
    assert_eq!(plan, ManifestPlan::Accept, "{}", f.name);
    if !first_file {
        return view.unwrap();
    }
    let receipt = f
        .store
        .receive_file(received(client, public_id, arrival(1, 0, 2), now_s))
        .await
        .unwrap();
    assert_eq!(receipt.plan, FilePlan::Keep { last: false }, "{}", f.name);
    receipt.view.unwrap()
}

/// An envelope of `client` whose every file arrived at `now_s`, the last with `seal`:
/// what the last file made of it.
pub(crate) async fn submitted(
    f: &Fixture,
    client: &ClientRecord,
    public_id: &str,
    serial: &str,
    seal: PreparedEnvelopeSeal,
    now_s: i64,
) -> FileReceipt {
    receiving(f, client, public_id, serial, true, now_s).await;
    let receipt = f
        .store
        .receive_file(received_with(
            client,
            public_id,
            arrival(0, 1_234, 1),
            seal,
            now_s,
        ))
        .await
        .unwrap();
    assert_eq!(receipt.plan, FilePlan::Keep { last: true }, "{}", f.name);
    receipt
}

/// An envelope of `client` awaiting the seal sent at `now_s` with nonce `nonce`.
async fn awaiting(
    f: &Fixture,
    client: &ClientRecord,
    public_id: &str,
    serial: &str,
    nonce: u8,
    now_s: i64,
) -> EnvelopeView {
    let seal = prepared_seal(client, nonce, 100, now_s);
    let receipt = submitted(f, client, public_id, serial, seal, now_s).await;
    assert!(receipt.seal_throttled.is_none(), "{}", f.name);
    let view = receipt.view.unwrap();
    assert_eq!(view.state, EnvelopeState::AwaitingSeal, "{}", f.name);
    view
}

/// A seal typed for `public_id` in the session `token` (of `client`): right if `right`
/// and the live seal is the one sent with `nonce`.
fn typed(
    client: &ClientRecord,
    public_id: &str,
    token: [u8; 32],
    nonce: u8,
    right: bool,
    now_s: i64,
) -> TypedEnvelopeSeal {
    TypedEnvelopeSeal {
        public_id: public_id.to_owned(),
        client_id: client.id,
        session_token_hash: token,
        check: Box::new(move |view: &EnvelopeView| {
            right
                && view
                    .seal
                    .as_ref()
                    .is_some_and(|seal| seal.nonce == [nonce; 16])
        }),
        now_s,
    }
}

/// An envelope of `client` sealed by the right seal typed at `now_s + 1`.
async fn sealed(
    f: &Fixture,
    client: &ClientRecord,
    public_id: &str,
    serial: &str,
    now_s: i64,
) -> EnvelopeView {
    holder_certificate(f, client).await;
    awaiting(f, client, public_id, serial, 4, now_s).await;
    let token = f.session(client).await;
    match f
        .store
        .type_envelope_seal(typed(client, public_id, token, 4, true, now_s + 1))
        .await
        .unwrap()
    {
        EnvelopeSealOutcome::Sealed(view) => {
            assert_eq!(view.state, EnvelopeState::Sealed, "{}", f.name);
            *view
        }
        _ => panic!("{}: {public_id} not sealed", f.name),
    }
}

/// What notarizes `view`: each file's detached signature (the PDF's signed copy, the
/// other file's note), the container, kept until `retain_until_s`.
fn notarized(view: &EnvelopeView, retain_until_s: i64, now_s: i64) -> NotarizedEnvelope {
    NotarizedEnvelope {
        public_id: view.public_id.clone(),
        files: vec![
            SignedFile {
                position: 0,
                signature: vec![0x30, 0x01],
                signed_pdf: Some(ArchivedObject {
                    sha256: [5; 32],
                    size: 2_000,
                }),
                pdf_note: None,
            },
            SignedFile {
                position: 1,
                signature: vec![0x30, 0x02],
                signed_pdf: None,
                pdf_note: Some("not_a_pdf".to_owned()),
            },
        ],
        container: ArchivedObject {
            sha256: [6; 32],
            size: 4_096,
        },
        container_manifest: b"<ASiCManifest/>".to_vec(),
        container_signature: vec![0x30, 0x06],
        retain_until_s,
        now_s,
        kept_at_s: now_s,
    }
}

async fn kinds(f: &Fixture, subject: &str) -> Vec<String> {
    f.store
        .evidence(subject)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.kind)
        .collect()
}

async fn reread(f: &Fixture, public_id: &str) -> EnvelopeView {
    f.store.envelope(public_id).await.unwrap().unwrap()
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
        assert_eq!(
            view.manifest_signature,
            Some(station_signature(&stated.envelope)),
            "{}: the station's signature is kept with its manifest",
            f.name
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

        let FileReceipt { plan, view, .. } = f
            .store
            .receive_file(received(&alice, "env_a1", arrival(1, 0, 2), NOW + 3))
            .await
            .unwrap();
        assert_eq!(plan, FilePlan::Keep { last: false }, "{}", f.name);
        let view = view.unwrap();
        assert_eq!(view.files[1].received_at_s, Some(NOW + 3));
        assert_eq!(view.state, EnvelopeState::Receiving);
        let receipt = f
            .store
            .receive_file(received(&alice, "env_a1", arrival(1, 0, 2), NOW + 4))
            .await
            .unwrap();
        assert_eq!(receipt.plan, FilePlan::AlreadyReceived);
        let FileReceipt { plan, view, .. } = f
            .store
            .receive_file(received(&alice, "env_a1", arrival(0, 1_234, 1), NOW + 5))
            .await
            .unwrap();
        assert_eq!(plan, FilePlan::Keep { last: true }, "{}", f.name);
        let view = view.unwrap();
        assert!(view.files.iter().all(|file| file.received_at_s.is_some()));
        assert_eq!(view.state, EnvelopeState::AwaitingSeal);

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
        // Envelopes of one file (signature requests) are listed apart: not the one of
        // two, nor one still open (no manifest, no file yet).
        let mut one = manifest("env_a2", "d15a02");
        one.files.truncate(1);
        f.store
            .create_envelope(new_envelope(alice.id, "env_a2", "d15a02"))
            .await
            .unwrap();
        let (plan, _) = f
            .store
            .sign_manifest(signed(alice.id, &one, GOOD, NOW + 6))
            .await
            .unwrap();
        assert_eq!(plan, ManifestPlan::Accept, "{}", f.name);
        f.store
            .create_envelope(new_envelope(alice.id, "env_a3", "d15a03"))
            .await
            .unwrap();
        let ids = |views: Vec<EnvelopeView>| -> Vec<String> {
            views.into_iter().map(|view| view.public_id).collect()
        };
        assert_eq!(
            ids(f
                .store
                .client_one_file_envelopes(alice.id, 10)
                .await
                .unwrap()),
            ["env_a2"],
            "{}",
            f.name
        );
        assert_eq!(
            ids(f.store.client_envelopes(alice.id, 10).await.unwrap()),
            ["env_a3", "env_a2", "env_a1"],
            "{}",
            f.name
        );
        assert!(
            f.store
                .client_one_file_envelopes(bob.id, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            f.store
                .client_one_file_envelopes(alice.id, 0)
                .await
                .unwrap()
                .len(),
            0
        );
        let records = kinds(f, &envelope_subject(view.id)).await;
        assert_eq!(
            records,
            ["envelope.submitted", "seal.sent"],
            "{}: nothing refused",
            f.name
        );
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
        let FileReceipt { plan, view, .. } = f
            .store
            .receive_file(received(&alice, "env_r2", arrival(0, 1_234, 9), NOW + 2))
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
        let receipt = f
            .store
            .receive_file(received(&alice, "env_r2", arrival(1, 0, 2), NOW + 3))
            .await
            .unwrap();
        assert_eq!(
            receipt.plan,
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
        let FileReceipt { plan, view, .. } = f
            .store
            .receive_file(received(&alice, "env_x2", arrival(1, 0, 2), NOW + 600))
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

/// The station's disposable certificate is recorded with its envelope (a station's, with
/// no key label and no client), and serves one envelope: a second envelope for its
/// serial is refused, and nothing of that envelope is kept.
#[tokio::test]
async fn an_envelope_records_its_station_certificate_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let opened = f
            .store
            .create_envelope(new_envelope(alice.id, "env_s1", "d15d01"))
            .await
            .unwrap();
        assert_eq!(opened.certificate_serial, "d15d01", "{}", f.name);
        assert_eq!(opened.certificate_expires_at_s, NOW + 600);
        let record = f.store.certificate("d15d01").await.unwrap().unwrap();
        assert_eq!(record.kind, CertificateKind::Station, "{}", f.name);
        assert_eq!((record.key_label, record.client_id), (None, None));
        assert_eq!(record.der, b"station-d15d01");
        assert_eq!((record.not_before_s, record.not_after_s), (NOW, NOW + 600));
        assert_eq!((record.used_at_s, record.revoked_at_s), (None, None));
        assert_eq!(
            kinds(f, &certificate_subject("d15d01")).await,
            ["certificate.issued"]
        );

        // The same serial for another envelope: refused, nothing of it kept.
        let again = f
            .store
            .create_envelope(NewEnvelope {
                certificate: NewCertificate {
                    der: b"another".to_vec(),
                    ..station_certificate("d15d01")
                },
                ..new_envelope(alice.id, "env_s2", "d15d01")
            })
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict("certificate_serial_taken"))),
            "{}: {again:?}",
            f.name
        );
        assert!(f.store.envelope("env_s2").await.unwrap().is_none());
        assert_eq!(
            f.store.certificate("d15d01").await.unwrap().unwrap().der,
            b"station-d15d01",
            "{}: the first certificate stands",
            f.name
        );
        assert_eq!(
            kinds(f, &certificate_subject("d15d01")).await,
            ["certificate.issued"]
        );
        // An envelope refused after its certificate was written keeps neither.
        let taken = f
            .store
            .create_envelope(new_envelope(alice.id, "env_s1", "d15d02"))
            .await;
        assert!(taken.is_err(), "{}: a public id serves once", f.name);
        assert!(f.store.certificate("d15d02").await.unwrap().is_none());
        assert!(kinds(f, &certificate_subject("d15d02")).await.is_empty());
        let listed = f.store.client_envelopes(alice.id, 10).await.unwrap();
        assert_eq!(listed, [opened], "{}", f.name);
        // A station's certificate is never a disposable one the public path may use.
        assert!(matches!(
            f.store.use_certificate("d15d01", NOW + 1).await.unwrap(),
            UseOutcome::NotDisposable
        ));
    })
    .await;
}

/// The last file submits the envelope: the station's certificate is used and revoked in
/// the same transaction, the submission's evidence names each file's digest, and the
/// seal is stored and its message queued.
#[tokio::test]
async fn the_last_file_uses_the_certificate_and_sends_the_seal() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let view = receiving(f, &alice, "env_l1", "d15e01", true, NOW + 1).await;
        assert_eq!(view.seal, None);
        assert_eq!(f.messages_since(&alice, NOW).await, 0, "{}", f.name);
        assert!(matches!(
            f.store.use_certificate("d15e01", NOW + 1).await.unwrap(),
            UseOutcome::NotDisposable
        ));

        let seal = prepared_seal(&alice, 7, 1, NOW + 2);
        let receipt = submitted_last(f, &alice, "env_l1", seal, NOW + 2).await;
        assert_eq!(receipt.plan, FilePlan::Keep { last: true }, "{}", f.name);
        assert!(receipt.seal_throttled.is_none(), "{}", f.name);
        let view = receipt.view.unwrap();
        assert_eq!(view.state, EnvelopeState::AwaitingSeal, "{}", f.name);
        assert_eq!(view.signer_serial, Some(signer_of(&alice)));
        assert_eq!(
            view.seal,
            Some(StoredSeal {
                nonce: [7; 16],
                digits: 8,
                issued_at_s: NOW + 2,
                expires_at_s: NOW + 2 + SEAL_S,
            })
        );
        assert_eq!(view.wrong_tries, 0);
        assert_eq!(reread(f, "env_l1").await, view);

        let record = f.store.certificate("d15e01").await.unwrap().unwrap();
        assert_eq!(record.kind, CertificateKind::Station);
        assert_eq!(
            (
                record.used_at_s,
                record.revoked_at_s,
                record.revocation_reason
            ),
            (Some(NOW + 2), Some(NOW + 3), Some(REVOKED_AFTER_USE)),
            "{}",
            f.name
        );
        assert!(matches!(
            f.store.use_certificate("d15e01", NOW + 4).await.unwrap(),
            UseOutcome::NotDisposable
        ));

        let queued = f
            .store
            .messages_to(alice.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(queued.len(), 1, "{}", f.name);
        assert_eq!(queued[0].sealed_body, b"envelope-seal-7");
        assert_eq!(
            (queued[0].state.as_str(), queued[0].expires_at_s),
            ("pending", NOW + 2 + SEAL_S)
        );
        // It was queued as a seal: the hour's one seal is spent.
        let resent = f
            .store
            .resend_envelope_seal(EnvelopeSealResend {
                public_id: "env_l1".into(),
                client_id: alice.id,
                seal: prepared_seal(&alice, 8, 1, NOW + 10),
                now_s: NOW + 10,
            })
            .await
            .unwrap();
        assert!(
            matches!(resent, EnvelopeResendOutcome::Throttled(TooMany::Seals)),
            "{}: the envelope's seal is not counted as a seal",
            f.name
        );
        assert_eq!(f.messages_since(&alice, NOW).await, 1);

        let records = f.store.evidence(&envelope_subject(view.id)).await.unwrap();
        let kinds_of: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds_of, ["envelope.submitted", "seal.sent"], "{}", f.name);
        let submission = String::from_utf8(records[0].record.clone()).unwrap();
        assert!(
            submission.contains("\"event\":\"SubmissionAcceptance\""),
            "{submission}"
        );
        for digest in [[1_u8; 32], [2; 32]] {
            assert!(submission.contains(&hex::encode(digest)), "{submission}");
        }
        let manifest_digest = hex::encode(view.manifest_sha256.unwrap());
        assert!(submission.contains(&manifest_digest), "{submission}");
        assert!(submission.contains("\"d15e01\""), "{submission}");
        assert_eq!(records[0].created_at_s, NOW + 2);
        assert_eq!(
            kinds(f, &certificate_subject("d15e01")).await,
            ["certificate.issued", "certificate.revoked"],
            "{}",
            f.name
        );
    })
    .await;
}

/// The last file of a `client`'s envelope, at `now_s` with `seal`.
async fn submitted_last(
    f: &Fixture,
    client: &ClientRecord,
    public_id: &str,
    seal: PreparedEnvelopeSeal,
    now_s: i64,
) -> FileReceipt {
    f.store
        .receive_file(received_with(
            client,
            public_id,
            arrival(0, 1_234, 1),
            seal,
            now_s,
        ))
        .await
        .unwrap()
}

/// A last file when the client's seals of the hour were sent: the envelope awaits a seal
/// none was sent for, until one is asked for again within the budget; only the client's
/// own envelope awaiting a seal takes one.
#[tokio::test]
async fn a_throttled_seal_is_sent_again_when_asked() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let bob = f.client(0, 0).await;
        // The hour's one seal goes to a first envelope.
        awaiting(f, &alice, "env_t0", "d15f00", 1, NOW + 1).await;
        // What the outbox's read says of a next seal, before any write: as the command
        // will judge it (the signature API refuses early with it).
        let allowed = |client: &ClientRecord, seals_max: u32, now_s: i64| {
            let address = client.phone.as_str().to_owned();
            async move {
                let budget = MessageBudget {
                    seals_max,
                    ..MessageBudget::UNLIMITED
                };
                f.store
                    .message_allowed(&address, MessageKind::SignatureSeal, budget, now_s)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            allowed(&alice, 1, NOW + 2).await,
            Err(TooMany::Seals),
            "{}",
            f.name
        );
        assert_eq!(allowed(&alice, 2, NOW + 2).await, Ok(()), "{}", f.name);
        assert_eq!(allowed(&bob, 1, NOW + 2).await, Ok(()), "{}", f.name);
        assert_eq!(
            allowed(&alice, 1, NOW + 1 + sceau_domain::reach::WINDOW_S).await,
            Ok(()),
            "{}: the hour passed",
            f.name
        );
        let receipt = submitted(
            f,
            &alice,
            "env_t1",
            "d15f01",
            prepared_seal(&alice, 2, 1, NOW + 2),
            NOW + 2,
        )
        .await;
        assert_eq!(receipt.seal_throttled, Some(TooMany::Seals), "{}", f.name);
        let view = receipt.view.unwrap();
        assert_eq!(view.state, EnvelopeState::AwaitingSeal, "{}", f.name);
        assert_eq!(view.seal, None, "{}: no seal was sent", f.name);
        assert_eq!(view.signer_serial, Some(signer_of(&alice)));
        assert_eq!(f.messages_since(&alice, NOW).await, 1, "{}", f.name);
        assert_eq!(
            kinds(f, &envelope_subject(view.id)).await,
            ["envelope.submitted"]
        );
        // The submission stands: the certificate was used all the same.
        let record = f.store.certificate("d15f01").await.unwrap().unwrap();
        assert_eq!(record.used_at_s, Some(NOW + 2), "{}", f.name);

        let resend = |client: &ClientRecord, public_id: &str, seals_max: u32, now_s: i64| {
            EnvelopeSealResend {
                public_id: public_id.to_owned(),
                client_id: client.id,
                seal: prepared_seal(&alice, 3, seals_max, now_s),
                now_s,
            }
        };
        assert!(matches!(
            f.store
                .resend_envelope_seal(resend(&bob, "env_t1", 100, NOW + 3))
                .await
                .unwrap(),
            EnvelopeResendOutcome::NotFound
        ));
        assert!(matches!(
            f.store
                .resend_envelope_seal(resend(&alice, "env_none", 100, NOW + 3))
                .await
                .unwrap(),
            EnvelopeResendOutcome::NotFound
        ));
        assert!(matches!(
            f.store
                .resend_envelope_seal(resend(&alice, "env_t1", 1, NOW + 3))
                .await
                .unwrap(),
            EnvelopeResendOutcome::Throttled(TooMany::Seals)
        ));
        assert_eq!(reread(f, "env_t1").await.seal, None);
        assert_eq!(f.messages_since(&alice, NOW).await, 1, "{}", f.name);

        let EnvelopeResendOutcome::Sent(sent) = f
            .store
            .resend_envelope_seal(resend(&alice, "env_t1", 2, NOW + 4))
            .await
            .unwrap()
        else {
            panic!("{}: the seal was not sent again", f.name);
        };
        assert_eq!(sent.state, EnvelopeState::AwaitingSeal);
        assert_eq!(
            sent.seal,
            Some(StoredSeal {
                nonce: [3; 16],
                digits: 8,
                issued_at_s: NOW + 4,
                expires_at_s: NOW + 4 + SEAL_S,
            }),
            "{}",
            f.name
        );
        assert_eq!(reread(f, "env_t1").await, *sent);
        assert_eq!(f.messages_since(&alice, NOW).await, 2, "{}", f.name);
        assert_eq!(
            kinds(f, &envelope_subject(view.id)).await,
            ["envelope.submitted", "seal.sent"]
        );

        // Only an envelope awaiting its seal, under the certificate it consents to.
        receiving(f, &alice, "env_t2", "d15f02", false, NOW + 5).await;
        assert!(matches!(
            f.store
                .resend_envelope_seal(resend(&alice, "env_t2", 100, NOW + 6))
                .await
                .unwrap(),
            EnvelopeResendOutcome::NotAwaiting(_)
        ));
        let other_signer = EnvelopeSealResend {
            seal: PreparedEnvelopeSeal {
                signer_serial: "5e0002".into(),
                ..prepared_seal(&alice, 9, 100, NOW + 6)
            },
            ..resend(&alice, "env_t1", 100, NOW + 6)
        };
        assert!(matches!(
            f.store.resend_envelope_seal(other_signer).await.unwrap(),
            EnvelopeResendOutcome::NotAwaiting(_)
        ));
        assert_eq!(reread(f, "env_t1").await, *sent, "{}", f.name);
        assert_eq!(reread(f, "env_t2").await.seal, None);
        assert_eq!(f.messages_since(&alice, NOW).await, 2, "{}", f.name);
    })
    .await;
}

/// A station's certificate revoked before the last file: the envelope is refused at the
/// last file, with its evidence, and no seal is sent.
#[tokio::test]
async fn a_revoked_station_certificate_refuses_the_last_file() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        receiving(f, &alice, "env_v1", "d16001", true, NOW + 1).await;
        assert!(matches!(
            f.store
                .revoke_certificate("d16001", 1, ActedBy::Admin, NOW + 2)
                .await
                .unwrap(),
            RevokeOutcome::Revoked(_)
        ));
        let receipt = submitted_last(
            f,
            &alice,
            "env_v1",
            prepared_seal(&alice, 1, 100, NOW + 3),
            NOW + 3,
        )
        .await;
        assert_eq!(
            receipt.plan,
            FilePlan::Refuse(Refusal::CertificateUnusable),
            "{}",
            f.name
        );
        assert!(receipt.seal_throttled.is_none());
        let view = receipt.view.unwrap();
        assert_eq!(view.state, EnvelopeState::Refused, "{}", f.name);
        assert_eq!(view.refusal.as_deref(), Some("certificate_unusable"));
        assert_eq!((&view.seal, &view.signer_serial), (&None, &None));
        assert_eq!(reread(f, "env_v1").await, view);
        assert_eq!(f.messages_since(&alice, NOW).await, 0, "{}", f.name);
        let records = f.store.evidence(&envelope_subject(view.id)).await.unwrap();
        assert_eq!(
            records.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["envelope.refused"],
            "{}",
            f.name
        );
        let text = String::from_utf8(records[0].record.clone()).unwrap();
        assert!(text.contains("\"event\":\"SubmissionRejection\""), "{text}");
        assert!(
            text.contains("\"reason\":\"certificate_unusable\""),
            "{text}"
        );
        // Revoked, not used.
        let record = f.store.certificate("d16001").await.unwrap().unwrap();
        assert_eq!(
            (
                record.used_at_s,
                record.revoked_at_s,
                record.revocation_reason
            ),
            (None, Some(NOW + 2), Some(1))
        );
        let records = f.store.evidence(&envelope_subject(view.id)).await.unwrap();
        assert_eq!(records.len(), 1);
    })
    .await;
}

/// Seals typed for an envelope: only in its client's session, counted when wrong (the
/// third fails it, every one counts against the client), sealing it when right (the
/// client's count forgotten); a seal past its time, or none sent, counts for nothing.
#[tokio::test]
async fn seals_typed_for_an_envelope_are_judged_and_counted() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let bob = f.client(0, 0).await;
        let (token, bob_token) = (f.session(&alice).await, f.session(&bob).await);
        let t = NOW + 1;
        let first = awaiting(f, &alice, "env_k1", "d17001", 1, t).await;

        // Another client's session learns nothing and moves nothing.
        for (client, session) in [(&bob, bob_token), (&alice, bob_token)] {
            assert!(matches!(
                f.store
                    .type_envelope_seal(typed(client, "env_k1", session, 1, true, t + 1))
                    .await
                    .unwrap(),
                EnvelopeSealOutcome::NotFound
            ));
        }
        assert!(matches!(
            f.store
                .type_envelope_seal(typed(&alice, "env_none", token, 1, true, t + 1))
                .await
                .unwrap(),
            EnvelopeSealOutcome::NotFound
        ));
        assert_eq!(reread(f, "env_k1").await, first, "{}", f.name);

        // Three wrong seals fail it; each counts against the client.
        let judge = async |public_id: &str, nonce: u8, right: bool, now_s: i64| {
            f.store
                .type_envelope_seal(typed(&alice, public_id, token, nonce, right, now_s))
                .await
                .unwrap()
        };
        for left in [2, 1] {
            match judge("env_k1", 1, false, t + 2).await {
                EnvelopeSealOutcome::Wrong {
                    tries_left,
                    paused: None,
                } => assert_eq!(tries_left, left, "{}", f.name),
                _ => panic!("{}: not counted as wrong", f.name),
            }
        }
        let EnvelopeSealOutcome::Failed { view, paused: None } =
            judge("env_k1", 1, false, t + 3).await
        else {
            panic!("{}: the third wrong seal did not fail it", f.name);
        };
        assert_eq!(
            (view.state, view.wrong_tries),
            (EnvelopeState::Failed, 3),
            "{}",
            f.name
        );
        assert_eq!(reread(f, "env_k1").await, *view);
        assert!(matches!(
            judge("env_k1", 1, true, t + 4).await,
            EnvelopeSealOutcome::NotAwaiting(_)
        ));
        assert_eq!(
            kinds(f, &envelope_subject(first.id)).await,
            [
                "envelope.submitted",
                "seal.sent",
                "seal.failed",
                "seal.failed",
                "seal.failed"
            ],
            "{}",
            f.name
        );

        // A fourth failure, then the right seal: sealed, and the client's count forgotten.
        let second = awaiting(f, &alice, "env_k2", "d17002", 2, t + 5).await;
        assert!(matches!(
            judge("env_k2", 2, false, t + 6).await,
            EnvelopeSealOutcome::Wrong {
                tries_left: 2,
                paused: None
            }
        ));
        let EnvelopeSealOutcome::Sealed(view) = judge("env_k2", 2, true, t + 7).await else {
            panic!("{}: the right seal did not seal it", f.name);
        };
        assert_eq!(view.state, EnvelopeState::Sealed, "{}", f.name);
        assert_eq!(reread(f, "env_k2").await, *view);
        assert_eq!(
            kinds(f, &envelope_subject(second.id)).await,
            [
                "envelope.submitted",
                "seal.sent",
                "seal.failed",
                "seal.verified"
            ]
        );
        assert!(matches!(
            judge("env_k2", 2, true, t + 8).await,
            EnvelopeSealOutcome::NotAwaiting(_)
        ));

        // Counted from zero again: the fifth failure from here pauses the client.
        awaiting(f, &alice, "env_k3", "d17003", 3, t + 10).await;
        awaiting(f, &alice, "env_k4", "d17004", 4, t + 10).await;
        let wrongs = [("env_k3", 3), ("env_k3", 3), ("env_k3", 3), ("env_k4", 4)];
        for (public_id, nonce) in wrongs {
            let outcome = judge(public_id, nonce, false, t + 11).await;
            assert!(
                matches!(
                    outcome,
                    EnvelopeSealOutcome::Wrong { paused: None, .. }
                        | EnvelopeSealOutcome::Failed { paused: None, .. }
                ),
                "{}: the client's failures were not forgotten",
                f.name
            );
        }
        match judge("env_k4", 4, false, t + 12).await {
            EnvelopeSealOutcome::Wrong {
                tries_left: 1,
                paused: Some(paused),
            } => assert_eq!(
                paused,
                Paused {
                    client_id: alice.id,
                    until_s: t + 12 + CLIENT_PAUSE_S
                },
                "{}",
                f.name
            ),
            _ => panic!("{}: the fifth failure did not pause the client", f.name),
        }
        assert!(matches!(
            judge("env_k4", 4, true, t + 13).await,
            EnvelopeSealOutcome::ClientStopped
        ));
        assert_eq!(reread(f, "env_k4").await.wrong_tries, 2);
    })
    .await;
}

/// A seal typed after its time, or for an envelope none was sent for, counts for nothing:
/// neither against the envelope nor against its client.
#[tokio::test]
async fn an_expired_or_unsent_envelope_seal_counts_for_nothing() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let token = f.session(&alice).await;
        let view = awaiting(f, &alice, "env_e1", "d18001", 1, NOW + 1).await;
        let expired = NOW + 1 + SEAL_S;
        for right in [false, true, false, false, false, false] {
            assert!(matches!(
                f.store
                    .type_envelope_seal(typed(&alice, "env_e1", token, 1, right, expired))
                    .await
                    .unwrap(),
                EnvelopeSealOutcome::Expired
            ));
        }
        assert_eq!(reread(f, "env_e1").await, view, "{}", f.name);
        assert_eq!(
            kinds(f, &envelope_subject(view.id)).await,
            ["envelope.submitted", "seal.sent"]
        );
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.paused_until_s, 0, "{}", f.name);

        // No seal was sent (the budget refused it): nothing typed can be right.
        let receipt = submitted(
            f,
            &alice,
            "env_e2",
            "d18002",
            prepared_seal(&alice, 2, 0, NOW + 2),
            NOW + 2,
        )
        .await;
        assert_eq!(receipt.seal_throttled, Some(TooMany::Seals));
        let unsent = receipt.view.unwrap();
        for right in [true, false] {
            assert!(matches!(
                f.store
                    .type_envelope_seal(typed(&alice, "env_e2", token, 2, right, NOW + 3))
                    .await
                    .unwrap(),
                EnvelopeSealOutcome::Expired
            ));
        }
        assert_eq!(reread(f, "env_e2").await, unsent, "{}", f.name);

        // The client's failures were not counted: a wrong seal now is the first.
        let EnvelopeResendOutcome::Sent(_) = f
            .store
            .resend_envelope_seal(EnvelopeSealResend {
                public_id: "env_e1".into(),
                client_id: alice.id,
                seal: prepared_seal(&alice, 5, 100, expired),
                now_s: expired,
            })
            .await
            .unwrap()
        else {
            panic!("{}: not sent again", f.name);
        };
        assert!(matches!(
            f.store
                .type_envelope_seal(typed(&alice, "env_e1", token, 5, false, expired + 1))
                .await
                .unwrap(),
            EnvelopeSealOutcome::Wrong {
                tries_left: 2,
                paused: None
            }
        ));
    })
    .await;
}

/// A sealed envelope is notarized once: each file's signatures, the container and the
/// retention stored, with a record per signed file and one of the archive. It may say
/// why it waits, and may fail, only while sealed.
#[tokio::test]
async fn a_sealed_envelope_is_notarized_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let retain_until = NOW + 10 * 365 * 86_400;
        let pending = awaiting(f, &alice, "env_n0", "d19000", 1, NOW + 1).await;
        assert!(
            !f.store
                .envelope_waits("env_n0", "tsa_unavailable", NOW + 2)
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .notarize_envelope(notarized(&pending, retain_until, NOW + 2))
                .await
                .unwrap(),
            "{}: an envelope awaiting its seal is not notarized",
            f.name
        );
        assert!(
            !f.store
                .fail_sealed_envelope("env_n0", "certificate_revoked", NOW + 2)
                .await
                .unwrap()
        );
        assert_eq!(reread(f, "env_n0").await, pending, "{}", f.name);
        assert!(
            !f.store
                .notarize_envelope(NotarizedEnvelope {
                    public_id: "env_none".into(),
                    ..notarized(&pending, retain_until, NOW + 2)
                })
                .await
                .unwrap()
        );

        let view = sealed(f, &alice, "env_n1", "d19001", NOW + 3).await;
        assert!(
            f.store
                .envelope_waits("env_n1", "tsa_unavailable", NOW + 5)
                .await
                .unwrap()
        );
        let waiting = reread(f, "env_n1").await;
        assert_eq!(
            (waiting.state, waiting.waiting.as_deref()),
            (EnvelopeState::Sealed, Some("tsa_unavailable")),
            "{}",
            f.name
        );

        assert!(
            f.store
                .notarize_envelope(notarized(&view, retain_until, NOW + 6))
                .await
                .unwrap(),
            "{}",
            f.name
        );
        let done = reread(f, "env_n1").await;
        assert_eq!(done.state, EnvelopeState::Notarized, "{}", f.name);
        assert_eq!(done.waiting, None);
        assert_eq!(
            done.container,
            Some(ArchivedObject {
                sha256: [6; 32],
                size: 4_096
            })
        );
        assert_eq!(
            (
                done.container_manifest.as_deref(),
                done.container_signature.as_deref()
            ),
            (Some(&b"<ASiCManifest/>"[..]), Some(&[0x30_u8, 0x06][..])),
            "{}",
            f.name
        );
        assert_eq!(
            (done.retain_until_s, done.notarized_at_s, done.deleted_at_s),
            (Some(retain_until), Some(NOW + 6), None)
        );
        let files: Vec<_> = done
            .files
            .iter()
            .map(|file| {
                (
                    file.signature.clone(),
                    file.signed_at_s,
                    file.signed_pdf,
                    file.pdf_note.clone(),
                )
            })
            .collect();
        assert_eq!(
            files,
            [
                (
                    Some(vec![0x30, 0x01]),
                    Some(NOW + 6),
                    Some(ArchivedObject {
                        sha256: [5; 32],
                        size: 2_000
                    }),
                    None
                ),
                (
                    Some(vec![0x30, 0x02]),
                    Some(NOW + 6),
                    None,
                    Some("not_a_pdf".to_owned())
                ),
            ],
            "{}",
            f.name
        );
        let records = f.store.evidence(&envelope_subject(view.id)).await.unwrap();
        let kinds_of: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(
            kinds_of,
            [
                "envelope.submitted",
                "seal.sent",
                "seal.verified",
                "file.signed",
                "file.signed",
                "envelope.archived"
            ],
            "{}",
            f.name
        );
        let text = |index: usize| String::from_utf8(records[index].record.clone()).unwrap();
        let (pdf, other) = (text(3), text(4));
        assert!(pdf.contains(&hex::encode(sha256(&[0x30, 0x01]))), "{pdf}");
        assert!(pdf.contains(&hex::encode([1_u8; 32])), "{pdf}");
        assert!(pdf.contains(&hex::encode([5_u8; 32])), "{pdf}");
        assert!(
            other.contains(&hex::encode(sha256(&[0x30, 0x02]))),
            "{other}"
        );
        assert!(other.contains("\"pdf_note\":\"not_a_pdf\""), "{other}");
        let archived = text(5);
        assert!(archived.contains(&hex::encode([6_u8; 32])), "{archived}");
        assert!(archived.contains(&signer_of(&alice)), "{archived}");

        // Notarized once: a second notarization (another instance's) changes nothing.
        let again = NotarizedEnvelope {
            files: vec![
                SignedFile {
                    signature: vec![0x30, 0x09],
                    ..notarized(&view, retain_until, NOW + 7).files[0].clone()
                },
                notarized(&view, retain_until, NOW + 7).files[1].clone(),
            ],
            ..notarized(&view, retain_until + 1, NOW + 7)
        };
        assert!(
            !f.store.notarize_envelope(again).await.unwrap(),
            "{}",
            f.name
        );
        assert_eq!(reread(f, "env_n1").await, done, "{}", f.name);
        assert_eq!(
            f.store
                .evidence(&envelope_subject(view.id))
                .await
                .unwrap()
                .len(),
            6
        );
        assert!(
            !f.store
                .envelope_waits("env_n1", "tsa_unavailable", NOW + 8)
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .fail_sealed_envelope("env_n1", "certificate_revoked", NOW + 8)
                .await
                .unwrap()
        );
        assert_eq!(reread(f, "env_n1").await, done, "{}", f.name);

        // A sealed envelope that can never be signed fails, once, and is not notarized.
        let doomed = sealed(f, &alice, "env_n2", "d19002", NOW + 10).await;
        assert!(
            f.store
                .fail_sealed_envelope("env_n2", "certificate_revoked", NOW + 12)
                .await
                .unwrap(),
            "{}",
            f.name
        );
        let failed = reread(f, "env_n2").await;
        assert_eq!(
            (failed.state, failed.waiting.as_deref()),
            (EnvelopeState::Failed, Some("certificate_revoked")),
            "{}",
            f.name
        );
        assert!(
            !f.store
                .fail_sealed_envelope("env_n2", "certificate_revoked", NOW + 13)
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .notarize_envelope(notarized(&doomed, retain_until, NOW + 13))
                .await
                .unwrap()
        );
        assert_eq!(reread(f, "env_n2").await, failed, "{}", f.name);
    })
    .await;
}

/// Puts `bytes` in the archive, kept until `retain_until_s`.
async fn archived(
    archive: &dyn Archive,
    bytes: &'static [u8],
    retain_until_s: i64,
) -> ArchivedObject {
    let piece: std::io::Result<bytes::Bytes> = Ok(bytes::Bytes::from_static(bytes));
    archive
        .put(
            Box::pin(futures_util::stream::iter([piece])),
            Deposit {
                retain_until_s,
                now_s: NOW,
                size_max: 1 << 20,
                expected: None,
            },
        )
        .await
        .unwrap()
}

/// The notarization keeps, in its own transaction, what the envelope names in the
/// archive as long as the envelope: what was made for it (archived for a day until then)
/// is extended, what is kept longer already is not shortened, and nothing is extended for
/// an envelope that is not notarized. Content not archived is left alone.
#[tokio::test]
async fn notarizing_keeps_the_archived_content_as_long_as_the_envelope() {
    each_backend(async |f: &Fixture| {
        let archive = f.archive.clone().expect("an archive beside the store");
        let alice = f.client(0, 0).await;
        let retain_until = NOW + 10 * 365 * 86_400;
        let pdf = archived(archive.as_ref(), b"signed pdf", NOW + 86_400).await;
        let container = archived(archive.as_ref(), b"container", retain_until + 500).await;
        let other = archived(archive.as_ref(), b"another container", NOW + 86_400).await;
        let kept = async |object: ArchivedObject| {
            archive
                .archived(&object.sha256)
                .await
                .unwrap()
                .unwrap()
                .retain_until_s
        };
        let made = |view: &EnvelopeView, container: ArchivedObject| {
            let mut made = notarized(view, retain_until, NOW + 3);
            made.files[0].signed_pdf = Some(pdf);
            made.container = container;
            made
        };

        let pending = awaiting(f, &alice, "env_k0", "d1b000", 1, NOW + 1).await;
        assert!(
            !f.store
                .notarize_envelope(made(&pending, other))
                .await
                .unwrap()
        );
        assert_eq!(kept(other).await, NOW + 86_400, "{}", f.name);

        let view = sealed(f, &alice, "env_k1", "d1b001", NOW + 1).await;
        assert!(
            f.store
                .notarize_envelope(made(&view, container))
                .await
                .unwrap()
        );
        assert_eq!(kept(pdf).await, retain_until, "{}", f.name);
        assert_eq!(kept(container).await, retain_until + 500, "{}", f.name);
        assert_eq!(kept(other).await, NOW + 86_400, "{}", f.name);
        assert!(archive.archived(&[1; 32]).await.unwrap().is_none());
    })
    .await;
}

/// Notarized envelopes are listed once their retention ended (the longest past first)
/// until their content is recorded deleted, which is done once and not before.
#[tokio::test]
async fn envelopes_past_retention_are_deleted_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let (early, late) = (NOW + 1_000, NOW + 2_000);
        let first = sealed(f, &alice, "env_p1", "d1a001", NOW + 1).await;
        let second = sealed(f, &alice, "env_p2", "d1a002", NOW + 1).await;
        // Still sealed: nothing is past its retention.
        sealed(f, &alice, "env_p3", "d1a003", NOW + 1).await;
        assert!(
            f.store
                .notarize_envelope(notarized(&second, late, NOW + 5))
                .await
                .unwrap()
        );
        assert!(
            f.store
                .notarize_envelope(notarized(&first, early, NOW + 5))
                .await
                .unwrap()
        );
        let past = async |now_s: i64, limit: u32| -> Vec<String> {
            f.store
                .envelopes_past_retention(now_s, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|view| view.public_id)
                .collect()
        };
        assert!(past(early - 1, 10).await.is_empty(), "{}", f.name);
        assert_eq!(past(early, 10).await, ["env_p1"], "{}", f.name);
        assert_eq!(past(late, 10).await, ["env_p1", "env_p2"], "{}", f.name);
        assert_eq!(past(late, 1).await, ["env_p1"]);
        let listed = f.store.envelopes_past_retention(late, 10).await.unwrap();
        assert_eq!(
            listed[0].files.len(),
            2,
            "{}: listed with its files",
            f.name
        );

        // Not before its retention ended; not an envelope never notarized.
        assert!(!f.store.envelope_deleted("env_p2", late - 1).await.unwrap());
        assert!(!f.store.envelope_deleted("env_p3", late).await.unwrap());
        assert!(!f.store.envelope_deleted("env_none", late).await.unwrap());
        assert_eq!(reread(f, "env_p2").await.deleted_at_s, None);

        assert!(f.store.envelope_deleted("env_p1", late).await.unwrap());
        assert!(!f.store.envelope_deleted("env_p1", late + 1).await.unwrap());
        let deleted = reread(f, "env_p1").await;
        assert_eq!(deleted.deleted_at_s, Some(late), "{}", f.name);
        assert_eq!(deleted.state, EnvelopeState::Notarized);
        assert_eq!(past(late + 1, 10).await, ["env_p2"], "{}", f.name);
        let records = f.store.evidence(&envelope_subject(first.id)).await.unwrap();
        let deletions: Vec<_> = records
            .iter()
            .filter(|record| record.kind == "envelope.deleted")
            .collect();
        assert_eq!(deletions.len(), 1, "{}", f.name);
        assert_eq!(deletions[0].created_at_s, late);
        assert_eq!(records.last().unwrap().kind, "envelope.deleted");
        let second_kinds = kinds(f, &envelope_subject(second.id)).await;
        assert!(!second_kinds.iter().any(|kind| kind == "envelope.deleted"));
    })
    .await;
}

/// Content is in use while another live envelope names it as a file: not for a refused
/// or expired envelope, nor for the envelope asking.
#[tokio::test]
async fn content_is_in_use_while_another_live_envelope_names_it() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let in_use = async |public_id: &str, sha256: [u8; 32]| {
            f.store
                .envelope_content_in_use(public_id, sha256)
                .await
                .unwrap()
        };
        // A refused envelope names [1; 32] and [2; 32] too.
        receiving(f, &alice, "env_c1", "d1b001", false, NOW + 1).await;
        let receipt = f
            .store
            .receive_file(received(&alice, "env_c1", arrival(0, 1_234, 9), NOW + 2))
            .await
            .unwrap();
        assert_eq!(receipt.view.unwrap().state, EnvelopeState::Refused);
        assert!(!in_use("env_c1", [1; 32]).await, "{}", f.name);
        assert!(
            !in_use("env_other", [1; 32]).await,
            "{}: a refused envelope needs nothing",
            f.name
        );

        // An expired one.
        receiving(f, &alice, "env_c2", "d1b002", false, NOW + 1).await;
        let receipt = f
            .store
            .receive_file(received(&alice, "env_c2", arrival(1, 0, 2), NOW + 600))
            .await
            .unwrap();
        assert_eq!(receipt.view.unwrap().state, EnvelopeState::Expired);
        assert!(
            !in_use("env_c1", [2; 32]).await,
            "{}: an expired envelope needs nothing",
            f.name
        );

        // A live one: in use for any other envelope, not for itself.
        receiving(f, &alice, "env_c3", "d1b003", false, NOW + 1).await;
        assert!(in_use("env_c1", [1; 32]).await, "{}", f.name);
        assert!(in_use("env_c1", [2; 32]).await, "{}", f.name);
        assert!(in_use("env_other", [2; 32]).await);
        assert!(!in_use("env_c3", [1; 32]).await, "{}", f.name);
        assert!(!in_use("env_c1", [7; 32]).await, "{}", f.name);
    })
    .await;
}

/// Envelopes left unfinished expire a grace period past what they waited for (the
/// station's certificate while open or receiving, the seal while awaiting it), each with
/// its evidence, and their content is then no longer in use; a live one is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_left_unfinished_expire_after_a_grace_period() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        const GRACE: i64 = 86_400;
        // Receiving: its certificate ends at NOW + 600.
        receiving(f, &alice, "env_s1", "d2b001", false, NOW + 1).await;
        // Awaiting its seal, sent at NOW + 2 (it ends SEAL_S later).
        awaiting(f, &alice, "env_s2", "d2b002", 3, NOW + 2).await;
        let stale = |now_s| f.store.expire_stale_envelopes(now_s, GRACE, 100);
        // Within the grace period: nothing moves.
        assert_eq!(stale(NOW + 1 + GRACE).await.unwrap(), 0, "{}", f.name);
        assert_eq!(reread(f, "env_s1").await.state, EnvelopeState::Receiving);
        assert!(
            f.store
                .envelope_content_in_use("env_other", [1; 32])
                .await
                .unwrap()
        );
        // Past it: both expire, once, with their evidence.
        let later = NOW + 2 + SEAL_S + GRACE + 600;
        assert_eq!(stale(later).await.unwrap(), 2, "{}", f.name);
        assert_eq!(stale(later).await.unwrap(), 0, "{}", f.name);
        for public_id in ["env_s1", "env_s2"] {
            let view = reread(f, public_id).await;
            assert_eq!(view.state, EnvelopeState::Expired, "{}", f.name);
            let kinds = kinds(f, &envelope_subject(view.id)).await;
            assert_eq!(kinds.last().map(String::as_str), Some("envelope.expired"));
        }
        assert!(
            !f.store
                .envelope_content_in_use("env_other", [1; 32])
                .await
                .unwrap(),
            "{}: an expired envelope needs nothing",
            f.name
        );
    })
    .await;
}

/// A client may have only so many envelopes open or receiving at once; one that ends
/// (its certificate's life over) frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_has_at_most_so_many_envelopes_open() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let bob = f.client(1, 0).await;
        let open = |client_id, public_id: &str, serial: &str| NewEnvelope {
            open_max: 2,
            ..new_envelope(client_id, public_id, serial)
        };
        f.store
            .create_envelope(open(alice.id, "env_o1", "d3b001"))
            .await
            .unwrap();
        f.store
            .create_envelope(open(alice.id, "env_o2", "d3b002"))
            .await
            .unwrap();
        let third = f
            .store
            .create_envelope(open(alice.id, "env_o3", "d3b003"))
            .await;
        assert!(
            matches!(third, Err(StoreError::Conflict("too_many_open_envelopes"))),
            "{}: {third:?}",
            f.name
        );
        assert!(f.store.envelope("env_o3").await.unwrap().is_none());
        assert!(f.store.certificate("d3b003").await.unwrap().is_none());
        // Another client is not counted against her.
        f.store
            .create_envelope(open(bob.id, "env_o4", "d3b004"))
            .await
            .unwrap();
        // Once the certificates have ended, the places are free again.
        let later = NewEnvelope {
            certificate: NewCertificate {
                now_s: NOW + 600,
                not_before_s: NOW + 600,
                not_after_s: NOW + 1_200,
                ..station_certificate("d3b005")
            },
            ..open(alice.id, "env_o5", "d3b005")
        };
        f.store.create_envelope(later).await.unwrap();
    })
    .await;
}

/// The certificate a seal consented to is checked as the notarization is kept: revoked,
/// or past its end, while the signatures were made, the envelope fails saying why, and
/// nothing of the notarization is kept.
#[tokio::test]
async fn a_signer_revoked_while_signing_fails_the_envelope() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let bob = f.client(1, 0).await;
        let retain_until = NOW + 10 * 365 * 86_400;
        let view = sealed(f, &alice, "env_v1", "d1d001", NOW + 1).await;
        f.store
            .revoke_certificate(&signer_of(&alice), 1, ActedBy::Admin, NOW + 3)
            .await
            .unwrap();
        assert!(
            !f.store
                .notarize_envelope(notarized(&view, retain_until, NOW + 4))
                .await
                .unwrap(),
            "{}",
            f.name
        );
        let failed = reread(f, "env_v1").await;
        assert_eq!(
            (failed.state, failed.waiting.as_deref()),
            (EnvelopeState::Failed, Some(sceau_store::SIGNER_NOT_VALID)),
            "{}",
            f.name
        );
        assert_eq!((failed.container, failed.retain_until_s), (None, None));
        assert!(failed.files.iter().all(|file| file.signature.is_none()));
        let recorded = kinds(f, &sceau_store::evidence::envelope_subject(failed.id)).await;
        assert!(
            !recorded.contains(&"envelope.archived".to_owned()),
            "{}",
            f.name
        );
        assert_eq!(
            recorded.last().map(String::as_str),
            Some("envelope.failed"),
            "{}: {recorded:?}",
            f.name
        );

        // Bob's certificate, not revoked, valid when the signing began but past its end
        // when the notarization is kept.
        let view = sealed(f, &bob, "env_v2", "d1d002", NOW + 1).await;
        let late = NOW + 365 * 86_400;
        assert!(
            !f.store
                .notarize_envelope(NotarizedEnvelope {
                    kept_at_s: late,
                    ..notarized(&view, retain_until, NOW + 4)
                })
                .await
                .unwrap(),
            "{}: a certificate past its end",
            f.name
        );
        assert_eq!(reread(f, "env_v2").await.state, EnvelopeState::Failed);
    })
    .await;
}

/// Instances notarizing the same sealed envelope at once: one notarizes it, the others
/// are told it was not sealed (theirs is not an error), and the first's signatures stand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_notarized_at_once_by_several_is_notarized_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let view = sealed(f, &alice, "env_r1", "d1c001", NOW + 1).await;
        let racers: Vec<_> = (0..8_u8)
            .map(|racer| {
                let store = Arc::clone(&f.store);
                let mut notarized = notarized(&view, NOW + 1_000, NOW + 5);
                notarized.files[0].signature = vec![0x30, racer];
                tokio::spawn(async move { store.notarize_envelope(notarized).await })
            })
            .collect();
        let mut won = Vec::new();
        for (racer, raced) in racers.into_iter().enumerate() {
            match raced.await.unwrap() {
                Ok(true) => won.push(racer),
                Ok(false) => {}
                Err(error) => panic!("{}: a racer failed: {error:?}", f.name),
            }
        }
        assert_eq!(won.len(), 1, "{}: notarized {} times", f.name, won.len());
        let done = reread(f, "env_r1").await;
        assert_eq!(done.state, EnvelopeState::Notarized);
        let winner = u8::try_from(won[0]).unwrap();
        assert_eq!(
            done.files[0].signature,
            Some(vec![0x30, winner]),
            "{}",
            f.name
        );
        let records = kinds(f, &envelope_subject(view.id)).await;
        let signed = records.iter().filter(|kind| *kind == "file.signed").count();
        assert_eq!(signed, 2, "{}: {records:?}", f.name);
    })
    .await;
}

/// A notarized envelope of `client` (its manifest's two files, digests `[1; 32]` and
/// `[2; 32]`, and one destination), sealed at `now_s` and notarized at `now_s + 2`.
pub(crate) async fn notarized_envelope(
    f: &Fixture,
    client: &ClientRecord,
    public_id: &str,
    serial: &str,
    now_s: i64,
) -> EnvelopeView {
    let view = sealed(f, client, public_id, serial, now_s).await;
    let retain_until = now_s + 10 * 365 * 86_400;
    assert!(
        f.store
            .notarize_envelope(notarized(&view, retain_until, now_s + 2))
            .await
            .unwrap(),
        "{}",
        f.name
    );
    reread(f, public_id).await
}

/// An envelope of `client` sealed at `now_s`, not notarized.
pub(crate) async fn sealed_envelope(
    f: &Fixture,
    client: &ClientRecord,
    public_id: &str,
    serial: &str,
    now_s: i64,
) -> EnvelopeView {
    sealed(f, client, public_id, serial, now_s).await
}
