//! E-mail in the flows: a client who gave an address is told of a pause by e-mail too,
//! through an SMTP route, at a real SMTP server (aiosmtpd, started here on loopback:
//! `crates/sceau-channel/tests/smtp/server.py`). Without python3 + aiosmtpd the test says
//! so and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../sceau-channel/tests/support/smtp.rs"]
mod smtp;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use smtp::{SmtpOptions, SmtpServer, python};

const ZOE_PHONE: &str = "+33611223344";
const ZOE_EMAIL: &str = "zoé.martin@client.example";

fn header<'a>(mail: &'a Value, name: &str) -> Vec<&'a str> {
    mail["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|pair| pair[1].as_str().unwrap())
        .collect()
}

/// Enrols Zoé with her e-mail address (the admin API shows it masked), introduces her to
/// a shop, and types wrong card details until her payments pause.
async fn pause_zoe(server: &Server) {
    let reply = server
        .admin(
            Method::POST,
            "/admin/v1/clients",
            Some(json!({
                "login": "zoe", "display_name": "Zoé Martin", "password": PASSWORD,
                "phone": ZOE_PHONE, "email": ZOE_EMAIL, "currency": "EUR",
                "opening_balance": "100.00",
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["email"], "z***@client.example");
    let zoe = Client {
        id: reply.json()["id"].as_i64().unwrap(),
        login: "zoe".into(),
        phone: ZOE_PHONE.into(),
    };
    let shop = server.enroll_merchant("Shop").await;
    server.introduce(&shop, &zoe).await;
    let session = server.sign_in("zoe").await;
    let card = server.any_card(&session, &zoe).await;
    for _ in 0..sceau_domain::limits::CLIENT_FAILURES_MAX {
        let reply = server
            .authorize(&shop, &card.with_wrong_code(), "1.00", "EUR")
            .await;
        check_decline(&reply, "wrong_card_details");
    }
}

/// The e-mail notices of the outbox, as `GET /admin/v1/messages` shows them.
async fn email_states(server: &Server) -> Vec<Value> {
    let reply = server.admin(Method::GET, "/admin/v1/messages", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let messages = reply.json()["messages"].as_array().unwrap().clone();
    messages
        .into_iter()
        .filter(|message| message["medium"] == "email")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_client_is_told_by_email_too() {
    let Some(python) = python(&["aiosmtpd"]) else {
        return;
    };
    let smtp = SmtpServer::start(&python, &SmtpOptions::plain()).await;
    let clock = sceau_server::clock::ManualClock::starting_at(common::START_S);
    let server = Server::start_with_channels(
        clock,
        common::email::smtp_channels(smtp.port, "alerts@bank.example"),
    )
    .await;
    pause_zoe(&server).await;
    server.deliver().await;

    let (_, sms) = server.phone_messages(ZOE_PHONE).await.remove(0);
    assert!(sms.contains("paused until"), "{sms}");
    let received = smtp.received();
    assert_eq!(received.len(), 1, "one e-mail: {received:?}");
    let mail = &received[0];
    assert_eq!(mail["mail_from"], "alerts@bank.example");
    assert_eq!(mail["rcpt_tos"], json!([ZOE_EMAIL]));
    assert_eq!(header(mail, "To"), [ZOE_EMAIL]);
    assert_eq!(header(mail, "From"), ["Test Bank <alerts@bank.example>"]);
    assert_eq!(
        header(mail, "Subject"),
        ["Test Bank: your payments are paused"]
    );
    let text = &mail["parts"][0];
    assert_eq!(text["content_type"], "text/plain");
    assert_eq!(text["charset"], "utf-8");
    let text = text["content"].as_str().unwrap();
    assert!(text.starts_with("Hello Zoé Martin,"), "{text}");
    assert!(text.contains("your payments are paused until "), "{text}");

    let states = email_states(&server).await;
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0]["state"], "submitted");
    assert_eq!(states[0]["route"], "relay");
    assert_eq!(states[0]["address_masked"], "z***@client.example");
    server.stop().await;
}

/// Without an e-mail route the notice is queued all the same and fails with a reason the
/// operator reads; the SMS notice goes as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_email_route_the_notice_fails_with_its_reason() {
    let clock = sceau_server::clock::ManualClock::starting_at(START_S);
    let server =
        Server::start_with_channels(clock, sceau_server::dispatch::Channels::dev_phone()).await;
    pause_zoe(&server).await;
    server.deliver().await;
    let (_, sms) = server.phone_messages(ZOE_PHONE).await.remove(0);
    assert!(sms.contains("paused until"), "{sms}");
    let states = email_states(&server).await;
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0]["state"], "failed");
    assert_eq!(states[0]["last_error"], "no e-mail route is configured");
    server.stop().await;
}

