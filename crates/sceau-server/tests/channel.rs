//! The second channel end to end: a real server whose messages leave by the routes of a
//! configuration, to real components the tests start on loopback — the SMSC simulator
//! (`tests/smsc/smsc.js`, over SMPP) and an HTTP SMS provider (a small axum server) —
//! read back as operators read them (`GET /admin/v1/messages`), and the gateways'
//! status callbacks (`POST /channel/{route}/status`). Nothing waits a fixed time: each
//! test waits on a condition, a bounded number of times, and moves the clock for expiry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../sceau-channel/tests/support/smsc.rs"]
mod smsc;

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use common::{Client, Server, card_from_message};
use reqwest::{Method, StatusCode};
use sceau_channel::config::{SmsRouteConfig, open_email_routes, open_sms_routes};
use sceau_channel::http_gateway::callback::sceau_signature;
use sceau_server::clock::ManualClock;
use sceau_server::dispatch::{Channels, report_queue};
use serde_json::{Value, json};
use smsc::Smsc;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SYSTEM_ID: &str = "sceau";
const SMSC_PASSWORD: &str = "smscpw1";
const CALLBACK_KEY: &str = "callback-key-0123456789";
const PHONE: &str = "+33612345678";
/// The longest a condition is waited for.
const WAIT_S_MAX: u64 = 60;

/// Now, as the channels' own clocks read it (the SMPP route computes validity periods
/// from the system time): the server's manual clock starts there.
fn system_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// -- an HTTP SMS provider ------------------------------------------------------------------

/// What the provider answers, and the JSON bodies it was sent.
#[derive(Default)]
struct ProviderState {
    answer: Mutex<(u16, String)>,
    received: Mutex<Vec<Value>>,
}

/// A provider on loopback that takes `POST /send` with a JSON body.
struct Provider {
    base: String,
    state: Arc<ProviderState>,
}

impl Provider {
    async fn start(status: u16, body: Value) -> Provider {
        let state = Arc::new(ProviderState::default());
        *state.answer.lock().unwrap() = (status, body.to_string());
        let app = axum::Router::new()
            .route("/send", axum::routing::post(provider_send))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Provider { base, state }
    }

