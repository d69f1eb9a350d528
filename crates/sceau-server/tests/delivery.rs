//! Certified delivery through the HTTP API, a recipient played by this test (its key
//! made and held here, as a browser's would be): a notarized envelope sent to a
//! recipient, the link from the notice as queued, the code from the SMS as queued, the
//! recipient's session, the withdrawal certificate, the files and their signatures
//! (checked by openssl against the sender's certificate), the signed answer; the sender
//! sees the outcome. Then what is refused, with nothing half-written: bad recipients, a
//! link in another browser, another recipient's code, steps out of order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::notary::*;
use common::*;
use reqwest::{Method, StatusCode};
use sceau_domain::envelope::Destination;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ALICE_PHONE: &str = "+33612345678";
const BOB_EMAIL: &str = "bob@example.org";
const BOB_PHONE: &str = "+33687654321";
const CAROL_PHONE: &str = "+33611112222";
const DAVE_EMAIL: &str = "dave@example.org";
const DAVE_PHONE: &str = "+33622223333";

/// A recipient's browser: its cookie (once the code was right) and its key.
struct Recipient {
    token: String,
    cookie: Option<String>,
    key: Station,
}

impl Recipient {
    fn new(token: String) -> Recipient {
        Recipient {
            token,
            cookie: None,
            key: Station::new(),
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/d/{}{rest}", self.token)
    }

    fn csrf(&self) -> String {
        let session = self.cookie.as_deref().unwrap().split_once('=').unwrap().1;
        sceau_server::api::delivery::recipient_csrf(session)
    }
}

impl Server {
    async fn fetch(&self, session: &Session, path: &str) -> Reply {
        self.send(
            self.http
                .get(self.url(path))
                .header("cookie", &session.cookie),
        )
        .await
    }

    /// A notarized envelope of `files`, for `session`'s client: its id.
    async fn notarized(&self, session: &Session, files: &Files) -> String {
        let destinations = vec![Destination {
            email: Some(BOB_EMAIL.parse().unwrap()),
            phone: Some(BOB_PHONE.parse().unwrap()),
        }];
        self.new_notarized_envelope(session, ALICE_PHONE, files, destinations)
            .await
    }

    /// The newest message queued to `address`, opened (whatever its state: the test
    /// reads the outbox as a route would).
    async fn queued_to(&self, address: &str) -> Option<String> {
        let messages = self.service.store.messages_to(address, 10).await.unwrap();
        let newest = messages.into_iter().max_by_key(|message| message.id)?;
        let opened = self
            .service
            .keys
            .unseal(&newest.sealed_body, address)
            .unwrap();
        Some(opened.to_string())
    }

    async fn queued_count(&self, address: &str) -> usize {
        self.service
            .store
            .messages_to(address, 100)
            .await
            .unwrap()
            .len()
    }

    /// The link token in the newest notice to `email`.
    async fn link_for(&self, email: &str) -> String {
        let body: Value = serde_json::from_str(&self.queued_to(email).await.unwrap()).unwrap();
        let text = body["text"].as_str().unwrap();
        let at = text.find("/d/").expect("a link in the notice") + 3;
        text[at..at + 64].to_owned()
    }

    /// The code in the newest SMS to `phone`.
    async fn code_for(&self, phone: &str) -> String {
        let text = self.queued_to(phone).await.unwrap();
        let at = text.find("code ").expect("a code in the SMS") + 5;
        text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect()
    }

    async fn recipient_get(&self, recipient: &Recipient, rest: &str) -> Reply {
        let mut request = self.http.get(self.url(&recipient.path(rest)));
        if let Some(cookie) = &recipient.cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request).await
    }

