//! Password sign-in with its pauses and unlock codes, and sessions.

use crate::model::*;
use crate::ops::reads;
use crate::rows::{SIGN_IN_STATE, SIGN_IN_WRONG, judge_sign_in};
use crate::shared::unlock_columns;
use crate::sql::Sql;
use crate::tx::{Fail, Tx, args, scalar};

static SIGN_IN_ACCEPTED: Sql = Sql::new(
    "UPDATE clients SET sign_in_failures = 0, sign_in_locks = 0, sign_in_locked_until = 0, \
     unlock_nonce = NULL, unlock_issued_at = NULL, unlock_sends = 0, unlock_sends_since = 0 \
     WHERE id = $1",
);

/// Judges a sign-in attempt and records what it does to the client's counters; `None`
/// if there is no such client. On PostgreSQL, under the client's account lock: attempts
/// are judged one after the other, on the account as the one before left it.
pub(crate) async fn record_sign_in(
    tx: &impl Tx,
    attempt: &SignInAttempt,
) -> Result<Option<SignInVerdict>, Fail> {
    let client_id = attempt.client_id;
    let judged = tx
        .row(&SIGN_IN_STATE, args![client_id], |row| {
            judge_sign_in(row, attempt)
        })
        .await?;
    match judged {
        Some(SignInVerdict::Accepted) => {
            tx.execute(&SIGN_IN_ACCEPTED, args![client_id]).await?;
        }
        Some(SignInVerdict::Wrong(failure)) => {
            let counted = args![
                client_id,
                failure.failures,
                failure.locks,
                failure.locked_until_s
            ];
            tx.execute(&SIGN_IN_WRONG, counted).await?;
        }
        Some(SignInVerdict::Paused) | None => {}
    }
    Ok(judged)
}

static PAUSED: Sql =
    Sql::new("SELECT sign_in_locked_until > $2 AS paused FROM clients WHERE id = $1");
static NEW_CODE: Sql = Sql::new(
    "UPDATE clients SET unlock_nonce = $2, unlock_issued_at = $3, unlock_sends = $4, \
     unlock_sends_since = $5 WHERE id = $1 AND unlock_nonce IS NOT DISTINCT FROM $6 \
     AND unlock_issued_at IS NOT DISTINCT FROM $7 AND unlock_sends = $8 AND unlock_sends_since = $9",
);

/// Sends a paused client a new unlock code, on condition that their unlock state is still
/// the one the decision was made on (else `Changed`). On PostgreSQL, under the client's
/// account lock: the row is read and changed by one writer at a time.
pub(crate) async fn send_unlock_code(
    tx: &impl Tx,
    send: &UnlockCodeSend,
) -> Result<UnlockOutcome, Fail> {
    let paused = scalar::<bool>(tx, &PAUSED, args![send.client_id, send.now_s], "paused").await?;
    if paused != Some(true) {
        return Ok(UnlockOutcome::NotPaused);
    }
    let (read_nonce, read_issued_at) = unlock_columns(&send.read);
    let (nonce, issued_at) = unlock_columns(&send.after);
    let values = args![
        send.client_id,
        &nonce,
        issued_at,
        send.after.sends,
        send.after.sends_since_s,
        &read_nonce,
        read_issued_at,
        send.read.sends,
        send.read.sends_since_s
    ];
    if tx.execute(&NEW_CODE, values).await? != 1 {
        return Ok(UnlockOutcome::Changed);
    }
    crate::ops::outbox::enqueue_message(tx, &send.message, send.now_s).await?;
    Ok(UnlockOutcome::Sent)
}

/// Opens a session (the expired ones are the purge's: `ops::retention`).
pub(crate) async fn create_session(tx: &impl Tx, session: &NewSession) -> Result<(), Fail> {
    let opened = args![
        &session.token_hash,
        session.client_id,
        session.now_s,
        session.expires_at_s
    ];
    tx.execute(&crate::rows::SESSION_INSERT, opened).await?;
    Ok(())
}

/// The client of the open session whose token hashes to `token_hash`.
pub(crate) async fn session_client(
    tx: &impl Tx,
    token_hash: &[u8; 32],
    now_s: i64,
) -> Result<Option<ClientRecord>, Fail> {
    match reads::session_client(tx, token_hash, now_s).await? {
        Some(client_id) => reads::client(tx, client_id).await,
        None => Ok(None),
    }
}

/// Closes a session.
pub(crate) async fn delete_session(tx: &impl Tx, token_hash: &[u8; 32]) -> Result<(), Fail> {
    tx.execute(&crate::rows::SESSION_DELETE, args![token_hash])
        .await?;
    Ok(())
}
