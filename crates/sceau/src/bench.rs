//! `sceau bench`: durable payments per second over real HTTP.
//!
//! Prepares a fresh database — a SQLite file, or a scratch schema in a PostgreSQL database
//! with `--database-url` — (merchants, clients, one multi-use number per connection),
//! starts the real server as one or more child processes (`sceau serve`), and drives it
//! with the in-tree load generator. Each run measures the trivial `/health` endpoint first
//! (the ceiling of HTTP on this machine, measured in the same run), then the scenarios:
//!
//! - `authorizations`: `POST /v1/authorizations` with a distinct Idempotency-Key per
//!   request, closed loop;
//! - `seal`: payments by seal. Every client signs in once (Argon2id is slow by design);
//!   then, per run, checkouts are prepared over HTTP as a merchant and a browser would
//!   (create, hold, validate, the seal read on the development phone) and timed; then
//!   every prepared seal is typed back once (`POST /pay/{id}/seal`), closed loop. Every
//!   answer must be `303`, a sample of the checkouts must read back paid through the
//!   merchant API, and the admin API must find the ledger sound.
//!
//! Then each scenario in open loop at half its measured peak, for the latency target.
//! Reports medians over `--runs`, and the server's peak RSS. Every payment is durable
//! (WAL, synchronous=FULL) before it is answered; the ledger is checked after the server
//! stops.

use crate::config::Config;
use crate::loadgen::{self, LoadReport, LoadSpec, RequestSource};
use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, COOKIE};
use sceau_app::service::{ClientEnrolment, NumberRequest};
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_server::api::pages::SESSION_COOKIE;
use sceau_store::Origin;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The password of every bench client.
const BENCH_PASSWORD: &str = "bench password";
/// The SoftHSM2 token of `--keystore pkcs11` (made for the run, thrown away with it).
const BENCH_TOKEN: &str = "sceau-bench";
const BENCH_TOKEN_PIN: &str = "bench-pin-1234";
const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Seconds `openssl speed` and the in-process signing loops run.
const SIGNING_SECONDS: u64 = 3;
/// The per-client limits on held checkouts and seals sent per hour, lifted.
const BENCH_LIMIT_MAX: &str = "100000";
/// The per-client budget of messages per hour, lifted above the seals'.
const BENCH_MESSAGES_MAX: &str = "1000000";
/// Texts the development phone page shows (the newest first).
const PHONE_PAGE_LEN: usize = 50;
/// Checkouts a payer validates before it reads its phone: all their seals must still be
/// on the page when it does.
const SEAL_ROUND_LEN_MAX: usize = 40;
const _: () = assert!(SEAL_ROUND_LEN_MAX < PHONE_PAGE_LEN);
/// How long a payer waits for the seals of one round to reach its phone.
const PHONE_WAIT_MAX: Duration = Duration::from_secs(60);
const PHONE_POLL_PAUSE: Duration = Duration::from_millis(20);
/// Longest run of seal verifications; a run ends when its prepared checkouts are used up.
const SEAL_RUN_MAX: Duration = Duration::from_secs(300);
/// Checkouts per run read back through the merchant API after their seal was accepted.
const PAID_SAMPLE_LEN: usize = 64;

/// What `sceau bench` measures (besides the trivial endpoint, always).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    /// Durable card authorizations: `POST /v1/authorizations`.
    Authorizations,
    /// Payments by seal: checkouts prepared up to the seal on the phone (create, hold,
    /// validate, read), then each seal typed back once: `POST /pay/{id}/seal`.
    Seal,
    /// Time-stamps: `POST /tsa` with distinct requests (RFC 3161, certificate
    /// included), next to `openssl speed ecdsap256` and sceau's CMS signatures in-process.
    Tsa,
    /// Authorizations, seal and tsa, one after the other in each run.
    All,
    /// Transparency log appends: entries queued by concurrent writers and integrated in
    /// batches, durably, in-process against the store (no server; see --log-entries).
    Log,
    /// The second channel: messages from the outbox to the SMSC simulator over SMPP
    /// (one bind, window 10), with their receipts; throughput, then the latency from
    /// commit to submit_sm in open loop. In-process (needs node and the simulator's npm
    /// package: npm ci --prefix tests/smsc).
    Channel,
    /// The notary: envelopes of one 100 KiB file per second end to end (station key,
    /// certificate, manifest, upload, seal read on the phone, signatures, time-stamps,
    /// archive), then one 256 MiB file's upload (MB/s, the server's memory above rest).
    Notary,
    /// Whole payments by seal: each connection a shopper running payments one after the
    /// other (checkout created, held, validated, the seal read on the development phone
    /// and typed), each run ending when every payment's receipt is stored.
    Payment,
    /// Certified delivery: recipients per second end to end (the delivery sent, the
    /// notice read in the development mailbox, the code from the phone typed, the
    /// withdrawal certificate, a 100 KiB file and its signature downloaded, the signed
    /// answer, the sender's receipt).
    Delivery,
}

impl Scenario {
    fn authorizations(self) -> bool {
        matches!(self, Scenario::Authorizations | Scenario::All)
    }

    fn seal(self) -> bool {
        matches!(self, Scenario::Seal | Scenario::All)
    }

    fn tsa(self) -> bool {
        matches!(self, Scenario::Tsa | Scenario::All)
    }
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Entries per run of the log scenario.
    #[arg(long, default_value_t = 200_000)]
    log_entries: usize,
    /// Envelopes per run of the notary scenario.
    #[arg(long, default_value_t = 2_000)]
    notary_envelopes: usize,
    /// Whole payments per run of the payment scenario.
    #[arg(long, default_value_t = 10_000)]
    payments: usize,
    /// Recipients per run of the delivery scenario.
    #[arg(long, default_value_t = 2_000)]
    delivery_recipients: usize,
    /// What to measure after the trivial endpoint in each run.
    #[arg(long, value_enum, default_value_t = Scenario::Authorizations)]
    scenario: Scenario,
    /// Concurrent connections (each with its own merchant, client and number; the seal
    /// scenario signs in one client per connection).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds per phase (seal verifications: until the prepared checkouts are
    /// used up).
    #[arg(long, default_value_t = 5)]
    duration_s: u64,
    /// Warm-up seconds before each phase (not measured; none for seal verifications, which
    /// follow their preparation at once).
    #[arg(long, default_value_t = 1)]
    warmup_s: u64,
    /// Runs of each closed-loop phase; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Rate of the open-loop phases, per second (default: half of each scenario's median
    /// peak).
    #[arg(long)]
    open_loop_rate: Option<u64>,
    /// Checkouts prepared (created, held, validated and their seal read on the phone:
    /// timed) for each seal run and for the seal open-loop run; each seal is typed back
    /// once.
    #[arg(long, default_value_t = 20_000)]
    seal_checkouts: usize,
    /// Where the servers keep their keys: "file" (the encrypted key directory) or
    /// "pkcs11" (a SoftHSM2 token the benchmark creates; needs Debian's softhsm2).
    #[arg(long, default_value = "file", value_parser = ["file", "pkcs11"])]
    keystore: String,
    /// Run on PostgreSQL: a postgres:// URL. The benchmark works in a fresh schema of that
    /// database and drops it at the end. Default: a fresh SQLite file.
    #[arg(long, value_name = "POSTGRES_URL")]
    database_url: Option<String>,
    /// Messages queued at once in each throughput run of the channel scenario.
    #[arg(long, default_value_t = 20_000)]
    channel_messages: usize,
    /// Seconds of each open-loop run of the channel scenario (at --open-loop-rate,
    /// default 100 messages per second).
    #[arg(long, default_value_t = 20)]
    channel_seconds: u64,
    /// The SMSC simulator's script (tests/smsc/smsc.js) for the channel scenario, when not
    /// run from the repository (or set SCEAU_SMSC_SCRIPT).
    #[arg(long, value_name = "PATH")]
    smsc_script: Option<std::path::PathBuf>,
    /// Issue the clients no certificate, so that payments by seal are made without their
    /// receipts (the payment scenario then waits for none): the same build's figure
    /// without receipts, to compare with.
    #[arg(long)]
    no_receipts: bool,
    /// Server instances sharing the database (PostgreSQL only); the connections are
    /// spread over them evenly.
    #[arg(long, default_value_t = 1)]
    instances: usize,
}