    fn received(&self) -> Vec<Value> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn provider_send(
    State(state): State<Arc<ProviderState>>,
    body: axum::body::Bytes,
) -> (AxumStatus, [(&'static str, &'static str); 1], String) {
    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.received.lock().unwrap().push(parsed);
    let (status, answer) = state.answer.lock().unwrap().clone();
    (
        AxumStatus::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        answer,
    )
}

// -- the routes ------------------------------------------------------------------------------

/// An SMPP route to `smsc`, as an operator writes it (`pdu_timeout_s` short: a route with
/// no bind gives the message to the next one after it).
fn smpp_route(smsc: &Smsc, directory: &Path, pdu_timeout_s: u32) -> String {
    let password = directory.join("smsc.password");
    std::fs::write(&password, format!("{SMSC_PASSWORD}\n")).unwrap();
    format!(
        r#"
        [[sms_routes]]
        name = "operator"
        kind = "smpp"
        [sms_routes.smpp]
        host = "127.0.0.1"
        port = {port}
        system_id = "{SYSTEM_ID}"
        password = {{ file = {password:?} }}
        source_addr = "SCEAU"
        source_ton = 5
        source_npi = 0
        pdu_timeout_s = {pdu_timeout_s}
        enquire_link_s = 5
        reconnect_min_ms = 20
        reconnect_max_ms = 200
        "#,
        port = smsc.addr().port(),
        password = password.display().to_string(),
    )
}

/// A generic HTTP gateway route to `provider` (JSON body; sent when the answer's
/// `/status` is "queued"; the provider's id at `/id`), taking callbacks signed by sceau.
fn http_route(provider: &Provider, directory: &Path) -> String {
    let key = directory.join("callback.key");
    std::fs::write(&key, format!("{CALLBACK_KEY}\n")).unwrap();
    format!(
        r#"
        [[sms_routes]]
        name = "backup"
        kind = "http"
        [sms_routes.http]
        url = "{base}/send"
        body = "json"
        fields = {{ to = "{{to}}", text = "{{text}}", reference = "{{message_id}}" }}
        success = {{ json_pointer = "/status", json_equals = "queued" }}
        provider_id = {{ json_pointer = "/id" }}
        timeout_ms = 20000
        [sms_routes.http.callback]
        url = "https://sceau.example/channel/backup/status"
        signature = "sceau"
        secret = {{ file = {key:?} }}
        id_field = "/id"
        status_field = "/status"
        delivered = ["delivered"]
        failed = ["failed"]
        "#,
        base = provider.base,
        key = key.display().to_string(),
    )
}

#[derive(serde::Deserialize)]
struct RoutesFile {
    sms_routes: Vec<SmsRouteConfig>,
}

/// The channels of `routes` (TOML `[[sms_routes]]`), opened as `serve` opens them.
fn channels(routes: &str) -> Channels {
    let file: RoutesFile = toml::from_str(routes).unwrap();
    let queue = report_queue();
    let sms = open_sms_routes(&file.sms_routes, &queue.0).unwrap();
    let email = open_email_routes(&[]).unwrap();
    Channels::new(sms.routes, email, sms.callbacks, queue)
}

// -- reading and waiting ---------------------------------------------------------------------

/// `GET /admin/v1/messages`: the whole answer, as text and as JSON.
async fn overview(server: &Server) -> (String, Value) {
    let reply = server.admin(Method::GET, "/admin/v1/messages", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let json = reply.json();
    (reply.text, json)
}

/// The one message the outbox holds, as operators see it.
async fn only_message(server: &Server) -> Value {
    let (_, json) = overview(server).await;
    let messages = json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{json}");
    messages[0].clone()
}

/// Waits until the one message satisfies `condition`; panics with it after a minute.
async fn wait_message(server: &Server, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(WAIT_S_MAX);
    loop {
        let message = only_message(server).await;
        if condition(&message) {
            return message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited for {what}: {message}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `condition` holds of the provider's requests.
async fn wait_provider(provider: &Provider, what: &str, condition: impl Fn(&[Value]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(WAIT_S_MAX);
    while !condition(&provider.received()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited for {what}: {:?}",
            provider.received()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_bound(smsc: &Smsc, bound: bool) {
    smsc.wait_stats(if bound { "a bind" } else { "no bind" }, |stats| {
        (stats["binds"].as_u64() > Some(0)) == bound
    })
    .await;
}

/// A client who asks for a number on the wallet: the outbox then holds its message.
async fn ask_for_a_number(server: &Server) -> Client {
    let client = server.enroll_client("alice", PHONE, "100.00").await;
    let session = server.sign_in(&client.login).await;
    let reply = server
        .ask_number(&session, &[("csrf", session.csrf.as_str())])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    assert_eq!(reply.header("location"), Some("/wallet?sent=1"));
    client
}

/// The operators' view shows no text and no full phone number.
fn assert_nothing_secret(text: &str, card_number: &str) {
    let digits = PHONE.trim_start_matches('+');
    assert!(!text.contains(digits), "the phone number shows: {text}");
    assert!(
        !text.contains(&card_number[..8]),
        "the number shows: {text}"
    );
    let grouped = format!("{} {}", &card_number[..4], &card_number[4..8]);
    assert!(!text.contains(&grouped), "the number shows: {text}");
    // Masked as every page masks a phone: its last two digits.
    let masked = format!(
        "+{}{}",
        "•".repeat(digits.len() - 2),
        &digits[digits.len() - 2..]
    );
    assert!(text.contains(&masked), "{text}");
}

// -- the tests -------------------------------------------------------------------------------

#[tokio::test]
async fn a_number_reaches_the_smsc_and_its_receipt_marks_it_delivered() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, SMSC_PASSWORD).await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let channels = channels(&smpp_route(&smsc, directory.path(), 10));
    wait_bound(&smsc, true).await;
    let server =
        Server::start_with_channels(ManualClock::starting_at(system_now_s()), channels).await;
    ask_for_a_number(&server).await;

    let received = smsc
        .wait_messages("the number", |messages| !messages.is_empty())
        .await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["destination"]["addr"], json!("33612345678"));
    assert_eq!(received[0]["source"]["addr"], json!("SCEAU"));
    let text = received[0]["text"]
        .as_str()
        .expect("the simulator decoded it");
    let card = card_from_message(text).unwrap_or_else(|| panic!("no number in {text:?}"));

    let message = wait_message(&server, "the receipt", |m| m["state"] == "delivered").await;
    assert_eq!(message["route"], json!("operator"));
    assert_eq!(message["medium"], json!("sms"));
    assert_eq!(message["kind"], json!("client_number"));
    assert_eq!(message["parts"], json!(1));
    assert_eq!(message["attempts"], json!(1));
    assert!(message["submitted_at_s"].is_i64() && message["ended_at_s"].is_i64());
    let (text, json) = overview(&server).await;
    assert_nothing_secret(&text, &card.number);
    let counts = json["counts"].as_array().unwrap();
    assert!(
        counts.contains(&json!({"route": "operator", "state": "delivered", "count": 1})),
        "{json}"
    );
    assert_eq!(smsc.stats().await["submits"], json!(1));
    server.stop().await;
}

#[tokio::test]
async fn with_the_smsc_down_the_message_fails_over_to_the_http_gateway_once() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, SMSC_PASSWORD).await else {
        return;
    };
    smsc.control(json!({"command": "down"})).await;
    let provider = Provider::start(200, json!({"status": "queued", "id": "prov-1"})).await;
    let directory = tempfile::tempdir().unwrap();
    let routes = smpp_route(&smsc, directory.path(), 1) + &http_route(&provider, directory.path());
    let channels = channels(&routes);
    let clock = ManualClock::starting_at(system_now_s());
    let server = Server::start_with_channels(clock, channels).await;
    ask_for_a_number(&server).await;

    let message = wait_message(&server, "the failover", |m| m["state"] == "submitted").await;
    assert_eq!(message["route"], json!("backup"));
    assert_eq!(message["parts"], json!(1));
    let received = provider.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["to"], json!(PHONE));
    assert_eq!(
        received[0]["reference"],
        json!(message["id"].as_i64().unwrap().to_string())
    );
    let text = received[0]["text"].as_str().unwrap();
    let card = card_from_message(text).unwrap_or_else(|| panic!("no number in {text:?}"));
    let (text, _) = overview(&server).await;
    assert_nothing_secret(&text, &card.number);

    // The SMSC back, and the outbox dispatched again: nothing is sent a second time.
    smsc.control(json!({"command": "up"})).await;
    wait_bound(&smsc, true).await;
    server.clock.advance(120);
    sceau_server::dispatch::dispatch_once(&server.service, &server.routing)
        .await
        .unwrap();
    assert_eq!(smsc.stats().await["submits"], json!(0));
    assert_eq!(provider.received().len(), 1);
    assert_eq!(only_message(&server).await["state"], json!("submitted"));
    server.stop().await;
}

#[tokio::test]
async fn a_message_waiting_for_a_dead_smsc_expires_and_is_never_sent() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, SMSC_PASSWORD).await else {
        return;
    };
    smsc.control(json!({"command": "down"})).await;
    let directory = tempfile::tempdir().unwrap();
    let channels = channels(&smpp_route(&smsc, directory.path(), 1));
    let server =
        Server::start_with_channels(ManualClock::starting_at(system_now_s()), channels).await;
    ask_for_a_number(&server).await;

