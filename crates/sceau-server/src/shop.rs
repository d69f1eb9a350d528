//! A demonstration merchant shop: a cart and a "Pay with sceau" button, the merchant's
//! side of Figures 1–3, so that the whole flow can be clicked through on one machine
//! (`sceau demo`) and driven by the browser tests.
//!
//! It is a separate web server, a merchant like any other: it knows sceau's address, its
//! API key and its webhook secret, creates a checkout server-to-server, sends the
//! browser to the payment page, and on return asks sceau (never the browser) whether the
//! order was paid. Its webhook endpoint checks the signature before believing anything.

use crate::clock::Clock;
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

/// What the shop needs to know about sceau, as any merchant would.
#[derive(Clone)]
pub struct ShopConfig {
    pub name: String,
    /// sceau's address, e.g. `http://127.0.0.1:8080`.
    pub sceau_url: String,
    pub api_key: String,
    pub webhook_secret: String,
    pub clock: Arc<dyn Clock>,
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
    let listener = tokio::net::TcpListener::bind(listen).await?;
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

fn escape(text: &str) -> String {
    crate::api::pages::escape(text)
}

fn page(shop: &Shop, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · {name}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         .cart{{border:1px solid #ddd;border-radius:.75rem;padding:1rem 1.25rem;background:#fff}}\
         .line{{display:flex;justify-content:space-between;margin:.4rem 0}}.total{{font-weight:700;border-top:1px solid #ddd;padding-top:.5rem}}\
         button{{margin-top:1rem;padding:.7rem 1.3rem;border:0;border-radius:.5rem;background:#0b5cad;color:#fff;font:inherit;font-weight:600;cursor:pointer}}\
         .ok{{color:#1f7a4d}}.bad{{color:#b42318}}</style></head>\
         <body><h1>{name}</h1>{body}</body></html>",
        title = escape(title),
        name = escape(&shop.config.name),
    );
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
    page(
        &shop,
        "Cart",
        "<div class=\"cart\"><h2>Your cart</h2>\
         <div class=\"line\"><span>Concert ticket, row F (×2)</span><span>49.90 EUR</span></div>\
         <div class=\"line total\"><span>Total</span><span id=\"total\">49.90 EUR</span></div>\
         <form method=\"post\" action=\"/checkout\"><button type=\"submit\" id=\"pay\">Pay with sceau</button></form></div>",
    )
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
        return page(&shop, "Order", "<p class=\"bad\">No order here.</p>");
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
        return page(
            &shop,
            "Order",
            "<p class=\"bad\">This order is unknown.</p>",
        );
    };
    let told = shop
        .events
        .lock()
        .map(|events| events.iter().any(|(checkout_id, _)| *checkout_id == id))
        .unwrap_or(false);
    let webhook = if told {
        "<p id=\"webhook\">sceau's signed notification was received and verified.</p>"
    } else {
        ""
    };
    let body = if checkout["paid"] == true {
        format!(
            "<h2 class=\"ok\" id=\"order-paid\">Thank you: order {} is paid.</h2>\
             <p>{} {} received, confirmed with a seal on your phone.</p>{webhook}",
            escape(checkout["reference"].as_str().unwrap_or_default()),
            escape(checkout["amount"].as_str().unwrap_or_default()),
            escape(checkout["currency"].as_str().unwrap_or_default()),
        )
    } else {
        format!(
            "<h2 class=\"bad\" id=\"order-not-paid\">Order {} is not paid ({}).</h2>{webhook}\
             <p><a href=\"/\">Back to the cart</a></p>",
            escape(checkout["reference"].as_str().unwrap_or_default()),
            escape(checkout["state"].as_str().unwrap_or_default()),
        )
    };
    page(&shop, "Order", &body)
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
        shop.config.clock.now_s(),
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
