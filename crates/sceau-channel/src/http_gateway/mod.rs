//! An HTTP SMS (or voice) gateway as a route: a templated request per message, judged
//! on the answer's status and body, and the provider's signed status callbacks.
//!
//! `config` (the TOML keys and their checks), `preset` (Twilio's and Vonage's APIs
//! expanded into the generic keys; the spoken form of a text), `template` (placeholders
//! and where each is escaped), `answer` (what an answer means), `callback` (signatures
//! and reading a callback into a report). TLS is always verified (rustls, the system's
//! roots plus an optional extra CA); a plain `http://` URL is refused unless it names
//! the loopback.

pub mod answer;
pub mod callback;
pub mod config;
pub mod preset;
mod request;
pub mod template;

use crate::secret::Secret;
use crate::{Accepted, ChannelError, DeliveryReport, OutgoingText, SecondChannel};
use answer::Judge;
use async_trait::async_trait;
use callback::ReportFields;
pub use callback::{CallbackRefusal, CallbackRequest};
pub use config::{ConfigError, HttpGatewayConfig};
use config::{SignatureKind, VonageSignatureMethod};
use std::sync::Arc;
use template::{Placeholder, Template};

/// Where the route's time comes from (seconds since the epoch).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// One configured HTTP gateway. Its secrets were read at start; none is ever printed.
pub struct HttpGateway {
    name: String,
    client: reqwest::Client,
    method: reqwest::Method,
    url: Template,
    body: request::Body,
    headers: Vec<(reqwest::header::HeaderName, Template)>,
    auth: Option<request::Auth>,
    judge: Judge,
    from: Option<String>,
    voice_language: Option<String>,
    places_calls: bool,
    valid_for_s_min: i64,
    valid_for_s_max: i64,
    max_in_flight: usize,
    timeout: std::time::Duration,
    callback: Option<Callback>,
    clock: Clock,
}

struct Callback {
    signature: SignatureKind,
    secret: Secret,
    method: VonageSignatureMethod,
    tolerance_s: i64,
    fields: ReportFields,
    url: String,
}

impl std::fmt::Debug for HttpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGateway")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("auth", &self.auth.as_ref().map(request::Auth::kind))
            .field("callbacks", &self.callback.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpGateway {
    /// Checks the configuration, expands its preset and reads its secrets.
    pub fn new(name: &str, config: &HttpGatewayConfig) -> Result<HttpGateway, ConfigError> {
        let refuse = |reason: String| ConfigError {
            route: name.to_owned(),
            reason,
        };
        let expanded = preset::expand(name, config)?;
        let plan = request::Plan::read(&expanded).map_err(refuse)?;
        let max_in_flight = expanded
            .max_in_flight
            .unwrap_or(config::MAX_IN_FLIGHT_DEFAULT);
        if !(1..=crate::routes::MAX_IN_FLIGHT_MAX).contains(&max_in_flight) {
            return Err(refuse(format!(
                "max_in_flight lies between 1 and {}",
                crate::routes::MAX_IN_FLIGHT_MAX
            )));
        }
        let callback = match &expanded.callback {
            Some(callback) => Some(request::callback(callback).map_err(refuse)?),
            None => None,
        };
        let gateway = HttpGateway {
            name: name.to_owned(),
            client: request::client(&expanded).map_err(refuse)?,
            method: plan.method,
            url: plan.url,
            body: plan.body,
            headers: plan.headers,
            auth: plan.auth,
            judge: plan.judge,
            from: expanded.from.clone(),
            voice_language: config.voice_language.clone(),
            places_calls: config.places_calls(),
            valid_for_s_min: expanded.valid_for_s_min.unwrap_or(1).max(1),
            valid_for_s_max: expanded
                .valid_for_s_max
                .unwrap_or(config::VALID_FOR_S_MAX_DEFAULT)
                .max(1),
            max_in_flight,
            timeout: std::time::Duration::from_millis(
                expanded.timeout_ms.unwrap_or(config::TIMEOUT_MS_DEFAULT),
            ),
            callback,
            clock: Arc::new(system_now_s),
        };
        gateway.check_placeholders().map_err(refuse)?;
        Ok(gateway)
    }

    /// The same route reading the time from `clock` (tests move it).
    pub fn with_clock(mut self, clock: Clock) -> HttpGateway {
        self.clock = clock;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most requests on their way to the provider at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// The longest a request may take, connection included.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    fn check_placeholders(&self) -> Result<(), String> {
        let mut used: Vec<Placeholder> = self.url.placeholders().collect();
        used.extend(self.body.templates().flat_map(Template::placeholders));
        used.extend(
            self.headers
                .iter()
                .flat_map(|(_, value)| value.placeholders()),
        );
        if used.contains(&Placeholder::From) && self.from.is_none() {
            return Err("a template uses {from} but `from` is not set".into());
        }
        if used.contains(&Placeholder::CallbackUrl) && self.callback.is_none() {
            return Err("a template uses {callback_url} but [callback] is not set".into());
        }
        Ok(())
    }

    /// Checks a status callback's signature, then reads what it reports. The endpoint
    /// does nothing else with the request.
    pub fn check_callback(
        &self,
        request: &CallbackRequest,
    ) -> Result<Vec<DeliveryReport>, CallbackRefusal> {
        let callback = self
            .callback
            .as_ref()
            .ok_or(CallbackRefusal::NotConfigured)?;
        if request.body.len() > callback::CALLBACK_BODY_LEN_MAX {
            return Err(CallbackRefusal::Malformed("the body is too large"));
        }
        let json = is_json(request)
            .then(|| serde_json::from_slice::<serde_json::Value>(&request.body))
            .transpose()
            .map_err(|_| CallbackRefusal::Malformed("the body is not JSON"))?;
        let body_params = match &json {
            Some(json) => callback::json_params(json),
            None => callback::form_params(&request.body),
        };
        let query = callback::query_params(&request.url);
        callback.check_signature(request, &body_params, &query)?;
        // Only what the signature covers is read: sceau's own signs the body alone, so a
        // signed body replayed under another query string reports nothing of the query.
        let mut params = match callback.signature {
            SignatureKind::Sceau => Vec::new(),
            SignatureKind::Twilio | SignatureKind::Vonage => query,
        };
        params.extend(body_params);
        let (provider_id, outcome) = callback.fields.read(&params, json.as_ref())?;
        Ok(vec![DeliveryReport {
            route: self.name.clone(),
            provider_id,
            outcome,
            status: None,
        }])
    }

    /// The public URL the provider calls back, if the route takes callbacks.
    pub fn callback_url(&self) -> Option<&str> {
        self.callback.as_ref().map(|callback| callback.url.as_str())
    }
}

impl Callback {
    fn check_signature(
        &self,
        request: &CallbackRequest,
        body_params: &[(String, String)],
        query_params: &[(String, String)],
    ) -> Result<(), CallbackRefusal> {
        let secret = self.secret.expose();
        match self.signature {
            SignatureKind::Twilio => {
                let signature = header(request, "x-twilio-signature").unwrap_or_default();
                if !callback::twilio_signature_matches(secret, &request.url, body_params, signature)
                {
                    return Err(CallbackRefusal::BadSignature);
                }
                Ok(())
            }
            SignatureKind::Vonage => {
                let mut params = query_params.to_vec();
                params.extend_from_slice(body_params);
                let signature = param(&params, "sig").unwrap_or_default();
                if !callback::vonage_signature_matches(secret, self.method, &params, &signature) {
                    return Err(CallbackRefusal::BadSignature);
                }
                let signed_at = param(&params, "timestamp")
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or(CallbackRefusal::Malformed("no signed timestamp"))?;
                callback::within(signed_at, request.now_s, self.tolerance_s)
            }
            SignatureKind::Sceau => {
                let signature = header(request, "x-sceau-signature").unwrap_or_default();
                callback::sceau_signature_check(
                    secret,
                    signature,
                    &request.body,
                    request.now_s,
                    self.tolerance_s,
                )
            }
        }
    }
}

fn header<'a>(request: &'a CallbackRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(param, _)| param == name)
        .map(|(_, value)| value.clone())
}

