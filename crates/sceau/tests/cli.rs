//! The binary as a user runs it: the demo (the README's main command) and the admin CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn sceau() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sceau"));
    command
        .env_remove("SCEAU_MASTER_KEY")
        .env_remove("SCEAU_ADMIN_TOKEN")
        .env("SCEAU_LOG", "warn");
    command
}

/// Issue 6 end to end with the binary: the demo pays with a seal and downloads the
/// payment's bundle; `sceau verify` checks it offline, openssl agrees on the signature
/// and the time-stamp (the README's commands), and a changed byte is refused.
#[test]
fn the_demo_runs_both_figures_and_ends_with_a_sound_ledger() {
    let evidence = tempfile::tempdir().unwrap();
    let output = sceau()
        .arg("demo")
        .arg("--evidence-out")
        .arg(evidence.path())
        .output()
        .expect("run sceau demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "A single-use number, asked for by the client",
        "A single-use number, asked for by the merchant",
        "A payment by seal",
        "all its parts (9 of 9)",
        "201 Created",
        "\"already_used\"",
        "\"amount_mismatch\"",
        "sound: true",
        "bundle: VALID",
        "signature: FAILED",
        "log entry: FAILED",
        "Demo complete.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    for word in ["Figure", "white room", "zones 21"] {
        assert!(!stdout.contains(word), "{word:?} in:\n{stdout}");
    }

    let directory = evidence.path();
    // The bundle is named after its checkout, as the README downloads it.
    let bundle_name = the_bundle_in(directory);
    assert!(
        stdout.contains(&format!("{bundle_name}, root.pem and log.key written to")),
        "{stdout}"
    );
    let verify = |bundle: &str| {
        let output = sceau()
            .args([
                "verify",
                bundle,
                "--root",
                "root.pem",
                "--log-key",
                "log.key",
            ])
            .args(["--extract", "parts"])
            .current_dir(directory)
            .output()
            .expect("run sceau verify");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, said) = verify(&bundle_name);
    assert_eq!(code, Some(0), "{said}");
    for part in [
        "bundle: ok",
        "record: ok",
        "signature: ok",
        "time-stamp: ok",
        "certificates: ok",
        "checkpoint: ok",
        "log entry: ok",
        "bundle: VALID",
    ] {
        assert!(said.contains(part), "{part:?} not in {said}");
    }
    // The README's openssl commands, on the extracted parts.
    let parts = directory.join("parts");
    let (verified, text) = common::openssl(
        &parts,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signature.p7s",
            "-content",
            "record.json",
            "-CAfile",
            "../root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(
        verified && text.contains("Verification successful"),
        "{text}"
    );
    let (verified, text) = common::openssl(
        &parts,
        &[
            "ts",
            "-verify",
            "-token_in",
            "-in",
            "time-stamp.tst",
            "-data",
            "signature-value.bin",
            "-CAfile",
            "../root.pem",
        ],
    );
    assert!(verified && text.contains("Verification: OK"), "{text}");
    // One changed byte in the checkpoint's signature line: exit 1, and where.
    let bundle = std::fs::read_to_string(directory.join(&bundle_name)).unwrap();
    // The last "sceau-log " opens the signature line's base64 (key id and signature).
    let at = bundle
        .rfind("sceau-log ")
        .expect("the checkpoint's signature line")
        + 20;
    let mut tampered = bundle.into_bytes();
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(directory.join("tampered.json"), &tampered).unwrap();
    let (code, said) = verify("tampered.json");
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("checkpoint: FAILED"), "{said}");
    assert!(said.contains("bundle: REFUSED"), "{said}");
    forgeries_cannot_rewrite_the_report(directory);
    the_delivery_receipt_verifies(directory, &stdout);
}

