//! Certified delivery on PostgreSQL (the operations are `ops::deliveries`). A recipient's
//! steps lock the recipient's row (`FOR UPDATE`), so that two steps of one recipient
//! take turns; a code to an enrolled client also runs under that client's account lock,
//! as every message counted against a client's phone does. Sending runs under the
//! sender's account lock, as their envelope's writes do.

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Deliveries;
use crate::model::*;
use crate::ops::deliveries as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Deliveries for PostgresStore {
    async fn send_delivery(
        &self,
        delivery: NewDelivery,
    ) -> Result<DeliverySendOutcome, StoreError> {
        let guard = Guard::Client(delivery.client_id);
        self.write(guard, delivery, |c, delivery, locked| {
            async move { ops::send(&PgTx::new(c, locked), delivery).await }.boxed()
        })
        .await
    }

    async fn delivery(&self, public_id: &str) -> Result<Option<DeliveryView>, StoreError> {
        self.read(async |c| ops::delivery(&PgTx::reader(c), public_id).await)
            .await
    }

    async fn envelope_deliveries(
        &self,
        envelope_id: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, StoreError> {
        self.read(async |c| ops::envelope_deliveries(&PgTx::reader(c), envelope_id, limit).await)
            .await
    }

    async fn delivery_by_link(
        &self,
        link_sha256: [u8; 32],
    ) -> Result<Option<DeliveryView>, StoreError> {
        self.read(async |c| ops::by_link(&PgTx::reader(c), &link_sha256).await)
            .await
    }

    async fn delivery_by_session(
        &self,
        link_sha256: [u8; 32],
        session_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<Option<DeliveryView>, StoreError> {
        self.read(async |c| {
            ops::by_session(&PgTx::reader(c), &link_sha256, &session_sha256, now_s).await
        })
        .await
    }

    async fn send_recipient_code(
        &self,
        send: RecipientCodeSend,
    ) -> Result<RecipientCodeOutcome, StoreError> {
        let guard = send.client_id.map_or(Guard::Nothing, Guard::Client);
        self.write(guard, send, |c, send, locked| {
            async move { ops::send_code(&PgTx::new(c, locked), send).await }.boxed()
        })
        .await
    }

    async fn type_recipient_code(
        &self,
        typed: TypedRecipientCode,
    ) -> Result<TypedCodeOutcome, StoreError> {
        self.write(Guard::Nothing, typed, |c, typed, locked| {
            async move { ops::type_code(&PgTx::new(c, locked), typed).await }.boxed()
        })
        .await
    }

    async fn withdraw_delivery(
        &self,
        withdrawal: RecipientWithdrawal,
    ) -> Result<WithdrawalOutcome, StoreError> {
        self.write(Guard::Nothing, withdrawal, |c, withdrawal, locked| {
            async move { ops::withdraw(&PgTx::new(c, locked), withdrawal).await }.boxed()
        })
        .await
    }

    async fn answer_delivery(
        &self,
        answer: RecipientAnswerSent,
    ) -> Result<AnswerOutcome, StoreError> {
        self.write(Guard::Nothing, answer, |c, answer, locked| {
            async move { ops::answer(&PgTx::new(c, locked), answer).await }.boxed()
        })
        .await
    }

    async fn expire_deliveries(&self, now_s: i64, limit: u32) -> Result<u64, StoreError> {
        self.write(Guard::Nothing, (now_s, limit), |c, d, locked| {
            async move { ops::expire(&PgTx::new(c, locked), d.0, d.1).await }.boxed()
        })
        .await
    }

    async fn tell_senders(
        &self,
        notice: SenderNotice,
        limit: u32,
        now_s: i64,
    ) -> Result<u64, StoreError> {
        let data = (notice, limit, now_s);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::tell_senders(&PgTx::new(c, locked), &d.0, d.1, d.2).await }.boxed()
        })
        .await
    }

    async fn remind_recipients(
        &self,
        reminder: SenderNotice,
        ahead_s: i64,
        limit: u32,
        now_s: i64,
    ) -> Result<u64, StoreError> {
        let data = (reminder, ahead_s, limit, now_s);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::remind(&PgTx::new(c, locked), &d.0, d.1, d.2, d.3).await }.boxed()
        })
        .await
    }
}
