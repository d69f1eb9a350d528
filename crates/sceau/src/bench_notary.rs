//! `sceau bench --scenario notary`: notarizations end to end over HTTP, as stations make
//! them, against a real `sceau serve`:
//!
//! - envelopes of one 100 KiB file per second, each one whole: a station key made,
//!   `POST /api/v1/envelopes` (its disposable certificate), the manifest hashed and
//!   signed, `POST …/manifest`, the file `PUT`, the seal read on the development phone
//!   (the page of that client's phone's newest text, `limit=1`), `POST …/seal`, answered
//!   `notarized` (every signature time-stamped, the container made, all archived);
//!   closed loop, one envelope at a time per connection; p50 and p99 of a whole envelope;
//! - one 256 MiB file's upload: MB/s of the `PUT`, and the server's resident memory
//!   (VmRSS, sampled every 20 ms) above what it was at rest before the upload.

use anyhow::{Context, bail};
use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use sceau_domain::envelope::{FileEntry, FileName, Manifest};
use sceau_pki::station::StationKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// The size of each envelope's file.
const SMALL_FILE_BYTES: usize = 100 * 1024;
/// The size of the large upload.
const LARGE_FILE_BYTES: usize = 256 * 1024 * 1024;
/// Texts of the phone page read for a seal before giving up (at most 20 ms apart).
const SEAL_READS_MAX: usize = 2_500;
/// How long after the upload's answer the phone page is first read for the seal.
const SEAL_FIRST_READ_AFTER: Duration = Duration::from_millis(3);

/// A signed-in client of the benchmark.
pub struct Station {
    pub base: String,
    pub phone: String,
    pub cookie: String,
    pub csrf: String,
}

/// The figures of one run of envelopes.
pub struct EnvelopeRun {
    pub envelopes: usize,
    pub per_s: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Phone pages read per envelope to find its seal.
    pub seal_reads: f64,
    /// The median of each step of an envelope, in [`STEPS`]' order.
    pub step_p50s: [Duration; STEPS.len()],
}

/// The steps of an envelope, as the run reports them: the envelope opened (its
/// certificate), the manifest accepted, the file uploaded, the seal found on the phone
/// (from the upload's answer), the seal typed and answered notarized.
pub const STEPS: [&str; 5] = ["open", "manifest", "upload", "seal on phone", "seal typed"];

