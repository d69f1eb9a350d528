//! `sceau bench --scenario payment`: whole payments by seal per second over HTTP, against
//! a real `sceau serve` on the development phone. Each connection is a shopper (a client
//! signed in once, and the merchant whose checkouts it pays) running payments one after
//! the other, each whole, as in Figures 1 to 5: the merchant creates a checkout (`POST
//! /v1/checkouts`), the client holds it (`POST /pay/{id}/hold`: the single-use number
//! drawn and the amount held) and validates it (`POST /pay/{id}/validate`: the seal
//! derived and its SMS queued; the dispatcher delivers it), reads the seal on the phone
//! (`GET /phone?to=…&limit=1`, the newest text only) and types it (`POST /pay/{id}/seal`:
//! captured, paid). A run ends when its payments are paid **and** their receipts (the
//! client's CMS signature of the `checkout.paid` record with its RFC 3161 time-stamp)
//! are stored: the rate counts the receipts (with `--no-receipts` the clients have no
//! certificate and the run ends with the last answer).
//!
//! The shoppers speak raw HTTP/1.1 on keep-alive connections (the load generator's
//! client, not reqwest), so that the figure is the server's; what reading the seal
//! costs the server is measured apart (`phone_read_cost`) and reported next to it.

use crate::loadgen::{self, Client};
use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The steps of a payment, as the run reports them.
pub const STEPS: [&str; 5] = ["create", "hold", "validate", "seal read", "seal typed"];
/// Reads of the phone for one seal, before giving up.
const READS_MAX: u64 = 5_000;
/// The pause between two reads of the phone that found no new seal yet, at first; it
/// doubles after each read up to [`READ_PAUSE_MAX`], so that a slow dispatcher is not
/// made slower by reads (each costs the server a page).
const READ_PAUSE: Duration = Duration::from_millis(1);
const READ_PAUSE_MAX: Duration = Duration::from_millis(16);
/// How long after "validate" answers the phone is first read: the dispatcher sends the
/// seal after the answer (a commit later), and a read before it costs the server a page
/// for nothing.
const FIRST_READ_AFTER: Duration = Duration::from_millis(3);
/// The pause between two counts of the run's receipts once every payment is answered
/// (each reads the run's rows: a few milliseconds for 10,000).
const RECEIPTS_POLL_PAUSE: Duration = Duration::from_millis(10);
/// How long the run waits for the last receipts once every payment is paid.
const RECEIPTS_WAIT_MAX: Duration = Duration::from_secs(120);
/// Latencies recorded up to this many microseconds (a minute).
const LATENCY_MAX_US: u64 = 60_000_000;

/// Where the benchmark counts the stored receipts: a read-only connection to the SQLite
/// file (no writer, no checkpointer of its own beside the server's), or the PostgreSQL
/// store.
pub enum Receipts {
    Sqlite(std::path::PathBuf),
    Store(Arc<dyn sceau_store::Store>),
}

impl Receipts {
    /// How many receipts sign records after `evidence_id`, and the newest one's id
    /// (`Store::receipts_after`): only the run's rows are read.
    async fn after(&self, evidence_id: i64) -> anyhow::Result<(i64, i64)> {
        match self {
            Receipts::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let connection = rusqlite::Connection::open_with_flags(
                        &path,
                        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    let found = connection.query_row(
                        "SELECT count(*), coalesce(max(evidence_id), ?1) FROM receipts \
                         WHERE evidence_id > ?1",
                        [evidence_id],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )?;
                    anyhow::Ok(found)
                })
                .await?
            }
            Receipts::Store(store) => Ok(store.receipts_after(evidence_id).await?),
        }
    }
}

/// A client in its browser, signed in once for the whole benchmark, and the merchant
/// whose checkouts it pays.
pub struct Shopper {
    pub address: SocketAddr,
    /// `Bearer sk_...`
    pub merchant: String,
    pub phone: String,
    /// `sceau_session=...`
    pub cookie: String,
    pub csrf: String,
}

/// The figures of one run.
pub struct PaymentRun {
    pub payments: usize,
    pub per_s: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// The median and the 99th percentile of each step, in [`STEPS`]' order.
    pub steps: [(Duration, Duration); STEPS.len()],
    /// Reads of the phone per payment (the first read may come before the dispatcher
    /// has sent the seal).
    pub phone_reads_per_payment: f64,
    /// The servers' CPU time per payment (user and system, every thread), receipts
    /// included; `None` when /proc could not be read.
    pub cpu_per_payment: Option<Duration>,
    /// How long the receipts took after the last payment was paid.
    pub receipts_tail: Duration,
}

