//! A demonstration merchant shop: a cart and a "Pay with sceau" button, the merchant's
//! side of Figures 1–3, so that the whole flow can be clicked through on one machine
//! (`sceau demo`) and driven by the browser tests.
//!
//! It is a separate web server, a merchant like any other: it knows sceau's address, its
//! API key and its webhook secret, creates a checkout server-to-server, sends the
//! browser to the payment page, and on return asks sceau (never the browser) whether the
//! order was paid. Its webhook endpoint checks the signature before believing anything.
//! It knows nothing of sceau's server but its HTTP API; its pages are the templates in
//! `crates/sceau-shop/templates/` (askama: checked when built, every value escaped).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// How far a webhook's timestamp may be from the shop's clock.
const WEBHOOK_TOLERANCE_S: i64 = 5 * 60;
/// Most webhook events the shop keeps in memory.
const EVENTS_MAX: usize = 1_000;

/// The shop's clock: seconds since the Unix epoch (the tests share sceau's own clock,
/// which they move).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The computer's clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// What the shop needs to know about sceau, as any merchant would.
#[derive(Clone)]
pub struct ShopConfig {
    pub name: String,
    /// sceau's address, e.g. `http://127.0.0.1:8080`.
    pub sceau_url: String,
    pub api_key: String,
    pub webhook_secret: String,
    pub clock: Clock,
}

#[derive(Clone)]
struct Shop {
    config: ShopConfig,
    /// This shop's own address, for the return and webhook addresses.
    address: String,
    http: reqwest::Client,
    /// Checkout ids of the verified webhooks received, with their event type.
    events: Arc<Mutex<Vec<(String, String)>>>,
}

/// A running shop.
pub struct RunningShop {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RunningShop {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Starts the shop on `listen` (loopback).
pub async fn start(config: ShopConfig, listen: SocketAddr) -> std::io::Result<RunningShop> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| {
            std::io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
        })?;
    let address = listener.local_addr()?;
    let shop = Shop {
        config,
        address: format!("http://{address}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_default(),
        events: Arc::default(),
    };
    let app = Router::new()
        .route("/", get(cart))
        .route("/checkout", post(checkout))
        .route("/return", get(returned))
        .route("/webhooks", post(webhook))
        .with_state(shop);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "demo shop stopped");
        }
    });
    Ok(RunningShop { address, task })
}

/// What a page of the shop says under its name.
enum Content<'a> {
    Cart,
    NoOrder,
    Unknown,
    Paid {
        reference: &'a str,
        amount: &'a str,
        currency: &'a str,
    },
    NotPaid {
        reference: &'a str,
        state: &'a str,
    },
}

#[derive(Template)]
#[template(path = "shop.html")]
struct Page<'a> {
    name: &'a str,
    title: &'a str,
    content: Content<'a>,
    /// Whether sceau's signed notification about the order was received.
    webhook: bool,
}

