//! Clients and merchants on SQLite (the operations are `ops::parties`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Parties;
use crate::model::*;
use crate::ops::{outbox, parties as ops, reads};
use crate::tx::run_now;
use async_trait::async_trait;
use sceau_domain::PhoneNumber;

#[async_trait]
impl Parties for SqliteStore {
    async fn enroll_client(&self, client: NewClient) -> Result<ClientRecord, StoreError> {
        self.write(move |c| run_now(ops::enroll_client(&SqliteTx(c), &client)))
            .await
    }

    async fn enroll_merchant(&self, merchant: NewMerchant) -> Result<MerchantRecord, StoreError> {
        self.write(move |c| run_now(ops::enroll_merchant(&SqliteTx(c), &merchant)))
            .await
    }

    async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, StoreError> {
        self.read_quick(move |c| run_now(ops::merchant_by_key_hash(&SqliteTx(c), &key_hash)))
            .await
    }

    async fn merchant(&self, merchant_id: i64) -> Result<Option<MerchantRecord>, StoreError> {
        self.read(move |c| run_now(ops::merchant(&SqliteTx(c), merchant_id)))
            .await
    }

    async fn merchants(&self, limit: u32) -> Result<Vec<MerchantRecord>, StoreError> {
        self.read(move |c| run_now(ops::merchants(&SqliteTx(c), limit)))
            .await
    }

    async fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>, StoreError> {
        let login = login.to_owned();
        self.read(move |c| run_now(reads::client_by_login(&SqliteTx(c), &login)))
            .await
    }

    async fn client_by_email(&self, email: &str) -> Result<Option<ClientRecord>, StoreError> {
        let email = email.to_owned();
        self.read(move |c| run_now(reads::client_by_email(&SqliteTx(c), &email)))
            .await
    }

    async fn client_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let phone = phone.as_str().to_owned();
        self.read(move |c| run_now(reads::client_by_phone(&SqliteTx(c), &phone)))
            .await
    }

    async fn client(&self, client_id: i64) -> Result<Option<ClientRecord>, StoreError> {
        self.read_quick(move |c| run_now(reads::client(&SqliteTx(c), client_id)))
            .await
    }

    async fn clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        self.read(move |c| run_now(ops::clients(&SqliteTx(c), limit)))
            .await
    }

    async fn set_client_by_call(&self, client_id: i64, by_call: bool) -> Result<bool, StoreError> {
        self.write(move |c| run_now(ops::set_client_by_call(&SqliteTx(c), client_id, by_call)))
            .await
    }

    async fn merchant_knows_client(
        &self,
        merchant_id: i64,
        client_id: i64,
    ) -> Result<bool, StoreError> {
        self.read(move |c| {
            run_now(outbox::merchant_knows_client(
                &SqliteTx(c),
                merchant_id,
                client_id,
            ))
        })
        .await
    }
}
