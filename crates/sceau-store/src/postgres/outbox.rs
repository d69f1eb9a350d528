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
        self.write(Guard::Dispatch, (now_s, lease_s, limit), |c, d, locked| {
            async move { ops::claim_messages(&PgTx::new(c, locked), d.0, d.1, d.2).await }.boxed()
        })
        .await
    }

    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<bool, StoreError> {
        self.write(Guard::Dispatch, (message_id, delivery), |c, d, locked| {
            async move { ops::mark_message(&PgTx::new(c, locked), d.0, &d.1).await }.boxed()
        })
        .await
    }

    async fn record_report(
        &self,
        route: &str,
        id_forms: &[String],
        outcome: PartOutcome,
        now_s: i64,
    ) -> Result<Option<ReportRecorded>, StoreError> {
        let report = (route.to_owned(), id_forms.to_vec(), outcome, now_s);
        self.write(Guard::Dispatch, report, |c, d, locked| {
            async move { ops::record_report(&PgTx::new(c, locked), &d.0, &d.1, d.2, d.3).await }
                .boxed()
        })
        .await
    }

    async fn expire_messages(&self, now_s: i64) -> Result<u64, StoreError> {
        self.write(Guard::Nothing, now_s, |c, now_s, locked| {
            async move { ops::expire_messages(&PgTx::new(c, locked), *now_s).await }.boxed()
        })
        .await
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        self.read(async |c| ops::outbox_backlog(&PgTx::reader(c)).await)
            .await
    }

    async fn message_counts(&self, since_s: i64) -> Result<Vec<MessageCount>, StoreError> {
        self.read(async |c| ops::message_counts(&PgTx::reader(c), since_s).await)
            .await
    }

    async fn message_states(
        &self,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageStatus>, StoreError> {
        self.read(async |c| ops::message_states(&PgTx::reader(c), before_id, limit).await)
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

    async fn message_allowed(
        &self,
        address: &str,
        kind: sceau_domain::reach::MessageKind,
        budget: sceau_domain::reach::MessageBudget,
        now_s: i64,
    ) -> Result<Result<(), sceau_domain::reach::TooMany>, StoreError> {
        self.read(async |c| {
            ops::message_allowed(&PgTx::reader(c), address, kind, &budget, now_s).await
        })
        .await
    }
}
