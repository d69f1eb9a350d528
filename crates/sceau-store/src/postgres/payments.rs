//! Card payments on PostgreSQL (the operations are `ops::card_payments`; authorizations
//! are written in waves here, `ops::authorize_wave`). Each write locks what its `Guard`
//! names; the expiry sweep acts only on the accounts it locked.

use super::*;
use crate::ops::card_payments as card;
use crate::ops::reads;
use crate::tx::{all, args, broken, first};

#[async_trait]
impl CardPayments for PostgresStore {
    async fn issue_number(&self, number: NewNumber) -> Result<IssueOutcome, StoreError> {
        let guard = match number.asking_merchant() {
            Some(merchant_id) => Guard::ClientFor {
                client_id: number.client_id,
                merchant_id,
            },
            None => Guard::Client(number.client_id),
        };
        self.write(guard, number, |c, number, locked| {
            async move { card::issue_number(&PgTx::new(c, locked), number).await }.boxed()
        })
        .await
    }

    async fn execute(&self, request: CommandRequest) -> Result<Executed, StoreError> {
        self.write(
            Guard::of_command(&request),
            request,
            |c, request, locked| {
                async move {
                    if let MerchantCommand::Authorize { .. } = request.command {
                        // The hot path: its reads and its writes each go in one round trip.
                        return ops::authorize(c, request).await;
                    }
                    let authorize = || Err(broken("authorize reached the general path"));
                    card::execute(&PgTx::new(c, locked), request, authorize).await
                }
                .boxed()
            },
        )
        .await
    }

    async fn expire(&self, now_s: i64) -> Result<Expired, StoreError> {
        self.write(Guard::Expiry(now_s), now_s, |c, now_s, locked| {
            async move { card::expire(&PgTx::new(c, locked), *now_s).await }.boxed()
        })
        .await
    }

    async fn account(&self, account_id: i64) -> Result<Option<AccountView>, StoreError> {
        let sql = &crate::rows::ACCOUNT;
        self.read(async |c| first(&PgTx::reader(c), sql, args![account_id]).await)
            .await
    }

    async fn client_numbers(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        let sql = &crate::rows::CLIENT_NUMBERS;
        self.read(async |c| all(&PgTx::reader(c), sql, args![client_id, limit]).await)
            .await
    }

    async fn client_numbers_ending(
        &self,
        client_id: i64,
        last_four: &str,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        let sql = &crate::rows::CLIENT_NUMBERS_ENDING;
        let values = args![client_id, last_four, limit];
        self.read(async |c| all(&PgTx::reader(c), sql, values).await)
            .await
    }

    async fn authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<Option<AuthorizationView>, StoreError> {
        self.read(async |c| {
            reads::authorization(&PgTx::reader(c), merchant_id, authorization_id).await
        })
        .await
    }

    async fn numbers_used(&self, client_id: i64, limit: u32) -> Result<Vec<NumberUse>, StoreError> {
        self.read(async |c| reads::numbers_used(&PgTx::reader(c), client_id, limit).await)
            .await
    }

    async fn client_payments(
        &self,
        client_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<PaymentEntry>, StoreError> {
        self.read(async |c| {
            reads::client_payments(&PgTx::reader(c), client_id, before, limit).await
        })
        .await
    }
}