struct Authorizations {
    merchants: Vec<(String, String)>,
    run_tag: String,
}

impl RequestSource for Authorizations {
    fn build(&self, worker: usize, sequence: u64, out: &mut Vec<u8>) -> bool {
        let (authorization, body) = &self.merchants[worker % self.merchants.len()];
        let key = format!("{}-{worker}-{sequence}", self.run_tag);
        loadgen::write_request(
            out,
            "POST",
            "/v1/authorizations",
            &[
                ("Authorization", authorization),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", &key),
            ],
            body.as_bytes(),
        );
        true
    }
}

struct Health;

impl RequestSource for Health {
    fn build(&self, _worker: usize, _sequence: u64, out: &mut Vec<u8>) -> bool {
        loadgen::write_request(out, "GET", "/health", &[], b"");
        true
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes / 1024.0)
}

/// CPU seconds (user and system, all threads) the processes `pids` have used so far.
pub(crate) fn cpu_seconds(pids: &[u32]) -> Option<f64> {
    // Clock ticks per second: what `getconf CLK_TCK` says (100 on Linux everywhere).
    let ticks_per_s: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0);
    let mut ticks = 0_u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command (which may hold spaces) in parentheses: utime and
        // stime are the 12th and 13th.
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        ticks += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(ticks as f64 / ticks_per_s)
}

fn print_report(label: &str, report: &LoadReport) {
    say!(
        "  {label:<28} {:>9.0} req/s ({} in {:.1} s)  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  errors {}  statuses {:?}",
        report.per_second,
        report.requests,
        report.elapsed.as_secs_f64(),
        report.p50.as_secs_f64() * 1e3,
        report.p99.as_secs_f64() * 1e3,
        report.max.as_secs_f64() * 1e3,
        report.errors,
        report.status_counts
    );
}

/// One connection's merchant and client, as enrolled before the server starts.
struct Party {
    /// `Bearer sk_...`: the merchant's API key.
    merchant: String,
    /// An authorization with the client's multi-use number, for this merchant.
    authorization_body: String,
    login: String,
    phone: String,
    client_id: i64,
}

/// Enrols the merchants and clients and issues one multi-use number per connection.
async fn prepare(config: &Config, connections: usize) -> anyhow::Result<Vec<Party>> {
    // Prepared without the white room: the servers' keystore (perhaps a token) is made
    // next, and the clients' certificates are issued with it (`issue_certificates`).
    let service =
        crate::open_service_without_pki(config, Arc::new(sceau_app::clock::SystemClock)).await?;
    let mut parties = Vec::with_capacity(connections);
    for index in 0..connections {
        let merchant = service
            .enroll_merchant(&format!("Bench shop {index}"))
            .await?;
        let login = format!("bench{index}");
        let phone = format!("+3361{index:07}");
        let client = service
            .enroll_client(ClientEnrolment {
                login: login.clone(),
                display_name: format!("Bench client {index}"),
                password: Zeroizing::new(BENCH_PASSWORD.into()),
                phone: phone.clone(),
                email: None,
                currency: "EUR".into(),
                opening_balance: "1000000000.00".into(),
                credit_limit: "0".into(),
            })
            .await?;
        let request = NumberRequest {
            uses_max: sceau_domain::limits::NUMBER_USES_MAX,
            amount: AmountRule::Any,
            merchant: MerchantLock::Any,
            validity_s: Some(sceau_domain::limits::NUMBER_VALIDITY_S_MAX),
        };
        let issued = service
            .issue_number(
                &client,
                &request,
                None,
                Origin::Client,
                client.currency,
                None,
            )
            .await?;
        let (number, month, year, code) = issued
            .text
            .as_deref()
            .and_then(|text| sceau_app::service::card_in_message(text))
            .context("cannot read the issued number")?;
        let authorization_body = format!(
            r#"{{"number":"{number}","expiry_month":{month},"expiry_year":{year},"security_code":"{code}","amount":"1.00","currency":"EUR","reference":"bench"}}"#
        );
        parties.push(Party {
            merchant: format!("Bearer {}", merchant.api_key.as_str()),
            authorization_body,
            login,
            phone,
            client_id: client.id,
        });
    }
    Ok(parties)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    check_args(&args)?;
    let directory = tempfile::tempdir()?;
    let scratch = match &args.database_url {
        Some(url) => Some(
            sceau_store::postgres::scratch::ScratchSchema::create(url)
                .await
                .context("creating a fresh schema for the benchmark")?,
        ),
        None => None,
    };
    let database = match &scratch {
        Some(schema) => schema.url.clone(),
        None => directory.path().join("bench.db").display().to_string(),
    };
    let master_key = Zeroizing::new(hex_key());
    let config = bench_config(directory.path(), database);
    std::fs::write(&config.master_key_file, master_key.as_bytes())?;
    // Written before the servers start, so that they all read it (none races to create
    // it) and the seal scenario can ask the admin API to check the ledger.
    let admin_token = sceau_crypto::new_token("adm_");
    crate::write_private(&config.admin_token_file, admin_token.as_bytes())?;
    if args.scenario == Scenario::Log {
        return crate::bench_log::run(&config, args.log_entries, args.runs).await;
    }
    if args.scenario == Scenario::Channel {
        let options = crate::bench_channel::ChannelOptions {
            messages: args.channel_messages,
            rate_per_s: args.open_loop_rate.unwrap_or(100),
            seconds: args.channel_seconds,
            runs: args.runs,
            smsc_script: args.smsc_script.clone(),
        };
        return crate::bench_channel::run(&config, directory.path(), &options).await;
    }
    say!(
        "preparing {} merchants, clients and numbers in {}",
        args.connections,
        config.database_for_display()
    );
    let parties = prepare(&config, args.connections).await?;

    let keystore_env = keystore_env(&args.keystore, directory.path())?;
    let executable = std::env::current_exe()?;
    let server_env = server_env(&config, &keystore_env);
    if args.no_receipts {
        say!("no certificates issued: payments are made without receipts (--no-receipts)");
    } else {
        issue_certificates(&executable, &server_env, &parties)?;
    }
    let mut children = start_servers(&executable, &server_env, args.instances)?;
    let result = if args.scenario == Scenario::Notary {
        measure_notary(&args, &mut children, &parties).await
    } else if args.scenario == Scenario::Delivery {
        measure_delivery(&args, &mut children, &parties).await
    } else if args.scenario == Scenario::Payment {
        measure_payments(&args, &config, &mut children, &parties).await
    } else {
        measure(&args, &mut children, parties, &admin_token).await
    };
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }

    check_ledger_after(&config).await?;
    result
}

