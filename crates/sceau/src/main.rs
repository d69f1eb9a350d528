//! `sceau`: payments and signatures confirmed on a second channel.

/// Prints a line to standard output, as `println!` does, except when the reader has gone
/// (`sceau admin outbox | head`): the command then ends quietly with success, as other
/// command-line tools do, instead of panicking on a closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::output_failed(error);
        }
    }};
}

mod admin;
mod backup;
mod bench;
mod bench_channel;
mod bench_delivery;
mod bench_log;
mod bench_notary;
mod bench_payment;
mod bench_pki;
mod channel_test;
mod config;
mod demo;
mod envelope_extract;
mod loadgen;
mod monitor;
mod notarize;
mod verify;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::Config;
use sceau_app::clock::{Clock, SystemClock};
use sceau_app::{Service, Settings};
use sceau_server::{AppState, MerchantCache};
use sceau_store::{PostgresSettings, PostgresStore, SqliteStore, Store};
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(name = "sceau", version, about = "Payments and signatures confirmed on a second channel.", long_about = None)]
struct Cli {
    /// TOML configuration file (unknown keys are refused). SCEAU_* variables override it.
    #[arg(long, global = true, env = "SCEAU_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: the merchant and admin APIs, the clients' pages (wallet, payments,
    /// signatures), time-stamps, the transparency log and the development phone.
    Serve {
        /// Address and port to listen on, e.g. 127.0.0.1:8080 (the default) or
        /// 127.0.0.1:8081 when that port is taken (overrides `listen` in the configuration
        /// file and SCEAU_LISTEN).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// SQLite database file, or postgres:// URL (overrides the configuration).
        #[arg(long)]
        database: Option<String>,
    },
    /// Run the whole story over HTTP on a fresh database in a temporary directory,
    /// printing every step: single-use card numbers (asked for in the wallet, and sent at a
    /// merchant's request), a payment signed with a seal read on the phone, its evidence
    /// checked offline (and a forged copy refused); with --keep-serving, a bookshop to
    /// buy from in a browser.
    Demo {
        /// Keep serving after the demo, with a demo bookshop (a merchant of its own), so
        /// that the pages can be opened in a browser; Ctrl-C or SIGTERM stops and removes
        /// everything.
        #[arg(long)]
        keep_serving: bool,
        /// Run on PostgreSQL instead: a postgres:// URL; the demo works in a fresh schema
        /// of that database and drops it at the end.
        #[arg(long, value_name = "POSTGRES_URL")]
        database: Option<String>,
        /// Write the seal payment's evidence bundle here (with the root certificate and
        /// the log's key), and the certified delivery's receipt (bob.receipt.json), for
        /// `sceau verify`.
        #[arg(long, value_name = "DIRECTORY")]
        evidence_out: Option<std::path::PathBuf>,
    },
    /// Administer clients, merchants, clearing (settlement files for the banks),
    /// certificates, the outbox and the ledger (works on the database directly; the server
    /// may be running).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
        /// SQLite database file, or postgres:// URL (overrides the configuration).
        #[arg(long, global = true)]
        database: Option<String>,
    },
    /// Measure throughput and latency over real HTTP, next to a trivial endpoint of the
    /// same server: durable card authorizations, payments by seal, time-stamps, or log
    /// appends (--scenario; see BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Monitor a sceau transparency log: check each checkpoint's signature and that it
    /// extends the last one kept; alarm (exit status 1) if the log forks or shrinks.
    LogWatch(monitor::WatchArgs),
    /// Check offline, against a root certificate, a payment's evidence bundle (with the
    /// log's key: every check printed), a signature or a time-stamp: prints what was
    /// found, or why it is refused (exit status 1).
    Verify(verify::VerifyArgs),
    /// Notarize files from this terminal, as the wallet's station does in a browser: sign
    /// in, hash each file here, sign the envelope's manifest with a key made for it, send
    /// the files, type the seal sent to your phone (or `resend` for a new one), and get
    /// back each file's signature, signed PDFs, the container and the evidence bundle.
    Notarize(notarize::NotarizeArgs),
}

