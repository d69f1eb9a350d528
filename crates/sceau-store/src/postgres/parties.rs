//! Clients and merchants: enrolment, lookup, blocking, and whether a merchant may reach a client.

use super::*;

#[async_trait]
impl Parties for PostgresStore {
    async fn enroll_client(&self, client: NewClient) -> Result<ClientRecord, StoreError> {
        self.write(
            Guard::Funding(client.currency.code().to_owned()),
            client,
            |c, client, _| ops::enroll_client(c, client).boxed(),
        )
        .await
    }

    async fn enroll_merchant(&self, merchant: NewMerchant) -> Result<MerchantRecord, StoreError> {
        self.write(Guard::Nothing, merchant, |c, merchant, _| {
            ops::enroll_merchant(c, merchant).boxed()
        })
        .await
    }

    async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, StoreError> {
        let sql = crate::rows::MERCHANT_BY_KEY_HASH.postgres();
        self.read(async |c| read::first(c, sql, &[&&key_hash[..]]).await)
            .await
    }

    async fn merchant(&self, merchant_id: i64) -> Result<Option<MerchantRecord>, StoreError> {
        let sql = crate::rows::MERCHANT.postgres();
        self.read(async |c| read::first(c, sql, &[&merchant_id]).await)
            .await
    }

    async fn merchants(&self, limit: u32) -> Result<Vec<MerchantRecord>, StoreError> {
        let sql = crate::rows::MERCHANTS.postgres();
        self.read(async |c| read::all(c, sql, &[&i64::from(limit)]).await)
            .await
    }

    async fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| read::client_where(c, "login = $1", &login).await)
            .await
    }

    async fn client_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let phone = phone.as_str();
        self.read(async |c| read::client_where(c, "phone = $1", &phone).await)
            .await
    }

    async fn client(&self, client_id: i64) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| read::client_where(c, "id = $1", &client_id).await)
            .await
    }

    async fn clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = crate::rows::CLIENTS.postgres();
        self.read(async |c| read::all(c, sql, &[&i64::from(limit)]).await)
            .await
    }

    async fn set_client_blocked(&self, client_id: i64, blocked: bool) -> Result<bool, StoreError> {
        self.write(Guard::Client(client_id), (client_id, blocked), |c, d, _| {
            let sql = crate::rows::CLIENT_BLOCKED.postgres();
            async move { Ok(exec(c, sql, &[&d.0, &d.1]).await? == 1) }.boxed()
        })
        .await
    }

    async fn merchant_knows_client(
        &self,
        merchant_id: i64,
        client_id: i64,
    ) -> Result<bool, StoreError> {
        self.read(async |c| ops::merchant_knows_client(c, merchant_id, client_id).await)
            .await
    }
}
