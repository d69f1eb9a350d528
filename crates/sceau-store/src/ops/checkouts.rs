//! Checkouts paid with a seal (Figures 1–3): created, held when the client signs in,
//! sealed by SMS, paid or failed by the typed seal, canceled by the client, ended when
//! their time passes.
//!
//! Every step reads the checkout, asks `sceau_domain::checkout` for the plan, and
//! applies it with updates conditional on the checkout's `version`, so that a seal is
//! accepted once and a try is counted once. When another command changed the checkout
//! meanwhile (another PostgreSQL batch, of this or another instance), the update finds
//! nothing and the command fails with `checkout_changed_concurrently`, undoing all it
//! wrote; PostgreSQL then reruns it on what is stored now. A hold is taken, captured or
//! released only under the accounts locked for it (PostgreSQL's `command::Guard`).

use crate::StoreError;
use crate::evidence::{self, AuthorizationEvent};
use crate::model::*;
use crate::ops::accounts::merchant_account;
use crate::ops::clients::{count_client_failure, forget_client_failures};
use crate::ops::holds::{
    AuthorizationRow, authorization_row, capture_row, idempotent_replay, record_idempotency,
    release_hold,
};
use crate::ops::outbox::{budget_allows, enqueue, record_merchant_client};
use crate::ops::{reads, webhooks};
use crate::shared::{self, checkout_facts, figures, hold_missing, sealed_by, unwritten};
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, Value, all3, args, both, broken, first, holds, record, scalar};
use futures_util::future::{join, join3};
use sceau_domain::checkout::{
    self, CANCELED_BY_CLIENT, Cancel, CancelPlan, Checkout, HoldPlan, ON_EXPIRY, SealPlan,
    SealTyped, Stage,
};
use sceau_domain::decline::Decline;
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::reach::MessageKind;

/// A checkout with its merchant, hold and number, and its version; a condition on
/// `checkouts ch` follows.
macro_rules! checkout_select {
    () => {
        "SELECT ch.id, ch.public_id, ch.merchant_id, m.name, ch.amount, ch.currency, \
         ch.merchant_reference, ch.object, ch.return_url, ch.webhook_url, ch.state, ch.failure, \
         ch.client_id, ch.authorization_id, au.credit_account, n.last_four, n.expiry_month, \
         n.expiry_year, ch.seal_nonce, ch.seal_digits, ch.seal_issued_at, ch.seal_expires_at, \
         ch.seal_wrong_tries, ch.seal_sends, ch.created_at, ch.expires_at, ch.updated_at, \
         ch.version FROM checkouts ch JOIN merchants m ON m.id = ch.merchant_id \
         LEFT JOIN authorizations au ON au.id = ch.authorization_id \
         LEFT JOIN numbers n ON n.id = au.number_id WHERE "
    };
}

static BY_PUBLIC_ID: Sql = Sql::new(concat!(checkout_select!(), "ch.public_id = $1"));
static BY_ID: Sql = Sql::new(concat!(checkout_select!(), "ch.id = $1"));

impl Decode for CheckoutView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let state: String = row.column("state")?;
        let expiry_month: Option<u8> = row.column("expiry_month")?;
        let expiry_year: Option<u16> = row.column("expiry_year")?;
        let seal = match row.column("seal_nonce")? {
            Some(nonce) => Some(StoredSeal {
                nonce,
                digits: row.column("seal_digits")?,
                issued_at_s: row.column("seal_issued_at")?,
                expires_at_s: row.column("seal_expires_at")?,
            }),
            None => None,
        };
        Ok(CheckoutView {
            id: row.column("id")?,
            public_id: row.column("public_id")?,
            merchant_id: row.column("merchant_id")?,
            merchant_name: row.column("name")?,
            amount: row.column("amount")?,
            currency: row.column("currency")?,
            merchant_reference: row.column("merchant_reference")?,
            object: row.column("object")?,
            return_url: row.column("return_url")?,
            webhook_url: row.column("webhook_url")?,
            state: CheckoutState::parse(&state).ok_or_else(|| corrupt("checkouts.state"))?,
            failure: row.column("failure")?,
            client_id: row.column("client_id")?,
            authorization_id: row.column("authorization_id")?,
            payee_account_id: row.column("credit_account")?,
            number_last_four: row.column("last_four")?,
            number_expiry: expiry_month.zip(expiry_year),
            seal,
            seal_wrong_tries: row.column("seal_wrong_tries")?,
            seal_sends: row.column("seal_sends")?,
            created_at_s: row.column("created_at")?,
            expires_at_s: row.column("expires_at")?,
            updated_at_s: row.column("updated_at")?,
        })
    }
}

