//! Checkouts paid with a seal (Figures 1–3), and the webhooks that tell merchants: the
//! steps of `sqlite/checkout.rs`, run on a lane's connection inside its batch.
//!
//! Every step reads the checkout, asks `sceau_domain::checkout` for the plan, and
//! applies it with updates conditional on the checkout's `version`. When
//! another batch (of this or another instance) changed the checkout meanwhile, the update
//! finds nothing and the command fails with `checkout_changed_concurrently`, undoing all
//! it wrote; the batch then runs again with one savepoint per command, and the command
//! reruns on what is stored now. A hold is taken, captured or released only under the
//! accounts the batch locked for it (see `command::Guard`).

use super::ops::{self, AuthorizationRow};
use super::read::{client_where, narrow};
use super::{Conn, Fail, col, corrupt, evidence, exec, one_row, opt_row, rows};
use crate::StoreError;
use crate::evidence::{self as records, AuthorizationEvent};
use crate::model::*;
use crate::shared;
use crate::shared::{
    checkout_event, checkout_facts, expiring_sql, figures, hold_missing, sealed_by, unwritten,
};
use sceau_domain::checkout::{self, HoldPlan, ON_EXPIRY, SealPlan, SealTyped, Stage};
use sceau_domain::decline::Decline;
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::policy;
use sceau_domain::reach::MessageKind;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

const CHECKOUT_COLUMNS: &str = "ch.id, ch.public_id, ch.merchant_id, m.name, ch.amount, ch.currency, \
     ch.merchant_reference, ch.object, ch.return_url, ch.webhook_url, ch.state, ch.failure, ch.client_id, \
     ch.authorization_id, au.credit_account, n.last_four, n.expiry_month, n.expiry_year, ch.seal_nonce, \
     ch.seal_digits, ch.seal_issued_at, ch.seal_expires_at, ch.seal_wrong_tries, ch.seal_sends, \
     ch.created_at, ch.expires_at, ch.updated_at, ch.version";

const CHECKOUT_FROM: &str = "checkouts ch JOIN merchants m ON m.id = ch.merchant_id \
     LEFT JOIN authorizations au ON au.id = ch.authorization_id \
     LEFT JOIN numbers n ON n.id = au.number_id";

/// Most checkouts ended by one sweep; the next sweep takes the rest.
const CHECKOUT_EXPIRY_BATCH_MAX: i64 = 1_000;

fn json_error(error: serde_json::Error) -> Fail {
    Fail::Store(StoreError::Corrupt(error.to_string()))
}

fn changed_concurrently() -> Fail {
    Fail::Store(StoreError::Conflict("checkout_changed_concurrently"))
}

/// A checkout and its version (for conditional updates), from [`CHECKOUT_COLUMNS`].
fn checkout_row(row: &Row) -> Result<(CheckoutView, i64), Fail> {
    let state: String = col(row, 10)?;
    let expiry_month: Option<i64> = col(row, 16)?;
    let expiry_year: Option<i64> = col(row, 17)?;
    let number_expiry = match (expiry_month, expiry_year) {
        (Some(month), Some(year)) => Some((
            u8::try_from(month).map_err(|_| corrupt("numbers.expiry_month"))?,
            u16::try_from(year).map_err(|_| corrupt("numbers.expiry_year"))?,
        )),
        _ => None,
    };
    let nonce: Option<Vec<u8>> = col(row, 18)?;
    let seal = match nonce {
        Some(nonce) => Some(StoredSeal {
            nonce: nonce
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("checkouts.seal_nonce"))?,
            digits: narrow(row, 19, "checkouts.seal_digits")?,
            issued_at_s: col(row, 20)?,
            expires_at_s: col(row, 21)?,
        }),
        None => None,
    };
    let view = CheckoutView {
        id: col(row, 0)?,
        public_id: col(row, 1)?,
        merchant_id: col(row, 2)?,
        merchant_name: col(row, 3)?,
        amount: col(row, 4)?,
        currency: col(row, 5)?,
        merchant_reference: col(row, 6)?,
        object: col(row, 7)?,
        return_url: col(row, 8)?,
        webhook_url: col(row, 9)?,
        state: CheckoutState::parse(&state).ok_or_else(|| corrupt("checkouts.state"))?,
        failure: col(row, 11)?,
        client_id: col(row, 12)?,
        authorization_id: col(row, 13)?,
        payee_account_id: col(row, 14)?,
        number_last_four: col(row, 15)?,
        number_expiry,
        seal,
        seal_wrong_tries: narrow(row, 22, "checkouts.seal_wrong_tries")?,
        seal_sends: narrow(row, 23, "checkouts.seal_sends")?,
        created_at_s: col(row, 24)?,
        expires_at_s: col(row, 25)?,
        updated_at_s: col(row, 26)?,
    };
    Ok((view, col(row, 27)?))
}

