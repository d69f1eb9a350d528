//! The payment pages of a checkout (Figures 1–3): sign in, the electronic check, the
//! seal typed back, the confirmation, and the client's refusal ("Cancel this payment"). No script; every form carries the session's CSRF
//! token (sign-in, which has no session yet, is same-origin only); the checkout is bound
//! to the client who signed in first.

use super::pages::{
    SIGN_IN_REFUSED, Session, form_error, session_form_token, sign_in_first, start_session,
};
use crate::AppState;
use crate::checkout::SealResult;
use crate::error::ApiError;
use crate::views::pay::{self as views, Content, Step};
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sceau_store::{CheckoutState, CheckoutView};
use serde::Deserialize;
use zeroize::Zeroizing;

/// A checkout's public identifier from the path: `co_` and 32 hex digits, else 404.
pub struct CheckoutId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CheckoutId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| not_found())?;
        let well_formed = text.len() == 35
            && text.starts_with("co_")
            && text[3..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if well_formed {
            Ok(CheckoutId(text))
        } else {
            Err(not_found())
        }
    }
}

fn not_found() -> ApiError {
    sceau_app::AppError::Checkout(sceau_store::CheckoutRefusal::NotFound).into()
}

pub(crate) fn see_other(path: &str) -> Response {
    let mut response = Redirect::to(path).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A payment page, answered: never kept by a cache.
fn pay_page(
    view: &CheckoutView,
    title: &str,
    step: Step,
    content: Content,
) -> Result<Response, ApiError> {
    let page = views::pay_page(view, title, step, content);
    Ok(no_store(crate::views::render(&page)?.into_response()))
}

/// `GET /pay/{id}`: the page for where the checkout stands and who is looking.
pub async fn show(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.service.checkout(&id).await?;
    let session = Session::of(&headers, &state).await?;
    render(&state, &view, session.as_ref(), None)
}

fn render(
    state: &AppState,
    view: &CheckoutView,
    session: Option<&Session>,
    message: Option<String>,
) -> Result<Response, ApiError> {
    let now_s = state.service.now_s();
    let viewer = session.map(|session| session.client.id);
    if view.state.is_final() {
        let (step, ended) = views::ended(view, viewer);
        return pay_page(view, "Payment", step, Content::Ended(ended));
    }
    if now_s >= view.expires_at_s {
        let mut ended = view.clone();
        ended.state = CheckoutState::Expired;
        let (step, ended) = views::ended(&ended, viewer);
        return pay_page(view, "Payment", step, Content::Ended(ended));
    }
    let mine = |session: &Session| {
        view.client_id
            .is_none_or(|owner| owner == session.client.id)
    };
    match (view.state, session) {
        (_, Some(session)) if !mine(session) => Ok((
            StatusCode::FORBIDDEN,
            pay_page(
                view,
                "Payment",
                Step::Off,
                Content::Alert(
                    "This payment is being made by another client. Sign out to pay as yourself.",
                ),
            )?,
        )
            .into_response()),
        (CheckoutState::Held, Some(session)) => {
            let issuer = &state.service.settings.issuer_name;
            let (step, held) =
                views::held(issuer, now_s, view, &session.client, &session.csrf, message)?;
            pay_page(view, "Your payment", step, Content::Held(Box::new(held)))
        }
        (CheckoutState::Open, Some(session)) => pay_page(
            view,
            "Payment",
            Step::SignIn,
            Content::Continue {
                name: &session.client.display_name,
                alert: message.as_deref(),
                id: &view.public_id,
                csrf: &session.csrf,
            },
        ),
        _ => pay_page(
            view,
            "Sign in to pay",
            Step::SignIn,
            Content::SignIn {
                id: &view.public_id,
                alert: None,
            },
        ),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    login: String,
    password: Zeroizing<String>,
    #[serde(default)]
    unlock_code: Zeroizing<String>,
}

/// Sign-in on the payment page (the knowledge factor), then the hold.
pub async fn sign_in(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    let view = state.service.checkout(&id).await?;
    let refused = || -> Result<Response, ApiError> {
        let content = Content::SignIn {
            id: &view.public_id,
            alert: Some(SIGN_IN_REFUSED),
        };
        let page = pay_page(&view, "Sign in to pay", Step::SignIn, content)?;
        Ok((StatusCode::UNAUTHORIZED, page).into_response())
    };
    if form.login.len() > 100 || form.password.len() > 1024 {
        return refused();
    }
    let code = super::pages::typed_code(&form.unlock_code);
    let Some(client) = state
        .service
        .sign_in(&form.login, form.password, code)
        .await?
    else {
        tracing::info!("sign-in refused");
        return refused();
    };
    let cookie = start_session(&state, &client).await?;
    let mut response = match state.service.hold_checkout(&id, &client).await {
        Ok(_) => see_other(&format!("/pay/{id}")),
        Err(error) => hold_error(&view, &error.into())?,
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A refused hold, said to the client without detail beyond what is theirs to know.
fn hold_error(view: &CheckoutView, error: &ApiError) -> Result<Response, ApiError> {
    let text = match error.code {
        "insufficient_funds" => "Your account cannot cover this payment. Nothing was held.",
        "blocked" => "Your payments are paused or blocked for now. Nothing was held.",
        "currency_mismatch" => "Your account is in another currency than this payment.",
        _ => error.message.as_str(),
    };
    let page = pay_page(view, "Payment", Step::Off, Content::Alert(text))?;
    Ok((error.status, page).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Checks the session, the origin and the CSRF token of a form on a payment page.
async fn signed_form(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Session, ApiError> {
    let session = Session::of(headers, state)
        .await?
        .ok_or_else(sign_in_first)?;
    session.check_csrf(csrf)?;
    Ok(session)
}

/// `POST /pay/{id}/hold`: a client already signed in pays this checkout.
pub async fn hold(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    let session = signed_form(&state, &headers, &form.csrf).await?;
    match state.service.hold_checkout(&id, &session.client).await {
        Ok(_) => Ok(see_other(&format!("/pay/{id}"))),
        Err(error) => {
            let view = state.service.checkout(&id).await?;
            hold_error(&view, &error.into())
        }
    }
}

/// `POST /pay/{id}/validate` and `/resend`: derive a seal and send it to the phone.
pub async fn validate(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    let session = signed_form(&state, &headers, &form.csrf).await?;
    match state
        .service
        .send_seal(&id, &session.client)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(see_other(&format!("/pay/{id}"))),
        Err(error) => refused_on_the_check(&state, &id, &session, error).await,
    }
}

/// A step of the check refused: the check again, as it stands now, with why and the
/// refusal's status.
async fn refused_on_the_check(
    state: &AppState,
    id: &str,
    session: &Session,
    error: ApiError,
) -> Result<Response, ApiError> {
    let view = state.service.checkout(id).await?;
    let response = render(state, &view, Some(session), Some(error.message))?;
    Ok((error.status, response).into_response())
}

/// `POST /pay/{id}/cancel`: "Cancel this payment", the client refuses to pay.
pub async fn cancel(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    let session = signed_form(&state, &headers, &form.csrf).await?;
    match state
        .service
        .cancel_checkout(&id, &session.client)
        .await
        .map_err(ApiError::from)
    {
        // The checkout's page says it was canceled, with the way back to the shop.
        Ok(_) => Ok(see_other(&format!("/pay/{id}"))),
        Err(error) => refused_on_the_check(&state, &id, &session, error).await,
    }
}

#[derive(Deserialize)]
pub struct SealForm {
    #[serde(default)]
    csrf: String,
    seal: Zeroizing<String>,
}

/// `POST /pay/{id}/seal`: the client typed the seal.
pub async fn seal(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
    form: Result<Form<SealForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    // The session is checked where the seal is, in the store's transaction: here only
    // what needs no reading (origin, CSRF token), so that the common answer (paid, or
    // failed) costs one write and no read.
    let session_token_hash = session_form_token(&headers, &form.csrf)?;
    let typed = if form.seal.len() > 32 {
        ""
    } else {
        form.seal.as_str()
    };
    let outcome = state
        .service
        .type_seal(&id, session_token_hash, typed)
        .await
        .map_err(ApiError::from);
    let text = match outcome {
        // Paid or failed: the checkout's page says which (read there, not here).
        Ok(SealResult::Paid(_) | SealResult::Failed(_)) => {
            return Ok(see_other(&format!("/pay/{id}")));
        }
        // The one answer to a wrong seal: it does not say what was wrong.
        Ok(SealResult::Wrong { tries_left: 1 }) => "That seal is not right. 1 try left.".to_owned(),
        Ok(SealResult::Wrong { tries_left }) => {
            format!("That seal is not right. {tries_left} tries left.")
        }
        Ok(SealResult::Expired) => "This seal has expired. Ask for a new one.".to_owned(),
        Err(error) if error.status == StatusCode::UNAUTHORIZED => return Err(error),
        Err(error) => {
            let session = Session::of(&headers, &state)
                .await?
                .ok_or_else(sign_in_first)?;
            return refused_on_the_check(&state, &id, &session, error).await;
        }
    };
    let session = Session::of(&headers, &state)
        .await?
        .ok_or_else(sign_in_first)?;
    // The page again, as it is now (tries left, the seal's validity), with the message.
    let view = state.service.checkout(&id).await?;
    let response = render(&state, &view, Some(&session), Some(text))?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, response).into_response())
}

/// `GET /pay/{id}/check.svg`: the image of the check, for the client who paid (the seed:
/// the image of the check is kept on the client's terminal).
pub async fn check_image(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (view, session) = the_clients_check(&state, &id, &headers).await?;
    let issuer = &state.service.settings.issuer_name;
    let svg = views::check_image(issuer, &view, &session.client)?;
    Ok(attachment(
        "image/svg+xml; charset=utf-8",
        &format!("check-{}.svg", view.public_id),
        svg.into_response(),
    ))
}

/// `GET /pay/{id}/check.pdf`: the same check as a PDF, for the client who paid.
pub async fn check_document(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (view, session) = the_clients_check(&state, &id, &headers).await?;
    let issuer = &state.service.settings.issuer_name;
    let pdf = views::check_document(issuer, &view, &session.client)?;
    Ok(attachment(
        "application/pdf",
        &format!("check-{}.pdf", view.public_id),
        pdf.into_response(),
    ))
}

/// The checkout `id` and the session of its client, when its check may be shown (held
/// or paid); anyone else gets 404, as for a checkout that does not exist.
async fn the_clients_check(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
) -> Result<(CheckoutView, Session), ApiError> {
    let view = state.service.checkout(id).await?;
    let session = Session::of(headers, state).await?;
    let Some(session) = session.filter(|s| view.client_id == Some(s.client.id)) else {
        return Err(not_found());
    };
    if !matches!(view.state, CheckoutState::Held | CheckoutState::Paid) {
        return Err(not_found());
    }
    Ok((view, session))
}

/// `response` as a file to keep: its type, a name to save it under, never cached.
fn attachment(content_type: &'static str, name: &str, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    no_store(response)
}
