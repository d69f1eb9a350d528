//! Queries that only read, and the mapping of rows to the store's values. They take any
//! connection of the pool; none of them needs a transaction.

use super::{Conn, Fail, Params, opt_row, rows};
use crate::StoreError;
use crate::model::*;
use crate::rows::CLIENT_SELECT;
use crate::sql::Decode;
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