    // Every try fails for now; each retry is due once the clock passes its pause.
    let mut seen = 0;
    for _ in 0..3 {
        let message = wait_message(&server, "a failed try", |m| {
            m["attempts"].as_u64() > Some(seen)
        })
        .await;
        assert_eq!(message["state"], json!("pending"), "{message}");
        assert_eq!(message["submitted_at_s"], Value::Null);
        seen = message["attempts"].as_u64().unwrap();
        server.clock.advance(60);
    }
    let expires_at_s = only_message(&server).await["expires_at_s"]
        .as_i64()
        .unwrap();
    let now_s = server.service.now_s();
    assert!(
        expires_at_s > now_s,
        "the number lives longer than the test's tries"
    );
    server.clock.advance(expires_at_s - now_s);
    // The sweep's step, now rather than at its next round.
    server
        .service
        .store
        .expire_messages(server.service.now_s())
        .await
        .unwrap();
    let message = wait_message(&server, "the expiry", |m| m["state"] == "expired").await;
    assert_eq!(message["submitted_at_s"], Value::Null);
    assert!(message["ended_at_s"].is_i64());

    // The SMSC back: the expired number is never sent.
    smsc.control(json!({"command": "up"})).await;
    wait_bound(&smsc, true).await;
    server.clock.advance(120);
    let handled = sceau_server::dispatch::dispatch_once(&server.service, &server.routing)
        .await
        .unwrap();
    assert_eq!(handled, 0);
    assert_eq!(smsc.stats().await["submits"], json!(0));
    assert!(smsc.messages().await.is_empty());
    assert_eq!(only_message(&server).await["state"], json!("expired"));
    server.stop().await;
}

