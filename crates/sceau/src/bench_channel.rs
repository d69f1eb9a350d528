//! `sceau bench --scenario channel`: messages from the outbox to an SMSC over SMPP, with
//! their delivery receipts. In-process: the benchmark opens the service on the store the
//! configuration names, with one SMPP route (one transceiver bind, a window of 10, a pace
//! high enough not to bind the measure) to the SMSC simulator (`tests/smsc/smsc.js`, run
//! with node on loopback), and starts the server's background work (the dispatcher and
//! the recorder of receipts) as `serve` does. Messages are queued as the use cases queue
//! them: sealed, committed to the outbox, then the dispatcher woken.
//!
//! - throughput: `--channel-messages` queued at once by concurrent writers; the time until
//!   the store has them all `submitted`, and until it has every receipt (`delivered`);
//! - latency: an open loop at `--open-loop-rate` messages per second (default 100) for
//!   `--channel-seconds`; each message's commit (when its enqueue returned) against the
//!   time the simulator received its `submit_sm` (`received_at`, matched by a counter in
//!   the text).
//!
//! Before them, the simulator's own ceiling on one bind with the same window
//! (`tests/smsc/load.js`, a client that costs little). Medians over `--runs`.

use crate::config::Config;
use anyhow::{Context, bail};
use sceau_app::Service;
use sceau_app::clock::SystemClock;
use sceau_store::{Medium, NewMessage};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The environment variable naming the simulator's script (`tests/smsc/smsc.js`) when
/// `--smsc-script` is not given.
pub const SMSC_SCRIPT_ENV: &str = "SCEAU_SMSC_SCRIPT";
const SYSTEM_ID: &str = "sceaubench";
const PASSWORD: &str = "bench1";
const WINDOW: u16 = 10;
const RATE_PER_S: u32 = 10_000;
/// Writers queueing the throughput run's messages at once.
const WRITERS: usize = 16;
const ADDRESS: &str = "+33612345678";
/// How long the benchmark waits for the simulator, a bind, or the last message.
const WAIT_MAX: Duration = Duration::from_secs(300);
/// How often the store's states are read while waiting (each read is a query: not too
/// often, not to weigh on what is measured).
const POLL_PAUSE: Duration = Duration::from_millis(25);
/// Seconds the simulator's ceiling is measured.
const CEILING_SECONDS: u32 = 5;

/// What the channel scenario is told.
pub struct ChannelOptions {
    pub messages: usize,
    pub rate_per_s: u64,
    pub seconds: u64,
    pub runs: usize,
    pub smsc_script: Option<PathBuf>,
}

pub async fn run(
    config: &Config,
    directory: &Path,
    options: &ChannelOptions,
) -> anyhow::Result<()> {
    let script = simulator_script(options.smsc_script.as_deref())?;
    let ceiling = simulator_ceiling(&script).await?;
    let smsc = Smsc::start(&script).await?;
    let mut config = config.clone();
    config.sms_routes = vec![route_config(directory, smsc.smpp_port)?];
    let service = crate::open_service_without_pki(&config, Arc::new(SystemClock)).await?;
    say!(
        "second channel: SMPP, one transceiver bind, window {WINDOW}, pace {RATE_PER_S}/s, \
         receipts requested; the simulator answers {ceiling:.0} submit_sm/s on one bind \
         with this window (tests/smsc/load.js, {CEILING_SECONDS} s)"
    );
    let (mut submitted, mut delivered) = (Vec::new(), Vec::new());
    for run in 0..options.runs {
        let (s, d) = throughput_run(&service, &smsc, &config, run, options.messages).await?;
        submitted.push(s);
        delivered.push(d);
    }
    let background = start_background(&service, &smsc, &config).await?;
    let latencies = latency_runs(&service, &smsc, options).await;
    background.abort();
    let (mut p50, mut p99, mut max) = latencies?;
    say!(
        "\nresult (median of {} runs)\n  submitted              {:>9.0} SMS/s (window {WINDOW}; simulator's ceiling {ceiling:.0}/s)\n  delivered (receipts)   {:>9.0} SMS/s\n  commit -> submit_sm    p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms at {}/s",
        options.runs,
        median(&mut submitted),
        median(&mut delivered),
        median(&mut p50),
        median(&mut p99),
        median(&mut max),
        options.rate_per_s,
    );
    Ok(())
}

