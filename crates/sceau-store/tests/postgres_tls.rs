//! Issue 23 (3): TLS to PostgreSQL with `sslmode=verify-full`, against a PostgreSQL 15 of
//! the test's own (initdb in a temporary directory, on loopback) that accepts TLS
//! connections only, with a CA and a server certificate the test makes with openssl.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sceau_store::postgres::tls::connection_settings;
use sceau_store::{PostgresSettings, PostgresStore};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PASSWORD: &str = "tls-test-password";

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?}: {said}");
    said
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").args(args).current_dir(dir));
}

/// Where PostgreSQL's server programs are (Debian keeps them out of PATH).
fn server_programs() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL's server programs (initdb, pg_ctl) in /usr/lib/postgresql/*/bin")
}

/// Whether this process is root: PostgreSQL refuses to run as root, so its programs are
/// then run as the `postgres` user.
fn is_root() -> bool {
    run(Command::new("id").arg("-u")).trim() == "0"
}

/// A PostgreSQL server of the test's own, stopped on drop.
struct PrivatePostgres {
    _directory: tempfile::TempDir,
    home: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn command(&self, program: &str) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join(program));
            command
        } else {
            Command::new(self.bin.join(program))
        }
    }

    /// Makes and starts it with the server certificate `(certificate, key)`.
    fn start(certificate: &Path, key: &Path) -> PrivatePostgres {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        let home = directory.path().join("postgres");
        std::fs::create_dir(&home).unwrap();
        let as_postgres = is_root();
        let server = PrivatePostgres {
            home: home.clone(),
            bin: server_programs(),
            port: std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port(),
            as_postgres,
            _directory: directory,
        };
        std::fs::copy(certificate, home.join("server.pem")).unwrap();
        std::fs::copy(key, home.join("server.key")).unwrap();
        std::fs::set_permissions(
            home.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::fs::write(home.join("password"), PASSWORD).unwrap();
        if as_postgres {
            std::fs::set_permissions(
                server._directory.path(),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
            run(Command::new("chown").args(["-R", "postgres"]).arg(&home));
        }
        let data = home.join("data");
        run(server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "sceau",
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", home.join("password").display())));
        let settings = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nfsync = off\n",
            server.port,
            home.display(),
            home.join("server.pem").display(),
            home.join("server.key").display(),
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&settings);
        std::fs::write(&conf, text).unwrap();
        // TLS or nothing over TCP.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        run(server
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(home.join("server.log"))
            .args(["-w", "-t", "60", "start"]));
        server
    }

    fn url(&self, host: &str, parameters: &str) -> String {
        format!(
            "postgres://sceau:{PASSWORD}@{host}:{}/postgres{parameters}",
            self.port
        )
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.home.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// A CA and a server certificate for `localhost` only, in `dir`.
fn certificates(dir: &Path, ca: &str) -> (PathBuf, PathBuf, PathBuf) {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    openssl(
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
            &format!("/CN={ca}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            &path(&format!("{ca}.key")),
            "-out",
            &path(&format!("{ca}.pem")),
        ],
    );
    std::fs::write(
        dir.join(format!("{ca}-server.ext")),
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &path(&format!("{ca}-server.key")),
            "-out",
            &path(&format!("{ca}-server.csr")),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &path(&format!("{ca}-server.csr")),
            "-CA",
            &path(&format!("{ca}.pem")),
            "-CAkey",
            &path(&format!("{ca}.key")),
            "-days",
            "2",
            "-extfile",
            &path(&format!("{ca}-server.ext")),
            "-out",
            &path(&format!("{ca}-server.pem")),
        ],
    );
    (
        dir.join(format!("{ca}.pem")),
        dir.join(format!("{ca}-server.pem")),
        dir.join(format!("{ca}-server.key")),
    )
}

fn settings() -> PostgresSettings {
    PostgresSettings {
        lanes: 1,
        readers: 1,
        connect_timeout: Duration::from_secs(10),
    }
}

async fn refused(url: &str) -> String {
    match PostgresStore::open(url, settings()).await {
        Ok(_) => panic!("{url}: opened"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_connects_over_tls_only_to_the_server_its_ca_vouches_for() {
    // Where PostgreSQL is tested at all (CI, or a developer who set the URL).
    if sceau_store::postgres::scratch::test_database_url().is_none() {
        return;
    }
    let files = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = certificates(files.path(), "ca");
    let (other_ca, ..) = certificates(files.path(), "other-ca");
    let server = tokio::task::spawn_blocking(move || PrivatePostgres::start(&certificate, &key))
        .await
        .unwrap();
    let verify = |root: &Path| format!("?sslmode=verify-full&sslrootcert={}", root.display());

    // Its CA and its name: the store opens (and migrates) over TLS.
    let url = server.url("localhost", &verify(&ca));
    let store = PostgresStore::open(&url, settings()).await.unwrap();
    drop(store);
    let (config, tls) = connection_settings(&url).unwrap();
    let (client, connection) = config.connect(tls).await.unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the connection is encrypted");
    assert!(row.get::<_, String>(1).starts_with("TLSv1."));

    // Another CA: refused.
    let error = refused(&server.url("localhost", &verify(&other_ca))).await;
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    // The right CA, but a name the certificate does not bear (its address): refused.
    let error = refused(&server.url("127.0.0.1", &verify(&ca))).await;
    assert!(
        error.contains("not valid for name \"127.0.0.1\""),
        "{error}"
    );
    // Without TLS: this server takes none (and sceau would not have asked for it).
    let error = refused(&server.url("localhost", "")).await;
    assert!(error.contains("no encryption"), "{error}");
    // A mode that would take an unchecked server: refused before connecting.
    let error = refused(&server.url("localhost", "?sslmode=require")).await;
    assert!(error.contains("verify-full"), "{error}");
}