#[tokio::test]
async fn a_provider_answering_200_with_an_error_body_has_not_sent_the_message() {
    let provider = Provider::start(200, json!({"status": "error", "reason": "no credit"})).await;
    let directory = tempfile::tempdir().unwrap();
    let channels = channels(&http_route(&provider, directory.path()));
    let server =
        Server::start_with_channels(ManualClock::starting_at(system_now_s()), channels).await;
    ask_for_a_number(&server).await;

    wait_provider(&provider, "the request", |received| !received.is_empty()).await;
    let message = wait_message(&server, "the provider's judgement", |m| {
        m["attempts"].as_u64() >= Some(1)
    })
    .await;
    assert_ne!(message["state"], json!("submitted"), "{message}");
    assert_ne!(message["state"], json!("delivered"), "{message}");
    assert_eq!(message["submitted_at_s"], Value::Null, "{message}");
    assert_eq!(message["parts"], json!(0), "{message}");
    assert!(message["last_error"].is_string(), "{message}");
    // A body that says "error" is a refusal for good: the message failed on this route.
    assert_eq!(message["state"], json!("failed"), "{message}");
    assert_eq!(message["route"], json!("backup"), "{message}");
    server.stop().await;
}

#[tokio::test]
async fn a_signed_status_callback_marks_the_message_delivered_and_a_forged_one_is_refused() {
    let provider = Provider::start(200, json!({"status": "queued", "id": "prov-7"})).await;
    let directory = tempfile::tempdir().unwrap();
    let channels = channels(&http_route(&provider, directory.path()));
    let server =
        Server::start_with_channels(ManualClock::starting_at(system_now_s()), channels).await;
    ask_for_a_number(&server).await;
    wait_message(&server, "the submission", |m| m["state"] == "submitted").await;

    let callback = |route: &str, body: &'static str, signature: String| {
        server.send(
            server
                .http
                .post(server.url(&format!("/channel/{route}/status")))
                .header("content-type", "application/json")
                .header("x-sceau-signature", signature)
                .body(body),
        )
    };
    let body = r#"{"id":"prov-7","status":"delivered"}"#;
    let now_s = server.service.now_s();

    let forged = sceau_signature("not-the-key", now_s, body.as_bytes());
    let refused = callback("backup", body, forged).await;
    common::check_error(&refused, 403, "callback_bad_signature");
    let stale = sceau_signature(CALLBACK_KEY, now_s - 3600, body.as_bytes());
    common::check_error(
        &callback("backup", body, stale).await,
        403,
        "callback_stale",
    );
    let signed = sceau_signature(CALLBACK_KEY, now_s, body.as_bytes());
    let unknown = callback("nowhere", body, signed.clone()).await;
    common::check_error(&unknown, 404, "unknown_route");
    // Signed, but it says of no message.
    let no_id = callback("backup", "{}", sceau_signature(CALLBACK_KEY, now_s, b"{}")).await;
    common::check_error(&no_id, 400, "callback_malformed");
    // Nothing of the refused ones was used.
    let message = only_message(&server).await;
    assert_eq!(message["state"], json!("submitted"), "{message}");
    assert_eq!(message["ended_at_s"], Value::Null, "{message}");

    let taken = callback("backup", body, signed).await;
    assert_eq!(taken.status, StatusCode::NO_CONTENT, "{}", taken.text);
    let message = wait_message(&server, "the report", |m| m["state"] == "delivered").await;
    assert_eq!(message["route"], json!("backup"));
    assert!(message["ended_at_s"].is_i64());
    // The operators' list wants the admin token.
    let no_token = server
        .send(server.http.get(server.url("/admin/v1/messages")))
        .await;
    common::check_error(&no_token, 401, "unauthorized");
    server.stop().await;
}

