//! Commands: everything that writes. Each runs on the writer connection inside the
//! batch's transaction and its own savepoint; returning `Err` undoes all it wrote.
//!
//! The rules come from `sceau_domain`; these functions load what the rules need, ask
//! them, and apply the answer with *conditional* updates, so that the database itself
//! refuses a write that would break single use, a cap or a floor even if two writers
//! ever raced.

use super::read::{AUTHORIZATION_COLUMNS, authorization_row, client_where};
use crate::StoreError;
use crate::evidence::{self, AuthorizationEvent};
use crate::model::*;
use crate::shared::declined;
use crate::shared::{
    NumberForAuthorization, SENT_THIS_HOUR_SQLITE, approved_authorization, authorization_plan,
    bank_columns, sent_this_hour,
};
use rusqlite::{Connection, OptionalExtension, params};
use sceau_domain::decline::Decline;
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::policy::{AuthorizationPlan, Holder, NumberUsage};
use sceau_domain::reach::{self, MessageBudget, MessageKind, TooMany};

pub(super) fn is_unique_violation(error: &rusqlite::Error, column: &str) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(code, Some(message))
        if code.code == rusqlite::ErrorCode::ConstraintViolation && message.contains(column))
}

/// The issuer's funding account for `currency`, opened on first use.
pub(super) fn funding_account(connection: &Connection, currency: &str) -> Result<i64, StoreError> {
    connection
        .prepare_cached("INSERT OR IGNORE INTO accounts (kind, currency) VALUES ('funding', ?1)")?
        .execute([currency])?;
    let mut statement = connection
        .prepare_cached("SELECT id FROM accounts WHERE kind = 'funding' AND currency = ?1")?;
    Ok(statement.query_row([currency], |row| row.get(0))?)
}

/// The merchant's settlement account for `currency`, opened on first use.
pub(super) fn merchant_account(
    connection: &Connection,
    merchant_id: i64,
    currency: &str,
) -> Result<i64, StoreError> {
    let mut select = connection.prepare_cached(
        "SELECT id FROM accounts WHERE kind = 'merchant' AND owner_id = ?1 AND currency = ?2",
    )?;
    if let Some(id) = select
        .query_row(params![merchant_id, currency], |row| row.get(0))
        .optional()?
    {
        return Ok(id);
    }
    connection
        .prepare_cached(
            "INSERT INTO accounts (kind, owner_id, currency) VALUES ('merchant', ?1, ?2)",
        )?
        .execute(params![merchant_id, currency])?;
    Ok(connection.last_insert_rowid())
}

/// A movement between two accounts of one currency.
pub(super) struct Transfer<'a> {
    pub(super) debit: i64,
    pub(super) credit: i64,
    pub(super) amount: i64,
    pub(super) currency: &'a str,
    pub(super) kind: &'a str,
    pub(super) authorization_id: Option<i64>,
    /// Set on payouts, and only on them.
    pub(super) clearing_batch_id: Option<i64>,
    pub(super) now_s: i64,
}

/// Posts a transfer: moves `amount` from `debit` to `credit` and records it. The debit
/// side's floor is enforced by the update's condition, not by an earlier read.
pub(super) fn post_transfer(
    connection: &Connection,
    transfer: &Transfer<'_>,
) -> Result<i64, StoreError> {
    let Transfer {
        debit,
        credit,
        amount,
        currency,
        kind,
        authorization_id,
        clearing_batch_id,
        now_s,
    } = *transfer;
    debug_assert!(amount > 0 && debit != credit);
    let debited = connection
        .prepare_cached(
            "UPDATE accounts SET balance = balance - ?2 WHERE id = ?1 AND currency = ?3 \
             AND (kind <> 'client' OR balance - held - ?2 >= -credit_limit)",
        )?
        .execute(params![debit, amount, currency])?;
    let credited = connection
        .prepare_cached(
            "UPDATE accounts SET balance = balance + ?2 WHERE id = ?1 AND currency = ?3",
        )?
        .execute(params![credit, amount, currency])?;
    if debited != 1 || credited != 1 {
        return Err(StoreError::Corrupt(format!(
            "transfer {debit} -> {credit} refused by the ledger"
        )));
    }
    connection
        .prepare_cached(
            "INSERT INTO transfers (debit_account, credit_account, amount, currency, kind, authorization_id, \
             clearing_batch_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![debit, credit, amount, currency, kind, authorization_id, clearing_batch_id, now_s])?;
    Ok(connection.last_insert_rowid())
}

/// Queues a notice to a client (it counts against their budget but is never refused).
pub(super) fn enqueue_message(
    connection: &Connection,
    message: &NewMessage,
    now_s: i64,
) -> Result<i64, StoreError> {
    enqueue(connection, message, MessageKind::Notice, None, now_s)
}

/// Queues a message of `kind`; a number a merchant asked for names `merchant_id`.
pub(super) fn enqueue(
    connection: &Connection,
    message: &NewMessage,
    kind: MessageKind,
    merchant_id: Option<i64>,
    now_s: i64,
) -> Result<i64, StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO messages (address, sealed_body, state, kind, merchant_id, created_at, updated_at) \
             VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?5)",
        )?
        .execute(params![message.address, message.sealed_body, kind.as_str(), merchant_id, now_s])?;
    Ok(connection.last_insert_rowid())
}

