//! What both backends share of their SQL: statements written once, and rows read by
//! column name whatever the driver.
//!
//! A [`Sql`] is written in PostgreSQL's form (`$1`, `$2`, ...; no `$` in its string
//! literals); SQLite's form (`?1`, `?2`, ...) is derived from it once, on first use. (SQLite would take `$1` as a *named*
//! parameter and number such names by first appearance, not by their digits.) A statement
//! that needs syntax of one database only (`::BIGINT` casts, `FOR UPDATE`, `RETURNING`
//! of one of them) stays in that backend's files: [`Sql::new`] refuses casts at build time.
//!
//! [`ReadRow`] reads a column by name from a row of either driver, converting what the two
//! databases store differently (SQLite's booleans are the integers 0 and 1; a few
//! PostgreSQL columns are `SMALLINT`; unsigned values are stored as signed integers). A
//! missing column or a value of the wrong type or range is [`StoreError::Corrupt`]: a bug
//! or damaged data, never an outage.

use crate::StoreError;
use rusqlite::types::ValueRef;
use std::borrow::Cow;
use std::sync::OnceLock;
use tokio_postgres::types::{FromSql, Type};

/// One statement for both backends, written with PostgreSQL's numbered parameters; or,
/// where the two databases need different syntax, one form for each ([`Sql::each`]).
pub(crate) struct Sql {
    postgres: Cow<'static, str>,
    sqlite: SqliteForm,
}

enum SqliteForm {
    Derived(OnceLock<String>),
    Given(Cow<'static, str>),
}

impl Sql {
    /// A shared statement. Fails the build (in a `static`) unless every `$` numbers a
    /// parameter (none in a string literal), no `?` stands outside literals, and no `::`
    /// cast is used.
    pub(crate) const fn new(postgres: &'static str) -> Sql {
        assert!(
            shareable(postgres.as_bytes()),
            "not a statement both backends take"
        );
        Sql {
            postgres: Cow::Borrowed(postgres),
            sqlite: SqliteForm::Derived(OnceLock::new()),
        }
    }

    /// A statement whose two forms differ (a lock only PostgreSQL takes, a cast only it
    /// needs): the same parameters, `$N` in one and `?N` in the other.
    pub(crate) const fn each(postgres: &'static str, sqlite: &'static str) -> Sql {
        Sql {
            postgres: Cow::Borrowed(postgres),
            sqlite: SqliteForm::Given(Cow::Borrowed(sqlite)),
        }
    }

    /// [`Sql::each`] for two forms made at run time.
    pub(crate) fn each_built(postgres: String, sqlite: String) -> Sql {
        Sql {
            postgres: Cow::Owned(postgres),
            sqlite: SqliteForm::Given(Cow::Owned(sqlite)),
        }
    }

    /// A statement made at run time, in PostgreSQL's form (the tests' own).
    #[cfg(test)]
    pub(crate) fn built(postgres: String) -> Sql {
        debug_assert!(
            shareable(postgres.as_bytes()),
            "not a statement both backends take"
        );
        Sql {
            postgres: Cow::Owned(postgres),
            sqlite: SqliteForm::Derived(OnceLock::new()),
        }
    }

    /// The statement as PostgreSQL takes it.
    pub(crate) fn postgres(&self) -> &str {
        &self.postgres
    }

    /// The statement as SQLite takes it: each `$N` becomes `?N` (every `$` is a
    /// parameter's, see [`Sql::new`]).
    pub(crate) fn sqlite(&self) -> &str {
        match &self.sqlite {
            SqliteForm::Derived(derived) => derived.get_or_init(|| self.postgres.replace('$', "?")),
            SqliteForm::Given(given) => given,
        }
    }
}

/// True if `sql` holds only what both databases read the same way (see [`Sql::new`]).
const fn shareable(sql: &[u8]) -> bool {
    let mut quote = 0u8;
    let mut at = 0;
    while at < sql.len() {
        let byte = sql[at];
        let next = if at + 1 < sql.len() { sql[at + 1] } else { 0 };
        if quote != 0 {
            if byte == b'$' {
                return false;
            } else if byte == quote {
                quote = 0;
            }
        } else if byte == b'\'' || byte == b'"' {
            quote = byte;
        } else if byte == b'?'
            || (byte == b':' && next == b':')
            || (byte == b'$' && !(next.is_ascii_digit() && next != b'0'))
        {
            return false;
        }
        at += 1;
    }
    quote == 0
}

/// A stored value that breaks a rule, named by what it is.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("bad stored value: {what}"))
}

/// A value made from one row of either driver, by column name.
pub(crate) trait Decode: Sized {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError>;
}

/// A row of either driver, read by column name.
pub(crate) trait ReadRow {
    /// The value of column `name`; a missing column or a value of the wrong type or out of
    /// range is corrupt.
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError>;
}

impl ReadRow for rusqlite::Row<'_> {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        let statement = self.as_ref();
        let index = position(statement.column_count(), name, |index| {
            statement.column_name(index).ok()
        })
        .ok_or_else(|| missing(name))?;
        T::from_sqlite(self, index).map_err(|detail| wrong(name, &detail))
    }
}

