//! Commands: everything that writes. Each runs on the writer connection inside the
//! batch's transaction and its own savepoint; returning `Err` undoes all it wrote.
//!
//! The rules come from `sceau_domain`; these functions load what the rules need, ask
//! them, and apply the answer with *conditional* updates, so that the database itself
//! refuses a write that would break single use, a cap or a floor even if two writers
//! ever raced.

use crate::StoreError;
use crate::evidence::{self, AuthorizationEvent};
use crate::model::*;
use crate::rows::NUMBER_COLUMNS;
use crate::shared::declined;
use crate::shared::{NumberForAuthorization, approved_authorization, authorization_plan};
use crate::sql::{Decode, into_sqlite};
use rusqlite::{Connection, OptionalExtension, params};
use sceau_domain::decline::Decline;
use sceau_domain::policy::{AuthorizationPlan, Holder, NumberUsage};

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
        NUMBER_COLUMNS
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let found = statement
        .query_row([&fingerprint[..]], |row| {
            let view = NumberView::decode(row).map_err(into_sqlite)?;
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
