//! Signed notices to merchants' servers, queued with their event, claimed and marked by the deliverer.

use super::*;
use crate::ops::webhooks;

#[async_trait]
impl Webhooks for PostgresStore {
    async fn claim_webhooks(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.write(Guard::Nothing, (now_s, lease_s, limit), |c, d, locked| {
            async move { webhooks::claim(&PgTx::new(c, locked), d.0, d.1, d.2).await }.boxed()
        })
        .await
    }

    async fn mark_webhook(&self, webhook_id: i64, result: WebhookResult) -> Result<(), StoreError> {
        self.write(Guard::Nothing, (webhook_id, result), |c, d, locked| {
            async move { webhooks::mark(&PgTx::new(c, locked), d.0, &d.1).await }.boxed()
        })
        .await
    }

    async fn rotate_webhook_secret(
        &self,
        rotation: RotateWebhookSecret,
    ) -> Result<RotationOutcome, StoreError> {
        // The merchant's row, locked with the batch's others in their order: two
        // rotations at once (two instances) take turns, each from the other's result.
        let guard = Guard::Merchant(rotation.merchant_id);
        self.write(guard, rotation, |c, rotation, locked| {
            async move { webhooks::rotate_secret(&PgTx::new(c, locked), rotation).await }.boxed()
        })
        .await
    }
}
