//! Queries that only read, and the mapping of rows to the store's values. They take any
//! connection of the pool; none of them needs a transaction.

use super::{Conn, Fail, Params, col, corrupt, opt_row, rows};
use crate::StoreError;
use crate::model::*;
use crate::rows::{CLIENT_SELECT, MESSAGE_COLUMNS};
use crate::sql::{Decode, ReadRow};
use tokio_postgres::Row;

pub(super) use crate::rows::{AUTHORIZATION_COLUMNS, NUMBER_COLUMNS};

/// The first row `sql` finds, decoded.
pub(super) async fn first<T: Decode>(
    c: &Conn,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<T>, Fail> {
    let row = opt_row(c, sql, params).await?;
    Ok(row.as_ref().map(T::decode).transpose()?)
}

/// Every row `sql` finds, decoded.
pub(super) async fn all<T: Decode>(
    c: &Conn,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<T>, Fail> {
    let found = rows(c, sql, params).await?;
    Ok(found.iter().map(T::decode).collect::<Result<_, _>>()?)
}

/// The client matching `condition` on `clients c` (with `$1`).
pub(super) async fn client_where(
    c: &Conn,
    condition: &str,
    value: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<ClientRecord>, Fail> {
    first(c, &format!("{CLIENT_SELECT}WHERE c.{condition}"), &[value]).await
}

pub(super) fn narrow<T: TryFrom<i64>>(row: &Row, index: usize, what: &str) -> Result<T, Fail> {
    let wide: i64 = col(row, index)?;
    T::try_from(wide).map_err(|_| corrupt(what))
}

/// Maps the columns of [`NUMBER_COLUMNS`] (others may follow them).
pub(super) fn number_row(row: &Row) -> Result<NumberView, Fail> {
    Ok(NumberView::decode(row)?)
}

/// The view of one number by id (after its insert).
pub(super) async fn number(c: &Conn, number_id: i64) -> Result<NumberView, Fail> {
    first(c, crate::rows::NUMBER.postgres(), &[&number_id])
        .await?
        .ok_or_else(|| Fail::Store(StoreError::Corrupt("issued number not found".into())))
}

/// Maps the columns of [`AUTHORIZATION_COLUMNS`] (others may follow them).
pub(super) fn authorization_row(row: &Row) -> Result<AuthorizationView, Fail> {
    Ok(AuthorizationView::decode(row)?)
}

pub(super) async fn authorization(
    c: &Conn,
    merchant_id: i64,
    authorization_id: i64,
) -> Result<Option<AuthorizationView>, Fail> {
    let sql = crate::rows::AUTHORIZATION.postgres();
    first(c, sql, &[&authorization_id, &merchant_id]).await
}

pub(super) async fn session_client(
    c: &Conn,
    token_hash: &[u8; 32],
    now_s: i64,
) -> Result<Option<i64>, Fail> {
    let sql = crate::rows::SESSION_CLIENT.postgres();
    let row = opt_row(c, sql, &[&&token_hash[..], &now_s]).await?;
    Ok(row.map(|row| row.column("client_id")).transpose()?)
}

/// Claims pending messages (see [`crate::Outbox::claim_messages`]); rows another
/// transaction is claiming are skipped, not waited for.
pub(super) async fn claim_messages(
    c: &Conn,
    now_s: i64,
    lease_s: i64,
    limit: u32,
) -> Result<Vec<StoredMessage>, Fail> {
    let sql = format!(
        "UPDATE messages SET claimed_until = $1 + $2 WHERE id IN (SELECT id FROM messages \
         WHERE state = 'pending' AND claimed_until <= $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING {MESSAGE_COLUMNS}"
    );
    let mut claimed: Vec<StoredMessage> =
        all(c, &sql, &[&now_s, &lease_s, &i64::from(limit)]).await?;
    claimed.sort_by_key(|message| message.id);
    Ok(claimed)
}

/// Recomputes every ledger invariant from the rows; see [`LedgerReport`]. The same rules
/// as SQLite's, read in one repeatable-read snapshot so that a busy ledger is seen whole.
pub(super) async fn check_ledger(c: &mut Conn) -> Result<LedgerReport, Fail> {
    let transaction = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    // The checks read whole tables: let the planner scan and hash (the connection's
    // settings favour key lookups, see `PostgresStore::open`).
    transaction
        .batch_execute(
            "SET LOCAL enable_seqscan = on; SET LOCAL enable_hashjoin = on; \
             SET LOCAL enable_mergejoin = on; SET LOCAL plan_cache_mode = auto",
        )
        .await?;
    let mut report = LedgerReport::default();
    for row in transaction
        .query(
            "SELECT currency, SUM(balance)::BIGINT FROM accounts GROUP BY currency ORDER BY currency",
            &[],
        )
        .await?
    {
        report.currency_sums.push((col(&row, 0)?, col(&row, 1)?));
    }
    let checks = crate::shared::LEDGER_CHECKS;
    for (rule, sql) in checks {
        for row in transaction.query(*sql, &[]).await? {
            let id: i64 = col(&row, 0)?;
            report.violations.push(format!("{rule}: id {id}"));
        }
    }
    transaction.commit().await?;
    Ok(report)
}
