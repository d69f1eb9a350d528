//! The merchant API (server to server, `Authorization: Bearer sk_...`): issue a number at
//! checkout (Figure 4), authorize, capture, void, refund, look up.

use super::{Id, JsonBody, Merchant, RawBody};
use crate::AppState;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::service::{NumberRequest, parse_amount, parse_currency};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sceau_app::AppError;
use sceau_app::payments::CardPayment;
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_domain::{CardNumber, Currency, Expiry, Money, SecurityCode};
use sceau_store::{AuthorizationView, IdempotencyKey, MerchantCommand, Origin, Outcome};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const IDEMPOTENCY_KEY_LEN_MAX: usize = 255;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutNumberBody {
    /// The client's login or phone number (E.164).
    client: String,
    amount: String,
    currency: String,
    validity_s: Option<i64>,
}

#[derive(Serialize)]
pub struct CheckoutNumberResponse {
    number_id: i64,
    last_four: String,
    amount: String,
    currency: String,
    valid_until: String,
    sent_to: String,
}

/// Figure 4: during checkout the merchant asks for a number for this client and amount;
/// it goes to the client's phone with the amount and the merchant's name, locked to both.
pub async fn issue_checkout_number(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
    JsonBody { value: body, raw }: JsonBody<CheckoutNumberBody>,
) -> Result<Response, ApiError> {
    let idempotency = idempotency(&state.service.keys, &headers, "numbers", &raw)?;
    let currency = parse_currency(&body.currency)?;
    let amount = parse_amount(&body.amount, currency)?;
    let service = &state.service;
    let request = NumberRequest {
        uses_max: 1,
        amount: AmountRule::Exact(amount.minor),
        merchant: MerchantLock::Named(merchant.id),
        validity_s: body.validity_s,
    };
    // Everything about the request is checked before the client is looked at; then a
    // client nobody has, one who is not this merchant's, and a blocked or paused one get
    // the same answer, and no message.
    service.number_validity_s(&request)?;
    let client = service.merchant_client(merchant.id, &body.client).await?;
    let issued = service
        .issue_number(
            &client,
            &request,
            Some(&merchant.name),
            Origin::Merchant,
            currency,
            idempotency.map(|key| (merchant.id, key)),
        )
        .await?;
    let response = CheckoutNumberResponse {
        number_id: issued.view.id,
        last_four: issued.view.last_four.clone(),
        amount: amount.to_decimal(),
        currency: currency.code().to_owned(),
        valid_until: rfc3339(issued.view.policy.valid_until_s),
        sent_to: client.phone.masked(),
    };
    let mut response = (StatusCode::CREATED, Json(response)).into_response();
    mark_replayed(&mut response, issued.replayed);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBody {
    number: Zeroizing<String>,
    expiry_month: u8,
    expiry_year: u16,
    security_code: Zeroizing<String>,
    amount: String,
    currency: String,
    #[serde(default)]
    reference: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    amount: Option<String>,
    currency: Option<String>,
}

/// An authorization as merchants see it.
#[derive(Serialize)]
pub struct AuthorizationResponse {
    id: i64,
    state: &'static str,
    amount: String,
    currency: String,
    captured: String,
    refunded: String,
    number_last_four: String,
    reference: String,
    created_at: String,
    hold_expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund: Option<RefundResponse>,
}

#[derive(Serialize)]
pub struct RefundResponse {
    id: i64,
    amount: String,
}

/// An amount in minor units as the API writes it (`"12.50"`), by its currency's exponent.
pub(crate) fn money(minor: i64, currency: &str) -> String {
    match currency.parse::<Currency>() {
        Ok(currency) => Money::new(minor, currency).to_decimal(),
        Err(_) => minor.to_string(),
    }
}

fn authorization_response(
    view: &AuthorizationView,
    refund: Option<(i64, i64)>,
) -> AuthorizationResponse {
    AuthorizationResponse {
        id: view.id,
        state: view.state.as_str(),
        amount: money(view.amount, &view.currency),
        currency: view.currency.clone(),
        captured: money(view.captured, &view.currency),
        refunded: money(view.refunded, &view.currency),
        number_last_four: view.number_last_four.clone(),
        reference: view.merchant_reference.clone(),
        created_at: rfc3339(view.created_at_s),
        hold_expires_at: rfc3339(view.hold_expires_at_s),
        refund: refund.map(|(id, amount)| RefundResponse {
            id,
            amount: money(amount, &view.currency),
        }),
    }
}

/// The one mapping from a command's outcome to an HTTP answer, used for first answers
/// and replays alike.
fn outcome_response(outcome: &Outcome, replayed: bool) -> Response {
    let mut response = match outcome {
        Outcome::Authorized { authorization } => (
            StatusCode::CREATED,
            Json(authorization_response(authorization, None)),
        )
            .into_response(),
        Outcome::Captured { authorization } | Outcome::Voided { authorization } => (
            StatusCode::OK,
            Json(authorization_response(authorization, None)),
        )
            .into_response(),
        Outcome::Refunded {
            authorization,
            refund_id,
            amount,
        } => (
            StatusCode::OK,
            Json(authorization_response(
                authorization,
                Some((*refund_id, *amount)),
            )),
        )
            .into_response(),
        Outcome::Declined { decline, .. } => {
            ApiError::from(AppError::Declined(*decline)).into_response()
        }
        Outcome::Rejected { rejection } => {
            ApiError::from(AppError::Rejected(*rejection)).into_response()
        }
    };
    mark_replayed(&mut response, replayed);
    response
}

/// Says on an answer that it replays the first one given under its idempotency key.
pub(super) fn mark_replayed(answer: &mut Response, replayed: bool) {
    if replayed {
        answer
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
}

pub(super) fn idempotency(
    keys: &sceau_crypto::Keys,
    headers: &HeaderMap,
    route: &str,
    raw: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    // Visible ASCII only: `to_str` would also let spaces and tabs through.
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty()
                && k.len() <= IDEMPOTENCY_KEY_LEN_MAX
                && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::bad_request("invalid_idempotency_key", format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_LEN_MAX} visible ASCII characters"))
        })?;
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        request_hash: keys.request_fingerprint(route, raw),
    }))
}