/// The checkout matching `condition` on `checkouts ch` (with `$1`).
async fn checkout_where(
    c: &Conn,
    condition: &str,
    value: &(dyn ToSql + Sync),
) -> Result<Option<(CheckoutView, i64)>, Fail> {
    let sql = format!("SELECT {CHECKOUT_COLUMNS} FROM {CHECKOUT_FROM} WHERE {condition}");
    opt_row(c, &sql, &[value])
        .await?
        .as_ref()
        .map(checkout_row)
        .transpose()
}

/// A checkout by the identifier in its page's address.
pub(super) async fn checkout(c: &Conn, public_id: &str) -> Result<Option<CheckoutView>, Fail> {
    Ok(checkout_where(c, "ch.public_id = $1", &public_id)
        .await?
        .map(|(view, _)| view))
}

async fn checkout_by_id(c: &Conn, id: i64) -> Result<(CheckoutView, i64), Fail> {
    checkout_where(c, "ch.id = $1", &id)
        .await?
        .ok_or_else(|| Fail::Store(StoreError::Corrupt(format!("checkout {id} vanished"))))
}

pub(super) async fn create_checkout(
    c: &Conn,
    checkout: &NewCheckout,
) -> Result<(CheckoutView, bool), Fail> {
    if let Some(idempotency) = &checkout.idempotency
        && let Some(stored) = ops::idempotent_replay(c, checkout.merchant_id, idempotency).await?
    {
        let view = serde_json::from_str(&stored).map_err(json_error)?;
        return Ok((view, true));
    }
    // A public id taken already is an error (the unique constraint's), not a replay.
    let row = one_row(
        c,
        "INSERT INTO checkouts (public_id, merchant_id, currency, amount, merchant_reference, object, \
         return_url, webhook_url, state, created_at, expires_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $11, $9, $10, $9) RETURNING id",
        &[
            &checkout.public_id,
            &checkout.merchant_id,
            &checkout.currency.code(),
            &checkout.amount,
            &checkout.merchant_reference,
            &checkout.object,
            &checkout.return_url,
            &checkout.webhook_url,
            &checkout.now_s,
            &checkout.expires_at_s,
            &CheckoutState::Open.as_str(),
        ],
    )
    .await?;
    let (view, _) = checkout_by_id(c, col(&row, 0)?).await?;
    if let Some(idempotency) = &checkout.idempotency {
        // Recorded meanwhile by another batch: this command fails and its rerun replays.
        let stored = serde_json::to_string(&view).map_err(json_error)?;
        ops::record_idempotency(
            c,
            checkout.merchant_id,
            idempotency,
            &stored,
            checkout.now_s,
        )
        .await?;
    }
    Ok((view, false))
}

/// Moves a checkout on, on condition that nobody else did since it was read.
/// `assignments` use `$4` onwards for `values`.
async fn update_checkout(
    c: &Conn,
    id: i64,
    version: i64,
    assignments: &str,
    values: &[&(dyn ToSql + Sync)],
    now_s: i64,
) -> Result<(), Fail> {
    let sql = format!(
        "UPDATE checkouts SET {assignments}, version = version + 1, updated_at = $2 \
         WHERE id = $1 AND version = $3"
    );
    let mut all: Vec<&(dyn ToSql + Sync)> = vec![&id, &now_s, &version];
    all.extend_from_slice(values);
    if exec(c, &sql, &all).await? != 1 {
        return Err(changed_concurrently());
    }
    Ok(())
}

/// Queues the merchant's webhook for what just happened to a checkout, if it asked for one.
async fn queue_event(c: &Conn, view: &CheckoutView, now_s: i64) -> Result<EvidenceRecord, Fail> {
    let record = evidence::write(c, records::checkout_ended(view, now_s)?).await?;
    let Some(url) = &view.webhook_url else {
        return Ok(record);
    };
    let event = checkout_event(view, now_s)?;
    let body = serde_json::to_string(&event).map_err(json_error)?;
    exec(
        c,
        "INSERT INTO webhooks (merchant_id, checkout_id, url, event, body, state, next_attempt_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6)",
        &[
            &view.merchant_id,
            &view.id,
            url,
            &event.event,
            &body,
            &now_s,
        ],
    )
    .await?;
    Ok(record)
}

