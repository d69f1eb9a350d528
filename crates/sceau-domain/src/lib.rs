//! sceau's pure rules and types.
//!
//! Nothing here does I/O, reads the clock or draws random numbers: time comes in as
//! `now_s` (Unix seconds) and entropy as byte arrays, so every rule is a plain function
//! that a test can call with any input.

/// What a page shows of an address it cannot read as one (none sceau writes).
pub const NOTHING_SHOWN: &str = "•••";

pub mod bank;
pub mod card;
pub mod certificate;
pub mod checkout;
pub mod clearing;
pub mod decline;
pub mod delivery;
pub mod email;
pub mod envelope;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod operator;
pub mod phone;
pub mod policy;
pub mod reach;
pub mod retention;
pub mod seal;
pub mod sign_in;
pub mod signature;
pub mod text;
pub mod webhook_secret;
pub mod words;

pub use card::{CardNumber, Expiry, SecurityCode};
pub use decline::{Decline, Rejection};
pub use money::{Currency, Money, MoneyError};
pub use phone::PhoneNumber;
pub use policy::{MerchantLock, NumberState, UsagePolicy};
