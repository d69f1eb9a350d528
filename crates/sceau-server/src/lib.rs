//! sceau's HTTP server: the merchant and admin APIs, the client's pages, the development
//! phone, and the background work (outbox dispatcher, expiry sweep).
//!
//! Handlers know no SQL and touch no store: they parse input into domain types, call a
//! use case of [`Service`] (crate `sceau-app`), and turn outcomes into answers; a use
//! case's refusal gets its HTTP status in one place ([`error::status`]).

pub mod api;
#[cfg(debug_assertions)]
pub mod described;
pub mod edge;
pub mod error;
pub mod metrics;
pub mod station;
pub mod tls;
pub mod views;

// The use cases live in sceau-app; the handlers reach them by these names.
pub use sceau_app::{
    bundle, checkout, clearing, clock, delivery_receipt, dispatch, envelope_bundle, notary,
    receipts, service, sign_in, signing, time_stamps, transparency, webhooks, white_room,
};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use sceau_store::MerchantRecord;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use service::{Service, Settings};

/// How long a merchant's key stays trusted in memory before it is looked up again.
const MERCHANT_CACHE_TTL_S: i64 = 60;
const MERCHANT_CACHE_LEN_MAX: usize = 10_000;

/// Merchants by API key hash, for a short while, so that authenticating a merchant does
/// not cost a database read on every request.
#[derive(Default)]
pub struct MerchantCache(Mutex<HashMap<[u8; 32], (MerchantRecord, i64)>>);

impl MerchantCache {
    pub fn get(&self, key_hash: &[u8; 32], now_s: i64) -> Option<MerchantRecord> {
        let entries = self.0.lock().ok()?;
        let (merchant, expires_s) = entries.get(key_hash)?;
        (now_s < *expires_s).then(|| merchant.clone())
    }

    pub fn put(&self, key_hash: [u8; 32], merchant: MerchantRecord, now_s: i64) {
        if let Ok(mut entries) = self.0.lock() {
            if entries.len() >= MERCHANT_CACHE_LEN_MAX {
                entries.clear();
            }
            entries.insert(key_hash, (merchant, now_s + MERCHANT_CACHE_TTL_S));
        }
    }
}

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub admin_token_hash: [u8; 32],
    pub merchant_cache: Arc<MerchantCache>,
    /// Serve `/phone` (development channel only: it shows the texts sent).
    pub phone_simulator: bool,
    /// Mark cookies `Secure` (when served behind TLS).
    pub secure_cookies: bool,
    /// The address clients reach this server at (`https://pay.example`), for the links
    /// given to merchants; by default `http://` and the address it listens on.
    pub public_url: Option<String>,
    /// `POST /tsa`'s group signer, started by [`start`] when the service has a white room.
    pub time_stamper: Option<time_stamps::TimeStamper>,
    /// What connections and requests are held to.
    pub limits: edge::Limits,
    /// The places for uploads being received (`limits.uploads_max` whole documents,
    /// `limits.file_uploads_max` envelope files), made by [`start`].
    pub uploads: signing::Uploads,
    /// The SMS routes that take status callbacks, and where their reports go; set by
    /// [`start`] from the channels it is given.
    pub channel_callbacks: Arc<dispatch::Callbacks>,
    /// The routes the dispatcher sends by, for their health on the console; set by
    /// [`start`] from the channels it is given.
    pub routing: Option<Arc<dispatch::Routing>>,
    /// A second address serving only `GET /metrics`, without the admin token.
    pub metrics_listen: Option<SocketAddr>,
    /// TLS on every listener (its certificate reloaded by [`tls::Tls::reload`]); none:
    /// plain HTTP, for a server behind a proxy that terminates TLS or on loopback.
    pub tls: Option<Arc<tls::Tls>>,
}

impl AppState {
    pub fn public_url(&self) -> &str {
        self.public_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/')
    }
}

