//! Certified delivery over JSON (ARCHITECTURE.md, "Certified delivery").
//!
//! For the sender, in their session (writes with `X-CSRF-Token`):
//! `POST /api/v1/envelopes/{id}/deliveries` sends a notarized envelope to its recipients;
//! `GET /api/v1/envelopes/{id}/deliveries` lists its deliveries; `GET
//! /api/v1/deliveries/{id}` gives one, every recipient's state with it.
//!
//! For a recipient, on their link `/d/{token}` and in their own session (the cookie the
//! right code set, scoped to that link; writes with `X-CSRF-Token`, a value derived from
//! the session): `GET …/delivery.json`; `POST …/withdrawal` (the browser's public key:
//! the withdrawal certificate); `GET …/files/{n}` and `…/files/{n}/signature.p7s` once
//! withdrawn; `POST …/answer` (the statement the browser signed, and its signature).

use super::JsonBody;
use super::envelopes::{disposition, download};
use super::pages::{ApiSession, cookie_value};
use super::signatures::check_write;
use crate::AppState;
use crate::clock::rfc3339;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sceau_app::AppError;
use sceau_app::delivery::{DeliveryRequest, RecipientContext, RecipientRequest};
pub use sceau_app::delivery::{STATEMENT_BYTES_MAX, STATEMENT_TYPE, parse_statement};
use sceau_store::{ArchivedObject, DeliveryView, RecipientView};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// The recipient session's cookie (its path is the recipient's link).
pub const RECIPIENT_COOKIE: &str = "sceau_recipient";
const CSRF_HEADER: &str = "x-csrf-token";

fn recipient_json(recipient: &RecipientView) -> serde_json::Value {
    json!({
        "position": recipient.position,
        "email": recipient.email,
        // A phone the sender did not give (an enrolled client's own) is never shown.
        "phone": recipient.phone_given.then_some(&recipient.phone),
        "state": recipient.state.as_str(),
        "notice_sent_at": recipient.notice_sent_at_s.map(rfc3339),
        "codes_sent": recipient.codes_sent,
        "withdrawals": recipient.withdrawals,
        "answered_at": recipient.answer.as_ref().map(|answer| rfc3339(answer.answered_at_s)),
        "reminded_at": recipient.reminded_at_s.map(rfc3339),
    })
}

/// A delivery as its sender sees it.
pub fn delivery_json(view: &DeliveryView) -> serde_json::Value {
    let recipients: Vec<serde_json::Value> = view.recipients.iter().map(recipient_json).collect();
    json!({
        "id": view.public_id,
        "envelope": view.envelope_public_id,
        "manifest_sha256": hex::encode(view.manifest_sha256),
        "deadline": rfc3339(view.deadline_s),
        "hide_sender": view.hide_sender,
        "created_at": rfc3339(view.created_at_s),
        "settled_at": view.settled_at_s.map(rfc3339),
        "recipients": recipients,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientBody {
    email: String,
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    #[serde(default)]
    recipients: Vec<RecipientBody>,
    deadline_days: Option<u32>,
    #[serde(default)]
    hide_sender: bool,
}

/// Parses the recipients as given: each address (RFC 5321 rules, no header tricks) and
/// phone (E.164), or a clear refusal naming which.
fn recipients(body: Vec<RecipientBody>) -> Result<Vec<RecipientRequest>, AppError> {
    body.into_iter()
        .enumerate()
        .map(|(index, recipient)| {
            let email = recipient.email.parse().map_err(|error| {
                AppError::InvalidField(format!("recipient {}: email: {error}", index + 1))
            })?;
            let phone = recipient
                .phone
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|error| {
                    AppError::InvalidPhone(format!("recipient {}: phone: {error}", index + 1))
                })?;
            Ok(RecipientRequest { email, phone })
        })
        .collect()
}

/// `POST /api/v1/envelopes/{id}/deliveries`
/// `{"recipients"?: [{"email", "phone"?}], "deadline_days"?, "hide_sender"?}`: the
/// delivery, each notice queued.
pub async fn send(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody { value: body, .. }: JsonBody<SendBody>,
) -> Result<Response, ApiError> {
    check_write(&headers, &session)?;
    // More than the ceiling is refused before any address is read.
    let max = sceau_domain::delivery::RECIPIENTS_MAX_CEILING;
    if body.recipients.len() > max {
        let error = sceau_domain::delivery::DeliveryError::TooManyRecipients {
            given: body.recipients.len(),
            max,
        };
        return Err(AppError::Delivery(error).into());
    }
    let request = DeliveryRequest {
        recipients: recipients(body.recipients)?,
        deadline_days: body.deadline_days,
        hide_sender: body.hide_sender,
    };
    let view = state
        .service
        .send_delivery(&session.client, &id, request, state.public_url())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(delivery_json(&view))).into_response())
}

