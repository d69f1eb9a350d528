//! The outbox's writes other capabilities make: messages queued in their transaction,
//! and the budgets that decide whether one more may go to an address.

use crate::error::stored_count;
use crate::model::*;
use crate::shared::sent_this_hour;
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, args, broken, scalar};
use sceau_domain::reach::{self, MerchantReach, MessageBudget, MessageKind, TooMany};

static ENQUEUE: Sql = Sql::new(
    "INSERT INTO messages (address, sealed_body, medium, state, kind, merchant_id, created_at, \
     updated_at, expires_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $6, $7) RETURNING id",
);

/// Queues a notice to a client (it counts against their budget but is never refused,
/// so it needs no lock).
pub(crate) async fn enqueue_message(
    tx: &impl Tx,
    message: &NewMessage,
    now_s: i64,
) -> Result<i64, Fail> {
    enqueue(tx, message, MessageKind::Notice, None, now_s).await
}

/// Queues a message of `kind`; a number a merchant asked for names `merchant_id`.
pub(crate) async fn enqueue(
    tx: &impl Tx,
    message: &NewMessage,
    kind: MessageKind,
    merchant_id: Option<i64>,
    now_s: i64,
) -> Result<i64, Fail> {
    let values = args![
        &message.address,
        &message.sealed_body,
        message.medium.as_str(),
        kind.as_str(),
        merchant_id,
        now_s,
        message.expires_at_s
    ];
    scalar(tx, &ENQUEUE, values, "id")
        .await?
        .ok_or_else(|| broken("a queued message has no id"))
}

/// What one address was sent within the window, by kind, and how many of the merchant
/// numbers `$3` asked for (`merchant_id = NULL` matches none): rows of kind, count, and
/// count of that merchant's, for [`sent_this_hour`].
pub(crate) static SENT_THIS_HOUR: Sql = Sql::each(
    "SELECT kind, count(*) AS sent, \
     coalesce(sum(CASE WHEN merchant_id = $3 THEN 1 ELSE 0 END), 0)::BIGINT AS of_merchant \
     FROM messages WHERE address = $1 AND created_at > $2 GROUP BY kind",
    "SELECT kind, count(*) AS sent, \
     coalesce(sum(CASE WHEN merchant_id = ?3 THEN 1 ELSE 0 END), 0) AS of_merchant \
     FROM messages WHERE address = ?1 AND created_at > ?2 GROUP BY kind",
);

/// Whether `budget` lets one more message of `kind` go to `address` now, counting what
/// the address was sent within the window. Runs where nobody else queues to the address
/// meanwhile: SQLite's one writer, or under the client's account lock on PostgreSQL
/// (every command that may queue a refusable message to a client takes it).
pub(crate) async fn budget_allows(
    tx: &impl Tx,
    address: &str,
    kind: MessageKind,
    merchant_id: Option<i64>,
    budget: &MessageBudget,
    now_s: i64,
) -> Result<Result<(), TooMany>, Fail> {
    let since_s = now_s - reach::WINDOW_S;
    let values = args![address, since_s, merchant_id];
    let counts = tx
        .rows(&SENT_THIS_HOUR, values, |row| {
            Ok((
                row.column("kind")?,
                row.column("sent")?,
                row.column("of_merchant")?,
            ))
        })
        .await?;
    Ok(reach::may_send(budget, &sent_this_hour(counts)?, kind))
}

/// [`budget_allows`] for a message no merchant asks for, as a read
/// (`Outbox::message_allowed`).
pub(crate) async fn message_allowed(
    tx: &impl Tx,
    address: &str,
    kind: MessageKind,
    budget: &MessageBudget,
    now_s: i64,
) -> Result<Result<(), TooMany>, Fail> {
    budget_allows(tx, address, kind, None, budget, now_s).await
}

/// Distinct clients (addresses) merchant `$1` had numbers sent to within the window
/// (since `$2`), and whether address `$3` is one of them.
static CLIENTS_THIS_HOUR: Sql = Sql::each(
    "SELECT count(DISTINCT address) AS clients, coalesce(bool_or(address = $3), false) AS among \
     FROM messages WHERE merchant_id = $1 AND created_at > $2",
    "SELECT count(DISTINCT address) AS clients, coalesce(max(address = ?3), 0) AS among \
     FROM messages WHERE merchant_id = ?1 AND created_at > ?2",
);

