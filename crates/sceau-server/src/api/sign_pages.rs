//! The client's signature pages (no script, like the others): hand a document over, type
//! back the seal sent to the phone for it, download the signature. The same use cases
//! as the JSON API (`signing.rs`); forms carry the session's CSRF token.

use super::pages::{Session, form_error};
use super::pay::see_other;
use crate::AppState;
use crate::clock::{clock_time, rfc3339};
use crate::error::ApiError;
use crate::signing::{
    DOCUMENT_BYTES_MAX, Document, DocumentDigester, SignatureResult, UploadPermit, request_id,
};
use crate::views::signatures as views;
use axum::Form;
use axum::extract::multipart::{Field, Multipart, MultipartError, MultipartRejection};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sceau_domain::seal::SEAL_TRIES_MAX;
use sceau_store::{SignatureRequestView, SignatureState};
use serde::Deserialize;

/// The SHA-256 in groups of four digits, easier to compare by eye.
fn grouped(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn state_text(view: &SignatureRequestView) -> &'static str {
    match view.state {
        SignatureState::AwaitingSeal => "waiting for the seal",
        SignatureState::Sealed => "sealed, being signed",
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
        .map(|view| views::Row {
            id: view.public_id.clone(),
            name: view.document_name.clone(),
            state: state_text(view),
            created: rfc3339(view.created_at_s),
        })
        .collect();
    let page = views::List {
        alert: error,
        csrf: &session.csrf,
        document_mib: DOCUMENT_BYTES_MAX / (1024 * 1024),
        requests,
    };
    Ok(crate::views::render(&page)?.into_response())
}

/// `POST /wallet/signatures` (multipart): the document; sends the seal and shows the
/// request's page.
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|_| unreadable())?;
    let _permit = UploadPermit::take(&state.uploads)?;
    // The form's token comes first (the page puts the file input after it): it is
    // checked before any of the document is read, and the document is hashed as it
    // arrives, never held whole.
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
                let Some(digest) = digest_document(field).await? else {
                    return document_refused(&state, &session).await;
                };
                document = Some((name, digest));
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
    // Browsers send the file's name alone; keep its last part, whatever the system.
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("document")
        .to_owned();
    match state
        .service
        .request_signature(&session.client, &name, document)
        .await
        .map_err(ApiError::from)
    {
        Ok(view) => Ok(see_other(&format!("/wallet/signatures/{}", view.public_id))),
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

/// Hashes the document as it arrives, never held whole; `None` when it is too large.
async fn digest_document(mut field: Field<'_>) -> Result<Option<Document>, ApiError> {
    let mut digester = DocumentDigester::default();
    loop {
        match field.chunk().await {
            Ok(Some(part)) => {
                if digester.update(&part).is_err() {
                    return Ok(None);
                }
            }
            Ok(None) => break,
            Err(error) if too_large(&error) => return Ok(None),
            Err(_) => return Err(unreadable()),
        }
    }
    Ok(Some(digester.finish()))
}

/// The list page with the size limit said, answered 413.
async fn document_refused(state: &AppState, session: &Session) -> Result<Response, ApiError> {
    let message = format!("Documents are limited to {} MiB.", DOCUMENT_BYTES_MAX >> 20);
    let response = render_list(state, session, Some(&message)).await?;
    Ok((StatusCode::PAYLOAD_TOO_LARGE, response).into_response())
}

/// `GET /wallet/signatures/{id}`: the request: what is signed, the seal form while it
/// waits, the signature once signed.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state
        .service
        .client_signature(&session.client, request_id(&id)?)
        .await?;
    Ok(render(&state, &session, &view, None)?.into_response())
}

fn render(
    state: &AppState,
    session: &Session,
    view: &SignatureRequestView,
    error: Option<&str>,
) -> Result<axum::response::Html<String>, ApiError> {
    let now_s = state.service.now_s();
    let action = match view.state {
        SignatureState::AwaitingSeal if now_s < view.seal.expires_at_s => views::Action::Seal {
            csrf: &session.csrf,
            phone: session.client.phone.masked(),
            until: clock_time(view.seal.expires_at_s),
            tries_left: SEAL_TRIES_MAX.saturating_sub(view.wrong_tries),
        },
        SignatureState::AwaitingSeal => views::Action::SealExpired,
        SignatureState::Signed => views::Action::Signed {
            at: view.signed_at_s.map(rfc3339).unwrap_or_default(),
        },
        SignatureState::Sealed => views::Action::Sealed,
        SignatureState::Failed => views::Action::Failed,
    };
    crate::views::render(&views::Request {
        id: &view.public_id,
        name: &view.document_name,
        alert: error,
        state: state_text(view),
        digest: grouped(&hex::encode(view.content_digest)),
        created: rfc3339(view.created_at_s),
        action,
    })
}

#[derive(Deserialize)]
pub struct SealForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    seal: String,
}

/// `POST /wallet/signatures/{id}/seal`: the seal typed back. Signed: the request's page;
/// wrong: the page again, with how many tries are left.
pub async fn seal(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: Result<Form<SealForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    session.check_csrf(&form.csrf)?;
    request_id(&id)?;
    let typed = if form.seal.len() > 32 { "" } else { &form.seal };
    let message = match state
        .service
        .confirm_signature(&id, session.token_hash(), typed)
        .await
        .map_err(ApiError::from)
    {
        Ok(SignatureResult::Signed(_) | SignatureResult::Failed(_)) => {
            return Ok(see_other(&format!("/wallet/signatures/{id}")));
        }
        Ok(SignatureResult::Wrong { tries_left: 1 }) => {
            "That seal is not right. 1 try left.".to_owned()
        }
        Ok(SignatureResult::Wrong { tries_left }) => {
            format!("That seal is not right. {tries_left} tries left.")
        }
        Ok(SignatureResult::Expired) => {
            "This seal has expired: nothing was signed. Hand the document over again.".to_owned()
        }
        // Not this client's, or the server's own failure: not a page about a seal.
        Err(error) if error.status == StatusCode::NOT_FOUND || error.status.is_server_error() => {
            return Err(error);
        }
        Err(error) => error.message,
    };
    let view = state.service.client_signature(&session.client, &id).await?;
    let response = render(&state, &session, &view, Some(&message))?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, response).into_response())
}
