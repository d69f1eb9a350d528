//! The admin API (`Authorization: Bearer <admin token>`): enrol clients and merchants,
//! block clients, close clearing batches and fetch their settlement files, check the
//! ledger.

use super::{Admin, Id, JsonBody};
use crate::AppState;
use crate::clearing::{ClosedBatch, parse_bank, parse_optional_bank};
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::service::ClientEnrolment;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sceau_domain::Money;
use sceau_store::{ClearingBatch, ClientRecord, MerchantRecord, Payout};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    login: String,
    display_name: String,
    password: Zeroizing<String>,
    phone: String,
    #[serde(default)]
    email: Option<String>,
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
    /// Masked as the phone is: its first character and its domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    currency: String,
    account_id: i64,
    blocked: bool,
    /// The client chose to be called rather than texted.
    by_call: bool,
}

fn client_response(client: &ClientRecord) -> ClientResponse {
    ClientResponse {
        id: client.id,
        login: client.login.clone(),
        display_name: client.display_name.clone(),
        phone: client.phone.masked(),
        email: client.email.as_ref().map(|email| email.masked()),
        currency: client.currency.code().to_owned(),
        account_id: client.account_id,
        blocked: client.blocked,
        by_call: client.by_call,
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
            email: body.email,
            currency: body.currency,
            opening_balance: body.opening_balance,
            credit_limit: body.credit_limit,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(client_response(&client))).into_response())
}

pub async fn list_clients(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let clients = state.service.clients().await?;
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
    let (client, account) = state.service.client_account(id).await?;
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
    let client = state.service.set_client_blocked(id, blocked).await?;
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
    /// Where the merchant's settlement balances are paid out: both or neither.
    #[serde(default)]
    iban: Option<String>,
    #[serde(default)]
    bic: Option<String>,
}

