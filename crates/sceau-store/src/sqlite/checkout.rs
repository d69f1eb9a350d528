//! Checkouts paid with a seal (Figures 1–3), and the webhooks that tell merchants.
//!
//! Every step is one command on the writer: it reads the checkout, asks
//! `sceau_domain::checkout` for the plan, and applies it with updates conditional on
//! the checkout's `version`, so that a seal is accepted once and a try is counted once.

use super::ops::{self, AuthorizationRow};
use super::read::client_where;
use crate::StoreError;
use crate::evidence::{self, AuthorizationEvent};
use crate::model::*;
use crate::shared;
use crate::shared::{
    checkout_event, checkout_facts, expiring_sql, figures, hold_missing, sealed_by, unwritten,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sceau_domain::checkout::{self, HoldPlan, ON_EXPIRY, SealPlan, SealTyped, Stage};
use sceau_domain::decline::Decline;
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::policy;
use sceau_domain::reach::MessageKind;

const CHECKOUT_COLUMNS: &str = "ch.id, ch.public_id, ch.merchant_id, m.name, ch.amount, ch.currency, \
     ch.merchant_reference, ch.object, ch.return_url, ch.webhook_url, ch.state, ch.failure, ch.client_id, \
     ch.authorization_id, au.credit_account, n.last_four, n.expiry_month, n.expiry_year, ch.seal_nonce, \
     ch.seal_digits, ch.seal_issued_at, ch.seal_expires_at, ch.seal_wrong_tries, ch.seal_sends, \
     ch.created_at, ch.expires_at, ch.updated_at, ch.version";

const CHECKOUT_FROM: &str = "checkouts ch JOIN merchants m ON m.id = ch.merchant_id \
     LEFT JOIN authorizations au ON au.id = ch.authorization_id \
     LEFT JOIN numbers n ON n.id = au.number_id";

fn corrupt(column: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnName(format!(
        "checkouts.{column} holds a value sceau never writes"
    ))
}

/// A checkout and its version (for conditional updates).
fn checkout_row(row: &Row<'_>) -> rusqlite::Result<(CheckoutView, i64)> {
    let state: String = row.get(10)?;
    let expiry_month: Option<u8> = row.get(16)?;
    let expiry_year: Option<u16> = row.get(17)?;
    let nonce: Option<Vec<u8>> = row.get(18)?;
    let seal = match nonce {
        Some(nonce) => Some(StoredSeal {
            nonce: nonce
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("seal_nonce"))?,
            digits: row.get(19)?,
            issued_at_s: row.get(20)?,
            expires_at_s: row.get(21)?,
        }),
        None => None,
    };
    let view = CheckoutView {
        id: row.get(0)?,
        public_id: row.get(1)?,
        merchant_id: row.get(2)?,
        merchant_name: row.get(3)?,
        amount: row.get(4)?,
        currency: row.get(5)?,
        merchant_reference: row.get(6)?,
        object: row.get(7)?,
        return_url: row.get(8)?,
        webhook_url: row.get(9)?,
        state: CheckoutState::parse(&state).ok_or_else(|| corrupt("state"))?,
        failure: row.get(11)?,
        client_id: row.get(12)?,
        authorization_id: row.get(13)?,
        payee_account_id: row.get(14)?,
        number_last_four: row.get(15)?,
        number_expiry: expiry_month.zip(expiry_year),
        seal,
        seal_wrong_tries: row.get(22)?,
        seal_sends: row.get(23)?,
        created_at_s: row.get(24)?,
        expires_at_s: row.get(25)?,
        updated_at_s: row.get(26)?,
    };
    Ok((view, row.get(27)?))
}

fn checkout_where(
    connection: &Connection,
    condition: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<(CheckoutView, i64)>, StoreError> {
    let sql = format!("SELECT {CHECKOUT_COLUMNS} FROM {CHECKOUT_FROM} WHERE {condition}");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([value], checkout_row)
        .optional()?)
}

/// A checkout by the identifier in its page's address.
pub(super) fn checkout(
    connection: &Connection,
    public_id: &str,
) -> Result<Option<CheckoutView>, StoreError> {
    Ok(checkout_where(connection, "ch.public_id = ?1", &public_id)?.map(|(view, _)| view))
}

fn checkout_by_id(connection: &Connection, id: i64) -> Result<(CheckoutView, i64), StoreError> {
    checkout_where(connection, "ch.id = ?1", &id)?
        .ok_or_else(|| StoreError::Corrupt(format!("checkout {id} vanished")))
}