/// Signing in on a checkout: [`checkout::on_sign_in`] decides, this applies its plan.
pub(super) async fn hold_checkout(c: &Conn, hold: &HoldCheckout) -> Result<HoldOutcome, Fail> {
    let found = checkout_where(c, "ch.id = $1", &hold.checkout_id).await?;
    let facts = found
        .as_ref()
        .map(|(view, _)| checkout_facts(view))
        .transpose()?;
    let client = client_where(c, "id = $1", &hold.client_id).await?;
    // Under the client's account lock: two holds of one client take turns here.
    let held_now: i64 = match opt_row(
        c,
        &format!(
            "SELECT count(*) FROM checkouts WHERE client_id = $1 AND state = '{}' AND expires_at > $2",
            CheckoutState::Held.as_str()
        ),
        &[&hold.client_id, &hold.now_s],
    )
    .await?
    {
        Some(row) => col(&row, 0)?,
        None => 0,
    };
    let plan = shared::hold_plan(
        hold,
        facts.as_ref(),
        found.as_ref().map(|(view, _)| view),
        client.as_ref(),
        held_now,
    );
    match (plan, found, client) {
        (HoldPlan::Hold, Some((view, version)), Some(client)) => {
            take_hold(c, hold, &view, version, &client).await
        }
        (HoldPlan::AlreadyHeld, Some((view, _)), _) => Ok(HoldOutcome::Held(Box::new(view))),
        (HoldPlan::Refused(refusal), _, _) => Ok(HoldOutcome::Refused(refusal)),
        (HoldPlan::Declined(decline), _, _) => Ok(HoldOutcome::Declined(decline)),
        _ => Err(corrupt("a hold planned on nothing")),
    }
}

/// [`HoldPlan::Hold`]: the hold under the client's floor, the single-use number, the
/// authorization, and the checkout held with them.
async fn take_hold(
    c: &Conn,
    hold: &HoldCheckout,
    view: &CheckoutView,
    version: i64,
    client: &ClientRecord,
) -> Result<HoldOutcome, Fail> {
    // The client's account is locked by the batch; the floor is the update's condition.
    let held = exec(
        c,
        "UPDATE accounts SET held = held + $2 WHERE id = $1 AND balance - held - $2 >= -credit_limit",
        &[&client.account_id, &view.amount],
    )
    .await?;
    if held != 1 {
        return Ok(HoldOutcome::Declined(Decline::InsufficientFunds));
    }
    let (number_id, authorization_id) = draw_and_authorize(c, hold, view, client).await?;
    // Signing in on the merchant's checkout names the merchant: it may reach the client.
    ops::record_merchant_client(c, view.merchant_id, client.id, hold.now_s).await?;
    update_checkout(
        c,
        view.id,
        version,
        "state = $4, client_id = $5, authorization_id = $6",
        &[&CheckoutState::Held.as_str(), &client.id, &authorization_id],
        hold.now_s,
    )
    .await?;
    let number = super::read::number(c, number_id).await?;
    let authorization = super::read::authorization(c, view.merchant_id, authorization_id)
        .await?
        .ok_or_else(|| corrupt("authorization of a held checkout"))?;
    let authorized = AuthorizationEvent::Authorized;
    evidence::write_all(
        c,
        vec![
            records::number_issued(&number, hold.now_s)?,
            records::authorization(&authorization, authorized, hold.now_s)?,
        ],
    )
    .await?;
    Ok(HoldOutcome::Held(Box::new(
        checkout_by_id(c, view.id).await?.0,
    )))
}

