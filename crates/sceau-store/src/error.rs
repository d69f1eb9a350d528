/// What can go wrong in the store. Business outcomes (declines, rejections) are not
/// errors: they are [`crate::Outcome`]s and are committed like any other result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation; nothing was applied.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule refused the write (the code says which).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The idempotency key was used before for a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    /// A stored row breaks a rule it was written under.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database was written by a newer sceau.
    #[error("database schema version {found} is newer than this binary's {known}")]
    SchemaTooNew { found: i64, known: i64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}
