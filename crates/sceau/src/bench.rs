//! `sceau bench`: durable authorizations per second over real HTTP.
//!
//! Prepares a fresh database — a SQLite file, or a scratch schema in a PostgreSQL database
//! with `--database-url` — (merchants, clients, one multi-use number per connection),
//! starts the real server as one or more child processes (`sceau serve`), and drives it
//! with the in-tree load generator: the trivial `/health` endpoint first (the ceiling of
//! HTTP on this machine, measured in the same run), then `POST /v1/authorizations` with a
//! distinct Idempotency-Key per request, closed loop; then authorizations in open loop at
//! half the measured peak for the latency target. Reports medians over `--runs`, and the
//! server's peak RSS. Every authorization is durable (WAL, synchronous=FULL) before it is
//! answered; the ledger is checked after the server stops.

use crate::config::Config;
use crate::loadgen::{self, LoadReport, LoadSpec, RequestSource};
use anyhow::{Context, bail};
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_server::service::{ClientEnrolment, NumberRequest};
use sceau_store::Origin;
use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Concurrent merchant connections (each with its own merchant, client and number).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 5)]
    duration_s: u64,
    /// Warm-up seconds before each phase (not measured).
    #[arg(long, default_value_t = 1)]
    warmup_s: u64,
    /// Runs of each closed-loop phase; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Rate of the open-loop phase, per second (default: half the measured peak).
    #[arg(long)]
    open_loop_rate: Option<u64>,
    /// Run on PostgreSQL: a postgres:// URL. The benchmark works in a fresh schema of that
    /// database and drops it at the end. Default: a fresh SQLite file.
    #[arg(long, value_name = "POSTGRES_URL")]
    database_url: Option<String>,
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
    fn build(&self, worker: usize, sequence: u64, out: &mut Vec<u8>) {
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
    }
}

struct Health;

