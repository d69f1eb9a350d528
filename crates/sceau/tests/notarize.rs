//! `sceau notarize` as a client runs it, against a real `sceau serve`: signed in with the
//! password from a file or the environment, the seal read on the development phone and
//! typed on standard input, the results checked with openssl.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, openssl};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const LOGIN: &str = "alice";
const PASSWORD: &str = "a long password";
const PHONE: &str = "+33612345678";

fn sceau(directory: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sceau"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SCEAU_")) {
        command.env_remove(name);
    }
    command.current_dir(directory).env("SCEAU_LOG", "warn");
    command
}

/// Alice, enrolled in the server's database (the admin command works beside it).
fn enrol_alice(directory: &Path) {
    let mut child = sceau(directory)
        .args([
            "admin",
            "client-add",
            "--login",
            LOGIN,
            "--name",
            "Alice Martin",
        ])
        .args(["--phone", PHONE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A name the notary refuses, or a result already in the way, stops the command before
/// it contacts the server (nothing listens at the address given).
#[test]
fn what_can_be_refused_here_is_refused_before_the_server_is_contacted() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    std::fs::write(dir.join("say \"yes\".txt"), b"x").unwrap();
    std::fs::write(dir.join("a.txt"), b"a").unwrap();
    std::fs::write(dir.join("a.txt.p7s"), b"in the way").unwrap();
    let run = |args: &[&str]| {
        sceau(dir)
            .args([
                "notarize",
                "--server",
                "http://127.0.0.1:9",
                "--login",
                LOGIN,
            ])
            .args(args)
            .env("SCEAU_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let output = run(&["say \"yes\".txt", "--seal-from-stdin"]);
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("quotation mark"), "{said}");
    assert!(!said.contains("cannot reach"), "{said}");

    let output = run(&["a.txt", "--seal-from-stdin"]);
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("a.txt.p7s already there"), "{said}");
    assert!(said.contains("nothing was sent"), "{said}");

    let output = run(&["a.txt", "a.txt", "--seal-from-stdin", "--force"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("two files are named"),
        "{}",
        text(&output)
    );

    // Without --seal-from-stdin, standard input must be a terminal to type the seal on.
    let output = run(&["a.txt", "--force"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("--seal-from-stdin"),
        "{}",
        text(&output)
    );

    let output = run(&["a.txt", "--force", "--seal-from-stdin", "--to", "bob"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("neither an e-mail address"),
        "{}",
        text(&output)
    );

    // Each file is hashed and shown before anything is sent.
    let output = run(&["a.txt", "--force", "--seal-from-stdin"]);
    let said = text(&output);
    assert!(
        said.contains(
            "a.txt  1 bytes  SHA-256 \
             ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
        ),
        "{said}"
    );
    assert!(said.contains("cannot reach"), "{said}");
}

/// A wrong password is refused as such, and neither it nor the right one is ever
/// printed.
#[test]
fn a_wrong_password_is_refused_and_no_password_is_printed() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let server = Server::start(dir, &[]);
    enrol_alice(dir);
    std::fs::write(dir.join("a.txt"), b"a").unwrap();
    let output = sceau(dir)
        .args(["notarize", "a.txt", "--seal-from-stdin", "--out", "results"])
        .args(["--server", &server.base, "--login", LOGIN])
        .env("SCEAU_PASSWORD", "not the password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("sign-in refused"), "{said}");
    assert!(!said.contains("not the password"), "{said}");

    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
    let output = sceau(dir)
        .args(["notarize", "a.txt", "--seal-from-stdin", "--out", "results"])
        .args(["--server", &server.base, "--login", LOGIN])
        .args(["--password-file", "password"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = text(&output);
    assert!(said.contains("signed in as alice"), "{said}");
    assert!(!said.contains(PASSWORD), "{said}");
}

/// The body of a GET (the tests' own steps are plain threads: a runtime for each).
fn get(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let answer = reqwest::get(url).await.unwrap();
        assert_eq!(answer.status(), 200, "{url}");
        answer.text().await.unwrap()
    })
}

/// The newest seal on Alice's phone in a text that names `files` files (bounded: a
/// minute, for a loaded machine).
fn seal_on_the_phone(base: &str, files: &str, seen_before: usize) -> String {
    for _ in 0..3000 {
        let page = get(&format!("{base}/phone?to={PHONE}"));
        let texts: Vec<&str> = page.split("<li class=\"sms\"").skip(1).collect();
        if texts.len() > seen_before
            && let Some(newest) = texts.first()
            && newest.contains(files)
            && let Some(at) = newest.find("your seal is ")
        {
            let seal = &newest[at + "your seal is ".len()..];
            return seal
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("no seal for {files} reached the phone")
}

fn texts_on_the_phone(base: &str) -> usize {
    let page = get(&format!("{base}/phone?to={PHONE}"));
    page.matches("<li class=\"sms\"").count()
}

/// A small PDF that a strict reader takes as it is: its cross-reference table written
/// with the objects' true offsets.
fn small_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        "<< /Length 0 >>\nstream\n\nendstream",
    ];
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", n + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The whole station from a terminal: two files (a PDF and a text), one destination, a
/// wrong seal (the tries left said), then the right one; every result written, each
/// signature checked by openssl against the server's root.
#[test]
fn a_client_notarizes_files_from_the_terminal() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let server = Server::start(dir, &[]);
    enrol_alice(dir);
    std::fs::write(dir.join("contrat.pdf"), small_pdf()).unwrap();
    std::fs::write(
        dir.join("note.txt"),
        b"Lease of flat 3, from 1 January 2027.\n",
    )
    .unwrap();
    let before = texts_on_the_phone(&server.base);
    let mut child = sceau(dir)
        .args(["notarize", "contrat.pdf", "note.txt", "--seal-from-stdin"])
        .args([
            "--server",
            &server.base,
            "--login",
            LOGIN,
            "--out",
            "results",
        ])
        .args(["--to", "bob@example.org,+33687654321"])
        .env("SCEAU_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let mut wait_for = |start: &str| loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no line {start:?} in:\n{seen}"))
            .unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with(start) {
            return line;
        }
    };
    wait_for("The seal was sent to your phone");
    let seal = seal_on_the_phone(&server.base, "2 files", before);
    let wrong = if seal.starts_with('0') { "1" } else { "0" }.repeat(seal.len());
    writeln!(stdin, "{wrong}").unwrap();
    let said = wait_for("That is not the seal");
    assert!(said.contains("2 tries left"), "{said}");
    writeln!(stdin, "{seal}").unwrap();
    let id = wait_for("envelope ").split(':').next().unwrap()["envelope ".len()..].to_owned();
    let output = child.wait_with_output().unwrap();
    let rest = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{seen}{rest}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !rest.contains(&seal) && !seen.contains(&seal),
        "the seal is never printed"
    );
    assert!(!rest.contains(PASSWORD) && !seen.contains(PASSWORD));

    let results = dir.join("results");
    for name in [
        "contrat.pdf.p7s".to_owned(),
        "contrat.pdf.signed.pdf".to_owned(),
        "note.txt.p7s".to_owned(),
        format!("{id}.asice"),
    ] {
        assert!(results.join(&name).is_file(), "{name}: {rest}");
    }
    let root = get(&format!("{}/pki/root.pem", server.base));
    std::fs::write(dir.join("root.pem"), root).unwrap();
    for (signature, content) in [
        ("results/contrat.pdf.p7s", "contrat.pdf"),
        ("results/note.txt.p7s", "note.txt"),
    ] {
        let (verified, said) = openssl(
            dir,
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                signature,
                "-content",
                content,
                "-CAfile",
                "root.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        );
        assert!(verified, "{signature}: {said}");
    }
    let container = std::fs::read(results.join(format!("{id}.asice"))).unwrap();
    assert!(container.starts_with(b"PK"), "the container is a ZIP");

    // The evidence bundle it downloaded, checked offline by `sceau verify` and taken
    // apart for openssl, whose commands it prints.
    let key = get(&format!("{}/log/key", server.base));
    std::fs::write(dir.join("log.key"), key).unwrap();
    let bundle = format!("results/{id}.evidence");
    let output = sceau(dir)
        .args([
            "verify",
            &bundle,
            "--root",
            "root.pem",
            "--log-key",
            "log.key",
        ])
        .args(["--extract", "parts"])
        .output()
        .unwrap();
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    for line in [
        "bundle: ok: sceau-envelope-evidence/2, canonical JSON",
        "submission: ok: SubmissionAcceptance",
        "file signature: ok: file 0 (contrat.pdf)",
        "file signature: ok: file 1 (note.txt)",
        "container: ok:",
        "bundle: VALID: every check passed",
        "openssl cms -verify -binary -inform DER -in file-1.p7s -content 'note.txt' -CAfile",
        "openssl ts -verify -token_in -in ASiCManifest.tst -data \
         ASiCManifest.signature-value.bin -CAfile",
        "openssl dgst -sha256 -verify station-key.pem -signature manifest.sig manifest.json",
    ] {
        assert!(said.contains(line), "{line:?} in:\n{said}");
    }
    // The station's signature over the manifest, as openssl checks it with the station
    // certificate's key.
    let parts_dir = dir.join("parts");
    let (ok, key) = openssl(
        &parts_dir,
        &["x509", "-in", "station.pem", "-pubkey", "-noout"],
    );
    assert!(ok, "{key}");
    std::fs::write(parts_dir.join("station-key.pem"), key.trim_start()).unwrap();
    let (verified, said) = openssl(
        &parts_dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "station-key.pem",
            "-signature",
            "manifest.sig",
            "manifest.json",
        ],
    );
    assert!(verified && said.contains("Verified OK"), "{said}");
    let parts = dir.join("parts");
    std::fs::copy(dir.join("note.txt"), parts.join("note.txt")).unwrap();
    std::fs::copy(dir.join("root.pem"), parts.join("root.pem")).unwrap();
    for (signature, content) in [
        ("file-1.p7s", "note.txt"),
        ("ASiCManifest.p7s", "ASiCManifest.xml"),
    ] {
        let (verified, said) = openssl(
            &parts,
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                signature,
                "-content",
                content,
                "-CAfile",
                "root.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        );
        assert!(verified, "{signature}: {said}");
    }
    for stem in ["file-0", "file-1", "ASiCManifest"] {
        let (verified, said) = openssl(
            &parts,
            &[
                "ts",
                "-verify",
                "-token_in",
                "-in",
                &format!("{stem}.tst"),
                "-data",
                &format!("{stem}.signature-value.bin"),
                "-CAfile",
                "root.pem",
            ],
        );
        assert!(
            verified && said.contains("Verification: OK"),
            "{stem}: {said}"
        );
    }
    for name in [
        "record-01.json",
        "station-record-01.json",
        "station.pem",
        "manifest.json",
    ] {
        assert!(parts.join(name).is_file(), "{name}");
    }
    // A changed byte is refused, and the exit status says so.
    let mut forged = std::fs::read(dir.join(&bundle)).unwrap();
    let at = forged.len() / 2;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(dir.join("forged.evidence"), forged).unwrap();
    let output = sceau(dir)
        .args([
            "verify",
            "forged.evidence",
            "--root",
            "root.pem",
            "--log-key",
            "log.key",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("bundle: REFUSED"),
        "{}",
        text(&output)
    );

    // Nothing is past its retention (ten years by default): listed, nothing deleted.
    for args in [
        &["admin", "archive-expired"][..],
        &["admin", "archive-expired", "--delete"],
    ] {
        let output = sceau(dir).args(args).output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
        assert!(
            text(&output).contains("no envelope is past its retention"),
            "{}",
            text(&output)
        );
    }
    let output = sceau(dir)
        .args(["admin", "archive-expired", "--help"])
        .output()
        .unwrap();
    assert!(
        text(&output).contains("no `sceau serve` uses the same data"),
        "{}",
        text(&output)
    );

    // The same files again: the results are there, so nothing is sent without --force.
    let output = sceau(dir)
        .args(["notarize", "contrat.pdf", "note.txt", "--seal-from-stdin"])
        .args([
            "--server",
            &server.base,
            "--login",
            LOGIN,
            "--out",
            "results",
        ])
        .env("SCEAU_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(text(&output).contains("already there"), "{}", text(&output));
}
