//! SoftHSM2 for the tests that need a PKCS#11 token.
//!
//! SoftHSM2 reads its configuration file from `SOFTHSM2_CONF` when the module is
//! initialized, once per process; a test binary does not change its own environment, so a
//! SoftHSM2 test runs in a child process of its own binary (an `inner_` test, ignored
//! unless asked for) with the variable set to a token made for it in a temporary
//! directory, and the outer test checks that it ran and passed.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const TOKEN: &str = "sceau-test";
pub const USER_PIN: &str = "4321-user";
pub const SO_PIN: &str = "8765-so";

/// A SoftHSM2 configuration and an initialized token in `directory`.
pub fn token(directory: &Path) -> PathBuf {
    let tokens = directory.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = directory.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .unwrap();
    let output = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            USER_PIN,
            "--so-pin",
            SO_PIN,
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("run softhsm2-util");
    assert!(
        output.status.success(),
        "softhsm2-util --init-token: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    conf
}

/// Whether SoftHSM2 is there; outside CI its absence is a note, in CI a failure.
pub fn installed() -> bool {
    if Path::new(MODULE).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "SoftHSM2 is not installed ({MODULE}): CI must install softhsm2"
    );
    eprintln!("note: SoftHSM2 is not installed: the PKCS#11 keystore was not tested");
    false
}

/// Runs the ignored test `inner` of this test binary in a child process with a fresh
/// token, and checks that it ran and passed.
pub fn run_inner(inner: &str) {
    if !installed() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let conf = token(directory.path());
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            inner,
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env("SCEAU_TEST_SOFTHSM2", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the SoftHSM2 run of {inner} failed:\n{stdout}\n{stderr}"
    );
}

/// Asserts that this is the child process [`run_inner`] started.
pub fn assert_inner() {
    assert!(
        std::env::var("SCEAU_TEST_SOFTHSM2").is_ok() && std::env::var("SOFTHSM2_CONF").is_ok(),
        "run through the outer test, which sets up the token"
    );
}
