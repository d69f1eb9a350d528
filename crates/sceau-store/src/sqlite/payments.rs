//! Single-use payment numbers and the merchant commands on them (Figures 4 and 5): authorize, capture, void, refund, expiry; accounts and authorizations read back.

use super::*;

#[async_trait]
impl CardPayments for SqliteStore {
    async fn issue_number(&self, number: NewNumber) -> Result<IssueOutcome, StoreError> {
        self.write(move |c| ops::issue_number(c, &number)).await
    }

    async fn execute(&self, request: CommandRequest) -> Result<Executed, StoreError> {
        self.write(move |c| ops::execute(c, &request)).await
    }

    async fn expire(&self, now_s: i64) -> Result<Expired, StoreError> {
        self.write(move |c| ops::expire(c, now_s)).await
    }

    async fn account(&self, account_id: i64) -> Result<Option<AccountView>, StoreError> {
        let sql = crate::rows::ACCOUNT.sqlite();
        self.read(move |c| read::first(c, sql, [account_id])).await
    }

    async fn client_numbers(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        let sql = crate::rows::CLIENT_NUMBERS.sqlite();
        self.read(move |c| read::all(c, sql, rusqlite::params![client_id, limit]))
            .await
    }

    async fn authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<Option<AuthorizationView>, StoreError> {
        self.read(move |c| ops::authorization(c, merchant_id, authorization_id))
            .await
    }
}