/// `GET /api/v1/envelopes/{id}/deliveries`: the envelope's deliveries, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let envelope = state.service.client_envelope(&session.client, &id).await?;
    let views = state
        .service
        .envelope_deliveries(&session.client, &envelope)
        .await?;
    let all: Vec<serde_json::Value> = views.iter().map(delivery_json).collect();
    Ok(axum::Json(json!({ "deliveries": all })).into_response())
}

/// `GET /api/v1/deliveries/{id}`: one of the sender's deliveries.
pub async fn show(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.service.sender_delivery(&session.client, &id).await?;
    Ok(axum::Json(delivery_json(&view)).into_response())
}

/// `GET /api/v1/deliveries/{id}/recipients/{n}/receipt`: the receipt of one recipient
/// (format `sceau-delivery-receipt/1`), checked offline by `sceau verify`.
pub async fn receipt(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((id, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let position = index
        .parse::<u32>()
        .ok()
        .filter(|_| index == "0" || !index.starts_with(['0', '+']))
        .ok_or(AppError::UnknownDelivery)?;
    let receipt = state
        .service
        .delivery_receipt(&session.client, &id, position)
        .await?;
    // The id was found among the sender's deliveries: 32 hexadecimal digits.
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{id}.{}.receipt.json\"",
                    position + 1
                ),
            ),
        ],
        receipt,
    )
        .into_response())
}

/// The CSRF token of a recipient's session: derived from the session's token, which
/// only the recipient's browser holds (in an HttpOnly cookie another site cannot read).
pub fn recipient_csrf(session: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"sceau recipient csrf v1\0");
    hasher.update(session.as_bytes());
    hex::encode(hasher.finalize())
}

/// The SHA-256 a link's token is stored as (what the store finds a recipient by).
pub fn link_digest(token: &str) -> [u8; 32] {
    sceau_app::delivery::token_digest(token)
}

/// The recipient session's token from the request's cookie.
pub(crate) fn recipient_session(headers: &HeaderMap) -> Result<String, ApiError> {
    cookie_value(headers, RECIPIENT_COOKIE)
        .filter(|token| token.len() == 64)
        .map(str::to_owned)
        .ok_or_else(|| AppError::RecipientSignedOut.into())
}

/// The recipient in session on link `token`; for a write, its CSRF header checked too.
async fn in_session(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    write: bool,
) -> Result<(RecipientContext, String), ApiError> {
    let session = recipient_session(headers)?;
    if write {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if !sceau_crypto::constant_time_eq(
            presented.as_bytes(),
            recipient_csrf(&session).as_bytes(),
        ) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "this request did not come from the delivery's page",
            ));
        }
    }
    let context = state.service.recipient_in_session(token, &session).await?;
    Ok((context, session))
}