pub(super) fn create_checkout(
    connection: &Connection,
    checkout: &NewCheckout,
) -> Result<(CheckoutView, bool), StoreError> {
    if let Some(idempotency) = &checkout.idempotency
        && let Some(stored) = ops::idempotent_replay(connection, checkout.merchant_id, idempotency)?
    {
        let view = serde_json::from_str(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        return Ok((view, true));
    }
    connection
        .prepare_cached(
            "INSERT INTO checkouts (public_id, merchant_id, currency, amount, merchant_reference, object, \
             return_url, webhook_url, state, created_at, expires_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?11, ?9, ?10, ?9)",
        )?
        .execute(params![
            checkout.public_id,
            checkout.merchant_id,
            checkout.currency.code(),
            checkout.amount,
            checkout.merchant_reference,
            checkout.object,
            checkout.return_url,
            checkout.webhook_url,
            checkout.now_s,
            checkout.expires_at_s,
            CheckoutState::Open.as_str()
        ])?;
    let (view, _) = checkout_by_id(connection, connection.last_insert_rowid())?;
    if let Some(idempotency) = &checkout.idempotency {
        let stored =
            serde_json::to_string(&view).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        ops::record_idempotency(
            connection,
            checkout.merchant_id,
            idempotency,
            &stored,
            checkout.now_s,
        )?;
    }
    Ok((view, false))
}

/// Moves a checkout on, on condition that nobody else did since it was read.
fn update_checkout(
    connection: &Connection,
    id: i64,
    version: i64,
    assignments: &str,
    values: &[&dyn rusqlite::ToSql],
    now_s: i64,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE checkouts SET {assignments}, version = version + 1, updated_at = ?2 \
         WHERE id = ?1 AND version = ?3"
    );
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&id, &now_s, &version];
    all.extend_from_slice(values);
    let changed = connection
        .prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(all))?;
    if changed != 1 {
        return Err(StoreError::Conflict("checkout_changed_concurrently"));
    }
    Ok(())
}

/// Records the end a checkout just reached (its evidence record) and queues the
/// merchant's webhook, if it asked for one.
fn queue_event(
    connection: &Connection,
    view: &CheckoutView,
    now_s: i64,
) -> Result<EvidenceRecord, StoreError> {
    let record = super::evidence::write(connection, evidence::checkout_ended(view, now_s)?)?;
    let Some(url) = &view.webhook_url else {
        return Ok(record);
    };
    let event = checkout_event(view, now_s)?;
    let body = serde_json::to_string(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    connection
        .prepare_cached(
            "INSERT INTO webhooks (merchant_id, checkout_id, url, event, body, state, next_attempt_at, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6)",
        )?
        .execute(params![view.merchant_id, view.id, url, event.event, body, now_s])?;
    Ok(record)
}

/// Signing in on a checkout: [`checkout::on_sign_in`] decides, this applies its plan.
pub(super) fn hold_checkout(
    connection: &Connection,
    hold: &HoldCheckout,
) -> Result<HoldOutcome, StoreError> {
    let found = checkout_where(connection, "ch.id = ?1", &hold.checkout_id)?;
    let facts = found
        .as_ref()
        .map(|(view, _)| checkout_facts(view))
        .transpose()?;
    let client = client_where(connection, "id = ?1", &hold.client_id)?;
    let held_now: i64 = connection
        .prepare_cached(&format!(
            "SELECT count(*) FROM checkouts WHERE client_id = ?1 AND state = '{}' AND expires_at > ?2",
            CheckoutState::Held.as_str()
        ))?
        .query_row(params![hold.client_id, hold.now_s], |row| row.get(0))?;
    let plan = shared::hold_plan(
        hold,
        facts.as_ref(),
        found.as_ref().map(|(view, _)| view),
        client.as_ref(),
        held_now,
    );
    match (plan, found, client) {
        (HoldPlan::Hold, Some((view, version)), Some(client)) => {
            take_hold(connection, hold, &view, version, &client)
        }
        (HoldPlan::AlreadyHeld, Some((view, _)), _) => Ok(HoldOutcome::Held(Box::new(view))),
        (HoldPlan::Refused(refusal), _, _) => Ok(HoldOutcome::Refused(refusal)),
        (HoldPlan::Declined(decline), _, _) => Ok(HoldOutcome::Declined(decline)),
        _ => Err(StoreError::Corrupt("a hold planned on nothing".into())),
    }
}

/// [`HoldPlan::Hold`]: the hold under the client's floor, the single-use number, the
/// authorization, and the checkout held with them.
fn take_hold(
    connection: &Connection,
    hold: &HoldCheckout,
    view: &CheckoutView,
    version: i64,
    client: &ClientRecord,
) -> Result<HoldOutcome, StoreError> {
    let held = connection
        .prepare_cached(
            "UPDATE accounts SET held = held + ?2 WHERE id = ?1 AND balance - held - ?2 >= -credit_limit",
        )?
        .execute(params![client.account_id, view.amount])?;
    if held != 1 {
        return Ok(HoldOutcome::Declined(Decline::InsufficientFunds));
    }
    let (number_id, authorization_id) = draw_and_authorize(connection, hold, view, client)?;
    // Signing in on the merchant's checkout names the merchant: it may reach the client.
    ops::record_merchant_client(connection, view.merchant_id, client.id, hold.now_s)?;
    update_checkout(
        connection,
        view.id,
        version,
        "state = ?4, client_id = ?5, authorization_id = ?6",
        &[&CheckoutState::Held.as_str(), &client.id, &authorization_id],
        hold.now_s,
    )?;
    let number = super::read::number(connection, number_id)?;
    let authorization = ops::authorization(connection, view.merchant_id, authorization_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("authorization {authorization_id} vanished")))?;
    super::evidence::write_all(
        connection,
        [
            evidence::number_issued(&number, hold.now_s)?,
            evidence::authorization(&authorization, AuthorizationEvent::Authorized, hold.now_s)?,
        ],
    )?;
    Ok(HoldOutcome::Held(Box::new(
        checkout_by_id(connection, view.id)?.0,
    )))
}

