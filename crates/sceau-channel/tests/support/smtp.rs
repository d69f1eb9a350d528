//! The SMTP server for the e-mail tests (`tests/smtp/server.py`, on aiosmtpd), shared by
//! the tests of several crates (`#[path = ...]`).
//!
//! [`python`] finds a Python that has the modules a test needs; when there is none it
//! says so and gives `None` (the test returns early), except under `CI=true`, where it
//! panics: there the e-mail tests must run. [`SmtpServer::start`] runs the server on
//! loopback, reads the port it prints (`listening PORT`), and kills it on drop;
//! [`SmtpServer::received`] reads back what it accepted, as the server wrote it (N.json).

#![allow(dead_code)] // each test binary uses a part of it

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A tool a test needs is missing: a reason to skip, or a failure under CI.
pub fn unavailable(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the e-mail tests must run under CI: {reason}"
    );
    eprintln!("skipped: {reason}");
}

/// A Python that can import `modules` (`["aiosmtpd"]`, `["aiosmtpd", "dkim"]`):
/// `SCEAU_PYTHON`, else `python3`, else Debian's own; `None` after [`unavailable`].
pub fn python(modules: &[&str]) -> Option<PathBuf> {
    let candidates = match std::env::var_os("SCEAU_PYTHON") {
        Some(python) => vec![PathBuf::from(python)],
        None => vec![PathBuf::from("python3"), PathBuf::from("/usr/bin/python3")],
    };
    let import = format!("import {}", modules.join(", "));
    let found = candidates.into_iter().find(|python| {
        std::process::Command::new(python)
            .args(["-c", &import])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found.is_none() {
        let packages: Vec<String> = modules
            .iter()
            .map(|name| format!("python3-{name}"))
            .collect();
        unavailable(&format!(
            "no python3 with {} (apt-get install {})",
            modules.join(" and "),
            packages.join(" ")
        ));
    }
    found
}

/// How the server is started.
pub struct SmtpOptions<'a> {
    /// `plain`, `starttls` or `tls`.
    pub mode: &'a str,
    /// The certificate and key it presents (`starttls` and `tls`).
    pub certificate: Option<(&'a Path, &'a Path)>,
    /// The user and password it demands.
    pub login: Option<(&'a str, &'a str)>,
    /// The DNS records against which it checks DKIM signatures (a JSON file).
    pub dkim_dns: Option<&'a Path>,
}

impl SmtpOptions<'static> {
    /// Clear text, no login, no DKIM.
    pub fn plain() -> SmtpOptions<'static> {
        SmtpOptions {
            mode: "plain",
            certificate: None,
            login: None,
            dkim_dns: None,
        }
    }
}

/// The server on loopback, killed when dropped.
pub struct SmtpServer {
    _child: Child,
    pub port: u16,
    received: tempfile::TempDir,
}

impl SmtpServer {
    pub async fn start(python: &Path, options: &SmtpOptions<'_>) -> SmtpServer {
        let received = tempfile::tempdir().unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../sceau-channel/tests/smtp/server.py");
        let mut command = Command::new(python);
        command.arg(script).arg("--dir").arg(received.path());
        command.args(["--mode", options.mode]);
        if let Some((certificate, key)) = options.certificate {
            command.arg("--cert").arg(certificate).arg("--key").arg(key);
        }
        if let Some((user, password)) = options.login {
            command.args(["--user", user, "--password", password]);
        }
        if let Some(records) = options.dkim_dns {
            command.arg("--dkim-dns").arg(records);
        }
        // The server runs until its standard input closes.
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP server starts");
        let stdout = child.stdout.take().unwrap();
        let line = BufReader::new(stdout).lines().next_line().await.unwrap();
        let line = line.expect("the SMTP server says where it listens");
        let port = line.strip_prefix("listening ").unwrap().parse().unwrap();
        SmtpServer {
            _child: child,
            port,
            received,
        }
    }

    /// Mails held before their answer (recipients whose local part starts with
    /// "held"): now, and at most so far.
    pub fn held(&self) -> (u64, u64) {
        let path = self.received.path().join("held.json");
        let Ok(text) = std::fs::read_to_string(path) else {
            return (0, 0);
        };
        let held: Value = serde_json::from_str(&text).unwrap();
        (held["now"].as_u64().unwrap(), held["max"].as_u64().unwrap())
    }

    /// Lets every held mail (and any later one) be answered.
    pub fn release(&self) {
        std::fs::write(self.received.path().join("release"), "").unwrap();
    }

    /// What the server accepted, in order.
    pub fn received(&self) -> Vec<Value> {
        (1..)
            .map_while(|n| {
                std::fs::read_to_string(self.received.path().join(format!("{n}.json"))).ok()
            })
            .map(|text| serde_json::from_str(&text).unwrap())
            .collect()
    }
}
