//! Issue 23 (1): `GET /metrics` as Prometheus scrapes it, parsed by the Prometheus
//! project's own Python client (`prometheus_client.parser`), its figures moving with a
//! payment's steps. Alone in its test binary: the recorder is the process's, so no other
//! test's requests move these counters. Without python3 and prometheus_client the test
//! says so and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Every sample of a scrape, by name and labels (`name{a="x",b="y"}`, labels sorted).
type Samples = BTreeMap<String, f64>;

/// A sample as the parser gives it: its family's name and type, its name, labels, value.
type Parsed = (String, String, String, BTreeMap<String, String>, f64);

/// The Prometheus client's parser, reading the text on standard input and printing its
/// samples as JSON.
const PARSE: &str = "import json, sys\n\
from prometheus_client.parser import text_string_to_metric_families as families\n\
print(json.dumps([[f.name, f.type, s.name, s.labels, s.value] \
for f in families(sys.stdin.read()) for s in f.samples]))\n";

/// A Python with the Prometheus client: Debian's (`python3-prometheus-client`, what
/// `.ci/run` installs) or the first on the path.
fn python() -> Option<&'static str> {
    let found = ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import prometheus_client"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with prometheus_client is missing under CI (.ci/run installs it)"
        );
        let _ = writeln!(
            std::io::stderr(),
            "note: python3 with prometheus_client is missing: the metrics test was not run"
        );
    }
    found
}

