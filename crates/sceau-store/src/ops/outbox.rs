//! The outbox's writes other capabilities make: messages queued in their transaction,
//! and the budgets that decide whether one more may go to an address.

use crate::error::stored_count;
use crate::model::*;
use crate::shared::sent_this_hour;
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, args, broken, scalar};
use sceau_domain::reach::{self, MerchantReach, MessageBudget, MessageKind, TooMany};

static ENQUEUE: Sql = Sql::new(
    "INSERT INTO messages (address, sealed_body, state, kind, merchant_id, created_at, updated_at) \
     VALUES ($1, $2, 'pending', $3, $4, $5, $5) RETURNING id",
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
        kind.as_str(),
        merchant_id,
        now_s
    ];
    scalar(tx, &ENQUEUE, values, "id")
        .await?
        .ok_or_else(|| broken("a queued message has no id"))
}

/// What one address was sent within the window, by kind, and how many of the merchant
/// numbers `$3` asked for (`merchant_id = NULL` matches none): rows of kind, count, and
/// count of that merchant's, for [`sent_this_hour`].
static SENT_THIS_HOUR: Sql = Sql::each(
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

/// Leases up to `$3` pending messages whose lease ended at `$1` until `$1 + $2`; on
/// PostgreSQL, rows another transaction is claiming are skipped, not waited for.
static CLAIM: Sql = Sql::each(
    concat!(
        "UPDATE messages SET claimed_until = $1 + $2 WHERE id IN (SELECT id FROM messages \
         WHERE state = 'pending' AND claimed_until <= $1 ORDER BY id LIMIT $3 \
         FOR UPDATE SKIP LOCKED) RETURNING ",
        crate::rows::message_columns!()
    ),
    concat!(
        "UPDATE messages SET claimed_until = ?1 + ?2 WHERE id IN (SELECT id FROM messages \
         WHERE state = 'pending' AND claimed_until <= ?1 ORDER BY id LIMIT ?3) RETURNING ",
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

/// Marks a message sent or failed, as the dispatcher found.
pub(crate) async fn mark_message(
    tx: &impl Tx,
    message_id: i64,
    delivery: &MessageDelivery,
) -> Result<(), Fail> {
    let (state, channel, reference, now_s) = crate::rows::delivery_columns(delivery);
    let marked = args![message_id, state, channel, reference, now_s];
    tx.execute(&crate::rows::MESSAGE_MARK, marked).await?;
    Ok(())
}