/// The first server of the notary's scenarios, its HTTP client and every client signed in
/// on it as a station.
struct StationServer {
    pid: u32,
    address: std::net::SocketAddr,
    http: reqwest::Client,
    stations: Vec<crate::bench_notary::Station>,
}

impl StationServer {
    async fn sign_in(
        children: &mut [std::process::Child],
        parties: &[Party],
    ) -> anyhow::Result<Self> {
        let child = children.first_mut().context("no server")?;
        let pid = child.id();
        let address = listening_address(child)?;
        let base = format!("http://{address}");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(600))
            .build()?;
        let mut stations = Vec::with_capacity(parties.len());
        for party in parties {
            let (cookie, csrf) = sign_in_payer(&http, &base, &party.login).await?;
            stations.push(crate::bench_notary::Station {
                base: base.clone(),
                phone: party.phone.clone(),
                cookie,
                csrf,
            });
        }
        Ok(Self {
            pid,
            address,
            http,
            stations,
        })
    }
}

/// The line of each step's p50 in milliseconds.
fn step_p50s(steps: &[&str], p50s: impl IntoIterator<Item = Duration>) -> String {
    let steps: Vec<String> = steps
        .iter()
        .zip(p50s)
        .map(|(step, p50)| format!("{step} {:.1}", p50.as_secs_f64() * 1e3))
        .collect();
    steps.join(", ")
}

/// The notary scenario: every client signed in, `runs` runs of `--notary-envelopes`
/// envelopes (closed loop, one at a time per connection), then the large upload.
async fn measure_notary(
    args: &BenchArgs,
    children: &mut [std::process::Child],
    parties: &[Party],
) -> anyhow::Result<()> {
    let StationServer {
        pid,
        address,
        http,
        stations,
    } = StationServer::sign_in(children, parties).await?;
    let stations = Arc::new(stations);
    say!(
        "notary on {}: server {address} (pid {pid}), {} connections, {} envelopes of one 100 KiB file per run, {} runs",
        args.backend(),
        stations.len(),
        args.notary_envelopes,
        args.runs
    );
    let mut rates = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        let figures =
            crate::bench_notary::envelopes_run(&http, &stations, args.notary_envelopes).await?;
        say!(
            "  run {run}: {:>7.1} envelopes/s ({} notarized), a whole envelope p50 {:.1} ms, p99 {:.1} ms, {:.2} phone pages read per seal",
            figures.per_s,
            figures.envelopes,
            figures.p50.as_secs_f64() * 1e3,
            figures.p99.as_secs_f64() * 1e3,
            figures.seal_reads
        );
        say!(
            "    p50 of each step (ms): {}",
            step_p50s(&crate::bench_notary::STEPS, figures.step_p50s)
        );
        rates.push(figures.per_s);
    }
    let median = median(&mut rates);
    let mut uploads = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        let (mb_per_s, above_rest) =
            crate::bench_notary::large_upload(&http, &stations[0], pid).await?;
        say!(
            "  upload {run}: 256 MiB at {mb_per_s:.0} MB/s; server memory at most {:.1} MB above rest",
            above_rest as f64 / 1e6
        );
        uploads.push((mb_per_s, above_rest));
    }
    uploads.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (upload_median, _) = uploads[uploads.len() / 2];
    let memory_max = uploads.iter().map(|(_, bytes)| *bytes).max().unwrap_or(0);
    say!(
        "\nresult (medians of {} runs)\n  notarizations          {median:>9.1} envelopes/s (one 100 KiB file each, end to end)\n  256 MiB upload         {upload_median:>9.0} MB/s, server memory at most {:.1} MB above rest",
        args.runs,
        memory_max as f64 / 1e6
    );
    Ok(())
}

/// The delivery scenario: every client signed in with one notarized envelope, then `runs`
/// runs of `--delivery-recipients` recipients (closed loop, one at a time per connection).
async fn measure_delivery(
    args: &BenchArgs,
    children: &mut [std::process::Child],
    parties: &[Party],
) -> anyhow::Result<()> {
    let StationServer {
        pid,
        address,
        http,
        stations,
    } = StationServer::sign_in(children, parties).await?;
    let senders = crate::bench_delivery::senders(&http, stations).await?;
    say!(
        "delivery on {}: server {address} (pid {pid}), {} senders, {} recipients of one 100 KiB file per run, {} runs",
        args.backend(),
        senders.len(),
        args.delivery_recipients,
        args.runs
    );
    let mut rates = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        let figures =
            crate::bench_delivery::recipients_run(&http, &senders, args.delivery_recipients)
                .await?;
        say!(
            "  run {run}: {:>7.1} recipients/s ({} accepted), a whole recipient p50 {:.1} ms, p99 {:.1} ms",
            figures.per_s,
            figures.recipients,
            figures.p50.as_secs_f64() * 1e3,
            figures.p99.as_secs_f64() * 1e3
        );
        say!(
            "    p50 of each step (ms): {}",
            step_p50s(&crate::bench_delivery::STEPS, figures.step_p50s)
        );
        rates.push(figures.per_s);
    }
    let median = median(&mut rates);
    say!(
        "\nresult (median of {} runs)\n  certified delivery     {median:>9.1} recipients/s (end to end, one 100 KiB file each)",
        args.runs
    );
    Ok(())
}

