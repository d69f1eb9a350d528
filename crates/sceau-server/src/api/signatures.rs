//! Signatures in the client's name over JSON, in the client's browser session (the same
//! cookie as the pages): a signature request is an envelope of one file, given whole
//! (`sceau_app::signing`); requests made before that stay readable. Writes also need
//! the session's CSRF token in `X-CSRF-Token` (from `GET /api/v1/me`), which a
//! cross-site page cannot read or send.

use super::JsonBody;
use super::pages::{ApiSession, Session};
use crate::AppState;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::signing::{SignatureView, UploadPermit};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sceau_app::AppError;
use sceau_app::notary::EnvelopeSealResult;
use sceau_domain::seal::SEAL_TRIES_MAX;
use sceau_store::{
    EnvelopeFileView, EnvelopeState, EnvelopeView, SignatureRequestView, SignatureState,
};
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

/// A signature request as JSON: the shape this API always had (`id`, `document_name`,
/// `sha256`, `state` among `awaiting_seal`, `sealed`, `signed` and `failed`, the seal's
/// expiry and tries, `signed_at`, `signature_url`), and for a one-file envelope its own
/// state and address (`envelope_state`, `envelope_url`).
fn view_json(view: &SignatureView) -> serde_json::Value {
    match view {
        SignatureView::Envelope(view) => envelope_view_json(view),
        SignatureView::Legacy(view) => legacy_view_json(view),
    }
}

/// The one file of a notarized envelope, with its signature.
fn signed_file(view: &EnvelopeView) -> Option<(&EnvelopeFileView, &[u8])> {
    let file = view.files.first()?;
    let signature = file.signature.as_deref()?;
    (view.state == EnvelopeState::Notarized).then_some((file, signature))
}

fn envelope_view_json(view: &EnvelopeView) -> serde_json::Value {
    let state = match view.state {
        EnvelopeState::Notarized => "signed",
        EnvelopeState::AwaitingSeal => "awaiting_seal",
        EnvelopeState::Sealed => "sealed",
        // Open or receiving, an envelope made by this API is one whose document never
        // arrived whole (the request failed on the server's side): it will take no seal.
        EnvelopeState::Open
        | EnvelopeState::Receiving
        | EnvelopeState::Refused
        | EnvelopeState::Failed
        | EnvelopeState::Expired => "failed",
    };
    let awaiting = view.state == EnvelopeState::AwaitingSeal;
    let file = view.files.first();
    let signed = signed_file(view).is_some();
    json!({
        "id": view.public_id,
        "document_name": file.map(|file| file.name.as_str()),
        "sha256": file.map(|file| hex::encode(file.sha256)),
        "state": state,
        "seal_expires_at": view.seal.as_ref().filter(|_| awaiting).map(|s| rfc3339(s.expires_at_s)),
        "tries_left": awaiting.then(|| SEAL_TRIES_MAX.saturating_sub(view.wrong_tries)),
        "seal_sent": view.seal.is_some(),
        "created_at": rfc3339(view.created_at_s),
        "signed_at": file.and_then(|file| file.signed_at_s).filter(|_| signed).map(rfc3339),
        "signature_url": signed
            .then(|| format!("/api/v1/signatures/{}/signature.p7s", view.public_id)),
        "envelope_state": view.state.as_str(),
        "envelope_url": format!("/api/v1/envelopes/{}", view.public_id),
    })
}

/// A request made before signature requests became envelopes: signed, or `failed` (one
/// that was awaiting its seal, or sealed and never signed, takes no seal and will never
/// be signed now).
fn legacy_view_json(view: &SignatureRequestView) -> serde_json::Value {
    let state = match view.state {
        SignatureState::Signed => "signed",
        SignatureState::AwaitingSeal | SignatureState::Sealed | SignatureState::Failed => "failed",
    };
    json!({
        "id": view.public_id,
        "document_name": view.document_name,
        "sha256": hex::encode(view.content_digest),
        "state": state,
        "seal_expires_at": null,
        "tries_left": null,
        "created_at": rfc3339(view.created_at_s),
        "signed_at": view.signed_at_s.map(rfc3339),
        "seal_sent": true,
        "signature_url": (view.state == SignatureState::Signed)
            .then(|| format!("/api/v1/signatures/{}/signature.p7s", view.public_id)),
        "envelope_state": null,
        "envelope_url": null,
    })
}

