//! Webhooks: telling merchants what happened to their checkouts, signed, until they
//! acknowledge it (a 2xx answer), with back-off, a bounded number of times.
//!
//! Each delivery is `POST`ed as JSON with `Sceau-Signature: t=<unix seconds>,v1=<hex>`,
//! where `v1` is HMAC-SHA256 under the merchant's webhook secret over `"<t>.<body>"`
//! (the merchant recomputes it over the raw body and checks `t` is recent). Redirects are
//! not followed. Deliveries are claimed in the store, so several instances never send
//! the same one at the same time.

use crate::{AppError, Service};
use sceau_store::{RotationOutcome, StoreError, WebhookDelivery, WebhookResult};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
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

/// Whether an address is on the public Internet (not this machine, a private, shared,
/// link-local, unique-local, documentation, multicast or unspecified network).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || ip.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let [first, second, third, fourth, fifth, ..] = ip.segments();
                !(ip.is_loopback()
                    || ip.is_unspecified()
                    || ip.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
                    // Site-local (deprecated, still routed inside some networks).
                    || (first & 0xffc0) == 0xfec0
                    || (first == 0x2001 && second == 0x0db8)
                    // Forms that carry an IPv4 address, which may be a private one:
                    // IPv4-compatible (::/96), NAT64 (64:ff9b::/96, 64:ff9b:1::/48),
                    // 6to4 (2002::/16) and Teredo (2001::/32); and discard-only (100::/64).
                    || (first, second, third, fourth, fifth) == (0, 0, 0, 0, 0)
                    || (first == 0x64 && second == 0xff9b)
                    || first == 0x2002
                    || (first == 0x2001 && second == 0)
                    || (first == 0x100 && second == 0 && third == 0 && fourth == 0))
            }
        },
    }
}

/// Resolves names to their public addresses only: a merchant's name that resolves into
/// the operator's network (at creation or later: DNS rebinding) is not reached.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|address| is_public(address.ip())).collect();
            if public.is_empty() {
                return Err("the name has no public address".into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

/// The HTTP client for webhooks: no redirects, a timeout, no proxy from the environment;
/// public addresses only unless `private_networks` (development, tests, the demo).
pub fn http_client(private_networks: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WEBHOOK_TIMEOUT)
        .no_proxy()
        .user_agent("sceau-webhooks");
    let builder = if private_networks {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    };
    builder.build().unwrap_or_default()
}

/// Whether a webhook address may be reached: names are checked when resolved; an address
/// written as an IP is checked here.
fn reachable(url: &str, private_networks: bool) -> bool {
    if private_networks {
        return true;
    }
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.host_str() {
        Some(host) => match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => is_public(ip),
            Err(_) => true,
        },
        None => false,
    }
}

/// Delivers webhooks until `stop`: then ends after the webhook on its way (those it
/// claimed and did not try yet are tried when their claim runs out).
pub async fn deliver_forever(service: Service, mut stop: crate::dispatch::Stop) {
    let client = http_client(service.settings.webhooks_to_private_networks);
    while !stop.is_stopped() {
        let handled = match deliver_until(&service, &client, Some(&stop)).await {
            Ok(handled) => handled,
            Err(error) => {
                tracing::warn!(%error, "webhook delivery failed; will retry");
                0
            }
        };
        if handled == 0 {
            tokio::select! {
                _ = tokio::time::timeout(WEBHOOK_IDLE_WAIT, service.webhooks_ready.notified()) => {}
                () = stop.stopped() => {}
            }
        }
    }
}

/// Delivers the webhooks that are due; returns how many were attempted.
pub async fn deliver_once(
    service: &Service,
    client: &reqwest::Client,
) -> Result<usize, StoreError> {
    deliver_until(service, client, None).await
}

/// Delivers the webhooks that are due, one after the other until `stop` is asked for;
/// returns how many were attempted.
async fn deliver_until(
    service: &Service,
    client: &reqwest::Client,
    stop: Option<&crate::dispatch::Stop>,
) -> Result<usize, StoreError> {
    let due = service
        .store
        .claim_webhooks(service.now_s(), WEBHOOK_CLAIM_S, WEBHOOK_BATCH_MAX)
        .await?;
    let mut attempted = 0;
    for webhook in due {
        if stop.is_some_and(crate::dispatch::Stop::is_stopped) {
            break;
        }
        let result = attempt(service, client, &webhook).await;
        let outcome = match &result {
            WebhookResult::Delivered { .. } => "delivered",
            WebhookResult::Retry { .. } => "retry",
            WebhookResult::GaveUp { .. } => "gave_up",
        };
        service.store.mark_webhook(webhook.id, result).await?;
        crate::metrics::webhook(outcome);
        attempted += 1;
    }
    Ok(attempted)
}

