//! The client's signature pages (no script, like the others): hand one document over
//! whole and it becomes an envelope of one file (`sceau_app::signing`), whose page
//! (`/wallet/envelopes/{id}`) takes the seal and offers the signature, the signed PDF and
//! the container. Requests made before signature requests became envelopes are shown
//! read-only. Forms carry the session's CSRF token.

use super::notary_pages::grouped;
use super::pages::Session;
use super::pay::see_other;
use crate::AppState;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::signing::{SignatureView, UploadPermit};
use crate::views::signatures as views;
use axum::extract::multipart::{Field, Multipart, MultipartError, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sceau_store::{SignatureRequestView, SignatureState};
use unicode_normalization::UnicodeNormalization;

/// A request made before signature requests became envelopes: it takes no seal now.
fn legacy_state_text(view: &SignatureRequestView) -> &'static str {
    match view.state {
        SignatureState::AwaitingSeal => "never sealed: nothing was signed",
        SignatureState::Sealed => "sealed, never signed",
        SignatureState::Signed => "signed",
        SignatureState::Failed => "failed: nothing was signed",
    }
}

/// `GET /wallet/signatures`: the form to hand a document over, and the client's
/// signature requests.
pub async fn list(State(state): State<AppState>, session: Session) -> Result<Response, ApiError> {
    render_list(&state, &session, None).await
}

async fn render_list(
    state: &AppState,
    session: &Session,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let requests = state.service.client_signatures(&session.client, 50).await?;
    let requests = requests
        .iter()
        .map(|view| match view {
            SignatureView::Envelope(view) => views::Row {
                href: format!("/wallet/envelopes/{}", view.public_id),
                name: view
                    .files
                    .first()
                    .map(|file| file.name.clone())
                    .unwrap_or_default(),
                state: super::notary_pages::state_text(view.state).0,
                created: rfc3339(view.created_at_s),
            },
            SignatureView::Legacy(view) => views::Row {
                href: format!("/wallet/signatures/{}", view.public_id),
                name: view.document_name.clone(),
                state: legacy_state_text(view),
                created: rfc3339(view.created_at_s),
            },
        })
        .collect();
    let page = views::List {
        alert: error,
        csrf: &session.csrf,
        document_limit: size_text(state.service.document_bytes_max()),
        requests,
    };
    Ok(crate::views::render(&page)?.into_response())
}

/// `POST /wallet/signatures` (multipart): the document; becomes an envelope of one file,
/// whose page (with the seal form) follows.
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|_| unreadable())?;
    let _permit = UploadPermit::take(&state.uploads)?;
    let bytes_max = state.service.document_bytes_max();
    // The form's token comes first (the page puts the file input after it): it is
    // checked before any of the document is read; the document is refused as soon as
    // it is over the limit.
    let mut checked = false;
    let mut document = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if too_large(&error) => return document_refused(&state, &session).await,
            Err(_) => return Err(unreadable()),
        };
        match field.name() {
            Some("csrf") if !checked => {
                check_csrf_field(field, &session).await?;
                checked = true;
            }
            // Nothing but the token is read before the token.
            _ if !checked => session.check_csrf("")?,
            Some("document") if checked && document.is_none() => {
                let name = field.file_name().unwrap_or("document").to_owned();
                let Some(content) = read_document(field, bytes_max).await? else {
                    return document_refused(&state, &session).await;
                };
                document = Some((name, content));
            }
            // A second token or document.
            Some("document") | Some("csrf") => return Err(unreadable()),
            _ => {}
        }
    }
    if !checked {
        session.check_csrf("")?;
    }
    let Some((name, document)) = document else {
        let response = render_list(&state, &session, Some("Choose a document to sign.")).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, response).into_response());
    };
    // Browsers send the file's name alone; keep its last part, whatever the system, in
    // Unicode's composed form (some systems name files decomposed: "é" as "e" and an
    // accent), which is the form file names take.
    let name: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("document")
        .nfc()
        .collect();
    match state
        .service
        .request_signature(&session.client, &name, document)
        .await
        .map_err(ApiError::from)
    {
        Ok(view) => Ok(see_other(&format!("/wallet/envelopes/{}", view.public_id))),
        Err(error) if error.status.is_client_error() => {
            let response = render_list(&state, &session, Some(&error.message)).await?;
            Ok((error.status, response).into_response())
        }
        Err(error) => Err(error),
    }
}

/// The most read of a form's `csrf` field.
const CSRF_FIELD_BYTES_MAX: usize = 128;

/// The form could not be read.
fn unreadable() -> ApiError {
    ApiError::bad_request("invalid_form", "the form could not be read")
}

/// The body was larger than the limit.
fn too_large(error: &MultipartError) -> bool {
    error.status() == StatusCode::PAYLOAD_TOO_LARGE
}

/// Checks the form's `csrf` field. A token is 64 hex digits: no more is read before it
/// is checked.
async fn check_csrf_field(mut field: Field<'_>, session: &Session) -> Result<(), ApiError> {
    let mut csrf = Vec::with_capacity(CSRF_FIELD_BYTES_MAX);
    while let Some(part) = field.chunk().await.map_err(|_| unreadable())? {
        if csrf.len() + part.len() > CSRF_FIELD_BYTES_MAX {
            session.check_csrf("")?;
        }
        csrf.extend_from_slice(&part);
    }
    session.check_csrf(std::str::from_utf8(&csrf).unwrap_or(""))
}

/// Reads the document whole (at most `bytes_max`); `None` when it is too large. Its
/// parts are kept as they come and put together once, so that no buffer grows by
/// doubling past the document.
async fn read_document(
    mut field: Field<'_>,
    bytes_max: usize,
) -> Result<Option<bytes::Bytes>, ApiError> {
    let mut parts: Vec<bytes::Bytes> = Vec::new();
    let mut length = 0_usize;
    loop {
        match field.chunk().await {
            Ok(Some(part)) => {
                length = length.saturating_add(part.len());
                if length > bytes_max {
                    return Ok(None);
                }
                parts.push(part);
            }
            Ok(None) => break,
            Err(error) if too_large(&error) => return Ok(None),
            Err(_) => return Err(unreadable()),
        }
    }
    let mut document = bytes::BytesMut::with_capacity(length);
    for part in parts {
        document.extend_from_slice(&part);
    }
    Ok(Some(document.freeze()))
}

/// A size limit as people read it: in MiB when it is a whole number of them.
fn size_text(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The list page with the size limit said, answered 413.
async fn document_refused(state: &AppState, session: &Session) -> Result<Response, ApiError> {
    let message = format!(
        "Documents are limited to {}.",
        size_text(state.service.document_bytes_max())
    );
    let response = render_list(state, session, Some(&message)).await?;
    Ok((StatusCode::PAYLOAD_TOO_LARGE, response).into_response())
}

/// `GET /wallet/signatures/{id}`: a one-file envelope's page, or a request made before
/// signature requests became envelopes, read-only.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = match state.service.client_signature(&session.client, &id).await? {
        SignatureView::Envelope(view) => {
            return Ok(see_other(&format!("/wallet/envelopes/{}", view.public_id)));
        }
        SignatureView::Legacy(view) => view,
    };
    let page = views::Request {
        id: &view.public_id,
        name: &view.document_name,
        state: legacy_state_text(&view),
        digest: grouped(&hex::encode(view.content_digest)),
        created: rfc3339(view.created_at_s),
        signed: (view.state == SignatureState::Signed)
            .then(|| view.signed_at_s.map(rfc3339).unwrap_or_default()),
    };
    Ok(crate::views::render(&page)?.into_response())
}