/// What ends a command whose standard output failed, with its exit status: it unwinds
/// (without the panic hook's message), so that what the command holds is dropped on the
/// way out (the demo's temporary directory, with its master key, is removed), and
/// `main` exits with the status.
struct OutputFailed(u8);

/// Standard output failed: a closed pipe ends the command with success, anything else
/// with an error.
fn output_failed(error: std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::panic::resume_unwind(Box::new(OutputFailed(0)));
    }
    eprintln!("error: cannot write to standard output: {error}");
    std::panic::resume_unwind(Box::new(OutputFailed(1)));
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCEAU_LOG").unwrap_or_else(|_| {
        let default = match cli.command {
            Command::Serve { .. } => "info",
            _ => "warn",
        };
        tracing_subscriber::EnvFilter::new(default)
    });
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // SCEAU_LOG_FORMAT=json: one JSON object a line, for log collectors; the request's
    // span (its id, method and route) in each line said while serving it.
    match std::env::var("SCEAU_LOG_FORMAT").as_deref() {
        Ok("json") => log
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        Ok("text") | Err(std::env::VarError::NotPresent) => log.init(),
        Ok(_) | Err(std::env::VarError::NotUnicode(_)) => {
            eprintln!("error: SCEAU_LOG_FORMAT must be text or json");
            return std::process::ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(run(cli))));
    // What is left (a blocking call stuck in a token, say) does not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    match ran {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
        Err(unwound) => match unwound.downcast::<OutputFailed>() {
            Ok(failed) => std::process::ExitCode::from(failed.0),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, database } => {
            let overrides = config::Overrides { listen, database };
            serve(Config::load(cli.config.as_deref(), overrides)?).await
        }
        Command::Demo {
            keep_serving,
            database,
            evidence_out,
        } => demo::run(keep_serving, database, evidence_out).await,
        Command::Admin { command, database } => {
            let overrides = config::Overrides {
                listen: None,
                database,
            };
            admin::run(Config::load(cli.config.as_deref(), overrides)?, command).await
        }
        Command::Bench(args) => bench::run(args).await,
        Command::LogWatch(args) => monitor::run(args).await,
        Command::Verify(args) => {
            if verify::run(args)? {
                Ok(())
            } else {
                anyhow::bail!("verification failed")
            }
        }
        Command::Notarize(args) => notarize::run(args).await,
    }
}

/// The master key: `SCEAU_MASTER_KEY` (hex) if set, else the key file (created if absent).
pub fn load_keys(config: &Config) -> anyhow::Result<sceau_crypto::Keys> {
    match std::env::var("SCEAU_MASTER_KEY")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(hex) => Ok(sceau_crypto::Keys::from_hex(&Zeroizing::new(hex))?),
        None => Ok(sceau_crypto::Keys::load_or_create(&config.master_key_file)?),
    }
}

/// The master key as [`load_keys`] finds it, never created: for commands that must work
/// with the key the data was made with (a backup, a restore).
pub fn existing_keys(config: &Config) -> anyhow::Result<sceau_crypto::Keys> {
    if let Some(hex) = std::env::var("SCEAU_MASTER_KEY")
        .ok()
        .filter(|value| !value.is_empty())
    {
        return Ok(sceau_crypto::Keys::from_hex(&Zeroizing::new(hex))?);
    }
    let text = Zeroizing::new(std::fs::read_to_string(&config.master_key_file).map_err(
        |error| {
            anyhow::anyhow!(
                "no master key at {} ({error}), nor in SCEAU_MASTER_KEY: put the master key \
                 the data was made with in place first",
                config.master_key_file.display()
            )
        },
    )?);
    Ok(sceau_crypto::Keys::from_hex(&text)?)
}

/// Shortest admin token accepted: an empty or guessable token must never open the API.
const ADMIN_TOKEN_LEN_MIN: usize = 32;

