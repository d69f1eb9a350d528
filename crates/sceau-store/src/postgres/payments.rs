//! Single-use payment numbers and the merchant commands on them (Figures 4 and 5): authorize, capture, void, refund, expiry; accounts and authorizations read back.

use super::*;

#[async_trait]
impl CardPayments for PostgresStore {
    async fn issue_number(&self, number: NewNumber) -> Result<IssueOutcome, StoreError> {
        self.write(
            match number.asking_merchant() {
                Some(merchant_id) => Guard::ClientFor {
                    client_id: number.client_id,
                    merchant_id,
                },
                None => Guard::Client(number.client_id),
            },
            number,
            |c, number, _| ops::issue_number(c, number).boxed(),
        )
        .await
    }

    async fn execute(&self, request: CommandRequest) -> Result<Executed, StoreError> {
        self.write(Guard::of_command(&request), request, |c, request, _| {
            ops::execute(c, request).boxed()
        })
        .await
    }

    async fn expire(&self, now_s: i64) -> Result<Expired, StoreError> {
        self.write(Guard::Expiry(now_s), now_s, |c, now_s, locked| {
            ops::expire(c, *now_s, locked).boxed()
        })
        .await
    }

    async fn account(&self, account_id: i64) -> Result<Option<AccountView>, StoreError> {
        let sql = crate::rows::ACCOUNT.postgres();
        self.read(async |c| read::first(c, sql, &[&account_id]).await)
            .await
    }

    async fn client_numbers(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        let sql = crate::rows::CLIENT_NUMBERS.postgres();
        let limit = i64::from(limit);
        self.read(async |c| read::all(c, sql, &[&client_id, &limit]).await)
            .await
    }

    async fn authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<Option<AuthorizationView>, StoreError> {
        self.read(async |c| read::authorization(c, merchant_id, authorization_id).await)
            .await
    }
}
