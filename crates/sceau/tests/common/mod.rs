//! What the tests of the binary share: a real `sceau serve` in a directory of its own.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `sceau serve` in `directory` (the embedded default: SQLite and the encrypted key
/// directory in its sceau-data), killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    /// What it printed on standard output, line by line, as it comes.
    printed: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts it with only `env` among the SCEAU_* variables (and a quiet log), and
    /// waits for its `sceau listening on …` line.
    pub fn start(directory: &Path, env: &[(&str, &str)]) -> Server {
        Server::spawn(directory, env, Stdio::null())
    }

    /// As [`Server::start`], its standard error (the log) written to `log`.
    pub fn start_logging(directory: &Path, env: &[(&str, &str)], log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("create the log file");
        Server::spawn(directory, env, Stdio::from(file))
    }

    fn spawn(directory: &Path, env: &[(&str, &str)], stderr: Stdio) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sceau"));
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SCEAU_")) {
            command.env_remove(name);
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(directory)
            .env("SCEAU_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start sceau serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("sceau serve stopped before listening")
                .unwrap();
            if let Some(base) = line.strip_prefix("sceau listening on ") {
                break base.trim().to_owned();
            }
        };
        // Keep reading, so that the server never blocks on a full pipe.
        let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&printed);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Server {
            child,
            base,
            printed,
        }
    }
}

impl Server {
    /// The first line printed after `sceau listening on …` that contains `needle`
    /// (waited for, up to a minute).
    pub fn printed_line(&self, needle: &str) -> String {
        for _ in 0..6_000 {
            if let Some(line) = self
                .printed
                .lock()
                .unwrap()
                .iter()
                .find(|line| line.contains(needle))
            {
                return line.clone();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("sceau serve printed no line with {needle:?}");
    }

    /// The server's process id (to send it signals).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the server to exit, at most `within` (then it is
    /// killed and the test fails): how it exited.
    pub fn terminate(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for sceau serve") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sceau serve still running {within:?} after SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