/// A page of the shop, with its headers: inline style only, forms to itself or sceau.
fn page(shop: &Shop, title: &str, content: Content, webhook: bool) -> Response {
    let page = Page {
        name: &shop.config.name,
        title,
        content,
        webhook,
    };
    let Ok(html) = page.render() else {
        tracing::error!("demo shop: a page could not be rendered");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn cart(State(shop): State<Shop>) -> Response {
    page(&shop, "Cart", Content::Cart, false)
}

async fn checkout(State(shop): State<Shop>) -> Result<Response, StatusCode> {
    let order = hex::encode(sceau_crypto::random_bytes::<6>());
    let body = serde_json::json!({
        "amount": "49.90", "currency": "EUR", "reference": format!("order-{order}"),
        "object": "Two concert tickets, row F",
        "return_url": format!("{}/return", shop.address),
        "webhook_url": format!("{}/webhooks", shop.address),
    });
    let answer = shop
        .http
        .post(format!("{}/v1/checkouts", shop.config.sceau_url))
        .bearer_auth(&shop.config.api_key)
        .header("idempotency-key", format!("order-{order}"))
        .json(&body)
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if answer.status() != StatusCode::CREATED {
        tracing::warn!(
            status = answer.status().as_u16(),
            "demo shop: checkout refused"
        );
        return Err(StatusCode::BAD_GATEWAY);
    }
    let created: serde_json::Value = answer.json().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    let url = created["url"].as_str().ok_or(StatusCode::BAD_GATEWAY)?;
    let mut response = Redirect::to(url).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    Ok(response)
}

#[derive(Deserialize)]
struct ReturnQuery {
    checkout: Option<String>,
}

/// The client is back: ask sceau how the checkout ended (the address proves nothing).
async fn returned(State(shop): State<Shop>, Query(query): Query<ReturnQuery>) -> Response {
    let Some(id) = query
        .checkout
        .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    else {
        return page(&shop, "Order", Content::NoOrder, false);
    };
    let answer = shop
        .http
        .get(format!("{}/v1/checkouts/{id}", shop.config.sceau_url))
        .bearer_auth(&shop.config.api_key)
        .send()
        .await;
    let checkout: Option<serde_json::Value> = match answer {
        Ok(answer) if answer.status().is_success() => answer.json().await.ok(),
        _ => None,
    };
    let Some(checkout) = checkout else {
        return page(&shop, "Order", Content::Unknown, false);
    };
    let told = shop
        .events
        .lock()
        .map(|events| events.iter().any(|(checkout_id, _)| *checkout_id == id))
        .unwrap_or(false);
    let text = |key: &str| checkout[key].as_str().unwrap_or_default();
    let content = if checkout["paid"] == true {
        Content::Paid {
            reference: text("reference"),
            amount: text("amount"),
            currency: text("currency"),
        }
    } else {
        Content::NotPaid {
            reference: text("reference"),
            state: text("state"),
        }
    };
    page(&shop, "Order", content, told)
}

/// Checks a `Sceau-Signature: t=…,v1=…` header against the raw body.
pub fn verify_signature(secret: &str, header: &str, body: &[u8], now_s: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if now_s.abs_diff(timestamp) > WEBHOOK_TOLERANCE_S.unsigned_abs() {
        return false;
    }
    let expected = sceau_crypto::webhook_signature(secret, timestamp, body);
    signatures
        .iter()
        .any(|signature| sceau_crypto::constant_time_eq(signature.as_bytes(), expected.as_bytes()))
}

async fn webhook(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers
        .get("sceau-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !verify_signature(
        &shop.config.webhook_secret,
        header,
        &body,
        (shop.config.clock)(),
    ) {
        tracing::warn!("demo shop: webhook with a bad signature refused");
        return StatusCode::BAD_REQUEST;
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = event["checkout_id"].as_str().unwrap_or_default().to_owned();
    let kind = event["type"].as_str().unwrap_or_default().to_owned();
    if let Ok(mut events) = shop.events.lock()
        && events.len() < EVENTS_MAX
    {
        events.push((id, kind));
    }
    StatusCode::NO_CONTENT
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_sceau_answers() {
        let hostile = "<script>alert(\"x\")</script> & 'y'";
        let escaped = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;";
        let contents = [
            Content::Paid {
                reference: hostile,
                amount: hostile,
                currency: hostile,
            },
            Content::NotPaid {
                reference: hostile,
                state: hostile,
            },
        ];
        for content in contents {
            let html = Page {
                name: hostile,
                title: hostile,
                content,
                webhook: true,
            }
            .render()
            .unwrap();
            assert!(html.contains(&format!("<title>{escaped} · {escaped}</title>")));
            assert!(html.contains(&format!("rder {escaped} is")), "{html}");
            assert!(!html.contains("<script"), "{html}");
            assert!(!html.contains("\"x\""), "{html}");
            assert!(html.contains("id=\"webhook\""));
        }
    }

    #[test]
    fn webhook_signatures_are_checked_with_time_and_body() {
        let secret = "whsec_test";
        let body = br#"{"type":"checkout.paid"}"#;
        let signature = sceau_crypto::webhook_signature(secret, 1_000, body);
        let header = format!("t=1000,v1={signature}");
        assert!(verify_signature(secret, &header, body, 1_000));
        assert!(verify_signature(
            secret,
            &header,
            body,
            1_000 + WEBHOOK_TOLERANCE_S
        ));
        assert!(
            !verify_signature(secret, &header, body, 1_001 + WEBHOOK_TOLERANCE_S),
            "too old"
        );
        assert!(
            !verify_signature(secret, &header, b"{}", 1_000),
            "other body"
        );
        assert!(
            !verify_signature("whsec_other", &header, body, 1_000),
            "other secret"
        );
        assert!(
            !verify_signature(secret, &format!("t=1001,v1={signature}"), body, 1_000),
            "other time"
        );
        assert!(!verify_signature(secret, "v1=00", body, 1_000));
        assert!(!verify_signature(secret, "", body, 1_000));
        let extreme = format!("t={},v1={signature}", i64::MIN);
        assert!(
            !verify_signature(secret, &extreme, body, i64::MAX),
            "no overflow"
        );
    }
}
