/// What can go wrong in the store. Business outcomes (declines, rejections) are not
/// errors: they are [`crate::Outcome`]s and are committed like any other result.
///
/// Only [`StoreError::Unavailable`] means "try again": the database could not be reached
/// or was busy, and nothing was applied. A statement the database refused (a constraint
/// sceau should never break, a value of the wrong type) and a stored value that breaks a
/// rule are bugs or damage, reported as such ([`StoreError::Refused`],
/// [`StoreError::Corrupt`]), never as an outage.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is too busy; nothing was applied.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule refused the write (the code says which).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The idempotency key was used before for a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    /// A stored row breaks a rule it was written under, or holds a value sceau never
    /// writes.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database refused a statement: a constraint violated or a value it could not
    /// take. sceau checks its rules before it writes, so this is a bug; nothing was
    /// applied.
    #[error("the database refused a statement: {0}")]
    Refused(String),
    /// The database was written by a newer sceau.
    #[error("database schema version {found} is newer than this binary's {known}")]
    SchemaTooNew { found: i64, known: i64 },
}

impl StoreError {
    /// A stable code for logs and answers: what kind of failure this is, never its
    /// details.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "store_unavailable",
            StoreError::Conflict(code) => code,
            StoreError::IdempotencyMismatch => "idempotency_key_reused",
            StoreError::Corrupt(_) => "stored_data_inconsistent",
            StoreError::Refused(_) => "store_refused_statement",
            StoreError::SchemaTooNew { .. } => "schema_too_new",
        }
    }
}

/// Why a put to the archive stored nothing. A put that fails for any reason leaves no
/// object, no file and no row behind.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The content is not the bytes the put expected (its size or its SHA-256 differs).
    #[error(
        "the content is not the expected {} bytes of SHA-256 {}: refused, nothing kept",
        expected.size,
        hex::encode(expected.sha256)
    )]
    Mismatch {
        expected: crate::ArchivedObject,
        /// What the content was, when it ended (`None`: it ran past the expected size and
        /// was cut there).
        found: Option<crate::ArchivedObject>,
    },
    /// The content is longer than the put allows.
    #[error("the content is longer than {size_max} bytes: refused, nothing kept")]
    TooLarge { size_max: u64 },
    /// The stream of the content failed (a client that went away, a cut upload).
    #[error("reading the content failed ({0}): nothing kept")]
    Input(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ArchiveError {
    /// A stable code for logs and answers.
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::Mismatch { .. } => "archive_content_mismatch",
            ArchiveError::TooLarge { .. } => "archive_content_too_large",
            ArchiveError::Input(_) => "archive_input_failed",
            ArchiveError::Store(error) => error.code(),
        }
    }
}

/// A stored count as the `u32` it counts; one out of range is corrupt, never clamped.
pub(crate) fn stored_count(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("{what} is out of range: {value}")))
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::Error as E;
        use rusqlite::ErrorCode;
        // A decoder's own failure, carried through rusqlite's closures.
        if let E::FromSqlConversionFailure(_, _, inner) = &error
            && let Some(store_error) = inner.downcast_ref::<StoreError>()
        {
            return store_error.clone();
        }
        match &error {
            E::SqliteFailure(failure, _) => match failure.code {
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::OutOfMemory
                | ErrorCode::ReadOnly
                | ErrorCode::FileLockingProtocolFailed
                | ErrorCode::PermissionDenied
                | ErrorCode::OperationInterrupted => StoreError::Unavailable(error.to_string()),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                    StoreError::Corrupt(error.to_string())
                }
                _ => StoreError::Refused(error.to_string()),
            },
            // A column holding what its reader cannot take: a value sceau never writes.
            E::FromSqlConversionFailure(..)
            | E::IntegralValueOutOfRange(..)
            | E::InvalidColumnType(..)
            | E::InvalidColumnName(..)
            | E::Utf8Error(..) => StoreError::Corrupt(error.to_string()),
            _ => StoreError::Refused(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn a_broken_constraint_is_a_refusal_not_an_outage() -> Result<(), rusqlite::Error> {
        let connection = Connection::open_in_memory()?;
        connection.execute_batch("CREATE TABLE t (n INTEGER NOT NULL CHECK (n >= 0))")?;
        let Err(error) = connection.execute("INSERT INTO t (n) VALUES (-1)", []) else {
            unreachable!("the CHECK holds");
        };
        let error = StoreError::from(error);
        assert!(matches!(error, StoreError::Refused(_)), "{error:?}");
        assert_eq!(error.code(), "store_refused_statement");
        Ok(())
    }

    #[test]
    fn a_value_of_the_wrong_type_is_corrupt() -> Result<(), rusqlite::Error> {
        let connection = Connection::open_in_memory()?;
        let Err(error) = connection.query_row("SELECT 'text'", [], |row| row.get::<_, i64>(0))
        else {
            unreachable!("text is not an integer");
        };
        assert!(matches!(StoreError::from(error), StoreError::Corrupt(_)));
        Ok(())
    }

    #[test]
    fn a_busy_database_is_unavailable() -> Result<(), rusqlite::Error> {
        let dir =
            tempfile::tempdir().map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        let path = dir.path().join("busy.db");
        let first = Connection::open(&path)?;
        first.execute_batch(
            "CREATE TABLE t (n INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)",
        )?;
        let second = Connection::open(&path)?;
        second.busy_timeout(std::time::Duration::ZERO)?;
        let Err(error) = second.execute("INSERT INTO t VALUES (2)", []) else {
            unreachable!("the first connection holds the write lock");
        };
        assert!(matches!(
            StoreError::from(error),
            StoreError::Unavailable(_)
        ));
        Ok(())
    }
}
