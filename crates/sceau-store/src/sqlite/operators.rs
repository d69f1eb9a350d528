//! The issuer's operators on SQLite (the operations are `ops::operators`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Operators;
use crate::model::*;
use crate::ops::operators as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Operators for SqliteStore {
    async fn add_operator(
        &self,
        operator: NewOperator,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        self.write(move |c| run_now(ops::add_operator(&SqliteTx(c), &operator)))
            .await
    }

    async fn operator_by_login(&self, login: &str) -> Result<Option<OperatorRecord>, StoreError> {
        let login = login.to_owned();
        self.read(move |c| run_now(ops::operator_by_login(&SqliteTx(c), &login)))
            .await
    }

    async fn operators(&self, limit: u32) -> Result<Vec<OperatorRecord>, StoreError> {
        self.read(move |c| run_now(ops::operators(&SqliteTx(c), limit)))
            .await
    }

    async fn set_operator_password(
        &self,
        login: &str,
        password_hash: String,
    ) -> Result<bool, StoreError> {
        let login = login.to_owned();
        self.write(move |c| {
            run_now(ops::set_operator_password(
                &SqliteTx(c),
                &login,
                &password_hash,
            ))
        })
        .await
    }

    async fn set_operator_disabled(&self, login: &str, disabled: bool) -> Result<bool, StoreError> {
        let login = login.to_owned();
        self.write(move |c| run_now(ops::set_operator_disabled(&SqliteTx(c), &login, disabled)))
            .await
    }

    async fn record_operator_sign_in(
        &self,
        attempt: OperatorSignIn,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(move |c| run_now(ops::record_operator_sign_in(&SqliteTx(c), &attempt)))
            .await
    }

    async fn create_operator_session(&self, session: NewOperatorSession) -> Result<(), StoreError> {
        self.write(move |c| run_now(ops::create_operator_session(&SqliteTx(c), &session)))
            .await
    }

    async fn operator_session(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        self.read(move |c| run_now(ops::operator_session(&SqliteTx(c), &token_hash, now_s)))
            .await
    }

    async fn delete_operator_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |c| run_now(ops::delete_operator_session(&SqliteTx(c), &token_hash)))
            .await
    }

    async fn operator_acts(&self, acts: OperatorActs) -> Result<ActionOutcome, StoreError> {
        self.write(move |c| run_now(ops::operator_acts(&SqliteTx(c), &acts)))
            .await
    }
}
