//! Queries that only read, and the mapping of rows to the store's values.

use crate::StoreError;
use crate::model::*;
use crate::rows::CLIENT_SELECT;
use crate::sql::{Decode, into_sqlite, sqlite_all, sqlite_first};
use rusqlite::{Connection, Params, Row, ToSql};

pub(super) use crate::rows::{AUTHORIZATION_COLUMNS, NUMBER_COLUMNS};

/// The first row `sql` finds, decoded.
pub(super) fn first<T: Decode>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Option<T>, StoreError> {
    sqlite_first(connection, sql, params, |row| T::decode(row))
}

/// Every row `sql` finds, decoded.
pub(super) fn all<T: Decode>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Vec<T>, StoreError> {
    sqlite_all(connection, sql, params, |row| T::decode(row))
}

/// The client matching `condition` on `clients c` (with `?1`).
pub(super) fn client_where(
    connection: &Connection,
    condition: &str,
    value: &dyn ToSql,
) -> Result<Option<ClientRecord>, StoreError> {
    first(
        connection,
        &format!("{CLIENT_SELECT}WHERE c.{condition}"),
        [value],
    )
}

/// A number by its identifier.
pub(super) fn number(connection: &Connection, number_id: i64) -> Result<NumberView, StoreError> {
    first(connection, crate::rows::NUMBER.sqlite(), [number_id])?
        .ok_or_else(|| StoreError::Corrupt("issued number not found".into()))
}

/// Maps the columns of [`NUMBER_COLUMNS`] (others may follow them).
pub(super) fn number_row(row: &Row<'_>) -> rusqlite::Result<NumberView> {
    NumberView::decode(row).map_err(into_sqlite)
}

/// Maps the columns of [`AUTHORIZATION_COLUMNS`] (others may follow them).
pub(super) fn authorization_row(row: &Row<'_>) -> rusqlite::Result<AuthorizationView> {
    AuthorizationView::decode(row).map_err(into_sqlite)
}
