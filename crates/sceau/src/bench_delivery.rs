//! `sceau bench --scenario delivery`: certified delivery's recipients end to end over
//! HTTP, against a real `sceau serve` on the development phone and mailbox. Each
//! connection is a sender with one notarized envelope (one 100 KiB file, made before the
//! runs); each recipient, whole: the delivery sent to them (`POST
//! /api/v1/envelopes/{id}/deliveries`), the notice read in the development mailbox (the
//! link), the code asked for, read on the phone (`limit=1`) and typed (the recipient's
//! session), the withdrawal certificate for a key made here, the file and its signature
//! downloaded, the answer signed and accepted, and the sender's receipt of it; closed
//! loop, one recipient at a time per connection. The browser's own check (hashing and
//! verifying) is the client's work and is left out: the figure is the server's.

use crate::bench_notary::{Station, gather_timed, one_envelope, post, quantile};
use anyhow::{Context, bail};
use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use sceau_pki::station::StationKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// The size of the delivered file.
const FILE_BYTES: usize = 100 * 1024;
/// Reads of a page (mailbox, phone) for what the dispatcher sends, before giving up.
const READS_MAX: usize = 2_500;
/// How long after the request that queues a message its page is first read: the
/// dispatcher sends it after the answer, and a read before costs the server a page.
const FIRST_READ_AFTER: Duration = Duration::from_millis(3);

/// The steps of a recipient, as the run reports them.
pub const STEPS: [&str; 6] = ["sent", "notice", "code", "withdrawal", "answer", "receipt"];

/// The figures of one run.
pub struct RecipientRun {
    pub recipients: usize,
    pub per_s: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// The median of each step, in [`STEPS`]' order.
    pub step_p50s: [Duration; STEPS.len()],
}

/// A sender and their notarized envelope.
pub struct Sender {
    station: Station,
    envelope: String,
}

