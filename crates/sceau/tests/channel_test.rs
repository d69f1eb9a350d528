//! `sceau admin channel-test` against a real SMTP server (aiosmtpd on loopback, started
//! here: `crates/sceau-channel/tests/smtp/server.py`) and the SMSC simulator
//! (`tests/smsc/smsc.js`). Without python3 + aiosmtpd, or node and the simulator's
//! package, the tests say so and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../sceau-channel/tests/support/smsc.rs"]
mod smsc;
#[path = "../../sceau-channel/tests/support/smtp.rs"]
mod smtp;

use serde_json::{Value, json};
use smsc::Smsc;
use smtp::{SmtpOptions, SmtpServer, python};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A configuration with two e-mail routes: `closed` (a loopback port nobody listens on)
/// then `relay` (the test's server).
fn configuration(dir: &Path, port: u16) -> PathBuf {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let route = |name: &str, port: u16| {
        format!(
            "[[email_routes]]\nname = \"{name}\"\nkind = \"smtp\"\n[email_routes.smtp]\n\
             host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout_s = 5\n\
             from = {{ name = \"Banque Exemple\", address = \"alerts@bank.example\" }}\n"
        )
    };
    let text = format!(
        "issuer_name = \"Banque Exemple\"\n{}{}",
        route("closed", closed_port),
        route("relay", port)
    );
    let path = dir.join("sceau.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The command, run without blocking the runtime (which forwards the simulator's log).
async fn channel_test(config: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sceau"))
        .env_remove("SCEAU_MASTER_KEY")
        .env_remove("SCEAU_ADMIN_TOKEN")
        .env("SCEAU_LOG", "warn")
        .arg("--config")
        .arg(config)
        .args(["admin", "channel-test"])
        .args(args)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_email_test_goes_through_each_route_and_says_what_each_answered() {
    let Some(python) = python(&["aiosmtpd"]) else {
        return;
    };
    let server = SmtpServer::start(&python, &SmtpOptions::plain()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = configuration(dir.path(), server.port);

    let output = channel_test(&config, &["--to", "ops@bank.example"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("closed (smtp): "), "{stdout}");
    assert!(!lines[0].contains("accepted"), "{stdout}");
    assert_eq!(
        lines[1],
        "relay (smtp): accepted, provider ids sceau.0@bank.example"
    );
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0]["rcpt_tos"],
        serde_json::json!(["ops@bank.example"])
    );
    let subject = received[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pair| pair[0] == "Subject")
        .unwrap()[1]
        .clone();
    assert_eq!(subject, "Banque Exemple: test message from route relay");

    // Only the route named; none accepting is a failure.
    let output = channel_test(&config, &["--to", "ops@bank.example", "--route", "closed"]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no route accepted"));
    let output = channel_test(&config, &["--to", "ops@bank.example", "--route", "nowhere"]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no route named nowhere"));
    let output = channel_test(&config, &["--to", "Ops <ops@bank.example>"]).await;
    assert!(!output.status.success());
    assert_eq!(server.received().len(), 1, "nothing more was sent");
}

/// A phone number goes to the SMS routes: here the development phone, the default.
#[tokio::test]
async fn a_phone_number_goes_to_the_sms_routes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sceau.toml");
    std::fs::write(&config, "").unwrap();
    let output = channel_test(&config, &["--to", "+33612345678"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("dev-phone (dev-phone): accepted, provider ids "),
        "{stdout}"
    );
    let output = channel_test(&config, &["--to", "+33612345678", "--wait-receipt"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("dev-phone (dev-phone): no receipts waited for: a dev-phone route"),
        "{stdout}"
    );
    let output = channel_test(&config, &["--to", "ops@bank.example"]).await;
    assert!(!output.status.success(), "no e-mail route is configured");
    let output = channel_test(&config, &["--to", "ops@bank.example", "--wait-receipt"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("e-mail has no delivery receipts"),
        "{stderr}"
    );
}

// -- SMS routes over SMPP, against the SMSC simulator ---------------------------------------

const SYSTEM_ID: &str = "sceau";
const SMSC_PASSWORD: &str = "smscpw48";
const PHONE: &str = "+33612345678";

/// An SMPP route to `smsc`, as an operator writes it, its password (in a file of `dir`)
/// `password`.
fn smpp_route(name: &str, smsc: &Smsc, dir: &Path, password: &str) -> String {
    let file = dir.join(format!("{name}.password"));
    std::fs::write(&file, format!("{password}\n")).unwrap();
    format!(
        "[[sms_routes]]\nname = \"{name}\"\nkind = \"smpp\"\n[sms_routes.smpp]\n\
         host = \"127.0.0.1\"\nport = {}\nsystem_id = \"{SYSTEM_ID}\"\n\
         password = {{ file = {:?} }}\nsource_addr = \"SCEAU\"\nsource_ton = 5\n\
         source_npi = 0\nreconnect_min_ms = 20\nreconnect_max_ms = 200\n",
        smsc.addr().port(),
        file.display().to_string()
    )
}

fn sms_configuration(dir: &Path, routes: &[String]) -> PathBuf {
    let path = dir.join("sceau.toml");
    std::fs::write(&path, routes.concat()).unwrap();
    path
}

/// The command to the test's phone: whether it succeeded, its output and its errors.
async fn channel_test_sms(config: &Path, args: &[&str]) -> (bool, String, String) {
    let output = channel_test(config, &[&["--to", PHONE], args].concat()).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stdout, stderr)
}

/// The simulator's one message, to the test's phone, from the route named.
fn check_received(messages: &[Value], route: &str) {
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(
        message["destination"]["addr"],
        PHONE.trim_start_matches('+')
    );
    assert_eq!(message["source"]["addr"], "SCEAU");
    let text = message["text"].as_str().unwrap();
    let expected = format!("sceau test message from route {route} at ");
    assert!(text.starts_with(&expected), "{text}");
}

#[tokio::test]
async fn an_smpp_route_that_accepts_says_so_with_the_provider_id() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, SMSC_PASSWORD).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let route = smpp_route("operator", &smsc, dir.path(), SMSC_PASSWORD);
    let config = sms_configuration(dir.path(), &[route]);

    let (success, stdout, stderr) = channel_test_sms(&config, &[]).await;
    assert!(success, "{stdout}{stderr}");
    let messages = smsc.messages().await;
    check_received(&messages, "operator");
    let id = messages[0]["parts"][0]["message_id"].as_str().unwrap();
    assert_eq!(
        stdout,
        format!("operator (smpp): accepted, provider ids {id}\n")
    );
}

#[tokio::test]
async fn a_refused_bind_fails_the_test_and_says_so_without_the_password() {
    let Some(smsc) = Smsc::start(SYSTEM_ID, SMSC_PASSWORD).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wrong = "badpw773";
    let route = smpp_route("operator", &smsc, dir.path(), wrong);
    let config = sms_configuration(dir.path(), &[route]);

    let (success, stdout, stderr) = channel_test_sms(&config, &["--wait-s", "3"]).await;
    assert!(!success, "{stdout}{stderr}");
    assert!(
        stdout.starts_with(
            "operator (smpp): not sent within 3 s (the SMSC refused the bind as \
                            system_id sceau (command_status "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("check the system_id and the password"),
        "{stdout}"
    );
    assert!(
        stderr.contains("no route accepted the test message"),
        "{stderr}"
    );
    for secret in [wrong, SMSC_PASSWORD] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stdout}{stderr}"
        );
    }
    let stats = smsc.stats().await;
    assert!(stats["binds_refused"].as_u64() >= Some(1), "{stats}");
    assert!(smsc.messages().await.is_empty());
}

#[tokio::test]
async fn route_names_one_of_two_smpp_routes() {
    let Some(first) = Smsc::start(SYSTEM_ID, SMSC_PASSWORD).await else {
        return;
    };
    let Some(second) = Smsc::start(SYSTEM_ID, SMSC_PASSWORD).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let routes = [
        smpp_route("first", &first, dir.path(), SMSC_PASSWORD),
        smpp_route("second", &second, dir.path(), SMSC_PASSWORD),
    ];
    let config = sms_configuration(dir.path(), &routes);

    let (success, stdout, stderr) = channel_test_sms(&config, &["--route", "second"]).await;
    assert!(success, "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("second (smpp): accepted, provider ids "),
        "{stdout}"
    );
    check_received(&second.messages().await, "second");
    assert!(
        first.messages().await.is_empty(),
        "the first route sent nothing"
    );
}

#[tokio::test]
async fn wait_receipt_says_delivered_then_failed_with_the_receipts_status() {
    // Receipts that write in decimal the id the SMSC gave in hex, without the TLVs.
    let settings = ["--receipt-id-form", "decimal", "--receipt-tlvs", "false"];
    let Some(smsc) = Smsc::start_with(SYSTEM_ID, SMSC_PASSWORD, &settings).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let route = smpp_route("operator", &smsc, dir.path(), SMSC_PASSWORD);
    let config = sms_configuration(dir.path(), &[route]);

    let (success, stdout, stderr) = channel_test_sms(&config, &["--wait-receipt"]).await;
    assert!(success, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("operator (smpp): accepted, provider ids "),
        "{stdout}"
    );
    assert_eq!(lines[1], "operator (smpp): delivered");
    let messages = smsc.messages().await;
    assert_eq!(messages[0]["parts"][0]["receipt"]["state"], "answered");

    smsc.control(json!({"command": "set", "receipt_stat": "UNDELIV", "receipt_err": "001"}))
        .await;
    let (success, stdout, stderr) = channel_test_sms(&config, &["--wait-receipt"]).await;
    assert!(!success, "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().nth(1),
        Some("operator (smpp): failed: UNDELIV err:001"),
        "{stdout}"
    );
    assert!(
        stderr.contains("no route's receipts said the test message was delivered"),
        "{stderr}"
    );
}

#[tokio::test]
async fn wait_receipt_says_when_no_receipt_came_in_time() {
    let settings = ["--receipts", "none"];
    let Some(smsc) = Smsc::start_with(SYSTEM_ID, SMSC_PASSWORD, &settings).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let route = smpp_route("operator", &smsc, dir.path(), SMSC_PASSWORD);
    let config = sms_configuration(dir.path(), &[route]);

    let args = ["--wait-receipt", "--wait-s", "2"];
    let (success, stdout, stderr) = channel_test_sms(&config, &args).await;
    assert!(!success, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("operator (smpp): accepted, provider ids "),
        "{stdout}"
    );
    assert_eq!(
        lines[1..],
        ["operator (smpp): no receipt in time (0 of 1 parts reported delivered within 2 s)"]
    );
    check_received(&smsc.messages().await, "operator");
}