/// The admin token's hash: `SCEAU_ADMIN_TOKEN` if set, else the token file (created with a
/// fresh token if absent). Returns whether the file was just created.
fn admin_token_hash(config: &Config) -> anyhow::Result<([u8; 32], bool)> {
    let checked = |token: &str, from: &str| {
        if token.len() < ADMIN_TOKEN_LEN_MIN {
            anyhow::bail!(
                "the admin token from {from} is shorter than {ADMIN_TOKEN_LEN_MIN} characters"
            );
        }
        Ok(sceau_crypto::token_hash(token))
    };
    if let Some(token) = std::env::var("SCEAU_ADMIN_TOKEN")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return Ok((
            checked(Zeroizing::new(token).trim(), "SCEAU_ADMIN_TOKEN")?,
            false,
        ));
    }
    let path = &config.admin_token_file;
    match std::fs::read_to_string(path) {
        Ok(token) => Ok((
            checked(Zeroizing::new(token).trim(), &path.display().to_string())?,
            false,
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let token = sceau_crypto::new_token("adm_");
            write_private(path, token.as_bytes())?;
            Ok((sceau_crypto::token_hash(&token), true))
        }
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

/// The `name=value` pair of a cookie an answer sets: the one called `name`, or the first
/// when no name is given (an answer that sets one cookie).
fn cookie_set(headers: &reqwest::header::HeaderMap, name: Option<&str>) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| {
            name.is_none_or(|name| {
                pair.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('='))
            })
        })
        .map(str::to_owned)
}

fn write_private(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// Opens the store `config` names: SQLite (a file path) or PostgreSQL (a URL).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_store_and_archive(config).await?.0)
}

/// Opens the store `config` names and the notary's archive beside it: files under
/// `archive_directory` for SQLite, the database itself for PostgreSQL.
pub async fn open_store_and_archive(
    config: &Config,
) -> anyhow::Result<(Arc<dyn Store>, Arc<dyn sceau_store::Archive>)> {
    let shown = config.database_for_display();
    Ok(match config.database() {
        config::Database::Sqlite(path) => {
            let store = SqliteStore::open(path).with_context(|| format!("opening {shown}"))?;
            let archive =
                sceau_store::sqlite::SqliteArchive::open(&store, &config.archive_directory)
                    .with_context(|| format!("opening {}", config.archive_directory.display()))?;
            (Arc::new(store), Arc::new(archive))
        }
        config::Database::Postgres(url) => {
            let settings = PostgresSettings {
                lanes: config.postgres_write_lanes,
                readers: config.postgres_read_connections,
                ..PostgresSettings::default()
            };
            let store = Arc::new(
                PostgresStore::open(url, settings)
                    .await
                    .with_context(|| format!("opening {shown}"))?,
            );
            (store.clone(), store)
        }
    })
}

