//! `POST /tsa` on a real `sceau serve` (the embedded default: SQLite and the encrypted
//! key directory), driven as the users would: `openssl ts -query`, an HTTP post,
//! `openssl ts -verify` against the root certificate the server publishes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, openssl};

#[tokio::test]
async fn time_stamps_over_http_verify_with_openssl_and_the_pki_survives_a_restart() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let http = reqwest::Client::new();
    let server = Server::start(dir, &[]);
    let root = http
        .get(format!("{}/pki/root.pem", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(root.starts_with("-----BEGIN CERTIFICATE-----"), "{root}");
    std::fs::write(dir.join("root.pem"), &root).unwrap();
    std::fs::write(dir.join("f"), b"the minutes of the meeting\n").unwrap();
    let (made, text) = openssl(
        dir,
        &[
            "ts", "-query", "-data", "f", "-sha256", "-cert", "-out", "q.tsq",
        ],
    );
    assert!(made, "{text}");
    let post = |body: Vec<u8>, media_type: &'static str| {
        http.post(format!("{}/tsa", server.base))
            .header("content-type", media_type)
            .body(body)
            .send()
    };
    let reply = post(
        std::fs::read(dir.join("q.tsq")).unwrap(),
        "application/timestamp-query",
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.headers()["content-type"],
        "application/timestamp-reply"
    );
    std::fs::write(dir.join("r.tsr"), reply.bytes().await.unwrap()).unwrap();
    for check in [
        [
            "ts", "-verify", "-data", "f", "-in", "r.tsr", "-CAfile", "root.pem",
        ],
        [
            "ts",
            "-verify",
            "-queryfile",
            "q.tsq",
            "-in",
            "r.tsr",
            "-CAfile",
            "root.pem",
        ],
    ] {
        let (verified, text) = openssl(dir, &check);
        assert!(verified && text.contains("Verification: OK"), "{text}");
    }

    // Not DER: a rejection in the RFC's terms, not an HTTP error.
    let reply = post(b"not a request".to_vec(), "application/timestamp-query")
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    std::fs::write(dir.join("bad.tsr"), reply.bytes().await.unwrap()).unwrap();
    let (read, text) = openssl(dir, &["ts", "-reply", "-in", "bad.tsr", "-text"]);
    assert!(read && text.contains("Status: Rejected"), "{text}");
    assert!(
        text.contains("the data submitted has the wrong format"),
        "{text}"
    );
    // Another media type: refused with a clear error.
    let reply = post(b"{}".to_vec(), "application/json").await.unwrap();
    assert_eq!(reply.status(), 415);
    let error: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_media_type", "{error}");

    // Restarted, the server keeps its authority: the same root, and new time-stamps
    // verify against it.
    drop(server);
    let server = Server::start(dir, &[]);
    let again = http
        .get(format!("{}/pki/root.pem", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(again, root);
    let reply = http
        .post(format!("{}/tsa", server.base))
        .header("content-type", "application/timestamp-query")
        .body(std::fs::read(dir.join("q.tsq")).unwrap())
        .send()
        .await
        .unwrap();
    std::fs::write(dir.join("r2.tsr"), reply.bytes().await.unwrap()).unwrap();
    let (verified, text) = openssl(
        dir,
        &[
            "ts", "-verify", "-data", "f", "-in", "r2.tsr", "-CAfile", "root.pem",
        ],
    );
    assert!(verified, "{text}");
    // The keys are encrypted at rest, private to the server.
    let keys: Vec<_> = std::fs::read_dir(dir.join("sceau-data/keys"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    for key in ["ca-root.key", "ca-issuing.key", "tsa.key"] {
        assert!(keys.contains(&key.to_owned()), "{keys:?}");
    }
}
