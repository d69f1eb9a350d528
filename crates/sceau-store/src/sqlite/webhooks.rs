//! Signed notices to merchants' servers, queued with their event, claimed and marked by the deliverer.

use super::*;
use crate::ops::webhooks;
use crate::tx::run_now;

#[async_trait]
impl Webhooks for SqliteStore {
    async fn claim_webhooks(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.write(move |c| run_now(webhooks::claim(&SqliteTx(c), now_s, lease_s, limit)))
            .await
    }

    async fn mark_webhook(&self, webhook_id: i64, result: WebhookResult) -> Result<(), StoreError> {
        self.write(move |c| run_now(webhooks::mark(&SqliteTx(c), webhook_id, &result)))
            .await
    }

    async fn rotate_webhook_secret(
        &self,
        rotation: RotateWebhookSecret,
    ) -> Result<RotationOutcome, StoreError> {
        self.write(move |c| run_now(webhooks::rotate_secret(&SqliteTx(c), &rotation)))
            .await
    }
}