/// Opens the store and builds the service for `config`, with its white room (opened, or
/// created at first start, and pinned to the database).
pub async fn open_service(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Service> {
    let mut service = open_service_without_pki(config, clock).await?;
    let keys = load_keys(config)?;
    let pki = open_pki(config, &keys, service.now_s())?;
    // Every instance on one database must be one authority: the first pins its root.
    let root_sha256: [u8; 32] =
        <sha2::Sha256 as sha2::Digest>::digest(&pki.authority.root().der).into();
    let pinned = service
        .store
        .pin_pki_root(root_sha256, service.now_s())
        .await?;
    if pinned != root_sha256 {
        anyhow::bail!(
            "this database belongs to another certificate authority (root SHA-256 {}, this \
             server's is {}): every instance on one database must share keys_directory and \
             pki_directory (or the same PKCS#11 token and pki_directory)",
            hex::encode(pinned),
            hex::encode(root_sha256)
        );
    }
    service.pki = Some(pki);
    Ok(service)
}

/// The service without a white room: no certificates are issued, nothing is signed
/// (the benchmark's preparation, whose servers are the authority).
pub async fn open_service_without_pki(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Service> {
    let (store, archive) = open_store_and_archive(config).await?;
    let notary = sceau_app::notary::Notary::new(archive, config.notary_settings()?);
    let keys = load_keys(config)?;
    let settings = Settings {
        bin_range: config
            .bin_range
            .parse()
            .map_err(|e| anyhow::anyhow!("bin_range: {e}"))?,
        number_validity_s_default: config.number_validity_s,
        hold_ttl_s: config.hold_ttl_s,
        issuer_name: config.issuer_name.clone(),
        numbers_per_hour_max: config.numbers_per_hour_max,
        checkout_numbers_per_hour_max: config.checkout_numbers_per_hour_max,
        seal_digits: sceau_domain::seal::SealDigits::new(config.seal_digits)
            .map_err(|e| anyhow::anyhow!("seal_digits: {e}"))?,
        seal_validity_s: config.seal_validity_s,
        checkout_validity_s: config.checkout_validity_s,
        client_held_checkouts_max: config.client_held_checkouts_max,
        client_seals_per_hour_max: config.client_seals_per_hour_max,
        client_sms_per_hour_max: config.client_sms_per_hour_max,
        merchant_clients_per_hour_max: config.merchant_clients_per_hour_max,
        webhooks_to_private_networks: config.webhooks_to_private_networks,
        issuer_bank: config.issuer_bank()?,
        log_origin: config.log_origin.clone(),
        calls_offered: config.sms_routes.iter().any(|route| route.places_calls()),
        retention: config.retention,
    };
    Ok(Service {
        store,
        keys: Arc::new(keys),
        clock,
        settings: Arc::new(settings),
        outbox_ready: Arc::new(tokio::sync::Notify::new()),
        webhooks_ready: Arc::new(tokio::sync::Notify::new()),
        pki: None,
        receipts: Default::default(),
        notary: Some(Arc::new(notary)),
    })
}

/// The keystore the configuration names.
pub fn open_keystore(
    config: &Config,
    keys: &sceau_crypto::Keys,
) -> anyhow::Result<Arc<dyn sceau_pki::Keystore>> {
    match config.keystore.as_str() {
        "pkcs11" => {
            let (Some(module), Some(token)) = (&config.pkcs11_module, &config.pkcs11_token) else {
                anyhow::bail!("keystore = \"pkcs11\" needs pkcs11_module and pkcs11_token");
            };
            let pin = Zeroizing::new(
                std::env::var("SCEAU_PKCS11_PIN")
                    .context("keystore = \"pkcs11\": set SCEAU_PKCS11_PIN")?,
            );
            Ok(Arc::new(sceau_pki::Pkcs11Keystore::open(
                module, token, pin,
            )?))
        }
        _ => Ok(Arc::new(sceau_pki::FileKeystore::open(
            &config.keys_directory,
            keys.keystore_secret(),
        )?)),
    }
}

/// The authority and the TSA: opened, or created at first start.
pub fn open_pki(
    config: &Config,
    keys: &sceau_crypto::Keys,
    now_s: i64,
) -> anyhow::Result<Arc<sceau_pki::Pki>> {
    let keystore = open_keystore(config, keys)?;
    let policy = config
        .tsa_policy
        .parse()
        .map_err(|_| anyhow::anyhow!("tsa_policy is not an OID"))?;
    let pki = sceau_pki::Pki::open_or_create(
        keystore,
        &config.pki_directory,
        &config.issuer_name,
        policy,
        now_s,
    )
    .with_context(|| format!("the PKI in {}", config.pki_directory.display()))?;
    Ok(Arc::new(pki))
}

pub fn app_state(config: &Config, service: Service, admin_token_hash: [u8; 32]) -> AppState {
    AppState {
        service,
        admin_token_hash,
        merchant_cache: Arc::new(MerchantCache::default()),
        phone_simulator: config.phone_simulator && config.dev_phone_route(),
        secure_cookies: config.secure_cookies || config.tls(),
        public_url: config.public_url.clone(),
        time_stamper: None,
        limits: sceau_server::edge::Limits {
            file_uploads_max: config.envelope_uploads_at_once,
            ..Default::default()
        },
        uploads: Default::default(),
        channel_callbacks: Default::default(),
        routing: None,
        metrics_listen: config.metrics_listen,
        tls: None,
    }
}

/// Opens the configured routes: their secrets are read now (a route that cannot work
/// stops the start), SMPP routes start binding.
pub fn open_channels(config: &Config) -> anyhow::Result<sceau_server::dispatch::Channels> {
    use sceau_channel::config::{open_email_routes, open_sms_routes};
    let queue = sceau_server::dispatch::report_queue();
    let sms = open_sms_routes(&config.sms_routes, &queue.0)?;
    let email = open_email_routes(&config.effective_email_routes())?;
    Ok(sceau_server::dispatch::Channels::new(
        sms.routes,
        email,
        sms.callbacks,
        queue,
    ))
}

/// What `serve` says of each route, in the order they are tried.
fn describe_routes(config: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    let sms = if config.sms_routes.is_empty() {
        vec![sceau_channel::config::SmsRouteConfig::dev_phone()]
    } else {
        config.sms_routes.clone()
    };
    for (n, route) in sms.iter().enumerate() {
        lines.push(format!("  SMS route {}     {}", n + 1, route.describe()));
    }
    let email = config.effective_email_routes();
    if email.is_empty() {
        lines.push("  e-mail          none (no [[email_routes]] configured)".into());
    }
    for (n, route) in email.iter().enumerate() {
        lines.push(format!("  e-mail route {}  {}", n + 1, route.describe()));
    }
    if config.dev_phone_route() && !config.listen.ip().is_loopback() {
        tracing::warn!(
            "an SMS route is the development phone: the messages it takes reach no client's \
             phone (configure [[sms_routes]] of kind smpp or http)"
        );
    }
    lines
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listened for from the start, so that a SIGTERM once the server is up always stops
    // it cleanly.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    // Read first: a certificate and key that do not go together stop the start before
    // anything is created.
    let tls = match (&config.tls_certificate, &config.tls_key) {
        (Some(certificate), Some(key)) => {
            Some(sceau_server::tls::Tls::load(certificate, key).map_err(anyhow::Error::msg)?)
        }
        _ => None,
    };
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;
    let service = open_service(&config, Arc::new(SystemClock)).await?;
    let (token_hash, created) = admin_token_hash(&config)?;
    if created {
        say!(
            "admin token written to {} (read it from there; it is not printed)",
            config.admin_token_file.display()
        );
    }
    if config.tsa_policy == crate::config::TSA_POLICY_EXAMPLE {
        tracing::warn!(
            "tsa_policy is OpenSSL's example OID 1.2.3.4.1: set your organisation's own"
        );
    }
    let mut state = app_state(&config, service, token_hash);
    state.tls = tls.clone();
    let channels = open_channels(&config)?;
    let running = sceau_server::start(state, channels, config.listen)
        .await
        .map_err(|error| {
            if error.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "{error}: another program (perhaps another sceau) listens there; choose \
                     another address with --listen, e.g. --listen 127.0.0.1:8081 (or `listen` \
                     in the configuration file, or SCEAU_LISTEN)"
                )
            } else {
                error.into()
            }
        })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{}", running.address);
    say!("sceau listening on {base}");
    say!("  database        {}", config.database_for_display());
    say!("  client sign-in  {base}/login");
    say!("  phone simulator {base}/phone");
    say!("  API description {base}/openapi.json");
    say!("  time-stamps     {base}/tsa (root certificate: {base}/pki/root.pem)");
    say!("  health          {base}/health");
    say!("  metrics         {base}/metrics (admin token)");
    if let Some(metrics) = running.metrics_address {
        say!("  metrics         {scheme}://{metrics}/metrics (no token: metrics_listen)");
    }
    if let Some(tls) = &tls {
        say!(
            "  TLS             {} (read again on SIGHUP)",
            tls.certificate_path().display()
        );
    }
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            reload_tls(tls.as_deref());
        }
    });
    for line in describe_routes(&config) {
        say!("{line}");
    }
    let signal = stop_signal(&mut terminate).await?;
    say!("stopping on {signal}: finishing the requests and the sends in flight");
    // A second signal is the operator saying "now": the clean stop is given up (what the
    // SMSC took and sceau had not recorded is sent again once its claim runs out).
    tokio::spawn(async move {
        if let Ok(again) = stop_signal(&mut terminate).await {
            tracing::warn!("{again} again: stopping at once, without waiting");
            std::process::exit(1);
        }
    });
    running.stop().await;
    say!("stopped");
    Ok(())
}

