//! Issue 23 (3): `sceau serve` terminating TLS itself, its certificate read again on
//! SIGHUP, checked with curl as a client would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A CA named `name` in `dir`: its certificate and key.
fn authority(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (certificate, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let (ok, said) = common::openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            certificate.to_str().unwrap(),
        ],
    );
    assert!(ok, "{said}");
    (certificate, key)
}

/// A server certificate for 127.0.0.1 and localhost signed by the CA `(ca, ca_key)`,
/// valid `days`: the certificate and its key, named `name`.
fn server_certificate(
    dir: &Path,
    name: &str,
    ca: &(PathBuf, PathBuf),
    days: u32,
) -> (PathBuf, PathBuf) {
    let days = days.to_string();
    let key = dir.join(format!("{name}.key"));
    let request = dir.join(format!("{name}.csr"));
    let certificate = dir.join(format!("{name}.pem"));
    let extensions = dir.join(format!("{name}.ext"));
    std::fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    for args in [
        vec![
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            request.to_str().unwrap(),
        ],
        vec![
            "x509",
            "-req",
            "-in",
            request.to_str().unwrap(),
            "-CA",
            ca.0.to_str().unwrap(),
            "-CAkey",
            ca.1.to_str().unwrap(),
            "-days",
            &days,
            "-extfile",
            extensions.to_str().unwrap(),
            "-out",
            certificate.to_str().unwrap(),
        ],
    ] {
        let (ok, said) = common::openssl(dir, &args);
        assert!(ok, "{said}");
    }
    (certificate, key)
}

/// `curl` to `url` trusting only `ca`: whether TLS and HTTP succeeded, and the answer's
/// status line and headers.
fn curl(url: &str, ca: &Path) -> (bool, String) {
    let output = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--max-time", "20"])
        .arg("--cacert")
        .arg(ca)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The body `url` answers, trusting only `ca`.
fn curl_body(url: &str, ca: &Path) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "20", "--cacert"])
        .arg(ca)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// How many days from now the served certificate ends, as the metrics say it.
fn tls_days_left(metrics: &str, ca: &Path) -> f64 {
    let text = curl_body(metrics, ca);
    let line = text
        .lines()
        .find(|line| {
            line.starts_with("sceau_certificate_expiry_timestamp_seconds{certificate=\"tls\"}")
        })
        .unwrap_or_else(|| panic!("no TLS expiry in {text}"));
    let ends: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    (ends - now) / 86_400.0
}

/// Copies `from` over the file `to` in place (as a renewal tool writes).
fn replace(from: &Path, to: &Path) {
    std::fs::write(to, std::fs::read(from).unwrap()).unwrap();
}

