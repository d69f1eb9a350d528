//! Clients and merchants: enrolment, lookup, blocking, and whether a merchant may reach a client.

use super::*;

#[async_trait]
impl Parties for SqliteStore {
    async fn enroll_client(&self, client: NewClient) -> Result<ClientRecord, StoreError> {
        self.write(move |c| ops::enroll_client(c, &client)).await
    }

    async fn enroll_merchant(&self, merchant: NewMerchant) -> Result<MerchantRecord, StoreError> {
        self.write(move |c| ops::enroll_merchant(c, &merchant))
            .await
    }

    async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, StoreError> {
        let sql = crate::rows::MERCHANT_BY_KEY_HASH.sqlite();
        self.read(move |c| read::first(c, sql, [&key_hash[..]]))
            .await
    }

    async fn merchant(&self, merchant_id: i64) -> Result<Option<MerchantRecord>, StoreError> {
        let sql = crate::rows::MERCHANT.sqlite();
        self.read(move |c| read::first(c, sql, [merchant_id])).await
    }

    async fn merchants(&self, limit: u32) -> Result<Vec<MerchantRecord>, StoreError> {
        let sql = crate::rows::MERCHANTS.sqlite();
        self.read(move |c| read::all(c, sql, [limit])).await
    }

    async fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>, StoreError> {
        let login = login.to_owned();
        self.read(move |c| read::client_where(c, "login = ?1", &login))
            .await
    }

    async fn client_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let phone = phone.as_str().to_owned();
        self.read(move |c| read::client_where(c, "phone = ?1", &phone))
            .await
    }

    async fn client(&self, client_id: i64) -> Result<Option<ClientRecord>, StoreError> {
        self.read(move |c| read::client_where(c, "id = ?1", &client_id))
            .await
    }

    async fn clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = crate::rows::CLIENTS.sqlite();
        self.read(move |c| read::all(c, sql, [limit])).await
    }

    async fn set_client_blocked(&self, client_id: i64, blocked: bool) -> Result<bool, StoreError> {
        let sql = crate::rows::CLIENT_BLOCKED.sqlite();
        self.write(move |c| Ok(c.execute(sql, rusqlite::params![client_id, blocked])? == 1))
            .await
    }

    async fn merchant_knows_client(
        &self,
        merchant_id: i64,
        client_id: i64,
    ) -> Result<bool, StoreError> {
        self.read(move |c| ops::merchant_knows_client(c, merchant_id, client_id))
            .await
    }
}
