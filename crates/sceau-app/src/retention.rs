//! The purge (issue 23): what is past its retention window (`Settings::retention`, the
//! rule in `sceau_domain::retention`) is removed in small batches, each one short write
//! transaction, by a worker that looks every minute.

use crate::dispatch::Stop;
use crate::error::AppError;
use crate::service::Service;
use sceau_store::{Purge, Purged};
use std::time::Duration;

/// Rows of each kind one batch removes at most: one batch is one write transaction, and
/// payments wait behind it on SQLite's one writer.
pub const PURGE_BATCH_MAX: u32 = 500;

/// How often the worker looks for what is past its window.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Batches one look runs at most before it lets a minute pass (a backlog, after the
/// windows were shortened, is worked off over several looks).
const BATCHES_PER_LOOK_MAX: u32 = 200;

impl Service {
    /// One batch of the purge at the service's time: what it removed.
    pub async fn purge_batch(&self, batch_max: u32) -> Result<Purged, AppError> {
        let cutoffs = self.settings.retention.cutoffs(self.now_s());
        let purged = self.store.purge(Purge { cutoffs, batch_max }).await?;
        for (kind, count) in purged.kinds() {
            if count > 0 {
                crate::metrics::purged(kind, count);
            }
        }
        Ok(purged)
    }

    /// Batches until none is full, `batches_max` ran, or `stop` is asked for (checked
    /// between two batches): the total removed. The worker's look and the tests' alike.
    pub async fn purge(
        &self,
        batch_max: u32,
        batches_max: u32,
        stop: Option<&Stop>,
    ) -> Result<Purged, AppError> {
        let batch_max = batch_max.max(1);
        let mut total = Purged::default();
        for _ in 0..batches_max {
            if stop.is_some_and(Stop::is_stopped) {
                break;
            }
            let batch = self.purge_batch(batch_max).await?;
            total.add(&batch);
            if !batch.full(batch_max) {
                break;
            }
            // Other writers go between two batches.
            tokio::task::yield_now().await;
        }
        Ok(total)
    }
}

/// The purge worker: every minute, batches until what is past its window is gone; stops
/// between two batches.
pub(crate) async fn purge_forever(service: Service, mut stop: Stop) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    // A long look is followed by a minute's rest, not by the ticks it missed.
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.stopped() => return,
        }
        match service
            .purge(PURGE_BATCH_MAX, BATCHES_PER_LOOK_MAX, Some(&stop))
            .await
        {
            Ok(total) if total != Purged::default() => tracing::info!(
                sessions = total.sessions,
                idempotency_keys = total.idempotency_keys,
                webhooks = total.webhooks,
                checkouts = total.checkouts,
                message_bodies = total.message_bodies,
                messages = total.messages,
                "purged what is past its retention window"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(code = error.code(), "the purge failed; it is tried again");
            }
        }
        if stop.is_stopped() {
            return;
        }
    }
}
