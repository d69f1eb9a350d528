//! Messages for the second channel, queued in the transaction of what they report, claimed and marked by the dispatcher.

use super::*;

#[async_trait]
impl Outbox for PostgresStore {
    async fn enqueue_message(&self, message: NewMessage, now_s: i64) -> Result<i64, StoreError> {
        self.write(Guard::Nothing, (message, now_s), |c, d, _| {
            ops::enqueue_message(c, &d.0, d.1).boxed()
        })
        .await
    }

    async fn pending_messages(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = crate::rows::PENDING_MESSAGES.postgres();
        self.read(async |c| read::all(c, sql, &[&i64::from(limit)]).await)
            .await
    }

    async fn claim_messages(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.write(Guard::Nothing, (now_s, lease_s, limit), |c, d, _| {
            read::claim_messages(c, d.0, d.1, d.2).boxed()
        })
        .await
    }

    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<(), StoreError> {
        self.write(Guard::Nothing, (message_id, delivery), |c, d, _| {
            async move {
                let (state, channel, reference, now_s) = crate::rows::delivery_columns(&d.1);
                let marked = [
                    &d.0 as _,
                    &state as _,
                    channel as _,
                    reference as _,
                    &now_s as _,
                ];
                exec(c, crate::rows::MESSAGE_MARK.postgres(), &marked).await?;
                Ok(())
            }
            .boxed()
        })
        .await
    }

    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = crate::rows::MESSAGES_TO.postgres();
        let limit = i64::from(limit);
        self.read(async |c| read::all(c, sql, &[&address, &limit]).await)
            .await
    }
}
