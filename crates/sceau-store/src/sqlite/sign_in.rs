//! Password sign-in with its pauses and unlock codes, and sessions.

use super::*;

#[async_trait]
impl SignIns for SqliteStore {
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(move |c| ops::create_session(c, &session)).await
    }

    async fn session_client(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.read(
            move |c| match read::session_client(c, &token_hash, now_s)? {
                Some(client_id) => read::client_where(c, "id = ?1", &client_id),
                None => Ok(None),
            },
        )
        .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |c| ops::delete_session(c, &token_hash))
            .await
    }

    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(move |c| ops::record_sign_in(c, &attempt)).await
    }

    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError> {
        self.write(move |c| ops::send_unlock_code(c, &send)).await
    }
}