/// A checkout by the identifier in its page's address.
pub(crate) async fn checkout(tx: &impl Tx, public_id: &str) -> Result<Option<CheckoutView>, Fail> {
    first(tx, &BY_PUBLIC_ID, args![public_id]).await
}

/// The checkout `sql` finds, with its version (for conditional updates).
async fn versioned(
    tx: &impl Tx,
    sql: &Sql,
    key: &[Value<'_>],
) -> Result<Option<(CheckoutView, i64)>, Fail> {
    tx.row(sql, key, |row| {
        Ok((CheckoutView::decode(row)?, row.column("version")?))
    })
    .await
}

/// What the rules see of a checkout, if found.
fn facts_of(found: Option<&(CheckoutView, i64)>) -> Result<Option<Checkout>, StoreError> {
    found.map(|(view, _)| checkout_facts(view)).transpose()
}

/// A checkout just written, with its version.
async fn by_id(tx: &impl Tx, id: i64) -> Result<(CheckoutView, i64), Fail> {
    versioned(tx, &BY_ID, args![id])
        .await?
        .ok_or_else(|| broken(&format!("checkout {id} vanished")))
}

/// The id of the row `sql` inserted.
async fn inserted(tx: &impl Tx, sql: &Sql, values: &[Value<'_>]) -> Result<i64, Fail> {
    scalar(tx, sql, values, "id")
        .await?
        .ok_or_else(|| broken("an inserted row has no id"))
}

fn json_error(error: serde_json::Error) -> Fail {
    Fail::Store(StoreError::Corrupt(error.to_string()))
}

fn changed_concurrently() -> Fail {
    Fail::Store(StoreError::Conflict("checkout_changed_concurrently"))
}

/// An update of checkout `$1` at `$2` setting `$assignments` (from `$4` on), on
/// condition that its version is still `$3` (see [`moved`]).
macro_rules! update_checkout {
    ($assignments:literal) => {
        Sql::new(concat!(
            "UPDATE checkouts SET ",
            $assignments,
            ", version = version + 1, updated_at = $2 WHERE id = $1 AND version = $3"
        ))
    };
}

/// Moves a checkout on with `sql` (an [`update_checkout!`]), on condition that nobody
/// else did since it was read.
async fn moved(tx: &impl Tx, sql: &Sql, values: &[Value<'_>]) -> Result<(), Fail> {
    if tx.execute(sql, values).await? != 1 {
        return Err(changed_concurrently());
    }
    Ok(())
}

static INSERT: Sql = Sql::new(
    "INSERT INTO checkouts (public_id, merchant_id, currency, amount, merchant_reference, \
     object, return_url, webhook_url, state, created_at, expires_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $11, $9, $10, $9) RETURNING id",
);

/// Opens a checkout; with an idempotency key seen before, the checkout it opened then
/// (`true`: a replay).
pub(crate) async fn create(
    tx: &impl Tx,
    checkout: &NewCheckout,
) -> Result<(CheckoutView, bool), Fail> {
    if let Some(idempotency) = &checkout.idempotency
        && let Some(stored) = idempotent_replay(tx, checkout.merchant_id, idempotency).await?
    {
        return Ok((serde_json::from_str(&stored).map_err(json_error)?, true));
    }
    // A public id taken already is an error (the unique constraint's), not a replay.
    let values = args![
        &checkout.public_id,
        checkout.merchant_id,
        checkout.currency.code(),
        checkout.amount,
        &checkout.merchant_reference,
        &checkout.object,
        &checkout.return_url,
        &checkout.webhook_url,
        checkout.now_s,
        checkout.expires_at_s,
        CheckoutState::Open.as_str()
    ];
    let (view, _) = by_id(tx, inserted(tx, &INSERT, values).await?).await?;
    if let Some(idempotency) = &checkout.idempotency {
        // Recorded meanwhile by another batch: this command fails and its rerun replays.
        let stored = serde_json::to_string(&view).map_err(json_error)?;
        let merchant_id = checkout.merchant_id;
        record_idempotency(tx, merchant_id, idempotency, &stored, checkout.now_s).await?;
    }
    Ok((view, false))
}

/// The checkouts a client holds now (literal `'held'`: the partial index's condition).
static HELD_NOW: Sql = Sql::new(
    "SELECT count(*) AS held FROM checkouts \
     WHERE client_id = $1 AND state = 'held' AND expires_at > $2",
);

/// Signing in on a checkout: [`checkout::on_sign_in`] decides (through
/// [`shared::hold_plan`]), this applies its plan.
pub(crate) async fn hold(tx: &impl Tx, hold: &HoldCheckout) -> Result<HoldOutcome, Fail> {
    // Three reads that need nothing of each other: on PostgreSQL sent together (one
    // round trip, the driver pipelines them); on SQLite each is done when made.
    // On PostgreSQL, under the client's account lock: two holds of one client take turns.
    let (found, client, held_now) = join3(
        versioned(tx, &BY_ID, args![hold.checkout_id]),
        reads::client(tx, hold.client_id),
        scalar::<i64>(tx, &HELD_NOW, args![hold.client_id, hold.now_s], "held"),
    )
    .await;
    let (found, client, held_now) = all3(found, client, held_now)?;
    let facts = facts_of(found.as_ref())?;
    let plan = shared::hold_plan(
        hold,
        facts.as_ref(),
        found.as_ref().map(|(view, _)| view),
        client.as_ref(),
        held_now.unwrap_or(0),
    );
    match (plan, found, client) {
        (HoldPlan::Hold, Some((view, version)), Some(client)) => {
            take_hold(tx, hold, &view, version, &client).await
        }
        (HoldPlan::AlreadyHeld, Some((view, _)), _) => Ok(HoldOutcome::Held(Box::new(view))),
        (HoldPlan::Refused(refusal), _, _) => Ok(HoldOutcome::Refused(refusal)),
        (HoldPlan::Declined(decline), _, _) => Ok(HoldOutcome::Declined(decline)),
        _ => Err(broken("a hold planned on nothing")),
    }
}

static TAKE_HOLD: Sql = Sql::new(
    "UPDATE accounts SET held = held + $2 WHERE id = $1 AND balance - held - $2 >= -credit_limit",
);
static HELD: Sql = update_checkout!("state = $4, client_id = $5, authorization_id = $6");

/// [`HoldPlan::Hold`]: the hold under the client's floor, the single-use number, the
/// authorization, and the checkout held with them.
async fn take_hold(
    tx: &impl Tx,
    hold: &HoldCheckout,
    view: &CheckoutView,
    version: i64,
    client: &ClientRecord,
) -> Result<HoldOutcome, Fail> {
    // The floor is the update's condition (on PostgreSQL, under the account's lock).
    if tx
        .execute(&TAKE_HOLD, args![client.account_id, view.amount])
        .await?
        != 1
    {
        return Ok(HoldOutcome::Declined(Decline::InsufficientFunds));
    }
    let (number_id, authorization_id) = draw_and_authorize(tx, hold, view, client).await?;
    // Signing in on the merchant's checkout names the merchant: it may reach the client.
    record_merchant_client(tx, view.merchant_id, client.id, hold.now_s).await?;
    let held = CheckoutState::Held.as_str();
    let values = args![
        view.id,
        hold.now_s,
        version,
        held,
        client.id,
        authorization_id
    ];
    moved(tx, &HELD, values).await?;
    let number = reads::number(tx, number_id).await?;
    let authorization = reads::authorization(tx, view.merchant_id, authorization_id)
        .await?
        .ok_or_else(|| broken(&format!("authorization {authorization_id} vanished")))?;
    let authorized = AuthorizationEvent::Authorized;
    let events = vec![
        evidence::number_issued(&number, hold.now_s)?,
        evidence::authorization(&authorization, authorized, hold.now_s)?,
    ];
    tx.record(events).await?;
    let (view, _) = by_id(tx, view.id).await?;
    Ok(HoldOutcome::Held(Box::new(view)))
}

static DRAW: Sql = Sql::new(
    "INSERT INTO numbers (client_id, account_id, currency, fingerprint, details_fingerprint, \
     last_four, expiry_month, expiry_year, origin, uses_max, amount_rule, amount_limit, \
     merchant_lock, merchant_id, valid_until, state, uses_count, amount_used, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'merchant', 1, 'exact', $9, 'named', $10, $11, \
     'consumed', 1, $9, $12) RETURNING id",
);
static AUTHORIZE: Sql = Sql::new(
    "INSERT INTO authorizations (merchant_id, number_id, client_id, debit_account, \
     credit_account, currency, amount, state, merchant_reference, created_at, \
     hold_expires_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'authorized', $8, $9, $10, $9) RETURNING id",
);

/// The payment means of the check (zone 25): a single-use number for exactly this
/// amount and merchant, used at once by the authorization of the hold. Their ids.
async fn draw_and_authorize(
    tx: &impl Tx,
    hold: &HoldCheckout,
    view: &CheckoutView,
    client: &ClientRecord,
) -> Result<(i64, i64), Fail> {
    let number = args![
        client.id,
        client.account_id,
        &view.currency,
        &hold.number_fingerprint,
        &hold.details_fingerprint,
        &hold.last_four,
        hold.expiry.month,
        hold.expiry.year,
        view.amount,
        view.merchant_id,
        view.expires_at_s,
        hold.now_s
    ];
    let number_id = inserted(tx, &DRAW, number).await?;
    let credit_account = merchant_account(tx, view.merchant_id, &view.currency).await?;
    let authorization = args![
        view.merchant_id,
        number_id,
        client.id,
        client.account_id,
        credit_account,
        &view.currency,
        view.amount,
        &view.merchant_reference,
        hold.now_s,
        view.expires_at_s
    ];
    Ok((number_id, inserted(tx, &AUTHORIZE, authorization).await?))
}

static SEAL_SENT: Sql = update_checkout!(
    "seal_nonce = $4, seal_digits = $5, seal_issued_at = $6, seal_expires_at = $7, \
     seal_sends = seal_sends + 1"
);

/// Sending a seal: [`checkout::on_send_seal`] decides, this records it and queues it.
pub(crate) async fn send_seal(tx: &impl Tx, send: &SendSeal) -> Result<SendOutcome, Fail> {
    // On PostgreSQL, under the client's account lock (`Guard::Client`); three reads sent
    // together, as in `hold`.
    let seal = MessageKind::PaymentSeal;
    let address = &send.message.address;
    let (found, client, budget) = join3(
        versioned(tx, &BY_ID, args![send.checkout_id]),
        reads::client(tx, send.client_id),
        budget_allows(tx, address, seal, None, &send.budget, send.now_s),
    )
    .await;
    let (found, client, budget) = all3(found, client, budget)?;
    let facts = facts_of(found.as_ref())?;
    let may_pay = client.is_some_and(|client| !client.stopped(send.now_s));
    let decided =
        checkout::on_send_seal(facts.as_ref(), send.client_id, may_pay, budget, send.now_s);
    let (view, version) = match (decided, found) {
        (Ok(()), Some(found)) => found,
        (Err(refusal), _) => return Ok(SendOutcome::Refused(refusal)),
        (Ok(()), None) => return Err(broken("a seal sent for nothing")),
    };
    let stored = &send.seal;
    let values = args![
        view.id,
        send.now_s,
        version,
        &stored.nonce,
        stored.digits,
        stored.issued_at_s,
        stored.expires_at_s
    ];
    moved(tx, &SEAL_SENT, values).await?;
    enqueue(tx, &send.message, seal, None, send.now_s).await?;
    let (view, _) = by_id(tx, view.id).await?;
    record(tx, evidence::checkout_seal_sent(&view, send.now_s)?).await?;
    Ok(SendOutcome::Sent(Box::new(view)))
}

/// A typed seal: [`checkout::on_typed_seal`] decides, [`apply_seal`] writes its plan.
pub(crate) async fn type_seal(tx: &impl Tx, typed: &TypedSeal) -> Result<SealOutcome, Fail> {
    let token_hash = &typed.session_token_hash;
    // Two reads sent together on PostgreSQL, as in `hold`.
    let (session_client, found) = join(
        reads::session_client(tx, token_hash, typed.now_s),
        versioned(tx, &BY_PUBLIC_ID, args![&typed.public_id]),
    )
    .await;
    let (session_client, found) = both(session_client, found)?;
    let facts = facts_of(found.as_ref())?;
    let client = match session_client {
        Some(client_id) => reads::client(tx, client_id).await?,
        None => None,
    };
    let hold = held(tx, facts.as_ref(), found.as_ref()).await?;
    let plan = checkout::on_typed_seal(&SealTyped {
        checkout: facts.as_ref(),
        session_client,
        client_may_pay: client
            .as_ref()
            .is_some_and(|client| !client.stopped(typed.now_s)),
        matched: found
            .as_ref()
            .is_some_and(|(view, _)| sealed_by(typed, view)),
        hold: hold.as_ref().map(|row| figures(&row.view)),
        now_s: typed.now_s,
    })
    .map_err(hold_missing)?;
    if let Some(outcome) = unwritten(plan) {
        return Ok(outcome);
    }
    let (Some((view, version)), Some(client)) = (found, client) else {
        return Err(broken("a seal judged on nothing"));
    };
    ensure_locked(tx, &view, &client)?;
    apply_seal(tx, &view, version, client.id, plan, hold, typed.now_s).await
}

/// The hold of a checkout the rules see as held, read for the plan.
async fn held(
    tx: &impl Tx,
    facts: Option<&Checkout>,
    found: Option<&(CheckoutView, i64)>,
) -> Result<Option<AuthorizationRow>, Fail> {
    match (facts.map(|facts| facts.stage), found) {
        (Some(Stage::Held { authorization_id }), Some((view, _))) => {
            authorization_row(tx, view.merchant_id, authorization_id).await
        }
        _ => Ok(None),
    }
}

/// A typed seal's writes change the client's counters and the hold, which may be done
/// only under their accounts' locks. On PostgreSQL the accounts were looked up before
/// the lock: if the checkout was held only after that, they are not locked, and the
/// command fails so that its rerun looks them up again.
fn ensure_locked(tx: &impl Tx, view: &CheckoutView, client: &ClientRecord) -> Result<(), Fail> {
    let payee_locked = view
        .payee_account_id
        .is_none_or(|account_id| holds(tx, account_id));
    if !payee_locked || !holds(tx, client.account_id) {
        return Err(changed_concurrently());
    }
    Ok(())
}

static JUDGED: Sql = update_checkout!(
    "seal_wrong_tries = seal_wrong_tries + $4, state = $5, failure = COALESCE($6, failure)"
);

/// Writes what [`checkout::on_typed_seal`] planned.
async fn apply_seal(
    tx: &impl Tx,
    view: &CheckoutView,
    version: i64,
    client_id: i64,
    plan: SealPlan,
    hold: Option<AuthorizationRow>,
    now_s: i64,
) -> Result<SealOutcome, Fail> {
    let Some(change) = plan.change() else {
        return Err(broken("a seal plan with nothing to write"));
    };
    match (plan, &hold) {
        (SealPlan::Pay { amount, .. }, Some(hold)) => capture_row(tx, hold, amount, now_s).await?,
        (SealPlan::Fail { release: true, .. }, Some(hold)) => {
            release_hold(tx, hold, AuthorizationState::Voided, 0, now_s).await?
        }
        (SealPlan::Pay { .. } | SealPlan::Fail { release: true, .. }, None) => {
            return Err(broken("a hold planned on without its row"));
        }
        _ => {}
    }
    let values = args![
        view.id,
        now_s,
        version,
        change.wrong_tries_added,
        change.state.as_str(),
        change.failure
    ];
    moved(tx, &JUDGED, values).await?;
    record(
        tx,
        evidence::checkout_seal_judged(view, plan.tries_left(), now_s)?,
    )
    .await?;
    let paused = match plan.client_failure() {
        Some(true) => count_client_failure(tx, client_id, now_s).await?,
        Some(false) => {
            forget_client_failures(tx, client_id).await?;
            None
        }
        None => None,
    };
    if let SealPlan::Wrong { tries_left } = plan {
        return Ok(SealOutcome::Wrong { tries_left, paused });
    }
    let (view, _) = by_id(tx, view.id).await?;
    let record = ended(tx, &view, now_s).await?;
    Ok(match plan {
        SealPlan::Pay { .. } => SealOutcome::Paid(view, Box::new(record)),
        _ => SealOutcome::Failed { view, paused },
    })
}

static CANCELED: Sql =
    update_checkout!("state = $4, failure = $5, client_id = COALESCE(client_id, $6)");

/// A client refusing to pay: [`checkout::on_cancel`] decides; this releases the hold
/// (the release every end of a hold goes through), marks the checkout canceled by the
/// client, and records and tells its end as the other ends are.
pub(crate) async fn cancel(tx: &impl Tx, cancel: &CancelCheckout) -> Result<CancelOutcome, Fail> {
    let found = versioned(tx, &BY_PUBLIC_ID, args![&cancel.public_id]).await?;
    let facts = facts_of(found.as_ref())?;
    let hold = held(tx, facts.as_ref(), found.as_ref()).await?;
    let plan = checkout::on_cancel(&Cancel {
        checkout: facts.as_ref(),
        client_id: cancel.client_id,
        hold: hold.as_ref().map(|row| figures(&row.view)),
        now_s: cancel.now_s,
    })
    .map_err(hold_missing)?;
    let release = match plan {
        CancelPlan::Refused(refusal) => return Ok(CancelOutcome::Refused(refusal)),
        CancelPlan::Cancel { release, .. } => release,
    };
    let Some((view, version)) = found else {
        return Err(broken("a cancel planned on nothing"));
    };
    if release {
        let Some(hold) = &hold else {
            return Err(broken("a hold planned on without its row"));
        };
        // On PostgreSQL the hold's accounts were looked up before the lock: a checkout
        // held only after that reruns, as a typed seal does.
        if !holds(tx, hold.debit_account) || !holds(tx, hold.credit_account) {
            return Err(changed_concurrently());
        }
        release_hold(tx, hold, AuthorizationState::Voided, 0, cancel.now_s).await?;
    }
    let canceled = CheckoutState::Canceled.as_str();
    let values = args![
        view.id,
        cancel.now_s,
        version,
        canceled,
        CANCELED_BY_CLIENT,
        cancel.client_id
    ];
    moved(tx, &CANCELED, values).await?;
    let (view, _) = by_id(tx, view.id).await?;
    ended(tx, &view, cancel.now_s).await?;
    Ok(CancelOutcome::Canceled(Box::new(view)))
}

/// Records the end a checkout just reached (its evidence record) and queues the
/// merchant's webhook, if it asked for one.
async fn ended(tx: &impl Tx, view: &CheckoutView, now_s: i64) -> Result<EvidenceRecord, Fail> {
    let record = record(tx, evidence::checkout_ended(view, now_s)?).await?;
    if let Some(url) = &view.webhook_url {
        webhooks::queue(tx, view, url, now_s).await?;
    }
    Ok(record)
}

/// Most checkouts ended by one sweep; the next sweep takes the rest.
const CHECKOUT_EXPIRY_BATCH_MAX: i64 = 1_000;

/// The checkouts due to end (in the states of `checkout::EXPIRING`, literal: the
/// partial index's condition), with their versions. On PostgreSQL, a checkout another
/// batch is changing right now is skipped (its row is locked), not waited for: the next
/// sweep ends it if it is still due; the rows taken are locked, so their versions hold.
static DUE: Sql = Sql::each(
    "SELECT id, version FROM checkouts WHERE state IN ('open', 'held') AND expires_at <= $1 \
     ORDER BY expires_at, id LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED",
    "SELECT id, version FROM checkouts WHERE state IN ('open', 'held') AND expires_at <= ?1 \
     ORDER BY expires_at, id LIMIT ?2",
);
static EXPIRED: Sql = update_checkout!("state = $4, failure = $5");

/// Ends checkouts whose time has passed. Their holds end with them: a checkout's hold
/// expires at the checkout's end, so the same sweep releases it.
pub(crate) async fn expire_checkouts(tx: &impl Tx, now_s: i64) -> Result<u64, Fail> {
    let limit = CHECKOUT_EXPIRY_BATCH_MAX;
    let due: Vec<(i64, i64)> = tx
        .rows(&DUE, args![now_s, limit], |row| {
            Ok((row.column("id")?, row.column("version")?))
        })
        .await?;
    let (state, failure) = (ON_EXPIRY.0.as_str(), ON_EXPIRY.1);
    let mut ended_count = 0;
    for (id, version) in due {
        moved(tx, &EXPIRED, args![id, now_s, version, state, failure]).await?;
        let (view, _) = by_id(tx, id).await?;
        ended(tx, &view, now_s).await?;
        ended_count += 1;
    }
    Ok(ended_count)
}

#[cfg(test)]
mod tests {
    use crate::model::CheckoutState;

    /// The statements above name these states literally (their partial indexes'
    /// conditions): they must stay the domain's.
    #[test]
    fn the_literal_states_are_the_domains() {
        let expiring = sceau_domain::checkout::EXPIRING.map(|state| state.as_str());
        assert_eq!(expiring, ["open", "held"]);
        assert_eq!(CheckoutState::Held.as_str(), "held");
    }
}