/// The payment means of the check (zone 25): a single-use number for exactly this
/// amount and merchant, used at once by the authorization of the hold. Their ids.
async fn draw_and_authorize(
    c: &Conn,
    hold: &HoldCheckout,
    view: &CheckoutView,
    client: &ClientRecord,
) -> Result<(i64, i64), Fail> {
    let number = one_row(
        c,
        "INSERT INTO numbers (client_id, account_id, currency, fingerprint, details_fingerprint, last_four, \
         expiry_month, expiry_year, origin, uses_max, amount_rule, amount_limit, merchant_lock, merchant_id, \
         valid_until, state, uses_count, amount_used, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'merchant', 1, 'exact', $9, 'named', $10, $11, 'consumed', 1, $9, $12) \
         RETURNING id",
        &[
            &client.id,
            &client.account_id,
            &view.currency,
            &&hold.number_fingerprint[..],
            &&hold.details_fingerprint[..],
            &hold.last_four,
            &i64::from(hold.expiry.month),
            &i64::from(hold.expiry.year),
            &view.amount,
            &view.merchant_id,
            &view.expires_at_s,
            &hold.now_s,
        ],
    )
    .await?;
    let number_id: i64 = col(&number, 0)?;
    let credit_account = ops::merchant_account(c, view.merchant_id, &view.currency).await?;
    let authorization = one_row(
        c,
        "INSERT INTO authorizations (merchant_id, number_id, client_id, debit_account, credit_account, currency, \
         amount, state, merchant_reference, created_at, hold_expires_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'authorized', $8, $9, $10, $9) RETURNING id",
        &[
            &view.merchant_id,
            &number_id,
            &client.id,
            &client.account_id,
            &credit_account,
            &view.currency,
            &view.amount,
            &view.merchant_reference,
            &hold.now_s,
            &view.expires_at_s,
        ],
    )
    .await?;
    let authorization_id: i64 = col(&authorization, 0)?;
    Ok((number_id, authorization_id))
}

/// Sending a seal: [`checkout::on_send_seal`] decides, this records it and queues it.
pub(super) async fn send_seal(c: &Conn, send: &SendSeal) -> Result<SendOutcome, Fail> {
    let found = checkout_where(c, "ch.id = $1", &send.checkout_id).await?;
    let facts = found
        .as_ref()
        .map(|(view, _)| checkout_facts(view))
        .transpose()?;
    let client = client_where(c, "id = $1", &send.client_id).await?;
    // Under the client's account lock (`Guard::Client`).
    let budget = ops::budget_allows(
        c,
        &send.message.address,
        MessageKind::PaymentSeal,
        None,
        &send.budget,
        send.now_s,
    )
    .await?;
    let may_pay = client.is_some_and(|client| !client.stopped(send.now_s));
    let decided =
        checkout::on_send_seal(facts.as_ref(), send.client_id, may_pay, budget, send.now_s);
    let (view, version) = match (decided, found) {
        (Ok(()), Some(found)) => found,
        (Err(refusal), _) => return Ok(SendOutcome::Refused(refusal)),
        (Ok(()), None) => return Err(corrupt("a seal sent for nothing")),
    };
    update_checkout(
        c,
        view.id,
        version,
        "seal_nonce = $4, seal_digits = $5, seal_issued_at = $6, seal_expires_at = $7, \
         seal_sends = seal_sends + 1",
        &[
            &&send.seal.nonce[..],
            &i64::from(send.seal.digits),
            &send.seal.issued_at_s,
            &send.seal.expires_at_s,
        ],
        send.now_s,
    )
    .await?;
    ops::enqueue(c, &send.message, MessageKind::PaymentSeal, None, send.now_s).await?;
    let (view, _) = checkout_by_id(c, view.id).await?;
    evidence::write(c, records::checkout_seal_sent(&view, send.now_s)?).await?;
    Ok(SendOutcome::Sent(Box::new(view)))
}

/// Counts a wrong seal against the client: returns the pause it starts, if any. The
/// client's account is locked by the batch (it is the hold's debit account).
pub(super) async fn count_client_failure(
    c: &Conn,
    client_id: i64,
    now_s: i64,
) -> Result<Option<Paused>, Fail> {
    let row = one_row(
        c,
        "SELECT consecutive_failures FROM clients WHERE id = $1",
        &[&client_id],
    )
    .await?;
    let failures = crate::error::stored_count(col(&row, 0)?, "clients.consecutive_failures")?;
    let (failures, paused_until_s) = policy::client_failure(failures, now_s);
    exec(
        c,
        "UPDATE clients SET consecutive_failures = $2, paused_until = COALESCE($3, paused_until) \
         WHERE id = $1",
        &[&client_id, &i64::from(failures), &paused_until_s],
    )
    .await?;
    Ok(paused_until_s.map(|until_s| Paused { client_id, until_s }))
}

/// A typed seal's writes change the client's counters and the hold, which the batch may
/// do only under their accounts' locks. The accounts were looked up before the lock: if
/// the checkout was held only after that, they are not locked, and the command fails so
/// that its rerun looks them up again.
fn ensure_locked(view: &CheckoutView, client: &ClientRecord, locked: &[i64]) -> Result<(), Fail> {
    let payee_locked = view
        .payee_account_id
        .is_none_or(|account_id| locked.contains(&account_id));
    if !payee_locked || !locked.contains(&client.account_id) {
        return Err(changed_concurrently());
    }
    Ok(())
}

