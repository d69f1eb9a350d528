//! Messages for the second channel, queued in the transaction of what they report, claimed and marked by the dispatcher.

use super::*;

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue_message(&self, message: NewMessage, now_s: i64) -> Result<i64, StoreError> {
        self.write(move |c| ops::enqueue_message(c, &message, now_s))
            .await
    }

    async fn pending_messages(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = crate::rows::PENDING_MESSAGES.sqlite();
        self.read(move |c| read::all(c, sql, [limit])).await
    }

    async fn claim_messages(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.write(move |c| read::claim_messages(c, now_s, lease_s, limit))
            .await
    }

    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let (state, channel, reference, now_s) = crate::rows::delivery_columns(&delivery);
            let marked = rusqlite::params![message_id, state, channel, reference, now_s];
            c.prepare_cached(crate::rows::MESSAGE_MARK.sqlite())?
                .execute(marked)?;
            Ok(())
        })
        .await
    }

    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let address = address.to_owned();
        let sql = crate::rows::MESSAGES_TO.sqlite();
        self.read(move |c| read::all(c, sql, rusqlite::params![address, limit]))
            .await
    }
}
