//! What every connection and request passes before a handler sees it: a cap on open
//! connections, time limits on headers, bodies and whole requests, and the names this
//! server answers to (`Host`) and accepts form posts from (`Origin`).
//!
//! A server on loopback is still reachable from a web page through DNS rebinding (a
//! name of the attacker's that resolves to 127.0.0.1): the browser then sends the
//! attacker's name as `Host`. So a request is served only when its `Host` is the public
//! address (`public_url`) or the address the connection came in on (`localhost` too,
//! when that is loopback: the name cannot be rebound); and a request that says where it
//! comes from (`Origin`) must come from one of those origins, scheme and port included.

use crate::error::ApiError;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The limits every connection and request is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at once; more wait in the kernel's queue until one closes.
    pub connections_max: usize,
    /// Time a client has to send a request's headers (and an idle kept-alive
    /// connection to start its next request) before the connection is closed.
    pub header_read_timeout: Duration,
    /// Longest pause between two parts of a request's body.
    pub body_idle_timeout: Duration,
    /// Longest a request may take, body included, before it is answered 408.
    pub request_timeout: Duration,
    /// Longest a client may leave an answer unread (a write that makes no progress)
    /// before its connection is closed.
    pub write_timeout: Duration,
    /// Longest a stop waits for the requests in flight before it drops them.
    pub shutdown_timeout: Duration,
    /// Longest a stop then waits for the background work (the sends on their way, each
    /// within 40 s; the receipts queued; the webhook being delivered) before aborting it.
    pub background_grace: Duration,
    /// Whole documents being received at once (`signing::Uploads`).
    pub uploads_max: usize,
    /// Envelope files being received at once (`signing::Uploads`; each client has at
    /// most `signing::CLIENT_FILE_UPLOADS_MAX` of them).
    pub file_uploads_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections_max: 4_096,
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(30),
            background_grace: Duration::from_secs(45),
            uploads_max: crate::signing::UPLOADS_MAX_DEFAULT,
            file_uploads_max: crate::signing::FILE_UPLOADS_MAX_DEFAULT,
        }
    }
}

/// The address a connection was accepted on, put on each of its requests.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionAddress(pub SocketAddr);

/// The names and origins this server answers to.
#[derive(Debug)]
pub struct Served {
    /// `host[:port]`, lower case, as `Host` may name the public address.
    public_hosts: Vec<String>,
    /// The public origin, as a browser writes it (`https://pay.example`).
    public_origin: String,
}

impl Served {
    /// From the public address (`http://127.0.0.1:8080`, `https://pay.example/`).
    pub fn new(public_url: &str) -> Result<Served, String> {
        let parsed = url::Url::parse(public_url)
            .map_err(|error| format!("public_url {public_url:?} is not an address: {error}"))?;
        let (Some(host), true) = (
            parsed.host_str(),
            matches!(parsed.scheme(), "http" | "https"),
        ) else {
            return Err(format!(
                "public_url {public_url:?} must be an http:// or https:// address with a host"
            ));
        };
        let host = host.to_ascii_lowercase();
        let mut public_hosts = Vec::with_capacity(2);
        match (parsed.port(), parsed.port_or_known_default()) {
            // The default port may be written or not.
            (None, Some(default)) => {
                public_hosts.push(host.clone());
                public_hosts.push(format!("{host}:{default}"));
            }
            (Some(port), _) => public_hosts.push(format!("{host}:{port}")),
            (None, None) => return Err(format!("public_url {public_url:?} has no port")),
        }
        Ok(Served {
            public_hosts,
            public_origin: parsed.origin().ascii_serialization(),
        })
    }

    /// Whether `host` (a `Host` header, any case) names this server, for a connection
    /// accepted on `local`.
    pub fn serves_host(&self, host: &str, local: Option<SocketAddr>) -> bool {
        let host = host.to_ascii_lowercase();
        if self.public_hosts.contains(&host) {
            return true;
        }
        local.is_some_and(|local| Self::local_hosts(local).contains(&host))
    }