/// What decides whether a merchant may have a number sent to `client` now.
pub(crate) async fn merchant_reach(
    tx: &impl Tx,
    merchant_id: i64,
    client: &ClientRecord,
    now_s: i64,
) -> Result<MerchantReach, Fail> {
    let known = merchant_knows_client(tx, merchant_id, client.id).await?;
    let since_s = now_s - reach::WINDOW_S;
    let values = args![merchant_id, since_s, client.phone.as_str()];
    let (clients, among): (i64, bool) = tx
        .row(&CLIENTS_THIS_HOUR, values, |row| {
            Ok((row.column("clients")?, row.column("among")?))
        })
        .await?
        .ok_or_else(|| broken("an aggregate without its row"))?;
    Ok(MerchantReach {
        known,
        client_stopped: client.stopped(now_s),
        clients_this_hour: stored_count(clients, "distinct clients of the hour")?,
        client_among_them: among,
    })
}

static KNOWS: Sql =
    Sql::new("SELECT 1 AS known FROM merchant_clients WHERE merchant_id = $1 AND client_id = $2");

/// Whether the client dealt with the merchant (see [`record_merchant_client`]).
pub(crate) async fn merchant_knows_client(
    tx: &impl Tx,
    merchant_id: i64,
    client_id: i64,
) -> Result<bool, Fail> {
    let known: Option<i64> = scalar(tx, &KNOWS, args![merchant_id, client_id], "known").await?;
    Ok(known.is_some())
}

static MERCHANT_CLIENT: Sql = Sql::new(
    "INSERT INTO merchant_clients (merchant_id, client_id, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (merchant_id, client_id) DO NOTHING",
);

/// Records that the client dealt with the merchant (paid it, or signed in on one of its
/// checkouts): from now on the merchant may have numbers sent to them. On PostgreSQL,
/// written under the client's account lock.
pub(crate) async fn record_merchant_client(
    tx: &impl Tx,
    merchant_id: i64,
    client_id: i64,
    now_s: i64,
) -> Result<(), Fail> {
    tx.execute(&MERCHANT_CLIENT, args![merchant_id, client_id, now_s])
        .await?;
    Ok(())
}

/// The first `limit` messages waiting to be sent, oldest first.
pub(crate) async fn pending_messages(tx: &impl Tx, limit: u32) -> Result<Vec<StoredMessage>, Fail> {
    crate::tx::all(tx, &crate::rows::PENDING_MESSAGES, args![limit]).await
}

/// The last `limit` messages to `address`, newest first.
pub(crate) async fn messages_to(
    tx: &impl Tx,
    address: &str,
    limit: u32,
) -> Result<Vec<StoredMessage>, Fail> {
    crate::tx::all(tx, &crate::rows::MESSAGES_TO, args![address, limit]).await
}

/// Leases up to `$3` pending messages whose lease ended at `$1` and whose secret is still
/// alive until `$1 + $2`; on PostgreSQL, rows another transaction is claiming are
/// skipped, not waited for.
static CLAIM: Sql = Sql::each(
    concat!(
        "UPDATE messages SET claimed_until = $1 + $2 WHERE id IN (SELECT id FROM messages \
         WHERE state = 'pending' AND claimed_until <= $1 AND expires_at > $1 ORDER BY id \
         LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
        crate::rows::message_columns!()
    ),
    concat!(
        "UPDATE messages SET claimed_until = ?1 + ?2 WHERE id IN (SELECT id FROM messages \
         WHERE state = 'pending' AND claimed_until <= ?1 AND expires_at > ?1 ORDER BY id \
         LIMIT ?3) RETURNING ",
        crate::rows::message_columns!()
    ),
);

/// Claims pending messages for the dispatcher (see [`crate::Outbox::claim_messages`]),
/// oldest first.
pub(crate) async fn claim_messages(
    tx: &impl Tx,
    now_s: i64,
    lease_s: i64,
    limit: u32,
) -> Result<Vec<StoredMessage>, Fail> {
    let mut claimed: Vec<StoredMessage> =
        crate::tx::all(tx, &CLAIM, args![now_s, lease_s, limit]).await?;
    claimed.sort_by_key(|message| message.id);
    Ok(claimed)
}

