//! Single-use payment numbers and the merchant's commands on their authorizations
//! (Figures 4 and 5): a number issued; capture, void and refund, with the merchant's
//! idempotency keys; expiry. An authorization itself is each backend's own, for speed:
//! SQLite writes it statement by statement (`sqlite::ops::authorize`), PostgreSQL in
//! waves of grouped statements (`postgres::ops::authorize_wave`); both count a wrong
//! try here ([`count_wrong_details`]).

use crate::StoreError;
use crate::evidence::{self, AuthorizationEvent};
use crate::model::*;
use crate::ops::accounts::{Transfer, post_transfer};
use crate::ops::holds::{self, AuthorizationRow, idempotent_replay, record_idempotency};
use crate::ops::{outbox, reads};
use crate::shared::{NumberForAuthorization, figures, in_currency_of, policy_columns};
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, args, broken, scalar};
use sceau_domain::Money;
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::ledger::{self, AuthorizationState};
use sceau_domain::policy::AuthorizationPlan;
use sceau_domain::reach::{self, MessageKind, ReachRefusal};

/// Issues a number to its client once it passes its checks ([`refused`]): its message
/// queued, its record written. A merchant's idempotency key replays the number it first
/// issued.
pub(crate) async fn issue_number(tx: &impl Tx, number: &NewNumber) -> Result<IssueOutcome, Fail> {
    let client = reads::client(tx, number.client_id)
        .await?
        .ok_or_else(|| broken("number for an unknown client"))?;
    if let Some((merchant_id, idempotency)) = &number.idempotency
        && let Some(stored) = idempotent_replay(tx, *merchant_id, idempotency).await?
    {
        return Ok(IssueOutcome::Replayed(from_stored(&stored)?));
    }
    let asking = number.asking_merchant();
    if number.origin == Origin::Merchant && asking.is_none() {
        return Err(broken("a merchant's number names its merchant"));
    }
    let kind = match asking {
        Some(_) => MessageKind::MerchantNumber,
        None => MessageKind::ClientNumber,
    };
    if let Some(refusal) = refused(tx, number, &client, kind).await? {
        return Ok(refusal);
    }
    let Some(number_id) = insert_number(tx, number, &client).await? else {
        return Ok(IssueOutcome::FingerprintTaken);
    };
    outbox::enqueue(tx, &number.message, kind, asking, number.now_s).await?;
    let view = reads::number(tx, number_id).await?;
    crate::tx::record(tx, evidence::number_issued(&view, number.now_s)?).await?;
    if let Some((merchant_id, idempotency)) = &number.idempotency {
        let stored = to_stored(&view)?;
        record_idempotency(tx, *merchant_id, idempotency, &stored, number.now_s).await?;
    }
    Ok(IssueOutcome::Issued(view))
}

/// Why a number may not be issued, if it may not: the merchant asking for it may not
/// reach the client, the currency is not the client's, or the address's budget allows
/// no more messages of `kind`. Runs where nobody else counts them meanwhile: SQLite's
/// one writer, or under the merchant's row and the client's account locks on PostgreSQL
/// (two instances cannot both count and both go one past a limit).
async fn refused(
    tx: &impl Tx,
    number: &NewNumber,
    client: &ClientRecord,
    kind: MessageKind,
) -> Result<Option<IssueOutcome>, Fail> {
    let asking = number.asking_merchant();
    if let Some(merchant_id) = asking {
        let found = outbox::merchant_reach(tx, merchant_id, client, number.now_s).await?;
        match reach::may_reach(&found, number.merchant_clients_max) {
            Ok(()) => {}
            Err(ReachRefusal::Unreachable) => return Ok(Some(IssueOutcome::Unreachable)),
            Err(ReachRefusal::TooManyClients) => return Ok(Some(IssueOutcome::TooManyClients)),
        }
    }
    if number.currency != client.currency {
        return Ok(Some(IssueOutcome::CurrencyMismatch));
    }
    let (address, budget) = (&number.message.address, &number.budget);
    let allowed = outbox::budget_allows(tx, address, kind, asking, budget, number.now_s).await?;
    Ok(allowed.err().map(IssueOutcome::Throttled))
}

