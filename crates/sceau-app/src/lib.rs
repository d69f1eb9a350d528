//! sceau's use cases and background workers, independent of HTTP: the server's handlers,
//! the admin CLI, the demo and the benchmark all go through [`Service`]. What a use case
//! refuses is an [`AppError`], with a stable code; how it travels is the caller's affair.

pub mod bundle;
pub mod checkout;
pub mod clearing;
pub mod clock;
pub mod delivery;
pub mod delivery_receipt;
pub mod dispatch;
pub mod envelope_bundle;
mod envelope_evidence;
pub mod error;
pub mod messages;
pub mod metrics;
pub mod notary;
pub mod operators;
pub mod parties;
pub mod payments;
pub mod receipts;
pub mod retention;
pub mod service;
pub mod sign_in;
pub mod signing;
pub mod time_stamps;
pub mod transparency;
pub mod webhooks;
pub mod white_room;

pub use error::AppError;
pub use service::{Service, Settings};
