//! Certified delivery on SQLite (the operations are `ops::deliveries`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Deliveries;
use crate::model::*;
use crate::ops::deliveries as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Deliveries for SqliteStore {
    async fn send_delivery(
        &self,
        delivery: NewDelivery,
    ) -> Result<DeliverySendOutcome, StoreError> {
        self.write(move |c| run_now(ops::send(&SqliteTx(c), &delivery)))
            .await
    }

    async fn delivery(&self, public_id: &str) -> Result<Option<DeliveryView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| run_now(ops::delivery(&SqliteTx(c), &public_id)))
            .await
    }

    async fn envelope_deliveries(
        &self,
        envelope_id: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, StoreError> {
        self.read(move |c| run_now(ops::envelope_deliveries(&SqliteTx(c), envelope_id, limit)))
            .await
    }

    async fn delivery_by_link(
        &self,
        link_sha256: [u8; 32],
    ) -> Result<Option<DeliveryView>, StoreError> {
        self.read(move |c| run_now(ops::by_link(&SqliteTx(c), &link_sha256)))
            .await
    }

    async fn delivery_by_session(
        &self,
        link_sha256: [u8; 32],
        session_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<Option<DeliveryView>, StoreError> {
        self.read(move |c| {
            run_now(ops::by_session(
                &SqliteTx(c),
                &link_sha256,
                &session_sha256,
                now_s,
            ))
        })
        .await
    }

    async fn send_recipient_code(
        &self,
        send: RecipientCodeSend,
    ) -> Result<RecipientCodeOutcome, StoreError> {
        self.write(move |c| run_now(ops::send_code(&SqliteTx(c), &send)))
            .await
    }

    async fn type_recipient_code(
        &self,
        typed: TypedRecipientCode,
    ) -> Result<TypedCodeOutcome, StoreError> {
        self.write(move |c| run_now(ops::type_code(&SqliteTx(c), &typed)))
            .await
    }

    async fn withdraw_delivery(
        &self,
        withdrawal: RecipientWithdrawal,
    ) -> Result<WithdrawalOutcome, StoreError> {
        self.write(move |c| run_now(ops::withdraw(&SqliteTx(c), &withdrawal)))
            .await
    }

    async fn answer_delivery(
        &self,
        answer: RecipientAnswerSent,
    ) -> Result<AnswerOutcome, StoreError> {
        self.write(move |c| run_now(ops::answer(&SqliteTx(c), &answer)))
            .await
    }

    async fn expire_deliveries(&self, now_s: i64, limit: u32) -> Result<u64, StoreError> {
        self.write(move |c| run_now(ops::expire(&SqliteTx(c), now_s, limit)))
            .await
    }

    async fn tell_senders(
        &self,
        notice: SenderNotice,
        limit: u32,
        now_s: i64,
    ) -> Result<u64, StoreError> {
        self.write(move |c| run_now(ops::tell_senders(&SqliteTx(c), &notice, limit, now_s)))
            .await
    }

    async fn remind_recipients(
        &self,
        reminder: SenderNotice,
        ahead_s: i64,
        limit: u32,
        now_s: i64,
    ) -> Result<u64, StoreError> {
        self.write(move |c| run_now(ops::remind(&SqliteTx(c), &reminder, ahead_s, limit, now_s)))
            .await
    }
}