static INSERT_NUMBER: Sql = Sql::new(
    "INSERT INTO numbers (client_id, account_id, currency, fingerprint, details_fingerprint, \
     last_four, expiry_month, expiry_year, origin, uses_max, amount_rule, amount_limit, \
     merchant_lock, merchant_id, valid_until, state, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'live', $16) \
     ON CONFLICT (fingerprint) WHERE state = 'live' DO NOTHING RETURNING id",
);

/// Inserts the number, live, for the client; `None` when a live number already has its
/// fingerprint.
async fn insert_number(
    tx: &impl Tx,
    number: &NewNumber,
    client: &ClientRecord,
) -> Result<Option<i64>, Fail> {
    let (amount_rule, amount_limit, merchant_lock, merchant_id) = policy_columns(&number.policy);
    let values = args![
        client.id,
        client.account_id,
        client.currency.code(),
        &number.fingerprint,
        &number.details_fingerprint,
        &number.last_four,
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
    ];
    scalar(tx, &INSERT_NUMBER, values, "id").await
}

/// Runs a merchant's command, or replays the answer its idempotency key got (a key seen
/// with another request is refused); a new answer is stored with its key, in the
/// command's transaction. `authorize` runs an authorization, the backend's own way.
pub(crate) async fn execute(
    tx: &impl Tx,
    request: &CommandRequest,
    authorize: impl FnOnce() -> Result<Outcome, Fail>,
) -> Result<Executed, Fail> {
    let merchant_id = request.merchant_id;
    if let Some(idempotency) = &request.idempotency
        && let Some(stored) = idempotent_replay(tx, merchant_id, idempotency).await?
    {
        return replayed(&stored);
    }
    let outcome = match &request.command {
        MerchantCommand::Authorize { .. } => Ok(authorize()?),
        MerchantCommand::Capture {
            authorization_id,
            amount,
        } => capture(tx, request, *authorization_id, *amount).await,
        MerchantCommand::Void { authorization_id } => void(tx, request, *authorization_id).await,
        MerchantCommand::Refund {
            authorization_id,
            amount,
        } => refund(tx, request, *authorization_id, *amount).await,
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(Stop::Rejected(rejection)) => Outcome::Rejected { rejection },
        Err(Stop::Failed(fail)) => return Err(fail),
    };
    if let Some(idempotency) = &request.idempotency {
        let stored = to_stored(&outcome)?;
        record_idempotency(tx, merchant_id, idempotency, &stored, request.now_s).await?;
    }
    Ok(Executed {
        outcome,
        replayed: false,
    })
}

/// A command's answer stored with its idempotency key, replayed.
pub(crate) fn replayed(stored: &str) -> Result<Executed, Fail> {
    Ok(Executed {
        outcome: from_stored(stored)?,
        replayed: true,
    })
}

/// An answer as stored with its idempotency key.
pub(crate) fn to_stored(answer: &impl serde::Serialize) -> Result<String, Fail> {
    serde_json::to_string(answer).map_err(|e| Fail::Store(StoreError::Corrupt(e.to_string())))
}

/// An answer stored with its idempotency key, read back.
pub(crate) fn from_stored<T: serde::de::DeserializeOwned>(stored: &str) -> Result<T, Fail> {
    serde_json::from_str(stored).map_err(|e| Fail::Store(StoreError::Corrupt(e.to_string())))
}

/// Why a command on an authorization stopped: a rejection it answers, or a failure.
enum Stop {
    Rejected(Rejection),
    Failed(Fail),
}

impl From<Rejection> for Stop {
    fn from(rejection: Rejection) -> Self {
        Stop::Rejected(rejection)
    }
}

impl From<Fail> for Stop {
    fn from(fail: Fail) -> Self {
        Stop::Failed(fail)
    }
}

/// The merchant's authorization a command names; a checkout's is refused unless
/// `checkout_too` (the merchant may not capture or void it: only the client's seal
/// captures it; refunds after payment are the merchant's).
async fn commanded(
    tx: &impl Tx,
    merchant_id: i64,
    authorization_id: i64,
    checkout_too: bool,
) -> Result<AuthorizationRow, Stop> {
    let row = holds::authorization_row(tx, merchant_id, authorization_id)
        .await?
        .ok_or(Rejection::NotFound)?;
    if !checkout_too && holds::of_checkout(tx, authorization_id).await? {
        return Err(Rejection::OfCheckout.into());
    }
    Ok(row)
}

