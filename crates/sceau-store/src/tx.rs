//! One transaction, whatever the database: the small interface through which every store
//! operation is written once (`crate::ops`), and which each backend implements for its
//! driver.
//!
//! A [`Tx`] runs a [`Sql`] with [`Value`]s and reads rows by column name
//! ([`ReadRow`]). SQLite's driver is synchronous: its futures are ready when made (the
//! statement runs when the method is called), and the writer thread drives an operation
//! to its end in one poll ([`run_now`]). PostgreSQL's are real round trips on a lane's or
//! a reader's connection.
//!
//! What the backends still do differently is said by [`Tx::locks_rows`] (PostgreSQL locks
//! the rows a command names before it runs; SQLite's one writer holds the whole
//! database) and, for a statement, by [`Sql::each`].

use crate::StoreError;
use crate::sql::{ReadRow, Sql};
use std::future::Future;

/// Why a statement or an operation failed: a rule of the store, or the driver's own error
/// (kept whole, so that a backend can tell a lost race from a broken constraint).
#[derive(Debug)]
pub(crate) enum Fail {
    Store(StoreError),
    Sqlite(rusqlite::Error),
    Postgres(tokio_postgres::Error),
}

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Fail::Store(error)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(error: rusqlite::Error) -> Self {
        Fail::Sqlite(error)
    }
}

impl From<tokio_postgres::Error> for Fail {
    fn from(error: tokio_postgres::Error) -> Self {
        Fail::Postgres(error)
    }
}

impl Fail {
    /// What the failure means to the caller (see [`StoreError`]).
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            Fail::Store(error) => error,
            Fail::Sqlite(error) => StoreError::from(error),
            Fail::Postgres(error) => crate::postgres::classify(error),
        }
    }

    /// True if PostgreSQL refused the statement only because an earlier one of the
    /// transaction failed.
    pub(crate) fn is_aborted_echo(&self) -> bool {
        matches!(self, Fail::Postgres(error) if error.code()
            == Some(&tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION))
    }

    /// True if a unique index or constraint refused the write: SQLite names its column
    /// (`table.column`) in the message, PostgreSQL names the constraint or index
    /// (`table_column_key`, or the name the schema gave it).
    pub(crate) fn is_unique_violation(&self, sqlite_column: &str, postgres_index: &str) -> bool {
        match self {
            Fail::Store(_) => false,
            Fail::Sqlite(rusqlite::Error::SqliteFailure(failure, Some(message))) => {
                failure.code == rusqlite::ErrorCode::ConstraintViolation
                    && message.contains(sqlite_column)
            }
            Fail::Sqlite(_) => false,
            Fail::Postgres(error) => error.as_db_error().is_some_and(|db| {
                *db.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
                    && db.constraint() == Some(postgres_index)
            }),
        }
    }
}

/// The results of two statements sent together (`futures_util::future::join`): both
/// values, or the failure that caused the other. On PostgreSQL a statement that follows a
/// failed one in the transaction fails only with "current transaction is aborted"; the
/// error kept is the cause (a deadlock the batch runs again, a constraint a caller
/// reads), never that echo.
pub(crate) fn both<A, B>(a: Result<A, Fail>, b: Result<B, Fail>) -> Result<(A, B), Fail> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(a), Err(b)) if a.is_aborted_echo() => Err(b),
        (Err(failure), _) | (_, Err(failure)) => Err(failure),
    }
}

/// [`both`] for three statements sent together.
pub(crate) fn all3<A, B, C>(
    a: Result<A, Fail>,
    b: Result<B, Fail>,
    c: Result<C, Fail>,
) -> Result<(A, B, C), Fail> {
    let ((a, b), c) = both(both(a, b), c)?;
    Ok((a, b, c))
}

/// A broken rule of the store, as a [`Fail`].
pub(crate) fn broken(what: &str) -> Fail {
    Fail::Store(StoreError::Corrupt(what.into()))
}

/// A parameter of a statement, for either driver. Integers adapt to the column's width
/// on PostgreSQL (`SMALLINT`, `INTEGER`, `BIGINT`); an unsigned value too large for a
/// signed 64-bit column is refused, never wrapped.
#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Unsigned(u64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
    /// Integers for one statement to take many rows: a `BIGINT[]` on PostgreSQL
    /// (`unnest`, `ANY`), a JSON array on SQLite (`json_each`).
    Ids(&'a [i64]),
}