/// Most characters of a `last_error` kept (a route's reason, never a body).
pub(crate) const LAST_ERROR_CHARS_MAX: usize = 200;
/// Most parts recorded for one message (an 8-bit concatenation reference counts 255).
pub(crate) const PARTS_MAX: usize = 255;

static SUBMITTED: Sql = Sql::new(
    "UPDATE messages SET state = 'submitted', route = $2, attempts = attempts + 1, \
     submitted_at = $3, updated_at = $3 WHERE id = $1 AND state = 'pending'",
);
static PART: Sql = Sql::new(
    "INSERT INTO message_parts (message_id, part, route, provider_id, state, updated_at) \
     VALUES ($1, $2, $3, $4, 'submitted', $5)",
);
static FAILED: Sql = Sql::new(
    "UPDATE messages SET state = 'failed', route = $2, attempts = attempts + $3, \
     last_error = $4, ended_at = $5, updated_at = $5 WHERE id = $1 AND state = 'pending'",
);
static EXPIRED: Sql = Sql::new(
    "UPDATE messages SET state = 'expired', ended_at = $2, updated_at = $2 \
     WHERE id = $1 AND state = 'pending'",
);
/// A retry keeps the last route tried (`$5`), or the one before when none was (every
/// route resting).
static RETRY: Sql = Sql::new(
    "UPDATE messages SET attempts = attempts + 1, claimed_until = $2, last_error = $3, \
     updated_at = $4, route = coalesce($5, route) WHERE id = $1 AND state = 'pending'",
);

/// Records what the dispatcher found (see [`crate::Outbox::mark_message`]): only on a
/// message still pending, so that a second mark (another instance's) changes nothing.
/// True if it applied.
pub(crate) async fn mark_message(
    tx: &impl Tx,
    message_id: i64,
    delivery: &MessageDelivery,
) -> Result<bool, Fail> {
    let marked = match delivery {
        MessageDelivery::Submitted {
            route,
            parts,
            now_s,
        } => return submitted(tx, message_id, route, parts, *now_s).await,
        MessageDelivery::Failed {
            route,
            reason,
            now_s,
        } => {
            let tried = i64::from(route.is_some());
            let reason = last_error(route.as_deref(), reason);
            let values = args![message_id, route, tried, &reason, *now_s];
            let marked = tx.execute(&FAILED, values).await?;
            if marked == 1 {
                crate::ops::deliveries::notice_failed(tx, message_id, *now_s).await?;
            }
            marked
        }
        MessageDelivery::Expired { now_s } => {
            let marked = tx.execute(&EXPIRED, args![message_id, *now_s]).await?;
            if marked == 1 {
                crate::ops::deliveries::notice_failed(tx, message_id, *now_s).await?;
            }
            marked
        }
        MessageDelivery::Retry {
            route,
            reason,
            retry_at_s,
            now_s,
        } => {
            let reason = last_error(route.as_deref(), reason);
            let values = args![message_id, *retry_at_s, &reason, *now_s, route];
            tx.execute(&RETRY, values).await?
        }
    };
    Ok(marked == 1)
}

/// A message taken by `route`: submitted, with its parts, if it was still pending.
async fn submitted(
    tx: &impl Tx,
    message_id: i64,
    route: &str,
    parts: &[String],
    now_s: i64,
) -> Result<bool, Fail> {
    if parts.len() > PARTS_MAX {
        return Err(Fail::Store(crate::StoreError::Refused(format!(
            "a message of {} parts (at most {PARTS_MAX} are recorded)",
            parts.len()
        ))));
    }
    if tx
        .execute(&SUBMITTED, args![message_id, route, now_s])
        .await?
        != 1
    {
        return Ok(false);
    }
    for (part, provider_id) in parts.iter().enumerate() {
        let values = args![message_id, part, route, provider_id, now_s];
        tx.execute(&PART, values).await?;
    }
    crate::ops::deliveries::notice_submitted(tx, message_id, now_s).await?;
    Ok(true)
}

/// The reason kept for a failure or a retry: the route's name, then its words, cut to
/// [`LAST_ERROR_CHARS_MAX`] characters.
fn last_error(route: Option<&str>, reason: &str) -> String {
    let whole = match route {
        Some(route) => format!("{route}: {reason}"),
        None => reason.to_owned(),
    };
    whole.chars().take(LAST_ERROR_CHARS_MAX).collect()
}