/// The authorization as a command left it.
async fn reread(tx: &impl Tx, merchant_id: i64, id: i64) -> Result<AuthorizationView, Fail> {
    reads::authorization(tx, merchant_id, id)
        .await?
        .ok_or_else(|| Fail::Store(StoreError::Corrupt(format!("authorization {id} vanished"))))
}

/// Captures all of a held authorization, or `amount` of it, into the merchant's account.
async fn capture(
    tx: &impl Tx,
    request: &CommandRequest,
    authorization_id: i64,
    amount: Option<Money>,
) -> Result<Outcome, Stop> {
    let (merchant_id, now_s) = (request.merchant_id, request.now_s);
    let row = commanded(tx, merchant_id, authorization_id, false).await?;
    let amount = in_currency_of(&row.view, amount)
        .and_then(|amount| ledger::capture(&figures(&row.view), amount, now_s))?;
    holds::capture_row(tx, &row, amount, now_s).await?;
    let authorization = reread(tx, merchant_id, authorization_id).await?;
    Ok(Outcome::Captured { authorization })
}

/// Voids a held authorization: its hold released.
async fn void(
    tx: &impl Tx,
    request: &CommandRequest,
    authorization_id: i64,
) -> Result<Outcome, Stop> {
    let (merchant_id, now_s) = (request.merchant_id, request.now_s);
    let row = commanded(tx, merchant_id, authorization_id, false).await?;
    ledger::void(&figures(&row.view))?;
    holds::release_hold(tx, &row, AuthorizationState::Voided, 0, now_s).await?;
    let authorization = reread(tx, merchant_id, authorization_id).await?;
    Ok(Outcome::Voided { authorization })
}

static REFUNDED: Sql = Sql::new(
    "UPDATE authorizations SET refunded = refunded + $2, updated_at = $3 \
     WHERE id = $1 AND state = 'captured' AND refunded + $2 <= captured",
);

