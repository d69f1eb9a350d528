//! The one place where errors become HTTP answers: `{"error": {"code", "message"}}`.
//! A use case's [`AppError`] gets its status here ([`status`]); the few refusals of HTTP
//! itself (a body too large, a missing key...) are made by the handlers that see them.
//! Internal details go to the log, never to the client.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sceau_app::AppError;
use sceau_domain::decline::Rejection;
use sceau_store::{CheckoutRefusal, StoreError};

/// The refusals of HTTP itself that handlers make (status, code), beside a use case's
/// [`AppError`]s: what the API description is checked against (`tests/openapi.rs`).
/// The edge's refusals (`unknown_host`, `cross_origin`, `request_timeout`) and
/// `method_not_allowed` concern every route alike and are not listed per route.
pub const HTTP_REFUSALS: &[(u16, &str)] = &[
    (400, "invalid_json"),
    (400, "invalid_field"),
    (400, "unreadable_body"),
    (400, "invalid_idempotency_key"),
    (400, "invalid_form"),
    (401, "unauthorized"),
    (403, "csrf"),
    (404, "not_found"),
    (413, "body_too_large"),
    (415, "unsupported_media_type"),
    (500, "internal"),
    // What a gateway's status callback is answered (`POST /channel/{route}/status`).
    (400, "callback_malformed"),
    (403, "callback_bad_signature"),
    (403, "callback_stale"),
    (403, "callback_not_configured"),
    (404, "unknown_route"),
    (503, "busy"),
    // `GET /metrics` in a process where another metrics recorder was installed first.
    (503, "metrics_unavailable"),
];

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

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::from(AppError::from(error))
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        ApiError::new(status(&error), error.code(), error.message())
    }
}

/// The HTTP status of each refusal of a use case: the one place where they get one.
pub fn status(error: &AppError) -> StatusCode {
    use AppError::*;
    match error {
        Declined(_) => StatusCode::PAYMENT_REQUIRED,
        Rejected(rejection) => rejection_status(*rejection),
        Checkout(refusal) => checkout_status(*refusal),
        Money(_)
        | Card(_)
        | Bank(_)
        | IdempotencyKeyReused
        | InvalidField(_)
        | InvalidReference(_)
        | InvalidDocumentName(_)
        | InvalidPhone(_)
        | InvalidValidity(_)
        | InvalidUses(_)
        | InvalidUrl(_)
        | InvalidLifetime(_)
        | InvalidDocument(_)
        | WeakPassword
        | IncompleteBankDetails
        | CurrencyMismatch
        | InvalidStationKey(_)
        | EnvelopeRefused { .. }
        | WrongSeal { .. }
        | Delivery(_)
        | WrongCode { .. }
        | InvalidAnswer(_)
        | AnswerSignatureInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        Recipient(sceau_domain::delivery::RecipientRefusal::DeadlinePassed) | CodeExpired => {
            StatusCode::GONE
        }
        Recipient(
            sceau_domain::delivery::RecipientRefusal::Paused
            | sceau_domain::delivery::RecipientRefusal::TooManyWithdrawals
            | sceau_domain::delivery::RecipientRefusal::TooManyCodes,
        ) => StatusCode::TOO_MANY_REQUESTS,
        Recipient(_) | DigestsDiffer(_) | WithdrawalCertificateUnusable => StatusCode::CONFLICT,
        UnknownDelivery => StatusCode::NOT_FOUND,
        RecipientSignedOut => StatusCode::UNAUTHORIZED,
        UploadIncomplete => StatusCode::BAD_REQUEST,
        UnknownEnvelope | UnknownFile => StatusCode::NOT_FOUND,
        EnvelopeState(_) | FileAlreadyReceived | EnvelopeFailed => StatusCode::CONFLICT,
        EnvelopeExpired | ArchiveDeleted => StatusCode::GONE,
        ArchiveDamaged => StatusCode::INTERNAL_SERVER_ERROR,
        NotaryUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        InvalidQuery(_) => StatusCode::BAD_REQUEST,
        NotFound | UnknownClient | CheckoutNotFound | PaymentNotFound | UnknownCertificate
        | UnknownSignature | NoEntry | NoTile | NoProof | LogEmpty => StatusCode::NOT_FOUND,
        Blocked | ClientStopped => StatusCode::FORBIDDEN,
        Settlement(_)
        | StoreConflict(_)
        | NoPhoneNumber
        | NoHolderCertificate
        | NoCertificate
        | CertificateNotValid
        | CertificateUsed
        | CertificateExpired
        | CertificateNotYetValid
        | CertificateRevoked
        | NotDisposable
        | NotAwaitingSeal(_)
        | NotSigned(_)
        | SignatureFailed
        | IssuerBankMissing
        | CallsUnavailable
        | NothingToClear(_)
        | CheckoutNotPaid
        | EvidencePending => StatusCode::CONFLICT,
        SealExpired => StatusCode::GONE,
        Throttled(_) | TooManyClients | TooManySignatures | TooManyUploads => {
            StatusCode::TOO_MANY_REQUESTS
        }
        StoreUnavailable | NumberSpaceExhausted | UploadsBusy | PkiUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn rejection_status(rejection: Rejection) -> StatusCode {
    match rejection {
        Rejection::NotFound => StatusCode::NOT_FOUND,
        Rejection::AlreadyCaptured
        | Rejection::Voided
        | Rejection::HoldExpired
        | Rejection::NotCaptured
        | Rejection::OfCheckout => StatusCode::CONFLICT,
        Rejection::ExceedsAuthorized
        | Rejection::ExceedsRefundable
        | Rejection::CurrencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn checkout_status(refusal: CheckoutRefusal) -> StatusCode {
    match refusal {
        CheckoutRefusal::NotFound => StatusCode::NOT_FOUND,
        CheckoutRefusal::OtherClient | CheckoutRefusal::ClientStopped => StatusCode::FORBIDDEN,
        CheckoutRefusal::WrongState | CheckoutRefusal::NoLiveSeal => StatusCode::CONFLICT,
        CheckoutRefusal::Expired => StatusCode::GONE,
        CheckoutRefusal::SealCooldown { .. }
        | CheckoutRefusal::NoSealsLeft
        | CheckoutRefusal::TooManyHeld
        | CheckoutRefusal::TooManySeals
        | CheckoutRefusal::TooManyMessages => StatusCode::TOO_MANY_REQUESTS,
        CheckoutRefusal::SignedOut => StatusCode::UNAUTHORIZED,
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