/// `t=<time>,v1=<signature>`: one `v1` per secret that signs now (the one in use first,
/// then, while a rotation's overlap lasts, the one before), so that the merchant's
/// servers accept it with either.
fn signature_header(service: &Service, webhook: &WebhookDelivery, timestamp_s: i64) -> String {
    let mut header = format!("t={timestamp_s}");
    for version in webhook.secrets.signing(timestamp_s) {
        let secret = service
            .keys
            .webhook_secret_version(webhook.merchant_id, version);
        let signature =
            sceau_crypto::webhook_signature(&secret, timestamp_s, webhook.body.as_bytes());
        header.push_str(",v1=");
        header.push_str(&signature);
    }
    header
}

/// A merchant's new webhook secret, until when the one before still signs, and whether
/// this answers again an earlier rotation (same idempotency key).
pub struct RotatedSecret {
    pub webhook_secret: zeroize::Zeroizing<String>,
    pub previous_until_s: Option<i64>,
    pub replayed: bool,
}

impl Service {
    /// Rotates the webhook secret of `merchant_id`: the new one signs every webhook from
    /// now on, the one in use too for `overlap_s` seconds (0 to a week). Under an
    /// idempotency key seen before, the same secret again, nothing rotated. The rotation
    /// is evidence, naming `by` (never the secret).
    pub async fn rotate_webhook_secret(
        &self,
        merchant_id: i64,
        overlap_s: i64,
        idempotency: Option<sceau_store::IdempotencyKey>,
        by: sceau_store::ActedBy,
    ) -> Result<RotatedSecret, AppError> {
        let rotation = sceau_store::RotateWebhookSecret {
            merchant_id,
            overlap_s,
            now_s: self.now_s(),
            idempotency,
            by,
        };
        let (secrets, replayed) = match self.store.rotate_webhook_secret(rotation).await? {
            RotationOutcome::Rotated(secrets) => (secrets, false),
            RotationOutcome::Replayed(secrets) => (secrets, true),
            RotationOutcome::Refused(refused) => {
                return Err(AppError::InvalidField(refused.to_string()));
            }
            RotationOutcome::NoMerchant => {
                return Err(crate::error::internal("the merchant vanished"));
            }
        };
        if !replayed {
            tracing::info!(
                merchant_id,
                version = secrets.version,
                "webhook secret rotated"
            );
        }
        Ok(RotatedSecret {
            webhook_secret: self
                .keys
                .webhook_secret_version(merchant_id, secrets.version),
            previous_until_s: secrets.previous.map(|(_, until_s)| until_s),
            replayed,
        })
    }
}

async fn attempt(
    service: &Service,
    client: &reqwest::Client,
    webhook: &WebhookDelivery,
) -> WebhookResult {
    if !reachable(&webhook.url, service.settings.webhooks_to_private_networks) {
        tracing::warn!(
            webhook_id = webhook.id,
            "webhook address not public: not sent"
        );
        return WebhookResult::GaveUp {
            error: "the address is not on the public Internet".to_owned(),
            now_s: service.now_s(),
        };
    }
    let timestamp_s = service.now_s();
    let header = signature_header(service, webhook, timestamp_s);
    let sent = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("sceau-signature", header)
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
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        let check = |ip: &str, public: bool| {
            assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
        };
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "ff02::1",
        ] {
            check(private, false);
        }
        for public in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            check(public, true);
        }
        assert!(!reachable("https://10.0.0.1/hooks", false));
        assert!(!reachable("https://[::1]/hooks", false));
        for embedded in [
            "::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "fec0::1",
            "100::1",
        ] {
            let ip: IpAddr = embedded.parse().unwrap();
            assert!(!is_public(ip), "{embedded}");
        }
        assert!(is_public("2a00:1450:4007::64".parse().unwrap()));
        assert!(reachable("https://shop.example/hooks", false));
        assert!(reachable("http://127.0.0.1/hooks", true));
    }

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
