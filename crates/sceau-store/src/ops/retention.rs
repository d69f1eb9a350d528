//! The purge (issue 23): what is past its retention window, a batch at a time
//! (`sceau_domain::retention` says what each window is and what is never purged).
//!
//! The newest row of `checkouts`, `messages` and `webhooks` is never purged: SQLite gives
//! a new row the highest id plus one, so purging the highest would give its id again, and
//! ids are names elsewhere (a checkout's evidence chain is `checkout:{id}`, a recipient's
//! notice is its message's id). On PostgreSQL one instance purges at a time (an advisory
//! lock held to the transaction's end), and a message another transaction holds (a late
//! report) is skipped, not waited for.

use crate::model::{Purge, Purged};
use crate::sql::Sql;
use crate::tx::{Fail, Tx, args, scalar};

/// Whether this transaction may purge: on PostgreSQL, no other instance's purge of this
/// schema is running (`pg_try_advisory_xact_lock` on the schema's name, released at
/// commit).
static TURN: Sql = Sql::each(
    "SELECT (CASE WHEN pg_try_advisory_xact_lock(1550, hashtext(current_schema())) \
     THEN 1 ELSE 0 END)::bigint AS turn",
    "SELECT 1 AS turn",
);

static SESSIONS: Sql = Sql::new(
    "DELETE FROM sessions WHERE token_hash IN \
     (SELECT token_hash FROM sessions WHERE expires_at <= $1 LIMIT $2)",
);

static OPERATOR_SESSIONS: Sql = Sql::new(
    "DELETE FROM operator_sessions WHERE token_hash IN \
     (SELECT token_hash FROM operator_sessions WHERE expires_at <= $1 LIMIT $2)",
);

static IDEMPOTENCY: Sql = Sql::new(
    "DELETE FROM idempotency WHERE id IN \
     (SELECT id FROM idempotency WHERE created_at <= $1 LIMIT $2)",
);

/// Webhooks delivered or given up; a pending one (still being tried) is never purged.
static WEBHOOKS: Sql = Sql::new(
    "DELETE FROM webhooks WHERE id IN \
     (SELECT id FROM webhooks WHERE state <> 'pending' AND updated_at <= $1 \
      AND id < (SELECT max(id) FROM webhooks) LIMIT $2)",
);

/// Checkouts that ended without a payment, once none of their webhooks is left, and
/// whose hold, if they had one, is released: a checkout is what tells a hold is the
/// client's seal's to capture, not the merchant's.
static CHECKOUTS: Sql = Sql::new(
    "DELETE FROM checkouts WHERE id IN \
     (SELECT ch.id FROM checkouts ch \
      WHERE ch.state IN ('expired', 'canceled', 'failed') AND ch.updated_at <= $1 \
      AND ch.id < (SELECT max(id) FROM checkouts) \
      AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.checkout_id = ch.id) \
      AND NOT EXISTS (SELECT 1 FROM authorizations au \
          WHERE au.id = ch.authorization_id AND au.state = 'authorized') \
      LIMIT $2)",
);

/// The sealed text of messages done with: ended (delivered, failed, expired), or taken
/// by a route and past the life of their secret without a report (e-mail, a route that
/// sends no receipts, a receipt lost). The record stays, with an empty body.
static BODIES: Sql = Sql::each(
    "UPDATE messages SET sealed_body = $3 WHERE id IN \
     (SELECT id FROM messages WHERE ended_at <= $1 AND length(sealed_body) > 0 \
      LIMIT $2 FOR UPDATE SKIP LOCKED) \
     OR id IN (SELECT id FROM messages WHERE state = 'submitted' AND expires_at <= $1 \
      AND length(sealed_body) > 0 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "UPDATE messages SET sealed_body = ?3 WHERE id IN \
     (SELECT id FROM messages WHERE ended_at <= ?1 AND length(sealed_body) > 0 LIMIT ?2) \
     OR id IN (SELECT id FROM messages WHERE state = 'submitted' AND expires_at <= ?1 \
      AND length(sealed_body) > 0 LIMIT ?2)",
);

/// The parts (providers' ids) of messages done with, then the messages left without
/// parts: a report that comes after matches nothing, as one for a message never sent.
static MESSAGE_PARTS: Sql = Sql::each(
    "DELETE FROM message_parts WHERE message_id IN \
     (SELECT id FROM messages WHERE ended_at <= $1 AND id < (SELECT max(id) FROM messages) \
      ORDER BY ended_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
     OR message_id IN (SELECT id FROM messages WHERE state = 'submitted' \
      AND expires_at <= $1 AND id < (SELECT max(id) FROM messages) \
      ORDER BY expires_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM message_parts WHERE message_id IN \
     (SELECT id FROM messages WHERE ended_at <= ?1 AND id < (SELECT max(id) FROM messages) \
      ORDER BY ended_at, id LIMIT ?2) \
     OR message_id IN (SELECT id FROM messages WHERE state = 'submitted' \
      AND expires_at <= ?1 AND id < (SELECT max(id) FROM messages) \
      ORDER BY expires_at, id LIMIT ?2)",
);

static MESSAGES: Sql = Sql::each(
    "DELETE FROM messages WHERE id IN \
     (SELECT m.id FROM messages m WHERE (m.ended_at <= $1 \
       OR (m.state = 'submitted' AND m.expires_at <= $1)) \
      AND m.id < (SELECT max(id) FROM messages) \
      AND NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = m.id) \
      LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM messages WHERE id IN \
     (SELECT m.id FROM messages m WHERE (m.ended_at <= ?1 \
       OR (m.state = 'submitted' AND m.expires_at <= ?1)) \
      AND m.id < (SELECT max(id) FROM messages) \
      AND NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = m.id) \
      LIMIT ?2)",
);

/// One batch: at most `purge.batch_max` rows of each kind (messages: of each way of
/// being done with). Nothing, on PostgreSQL, while another instance purges.
pub(crate) async fn purge(tx: &impl Tx, purge: &Purge) -> Result<Purged, Fail> {
    if scalar::<i64>(tx, &TURN, args![], "turn").await? != Some(1) {
        return Ok(Purged::default());
    }
    let (cutoffs, limit) = (&purge.cutoffs, purge.batch_max.max(1));
    // Clients' and operators' alike.
    let sessions = tx
        .execute(&SESSIONS, args![cutoffs.sessions_expired, limit])
        .await?
        + tx.execute(&OPERATOR_SESSIONS, args![cutoffs.sessions_expired, limit])
            .await?;
    let idempotency_keys = tx
        .execute(&IDEMPOTENCY, args![cutoffs.idempotency_created, limit])
        .await?;
    let webhooks = tx
        .execute(&WEBHOOKS, args![cutoffs.webhooks_ended, limit])
        .await?;
    let checkouts = tx
        .execute(&CHECKOUTS, args![cutoffs.checkouts_ended, limit])
        .await?;
    let empty: &[u8] = &[];
    let message_bodies = tx
        .execute(&BODIES, args![cutoffs.bodies_ended, limit, empty])
        .await?;
    tx.execute(&MESSAGE_PARTS, args![cutoffs.messages_ended, limit])
        .await?;
    let messages = tx
        .execute(&MESSAGES, args![cutoffs.messages_ended, limit])
        .await?;
    Ok(Purged {
        sessions,
        idempotency_keys,
        webhooks,
        checkouts,
        message_bodies,
        messages,
    })
}
