//! `GET /metrics`: what operators watch, in Prometheus' text format (README, "Operating
//! sceau", lists each metric and what to alert on). The counters and histograms are
//! recorded where things happen, through the `metrics` facade (`sceau_app::metrics`,
//! the store's batches, the keystore, the TSA, the edge's requests); the gauges that are
//! states rather than events (the outbox's depth, the log's lag) are read from the store
//! when scraped. The recorder is the process's, installed once.

use crate::AppState;
use crate::api::Admin;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Seconds: from a tenth of a millisecond (a read) to a minute (a send that waits).
const SECONDS_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// Commands in a batch of the group commit (at most 1,024).
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// How often the histograms' recent samples are folded in, scraped or not (they are
/// kept until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The text format's media type, version 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first call; `None` if another recorder was
/// installed first (then nothing is recorded here, and `/metrics` says so with a 503).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full("sceau_store_batch_commands".into()),
                    BATCH_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("sceau-metrics".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "sceau_http_requests_total",
        "HTTP requests answered, by method, route (its pattern) and status"
    );
    describe_histogram!(
        "sceau_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route"
    );
    describe_histogram!(
        "sceau_store_batch_commands",
        "Commands carried by one batch of the group commit, by backend"
    );
    describe_histogram!(
        "sceau_store_commit_seconds",
        Unit::Seconds,
        "Time to run and commit one batch of the group commit, by backend"
    );
    describe_gauge!("sceau_outbox_pending", "Messages not sent yet");
    describe_counter!(
        "sceau_purged_total",
        "Rows past their retention window removed by the purge, by kind (message bodies: emptied)"
    );
    describe_gauge!(
        "sceau_outbox_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest message not sent yet (0 when none waits)"
    );
    describe_counter!(
        "sceau_messages_total",
        "Messages of the second channel reaching a state (submitted, retry, failed, expired, delivered), by route"
    );
    describe_counter!(
        "sceau_webhook_deliveries_total",
        "Webhook tries, by outcome (delivered, retry, gave_up)"
    );
    describe_gauge!(
        "sceau_receipts_queued",
        "Payment receipts waiting for a worker"
    );
    describe_counter!(
        "sceau_receipts_total",
        "Payment receipts, by outcome (signed; not_signed: a failure, tried again when the bundle is asked for; no_certificate)"
    );
    describe_gauge!(
        "sceau_log_size",
        "Entries in the transparency log's last checkpoint"
    );
    describe_gauge!(
        "sceau_log_waiting_entries",
        "Entries and evidence records written but not integrated into the log yet"
    );
    describe_gauge!(
        "sceau_log_checkpoint_age_seconds",
        Unit::Seconds,
        "Age of the log's last checkpoint (a new one is signed only when entries wait; none yet while entries wait: seconds since 1970)"
    );
    describe_counter!(
        "sceau_time_stamps_total",
        "RFC 3161 time-stamp tokens issued (answers to /tsa and sceau's own signatures)"
    );
    describe_counter!(
        "sceau_seal_verdicts_total",
        "Typed seals judged, by flow (checkout, envelope) and verdict (right, wrong, expired)"
    );
    describe_counter!(
        "sceau_client_pauses_total",
        "Clients paused for too many wrong card details or seals"
    );
    describe_gauge!(
        "sceau_certificate_expiry_timestamp_seconds",
        Unit::Seconds,
        "When a certificate the service uses ends (Unix time), by certificate (tls: the one served; ca_root, ca_issuing, tsa: the white room's)"
    );
    describe_counter!(
        "sceau_keystore_operations_total",
        "Uses of the keystore, by keystore, operation and outcome"
    );
}

/// `GET /metrics`, for the admin token.
pub async fn scrape(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    render(&state).await
}

/// Connections at once on the metrics listener.
const METRICS_CONNECTIONS_MAX: usize = 16;

/// The second (of the service's clock) the gauges were last read from the store in: one
/// reading at a time, at most one a second, however many scrapes come (a reading costs
/// the store three reads).
static GAUGES_READ: tokio::sync::Mutex<Option<i64>> = tokio::sync::Mutex::const_new(None);

/// The current figures, the gauges read now (or within the last second).
pub async fn render(state: &AppState) -> Result<Response, ApiError> {
    let Some(handle) = handle() else {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics_unavailable",
            "another metrics recorder was installed in this process",
        ));
    };
    {
        let mut read = GAUGES_READ.lock().await;
        let now_s = state.service.now_s();
        if *read != Some(now_s) {
            state.service.record_gauges().await?;
            *read = Some(now_s);
        }
    }
    // Read at every scrape (no store involved): a SIGHUP's certificate shows at once. An
    // end that could not be read is 0, so that the alert on it fires rather than keeping
    // the certificate before's end.
    if let Some(tls) = &state.tls {
        sceau_app::metrics::certificate_ends("tls", tls.not_after_s().unwrap_or(0));
    }
    Ok(([(header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response())
}

/// Serves `GET /metrics` alone on `listen`, without the token (the address is the
/// operators' to choose: their network, not the public's), through the main listener's
/// accept loop with small limits (16 connections, the same time limits), answering only
/// to the address a connection came in on (and `localhost` on loopback) by `Host`, as the
/// main listener does against DNS rebinding: scrape it by its IP address. Returns the
/// address bound, the sender that stops it, and its task.
pub async fn serve(
    listen: std::net::SocketAddr,
    state: AppState,
) -> std::io::Result<(
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
)> {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {listen} (metrics_listen): {error}"),
            )
        })?;
    let address = listener.local_addr()?;
    let scheme = if state.tls.is_some() { "https" } else { "http" };
    let served = std::sync::Arc::new(
        crate::edge::Served::new(&format!("{scheme}://{address}"))
            .map_err(std::io::Error::other)?,
    );
    let tls = state.tls.clone();
    let limits = crate::edge::Limits {
        connections_max: METRICS_CONNECTIONS_MAX,
        request_timeout: Duration::from_secs(10),
        ..state.limits
    };
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { render(&state).await }),
        )
        .with_state(state)
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::edge::time_limit(limits.request_timeout, request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::edge::check_names(served.clone(), request, next)
        }));
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(crate::accept(listener, app, limits, tls, stopped));
    Ok((address, stop, task))
}
