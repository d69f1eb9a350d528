//! A recipient's pages (certified delivery; ARCHITECTURE.md, "Certified delivery"): the
//! link `/d/{token}` shows what the notice said and offers the code (plain forms; the
//! edge refuses a write from another origin); the right code sets the recipient's own
//! session cookie (HttpOnly, SameSite=Strict, its path the link) and opens the files
//! page, the one page here that runs a script (`delivery.js`, under the station's
//! Content-Security-Policy), which checks every file before the recipient answers.

use super::delivery::{RECIPIENT_COOKIE, recipient_csrf, recipient_session};
use super::pay::see_other;
use crate::AppState;
use crate::clock::{clock_time, date_time};
use crate::error::ApiError;
use crate::station;
use crate::views::delivery::{self as views, Step, prefers_french};
use crate::views::notary::{Script, size_text};
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sceau_app::AppError;
use sceau_app::delivery::RecipientContext;
use sceau_domain::delivery::RecipientState;
use sceau_domain::phone::PhoneNumber;
use serde::Deserialize;

/// The longest code read from the form (longer is wrong, not read).
const CODE_CHARS_MAX: usize = 32;

fn french(headers: &HeaderMap) -> bool {
    prefers_french(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok()),
    )
}

/// Why nothing more is offered to a recipient in `state`, in words.
fn over_text(state: RecipientState, fr: bool) -> Option<String> {
    let text = match (state, fr) {
        (RecipientState::Accepted, false) => "You accepted this delivery. Nothing more to do.",
        (RecipientState::Accepted, true) => "Vous avez accepté cet envoi. Plus rien à faire.",
        (RecipientState::Rejected, false) => "You refused this delivery. Nothing more to do.",
        (RecipientState::Rejected, true) => "Vous avez refusé cet envoi. Plus rien à faire.",
        (RecipientState::Expired, false) => "The deadline of this delivery has passed.",
        (RecipientState::Expired, true) => "Le délai de cet envoi est passé.",
        (RecipientState::NoticeFailed, false) => "This delivery to you has ended.",
        (RecipientState::NoticeFailed, true) => "Cet envoi vous concernant est terminé.",
        _ => return None,
    };
    Some(text.to_owned())
}

fn notice_page(
    state: &AppState,
    context: &RecipientContext,
    token: &str,
    fr: bool,
    step: Step,
    alert: Option<String>,
) -> Result<Response, ApiError> {
    let first_name = context
        .envelope
        .files
        .first()
        .map_or("", |file| file.name.as_str());
    let phone = context
        .recipient
        .phone
        .parse::<PhoneNumber>()
        .map(|phone| phone.masked())
        .unwrap_or_default();
    let step = match over_text(context.recipient.state, fr) {
        Some(why) => Step::Over { why },
        None => step,
    };
    let page = views::Notice {
        fr,
        token,
        sender: context.sender_name.as_deref(),
        issuer: &state.service.settings.issuer_name,
        files: context.envelope.files.len(),
        first_name,
        deadline: date_time(context.delivery.deadline_s),
        phone,
        alert,
        step,
    };
    Ok(crate::views::render(&page)?.into_response())
}

/// `GET /d/{token}`: the notice again; a recipient already in session goes to the files.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    if let Ok(session) = recipient_session(&headers)
        && state
            .service
            .recipient_in_session(&token, &session)
            .await
            .is_ok()
    {
        return Ok(see_other(&format!("/d/{token}/files")));
    }
    let context = state.service.delivery_by_link(&token).await?;
    let fr = french(&headers);
    notice_page(&state, &context, &token, fr, Step::AskCode, None)
}

/// A refusal as the notice page shows it (in the page's language where it has words of
/// its own), or the error page for what is not the recipient's to fix.
fn alert_of(error: &AppError, fr: bool) -> String {
    match (error, fr) {
        (AppError::WrongCode { tries_left }, true) => {
            format!("Ce n'est pas le code envoyé à votre téléphone ; encore {tries_left} essai(s).")
        }
        (AppError::CodeExpired, true) => {
            "Aucun code n'est valable maintenant : demandez-en un nouveau.".to_owned()
        }
        (AppError::Recipient(sceau_domain::delivery::RecipientRefusal::Paused), true) => {
            "Trop de codes erronés : réessayez plus tard.".to_owned()
        }
        (AppError::Throttled(_), true) => {
            "Trop de codes ont été envoyés à ce téléphone cette heure-ci : réessayez plus tard."
                .to_owned()
        }
        _ => error.message(),
    }
}

/// Whether the notice page shows this refusal (else it is an error page).
fn shown_on_page(error: &AppError) -> bool {
    matches!(
        error,
        AppError::WrongCode { .. }
            | AppError::CodeExpired
            | AppError::Recipient(_)
            | AppError::Throttled(_)
    )
}

