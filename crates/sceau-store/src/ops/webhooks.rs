//! The webhooks that tell merchants what became of their checkouts: queued with the
//! event, claimed by the deliverer for a lease, marked with what came of each try.

use crate::StoreError;
use crate::model::*;
use crate::ops::card_payments::{from_stored, to_stored};
use crate::shared::checkout_event;
use crate::sql::{Decode, ReadRow, Sql};
use crate::tx::{Fail, Tx, args};

impl Decode for WebhookDelivery {
    /// Its secrets are the enrolment's until [`claim`] reads the merchant's.
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(WebhookDelivery {
            id: row.column("id")?,
            merchant_id: row.column("merchant_id")?,
            url: row.column("url")?,
            event: row.column("event")?,
            body: row.column("body")?,
            attempts: row.column("attempts")?,
            secrets: WebhookSecrets {
                version: 0,
                previous: None,
            },
        })
    }
}

static SECRETS: Sql = Sql::new(
    "SELECT webhook_secret_version, webhook_previous_version, webhook_previous_until \
     FROM merchants WHERE id = $1",
);

/// A merchant's webhook secrets; `None` if there is no such merchant.
async fn secrets(tx: &impl Tx, merchant_id: i64) -> Result<Option<WebhookSecrets>, Fail> {
    tx.row(&SECRETS, args![merchant_id], |row| {
        let previous: Option<i64> = row.column("webhook_previous_version")?;
        let until: Option<i64> = row.column("webhook_previous_until")?;
        Ok(WebhookSecrets {
            version: row.column("webhook_secret_version")?,
            previous: previous.zip(until),
        })
    })
    .await
}

static ROTATE: Sql = Sql::new(
    "UPDATE merchants SET webhook_secret_version = $2, webhook_previous_version = $3, \
     webhook_previous_until = $4 WHERE id = $1",
);

/// Rotates a merchant's webhook secret (the rule is
/// [`sceau_domain::webhook_secret::rotate`]), or answers again what the rotation under
/// the same idempotency key gave. The caller holds the merchant's row.
pub(crate) async fn rotate_secret(
    tx: &impl Tx,
    rotation: &RotateWebhookSecret,
) -> Result<RotationOutcome, Fail> {
    let merchant_id = rotation.merchant_id;
    if let Some(key) = &rotation.idempotency
        && let Some(stored) = crate::ops::holds::idempotent_replay(tx, merchant_id, key).await?
    {
        return Ok(RotationOutcome::Replayed(from_stored(&stored)?));
    }
    let Some(current) = secrets(tx, merchant_id).await? else {
        return Ok(RotationOutcome::NoMerchant);
    };
    let rotated =
        match sceau_domain::webhook_secret::rotate(current, rotation.now_s, rotation.overlap_s) {
            Ok(rotated) => rotated,
            Err(refused) => return Ok(RotationOutcome::Refused(refused)),
        };
    let (previous, until) = rotated.previous.unzip();
    tx.execute(
        &ROTATE,
        args![merchant_id, rotated.version, previous, until],
    )
    .await?;
    if let Some(key) = &rotation.idempotency {
        let stored = to_stored(&rotated)?;
        crate::ops::holds::record_idempotency(tx, merchant_id, key, &stored, rotation.now_s)
            .await?;
    }
    let event = crate::evidence::webhook_secret_rotated(
        merchant_id,
        &rotated,
        &rotation.by,
        rotation.now_s,
    );
    crate::tx::record(tx, event).await?;
    Ok(RotationOutcome::Rotated(rotated))
}

static QUEUE: Sql = Sql::new(
    "INSERT INTO webhooks (merchant_id, checkout_id, url, event, body, state, next_attempt_at, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6)",
);

/// Queues the webhook telling the merchant at `url` what just happened to a checkout.
pub(crate) async fn queue(
    tx: &impl Tx,
    view: &CheckoutView,
    url: &str,
    now_s: i64,
) -> Result<(), Fail> {
    let event = checkout_event(view, now_s)?;
    let body = serde_json::to_string(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let values = args![view.merchant_id, view.id, url, &event.event, &body, now_s];
    tx.execute(&QUEUE, values).await?;
    Ok(())
}

/// The due webhooks, claimed until `$2`, at most `$3`. On PostgreSQL, rows another
/// transaction is claiming are skipped, not waited for, so instances never claim the
/// same webhook.
static CLAIM: Sql = Sql::each(
    "UPDATE webhooks SET claimed_until = $2 WHERE id IN (SELECT id FROM webhooks \
     WHERE state = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
     ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, merchant_id, url, event, body, attempts, next_attempt_at",
    "UPDATE webhooks SET claimed_until = ?2 WHERE id IN (SELECT id FROM webhooks \
     WHERE state = 'pending' AND next_attempt_at <= ?1 AND claimed_until <= ?1 \
     ORDER BY next_attempt_at, id LIMIT ?3) \
     RETURNING id, merchant_id, url, event, body, attempts, next_attempt_at",
);

/// Claims up to `limit` due webhooks for `lease_s` (see
/// [`crate::Store::claim_webhooks`]), the earliest due first.
pub(crate) async fn claim(
    tx: &impl Tx,
    now_s: i64,
    lease_s: i64,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, Fail> {
    let values = args![now_s, now_s.saturating_add(lease_s), limit];
    let mut due = tx
        .rows(&CLAIM, values, |row| {
            let next_attempt_s: i64 = row.column("next_attempt_at")?;
            Ok((next_attempt_s, WebhookDelivery::decode(row)?))
        })
        .await?;
    due.sort_by_key(|(next_attempt_s, webhook)| (*next_attempt_s, webhook.id));
    let mut due: Vec<WebhookDelivery> = due.into_iter().map(|(_, webhook)| webhook).collect();
    // Signed with the secrets of now: read once per merchant of the batch.
    let mut read: Vec<(i64, WebhookSecrets)> = Vec::new();
    for webhook in &mut due {
        let known = read.iter().find(|(id, _)| *id == webhook.merchant_id);
        webhook.secrets = match known {
            Some((_, secrets)) => *secrets,
            None => {
                let secrets = secrets(tx, webhook.merchant_id)
                    .await?
                    .ok_or_else(|| crate::tx::broken("a webhook of no merchant"))?;
                read.push((webhook.merchant_id, secrets));
                secrets
            }
        };
    }
    Ok(due)
}

static MARK: Sql = Sql::new(
    "UPDATE webhooks SET state = $2, attempts = attempts + 1, next_attempt_at = $3, \
     last_error = $4, claimed_until = 0, updated_at = $5 WHERE id = $1 AND state = 'pending'",
);

/// Records what came of a try: delivered, to retry later, or given up.
pub(crate) async fn mark(
    tx: &impl Tx,
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
    let values = args![webhook_id, state, next_attempt_s, error, now_s];
    tx.execute(&MARK, values).await?;
    Ok(())
}
