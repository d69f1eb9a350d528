//! The purge (issue 23): what is past its retention window, a batch at a time
//! (`sceau_domain::retention` says what each window is and what is never purged).

use crate::model::{Purge, Purged};
use crate::sql::Sql;
use crate::tx::{Fail, Tx, args};

static SESSIONS: Sql = Sql::new(
    "DELETE FROM sessions WHERE token_hash IN \
     (SELECT token_hash FROM sessions WHERE expires_at <= $1 LIMIT $2)",
);

static IDEMPOTENCY: Sql = Sql::new(
    "DELETE FROM idempotency WHERE id IN \
     (SELECT id FROM idempotency WHERE created_at <= $1 LIMIT $2)",
);

/// Webhooks delivered or given up; a pending one (still being tried) is never purged.
static WEBHOOKS: Sql = Sql::new(
    "DELETE FROM webhooks WHERE id IN \
     (SELECT id FROM webhooks WHERE state <> 'pending' AND updated_at <= $1 LIMIT $2)",
);

/// Checkouts that ended without a payment, once none of their webhooks is left (so
/// after `webhooks_days` too), and whose hold, if they had one, is released: a checkout
/// is what tells a hold is the client's seal's to capture, not the merchant's.
static CHECKOUTS: Sql = Sql::new(
    "DELETE FROM checkouts WHERE id IN \
     (SELECT ch.id FROM checkouts ch \
      WHERE ch.state IN ('expired', 'canceled', 'failed') AND ch.updated_at <= $1 \
      AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.checkout_id = ch.id) \
      AND NOT EXISTS (SELECT 1 FROM authorizations au \
          WHERE au.id = ch.authorization_id AND au.state = 'authorized') \
      LIMIT $2)",
);

/// The sealed text of messages that ended; the record stays (an empty body).
static BODIES: Sql = Sql::new(
    "UPDATE messages SET sealed_body = $3 WHERE id IN \
     (SELECT id FROM messages WHERE ended_at <= $1 AND length(sealed_body) > 0 LIMIT $2)",
);

/// The parts (providers' ids) of messages that ended, then the messages left without
/// parts: a report that comes after matches nothing, as one for a message never sent.
static MESSAGE_PARTS: Sql = Sql::new(
    "DELETE FROM message_parts WHERE message_id IN \
     (SELECT id FROM messages WHERE ended_at <= $1 ORDER BY ended_at, id LIMIT $2)",
);

static MESSAGES: Sql = Sql::new(
    "DELETE FROM messages WHERE id IN \
     (SELECT m.id FROM messages m WHERE m.ended_at <= $1 \
      AND NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = m.id) \
      ORDER BY m.ended_at, m.id LIMIT $2)",
);

/// One batch: at most `purge.batch_max` rows of each kind.
pub(crate) async fn purge(tx: &impl Tx, purge: &Purge) -> Result<Purged, Fail> {
    let (cutoffs, limit) = (&purge.cutoffs, purge.batch_max);
    let sessions = tx
        .execute(&SESSIONS, args![cutoffs.sessions_expired, limit])
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