/// `POST /d/{token}/code`: a code sent to the recipient's phone; the page asks for it.
pub async fn send_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let fr = french(&headers);
    let context = state.service.delivery_by_link(&token).await?;
    match state.service.send_recipient_code(&token).await {
        Ok(until_s) => {
            let step = Step::TypeCode {
                until: clock_time(until_s),
            };
            notice_page(&state, &context, &token, fr, step, None)
        }
        Err(error) if shown_on_page(&error) => {
            let alert = Some(alert_of(&error, fr));
            let status = crate::error::status(&error);
            let mut page = notice_page(&state, &context, &token, fr, Step::AskCode, alert)?;
            *page.status_mut() = status;
            Ok(page)
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

/// `POST /d/{token}/session` (`code`): the right code opens the recipient's session
/// (its cookie) and the files page; a wrong one says how many tries are left.
pub async fn open_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let fr = french(&headers);
    let context = state.service.delivery_by_link(&token).await?;
    let typed = form
        .map(|Form(form)| form.code)
        .unwrap_or_default()
        .chars()
        .take(CODE_CHARS_MAX)
        .collect::<String>();
    match state.service.type_recipient_code(&token, &typed).await {
        Ok(session) => {
            let secure = if state.secure_cookies { "; Secure" } else { "" };
            let max_age = (session.expires_at_s - state.service.now_s()).max(0);
            let cookie = format!(
                "{RECIPIENT_COOKIE}={}; Path=/d/{token}; HttpOnly; SameSite=Strict; \
                 Max-Age={max_age}{secure}",
                session.token.as_str()
            );
            let cookie = HeaderValue::from_str(&cookie)
                .map_err(|_| sceau_app::error::internal("recipient cookie"))?;
            let mut response = see_other(&format!("/d/{token}/files"));
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(error) if shown_on_page(&error) => {
            let step = match (&error, context.recipient.code.as_ref()) {
                (AppError::WrongCode { .. }, Some(code)) => Step::TypeCode {
                    until: clock_time(code.expires_at_s),
                },
                _ => Step::AskCode,
            };
            let alert = Some(alert_of(&error, fr));
            let status = crate::error::status(&error);
            let mut page = notice_page(&state, &context, &token, fr, step, alert)?;
            *page.status_mut() = status;
            Ok(page)
        }
        Err(error) => Err(error.into()),
    }
}

/// `GET /d/{token}/files`: the files page (in session; else back to the notice).
pub async fn files(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Ok(session) = recipient_session(&headers) else {
        return Ok(see_other(&format!("/d/{token}")));
    };
    let context = match state.service.recipient_in_session(&token, &session).await {
        Ok(context) => context,
        Err(AppError::RecipientSignedOut) => return Ok(see_other(&format!("/d/{token}"))),
        Err(error) => return Err(error.into()),
    };
    let fr = french(&headers);
    let scripts = station::DELIVERY_SCRIPTS
        .iter()
        .map(|script| Script {
            src: format!("/static/{}", script.name),
            integrity: script.integrity(),
        })
        .collect();
    let files = context
        .envelope
        .files
        .iter()
        .map(|file| views::File {
            position: file.position,
            name: file.name.clone(),
            size: size_text(file.size),
            sha256: crate::api::notary_pages::grouped(&hex::encode(file.sha256)),
        })
        .collect();
    let page = views::Files {
        fr,
        token: &token,
        csrf: recipient_csrf(&session),
        sender: context.sender_name.as_deref().unwrap_or(""),
        deadline: date_time(context.delivery.deadline_s),
        state: context.recipient.state.as_str(),
        files,
        scripts,
    };
    let mut response = crate::views::render(&page)?.into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(station::STATION_CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}

/// `GET /static/cms.js` and `GET /static/delivery.js`: the recipient's page's scripts.
pub async fn cms_js() -> Response {
    crate::api::notary_pages::script(station::CMS_JS)
}

pub async fn delivery_js() -> Response {
    crate::api::notary_pages::script(station::DELIVERY_JS)
}

/// `GET /wallet/deliveries/{id}`: one of the sender's deliveries, every recipient's state
/// and receipt, in English or French.
pub async fn sender_page(
    State(state): State<AppState>,
    session: super::pages::Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.service.sender_delivery(&session.client, &id).await?;
    let fr = french(&headers);
    let recipients = view
        .recipients
        .iter()
        .map(|recipient| {
            let (words, class) = views::recipient_state_words(recipient.state, fr);
            views::SenderRecipient {
                position: recipient.position,
                number: recipient.position + 1,
                email: recipient.email.clone(),
                state: words,
                class,
                answered: recipient
                    .answer
                    .as_ref()
                    .map(|answer| date_time(answer.answered_at_s)),
            }
        })
        .collect();
    let page = views::Sender {
        fr,
        id: &view.public_id,
        envelope: &view.envelope_public_id,
        created: date_time(view.created_at_s),
        deadline: date_time(view.deadline_s),
        hide_sender: view.hide_sender,
        recipients,
    };
    Ok(crate::views::render(&page)?.into_response())
}