pub fn router(state: AppState) -> Router {
    let secure = state.secure_cookies;
    let merchant = Router::new()
        .route("/v1/numbers", post(api::merchant::issue_checkout_number))
        .route("/v1/authorizations", post(api::merchant::authorize))
        .route(
            "/v1/webhook-secret",
            post(api::merchant::rotate_webhook_secret),
        )
        .route("/v1/checkouts", post(api::checkout::create))
        .route("/v1/checkouts/{id}", get(api::checkout::get))
        .route(
            "/v1/checkouts/{id}/evidence",
            get(api::checkout::merchant_evidence),
        )
        .route(
            "/v1/authorizations/{id}",
            get(api::merchant::get_authorization),
        )
        .route(
            "/v1/authorizations/{id}/capture",
            post(api::merchant::capture),
        )
        .route("/v1/authorizations/{id}/void", post(api::merchant::void))
        .route(
            "/v1/authorizations/{id}/refunds",
            post(api::merchant::refund),
        );
    let admin = Router::new()
        .route(
            "/admin/v1/clients",
            post(api::admin::create_client).get(api::admin::list_clients),
        )
        .route("/admin/v1/clients/{id}", get(api::admin::get_client))
        .route(
            "/admin/v1/clients/{id}/block",
            post(api::admin::block_client),
        )
        .route(
            "/admin/v1/clients/{id}/unblock",
            post(api::admin::unblock_client),
        )
        .route(
            "/admin/v1/merchants",
            post(api::admin::create_merchant).get(api::admin::list_merchants),
        )
        .route(
            "/admin/v1/merchants/{id}/bank",
            put(api::admin::set_merchant_bank),
        )
        .route(
            "/admin/v1/clearing/batches",
            post(api::admin::close_clearing_batch).get(api::admin::list_clearing_batches),
        )
        .route(
            "/admin/v1/clearing/batches/{id}",
            get(api::admin::get_clearing_batch),
        )
        .route(
            "/admin/v1/clearing/batches/{id}/pain.001.xml",
            get(api::admin::settlement_file),
        )
        .route("/admin/v1/ledger/check", get(api::admin::check_ledger))
        .route("/admin/v1/messages", get(api::admin::list_messages));
    let pages = Router::new()
        .route("/", get(api::pages::home))
        .route(
            "/login",
            get(api::pages::login_form).post(api::pages::login),
        )
        .route(
            "/login/unlock",
            get(api::pages::unlock_form).post(api::pages::unlock),
        )
        .route("/logout", post(api::pages::logout))
        .route("/admin", get(api::console::home))
        .route(
            "/admin/login",
            get(api::console::login_form).post(api::console::login),
        )
        .route("/admin/logout", post(api::console::logout))
        .route("/admin/clients", post(api::console::find_client))
        .route("/admin/clients/{id}", get(api::console::client))
        .route("/admin/clients/{id}/block", post(api::console::block))
        .route("/admin/clients/{id}/unblock", post(api::console::unblock))
        .route("/admin/merchants", post(api::console::find_merchant))
        .route("/admin/merchants/{id}", get(api::console::merchant))
        .route(
            "/admin/merchants/{id}/webhook-secret",
            post(api::console::rotate_webhook_secret),
        )
        .route("/admin/checkouts", post(api::console::find_checkout))
        .route("/admin/checkouts/{id}", get(api::console::checkout))
        .route("/admin/numbers", post(api::console::find_numbers))
        .route(
            "/admin/messages",
            get(api::console::messages).post(api::console::find_message),
        )
        .route("/admin/messages/{id}", get(api::console::message))
        .route(
            "/admin/clearing/batches",
            get(api::console::clearing).post(api::console::close_batch),
        )
        .route("/admin/clearing/batches/{id}", get(api::console::batch))
        .route("/admin/certificates", post(api::console::find_certificate))
        .route(
            "/admin/certificates/{serial}",
            get(api::console::certificate),
        )
        .route(
            "/admin/certificates/{serial}/revoke",
            post(api::console::revoke_certificate),
        )
        .route("/admin/envelopes", post(api::console::find_envelope))
        .route("/admin/envelopes/{id}", get(api::console::envelope))
        .route("/admin/deliveries", post(api::console::find_delivery))
        .route("/admin/deliveries/{id}", get(api::console::delivery))
        .route("/wallet", get(api::pages::wallet))
        .route("/wallet/numbers", post(api::pages::request_number))
        .route("/wallet/reach", post(api::pages::choose_reach))
        .route(
            "/wallet/signatures",
            get(api::sign_pages::list)
                .post(api::sign_pages::create)
                .layer(
                    // The document and the form's few other bytes.
                    DefaultBodyLimit::max(signing::DOCUMENT_BYTES_MAX + 16 * 1024),
                ),
        )
        .route("/wallet/signatures/{id}", get(api::sign_pages::show))
        .route("/wallet/envelopes", get(api::notary_pages::list))
        .route("/wallet/envelopes/new", get(api::notary_pages::station))
        .route("/wallet/envelopes/{id}", get(api::notary_pages::show))
        .route("/wallet/envelopes/{id}/seal", post(api::notary_pages::seal))
        .route(
            "/wallet/envelopes/{id}/resend",
            post(api::notary_pages::resend),
        )
        .route(
            "/wallet/envelopes/{id}/deliveries",
            post(api::notary_pages::deliver).layer(DefaultBodyLimit::max(256 * 1024)),
        )
        .route("/api/v1/me", get(api::pages::me))
        .route("/api/v1/me/payments", get(api::pages::my_payments))
        .route(
            "/api/v1/signatures",
            post(api::signatures::create)
                .layer(DefaultBodyLimit::max(signing::DOCUMENT_BYTES_MAX))
                .get(api::signatures::list),
        )
        .route(
            "/api/v1/payments/{id}/evidence",
            get(api::checkout::client_evidence),
        )
        .route("/api/v1/signatures/{id}", get(api::signatures::show))
        .route("/api/v1/signatures/{id}/seal", post(api::signatures::seal))
        .route(
            "/api/v1/signatures/{id}/signature.p7s",
            get(api::signatures::signature_file),
        )
        .route(
            "/api/v1/envelopes",
            post(api::envelopes::open).get(api::envelopes::list),
        )
        .route("/api/v1/envelopes/{id}", get(api::envelopes::show))
        .route(
            "/api/v1/envelopes/{id}/manifest",
            post(api::envelopes::manifest).layer(
                // The manifest of the most files a setting allows (1,000 of 255-byte
                // names) and its destinations.
                DefaultBodyLimit::max(512 * 1024),
            ),
        )
        .route(
            "/api/v1/envelopes/{id}/files/{index}",
            get(api::envelopes::get_file)
                .put(api::envelopes::put_file)
                .layer(
                    // The archive holds each file to its manifest's size as it streams in.
                    DefaultBodyLimit::disable(),
                ),
        )
        .route(
            "/api/v1/envelopes/{id}/files/{index}/signature.p7s",
            get(api::envelopes::get_signature),
        )
        .route(
            "/api/v1/envelopes/{id}/files/{index}/signed.pdf",
            get(api::envelopes::get_signed_pdf),
        )
        .route(
            "/api/v1/envelopes/{id}/container.asice",
            get(api::envelopes::get_container),
        )
        .route(
            "/api/v1/envelopes/{id}/evidence",
            get(api::envelopes::get_evidence),
        )
        .route("/api/v1/envelopes/{id}/seal", post(api::envelopes::seal))
        .route(
            "/api/v1/envelopes/{id}/seal/resend",
            post(api::envelopes::resend),
        )
        .route(
            "/api/v1/envelopes/{id}/deliveries",
            post(api::delivery::send)
                .layer(
                    // As many recipients as a delivery may ever name, each the longest
                    // address and phone.
                    DefaultBodyLimit::max(256 * 1024),
                )
                .get(api::delivery::list),
        )
        .route("/api/v1/deliveries/{id}", get(api::delivery::show))
        .route(
            "/api/v1/deliveries/{id}/recipients/{index}/receipt",
            get(api::delivery::receipt),
        )
        .route(
            "/wallet/deliveries/{id}",
            get(api::delivery_pages::sender_page),
        )
        .route("/d/{token}", get(api::delivery_pages::show))
        .route("/d/{token}/code", post(api::delivery_pages::send_code))
        .route(
            "/d/{token}/session",
            post(api::delivery_pages::open_session),
        )
        .route("/d/{token}/files", get(api::delivery_pages::files))
        .route(
            "/d/{token}/delivery.json",
            get(api::delivery::recipient_delivery),
        )
        .route("/d/{token}/withdrawal", post(api::delivery::withdraw))
        .route(
            "/d/{token}/files/{index}",
            get(api::delivery::recipient_file),
        )
        .route(
            "/d/{token}/files/{index}/signature.p7s",
            get(api::delivery::recipient_signature),
        )
        .route(
            "/d/{token}/answer",
            post(api::delivery::answer).layer(DefaultBodyLimit::max(
                // The statement as a JSON string (its quotes escaped), and the signature.
                2 * sceau_app::delivery::STATEMENT_BYTES_MAX,
            )),
        )
        .route("/phone", get(api::pages::phone))
        .route("/mailbox", get(api::pages::mailbox))
        .route("/pay/{id}", get(api::pay::show))
        .route("/pay/{id}/sign-in", post(api::pay::sign_in))
        .route("/pay/{id}/hold", post(api::pay::hold))
        .route("/pay/{id}/validate", post(api::pay::validate))
        .route("/pay/{id}/resend", post(api::pay::validate))
        .route("/pay/{id}/seal", post(api::pay::seal))
        .route("/pay/{id}/cancel", post(api::pay::cancel))
        .route("/pay/{id}/check.svg", get(api::pay::check_image))
        .route("/pay/{id}/check.pdf", get(api::pay::check_document))
        .route("/static/sceau.css", get(api::pages::stylesheet))
        .route("/static/sha256.js", get(api::notary_pages::sha256_js))
        .route("/static/notary.js", get(api::notary_pages::notary_js))
        .route("/static/cms.js", get(api::delivery_pages::cms_js))
        .route("/static/delivery.js", get(api::delivery_pages::delivery_js));
    let router = Router::new()
        .merge(merchant)
        .merge(admin)
        .merge(pages)
        .route("/tsa", post(api::pki::time_stamp))
        .route(
            "/channel/{route}/status",
            post(api::channel::status_callback),
        )
        .route("/pki/root.pem", get(api::pki::root))
        .route("/pki/issuing.pem", get(api::pki::issuing))
        .route("/pki/tsa.pem", get(api::pki::tsa_certificate))
        .route("/pki/issuing.crl", get(api::pki::crl))
        .route("/log/checkpoint", get(api::log::checkpoint))
        .route("/log/key", get(api::log::key))
        .route("/log/entries/{index}", get(api::log::entry))
        .route("/log/proof/inclusion", get(api::log::inclusion))
        .route("/log/proof/consistency", get(api::log::consistency))
        .route("/log/tile/{*path}", get(api::log::tile))
        .route("/health", get(health))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    // Debug builds check every refusal against openapi.json (`described`).
    #[cfg(debug_assertions)]
    let router = router.layer(middleware::from_fn(described::check));
    router
        .layer(DefaultBodyLimit::max(api::BODY_BYTES_MAX))
        .layer(middleware::from_fn(move |request, next| {
            security_headers(secure, request, next)
        }))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a handler panicked");
                error::ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
                .into_response()
            },
        ))
        .with_state(state)
}

