//! Minimal HTTP/1.1 load generator for `sceau bench` (wrk-like, low CPU).
//!
//! One tokio task per keep-alive connection; each task sends one request at a
//! time, parses the response head by hand and skips the body (Content-Length,
//! chunked, or read-until-close), reusing its buffers. Latencies are recorded
//! in microseconds in per-task HDR histograms merged at the end.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout_at};

/// Extra time after the measured phase for in-flight requests; then everything stops.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// Pause after a failed connect/exchange before retrying (no spinning).
const RETRY_PAUSE: Duration = Duration::from_millis(10);
const BUF_INITIAL: usize = 16 * 1024;
const BUF_MAX: usize = 1024 * 1024;
const LATENCY_MAX_US: u64 = 60_000_000;

/// One request to send repeatedly on a connection: method, path, extra headers, body.
/// `build(worker, sequence)` is called for each request so that every request can differ
/// (e.g. a distinct Idempotency-Key or payment number per request).
/// `(worker, sequence)` is unique within one `run`; `sequence` starts at 0 per worker.
pub trait RequestSource: Send + Sync + 'static {
    /// Appends the full raw HTTP/1.1 request bytes (request line, Host, headers,
    /// Content-Length, body) to `out` (which is empty on entry). Returns false when the
    /// source has no request left (prepared requests used up): the connection stops.
    fn build(&self, worker: usize, sequence: u64, out: &mut Vec<u8>) -> bool;

    /// Whether a response status counts as a success; others count as errors.
    fn accept_status(&self, status: u16) -> bool {
        (200..400).contains(&status)
    }
}

pub struct LoadSpec {
    /// Servers to load; connection `i` goes to `addresses[i % len]`.
    pub addresses: Vec<SocketAddr>,
    /// Concurrent keep-alive connections (one task each, one request in flight each).
    pub connections: usize,
    /// Measured phase.
    pub duration: Duration,
    /// Requests sent but not recorded (runs before the measured phase).
    pub warmup: Duration,
    /// None = closed loop; Some(r) = open loop at total rate r spread over connections,
    /// latency measured from the scheduled send time (no coordinated omission). Each
    /// connection has one request in flight, so it can sustain at most 1/latency per second.
    pub rate_per_s: Option<u64>,
    /// Optional bound on total requests sent (warmup included).
    pub request_count_max: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Responses completed in the measured phase (any status).
    pub requests: u64,
    /// Connection errors/timeouts plus responses rejected by `accept_status`.
    pub errors: u64,
    pub status_counts: BTreeMap<u16, u64>,
    pub elapsed: Duration,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Names the server in a request built without a `Host` header: `host_line` (`Host:
/// address\r\n`) goes right after the request line. sceau serves only requests that
/// name it.
pub fn with_host(request: &mut Vec<u8>, host_line: &[u8]) {
    let Some(end) = request.windows(2).position(|pair| pair == b"\r\n") else {
        return;
    };
    let head_end = request
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(request.len());
    let named = request[..head_end]
        .split(|byte| *byte == b'\n')
        .any(|line| line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"host:"));
    if !named {
        request.splice(end + 2..end + 2, host_line.iter().copied());
    }
}

/// Adds a header line (`Name: value\r\n`) right after the request line: what depends on
/// the server a connection goes to (the `Origin` of a browser's write to it).
pub fn with_header(request: &mut Vec<u8>, line: &[u8]) {
    if let Some(end) = request.windows(2).position(|pair| pair == b"\r\n") {
        request.splice(end + 2..end + 2, line.iter().copied());
    }
}

/// The address a worker's connections go to (workers take the addresses in turn).
pub fn worker_address(addresses: &[SocketAddr], worker: usize) -> Option<SocketAddr> {
    addresses.get(worker % addresses.len().max(1)).copied()
}

/// Helper to build a request into `out`. Adds no `Host` (the connection adds the
/// server's address, which the server requires: `with_host`) unless one is given, and
/// always adds `Content-Length` (do not pass it yourself).
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // Writing into a Vec cannot fail.
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    out.extend_from_slice(body);
}

