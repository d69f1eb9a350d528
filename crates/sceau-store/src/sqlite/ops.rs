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
    CLIENTS_THIS_HOUR_SQLITE, NumberForAuthorization, SENT_THIS_HOUR_SQLITE,
    approved_authorization, authorization_plan, figures, in_currency_of, policy_columns,
    sent_this_hour,
};
use rusqlite::{Connection, OptionalExtension, params};
use sceau_domain::Money;
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::ledger::{self, AuthorizationState};
use sceau_domain::policy::{AuthorizationPlan, Holder, NumberUsage};
use sceau_domain::reach::{self, MerchantReach, MessageBudget, MessageKind, ReachRefusal, TooMany};

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

pub(super) fn issue_number(
    connection: &Connection,
    number: &NewNumber,
) -> Result<IssueOutcome, StoreError> {
    let client = client_where(connection, "id = ?1", &number.client_id)?
        .ok_or_else(|| StoreError::Corrupt("number for an unknown client".into()))?;
    if let Some((merchant_id, idempotency)) = &number.idempotency
        && let Some(stored) = idempotent_replay(connection, *merchant_id, idempotency)?
    {
        let view = serde_json::from_str(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        return Ok(IssueOutcome::Replayed(view));
    }
    let asking = number.asking_merchant();
    if number.origin == Origin::Merchant && asking.is_none() {
        return Err(StoreError::Corrupt(
            "a merchant's number names its merchant".into(),
        ));
    }
    if let Some(merchant_id) = asking {
        let found = merchant_reach(connection, merchant_id, &client, number.now_s)?;
        match reach::may_reach(&found, number.merchant_clients_max) {
            Ok(()) => {}
            Err(ReachRefusal::Unreachable) => return Ok(IssueOutcome::Unreachable),
            Err(ReachRefusal::TooManyClients) => return Ok(IssueOutcome::TooManyClients),
        }
    }
    if number.currency != client.currency {
        return Ok(IssueOutcome::CurrencyMismatch);
    }
    let kind = match asking {
        Some(_) => MessageKind::MerchantNumber,
        None => MessageKind::ClientNumber,
    };
    let address = &number.message.address;
    if let Err(too_many) = budget_allows(
        connection,
        address,
        kind,
        asking,
        &number.budget,
        number.now_s,
    )? {
        return Ok(IssueOutcome::Throttled(too_many));
    }
    let Some(number_id) = insert_number(connection, number, &client)? else {
        return Ok(IssueOutcome::FingerprintTaken);
    };
    enqueue(connection, &number.message, kind, asking, number.now_s)?;
    let view = super::read::number(connection, number_id)?;
    super::evidence::write(connection, evidence::number_issued(&view, number.now_s)?)?;
    if let Some((merchant_id, idempotency)) = &number.idempotency {
        let stored =
            serde_json::to_string(&view).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        record_idempotency(connection, *merchant_id, idempotency, &stored, number.now_s)?;
    }
    Ok(IssueOutcome::Issued(view))
}

/// Inserts the number, live, for the client; `None` when a live number already has its
/// fingerprint.
fn insert_number(
    connection: &Connection,
    number: &NewNumber,
    client: &ClientRecord,
) -> Result<Option<i64>, StoreError> {
    let (amount_rule, amount_limit, merchant_lock, merchant_id) = policy_columns(&number.policy);
    let inserted = connection
        .prepare_cached(
            "INSERT INTO numbers (client_id, account_id, currency, fingerprint, details_fingerprint, last_four, \
             expiry_month, expiry_year, origin, uses_max, amount_rule, amount_limit, merchant_lock, merchant_id, \
             valid_until, state, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'live', ?16)",
        )?
        .execute(params![
            client.id,
            client.account_id,
            client.currency.code(),
            &number.fingerprint[..],
            &number.details_fingerprint[..],
            number.last_four,
            number.expiry.month,
            number.expiry.year,
            number.origin.as_str(),
            number.policy.uses_max,
            amount_rule,
            amount_limit,
            merchant_lock,
            merchant_id,
            number.policy.valid_until_s,
            number.now_s
        ]);
    match inserted {
        Err(error) if is_unique_violation(&error, "numbers.fingerprint") => Ok(None),
        other => {
            other?;
            Ok(Some(connection.last_insert_rowid()))
        }
    }
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

/// What decides whether a merchant may have a number sent to `client` now.
fn merchant_reach(
    connection: &Connection,
    merchant_id: i64,
    client: &ClientRecord,
    now_s: i64,
) -> Result<MerchantReach, StoreError> {
    let known = merchant_knows_client(connection, merchant_id, client.id)?;
    let (clients, among): (u32, bool) = connection
        .prepare_cached(CLIENTS_THIS_HOUR_SQLITE)?
        .query_row(
            params![merchant_id, now_s - reach::WINDOW_S, client.phone.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
    Ok(MerchantReach {
        known,
        client_stopped: client.stopped(now_s),
        clients_this_hour: clients,
        client_among_them: among,
    })
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

pub(super) fn execute(
    connection: &Connection,
    request: &CommandRequest,
) -> Result<Executed, StoreError> {
    if let Some(idempotency) = &request.idempotency
        && let Some(stored) = idempotent_replay(connection, request.merchant_id, idempotency)?
    {
        let outcome =
            serde_json::from_str(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        return Ok(Executed {
            outcome,
            replayed: true,
        });
    }
    let outcome = match &request.command {
        MerchantCommand::Authorize { .. } => authorize(connection, request)?,
        MerchantCommand::Capture {
            authorization_id,
            amount,
        } => capture(
            connection,
            request.merchant_id,
            *authorization_id,
            *amount,
            request.now_s,
        )?,
        MerchantCommand::Void { authorization_id } => void(
            connection,
            request.merchant_id,
            *authorization_id,
            request.now_s,
        )?,
        MerchantCommand::Refund {
            authorization_id,
            amount,
        } => refund(
            connection,
            request.merchant_id,
            *authorization_id,
            *amount,
            request.now_s,
        )?,
    };
    if let Some(idempotency) = &request.idempotency {
        let stored =
            serde_json::to_string(&outcome).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        record_idempotency(
            connection,
            request.merchant_id,
            idempotency,
            &stored,
            request.now_s,
        )?;
    }
    Ok(Executed {
        outcome,
        replayed: false,
    })
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

/// Writes a number's new usage, on condition that nobody changed it since it was read;
/// with `record` (the id and the record of the number's event, just written), moves the
/// number's evidence head to it in the same update, on condition that it is still the
/// record's previous one.
fn update_number_usage(
    connection: &Connection,
    id: i64,
    version: i64,
    before: &NumberUsage,
    usage: &NumberUsage,
    record: Option<(i64, &evidence::Written)>,
) -> Result<(), StoreError> {
    // `state` is in the partial indexes' conditions: naming it in SET makes SQLite
    // rewrite those (randomly keyed) index entries, so it is set only when it changes.
    const SAME_STATE: &str = "UPDATE numbers SET uses_count = ?4, amount_used = ?5, failed_tries = ?6, \
         merchant_id = COALESCE(?7, merchant_id), version = version + 1 \
         WHERE id = ?1 AND version = ?2 AND state = ?3";
    const NEW_STATE: &str = "UPDATE numbers SET state = ?3, uses_count = ?4, amount_used = ?5, \
         failed_tries = ?6, merchant_id = COALESCE(?7, merchant_id), version = version + 1 \
         WHERE id = ?1 AND version = ?2";
    const SAME_STATE_RECORDED: &str = "UPDATE numbers SET uses_count = ?4, amount_used = ?5, \
         failed_tries = ?6, merchant_id = COALESCE(?7, merchant_id), version = version + 1, \
         evidence_last_id = ?8, evidence_seq = ?9, evidence_hash = ?10 \
         WHERE id = ?1 AND version = ?2 AND state = ?3 AND evidence_seq = ?9 - 1";
    const NEW_STATE_RECORDED: &str = "UPDATE numbers SET state = ?3, uses_count = ?4, amount_used = ?5, \
         failed_tries = ?6, merchant_id = COALESCE(?7, merchant_id), version = version + 1, \
         evidence_last_id = ?8, evidence_seq = ?9, evidence_hash = ?10 \
         WHERE id = ?1 AND version = ?2 AND evidence_seq = ?9 - 1";
    let same_state = usage.state == before.state;
    let usage_params = params![
        id,
        version,
        usage.state.as_str(),
        usage.uses_count,
        usage.amount_used_minor,
        usage.failed_tries,
        usage.locked_merchant
    ];
    let changed = match record {
        None => connection
            .prepare_cached(if same_state { SAME_STATE } else { NEW_STATE })?
            .execute(usage_params)?,
        Some((record_id, written)) => {
            let hash = &written.hash[..];
            let mut all: Vec<&dyn rusqlite::ToSql> = usage_params.to_vec();
            all.extend_from_slice(params![record_id, written.seq, hash]);
            connection
                .prepare_cached(if same_state {
                    SAME_STATE_RECORDED
                } else {
                    NEW_STATE_RECORDED
                })?
                .execute(all.as_slice())?
        }
    };
    if changed != 1 {
        return Err(StoreError::Conflict("number_changed_concurrently"));
    }
    Ok(())
}

/// An authorization: [`authorization_plan`] decides, this applies its plan.
fn authorize(connection: &Connection, request: &CommandRequest) -> Result<Outcome, StoreError> {
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
        (
            AuthorizationPlan::WrongDetails {
                usage,
                client_id,
                holder_failures,
                paused_until_s,
            },
            Some((number, _)),
        ) => {
            update_number_usage(
                connection,
                number.view.id,
                number.version,
                &number.usage,
                &usage,
                None,
            )?;
            connection
                .prepare_cached(
                    "UPDATE clients SET consecutive_failures = ?2, paused_until = COALESCE(?3, paused_until) \
                     WHERE id = ?1",
                )?
                .execute(params![client_id, holder_failures, paused_until_s])?;
            let paused = paused_until_s.map(|until_s| Paused { client_id, until_s });
            Ok(Outcome::Declined {
                decline: Decline::WrongCardDetails,
                paused,
            })
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
    update_number_usage(
        connection,
        number.view.id,
        number.version,
        &number.usage,
        after,
        Some((record_id, &record)),
    )?;
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

fn load_authorization(
    connection: &Connection,
    merchant_id: i64,
    authorization_id: i64,
) -> Result<AuthorizationView, StoreError> {
    authorization(connection, merchant_id, authorization_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("authorization {authorization_id} vanished")))
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

fn capture(
    connection: &Connection,
    merchant_id: i64,
    authorization_id: i64,
    amount: Option<Money>,
    now_s: i64,
) -> Result<Outcome, StoreError> {
    let Some(row) = authorization_for_update(connection, merchant_id, authorization_id)? else {
        return Ok(Outcome::Rejected {
            rejection: Rejection::NotFound,
        });
    };
    if of_checkout(connection, authorization_id)? {
        return Ok(Outcome::Rejected {
            rejection: Rejection::OfCheckout,
        });
    }
    let amount = match in_currency_of(&row.view, amount)
        .and_then(|amount| ledger::capture(&figures(&row.view), amount, now_s))
    {
        Ok(amount) => amount,
        Err(rejection) => return Ok(Outcome::Rejected { rejection }),
    };
    capture_row(connection, &row, amount, now_s)?;
    Ok(Outcome::Captured {
        authorization: load_authorization(connection, merchant_id, authorization_id)?,
    })
}

/// Whether the authorization holds a checkout's amount (the merchant may not capture or
/// void it: only the client's seal captures it; refunds after payment are the merchant's).
fn of_checkout(connection: &Connection, authorization_id: i64) -> Result<bool, StoreError> {
    Ok(connection
        .prepare_cached("SELECT 1 FROM checkouts WHERE authorization_id = ?1")?
        .query_row([authorization_id], |_| Ok(()))
        .optional()?
        .is_some())
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

fn void(
    connection: &Connection,
    merchant_id: i64,
    authorization_id: i64,
    now_s: i64,
) -> Result<Outcome, StoreError> {
    let Some(row) = authorization_for_update(connection, merchant_id, authorization_id)? else {
        return Ok(Outcome::Rejected {
            rejection: Rejection::NotFound,
        });
    };
    if of_checkout(connection, authorization_id)? {
        return Ok(Outcome::Rejected {
            rejection: Rejection::OfCheckout,
        });
    }
    if let Err(rejection) = ledger::void(&figures(&row.view)) {
        return Ok(Outcome::Rejected { rejection });
    }
    release_hold(connection, &row, AuthorizationState::Voided, 0, now_s)?;
    Ok(Outcome::Voided {
        authorization: load_authorization(connection, merchant_id, authorization_id)?,
    })
}

fn refund(
    connection: &Connection,
    merchant_id: i64,
    authorization_id: i64,
    amount: Option<Money>,
    now_s: i64,
) -> Result<Outcome, StoreError> {
    let Some(row) = authorization_for_update(connection, merchant_id, authorization_id)? else {
        return Ok(Outcome::Rejected {
            rejection: Rejection::NotFound,
        });
    };
    let amount = match in_currency_of(&row.view, amount)
        .and_then(|amount| ledger::refund(&figures(&row.view), amount))
    {
        Ok(amount) => amount,
        Err(rejection) => return Ok(Outcome::Rejected { rejection }),
    };
    let recorded = connection
        .prepare_cached(
            "UPDATE authorizations SET refunded = refunded + ?2, updated_at = ?3 \
             WHERE id = ?1 AND state = 'captured' AND refunded + ?2 <= captured",
        )?
        .execute(params![row.view.id, amount, now_s])?;
    if recorded != 1 {
        return Err(StoreError::Conflict("authorization_changed_concurrently"));
    }
    let refund = Transfer {
        debit: row.credit_account,
        credit: row.debit_account,
        amount,
        currency: &row.view.currency,
        kind: "refund",
        authorization_id: Some(row.view.id),
        clearing_batch_id: None,
        now_s,
    };
    let refund_id = post_transfer(connection, &refund)?;
    super::evidence::write(
        connection,
        evidence::authorization(
            &row.view,
            AuthorizationEvent::Refunded {
                amount,
                transfer_id: refund_id,
            },
            now_s,
        )?,
    )?;
    let authorization = load_authorization(connection, merchant_id, authorization_id)?;
    Ok(Outcome::Refunded {
        authorization,
        refund_id,
        amount,
    })
}

/// Most holds released by one sweep; the next sweep takes the rest.
const EXPIRY_BATCH_MAX: u32 = 1_000;

pub(super) fn expire(connection: &Connection, now_s: i64) -> Result<Expired, StoreError> {
    let due: Vec<(i64, i64)> = connection
        .prepare_cached(
            "SELECT id, merchant_id FROM authorizations WHERE state = 'authorized' AND hold_expires_at <= ?1 \
             ORDER BY hold_expires_at LIMIT ?2",
        )?
        .query_map(params![now_s, EXPIRY_BATCH_MAX], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut result = Expired::default();
    for (authorization_id, merchant_id) in due {
        if let Some(row) = authorization_for_update(connection, merchant_id, authorization_id)?
            && ledger::hold_expired(&figures(&row.view), now_s)
        {
            release_hold(connection, &row, AuthorizationState::Expired, 0, now_s)?;
            result.holds_released += 1;
        }
    }
    result.numbers_expired = connection
        .prepare_cached("UPDATE numbers SET state = 'expired', version = version + 1 WHERE state = 'live' AND valid_until <= ?1")?
        .execute([now_s])? as u64;
    result.checkouts_expired = super::checkout::expire_checkouts(connection, now_s)?;
    Ok(result)
}