    /// Whether a request from `origin` (an `Origin` header) comes from this server.
    pub fn serves_origin(&self, origin: &str, local: Option<SocketAddr>) -> bool {
        if origin == self.public_origin {
            return true;
        }
        // The connection's own address over plain HTTP (a server reached directly,
        // as in development); browsers write origins in lower case.
        origin.strip_prefix("http://").is_some_and(|host| {
            local.is_some_and(|local| Self::local_hosts(local).iter().any(|h| h == host))
        })
    }

    /// How `Host` may name the address a connection came in on (an IPv4 client of a
    /// dual-stack listener arrives on an IPv4-mapped address: named as IPv4).
    fn local_hosts(local: SocketAddr) -> Vec<String> {
        let local = SocketAddr::new(local.ip().to_canonical(), local.port());
        let port = local.port();
        let mut hosts = vec![local.to_string()];
        if local.ip().is_loopback() {
            hosts.push(format!("localhost:{port}"));
        }
        if port == 80 {
            hosts.extend(
                hosts
                    .clone()
                    .iter()
                    .filter_map(|h| h.rsplit_once(':').map(|(name, _)| name.to_owned())),
            );
        }
        hosts
    }
}

fn refused(code: &'static str, message: &'static str) -> Response {
    let status = if code == "unknown_host" {
        StatusCode::MISDIRECTED_REQUEST
    } else {
        StatusCode::FORBIDDEN
    };
    ApiError::new(status, code, message).into_response()
}

/// Serves only requests that name this server, and refuses unsafe methods from any other
/// origin (a browser says where a form post or a script's request comes from).
pub async fn check_names(served: Arc<Served>, request: Request, next: Next) -> Response {
    let local = request
        .extensions()
        .get::<ConnectionAddress>()
        .map(|address| address.0);
    // A name that is not text names nothing of ours.
    let host = match request.uri().authority() {
        Some(authority) => Some(authority.as_str()),
        None => match request.headers().get(header::HOST) {
            Some(value) => Some(value.to_str().unwrap_or("")),
            None => None,
        },
    };
    // A request without a name (HTTP/1.0, a health probe) asks for the connection's
    // own address: browsers always send one, so a rebound name never goes unsaid.
    if !host.is_none_or(|host| served.serves_host(host, local)) {
        return refused(
            "unknown_host",
            "this server answers only to its own address (Host)",
        );
    }
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
        let origins = request.headers().get_all(header::ORIGIN);
        let mut origins = origins.iter();
        let foreign = origins.next().is_some_and(|origin| {
            !origin
                .to_str()
                .is_ok_and(|origin| served.serves_origin(origin, local))
        }) || origins.next().is_some();
        if foreign {
            return refused("cross_origin", "cross-site form posts are refused");
        }
    }
    next.run(request).await
}

/// Answers 408 to a request (body included) that takes longer than `timeout`. A file of
/// an envelope (`PUT /api/v1/envelopes/{id}/files/{n}`, up to a gigabyte) is held
/// instead to the pause between two parts of its body, to its manifest's size, and to
/// its station certificate's life.
pub async fn time_limit(timeout: Duration, request: Request, next: Next) -> Response {
    if is_envelope_file_upload(&request) {
        return next.run(request).await;
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request took too long",
        )
        .into_response(),
    }
}

/// Whether a request is the upload of an envelope's file.
fn is_envelope_file_upload(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == axum::http::Method::PUT
        && path
            .strip_prefix("/api/v1/envelopes/")
            .and_then(|rest| rest.split_once("/files/"))
            .is_some_and(|(id, index)| !id.contains('/') && !index.contains('/'))
}

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest request id taken from a client.
const REQUEST_ID_LEN_MAX: usize = 64;

