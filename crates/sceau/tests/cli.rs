//! The binary as a user runs it: the demo (the README's main command) and the admin CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

#[test]
fn the_demo_runs_both_figures_and_ends_with_a_sound_ledger() {
    let output = sceau().arg("demo").output().expect("run sceau demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "Figure 5",
        "Figure 4",
        "201 Created",
        "\"already_used\"",
        "\"amount_mismatch\"",
        "sound: true",
        "Demo complete.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
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
    let (ok, out) = admin(&["merchant-add", "--name", "Shop"], "");
    assert!(ok && out.contains("API key (shown once"), "{out}");
    let (ok, out) = admin(&["client-list"], "");
    assert!(
        ok && out.contains("alice") && out.contains("12.50 EUR") && !out.contains("+33612345678"),
        "{out}"
    );
    let (ok, out) = admin(&["ledger-check"], "");
    assert!(ok && out.contains("ledger sound"), "{out}");
}
