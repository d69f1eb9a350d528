//! Sign-ins and sessions on PostgreSQL (the operations are `ops::sign_in`; an attempt
//! and an unlock code's send lock the client's account).

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::SignIns;
use crate::model::*;
use crate::ops::sign_in as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl SignIns for PostgresStore {
    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        let guard = Guard::Client(attempt.client_id);
        self.write(guard, attempt, |c, attempt, locked| {
            async move { ops::record_sign_in(&PgTx::new(c, locked), attempt).await }.boxed()
        })
        .await
    }

    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError> {
        self.write(Guard::Client(send.client_id), send, |c, send, locked| {
            async move { ops::send_unlock_code(&PgTx::new(c, locked), send).await }.boxed()
        })
        .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(Guard::Nothing, session, |c, session, locked| {
            async move { ops::create_session(&PgTx::new(c, locked), session).await }.boxed()
        })
        .await
    }

    async fn session_client(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| ops::session_client(&PgTx::reader(c), &token_hash, now_s).await)
            .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(Guard::Nothing, token_hash, |c, token_hash, locked| {
            async move { ops::delete_session(&PgTx::new(c, locked), token_hash).await }.boxed()
        })
        .await
    }
}