/// Parses a scrape with the Prometheus client: its samples, and each family's type.
fn parse(python: &str, text: &str) -> (Samples, BTreeMap<String, String>) {
    let mut child = Command::new(python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Prometheus parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Vec<Parsed> = serde_json::from_slice(&output.stdout).unwrap();
    let mut samples = Samples::new();
    let mut types = BTreeMap::new();
    for (family, kind, name, labels, value) in parsed {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let key = if labels.is_empty() {
            name.clone()
        } else {
            format!("{name}{{{}}}", labels.join(","))
        };
        types.insert(family, kind);
        samples.insert(key, value);
    }
    (samples, types)
}

async fn scrape(server: &Server, python: &str) -> (Samples, BTreeMap<String, String>) {
    let reply = server
        .send(
            server
                .http
                .get(server.url("/metrics"))
                .bearer_auth(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(python, &reply.text)
}

/// A sample's value, 0 when absent (a counter not moved yet is not written).
fn value(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

/// How much each of `keys` moved from `before` to `after`.
fn moved(before: &Samples, after: &Samples, key: &str) -> f64 {
    value(after, key) - value(before, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_by_prometheus_and_move_with_a_payment() {
    let Some(python) = python() else {
        return;
    };
    let server = Server::start().await;

    // Only with the admin token.
    let anonymous = server.send(server.http.get(server.url("/metrics"))).await;
    check_error(&anonymous, 401, "unauthorized");
    let wrong = server
        .send(
            server
                .http
                .get(server.url("/metrics"))
                .bearer_auth("adm_not_the_token_0123456789abcdef"),
        )
        .await;
    check_error(&wrong, 401, "unauthorized");

    let shop = server.enroll_merchant("Le Petit Théâtre").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "500.00")
        .await;
    server.deliver().await;
    let (before, types) = scrape(&server, python).await;
    for (name, kind) in [
        ("sceau_http_requests", "counter"),
        ("sceau_http_request_duration_seconds", "histogram"),
        ("sceau_store_batch_commands", "histogram"),
        ("sceau_store_commit_seconds", "histogram"),
        ("sceau_outbox_pending", "gauge"),
        ("sceau_outbox_oldest_age_seconds", "gauge"),
        ("sceau_receipts_queued", "gauge"),
        ("sceau_log_size", "gauge"),
        ("sceau_log_waiting_entries", "gauge"),
        ("sceau_log_checkpoint_age_seconds", "gauge"),
        ("sceau_keystore_operations", "counter"),
        ("sceau_certificate_expiry_timestamp_seconds", "gauge"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }
    // When each of the white room's certificates ends, as the certificates say.
    let pki = server.service.pki.as_ref().expect("a white room");
    for (which, certificate) in [
        ("ca_root", pki.authority.root()),
        ("ca_issuing", pki.authority.issuing()),
        ("tsa", &pki.tsa_certificate),
    ] {
        let sample =
            format!("sceau_certificate_expiry_timestamp_seconds{{certificate=\"{which}\"}}");
        let ends = value(&before, &sample);
        assert_eq!(ends, certificate.validity_s().1 as f64, "{sample}");
        assert!(ends > server.service.now_s() as f64, "{sample}");
    }
    assert!(
        value(
            &before,
            "sceau_store_batch_commands_count{backend=\"sqlite\"}"
        ) > 0.0
    );
    assert_eq!(value(&before, "sceau_outbox_pending"), 0.0);

    // A checkout paid after one wrong seal: the seal goes out by the development phone,
    // the receipt is signed and time-stamped with the client's key.
    let body = json!({
        "amount": "49.90", "currency": "EUR", "reference": "cart-42",
        "object": "Two concert tickets", "return_url": "http://127.0.0.1:9/shop/return",
    });
    let created = server
        .merchant_post(&shop, "/v1/checkouts", &body, None)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let (payer, signed_in) = sign_in_to_pay(&server, &created.json(), "alice").await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    let newest = server.newest_message_id(&alice.phone).await;
    let validated = payer.post(&server, "validate", &[]).await;
    assert_eq!(
        validated.status,
        StatusCode::SEE_OTHER,
        "{}",
        validated.text
    );
    let (seal, _) = seal_on_phone(&server, &alice.phone, newest).await;
    let wrong = if seal.starts_with('0') { "1" } else { "0" };
    let wrong_seal = format!("{wrong}{}", &seal[1..]);
    let refused = payer.post(&server, "seal", &[("seal", &wrong_seal)]).await;
    assert_ne!(refused.status, StatusCode::SEE_OTHER, "{}", refused.text);
    let paid = payer.post(&server, "seal", &[("seal", &seal)]).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    // The receipt is signed in the background: wait for it, on its bundle.
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let mut bundle = None;
    for _ in 0..500 {
        let reply = server
            .merchant_get(&shop, &format!("/v1/checkouts/{id}/evidence"))
            .await;
        if reply.status == StatusCode::OK {
            bundle = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(bundle.is_some(), "the evidence bundle came");
    let authorized = server
        .authorize(
            &shop,
            &server
                .any_card(&server.sign_in("alice").await, &alice)
                .await,
            "1.00",
            "EUR",
        )
        .await;
    assert_eq!(
        authorized.status,
        StatusCode::CREATED,
        "{}",
        authorized.text
    );

    // The gauges are read at most once a second (of the server's clock).
    server.clock.advance(1);
    let (after, _) = scrape(&server, python).await;
    let checkout_seals = |verdict: &str| {
        format!("sceau_seal_verdicts_total{{flow=\"checkout\",verdict=\"{verdict}\"}}")
    };
    assert_eq!(moved(&before, &after, &checkout_seals("right")), 1.0);
    assert_eq!(moved(&before, &after, &checkout_seals("wrong")), 1.0);
    assert_eq!(moved(&before, &after, &checkout_seals("expired")), 0.0);
    let requests = |method: &str, route: &str, status: u16| {
        format!(
            "sceau_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        )
    };
    assert_eq!(
        moved(
            &before,
            &after,
            &requests("POST", "/v1/authorizations", 201)
        ),
        1.0
    );
    assert_eq!(
        moved(&before, &after, &requests("POST", "/v1/checkouts", 201)),
        1.0
    );
    assert_eq!(
        moved(&before, &after, &requests("GET", "/metrics", 200)),
        1.0,
        "the first scrape, counted once answered"
    );
    assert!(
        moved(
            &before,
            &after,
            "sceau_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/authorizations\"}"
        ) == 1.0
    );
    // The seal, and the number the authorization's card came in, by the phone.
    let submitted = "sceau_messages_total{route=\"dev-phone\",state=\"submitted\"}";
    let delivered = "sceau_messages_total{route=\"dev-phone\",state=\"delivered\"}";
    assert_eq!(moved(&before, &after, submitted), 2.0);
    assert_eq!(moved(&before, &after, delivered), 2.0);
    assert_eq!(value(&after, "sceau_outbox_pending"), 0.0);
    assert_eq!(
        moved(&before, &after, "sceau_receipts_total{outcome=\"signed\"}"),
        1.0
    );
    // The receipt's signature time-stamp.
    assert!(moved(&before, &after, "sceau_time_stamps_total") >= 1.0);
    let signs =
        "sceau_keystore_operations_total{keystore=\"file\",operation=\"sign\",outcome=\"ok\"}";
    assert!(
        moved(&before, &after, signs) >= 2.0,
        "the client's and the TSA's"
    );
    assert!(
        moved(
            &before,
            &after,
            "sceau_store_batch_commands_count{backend=\"sqlite\"}"
        ) >= 5.0
    );
    assert!(
        value(&after, "sceau_log_size") > 0.0,
        "the bundle integrated the log"
    );
    assert_eq!(value(&after, "sceau_receipts_queued"), 0.0);
    server.stop().await;
}
