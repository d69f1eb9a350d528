//! HTTP: extractors shared by the handlers, the JSON APIs and the pages.

pub mod admin;
pub mod channel;
pub mod checkout;
pub mod console;
pub mod delivery;
pub mod delivery_pages;
pub mod envelopes;
pub mod log;
pub mod merchant;
pub mod notary_pages;
pub mod pages;
pub mod pay;
pub mod pki;
pub mod sign_pages;
pub mod signatures;

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use sceau_store::MerchantRecord;
use serde::de::DeserializeOwned;

/// Largest request body accepted anywhere.
pub const BODY_BYTES_MAX: usize = 16 * 1024;

/// A JSON body: at most [`BODY_BYTES_MAX`], `application/json`, no unknown fields (the
/// target types say `deny_unknown_fields`). Keeps the raw bytes for idempotency hashing.
pub struct JsonBody<T> {
    pub value: T,
    pub raw: axum::body::Bytes,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let RawBody(raw) = RawBody::from_request(request, state).await?;
        let value = parse_json(&raw)?;
        Ok(JsonBody { value, raw })
    }
}

/// Whether the request says its body is `application/json` (media types ignore case).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

/// A field name that can be repeated in an error: it looks like one of ours, so it
/// cannot be a card number or a password someone sent as a key.
fn printable_field_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 40
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Parses JSON, describing the problem without echoing the values sent (which may be
/// card numbers or passwords).
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|error| {
        use serde_json::error::Category;
        let text = error.to_string();
        let (code, what) = match error.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ("invalid_json", "the body is not valid JSON".to_owned())
            }
            Category::Data => {
                // serde says "unknown field `x`, expected ..." or "missing field `x`":
                // the name is repeated only when it is safe to (see printable_field_name).
                let kind = ["unknown field", "missing field", "duplicate field"]
                    .into_iter()
                    .find(|prefix| text.starts_with(*prefix));
                let name = text
                    .split('`')
                    .nth(1)
                    .filter(|name| printable_field_name(name));
                match (kind, name) {
                    (Some(kind), Some(name)) => ("invalid_field", format!("{kind} `{name}`")),
                    (Some(kind), None) => ("invalid_field", kind.to_owned()),
                    (None, _) => (
                        "invalid_field",
                        "a field has the wrong type or value".to_owned(),
                    ),
                }
            }
        };
        ApiError::bad_request(
            code,
            format!("{what} (line {}, column {})", error.line(), error.column()),
        )
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The merchant whose API key authenticates the request (`Authorization: Bearer sk_...`).
pub struct Merchant(pub MerchantRecord);

impl FromRequestParts<AppState> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        if key.len() > 200 {
            return Err(ApiError::unauthorized());
        }
        let hash = sceau_crypto::token_hash(key);
        if let Some(merchant) = state.merchant_cache.get(&hash, state.service.now_s()) {
            return Ok(Merchant(merchant));
        }
        let merchant = state
            .service
            .merchant_by_key_hash(hash)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        state
            .merchant_cache
            .put(hash, merchant.clone(), state.service.now_s());
        Ok(Merchant(merchant))
    }
}

/// An operator authenticated by the admin token (`Authorization: Bearer ...`).
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let presented = sceau_crypto::token_hash(token);
        if sceau_crypto::constant_time_eq(&presented, &state.admin_token_hash) {
            Ok(Admin)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid admin token is required",
            ))
        }
    }
}

/// A numeric id from the path; anything else is a clean 404.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found())?;
        let digits_only =
            !text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit());
        text.parse::<i64>()
            .ok()
            .filter(|id| digits_only && *id > 0)
            .map(Id)
            .ok_or_else(ApiError::not_found)
    }
}

/// The raw body, at most [`BODY_BYTES_MAX`], with JSON errors for a body too large or
/// unreadable.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        format!("bodies are limited to {BODY_BYTES_MAX} bytes"),
                    )
                } else {
                    ApiError::bad_request("unreadable_body", "the request body could not be read")
                }
            })
    }
}