async fn run(
    state: &AppState,
    merchant_id: i64,
    idempotency: Option<IdempotencyKey>,
    command: MerchantCommand,
) -> Result<Response, ApiError> {
    let executed = state
        .service
        .run_merchant_command(merchant_id, idempotency, command)
        .await?;
    Ok(outcome_response(&executed.outcome, executed.replayed))
}

pub async fn authorize(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
    JsonBody { value: body, raw }: JsonBody<AuthorizeBody>,
) -> Result<Response, ApiError> {
    let idempotency = idempotency(&state.service.keys, &headers, "authorize", &raw)?;
    let currency = parse_currency(&body.currency)?;
    let amount = parse_amount(&body.amount, currency)?;
    let number: CardNumber = body.number.parse().map_err(AppError::Card)?;
    let year = if body.expiry_year < 100 {
        body.expiry_year + 2000
    } else {
        body.expiry_year
    };
    let expiry = Expiry::new(body.expiry_month, year).map_err(AppError::Card)?;
    let code: SecurityCode = body.security_code.parse().map_err(AppError::Card)?;
    let payment = CardPayment {
        number,
        expiry,
        code,
        amount,
        reference: body.reference,
    };
    let executed = state
        .service
        .authorize(merchant.id, idempotency, payment)
        .await?;
    Ok(outcome_response(&executed.outcome, executed.replayed))
}

/// Reads the optional `{amount, currency}` of a capture or refund.
fn optional_amount(body: &AmountBody) -> Result<Option<Money>, ApiError> {
    match (&body.amount, &body.currency) {
        (None, None) => Ok(None),
        (Some(amount), Some(currency)) => {
            Ok(Some(parse_amount(amount, parse_currency(currency)?)?))
        }
        _ => Err(ApiError::bad_request(
            "invalid_field",
            "amount and currency go together",
        )),
    }
}

/// A body is optional for capture, void and refund: none, `{}`, or `{amount, currency}`.
fn optional_body(headers: &HeaderMap, raw: &[u8]) -> Result<AmountBody, ApiError> {
    if raw.is_empty() {
        return Ok(AmountBody::default());
    }
    if !super::is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    super::parse_json(raw)
}

/// Capture and refund: an optional `{amount, currency}`.
async fn with_amount(
    state: &AppState,
    merchant_id: i64,
    id: i64,
    route: &str,
    headers: &HeaderMap,
    raw: &[u8],
    command: fn(i64, Option<Money>) -> MerchantCommand,
) -> Result<Response, ApiError> {
    let body = optional_body(headers, raw)?;
    let idempotency = idempotency(&state.service.keys, headers, &format!("{route}/{id}"), raw)?;
    // The store checks the amount's currency against the authorization's.
    let amount = optional_amount(&body)?;
    run(state, merchant_id, idempotency, command(id, amount)).await
}

pub async fn capture(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Id(id): Id,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> Result<Response, ApiError> {
    let command = |authorization_id, amount| MerchantCommand::Capture {
        authorization_id,
        amount,
    };
    with_amount(&state, merchant.id, id, "capture", &headers, &raw, command).await
}

pub async fn void(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Id(id): Id,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> Result<Response, ApiError> {
    let body = optional_body(&headers, &raw)?;
    if body.amount.is_some() || body.currency.is_some() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "a void takes no amount",
        ));
    }
    let idempotency = idempotency(&state.service.keys, &headers, &format!("void/{id}"), &raw)?;
    run(
        &state,
        merchant.id,
        idempotency,
        MerchantCommand::Void {
            authorization_id: id,
        },
    )
    .await
}

pub async fn refund(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Id(id): Id,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> Result<Response, ApiError> {
    let command = |authorization_id, amount| MerchantCommand::Refund {
        authorization_id,
        amount,
    };
    with_amount(&state, merchant.id, id, "refund", &headers, &raw, command).await
}

pub async fn get_authorization(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let view = state
        .service
        .merchant_authorization(merchant.id, id)
        .await?;
    Ok(Json(authorization_response(&view, None)).into_response())
}

/// `POST /v1/webhook-secret`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretBody {
    /// Seconds the secret in use still signs beside the new one (0 to a week).
    overlap_s: i64,
}

/// `POST /v1/webhook-secret`: a new webhook secret for the merchant; the one in use
/// still signs for the overlap they chose. The new secret is shown in this answer only.
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
    JsonBody { value: body, raw }: JsonBody<RotateSecretBody>,
) -> Result<Response, ApiError> {
    let idempotency = idempotency(&state.service.keys, &headers, "webhook-secret", &raw)?;
    let rotated = state
        .service
        .rotate_webhook_secret(
            merchant.id,
            body.overlap_s,
            idempotency,
            sceau_store::ActedBy::Merchant,
        )
        .await?;
    let answer = serde_json::json!({
        "webhook_secret": rotated.webhook_secret.as_str(),
        "previous_valid_until": rotated.previous_until_s.map(rfc3339),
    });
    let mut answer = (StatusCode::CREATED, Json(answer)).into_response();
    mark_replayed(&mut answer, rotated.replayed);
    Ok(answer)
}
