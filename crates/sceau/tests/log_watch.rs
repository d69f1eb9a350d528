//! `sceau log-watch` against a real `sceau serve`: it keeps the first checkpoint, accepts
//! one that extends it, and raises the alarm when the history is rewritten in the
//! database (an old entry changed and the tree rebuilt around it: the next checkpoint no
//! longer extends the one the monitor kept).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use std::path::Path;
use std::process::Command;

impl Server {
    /// GET `path`: the body (plain HTTP/1.1 on a socket, the answer read to its end).
    fn get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let address = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        match answer.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.1 200") => body.to_owned(),
            _ => String::new(),
        }
    }

    /// Waits until the server's integrator has appended the log up to `size` (it looks
    /// every 100 ms; the wait is for a condition, not a time).
    fn wait_for_size(&self, size: u64) {
        loop {
            let note = self.get("/log/checkpoint");
            if note.lines().nth(1) == Some(size.to_string().as_str()) {
                return;
            }
            std::thread::yield_now();
        }
    }
}

fn database(directory: &Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(directory.join("sceau-data/sceau.db")).unwrap();
    connection
        .busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    connection
}

fn append(directory: &Path, entries: std::ops::Range<u32>) {
    let connection = database(directory);
    for n in entries {
        connection
            .execute(
                "INSERT INTO log_pending (entry, created_at) VALUES (?1, 0)",
                [format!("event {n}").into_bytes()],
            )
            .unwrap();
    }
}

fn watch(directory: &Path, server: &Server, key: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sceau"))
        .args([
            "log-watch",
            "--once",
            "--url",
            &server.base,
            "--key",
            key,
            "--state",
        ])
        .arg(directory.join("monitor.checkpoint"))
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_monitor_accepts_growth_and_alarms_on_a_rewritten_history() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let server = Server::start(dir, &[("SCEAU_LOG_ORIGIN", "test.example/log")]);
    let key = server.get("/log/key").trim().to_owned();
    assert!(key.starts_with("test.example/log+"), "{key}");

    append(dir, 0..40);
    server.wait_for_size(40);
    let (ok, out) = watch(dir, &server, &key);
    assert!(
        ok && out.contains("log-watch: ok: first checkpoint seen, kept: 40 entries"),
        "{out}"
    );
    let (ok, out) = watch(dir, &server, &key);
    assert!(
        ok && out.contains("log-watch: ok: the same tree as before: 40 entries"),
        "{out}"
    );
    append(dir, 40..100);
    server.wait_for_size(100);
    let (ok, out) = watch(dir, &server, &key);
    assert!(
        ok && out.contains("log-watch: ok: grew from 40 to 100 entries"),
        "{out}"
    );

    // Someone with the database rewrites entry 7 and rebuilds the tree around it (nodes
    // and right edge, as the server would have made them); the server goes on.
    {
        let connection = database(dir);
        connection
            .execute(
                "UPDATE log_entries SET entry = ?1 WHERE idx = 7",
                [b"forged".to_vec()],
            )
            .unwrap();
        let entries: Vec<Vec<u8>> = connection
            .prepare("SELECT entry FROM log_entries ORDER BY idx")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let leaves: Vec<[u8; 32]> = entries.iter().map(|e| sceau_log::leaf_hash(e)).collect();
        let mut frontier = sceau_log::Frontier::new();
        let nodes = frontier.append(&leaves).unwrap();
        connection.execute("DELETE FROM log_nodes", []).unwrap();
        for node in nodes {
            connection
                .execute(
                    "INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                    rusqlite::params![node.level, node.index as i64, node.hash.to_vec()],
                )
                .unwrap();
        }
        connection
            .execute(
                "UPDATE log_state SET frontier = ?1 WHERE id = 1",
                [frontier.hashes().concat()],
            )
            .unwrap();
    }
    append(dir, 100..110);
    server.wait_for_size(110);
    // The new checkpoint is signed with the log's key, but does not extend the one kept.
    let (ok, out) = watch(dir, &server, &key);
    assert!(
        !ok && out.contains("ALARM") && out.contains("forked"),
        "{out}"
    );

    // A key other than the log's: the checkpoint itself is refused.
    let other = "test.example/log+00000000+AQ".to_owned() + &"A".repeat(43);
    let (ok, _) = watch(dir, &server, &other);
    assert!(!ok);
}
