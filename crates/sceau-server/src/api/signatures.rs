//! Signatures in the client's name over JSON, in the client's browser session (the same
//! cookie as the pages). Writes also need the session's CSRF token in `X-CSRF-Token`
//! (from `GET /api/v1/me`), which a cross-site page cannot read or send.

use super::JsonBody;
use super::pages::{ApiSession, Session};
use crate::AppState;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::signing::{
    DOCUMENT_BYTES_MAX, Document, DocumentDigester, SignatureResult, UploadPermit, request_id,
};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sceau_app::AppError;
use sceau_domain::seal::SEAL_TRIES_MAX;
use sceau_store::{SignatureRequestView, SignatureState};
use serde::Deserialize;
use serde_json::json;

/// The header that carries the session's CSRF token on writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A file name kept to characters safe in a header's quoted `filename`: ASCII letters,
/// digits, `.`, `-` and `_`, anything else as `_`.
pub(crate) fn header_safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Refuses a write whose `X-CSRF-Token` is not the session's.
pub(crate) fn check_write(headers: &HeaderMap, session: &Session) -> Result<(), ApiError> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    session.check_csrf(presented)
}

fn view_json(view: &SignatureRequestView) -> serde_json::Value {
    let awaiting = view.state == SignatureState::AwaitingSeal;
    json!({
        "id": view.public_id,
        "document_name": view.document_name,
        "sha256": hex::encode(view.content_digest),
        "state": view.state,
        "seal_expires_at": awaiting.then(|| rfc3339(view.seal.expires_at_s)),
        "tries_left": awaiting.then(|| SEAL_TRIES_MAX.saturating_sub(view.wrong_tries)),
        "created_at": rfc3339(view.created_at_s),
        "signed_at": view.signed_at_s.map(rfc3339),
        "signature_url": (view.state == SignatureState::Signed)
            .then(|| format!("/api/v1/signatures/{}/signature.p7s", view.public_id)),
    })
}

#[derive(Deserialize)]
pub struct NewSignatureQuery {
    document_name: String,
}

/// `POST /api/v1/signatures?document_name=…`: the body is the document itself (any
/// media type, up to 8 MiB). Sends the seal to the client's phone; signs nothing yet.
/// The session, the CSRF token and the name are checked before a byte of the body is
/// read; the body is hashed as it arrives, never held whole.
pub async fn create(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    query: Result<Query<NewSignatureQuery>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    check_write(&headers, &session)?;
    let Query(query) =
        query.map_err(|_| AppError::InvalidQuery("give the document's name as ?document_name="))?;
    crate::signing::check_document_name(&query.document_name)?;
    let _permit = UploadPermit::take(&state.uploads)?;
    let document = read_document(body).await?;
    let view = state
        .service
        .request_signature(&session.client, &query.document_name, document)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view_json(&view))).into_response())
}

/// Reads a body into its digest, refusing it as soon as it is over the limit.
async fn read_document(body: axum::body::Body) -> Result<Document, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut digester = DocumentDigester::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        })?;
        if let Some(data) = frame.data_ref() {
            digester.update(data).map_err(|_| document_too_large())?;
        }
    }
    Ok(digester.finish())
}

pub(crate) fn document_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("documents are limited to {DOCUMENT_BYTES_MAX} bytes"),
    )
}

/// `GET /api/v1/signatures`: the client's signature requests, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Response, ApiError> {
    let views = state.service.client_signatures(&session.client, 50).await?;
    let views: Vec<_> = views.iter().map(view_json).collect();
    Ok(axum::Json(json!({ "signatures": views })).into_response())
}

/// `GET /api/v1/signatures/{id}`.
pub async fn show(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state
        .service
        .client_signature(&session.client, request_id(&id)?)
        .await?;
    Ok(axum::Json(view_json(&view)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealBody {
    seal: String,
}

/// `POST /api/v1/signatures/{id}/seal` `{"seal": "…"}`: the right seal signs; a wrong
/// one is counted (the third fails the request).
pub async fn seal(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody { value: body, .. }: JsonBody<SealBody>,
) -> Result<Response, ApiError> {
    check_write(&headers, &session)?;
    let result = state
        .service
        .confirm_signature(request_id(&id)?, session.token_hash(), &body.seal)
        .await?;
    match result {
        SignatureResult::Signed(view) => Ok(axum::Json(view_json(&view)).into_response()),
        SignatureResult::Wrong { tries_left } => Err(AppError::WrongSeal { tries_left }.into()),
        SignatureResult::Failed(_) => Err(AppError::SignatureFailed.into()),
        SignatureResult::Expired => Err(AppError::SealExpired.into()),
    }
}

/// `GET /api/v1/signatures/{id}/signature.p7s`: the detached CMS signature (DER), once
/// signed.
pub async fn signature_file(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state
        .service
        .client_signature(&session.client, request_id(&id)?)
        .await?;
    let Some(signature) = view.signature else {
        return Err(AppError::NotSigned(format!(
            "this signature request is {}",
            view.state.as_str()
        ))
        .into());
    };
    // The file's name: the document's, kept to characters safe in a header.
    let stem = header_safe_name(&view.document_name);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/pkcs7-signature".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.p7s\""),
            ),
        ],
        signature,
    )
        .into_response())
}
