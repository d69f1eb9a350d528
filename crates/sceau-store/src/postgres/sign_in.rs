//! Password sign-in with its pauses and unlock codes, and sessions.

use super::*;

#[async_trait]
impl SignIns for PostgresStore {
    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(
            Guard::Client(attempt.client_id),
            attempt,
            |c, attempt, _| ops::record_sign_in(c, attempt).boxed(),
        )
        .await
    }

    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError> {
        self.write(Guard::Client(send.client_id), send, |c, send, _| {
            ops::send_unlock_code(c, send).boxed()
        })
        .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(Guard::Nothing, session, |c, session, _| {
            ops::create_session(c, session).boxed()
        })
        .await
    }

    async fn session_client(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.read(
            async |c| match read::session_client(c, &token_hash, now_s).await? {
                Some(client_id) => read::client_where(c, "id = $1", &client_id).await,
                None => Ok(None),
            },
        )
        .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(Guard::Nothing, token_hash, |c, token_hash, _| {
            ops::delete_session(c, token_hash).boxed()
        })
        .await
    }
}
