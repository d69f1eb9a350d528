//! The notary over JSON (ARCHITECTURE.md, "The notary"), in the client's session (the
//! same cookie as the pages; writes also need the session's CSRF token in
//! `X-CSRF-Token`): what the station's script and `sceau notarize` speak.
//!
//! `POST /api/v1/envelopes` opens an envelope for the station's public key;
//! `POST …/{id}/manifest` takes the signed manifest; `PUT …/{id}/files/{n}` each file's
//! bytes, streamed; `POST …/{id}/seal` the seal; `POST …/{id}/seal/resend` a new seal;
//! the `GET`s give the envelope, its files, signatures, signed PDFs and container.

use super::JsonBody;
use super::pages::{ApiSession, Session};
use super::signatures::{check_write, header_safe_name};
use crate::AppState;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::signing::FileUploadPermit;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::TryStreamExt;
use sceau_app::AppError;
use sceau_app::notary::{EnvelopeSealResult, envelope_id};
use sceau_domain::seal::SEAL_TRIES_MAX;
use sceau_store::{ArchivedObject, EnvelopeState, EnvelopeView};
use serde::Deserialize;
use serde_json::json;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An envelope as JSON: its state, files (with their digests and, once notarized, where
/// their signatures are), destinations, seal and links.
pub fn envelope_json(view: &EnvelopeView) -> serde_json::Value {
    let base = format!("/api/v1/envelopes/{}", view.public_id);
    let notarized = view.state == EnvelopeState::Notarized && view.deleted_at_s.is_none();
    let awaiting = view.state == EnvelopeState::AwaitingSeal;
    let files: Vec<serde_json::Value> = view
        .files
        .iter()
        .map(|file| {
            let at = format!("{base}/files/{}", file.position);
            json!({
                "index": file.position,
                "name": file.name,
                "size": file.size,
                "sha256": hex::encode(file.sha256),
                "received": file.received_at_s.is_some(),
                "download_url": (file.received_at_s.is_some() && view.deleted_at_s.is_none())
                    .then(|| at.clone()),
                "signature_url": (notarized && file.signature.is_some())
                    .then(|| format!("{at}/signature.p7s")),
                "signed_pdf_url": (notarized && file.signed_pdf.is_some())
                    .then(|| format!("{at}/signed.pdf")),
                "signed_at": file.signed_at_s.map(rfc3339),
                "pdf_note": file.pdf_note,
            })
        })
        .collect();
    let destinations: Vec<serde_json::Value> = view
        .destinations
        .iter()
        .map(|d| json!({"email": d.email, "phone": d.phone}))
        .collect();
    json!({
        "id": view.public_id,
        "state": view.state.as_str(),
        "refusal": view.refusal,
        "certificate_serial": view.certificate_serial,
        "certificate_expires_at": rfc3339(view.certificate_expires_at_s),
        "manifest_sha256": view.manifest_sha256.map(hex::encode),
        "files": files,
        "destinations": destinations,
        "signer_certificate": view.signer_serial,
        "seal_sent": view.seal.is_some(),
        "seal_expires_at": view.seal.as_ref().filter(|_| awaiting).map(|s| rfc3339(s.expires_at_s)),
        "tries_left": awaiting.then(|| SEAL_TRIES_MAX.saturating_sub(view.wrong_tries)),
        "waiting": view.waiting,
        "notarized_at": view.notarized_at_s.map(rfc3339),
        "retain_until": view.retain_until_s.map(rfc3339),
        "deleted_at": view.deleted_at_s.map(rfc3339),
        "container_url": (notarized && view.container.is_some())
            .then(|| format!("{base}/container.asice")),
        "evidence_url": format!("{base}/evidence"),
        "created_at": rfc3339(view.created_at_s),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    public_key: String,
    lifetime_s: Option<i64>,
}

/// `POST /api/v1/envelopes` `{"public_key": base64 SPKI, "lifetime_s"?}`: the envelope
/// and the disposable certificate sceau's CA issued for the station's key.
pub async fn open(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    JsonBody { value: body, .. }: JsonBody<OpenBody>,
) -> Result<Response, ApiError> {
    check_write(&headers, &session)?;
    let public_key = BASE64.decode(body.public_key.trim()).map_err(|_| {
        AppError::InvalidStationKey("public_key is base64 of a P-256 SubjectPublicKeyInfo".into())
    })?;
    let opened = state
        .service
        .open_envelope(&session.client, &public_key, body.lifetime_s)
        .await?;
    let mut answer = envelope_json(&opened.view);
    let limits = state
        .service
        .notary
        .as_ref()
        .map(|notary| notary.settings.limits)
        .unwrap_or_default();
    answer["certificate"] = json!(BASE64.encode(&opened.certificate));
    answer["limits"] = json!({
        "files_max": limits.files_max,
        "file_bytes_max": limits.file_bytes_max,
        "envelope_bytes_max": limits.envelope_bytes_max,
    });
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestBody {
    manifest: String,
    signature: String,
}

/// `POST /api/v1/envelopes/{id}/manifest` `{"manifest": canonical JSON, "signature":
/// base64 r||s}`.
pub async fn manifest(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody { value: body, .. }: JsonBody<ManifestBody>,
) -> Result<Response, ApiError> {
    check_write(&headers, &session)?;
    // A signature that is not base64 is a signature that does not verify.
    let signature = BASE64.decode(body.signature.trim()).unwrap_or_default();
    let view = state
        .service
        .submit_manifest(&session.client, &id, &body.manifest, &signature)
        .await?;
    Ok(axum::Json(envelope_json(&view)).into_response())
}

/// A file index from the path; anything else is not found.
fn file_index(text: &str) -> Result<usize, ApiError> {
    (text.len() <= 4 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| AppError::UnknownFile.into())
}

/// `PUT /api/v1/envelopes/{id}/files/{n}`: the file's bytes, streamed into the archive
/// while hashed (never held whole).
pub async fn put_file(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    Path((id, index)): Path<(String, String)>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    check_write(&headers, &session)?;
    let index = file_index(&index)?;
    let _permit = FileUploadPermit::take(&state.uploads, session.client.id)?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let view = state
        .service
        .receive_envelope_file(&session.client, &id, index, stream)
        .await?;
    Ok(axum::Json(envelope_json(&view)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealBody {
    seal: String,
}

/// `POST /api/v1/envelopes/{id}/seal` `{"seal": "…"}`: the right seal has every file
/// signed, time-stamped and archived; a wrong one is counted (the third fails the
/// envelope).
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
        .confirm_envelope_seal(&session.client, &id, session.token_hash(), &body.seal)
        .await?;
    match result {
        EnvelopeSealResult::Sealed(view) => Ok(axum::Json(envelope_json(&view)).into_response()),
        EnvelopeSealResult::Wrong { tries_left } => Err(AppError::WrongSeal { tries_left }.into()),
        EnvelopeSealResult::Failed => Err(AppError::EnvelopeFailed.into()),
        EnvelopeSealResult::Expired => Err(AppError::SealExpired.into()),
    }
}

/// `POST /api/v1/envelopes/{id}/seal/resend`: a new seal (the previous one is void).
pub async fn resend(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_write(&headers, &session)?;
    let view = state
        .service
        .resend_envelope_seal(&session.client, &id)
        .await?;
    Ok(axum::Json(envelope_json(&view)).into_response())
}

/// `GET /api/v1/envelopes`: the client's envelopes, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Response, ApiError> {
    let views = state.service.client_envelopes(&session.client, 50).await?;
    let views: Vec<_> = views.iter().map(envelope_json).collect();
    Ok(axum::Json(json!({ "envelopes": views })).into_response())
}

/// `GET /api/v1/envelopes/{id}` (a sealed envelope is notarized first, or says why it
/// waits).
pub async fn show(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.service.client_envelope(&session.client, &id).await?;
    Ok(axum::Json(envelope_json(&view)).into_response())
}

/// A name safe in a `Content-Disposition` header: the file's, with anything but ASCII
/// letters, digits, `.`, `-` and `_` as `_` (and the full name, UTF-8, as `filename*`).
pub(crate) fn disposition(name: &str) -> String {
    let plain = header_safe_name(name);
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

/// An archived object as a download, streamed and re-checked as it goes (a damaged
/// object ends the answer with an error rather than a clean end).
pub(crate) async fn download(
    state: &AppState,
    object: ArchivedObject,
    content_type: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let reader = state.service.envelope_object(object).await?;
    let body = axum::body::Body::from_stream(reader);
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition(name)),
            (header::CONTENT_LENGTH, object.size.to_string()),
        ],
        body,
    )
        .into_response())
}

/// The envelope, its file `index`, and whether it is notarized (downloads of what was
/// made need it).
async fn envelope_file(
    state: &AppState,
    session: &Session,
    id: &str,
    index: &str,
) -> Result<(EnvelopeView, usize), ApiError> {
    let index = file_index(index)?;
    let view = state
        .service
        .client_envelope(&session.client, envelope_id(id)?)
        .await?;
    if index >= view.files.len() {
        return Err(AppError::UnknownFile.into());
    }
    Ok((view, index))
}

fn not_notarized(view: &EnvelopeView) -> ApiError {
    AppError::NotSigned(format!("this envelope is {}", view.state.as_str())).into()
}

/// `GET /api/v1/envelopes/{id}/files/{n}`: the file as received.
pub async fn get_file(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((id, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (view, index) = envelope_file(&state, &session, &id, &index).await?;
    let file = &view.files[index];
    // Only a live or notarized envelope's files are served: a refused one's answer must
    // not tell whether another envelope keeps the same content.
    let over = matches!(
        view.state,
        EnvelopeState::Refused | EnvelopeState::Expired | EnvelopeState::Failed
    );
    if file.received_at_s.is_none() || over {
        return Err(AppError::EnvelopeState(format!(
            "this envelope is {}: its files are not kept",
            view.state.as_str()
        ))
        .into());
    }
    let object = ArchivedObject {
        sha256: file.sha256,
        size: file.size,
    };
    download(&state, object, "application/octet-stream", &file.name).await
}

/// `GET /api/v1/envelopes/{id}/files/{n}/signature.p7s`: the file's detached CMS
/// signature (CAdES-B-T, DER).
pub async fn get_signature(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((id, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (view, index) = envelope_file(&state, &session, &id, &index).await?;
    let file = &view.files[index];
    let Some(signature) = file.signature.clone() else {
        return Err(not_notarized(&view));
    };
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

/// `GET /api/v1/envelopes/{id}/files/{n}/signed.pdf`: a PDF with its PAdES signature.
pub async fn get_signed_pdf(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path((id, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (view, index) = envelope_file(&state, &session, &id, &index).await?;
    let file = &view.files[index];
    let Some(object) = file.signed_pdf.filter(|_| view.deleted_at_s.is_none()) else {
        return Err(match &file.pdf_note {
            Some(note) => AppError::NotSigned(note.clone()).into(),
            None if view.state == EnvelopeState::Notarized => {
                AppError::NotSigned("this file is not a PDF".into()).into()
            }
            None => not_notarized(&view),
        });
    };
    let stem = file
        .name
        .strip_suffix(".pdf")
        .or_else(|| file.name.strip_suffix(".PDF"))
        .unwrap_or(&file.name);
    download(
        &state,
        object,
        "application/pdf",
        &format!("{stem}.signed.pdf"),
    )
    .await
}

/// `GET /api/v1/envelopes/{id}/container.asice`: the ASiC-E container.
pub async fn get_container(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.service.client_envelope(&session.client, &id).await?;
    let Some(object) = view.container.filter(|_| view.deleted_at_s.is_none()) else {
        return Err(not_notarized(&view));
    };
    download(
        &state,
        object,
        "application/vnd.etsi.asic-e+zip",
        &format!("{}.asice", view.public_id),
    )
    .await
}

/// `GET /api/v1/envelopes/{id}/evidence`: the evidence bundle of a notarized envelope
/// (its records, signatures and signed manifest) or of a refused one (its refusal),
/// checked offline by `sceau verify`; `evidence_pending` until the log includes its
/// records.
pub async fn get_evidence(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let bundle = state
        .service
        .envelope_evidence_bundle(&session.client, envelope_id(&id)?)
        .await?;
    // The id is 32 hexadecimal digits: nothing to escape.
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.evidence.json\""),
            ),
        ],
        bundle,
    )
        .into_response())
}
