//! The second channel: "send this text to this unique address".
//!
//! Flows never talk to a channel directly. A use case writes its message into the store's
//! outbox in the same transaction as the change it reports (so a committed change always
//! has its message and a rolled-back one never does); the server's dispatcher then hands
//! each pending message to the configured [`SecondChannel`]. Today there is the
//! development channel, which delivers to the phone simulator; SMPP, HTTP SMS gateways and
//! SMTP implement the same trait later.

use async_trait::async_trait;
use sceau_domain::PhoneNumber;

/// A text on its way to a unique address.
pub struct OutgoingText<'a> {
    pub message_id: i64,
    pub to: &'a PhoneNumber,
    pub text: &'a str,
}

/// What the channel says about a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The channel's own reference for the message (an SMSC message id, say).
    pub reference: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Worth trying again later (network, throttling).
    #[error("channel temporarily unavailable: {0}")]
    Transient(String),
    /// Will never succeed (the address does not exist, the text is refused).
    #[error("channel refused the message: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait SecondChannel: Send + Sync + 'static {
    /// A short name for logs and the outbox ("dev-phone", "smpp", ...).
    fn name(&self) -> &'static str;

    /// Hands one text to the channel. Returning `Ok` means the channel has taken
    /// responsibility for it; it does not mean the phone has shown it yet.
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Accepted, ChannelError>;
}

/// The development channel: every message is delivered to the phone simulator, which
/// reads the outbox (`/phone` and `sceau admin outbox`). No network, nothing leaves the
/// machine; the message body stays sealed in the store.
#[derive(Debug, Default, Clone, Copy)]
pub struct DevPhone;

#[async_trait]
impl SecondChannel for DevPhone {
    fn name(&self) -> &'static str {
        "dev-phone"
    }

    async fn send(&self, text: &OutgoingText<'_>) -> Result<Accepted, ChannelError> {
        Ok(Accepted {
            reference: format!("dev-{}", text.message_id),
        })
    }
}
