//! Status callbacks: a provider tells us, by an HTTP request, what became of a message.
//! Nothing in a callback is trusted before its signature checks: Twilio's
//! `X-Twilio-Signature`, Vonage's `sig` parameter, or sceau's own `X-Sceau-Signature`
//! for a generic provider. All pure: the time comes in as an argument.

use super::answer::{scalar, select};
use super::config::VonageSignatureMethod;
use crate::ReportOutcome;
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// A callback as the endpoint received it.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackRequest {
    /// The URL as the provider called it: the configured public URL, with the query
    /// string the request came with.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Now, in seconds since the epoch.
    pub now_s: i64,
}

impl std::fmt::Debug for CallbackRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackRequest")
            .field("body_len", &self.body.len())
            .field("now_s", &self.now_s)
            .finish_non_exhaustive()
    }
}

/// Why a callback is refused; nothing of it was used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefusal {
    #[error("this route takes no status callbacks")]
    NotConfigured,
    #[error("the callback's signature is missing or does not check")]
    BadSignature,
    #[error("the callback's signed time is too far from now")]
    Stale,
    #[error("the callback cannot be read: {0}")]
    Malformed(&'static str),
}

impl CallbackRefusal {
    /// A stable code for the answer.
    pub fn code(&self) -> &'static str {
        match self {
            CallbackRefusal::NotConfigured => "callback_not_configured",
            CallbackRefusal::BadSignature => "callback_bad_signature",
            CallbackRefusal::Stale => "callback_stale",
            CallbackRefusal::Malformed(_) => "callback_malformed",
        }
    }
}

/// The largest callback body read.
pub const CALLBACK_BODY_LEN_MAX: usize = 64 * 1024;

/// Twilio's signature: base64 of HMAC-SHA1, keyed by the auth token, of the full URL
/// followed by each POST parameter's name and value, sorted by name.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
    for (name, value) in sorted {
        parts.extend([name.as_bytes(), value.as_bytes()]);
    }
    let digest = mac::<Hmac<sha1::Sha1>>(auth_token.as_bytes(), &parts);
    base64::engine::general_purpose::STANDARD.encode(digest)
}

pub fn twilio_signature_matches(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let expected = twilio_signature(auth_token, url, params);
    !signature.trim().is_empty()
        && bool::from(expected.as_bytes().ct_eq(signature.trim().as_bytes()))
}

/// Vonage's signature of an SMS API request or callback: the parameters but `sig`,
/// sorted by name, each as `&name=value` with `&` and `=` in values replaced by `_`;
/// then MD5 of that text followed by the secret (`md5hash`), or its HMAC keyed by the
/// secret. Hex (lower case for md5hash, upper case for the HMACs, as Vonage sends).
pub fn vonage_signature(
    secret: &str,
    method: VonageSignatureMethod,
    params: &[(String, String)],
) -> String {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(name, _)| name != "sig").collect();
    sorted.sort();
    let signed: String = sorted
        .iter()
        .map(|(name, value)| format!("&{name}={}", value.replace(['&', '='], "_")))
        .collect();
    let key = secret.as_bytes();
    let digest = match method {
        VonageSignatureMethod::Md5hash => {
            return hex::encode(Md5::digest(format!("{signed}{secret}").as_bytes()));
        }
        VonageSignatureMethod::Md5 => mac::<Hmac<Md5>>(key, &[signed.as_bytes()]),
        VonageSignatureMethod::Sha1 => mac::<Hmac<sha1::Sha1>>(key, &[signed.as_bytes()]),
        VonageSignatureMethod::Sha256 => mac::<Hmac<sha2::Sha256>>(key, &[signed.as_bytes()]),
        VonageSignatureMethod::Sha512 => mac::<Hmac<sha2::Sha512>>(key, &[signed.as_bytes()]),
    };
    hex::encode_upper(digest)
}

pub fn vonage_signature_matches(
    secret: &str,
    method: VonageSignatureMethod,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let expected = vonage_signature(secret, method, params).to_ascii_lowercase();
    !signature.trim().is_empty()
        && bool::from(
            expected
                .as_bytes()
                .ct_eq(signature.trim().to_ascii_lowercase().as_bytes()),
        )
}