#[derive(Deserialize)]
pub struct NewSignatureQuery {
    document_name: String,
}

/// `POST /api/v1/signatures?document_name=…`: the body is the document itself (any
/// media type, 1 byte to 8 MiB), which becomes an envelope of one file (sceau acting as
/// the station: see `sceau_app::signing`). Sends the seal to the client's phone; signs
/// nothing yet. The session, the CSRF token and the name are checked before a byte of
/// the body is read; the body is refused as soon as it is over the limit.
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
    let bytes_max = state.service.document_bytes_max();
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if announced.is_some_and(|length| length > bytes_max) {
        return Err(document_too_large(bytes_max));
    }
    let document = read_document(body, announced.unwrap_or(0), bytes_max).await?;
    let view = state
        .service
        .request_signature(&session.client, &query.document_name, document)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(envelope_view_json(&view))).into_response())
}

/// Reads a body whole (a document is at most `bytes_max`, 8 MiB by default), refusing it
/// as soon as it is over; room for what the request announced is taken at once, so that
/// the buffer does not grow by doubling past the document.
async fn read_document(
    body: axum::body::Body,
    announced: usize,
    bytes_max: usize,
) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut document = bytes::BytesMut::with_capacity(announced.min(bytes_max));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        })?;
        if let Some(data) = frame.data_ref() {
            if document.len().saturating_add(data.len()) > bytes_max {
                return Err(document_too_large(bytes_max));
            }
            document.extend_from_slice(data);
        }
    }
    Ok(document.freeze())
}

pub(crate) fn document_too_large(bytes_max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("documents are limited to {bytes_max} bytes"),
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
    let view = state.service.client_signature(&session.client, &id).await?;
    Ok(axum::Json(view_json(&view)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealBody {
    seal: String,
}

/// `POST /api/v1/signatures/{id}/seal` `{"seal": "…"}`: the right seal signs (the
/// envelope is notarized: the answer is `signed`, or `sealed` with the envelope's
/// `waiting` reason while the time-stamp authority or the keystore does not answer); a
/// wrong one is counted (the third fails the request).
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
        .confirm_signature(&session.client, &id, session.token_hash(), &body.seal)
        .await?;
    match result {
        // Failed after the right seal: the certificate the seal consented to was revoked
        // or expired in between (the one way a sealed envelope fails), as this API
        // always said it.
        EnvelopeSealResult::Sealed(view) if view.state == EnvelopeState::Failed => {
            Err(AppError::CertificateNotValid.into())
        }
        EnvelopeSealResult::Sealed(view) => {
            Ok(axum::Json(envelope_view_json(&view)).into_response())
        }
        EnvelopeSealResult::Wrong { tries_left } => Err(AppError::WrongSeal { tries_left }.into()),
        EnvelopeSealResult::Failed => Err(AppError::SignatureFailed.into()),
        EnvelopeSealResult::Expired => Err(AppError::SealExpired.into()),
    }
}

/// `GET /api/v1/signatures/{id}/signature.p7s`: the detached CMS signature (DER), once
/// signed.
pub async fn signature_file(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.service.client_signature(&session.client, &id).await?;
    let (name, signature) = match &view {
        SignatureView::Envelope(view) => signed_file(view)
            .map(|(file, signature)| (file.name.as_str(), signature))
            .ok_or_else(|| {
                AppError::NotSigned(format!("this signature request is {}", view.state.as_str()))
            })?,
        SignatureView::Legacy(view) => view
            .signature
            .as_deref()
            .map(|signature| (view.document_name.as_str(), signature))
            .ok_or_else(|| AppError::NotSigned("this signature request is not signed".into()))?,
    };
    // The file's name: the document's, kept to characters safe in a header.
    let stem = header_safe_name(name);
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
        signature.to_vec(),
    )
        .into_response())
}