impl ReadRow for tokio_postgres::Row {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        let columns = self.columns();
        let index = position(columns.len(), name, |index| {
            columns.get(index).map(|column| column.name())
        })
        .ok_or_else(|| missing(name))?;
        T::from_postgres(self, index).map_err(|detail| wrong(name, &detail))
    }
}

thread_local! {
    /// Just after the column last read by name: decoders read their columns in the order
    /// their SELECT lists them, so the next one is nearly always there. Only a guess,
    /// checked by name; a miss costs the scan it would have saved.
    static NEXT_COLUMN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The index of column `name` (ASCII case ignored, as SQLite's names are) among `count`,
/// trying first the one after the column last read (one comparison instead of a scan
/// on the hot paths: a number row is read for every authorization).
fn position<'a>(
    count: usize,
    name: &str,
    name_at: impl Fn(usize) -> Option<&'a str>,
) -> Option<usize> {
    let is = |index: usize| name_at(index).is_some_and(|found| found.eq_ignore_ascii_case(name));
    let guess = NEXT_COLUMN.with(std::cell::Cell::get);
    let index = if guess < count && is(guess) {
        guess
    } else {
        (0..count).find(|index| is(*index))?
    };
    // A name two columns share (a join's `id`, `state`...) would be read from whichever
    // the guess lands on: such a statement must alias one of them. Every test reads
    // through here, so a statement that breaks this fails its tests.
    debug_assert!(
        (0..count).filter(|index| is(*index)).count() == 1,
        "column {name} appears twice in the row: alias one"
    );
    NEXT_COLUMN.with(|next| next.set(index + 1));
    Some(index)
}

fn missing(name: &str) -> StoreError {
    StoreError::Corrupt(format!("no column {name} in the row"))
}

fn wrong(name: &str, detail: &str) -> StoreError {
    StoreError::Corrupt(format!("column {name}: {detail}"))
}

/// A value one column holds, as each driver gives it.
pub(crate) trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String>;
    fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, String>;
}

impl Column for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
        row.get(index).map_err(|e| e.to_string())
    }

    fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, String> {
        let type_ = row.columns().get(index).map(|column| column.type_());
        match type_ {
            Some(&Type::INT2) => row.try_get::<_, i16>(index).map(i64::from),
            Some(&Type::INT4) => row.try_get::<_, i32>(index).map(i64::from),
            _ => row.try_get::<_, i64>(index),
        }
        .map_err(|e| e.to_string())
    }
}

/// Integers stored as signed 64-bit values (or narrower on PostgreSQL); out of range is
/// corrupt, never clamped.
macro_rules! narrowed {
    ($($type:ty),*) => {$(
        impl Column for $type {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
                narrow(i64::from_sqlite(row, index)?)
            }

            fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, String> {
                narrow(i64::from_postgres(row, index)?)
            }
        }
    )*};
}

narrowed!(u8, u16, u32, u64, i32);

fn narrow<T: TryFrom<i64>>(wide: i64) -> Result<T, String> {
    T::try_from(wide).map_err(|_| format!("{wide} is out of range"))
}

impl Column for bool {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
        match i64::from_sqlite(row, index)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(format!("{other} is not a boolean")),
        }
    }

    fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, String> {
        row.try_get(index).map_err(|e| e.to_string())
    }
}

/// Types both drivers convert alike.
macro_rules! direct {
    ($($type:ty),*) => {$(
        impl Column for $type {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
                row.get(index).map_err(|e| e.to_string())
            }

            fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, String> {
                row.try_get(index).map_err(|e| e.to_string())
            }
        }
    )*};
}

direct!(String, Vec<u8>);

impl<const N: usize> Column for [u8; N] {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
        let bytes = row.get_ref(index).map_err(|e| e.to_string())?;
        let bytes = bytes.as_blob().map_err(|e| e.to_string())?;
        exact(bytes)
    }

    fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, String> {
        exact(row.try_get::<_, &[u8]>(index).map_err(|e| e.to_string())?)
    }
}

fn exact<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    bytes
        .try_into()
        .map_err(|_| format!("{} bytes where {N} belong", bytes.len()))
}

impl<T: Column> Column for Option<T> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
        match row.get_ref(index).map_err(|e| e.to_string())? {
            ValueRef::Null => Ok(None),
            _ => T::from_sqlite(row, index).map(Some),
        }
    }

    fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, String> {
        match row.try_get::<_, Option<Present>>(index) {
            Ok(None) => Ok(None),
            _ => T::from_postgres(row, index).map(Some),
        }
    }
}

/// A PostgreSQL value of any type, known only to be there (not NULL).
struct Present;

impl<'a> FromSql<'a> for Present {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Present)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A decoding failure where rusqlite wants its own error (inside its closures); it comes
/// back out as the same [`StoreError`] (see `From<rusqlite::Error>`).
pub(crate) fn into_sqlite(error: StoreError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Null, Box::new(error))
}

#[cfg(test)]
mod tests;