/// A certified delivery's notice taken by the relay and then bounced by the recipient's
/// mail server: the bounce, as a mail system hands it to `sceau admin bounce`, fails the
/// message and its recipient (ConsignmentNotificationFailure), and the sender is told by
/// e-mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounced_delivery_notice_fails_its_recipient_and_the_sender_is_told() {
    use common::notary::*;
    let Some(python) = python(&["aiosmtpd"]) else {
        return;
    };
    let smtp = SmtpServer::start(&python, &SmtpOptions::plain()).await;
    let clock = sceau_server::clock::ManualClock::starting_at(common::START_S);
    let server = Server::start_with_channels(
        clock,
        common::email::smtp_channels(smtp.port, "alerts@bank.example"),
    )
    .await;
    let reply = server
        .admin(
            Method::POST,
            "/admin/v1/clients",
            Some(json!({
                "login": "zoe", "display_name": "Zoé Martin", "password": PASSWORD,
                "phone": ZOE_PHONE, "email": ZOE_EMAIL, "currency": "EUR",
                "opening_balance": "0",
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let session = server.sign_in("zoe").await;
    let files: Files = vec![("bail.txt".to_owned(), b"Bail du 3 rue du Port\n".to_vec())];
    let id = server
        .new_notarized_envelope(&session, ZOE_PHONE, &files, Vec::new())
        .await;
    let reply = server
        .notary_post(
            &session,
            &format!("/api/v1/envelopes/{id}/deliveries"),
            json!({"recipients": [{"email": "nobody@mx.example", "phone": "+33687654321"}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let delivery = reply.json()["id"].as_str().unwrap().to_owned();
    server.deliver().await;
    let received = smtp.received();
    let notice = received
        .iter()
        .find(|mail| mail["rcpt_tos"] == json!(["nobody@mx.example"]))
        .expect("the notice reached the relay");
    let message_id = header(notice, "Message-ID")[0].to_owned();
    assert!(message_id.starts_with("<sceau."), "{message_id}");

    let bounce = format!(
        "From: MAILER-DAEMON@mx.example\r\nMessage-ID: <dsn.1@mx.example>\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\n\
         Final-Recipient: rfc822; nobody@mx.example\r\nAction: failed\r\n\
         Status: 5.1.1 (no such user)\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\n--b--\r\n"
    );
    let outcome = server
        .service
        .record_bounce(bounce.as_bytes(), &["relay".to_owned()])
        .await
        .unwrap();
    assert!(
        matches!(outcome, sceau_app::messages::BounceOutcome::Recorded { ref status, .. } if status == "5.1.1"),
        "{outcome:?}"
    );
    let shown = server
        .send(
            server
                .http
                .get(server.url(&format!("/api/v1/deliveries/{delivery}")))
                .header("cookie", &session.cookie),
        )
        .await;
    assert_eq!(
        shown.json()["recipients"][0]["state"],
        "notice_failed",
        "{}",
        shown.text
    );
    // A second handing of the same bounce changes nothing.
    let again = server
        .service
        .record_bounce(bounce.as_bytes(), &["relay".to_owned()])
        .await
        .unwrap();
    assert!(matches!(
        again,
        sceau_app::messages::BounceOutcome::Unknown { .. }
            | sceau_app::messages::BounceOutcome::Recorded { .. }
    ));
    server.service.sweep_deliveries().await.unwrap();
    server.deliver().await;
    let told: Vec<Value> = smtp
        .received()
        .into_iter()
        .filter(|mail| mail["rcpt_tos"] == json!([ZOE_EMAIL]))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        header(&told[0], "Subject")[0].contains("the notice could not be delivered"),
        "{:?}",
        header(&told[0], "Subject")
    );
    server.stop().await;
}
