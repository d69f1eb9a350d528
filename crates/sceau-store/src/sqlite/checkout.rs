//! Checkouts paid with a seal (Figures 1–3), and the webhooks that tell merchants.
//!
//! Every step is one command on the writer: it reads the checkout, asks `sceau_domain`
//! (`seal::may_send`, `seal::judge`), and applies the answer with updates conditional on
//! the checkout's `version`, so that a seal is accepted once and a try is counted once.

use super::ops::{self, AuthorizationRow};
use super::read::client_where;
use crate::StoreError;
use crate::evidence::{self, AuthorizationEvent};
use crate::model::*;
use crate::shared::{CHECKOUT_FAILED_SEAL, checkout_event, seal_status};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sceau_domain::decline::Decline;
use sceau_domain::ledger::{self, AuthorizationState};
use sceau_domain::policy;
use sceau_domain::reach::MessageKind;
use sceau_domain::seal::{self, SealVerdict};

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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?10, ?9)",
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
            checkout.expires_at_s
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

/// The checks every step by the client makes first: the checkout exists, is this
/// client's (or nobody's yet), is in `expected` state and has not run out.
fn for_client(
    connection: &Connection,
    checkout_id: i64,
    client_id: i64,
    expected: CheckoutState,
    now_s: i64,
) -> Result<Result<(CheckoutView, i64), CheckoutRefusal>, StoreError> {
    let found = checkout_where(connection, "ch.id = ?1", &checkout_id)?;
    check_for_client(found, client_id, expected, now_s)
}

/// The checkout `found`, if it is `client_id`'s (or no one's yet), in state `expected`
/// and not past its time.
fn check_for_client(
    found: Option<(CheckoutView, i64)>,
    client_id: i64,
    expected: CheckoutState,
    now_s: i64,
) -> Result<Result<(CheckoutView, i64), CheckoutRefusal>, StoreError> {
    let Some((view, version)) = found else {
        return Ok(Err(CheckoutRefusal::NotFound));
    };
    if view.client_id.is_some_and(|owner| owner != client_id) {
        return Ok(Err(CheckoutRefusal::OtherClient));
    }
    if view.state != expected {
        return Ok(Err(CheckoutRefusal::WrongState));
    }
    if now_s >= view.expires_at_s {
        return Ok(Err(CheckoutRefusal::Expired));
    }
    Ok(Ok((view, version)))
}