/// An id a client (or the proxy before sceau) chose is kept when it is 1 to 64 letters,
/// digits, `-`, `_`, `.` or `:` (what proxies and tracing systems write); anything else
/// is replaced, so that a log line never carries what a client typed there.
pub fn well_formed_request_id(id: &str) -> bool {
    (1..=REQUEST_ID_LEN_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Gives every request an id (its `X-Request-Id` when well formed, else 16 random bytes
/// in hex), logs everything said while it is served under it with its method and route
/// (the route's pattern, never its path: paths may carry tokens), and returns it in the
/// answer's `X-Request-Id`. One line per answer, at debug level (at warn for a 5xx).
pub async fn request_id(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| well_formed_request_id(id))
        .map_or_else(
            || hex::encode(sceau_crypto::random_bytes::<16>()),
            str::to_owned,
        );
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("(none)", |path| path.as_str())
        .to_owned();
    // A label per method HTTP defines, not per token a client may send.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    // At error level, so that any filter that lets a line through keeps its request's
    // span (at info, `SCEAU_LOG=warn` would drop the id from the warnings).
    let span = tracing::error_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route
    );
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!(
        "sceau_http_requests_total",
        "method" => method,
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "sceau_http_request_duration_seconds",
        "method" => method,
        "route" => route
    )
    .record(elapsed.as_secs_f64());
    let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, elapsed_us, "answered");
        } else {
            tracing::debug!(status, elapsed_us, "answered");
        }
    });
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_kept_only_when_well_formed() {
        for kept in ["a", "0f3c-7a_b.9:x", &"x".repeat(REQUEST_ID_LEN_MAX)] {
            assert!(well_formed_request_id(kept), "{kept}");
        }
        for replaced in [
            "",
            &"x".repeat(REQUEST_ID_LEN_MAX + 1),
            "a b",
            "a\nforged=1",
            "id\"}",
            "é",
            "4111 1111",
        ] {
            assert!(!well_formed_request_id(replaced), "{replaced:?}");
        }
    }

    #[test]
    fn only_an_envelope_s_file_upload_is_spared_the_total_time_limit() {
        let request = |method: &str, path: &str| {
            axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert!(is_envelope_file_upload(&request(
            "PUT",
            "/api/v1/envelopes/0123/files/0"
        )));
        for (method, path) in [
            ("GET", "/api/v1/envelopes/0123/files/0"),
            ("POST", "/api/v1/envelopes/0123/files/0"),
            ("PUT", "/api/v1/envelopes/0123/files/0/more"),
            ("PUT", "/api/v1/envelopes/a/b/files/0"),
            ("PUT", "/api/v1/signatures"),
        ] {
            assert!(
                !is_envelope_file_upload(&request(method, path)),
                "{method} {path}"
            );
        }
    }

    fn local() -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], 18080)))
    }

    #[test]
    fn hosts_are_the_public_address_and_the_connections_own() {
        let served = Served::new("https://Pay.Example/").unwrap();
        let check = |host: &str, expected: bool| {
            assert_eq!(served.serves_host(host, local()), expected, "{host}");
        };
        check("pay.example", true);
        check("PAY.example:443", true);
        check("pay.example:8443", false);
        check("127.0.0.1:18080", true);
        check("localhost:18080", true);
        check("LOCALHOST:18080", true);
        check("attacker.example:18080", false);
        check("attacker.example", false);
        check("127.0.0.1:18081", false);
        check("127.0.0.1", false);
        check("", false);
        let remote = Some(SocketAddr::from(([10, 0, 0, 11], 8080)));
        assert!(served.serves_host("10.0.0.11:8080", remote));
        assert!(
            !served.serves_host("localhost:8080", remote),
            "localhost names loopback only"
        );
        let port = Served::new("http://127.0.0.1:18080").unwrap();
        assert!(port.serves_host("127.0.0.1:18080", None));
        assert!(!port.serves_host("127.0.0.1", None));
        assert!(Served::new("ftp://pay.example").is_err());
        assert!(Served::new("not an address").is_err());
    }

    #[test]
    fn origins_are_compared_whole() {
        let served = Served::new("https://pay.example").unwrap();
        let check = |origin: &str, expected: bool| {
            assert_eq!(served.serves_origin(origin, local()), expected, "{origin}");
        };
        check("https://pay.example", true);
        check("http://pay.example", false);
        check("https://pay.example:8443", false);
        check("https://pay.example.attacker.example", false);
        check("http://127.0.0.1:18080", true);
        check("http://localhost:18080", true);
        check("https://127.0.0.1:18080", false);
        check("http://attacker.example:18080", false);
        check("null", false);
    }
}
