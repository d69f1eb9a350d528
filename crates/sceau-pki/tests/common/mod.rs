//! What the interoperability tests share: the clock and the real `openssl` binary.

#![allow(dead_code, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

/// Now, in Unix seconds (certificates are checked by openssl against the real time).
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64
}

/// Runs `openssl args` in `directory`: whether it succeeded, and what it printed.
pub fn openssl(directory: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(directory)
        .output()
        .expect("run openssl");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}
