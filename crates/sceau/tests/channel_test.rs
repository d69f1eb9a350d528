//! `sceau admin channel-test` against a real SMTP server (aiosmtpd on loopback, started
//! here: `crates/sceau-channel/tests/smtp/server.py`). Without python3 + aiosmtpd the
//! tests say so and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A Python that has aiosmtpd, or `None` (a failure under CI).
fn python() -> Option<PathBuf> {
    let found = ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|output| output.status.success())
    });
    if found.is_none() {
        let reason = "no python3 with aiosmtpd (apt-get install python3-aiosmtpd)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{reason}");
        eprintln!("skipped: {reason}");
    }
    found.map(PathBuf::from)
}

/// aiosmtpd on loopback in clear text; stopped when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    received: tempfile::TempDir,
}

impl SmtpServer {
    fn start(python: &Path) -> SmtpServer {
        let received = tempfile::tempdir().unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../sceau-channel/tests/smtp/server.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg("--dir")
            .arg(received.path())
            .args(["--mode", "plain"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the SMTP server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap()
            .parse()
            .unwrap();
        SmtpServer {
            child,
            port,
            received,
        }
    }

    fn received(&self) -> Vec<Value> {
        (1..)
            .map_while(|n| {
                std::fs::read_to_string(self.received.path().join(format!("{n}.json"))).ok()
            })
            .map(|text| serde_json::from_str(&text).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

fn channel_test(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sceau"))
        .env_remove("SCEAU_MASTER_KEY")
        .env_remove("SCEAU_ADMIN_TOKEN")
        .env("SCEAU_LOG", "warn")
        .arg("--config")
        .arg(config)
        .args(["admin", "channel-test"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_email_test_goes_through_each_route_and_says_what_each_answered() {
    let Some(python) = python() else { return };
    let server = SmtpServer::start(&python);
    let dir = tempfile::tempdir().unwrap();
    let config = configuration(dir.path(), server.port);

    let output = channel_test(&config, &["--to", "ops@bank.example"]);
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
    let output = channel_test(&config, &["--to", "ops@bank.example", "--route", "closed"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no route accepted"));
    let output = channel_test(&config, &["--to", "ops@bank.example", "--route", "nowhere"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no route named nowhere"));
    let output = channel_test(&config, &["--to", "Ops <ops@bank.example>"]);
    assert!(!output.status.success());
    assert_eq!(server.received().len(), 1, "nothing more was sent");
}

/// A phone number goes to the SMS routes: here the development phone, the default.
#[test]
fn a_phone_number_goes_to_the_sms_routes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sceau.toml");
    std::fs::write(&config, "").unwrap();
    let output = channel_test(&config, &["--to", "+33612345678"]);
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
    let output = channel_test(&config, &["--to", "ops@bank.example"]);
    assert!(!output.status.success(), "no e-mail route is configured");
}