/// The payment means of the check (zone 25): a single-use number for exactly this
/// amount and merchant, used at once by the authorization of the hold. Their ids.
fn draw_and_authorize(
    connection: &Connection,
    hold: &HoldCheckout,
    view: &CheckoutView,
    client: &ClientRecord,
) -> Result<(i64, i64), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO numbers (client_id, account_id, currency, fingerprint, details_fingerprint, last_four, \
             expiry_month, expiry_year, origin, uses_max, amount_rule, amount_limit, merchant_lock, merchant_id, \
             valid_until, state, uses_count, amount_used, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'merchant', 1, 'exact', ?9, 'named', ?10, ?11, 'consumed', 1, ?9, ?12)",
        )?
        .execute(params![
            client.id,
            client.account_id,
            view.currency,
            &hold.number_fingerprint[..],
            &hold.details_fingerprint[..],
            hold.last_four,
            hold.expiry.month,
            hold.expiry.year,
            view.amount,
            view.merchant_id,
            view.expires_at_s,
            hold.now_s
        ])?;
    let number_id = connection.last_insert_rowid();
    let credit_account = ops::merchant_account(connection, view.merchant_id, &view.currency)?;
    connection
        .prepare_cached(
            "INSERT INTO authorizations (merchant_id, number_id, client_id, debit_account, credit_account, currency, \
             amount, state, merchant_reference, created_at, hold_expires_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'authorized', ?8, ?9, ?10, ?9)",
        )?
        .execute(params![
            view.merchant_id,
            number_id,
            client.id,
            client.account_id,
            credit_account,
            view.currency,
            view.amount,
            view.merchant_reference,
            hold.now_s,
            view.expires_at_s
        ])?;
    let authorization_id = connection.last_insert_rowid();
    Ok((number_id, authorization_id))
}

/// Sending a seal: [`checkout::on_send_seal`] decides, this records it and queues it.
pub(super) fn send_seal(
    connection: &Connection,
    send: &SendSeal,
) -> Result<SendOutcome, StoreError> {
    let found = checkout_where(connection, "ch.id = ?1", &send.checkout_id)?;
    let facts = found
        .as_ref()
        .map(|(view, _)| checkout_facts(view))
        .transpose()?;
    let client = client_where(connection, "id = ?1", &send.client_id)?;
    let budget = ops::budget_allows(
        connection,
        &send.message.address,
        MessageKind::PaymentSeal,
        None,
        &send.budget,
        send.now_s,
    )?;
    let may_pay = client.is_some_and(|client| !client.stopped(send.now_s));
    let decided =
        checkout::on_send_seal(facts.as_ref(), send.client_id, may_pay, budget, send.now_s);
    let (view, version) = match (decided, found) {
        (Ok(()), Some(found)) => found,
        (Err(refusal), _) => return Ok(SendOutcome::Refused(refusal)),
        (Ok(()), None) => return Err(StoreError::Corrupt("a seal sent for nothing".into())),
    };
    update_checkout(
        connection,
        view.id,
        version,
        "seal_nonce = ?4, seal_digits = ?5, seal_issued_at = ?6, seal_expires_at = ?7, seal_sends = seal_sends + 1",
        &[
            &&send.seal.nonce[..],
            &send.seal.digits,
            &send.seal.issued_at_s,
            &send.seal.expires_at_s,
        ],
        send.now_s,
    )?;
    ops::enqueue(
        connection,
        &send.message,
        MessageKind::PaymentSeal,
        None,
        send.now_s,
    )?;
    let (view, _) = checkout_by_id(connection, view.id)?;
    super::evidence::write(connection, evidence::checkout_seal_sent(&view, send.now_s)?)?;
    Ok(SendOutcome::Sent(Box::new(view)))
}