/// The payment scenario: one shopper per connection, signed in once; `runs` runs of
/// `--payments` whole payments, each run's checkouts sampled back paid; then what reading
/// the seal costs the servers, the ledger through the admin API and the peak RSS.
async fn measure_payments(
    args: &BenchArgs,
    config: &Config,
    children: &mut [std::process::Child],
    parties: &[Party],
) -> anyhow::Result<()> {
    use crate::bench_payment::{self, STEPS, Shopper};
    let addresses = children
        .iter_mut()
        .map(listening_address)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pids: Vec<u32> = children.iter().map(|child| child.id()).collect();
    let seal = SealBench::sign_in(&addresses, parties, args).await?;
    let shoppers: Arc<Vec<Shopper>> = Arc::new(
        seal.payers
            .iter()
            .enumerate()
            .map(|(index, payer)| Shopper {
                address: addresses[index % addresses.len()],
                merchant: payer.merchant.clone(),
                phone: payer.phone.clone(),
                cookie: payer.cookie.clone(),
                csrf: payer.csrf.clone(),
            })
            .collect(),
    );
    // The benchmark counts the stored receipts: on SQLite through a read-only connection
    // of its own (a store would run a second checkpointer beside the server's), on
    // PostgreSQL through the store.
    let receipts = if args.database_url.is_some() {
        let service =
            crate::open_service_without_pki(config, Arc::new(sceau_app::clock::SystemClock))
                .await?;
        bench_payment::Receipts::Store(Arc::clone(&service.store))
    } else {
        bench_payment::Receipts::Sqlite(config.database.clone().into())
    };
    say!(
        "{}: {} server instance(s) {:?} (pids {:?}); {} shoppers, {} runs of {} payments",
        args.backend(),
        children.len(),
        addresses,
        pids,
        shoppers.len(),
        args.runs,
        args.payments
    );
    let (mut rates, mut cpus, mut reads) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..args.runs {
        let tag = format!("r{run}-{}", hex_key().get(..8).unwrap_or(""));
        let (figures, paid) = bench_payment::run(
            &shoppers,
            (&receipts, !args.no_receipts),
            args.payments,
            &tag,
            &pids,
        )
        .await?;
        let cpu_ms = figures.cpu_per_payment.map(|cpu| cpu.as_secs_f64() * 1e3);
        say!(
            "  run {}: {:>7.1} payments/s ({} paid; {})  whole p50 {:.1} ms  p99 {:.1} ms  server CPU {} ms/payment  phone reads {:.2}/payment",
            run + 1,
            figures.per_s,
            figures.payments,
            if args.no_receipts {
                "no receipts".to_owned()
            } else {
                format!(
                    "the last receipt stored {:.0} ms after the last answer",
                    figures.receipts_tail.as_secs_f64() * 1e3
                )
            },
            figures.p50.as_secs_f64() * 1e3,
            figures.p99.as_secs_f64() * 1e3,
            cpu_ms.map_or("?".to_owned(), |ms| format!("{ms:.3}")),
            figures.phone_reads_per_payment
        );
        let steps: Vec<String> = STEPS
            .iter()
            .zip(figures.steps)
            .map(|(step, (p50, p99))| {
                format!(
                    "{step} {:.1}/{:.1}",
                    p50.as_secs_f64() * 1e3,
                    p99.as_secs_f64() * 1e3
                )
            })
            .collect();
        say!("    steps p50/p99 (ms): {}", steps.join(", "));
        let sample: Vec<SealedCheckout> = paid
            .into_iter()
            .map(|(payer, id)| SealedCheckout {
                payer,
                id,
                seal: String::new(),
            })
            .collect();
        seal.check_paid(&sample).await?;
        rates.push(figures.per_s);
        if let Some(ms) = cpu_ms {
            cpus.push(ms);
        }
        reads.push(figures.phone_reads_per_payment);
    }
    let phone = &shoppers.first().context("no shopper")?.phone;
    let read_cost = bench_payment::phone_read_cost(&addresses, phone, &pids, args.connections)
        .await?
        .as_secs_f64()
        * 1e3;
    let admin_token = std::fs::read_to_string(&config.admin_token_file)?;
    seal.check_ledger(admin_token.trim()).await?;
    let rss = children
        .iter()
        .map(|child| peak_rss_mb(child.id()).unwrap_or(f64::NAN))
        .fold(0.0_f64, f64::max);
    let (cpu, reads) = (median(&mut cpus), median(&mut reads));
    let receipts_said = if args.no_receipts {
        "without receipts: --no-receipts"
    } else {
        "receipts signed and stored"
    };
    say!(
        "\nresult (median of {} runs, {})\n  whole payments by seal     {:>9.1} /s ({receipts_said})\n  server CPU per payment     {cpu:>9.3} ms\n  reading the seal           {reads:.2} reads/payment × {read_cost:.3} ms = {:.1}% of the server's CPU per payment\n  server peak RSS            {rss:.1} MB (largest instance)",
        args.runs,
        args.backend(),
        median(&mut rates),
        100.0 * reads * read_cost / cpu.max(1e-9)
    );
    Ok(())
}

impl BenchArgs {
    /// The database the scenarios run on, as the figures name it.
    fn backend(&self) -> &'static str {
        if self.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }
}

/// The checks on the arguments that clap cannot make.
fn check_args(args: &BenchArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.runs == 0 || args.duration_s == 0 || args.instances == 0 {
        bail!("connections, runs, duration and instances must be at least 1");
    }
    if args.channel_messages == 0 || args.channel_seconds == 0 || args.open_loop_rate == Some(0) {
        bail!("--channel-messages, --channel-seconds and --open-loop-rate must be at least 1");
    }
    if args.scenario == Scenario::Payment && args.payments < args.connections {
        bail!("--payments must be at least --connections");
    }
    if args.no_receipts && !(args.scenario == Scenario::Payment || args.scenario.seal()) {
        // The notary's envelopes and deliveries sign under the clients' certificates.
        bail!("--no-receipts is for the payment and seal scenarios");
    }
    if args.scenario.seal() && args.seal_checkouts < args.connections {
        bail!("--seal-checkouts must be at least --connections");
    }
    if args.instances > 1 && args.database_url.is_none() {
        bail!("several instances need a shared database: give --database-url postgres://...");
    }
    Ok(())
}

/// The benchmark's database, and its files (keys, token, certificates) in `directory`.
fn bench_config(directory: &std::path::Path, database: String) -> Config {
    Config {
        database,
        archive_directory: directory.join("archive"),
        master_key_file: directory.join("master.key"),
        admin_token_file: directory.join("admin.token"),
        keys_directory: directory.join("keys"),
        pki_directory: directory.join("pki"),
        ..Config::default()
    }
}

/// The servers' keystore: the encrypted key directory in the benchmark's directory
/// (nothing to set), or a SoftHSM2 token made there.
fn keystore_env(
    keystore: &str,
    directory: &std::path::Path,
) -> anyhow::Result<Vec<(&'static str, std::ffi::OsString)>> {
    if keystore != "pkcs11" {
        return Ok(Vec::new());
    }
    let conf = crate::bench_pki::softhsm_token(directory, BENCH_TOKEN, BENCH_TOKEN_PIN)?;
    Ok(vec![
        ("SOFTHSM2_CONF", conf.into_os_string()),
        ("SCEAU_KEYSTORE", "pkcs11".into()),
        ("SCEAU_PKCS11_MODULE", SOFTHSM2_MODULE.into()),
        ("SCEAU_PKCS11_TOKEN", BENCH_TOKEN.into()),
        ("SCEAU_PKCS11_PIN", BENCH_TOKEN_PIN.into()),
    ])
}

