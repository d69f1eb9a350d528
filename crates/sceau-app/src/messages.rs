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