fn hang_up(server: &common::Server) {
    let sent = Command::new("kill")
        .args(["-HUP", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits, up to a minute, until `log` holds a line containing `needle` after its first
/// `after` bytes: the length of the log then.
fn wait_in_log(log: &Path, after: usize, needle: &str) -> usize {
    for _ in 0..6_000 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.get(after..).is_some_and(|rest| rest.contains(needle)) {
            return text.len();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!(
        "no {needle:?} in the server's log: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[test]
fn serve_speaks_tls_and_reads_its_certificate_again_on_sighup() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let first_ca = authority(dir, "first-ca");
    let second_ca = authority(dir, "second-ca");
    let first = server_certificate(dir, "first", &first_ca, 2);
    let second = server_certificate(dir, "second", &second_ca, 30);
    // The files the server is configured with; their content changes under it.
    let (certificate, key) = (dir.join("tls.pem"), dir.join("tls.key"));
    replace(&first.0, &certificate);
    replace(&first.1, &key);

    // A key that is not the certificate's stops the start, before anything is created.
    let (ok, refusal) = {
        let output = Command::new(env!("CARGO_BIN_EXE_sceau"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .env_remove("SCEAU_CONFIG")
            .env("SCEAU_TLS_CERTIFICATE", &certificate)
            .env("SCEAU_TLS_KEY", &second.1)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert!(!ok, "serve started with a key of another certificate");
    assert!(
        refusal.contains("does not match the certificate"),
        "{refusal}"
    );
    assert!(!dir.join("sceau-data").exists(), "nothing created");
    // An http:// public address beside TLS: browsers' origins would all be refused.
    let output = Command::new(env!("CARGO_BIN_EXE_sceau"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("SCEAU_CONFIG")
        .env("SCEAU_TLS_CERTIFICATE", &certificate)
        .env("SCEAU_TLS_KEY", &key)
        .env("SCEAU_PUBLIC_URL", "http://127.0.0.1:8443")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let refusal = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(refusal.contains("write https://"), "{refusal}");

    let log = dir.join("serve.log");
    let env = [
        ("SCEAU_LOG", "info"),
        ("SCEAU_TLS_CERTIFICATE", certificate.to_str().unwrap()),
        ("SCEAU_TLS_KEY", key.to_str().unwrap()),
        ("SCEAU_METRICS_LISTEN", "127.0.0.1:0"),
    ];
    let mut server = common::Server::start_logging(dir, &env, &log);
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let health = format!("{}/health", server.base);

    let (ok, answer) = curl(&health, &first_ca.0);
    assert!(ok, "{answer}");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("strict-transport-security: max-age=31536000"),
        "browsers are told to keep to HTTPS: {answer}"
    );
    // By its name too (the certificate names localhost).
    let port = server.base.rsplit(':').next().unwrap();
    let (ok, answer) = curl(&format!("https://localhost:{port}/health"), &first_ca.0);
    assert!(ok, "{answer}");
    let (ok, answer) = curl(&health, &second_ca.0);
    assert!(
        !ok,
        "a CA that did not sign the certificate is not enough: {answer}"
    );
    // Plain HTTP on the TLS port gets no answer.
    let plain = format!("http://127.0.0.1:{port}/health");
    let (ok, answer) = curl(&plain, &first_ca.0);
    assert!(!ok && !answer.contains("HTTP/1.1"), "{answer}");
    // The metrics' own address speaks TLS too.
    let metrics = server.printed_line("(no token: metrics_listen)");
    let metrics = metrics.split_whitespace().nth(1).unwrap().to_owned();
    assert!(metrics.starts_with("https://"), "{metrics}");
    let (ok, answer) = curl(&metrics, &first_ca.0);
    assert!(ok && answer.starts_with("HTTP/1.1 200"), "{answer}");
    // When the served certificate ends, for an alert weeks before: in two days.
    let left = tls_days_left(&metrics, &first_ca.0);
    assert!((1.9..=2.0).contains(&left), "{left} days");

    // A renewal half-written (the second key beside the first certificate): the reload is
    // refused and said, and the certificate in use stays.
    replace(&second.1, &key);
    hang_up(&server);
    let seen = wait_in_log(&log, 0, "TLS certificate not reloaded");
    let (ok, answer) = curl(&health, &first_ca.0);
    assert!(ok, "the first certificate is still served: {answer}");

    // The renewal complete: the next connections get the second certificate.
    replace(&second.0, &certificate);
    hang_up(&server);
    wait_in_log(&log, seen, "TLS certificate read again");
    let (ok, answer) = curl(&health, &second_ca.0);
    assert!(ok && answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (ok, answer) = curl(&health, &first_ca.0);
    assert!(!ok, "the first certificate is no longer served: {answer}");
    let left = tls_days_left(&metrics, &second_ca.0);
    assert!(
        (29.9..=30.0).contains(&left),
        "the renewal's end: {left} days"
    );

    // Neither a SIGHUP nor TLS changed how it stops.
    let status = server.terminate(std::time::Duration::from_secs(60));
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

/// Sessions started over TLS are marked Secure, whatever `secure_cookies` says.
#[test]
fn cookies_set_over_tls_are_secure() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let ca = authority(dir, "ca");
    let (certificate, key) = server_certificate(dir, "server", &ca, 2);
    let env = [
        ("SCEAU_TLS_CERTIFICATE", certificate.to_str().unwrap()),
        ("SCEAU_TLS_KEY", key.to_str().unwrap()),
        ("SCEAU_SECURE_COOKIES", "false"),
    ];
    let mut add = Command::new(env!("CARGO_BIN_EXE_sceau"))
        .args(["admin", "client-add", "--login", "alice", "--name", "Alice"])
        .args(["--phone", "+33612345678"])
        .current_dir(dir)
        .env_remove("SCEAU_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = add.stdin.take().unwrap();
        input.write_all(b"a long password\n").unwrap();
    }
    assert!(add.wait().unwrap().success());
    let server = common::Server::start(dir, &env);
    let output = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--max-time", "20"])
        .arg("--cacert")
        .arg(&ca.0)
        .args(["--data-urlencode", "login=alice"])
        .args(["--data-urlencode", "password=a long password"])
        .arg(format!("{}/login", server.base))
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{answer}");
    let cookies: Vec<&str> = answer
        .lines()
        .filter(|line| line.to_ascii_lowercase().starts_with("set-cookie:"))
        .collect();
    assert!(!cookies.is_empty(), "the sign-in sets a cookie: {answer}");
    for cookie in cookies {
        assert!(cookie.contains("; Secure"), "{cookie}");
    }
}