/// The demo's certified delivery: Bob's receipt, checked by `sceau verify` with the root
/// and the log's key alone; the answer's statement changed, refused by name.
fn the_delivery_receipt_verifies(directory: &std::path::Path, stdout: &str) {
    for expected in [
        "Certified delivery: Alice notarizes a contract and delivers it to Bob",
        "✉ e-mail to bob@example.org",
        "to open the certified delivery from Alice Martin (1 file)",
        "{\"state\":\"accepted\"}",
        "✓ time-stamp",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let verify = |receipt: &str| {
        let output = sceau()
            .args([
                "verify",
                receipt,
                "--root",
                "root.pem",
                "--log-key",
                "log.key",
            ])
            .current_dir(directory)
            .output()
            .expect("run sceau verify");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, said) = verify("bob.receipt.json");
    assert_eq!(code, Some(0), "{said}");
    for part in [
        "recipient: ok",
        "events: ok",
        "withdrawal certificate: ok",
        "answer: ok",
        "content: ok",
        "time-stamp: ok",
        "ConsignmentAcceptance",
    ] {
        assert!(said.contains(part), "{part:?} not in {said}");
    }
    let receipt = std::fs::read_to_string(directory.join("bob.receipt.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    let statement = value["answer"]["statement"]
        .as_str()
        .unwrap()
        .replace("accept", "reject");
    value["answer"]["statement"] = serde_json::Value::String(statement);
    std::fs::write(
        directory.join("tampered.receipt.json"),
        sceau_log::canonical(&value).unwrap(),
    )
    .unwrap();
    let (code, said) = verify("tampered.receipt.json");
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("answer: FAILED"), "{said}");
}

/// A forged record whose merchant name would rewrite the report on a terminal: a line
/// "bundle: VALID" of its own, then ESC[8m (conceal) to hide the FAILED lines after it;
/// then a bundle with a field so named. Both refused, and nothing of them acts on the
/// terminal.
/// The name of the one `co_….evidence.json` the demo wrote in `directory`.
fn the_bundle_in(directory: &std::path::Path) -> String {
    let names: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("co_") && name.ends_with(".evidence.json"))
        .collect();
    assert_eq!(names.len(), 1, "one bundle expected: {names:?}");
    names[0].clone()
}

fn forgeries_cannot_rewrite_the_report(directory: &std::path::Path) {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    const LIE: &str = "Librairie Dupont)\nbundle: VALID: every check passed\n\u{1b}[8m\u{9b}8m";
    // Runs `sceau verify` on `bundle` and checks that its report is truthful: exit status
    // 1, no raw control, one line per check and the true verdict last. Its stdout.
    let verify = |name: &str, bundle: &serde_json::Value| -> String {
        std::fs::write(directory.join(name), sceau_log::canonical(bundle).unwrap()).unwrap();
        let output = sceau()
            .args(["verify", name, "--root", "root.pem", "--log-key", "log.key"])
            .args(["--extract", "forged-parts"])
            .current_dir(directory)
            .output()
            .expect("run sceau verify");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}: {stdout}{stderr}");
        for text in [&stdout, &stderr] {
            assert!(
                !text.contains(['\u{1b}', '\u{9b}', '\r']),
                "{name}: a raw control reached the terminal: {text:?}"
            );
        }
        assert!(stderr.lines().count() <= 1, "{name}: {stderr}");
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|line| *line != "parts written to forged-parts")
            .collect();
        let (verdict, checks) = lines.split_last().unwrap();
        assert_eq!(
            *verdict, "bundle: REFUSED: a check failed (see above)",
            "{name}"
        );
        let parts = [
            "bundle",
            "record",
            "signature",
            "time-stamp",
            "certificates",
            "checkpoint",
            "log entry",
        ];
        for line in checks {
            assert!(
                parts.iter().any(|part| {
                    line.starts_with(&format!("{part}: ok: "))
                        || line.starts_with(&format!("{part}: FAILED: "))
                }),
                "{name}: a line of no check: {line:?} in\n{stdout}"
            );
        }
        stdout
    };
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.join(the_bundle_in(directory))).unwrap())
            .unwrap();
    let record = STANDARD.decode(bundle["record"].as_str().unwrap()).unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    record["checkout"]["merchant_name"] = LIE.into();
    let mut forged = bundle.clone();
    forged["record"] = STANDARD
        .encode(sceau_log::canonical(&record).unwrap())
        .into();
    let said = verify("forged-record.json", &forged);
    // The signature fails, and nothing of the record is reported as found.
    assert!(said.contains("signature: FAILED: "), "{said}");
    assert!(said.contains("log entry: FAILED: "), "{said}");
    assert!(!said.contains("log entry: ok"), "{said}");
    assert!(
        !said.contains("record: ") && !said.contains("Dupont"),
        "{said}"
    );
    let mut forged = bundle;
    forged[LIE] = "".into();
    let said = verify("extra-field.json", &forged);
    // The field is named, its controls shown as escapes.
    assert!(
        said.contains(r"\u{a}bundle: VALID: every check passed\u{a}\u{1b}[8m\u{9b}8m"),
        "{said}"
    );
}