struct Plan {
    addresses: Vec<SocketAddr>,
    connections: usize,
    start: Instant,
    warmup_end: Instant,
    end: Instant,
    hard_deadline: Instant,
    interval: Option<Duration>,
    request_count_max: Option<u64>,
    issued: AtomicU64,
}

struct Tally {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    status_counts: BTreeMap<u16, u64>,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            hist: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)?,
            requests: 0,
            errors: 0,
            status_counts: BTreeMap::new(),
        })
    }
}

pub async fn run(spec: &LoadSpec, source: Arc<dyn RequestSource>) -> anyhow::Result<LoadReport> {
    let plan = Arc::new(Plan::new(spec)?);
    let join_deadline = plan
        .hard_deadline
        .checked_add(Duration::from_secs(1))
        .context("load spec: duration too long")?;
    let mut handles = Vec::with_capacity(spec.connections);
    for worker_id in 0..spec.connections {
        handles.push(tokio::spawn(worker(
            worker_id,
            plan.clone(),
            source.clone(),
        )));
    }
    let mut total = Tally::new()?;
    for mut handle in handles {
        match timeout_at(join_deadline, &mut handle).await {
            Ok(joined) => total.add(joined.context("load worker failed")??)?,
            Err(_) => {
                handle.abort();
                total.errors += 1;
            }
        }
    }
    Ok(total.report(plan.warmup_end))
}

impl Plan {
    /// The schedule of `spec`, starting now.
    fn new(spec: &LoadSpec) -> anyhow::Result<Plan> {
        if spec.connections == 0 || spec.addresses.is_empty() {
            bail!("load spec: connections and addresses must not be empty");
        }
        let interval = match spec.rate_per_s {
            Some(0) => bail!("load spec: rate_per_s must be > 0"),
            Some(rate) => Some(Duration::from_secs_f64(
                spec.connections as f64 / rate as f64,
            )),
            None => None,
        };
        let start = Instant::now();
        let later =
            |t: Instant, d: Duration| t.checked_add(d).context("load spec: duration too long");
        let warmup_end = later(start, spec.warmup)?;
        let end = later(warmup_end, spec.duration)?;
        let hard_deadline = later(end, SAFETY_MARGIN)?;
        Ok(Plan {
            addresses: spec.addresses.clone(),
            connections: spec.connections,
            start,
            warmup_end,
            end,
            hard_deadline,
            interval,
            request_count_max: spec.request_count_max,
            issued: AtomicU64::new(0),
        })
    }
}

impl Tally {
    /// Adds a worker's tally to this one.
    fn add(&mut self, tally: Tally) -> anyhow::Result<()> {
        self.hist.add(&tally.hist)?;
        self.requests += tally.requests;
        self.errors += tally.errors;
        for (status, count) in tally.status_counts {
            *self.status_counts.entry(status).or_insert(0) += count;
        }
        Ok(())
    }

    /// Records a measured response, sent at `sent_at`: its latency and its status.
    fn record(&mut self, status: u16, sent_at: Instant) {
        let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.hist.saturating_record(micros);
        self.requests += 1;
        *self.status_counts.entry(status).or_insert(0) += 1;
    }

    /// The figures of the measured phase, which began at `warmup_end` and ends now.
    fn report(self, warmup_end: Instant) -> LoadReport {
        let elapsed = Instant::now().saturating_duration_since(warmup_end);
        let secs = elapsed.as_secs_f64();
        let quantile = |q: f64| Duration::from_micros(self.hist.value_at_quantile(q));
        LoadReport {
            requests: self.requests,
            errors: self.errors,
            per_second: if secs > 0.0 {
                self.requests as f64 / secs
            } else {
                0.0
            },
            elapsed,
            p50: quantile(0.5),
            p99: quantile(0.99),
            max: Duration::from_micros(self.hist.max()),
            status_counts: self.status_counts,
        }
    }
}