    /// The bytes of a recipient's download, and its status.
    async fn recipient_bytes(&self, recipient: &Recipient, rest: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .http
            .get(self.url(&recipient.path(rest)))
            .header("cookie", recipient.cookie.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }

    async fn recipient_form(
        &self,
        recipient: &Recipient,
        rest: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url(&recipient.path(rest)))
            .header("origin", self.url("").trim_end_matches('/'))
            .form(form);
        if let Some(cookie) = &recipient.cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request).await
    }

    async fn recipient_post(&self, recipient: &Recipient, rest: &str, body: Value) -> Reply {
        let mut request = self.http.post(self.url(&recipient.path(rest))).json(&body);
        if let Some(cookie) = &recipient.cookie {
            request = request
                .header("cookie", cookie)
                .header("x-csrf-token", recipient.csrf());
        }
        self.send(request).await
    }

    /// The recipient asks for the code and types it: their session's cookie is kept.
    async fn authenticate(&self, recipient: &mut Recipient, phone: &str) {
        let reply = self.recipient_form(recipient, "/code", &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let code = self.code_for(phone).await;
        let reply = self
            .recipient_form(recipient, "/session", &[("code", &code)])
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        let cookie = reply.header("set-cookie").unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert!(
            cookie.contains(&format!("Path=/d/{}", recipient.token)),
            "{cookie}"
        );
        recipient.cookie = Some(cookie.split(';').next().unwrap().to_owned());
    }

    async fn send_delivery(&self, session: &Session, id: &str, body: Value) -> Reply {
        self.notary_post(session, &format!("/api/v1/envelopes/{id}/deliveries"), body)
            .await
    }
}

fn files() -> Files {
    vec![
        (
            "contrat signé.txt".to_owned(),
            "Contrat de bail, version finale\n".as_bytes().to_vec(),
        ),
        (
            "annexe.bin".to_owned(),
            (0..=255_u8).cycle().take(100 * 1024).collect(),
        ),
    ]
}

/// The statement the recipient signs, as `delivery.js` writes it.
fn statement(
    delivery: &str,
    position: u32,
    serial: &str,
    answer: &str,
    digests: &[String],
) -> String {
    let files: Vec<Value> = digests
        .iter()
        .enumerate()
        .map(|(position, sha256)| {
            json!({"position": position, "sha256": sha256, "digest_matches": true, "signature_valid": true})
        })
        .collect();
    // serde_json keeps the keys in the order written (preserve_order) or sorts them;
    // either way the server reads the text it was sent and checks the signature over it.
    serde_json::to_string(&json!({
        "type": "sceau-delivery-answer/1",
        "delivery": delivery,
        "recipient": position,
        "certificate": serial,
        "answer": answer,
        "files": files,
    }))
    .unwrap()
}