#[test]
fn admin_commands_enrol_list_and_check() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("sceau.db");
    let admin = |args: &[&str], input: &str| {
        let mut child = sceau()
            .arg("admin")
            .args(args)
            .arg("--database")
            .arg(&database)
            .current_dir(directory.path())
            .env("SCEAU_MASTER_KEY_FILE", directory.path().join("master.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, out) = admin(
        &[
            "client-add",
            "--login",
            "alice",
            "--name",
            "Alice",
            "--phone",
            "+33612345678",
            "--opening-balance",
            "12.50",
        ],
        "a long password\n",
    );
    assert!(ok, "{out}");
    let (ok, out) = admin(
        &[
            "client-add",
            "--login",
            "alice",
            "--name",
            "Alice",
            "--phone",
            "+33612345679",
        ],
        "another password\n",
    );
    assert!(!ok && out.contains("login_taken"), "{out}");
    let (ok, out) = admin(
        &[
            "client-add",
            "--login",
            "bob",
            "--name",
            "Bob",
            "--phone",
            "0612",
        ],
        "another password\n",
    );
    assert!(!ok && out.contains("invalid_phone"), "{out}");
    // Nothing on standard input (none at all, or an empty line) is said as such, with its
    // own code; a short password is still a weak one.
    let bob = [
        "client-add",
        "--login",
        "bob",
        "--name",
        "Bob",
        "--phone",
        "+33612345670",
    ];
    for input in ["", "\n", "\r\n"] {
        let (ok, out) = admin(&bob, input);
        assert!(!ok, "{input:?}: {out}");
        assert!(
            out.contains("error: no_password: no password on standard input"),
            "{input:?}: {out}"
        );
        assert!(!out.contains("weak_password"), "{input:?}: {out}");
    }
    let (ok, out) = admin(&bob, "short\n");
    assert!(!ok && out.contains("weak_password"), "{out}");
    let (ok, out) = admin(&["merchant-add", "--name", "Shop"], "");
    assert!(ok && out.contains("API key (shown once"), "{out}");
    let secret_in = |out: &str| {
        out.split_whitespace()
            .find(|word| word.starts_with("whsec_"))
            .map(str::to_owned)
    };
    let enrolled = secret_in(&out).expect("the webhook secret at enrolment");
    // Operators rotate a merchant's webhook secret as the merchant can.
    let (ok, out) = admin(&["merchant-webhook-secret", "1", "--overlap-s", "3600"], "");
    assert!(
        ok && out.contains("the previous one also signs until"),
        "{out}"
    );
    let rotated = secret_in(&out).expect("the new secret");
    assert_ne!(rotated, enrolled);
    let (ok, out) = admin(&["merchant-webhook-secret", "1", "--overlap-s", "0"], "");
    assert!(ok && out.contains("the previous one has ended"), "{out}");
    assert_ne!(secret_in(&out).unwrap(), rotated);
    let (ok, out) = admin(
        &["merchant-webhook-secret", "1", "--overlap-s", "604801"],
        "",
    );
    assert!(
        !ok && out.contains("overlap_s must be 0 to 604800"),
        "{out}"
    );
    let (ok, out) = admin(&["merchant-webhook-secret", "9", "--overlap-s", "0"], "");
    assert!(!ok && out.contains("no merchant 9"), "{out}");
    // The console's operators: made here, their password never on the command line.
    let (ok, out) = admin(&["operator-add", "--login", "ops"], "a long password\n");
    assert!(ok && out.contains("operator 1 added: ops"), "{out}");
    let (ok, out) = admin(&["operator-add", "--login", "ops"], "another password\n");
    assert!(!ok && out.contains("login_taken"), "{out}");
    let (ok, out) = admin(
        &["operator-add", "--login", "Ops Team"],
        "a long password\n",
    );
    assert!(!ok && out.contains("an operator's login is"), "{out}");
    let (ok, out) = admin(&["operator-add", "--login", "night"], "short\n");
    assert!(!ok && out.contains("weak_password"), "{out}");
    let (ok, out) = admin(
        &["operator-password", "--login", "ops"],
        "a new long password\n",
    );
    assert!(ok && out.contains("is not paused"), "{out}");
    let (ok, out) = admin(&["operator-disable", "--login", "ops"], "");
    assert!(ok && out.contains("operator ops disabled"), "{out}");
    // Who has the console, never with a password's hash.
    let (ok, out) = admin(&["operator-list"], "");
    let line = out
        .lines()
        .find(|line| line.contains(" ops "))
        .unwrap_or_default();
    assert!(ok && line.contains("disabled"), "{out}");
    assert!(!out.contains("argon2"), "{out}");
    let (ok, out) = admin(&["operator-disable", "--login", "ops", "--enable"], "");
    assert!(ok && out.contains("operator ops enabled"), "{out}");
    let (ok, out) = admin(&["operator-list"], "");
    let line = out
        .lines()
        .find(|line| line.contains(" ops "))
        .unwrap_or_default();
    assert!(ok && line.contains("active"), "{out}");
    let (ok, out) = admin(&["operator-disable", "--login", "nobody"], "");
    assert!(!ok && out.contains("no operator"), "{out}");
    let (ok, out) = admin(
        &["operator-password", "--login", "nobody"],
        "a new long password\n",
    );
    assert!(!ok && out.contains("no operator \"nobody\""), "{out}");
    let (ok, out) = admin(&["client-list"], "");
    assert!(
        ok && out.contains("alice") && out.contains("12.50 EUR") && !out.contains("+33612345678"),
        "{out}"
    );
    // Calls: only where a route places calls (none here); back to SMS always.
    let (ok, out) = admin(&["client-calls", "1", "on"], "");
    assert!(
        !ok && out.contains("no configured SMS route places calls"),
        "{out}"
    );
    let (ok, out) = admin(&["client-calls", "1", "off"], "");
    assert!(
        ok && out.contains("client 1: seals, numbers and codes by SMS"),
        "{out}"
    );
    let (ok, out) = admin(&["client-calls", "999", "off"], "");
    assert!(!ok && out.contains("no client 999"), "{out}");
    let (ok, out) = admin(&["client-list"], "");
    assert!(
        ok && out.contains("phone by") && out.contains("  sms"),
        "{out}"
    );
    let (ok, out) = admin(&["ledger-check"], "");
    assert!(ok && out.contains("ledger sound"), "{out}");

    // The white room: Alice got a certificate at enrolment, her phone sealed in it.
    let (ok, out) = admin(&["certificate-list", "--client", "1"], "");
    assert!(ok && out.contains("holder"), "{out}");
    let serial = out
        .lines()
        .find(|line| line.contains("holder"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (ok, out) = admin(&["certificate-reveal-phone", &serial], "");
    assert!(
        ok && out.lines().any(|line| line == "+33612345678"),
        "{out}"
    );
    let pem = directory.path().join("alice.pem");
    let (ok, out) = admin(
        &["certificate-show", &serial, "--out", pem.to_str().unwrap()],
        "",
    );
    assert!(ok, "{out}");
    let text = std::fs::read_to_string(&pem).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{text}");
    assert!(!text.contains("+33612345678"));
    let (ok, out) = admin(&["certificate-pseudonym", "--client", "1"], "");
    assert!(ok && out.contains(&format!("naming {serial}")), "{out}");
    let (ok, out) = admin(&["certificate-revoke", &serial, "--reason", "nonsense"], "");
    assert!(!ok && out.contains("unknown revocation reason"), "{out}");
    let (ok, out) = admin(
        &["certificate-revoke", &serial, "--reason", "key-compromise"],
        "",
    );
    assert!(ok && out.contains("revoked at"), "{out}");
    // A new certificate for the client, the phone sealed anew.
    let (ok, out) = admin(&["certificate-issue", "--client", "1"], "");
    assert!(ok && out.contains("issued to client 1"), "{out}");
    let renewed = out
        .lines()
        .find(|line| line.starts_with("certificate "))
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap()
        .to_owned();
    assert_ne!(renewed, serial);
    let (ok, out) = admin(&["certificate-reveal-phone", &renewed], "");
    assert!(
        ok && out.lines().any(|line| line == "+33612345678"),
        "{out}"
    );
    let crl = directory.path().join("issuing.crl");
    let (ok, out) = admin(&["crl", "--out", crl.to_str().unwrap()], "");
    assert!(ok, "{out}");
    let printed = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&crl)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.contains(&serial.to_uppercase()), "{printed}");
    // The keys and the PKI live in the working directory's sceau-data.
    assert!(directory.path().join("sceau-data/pki/root.der").exists());
    // Another authority (other directories) on the same database: refused.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = sceau()
        .args(["admin", "client-list", "--database"])
        .arg(&database)
        .current_dir(elsewhere.path())
        .env("SCEAU_MASTER_KEY_FILE", directory.path().join("master.key"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("another certificate authority"),
        "{stderr}"
    );
}

/// Runs `openssl args` in `directory`, which must succeed.
fn openssl(directory: &std::path::Path, args: &[&str]) {
    let (succeeded, text) = common::openssl(directory, args);
    assert!(succeeded, "openssl {args:?}: {text}");
}

/// `sceau verify` on a signature made by openssl with its own authority: the report
/// names the signer; a changed byte of the content is refused with its reason and exit
/// status 1.
#[test]
fn verify_checks_a_signature_offline() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "root.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=Test Root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "root.pem",
        ],
    );
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "signer.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "signer.key",
            "-subj",
            "/CN=Carol Signer",
            "-out",
            "signer.csr",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "keyUsage=critical,digitalSignature\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "signer.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-out",
            "signer.pem",
        ],
    );
    std::fs::write(dir.join("data"), b"signed text").unwrap();
    openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "data",
            "-signer",
            "signer.pem",
            "-inkey",
            "signer.key",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-out",
            "sig.p7s",
        ],
    );
    let verify = |content: &str| {
        sceau()
            .args([
                "verify",
                "--root",
                "root.pem",
                "--signature",
                "sig.p7s",
                "--content",
                content,
            ])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let output = verify("data");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("signature: valid") && stdout.contains("signer: CN=Carol Signer"),
        "{stdout}"
    );
    assert!(stdout.contains("signature time-stamp: none"), "{stdout}");
    std::fs::write(dir.join("changed"), b"signed texT").unwrap();
    let output = verify("changed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("REFUSED") && stdout.contains("content-mismatch"),
        "{stdout}"
    );
    // Asking for a time-stamp the signature does not carry: refused.
    let output = sceau()
        .args([
            "verify",
            "--root",
            "root.pem",
            "--signature",
            "sig.p7s",
            "--content",
            "data",
            "--require-time-stamp",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    // The signer's name is its certificate's, which anyone can craft: a right-to-left
    // override and a C1 control (CSI) in it are printed as escapes.
    openssl(
        dir,
        &[
            "req",
            "-utf8",
            "-new",
            "-key",
            "signer.key",
            "-subj",
            "/CN=Carol\u{202e}\u{9b}8m Signer",
            "-out",
            "crafted.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "crafted.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-out",
            "crafted.pem",
        ],
    );
    openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "data",
            "-signer",
            "crafted.pem",
            "-inkey",
            "signer.key",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-out",
            "crafted.p7s",
        ],
    );
    let output = sceau()
        .args(["verify", "--root", "root.pem", "--signature", "crafted.p7s"])
        .args(["--content", "data"])
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(r"signer: CN=Carol\u{202e}\u{9b}8m Signer"),
        "{stdout:?}"
    );
}

