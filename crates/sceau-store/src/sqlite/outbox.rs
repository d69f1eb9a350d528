//! The outbox on SQLite (the operations are `ops::outbox`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Outbox;
use crate::model::*;
use crate::ops::outbox as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue_message(&self, message: NewMessage, now_s: i64) -> Result<i64, StoreError> {
        self.write(move |c| run_now(ops::enqueue_message(&SqliteTx(c), &message, now_s)))
            .await
    }

    async fn pending_messages(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(move |c| run_now(ops::pending_messages(&SqliteTx(c), limit)))
            .await
    }

    async fn claim_messages(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.write(move |c| run_now(ops::claim_messages(&SqliteTx(c), now_s, lease_s, limit)))
            .await
    }

    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<(), StoreError> {
        self.write(move |c| run_now(ops::mark_message(&SqliteTx(c), message_id, &delivery)))
            .await
    }

    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let address = address.to_owned();
        self.read(move |c| run_now(ops::messages_to(&SqliteTx(c), &address, limit)))
            .await
    }
}