async fn worker(
    worker_id: usize,
    plan: Arc<Plan>,
    source: Arc<dyn RequestSource>,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    let mut request = Vec::with_capacity(1024);
    let address = worker_address(&plan.addresses, worker_id)
        .ok_or_else(|| anyhow::anyhow!("no address to load"))?;
    let host_line = format!("Host: {address}\r\n");
    let mut conn: Option<Conn> = None;
    let mut sequence = 0u64;
    // Open loop: stagger the workers' schedules evenly within one interval.
    let mut next_at = plan
        .interval
        .map(|i| plan.start + i.mul_f64(worker_id as f64 / plan.connections as f64));
    loop {
        let now = Instant::now();
        if now >= plan.end {
            break;
        }
        let scheduled = match wait_for_schedule(&plan, &mut next_at, now).await {
            ControlFlow::Break(()) => break,
            ControlFlow::Continue(scheduled) => scheduled,
        };
        if let Some(max) = plan.request_count_max
            && plan.issued.fetch_add(1, Ordering::Relaxed) >= max
        {
            break;
        }
        let Some(stream) = connection(&mut conn, &plan, address).await else {
            if scheduled.unwrap_or(now) >= plan.warmup_end {
                tally.errors += 1;
            }
            sleep_until((Instant::now() + RETRY_PAUSE).min(plan.end)).await;
            continue;
        };
        request.clear();
        if !source.build(worker_id, sequence, &mut request) {
            break;
        }
        with_host(&mut request, host_line.as_bytes());
        sequence += 1;
        // Closed loop: latency starts now, after any (re)connect.
        let sent_at = scheduled.unwrap_or_else(Instant::now);
        let measured = sent_at >= plan.warmup_end;
        match timeout_at(plan.hard_deadline, stream.exchange(&request)).await {
            Ok(Ok(response)) => {
                if measured {
                    tally.record(response.status, sent_at);
                    if !source.accept_status(response.status) {
                        tally.errors += 1;
                    }
                }
                if response.close {
                    conn = None;
                }
            }
            _ => {
                if measured {
                    tally.errors += 1;
                }
                conn = None;
                sleep_until((Instant::now() + RETRY_PAUSE).min(plan.end)).await;
            }
        }
    }
    Ok(tally)
}

/// Open loop: waits for the worker's next scheduled time, `next_at`, and moves it one
/// interval on; `Break` when the schedule has reached the end. Latency starts at the
/// scheduled time, or at the timer wake-up when we had to wait for it (tokio timers have
/// ~1 ms granularity; that delay is ours). Closed loop: `Continue(None)` at once.
async fn wait_for_schedule(
    plan: &Plan,
    next_at: &mut Option<Instant>,
    now: Instant,
) -> ControlFlow<(), Option<Instant>> {
    let (Some(interval), Some(at)) = (plan.interval, *next_at) else {
        return ControlFlow::Continue(None);
    };
    if at >= plan.end {
        return ControlFlow::Break(());
    }
    *next_at = Some(at + interval);
    if at > now {
        sleep_until(at).await;
        ControlFlow::Continue(Some(Instant::now()))
    } else {
        ControlFlow::Continue(Some(at))
    }
}

/// The worker's open connection, or a new one to `address`; `None` when it cannot be made
/// before the deadline.
async fn connection<'c>(
    conn: &'c mut Option<Conn>,
    plan: &Plan,
    address: SocketAddr,
) -> Option<&'c mut Conn> {
    if conn.is_none() {
        match timeout_at(plan.hard_deadline, Conn::connect(address)).await {
            Ok(Ok(stream)) => *conn = Some(stream),
            _ => return None,
        }
    }
    conn.as_mut()
}

#[derive(Debug, PartialEq, Eq)]
enum Body {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    body: Body,
    close: bool,
}

struct Response {
    status: u16,
    close: bool,
}

