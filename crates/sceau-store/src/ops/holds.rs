//! An authorization's hold, as card payments and checkouts both end it: released
//! (voided, expired, failed) or captured into a transfer; and the merchant's
//! idempotency keys, which both honour.

use crate::StoreError;
use crate::evidence;
use crate::model::*;
use crate::ops::accounts::{Transfer, post_transfer};
use crate::ops::outbox::record_merchant_client;
use crate::sql::{Decode, ReadRow, Sql};
use crate::tx::{Fail, Tx, args, first, scalar};
use sceau_domain::ledger::AuthorizationState;

/// An authorization with the two accounts its hold and capture move.
pub(crate) struct AuthorizationRow {
    pub(crate) view: AuthorizationView,
    pub(crate) debit_account: i64,
    pub(crate) credit_account: i64,
}

impl Decode for AuthorizationRow {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(AuthorizationRow {
            view: AuthorizationView::decode(row)?,
            debit_account: row.column("debit_account")?,
            credit_account: row.column("credit_account")?,
        })
    }
}

static AUTHORIZATION_ROW: Sql = Sql::new(concat!(
    "SELECT ",
    crate::rows::authorization_columns!(),
    ", au.debit_account, au.credit_account FROM authorizations au \
     JOIN numbers n ON n.id = au.number_id WHERE au.id = $1 AND au.merchant_id = $2"
));

/// A merchant's authorization with its accounts, to end its hold.
pub(crate) async fn authorization_row(
    tx: &impl Tx,
    merchant_id: i64,
    authorization_id: i64,
) -> Result<Option<AuthorizationRow>, Fail> {
    first(tx, &AUTHORIZATION_ROW, args![authorization_id, merchant_id]).await
}

static MOVE: Sql = Sql::new(
    "UPDATE authorizations SET state = $2, captured = $3, updated_at = $4 \
     WHERE id = $1 AND state = 'authorized'",
);
static RELEASE: Sql = Sql::new("UPDATE accounts SET held = held - $2 WHERE id = $1 AND held >= $2");

/// Releases an authorization's hold and moves it out of `authorized`, on condition that
/// it is still `authorized` (so a hold is released at most once).
pub(crate) async fn release_hold(
    tx: &impl Tx,
    row: &AuthorizationRow,
    new_state: AuthorizationState,
    captured: i64,
    now_s: i64,
) -> Result<(), Fail> {
    let moved = tx
        .execute(
            &MOVE,
            args![row.view.id, new_state.as_str(), captured, now_s],
        )
        .await?;
    let released = tx
        .execute(&RELEASE, args![row.debit_account, row.view.amount])
        .await?;
    if moved != 1 || released != 1 {
        return Err(StoreError::Conflict("authorization_changed_concurrently").into());
    }
    let released_by = evidence::released_by(new_state, captured);
    let event = evidence::authorization(&row.view, released_by, now_s)?;
    crate::tx::record(tx, event).await?;
    Ok(())
}

/// Captures `amount` of a held authorization: releases the hold and posts the transfer.
pub(crate) async fn capture_row(
    tx: &impl Tx,
    row: &AuthorizationRow,
    amount: i64,
    now_s: i64,
) -> Result<(), Fail> {
    release_hold(tx, row, AuthorizationState::Captured, amount, now_s).await?;
    record_merchant_client(tx, row.view.merchant_id, row.view.client_id, now_s).await?;
    let capture = Transfer {
        debit: row.debit_account,
        credit: row.credit_account,
        amount,
        currency: &row.view.currency,
        kind: "capture",
        authorization_id: Some(row.view.id),
        clearing_batch_id: None,
        now_s,
    };
    post_transfer(tx, &capture).await?;
    Ok(())
}

static OF_CHECKOUT: Sql = Sql::new("SELECT 1 AS found FROM checkouts WHERE authorization_id = $1");

/// Whether the authorization holds a checkout's amount (the merchant may not capture or
/// void it: only the client's seal captures it; refunds after payment are the merchant's).
pub(crate) async fn of_checkout(tx: &impl Tx, authorization_id: i64) -> Result<bool, Fail> {
    let found: Option<i64> = scalar(tx, &OF_CHECKOUT, args![authorization_id], "found").await?;
    Ok(found.is_some())
}

static IDEMPOTENCY: Sql =
    Sql::new("SELECT request_hash, outcome FROM idempotency WHERE merchant_id = $1 AND key = $2");

/// The stored answer for a merchant's idempotency key, if the key was seen before with
/// the same request; a different request under the same key is refused.
pub(crate) async fn idempotent_replay(
    tx: &impl Tx,
    merchant_id: i64,
    idempotency: &IdempotencyKey,
) -> Result<Option<String>, Fail> {
    let seen: Option<(Vec<u8>, String)> = tx
        .row(&IDEMPOTENCY, args![merchant_id, &idempotency.key], |row| {
            Ok((row.column("request_hash")?, row.column("outcome")?))
        })
        .await?;
    match seen {
        Some((request_hash, _)) if request_hash != idempotency.request_hash => {
            Err(StoreError::IdempotencyMismatch.into())
        }
        Some((_, stored)) => Ok(Some(stored)),
        None => Ok(None),
    }
}

static RECORD_IDEMPOTENCY: Sql = Sql::new(
    "INSERT INTO idempotency (merchant_id, key, request_hash, outcome, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (merchant_id, key) DO NOTHING",
);

/// Records the answer to replay for a merchant's idempotency key, in the transaction of
/// the effect it answers. A key recorded by another transaction after this one looked
/// (another PostgreSQL instance) fails this command; its rerun finds the stored answer.
pub(crate) async fn record_idempotency(
    tx: &impl Tx,
    merchant_id: i64,
    idempotency: &IdempotencyKey,
    stored: &str,
    now_s: i64,
) -> Result<(), Fail> {
    let values = args![
        merchant_id,
        &idempotency.key,
        &idempotency.request_hash,
        stored,
        now_s
    ];
    if tx.execute(&RECORD_IDEMPOTENCY, values).await? != 1 {
        return Err(StoreError::Conflict("idempotency_key_in_flight").into());
    }
    Ok(())
}