impl RequestSource for Health {
    fn build(&self, _worker: usize, _sequence: u64, out: &mut Vec<u8>) {
        loadgen::write_request(out, "GET", "/health", &[], b"");
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

fn print_report(label: &str, report: &LoadReport) {
    println!(
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

/// Enrols the merchants and clients and issues one multi-use number per connection.
async fn prepare(config: &Config, connections: usize) -> anyhow::Result<Vec<(String, String)>> {
    let service = crate::open_service(config, Arc::new(sceau_server::clock::SystemClock)).await?;
    let mut merchants = Vec::with_capacity(connections);
    for index in 0..connections {
        let failed =
            |e: sceau_server::error::ApiError| anyhow::anyhow!("{}: {}", e.code, e.message);
        let merchant = service
            .enroll_merchant(&format!("Bench shop {index}"))
            .await
            .map_err(failed)?;
        let client = service
            .enroll_client(ClientEnrolment {
                login: format!("bench{index}"),
                display_name: format!("Bench client {index}"),
                password: Zeroizing::new("bench password".into()),
                phone: format!("+3361{index:07}"),
                currency: "EUR".into(),
                opening_balance: "1000000000.00".into(),
                credit_limit: "0".into(),
            })
            .await
            .map_err(failed)?;
        let request = NumberRequest {
            uses_max: sceau_domain::limits::NUMBER_USES_MAX,
            amount: AmountRule::Any,
            merchant: MerchantLock::Any,
            validity_s: Some(sceau_domain::limits::NUMBER_VALIDITY_S_MAX),
        };
        let issued = service
            .issue_number(&client, &request, None, Origin::Client, None)
            .await
            .map_err(failed)?;
        let (number, month, year, code) = issued
            .text
            .as_deref()
            .and_then(|text| sceau_server::service::card_in_message(text))
            .context("cannot read the issued number")?;
        let body = format!(
            r#"{{"number":"{number}","expiry_month":{month},"expiry_year":{year},"security_code":"{code}","amount":"1.00","currency":"EUR","reference":"bench"}}"#
        );
        merchants.push((format!("Bearer {}", merchant.api_key.as_str()), body));
    }
    Ok(merchants)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.runs == 0 || args.duration_s == 0 || args.instances == 0 {
        bail!("connections, runs, duration and instances must be at least 1");
    }
    if args.instances > 1 && args.database_url.is_none() {
        bail!("several instances need a shared database: give --database-url postgres://...");
    }
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
    let config = Config {
        database,
        master_key_file: directory.path().join("master.key"),
        admin_token_file: directory.path().join("admin.token"),
        ..Config::default()
    };
    std::fs::write(&config.master_key_file, master_key.as_bytes())?;
    println!(
        "preparing {} merchants, clients and numbers in {}",
        args.connections,
        config.database_for_display()
    );
    let merchants = prepare(&config, args.connections).await?;

    let executable = std::env::current_exe()?;
    let mut children = Vec::with_capacity(args.instances);
    for _ in 0..args.instances {
        // The database URL goes by environment, not argument: `ps` shows arguments.
        let child = std::process::Command::new(&executable)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("SCEAU_DATABASE", &config.database)
            .env("SCEAU_MASTER_KEY_FILE", &config.master_key_file)
            .env("SCEAU_ADMIN_TOKEN_FILE", &config.admin_token_file)
            .env("SCEAU_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        children.push(child);
    }
    let result = measure(&args, &mut children, merchants).await;
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }

    let service = crate::open_service(&config, Arc::new(sceau_server::clock::SystemClock)).await?;
    let report = service.store.check_ledger().await?;
    println!(
        "ledger after the run: {}",
        if report.is_sound() { "sound" } else { "BROKEN" }
    );
    if !report.is_sound() {
        bail!("ledger broken after the benchmark: {:?}", report.violations);
    }
    result
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

async fn measure(
    args: &BenchArgs,
    children: &mut [std::process::Child],
    merchants: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let addresses = children
        .iter_mut()
        .map(listening_address)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let backend = if args.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "{backend}: {} server instance(s) {:?} (pids {:?}); {} connections, {} s per phase, {} runs",
        children.len(),
        addresses,
        children.iter().map(|c| c.id()).collect::<Vec<_>>(),
        args.connections,
        args.duration_s,
        args.runs
    );
    let spec = |rate_per_s| LoadSpec {
        addresses: addresses.clone(),
        connections: args.connections,
        duration: Duration::from_secs(args.duration_s),
        warmup: Duration::from_secs(args.warmup_s),
        rate_per_s,
        request_count_max: None,
    };
    let mut health_rates = Vec::new();
    let mut authorization_rates = Vec::new();
    let mut p99s = Vec::new();
    for run in 0..args.runs {
        let health = loadgen::run(&spec(None), Arc::new(Health)).await?;
        print_report(&format!("run {} GET /health", run + 1), &health);
        let source = Authorizations {
            merchants: merchants.clone(),
            run_tag: format!("r{run}-{}", hex_key().get(..8).unwrap_or("")),
        };
        let authorizations = loadgen::run(&spec(None), Arc::new(source)).await?;
        print_report(
            &format!("run {} POST /v1/authorizations", run + 1),
            &authorizations,
        );
        if authorizations.errors > 0 {
            bail!("{} authorizations failed", authorizations.errors);
        }
        health_rates.push(health.per_second);
        authorization_rates.push(authorizations.per_second);
        p99s.push(authorizations.p99.as_secs_f64() * 1e3);
    }
    let health = median(&mut health_rates);
    let peak = median(&mut authorization_rates);
    let half = args.open_loop_rate.unwrap_or((peak / 2.0).max(1.0) as u64);
    let source = Authorizations {
        merchants,
        run_tag: format!("half-{}", hex_key().get(..8).unwrap_or("")),
    };
    let at_half = loadgen::run(&spec(Some(half)), Arc::new(source)).await?;
    print_report(&format!("open loop at {half}/s"), &at_half);
    let rss = children
        .iter()
        .map(|child| peak_rss_mb(child.id()).unwrap_or(f64::NAN))
        .fold(0.0_f64, f64::max);
    println!("\nresult (medians of {} runs)", args.runs);
    println!("  trivial endpoint          {health:>9.0} req/s");
    println!(
        "  durable authorizations    {peak:>9.0} /s  ({:.0}% of the trivial endpoint), closed-loop p99 {:.2} ms",
        100.0 * peak / health.max(1.0),
        median(&mut p99s)
    );
    println!(
        "  at half the peak ({half}/s)  p50 {:.2} ms  p99 {:.2} ms",
        at_half.p50.as_secs_f64() * 1e3,
        at_half.p99.as_secs_f64() * 1e3
    );
    println!("  server peak RSS           {rss:.1} MB (largest instance)");
    Ok(())
}
