//! The store's conformance suite: what every backend of [`Store`] must do.
//!
//! Every test goes through `Arc<dyn Store>` and runs once per backend returned by
//! [`backends`], so a new backend (PostgreSQL next) is tested by adding it there and
//! nothing else. Only the tests named `sqlite_*` are specific to one backend.
//!
//! Time is a parameter (`now_s`) everywhere: tests move it forward, they never sleep.
//!
//! One module per capability of the store, each test with the capability whose rule it
//! checks; [`fixtures`] holds the backends, the fixture and the builders they share.
//!
//! [`Store`]: sceau_store::Store
//! [`backends`]: fixtures::backends

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;

mod archive;
mod card_payments;
mod certificates;
mod checkouts;
mod clearing;
mod deliveries;
mod envelopes;
mod evidence;
mod ledger;
mod log;
mod operators;
mod outbox;
mod parties;
mod retention;
mod sign_in;
mod signatures;
mod sqlite;
mod webhooks;
