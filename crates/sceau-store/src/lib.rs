//! sceau's store: everything that must survive a restart.
//!
//! One small trait per capability ([`capabilities`]: parties, sign-ins, card payments,
//! the outbox, checkouts, webhooks, clearing, certificates, signatures, the transparency
//! log, evidence, the ledger's check), each implemented by every backend in one file per
//! capability; [`Store`] is their sum. One conformance suite (`tests/conformance`) that
//! every backend passes: SQLite ([`SqliteStore`], the embedded default) and PostgreSQL
//! ([`PostgresStore`]). The notary's [`Archive`] is a capability apart (content, which
//! streams, rather than records): [`sqlite::SqliteArchive`] keeps small objects in rows
//! of a `SqliteStore` and larger ones in files of a directory, referenced by its rows;
//! [`PostgresStore`] keeps them in its database. Both share the store's database, which
//! is what lets a notarization extend its objects' retention in its own transaction.
//!
//! Writes are *commands* executed by one writer per database in *batches*: the commands
//! waiting at a given moment run inside one transaction, each in its own savepoint so that
//! it succeeds or fails alone, and the batch is committed with one fsync before any of
//! them is answered (group commit). Nothing is acknowledged before it is durable.

mod archive;
pub mod capabilities;
mod error;
pub mod evidence;
mod log;
mod metrics;
mod model;
mod ops;
pub mod postgres;
mod rows;
mod shared;
mod sql;
pub mod sqlite;
mod tx;

pub use archive::{ArchiveReader, ByteStream};
pub use capabilities::*;
pub use error::{ArchiveError, StoreError};
pub use model::*;
pub use ops::envelopes::SIGNER_NOT_VALID;
pub use postgres::{PostgresSettings, PostgresStore};
pub use shared::CHECKOUT_FAILED_SEAL;
pub use sqlite::SqliteStore;

/// Everything the server keeps: the sum of the capabilities (see [`capabilities`]).
pub trait Store:
    Parties
    + SignIns
    + CardPayments
    + Outbox
    + Checkouts
    + Webhooks
    + Clearing
    + Certificates
    + Signatures
    + Envelopes
    + Deliveries
    + TransparencyLog
    + Evidence
    + Ledger
    + Purging
    + Operators
{
}

impl<T> Store for T where
    T: Parties
        + SignIns
        + CardPayments
        + Outbox
        + Checkouts
        + Webhooks
        + Clearing
        + Certificates
        + Signatures
        + Envelopes
        + Deliveries
        + TransparencyLog
        + Evidence
        + Ledger
        + Purging
        + Operators
{
}