/// Whether `budget` lets one more message of `kind` go to `address` now, counting what
/// the address was sent within the window (the single writer: nobody queues meanwhile).
/// `merchant_id` is the merchant asking for a number, if one is.
pub(super) fn budget_allows(
    connection: &Connection,
    address: &str,
    kind: MessageKind,
    merchant_id: Option<i64>,
    budget: &MessageBudget,
    now_s: i64,
) -> Result<Result<(), TooMany>, StoreError> {
    let rows: Vec<(String, i64, i64)> = connection
        .prepare_cached(SENT_THIS_HOUR_SQLITE)?
        .query_map(
            params![address, now_s - reach::WINDOW_S, merchant_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?
        .collect::<Result<_, _>>()?;
    Ok(reach::may_send(budget, &sent_this_hour(rows)?, kind))
}

/// Whether the client dealt with the merchant (see [`record_merchant_client`]).
pub(super) fn merchant_knows_client(
    connection: &Connection,
    merchant_id: i64,
    client_id: i64,
) -> Result<bool, StoreError> {
    Ok(connection
        .prepare_cached("SELECT 1 FROM merchant_clients WHERE merchant_id = ?1 AND client_id = ?2")?
        .query_row(params![merchant_id, client_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Records that the client dealt with the merchant (paid it, or signed in on one of its
/// checkouts): from now on the merchant may have numbers sent to them.
pub(super) fn record_merchant_client(
    connection: &Connection,
    merchant_id: i64,
    client_id: i64,
    now_s: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT OR IGNORE INTO merchant_clients (merchant_id, client_id, created_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![merchant_id, client_id, now_s])?;
    Ok(())
}

/// The stored answer for a merchant's idempotency key, if the key was seen before with
/// the same request; a different request under the same key is refused.
pub(super) fn idempotent_replay(
    connection: &Connection,
    merchant_id: i64,
    idempotency: &IdempotencyKey,
) -> Result<Option<String>, StoreError> {
    let seen: Option<(Vec<u8>, String)> = connection
        .prepare_cached(
            "SELECT request_hash, outcome FROM idempotency WHERE merchant_id = ?1 AND key = ?2",
        )?
        .query_row(params![merchant_id, idempotency.key], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    match seen {
        Some((request_hash, _)) if request_hash != idempotency.request_hash => {
            Err(StoreError::IdempotencyMismatch)
        }
        Some((_, stored)) => Ok(Some(stored)),
        None => Ok(None),
    }
}

/// Records the answer to replay for a merchant's idempotency key, in the transaction of
/// the effect it answers.
pub(super) fn record_idempotency(
    connection: &Connection,
    merchant_id: i64,
    idempotency: &IdempotencyKey,
    stored: &str,
    now_s: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO idempotency (merchant_id, key, request_hash, outcome, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![merchant_id, idempotency.key, &idempotency.request_hash[..], stored, now_s])?;
    Ok(())
}

/// An evidence head's columns as read.
type StoredHead = (Option<i64>, Option<i64>, Option<Vec<u8>>);

/// The number (with its holder) an authorization names, and its evidence head.
fn number_for_authorization(
    connection: &Connection,
    fingerprint: &[u8; 32],
) -> Result<Option<(NumberForAuthorization, Option<evidence::Head>)>, StoreError> {
    // A live number first; else the newest dead one, so that a reused number is told
    // "already used" rather than "unknown".
    let sql = format!(
        "SELECT {}, n.account_id, n.details_fingerprint, n.failed_tries, n.version, c.blocked, \
         c.paused_until, c.consecutive_failures, n.evidence_last_id, n.evidence_seq, n.evidence_hash \
         FROM numbers n JOIN clients c ON c.id = n.client_id \
         WHERE n.fingerprint = ?1 ORDER BY (n.state = 'live') DESC, n.id DESC LIMIT 1",
        super::read::NUMBER_COLUMNS
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let found = statement
        .query_row([&fingerprint[..]], |row| {
            let view = super::read::number_row(row)?;
            let head: StoredHead = (row.get(24)?, row.get(25)?, row.get(26)?);
            let usage = NumberUsage {
                state: view.state,
                policy: view.policy,
                uses_count: view.uses_count,
                amount_used_minor: view.amount_used,
                locked_merchant: view.locked_merchant,
                failed_tries: row.get(19)?,
            };
            let holder = Holder {
                client_id: view.client_id,
                blocked: row.get(21)?,
                paused_until_s: row.get(22)?,
                consecutive_failures: row.get(23)?,
            };
            Ok((
                head,
                NumberForAuthorization {
                    view,
                    account_id: row.get(17)?,
                    details_fingerprint: row.get(18)?,
                    usage,
                    version: row.get(20)?,
                    holder,
                },
            ))
        })
        .optional()?;
    found
        .map(|((last_id, seq, hash), number)| {
            Ok((number, evidence::head_from_stored(last_id, seq, hash)?))
        })
        .transpose()
}

/// Writes a number's new usage, on condition that nobody changed it since it was read,
/// and moves its evidence head to its authorization's record (`record_id`, `written`,
/// just written) in the same update, on condition that it is still the record's
/// previous one.
fn update_number_usage(
    connection: &Connection,
    number: &NumberForAuthorization,
    usage: &NumberUsage,
    record_id: i64,
    written: &evidence::Written,
) -> Result<(), StoreError> {
    // `state` is set only when it changes (see `ops::card_payments`: SQLite would rewrite
    // the partial indexes' entries).
    const SAME_STATE: &str = "UPDATE numbers SET uses_count = ?4, amount_used = ?5, \
         failed_tries = ?6, merchant_id = COALESCE(?7, merchant_id), version = version + 1, \
         evidence_last_id = ?8, evidence_seq = ?9, evidence_hash = ?10 \
         WHERE id = ?1 AND version = ?2 AND state = ?3 AND evidence_seq = ?9 - 1";
    const NEW_STATE: &str = "UPDATE numbers SET state = ?3, uses_count = ?4, amount_used = ?5, \
         failed_tries = ?6, merchant_id = COALESCE(?7, merchant_id), version = version + 1, \
         evidence_last_id = ?8, evidence_seq = ?9, evidence_hash = ?10 \
         WHERE id = ?1 AND version = ?2 AND evidence_seq = ?9 - 1";
    let same_state = usage.state == number.usage.state;
    let changed = connection
        .prepare_cached(if same_state { SAME_STATE } else { NEW_STATE })?
        .execute(params![
            number.view.id,
            number.version,
            usage.state.as_str(),
            usage.uses_count,
            usage.amount_used_minor,
            usage.failed_tries,
            usage.locked_merchant,
            record_id,
            written.seq,
            &written.hash[..]
        ])?;
    if changed != 1 {
        return Err(StoreError::Conflict("number_changed_concurrently"));
    }
    Ok(())
}

/// An authorization: [`authorization_plan`] decides, this applies its plan.
pub(super) fn authorize(
    connection: &Connection,
    request: &CommandRequest,
) -> Result<Outcome, StoreError> {
    let MerchantCommand::Authorize {
        number_fingerprint, ..
    } = &request.command
    else {
        return Err(StoreError::Corrupt(
            "authorize called with another command".into(),
        ));
    };
    let found = number_for_authorization(connection, number_fingerprint)?;
    let plan = authorization_plan(found.as_ref().map(|(number, _)| number), request)?;
    match (plan, found) {
        (AuthorizationPlan::Decline(decline), _) => Ok(declined(decline)),
        (wrong @ AuthorizationPlan::WrongDetails { .. }, Some((number, _))) => {
            let tx = super::SqliteTx(connection);
            let outcome = crate::ops::card_payments::count_wrong_details(&tx, &number, wrong);
            crate::tx::run_now(outcome)
        }
        (
            AuthorizationPlan::Approve {
                usage,
                reset_failures,
            },
            Some((number, head)),
        ) => approve(connection, request, &number, head, &usage, reset_failures),
        (_, None) => Err(StoreError::Corrupt(
            "an authorization planned on no number".into(),
        )),
    }
}

/// [`AuthorizationPlan::Approve`]: the hold under the floor, the holder's failures
/// cleared, the authorization, its record, and the number's new usage.
fn approve(
    connection: &Connection,
    request: &CommandRequest,
    number: &NumberForAuthorization,
    head: Option<evidence::Head>,
    after: &NumberUsage,
    reset_failures: bool,
) -> Result<Outcome, StoreError> {
    let authorization = approved_authorization(request, &number.view, 0)?;
    // Place the hold: the condition is the client's floor, checked by the database.
    let held = connection
        .prepare_cached(
            "UPDATE accounts SET held = held + ?2 WHERE id = ?1 \
             AND (kind <> 'client' OR balance - held - ?2 >= -credit_limit)",
        )?
        .execute(params![number.account_id, authorization.amount])?;
    if held != 1 {
        return Ok(declined(Decline::InsufficientFunds));
    }
    if reset_failures {
        connection
            .prepare_cached("UPDATE clients SET consecutive_failures = 0 WHERE id = ?1")?
            .execute([authorization.client_id])?;
    }
    let credit_account =
        merchant_account(connection, request.merchant_id, &authorization.currency)?;
    connection
        .prepare_cached(
            "INSERT INTO authorizations (merchant_id, number_id, client_id, debit_account, credit_account, currency, \
             amount, state, merchant_reference, created_at, hold_expires_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'authorized', ?8, ?9, ?10, ?9)",
        )?
        .execute(params![
            request.merchant_id,
            number.view.id,
            authorization.client_id,
            number.account_id,
            credit_account,
            authorization.currency,
            authorization.amount,
            authorization.merchant_reference,
            request.now_s,
            authorization.hold_expires_at_s
        ])?;
    let authorization = AuthorizationView {
        id: connection.last_insert_rowid(),
        ..authorization
    };
    // The record, then the number's new usage with its head moved to the record.
    let (record_id, record) = super::evidence::insert_after(
        connection,
        evidence::authorization(
            &authorization,
            AuthorizationEvent::Authorized,
            request.now_s,
        )?,
        head,
    )?;
    update_number_usage(connection, number, after, record_id, &record)?;
    Ok(Outcome::Authorized { authorization })
}

pub(super) fn authorization(
    connection: &Connection,
    merchant_id: i64,
    authorization_id: i64,
) -> Result<Option<AuthorizationView>, StoreError> {
    let sql = format!(
        "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations au JOIN numbers n ON n.id = au.number_id \
         WHERE au.id = ?1 AND au.merchant_id = ?2"
    );
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([authorization_id, merchant_id], authorization_row)
        .optional()?)
}

pub(super) struct AuthorizationRow {
    pub(super) view: AuthorizationView,
    pub(super) debit_account: i64,
    pub(super) credit_account: i64,
}

pub(super) fn authorization_for_update(
    connection: &Connection,
    merchant_id: i64,
    authorization_id: i64,
) -> Result<Option<AuthorizationRow>, StoreError> {
    // The view's columns, then the two accounts: one read of the row.
    let sql = format!(
        "SELECT {AUTHORIZATION_COLUMNS}, au.debit_account, au.credit_account FROM authorizations au \
         JOIN numbers n ON n.id = au.number_id WHERE au.id = ?1 AND au.merchant_id = ?2"
    );
    let row = connection
        .prepare_cached(&sql)?
        .query_row([authorization_id, merchant_id], |row| {
            Ok(AuthorizationRow {
                view: authorization_row(row)?,
                debit_account: row.get(13)?,
                credit_account: row.get(14)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// Releases an authorization's hold and moves it out of `authorized`, on condition that
/// it is still `authorized` (so a hold is released at most once).
pub(super) fn release_hold(
    connection: &Connection,
    row: &AuthorizationRow,
    new_state: AuthorizationState,
    captured: i64,
    now_s: i64,
) -> Result<(), StoreError> {
    let moved = connection
        .prepare_cached(
            "UPDATE authorizations SET state = ?2, captured = ?3, updated_at = ?4 WHERE id = ?1 AND state = 'authorized'",
        )?
        .execute(params![row.view.id, new_state.as_str(), captured, now_s])?;
    let released = connection
        .prepare_cached("UPDATE accounts SET held = held - ?2 WHERE id = ?1 AND held >= ?2")?
        .execute(params![row.debit_account, row.view.amount])?;
    if moved != 1 || released != 1 {
        return Err(StoreError::Conflict("authorization_changed_concurrently"));
    }
    super::evidence::write(
        connection,
        evidence::authorization(&row.view, evidence::released_by(new_state, captured), now_s)?,
    )?;
    Ok(())
}

/// Captures `amount` of a held authorization: releases the hold and posts the transfer.
pub(super) fn capture_row(
    connection: &Connection,
    row: &AuthorizationRow,
    amount: i64,
    now_s: i64,
) -> Result<(), StoreError> {
    release_hold(connection, row, AuthorizationState::Captured, amount, now_s)?;
    record_merchant_client(connection, row.view.merchant_id, row.view.client_id, now_s)?;
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
    post_transfer(connection, &capture)?;
    Ok(())
}