/// Most id forms tried for one report.
pub(crate) const ID_FORMS_MAX: usize = 8;

/// The part with provider id `$2` on route `$1`; the newest message's if the provider
/// reused the id.
static FIND_PART: Sql = Sql::new(
    "SELECT message_id, part FROM message_parts WHERE route = $1 AND provider_id = $2 \
     ORDER BY message_id DESC LIMIT 1",
);
/// The message of a part, locked so that reports of its parts take turns (each then
/// reads the others' states as committed).
static LOCK_MESSAGE: Sql = Sql::each(
    "SELECT id FROM messages WHERE id = $1 FOR NO KEY UPDATE",
    "SELECT id FROM messages WHERE id = ?1",
);
static PART_STATE: Sql = Sql::new(
    "UPDATE message_parts SET state = $3, updated_at = $4 \
     WHERE message_id = $1 AND part = $2 AND state = 'submitted'",
);
/// A submitted message whose parts say so ends: `failed` if one failed, `delivered` when
/// all were.
static SETTLE: Sql = Sql::new(
    "UPDATE messages SET \
     state = CASE WHEN EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = $1 \
     AND p.state = 'failed') THEN 'failed' ELSE 'delivered' END, \
     last_error = CASE WHEN EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = $1 \
     AND p.state = 'failed') THEN 'a part was reported undeliverable' ELSE last_error END, \
     ended_at = $2, updated_at = $2 \
     WHERE id = $1 AND state = 'submitted' AND (EXISTS (SELECT 1 FROM message_parts p \
     WHERE p.message_id = $1 AND p.state = 'failed') OR NOT EXISTS (SELECT 1 FROM \
     message_parts p WHERE p.message_id = $1 AND p.state <> 'delivered'))",
);

/// Records a route's report on one part (see [`crate::Outbox::record_report`]): the
/// message's id, or `None` when no part of `route` has any of the forms.
pub(crate) async fn record_report(
    tx: &impl Tx,
    route: &str,
    id_forms: &[String],
    outcome: PartOutcome,
    now_s: i64,
) -> Result<Option<ReportRecorded>, Fail> {
    let mut found = None;
    for form in id_forms.iter().take(ID_FORMS_MAX) {
        found = tx
            .row(&FIND_PART, args![route, form], |row| {
                Ok((row.column::<i64>("message_id")?, row.column::<i64>("part")?))
            })
            .await?;
        if found.is_some() {
            break;
        }
    }
    let Some((message_id, part)) = found else {
        return Ok(None);
    };
    scalar::<i64>(tx, &LOCK_MESSAGE, args![message_id], "id")
        .await?
        .ok_or_else(|| broken("a message part without its message"))?;
    let state = match outcome {
        PartOutcome::Delivered => "delivered",
        PartOutcome::Failed => "failed",
        PartOutcome::Pending => "submitted",
    };
    let changed = tx
        .execute(&PART_STATE, args![message_id, part, state, now_s])
        .await?;
    let settled = changed == 1
        && outcome != PartOutcome::Pending
        && tx.execute(&SETTLE, args![message_id, now_s]).await? == 1;
    if settled && outcome == PartOutcome::Failed {
        // A notice of certified delivery that failed after it was taken (a bounce):
        // its recipient learns it in this transaction, as for a failure at sending.
        crate::ops::deliveries::notice_failed(tx, message_id, now_s).await?;
    }
    Ok(Some(ReportRecorded {
        message_id,
        settled,
    }))
}

static EXPIRE: Sql = Sql::new(
    "UPDATE messages SET state = 'expired', ended_at = $1, updated_at = $1 \
     WHERE state = 'pending' AND expires_at <= $1 AND claimed_until <= $1",
);

/// Pending messages whose secret expired by `now_s` (and that no dispatcher holds right
/// now) become `expired`; how many.
pub(crate) async fn expire_messages(tx: &impl Tx, now_s: i64) -> Result<u64, Fail> {
    tx.execute(&EXPIRE, args![now_s]).await
}

static COUNTS: Sql = Sql::new(
    "SELECT route, state, count(*) AS count FROM messages WHERE created_at >= $1 \
     GROUP BY route, state",
);