struct Tally {
    whole: Histogram<u64>,
    steps: Vec<Histogram<u64>>,
    reads: u64,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        let histogram = || Histogram::<u64>::new_with_bounds(1, LATENCY_MAX_US, 3);
        Ok(Self {
            whole: histogram()?,
            steps: (0..STEPS.len())
                .map(|_| histogram())
                .collect::<Result<_, _>>()?,
            reads: 0,
        })
    }

    fn add(&mut self, other: &Tally) -> anyhow::Result<()> {
        self.whole.add(&other.whole)?;
        for (mine, theirs) in self.steps.iter_mut().zip(&other.steps) {
            mine.add(theirs)?;
        }
        self.reads += other.reads;
        Ok(())
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, LATENCY_MAX_US)
}

fn quantile(histogram: &Histogram<u64>, q: f64) -> Duration {
    Duration::from_micros(histogram.value_at_quantile(q))
}

/// `payments` whole payments shared by `shoppers` (each running one at a time), tagged
/// `tag`; every step must answer as a browser expects, and every payment's receipt must
/// be stored before the run ends (`with_receipts`: the clients have certificates).
/// `pids` are the servers', for their CPU time.
pub async fn run(
    shoppers: &Arc<Vec<Shopper>>,
    (receipts, with_receipts): (&Receipts, bool),
    payments: usize,
    tag: &str,
    pids: &[u32],
) -> anyhow::Result<(PaymentRun, Vec<(usize, String)>)> {
    // The newest receipt before the run: the run's are those after it.
    let (_, newest_before) = receipts.after(0).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = crate::bench::cpu_seconds(pids);
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for index in 0..shoppers.len() {
        let (shoppers, next) = (Arc::clone(shoppers), Arc::clone(&next));
        let tag = tag.to_owned();
        running.spawn(async move {
            let shopper = &shoppers[index];
            let mut client = Client::new(shopper.address);
            let mut tally = Tally::new()?;
            let mut paid = Vec::new();
            let mut body = Vec::with_capacity(16 * 1024);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= payments {
                    break;
                }
                let object = format!("bench {tag} no {n}");
                let id = one_payment(&mut client, shopper, &object, &mut tally, &mut body)
                    .await
                    .with_context(|| format!("payment {n} of shopper {index}"))?;
                paid.push((index, id));
            }
            anyhow::Ok((tally, paid))
        });
    }
    let mut tally = Tally::new()?;
    let mut paid = Vec::with_capacity(payments);
    while let Some(joined) = running.join_next().await {
        let (theirs, their_paid) = joined.context("a shopper's task failed")??;
        tally.add(&theirs)?;
        paid.extend(their_paid);
    }
    let all_paid = Instant::now();
    let expected = if with_receipts {
        i64::try_from(payments)?
    } else {
        0
    };
    loop {
        let (count, _) = receipts.after(newest_before).await?;
        if count >= expected {
            break;
        }
        if all_paid.elapsed() > RECEIPTS_WAIT_MAX {
            // A seal's 303 is also the answer of a checkout failed by wrong seals, which
            // makes no receipt: either way these payments are not whole.
            bail!(
                "{} of {payments} payments have no receipt stored {} s after the last answer (not paid, or their receipt not signed)",
                expected - count,
                RECEIPTS_WAIT_MAX.as_secs()
            );
        }
        tokio::time::sleep(RECEIPTS_POLL_PAUSE).await;
    }
    let elapsed = started.elapsed();
    let cpu_per_payment = match (cpu_before, crate::bench::cpu_seconds(pids)) {
        (Some(before), Some(after)) => Some(Duration::from_secs_f64(
            (after - before).max(0.0) / payments.max(1) as f64,
        )),
        _ => None,
    };
    let mut steps = [(Duration::ZERO, Duration::ZERO); STEPS.len()];
    for (step, histogram) in steps.iter_mut().zip(&tally.steps) {
        *step = (quantile(histogram, 0.5), quantile(histogram, 0.99));
    }
    Ok((
        PaymentRun {
            payments,
            per_s: payments as f64 / elapsed.as_secs_f64().max(1e-9),
            p50: quantile(&tally.whole, 0.5),
            p99: quantile(&tally.whole, 0.99),
            steps,
            phone_reads_per_payment: tally.reads as f64 / payments.max(1) as f64,
            cpu_per_payment,
            receipts_tail: all_paid.elapsed(),
        },
        paid,
    ))
}

/// Sends a request as the shopper's browser (its session and the server's origin) or
/// merchant; fails unless the answer has status `status`.
async fn expect(
    client: &mut Client,
    (method, path): (&str, &str),
    headers: &[(&str, &str)],
    content: &[u8],
    status: u16,
    body: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let got = client.send(method, path, headers, content, body).await?;
    if got != status {
        bail!(
            "{method} {path}: {got} instead of {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(400)])
        );
    }
    Ok(())
}

