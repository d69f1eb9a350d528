//! Webhooks: telling merchants what happened to their checkouts, signed, until they
//! acknowledge it (a 2xx answer), with back-off, a bounded number of times.
//!
//! Each delivery is `POST`ed as JSON with `Sceau-Signature: t=<unix seconds>,v1=<hex>`,
//! where `v1` is HMAC-SHA256 under the merchant's webhook secret over `"<t>.<body>"`
//! (the merchant recomputes it over the raw body and checks `t` is recent). Redirects are
//! not followed. Deliveries are claimed in the store, so several instances never send
//! the same one at the same time.

use crate::Service;
use sceau_store::{StoreError, WebhookDelivery, WebhookResult};
use std::time::Duration;

/// Deliveries taken at once: few enough that all of them are tried, one after the other,
/// within their claim even if every merchant's server hangs until the timeout (so that
/// another instance never takes one over while it is still being tried).
const WEBHOOK_BATCH_MAX: u32 = 5;
/// How long a dispatcher holds the deliveries it took.
const WEBHOOK_CLAIM_S: i64 = 60;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const WEBHOOK_IDLE_WAIT: Duration = Duration::from_secs(5);
/// Attempts before sceau gives up on a delivery (about 1 day of back-off in all).
pub const WEBHOOK_ATTEMPTS_MAX: u32 = 12;
/// The first retry waits this long; each later one twice as long, up to the cap.
const WEBHOOK_RETRY_FIRST_S: i64 = 30;
const WEBHOOK_RETRY_CAP_S: i64 = 6 * 60 * 60;
/// Longest error text kept from a failed attempt.
const ERROR_LEN_MAX: usize = 200;

const _: () =
    assert!(WEBHOOK_CLAIM_S > WEBHOOK_BATCH_MAX as i64 * WEBHOOK_TIMEOUT.as_secs() as i64);

/// When the attempt after `attempts` failed ones is due, counted from now.
pub fn retry_after_s(attempts: u32) -> i64 {
    let doubling = 1_i64 << attempts.min(20);
    WEBHOOK_RETRY_FIRST_S
        .saturating_mul(doubling)
        .min(WEBHOOK_RETRY_CAP_S)
}

/// The HTTP client for webhooks: no redirects, a timeout, no proxy from the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WEBHOOK_TIMEOUT)
        .no_proxy()
        .user_agent("sceau-webhooks")
        .build()
        .unwrap_or_default()
}

pub async fn deliver_forever(service: Service) {
    let client = http_client();
    loop {
        let handled = match deliver_once(&service, &client).await {
            Ok(handled) => handled,
            Err(error) => {
                tracing::warn!(%error, "webhook delivery failed; will retry");
                0
            }
        };
        if handled == 0 {
            let _ =
                tokio::time::timeout(WEBHOOK_IDLE_WAIT, service.webhooks_ready.notified()).await;
        }
    }
}

/// Delivers the webhooks that are due; returns how many were attempted.
pub async fn deliver_once(
    service: &Service,
    client: &reqwest::Client,
) -> Result<usize, StoreError> {
    let due = service
        .store
        .claim_webhooks(service.now_s(), WEBHOOK_CLAIM_S, WEBHOOK_BATCH_MAX)
        .await?;
    let attempted = due.len();
    for webhook in due {
        let result = attempt(service, client, &webhook).await;
        service.store.mark_webhook(webhook.id, result).await?;
    }
    Ok(attempted)
}

async fn attempt(
    service: &Service,
    client: &reqwest::Client,
    webhook: &WebhookDelivery,
) -> WebhookResult {
    let secret = service.keys.webhook_secret(webhook.merchant_id);
    let timestamp_s = service.now_s();
    let signature = sceau_crypto::webhook_signature(&secret, timestamp_s, webhook.body.as_bytes());
    let sent = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("sceau-signature", format!("t={timestamp_s},v1={signature}"))
        .header("sceau-event", &webhook.event)
        .header("sceau-delivery", webhook.id.to_string())
        .body(webhook.body.clone())
        .send()
        .await;
    let now_s = service.now_s();
    let error = match sent {
        Ok(answer) if answer.status().is_success() => {
            tracing::info!(webhook_id = webhook.id, event = %webhook.event, "webhook delivered");
            return WebhookResult::Delivered { now_s };
        }
        Ok(answer) => format!("HTTP {}", answer.status().as_u16()),
        Err(error) if error.is_timeout() => "timed out".to_owned(),
        Err(error) if error.is_connect() => "connection failed".to_owned(),
        Err(_) => "request failed".to_owned(),
    };
    let error: String = error.chars().take(ERROR_LEN_MAX).collect();
    let attempts = webhook.attempts.saturating_add(1);
    tracing::info!(webhook_id = webhook.id, attempts, %error, "webhook not acknowledged");
    if attempts >= WEBHOOK_ATTEMPTS_MAX {
        WebhookResult::GaveUp { error, now_s }
    } else {
        WebhookResult::Retry {
            next_attempt_s: now_s.saturating_add(retry_after_s(attempts - 1)),
            error,
            now_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_a_cap() {
        assert_eq!(retry_after_s(0), 30);
        assert_eq!(retry_after_s(1), 60);
        assert_eq!(retry_after_s(5), 960);
        assert_eq!(retry_after_s(10), WEBHOOK_RETRY_CAP_S);
        assert_eq!(retry_after_s(u32::MAX), WEBHOOK_RETRY_CAP_S);
        let total: i64 = (0..WEBHOOK_ATTEMPTS_MAX - 1).map(retry_after_s).sum();
        assert!((12 * 3600..=2 * 24 * 3600).contains(&total), "{total}");
    }
}