/// One notarized envelope of one 100 KiB file for each station (before the runs).
pub async fn senders(
    http: &reqwest::Client,
    stations: Vec<Station>,
) -> anyhow::Result<Arc<Vec<Sender>>> {
    let file = bytes::Bytes::from(
        (0..FILE_BYTES)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let sha256: [u8; 32] = Sha256::digest(&file).into();
    let reads = AtomicU64::new(0);
    let mut senders = Vec::with_capacity(stations.len());
    for (n, station) in stations.into_iter().enumerate() {
        let sequence = u64::from(rand::random::<u32>()) + n as u64;
        let (_, envelope) = one_envelope(http, &station, &file, sha256, sequence, &reads).await?;
        senders.push(Sender { station, envelope });
    }
    Ok(Arc::new(senders))
}

/// The newest item of a development page (`/mailbox` or `/phone`) for `to`, if any.
async fn newest(
    http: &reqwest::Client,
    base: &str,
    page: &str,
    to: &str,
    marker: &str,
) -> anyhow::Result<Option<String>> {
    let text = http
        .get(format!("{base}/{page}"))
        .query(&[("to", to), ("limit", "1")])
        .send()
        .await?
        .text()
        .await?;
    Ok(text.split(marker).nth(1).map(str::to_owned))
}

/// Waits (bounded) for `find` to read something on a development page.
async fn wait_for(
    http: &reqwest::Client,
    base: &str,
    page: &str,
    to: &str,
    marker: &str,
    find: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    tokio::time::sleep(FIRST_READ_AFTER).await;
    for _ in 0..READS_MAX {
        if let Some(item) = newest(http, base, page, to, marker).await?
            && let Some(found) = find(&item)
        {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    bail!("nothing reached {to} on /{page}")
}

/// One recipient of `sender`'s envelope, whole; how long each of its [`STEPS`] took.
async fn one_recipient(
    http: &reqwest::Client,
    sender: &Sender,
    n: u64,
) -> anyhow::Result<[Duration; STEPS.len()]> {
    let base = &sender.station.base;
    let email = format!("r{n}@bench.example");
    let phone = format!("+3370{:07}", n % 10_000_000);
    let started = Instant::now();
    let delivery = post(
        http,
        &sender.station,
        &format!("/api/v1/envelopes/{}/deliveries", sender.envelope),
        json!({"recipients": [{"email": email, "phone": phone}]}),
        "sending a delivery",
    )
    .await?;
    let delivery_id = delivery["id"]
        .as_str()
        .context("no delivery id")?
        .to_owned();
    let sent_at = Instant::now();
    let token = wait_for(
        http,
        base,
        "mailbox",
        &email,
        "<li class=\"mail\"",
        |mail| {
            let at = mail.find("/d/")? + 3;
            let token: String = mail[at..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            (token.len() == 64).then_some(token)
        },
    )
    .await?;
    let noticed_at = Instant::now();
    let link = format!("{base}/d/{token}");
    let asked = http
        .post(format!("{link}/code"))
        .header("origin", base.as_str())
        .send()
        .await?;
    if asked.status() != StatusCode::OK {
        bail!("asking for the code: {}", asked.status());
    }
    let code = wait_for(http, base, "phone", &phone, "<li class=\"sms\"", |text| {
        let at = text.find("code ")? + 5;
        let code: String = text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!code.is_empty()).then_some(code)
    })
    .await?;
    let opened = http
        .post(format!("{link}/session"))
        .header("origin", base.as_str())
        .form(&[("code", code)])
        .send()
        .await?;
    let cookie = crate::cookie_set(opened.headers(), None).context("the code opened no session")?;
    let session = cookie.split_once('=').map_or("", |(_, token)| token);
    let csrf = sceau_server::api::delivery::recipient_csrf(session);
    let coded_at = Instant::now();
    let key = StationKey::new();
    let withdrawal: Value = http
        .post(format!("{link}/withdrawal"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"public_key": BASE64.encode(key.public_key_der()?)}))
        .send()
        .await?
        .json()
        .await?;
    let serial = withdrawal["serial"]
        .as_str()
        .with_context(|| format!("no withdrawal certificate: {withdrawal}"))?
        .to_owned();
    let file = http
        .get(format!("{link}/files/0"))
        .header(COOKIE, &cookie)
        .send()
        .await?
        .bytes()
        .await?;
    let signature = http
        .get(format!("{link}/files/0/signature.p7s"))
        .header(COOKIE, &cookie)
        .send()
        .await?
        .bytes()
        .await?;
    if file.len() != FILE_BYTES || signature.is_empty() {
        bail!("the file or its signature did not come whole");
    }
    let withdrawn_at = Instant::now();
    let statement = serde_json::to_string(&json!({
        "type": "sceau-delivery-answer/1",
        "delivery": delivery_id,
        "recipient": 0,
        "certificate": serial,
        "answer": "accept",
        "files": [{
            "position": 0,
            "sha256": hex::encode(Sha256::digest(&file)),
            "digest_matches": true,
            "signature_valid": true,
        }],
    }))?;
    let answered = http
        .post(format!("{link}/answer"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({
            "statement": statement,
            "signature": BASE64.encode(key.sign(statement.as_bytes())),
        }))
        .send()
        .await?;
    let status = answered.status();
    let answer: Value = answered.json().await?;
    if answer["state"] != "accepted" {
        bail!("answering: {status} {answer}");
    }
    let answered_at = Instant::now();
    let path = format!("/api/v1/deliveries/{delivery_id}/recipients/0/receipt");
    for _ in 0..READS_MAX {
        let receipt = http
            .get(format!("{base}{path}"))
            .header(COOKIE, &sender.station.cookie)
            .send()
            .await?;
        match receipt.status() {
            StatusCode::OK => {
                let bytes = receipt.bytes().await?;
                if !bytes.starts_with(b"{") {
                    bail!("the receipt is not JSON");
                }
                return Ok([
                    sent_at - started,
                    noticed_at - sent_at,
                    coded_at - noticed_at,
                    withdrawn_at - coded_at,
                    answered_at - withdrawn_at,
                    answered_at.elapsed(),
                ]);
            }
            // The log had not included the answer's records yet.
            StatusCode::CONFLICT => tokio::time::sleep(Duration::from_millis(5)).await,
            other => bail!("the receipt: {other}"),
        }
    }
    bail!("no receipt for delivery {delivery_id}")
}

/// `recipients` recipients over `senders` (one at a time each), closed loop.
pub async fn recipients_run(
    http: &reqwest::Client,
    senders: &Arc<Vec<Sender>>,
    recipients: usize,
) -> anyhow::Result<RecipientRun> {
    let next = Arc::new(AtomicUsize::new(0));
    let sequence = Arc::new(AtomicU64::new(u64::from(rand::random::<u16>()) * 1_000));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..senders.len() {
        let (http, senders, next, sequence) = (
            http.clone(),
            Arc::clone(senders),
            Arc::clone(&next),
            Arc::clone(&sequence),
        );
        tasks.spawn(async move {
            let mut taken = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < recipients {
                let at = Instant::now();
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let steps = one_recipient(&http, &senders[index], n).await?;
                taken.push((at.elapsed(), steps));
            }
            anyhow::Ok(taken)
        });
    }
    let (mut whole, steps) = gather_timed(tasks, "a recipient task failed").await?;
    let elapsed = started.elapsed();
    Ok(RecipientRun {
        recipients: whole.len(),
        per_s: whole.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        p50: quantile(&mut whole, 0.5),
        p99: quantile(&mut whole, 0.99),
        step_p50s: steps.map(|mut step| quantile(&mut step, 0.5)),
    })
}
