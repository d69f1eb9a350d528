//! The white room over real HTTP: a client's certificate made at enrolment with their
//! phone number sealed in it, a signature in their name only after the seal sent for
//! that very document is typed back, checked by `openssl cms -verify` and by sceau's own
//! verifier; disposable certificates used once; revocation on the CRL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::StatusCode;
use sceau_pki::ca::{ID_ESCROWED_PHONE, RevocationReason, extension_value};
use sceau_store::{ActedBy, CertificateKind};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ALICE_PHONE: &str = "+33612345678";
const BOB_PHONE: &str = "+33698765432";
const DOCUMENT: &[u8] =
    b"Lease of the flat at 3 rue du Port, from 1 December 2026, 950 EUR a month.";

impl Server {
    /// `POST /api/v1/signatures?document_name=…` with the session's cookie and, if
    /// `csrf`, its token.
    async fn ask_signature(
        &self,
        session: &Session,
        name: &str,
        content: &[u8],
        csrf: bool,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url("/api/v1/signatures"))
            .query(&[("document_name", name)])
            .header("cookie", &session.cookie)
            .header("content-type", "application/octet-stream")
            .body(content.to_vec());
        if csrf {
            request = request.header("x-csrf-token", &session.csrf);
        }
        self.send(request).await
    }

    async fn type_signature_seal(&self, session: &Session, id: &str, seal: &str) -> Reply {
        self.send(
            self.http
                .post(self.url(&format!("/api/v1/signatures/{id}/seal")))
                .header("cookie", &session.cookie)
                .header("x-csrf-token", &session.csrf)
                .json(&json!({ "seal": seal })),
        )
        .await
    }

    async fn download(&self, session: &Session, path: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .http
            .get(self.url(path))
            .header("cookie", &session.cookie)
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }
}

