//! The merchant's side of a payment by seal: create a checkout, send the client to its
//! page, then poll it (or wait for the signed webhook).

use super::pages::ApiSession;
use super::pay::CheckoutId;
use super::{JsonBody, Merchant};
use crate::AppState;
use crate::checkout::CheckoutRequest;
use crate::clock::rfc3339;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sceau_store::CheckoutView;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    amount: String,
    currency: String,
    reference: String,
    /// What is bought, shown on the check.
    object: String,
    return_url: String,
    webhook_url: Option<String>,
    validity_s: Option<i64>,
}

/// A checkout as its merchant sees it.
#[derive(Serialize)]
pub struct CheckoutResponse {
    id: String,
    /// Where to send the client.
    url: String,
    state: &'static str,
    paid: bool,
    amount: String,
    currency: String,
    reference: String,
    object: String,
    return_url: String,
    webhook_url: Option<String>,
    failure: Option<String>,
    authorization_id: Option<i64>,
    created_at: String,
    expires_at: String,
    updated_at: String,
}

fn response(state: &AppState, view: &CheckoutView) -> CheckoutResponse {
    let amount = super::merchant::money(view.amount, &view.currency);
    CheckoutResponse {
        id: view.public_id.clone(),
        url: format!("{}/pay/{}", state.public_url(), view.public_id),
        state: view.state.as_str(),
        paid: view.state == sceau_store::CheckoutState::Paid,
        amount,
        currency: view.currency.clone(),
        reference: view.merchant_reference.clone(),
        object: view.object.clone(),
        return_url: view.return_url.clone(),
        webhook_url: view.webhook_url.clone(),
        failure: view.failure.clone(),
        authorization_id: view.authorization_id,
        created_at: rfc3339(view.created_at_s),
        expires_at: rfc3339(view.expires_at_s),
        updated_at: rfc3339(view.updated_at_s),
    }
}

/// `POST /v1/checkouts`: operations 125–137, the merchant hands the payment to sceau.
pub async fn create(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
    JsonBody { value: body, raw }: JsonBody<CheckoutBody>,
) -> Result<Response, ApiError> {
    let idempotency =
        super::merchant::idempotency(&state.service.keys, &headers, "checkouts", &raw)?;
    let request = CheckoutRequest {
        amount: body.amount,
        currency: body.currency,
        reference: body.reference,
        object: body.object,
        return_url: body.return_url,
        webhook_url: body.webhook_url,
        validity_s: body.validity_s,
    };
    let (view, replayed) = state
        .service
        .create_checkout(&merchant, request, idempotency)
        .await?;
    let mut answer = (StatusCode::CREATED, Json(response(&state, &view))).into_response();
    super::merchant::mark_replayed(&mut answer, replayed);
    Ok(answer)
}

/// `GET /v1/checkouts/{id}`: where the checkout stands (the merchant's proof of payment,
/// whatever the client's browser says).
pub async fn get(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    CheckoutId(id): CheckoutId,
) -> Result<Response, ApiError> {
    let view = state.service.merchant_checkout(&merchant, &id).await?;
    Ok(Json(response(&state, &view)).into_response())
}

/// An evidence bundle as a download.
fn bundle_response(public_id: &str, bundle: Vec<u8>) -> Response {
    let mut response = bundle.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // The public id is `co_` and hexadecimal: nothing to escape.
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{public_id}.evidence.json\""
    )) {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// `GET /api/v1/checkouts/{id}/evidence`: the evidence bundle of a paid checkout, for
/// its merchant.
pub async fn merchant_evidence(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    CheckoutId(id): CheckoutId,
) -> Result<Response, ApiError> {
    let view = state.service.merchant_checkout(&merchant, &id).await?;
    let bundle = state.service.evidence_bundle(&view).await?;
    Ok(bundle_response(&view.public_id, bundle))
}

/// `GET /api/v1/payments/{id}/evidence`: the evidence bundle of a checkout the
/// signed-in client paid (another's is not found).
pub async fn client_evidence(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    CheckoutId(id): CheckoutId,
) -> Result<Response, ApiError> {
    let view = state.service.client_checkout(&session.client, &id).await?;
    let bundle = state.service.evidence_bundle(&view).await?;
    Ok(bundle_response(&view.public_id, bundle))
}
