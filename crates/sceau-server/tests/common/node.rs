//! Runs this crate's node test scripts (`tests/js/*.mjs`): each prints "checks passed"
//! when all did. Without node the caller's test notes it and passes, except under
//! `CI=true`, where it fails.

use std::path::Path;
use std::process::Command;

/// Runs the node test script at `relative_path` (from this crate's directory).
pub fn run_in_node(relative_path: &str) {
    run_in_node_with(relative_path, &[]);
}

/// [`run_in_node`] with arguments after the script.
pub fn run_in_node_with(relative_path: &str, arguments: &[&std::ffi::OsStr]) {
    let node = std::env::var("SCEAU_NODE").unwrap_or_else(|_| "node".to_owned());
    if let Err(error) = Command::new(&node).arg("--version").output() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "node is not installed (CI=true: it must be): {error}"
        );
        eprintln!("note: node is not installed: {relative_path} was not run");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative_path);
    let output = Command::new(&node)
        .arg(&script)
        .args(arguments)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        script.display(),
        output.status
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    println!("{stdout}");
}
