//! Card payments on SQLite (the operations are `ops::card_payments`; an authorization
//! is written statement by statement here, `ops::authorize`).

use super::*;
use crate::ops::card_payments as card;
use crate::ops::reads;
use crate::tx::{all, args, first, run_now};

#[async_trait]
impl CardPayments for SqliteStore {
    async fn issue_number(&self, number: NewNumber) -> Result<IssueOutcome, StoreError> {
        self.write(move |c| run_now(card::issue_number(&SqliteTx(c), &number)))
            .await
    }

    async fn execute(&self, request: CommandRequest) -> Result<Executed, StoreError> {
        self.write(move |c| {
            let authorize = || ops::authorize(c, &request).map_err(Fail::Store);
            run_now(card::execute(&SqliteTx(c), &request, authorize))
        })
        .await
    }

    async fn expire(&self, now_s: i64) -> Result<Expired, StoreError> {
        self.write(move |c| run_now(card::expire(&SqliteTx(c), now_s)))
            .await
    }

    async fn account(&self, account_id: i64) -> Result<Option<AccountView>, StoreError> {
        let sql = &crate::rows::ACCOUNT;
        self.read(move |c| run_now(first(&SqliteTx(c), sql, args![account_id])))
            .await
    }

    async fn client_numbers(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        let sql = &crate::rows::CLIENT_NUMBERS;
        self.read(move |c| run_now(all(&SqliteTx(c), sql, args![client_id, limit])))
            .await
    }

    async fn client_numbers_ending(
        &self,
        client_id: i64,
        last_four: &str,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        let sql = &crate::rows::CLIENT_NUMBERS_ENDING;
        let last_four = last_four.to_owned();
        self.read(move |c| run_now(all(&SqliteTx(c), sql, args![client_id, &last_four, limit])))
            .await
    }

    async fn authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<Option<AuthorizationView>, StoreError> {
        self.read(move |c| {
            run_now(reads::authorization(
                &SqliteTx(c),
                merchant_id,
                authorization_id,
            ))
        })
        .await
    }

    async fn numbers_used(&self, client_id: i64, limit: u32) -> Result<Vec<NumberUse>, StoreError> {
        self.read(move |c| run_now(reads::numbers_used(&SqliteTx(c), client_id, limit)))
            .await
    }

    async fn client_payments(
        &self,
        client_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<PaymentEntry>, StoreError> {
        self.read(move |c| {
            run_now(reads::client_payments(
                &SqliteTx(c),
                client_id,
                before,
                limit,
            ))
        })
        .await
    }
}
