//! The configuration of one HTTP gateway route, as written in sceau's TOML file, and
//! its checks. A preset (`twilio`, `twilio-voice`, `vonage`) is expanded here into the
//! same generic description an operator could have written by hand.

use crate::secret::SecretSource;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One HTTP gateway route. With `preset`, only the preset's keys (and `base_url`,
/// `headers`, `timeout_ms`, `max_in_flight`, `ca_file`, `valid_for_s_min`,
/// `valid_for_s_max`, `callback`) apply; without it, `url` and the request's keys describe the provider.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpGatewayConfig {
    pub preset: Option<Preset>,
    /// The preset's API address (scheme and host, no path): a regional endpoint, or a
    /// test server.
    pub base_url: Option<String>,
    /// Twilio's Account SID, or Vonage's API key (identifiers, not secrets).
    pub account: Option<String>,
    /// The preset's secret: Twilio's auth token, Vonage's API secret.
    pub secret: Option<SecretSource>,
    /// The sender: a number in E.164 form or an alphanumeric sender id.
    pub from: Option<String>,
    /// Twilio: a Messaging Service SID to send from instead of `from`.
    pub messaging_service: Option<String>,
    /// Twilio voice: the language the text is read in (`<Say language>`), e.g. "fr-FR".
    pub voice_language: Option<String>,
    /// A provider described by hand (no preset) places a phone call that reads the text
    /// out. A preset says it itself (`twilio-voice` calls), and refuses this key.
    pub call: Option<bool>,

    pub method: Option<HttpMethod>,
    /// The request's URL, a template: each placeholder is percent-encoded.
    pub url: Option<String>,
    pub body: Option<BodyKind>,
    /// The body's fields (or the query's, for `body = "query"`): name → template. For
    /// `json`, any JSON shape whose strings are templates.
    pub fields: Option<serde_json::Value>,
    /// Headers: name → template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub auth: Option<AuthConfig>,
    pub success: Option<SuccessConfig>,
    pub provider_id: Option<ProviderIdConfig>,
    /// Statuses worth retrying; by default 408, 425, 429 and every 5xx.
    pub transient_statuses: Option<Vec<u16>>,

    /// How long to wait for the provider's answer (default 10 000, at most 60 000).
    pub timeout_ms: Option<u64>,
    /// The most requests on their way to the provider at once (default 8, 1 to 256).
    pub max_in_flight: Option<usize>,
    /// A PEM file of extra CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// A message with less life left is refused by this route (for the next one).
    pub valid_for_s_min: Option<i64>,
    /// `{valid_for_s}` and `{valid_for_ms}` never say more than this.
    pub valid_for_s_max: Option<i64>,
    pub callback: Option<CallbackConfig>,
}

impl HttpGatewayConfig {
    /// Whether this route places calls rather than sending SMS.
    pub fn places_calls(&self) -> bool {
        match self.preset {
            Some(preset) => preset == Preset::TwilioVoice,
            None => self.call == Some(true),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    Twilio,
    TwilioVoice,
    Vonage,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BodyKind {
    Form,
    Json,
    Query,
    None,
}

/// How the route proves who it is.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: Basic` with this user and the secret as password.
    Basic { user: String, secret: SecretSource },
    /// `Authorization: Bearer <secret>`.
    Bearer { secret: SecretSource },
    /// A header holding the secret, after an optional prefix (`"App "`).
    Header {
        name: String,
        prefix: Option<String>,
        secret: SecretSource,
    },
    /// A body (or query) field holding the secret.
    Field { name: String, secret: SecretSource },
}

/// When an answer means "sent": its status, and what its body holds.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SuccessConfig {
    /// Statuses that may mean success (default: any 2xx).
    pub statuses: Option<Vec<u16>>,
    /// A JSON pointer into the body (`*` stands for every element of an array)...
    pub json_pointer: Option<String>,
    /// ...and the value every element it points to must have.
    pub json_equals: Option<String>,
    /// Values at `json_pointer` that mean "try again later".
    #[serde(default)]
    pub json_transient: Vec<String>,
    /// Text the body must hold.
    pub body_contains: Option<String>,
    /// Text the body must not hold.
    pub body_lacks: Option<String>,
}

/// Where the provider's id of the message is: exactly one of the two.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProviderIdConfig {
    /// A JSON pointer into the answer (`*` for every element: one id per part).
    pub json_pointer: Option<String>,
    /// A header of the answer.
    pub header: Option<String>,
}

/// The route's status callbacks (`POST /channel/{route}/status`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CallbackConfig {
    /// The public URL the provider calls, exactly as it calls it.
    pub url: String,
    /// How a callback proves it comes from the provider (a preset sets it).
    pub signature: Option<SignatureKind>,
    /// The key of the signature (Twilio: the auth token by default).
    pub secret: Option<SecretSource>,
    /// Vonage: the signature method set in its dashboard (default md5hash).
    pub signature_method: Option<VonageSignatureMethod>,
    /// How far a signed time may be from ours, in seconds (default 300).
    pub tolerance_s: Option<i64>,
    /// The field with the provider's id (a JSON pointer when it starts with `/`).
    pub id_field: Option<String>,
    /// The field with the status.
    pub status_field: Option<String>,
    /// Status values that mean delivered, and failed (any case); others are pending.
    pub delivered: Option<Vec<String>>,
    pub failed: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SignatureKind {
    /// `X-Twilio-Signature`.
    Twilio,
    /// Vonage's `sig` parameter.
    Vonage,
    /// `X-Sceau-Signature: t=…,v1=…`.
    Sceau,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VonageSignatureMethod {
    #[default]
    Md5hash,
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

/// The configuration cannot be used; says which route and why (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP route {route}: {reason}")]
pub struct ConfigError {
    pub route: String,
    pub reason: String,
}

pub const TIMEOUT_MS_DEFAULT: u64 = 10_000;
pub const MAX_IN_FLIGHT_DEFAULT: usize = 8;
/// Below the dispatcher's time for one try on the routes (40 s), so that an answer is
/// never cut off mid-way (which would send the message again).
pub const TIMEOUT_MS_MAX: u64 = 30_000;
pub const TOLERANCE_S_DEFAULT: i64 = 300;
pub const VALID_FOR_S_MAX_DEFAULT: i64 = 86_400;
