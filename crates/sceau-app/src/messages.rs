//! What operators see of the second channel: each message's course (queued, submitted on
//! a route, delivered, failed or expired), counts by route and state; never a body.

use crate::{AppError, Service};
use sceau_store::{MessageCount, MessageStatus};

/// The window the counts cover.
pub const COUNTS_WINDOW_S: i64 = 24 * 3600;
/// Most messages one page lists.
pub const MESSAGES_PAGE_MAX: u32 = 1000;

/// Counts of the last day by route and state, and one page of messages, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageOverview {
    pub counts_since_s: i64,
    pub counts: Vec<MessageCount>,
    pub messages: Vec<MessageStatus>,
}

impl Service {
    /// The outbox as operators see it: `before` pages back from a message id; `limit` is
    /// 1 to [`MESSAGES_PAGE_MAX`].
    pub async fn message_overview(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<MessageOverview, AppError> {
        let since_s = self.now_s() - COUNTS_WINDOW_S;
        let counts = self.store.message_counts(since_s).await?;
        let messages = self
            .store
            .message_states(before, limit.clamp(1, MESSAGES_PAGE_MAX))
            .await?;
        Ok(MessageOverview {
            counts_since_s: since_s,
            counts,
            messages,
        })
    }
}

/// What a bounce did (`Service::record_bounce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BounceOutcome {
    /// Not a permanent failure of one of sceau's messages: nothing recorded.
    NotABounce,
    /// The messages (their outbox ids) recorded failed, with the report's status.
    Recorded { messages: Vec<i64>, status: String },
    /// A bounce of messages no e-mail route here took (or sent long ago and gone).
    Unknown { status: String },
}

impl crate::service::Service {
    /// Records a bounce (a delivery status notification, as the mail system hands it
    /// over): each of sceau's messages it returns fails, on the route in `routes` that
    /// took it; a certified delivery's notice among them fails its recipient, and the
    /// sender is told.
    pub async fn record_bounce(
        &self,
        mail: &[u8],
        routes: &[String],
    ) -> Result<BounceOutcome, crate::error::AppError> {
        let Some(bounce) = sceau_channel::email::bounce::parse(mail) else {
            return Ok(BounceOutcome::NotABounce);
        };
        let now_s = self.now_s();
        let mut messages = Vec::new();
        for id in &bounce.message_ids {
            let form = sceau_channel::receipt::normalize_id(id);
            for route in routes {
                let found = self
                    .store
                    .record_report(
                        route,
                        std::slice::from_ref(&form),
                        sceau_store::PartOutcome::Failed,
                        now_s,
                    )
                    .await?;
                if let Some(found) = found {
                    messages.push(found.message_id);
                    break;
                }
            }
        }
        if messages.is_empty() {
            return Ok(BounceOutcome::Unknown {
                status: bounce.status,
            });
        }
        tracing::info!(messages = messages.len(), status = %bounce.status, "bounce recorded");
        Ok(BounceOutcome::Recorded {
            messages,
            status: bounce.status,
        })
    }
}