/// How many messages created since `since_s` are in each state, per route; by route
/// (`None` first), then state.
pub(crate) async fn message_counts(tx: &impl Tx, since_s: i64) -> Result<Vec<MessageCount>, Fail> {
    let mut counts = tx
        .rows(&COUNTS, args![since_s], |row| {
            Ok(MessageCount {
                route: row.column("route")?,
                state: row.column("state")?,
                count: row.column("count")?,
            })
        })
        .await?;
    counts.sort_by(|a, b| (&a.route, &a.state).cmp(&(&b.route, &b.state)));
    Ok(counts)
}

/// Most messages in one page of [`message_states`].
pub(crate) const MESSAGE_STATES_MAX: u32 = 1_000;

static STATES: Sql = Sql::new(
    "SELECT m.id, m.medium, m.kind, m.address, m.state, m.route, m.attempts, m.last_error, \
     m.created_at, m.submitted_at, m.ended_at, m.expires_at, \
     (SELECT count(*) FROM message_parts p WHERE p.message_id = m.id) AS parts \
     FROM messages m WHERE m.id < $1 ORDER BY m.id DESC LIMIT $2",
);

/// Messages newest first, before the id `before_id` if given, at most `limit` (capped
/// at [`MESSAGE_STATES_MAX`]): their course, never their bodies.
pub(crate) async fn message_states(
    tx: &impl Tx,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<MessageStatus>, Fail> {
    let values = args![before_id.unwrap_or(i64::MAX), limit.min(MESSAGE_STATES_MAX)];
    crate::tx::all(tx, &STATES, values).await
}

impl crate::sql::Decode for MessageStatus {
    fn decode(row: &impl ReadRow) -> Result<Self, crate::StoreError> {
        let medium = crate::rows::medium(row)?;
        let address: String = row.column("address")?;
        Ok(MessageStatus {
            id: row.column("id")?,
            medium,
            kind: row.column("kind")?,
            address_masked: mask_address(medium, &address),
            state: row.column("state")?,
            route: row.column("route")?,
            attempts: row.column("attempts")?,
            parts: row.column("parts")?,
            last_error: row.column("last_error")?,
            created_at_s: row.column("created_at")?,
            submitted_at_s: row.column("submitted_at")?,
            ended_at_s: row.column("ended_at")?,
            expires_at_s: row.column("expires_at")?,
        })
    }
}

/// What an operator sees of an address, as every page and log shows it: a phone
/// number's last two digits, an e-mail address's first character and domain (the
/// domain's maskers); anything else (no address sceau writes) nothing of it.
pub(crate) fn mask_address(medium: Medium, address: &str) -> String {
    match medium {
        Medium::Email => sceau_domain::email::mask(address),
        Medium::Sms | Medium::Voice => sceau_domain::phone::mask(address),
    }
}

static BACKLOG: Sql = Sql::new(
    "SELECT count(*) AS pending, \
     (SELECT created_at FROM messages WHERE state = 'pending' ORDER BY id LIMIT 1) AS oldest \
     FROM messages WHERE state = 'pending'",
);

/// The messages still pending (waiting for a try, claimed, or waiting to be tried again)
/// and the creation time of the oldest: both read through the index of pending ids.
pub(crate) async fn outbox_backlog(tx: &impl Tx) -> Result<OutboxBacklog, Fail> {
    tx.row(&BACKLOG, args![], |row| {
        Ok(OutboxBacklog {
            pending: row.column("pending")?,
            oldest_created_at_s: row.column("oldest")?,
        })
    })
    .await?
    .ok_or_else(|| broken("a count returned no row"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_masked_as_pages_mask_it_and_anything_else_wholly() {
        assert_eq!(mask_address(Medium::Sms, "+33611117890"), "+•••••••••90");
        assert_eq!(mask_address(Medium::Voice, "+33611117890"), "+•••••••••90");
        assert_eq!(
            mask_address(Medium::Email, "alice@example.org"),
            "a***@example.org"
        );
        for (medium, odd) in [
            (Medium::Sms, "SHORTCODE42"),
            (Medium::Sms, "0611117890"),
            (Medium::Email, "not an address"),
            (Medium::Email, "+33611117890"),
        ] {
            assert_eq!(mask_address(medium, odd), "•••", "{odd}");
        }
    }
}
