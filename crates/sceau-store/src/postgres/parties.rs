//! Clients and merchants on PostgreSQL (the operations are `ops::parties`; an enrolment
//! locks the funding account of its currency, a block the client's account).

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Parties;
use crate::model::*;
use crate::ops::{outbox, parties as ops, reads};
use async_trait::async_trait;
use futures_util::FutureExt;
use sceau_domain::PhoneNumber;

#[async_trait]
impl Parties for PostgresStore {
    async fn enroll_client(&self, client: NewClient) -> Result<ClientRecord, StoreError> {
        let funding = Guard::Funding(client.currency.code().to_owned());
        self.write(funding, client, |c, client, locked| {
            async move { ops::enroll_client(&PgTx::new(c, locked), client).await }.boxed()
        })
        .await
    }

    async fn enroll_merchant(&self, merchant: NewMerchant) -> Result<MerchantRecord, StoreError> {
        self.write(Guard::Nothing, merchant, |c, merchant, locked| {
            async move { ops::enroll_merchant(&PgTx::new(c, locked), merchant).await }.boxed()
        })
        .await
    }

    async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, StoreError> {
        self.read(async |c| ops::merchant_by_key_hash(&PgTx::reader(c), &key_hash).await)
            .await
    }

    async fn merchant(&self, merchant_id: i64) -> Result<Option<MerchantRecord>, StoreError> {
        self.read(async |c| ops::merchant(&PgTx::reader(c), merchant_id).await)
            .await
    }

    async fn merchants(&self, limit: u32) -> Result<Vec<MerchantRecord>, StoreError> {
        self.read(async |c| ops::merchants(&PgTx::reader(c), limit).await)
            .await
    }

    async fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| reads::client_by_login(&PgTx::reader(c), login).await)
            .await
    }

    async fn client_by_email(&self, email: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| reads::client_by_email(&PgTx::reader(c), email).await)
            .await
    }

    async fn client_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| reads::client_by_phone(&PgTx::reader(c), phone.as_str()).await)
            .await
    }

    async fn client(&self, client_id: i64) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| reads::client(&PgTx::reader(c), client_id).await)
            .await
    }

    async fn clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        self.read(async |c| ops::clients(&PgTx::reader(c), limit).await)
            .await
    }

    async fn set_client_by_call(&self, client_id: i64, by_call: bool) -> Result<bool, StoreError> {
        let guard = Guard::Client(client_id);
        self.write(guard, (client_id, by_call), |c, d, locked| {
            async move { ops::set_client_by_call(&PgTx::new(c, locked), d.0, d.1).await }.boxed()
        })
        .await
    }

    async fn merchant_knows_client(
        &self,
        merchant_id: i64,
        client_id: i64,
    ) -> Result<bool, StoreError> {
        self.read(async |c| {
            outbox::merchant_knows_client(&PgTx::reader(c), merchant_id, client_id).await
        })
        .await
    }
}
