//! The station's programs, tested where they run: the hashing program
//! (`static/sha256.js`) under node against the NIST vectors and node's own SHA-256
//! (`tests/js/sha256.test.mjs`), and in headless Chromium, where files chosen in a file
//! field are hashed as they stream from the disk and must give what `sha256sum` gives;
//! the notary's page program (`static/notary.js`) under node against a fake of the JSON
//! API, with node's WebCrypto (`tests/js/notary.test.mjs`). Without node or Chromium
//! these tests note it and pass, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/node.rs"]
mod node;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::browser::Browser;
use node::run_in_node;
use sceau_server::station::{self, SHA256_JS, StaticScript};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1024 * 1024;

/// Runs the node test script: the NIST FIPS 180-4 example vectors (with SHAVS's 1 GiB
/// message, 2^33 bits), every cut in two and three of messages around the block and
/// padding boundaries, node's SHA-256 on random data of many lengths and chunkings, and
/// `hashFile` over a Blob's stream.
#[test]
fn sha256_js_in_node() {
    run_in_node("tests/js/sha256.test.mjs");
}

/// Runs the node test script of the notary's page: file names judged as
/// `FileName::parse` judges them (its own cases, and those of the text rules), the
/// manifest byte for byte as `Manifest::canonical` writes it, destinations and limits, the
/// whole flow against a fake of the JSON API with node's WebCrypto (the key not
/// extractable; the signature sent verifies over the manifest sent with the key sent;
/// the server's refusals reach the page with their code and message), and the page's
/// wiring on a small fake document.
#[test]
fn notary_js_in_node() {
    run_in_node("tests/js/notary.test.mjs");
}

/// Files of 0, 1, 64 bytes, a few MiB and 50 MiB, one with a non-ASCII name, chosen in a
/// page's file field: the page (Content-Security-Policy `script-src 'self'`, the script
/// loaded with its Subresource Integrity value) shows the SHA-256 of each, equal to
/// `sha256sum`'s. Prints the speed Chromium hashed the 50 MiB file at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_hashes_chosen_files_as_sha256sum_does() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let files = [
        random_file(directory.path(), "empty.bin", 0),
        random_file(directory.path(), "one byte", 1),
        random_file(directory.path(), "one-block.bin", 64),
        random_file(directory.path(), "relevé de compte.pdf", 3 * MIB + 5),
        random_file(directory.path(), "large.bin", 50 * MIB),
    ];
    let page = PageServer::start().await;

    browser.goto(&page.url("/")).await;
    browser.wait_for_text("#status", "ready").await;
    let paths: Vec<String> = files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let field = browser.wait_for("#files").await;
    field.send_keys(&paths.join("\n")).await.unwrap();
    // The page shows its outcome in `#finished` once every file is hashed, or one failed.
    browser.wait_for("#finished").await;
    let status = browser.text_of("#finished").await;
    assert_eq!(status, "done", "the page's status");

    let shown = browser
        .client()
        .execute(
            "return [...document.querySelectorAll('#results li')].map(li => li.textContent);",
            Vec::new(),
        )
        .await
        .unwrap();
    let shown: Vec<Value> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|text| serde_json::from_str(text.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(shown.len(), files.len(), "one result per file: {shown:?}");
    for (path, result) in files.iter().zip(&shown) {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(result["name"], name, "{result}");
        assert_eq!(
            result["size"],
            std::fs::metadata(path).unwrap().len(),
            "{result}"
        );
        assert_eq!(result["sha256"], sha256sum(path), "{name}: {result}");
    }
    // The large file came in chunks, each hashed and let go: never whole in memory.
    let large = &shown[4];
    let chunk_bytes_max = large["chunk_bytes_max"].as_u64().unwrap();
    assert!(
        large["chunks"].as_u64().unwrap() > 1 && chunk_bytes_max < 50 * MIB,
        "{large}"
    );
    let seconds = large["ms"].as_f64().unwrap() / 1000.0;
    println!(
        "Chromium hashed 50 MiB in {seconds:.2} s: {:.0} MB/s, in {} chunks of at most {} bytes",
        (50 * MIB) as f64 / 1e6 / seconds,
        large["chunks"],
        chunk_bytes_max
    );

    browser.close().await;
    page.stop().await;
}