/// One whole payment of `object`; returns the checkout's id.
async fn one_payment(
    client: &mut Client,
    shopper: &Shopper,
    object: &str,
    tally: &mut Tally,
    body: &mut Vec<u8>,
) -> anyhow::Result<String> {
    let origin = format!("http://{}", shopper.address);
    let browser = [
        ("Cookie", shopper.cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let form = format!("csrf={}", shopper.csrf);
    let started = Instant::now();
    let mut step_started = started;
    let mut lap = |tally: &mut Tally, step: usize| {
        let now = Instant::now();
        // Recording cannot fail: values are clamped within the histogram's bounds.
        let _ = tally.steps[step].record(micros(now - step_started));
        step_started = now;
    };

    let checkout = serde_json::json!({
        "amount": "1.00", "currency": "EUR", "reference": "bench payment",
        "object": object, "return_url": "https://shop.example/return",
    })
    .to_string();
    expect(
        client,
        ("POST", "/v1/checkouts"),
        &[
            ("Authorization", shopper.merchant.as_str()),
            ("Content-Type", "application/json"),
        ],
        checkout.as_bytes(),
        201,
        body,
    )
    .await?;
    let id = created_id(body).context("a created checkout without its id")?;
    lap(tally, 0);
    for (step, action) in [(1, "hold"), (2, "validate")] {
        expect(
            client,
            ("POST", &format!("/pay/{id}/{action}")),
            &browser,
            form.as_bytes(),
            303,
            body,
        )
        .await?;
        lap(tally, step);
    }

    let phone_page = format!("/phone?to={}&limit=1", shopper.phone.replace('+', "%2B"));
    let mut seal = None;
    let mut pause = READ_PAUSE;
    tokio::time::sleep(FIRST_READ_AFTER).await;
    for _ in 0..READS_MAX {
        tally.reads += 1;
        expect(client, ("GET", &phone_page), &[], b"", 200, body).await?;
        let page = std::str::from_utf8(body)?;
        if let Some((_, digits)) = crate::bench::seals_on_phone(page)
            .into_iter()
            .find(|(on_phone, _)| *on_phone == object)
        {
            seal = Some(digits.to_owned());
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(READ_PAUSE_MAX);
    }
    let seal = seal.with_context(|| format!("the seal of {id} did not reach the phone"))?;
    lap(tally, 3);

    let typed = format!("{form}&seal={seal}");
    expect(
        client,
        ("POST", &format!("/pay/{id}/seal")),
        &browser,
        typed.as_bytes(),
        303,
        body,
    )
    .await?;
    lap(tally, 4);
    let _ = tally.whole.record(micros(started.elapsed()));
    Ok(id)
}

/// The `id` of a created checkout's JSON.
fn created_id(body: &[u8]) -> Option<String> {
    let view: serde_json::Value = serde_json::from_slice(body).ok()?;
    view["id"].as_str().map(str::to_owned)
}

/// What one read of the phone (`GET /phone?to=…&limit=1`) costs the servers: `seconds`
/// of closed-loop reads on `connections` connections, the servers' CPU time over the
/// reads made.
pub async fn phone_read_cost(
    addresses: &[SocketAddr],
    phone: &str,
    pids: &[u32],
    connections: usize,
) -> anyhow::Result<Duration> {
    struct PhoneReads(String);
    impl loadgen::RequestSource for PhoneReads {
        fn build(&self, _worker: usize, _sequence: u64, out: &mut Vec<u8>) -> bool {
            loadgen::write_request(out, "GET", &self.0, &[], b"");
            true
        }
    }
    let spec = loadgen::LoadSpec {
        addresses: addresses.to_vec(),
        connections,
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        rate_per_s: None,
        request_count_max: None,
    };
    let source = PhoneReads(format!("/phone?to={}&limit=1", phone.replace('+', "%2B")));
    let before = crate::bench::cpu_seconds(pids).context("no CPU time in /proc")?;
    let report = loadgen::run(&spec, Arc::new(source)).await?;
    let after = crate::bench::cpu_seconds(pids).context("no CPU time in /proc")?;
    if report.errors > 0 || report.requests == 0 {
        bail!(
            "reading the phone failed: {} errors in {} reads",
            report.errors,
            report.requests
        );
    }
    Ok(Duration::from_secs_f64(
        (after - before).max(0.0) / report.requests as f64,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_created_checkout_gives_its_id() {
        assert_eq!(
            created_id(br#"{"id":"co_abc","state":"open"}"#).as_deref(),
            Some("co_abc")
        );
        assert_eq!(created_id(br#"{"state":"open"}"#), None);
        assert_eq!(created_id(b"not json"), None);
    }
}