/// `GET /d/{token}/delivery.json`: what the recipient's page checks.
pub async fn recipient_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (context, _) = in_session(&state, &headers, &token, false).await?;
    let certificate = state.service.delivery_sender_certificate(&context).await?;
    let base = format!("/d/{token}");
    let files: Vec<serde_json::Value> = context
        .envelope
        .files
        .iter()
        .map(|file| {
            json!({
                "position": file.position,
                "name": file.name,
                "size": file.size,
                "file": format!("{base}/files/{}", file.position),
                "signature": format!("{base}/files/{}/signature.p7s", file.position),
            })
        })
        .collect();
    let recipient = &context.recipient;
    let withdrawal = match &recipient.withdrawal_serial {
        Some(serial) => state
            .service
            .store
            .certificate(serial)
            .await
            .map_err(AppError::from)?
            .map(|record| json!({"serial": serial, "certificate": BASE64.encode(record.der)})),
        None => None,
    };
    Ok(axum::Json(json!({
        "delivery": context.delivery.public_id,
        "recipient": recipient.position,
        "state": recipient.state.as_str(),
        "deadline": rfc3339(context.delivery.deadline_s),
        "sender": {
            "name": context.sender_name,
            "certificate": BASE64.encode(certificate),
        },
        "files": files,
        "withdrawal": withdrawal,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalBody {
    public_key: String,
}

/// `POST /d/{token}/withdrawal` `{"public_key": base64 SPKI}`: the withdrawal
/// certificate sceau made for the browser's key; the files may be fetched from then on.
pub async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    JsonBody { value: body, .. }: JsonBody<WithdrawalBody>,
) -> Result<Response, ApiError> {
    let (_, session) = in_session(&state, &headers, &token, true).await?;
    let public_key = BASE64.decode(body.public_key.trim()).map_err(|_| {
        AppError::InvalidField("public_key is base64 of a P-256 SubjectPublicKeyInfo".into())
    })?;
    let withdrawal = state
        .service
        .withdraw_delivery(&token, &session, &public_key)
        .await?;
    Ok(axum::Json(json!({
        "serial": withdrawal.serial,
        "certificate": BASE64.encode(&withdrawal.certificate),
        "not_after": rfc3339(withdrawal.not_after_s),
    }))
    .into_response())
}

fn position(text: &str) -> Result<u32, ApiError> {
    text.parse::<u32>()
        .ok()
        .filter(|_| !text.starts_with('+') && (text == "0" || !text.starts_with('0')))
        .ok_or_else(|| AppError::UnknownFile.into())
}

/// `GET /d/{token}/files/{n}`: the file, for a recipient who withdrew.
pub async fn recipient_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((token, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (context, _) = in_session(&state, &headers, &token, false).await?;
    let (file, _) = state
        .service
        .delivered_file(&context, position(&index)?)
        .await?;
    let object = ArchivedObject {
        sha256: file.sha256,
        size: file.size,
    };
    download(&state, object, "application/octet-stream", &file.name).await
}

/// `GET /d/{token}/files/{n}/signature.p7s`: the sender's detached signature of the file.
pub async fn recipient_signature(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((token, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (context, _) = in_session(&state, &headers, &token, false).await?;
    let (file, _) = state
        .service
        .delivered_file(&context, position(&index)?)
        .await?;
    let signature = file
        .signature
        .clone()
        .ok_or_else(|| sceau_app::error::internal("a delivered file without its signature"))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/pkcs7-signature".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                disposition(&format!("{}.p7s", file.name)),
            ),
        ],
        signature,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    statement: String,
    signature: String,
}

/// `POST /d/{token}/answer` `{"statement": text, "signature": base64 r||s}`: the
/// recipient's acceptance or refusal, kept time-stamped.
pub async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    JsonBody { value: body, .. }: JsonBody<AnswerBody>,
) -> Result<Response, ApiError> {
    let (_, session) = in_session(&state, &headers, &token, true).await?;
    let signature = BASE64
        .decode(body.signature.trim())
        .map_err(|_| AppError::AnswerSignatureInvalid)?;
    let answered = state
        .service
        .answer_delivery(&token, &session, &body.statement, &signature)
        .await?;
    Ok(axum::Json(json!({ "state": answered.as_str() })).into_response())
}
