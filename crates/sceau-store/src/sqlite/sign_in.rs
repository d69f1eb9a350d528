//! Password sign-in with its pauses and unlock codes, and sessions.

use super::*;
use crate::rows::{SIGN_IN_STATE, SIGN_IN_WRONG, judge_sign_in};

/// Judges a sign-in attempt and records what it does to the client's counters.
fn record_sign_in(
    connection: &Connection,
    attempt: &SignInAttempt,
) -> Result<Option<SignInVerdict>, StoreError> {
    let judged = crate::sql::sqlite_first(
        connection,
        SIGN_IN_STATE.sqlite(),
        [attempt.client_id],
        |row| judge_sign_in(row, attempt),
    )?;
    match judged {
        Some(SignInVerdict::Accepted) => {
            let sql = crate::shared::SIGN_IN_ACCEPTED_SQLITE;
            connection
                .prepare_cached(sql)?
                .execute([attempt.client_id])?;
        }
        Some(SignInVerdict::Wrong(failure)) => {
            let counted = rusqlite::params![
                attempt.client_id,
                failure.failures,
                failure.locks,
                failure.locked_until_s
            ];
            connection
                .prepare_cached(SIGN_IN_WRONG.sqlite())?
                .execute(counted)?;
        }
        Some(SignInVerdict::Paused) | None => {}
    }
    Ok(judged)
}

#[async_trait]
impl SignIns for SqliteStore {
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(move |c| {
            let expired = crate::rows::SESSIONS_EXPIRED.sqlite();
            c.prepare_cached(expired)?.execute([session.now_s])?;
            let (token_hash, client_id) = (&session.token_hash[..], session.client_id);
            let opened =
                rusqlite::params![token_hash, client_id, session.now_s, session.expires_at_s];
            c.prepare_cached(crate::rows::SESSION_INSERT.sqlite())?
                .execute(opened)?;
            Ok(())
        })
        .await
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
        let sql = crate::rows::SESSION_DELETE.sqlite();
        self.write(move |c| {
            Ok(c.prepare_cached(sql)?
                .execute([&token_hash[..]])
                .map(drop)?)
        })
        .await
    }

    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(move |c| record_sign_in(c, &attempt)).await
    }

    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError> {
        self.write(move |c| ops::send_unlock_code(c, &send)).await
    }
}
