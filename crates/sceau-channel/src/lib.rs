//! The second channel: "send this text to this unique address", and what became of it.
//!
//! Flows never talk to a channel directly. A use case writes its message into the store's
//! outbox in the same transaction as the change it reports (so a committed change always
//! has its message and a rolled-back one never does); the server's dispatcher then hands
//! each pending message to the configured routes, in order (`routes`). A route is one
//! way out: the development phone, an operator's SMSC over SMPP 3.4 (`smpp`), an HTTP SMS
//! or voice gateway (`http_gateway`); e-mail goes through SMTP (`email`). What a route
//! learns later (an SMPP delivery receipt, a gateway's status callback) comes back as a
//! [`DeliveryReport`] and is recorded against the message's parts.
//!
//! Pure pieces a route uses: `sms_text` (GSM 03.38 or UCS-2, split into concatenated
//! parts) and `receipt` (the text of a delivery receipt). Secrets a route needs (an SMSC
//! password, an API token, an SMTP password) are read through [`secret::SecretSource`]:
//! from a file or the environment, never from the configuration file, never logged.

pub mod config;
pub mod email;
pub mod http_gateway;
pub mod receipt;
pub mod routes;
pub mod secret;
pub mod smpp;
pub mod sms_text;

use async_trait::async_trait;
use sceau_domain::PhoneNumber;

/// A text on its way to a unique address.
pub struct OutgoingText<'a> {
    pub message_id: i64,
    pub to: &'a PhoneNumber,
    pub text: &'a str,
    /// When the secret in the text stops being any use (a seal's or a number's end), in
    /// seconds since the epoch: the message must not reach the phone after it. A route
    /// passes it on where it can (SMPP's validity period) and gives up waiting for a
    /// window or a bind once it has passed ([`ChannelError::Expired`]).
    pub expires_at_s: i64,
}

/// What a route says about a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's id of each part, in order (one for an HTTP gateway; one per
    /// concatenated part for SMPP); delivery reports name one of them.
    pub parts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Worth trying again later, here or on the next route (network, throttling, a lost
    /// bind, no answer in time).
    #[error("route temporarily unavailable: {0}")]
    Transient(String),
    /// Will never succeed on this route (the address or the text refused).
    #[error("route refused the message: {0}")]
    Permanent(String),
    /// The message's secret expired before the route could take it: it is not sent.
    #[error("the message expired before it could be sent")]
    Expired,
}

#[async_trait]
pub trait SecondChannel: Send + Sync + 'static {
    /// The kind of route, for logs ("dev-phone", "smpp", "http").
    fn kind(&self) -> &'static str;

    /// Whether the route places phone calls that read the text out instead of sending an
    /// SMS: a client who chose calls is sent a message on these routes first.
    fn places_calls(&self) -> bool {
        false
    }

    /// Hands one text to the route. Returning `Ok` means the route has taken
    /// responsibility for it; it does not mean the phone has shown it yet.
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Accepted, ChannelError>;

    /// Why the route cannot take a message now, when it knows (an SMPP route whose last
    /// bind the SMSC refused), for an operator; never a secret.
    fn diagnosis(&self) -> Option<String> {
        None
    }
}

/// What a route learned about a part it accepted earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The route's name in the configuration.
    pub route: String,
    /// The provider's id as the report gives it (a receipt may write in decimal an id
    /// the SMSC gave in hex, or change its case: see `receipt::id_candidates`).
    pub provider_id: String,
    pub outcome: ReportOutcome,
    /// The provider's own words for the state, for an operator to read (a receipt's
    /// `stat:` and `err:`: `UNDELIV err:001`), when it gives them; never message text.
    pub status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The phone has it.
    Delivered,
    /// The network gave up (undeliverable, rejected, deleted, expired at the SMSC).
    Failed,
    /// Not final (accepted, en route, unknown): recorded, changes nothing.
    Pending,
}

/// Where routes hand the reports they receive; the dispatcher records them.
pub type ReportSink = tokio::sync::mpsc::Sender<DeliveryReport>;

/// The development channel: every message is delivered to the phone simulator, which
/// reads the outbox (`/phone` and `sceau admin outbox`). No network, nothing leaves the
/// machine; the message body stays sealed in the store.
#[derive(Debug, Default, Clone, Copy)]
pub struct DevPhone;

#[async_trait]
impl SecondChannel for DevPhone {
    fn kind(&self) -> &'static str {
        "dev-phone"
    }

    async fn send(&self, text: &OutgoingText<'_>) -> Result<Accepted, ChannelError> {
        Ok(Accepted {
            parts: vec![format!("dev-{}", text.message_id)],
        })
    }
}