/// The lines `sceau demo` prints, read on a thread of their own as they come.
fn lines_of(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for the line that starts with `start` (bounded: the demo has long finished by
/// then, or failed): what follows `start`. Every line read is kept in `seen`.
fn wait_for_line(
    lines: &std::sync::mpsc::Receiver<String>,
    start: &str,
    seen: &mut String,
) -> String {
    loop {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(600))
            .unwrap_or_else(|_| panic!("no line {start:?} in:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.trim_start().strip_prefix(start) {
            return rest.to_owned();
        }
    }
}

/// `sceau demo --keep-serving` serves a bookshop, a merchant of its own whose pages list
/// its books and through which Alice pays with a seal as before; SIGTERM then stops it
/// cleanly and removes its temporary directory (which holds a master key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_a_bookshop_until_sigterm_then_removes_its_directory() {
    let temporary = tempfile::tempdir().unwrap();
    let child = sceau()
        .args(["demo", "--keep-serving"])
        .env("TMPDIR", temporary.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sceau demo");
    // A failed assertion must not leave the demo serving.
    let mut child = KillOnDrop(child);
    let child = &mut child.0;
    let lines = lines_of(child.stdout.take().unwrap());
    let mut seen = String::new();
    let server = wait_for_line(&lines, "sceau demo: server on ", &mut seen);
    let (base, database) = server.split_once(", fresh database ").unwrap();
    let directory = std::path::Path::new(database).parent().unwrap().to_owned();
    assert!(directory.starts_with(temporary.path()), "{server}");
    assert!(directory.join("master.key").exists(), "{server}");
    let shop = wait_for_line(
        &lines,
        "the bookshop (pick books, then \"Pay with sceau\"): ",
        &mut seen,
    );
    assert!(
        seen.contains("\"Librairie Dupont\" enrolled")
            && seen.contains("\"Librairie des Quais\" enrolled"),
        "the shop is a merchant of its own:\n{seen}"
    );

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(&shop).send().await.unwrap().text().await.unwrap();
    for book in &sceau_shop::CATALOGUE {
        let title = book.title.replace('\'', "&#39;");
        assert!(
            page.contains(&title) && page.contains(book.author),
            "{book:?}: {page}"
        );
    }
    paid_at_the_bookshop(&http, base, &shop).await;

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    // Bounded: a demo that does not stop fails the test rather than hang it.
    let mut status = None;
    for _ in 0..600 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = status.expect("the demo did not stop within a minute of SIGTERM");
    while let Ok(line) = lines.recv() {
        seen.push_str(&line);
        seen.push('\n');
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}:\n{seen}\n{stderr}");
    assert!(seen.contains("SIGTERM: stopping"), "{seen}");
    assert!(!directory.exists(), "{} left behind", directory.display());
    assert_eq!(std::fs::read_dir(temporary.path()).unwrap().count(), 0);
}

/// Alice buys two books at the shop at `shop`: sceau's payment page, sign-in, "validate",
/// the seal read on the phone page (its address typed with a plain `+`), typed back; the
/// shop then says the order is paid.
async fn paid_at_the_bookshop(http: &reqwest::Client, base: &str, shop: &str) {
    let created = http
        .post(format!("{shop}/checkout"))
        .form(&[("cart", "les-miserables,l-etranger")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let pay = created.headers()["location"].to_str().unwrap().to_owned();
    let id = pay.rsplit('/').next().unwrap().to_owned();
    assert!(pay.starts_with(&format!("{base}/pay/co_")), "{pay}");
    let signed_in = http
        .post(format!("{pay}/sign-in"))
        .form(&[("login", "alice"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let check = http
        .get(&pay)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let check = check.text().await.unwrap();
    for shown in [
        "Librairie des Quais",
        "32.40",
        "Les Misérables, L&#39;Étranger",
    ] {
        assert!(check.contains(shown), "{shown:?} not on the check: {check}");
    }
    let wallet = http.get(format!("{base}/wallet")).header("cookie", &cookie);
    let wallet = wallet.send().await.unwrap().text().await.unwrap();
    let at = wallet.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = wallet[at..at + 64].to_owned();
    let post = |action: &str, fields: Vec<(&'static str, String)>| {
        let mut form = vec![("csrf", csrf.clone())];
        form.extend(fields);
        http.post(format!("{pay}/{action}"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    assert_eq!(post("validate", vec![]).await.unwrap().status(), 303);
    let seal = seal_on_the_phone(http, base, "32.40 EUR").await;
    assert_eq!(
        post("seal", vec![("seal", seal)]).await.unwrap().status(),
        303
    );
    let back = http
        .get(format!("{shop}/return?checkout={id}"))
        .send()
        .await
        .unwrap();
    let back = back.text().await.unwrap();
    assert!(back.contains("is paid"), "{back}");
}

/// The seal of the newest text to Alice's phone once it is about `amount` (bounded: a
/// minute, for a loaded machine).
async fn seal_on_the_phone(http: &reqwest::Client, base: &str, amount: &str) -> String {
    for _ in 0..3000 {
        let page = http
            .get(format!("{base}/phone?to=+33612345678"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        let newest = page.split("<li class=\"sms\"").nth(1).unwrap_or_default();
        if let Some(at) = newest.find("your seal is ")
            && newest.contains(amount)
        {
            let digits = &newest[at + "your seal is ".len()..];
            return digits.chars().take_while(char::is_ascii_digit).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no seal for {amount} reached the phone")
}

/// `sceau admin … | head -1`: a reader that goes away ends the command quietly, with
/// success, instead of a panic on the closed pipe.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("sceau.db");
    let admin = |args: &[&str], stdout: Stdio| {
        let mut child = sceau()
            .arg("admin")
            .args(args)
            .arg("--database")
            .arg(&database)
            .current_dir(directory.path())
            .env("SCEAU_MASTER_KEY_FILE", directory.path().join("master.key"))
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long password\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let enrolled = admin(
        &[
            "client-add",
            "--login",
            "alice",
            "--name",
            "Alice",
            "--phone",
            "+33612345678",
        ],
        Stdio::piped(),
    );
    assert!(enrolled.status.success(), "{enrolled:?}");
    // The reading end is closed before the command starts: its first line already fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let listed = admin(&["client-list"], Stdio::from(writer));
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(listed.status.success(), "{:?}: {stderr}", listed.status);
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The demo, its output closed from its first line: it still removes its temporary
    // directory (which holds a master key) on the way out.
    let temporary = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let demo = sceau()
        .arg("demo")
        .env("TMPDIR", temporary.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert!(demo.status.success(), "{:?}: {stderr}", demo.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read_dir(temporary.path()).unwrap().count(), 0);
}

/// A child process killed when the test ends, whichever way it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