pub(super) fn hold_checkout(
    connection: &Connection,
    hold: &HoldCheckout,
) -> Result<HoldOutcome, StoreError> {
    if let Some((view, _)) = checkout_where(connection, "ch.id = ?1", &hold.checkout_id)?
        && view.state == CheckoutState::Held
        && view.client_id == Some(hold.client_id)
    {
        // Signing in again on a checkout already held for this client changes nothing.
        return Ok(HoldOutcome::Held(Box::new(view)));
    }
    let (view, version) = match for_client(
        connection,
        hold.checkout_id,
        hold.client_id,
        CheckoutState::Open,
        hold.now_s,
    )? {
        Ok(found) => found,
        Err(refusal) => return Ok(HoldOutcome::Refused(refusal)),
    };
    let Some(client) = client_where(connection, "id = ?1", &hold.client_id)? else {
        return Ok(HoldOutcome::Refused(CheckoutRefusal::NotFound));
    };
    if client.stopped(hold.now_s) {
        return Ok(HoldOutcome::Declined(Decline::Blocked));
    }
    if client.currency.code() != view.currency {
        return Ok(HoldOutcome::Declined(Decline::CurrencyMismatch));
    }
    let held_now: i64 = connection
        .prepare_cached(
            "SELECT count(*) FROM checkouts WHERE client_id = ?1 AND state = 'held' AND expires_at > ?2",
        )?
        .query_row(params![client.id, hold.now_s], |row| row.get(0))?;
    if held_now >= hold.held_max {
        return Ok(HoldOutcome::Refused(CheckoutRefusal::TooManyHeld));
    }
    let held = connection
        .prepare_cached(
            "UPDATE accounts SET held = held + ?2 WHERE id = ?1 AND balance - held - ?2 >= -credit_limit",
        )?
        .execute(params![client.account_id, view.amount])?;
    if held != 1 {
        return Ok(HoldOutcome::Declined(Decline::InsufficientFunds));
    }
    // The payment means of the check (zone 25): a single-use number for exactly this
    // amount and merchant, used by this payment at once.
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
    // Signing in on the merchant's checkout names the merchant: it may reach the client.
    ops::record_merchant_client(connection, view.merchant_id, client.id, hold.now_s)?;
    update_checkout(
        connection,
        view.id,
        version,
        "state = 'held', client_id = ?4, authorization_id = ?5",
        &[&client.id, &authorization_id],
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

pub(super) fn send_seal(
    connection: &Connection,
    send: &SendSeal,
) -> Result<SendOutcome, StoreError> {
    let (view, version) = match for_client(
        connection,
        send.checkout_id,
        send.client_id,
        CheckoutState::Held,
        send.now_s,
    )? {
        Ok(found) => found,
        Err(refusal) => return Ok(SendOutcome::Refused(refusal)),
    };
    match client_where(connection, "id = ?1", &send.client_id)? {
        Some(client) if !client.stopped(send.now_s) => {}
        _ => return Ok(SendOutcome::Refused(CheckoutRefusal::ClientStopped)),
    }
    let allowed = ops::budget_allows(
        connection,
        &send.message.address,
        MessageKind::PaymentSeal,
        None,
        &send.budget,
        send.now_s,
    )?;
    if let Err(too_many) = allowed {
        return Ok(SendOutcome::Refused(too_many.into()));
    }
    let status = seal_status(&view);
    if let Err(refusal) = seal::may_send(status.as_ref(), send.now_s) {
        return Ok(SendOutcome::Refused(refusal.into()));
    }
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

/// The authorization behind a held checkout, for capture or release.
fn authorization_of(
    connection: &Connection,
    view: &CheckoutView,
) -> Result<AuthorizationRow, StoreError> {
    let Some(authorization_id) = view.authorization_id else {
        return Err(StoreError::Corrupt(format!(
            "checkout {} held without authorization",
            view.id
        )));
    };
    ops::authorization_for_update(connection, view.merchant_id, authorization_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("authorization {authorization_id} vanished")))
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

pub(super) fn type_seal(
    connection: &Connection,
    typed: &TypedSeal,
) -> Result<SealOutcome, StoreError> {
    let Some(client_id) =
        super::read::session_client(connection, &typed.session_token_hash, typed.now_s)?
    else {
        return Ok(SealOutcome::Refused(CheckoutRefusal::SignedOut));
    };
    let found = checkout_where(connection, "ch.public_id = ?1", &typed.public_id)?;
    let (view, version) =
        match check_for_client(found, client_id, CheckoutState::Held, typed.now_s)? {
            Ok(found) => found,
            Err(refusal) => return Ok(SealOutcome::Refused(refusal)),
        };
    match client_where(connection, "id = ?1", &client_id)? {
        Some(client) if !client.stopped(typed.now_s) => {}
        _ => return Ok(SealOutcome::Refused(CheckoutRefusal::ClientStopped)),
    }
    let (Some(stored), Some(status)) = (&view.seal, seal_status(&view)) else {
        return Ok(SealOutcome::Refused(CheckoutRefusal::NoLiveSeal));
    };
    let matched = (typed.check)(&view, stored);
    match seal::judge(&status, matched, typed.now_s) {
        SealVerdict::Expired => Ok(SealOutcome::Expired),
        SealVerdict::Accept => accept(connection, &view, version, client_id, typed.now_s),
        SealVerdict::Wrong { tries_left } => {
            update_checkout(
                connection,
                view.id,
                version,
                "seal_wrong_tries = seal_wrong_tries + 1",
                &[],
                typed.now_s,
            )?;
            let paused = count_client_failure(connection, client_id, typed.now_s)?;
            super::evidence::write(
                connection,
                evidence::checkout_seal_judged(&view, Some(tries_left), typed.now_s)?,
            )?;
            Ok(SealOutcome::Wrong { tries_left, paused })
        }
        SealVerdict::Exhausted => {
            let authorization = authorization_of(connection, &view)?;
            if ledger::void(&crate::shared::figures(&authorization.view)).is_ok() {
                ops::release_hold(
                    connection,
                    &authorization,
                    AuthorizationState::Voided,
                    0,
                    typed.now_s,
                )?;
            }
            update_checkout(
                connection,
                view.id,
                version,
                "seal_wrong_tries = seal_wrong_tries + 1, state = 'failed', failure = ?4",
                &[&CHECKOUT_FAILED_SEAL],
                typed.now_s,
            )?;
            super::evidence::write(
                connection,
                evidence::checkout_seal_judged(&view, Some(0), typed.now_s)?,
            )?;
            let paused = count_client_failure(connection, client_id, typed.now_s)?;
            let (view, _) = checkout_by_id(connection, view.id)?;
            queue_event(connection, &view, typed.now_s)?;
            Ok(SealOutcome::Failed { view, paused })
        }
    }
}

/// The right seal: captures the hold in full, marks the checkout paid, clears the
/// client's failure count and queues the merchant's webhook, all in one transaction.
fn accept(
    connection: &Connection,
    view: &CheckoutView,
    version: i64,
    client_id: i64,
    now_s: i64,
) -> Result<SealOutcome, StoreError> {
    let authorization = authorization_of(connection, view)?;
    match ledger::capture(&crate::shared::figures(&authorization.view), None, now_s) {
        Ok(amount) => ops::capture_row(connection, &authorization, amount, now_s)?,
        Err(rejection) => {
            // The hold is gone (released by the sweep at the checkout's end): not paid.
            update_checkout(
                connection,
                view.id,
                version,
                "state = 'failed', failure = ?4",
                &[&rejection.code()],
                now_s,
            )?;
            super::evidence::write(
                connection,
                evidence::checkout_seal_judged(view, None, now_s)?,
            )?;
            let (view, _) = checkout_by_id(connection, view.id)?;
            queue_event(connection, &view, now_s)?;
            return Ok(SealOutcome::Failed { view, paused: None });
        }
    }
    update_checkout(connection, view.id, version, "state = 'paid'", &[], now_s)?;
    super::evidence::write(
        connection,
        evidence::checkout_seal_judged(view, None, now_s)?,
    )?;
    connection
        .prepare_cached("UPDATE clients SET consecutive_failures = 0 WHERE id = ?1 AND consecutive_failures <> 0")?
        .execute([client_id])?;
    let (view, _) = checkout_by_id(connection, view.id)?;
    let record = queue_event(connection, &view, now_s)?;
    Ok(SealOutcome::Paid(view, Box::new(record)))
}

/// Most checkouts ended by one sweep; the next sweep takes the rest.
const CHECKOUT_EXPIRY_BATCH_MAX: i64 = 1_000;

/// Ends checkouts whose time has passed. Their holds end with them: a checkout's hold
/// expires at the checkout's end, so the same sweep releases it.
pub(super) fn expire_checkouts(connection: &Connection, now_s: i64) -> Result<u64, StoreError> {
    let due: Vec<i64> = connection
        .prepare_cached(
            "SELECT id FROM checkouts WHERE state IN ('open', 'held') AND expires_at <= ?1 \
             ORDER BY expires_at LIMIT ?2",
        )?
        .query_map(params![now_s, CHECKOUT_EXPIRY_BATCH_MAX], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut ended = 0;
    for id in due {
        let (_, version) = checkout_by_id(connection, id)?;
        update_checkout(
            connection,
            id,
            version,
            "state = 'expired', failure = 'checkout_expired'",
            &[],
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