fn is_json(request: &CallbackRequest) -> bool {
    match header(request, "content-type") {
        Some(kind) => kind
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json"),
        None => request.body.first() == Some(&b'{'),
    }
}

fn system_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[async_trait]
impl SecondChannel for HttpGateway {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn places_calls(&self) -> bool {
        self.places_calls
    }

    async fn send(&self, text: &OutgoingText<'_>) -> Result<Accepted, ChannelError> {
        let left_s = text.expires_at_s.saturating_sub((self.clock)());
        if left_s <= 0 {
            return Err(ChannelError::Expired);
        }
        if left_s < self.valid_for_s_min {
            return Err(ChannelError::Permanent(format!(
                "less than the provider's shortest validity ({} s) is left",
                self.valid_for_s_min
            )));
        }
        let valid_for_s = left_s.min(self.valid_for_s_max);
        let values = |placeholder: Placeholder| self.value(placeholder, text, valid_for_s);
        let built = self.build(&values)?;
        let response = built.send().await.map_err(request::transport_error)?;
        let (status, headers, body) = request::read_answer(response).await?;
        let ids = self.judge.judge(status, &headers, &body)?;
        if ids.is_empty() {
            tracing::info!(route = %self.name, message_id = text.message_id, "the provider named no id: the message's own id stands for it");
        }
        let parts = if ids.is_empty() {
            vec![text.message_id.to_string()]
        } else {
            ids
        };
        Ok(Accepted { parts })
    }
}

impl HttpGateway {
    fn value(&self, placeholder: Placeholder, text: &OutgoingText<'_>, valid_for_s: i64) -> String {
        match placeholder {
            Placeholder::To => text.to.as_str().to_owned(),
            Placeholder::ToDigits => text.to.as_str().trim_start_matches('+').to_owned(),
            Placeholder::From => self.from.clone().unwrap_or_default(),
            Placeholder::Text => text.text.to_owned(),
            Placeholder::MessageId => text.message_id.to_string(),
            Placeholder::ValidForS => valid_for_s.to_string(),
            Placeholder::ValidForMs => valid_for_s.saturating_mul(1000).to_string(),
            Placeholder::CallbackUrl => self.callback_url().unwrap_or_default().to_owned(),
            Placeholder::Twiml => preset::voice_twiml(text.text, self.voice_language.as_deref()),
            Placeholder::SmsType => preset::sms_type(text.text).to_owned(),
        }
    }
}