/// The server's background work on the configured route, as `serve` starts it, once
/// the route is bound (the simulator reset just before: its first bind since).
async fn start_background(
    service: &Service,
    smsc: &Smsc,
    config: &Config,
) -> anyhow::Result<sceau_server::dispatch::Background> {
    let channels = crate::open_channels(config)?;
    let background = sceau_server::dispatch::spawn_background(service.clone(), channels);
    smsc.wait("the route's bind", |stats| {
        stats["binds_total"].as_u64() >= Some(1)
    })
    .await?;
    Ok(background)
}

type Quantiles = (Vec<f64>, Vec<f64>, Vec<f64>);

async fn latency_runs(
    service: &Service,
    smsc: &Smsc,
    options: &ChannelOptions,
) -> anyhow::Result<Quantiles> {
    let (mut p50, mut p99, mut max) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..options.runs {
        let latencies = latency_run(service, smsc, run, options).await?;
        p50.push(quantile(&latencies, 0.50));
        p99.push(quantile(&latencies, 0.99));
        max.push(quantile(&latencies, 1.0));
    }
    Ok((p50, p99, max))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The `q` quantile of sorted `values` (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The route the benchmark sends by: SMPP to the simulator, its password in a file.
fn route_config(
    directory: &Path,
    port: u16,
) -> anyhow::Result<sceau_channel::config::SmsRouteConfig> {
    let password_file = directory.join("smpp.password");
    std::fs::write(&password_file, PASSWORD)?;
    let smpp: sceau_channel::smpp::SmppConfig = toml::from_str(&format!(
        "host = \"127.0.0.1\"\nport = {port}\nsystem_id = \"{SYSTEM_ID}\"\n\
         password = {{ file = {:?} }}\nsource_addr = \"SCEAU\"\nsource_ton = 5\nsource_npi = 0\n\
         window = {WINDOW}\nrate_per_s = {RATE_PER_S}\n",
        password_file.display().to_string()
    ))
    .context("the benchmark's SMPP route")?;
    Ok(sceau_channel::config::SmsRouteConfig {
        name: "smsc".into(),
        kind: sceau_channel::config::SmsKind::Smpp,
        smpp: Some(smpp),
        http: None,
    })
}

/// Queues one message as the use cases do (sealed, committed) and wakes the dispatcher;
/// returns when its commit returned.
async fn enqueue(service: &Service, text: &str) -> anyhow::Result<SystemTime> {
    let now_s = service.now_s();
    let message = NewMessage {
        address: ADDRESS.to_owned(),
        sealed_body: service.keys.seal(text, ADDRESS),
        medium: Medium::Sms,
        expires_at_s: now_s + 600,
    };
    service.store.enqueue_message(message, now_s).await?;
    let committed = SystemTime::now();
    service.outbox_ready.notify_one();
    Ok(committed)
}

/// How many messages of the store are submitted or further, and how many delivered.
/// (Of the messages created since `since_s`.)
async fn progress(service: &Service, since_s: i64) -> anyhow::Result<(u64, u64)> {
    let counts = service.store.message_counts(since_s).await?;
    let in_state = |states: &[&str]| {
        counts
            .iter()
            .filter(|count| states.contains(&count.state.as_str()))
            .map(|count| count.count)
            .sum::<u64>()
    };
    let failed = in_state(&["failed", "expired"]);
    if failed > 0 {
        bail!("{failed} messages failed or expired: the measure is void");
    }
    Ok((
        in_state(&["submitted", "delivered"]),
        in_state(&["delivered"]),
    ))
}

/// One throughput run: `messages` queued while no dispatcher runs, then the server's
/// background work started, and the dispatcher woken; the rates at which they were
/// submitted and delivered (from the wake-up).
async fn throughput_run(
    service: &Service,
    smsc: &Smsc,
    config: &Config,
    run: usize,
    messages: usize,
) -> anyhow::Result<(f64, f64)> {
    smsc.control(serde_json::json!({"command": "reset"}))
        .await?;
    let since_s = service.now_s();
    let (submitted_before, delivered_before) = progress(service, since_s).await?;
    let queueing = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let service = service.clone();
            tokio::spawn(async move {
                let mut n = writer;
                while n < messages {
                    enqueue(&service, &format!("Bench throughput {run} {n}")).await?;
                    n += WRITERS;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    let queued_s = queueing.elapsed().as_secs_f64();
    let background = start_background(service, smsc, config).await?;
    let started = Instant::now();
    service.outbox_ready.notify_one();
    let drained = drain(
        service,
        since_s,
        started,
        messages,
        (submitted_before, delivered_before),
    )
    .await;
    background.abort();
    let (submitted_s, delivered_s) = drained?;
    let target = messages as u64;
    let stats = smsc.get("/stats").await?;
    let (submit_rate, deliver_rate) = (target as f64 / submitted_s, target as f64 / delivered_s);
    say!(
        "  run {}: {messages} queued in {queued_s:.2} s (no dispatcher running); from the \
         wake-up, all submitted at {submitted_s:.2} s = {submit_rate:.0} SMS/s, all \
         delivered at {delivered_s:.2} s = {deliver_rate:.0} SMS/s (simulator: {} accepted, \
         outstanding at most {})",
        run + 1,
        stats["accepted"],
        stats["outstanding_max"],
    );
    Ok((submit_rate, deliver_rate))
}

/// Seconds from `started` until the `messages` are all submitted, and all delivered.
async fn drain(
    service: &Service,
    since_s: i64,
    started: Instant,
    messages: usize,
    (submitted_before, delivered_before): (u64, u64),
) -> anyhow::Result<(f64, f64)> {
    let target = messages as u64;
    let (mut submitted_s, deadline) = (None, Instant::now() + WAIT_MAX);
    let delivered_s = loop {
        let (submitted, delivered) = progress(service, since_s).await?;
        if submitted_s.is_none() && submitted - submitted_before >= target {
            submitted_s = Some(started.elapsed().as_secs_f64());
        }
        if delivered - delivered_before >= target {
            break started.elapsed().as_secs_f64();
        }
        if Instant::now() > deadline {
            bail!("{messages} messages not delivered in {WAIT_MAX:?}");
        }
        tokio::time::sleep(POLL_PAUSE).await;
    };
    Ok((submitted_s.unwrap_or(delivered_s), delivered_s))
}

/// One latency run: an open loop at the rate; the sorted milliseconds from each
/// message's commit to its `submit_sm` at the simulator.
async fn latency_run(
    service: &Service,
    smsc: &Smsc,
    run: usize,
    options: &ChannelOptions,
) -> anyhow::Result<Vec<f64>> {
    smsc.control(serde_json::json!({"command": "reset"}))
        .await?;
    let since_s = service.now_s();
    let (_, delivered_before) = progress(service, since_s).await?;
    let count = (options.rate_per_s * options.seconds) as usize;
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / options.rate_per_s as u32);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(count);
    for n in 0..count {
        ticks.tick().await;
        let service = service.clone();
        sends.push(tokio::spawn(async move {
            enqueue(&service, &format!("Bench latency {run} {n}")).await
        }));
    }
    let mut committed = Vec::with_capacity(count);
    for send in sends {
        committed.push(send.await??);
    }
    let deadline = Instant::now() + WAIT_MAX;
    while progress(service, since_s).await?.1 - delivered_before < count as u64 {
        if Instant::now() > deadline {
            bail!("{count} messages not delivered in {WAIT_MAX:?}");
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }
    let mut latencies = submit_latencies(smsc, run, &committed).await?;
    latencies.sort_by(|a, b| a.total_cmp(b));
    say!(
        "  run {}: {count} messages at {}/s, commit -> submit_sm p50 {:.1} ms, p99 {:.1} ms, \
         max {:.1} ms",
        run + 1,
        options.rate_per_s,
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        quantile(&latencies, 1.0),
    );
    Ok(latencies)
}

/// Milliseconds from each message's commit to the simulator's receipt of its `submit_sm`.
async fn submit_latencies(
    smsc: &Smsc,
    run: usize,
    committed: &[SystemTime],
) -> anyhow::Result<Vec<f64>> {
    let prefix = format!("Bench latency {run} ");
    let messages = smsc.get("/messages").await?;
    let mut latencies = Vec::with_capacity(committed.len());
    for message in messages.as_array().into_iter().flatten() {
        let n = message["text"]
            .as_str()
            .and_then(|text| text.strip_prefix(&prefix))
            .and_then(|n| n.parse::<usize>().ok())
            .context("a message the benchmark did not send")?;
        let received = message["parts"][0]["received_at"]
            .as_str()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .context("a part without its time")?;
        let commit = chrono::DateTime::<chrono::Utc>::from(
            *committed.get(n).context("a message number out of range")?,
        );
        latencies.push((received.to_utc() - commit).as_seconds_f64() * 1000.0);
    }
    if latencies.len() != committed.len() {
        bail!(
            "the simulator received {} messages of {}",
            latencies.len(),
            committed.len()
        );
    }
    Ok(latencies)
}

/// The simulator's script: `--smsc-script`, `$SCEAU_SMSC_SCRIPT`, `tests/smsc/smsc.js` here
/// or in the repository the benchmark was built from; with its npm package installed.
fn simulator_script(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let script = match (given, std::env::var_os(SMSC_SCRIPT_ENV)) {
        (Some(path), _) => path.to_owned(),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => [
            PathBuf::from("tests/smsc/smsc.js"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smsc/smsc.js"),
        ]
        .into_iter()
        .find(|path| path.is_file())
        .context(
            "the SMSC simulator (tests/smsc/smsc.js) is not here: run from the repository, \
             or give --smsc-script PATH or SCEAU_SMSC_SCRIPT",
        )?,
    };
    if !script.is_file() {
        bail!(
            "the SMSC simulator's script {} does not exist",
            script.display()
        );
    }
    let directory = script.parent().unwrap_or(Path::new("."));
    if !directory.join("node_modules/smpp").is_dir() {
        bail!(
            "the SMSC simulator's npm package is missing: run npm ci --prefix {}",
            directory.display()
        );
    }
    Ok(script)
}

fn node(script: &Path) -> Command {
    let mut command = Command::new("node");
    command
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

fn spawn(mut command: Command) -> anyhow::Result<Child> {
    command.spawn().map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => {
            anyhow::anyhow!("node is not installed (the SMSC simulator runs on it)")
        }
        _ => anyhow::Error::new(error).context("starting node"),
    })
}

/// The first line `child` prints, as JSON.
async fn first_line(child: &mut Child, what: &str) -> anyhow::Result<Value> {
    let stdout = child.stdout.take().context("node's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(WAIT_MAX, lines.next_line())
        .await
        .with_context(|| format!("waiting for {what}"))??
        .with_context(|| format!("node stopped before {what}"))?;
    // Keeps the pipe open: nothing more is read from it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    serde_json::from_str(&line).with_context(|| format!("{what}: {line:?}"))
}

/// submit_sm per second the simulator answers on one bind with the window, measured by
/// its own light client against a simulator of its own.
async fn simulator_ceiling(script: &Path) -> anyhow::Result<f64> {
    let smsc = Smsc::start(script).await?;
    let load = script.with_file_name("load.js");
    let mut command = node(&load);
    command.args([
        "--port",
        &smsc.smpp_port.to_string(),
        "--system-id",
        SYSTEM_ID,
        "--password",
        PASSWORD,
        "--window",
        &WINDOW.to_string(),
        "--seconds",
        &CEILING_SECONDS.to_string(),
    ]);
    let mut child = spawn(command)?;
    let measured = first_line(&mut child, "the simulator's ceiling").await?;
    measured["answered_per_second"]
        .as_f64()
        .with_context(|| format!("the simulator's ceiling: {measured}"))
}

/// The simulator, killed when dropped.
struct Smsc {
    _process: Child,
    smpp_port: u16,
    control: String,
    http: reqwest::Client,
}

impl Smsc {
    async fn start(script: &Path) -> anyhow::Result<Smsc> {
        let mut command = node(script);
        command.args(["--system-id", SYSTEM_ID, "--password", PASSWORD, "--quiet"]);
        let mut process = spawn(command)?;
        let ports = first_line(&mut process, "the simulator's ports").await?;
        let port = |name: &str| {
            ports[name]
                .as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .with_context(|| format!("the simulator's {name} port in {ports}"))
        };
        Ok(Smsc {
            smpp_port: port("smpp")?,
            control: format!("http://127.0.0.1:{}", port("control")?),
            http: reqwest::Client::builder().no_proxy().build()?,
            _process: process,
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.http.get(format!("{}{path}", self.control)).send();
        Ok(response.await?.error_for_status()?.json().await?)
    }

    async fn control(&self, command: Value) -> anyhow::Result<Value> {
        let url = format!("{}/control", self.control);
        let response = self.http.post(url).json(&command).send().await?;
        Ok(response.error_for_status()?.json().await?)
    }

    /// Waits until the simulator's stats satisfy `condition`.
    async fn wait(&self, what: &str, condition: impl Fn(&Value) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT_MAX;
        while !condition(&self.get("/stats").await?) {
            if Instant::now() > deadline {
                bail!("waited for {what} in vain");
            }
            tokio::time::sleep(POLL_PAUSE).await;
        }
        Ok(())
    }
}
