//! Issue 23 (5): `sceau admin backup` while `sceau serve` is under load, and `sceau admin
//! restore` into a fresh directory: the restored server holds every checkout acknowledged
//! before the backup began, its ledger is sound, its log extends the checkpoint a monitor
//! kept, and a time-stamp signed before the backup verifies against its root. A backup
//! changed by one byte, or restored over data, or without its master key, is refused with
//! nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const ADMIN_TOKEN: &str = "adm_backup_tests_0123456789abcdef01";

/// `sceau admin ARGS` in `directory`, with only the admin token among SCEAU_*.
fn admin(directory: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sceau"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SCEAU_")) {
        command.env_remove(name);
    }
    command
        .arg("admin")
        .args(args)
        .current_dir(directory)
        .env("SCEAU_LOG", "warn")
        .output()
        .unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn openssl(directory: &Path, args: &[&str]) {
    let (ok, output) = common::openssl(directory, args);
    assert!(ok, "openssl {args:?}: {output}");
}

/// `sceau log-watch --once` against `server`, its state in `state`.
fn watch(server: &Server, key: &str, state: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sceau"))
        .args(["log-watch", "--once", "--url", &server.base, "--key", key])
        .arg("--state")
        .arg(state)
        .output()
        .unwrap();
    (output.status.success(), said(&output))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_into_a_server_that_holds_everything() {
    let first = tempfile::tempdir().unwrap();
    let env = [("SCEAU_ADMIN_TOKEN", ADMIN_TOKEN)];
    let server = Server::start(first.path(), &env);
    let http = reqwest::Client::new();
    let merchant: Value = http
        .post(format!("{}/admin/v1/merchants", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "name": "Librairie" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = merchant["api_key"].as_str().unwrap().to_owned();

    // A time-stamp, signed before the backup.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("contract.txt"), "34.80 EUR, agreed.\n").unwrap();
    openssl(
        work.path(),
        &[
            "ts",
            "-query",
            "-data",
            "contract.txt",
            "-sha256",
            "-cert",
            "-out",
            "q.tsq",
        ],
    );
    let stamped = http
        .post(format!("{}/tsa", server.base))
        .header("content-type", "application/timestamp-query")
        .body(std::fs::read(work.path().join("q.tsq")).unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(work.path().join("r.tsr"), &stamped).unwrap();

    // The load: checkouts created one after the other, each kept once acknowledged.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let loader = {
        let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
        let (acknowledged, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let created = http
                    .post(format!("{base}/v1/checkouts"))
                    .bearer_auth(&key)
                    .json(&json!({
                        "amount": "12.00", "currency": "EUR", "reference": format!("order-{n}"),
                        "object": "A book", "return_url": "https://shop.example/back",
                    }))
                    .send()
                    .await
                    .unwrap();
                let status = created.status();
                assert_eq!(status, 201, "{:?}", created.text().await);
                let body: Value = created.json().await.unwrap();
                acknowledged
                    .lock()
                    .unwrap()
                    .push(body["id"].as_str().unwrap().to_owned());
            }
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 50 {
        assert!(!loader.is_finished(), "the load stopped");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load did not get going"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A client's enrolment writes evidence: the log then has a checkpoint, which the
    // monitor keeps (the integrator looks every 100 ms: waited for, on the condition).
    let enrolled = http
        .post(format!("{}/admin/v1/clients", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "login": "alice", "display_name": "Alice", "password": "correct horse battery",
            "phone": "+33612345678", "currency": "EUR", "opening_balance": "100.00",
            "credit_limit": "0",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let checkpoint = http
            .get(format!("{}/log/checkpoint", server.base))
            .send()
            .await
            .unwrap();
        if checkpoint.status() == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no checkpoint came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The monitor keeps the log's checkpoint of now.
    let log_key = http
        .get(format!("{}/log/key", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let log_key = log_key.trim().to_owned();
    let state = work.path().join("monitor.checkpoint");
    let (ok, said_first) = watch(&server, &log_key, &state);
    assert!(ok, "{said_first}");

    // The backup, while the checkouts keep coming.
    let before_backup = acknowledged.lock().unwrap().clone();
    let backup_dir = work.path().join("backup");
    let output = admin(
        first.path(),
        &["backup", "--out", backup_dir.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", said(&output));
    let after_backup = acknowledged.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    loader.await.unwrap();
    assert!(
        after_backup > before_backup.len(),
        "the load went on during the backup"
    );
    assert!(
        !said(&output).contains(
            &std::fs::read_to_string(first.path().join("sceau-data/master.key"))
                .unwrap()
                .trim()
                .to_string()
        )
    );
    assert!(
        !backup_dir.join("master.key").exists() && !backup_dir.join("sceau-data").exists(),
        "the master key is not in the backup"
    );
    // A second backup into the same directory is refused.
    let again = admin(
        first.path(),
        &["backup", "--out", backup_dir.to_str().unwrap()],
    );
    assert!(!again.status.success());
    assert!(said(&again).contains("exists"), "{}", said(&again));
    drop(server);

    // Restored into a fresh directory, with the master key brought back by hand.
    let second = tempfile::tempdir().unwrap();
    let backup_arg = backup_dir.to_str().unwrap();
    let refused = admin(second.path(), &["restore", "--from", backup_arg]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("no master key"),
        "{}",
        said(&refused)
    );
    std::fs::create_dir_all(second.path().join("sceau-data")).unwrap();
    std::fs::copy(
        first.path().join("sceau-data/master.key"),
        second.path().join("sceau-data/master.key"),
    )
    .unwrap();

    // A backup with one byte changed is refused, and nothing is written.
    let changed = work.path().join("changed");
    copy_dir(&backup_dir, &changed);
    let victim = changed.join("sceau.db");
    let mut bytes = std::fs::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&victim, bytes).unwrap();
    let refused = admin(
        second.path(),
        &["restore", "--from", changed.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(said(&refused).contains("was changed"), "{}", said(&refused));
    let left: Vec<String> = std::fs::read_dir(second.path().join("sceau-data"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["master.key"], "nothing written, nothing staged left");
    // Another master key's backup, or a manifest changed: refused by its HMAC.
    let manifest = changed.join("MANIFEST.json");
    copy_dir(&backup_dir, &changed);
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replacen("\"size\": ", "\"size\": 1", 1)).unwrap();
    let refused = admin(
        second.path(),
        &["restore", "--from", changed.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("manifest was changed"),
        "{}",
        said(&refused)
    );

    let restored = admin(second.path(), &["restore", "--from", backup_arg]);
    assert!(restored.status.success(), "{}", said(&restored));
    // Over data already there: refused.
    let over = admin(second.path(), &["restore", "--from", backup_arg]);
    assert!(!over.status.success());
    assert!(
        said(&over).contains("already holds data"),
        "{}",
        said(&over)
    );

    let ledger = admin(second.path(), &["ledger-check"]);
    assert!(ledger.status.success(), "{}", said(&ledger));
    let server = Server::start(second.path(), &env);
    for id in &before_backup {
        let answer = http
            .get(format!("{}/v1/checkouts/{id}", server.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            200,
            "checkout {id}, acknowledged before the backup"
        );
    }
    // The log extends what the monitor kept; the time-stamp verifies against the root.
    let (ok, said_after) = watch(&server, &log_key, &state);
    assert!(ok, "{said_after}");
    let root = http
        .get(format!("{}/pki/root.pem", server.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(work.path().join("root.pem"), &root).unwrap();
    openssl(
        work.path(),
        &[
            "ts",
            "-verify",
            "-data",
            "contract.txt",
            "-in",
            "r.tsr",
            "-CAfile",
            "root.pem",
        ],
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for child in std::fs::read_dir(from).unwrap() {
        let child = child.unwrap();
        let target = to.join(child.file_name());
        if child.file_type().unwrap().is_dir() {
            copy_dir(&child.path(), &target);
        } else {
            std::fs::copy(child.path(), target).unwrap();
        }
    }
}
