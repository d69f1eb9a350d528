//! The SMSC simulator (`tests/smsc/smsc.js`, on npm's `smpp` package) for the SMPP tests.
//!
//! [`Smsc::start`] runs it with node on loopback, SMPP and control ports picked by the
//! system (it prints them as one JSON line, read back here), and kills it on drop. The
//! simulator's JSON control API is reached through [`Smsc::control`], [`Smsc::messages`]
//! and [`Smsc::stats`]; the commands and the records are described at the top of
//! `tests/smsc/smsc.js`. Nothing here waits a fixed time: [`Smsc::wait_stats`] and
//! [`Smsc::wait_messages`] check a condition again and again, up to [`WAIT_S_MAX`].
//!
//! When node or the simulator's package (`npm ci --prefix tests/smsc`) is missing,
//! [`Smsc::start`] says so and gives `None` (the test returns early), except under
//! `CI=true`, where it panics: there the SMPP tests must run.

#![allow(dead_code)] // each test binary uses a part of it

use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Once;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The longest any wait lasts (the simulator's start, a condition on its records).
/// Generous, because two cores may be shared with other builds.
pub const WAIT_S_MAX: u64 = 60;
/// How often a condition is checked again while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The simulator's directory in the repository.
fn directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smsc")
}

/// A running simulator, killed when dropped.
pub struct Smsc {
    process: Child,
    smpp: SocketAddr,
    control: String,
    http: reqwest::Client,
}

impl Smsc {
    /// Starts a simulator that accepts binds as `system_id` with `password`, with its
    /// default settings; `None`, with a note, when node or its package is missing.
    pub async fn start(system_id: &str, password: &str) -> Option<Smsc> {
        Smsc::start_with(system_id, password, &[]).await
    }

    /// As [`Smsc::start`], with more command-line arguments (`--port`, settings such as
    /// `--id-format decimal`).
    pub async fn start_with(system_id: &str, password: &str, arguments: &[&str]) -> Option<Smsc> {
        let directory = directory();
        if !directory.join("node_modules/smpp").is_dir() {
            return missing("the simulator's package (run: npm ci --prefix tests/smsc)");
        }
        let spawned = Command::new("node")
            .arg(directory.join("smsc.js"))
            .args(["--system-id", system_id, "--password", password])
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut process = match spawned {
            Ok(process) => process,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return missing("node (apt-get install nodejs npm)");
            }
            Err(error) => panic!("start node: {error}"),
        };
        forward_log(&mut process);
        let ports = read_ports(&mut process).await;
        let port = |name: &str| -> u16 {
            ports[name]
                .as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .unwrap_or_else(|| panic!("the simulator's {name} port in {ports}"))
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(WAIT_S_MAX))
            .build()
            .expect("an HTTP client");
        Some(Smsc {
            smpp: SocketAddr::from(([127, 0, 0, 1], port("smpp"))),
            control: format!("http://127.0.0.1:{}", port("control")),
            http,
            process,
        })
    }

    /// Where the simulator listens for SMPP.
    pub fn addr(&self) -> SocketAddr {
        self.smpp
    }

    /// Sends one control command (`{"command": "throttle", "count": 2}`) and returns the
    /// answer; panics when the simulator refuses it.
    pub async fn control(&self, command: Value) -> Value {
        let (status, answer) = self.control_answer(&command).await;
        assert_eq!(status, 200, "the simulator refused {command}: {answer}");
        answer
    }

    /// Sends one control command and returns the HTTP status and the answer, refused or not.
    pub async fn control_answer(&self, command: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/control", self.control))
            .json(command)
            .send()
            .await
            .expect("reach the simulator's control API");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// The accepted submit_sm, grouped into messages (`GET /messages`).
    pub async fn messages(&self) -> Vec<Value> {
        match self.get("/messages").await {
            Value::Array(messages) => messages,
            other => panic!("the simulator's messages are not a list: {other}"),
        }
    }

    /// The simulator's counters and binds (`GET /stats`).
    pub async fn stats(&self) -> Value {
        self.get("/stats").await
    }

    /// The stats once `condition` holds; panics with them after [`WAIT_S_MAX`].
    pub async fn wait_stats(&self, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(WAIT_S_MAX);
        loop {
            let stats = self.stats().await;
            if condition(&stats) {
                return stats;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited for {what}: {stats}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The messages once `condition` holds; panics with them after [`WAIT_S_MAX`].
    pub async fn wait_messages(
        &self,
        what: &str,
        condition: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(WAIT_S_MAX);
        loop {
            let messages = self.messages().await;
            if condition(&messages) {
                return messages;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited for {what}: {}",
                Value::Array(messages)
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Kills the simulator now (a crashed SMSC) and waits until it is gone.
    pub async fn kill(mut self) {
        self.process.kill().await.expect("kill the simulator");
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.control))
            .send()
            .await
            .expect("reach the simulator's control API")
            .json()
            .await
            .expect("a JSON answer")
    }
}

/// `None` with a note, or a panic under `CI=true`, when what the simulator needs is missing.
fn missing(what: &str) -> Option<Smsc> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is missing under CI: the SMPP tests must run (.ci/run installs it)"
    );
    static NOTE: Once = Once::new();
    NOTE.call_once(|| {
        // Straight to stderr, past the test harness's capture, as the other notes.
        let _ = writeln!(
            std::io::stderr(),
            "note: {what} is missing: the tests against the SMSC simulator were not run"
        );
    });
    None
}

/// The simulator's log (its standard error) goes to the test's.
fn forward_log(process: &mut Child) {
    let stderr = process
        .stderr
        .take()
        .expect("the simulator's standard error");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{line}");
        }
    });
}

/// The one line the simulator prints once it listens: `{"smpp":PORT,"control":PORT}`.
async fn read_ports(process: &mut Child) -> Value {
    let stdout = process
        .stdout
        .take()
        .expect("the simulator's standard output");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(WAIT_S_MAX), lines.next_line())
        .await
        .expect("the simulator printed its ports in time")
        .expect("read the simulator's output");
    let line = line.unwrap_or_else(|| panic!("the simulator stopped before listening"));
    // Keeps the pipe open: the simulator never writes to it again.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    serde_json::from_str(&line)
        .unwrap_or_else(|error| panic!("the simulator's ports {line:?}: {error}"))
}