#[derive(Serialize)]
pub struct MerchantResponse {
    id: i64,
    name: String,
    /// The account settlement payouts go to, in electronic form.
    #[serde(skip_serializing_if = "Option::is_none")]
    iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
    /// The secret sceau signs this merchant's webhooks with (`Sceau-Signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

fn merchant_response(merchant: MerchantRecord) -> MerchantResponse {
    let (iban, bic) = match merchant.bank {
        Some(bank) => (Some(bank.iban.into()), Some(bank.bic.into())),
        None => (None, None),
    };
    MerchantResponse {
        id: merchant.id,
        name: merchant.name,
        iban,
        bic,
        api_key: None,
        webhook_secret: None,
    }
}

pub async fn create_merchant(
    State(state): State<AppState>,
    _: Admin,
    JsonBody { value: body, .. }: JsonBody<NewMerchantBody>,
) -> Result<Response, ApiError> {
    let bank = parse_optional_bank(body.iban.as_deref(), body.bic.as_deref())?;
    let enrolled = state
        .service
        .enroll_merchant_paid_to(&body.name, bank)
        .await?;
    let response = MerchantResponse {
        api_key: Some(enrolled.api_key.to_string()),
        webhook_secret: Some(enrolled.webhook_secret.to_string()),
        ..merchant_response(enrolled.merchant)
    };
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

pub async fn list_merchants(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let merchants = state.service.merchants().await?;
    let body: Vec<MerchantResponse> = merchants.into_iter().map(merchant_response).collect();
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankBody {
    iban: String,
    bic: String,
}

/// `PUT /admin/v1/merchants/{id}/bank`: where the merchant's balances are paid out from
/// the next clearing batch on.
pub async fn set_merchant_bank(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
    JsonBody { value: body, .. }: JsonBody<BankBody>,
) -> Result<Response, ApiError> {
    let bank = parse_bank(&body.iban, &body.bic)?;
    let merchant = state.service.set_merchant_bank(id, bank).await?;
    Ok(Json(merchant_response(merchant)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBatchBody {
    currency: String,
}

#[derive(Serialize)]
pub struct PayoutResponse {
    merchant_id: i64,
    amount: String,
    /// The ledger transfer (kind `payout`) that took the amount off the merchant's
    /// settlement account.
    transfer_id: i64,
}

#[derive(Serialize)]
pub struct SkippedResponse {
    merchant_id: i64,
    balance: String,
}

#[derive(Serialize)]
pub struct BatchResponse {
    id: i64,
    message_id: String,
    currency: String,
    created_at: String,
    payouts_count: u32,
    total: String,
    /// Where the settlement file (pain.001.001.03) is served.
    settlement_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payouts: Option<Vec<PayoutResponse>>,
    /// Merchants with money to receive but no bank details, left out (on closing only).
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<Vec<SkippedResponse>>,
}

fn batch_response(batch: &ClearingBatch, payouts: Option<&[Payout]>) -> BatchResponse {
    let money = |minor| Money::new(minor, batch.currency).to_decimal();
    BatchResponse {
        id: batch.id,
        message_id: batch.message_id.clone(),
        currency: batch.currency.code().to_owned(),
        created_at: rfc3339(batch.created_at_s),
        payouts_count: batch.payouts_count,
        total: money(batch.total),
        settlement_file: format!("/admin/v1/clearing/batches/{}/pain.001.xml", batch.id),
        payouts: payouts.map(|payouts| {
            payouts
                .iter()
                .map(|payout| PayoutResponse {
                    merchant_id: payout.merchant_id,
                    amount: money(payout.amount),
                    transfer_id: payout.transfer_id,
                })
                .collect()
        }),
        skipped: None,
    }
}

/// `POST /admin/v1/clearing/batches`: closes a batch in the currency given.
pub async fn close_clearing_batch(
    State(state): State<AppState>,
    _: Admin,
    JsonBody { value: body, .. }: JsonBody<NewBatchBody>,
) -> Result<Response, ApiError> {
    let ClosedBatch {
        batch,
        payouts,
        skipped,
    } = state
        .service
        .close_clearing_batch(&body.currency, sceau_store::ActedBy::Admin)
        .await?;
    let skipped = skipped
        .iter()
        .map(|merchant| SkippedResponse {
            merchant_id: merchant.merchant_id,
            balance: Money::new(merchant.balance, batch.currency).to_decimal(),
        })
        .collect();
    let response = BatchResponse {
        skipped: Some(skipped),
        ..batch_response(&batch, Some(&payouts))
    };
    let location = format!("/admin/v1/clearing/batches/{}", batch.id);
    let mut response = (StatusCode::CREATED, Json(response)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /admin/v1/clearing/batches`: the newest batches first, without their payouts.
pub async fn list_clearing_batches(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Response, ApiError> {
    let batches = state.service.clearing_batches().await?;
    let body: Vec<BatchResponse> = batches
        .iter()
        .map(|batch| batch_response(batch, None))
        .collect();
    Ok(Json(body).into_response())
}

pub async fn get_clearing_batch(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let (batch, payouts) = state.service.clearing_batch(id).await?;
    Ok(Json(batch_response(&batch, Some(&payouts))).into_response())
}

/// `GET /admin/v1/clearing/batches/{id}/pain.001.xml`: the settlement file, exactly as it
/// was written when the batch was closed.
pub async fn settlement_file(
    State(state): State<AppState>,
    _: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let file = state.service.settlement_file(id).await?;
    let disposition = format!("attachment; filename=\"sceau-clearing-{id}.pain.001.xml\"");
    let mut response = file.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Serialize)]
pub struct LedgerResponse {
    sound: bool,
    currency_sums: Vec<(String, i64)>,
    violations: Vec<String>,
}

pub async fn check_ledger(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let report = state.service.check_ledger().await?;
    Ok(Json(LedgerResponse {
        sound: report.is_sound(),
        currency_sums: report.currency_sums,
        violations: report.violations,
    })
    .into_response())
}

#[derive(serde::Deserialize)]
pub struct MessagesQuery {
    before: Option<String>,
    limit: Option<String>,
}

/// `GET /admin/v1/messages`: the second channel's messages, newest first (states, routes,
/// times; addresses masked, never a body), and the last day's counts by route and state.
pub async fn list_messages(
    State(state): State<AppState>,
    _: Admin,
    query: Result<axum::extract::Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_query",
            "before must be a message id and limit 1 to 1000",
        )
    };
    let axum::extract::Query(query) = query.map_err(|_| invalid())?;
    let before = match query.before.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(invalid)?,
        ),
    };
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=sceau_app::messages::MESSAGES_PAGE_MAX).contains(limit))
            .ok_or_else(invalid)?,
    };
    let overview = state.service.message_overview(before, limit).await?;
    Ok(Json(overview).into_response())
}