/// Refunds all that is left of a capture, or `amount` of it, to the client's account.
async fn refund(
    tx: &impl Tx,
    request: &CommandRequest,
    authorization_id: i64,
    amount: Option<Money>,
) -> Result<Outcome, Stop> {
    let (merchant_id, now_s) = (request.merchant_id, request.now_s);
    let row = commanded(tx, merchant_id, authorization_id, true).await?;
    let amount = in_currency_of(&row.view, amount)
        .and_then(|amount| ledger::refund(&figures(&row.view), amount))?;
    if tx
        .execute(&REFUNDED, args![row.view.id, amount, now_s])
        .await?
        != 1
    {
        return Err(Fail::Store(StoreError::Conflict("authorization_changed_concurrently")).into());
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
    let refund_id = post_transfer(tx, &refund).await?;
    let refunded = AuthorizationEvent::Refunded {
        amount,
        transfer_id: refund_id,
    };
    crate::tx::record(
        tx,
        evidence::authorization(&row.view, refunded, now_s).map_err(Fail::Store)?,
    )
    .await?;
    Ok(Outcome::Refunded {
        authorization: reread(tx, merchant_id, authorization_id).await?,
        refund_id,
        amount,
    })
}

/// Most holds released by one sweep; the next sweep takes the rest (PostgreSQL's sweep
/// locks the accounts of as many, `command::Guard::Expiry`).
pub(crate) const EXPIRY_BATCH_MAX: i64 = 1_000;

static DUE: Sql = Sql::new(
    "SELECT id, merchant_id FROM authorizations WHERE state = 'authorized' \
     AND hold_expires_at <= $1 ORDER BY hold_expires_at LIMIT $2",
);
static DUE_LOCKED: Sql = Sql::new(
    "SELECT id, merchant_id FROM authorizations WHERE state = 'authorized' \
     AND hold_expires_at <= $1 AND debit_account = ANY($3) ORDER BY hold_expires_at LIMIT $2",
);
static NUMBERS_EXPIRED: Sql = Sql::new(
    "UPDATE numbers SET state = 'expired', version = version + 1 \
     WHERE state = 'live' AND valid_until <= $1",
);
static NUMBERS_EXPIRED_LOCKED: Sql = Sql::new(
    "UPDATE numbers SET state = 'expired', version = version + 1 \
     WHERE state = 'live' AND valid_until <= $1 AND account_id = ANY($2)",
);

/// Releases the holds due by `now_s` (a checkout's too) and expires the numbers past
/// their validity; where the backend locks rows, only on the accounts locked for this
/// sweep (the rest wait for the next one). Then ends the checkouts past their time (a
/// checkout's hold expires when the checkout does: released above).
pub(crate) async fn expire(tx: &impl Tx, now_s: i64) -> Result<Expired, Fail> {
    let locked = tx.locks_rows().then(|| tx.locked());
    let (due, values) = match locked {
        Some(locked) => (&DUE_LOCKED, args![now_s, EXPIRY_BATCH_MAX, locked]),
        None => (&DUE, args![now_s, EXPIRY_BATCH_MAX]),
    };
    let due: Vec<(i64, i64)> = tx
        .rows(due, values, |row| {
            Ok((row.column("id")?, row.column("merchant_id")?))
        })
        .await?;
    let mut expired = Expired::default();
    for (authorization_id, merchant_id) in due {
        if let Some(row) = holds::authorization_row(tx, merchant_id, authorization_id).await?
            && ledger::hold_expired(&figures(&row.view), now_s)
        {
            holds::release_hold(tx, &row, AuthorizationState::Expired, 0, now_s).await?;
            expired.holds_released += 1;
        }
    }
    expired.numbers_expired = match locked {
        Some(locked) => {
            tx.execute(&NUMBERS_EXPIRED_LOCKED, args![now_s, locked])
                .await?
        }
        None => tx.execute(&NUMBERS_EXPIRED, args![now_s]).await?,
    };
    expired.checkouts_expired = crate::ops::checkouts::expire_checkouts(tx, now_s).await?;
    Ok(expired)
}

// `state` is in the partial indexes' conditions: naming it in SET makes SQLite rewrite
// those (randomly keyed) index entries, so it is set only when it changes.
static USAGE_SAME_STATE: Sql = Sql::new(
    "UPDATE numbers SET uses_count = $4, amount_used = $5, failed_tries = $6, \
     merchant_id = COALESCE($7, merchant_id), version = version + 1 \
     WHERE id = $1 AND version = $2 AND state = $3",
);
static USAGE_NEW_STATE: Sql = Sql::new(
    "UPDATE numbers SET state = $3, uses_count = $4, amount_used = $5, failed_tries = $6, \
     merchant_id = COALESCE($7, merchant_id), version = version + 1 WHERE id = $1 AND version = $2",
);

/// An authorization with wrong card details ([`AuthorizationPlan::WrongDetails`]): the
/// number's failed try, on condition that nobody changed the number since it was read,
/// and the holder's failures (which may pause them); declined.
pub(crate) async fn count_wrong_details(
    tx: &impl Tx,
    number: &NumberForAuthorization,
    plan: AuthorizationPlan,
) -> Result<Outcome, Fail> {
    let AuthorizationPlan::WrongDetails {
        usage,
        client_id,
        holder_failures,
        paused_until_s,
    } = plan
    else {
        return Err(broken("wrong details without their plan"));
    };
    let same_state = usage.state == number.usage.state;
    let values = args![
        number.view.id,
        number.version,
        usage.state.as_str(),
        usage.uses_count,
        usage.amount_used_minor,
        usage.failed_tries,
        usage.locked_merchant
    ];
    let sql = if same_state {
        &USAGE_SAME_STATE
    } else {
        &USAGE_NEW_STATE
    };
    if tx.execute(sql, values).await? != 1 {
        let changed = StoreError::Conflict("number_changed_concurrently");
        return Err(Fail::Store(changed));
    }
    let failures = args![client_id, holder_failures, paused_until_s];
    tx.execute(&crate::ops::clients::COUNT_FAILURE, failures)
        .await?;
    Ok(Outcome::Declined {
        decline: Decline::WrongCardDetails,
        paused: paused_until_s.map(|until_s| Paused { client_id, until_s }),
    })
}
