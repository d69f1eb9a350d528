//! The admin API (`Authorization: Bearer <admin token>`): enrol clients and merchants,
//! block clients, check the ledger.

use super::{Admin, Id, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::service::ClientEnrolment;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sceau_domain::Money;
use sceau_store::ClientRecord;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    login: String,
    display_name: String,
    password: Zeroizing<String>,
    phone: String,
    currency: String,
    #[serde(default = "zero")]
    opening_balance: String,
    #[serde(default = "zero")]
    credit_limit: String,
}

fn zero() -> String {
    "0".to_owned()
}

#[derive(Serialize)]
pub struct ClientResponse {
    id: i64,
    login: String,
    display_name: String,
    phone: String,
    currency: String,
    account_id: i64,
    blocked: bool,
}

fn client_response(client: &ClientRecord) -> ClientResponse {
    ClientResponse {
        id: client.id,
        login: client.login.clone(),
        display_name: client.display_name.clone(),
        phone: client.phone.masked(),
        currency: client.currency.code().to_owned(),
        account_id: client.account_id,
        blocked: client.blocked,
    }
}

pub async fn create_client(
    State(state): State<AppState>,
    _: Admin,
    JsonBody { value: body, .. }: JsonBody<NewClientBody>,
) -> Result<Response, ApiError> {
    let client = state
        .service
        .enroll_client(ClientEnrolment {
            login: body.login,
            display_name: body.display_name,
            password: body.password,
            phone: body.phone,
            currency: body.currency,
            opening_balance: body.opening_balance,
            credit_limit: body.credit_limit,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(client_response(&client))).into_response())
}

pub async fn list_clients(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let clients = state.service.store.clients(1000).await?;
    Ok(Json(clients.iter().map(client_response).collect::<Vec<_>>()).into_response())
}

#[derive(Serialize)]
pub struct BalanceResponse {
    client: ClientResponse,
    balance: String,
    held: String,
    credit_limit: String,
    available: String,
}

pub async fn get_client(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let client = state
        .service
        .store
        .client(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let account = state
        .service
        .store
        .account(client.account_id)
        .await?
        .ok_or_else(|| crate::service::internal("client account missing"))?;
    let money = |minor| Money::new(minor, account.currency).to_decimal();
    Ok(Json(BalanceResponse {
        client: client_response(&client),
        balance: money(account.balance),
        held: money(account.held),
        credit_limit: money(account.credit_limit),
        available: money(account.available()),
    })
    .into_response())
}

async fn set_blocked(state: &AppState, id: i64, blocked: bool) -> Result<Response, ApiError> {
    if !state.service.store.set_client_blocked(id, blocked).await? {
        return Err(ApiError::not_found());
    }
    tracing::info!(client_id = id, blocked, "client block changed");
    let client = state
        .service
        .store
        .client(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(client_response(&client)).into_response())
}

pub async fn block_client(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    set_blocked(&state, id, true).await
}

pub async fn unblock_client(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    set_blocked(&state, id, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMerchantBody {
    name: String,
}

#[derive(Serialize)]
pub struct MerchantResponse {
    id: i64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
    /// The secret sceau signs this merchant's webhooks with (`Sceau-Signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

pub async fn create_merchant(
    State(state): State<AppState>,
    _: Admin,
    JsonBody { value: body, .. }: JsonBody<NewMerchantBody>,
) -> Result<Response, ApiError> {
    let enrolled = state.service.enroll_merchant(&body.name).await?;
    let response = MerchantResponse {
        id: enrolled.merchant.id,
        name: enrolled.merchant.name,
        api_key: Some(enrolled.api_key.to_string()),
        webhook_secret: Some(enrolled.webhook_secret.to_string()),
    };
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

pub async fn list_merchants(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let merchants = state.service.store.merchants(1000).await?;
    let body: Vec<MerchantResponse> = merchants
        .into_iter()
        .map(|m| MerchantResponse {
            id: m.id,
            name: m.name,
            api_key: None,
            webhook_secret: None,
        })
        .collect();
    Ok(Json(body).into_response())
}

#[derive(Serialize)]
pub struct LedgerResponse {
    sound: bool,
    currency_sums: Vec<(String, i64)>,
    violations: Vec<String>,
}

pub async fn check_ledger(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let report = state.service.store.check_ledger().await?;
    Ok(Json(LedgerResponse {
        sound: report.is_sound(),
        currency_sums: report.currency_sums,
        violations: report.violations,
    })
    .into_response())
}