/// Counts a wrong seal against the client: returns the pause it starts, if any.
pub(super) fn count_client_failure(
    connection: &Connection,
    client_id: i64,
    now_s: i64,
) -> Result<Option<Paused>, StoreError> {
    let failures: u32 = connection
        .prepare_cached("SELECT consecutive_failures FROM clients WHERE id = ?1")?
        .query_row([client_id], |row| row.get(0))?;
    let (failures, paused_until_s) = policy::client_failure(failures, now_s);
    connection
        .prepare_cached(
            "UPDATE clients SET consecutive_failures = ?2, paused_until = COALESCE(?3, paused_until) WHERE id = ?1",
        )?
        .execute(params![client_id, failures, paused_until_s])?;
    Ok(paused_until_s.map(|until_s| Paused { client_id, until_s }))
}

/// A typed seal: [`checkout::on_typed_seal`] decides, [`apply_seal`] writes its plan.
pub(super) fn type_seal(
    connection: &Connection,
    typed: &TypedSeal,
) -> Result<SealOutcome, StoreError> {
    let session_client =
        super::read::session_client(connection, &typed.session_token_hash, typed.now_s)?;
    let found = checkout_where(connection, "ch.public_id = ?1", &typed.public_id)?;
    let facts = found
        .as_ref()
        .map(|(view, _)| checkout_facts(view))
        .transpose()?;
    let client = match session_client {
        Some(client_id) => client_where(connection, "id = ?1", &client_id)?,
        None => None,
    };
    let hold = match (facts.map(|facts| facts.stage), &found) {
        (Some(Stage::Held { authorization_id }), Some((view, _))) => {
            ops::authorization_for_update(connection, view.merchant_id, authorization_id)?
        }
        _ => None,
    };
    let plan = checkout::on_typed_seal(&SealTyped {
        checkout: facts.as_ref(),
        session_client,
        client_may_pay: client.is_some_and(|client| !client.stopped(typed.now_s)),
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
    let (Some((view, version)), Some(client_id)) = (found, session_client) else {
        return Err(StoreError::Corrupt("a seal judged on nothing".into()));
    };
    apply_seal(
        connection,
        &view,
        version,
        client_id,
        plan,
        hold,
        typed.now_s,
    )
}

/// Writes what [`checkout::on_typed_seal`] planned, in the writer's transaction.
fn apply_seal(
    connection: &Connection,
    view: &CheckoutView,
    version: i64,
    client_id: i64,
    plan: SealPlan,
    hold: Option<AuthorizationRow>,
    now_s: i64,
) -> Result<SealOutcome, StoreError> {
    let Some(change) = plan.change() else {
        return Err(StoreError::Corrupt(
            "a seal plan with nothing to write".into(),
        ));
    };
    match (plan, &hold) {
        (SealPlan::Pay { amount, .. }, Some(hold)) => {
            ops::capture_row(connection, hold, amount, now_s)?
        }
        (SealPlan::Fail { release: true, .. }, Some(hold)) => {
            ops::release_hold(connection, hold, AuthorizationState::Voided, 0, now_s)?
        }
        (SealPlan::Pay { .. } | SealPlan::Fail { release: true, .. }, None) => {
            return Err(StoreError::Corrupt(
                "a hold planned on without its row".into(),
            ));
        }
        _ => {}
    }
    update_checkout(
        connection,
        view.id,
        version,
        "seal_wrong_tries = seal_wrong_tries + ?4, state = ?5, failure = COALESCE(?6, failure)",
        &[
            &change.wrong_tries_added,
            &change.state.as_str(),
            &change.failure,
        ],
        now_s,
    )?;
    let judged = evidence::checkout_seal_judged(view, plan.tries_left(), now_s)?;
    super::evidence::write(connection, judged)?;
    let paused = match plan.client_failure() {
        Some(true) => count_client_failure(connection, client_id, now_s)?,
        Some(false) => {
            connection
                .prepare_cached("UPDATE clients SET consecutive_failures = 0 WHERE id = ?1 AND consecutive_failures <> 0")?
                .execute([client_id])?;
            None
        }
        None => None,
    };
    if let SealPlan::Wrong { tries_left } = plan {
        return Ok(SealOutcome::Wrong { tries_left, paused });
    }
    let (view, _) = checkout_by_id(connection, view.id)?;
    let record = queue_event(connection, &view, now_s)?;
    Ok(match plan {
        SealPlan::Pay { .. } => SealOutcome::Paid(view, Box::new(record)),
        _ => SealOutcome::Failed { view, paused },
    })
}

/// Most checkouts ended by one sweep; the next sweep takes the rest.
const CHECKOUT_EXPIRY_BATCH_MAX: i64 = 1_000;

/// Ends checkouts whose time has passed. Their holds end with them: a checkout's hold
/// expires at the checkout's end, so the same sweep releases it.
pub(super) fn expire_checkouts(connection: &Connection, now_s: i64) -> Result<u64, StoreError> {
    let due: Vec<i64> = connection
        .prepare_cached(&expiring_sql(
            "SELECT id FROM checkouts WHERE state IN ({}) AND expires_at <= ?1 \
             ORDER BY expires_at LIMIT ?2",
        ))?
        .query_map(params![now_s, CHECKOUT_EXPIRY_BATCH_MAX], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut ended = 0;
    for id in due {
        let (_, version) = checkout_by_id(connection, id)?;
        update_checkout(
            connection,
            id,
            version,
            "state = ?4, failure = ?5",
            &[&ON_EXPIRY.0.as_str(), &ON_EXPIRY.1],
            now_s,
        )?;
        let (view, _) = checkout_by_id(connection, id)?;
        queue_event(connection, &view, now_s)?;
        ended += 1;
    }
    Ok(ended)
}

pub(super) fn claim_webhooks(
    connection: &Connection,
    now_s: i64,
    lease_s: i64,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let due: Vec<WebhookDelivery> = connection
        .prepare_cached(
            "SELECT id, merchant_id, url, event, body, attempts FROM webhooks \
             WHERE state = 'pending' AND next_attempt_at <= ?1 AND claimed_until <= ?1 \
             ORDER BY next_attempt_at, id LIMIT ?2",
        )?
        .query_map(params![now_s, limit], |row| {
            Ok(WebhookDelivery {
                id: row.get(0)?,
                merchant_id: row.get(1)?,
                url: row.get(2)?,
                event: row.get(3)?,
                body: row.get(4)?,
                attempts: row.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut claim =
        connection.prepare_cached("UPDATE webhooks SET claimed_until = ?2 WHERE id = ?1")?;
    for webhook in &due {
        claim.execute(params![webhook.id, now_s.saturating_add(lease_s)])?;
    }
    Ok(due)
}

pub(super) fn mark_webhook(
    connection: &Connection,
    webhook_id: i64,
    result: &WebhookResult,
) -> Result<(), StoreError> {
    let mut statement = connection.prepare_cached(
        "UPDATE webhooks SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4, \
         claimed_until = 0, updated_at = ?5 WHERE id = ?1 AND state = 'pending'",
    )?;
    match result {
        WebhookResult::Delivered { now_s } => statement.execute(params![
            webhook_id,
            "delivered",
            now_s,
            None::<String>,
            now_s
        ])?,
        WebhookResult::Retry {
            next_attempt_s,
            error,
            now_s,
        } => statement.execute(params![webhook_id, "pending", next_attempt_s, error, now_s])?,
        WebhookResult::GaveUp { error, now_s } => {
            statement.execute(params![webhook_id, "failed", now_s, error, now_s])?
        }
    };
    Ok(())
}

use super::SqliteStore;
use crate::capabilities::Checkouts;
use async_trait::async_trait;

#[async_trait]
impl Checkouts for SqliteStore {
    async fn create_checkout(
        &self,
        checkout: NewCheckout,
    ) -> Result<(CheckoutView, bool), StoreError> {
        self.write(move |c| self::create_checkout(c, &checkout))
            .await
    }

    async fn checkout(&self, public_id: &str) -> Result<Option<CheckoutView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| self::checkout(c, &public_id)).await
    }

    async fn hold_checkout(&self, hold: HoldCheckout) -> Result<HoldOutcome, StoreError> {
        self.write(move |c| self::hold_checkout(c, &hold)).await
    }

    async fn send_seal(&self, send: SendSeal) -> Result<SendOutcome, StoreError> {
        self.write(move |c| self::send_seal(c, &send)).await
    }

    async fn type_seal(&self, typed: TypedSeal) -> Result<SealOutcome, StoreError> {
        self.write(move |c| self::type_seal(c, &typed)).await
    }
}