/// Says what a parameter is, never what it holds: parameters carry seals' nonces, token
/// hashes and sealed messages, which must not reach a log.
impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(_) | Value::Unsigned(_) => f.write_str("integer"),
            Value::Bool(_) => f.write_str("boolean"),
            Value::Text(text) => write!(f, "text of {} bytes", text.len()),
            Value::Bytes(bytes) => write!(f, "{} bytes", bytes.len()),
            Value::Ids(ids) => write!(f, "{} ids", ids.len()),
        }
    }
}

macro_rules! signed {
    ($($type:ty),*) => {$(
        impl From<$type> for Value<'_> {
            fn from(value: $type) -> Self {
                Value::Int(i64::from(value))
            }
        }
    )*};
}

signed!(i64, i32, i16, u32, u16, u8);

impl From<u64> for Value<'_> {
    fn from(value: u64) -> Self {
        Value::Unsigned(value)
    }
}

impl From<usize> for Value<'_> {
    fn from(value: usize) -> Self {
        Value::Unsigned(value as u64)
    }
}

impl From<bool> for Value<'_> {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(value: &'a str) -> Self {
        Value::Text(value)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(value: &'a String) -> Self {
        Value::Text(value)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(value: &'a [u8]) -> Self {
        Value::Bytes(value)
    }
}

impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(value: &'a Vec<u8>) -> Self {
        Value::Bytes(value)
    }
}

impl<'a> From<&'a [i64]> for Value<'a> {
    fn from(value: &'a [i64]) -> Self {
        Value::Ids(value)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Value<'a> {
    fn from(value: &'a [u8; N]) -> Self {
        Value::Bytes(value)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl<'a, T: Copy + Into<Value<'a>>> From<&Option<T>> for Value<'a> {
    fn from(value: &Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(value: &'a Option<String>) -> Self {
        value.as_deref().map_or(Value::Null, Value::Text)
    }
}

impl<'a> From<&'a Option<Vec<u8>>> for Value<'a> {
    fn from(value: &'a Option<Vec<u8>>) -> Self {
        value.as_deref().map_or(Value::Null, Value::Bytes)
    }
}

/// The parameters of a statement: `args![a, b, c]` is `&[Value::from(a), ...]`.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::tx::Value::from($value)),*][..]
    };
}
pub(crate) use args;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match *self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(value) => ToSqlOutput::from(value),
            Value::Unsigned(value) => ToSqlOutput::from(
                i64::try_from(value)
                    .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?,
            ),
            Value::Bool(value) => ToSqlOutput::from(i64::from(value)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Value::Ids(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                ToSqlOutput::from(format!("[{}]", ids.join(",")))
            }
        })
    }
}

impl tokio_postgres::types::ToSql for Value<'_> {
    fn to_sql(
        &self,
        type_: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{IsNull, ToSql, Type};
        // What the driver would check from the Rust type, checked from the value: a
        // parameter of another type is refused, never written as something else.
        let fits = match self {
            Value::Null => true,
            Value::Int(_) | Value::Unsigned(_) => {
                matches!(*type_, Type::INT2 | Type::INT4 | Type::INT8)
            }
            Value::Bool(_) => *type_ == Type::BOOL,
            Value::Text(_) => <&str as ToSql>::accepts(type_),
            Value::Bytes(_) => <&[u8] as ToSql>::accepts(type_),
            Value::Ids(_) => *type_ == Type::INT8_ARRAY,
        };
        if !fits {
            return Err(format!("a parameter ({self:?}) where {type_} belongs").into());
        }
        let integer = |value: i64, out: &mut bytes::BytesMut| match *type_ {
            Type::INT2 => i16::try_from(value)?.to_sql(type_, out),
            Type::INT4 => i32::try_from(value)?.to_sql(type_, out),
            _ => value.to_sql(type_, out),
        };
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(value) => integer(value, out),
            Value::Unsigned(value) => integer(i64::try_from(value)?, out),
            Value::Bool(value) => value.to_sql(type_, out),
            Value::Text(text) => text.to_sql(type_, out),
            Value::Bytes(bytes) => bytes.to_sql(type_, out),
            Value::Ids(ids) => ids.to_sql(type_, out),
        }
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// One transaction (or one read connection) of either backend.
pub(crate) trait Tx {
    /// A row as the driver hands it out.
    type Row<'r>: ReadRow;