/// Parses a response head (status line + headers, including the final CRLFCRLF).
fn parse_head(head: &[u8], is_head_request: bool) -> anyhow::Result<Head> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    if status_line.len() < 12 || !status_line.starts_with(b"HTTP/1.") {
        bail!("malformed status line");
    }
    let http10 = status_line[7] == b'0';
    let status = parse_decimal(&status_line[9..12])
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..1000).contains(s))
        .context("malformed status code")?;
    let (mut length, mut chunked, mut close, mut keep_alive) = (None, false, false, false);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            length = Some(parse_decimal(value).context("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = contains_ignore_case(value, b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            close |= contains_ignore_case(value, b"close");
            keep_alive |= contains_ignore_case(value, b"keep-alive");
        }
    }
    // HTTP/1.0 closes unless the server explicitly keeps the connection alive.
    let close = close || (http10 && !keep_alive);
    let body = if is_head_request || status < 200 || status == 204 || status == 304 {
        Body::Empty
    } else if chunked {
        Body::Chunked
    } else if let Some(n) = length {
        Body::Length(n)
    } else {
        Body::UntilClose
    };
    let close = close || body == Body::UntilClose;
    Ok(Head {
        status,
        body,
        close,
    })
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

fn parse_chunk_size(line: &[u8]) -> anyhow::Result<u64> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let hex = line[..end].trim_ascii();
    if hex.is_empty() || hex.len() > 15 {
        bail!("malformed chunk size");
    }
    let text = std::str::from_utf8(hex)?;
    Ok(u64::from_str_radix(text, 16)?)
}

/// A keep-alive connection with a reusable read buffer; unread data is `buf[pos..len]`.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Conn {
    async fn connect(address: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: vec![0; BUF_INITIAL],
            pos: 0,
            len: 0,
        })
    }

    async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        self.exchange_into(request, None).await
    }

    /// Sends `request` and reads its response; its body is appended to `body` when one is
    /// given, skipped otherwise.
    async fn exchange_into(
        &mut self,
        request: &[u8],
        mut body: Option<&mut Vec<u8>>,
    ) -> anyhow::Result<Response> {
        self.stream.write_all(request).await?;
        let is_head = request.starts_with(b"HEAD ");
        loop {
            let head = self.read_head(is_head).await?;
            if (100..200).contains(&head.status) && head.status != 101 {
                continue; // interim response, the final one follows
            }
            match head.body {
                Body::Empty => {}
                Body::Length(n) => self.take(n, body.as_deref_mut()).await?,
                Body::Chunked => loop {
                    let size = self.read_line(parse_chunk_size).await?;
                    if size == 0 {
                        while self.read_line(|line| Ok(!line.is_empty())).await? {}
                        break;
                    }
                    self.take(size, body.as_deref_mut()).await?;
                    self.skip(2).await?;
                },
                Body::UntilClose => loop {
                    if let Some(body) = body.as_deref_mut() {
                        body.extend_from_slice(&self.buf[self.pos..self.len]);
                    }
                    self.pos = self.len;
                    if !self.fill_some().await? {
                        break;
                    }
                },
            }
            return Ok(Response {
                status: head.status,
                close: head.close,
            });
        }
    }

    /// Reads more data; returns false on EOF.
    async fn fill_some(&mut self) -> anyhow::Result<bool> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
        }
        if self.len == self.buf.len() {
            if self.buf.len() >= BUF_MAX {
                bail!("response head or line too long");
            }
            self.buf.resize((self.buf.len() * 2).min(BUF_MAX), 0);
        }
        let n = self.stream.read(&mut self.buf[self.len..]).await?;
        self.len += n;
        Ok(n > 0)
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        if !self.fill_some().await? {
            bail!("connection closed by server");
        }
        Ok(())
    }

    async fn read_head(&mut self, is_head_request: bool) -> anyhow::Result<Head> {
        let mut scanned = 0;
        loop {
            let window = &self.buf[self.pos..self.len];
            if let Some(i) = window[scanned..].windows(4).position(|w| w == b"\r\n\r\n") {
                let head_len = scanned + i + 4;
                let head = parse_head(&window[..head_len], is_head_request)?;
                self.pos += head_len;
                return Ok(head);
            }
            scanned = window.len().saturating_sub(3);
            self.fill().await?;
        }
    }

    /// Reads one line (without CR/LF), passes it to `f` and consumes it.
    async fn read_line<T>(&mut self, f: impl Fn(&[u8]) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let mut scanned = 0;
        loop {
            let window = &self.buf[self.pos..self.len];
            if let Some(i) = window[scanned..].iter().position(|&b| b == b'\n') {
                let line = &window[..scanned + i];
                let value = f(line.strip_suffix(b"\r").unwrap_or(line))?;
                self.pos += scanned + i + 1;
                return Ok(value);
            }
            scanned = window.len();
            self.fill().await?;
        }
    }

    async fn skip(&mut self, remaining: u64) -> anyhow::Result<()> {
        self.take(remaining, None).await
    }

    /// Consumes `remaining` bytes, appending them to `body` when one is given.
    async fn take(
        &mut self,
        mut remaining: u64,
        mut body: Option<&mut Vec<u8>>,
    ) -> anyhow::Result<()> {
        loop {
            let available = (self.len - self.pos) as u64;
            let take = available.min(remaining) as usize;
            if let Some(body) = body.as_deref_mut() {
                body.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            }
            self.pos += take;
            remaining -= take as u64;
            if remaining == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }
}

