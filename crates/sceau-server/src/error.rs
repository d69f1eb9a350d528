//! The one place where errors become HTTP answers: `{"error": {"code", "message"}}`.
//! Internal details go to the log, never to the client.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sceau_domain::decline::{Decline, Rejection};
use sceau_store::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn declined(decline: Decline) -> ApiError {
        ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            decline.code(),
            decline.message(),
        )
    }

    pub fn rejected(rejection: Rejection) -> ApiError {
        let status = match rejection {
            Rejection::NotFound => StatusCode::NOT_FOUND,
            Rejection::AlreadyCaptured
            | Rejection::Voided
            | Rejection::HoldExpired
            | Rejection::NotCaptured
            | Rejection::OfCheckout => StatusCode::CONFLICT,
            Rejection::ExceedsAuthorized
            | Rejection::ExceedsRefundable
            | Rejection::CurrencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, rejection.code(), rejection.message())
    }

    /// The one answer a merchant gets for a client it may not have a number sent to:
    /// nobody has this login or phone, or it is not the merchant's client (never paid it
    /// nor signed in on its checkouts), or its payments are blocked or paused. Which one
    /// is never said (`sceau_domain::reach::may_reach`).
    pub fn unknown_client() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_client",
            "no client of yours has this login or phone",
        )
    }

    /// One more message would exceed what a client may be sent within the hour.
    pub fn too_many(too_many: sceau_domain::reach::TooMany) -> ApiError {
        use sceau_domain::reach::TooMany;
        let message = match too_many {
            TooMany::Seals => "too many seals were sent to this client in the last hour; try later",
            TooMany::Numbers => {
                "too many numbers were sent to this client in the last hour; try later"
            }
            TooMany::Messages => {
                "this client was sent as many messages as an hour allows; try later"
            }
        };
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, too_many.code(), message)
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Conflict(code) => {
                ApiError::new(StatusCode::CONFLICT, code, conflict_message(code))
            }
            StoreError::IdempotencyMismatch => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ),
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "try again shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "store inconsistency");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

fn conflict_message(code: &str) -> &'static str {
    match code {
        "login_taken" => "this login is taken",
        "phone_taken" => "this phone number belongs to another client",
        _ => "the request conflicts with the current state; retry",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response
            .headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
        response
    }
}
