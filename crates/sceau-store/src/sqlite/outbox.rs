//! The outbox on SQLite (the operations are `ops::outbox`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Outbox;
use crate::model::*;
use crate::ops::outbox as ops;
use crate::tx::run_now;
use async_trait::async_trait;
use rusqlite::Connection;

/// The most texts a read of a phone's newest runs as a lookup (`read_quick`): the
/// development phone's page shows at most 50.
const QUICK_MESSAGES_MAX: u32 = 50;

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
    ) -> Result<bool, StoreError> {
        self.write(move |c| run_now(ops::mark_message(&SqliteTx(c), message_id, &delivery)))
            .await
    }

    async fn record_report(
        &self,
        route: &str,
        id_forms: &[String],
        outcome: PartOutcome,
        now_s: i64,
    ) -> Result<Option<ReportRecorded>, StoreError> {
        let (route, id_forms) = (route.to_owned(), id_forms.to_vec());
        self.write(move |c| {
            run_now(ops::record_report(
                &SqliteTx(c),
                &route,
                &id_forms,
                outcome,
                now_s,
            ))
        })
        .await
    }

    async fn expire_messages(&self, now_s: i64) -> Result<u64, StoreError> {
        self.write(move |c| run_now(ops::expire_messages(&SqliteTx(c), now_s)))
            .await
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        self.read(|c| run_now(ops::outbox_backlog(&SqliteTx(c))))
            .await
    }

    async fn message_counts(&self, since_s: i64) -> Result<Vec<MessageCount>, StoreError> {
        self.read(move |c| run_now(ops::message_counts(&SqliteTx(c), since_s)))
            .await
    }

    async fn message_states(
        &self,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageStatus>, StoreError> {
        self.read(move |c| run_now(ops::message_states(&SqliteTx(c), before_id, limit)))
            .await
    }

    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let address = address.to_owned();
        let read = move |c: &Connection| run_now(ops::messages_to(&SqliteTx(c), &address, limit));
        // A page's few newest texts are a lookup; a longer list goes to the blocking pool.
        if limit <= QUICK_MESSAGES_MAX {
            self.read_quick(read).await
        } else {
            self.read(read).await
        }
    }

    async fn message_allowed(
        &self,
        address: &str,
        kind: sceau_domain::reach::MessageKind,
        budget: sceau_domain::reach::MessageBudget,
        now_s: i64,
    ) -> Result<Result<(), sceau_domain::reach::TooMany>, StoreError> {
        let address = address.to_owned();
        self.read(move |c| {
            run_now(ops::message_allowed(
                &SqliteTx(c),
                &address,
                kind,
                &budget,
                now_s,
            ))
        })
        .await
    }
}
