//! Background work: the outbox dispatcher (pending messages → second channel) and the
//! expiry sweep (holds past their time released, numbers past validity expired, messages
//! whose secret expired unsent).

use crate::Service;
use sceau_channel::{ChannelError, OutgoingText, SecondChannel};
use sceau_store::MessageDelivery;
use std::sync::Arc;
use std::time::Duration;

const OUTBOX_BATCH_MAX: u32 = 100;
/// How long a dispatcher holds the messages it took: another instance's dispatcher sends
/// them only if this one has not marked them by then (it stopped, or the channel failed).
const OUTBOX_CLAIM_S: i64 = 15;
const OUTBOX_IDLE_WAIT: Duration = Duration::from_secs(5);
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Handle on the background tasks; aborting it stops them.
pub struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Background {
    pub fn abort(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

pub fn spawn_background(service: Service, channel: Arc<dyn SecondChannel>) -> Background {
    let dispatcher = tokio::spawn(dispatch_forever(service.clone(), channel));
    let webhooks = tokio::spawn(crate::webhooks::deliver_forever(service.clone()));
    let log = tokio::spawn(crate::transparency::integrate_forever(service.clone()));
    let mut tasks = crate::receipts::ReceiptQueue::start(&service);
    let sweeper = tokio::spawn(sweep_forever(service));
    tasks.extend([dispatcher, webhooks, sweeper, log]);
    Background(tasks)
}

async fn dispatch_forever(service: Service, channel: Arc<dyn SecondChannel>) {
    loop {
        let sent = match dispatch_once(&service, channel.as_ref()).await {
            Ok(sent) => sent,
            Err(error) => {
                tracing::warn!(%error, "outbox dispatch failed; will retry");
                0
            }
        };
        if sent == 0 {
            let _ = tokio::time::timeout(OUTBOX_IDLE_WAIT, service.outbox_ready.notified()).await;
        }
    }
}

/// Sends what is pending and not taken by another dispatcher; returns how many messages
/// were handled (taken by a route, failed or expired). Transient failures stay pending and are tried again after a claim's
/// time; a message whose secret expired is not sent (the sweep records it).
pub async fn dispatch_once(
    service: &Service,
    channel: &dyn SecondChannel,
) -> Result<usize, sceau_store::StoreError> {
    let pending = service
        .store
        .claim_messages(service.now_s(), OUTBOX_CLAIM_S, OUTBOX_BATCH_MAX)
        .await?;
    let mut handled = 0;
    for message in pending {
        let now_s = service.now_s();
        let delivery = match (
            message.address.parse(),
            service.keys.unseal(&message.sealed_body, &message.address),
        ) {
            (Ok(to), Ok(text)) => {
                let outgoing = OutgoingText {
                    message_id: message.id,
                    to: &to,
                    text: &text,
                    expires_at_s: message.expires_at_s,
                };
                let route = channel.kind().to_owned();
                match channel.send(&outgoing).await {
                    Ok(accepted) => MessageDelivery::Submitted {
                        route,
                        parts: accepted.parts,
                        now_s,
                    },
                    Err(ChannelError::Permanent(reason)) => MessageDelivery::Failed {
                        route: Some(route),
                        reason,
                        now_s,
                    },
                    Err(ChannelError::Expired) => MessageDelivery::Expired { now_s },
                    Err(ChannelError::Transient(reason)) => {
                        tracing::warn!(message_id = message.id, %reason, "second channel unavailable");
                        MessageDelivery::Retry {
                            route: Some(route),
                            reason,
                            retry_at_s: now_s + OUTBOX_CLAIM_S,
                            now_s,
                        }
                    }
                }
            }
            _ => MessageDelivery::Failed {
                route: None,
                reason: "cannot be opened".into(),
                now_s,
            },
        };
        let submitted = matches!(delivery, MessageDelivery::Submitted { .. });
        let retry = matches!(delivery, MessageDelivery::Retry { .. });
        if service.store.mark_message(message.id, delivery).await? && !retry {
            if submitted {
                tracing::info!(
                    message_id = message.id,
                    channel = channel.kind(),
                    "message handed to the second channel"
                );
            }
            handled += 1;
        }
    }
    Ok(handled)
}

async fn sweep_forever(service: Service) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        match service.store.expire(service.now_s()).await {
            Ok(expired)
                if expired.holds_released > 0
                    || expired.numbers_expired > 0
                    || expired.checkouts_expired > 0 =>
            {
                tracing::info!(
                    holds = expired.holds_released,
                    numbers = expired.numbers_expired,
                    checkouts = expired.checkouts_expired,
                    "expired"
                );
                if expired.checkouts_expired > 0 {
                    service.webhooks_ready.notify_one();
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "expiry sweep failed"),
        }
        match service.store.expire_messages(service.now_s()).await {
            Ok(0) => {}
            Ok(messages) => tracing::info!(messages, "messages expired unsent"),
            Err(error) => tracing::warn!(%error, "expiry sweep of the outbox failed"),
        }
    }
}