/// A typed seal: [`checkout::on_typed_seal`] decides, [`apply_seal`] writes its plan.
/// `locked`: the accounts the batch locked for this command.
pub(super) async fn type_seal(
    c: &Conn,
    typed: &TypedSeal,
    locked: &[i64],
) -> Result<SealOutcome, Fail> {
    let session_client =
        super::read::session_client(c, &typed.session_token_hash, typed.now_s).await?;
    let found = checkout_where(c, "ch.public_id = $1", &typed.public_id).await?;
    let facts = found
        .as_ref()
        .map(|(view, _)| checkout_facts(view))
        .transpose()?;
    let client = match session_client {
        Some(client_id) => client_where(c, "id = $1", &client_id).await?,
        None => None,
    };
    let hold = match (facts.map(|facts| facts.stage), &found) {
        (Some(Stage::Held { authorization_id }), Some((view, _))) => {
            ops::authorization_row_of(c, view.merchant_id, authorization_id).await?
        }
        _ => None,
    };
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
    .map_err(|missing| Fail::Store(hold_missing(missing)))?;
    if let Some(outcome) = unwritten(plan) {
        return Ok(outcome);
    }
    let (Some((view, version)), Some(client)) = (found, client) else {
        return Err(corrupt("a seal judged on nothing"));
    };
    ensure_locked(&view, &client, locked)?;
    apply_seal(c, &view, version, client.id, plan, hold, typed.now_s).await
}

/// Writes what [`checkout::on_typed_seal`] planned, in the batch's transaction.
async fn apply_seal(
    c: &Conn,
    view: &CheckoutView,
    version: i64,
    client_id: i64,
    plan: SealPlan,
    hold: Option<AuthorizationRow>,
    now_s: i64,
) -> Result<SealOutcome, Fail> {
    let Some(change) = plan.change() else {
        return Err(corrupt("a seal plan with nothing to write"));
    };
    match (plan, &hold) {
        (SealPlan::Pay { amount, .. }, Some(hold)) => {
            ops::capture_row(c, hold, amount, now_s).await?
        }
        (SealPlan::Fail { release: true, .. }, Some(hold)) => {
            ops::release_hold(c, hold, AuthorizationState::Voided, 0, now_s).await?
        }
        (SealPlan::Pay { .. } | SealPlan::Fail { release: true, .. }, None) => {
            return Err(corrupt("a hold planned on without its row"));
        }
        _ => {}
    }
    update_checkout(
        c,
        view.id,
        version,
        "seal_wrong_tries = seal_wrong_tries + $4, state = $5, failure = COALESCE($6, failure)",
        &[
            &i64::from(change.wrong_tries_added),
            &change.state.as_str(),
            &change.failure,
        ],
        now_s,
    )
    .await?;
    let judged = records::checkout_seal_judged(view, plan.tries_left(), now_s)?;
    evidence::write(c, judged).await?;
    let paused = match plan.client_failure() {
        Some(true) => count_client_failure(c, client_id, now_s).await?,
        Some(false) => {
            exec(
                c,
                "UPDATE clients SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0",
                &[&client_id],
            )
            .await?;
            None
        }
        None => None,
    };
    if let SealPlan::Wrong { tries_left } = plan {
        return Ok(SealOutcome::Wrong { tries_left, paused });
    }
    let (view, _) = checkout_by_id(c, view.id).await?;
    let record = queue_event(c, &view, now_s).await?;
    Ok(match plan {
        SealPlan::Pay { .. } => SealOutcome::Paid(view, Box::new(record)),
        _ => SealOutcome::Failed { view, paused },
    })
}

