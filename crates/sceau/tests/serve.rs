//! `sceau serve` as an operator starts it: what it refuses to start with, and what it
//! leaves on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

/// `sceau serve` in `directory` with only `env` among the SCEAU_* variables.
fn serve(directory: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sceau"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SCEAU_")) {
        command.env_remove(name);
    }
    command
        .arg("serve")
        .args(args)
        .current_dir(directory)
        .env("SCEAU_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command` until it stops by itself: its standard error. A server that starts
/// listening instead is killed and the test fails.
fn refused(mut command: Command, what: &str) -> String {
    let mut child = command.spawn().expect("start sceau serve");
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("sceau listening on ") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: serve started ({line})");
        }
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{what}: serve exited with success");
    stderr
}

/// Issue 16 (1): the development phone shows every SMS, seals included, so it is served
/// on loopback only, whichever source sets the address: the file, the environment or
/// the command line (which used to be applied after the check).
#[test]
fn the_phone_simulator_stays_on_loopback_whatever_sets_the_address() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("sceau.toml");
    std::fs::write(&config, "listen = \"0.0.0.0:0\"\n").unwrap();
    let config = config.to_str().unwrap();
    type Source<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let sources: [Source; 4] = [
        ("the file", vec!["--config", config], vec![]),
        ("SCEAU_CONFIG", vec![], vec![("SCEAU_CONFIG", config)]),
        (
            "the environment",
            vec![],
            vec![("SCEAU_LISTEN", "0.0.0.0:0")],
        ),
        ("the command line", vec!["--listen", "0.0.0.0:0"], vec![]),
    ];
    for (what, args, env) in sources {
        let stderr = refused(serve(directory.path(), &args, &env), what);
        assert!(
            stderr.contains("phone_simulator"),
            "{what}: the refusal names the option: {stderr}"
        );
    }
    // The command line also overrides a loopback address in the file, and is checked
    // like it.
    std::fs::write(
        directory.path().join("loopback.toml"),
        "listen = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let stderr = refused(
        serve(
            directory.path(),
            &["--config", "loopback.toml", "--listen", "[::]:0"],
            &[],
        ),
        "the command line over the file",
    );
    assert!(stderr.contains("phone_simulator"), "{stderr}");
    // With the simulator off, any address is allowed (loopback here, to stay private).
    let running = common::Server::start(directory.path(), &[("SCEAU_PHONE_SIMULATOR", "false")]);
    assert_eq!(
        status(&running.base, "/phone"),
        404,
        "no /phone when the simulator is off"
    );
}

/// The status of `GET path` on `base` (`http://host:port`).
fn status(base: &str, path: &str) -> u16 {
    let address = base.strip_prefix("http://").unwrap();
    get(address, path, address).0
}

/// `GET path` on `address` naming `host`: the status and the whole answer.
fn get(address: &str, path: &str, host: &str) -> (u16, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    (status, answer)
}

/// Issue 23 (1): `metrics_listen` serves `/metrics` alone, without the token, on an
/// address of its own (on loopback only to its own names); the main address still
/// wants the token.
#[test]
fn metrics_can_have_an_address_of_their_own() {
    let directory = tempfile::tempdir().unwrap();
    let running =
        common::Server::start(directory.path(), &[("SCEAU_METRICS_LISTEN", "127.0.0.1:0")]);
    let line = running.printed_line("(no token: metrics_listen)");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let (code, answer) = get(&address, "/metrics", &address);
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("text/plain; version=0.0.4"), "{answer}");
    assert!(
        answer.contains("# TYPE sceau_outbox_pending gauge"),
        "{answer}"
    );
    let port = address.rsplit(':').next().unwrap();
    assert_eq!(
        get(&address, "/metrics", &format!("localhost:{port}")).0,
        200
    );
    assert_eq!(get(&address, "/metrics", "rebound.example").0, 421);
    assert_eq!(get(&address, "/wallet", &address).0, 404, "metrics alone");
    assert_eq!(status(&running.base, "/metrics"), 401, "the token, there");
}

/// Issue 16 (9): the database holds password hashes and sealed messages; nothing in the
/// data directory is readable by other local users, and a database an earlier version
/// left readable is closed at the next start.
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("sceau-data");
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .unwrap_or_else(|error| panic!("{name}: {error}"))
            .permissions()
            .mode()
            & 0o777
    };
    let check = |when: &str| {
        for name in ["", "keys", "pki"] {
            assert_eq!(mode(name), 0o700, "{when}: directory sceau-data/{name}");
        }
        for name in [
            "sceau.db",
            "sceau.db-wal",
            "sceau.db-shm",
            "master.key",
            "admin.token",
        ] {
            assert_eq!(mode(name), 0o600, "{when}: sceau-data/{name}");
        }
    };
    let running = common::Server::start(directory.path(), &[]);
    check("first start");
    drop(running);
    for name in ["sceau.db", "sceau.db-wal", "sceau.db-shm"] {
        let path = data.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let running = common::Server::start(directory.path(), &[]);
    check("a start after an earlier version");
    drop(running);
}

/// On a busy port, `serve` names the address it could not listen on and the option that
/// changes it, and exits with a failure.
#[test]
fn a_busy_port_is_named_with_the_option_that_changes_it() {
    let directory = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let stderr = refused(
        serve(directory.path(), &["--listen", &address], &[]),
        "a busy port",
    );
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");
    drop(taken);
}
