//! What the channel's integration tests share: real components they start themselves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod smsc;
pub mod smtp;
