//! The outbox on PostgreSQL (the operations are `ops::outbox`; a claim skips the rows
//! another instance is claiming).

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Outbox;
use crate::model::*;
use crate::ops::outbox as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Outbox for PostgresStore {
    async fn enqueue_message(&self, message: NewMessage, now_s: i64) -> Result<i64, StoreError> {
        self.write(Guard::Nothing, (message, now_s), |c, d, locked| {
            async move { ops::enqueue_message(&PgTx::new(c, locked), &d.0, d.1).await }.boxed()
        })
        .await
    }

    async fn pending_messages(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(async |c| ops::pending_messages(&PgTx::reader(c), limit).await)
            .await
    }

    async fn claim_messages(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.write(Guard::Nothing, (now_s, lease_s, limit), |c, d, locked| {
            async move { ops::claim_messages(&PgTx::new(c, locked), d.0, d.1, d.2).await }.boxed()
        })
        .await
    }

    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<(), StoreError> {
        self.write(Guard::Nothing, (message_id, delivery), |c, d, locked| {
            async move { ops::mark_message(&PgTx::new(c, locked), d.0, &d.1).await }.boxed()
        })
        .await
    }

    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(async |c| ops::messages_to(&PgTx::reader(c), address, limit).await)
            .await
    }
}
