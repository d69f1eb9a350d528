//! Certified delivery in real browsers (Figures 7 and 9): the sender delivers a notarized
//! envelope from its page in one headless Chromium; the notice reaches a real SMTP server
//! (aiosmtpd, on loopback); the recipient, in another Chromium, follows the link from the
//! received e-mail, types the code from the phone, and their browser receives and checks
//! every file (its SHA-256, the sender's signature with WebCrypto) before they accept;
//! the sender's page then shows the answer, and its receipt checks offline. A file altered
//! in the archive after sending fails the recipient's check, and their refusal names it.
//! Without Chromium or python3 with aiosmtpd these tests note it and pass, except under
//! `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../sceau-channel/tests/support/smtp.rs"]
mod smtp;

use common::browser::{Binaries, Browser};
use common::notary::*;
use common::*;
use sceau_domain::envelope::Destination;
use serde_json::{Value, json};
use smtp::{SmtpOptions, SmtpServer, python};
use std::path::PathBuf;

const ALICE_PHONE: &str = "+33612345678";
const BOB_EMAIL: &str = "bob@example.org";
const BOB_PHONE: &str = "+33687654321";

fn artefact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-artefacts")
        .join(name)
}

/// Everything a test needs: both browsers, the SMTP server, and sceau sending through it.
struct Scene {
    sender: Browser,
    recipient: Browser,
    smtp: SmtpServer,
    server: Server,
}

async fn scene() -> Option<Scene> {
    let binaries = Binaries::find()?;
    let python = python(&["aiosmtpd"])?;
    let smtp = SmtpServer::start(&python, &SmtpOptions::plain()).await;
    let clock = sceau_server::clock::ManualClock::starting_at(START_S);
    let server = Server::start_with_channels(
        clock,
        common::email::smtp_channels(smtp.port, "notices@bank.example"),
    )
    .await;
    let sender = Browser::start_with(&binaries).await;
    let recipient = Browser::start_with(&binaries).await;
    Some(Scene {
        sender,
        recipient,
        smtp,
        server,
    })
}

/// A notarized envelope of `files` for Alice (Bob its destination), and Alice signed in
/// in the sender's browser on its page: the envelope's id.
async fn notarized_and_open(scene: &Scene, files: &Files) -> String {
    let server = &scene.server;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;
    let destinations = vec![Destination {
        email: Some(BOB_EMAIL.parse().unwrap()),
        phone: Some(BOB_PHONE.parse().unwrap()),
    }];
    let id = server
        .new_notarized_envelope(&session, ALICE_PHONE, files, destinations)
        .await;
    let browser = &scene.sender;
    browser.goto(&server.url("/login")).await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/wallet").await;
    browser
        .goto(&server.url(&format!("/wallet/envelopes/{id}")))
        .await;
    browser.wait_for_text("#envelope-state", "notarized").await;
    id
}

/// The sender delivers to the envelope's destination from its page; the notice reaches
/// the SMTP server: the link it carries.
async fn delivered(scene: &Scene) -> String {
    let browser = &scene.sender;
    browser.click("#deliver").await;
    browser.wait_for_text("p.notice", "Sent").await;
    browser
        .wait_for_text("#deliveries .recipients", BOB_EMAIL)
        .await;
    scene.server.deliver().await;
    let received = scene.smtp.received();
    let notice = received
        .iter()
        .find(|mail| mail["rcpt_tos"] == json!([BOB_EMAIL]))
        .unwrap_or_else(|| panic!("no notice to Bob: {received:?}"));
    let text = notice["parts"][0]["content"].as_str().unwrap();
    assert!(text.contains("Client alice sent you"), "{text}");
    let at = text.find("http").expect("a link in the notice");
    let link: String = text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(link.contains("/d/"), "{link}");
    link
}

/// The recipient opens the link, asks for the code, reads it on their phone and types
/// it: the files page.
async fn opened_by_recipient(scene: &Scene, link: &str) {
    let browser = &scene.recipient;
    browser.goto(link).await;
    browser.wait_for_text("h1", "Certified delivery").await;
    browser.click("#send-code").await;
    browser.wait_for("input[name=code]").await;
    scene.server.deliver().await;
    let (_, sms) = scene.server.phone_messages(BOB_PHONE).await.remove(0);
    let at = sms.find("code ").unwrap() + "code ".len();
    let code: String = sms[at..].chars().take_while(char::is_ascii_digit).collect();
    browser.fill("input[name=code]", &code).await;
    browser.click("#open").await;
    browser.wait_for("#delivery").await;
}

fn files() -> Files {
    vec![
        (
            "bail signé.txt".to_owned(),
            "Bail du 3 rue du Port, 950 EUR par mois.\n"
                .as_bytes()
                .to_vec(),
        ),
        (
            "inventaire.bin".to_owned(),
            (0..=255_u8).cycle().take(100 * 1024).collect(),
        ),
    ]
}