pub(crate) async fn post(
    http: &reqwest::Client,
    station: &Station,
    path: &str,
    body: Value,
    what: &str,
) -> anyhow::Result<Value> {
    let reply = http
        .post(format!("{}{path}", station.base))
        .header(COOKIE, &station.cookie)
        .header("x-csrf-token", &station.csrf)
        .json(&body)
        .send()
        .await
        .with_context(|| what.to_owned())?;
    let status = reply.status();
    let text = reply.text().await?;
    if !status.is_success() {
        bail!(
            "{what}: {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&text)?)
}

/// Opens an envelope of one file named `name` with these bytes' size and SHA-256, and
/// has its manifest accepted; returns the envelope's id, and when it was opened (the
/// manifest's step starts then).
async fn opened(
    http: &reqwest::Client,
    station: &Station,
    name: &str,
    size: usize,
    sha256: [u8; 32],
) -> anyhow::Result<(String, Instant)> {
    let key = StationKey::new();
    let opened = post(
        http,
        station,
        "/api/v1/envelopes",
        json!({"public_key": BASE64.encode(key.public_key_der()?)}),
        "opening an envelope",
    )
    .await?;
    let opened_at = Instant::now();
    let id = opened["id"].as_str().context("no envelope id")?.to_owned();
    let manifest = Manifest {
        envelope: id.clone(),
        certificate: opened["certificate_serial"]
            .as_str()
            .context("no certificate serial")?
            .to_owned(),
        files: vec![FileEntry {
            name: FileName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?,
            size: size as u64,
            sha256,
        }],
        destinations: Vec::new(),
    }
    .canonical()?;
    let signature = BASE64.encode(key.sign(manifest.as_bytes()));
    post(
        http,
        station,
        &format!("/api/v1/envelopes/{id}/manifest"),
        json!({"manifest": manifest, "signature": signature}),
        "sending the manifest",
    )
    .await?;
    Ok((id, opened_at))
}

/// PUTs an envelope's file.
async fn put_file(
    http: &reqwest::Client,
    station: &Station,
    id: &str,
    body: reqwest::Body,
) -> anyhow::Result<Value> {
    let reply = http
        .put(format!("{}/api/v1/envelopes/{id}/files/0", station.base))
        .header(COOKIE, &station.cookie)
        .header("x-csrf-token", &station.csrf)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await?;
    let status = reply.status();
    let text = reply.text().await?;
    if status != StatusCode::OK {
        bail!(
            "uploading: {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&text)?)
}

/// The newest text on the station's phone page (as the page shows it): the page of that
/// one text only (`limit=1`), so that reading the seal costs the server little.
async fn newest_text(http: &reqwest::Client, station: &Station) -> anyhow::Result<Option<String>> {
    let page = http
        .get(format!(
            "{}/phone?to={}&limit=1",
            station.base,
            station.phone.replace('+', "%2B")
        ))
        .send()
        .await?
        .text()
        .await?;
    Ok(page.split("<li class=\"sms\"").nth(1).map(str::to_owned))
}

/// The seal of the envelope of the file `name` (`bench-<n>.bin`: no name is part of
/// another), from the first text on the phone page that names it. The first read waits [`SEAL_FIRST_READ_AFTER`]: the seal is sent by the
/// dispatcher after the upload's answer, and a read before it only costs the server a
/// page. Every read is counted in `reads`.
async fn seal_for(
    http: &reqwest::Client,
    station: &Station,
    name: &str,
    reads: &AtomicU64,
) -> anyhow::Result<String> {
    tokio::time::sleep(SEAL_FIRST_READ_AFTER).await;
    for _ in 0..SEAL_READS_MAX {
        reads.fetch_add(1, Ordering::Relaxed);
        if let Some(text) = newest_text(http, station).await?
            && text.contains(name)
            && text.contains("to sign 1 file")
            && let Some(at) = text.find("your seal is ")
        {
            return Ok(text[at + "your seal is ".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    bail!("no seal reached {}", station.phone)
}

/// One whole envelope of `file`: opened, its file uploaded, its seal read and typed;
/// how long each of its [`STEPS`] took, and its id.
pub(crate) async fn one_envelope(
    http: &reqwest::Client,
    station: &Station,
    file: &bytes::Bytes,
    sha256: [u8; 32],
    sequence: u64,
    seal_reads: &AtomicU64,
) -> anyhow::Result<([Duration; STEPS.len()], String)> {
    let name = format!("bench-{sequence}.bin");
    let started = Instant::now();
    let (id, opened_at) = opened(http, station, &name, file.len(), sha256).await?;
    let manifest_at = Instant::now();
    let view = put_file(http, station, &id, reqwest::Body::from(file.clone())).await?;
    if view["state"] != "awaiting_seal" {
        bail!("after its file the envelope is {}", view["state"]);
    }
    let uploaded_at = Instant::now();
    let seal = seal_for(http, station, &name, seal_reads).await?;
    let seal_at = Instant::now();
    let view = post(
        http,
        station,
        &format!("/api/v1/envelopes/{id}/seal"),
        json!({"seal": seal}),
        "typing the seal",
    )
    .await?;
    if view["state"] != "notarized" {
        bail!(
            "after its seal the envelope is {}: {}",
            view["state"],
            view["waiting"]
        );
    }
    Ok((
        [
            opened_at - started,
            manifest_at - opened_at,
            uploaded_at - manifest_at,
            seal_at - uploaded_at,
            seal_at.elapsed(),
        ],
        id,
    ))
}

/// `envelopes` whole envelopes over `stations` (one at a time each), closed loop.
pub async fn envelopes_run(
    http: &reqwest::Client,
    stations: &Arc<Vec<Station>>,
    envelopes: usize,
) -> anyhow::Result<EnvelopeRun> {
    let file = bytes::Bytes::from(
        (0..SMALL_FILE_BYTES)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let sha256: [u8; 32] = Sha256::digest(&file).into();
    let next = Arc::new(AtomicUsize::new(0));
    let sequence = Arc::new(AtomicU64::new(rand::random::<u32>().into()));
    let seal_reads = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..stations.len() {
        let (http, stations, next, sequence, file, seal_reads) = (
            http.clone(),
            Arc::clone(stations),
            Arc::clone(&next),
            Arc::clone(&sequence),
            file.clone(),
            Arc::clone(&seal_reads),
        );
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < envelopes {
                let at = Instant::now();
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let (steps, _) =
                    one_envelope(&http, &stations[index], &file, sha256, n, &seal_reads).await?;
                latencies.push((at.elapsed(), steps));
            }
            anyhow::Ok(latencies)
        });
    }
    let (mut whole, steps) = gather_timed(tasks, "an envelope task failed").await?;
    let elapsed = started.elapsed();
    Ok(EnvelopeRun {
        envelopes: whole.len(),
        per_s: whole.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        p50: quantile(&mut whole, 0.50),
        p99: quantile(&mut whole, 0.99),
        seal_reads: seal_reads.load(Ordering::Relaxed) as f64 / whole.len().max(1) as f64,
        step_p50s: steps.map(|mut step| quantile(&mut step, 0.5)),
    })
}

/// What the tasks of a closed loop of whole items (envelopes, recipients) timed, each
/// item as its latency and the durations of its `N` steps: every latency, and every
/// duration of each step.
pub type Timed<const N: usize> = (Vec<Duration>, [Vec<Duration>; N]);

/// The items one task of such a loop timed: each one's latency and step durations.
pub type TimedItems<const N: usize> = anyhow::Result<Vec<(Duration, [Duration; N])>>;

/// Waits for every task of a closed loop and gathers what they timed; fails with
/// `failed` if one did.
pub async fn gather_timed<const N: usize>(
    mut tasks: tokio::task::JoinSet<TimedItems<N>>,
    failed: &'static str,
) -> anyhow::Result<Timed<N>> {
    let mut whole = Vec::new();
    let mut steps: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::new());
    while let Some(joined) = tasks.join_next().await {
        for (latency, taken) in joined.context(failed)?? {
            whole.push(latency);
            for (step, duration) in steps.iter_mut().zip(taken) {
                step.push(duration);
            }
        }
    }
    Ok((whole, steps))
}

/// The `q` quantile of `latencies` (sorted in place); zero if there are none.
pub fn quantile(latencies: &mut [Duration], q: f64) -> Duration {
    latencies.sort();
    latencies
        .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// A process's resident memory now (VmRSS), in bytes.
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The large upload: its MB/s, and the server's resident memory at most above rest.
pub async fn large_upload(
    http: &reqwest::Client,
    station: &Station,
    server_pid: u32,
) -> anyhow::Result<(f64, u64)> {
    // The file's bytes, made and hashed in pieces: the benchmark holds one piece at a
    // time, as a station streaming from disk does.
    const PIECE: usize = 1 << 20;
    let piece = |index: usize| -> bytes::Bytes {
        let mut bytes = vec![0_u8; PIECE];
        for (offset, byte) in bytes.iter_mut().enumerate() {
            *byte = ((index * 31 + offset * 7) % 253) as u8;
        }
        bytes::Bytes::from(bytes)
    };
    let pieces = LARGE_FILE_BYTES / PIECE;
    let mut hasher = Sha256::new();
    for index in 0..pieces {
        hasher.update(piece(index));
    }
    let sha256: [u8; 32] = hasher.finalize().into();
    let (id, _) = opened(http, station, "large.bin", LARGE_FILE_BYTES, sha256).await?;
    let at_rest = resident_bytes(server_pid).context("reading the server's memory")?;
    let peak = Arc::new(AtomicU64::new(at_rest));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (Arc::clone(&peak), Arc::clone(&sampling));
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(now) = resident_bytes(server_pid) {
                    peak.fetch_max(now, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let stream = futures_util::stream::iter(
        (0..pieces).map(move |index| Ok::<_, std::io::Error>(piece(index))),
    );
    let started = Instant::now();
    let view = put_file(http, station, &id, reqwest::Body::wrap_stream(stream)).await?;
    let elapsed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    if view["state"] != "awaiting_seal" {
        bail!("after the large file the envelope is {}", view["state"]);
    }
    let mb_per_s = LARGE_FILE_BYTES as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9);
    Ok((
        mb_per_s,
        peak.load(Ordering::Relaxed).saturating_sub(at_rest),
    ))
}