#[tokio::test]
async fn the_messages_list_refuses_a_bad_query() {
    let server = Server::start().await;
    for query in [
        "?limit=0",
        "?limit=1001",
        "?before=x",
        "?before=0",
        "?limit=-1",
    ] {
        let reply = server
            .admin(Method::GET, &format!("/admin/v1/messages{query}"), None)
            .await;
        common::check_error(&reply, 400, "invalid_query");
    }
    let reply = server
        .admin(Method::GET, "/admin/v1/messages?limit=1000", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    server.stop().await;
}

// -- a client's choice of calls --------------------------------------------------------------

/// A generic route named `name` to `provider`, placing calls when `call` (JSON body; sent
/// when the answer's `/status` is "queued").
fn plain_route(name: &str, provider: &Provider, call: bool) -> String {
    format!(
        r#"
        [[sms_routes]]
        name = "{name}"
        kind = "http"
        [sms_routes.http]
        url = "{base}/send"
        body = "json"
        fields = {{ to = "{{to}}", text = "{{text}}", reference = "{{message_id}}" }}
        success = {{ json_pointer = "/status", json_equals = "queued" }}
        provider_id = {{ json_pointer = "/id" }}
        call = {call}
        "#,
        base = provider.base,
    )
}

/// `POST /wallet/reach` with this session's cookie and `form`.
async fn choose(
    server: &Server,
    session: &common::Session,
    form: &[(&str, &str)],
) -> common::Reply {
    server
        .send(
            server
                .http
                .post(server.url("/wallet/reach"))
                .header("cookie", &session.cookie)
                .form(form),
        )
        .await
}

/// Asks for a number on the wallet and waits until one more request reached the
/// providers; the route that took the message and its medium, as operators see them.
async fn number_goes_by(
    server: &Server,
    session: &common::Session,
    providers: [&Provider; 2],
) -> (Value, Value) {
    let before: usize = providers.iter().map(|p| p.received().len()).sum();
    let reply = server
        .ask_number(session, &[("csrf", session.csrf.as_str())])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(WAIT_S_MAX);
    loop {
        let (_, json) = overview(server).await;
        let newest = json["messages"][0].clone();
        if newest["state"] == "submitted" {
            let after: usize = providers.iter().map(|p| p.received().len()).sum();
            assert!(after > before, "{json}");
            return (newest["route"].clone(), newest["medium"].clone());
        }
        assert!(tokio::time::Instant::now() < deadline, "{json}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client the operator switched to calls gets their number on the route that places
/// calls, even though an SMS route comes first; when the call cannot be placed, by SMS;
/// and when they go back to SMS on the wallet, by SMS first again. From a session (the
/// password alone) a client cannot switch to calls; a bad choice or a missing CSRF token
/// changes nothing.
#[tokio::test]
async fn a_client_switched_to_calls_is_called_first_and_texted_when_no_call_goes() {
    let queued = json!({"status": "queued", "id": "p-1"});
    let texts = Provider::start(200, queued.clone()).await;
    let calls = Provider::start(200, queued.clone()).await;
    let routes = format!(
        "{}{}",
        plain_route("texts", &texts, false),
        plain_route("calls", &calls, true)
    );
    let server =
        Server::start_with_channels(ManualClock::starting_at(system_now_s()), channels(&routes))
            .await;
    let client = server.enroll_client("alice", PHONE, "100.00").await;
    let session = server.sign_in(&client.login).await;
    let wallet = server.page("/wallet", Some(&session.cookie)).await;
    assert!(wallet.text.contains("ask your bank"), "{}", wallet.text);
    assert!(
        !wallet.text.contains("action=\"/wallet/reach\""),
        "{}",
        wallet.text
    );

    // By default, SMS routes in their order.
    let (route, medium) = number_goes_by(&server, &session, [&texts, &calls]).await;
    assert_eq!((route, medium), (json!("texts"), json!("sms")));

    // A session cannot switch to calls: the password alone must not move the seals to a
    // channel that can be forwarded or reach voicemail.
    let refused = choose(
        &server,
        &session,
        &[("csrf", &session.csrf), ("by", "call")],
    )
    .await;
    common::check_error(&refused, 409, "calls_unavailable");
    let refused = choose(&server, &session, &[("by", "sms")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let refused = choose(&server, &session, &[("csrf", &session.csrf), ("by", "fax")]).await;
    common::check_error(&refused, 400, "invalid_field");
    assert!(
        !server
            .service
            .store
            .client(client.id)
            .await
            .unwrap()
            .unwrap()
            .by_call
    );

    // The operator switches the client to calls.
    server
        .service
        .set_client_calls(client.id, true)
        .await
        .unwrap();
    let wallet = server.page("/wallet", Some(&session.cookie)).await;
    assert!(
        wallet.text.contains("Receive them by SMS instead"),
        "{}",
        wallet.text
    );

    let called_before = calls.received().len();
    let (route, medium) = number_goes_by(&server, &session, [&texts, &calls]).await;
    assert_eq!((route, medium), (json!("calls"), json!("voice")));
    let call = calls.received()[called_before].clone();
    assert_eq!(call["to"], json!(PHONE));
    assert!(
        card_from_message(call["text"].as_str().unwrap()).is_some(),
        "the call reads the number: {call}"
    );

    // The call cannot be placed: the number goes by SMS.
    *calls.state.answer.lock().unwrap() = (503, json!({"status": "busy"}).to_string());
    let (route, medium) = number_goes_by(&server, &session, [&texts, &calls]).await;
    assert_eq!((route, medium), (json!("texts"), json!("voice")));

    // Back to SMS on the wallet: the SMS route first again, calls not tried.
    *calls.state.answer.lock().unwrap() = (200, queued.to_string());
    let chosen = choose(&server, &session, &[("csrf", &session.csrf), ("by", "sms")]).await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER, "{}", chosen.text);
    assert_eq!(chosen.header("location"), Some("/wallet?reach=1#reach"));
    let called_before = calls.received().len();
    let (route, medium) = number_goes_by(&server, &session, [&texts, &calls]).await;
    assert_eq!((route, medium), (json!("texts"), json!("sms")));
    assert_eq!(calls.received().len(), called_before);
    server.stop().await;
}

/// Where no route places calls, the wallet says nothing of calls and nobody can switch a
/// client to them.
#[tokio::test]
async fn without_a_route_that_calls_calls_cannot_be_chosen() {
    let texts = Provider::start(200, json!({"status": "queued", "id": "p-1"})).await;
    let server = Server::start_with_channels(
        ManualClock::starting_at(system_now_s()),
        channels(&plain_route("texts", &texts, false)),
    )
    .await;
    let client = server.enroll_client("alice", PHONE, "100.00").await;
    let session = server.sign_in(&client.login).await;
    let wallet = server.page("/wallet", Some(&session.cookie)).await;
    assert!(!wallet.text.contains("id=\"reach\""), "{}", wallet.text);
    let refused = choose(
        &server,
        &session,
        &[("csrf", &session.csrf), ("by", "call")],
    )
    .await;
    common::check_error(&refused, 409, "calls_unavailable");
    let by_operator = server.service.set_client_calls(client.id, true).await;
    let refused = sceau_server::error::ApiError::from(by_operator.unwrap_err());
    assert_eq!(
        (refused.status.as_u16(), refused.code),
        (409, "calls_unavailable")
    );
    assert!(
        !server
            .service
            .store
            .client(client.id)
            .await
            .unwrap()
            .unwrap()
            .by_call
    );
    // Going (back) to SMS, what every client has, is always allowed.
    let chosen = choose(&server, &session, &[("csrf", &session.csrf), ("by", "sms")]).await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER, "{}", chosen.text);
    server.stop().await;
}