/// The seal in a signature SMS.
fn seal_in(text: &str) -> String {
    let at = text.find("your seal is ").expect("a seal in the message") + "your seal is ".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

/// Asks for a signature of `content` and reads the seal sent for it.
async fn requested(
    server: &Server,
    session: &Session,
    client: &Client,
    name: &str,
    content: &[u8],
) -> (Value, String) {
    let newest = server.newest_message_id(&client.phone).await;
    let reply = server.ask_signature(session, name, content, true).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let text = server.message_after(&client.phone, newest).await;
    (reply.json(), text)
}

#[tokio::test]
async fn a_signature_is_made_only_with_the_seal_sent_for_that_document() {
    let server = Server::start().await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "0").await;
    let bob = server.enroll_client("bob", BOB_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let bobs = server.sign_in("bob").await;

    // Without the CSRF token, or signed out: refused, and no seal is sent.
    let newest = server.newest_message_id(ALICE_PHONE).await;
    let reply = server
        .ask_signature(&session, "lease.txt", DOCUMENT, false)
        .await;
    check_error(&reply, 403, "csrf");
    let reply = server
        .send(
            server
                .http
                .post(server.url("/api/v1/signatures?document_name=x"))
                .body(DOCUMENT.to_vec()),
        )
        .await;
    check_error(&reply, 401, "unauthorized");
    check_error(
        &server.ask_signature(&session, "", DOCUMENT, true).await,
        422,
        "invalid_document_name",
    );
    check_error(
        &server.ask_signature(&session, "empty.txt", b"", true).await,
        422,
        "invalid_document",
    );
    // A quote in the name could end the quoted name in the SMS and forge what follows.
    for forged in ["a.pdf\" (SHA-256 0000...)", "a.pdf\u{201D} x"] {
        check_error(
            &server.ask_signature(&session, forged, DOCUMENT, true).await,
            422,
            "invalid_document_name",
        );
    }
    server.deliver().await;
    assert_eq!(server.newest_message_id(ALICE_PHONE).await, newest);

    // The request: nothing signed yet; the SMS names the document and its digest.
    let (view, text) = requested(&server, &session, &alice, "lease.txt", DOCUMENT).await;
    let id = view["id"].as_str().unwrap().to_owned();
    let digest = hex::encode(Sha256::digest(DOCUMENT));
    assert_eq!(view["state"], "awaiting_seal");
    assert_eq!(view["sha256"], digest.as_str());
    assert_eq!(view["tries_left"], 3);
    // A signature request is an envelope of one file, hashed by sceau.
    assert_eq!(view["envelope_state"], "awaiting_seal");
    assert_eq!(view["seal_sent"], true);
    let envelope_url = view["envelope_url"].as_str().unwrap().to_owned();
    assert_eq!(
        envelope_url,
        format!("/api/v1/envelopes/{}", view["id"].as_str().unwrap())
    );
    // The digest comes first, at a fixed place, then the name.
    let digest_at = text.find(&digest[..8]).expect("the digest in the SMS");
    let name_at = text.find("\"lease.txt\"").expect("the name in the SMS");
    assert!(digest_at < name_at, "{text}");
    let seal = seal_in(&text);
    assert_eq!(seal.len(), 8, "{text}");
    let (status, _) = server
        .download(&session, &format!("/api/v1/signatures/{id}/signature.p7s"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The seal of another document does not sign this one (nor the reverse).
    let (other, other_text) =
        requested(&server, &session, &alice, "other.txt", b"another text").await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    check_error(
        &server
            .type_signature_seal(&session, &id, &seal_in(&other_text))
            .await,
        422,
        "wrong_seal",
    );
    // Bob's session knows nothing of Alice's requests.
    check_error(
        &server.type_signature_seal(&bobs, &id, &seal).await,
        404,
        "unknown_signature",
    );
    let (status, _) = server
        .download(&bobs, &format!("/api/v1/signatures/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The right seal signs.
    let reply = server.type_signature_seal(&session, &id, &seal).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let signed = reply.json();
    assert_eq!(signed["state"], "signed");
    let url = signed["signature_url"].as_str().unwrap().to_owned();
    check_error(
        &server.type_signature_seal(&session, &id, &seal).await,
        409,
        "not_awaiting_seal",
    );
    let (status, signature) = server.download(&session, &url).await;
    assert_eq!(status, StatusCode::OK);
    // The envelope behind it was notarized like any other: its one file, the same
    // signature, a container, and a station certificate whose subject says that sceau,
    // not the client's station, hashed the document.
    let (status, envelope) = server.download(&session, &envelope_url).await;
    assert_eq!(status, StatusCode::OK);
    let envelope: Value = serde_json::from_slice(&envelope).unwrap();
    assert_eq!(envelope["state"], "notarized", "{envelope}");
    assert_eq!(envelope["files"].as_array().unwrap().len(), 1);
    assert_eq!(envelope["files"][0]["name"], "lease.txt");
    assert_eq!(envelope["files"][0]["sha256"], digest.as_str());
    let (status, same) = server
        .download(&session, &format!("{envelope_url}/files/0/signature.p7s"))
        .await;
    assert_eq!((status, &same), (StatusCode::OK, &signature));
    let (status, _) = server
        .download(&session, envelope["container_url"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let station = server
        .service
        .certificate(envelope["certificate_serial"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(station.kind, CertificateKind::Station);
    assert!(station.used_at_s.is_some() && station.revoked_at_s.is_some());
    let subject = sceau_pki::Issued::from_der(&station.der)
        .unwrap()
        .certificate
        .tbs_certificate
        .subject
        .to_string();
    assert!(
        subject.contains(sceau_app::signing::SERVER_STATION_SUBJECT),
        "{subject}"
    );

    // openssl verifies it against the root the server publishes...
    let directory = tempfile::tempdir().unwrap();
    let path = |name: &str| directory.path().join(name);
    let root = server.page("/pki/root.pem", None).await;
    std::fs::write(path("root.pem"), &root.text).unwrap();
    std::fs::write(path("lease.txt"), DOCUMENT).unwrap();
    std::fs::write(path("lease.p7s"), &signature).unwrap();
    let (verified, output) = openssl(
        directory.path(),
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "lease.p7s",
            "-content",
            "lease.txt",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(
        verified && output.contains("Verification successful"),
        "{output}"
    );
    // ...and so does sceau's offline verifier, which reads the signature time-stamp.
    let root_der = sceau_pki::Issued::from_pem_or_der(root.text.as_bytes())
        .unwrap()
        .der;
    let report = sceau_pki::verify_signature(&signature, DOCUMENT, &root_der, None).unwrap();
    assert_eq!(report.signer, "CN=Client alice");
    assert_eq!(report.signing_time_s, Some(START_S));
    assert_eq!(report.time_stamp.map(|stamp| stamp.time_s), Some(START_S));
    assert!(matches!(
        sceau_pki::verify_signature(&signature, b"another lease", &root_der, None),
        Err(sceau_pki::Refusal::ContentMismatch)
    ));

    // Three wrong seals fail the other request; it can no longer be signed.
    for _ in 0..2 {
        check_error(
            &server
                .type_signature_seal(&session, &other_id, "00000000")
                .await,
            422,
            "wrong_seal",
        );
    }
    check_error(
        &server
            .type_signature_seal(&session, &other_id, "0000000")
            .await,
        409,
        "signature_failed",
    );
    check_error(
        &server
            .type_signature_seal(&session, &other_id, &seal_in(&other_text))
            .await,
        409,
        "not_awaiting_seal",
    );

    // A seal typed after its time signs nothing.
    let (late, late_text) = requested(&server, &session, &alice, "late.txt", b"late").await;
    server.clock.advance(301);
    check_error(
        &server
            .type_signature_seal(&session, late["id"].as_str().unwrap(), &seal_in(&late_text))
            .await,
        410,
        "seal_expired",
    );

    // Documents larger than other bodies are signed; past 8 MiB they are refused.
    let large = vec![b'x'; 100 * 1024];
    let (view, text) = requested(&server, &session, &alice, "large.bin", &large).await;
    let reply = server
        .type_signature_seal(&session, view["id"].as_str().unwrap(), &seal_in(&text))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let too_large = vec![0_u8; 8 * 1024 * 1024 + 1];
    check_error(
        &server
            .ask_signature(&session, "huge.bin", &too_large, true)
            .await,
        413,
        "body_too_large",
    );

    // The list shows them all, newest first.
    let (status, listed) = server.download(&session, "/api/v1/signatures").await;
    assert_eq!(status, StatusCode::OK);
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    let states: Vec<&str> = listed["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["signed", "awaiting_seal", "failed", "signed"]);
    let _ = bob;
    server.stop().await;
}

#[tokio::test]
async fn certificates_carry_the_phone_sealed_and_are_revoked_on_the_crl() {
    let server = Server::start().await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "0").await;
    let bob = server.enroll_client("bob", BOB_PHONE, "0").await;
    let service = &server.service;
    let held = service.client_certificates(alice.id).await.unwrap();
    assert_eq!(held.len(), 1);
    let holder = &held[0];
    assert_eq!(holder.kind, CertificateKind::Holder);
    let issued = sceau_pki::Issued::from_der(&holder.der).unwrap();
    let envelope = extension_value(&issued, ID_ESCROWED_PHONE).expect("the sealed phone");
    // The number is not in the certificate in clear, and two numbers' envelopes have the
    // same length: nothing links a certificate to a phone but the escrow key.
    assert!(
        !holder
            .der
            .windows(ALICE_PHONE.len())
            .any(|w| w == ALICE_PHONE.as_bytes())
    );
    let bobs = service.client_certificates(bob.id).await.unwrap();
    let bobs_issued = sceau_pki::Issued::from_der(&bobs[0].der).unwrap();
    assert_eq!(
        envelope.len(),
        extension_value(&bobs_issued, ID_ESCROWED_PHONE)
            .unwrap()
            .len()
    );
    assert_eq!(
        service.reveal_phone(&holder.serial).await.unwrap(),
        ALICE_PHONE
    );
    assert_eq!(
        service.reveal_phone(&bobs[0].serial).await.unwrap(),
        BOB_PHONE
    );

    // A second certificate: no phone number, naming the first.
    let pseudonym = service.issue_pseudonym(alice.id).await.unwrap();
    assert_eq!(pseudonym.kind, CertificateKind::Pseudonym);
    assert_eq!(
        pseudonym.names_serial.as_deref(),
        Some(holder.serial.as_str())
    );
    let pseudonym_issued = sceau_pki::Issued::from_der(&pseudonym.der).unwrap();
    assert!(extension_value(&pseudonym_issued, ID_ESCROWED_PHONE).is_none());
    let refused = service.reveal_phone(&pseudonym.serial).await.unwrap_err();
    assert_eq!(refused.code(), "no_phone_number");

    // Revoked: on the CRL the server publishes (checked by openssl), and the client can
    // no longer ask for a signature.
    let revoked = service
        .revoke_certificate(
            &holder.serial,
            RevocationReason::KeyCompromise,
            ActedBy::Admin,
        )
        .await
        .unwrap();
    assert_eq!(revoked.revocation_reason, Some(1));
    let again = service
        .revoke_certificate(&holder.serial, RevocationReason::Superseded, ActedBy::Admin)
        .await
        .unwrap();
    assert_eq!(
        again.revocation_reason,
        Some(1),
        "the first revocation stands"
    );
    let directory = tempfile::tempdir().unwrap();
    let path = |name: &str| directory.path().join(name);
    let crl = server
        .http
        .get(server.url("/pki/issuing.crl"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        crl.headers().get("content-type").unwrap(),
        "application/pkix-crl"
    );
    std::fs::write(path("issuing.crl"), crl.bytes().await.unwrap()).unwrap();
    std::fs::write(
        path("issuing.pem"),
        server.page("/pki/issuing.pem", None).await.text,
    )
    .unwrap();
    let (read, text) = openssl(
        directory.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-CAfile",
            "issuing.pem",
            "-noout",
            "-text",
        ],
    );
    assert!(read && text.contains("verify OK"), "{text}");
    assert!(text.contains(&holder.serial.to_uppercase()), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(!text.contains(&bobs[0].serial.to_uppercase()), "{text}");
    let session = server.sign_in("alice").await;
    check_error(
        &server
            .ask_signature(&session, "after.txt", DOCUMENT, true)
            .await,
        409,
        "no_certificate",
    );
    server.stop().await;
}

#[tokio::test]
async fn a_disposable_certificate_signs_once_and_never_after_its_life() {
    let server = Server::start().await;
    let service = &server.service;
    for refused_lifetime in [0, 59, 3_601] {
        let refused = service
            .issue_disposable(Some(refused_lifetime))
            .await
            .err()
            .expect("refused");
        assert_eq!(refused.code(), "invalid_lifetime");
    }
    let disposable = service.issue_disposable(None).await.unwrap();
    assert_eq!(disposable.not_after_s, START_S + 600);
    let digest: [u8; 32] = Sha256::digest(DOCUMENT).into();
    let signature = service.sign_once(&disposable.serial, digest).await.unwrap();
    let root = service.pki.as_ref().unwrap().authority.root().der.clone();
    let report = sceau_pki::verify_signature(&signature, DOCUMENT, &root, None).unwrap();
    assert_eq!(report.serial, disposable.serial);
    // Used: a second use is refused, and the certificate is on the CRL.
    let second = service
        .sign_once(&disposable.serial, digest)
        .await
        .unwrap_err();
    assert_eq!(second.code(), "certificate_used");
    let record = service.certificate(&disposable.serial).await.unwrap();
    assert_eq!(record.used_at_s, Some(START_S));
    assert_eq!(record.revoked_at_s, Some(START_S + 1));
    // Its key is gone from the keystore.
    let keystore = service.pki.as_ref().unwrap().keystore();
    let label = sceau_pki::KeyLabel::new(record.key_label.as_deref().unwrap()).unwrap();
    assert!(keystore.public_key(&label).is_err());

    // Past its life, unused: refused.
    let expiring = service.issue_disposable(Some(60)).await.unwrap();
    server.clock.advance(61);
    let late = service
        .sign_once(&expiring.serial, digest)
        .await
        .unwrap_err();
    assert_eq!(late.code(), "certificate_expired");
    let unknown = service.sign_once("00ff", digest).await.unwrap_err();
    assert_eq!(unknown.code(), "unknown_certificate");

    let crl = service.crl().await.unwrap();
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("issuing.crl"), &crl).unwrap();
    let (read, text) = openssl(
        directory.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-noout",
            "-text",
        ],
    );
    assert!(read, "{text}");
    assert!(text.contains(&disposable.serial.to_uppercase()), "{text}");
    assert!(text.contains("Cessation Of Operation"), "{text}");
    assert!(!text.contains(&expiring.serial.to_uppercase()), "{text}");
    server.stop().await;
}

/// Time-stamp requests arriving together are signed together (one use of the key for
/// the group): each still gets its own token, for its own imprint and nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_stamps_signed_in_groups_each_answer_their_own_request() {
    let server = Server::start().await;
    let root = service_root(&server);
    let requests: Vec<(Vec<u8>, u64, Vec<u8>)> = (0..48_u64)
        .map(|n| {
            let data = format!("document {n}").into_bytes();
            let digest: [u8; 32] = Sha256::digest(&data).into();
            let nonce = 1_000 + n;
            (
                data,
                nonce,
                sceau_pki::tsa::query(&digest, nonce, true).unwrap(),
            )
        })
        .collect();
    let answers = futures_util::future::join_all(requests.iter().map(|(_, _, query)| {
        server
            .http
            .post(server.url("/tsa"))
            .header("content-type", "application/timestamp-query")
            .body(query.clone())
            .send()
    }))
    .await;
    let mut serials = std::collections::HashSet::new();
    for ((data, nonce, _), answer) in requests.iter().zip(answers) {
        let response = answer.unwrap().bytes().await.unwrap();
        let stamp = sceau_pki::verify_time_stamp(&response, data, &root, Some(*nonce))
            .unwrap_or_else(|refusal| panic!("nonce {nonce}: {refusal}"));
        assert!(serials.insert(stamp.serial), "two tokens share a serial");
        // Another request's data is not what this token stamps.
        assert!(sceau_pki::verify_time_stamp(&response, b"document x", &root, None).is_err());
    }
    server.stop().await;
}

fn service_root(server: &Server) -> Vec<u8> {
    server
        .service
        .pki
        .as_ref()
        .unwrap()
        .authority
        .root()
        .der
        .clone()
}

/// The seal is consent to a signature under the certificate named when it was sent: a
/// certificate revoked in between signs nothing; an expired one is not offered.
#[tokio::test]
async fn a_revoked_or_expired_certificate_signs_nothing() {
    let server = Server::start().await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let (view, text) = requested(&server, &session, &alice, "lease.txt", DOCUMENT).await;
    let id = view["id"].as_str().unwrap().to_owned();
    let holder = server
        .service
        .client_certificates(alice.id)
        .await
        .unwrap()
        .remove(0);
    server
        .service
        .revoke_certificate(
            &holder.serial,
            RevocationReason::KeyCompromise,
            ActedBy::Admin,
        )
        .await
        .unwrap();
    check_error(
        &server
            .type_signature_seal(&session, &id, &seal_in(&text))
            .await,
        409,
        "certificate_not_valid",
    );
    let (status, _) = server
        .download(&session, &format!("/api/v1/signatures/{id}/signature.p7s"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing was signed");
    // The request failed: it does not wait for a certificate that will not come back.
    let (status, view) = server
        .download(&session, &format!("/api/v1/signatures/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let view: Value = serde_json::from_slice(&view).unwrap();
    assert_eq!(view["state"], "failed");

    // A client whose only certificate has expired is not sent a seal at all.
    let bob = server.enroll_client("bob", BOB_PHONE, "0").await;
    let bobs = server
        .service
        .client_certificates(bob.id)
        .await
        .unwrap()
        .remove(0);
    server.clock.advance(bobs.not_after_s - START_S + 1);
    let session = server.sign_in("bob").await;
    let newest = server.newest_message_id(BOB_PHONE).await;
    check_error(
        &server
            .ask_signature(&session, "late.txt", DOCUMENT, true)
            .await,
        409,
        "no_certificate",
    );
    server.deliver().await;
    assert_eq!(server.newest_message_id(BOB_PHONE).await, newest);
    server.stop().await;
}

/// Signature requests made before they became envelopes of one file keep the API they
/// had, read-only: shown (`signed`, or `failed` when never signed), listed (with the
/// envelopes of one file, newest first; not with an envelope of two), their signature
/// downloaded; they take no seal, and their page shows them without a form.
#[tokio::test]
async fn requests_made_before_envelopes_stay_readable() {
    let server = Server::start().await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let bobs = {
        server.enroll_client("bob", BOB_PHONE, "0").await;
        server.sign_in("bob").await
    };
    let holder = server
        .service
        .client_certificates(alice.id)
        .await
        .unwrap()
        .remove(0);
    // Two rows as the store wrote them before: one signed, one never sealed.
    let (signed_id, waiting_id) = ("0a".repeat(16), "0b".repeat(16));
    let old_signature = b"a CMS signature made before".to_vec();
    {
        let connection = rusqlite::Connection::open(server.database()).unwrap();
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        let insert = "INSERT INTO signature_requests (public_id, client_id, document_name, \
            content_digest, certificate_serial, state, seal_nonce, seal_digits, seal_issued_at, \
            seal_expires_at, wrong_tries, signature, signed_at, created_at) \
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 8, ?8, ?9, 0, ?10, ?11, ?12)";
        let digest = Sha256::digest(DOCUMENT).to_vec();
        let at = START_S - 1_000;
        connection
            .execute(
                insert,
                rusqlite::params![
                    signed_id,
                    alice.id,
                    "old-lease.txt",
                    digest,
                    holder.serial,
                    "signed",
                    vec![1_u8; 16],
                    at,
                    at + 300,
                    old_signature,
                    at + 10,
                    at
                ],
            )
            .unwrap();
        connection
            .execute(
                insert,
                rusqlite::params![
                    waiting_id,
                    alice.id,
                    "old-draft.txt",
                    digest,
                    holder.serial,
                    "awaiting_seal",
                    vec![2_u8; 16],
                    at + 1,
                    at + 301,
                    None::<Vec<u8>>,
                    None::<i64>,
                    at + 1
                ],
            )
            .unwrap();
    }
    // An envelope of two files, from a station: not a signature request.
    let station = common::notary::Station::new();
    let opened = server
        .notary_post(
            &session,
            "/api/v1/envelopes",
            json!({ "public_key": station.public_key() }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let opened = opened.json();
    let two_id = opened["id"].as_str().unwrap().to_owned();
    let files: common::notary::Files = vec![
        ("a.txt".to_owned(), b"first".to_vec()),
        ("b.txt".to_owned(), b"second".to_vec()),
    ];
    let manifest = common::notary::manifest_of(&opened, &files, Vec::new());
    let accepted = server
        .notary_post(
            &session,
            &format!("/api/v1/envelopes/{two_id}/manifest"),
            json!({ "manifest": manifest, "signature": station.sign(manifest.as_bytes()) }),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    let before = server.newest_message_id(&alice.phone).await;
    for (index, (_, bytes)) in files.iter().enumerate() {
        let put = server
            .put_file(&session, &two_id, index, bytes.clone())
            .await;
        assert!(put.status.is_success(), "{}", put.text);
    }
    let two_text = server.message_after(&alice.phone, before).await;
    check_error(
        &server
            .type_signature_seal(&session, &two_id, &seal_in(&two_text))
            .await,
        404,
        "unknown_signature",
    );
    let (status, _) = server
        .download(&session, &format!("/api/v1/signatures/{two_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A request made now, an envelope of one file.
    let (new, text) = requested(&server, &session, &alice, "new.txt", DOCUMENT).await;

    let (status, shown) = server
        .download(&session, &format!("/api/v1/signatures/{signed_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let shown: Value = serde_json::from_slice(&shown).unwrap();
    assert_eq!(shown["state"], "signed");
    assert_eq!(shown["document_name"], "old-lease.txt");
    let (status, never) = server
        .download(&session, &format!("/api/v1/signatures/{waiting_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let never: Value = serde_json::from_slice(&never).unwrap();
    assert_eq!(
        (
            &never["state"],
            &never["seal_expires_at"],
            &never["tries_left"]
        ),
        (&json!("failed"), &Value::Null, &Value::Null),
        "a request never sealed will never be: {never}"
    );
    assert_eq!(shown["envelope_url"], Value::Null);
    let (status, signature) = server
        .download(&session, shown["signature_url"].as_str().unwrap())
        .await;
    assert_eq!((status, signature), (StatusCode::OK, old_signature));
    // Another client's session knows nothing of it.
    let (status, _) = server
        .download(&bobs, &format!("/api/v1/signatures/{signed_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Listed with the envelopes, newest first.
    let (status, listed) = server.download(&session, "/api/v1/signatures").await;
    assert_eq!(status, StatusCode::OK);
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    let ids: Vec<&str> = listed["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [new["id"].as_str().unwrap(), &waiting_id, &signed_id]);

    // The old one awaiting a seal takes none now; the new one does.
    check_error(
        &server
            .type_signature_seal(&session, &waiting_id, &seal_in(&text))
            .await,
        409,
        "not_awaiting_seal",
    );
    let (status, _) = server
        .download(
            &session,
            &format!("/api/v1/signatures/{waiting_id}/signature.p7s"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The page: the old request read-only; the new one leads to its envelope.
    let page = server
        .page(
            &format!("/wallet/signatures/{signed_id}"),
            Some(&session.cookie),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("old-lease.txt") && page.text.contains("Signed on"));
    assert!(!page.text.contains("name=\"seal\""), "no seal form");
    let page = server
        .page(
            &format!("/wallet/signatures/{}", new["id"].as_str().unwrap()),
            Some(&session.cookie),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    server.stop().await;
}