/// A page that names the script with an integrity value of other bytes: Chromium refuses
/// to run it, so the page's "ready" above proves the value is the script's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_refuses_the_script_under_another_integrity_value() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let page = PageServer::start().await;
    browser.goto(&page.url("/other-integrity")).await;
    browser
        .wait_for_text("#status", "sha256.js did not run")
        .await;
    browser.close().await;
    page.stop().await;
}

/// A file of `size` random bytes (from the kernel) at `directory/name`.
fn random_file(directory: &Path, name: &str, size: u64) -> PathBuf {
    let path = directory.join(name);
    let mut random = std::fs::File::open("/dev/urandom").unwrap().take(size);
    let mut file = std::fs::File::create(&path).unwrap();
    assert_eq!(std::io::copy(&mut random, &mut file).unwrap(), size);
    path
}

/// The hex SHA-256 of the file at `path`, as coreutils' `sha256sum` prints it.
fn sha256sum(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg("--")
        .arg(path)
        .output()
        .unwrap_or_else(|error| panic!("run sha256sum (coreutils): {error}"));
    assert!(output.status.success(), "sha256sum {}", path.display());
    let line = String::from_utf8(output.stdout).unwrap();
    let hex = line.split_whitespace().next().unwrap().to_owned();
    assert_eq!(hex.len(), 64, "{line}");
    hex
}

/// The test page and its scripts, served on loopback.
struct PageServer {
    address: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl PageServer {
    async fn start() -> PageServer {
        let other = station::integrity(b"// another script\n");
        let router = Router::new()
            .route("/", get(|| async { page(&SHA256_JS.integrity()) }))
            .route(
                "/other-integrity",
                get(move || {
                    let other = other.clone();
                    async move { page(&other) }
                }),
            )
            .route("/sha256.js", get(|| async { script(SHA256_JS) }))
            .route(
                "/page.js",
                get(|| async {
                    script(StaticScript {
                        name: "page.js",
                        bytes: PAGE_JS.as_bytes(),
                    })
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        PageServer {
            address,
            stop,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// The page: a file field, the results, and the two scripts, under the policy the notary
/// page will have (scripts from this origin only, no inline script).
fn page(integrity: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Station</title>\
         <input type=file id=files multiple>\
         <p id=status>loading</p><ol id=results></ol>\
         <script src=\"/sha256.js\" integrity=\"{integrity}\"></script>\
         <script src=\"/page.js\"></script></html>"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'",
            ),
        ],
        html,
    )
        .into_response()
}

fn script(script: StaticScript) -> Response {
    (
        [(header::CONTENT_TYPE, StaticScript::CONTENT_TYPE)],
        script.bytes,
    )
        .into_response()
}

/// Hashes the files chosen, one after the other, and shows for each its name, size,
/// SHA-256, the time it took (performance.now()) and the chunks it came in.
const PAGE_JS: &str = r#""use strict";
const status = document.getElementById("status");
const input = document.getElementById("files");
const results = document.getElementById("results");
status.textContent = typeof sceauSha256 === "object" ? "ready" : "sha256.js did not run";
input.addEventListener("change", async () => {
  status.textContent = "hashing";
  try {
    for (const file of input.files) {
      let chunks = 0;
      let chunkBytesMax = 0;
      let previous = 0;
      const started = performance.now();
      const sha256 = await sceauSha256.hashFile(file, (bytesDone) => {
        chunks += 1;
        chunkBytesMax = Math.max(chunkBytesMax, bytesDone - previous);
        previous = bytesDone;
      });
      const ms = performance.now() - started;
      const item = document.createElement("li");
      item.textContent = JSON.stringify({
        name: file.name, size: file.size, sha256, ms, chunks, chunk_bytes_max: chunkBytesMax,
      });
      results.append(item);
    }
    finish("done");
  } catch (error) {
    finish(`failed: ${error}`);
  }
});
function finish(outcome) {
  const finished = document.createElement("p");
  finished.id = "finished";
  finished.textContent = outcome;
  document.body.append(finished);
}
"#;