/// The environment the servers (and `sceau admin`) run with: the prepared database and
/// files, and the keystore's settings.
fn server_env(
    config: &Config,
    keystore_env: &[(&'static str, std::ffi::OsString)],
) -> Vec<(&'static str, std::ffi::OsString)> {
    [
        ("SCEAU_DATABASE", config.database.clone().into()),
        (
            "SCEAU_MASTER_KEY_FILE",
            config.master_key_file.clone().into_os_string(),
        ),
        (
            "SCEAU_ADMIN_TOKEN_FILE",
            config.admin_token_file.clone().into_os_string(),
        ),
        (
            "SCEAU_KEYS_DIRECTORY",
            config.keys_directory.clone().into_os_string(),
        ),
        (
            "SCEAU_PKI_DIRECTORY",
            config.pki_directory.clone().into_os_string(),
        ),
        (
            "SCEAU_ARCHIVE_DIRECTORY",
            config.archive_directory.clone().into_os_string(),
        ),
    ]
    .into_iter()
    .chain(keystore_env.iter().cloned())
    .collect()
}

/// Starts `instances` servers (`sceau serve`) on free loopback ports; their output is
/// piped, for their addresses.
fn start_servers(
    executable: &std::path::Path,
    server_env: &[(&str, std::ffi::OsString)],
    instances: usize,
) -> anyhow::Result<Vec<std::process::Child>> {
    let mut children = Vec::with_capacity(instances);
    for _ in 0..instances {
        // The database URL goes by environment, not argument: `ps` shows arguments.
        let child = std::process::Command::new(executable)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(server_env.iter().map(|(k, v)| (k, v)))
            .env("SCEAU_LOG", "warn")
            // The seal scenario plays each client paying hundreds of checkouts within
            // minutes, a round of them held at once: it lifts the per-client anti-abuse
            // limits on holding and sending (checked, with their queries, at hold and at
            // send; neither is on the path of a seal typed back, which is measured).
            .env("SCEAU_CLIENT_HELD_CHECKOUTS_MAX", BENCH_LIMIT_MAX)
            .env("SCEAU_CLIENT_SEALS_PER_HOUR_MAX", BENCH_LIMIT_MAX)
            .env("SCEAU_CLIENT_SMS_PER_HOUR_MAX", BENCH_MESSAGES_MAX)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        children.push(child);
    }
    Ok(children)
}

/// The ledger, checked in the database once the servers have stopped.
async fn check_ledger_after(config: &Config) -> anyhow::Result<()> {
    let service =
        crate::open_service_without_pki(config, Arc::new(sceau_app::clock::SystemClock)).await?;
    let report = service.store.check_ledger().await?;
    say!(
        "ledger after the run: {}",
        if report.is_sound() { "sound" } else { "BROKEN" }
    );
    if !report.is_sound() {
        bail!("ledger broken after the benchmark: {:?}", report.violations);
    }
    Ok(())
}

/// Gives every client a certificate, as enrolment on a server with its white room
/// does, so that the payments' receipts are signed as in production: `sceau admin
/// certificate-issue` with the servers' keystore, before they start.
fn issue_certificates(
    executable: &std::path::Path,
    env: &[(&str, std::ffi::OsString)],
    parties: &[Party],
) -> anyhow::Result<()> {
    for party in parties {
        let output = std::process::Command::new(executable)
            .args(["admin", "certificate-issue", "--client"])
            .arg(party.client_id.to_string())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("SCEAU_LOG", "warn")
            .output()
            .context("issuing a client's certificate")?;
        if !output.status.success() {
            bail!(
                "sceau admin certificate-issue failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    Ok(())
}

fn hex_key() -> String {
    sceau_crypto::random_bytes::<32>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Waits for a server child to print its address; keeps draining its output after.
fn listening_address(child: &mut std::process::Child) -> anyhow::Result<std::net::SocketAddr> {
    let stdout = child.stdout.take().context("no server output")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .context("the server exited before listening")??;
        if let Some(url) = line.strip_prefix("sceau listening on http://") {
            break url.trim().parse::<std::net::SocketAddr>()?;
        }
    };
    // Keep draining the server's stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(address)
}

/// One scenario's closed-loop figures, run after run.
#[derive(Default)]
struct Runs {
    rates: Vec<f64>,
    p50s_ms: Vec<f64>,
    p99s_ms: Vec<f64>,
    /// Cores the servers kept busy during each run (CPU seconds over wall seconds), and
    /// the run's rate per such core.
    server_cores: Vec<f64>,
    per_server_core: Vec<f64>,
}

impl Runs {
    fn push(&mut self, report: &LoadReport) {
        self.rates.push(report.per_second);
        self.p50s_ms.push(report.p50.as_secs_f64() * 1e3);
        self.p99s_ms.push(report.p99.as_secs_f64() * 1e3);
    }
}

/// The closed-loop figures of every run, per scenario.
#[derive(Default)]
struct ClosedLoop {
    health_rates: Vec<f64>,
    authorizations: Runs,
    seals: Runs,
    /// Checkouts prepared per second, for each seal run.
    preparation_rates: Vec<f64>,
    time_stamps: Runs,
}

/// The open-loop run of each scenario measured: its rate and its report.
struct OpenLoop {
    authorizations: Option<(u64, LoadReport)>,
    seals: Option<(u64, LoadReport)>,
    time_stamps: Option<(u64, LoadReport)>,
}

/// What the phases of a measure share: the arguments, the servers' addresses, and what
/// each scenario sends (`seal` and `time_stamp_requests` only when they are measured).
struct Phases<'a> {
    args: &'a BenchArgs,
    addresses: Vec<std::net::SocketAddr>,
    /// Each connection's merchant (`Bearer sk_...`) and authorization body.
    merchants: Vec<(String, String)>,
    seal: Option<SealBench>,
    time_stamp_requests: Option<Arc<crate::bench_pki::TimeStampRequests>>,
}

async fn measure(
    args: &BenchArgs,
    children: &mut [std::process::Child],
    parties: Vec<Party>,
    admin_token: &str,
) -> anyhow::Result<()> {
    let addresses = children
        .iter_mut()
        .map(listening_address)
        .collect::<anyhow::Result<Vec<_>>>()?;
    say!(
        "{}: {} server instance(s) {:?} (pids {:?}); {} connections, {} s per phase, {} runs",
        args.backend(),
        children.len(),
        addresses,
        children.iter().map(|c| c.id()).collect::<Vec<_>>(),
        args.connections,
        args.duration_s,
        args.runs
    );
    let seal = if args.scenario.seal() {
        Some(SealBench::sign_in(&addresses, &parties, args).await?)
    } else {
        None
    };
    let merchants: Vec<(String, String)> = parties
        .into_iter()
        .map(|party| (party.merchant, party.authorization_body))
        .collect();
    let time_stamp_requests = if args.scenario.tsa() {
        Some(Arc::new(crate::bench_pki::TimeStampRequests::new(4_096)?))
    } else {
        None
    };
    let phases = Phases {
        args,
        addresses,
        merchants,
        seal,
        time_stamp_requests,
    };
    let pids: Vec<u32> = children.iter().map(|child| child.id()).collect();
    let mut closed = ClosedLoop::default();
    for run in 0..args.runs {
        phases.closed_loop_run(run, &pids, &mut closed).await?;
    }
    let health = median(&mut closed.health_rates);
    let open = phases.open_loop_runs(&mut closed, admin_token).await?;
    let signing = if args.scenario.tsa() {
        Some(signing_limits()?)
    } else {
        None
    };
    let rss = children
        .iter()
        .map(|child| peak_rss_mb(child.id()).unwrap_or(f64::NAN))
        .fold(0.0_f64, f64::max);
    print_results(args, health, &mut closed, &open, signing, rss);
    Ok(())
}

impl Phases<'_> {
    fn spec(&self, rate_per_s: Option<u64>) -> LoadSpec {
        LoadSpec {
            addresses: self.addresses.clone(),
            connections: self.args.connections,
            duration: Duration::from_secs(self.args.duration_s),
            warmup: Duration::from_secs(self.args.warmup_s),
            rate_per_s,
            request_count_max: None,
        }
    }

    /// The open-loop rate for a scenario whose closed-loop median is `peak`.
    fn half(&self, peak: f64) -> u64 {
        self.args
            .open_loop_rate
            .unwrap_or((peak / 2.0).max(1.0) as u64)
    }

    /// Run `run` of every scenario measured, closed loop, the trivial endpoint first.
    async fn closed_loop_run(
        &self,
        run: usize,
        pids: &[u32],
        closed: &mut ClosedLoop,
    ) -> anyhow::Result<()> {
        let health = loadgen::run(&self.spec(None), Arc::new(Health)).await?;
        print_report(&format!("run {} GET /health", run + 1), &health);
        closed.health_rates.push(health.per_second);
        if self.args.scenario.authorizations() {
            let source = Authorizations {
                merchants: self.merchants.clone(),
                run_tag: format!("r{run}-{}", hex_key().get(..8).unwrap_or("")),
            };
            let report = loadgen::run(&self.spec(None), Arc::new(source)).await?;
            print_report(&format!("run {} POST /v1/authorizations", run + 1), &report);
            if report.errors > 0 {
                bail!("{} authorizations failed", report.errors);
            }
            closed.authorizations.push(&report);
        }
        if let Some(seal) = &self.seal {
            let (report, prepared_per_s) = seal.run(&format!("run {}", run + 1), None).await?;
            closed.seals.push(&report);
            closed.preparation_rates.push(prepared_per_s);
        }
        if let Some(requests) = &self.time_stamp_requests {
            self.time_stamps_run(requests, run, pids, &mut closed.time_stamps)
                .await?;
        }
        Ok(())
    }

    /// Run `run` of the time-stamps, closed loop, with the cores the servers (`pids`)
    /// kept busy meanwhile.
    async fn time_stamps_run(
        &self,
        requests: &Arc<crate::bench_pki::TimeStampRequests>,
        run: usize,
        pids: &[u32],
        time_stamps: &mut Runs,
    ) -> anyhow::Result<()> {
        let (cpu_before, started) = (cpu_seconds(pids), std::time::Instant::now());
        let report = loadgen::run(
            &self.spec(None),
            Arc::clone(requests) as Arc<dyn loadgen::RequestSource>,
        )
        .await?;
        let wall_s = started.elapsed().as_secs_f64();
        print_report(&format!("run {} POST /tsa", run + 1), &report);
        if report.errors > 0 {
            bail!("{} time-stamp requests failed", report.errors);
        }
        time_stamps.push(&report);
        if let (Some(before), Some(after)) = (cpu_before, cpu_seconds(pids)) {
            let cores = (after - before) / wall_s.max(1e-9);
            say!("    the servers kept {cores:.2} cores busy");
            time_stamps.server_cores.push(cores);
            time_stamps
                .per_server_core
                .push(report.per_second / cores.max(1e-9));
        }
        Ok(())
    }

    /// Every scenario measured once more, open loop at half its closed-loop peak; the
    /// seal scenario then has the admin API check the ledger.
    async fn open_loop_runs(
        &self,
        closed: &mut ClosedLoop,
        admin_token: &str,
    ) -> anyhow::Result<OpenLoop> {
        let authorizations = if self.args.scenario.authorizations() {
            let rate = self.half(median(&mut closed.authorizations.rates));
            let source = Authorizations {
                merchants: self.merchants.clone(),
                run_tag: format!("half-{}", hex_key().get(..8).unwrap_or("")),
            };
            let report = loadgen::run(&self.spec(Some(rate)), Arc::new(source)).await?;
            print_report(&format!("open loop at {rate}/s"), &report);
            Some((rate, report))
        } else {
            None
        };
        let seals = match &self.seal {
            Some(seal) => {
                let rate = self.half(median(&mut closed.seals.rates));
                let (report, _) = seal.run("open loop", Some(rate)).await?;
                seal.check_ledger(admin_token).await?;
                Some((rate, report))
            }
            None => None,
        };
        let time_stamps = match &self.time_stamp_requests {
            Some(requests) => {
                let rate = self.half(median(&mut closed.time_stamps.rates));
                let report = loadgen::run(
                    &self.spec(Some(rate)),
                    Arc::clone(requests) as Arc<dyn loadgen::RequestSource>,
                )
                .await?;
                print_report(&format!("open loop at {rate}/s POST /tsa"), &report);
                Some((rate, report))
            }
            None => None,
        };
        Ok(OpenLoop {
            authorizations,
            seals,
            time_stamps,
        })
    }
}

/// The limits to compare the time-stamps with, measured now on this machine (the servers
/// idle): openssl's ECDSA P-256 signatures per second, sceau's CMS and bare signatures.
fn signing_limits() -> anyhow::Result<(f64, f64, f64)> {
    let openssl = crate::bench_pki::openssl_ecdsa_p256_signs_per_s(SIGNING_SECONDS)?;
    let scratch = tempfile::tempdir()?;
    let (cms, bare) = crate::bench_pki::sceau_signs_per_s(scratch.path(), SIGNING_SECONDS)?;
    Ok((openssl, cms, bare))
}

/// The medians of the closed-loop runs and the open-loop figures, per scenario.
fn print_results(
    args: &BenchArgs,
    health: f64,
    closed: &mut ClosedLoop,
    open: &OpenLoop,
    signing: Option<(f64, f64, f64)>,
    rss: f64,
) {
    say!("\nresult (medians of {} runs)", args.runs);
    say!("  trivial endpoint          {health:>9.0} req/s");
    if let Some((rate, at_half)) = &open.authorizations {
        let authorizations = &mut closed.authorizations;
        let peak = median(&mut authorizations.rates);
        say!(
            "  durable authorizations    {peak:>9.0} /s  ({:.0}% of the trivial endpoint), closed-loop p99 {:.2} ms",
            100.0 * peak / health.max(1.0),
            median(&mut authorizations.p99s_ms)
        );
        print_at_half(*rate, at_half);
    }
    if let Some((rate, at_half)) = &open.seals {
        let seals = &mut closed.seals;
        let peak = median(&mut seals.rates);
        say!(
            "  seal verifications        {peak:>9.0} /s  ({:.0}% of the trivial endpoint), closed-loop p50 {:.2} ms  p99 {:.2} ms",
            100.0 * peak / health.max(1.0),
            median(&mut seals.p50s_ms),
            median(&mut seals.p99s_ms)
        );
        say!(
            "  checkouts prepared        {:>9.0} /s  (create, hold, validate, seal read on the phone)",
            median(&mut closed.preparation_rates)
        );
        print_at_half(*rate, at_half);
    }
    if let (Some((rate, at_half)), Some(signing)) = (&open.time_stamps, signing) {
        print_time_stamps(&args.keystore, &mut closed.time_stamps, signing);
        print_at_half(*rate, at_half);
        let (openssl, cms, bare) = signing;
        say!(
            "  openssl speed ecdsap256   {openssl:>9.0} signatures/s (one core: the physical limit)"
        );
        say!(
            "  CMS signatures in-process {cms:>9.0} /s on one core (encrypted key directory; bare ECDSA {bare:.0} /s)"
        );
    }
    say!("  server peak RSS           {rss:.1} MB (largest instance)");
}

/// The time-stamps' closed-loop figures, against openssl's signatures on one core.
fn print_time_stamps(keystore: &str, time_stamps: &mut Runs, (openssl, ..): (f64, f64, f64)) {
    let peak = median(&mut time_stamps.rates);
    // The servers, the load generator and openssl share the machine's cores; the
    // time-stamps use all of them (2 here), openssl speed one.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    say!(
        "  time-stamps ({keystore} keystore) {peak:>9.0} /s over HTTP, closed-loop p50 {:.2} ms  p99 {:.2} ms",
        median(&mut time_stamps.p50s_ms),
        median(&mut time_stamps.p99s_ms)
    );
    say!(
        "    per core ({cores} cores)      {:>9.0} /s  = {:.0}% of openssl's ECDSA P-256 signing on one core",
        peak / cores,
        100.0 * peak / cores / openssl.max(1.0)
    );
    if !time_stamps.server_cores.is_empty() {
        // Per core the servers used (the load generator and the machine's other work
        // are not counted): the run's rate over the cores it kept busy, median.
        let per_used = median(&mut time_stamps.per_server_core);
        say!(
            "    per core the servers used ({:.2}) {per_used:>7.0} /s  = {:.0}% of openssl's ECDSA P-256 signing on one core",
            median(&mut time_stamps.server_cores),
            100.0 * per_used / openssl.max(1.0)
        );
    }
}

fn print_at_half(rate: u64, report: &LoadReport) {
    say!(
        "    open loop at {rate}/s      p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        report.p50.as_secs_f64() * 1e3,
        report.p99.as_secs_f64() * 1e3,
        report.max.as_secs_f64() * 1e3
    );
}

/// A client of the seal scenario in its browser, signed in once for the whole benchmark,
/// and the merchant whose checkouts it pays.
struct Payer {
    /// `http://address` of the server instance this payer uses.
    base: String,
    phone: String,
    merchant: String,
    /// `sceau_session=...`
    cookie: String,
    /// The session's CSRF token, as read on its pages.
    csrf: String,
}

/// A checkout prepared up to step 4: held, validated, its seal read on the phone.
struct SealedCheckout {
    payer: usize,
    id: String,
    seal: String,
}

/// Every prepared seal typed back once, in the order prepared, by whichever connection is
/// free; the run ends when they are used up.
struct SealVerifications {
    requests: Vec<Vec<u8>>,
    next: AtomicUsize,
    /// The servers the workers' connections go to: a typed seal is a browser's write,
    /// which names its origin, the server the page came from.
    addresses: Vec<std::net::SocketAddr>,
}

impl RequestSource for SealVerifications {
    fn build(&self, worker: usize, _sequence: u64, out: &mut Vec<u8>) -> bool {
        let Some(address) = loadgen::worker_address(&self.addresses, worker) else {
            return false;
        };
        match self.requests.get(self.next.fetch_add(1, Ordering::Relaxed)) {
            Some(request) => {
                out.extend_from_slice(request);
                loadgen::with_header(out, format!("Origin: http://{address}\r\n").as_bytes());
                true
            }
            None => false,
        }
    }

    /// The right seal pays the checkout and redirects to its page; anything else (a
    /// wrong seal's 422 among them) is an error.
    fn accept_status(&self, status: u16) -> bool {
        status == 303
    }
}

/// The seal scenario: payers signed in, and an HTTP client (reqwest) for the preparation
/// and the checks; the verifications themselves go through the load generator.
struct SealBench {
    http: reqwest::Client,
    payers: Arc<Vec<Payer>>,
    addresses: Vec<std::net::SocketAddr>,
    connections: usize,
    checkouts: usize,
}

/// Fails unless the answer has the expected status; returns it.
async fn expect(
    request: reqwest::RequestBuilder,
    status: StatusCode,
    what: &str,
) -> anyhow::Result<reqwest::Response> {
    let reply = request.send().await.with_context(|| what.to_owned())?;
    if reply.status() != status {
        let got = reply.status();
        let text = reply.text().await.unwrap_or_default();
        bail!(
            "{what}: {got} instead of {status}: {}",
            text.chars().take(400).collect::<String>()
        );
    }
    Ok(reply)
}

/// The value of the first attribute that follows `marker` (which ends with `value="`).
fn attribute_after<'a>(page: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &page[page.find(marker)? + marker.len()..];
    rest.split('"').next()
}

/// The seals on a development phone page, with the object of the payment each is for:
/// "... to pay 1.00 EUR to Bench shop 3, your seal is 12345678. Valid until ... Bench
/// shop 3 describes the purchase as "OBJECT".", its quotation marks escaped in HTML.
pub(crate) fn seals_on_phone(page: &str) -> Vec<(&str, &str)> {
    page.split("<li class=\"sms\"")
        .skip(1)
        .filter_map(|item| {
            let text = item.split_once("<p>")?.1.split_once("</p>")?.0;
            let after = text.split_once(", your seal is ")?.1;
            let object = text
                .rsplit_once(" describes the purchase as &#34;")?
                .1
                .strip_suffix("&#34;.")?;
            let seal = after.split('.').next()?;
            let well_formed =
                (6..=10).contains(&seal.len()) && seal.bytes().all(|b| b.is_ascii_digit());
            well_formed.then_some((object, seal))
        })
        .collect()
}

impl SealBench {
    /// Signs every client in once (`POST /login`, Argon2id) and reads its CSRF token.
    async fn sign_in(
        addresses: &[std::net::SocketAddr],
        parties: &[Party],
        args: &BenchArgs,
    ) -> anyhow::Result<SealBench> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?;
        let started = Instant::now();
        let mut signing_in = tokio::task::JoinSet::new();
        for (index, party) in parties.iter().enumerate() {
            let http = http.clone();
            let base = format!("http://{}", addresses[index % addresses.len()]);
            let (login, phone, merchant) = (
                party.login.clone(),
                party.phone.clone(),
                party.merchant.clone(),
            );
            signing_in.spawn(async move {
                let (cookie, csrf) = sign_in_payer(&http, &base, &login).await?;
                anyhow::Ok((
                    index,
                    Payer {
                        base,
                        phone,
                        merchant,
                        cookie,
                        csrf,
                    },
                ))
            });
        }
        let mut payers: Vec<(usize, Payer)> = Vec::with_capacity(parties.len());
        while let Some(joined) = signing_in.join_next().await {
            payers.push(joined.context("a sign-in task failed")??);
        }
        payers.sort_by_key(|(index, _)| *index);
        say!(
            "signed in {} clients in {:.1} s (once for the whole benchmark)",
            payers.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(SealBench {
            http,
            payers: Arc::new(payers.into_iter().map(|(_, payer)| payer).collect()),
            addresses: addresses.to_vec(),
            connections: args.connections,
            checkouts: args.seal_checkouts,
        })
    }

    /// Prepares this run's checkouts (timed), then types every seal back once: closed
    /// loop, or open loop at `rate_per_s`. Checks that every seal was accepted and that a
    /// sample of the checkouts is paid. Returns the verifications and the preparation rate.
    async fn run(&self, label: &str, rate_per_s: Option<u64>) -> anyhow::Result<(LoadReport, f64)> {
        let tag = format!(
            "{}-{}",
            label.replace(' ', "-"),
            hex_key().get(..8).unwrap_or("")
        );
        let started = Instant::now();
        let sealed = self.prepare(&tag).await?;
        let preparation = started.elapsed();
        let prepared_per_s = sealed.len() as f64 / preparation.as_secs_f64().max(1e-9);
        say!(
            "  {:<28} {prepared_per_s:>9.0} checkouts/s ({} in {:.1} s: create, hold, validate, seal read on the phone)",
            format!("{label} prepare"),
            sealed.len(),
            preparation.as_secs_f64()
        );
        let requests = sealed
            .iter()
            .map(|checkout| {
                let payer = &self.payers[checkout.payer];
                let body = format!("csrf={}&seal={}", payer.csrf, checkout.seal);
                let mut request = Vec::with_capacity(512);
                loadgen::write_request(
                    &mut request,
                    "POST",
                    &format!("/pay/{}/seal", checkout.id),
                    &[
                        ("Cookie", &payer.cookie),
                        ("Content-Type", "application/x-www-form-urlencoded"),
                    ],
                    body.as_bytes(),
                );
                request
            })
            .collect();
        let duration = match rate_per_s {
            None => SEAL_RUN_MAX,
            // Long enough for every prepared seal at that rate; the run ends when they are
            // used up.
            Some(rate) => Duration::from_secs_f64(sealed.len() as f64 / rate.max(1) as f64 + 1.0),
        };
        let spec = LoadSpec {
            addresses: self.addresses.clone(),
            connections: self.connections,
            duration,
            warmup: Duration::ZERO,
            rate_per_s,
            request_count_max: None,
        };
        let source = SealVerifications {
            requests,
            next: AtomicUsize::new(0),
            addresses: self.addresses.clone(),
        };
        let report = loadgen::run(&spec, Arc::new(source)).await?;
        print_report(&format!("{label} POST /pay/{{id}}/seal"), &report);
        let accepted = report.status_counts.get(&303).copied().unwrap_or(0);
        if report.errors > 0 || accepted != sealed.len() as u64 {
            bail!(
                "{label}: {accepted} of {} seals accepted ({} errors, statuses {:?})",
                sealed.len(),
                report.errors,
                report.status_counts
            );
        }
        self.check_paid(&sealed).await?;
        Ok((report, prepared_per_s))
    }

    /// Steps 1 to 4 for `self.checkouts` checkouts spread over the payers, each payer on
    /// its own task; returned interleaved (one payer after the other).
    async fn prepare(&self, tag: &str) -> anyhow::Result<Vec<SealedCheckout>> {
        let payers = self.payers.len();
        let mut preparing = tokio::task::JoinSet::new();
        for payer in 0..payers {
            let count = self.checkouts / payers + usize::from(payer < self.checkouts % payers);
            let (http, all, tag) = (self.http.clone(), Arc::clone(&self.payers), tag.to_owned());
            preparing.spawn(async move {
                let sealed = prepare_for(&http, &all[payer], payer, count, &tag).await?;
                anyhow::Ok((payer, sealed))
            });
        }
        let mut by_payer: Vec<Vec<(String, String)>> = vec![Vec::new(); payers];
        while let Some(joined) = preparing.join_next().await {
            let (payer, sealed) = joined.context("a preparation task failed")??;
            by_payer[payer] = sealed;
        }
        let longest = by_payer.iter().map(Vec::len).max().unwrap_or(0);
        let mut lists: Vec<_> = by_payer.into_iter().map(Vec::into_iter).collect();
        let mut sealed = Vec::with_capacity(self.checkouts);
        for _ in 0..longest {
            for (payer, list) in lists.iter_mut().enumerate() {
                if let Some((id, seal)) = list.next() {
                    sealed.push(SealedCheckout { payer, id, seal });
                }
            }
        }
        Ok(sealed)
    }

    /// Reads a sample of the checkouts back as their merchants: each must be paid.
    async fn check_paid(&self, sealed: &[SealedCheckout]) -> anyhow::Result<()> {
        let step = (sealed.len() / PAID_SAMPLE_LEN).max(1);
        for checkout in sealed.iter().step_by(step) {
            let payer = &self.payers[checkout.payer];
            let view: serde_json::Value = expect(
                self.http
                    .get(format!("{}/v1/checkouts/{}", payer.base, checkout.id))
                    .header(AUTHORIZATION, &payer.merchant),
                StatusCode::OK,
                "reading a checkout back",
            )
            .await?
            .json()
            .await?;
            if view["paid"] != serde_json::Value::Bool(true) {
                bail!(
                    "checkout {} is not paid after its seal was accepted: {view}",
                    checkout.id
                );
            }
        }
        Ok(())
    }

    /// `GET /admin/v1/ledger/check` while the server runs.
    async fn check_ledger(&self, admin_token: &str) -> anyhow::Result<()> {
        let base = format!("http://{}", self.addresses.first().context("no server")?);
        let report: serde_json::Value = expect(
            self.http
                .get(format!("{base}/admin/v1/ledger/check"))
                .header(AUTHORIZATION, format!("Bearer {admin_token}")),
            StatusCode::OK,
            "checking the ledger",
        )
        .await?
        .json()
        .await?;
        if report["sound"] != serde_json::Value::Bool(true) {
            bail!("the admin API finds the ledger broken: {report}");
        }
        say!("ledger after the seal runs (admin API): sound");
        Ok(())
    }
}

/// Signs `login` in on the server at `base` (`POST /login`) and opens its wallet: returns
/// the session cookie and the session's CSRF token.
pub(crate) async fn sign_in_payer(
    http: &reqwest::Client,
    base: &str,
    login: &str,
) -> anyhow::Result<(String, String)> {
    let reply = expect(
        http.post(format!("{base}/login"))
            .form(&[("login", login), ("password", BENCH_PASSWORD)]),
        StatusCode::SEE_OTHER,
        "signing in",
    )
    .await?;
    let cookie = crate::cookie_set(reply.headers(), Some(SESSION_COOKIE))
        .context("no session cookie after signing in")?;
    let page = expect(
        http.get(format!("{base}/wallet")).header(COOKIE, &cookie),
        StatusCode::OK,
        "opening the wallet",
    )
    .await?
    .text()
    .await?;
    let csrf = attribute_after(&page, "name=\"csrf\" value=\"")
        .context("no CSRF token on the wallet page")?
        .to_owned();
    Ok((cookie, csrf))
}

/// Steps 1 to 4 of a payment by seal, `count` times for one payer, in rounds: its
/// merchant creates checkouts (`POST /v1/checkouts`), the payer holds and validates each
/// in its session (`POST /pay/{id}/hold`, `/validate`), then reads the round's seals on
/// its phone (`GET /phone`) once the dispatcher has delivered them. Returns (id, seal).
async fn prepare_for(
    http: &reqwest::Client,
    payer: &Payer,
    index: usize,
    count: usize,
    tag: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut sealed = Vec::with_capacity(count);
    while sealed.len() < count {
        let round = (count - sealed.len()).min(SEAL_ROUND_LEN_MAX);
        let mut waiting: HashMap<String, String> = HashMap::with_capacity(round);
        for _ in 0..round {
            let object = format!(
                "bench {tag} payer {index} no {}",
                sealed.len() + waiting.len()
            );
            let id = create_and_validate(http, payer, &object).await?;
            waiting.insert(object, id);
        }
        read_seals(http, payer, &mut waiting, &mut sealed).await?;
    }
    Ok(sealed)
}

/// Steps 1 to 3 of one checkout: the payer's merchant creates it for `object`, the payer
/// holds and validates it. Returns its id.
async fn create_and_validate(
    http: &reqwest::Client,
    payer: &Payer,
    object: &str,
) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "amount": "1.00", "currency": "EUR", "reference": "bench seal",
        "object": object, "return_url": "https://shop.example/return",
    });
    let created: serde_json::Value = expect(
        http.post(format!("{}/v1/checkouts", payer.base))
            .header(AUTHORIZATION, &payer.merchant)
            .json(&body),
        StatusCode::CREATED,
        "creating a checkout",
    )
    .await?
    .json()
    .await?;
    let id = created["id"]
        .as_str()
        .context("a created checkout without id")?
        .to_owned();
    for step in ["hold", "validate"] {
        expect(
            http.post(format!("{}/pay/{id}/{step}", payer.base))
                .header(COOKIE, &payer.cookie)
                .form(&[("csrf", payer.csrf.as_str())]),
            StatusCode::SEE_OTHER,
            step,
        )
        .await?;
    }
    Ok(id)
}

/// Step 4 of a round: reads the payer's phone until the seals of every checkout `waiting`
/// (object → id) are there (bounded), moving each to `sealed` as (id, seal).
async fn read_seals(
    http: &reqwest::Client,
    payer: &Payer,
    waiting: &mut HashMap<String, String>,
    sealed: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let page = expect(
            http.get(format!("{}/phone", payer.base))
                .query(&[("to", payer.phone.as_str())]),
            StatusCode::OK,
            "reading the phone",
        )
        .await?
        .text()
        .await?;
        for (object, seal) in seals_on_phone(&page) {
            if let Some(id) = waiting.remove(object) {
                sealed.push((id, seal.to_owned()));
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if started.elapsed() > PHONE_WAIT_MAX {
            bail!(
                "{} seals did not reach the phone {} within {} s",
                waiting.len(),
                payer.phone,
                PHONE_WAIT_MAX.as_secs()
            );
        }
        tokio::time::sleep(PHONE_POLL_PAUSE).await;
    }
}