#[tokio::test]
async fn a_recipient_checks_the_files_and_accepts_them_and_the_sender_sees_it() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let files = files();
    let id = server.notarized(&session, &files).await;

    // The envelope's destination is the recipient when none is named.
    let reply = server
        .send_delivery(&session, &id, json!({"deadline_days": 10}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let delivery = reply.json();
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    assert_eq!(delivery["recipients"][0]["email"], BOB_EMAIL);
    assert_eq!(delivery["recipients"][0]["state"], "notified");
    let listed = server
        .fetch(&session, &format!("/api/v1/envelopes/{id}/deliveries"))
        .await;
    assert_eq!(listed.json()["deliveries"][0]["id"], delivery_id.as_str());

    // The notice names the sender, the files and the deadline, and carries the link.
    let notice: Value = serde_json::from_str(&server.queued_to(BOB_EMAIL).await.unwrap()).unwrap();
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("2 files") && text.contains("contrat signé.txt"),
        "{text}"
    );
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("Certified delivery")
    );
    let mut bob = Recipient::new(server.link_for(BOB_EMAIL).await);

    // The link shows the notice again and grants nothing else.
    let page = server.recipient_get(&bob, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("contrat signé.txt") && page.text.contains("Send me the code"),
        "{}",
        page.text
    );
    let french = server
        .send(
            server
                .http
                .get(server.url(&bob.path("")))
                .header("accept-language", "fr-FR,fr;q=0.9"),
        )
        .await;
    assert!(french.text.contains("lang=\"fr\"") && french.text.contains("M'envoyer le code"));
    assert_eq!(
        server.recipient_get(&bob, "/files").await.status,
        StatusCode::SEE_OTHER
    );
    check_error(
        &server.recipient_get(&bob, "/delivery.json").await,
        401,
        "recipient_signed_out",
    );
    check_error(
        &server
            .recipient_post(
                &bob,
                "/withdrawal",
                json!({"public_key": bob.key.public_key()}),
            )
            .await,
        401,
        "recipient_signed_out",
    );

    // A wrong code counts and says so; the right one opens the session.
    let reply = server.recipient_form(&bob, "/code", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let sms = server.queued_to(BOB_PHONE).await.unwrap();
    assert!(sms.contains("from Client alice (2 files)"), "{sms}");
    let reply = server
        .recipient_form(&bob, "/session", &[("code", "00000000")])
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(reply.text.contains("2 tries left"), "{}", reply.text);
    server.authenticate(&mut bob, BOB_PHONE).await;
    let page = server.recipient_get(&bob, "/files").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(page.text.contains("/static/delivery.js") && page.text.contains("integrity="));
    // In session, the link goes to the files.
    assert_eq!(
        server.recipient_get(&bob, "").await.status,
        StatusCode::SEE_OTHER
    );

    let view = server.recipient_get(&bob, "/delivery.json").await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    let view = view.json();
    assert_eq!(view["state"], "authenticated");
    assert_eq!(view["files"].as_array().unwrap().len(), 2);
    // Nothing is handed over before the withdrawal certificate.
    check_error(
        &server.recipient_get(&bob, "/files/0").await,
        409,
        "not_withdrawn",
    );
    // A write without the session's CSRF token is refused.
    let without = server
        .send(
            server
                .http
                .post(server.url(&bob.path("/withdrawal")))
                .header("cookie", bob.cookie.as_deref().unwrap())
                .json(&json!({"public_key": bob.key.public_key()})),
        )
        .await;
    check_error(&without, 403, "csrf");

    let reply = server
        .recipient_post(
            &bob,
            "/withdrawal",
            json!({"public_key": bob.key.public_key()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let serial = reply.json()["serial"].as_str().unwrap().to_owned();
    let withdrawal_der = BASE64
        .decode(reply.json()["certificate"].as_str().unwrap())
        .unwrap();

    // Each file and its signature, checked as anyone can: openssl, with the sender's
    // certificate and sceau's root.
    let directory = tempfile::tempdir().unwrap();
    let sender = BASE64
        .decode(view["sender"]["certificate"].as_str().unwrap())
        .unwrap();
    std::fs::write(directory.path().join("sender.der"), &sender).unwrap();
    let root = server
        .send(server.http.get(server.url("/pki/root.pem")))
        .await;
    std::fs::write(directory.path().join("root.pem"), root.text.as_bytes()).unwrap();
    let mut digests = Vec::new();
    for (position, (name, bytes)) in files.iter().enumerate() {
        let (status, file) = server
            .recipient_bytes(&bob, &format!("/files/{position}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(file == *bytes, "{name}: not the file sent");
        let (status, p7s_bytes) = server
            .recipient_bytes(&bob, &format!("/files/{position}/signature.p7s"))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        std::fs::write(directory.path().join("file"), bytes).unwrap();
        std::fs::write(directory.path().join("file.p7s"), &p7s_bytes).unwrap();
        let (ok, output) = openssl(
            directory.path(),
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
        digests.push(hex::encode(Sha256::digest(bytes)));
    }

    // The answer, signed with the key the withdrawal certificate certifies.
    let text = statement(&delivery_id, 0, &serial, "accept", &digests);
    let forged = Station::new();
    let reply = server
        .recipient_post(
            &bob,
            "/answer",
            json!({"statement": text, "signature": forged.sign(text.as_bytes())}),
        )
        .await;
    check_error(&reply, 422, "answer_signature_invalid");
    let mut wrong = digests.clone();
    wrong[1] = "00".repeat(32);
    let other = statement(&delivery_id, 0, &serial, "accept", &wrong);
    let reply = server
        .recipient_post(
            &bob,
            "/answer",
            json!({"statement": other, "signature": bob.key.sign(other.as_bytes())}),
        )
        .await;
    check_error(&reply, 409, "digests_differ");
    assert!(reply.text.contains("file 2"), "{}", reply.text);
    let reply = server
        .recipient_post(
            &bob,
            "/answer",
            json!({"statement": text, "signature": bob.key.sign(text.as_bytes())}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["state"], "accepted");
    // The withdrawal certificate is the one the answer was checked under.
    assert!(!withdrawal_der.is_empty());

    // The sender sees it; the session ended with the answer.
    let shown = server
        .fetch(&session, &format!("/api/v1/deliveries/{delivery_id}"))
        .await;
    assert_eq!(
        shown.json()["recipients"][0]["state"],
        "accepted",
        "{}",
        shown.text
    );
    assert!(shown.json()["settled_at"].is_string());
    // The sender's page says it too, in French for a browser that prefers it.
    let page = server
        .send(
            server
                .http
                .get(server.url(&format!("/wallet/deliveries/{delivery_id}")))
                .header("cookie", &session.cookie)
                .header("accept-language", "fr-FR,fr;q=0.9,en;q=0.5"),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("lang=\"fr\"") && page.text.contains("accepté"),
        "{}",
        page.text
    );
    assert!(page.text.contains(&format!(
        "/api/v1/deliveries/{delivery_id}/recipients/0/receipt"
    )));
    let english = server
        .send(
            server
                .http
                .get(server.url(&format!("/wallet/deliveries/{delivery_id}")))
                .header("cookie", &session.cookie),
        )
        .await;
    assert!(english.text.contains("Recipients") && english.text.contains("accepted"));
    check_error(
        &server.recipient_get(&bob, "/delivery.json").await,
        401,
        "recipient_signed_out",
    );
    let page = server
        .send(server.http.get(server.url(&bob.path(""))))
        .await;
    assert!(
        page.text.contains("You accepted this delivery"),
        "{}",
        page.text
    );

    // The delivery's evidence: every step, under EN 319 522's names where it has one.
    let view = server
        .service
        .store
        .delivery(&delivery_id)
        .await
        .unwrap()
        .unwrap();
    let mut chain = server
        .service
        .store
        .evidence(&sceau_store::evidence::delivery_subject(view.id))
        .await
        .unwrap();
    chain.extend(
        server
            .service
            .store
            .evidence(&sceau_store::evidence::delivery_recipient_subject(
                view.id, 0,
            ))
            .await
            .unwrap(),
    );
    let kinds: Vec<&str> = chain.iter().map(|record| record.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "delivery.sent",
            "delivery.notified",
            "delivery.code_sent",
            "delivery.code_wrong",
            "delivery.code_sent",
            "delivery.authenticated",
            "delivery.withdrawn",
            "delivery.accepted"
        ]
    );
    for record in &chain {
        let text = String::from_utf8(record.record.clone()).unwrap();
        assert!(
            !text.contains(BOB_PHONE) && !text.contains(BOB_EMAIL),
            "{text}"
        );
    }
}

#[tokio::test]
async fn refused_deliveries_queue_nothing() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let id = server.notarized(&session, &files()).await;
    let cases = [
        (
            json!({"recipients": [{"email": "bob@example.org\r\nBcc: eve@example.org", "phone": BOB_PHONE}]}),
            422,
            "invalid_field",
        ),
        (
            json!({"recipients": [{"email": BOB_EMAIL, "phone": "0687654321"}]}),
            422,
            "invalid_phone",
        ),
        (
            json!({"recipients": [{"email": BOB_EMAIL}]}),
            422,
            "invalid_phone",
        ),
        (
            json!({"recipients": [{"email": BOB_EMAIL, "phone": BOB_PHONE}], "deadline_days": 0}),
            422,
            "invalid_deadline",
        ),
        (
            json!({"recipients": [{"email": BOB_EMAIL, "phone": BOB_PHONE}], "deadline_days": 91}),
            422,
            "invalid_deadline",
        ),
        (
            json!({"recipients": [
                {"email": BOB_EMAIL, "phone": BOB_PHONE},
                {"email": "BOB@example.org", "phone": CAROL_PHONE}
            ]}),
            422,
            "recipient_twice",
        ),
    ];
    for (body, status, code) in cases {
        let reply = server.send_delivery(&session, &id, body.clone()).await;
        check_error(&reply, status, code);
    }
    let many: Vec<Value> = (0..1_000)
        .map(|n| json!({"email": format!("r{n}@example.org"), "phone": BOB_PHONE}))
        .collect();
    let reply = server
        .send_delivery(&session, &id, json!({"recipients": many}))
        .await;
    check_error(&reply, 422, "too_many_recipients");
    let hundred_one: Vec<Value> = (0..101)
        .map(|n| json!({"email": format!("r{n}@example.org"), "phone": BOB_PHONE}))
        .collect();
    let reply = server
        .send_delivery(&session, &id, json!({"recipients": hundred_one}))
        .await;
    check_error(&reply, 422, "too_many_recipients");
    // Dave is a client known by his address: another phone than his is refused; his own,
    // or none, is taken.
    let reply = server
        .admin(
            Method::POST,
            "/admin/v1/clients",
            Some(json!({
                "login": "dave", "display_name": "Dave", "password": PASSWORD,
                "phone": DAVE_PHONE, "email": DAVE_EMAIL, "currency": "EUR",
                "opening_balance": "0",
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = server
        .send_delivery(
            &session,
            &id,
            json!({"recipients": [{"email": "Dave@Example.org", "phone": BOB_PHONE}]}),
        )
        .await;
    check_error(&reply, 422, "phone_mismatch");
    assert_eq!(server.queued_count(BOB_EMAIL).await, 0);
    assert_eq!(server.queued_count("r0@example.org").await, 0);
    assert_eq!(server.queued_count("Dave@Example.org").await, 0);
    let reply = server
        .send_delivery(
            &session,
            &id,
            json!({"recipients": [{"email": "Dave@Example.org"}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    // Dave's phone was taken from his enrolment: the sender is not shown it.
    assert_eq!(reply.json()["recipients"][0]["phone"], Value::Null);
    // Nor in the receipt, whose records carry no digest of it; a phone added to the
    // receipt is refused.
    let dave_delivery = reply.json()["id"].as_str().unwrap().to_owned();
    let receipt = server
        .fetch(
            &session,
            &format!("/api/v1/deliveries/{dave_delivery}/recipients/0/receipt"),
        )
        .await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.text);
    assert!(!receipt.text.contains(DAVE_PHONE));
    let (root, key) = trust(&server).await;
    let report = sceau_server::delivery_receipt::check(receipt.text.as_bytes(), &root, &key);
    assert!(report.valid(), "{report:?}");
    let mut altered: Value = serde_json::from_str(&receipt.text).unwrap();
    altered["recipient"]["phone"] = json!(DAVE_PHONE);
    let altered = sceau_log::canonical(&altered).unwrap();
    let report = sceau_server::delivery_receipt::check(&altered, &root, &key);
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|check| check.outcome.is_err())
        .map(|check| check.part)
        .collect();
    assert_eq!(failed, ["recipient"]);
    // Another client's envelope is not found; nothing is sent of it.
    server.enroll_client("mallory", "+33699999999", "0").await;
    let mallory = server.sign_in("mallory").await;
    let reply = server
        .send_delivery(
            &mallory,
            &id,
            json!({"recipients": [{"email": BOB_EMAIL, "phone": BOB_PHONE}]}),
        )
        .await;
    check_error(&reply, 404, "unknown_envelope");
    assert_eq!(server.queued_count(BOB_EMAIL).await, 0);
    // Nor is another sender's delivery, on its page or over the API.
    let page = server
        .send(
            server
                .http
                .get(server.url(&format!("/wallet/deliveries/{dave_delivery}")))
                .header("cookie", &mallory.cookie),
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    check_error(
        &server
            .fetch(&mallory, &format!("/api/v1/deliveries/{dave_delivery}"))
            .await,
        404,
        "unknown_delivery",
    );
}

/// The sender's receipt of a recipient who accepted, checked offline as `sceau verify`
/// checks it (the root and the log's key alone); each part changed is named.
#[tokio::test]
async fn the_senders_receipt_proves_the_recipients_answer_offline() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let files = files();
    let id = server.notarized(&session, &files).await;
    let reply = server.send_delivery(&session, &id, json!({})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let delivery_id = reply.json()["id"].as_str().unwrap().to_owned();
    let receipt_path = format!("/api/v1/deliveries/{delivery_id}/recipients/0/receipt");
    let (root_der, key) = trust(&server).await;

    // Before any answer: the receipt says what happened so far, and is valid.
    let early = server.fetch(&session, &receipt_path).await;
    assert_eq!(early.status, StatusCode::OK, "{}", early.text);
    let report = sceau_server::delivery_receipt::check(early.text.as_bytes(), &root_der, &key);
    assert!(report.valid(), "{report:?}");

    let mut bob = Recipient::new(server.link_for(BOB_EMAIL).await);
    server.authenticate(&mut bob, BOB_PHONE).await;
    let reply = server
        .recipient_post(
            &bob,
            "/withdrawal",
            json!({"public_key": bob.key.public_key()}),
        )
        .await;
    let serial = reply.json()["serial"].as_str().unwrap().to_owned();
    let digests: Vec<String> = files
        .iter()
        .map(|(_, bytes)| hex::encode(Sha256::digest(bytes)))
        .collect();
    let text = statement(&delivery_id, 0, &serial, "accept", &digests);
    let reply = server
        .recipient_post(
            &bob,
            "/answer",
            json!({"statement": text, "signature": bob.key.sign(text.as_bytes())}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let receipt = server.fetch(&session, &receipt_path).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.text);
    let bytes = receipt.text.as_bytes().to_vec();
    let report = sceau_server::delivery_receipt::check(&bytes, &root_der, &key);
    assert!(report.valid(), "{report:?}");
    let lines: Vec<String> = report
        .checks
        .iter()
        .map(|check| format!("{}: {}", check.part, check.outcome.as_ref().unwrap()))
        .collect();
    let all = lines.join("\n");
    assert!(all.contains("ConsignmentAcceptance"), "{all}");
    assert!(all.contains("accepted by the recipient's browser"), "{all}");
    assert!(
        all.contains("computed every sent file's SHA-256 (2 files)"),
        "{all}"
    );
    assert!(all.contains("time-stamped"), "{all}");
    assert!(all.contains(BOB_EMAIL), "{all}");

    // Each part changed is caught, by name.
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        change(&mut value);
        sceau_log::canonical(&value).unwrap()
    };
    let failed = |bytes: &[u8]| -> Vec<&'static str> {
        sceau_server::delivery_receipt::check(bytes, &root_der, &key)
            .checks
            .into_iter()
            .filter(|check| check.outcome.is_err())
            .map(|check| check.part)
            .collect()
    };
    let other_phone = changed(&|value| value["recipient"]["phone"] = json!(CAROL_PHONE));
    assert_eq!(failed(&other_phone), ["recipient"]);
    let other_statement = changed(&|value| {
        let statement = value["answer"]["statement"]
            .as_str()
            .unwrap()
            .replace("accept", "reject");
        value["answer"]["statement"] = json!(statement);
    });
    assert_eq!(failed(&other_statement), ["answer"]);
    let other_stamp = changed(&|value| {
        let stamp = value["answer"]["time_stamp"].as_str().unwrap();
        let mut der = BASE64.decode(stamp).unwrap();
        let last = der.len() - 1;
        der[last] ^= 1;
        value["answer"]["time_stamp"] = json!(BASE64.encode(der));
    });
    assert_eq!(failed(&other_stamp), ["answer"]);
    let other_record = changed(&|value| {
        let record = value["recipient_records"][1]["record"].as_str().unwrap();
        let mut bytes = BASE64.decode(record).unwrap();
        bytes[10] ^= 1;
        value["recipient_records"][1]["record"] = json!(BASE64.encode(bytes));
    });
    assert!(
        failed(&other_record).contains(&"log entries"),
        "{:?}",
        failed(&other_record)
    );
    // Another log's key proves nothing.
    let stranger =
        sceau_log::NoteSigner::new(key.name(), ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
            .unwrap()
            .verifier_key();
    let report = sceau_server::delivery_receipt::check(&bytes, &root_der, &stranger);
    assert!(!report.valid());
}

/// What anyone checks a receipt with: the root (DER) and the log's key, as served.
async fn trust(server: &Server) -> (Vec<u8>, sceau_log::VerifierKey) {
    let root = server
        .send(server.http.get(server.url("/pki/root.pem")))
        .await;
    let key = server.send(server.http.get(server.url("/log/key"))).await;
    (
        pem_to_der(&root.text),
        sceau_log::VerifierKey::parse(key.text.trim()).unwrap(),
    )
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    BASE64.decode(body).unwrap()
}

/// Enrols the sender with an e-mail address (to be told of each outcome).
async fn sender_with_address(server: &Server) -> Session {
    let reply = server
        .admin(
            reqwest::Method::POST,
            "/admin/v1/clients",
            Some(json!({
                "login": "alice", "display_name": "Alice Martin", "password": PASSWORD,
                "phone": ALICE_PHONE, "email": "alice@example.org", "currency": "EUR",
                "opening_balance": "0",
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    server.sign_in("alice").await
}

/// The subjects of the e-mails queued to `address`, oldest first.
async fn subjects_to(server: &Server, address: &str) -> Vec<String> {
    let mut messages = server
        .service
        .store
        .messages_to(address, 100)
        .await
        .unwrap();
    messages.sort_by_key(|message| message.id);
    messages
        .iter()
        .map(|message| {
            let opened = server
                .service
                .keys
                .unseal(&message.sealed_body, address)
                .unwrap();
            let body: Value = serde_json::from_str(&opened).unwrap();
            body["subject"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Two recipients: one accepts, the other never answers. Three days before the deadline
/// the one who has not answered is reminded (a link that still works); at the deadline
/// (the clock moved, not slept) they expire; the sender is told of each outcome by
/// e-mail, once.
#[tokio::test]
async fn one_accepts_the_other_never_answers_and_expires_at_the_deadline() {
    let server = Server::start().await;
    let session = sender_with_address(&server).await;
    let files = files();
    let id = server.notarized(&session, &files).await;
    let reply = server
        .send_delivery(
            &session,
            &id,
            json!({"recipients": [
                {"email": BOB_EMAIL, "phone": BOB_PHONE},
                {"email": "carol@example.org", "phone": CAROL_PHONE}
            ], "deadline_days": 7}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let delivery_id = reply.json()["id"].as_str().unwrap().to_owned();

    let mut bob = Recipient::new(server.link_for(BOB_EMAIL).await);
    server.authenticate(&mut bob, BOB_PHONE).await;
    let serial = server
        .recipient_post(
            &bob,
            "/withdrawal",
            json!({"public_key": bob.key.public_key()}),
        )
        .await
        .json()["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let digests: Vec<String> = files
        .iter()
        .map(|(_, bytes)| hex::encode(Sha256::digest(bytes)))
        .collect();
    let text = statement(&delivery_id, 0, &serial, "accept", &digests);
    let reply = server
        .recipient_post(
            &bob,
            "/answer",
            json!({"statement": text, "signature": bob.key.sign(text.as_bytes())}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    server.service.sweep_deliveries().await.unwrap();
    let told = subjects_to(&server, "alice@example.org").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("to bob@example.org: accepted"), "{told:?}");

    // Three days before the deadline: Carol is reminded, once; Bob is not.
    let carol_link = server.link_for("carol@example.org").await;
    server.clock.advance(4 * 86_400);
    server.service.sweep_deliveries().await.unwrap();
    server.service.sweep_deliveries().await.unwrap();
    let carol = subjects_to(&server, "carol@example.org").await;
    assert_eq!(carol.len(), 2, "{carol:?}");
    assert!(carol[1].starts_with("Reminder"), "{carol:?}");
    assert_eq!(server.link_for("carol@example.org").await, carol_link);
    assert_eq!(subjects_to(&server, BOB_EMAIL).await.len(), 1);

    // At the deadline, Carol expires; her link shows it and takes nothing.
    server.clock.advance(3 * 86_400);
    let (expired, _) = server.service.sweep_deliveries().await.unwrap();
    assert_eq!(expired, 1);
    // (A week later: the sender signs in again.)
    let session = server.sign_in("alice").await;
    let shown = server
        .fetch(&session, &format!("/api/v1/deliveries/{delivery_id}"))
        .await
        .json();
    assert_eq!(shown["recipients"][0]["state"], "accepted");
    assert_eq!(shown["recipients"][1]["state"], "expired");
    assert!(shown["settled_at"].is_string());
    let carol = Recipient::new(carol_link);
    let page = server.recipient_get(&carol, "").await;
    assert!(
        page.text.contains("deadline of this delivery has passed"),
        "{}",
        page.text
    );
    let reply = server.recipient_form(&carol, "/code", &[]).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert_eq!(
        server.queued_count(CAROL_PHONE).await,
        0,
        "no code after the deadline"
    );
    let told = subjects_to(&server, "alice@example.org").await;
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[1].contains("no answer by the deadline"), "{told:?}");
    server.service.sweep_deliveries().await.unwrap();
    assert_eq!(subjects_to(&server, "alice@example.org").await.len(), 2);
}

/// Three wrong codes pause the recipient and the sender is told; during the pause no code
/// is sent nor taken; after it, a new code opens. Another recipient's code does not open
/// this one's link.
#[tokio::test]
async fn wrong_codes_pause_a_recipient_and_another_recipients_code_is_wrong() {
    let server = Server::start().await;
    let session = sender_with_address(&server).await;
    let id = server.notarized(&session, &files()).await;
    let reply = server
        .send_delivery(
            &session,
            &id,
            json!({"recipients": [
                {"email": BOB_EMAIL, "phone": BOB_PHONE},
                {"email": "carol@example.org", "phone": CAROL_PHONE}
            ]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let bob = Recipient::new(server.link_for(BOB_EMAIL).await);
    let carol = Recipient::new(server.link_for("carol@example.org").await);
    server.recipient_form(&bob, "/code", &[]).await;
    server.recipient_form(&carol, "/code", &[]).await;
    let carols_code = server.code_for(CAROL_PHONE).await;
    let reply = server
        .recipient_form(&bob, "/session", &[("code", &carols_code)])
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let reply = server
        .recipient_form(&bob, "/session", &[("code", "11111111")])
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = server
        .recipient_form(&bob, "/session", &[("code", "22222222")])
        .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    // Paused: the right code is refused too, and no new one is sent.
    let bobs_code = server.code_for(BOB_PHONE).await;
    let reply = server
        .recipient_form(&bob, "/session", &[("code", &bobs_code)])
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let sent = server.queued_count(BOB_PHONE).await;
    let reply = server.recipient_form(&bob, "/code", &[]).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(server.queued_count(BOB_PHONE).await, sent);
    let told = subjects_to(&server, "alice@example.org").await;
    assert!(
        told.iter()
            .any(|subject| subject.contains("paused after wrong codes")),
        "{told:?}"
    );
    // After the pause, a new code opens.
    server.clock.advance(sceau_domain::limits::CLIENT_PAUSE_S);
    let mut bob = bob;
    server.authenticate(&mut bob, BOB_PHONE).await;
    assert_eq!(
        server.recipient_get(&bob, "/files").await.status,
        StatusCode::OK
    );
}

/// The files are handed over in the session that withdrew them only: the recipient who
/// opens the delivery again (another device) withdraws again, and that is evidence.
#[tokio::test]
async fn files_are_handed_over_only_in_the_session_that_withdrew_them() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let id = server.notarized(&session, &files()).await;
    let reply = server.send_delivery(&session, &id, json!({})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let token = server.link_for(BOB_EMAIL).await;
    let mut phone = Recipient::new(token.clone());
    server.authenticate(&mut phone, BOB_PHONE).await;
    let reply = server
        .recipient_post(
            &phone,
            "/withdrawal",
            json!({"public_key": phone.key.public_key()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        server.recipient_bytes(&phone, "/files/0").await.0,
        StatusCode::OK
    );

    let mut laptop = Recipient::new(token);
    server.authenticate(&mut laptop, BOB_PHONE).await;
    // The new session replaced the first; it must withdraw to receive the files.
    check_error(
        &server.recipient_get(&phone, "/delivery.json").await,
        401,
        "recipient_signed_out",
    );
    check_error(
        &server.recipient_get(&laptop, "/files/0").await,
        409,
        "not_withdrawn",
    );
    let reply = server
        .recipient_post(
            &laptop,
            "/withdrawal",
            json!({"public_key": laptop.key.public_key()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        server.recipient_bytes(&laptop, "/files/0").await.0,
        StatusCode::OK
    );
    let view = server
        .service
        .store
        .delivery_by_link(sceau_server::api::delivery::link_digest(&laptop.token))
        .await
        .unwrap()
        .unwrap();
    let chain = server
        .service
        .store
        .evidence(&sceau_store::evidence::delivery_recipient_subject(
            view.id, 0,
        ))
        .await
        .unwrap();
    let events: Vec<String> = chain
        .iter()
        .filter(|record| record.kind == "delivery.withdrawn")
        .map(|record| {
            let body: Value = serde_json::from_slice(&record.record).unwrap();
            body["event"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(events, ["ContentHandover", "ContentAccessTracking"]);
}
