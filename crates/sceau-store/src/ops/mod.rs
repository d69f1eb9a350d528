//! Every store operation, written once for both backends over a [`Tx`](crate::tx::Tx):
//! one file per capability, as in `capabilities.rs`. A backend's file of the same name
//! only says how it runs each operation (SQLite: on its writer or a reader;
//! PostgreSQL: in a lane's batch, after locking what the operation's `Guard` names).
//!
//! What a backend still does its own way lives in the backend: PostgreSQL's waves of
//! authorizations and its grouped evidence writes, SQLite's row-by-row equivalents
//! reached through [`Tx::record`](crate::tx::Tx::record).

pub(crate) mod accounts;
pub(crate) mod archive;
pub(crate) mod card_payments;
pub(crate) mod certificates;
pub(crate) mod checkouts;
pub(crate) mod clearing;
pub(crate) mod clients;
pub(crate) mod deliveries;
pub(crate) mod envelopes;
pub(crate) mod evidence;
pub(crate) mod holds;
pub(crate) mod ledger;
pub(crate) mod log;
pub(crate) mod operators;
pub(crate) mod outbox;
pub(crate) mod parties;
pub(crate) mod reads;
pub(crate) mod retention;
pub(crate) mod sign_in;
pub(crate) mod signatures;
pub(crate) mod webhooks;
