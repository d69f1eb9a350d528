//! The issuer's operators on PostgreSQL (the operations are `ops::operators`): a sign-in
//! locks its operator's row (`FOR UPDATE` in `ops`); a block locks the client's account,
//! whose chain its record extends.

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Operators;
use crate::model::*;
use crate::ops::operators as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Operators for PostgresStore {
    async fn add_operator(
        &self,
        operator: NewOperator,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        self.write(Guard::Nothing, operator, |c, operator, locked| {
            async move { ops::add_operator(&PgTx::new(c, locked), operator).await }.boxed()
        })
        .await
    }

    async fn operator_by_login(&self, login: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.read(async |c| ops::operator_by_login(&PgTx::reader(c), login).await)
            .await
    }

    async fn operators(&self, limit: u32) -> Result<Vec<OperatorRecord>, StoreError> {
        self.read(async |c| ops::operators(&PgTx::reader(c), limit).await)
            .await
    }

    async fn set_operator_password(
        &self,
        login: &str,
        password_hash: String,
    ) -> Result<bool, StoreError> {
        let data = (login.to_owned(), password_hash);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::set_operator_password(&PgTx::new(c, locked), &d.0, &d.1).await }
                .boxed()
        })
        .await
    }

    async fn set_operator_disabled(&self, login: &str, disabled: bool) -> Result<bool, StoreError> {
        let data = (login.to_owned(), disabled);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::set_operator_disabled(&PgTx::new(c, locked), &d.0, d.1).await }
                .boxed()
        })
        .await
    }

    async fn record_operator_sign_in(
        &self,
        attempt: OperatorSignIn,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(Guard::Nothing, attempt, |c, attempt, locked| {
            async move { ops::record_operator_sign_in(&PgTx::new(c, locked), attempt).await }
                .boxed()
        })
        .await
    }

    async fn create_operator_session(&self, session: NewOperatorSession) -> Result<(), StoreError> {
        self.write(Guard::Nothing, session, |c, session, locked| {
            async move { ops::create_operator_session(&PgTx::new(c, locked), session).await }
                .boxed()
        })
        .await
    }

    async fn operator_session(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        self.read(async |c| ops::operator_session(&PgTx::reader(c), &token_hash, now_s).await)
            .await
    }

    async fn delete_operator_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(Guard::Nothing, token_hash, |c, token_hash, locked| {
            async move { ops::delete_operator_session(&PgTx::new(c, locked), token_hash).await }
                .boxed()
        })
        .await
    }

    async fn operator_acts(&self, acts: OperatorActs) -> Result<ActionOutcome, StoreError> {
        let guard = Guard::Client(acts.action.client_id());
        self.write(guard, acts, |c, acts, locked| {
            async move { ops::operator_acts(&PgTx::new(c, locked), acts).await }.boxed()
        })
        .await
    }
}