    /// True if the rows a command touches were locked before it ran and must be checked
    /// for (PostgreSQL: `locked` names the accounts its batch locked); false where the
    /// writer holds the whole database (SQLite).
    fn locks_rows(&self) -> bool;

    /// The accounts locked for this command (empty where [`Tx::locks_rows`] is false).
    fn locked(&self) -> &[i64];

    /// Runs `sql` and decodes every row with `each`.
    fn rows<T, F>(
        &self,
        sql: &Sql,
        args: &[Value<'_>],
        each: F,
    ) -> impl Future<Output = Result<Vec<T>, Fail>> + Send
    where
        T: Send,
        F: FnMut(&Self::Row<'_>) -> Result<T, StoreError> + Send;

    /// Runs `sql`, which finds at most one row (a key, `LIMIT 1` or an aggregate:
    /// PostgreSQL refuses a second), and decodes it with `decode`.
    fn row<T, F>(
        &self,
        sql: &Sql,
        args: &[Value<'_>],
        decode: F,
    ) -> impl Future<Output = Result<Option<T>, Fail>> + Send
    where
        T: Send,
        F: FnOnce(&Self::Row<'_>) -> Result<T, StoreError> + Send;

    /// Runs `sql`; the number of rows it changed.
    fn execute(
        &self,
        sql: &Sql,
        args: &[Value<'_>],
    ) -> impl Future<Output = Result<u64, Fail>> + Send;

    /// Writes the evidence records of `events`, in order, each after its subject's last
    /// one (`crate::evidence` says what they hold; each backend writes them its own way:
    /// SQLite row by row, PostgreSQL a group in two statements).
    fn record(
        &self,
        events: Vec<crate::evidence::Event>,
    ) -> impl Future<Output = Result<Vec<crate::model::EvidenceRecord>, Fail>> + Send;
}

/// Writes the evidence record of one event (see [`Tx::record`]).
pub(crate) async fn record(
    tx: &impl Tx,
    event: crate::evidence::Event,
) -> Result<crate::model::EvidenceRecord, Fail> {
    tx.record(vec![event])
        .await?
        .pop()
        .ok_or_else(|| broken("an evidence record was not written"))
}

/// True if the account `id` may be written by this command: locked for it, or the
/// backend locks nothing row by row.
pub(crate) fn holds(tx: &impl Tx, account_id: i64) -> bool {
    !tx.locks_rows() || tx.locked().contains(&account_id)
}

/// Every row `sql` finds, decoded as `T`.
pub(crate) async fn all<T: crate::sql::Decode + Send>(
    tx: &impl Tx,
    sql: &Sql,
    args: &[Value<'_>],
) -> Result<Vec<T>, Fail> {
    tx.rows(sql, args, |row| T::decode(row)).await
}

/// The first row `sql` finds, decoded as `T`.
pub(crate) async fn first<T: crate::sql::Decode + Send>(
    tx: &impl Tx,
    sql: &Sql,
    args: &[Value<'_>],
) -> Result<Option<T>, Fail> {
    tx.row(sql, args, |row| T::decode(row)).await
}

/// The first row's column `name`, if there is a row.
pub(crate) async fn scalar<T: crate::sql::Column + Send>(
    tx: &impl Tx,
    sql: &Sql,
    args: &[Value<'_>],
    name: &str,
) -> Result<Option<T>, Fail> {
    tx.row(sql, args, |row| row.column(name)).await
}

/// Drives an operation on SQLite's writer or a reader to its end: every future of the
/// SQLite [`Tx`] is ready when made, so one poll completes it.
pub(crate) fn run_now<T>(
    operation: impl Future<Output = Result<T, Fail>>,
) -> Result<T, StoreError> {
    let mut operation = std::pin::pin!(operation);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match operation.as_mut().poll(&mut context) {
        std::task::Poll::Ready(done) => done.map_err(Fail::into_store_error),
        std::task::Poll::Pending => Err(StoreError::Corrupt(
            "a SQLite operation waited on something".into(),
        )),
    }
}
