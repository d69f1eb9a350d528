//! Sign-ins and sessions on SQLite (the operations are `ops::sign_in`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::SignIns;
use crate::model::*;
use crate::ops::sign_in as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl SignIns for SqliteStore {
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(move |c| run_now(ops::create_session(&SqliteTx(c), &session)))
            .await
    }

    async fn session_client(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.read_quick(move |c| run_now(ops::session_client(&SqliteTx(c), &token_hash, now_s)))
            .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |c| run_now(ops::delete_session(&SqliteTx(c), &token_hash)))
            .await
    }

    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(move |c| run_now(ops::record_sign_in(&SqliteTx(c), &attempt)))
            .await
    }

    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError> {
        self.write(move |c| run_now(ops::send_unlock_code(&SqliteTx(c), &send)))
            .await
    }
}