/// Ends checkouts whose time has passed. Their holds end with them: a checkout's hold
/// expires at the checkout's end, so the same sweep releases it. A checkout that another
/// batch is changing right now is skipped (its row is locked), not waited for: the next
/// sweep ends it if it is still due. The rows taken are locked, so their versions hold.
pub(super) async fn expire_checkouts(c: &Conn, now_s: i64) -> Result<u64, Fail> {
    let due = rows(
        c,
        &expiring_sql(
            "SELECT id, version FROM checkouts WHERE state IN ({}) AND expires_at <= $1 \
             ORDER BY expires_at, id LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED",
        ),
        &[&now_s, &CHECKOUT_EXPIRY_BATCH_MAX],
    )
    .await?;
    let mut ended = 0;
    for row in &due {
        let (id, version): (i64, i64) = (col(row, 0)?, col(row, 1)?);
        update_checkout(
            c,
            id,
            version,
            "state = $4, failure = $5",
            &[&ON_EXPIRY.0.as_str(), &ON_EXPIRY.1],
            now_s,
        )
        .await?;
        let (view, _) = checkout_by_id(c, id).await?;
        queue_event(c, &view, now_s).await?;
        ended += 1;
    }
    Ok(ended)
}

fn webhook_row(row: &Row) -> Result<WebhookDelivery, Fail> {
    Ok(WebhookDelivery {
        id: col(row, 0)?,
        merchant_id: col(row, 1)?,
        url: col(row, 2)?,
        event: col(row, 3)?,
        body: col(row, 4)?,
        attempts: narrow(row, 5, "webhooks.attempts")?,
    })
}

/// Claims due webhooks (see [`crate::Store::claim_webhooks`]); rows another transaction
/// is claiming are skipped, not waited for, so instances never claim the same webhook.
pub(super) async fn claim_webhooks(
    c: &Conn,
    now_s: i64,
    lease_s: i64,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, Fail> {
    let claimed = rows(
        c,
        "UPDATE webhooks SET claimed_until = $2 WHERE id IN (SELECT id FROM webhooks \
         WHERE state = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
         ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING id, merchant_id, url, event, body, attempts, next_attempt_at",
        &[&now_s, &now_s.saturating_add(lease_s), &i64::from(limit)],
    )
    .await?;
    let mut due = claimed
        .iter()
        .map(|row| Ok((col::<i64>(row, 6)?, webhook_row(row)?)))
        .collect::<Result<Vec<_>, Fail>>()?;
    due.sort_by_key(|(next_attempt_s, webhook)| (*next_attempt_s, webhook.id));
    Ok(due.into_iter().map(|(_, webhook)| webhook).collect())
}

pub(super) async fn mark_webhook(
    c: &Conn,
    webhook_id: i64,
    result: &WebhookResult,
) -> Result<(), Fail> {
    let (state, next_attempt_s, error, now_s) = match result {
        WebhookResult::Delivered { now_s } => ("delivered", *now_s, None, *now_s),
        WebhookResult::Retry {
            next_attempt_s,
            error,
            now_s,
        } => ("pending", *next_attempt_s, Some(error.as_str()), *now_s),
        WebhookResult::GaveUp { error, now_s } => ("failed", *now_s, Some(error.as_str()), *now_s),
    };
    exec(
        c,
        "UPDATE webhooks SET state = $2, attempts = attempts + 1, next_attempt_at = $3, last_error = $4, \
         claimed_until = 0, updated_at = $5 WHERE id = $1 AND state = 'pending'",
        &[&webhook_id, &state, &next_attempt_s, &error, &now_s],
    )
    .await?;
    Ok(())
}

use super::PostgresStore;
use super::command::Guard;
use crate::capabilities::Checkouts;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Checkouts for PostgresStore {
    async fn create_checkout(
        &self,
        checkout: NewCheckout,
    ) -> Result<(CheckoutView, bool), StoreError> {
        self.write(Guard::Nothing, checkout, |c, checkout, _| {
            self::create_checkout(c, checkout).boxed()
        })
        .await
    }

    async fn checkout(&self, public_id: &str) -> Result<Option<CheckoutView>, StoreError> {
        self.read(async |c| self::checkout(c, public_id).await)
            .await
    }

    async fn hold_checkout(&self, hold: HoldCheckout) -> Result<HoldOutcome, StoreError> {
        self.write(Guard::Client(hold.client_id), hold, |c, hold, _| {
            self::hold_checkout(c, hold).boxed()
        })
        .await
    }

    async fn send_seal(&self, send: SendSeal) -> Result<SendOutcome, StoreError> {
        self.write(Guard::Client(send.client_id), send, |c, send, _| {
            self::send_seal(c, send).boxed()
        })
        .await
    }

    async fn type_seal(&self, typed: TypedSeal) -> Result<SealOutcome, StoreError> {
        self.write(
            Guard::CheckoutHold(typed.public_id.clone()),
            typed,
            |c, typed, locked| self::type_seal(c, typed, locked).boxed(),
        )
        .await
    }
}
