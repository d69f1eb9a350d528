//! Password sign-in with its pauses and unlock codes, and sessions.

use super::*;
use crate::rows::{SIGN_IN_STATE, SIGN_IN_WRONG, judge_sign_in};

/// Judges a sign-in attempt and records what it does to the client's counters. Under
/// the client's account lock (the batch took it): attempts are judged one after the
/// other, on the account as the one before left it.
async fn record_sign_in(c: &Conn, attempt: &SignInAttempt) -> Result<Option<SignInVerdict>, Fail> {
    let Some(row) = opt_row(c, SIGN_IN_STATE.postgres(), &[&attempt.client_id]).await? else {
        return Ok(None);
    };
    let verdict = judge_sign_in(&row, attempt)?;
    match verdict {
        SignInVerdict::Accepted => {
            let sql = crate::shared::SIGN_IN_ACCEPTED_POSTGRES;
            exec(c, sql, &[&attempt.client_id]).await?;
        }
        SignInVerdict::Wrong(failure) => {
            let (failures, locks) = (i64::from(failure.failures), i64::from(failure.locks));
            let counted = [
                &attempt.client_id as _,
                &failures as _,
                &locks as _,
                &failure.locked_until_s as _,
            ];
            exec(c, SIGN_IN_WRONG.postgres(), &counted).await?;
        }
        SignInVerdict::Paused => {}
    }
    Ok(Some(verdict))
}

#[async_trait]
impl SignIns for PostgresStore {
    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(
            Guard::Client(attempt.client_id),
            attempt,
            |c, attempt, _| record_sign_in(c, attempt).boxed(),
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
            async move {
                exec(
                    c,
                    crate::rows::SESSIONS_EXPIRED.postgres(),
                    &[&session.now_s],
                )
                .await?;
                let (token_hash, client_id) = (&session.token_hash[..], &session.client_id);
                let opened = [
                    &token_hash as _,
                    client_id as _,
                    &session.now_s as _,
                    &session.expires_at_s as _,
                ];
                exec(c, crate::rows::SESSION_INSERT.postgres(), &opened).await?;
                Ok(())
            }
            .boxed()
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
            let sql = crate::rows::SESSION_DELETE.postgres();
            async move { exec(c, sql, &[&&token_hash[..]]).await.map(drop) }.boxed()
        })
        .await
    }
}