/// SIGHUP: the TLS certificate and key are read again (a renewed certificate is served
/// to the connections after); when they cannot be used, the ones in use stay.
fn reload_tls(tls: Option<&sceau_server::tls::Tls>) {
    match tls {
        None => tracing::info!("SIGHUP: no TLS certificate to read again (tls_certificate)"),
        Some(tls) => match tls.reload() {
            Ok(()) => tracing::info!(
                certificate = %tls.certificate_path().display(),
                "SIGHUP: TLS certificate read again; new connections get it"
            ),
            Err(error) => tracing::error!(
                %error,
                "SIGHUP: TLS certificate not reloaded; the one in use stays"
            ),
        },
    }
}

/// Waits for Ctrl-C or SIGTERM (what a service manager sends): which one came.
async fn stop_signal(terminate: &mut tokio::signal::unix::Signal) -> anyhow::Result<&'static str> {
    Ok(tokio::select! {
        interrupted = tokio::signal::ctrl_c() => {
            interrupted.context("listening for Ctrl-C")?;
            "Ctrl-C"
        }
        _ = terminate.recv() => "SIGTERM",
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command, subcommand and argument of every one, with the path that names it.
    fn walk(command: &clap::Command, path: &str, found: &mut Vec<String>) {
        if command.get_about().is_none() {
            found.push(format!("{path}: no one-line help"));
        }
        for argument in command.get_arguments() {
            let id = argument.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if argument.get_help().is_none() {
                found.push(format!("{path} {id}: no description"));
            }
        }
        for subcommand in command.get_subcommands() {
            if subcommand.get_name() == "help" {
                continue;
            }
            walk(
                subcommand,
                &format!("{path} {}", subcommand.get_name()),
                found,
            );
        }
    }

    #[test]
    fn every_command_and_argument_has_a_description() {
        let command = Cli::command();
        command.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&command, "sceau", &mut missing);
        assert_eq!(missing, Vec::<String>::new());
    }

    /// The words a newcomer does not have stay out of the help.
    #[test]
    fn the_help_speaks_plain_words() {
        let mut texts = Vec::new();
        let mut stack = vec![Cli::command()];
        while let Some(mut command) = stack.pop() {
            texts.push(command.render_long_help().to_string());
            stack.extend(command.get_subcommands().cloned());
        }
        assert!(texts.len() > 20, "{}", texts.len());
        for text in texts {
            for word in ["Figure", "white room", "capability "] {
                assert!(!text.contains(word), "{word:?} in:\n{text}");
            }
        }
    }

    #[test]
    fn the_cookie_an_answer_sets_is_found_by_name_or_first() {
        let mut headers = reqwest::header::HeaderMap::new();
        for value in [
            "sceau_session_old=1; Path=/",
            "sceau_session=abc; HttpOnly; SameSite=Strict",
        ] {
            headers.append(
                reqwest::header::SET_COOKIE,
                reqwest::header::HeaderValue::from_static(value),
            );
        }
        assert_eq!(
            cookie_set(&headers, Some("sceau_session")).as_deref(),
            Some("sceau_session=abc")
        );
        assert_eq!(
            cookie_set(&headers, None).as_deref(),
            Some("sceau_session_old=1")
        );
        assert_eq!(cookie_set(&headers, Some("other")), None);
    }
}