/// sceau's own signature of a callback body: `t=<seconds>,v1=<hex HMAC-SHA256 of
/// "t.body">`, keyed by the route's callback secret.
pub fn sceau_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let prefix = format!("{t}.");
    let digest = mac::<Hmac<sha2::Sha256>>(secret.as_bytes(), &[prefix.as_bytes(), body]);
    format!("t={t},v1={}", hex::encode(digest))
}

/// Checks an `X-Sceau-Signature` header: any of its `v1` values (several during a
/// change of secret) must match, and its `t` lie within `tolerance_s` of `now_s`.
pub fn sceau_signature_check(
    secret: &str,
    header: &str,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), CallbackRefusal> {
    let mut t = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    let t = t.ok_or(CallbackRefusal::BadSignature)?;
    let expected = sceau_signature(secret, t, body);
    let expected = expected
        .rsplit_once("v1=")
        .map(|(_, hex)| hex)
        .unwrap_or_default();
    let matched = !expected.is_empty()
        && signatures.iter().fold(false, |any, signature| {
            any | bool::from(signature.as_bytes().ct_eq(expected.as_bytes()))
        });
    if !matched {
        return Err(CallbackRefusal::BadSignature);
    }
    within(t, now_s, tolerance_s)
}

pub fn within(t: i64, now_s: i64, tolerance_s: i64) -> Result<(), CallbackRefusal> {
    if t.abs_diff(now_s) > tolerance_s.unsigned_abs() {
        return Err(CallbackRefusal::Stale);
    }
    Ok(())
}

/// The HMAC of the parts, keyed by `key`; empty if the key were refused (HMAC takes
/// keys of any length, so it never is; an empty signature never matches).
fn mac<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The parameters of a form body (`application/x-www-form-urlencoded`).
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The parameters of the URL's query string.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    match url.split_once('?') {
        Some((_, query)) => {
            let query = query.split('#').next().unwrap_or_default();
            form_params(query.as_bytes())
        }
        None => Vec::new(),
    }
}

/// The top-level scalar fields of a JSON object body, as parameters.
pub fn json_params(json: &serde_json::Value) -> Vec<(String, String)> {
    match json {
        serde_json::Value::Object(fields) => fields
            .iter()
            .filter_map(|(name, value)| scalar(value).map(|value| (name.clone(), value)))
            .collect(),
        _ => Vec::new(),
    }
}

/// How a callback names the message and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFields {
    /// A parameter's name, or a JSON pointer (starting with `/`) into a JSON body.
    pub id_field: String,
    pub status_field: String,
    pub delivered: Vec<String>,
    pub failed: Vec<String>,
}

impl ReportFields {
    /// The provider's id and what the status means; an unknown status is pending.
    pub fn read(
        &self,
        params: &[(String, String)],
        json: Option<&serde_json::Value>,
    ) -> Result<(String, ReportOutcome), CallbackRefusal> {
        let id = field(&self.id_field, params, json)
            .filter(|id| !id.is_empty())
            .ok_or(CallbackRefusal::Malformed("no message id"))?;
        let status = field(&self.status_field, params, json)
            .ok_or(CallbackRefusal::Malformed("no status"))?;
        let is = |values: &[String]| {
            values
                .iter()
                .any(|value| value.eq_ignore_ascii_case(&status))
        };
        let outcome = if is(&self.delivered) {
            ReportOutcome::Delivered
        } else if is(&self.failed) {
            ReportOutcome::Failed
        } else {
            ReportOutcome::Pending
        };
        Ok((id, outcome))
    }
}

fn field(
    name: &str,
    params: &[(String, String)],
    json: Option<&serde_json::Value>,
) -> Option<String> {
    if name.starts_with('/') {
        return json.and_then(|json| select(json, name).into_iter().find_map(scalar));
    }
    params
        .iter()
        .find(|(param, _)| param == name)
        .map(|(_, value)| value.clone())
}