/// The cheapest endpoint: the ceiling of HTTP on this machine, and a liveness probe.
async fn health() -> &'static str {
    "ok"
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found()
}

async fn method_not_allowed() -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed here",
    )
}

/// The Content-Security-Policy of every answer whose handler sets none: no script at all.
/// Only the notary's station sets its own (`station::STATION_CONTENT_SECURITY_POLICY`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers on every answer. Answers are not to be stored by any cache unless their
/// handler says otherwise (the public, immutable ones: certificates, log tiles, the
/// stylesheet, the station's scripts): a wallet, a signature or an evidence bundle must
/// not outlive the session in a shared or browser cache. Behind TLS (`secure_cookies`),
/// browsers are told to come back over HTTPS only. The Content-Security-Policy is
/// [`CONTENT_SECURITY_POLICY`] unless the handler set one.
async fn security_headers(secure: bool, request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A running server.
pub struct Running {
    pub address: SocketAddr,
    /// Where `GET /metrics` is served without the token, if asked for.
    pub metrics_address: Option<SocketAddr>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, finishes the requests in flight (at most `shutdown_timeout`),
    /// then stops the background work cleanly (at most `background_grace`: the sends on
    /// their way recorded, the queued receipts signed), and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// The longest a TLS handshake may take (then the connection is closed).
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a connection is read from and written to: TCP, or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// Accepts connections until `stopped`, at most `limits.connections_max` open at once,
/// each with `limits.header_read_timeout` (and [`TLS_HANDSHAKE_TIMEOUT`] before, when `tls`); then
/// lets the requests in flight finish.
pub(crate) async fn accept(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: edge::Limits,
    tls: Option<Arc<tls::Tls>>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let open = Arc::new(tokio::sync::Semaphore::new(limits.connections_max));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        // Over the cap, wait for a connection to close before accepting the next.
        let permit = tokio::select! {
            _ = &mut stopped => break,
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        // A client that leaves its answers unread does not keep its place for ever.
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let stream = Box::pin(stream);
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(edge::ConnectionAddress(local));
                app.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        // The certificate of the moment: a reload applies to the connections after it.
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        let watcher = graceful.watcher();
        let http = http.clone();
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            let stream: Box<dyn Io> = match acceptor {
                None => Box::new(stream),
                Some(acceptor) => {
                    // Its own limit, shorter than the headers': a handshake finished at the
                    // last moment would otherwise hold the place twice as long.
                    let limit = limits.header_read_timeout.min(TLS_HANDSHAKE_TIMEOUT);
                    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => Box::new(stream),
                        // A client that does not trust the certificate, a scanner, a
                        // plain HTTP request: nothing to answer.
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    }
                }
            };
            let connection = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("stopped with requests still in flight: dropped");
        connections.abort_all();
    }
}

/// Binds `listen`, starts the background work and serves until stopped.
pub async fn start(
    state: AppState,
    channels: dispatch::Channels,
    listen: SocketAddr,
) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| {
            std::io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
        })?;
    let address = listener.local_addr()?;
    // Recording starts with the server (the recorder is the process's, made once).
    if metrics::handle().is_none() {
        tracing::warn!("another metrics recorder is installed: /metrics will answer 503");
    }
    let mut state = state;
    if state.public_url.is_none() {
        let scheme = if state.tls.is_some() { "https" } else { "http" };
        state.public_url = Some(format!("{scheme}://{address}"));
    }
    if state.time_stamper.is_none() {
        state.time_stamper = state
            .service
            .pki
            .clone()
            .map(time_stamps::TimeStamper::spawn);
    }
    let served = Arc::new(edge::Served::new(state.public_url()).map_err(std::io::Error::other)?);
    let metrics_server = match state.metrics_listen {
        Some(listen) => Some(metrics::serve(listen, state.clone()).await?),
        None => None,
    };
    let metrics_address = metrics_server.as_ref().map(|(address, ..)| *address);
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    state.channel_callbacks = channels.callbacks.clone();
    state.routing = Some(channels.routing.clone());
    let background = dispatch::spawn_background(state.service.clone(), channels);
    let limits = state.limits;
    let state_tls = state.tls.clone();
    state.uploads = signing::Uploads::new(limits.uploads_max, limits.file_uploads_max);
    let app = router(state)
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_idle_timeout,
        ))
        .layer(middleware::from_fn(move |request, next| {
            edge::time_limit(limits.request_timeout, request, next)
        }))
        .layer(middleware::from_fn(move |request, next| {
            edge::check_names(served.clone(), request, next)
        }))
        .layer(middleware::from_fn(edge::request_id));
    let tls = state_tls;
    let task = tokio::spawn(async move {
        accept(listener, app, limits, tls, stopped).await;
        // The requests are answered: what they started in the background ends cleanly.
        background.stop(limits.background_grace).await;
        if let Some((_, stop, metrics)) = metrics_server {
            let _ = stop.send(());
            let _ = metrics.await;
        }
    });
    Ok(Running {
        address,
        metrics_address,
        shutdown: Some(shutdown),
        task,
    })
}
