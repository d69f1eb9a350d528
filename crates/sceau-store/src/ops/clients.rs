//! What a wrong seal does to its client, whatever it sealed (a checkout, an envelope),
//! and the statement that records a client's failures.

use crate::error::stored_count;
use crate::model::*;
use crate::sql::Sql;
use crate::tx::{Fail, Tx, args, broken, scalar};
use sceau_domain::policy;

static FAILURES: Sql = Sql::new("SELECT consecutive_failures FROM clients WHERE id = $1");
/// A client's consecutive failures and the pause they start, if any (`$1` the client;
/// also what a wrong card detail writes, `ops::card_payments`).
pub(crate) static COUNT_FAILURE: Sql = Sql::new(
    "UPDATE clients SET consecutive_failures = $2, paused_until = COALESCE($3, paused_until) \
     WHERE id = $1",
);

/// Counts a wrong seal against the client: returns the pause it starts, if any.
pub(crate) async fn count_client_failure(
    tx: &impl Tx,
    client_id: i64,
    now_s: i64,
) -> Result<Option<Paused>, Fail> {
    let failures: i64 = scalar(tx, &FAILURES, args![client_id], "consecutive_failures")
        .await?
        .ok_or_else(|| broken("a wrong seal's client not found"))?;
    let failures = stored_count(failures, "clients.consecutive_failures")?;
    let (failures, paused_until_s) = policy::client_failure(failures, now_s);
    tx.execute(&COUNT_FAILURE, args![client_id, failures, paused_until_s])
        .await?;
    Ok(paused_until_s.map(|until_s| Paused { client_id, until_s }))
}

static FAILURES_FORGOTTEN: Sql = Sql::new(
    "UPDATE clients SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0",
);

/// A right seal: the client's run of failures starts again.
pub(crate) async fn forget_client_failures(tx: &impl Tx, client_id: i64) -> Result<(), Fail> {
    tx.execute(&FAILURES_FORGOTTEN, args![client_id]).await?;
    Ok(())
}