/// The longest a [`Client`] waits for an answer (connecting included).
const CLIENT_ANSWER_MAX: Duration = Duration::from_secs(60);

/// One keep-alive HTTP/1.1 connection for scenarios whose requests depend on the answers
/// before them (a shopper's steps): each exchange returns the status and the body. Costs
/// the machine the load generator's price, not reqwest's.
pub struct Client {
    address: SocketAddr,
    host_line: Vec<u8>,
    conn: Option<Conn>,
    request: Vec<u8>,
}

impl Client {
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            host_line: format!("Host: {address}\r\n").into_bytes(),
            conn: None,
            request: Vec::with_capacity(1024),
        }
    }

    /// Sends a request (`write_request`'s arguments; the `Host` is added) and returns the
    /// answer's status, its body in `body` (emptied first), within [`CLIENT_ANSWER_MAX`]. A
    /// `GET` on a kept connection that fails is sent once more on a new one (the server
    /// may have closed it); any other request is never sent twice.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        content: &[u8],
        body: &mut Vec<u8>,
    ) -> anyhow::Result<u16> {
        match tokio::time::timeout(
            CLIENT_ANSWER_MAX,
            self.send_now(method, path, headers, content, body),
        )
        .await
        {
            Ok(answer) => answer,
            Err(_) => {
                self.conn = None;
                bail!(
                    "{method} {path}: no answer within {} s",
                    CLIENT_ANSWER_MAX.as_secs()
                )
            }
        }
    }

    async fn send_now(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        content: &[u8],
        body: &mut Vec<u8>,
    ) -> anyhow::Result<u16> {
        self.request.clear();
        write_request(&mut self.request, method, path, headers, content);
        with_host(&mut self.request, &self.host_line);
        let attempts = if method == "GET" { 2 } else { 1 };
        for attempt in 0..attempts {
            let fresh = self.conn.is_none();
            if fresh {
                self.conn = Some(Conn::connect(self.address).await?);
            }
            let Some(conn) = self.conn.as_mut() else {
                bail!("no connection");
            };
            body.clear();
            match conn.exchange_into(&self.request, Some(body)).await {
                Ok(response) => {
                    if response.close {
                        self.conn = None;
                    }
                    return Ok(response.status);
                }
                // A kept connection the server closed meanwhile: a GET once more on a new one.
                Err(_) if !fresh && attempt + 1 < attempts => self.conn = None,
                Err(error) => {
                    self.conn = None;
                    return Err(error);
                }
            }
        }
        bail!("no answer")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    struct Get;
    impl RequestSource for Get {
        fn build(&self, worker: usize, sequence: u64, out: &mut Vec<u8>) -> bool {
            let key = format!("{worker}-{sequence}");
            write_request(
                out,
                "POST",
                "/pay",
                &[("Idempotency-Key", &key)],
                b"{\"a\":1}",
            );
            true
        }
    }

    #[derive(Clone, Copy)]
    enum Mode {
        Length,
        Chunked,
        Alternate402,
        CloseEach,
        /// Answers the first request of each connection, then drops the connection at
        /// the next one without answering (a kept connection the server closed).
        OncePerConnection,
        /// A chunked answer written a byte at a time: the client reads it in many parts.
        Trickle,
    }

    /// Tiny server: reads each request (head + Content-Length body) and answers.
    async fn serve(mode: Mode) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let mut answered = false;
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        while buf.len() < end + 4 + length {
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..end + 4 + length);
                        if matches!(mode, Mode::OncePerConnection) && answered {
                            return;
                        }
                        answered = true;
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let response: &[u8] = match mode {
                            Mode::Length => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
                            Mode::Chunked => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                            Mode::Alternate402 if n % 2 == 1 => b"HTTP/1.1 402 Payment Required\r\nContent-Length: 2\r\n\r\nno",
                            Mode::Alternate402 => b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                            Mode::CloseEach => b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                            Mode::OncePerConnection => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce",
                            Mode::Trickle => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                        };
                        if matches!(mode, Mode::Trickle) {
                            let _ = socket.set_nodelay(true);
                            for byte in response {
                                if socket.write_all(std::slice::from_ref(byte)).await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                        } else if socket.write_all(response).await.is_err() {
                            return;
                        }
                        if matches!(mode, Mode::CloseEach) {
                            return;
                        }
                    }
                });
            }
        });
        address
    }

    fn spec(address: SocketAddr) -> LoadSpec {
        LoadSpec {
            addresses: vec![address],
            connections: 4,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            rate_per_s: None,
            request_count_max: None,
        }
    }

    fn check_consistent(report: &LoadReport) {
        assert!(report.requests > 0, "{report:?}");
        assert_eq!(report.status_counts.values().sum::<u64>(), report.requests);
        assert!(report.p50 <= report.p99 && report.p99 <= report.max);
        assert!(report.per_second > 0.0);
    }

    #[tokio::test]
    async fn a_client_reads_each_answer_whole() {
        let mut body = Vec::new();
        for (mode, expected) in [
            (Mode::Length, &b"hello"[..]),
            (Mode::Chunked, &b"hello world"[..]),
            (Mode::CloseEach, &b"ok"[..]),
            (Mode::Trickle, &b"hello world"[..]),
        ] {
            let mut client = Client::new(serve(mode).await);
            for _ in 0..3 {
                let status = client
                    .send("POST", "/pay", &[], b"{}", &mut body)
                    .await
                    .unwrap();
                assert_eq!((status, body.as_slice()), (200, expected));
            }
        }
    }

    #[tokio::test]
    async fn a_client_sends_a_get_again_on_a_new_connection_but_never_a_post() {
        let mut body = Vec::new();
        let mut client = Client::new(serve(Mode::OncePerConnection).await);
        for _ in 0..3 {
            let status = client.send("GET", "/", &[], b"", &mut body).await.unwrap();
            assert_eq!((status, body.as_slice()), (200, &b"once"[..]));
        }
        // The kept connection is dropped at the next request: a POST is not sent twice.
        assert!(
            client
                .send("POST", "/pay", &[], b"{}", &mut body)
                .await
                .is_err()
        );
        // The connection was forgotten: the next one is new, and answered.
        let status = client
            .send("POST", "/pay", &[], b"{}", &mut body)
            .await
            .unwrap();
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn closed_loop_content_length() {
        let report = run(&spec(serve(Mode::Length).await), Arc::new(Get))
            .await
            .unwrap();
        check_consistent(&report);
        assert_eq!(report.errors, 0);
        assert_eq!(report.status_counts.get(&200), Some(&report.requests));
    }

    #[tokio::test]
    async fn chunked_responses() {
        let report = run(&spec(serve(Mode::Chunked).await), Arc::new(Get))
            .await
            .unwrap();
        check_consistent(&report);
        assert_eq!(report.errors, 0);
    }

    #[tokio::test]
    async fn connection_close_reconnects() {
        let report = run(&spec(serve(Mode::CloseEach).await), Arc::new(Get))
            .await
            .unwrap();
        check_consistent(&report);
        assert_eq!(report.errors, 0);
    }

    #[tokio::test]
    async fn status_counting_and_accept_status() {
        let report = run(&spec(serve(Mode::Alternate402).await), Arc::new(Get))
            .await
            .unwrap();
        check_consistent(&report);
        let paid = report.status_counts.get(&402).copied().unwrap_or(0);
        assert!(paid > 0 && report.status_counts.get(&201).copied().unwrap_or(0) > 0);
        assert_eq!(report.errors, paid);
    }

    #[tokio::test]
    async fn open_loop_respects_rate() {
        let mut spec = spec(serve(Mode::Length).await);
        spec.rate_per_s = Some(200);
        spec.duration = Duration::from_millis(500);
        let report = run(&spec, Arc::new(Get)).await.unwrap();
        check_consistent(&report);
        assert_eq!(report.errors, 0);
        assert!(report.requests <= 200 / 2 * 2 + 4, "{report:?}");
    }

    #[tokio::test]
    async fn request_count_max_stops_early() {
        let mut spec = spec(serve(Mode::Length).await);
        spec.warmup = Duration::ZERO;
        spec.duration = Duration::from_secs(20);
        spec.request_count_max = Some(50);
        let started = Instant::now();
        let report = run(&spec, Arc::new(Get)).await.unwrap();
        check_consistent(&report);
        assert!(report.requests <= 50);
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    /// A source of exactly `len` requests, shared by every connection.
    struct Prepared {
        len: u64,
        taken: AtomicU64,
    }

    impl RequestSource for Prepared {
        fn build(&self, worker: usize, sequence: u64, out: &mut Vec<u8>) -> bool {
            if self.taken.fetch_add(1, Ordering::Relaxed) >= self.len {
                return false;
            }
            Get.build(worker, sequence, out)
        }
    }

    #[tokio::test]
    async fn an_exhausted_source_ends_the_run_with_every_request_answered() {
        let mut spec = spec(serve(Mode::Length).await);
        spec.warmup = Duration::ZERO;
        spec.duration = Duration::from_secs(20);
        let started = Instant::now();
        let source = Prepared {
            len: 101,
            taken: AtomicU64::new(0),
        };
        let report = run(&spec, Arc::new(source)).await.unwrap();
        check_consistent(&report);
        assert_eq!(report.requests, 101);
        assert_eq!(report.errors, 0);
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[tokio::test]
    async fn refused_connections_are_errors_without_spinning() {
        let address = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let mut spec = spec(address);
        spec.connections = 2;
        spec.warmup = Duration::ZERO;
        spec.duration = Duration::from_millis(200);
        let report = run(&spec, Arc::new(Get)).await.unwrap();
        assert_eq!(report.requests, 0);
        assert!(
            report.errors > 0 && report.errors <= 2 * (200 / 10 + 1),
            "{report:?}"
        );
    }

    #[test]
    fn request_and_head_format() {
        let mut out = Vec::new();
        write_request(&mut out, "GET", "/x", &[("Accept", "*/*")], b"");
        assert_eq!(
            out,
            b"GET /x HTTP/1.1\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n"
        );
        with_host(&mut out, b"Host: 127.0.0.1:8080\r\n");
        assert_eq!(
            out,
            b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n"
        );
        let named = out.clone();
        with_host(&mut out, b"Host: other\r\n");
        assert_eq!(out, named, "a named request is left as it is");
        let head = parse_head(
            b"HTTP/1.1 204 No Content\r\nCONNECTION: Close\r\n\r\n",
            false,
        );
        assert_eq!(
            head.unwrap(),
            Head {
                status: 204,
                body: Body::Empty,
                close: true
            }
        );
        let head = parse_head(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n",
            false,
        );
        assert_eq!(
            head.unwrap(),
            Head {
                status: 200,
                body: Body::Length(3),
                close: false
            }
        );
        assert!(parse_head(b"garbage\r\n\r\n", false).is_err());
        assert_eq!(parse_chunk_size(b"1aF;ext").unwrap(), 0x1af);
    }
}