async fn receipt_of(scene: &Scene, delivery: &str) -> sceau_server::bundle::Report {
    let browser = &scene.sender;
    let cookie = browser.cookie("sceau_session").await;
    let server = &scene.server;
    let receipt = server
        .http
        .get(server.url(&format!(
            "/api/v1/deliveries/{delivery}/recipients/0/receipt"
        )))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let key = server.send(server.http.get(server.url("/log/key"))).await;
    let key = sceau_log::VerifierKey::parse(key.text.trim()).unwrap();
    let root = server
        .service
        .pki
        .as_ref()
        .unwrap()
        .authority
        .root()
        .der
        .clone();
    sceau_server::delivery_receipt::check(&receipt, &root, &key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_checks_every_file_in_their_browser_and_accepts() {
    let Some(scene) = scene().await else {
        return;
    };
    let files = files();
    notarized_and_open(&scene, &files).await;
    let link = delivered(&scene).await;
    opened_by_recipient(&scene, &link).await;

    let browser = &scene.recipient;
    browser.click("#delivery-check").await;
    for (position, (name, bytes)) in files.iter().enumerate() {
        use sha2::Digest;
        let verdict = browser
            .wait_for_text(&format!("[data-file=\"{position}\"] .verdict.ok"), "Intact")
            .await;
        let digest = hex::encode(sha2::Sha256::digest(bytes));
        assert!(verdict.contains(&digest), "{name}: {verdict}");
    }
    browser
        .wait_for_text("#delivery-outcome", "Every file is intact")
        .await;
    browser.screenshot(&artefact("delivery-checked.png")).await;
    browser.click("#delivery-accept").await;
    browser
        .wait_for_text("#delivery-outcome", "You accepted the delivery")
        .await;

    // The sender's page shows it, and the receipt proves it offline.
    let sender = &scene.sender;
    sender.client().refresh().await.unwrap();
    sender
        .wait_for_text("#deliveries .recipients .state", "accepted")
        .await;
    sender.screenshot(&artefact("delivery-sender.png")).await;
    let delivery = sender
        .wait_for(".delivery-card")
        .await
        .attr("data-delivery")
        .await
        .unwrap()
        .unwrap();
    let report = receipt_of(&scene, &delivery).await;
    assert!(report.valid(), "{report:?}");
    // The sender is told by e-mail (Alice gave no address: nothing is sent, and the
    // page says it all); the recipient's notice was the only e-mail.
    scene.server.deliver().await;
    assert_eq!(scene.smtp.received().len(), 1);
    scene.sender.close().await;
    scene.recipient.close().await;
    scene.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_altered_in_the_archive_fails_the_check_and_the_refusal_names_it() {
    let Some(scene) = scene().await else {
        return;
    };
    let files = files();
    notarized_and_open(&scene, &files).await;
    let link = delivered(&scene).await;
    // The second file's bytes change in the archive after sending.
    {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&files[1].1).to_vec();
        let connection = rusqlite::Connection::open(scene.server.database()).unwrap();
        let mut altered = files[1].1.clone();
        altered[500] ^= 0xff;
        let changed = connection
            .execute(
                "UPDATE archive_contents SET content = ?2 WHERE sha256 = ?1",
                rusqlite::params![digest, altered],
            )
            .unwrap();
        assert_eq!(changed, 1, "the file is kept in archive_contents");
    }
    opened_by_recipient(&scene, &link).await;
    let browser = &scene.recipient;
    browser.click("#delivery-check").await;
    browser
        .wait_for_text("[data-file=\"0\"] .verdict.ok", "Intact")
        .await;
    let failed = browser
        .wait_for_text("[data-file=\"1\"] .verdict.failed", "Failed")
        .await;
    assert!(!failed.is_empty());
    browser
        .wait_for_text("#delivery-outcome", "A file failed its check")
        .await;
    let accept = browser.wait_for("#delivery-accept").await;
    assert_eq!(
        accept.attr("disabled").await.unwrap().as_deref(),
        Some("true"),
        "a failed check cannot be accepted"
    );
    browser.screenshot(&artefact("delivery-altered.png")).await;
    browser
        .fill("#delivery-reason", "inventaire.bin is not what was signed")
        .await;
    browser.click("#delivery-reject").await;
    browser
        .wait_for_text("#delivery-outcome", "You rejected the delivery")
        .await;

    let sender = &scene.sender;
    sender.client().refresh().await.unwrap();
    sender
        .wait_for_text("#deliveries .recipients .state", "refused")
        .await;
    let delivery = sender
        .wait_for(".delivery-card")
        .await
        .attr("data-delivery")
        .await
        .unwrap()
        .unwrap();
    let report = receipt_of(&scene, &delivery).await;
    assert!(report.valid(), "{report:?}");
    let content = report
        .checks
        .iter()
        .find(|check| check.part == "content")
        .unwrap();
    assert!(
        content
            .outcome
            .as_ref()
            .unwrap()
            .contains("files [2] different"),
        "{content:?}"
    );
    let view = scene
        .server
        .service
        .store
        .delivery(&delivery)
        .await
        .unwrap()
        .unwrap();
    let chain = scene
        .server
        .service
        .store
        .evidence(&sceau_store::evidence::delivery_recipient_subject(
            view.id, 0,
        ))
        .await
        .unwrap();
    let rejected: Value = serde_json::from_slice(&chain.last().unwrap().record).unwrap();
    assert_eq!(rejected["event"], "ConsignmentRejection");
    assert_eq!(rejected["differ"], json!([1]));
    scene.sender.close().await;
    scene.recipient.close().await;
    scene.server.stop().await;
}
