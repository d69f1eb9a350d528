//! The payment pages of a checkout (Figures 1–3): sign in, the electronic check, the
//! seal typed back, the confirmation. No script; every form carries the session's CSRF
//! token (sign-in, which has no session yet, is same-origin only); the checkout is bound
//! to the client who signed in first.

use super::pages::{
    SIGN_IN_REFUSED, Session, escape, form_error, page, session_form_token, sign_in_first,
    start_session,
};
use crate::AppState;
use crate::checkout::SealResult;
use crate::clock::rfc3339;
use crate::error::ApiError;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sceau_domain::words::{Language, amount_in_words};
use sceau_domain::{Currency, Money};
use sceau_store::{CheckoutState, CheckoutView, ClientRecord};
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

fn currency_of(view: &CheckoutView) -> Result<Currency, ApiError> {
    view.currency
        .parse()
        .map_err(|_| sceau_app::error::internal("checkout currency").into())
}

/// The address the client goes back to, telling the shop which checkout and how it
/// ended (the shop must still ask sceau: an address can be typed by anyone).
pub fn return_address(view: &CheckoutView) -> String {
    let separator = if view.return_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{separator}checkout={}&state={}",
        view.return_url,
        view.public_id,
        view.state.as_str()
    )
}

/// Where a payment page stands on the client's way through a checkout: the steps shown
/// on top, and how wide the page is (the check needs room, a form does not).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    SignIn,
    Review,
    Seal,
    Paid,
    /// An ending that is not a payment, or a refusal: no steps.
    Off,
}

const STEP_NAMES: [&str; 4] = ["Sign in", "Review", "Seal", "Done"];

fn steps(step: Step) -> String {
    let current = match step {
        Step::SignIn => 0,
        Step::Review => 1,
        Step::Seal => 2,
        Step::Paid => 3,
        Step::Off => return String::new(),
    };
    let items: String = STEP_NAMES
        .iter()
        .enumerate()
        .map(|(at, name)| {
            let done = at < current || step == Step::Paid;
            let (class, aria) = match (done, at == current) {
                (true, true) => (" class=\"done current\"", " aria-current=\"step\""),
                (false, true) => (" class=\"current\"", " aria-current=\"step\""),
                (true, false) => (" class=\"done\"", ""),
                (false, false) => ("", ""),
            };
            format!(
                "<li{class}{aria}><span class=\"dot\" aria-hidden=\"true\">{}</span>{name}</li>",
                at + 1
            )
        })
        .collect();
    format!("<ol class=\"steps\" aria-label=\"Payment steps\">{items}</ol>")
}

fn pay_page(view: &CheckoutView, title: &str, step: Step, body: &str) -> Response {
    let summary = match currency_of(view) {
        Ok(currency) => format!(
            "<p class=\"paying\"><span class=\"monogram\" aria-hidden=\"true\">{initial}</span>\
             <span class=\"payee-name\"><span class=\"label\">Payment to</span> {merchant}</span> \
             <strong class=\"sum\">{amount}</strong></p>",
            initial = escape(
                &view
                    .merchant_name
                    .chars()
                    .find(|c| c.is_alphanumeric())
                    .map(|c| c.to_uppercase().to_string())
                    .unwrap_or_default()
            ),
            merchant = escape(&view.merchant_name),
            amount = escape(&Money::new(view.amount, currency).to_string())
        ),
        Err(_) => String::new(),
    };
    let width = match step {
        Step::Review | Step::Seal => "wide",
        _ => "narrow",
    };
    no_store(
        page(
            title,
            &format!(
                "<div class=\"pay {width}\">{steps}{summary}{body}</div>",
                steps = steps(step)
            ),
        )
        .into_response(),
    )
}

pub(crate) fn alert(text: &str) -> String {
    format!("<p class=\"error\" role=\"alert\">{}</p>", escape(text))
}

fn sign_in_form(view: &CheckoutView, error: Option<&str>) -> String {
    format!(
        "<section class=\"panel\"><h1>Sign in to pay</h1>\
         <p class=\"muted\">You will see the check before anything is paid.</p>{error}\
         <form method=\"post\" action=\"/pay/{id}/sign-in\" class=\"stack\">{fields}\
         <button type=\"submit\" class=\"primary\">Sign in</button></form></section>",
        error = error.map(alert).unwrap_or_default(),
        id = view.public_id,
        fields = super::pages::sign_in_fields(""),
    )
}

/// The electronic check of Figure 3, zones 21 to 29, laid out as a paper check by the
/// stylesheet (a grid: issuer and date on top, payee and amount, the amount in words on
/// ruled lines, object and drawer, and the card number in a band at the bottom).
fn check(state: &AppState, view: &CheckoutView, client: &ClientRecord) -> Result<String, ApiError> {
    let currency = currency_of(view)?;
    let amount = Money::new(view.amount, currency);
    let words = |language| amount_in_words(amount, language).unwrap_or_default();
    let number = match (&view.number_last_four, view.number_expiry) {
        (Some(four), Some((month, year))) => {
            format!(
                "<span class=\"digits\">•••• •••• •••• {}</span> \
                 <span class=\"expiry\">exp {month:02}/{:02}</span>",
                escape(four),
                year % 100
            )
        }
        _ => "—".to_owned(),
    };
    let figures = amount.to_string();
    let figures = match figures.split_once(' ') {
        Some((decimal, code)) => format!(
            "{} <span class=\"currency\">{}</span>",
            escape(decimal),
            escape(code)
        ),
        None => escape(&figures),
    };
    let when = rfc3339(view.updated_at_s);
    let when_shown = match when.split_once('T') {
        Some((date, time)) => format!(
            "<span class=\"date\">{}</span> <span class=\"time\">{} UTC</span>",
            escape(date),
            escape(time.trim_end_matches('Z'))
        ),
        None => escape(&when),
    };
    Ok(format!(
        "<article class=\"check\" aria-label=\"Electronic check\">\
         <div class=\"zone issuer\" data-zone=\"21\"><span class=\"emblem\" aria-hidden=\"true\"></span>\
         <span class=\"label\">Issuer</span><strong>{issuer}</strong>\
         <span class=\"muted\">Payment confirmed on your phone</span></div>\
         <div class=\"zone when\" data-zone=\"29\"><span class=\"label\">Date and time</span>\
         <time datetime=\"{when_attribute}\">{when_shown}</time></div>\
         <div class=\"zone payee\" data-zone=\"26\"><span class=\"label\">Pay to the order of</span>\
         <span class=\"line\"><strong>{merchant}</strong></span> <span class=\"muted\">merchant no. {merchant_id}</span></div>\
         <div class=\"zone figures-box\" data-zone=\"23\"><span class=\"label\">Amount</span>\
         <strong class=\"amount\">{figures}</strong></div>\
         <div class=\"zone words\" data-zone=\"24\"><span class=\"label\">Amount in words</span>\
         <div class=\"lines\"><p class=\"line\" lang=\"en\">{words_en}</p><p class=\"line\" lang=\"fr\">{words_fr}</p></div></div>\
         <div class=\"zone object\" data-zone=\"27\"><span class=\"label\">For</span>\
         <span class=\"line\"><strong>{object}</strong></span> <span class=\"muted\">reference {reference}</span></div>\
         <div class=\"zone drawer\" data-zone=\"22\"><span class=\"label\">From</span>\
         <span class=\"line\"><strong>{client}</strong></span> <span class=\"muted\">{phone}</span></div>\
         <div class=\"zone means\" data-zone=\"25\"><span class=\"label\">Single-use card for this payment</span>\
         <span class=\"micr mono\">{number}</span></div>\
         </article>",
        issuer = escape(&state.service.settings.issuer_name),
        when_attribute = escape(&when),
        merchant = escape(&view.merchant_name),
        merchant_id = view.merchant_id,
        words_en = escape(&words(Language::English)),
        words_fr = escape(&words(Language::French)),
        object = escape(&view.object),
        reference = escape(&view.merchant_reference),
        client = escape(&client.display_name),
        phone = escape(&client.phone.masked()),
    ))
}

/// What the client may do on a held checkout: validate (first seal), or type the seal
/// and ask for a new one.
fn held_page(
    state: &AppState,
    view: &CheckoutView,
    session: &Session,
    message: Option<String>,
) -> Result<(Step, String), ApiError> {
    let check = check(state, view, &session.client)?;
    let id = &view.public_id;
    let csrf = &session.csrf;
    let message = message.unwrap_or_default();
    let now_s = state.service.now_s();
    let live_seal = view.seal.as_ref().filter(|seal| now_s < seal.expires_at_s);
    let phone = escape(&session.client.phone.masked());
    let amount = escape(&Money::new(view.amount, currency_of(view)?).to_string());
    let (step, title, lead, action) = match (&view.seal, live_seal) {
        (None, _) => (
            Step::Review,
            "Check your payment",
            "Read the check: it is exactly what you will sign.",
            format!(
                "<form method=\"post\" action=\"/pay/{id}/validate\" class=\"validate\" data-zone=\"28\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <p class=\"muted\">A seal for exactly this payment will be sent to your phone {phone}.</p>\
                 <button type=\"submit\" id=\"validate\" class=\"primary\">Validate payment and sign</button></form>",
            ),
        ),
        (Some(_), Some(seal)) => (
            Step::Seal,
            "Sign with your seal",
            "Type the seal from your phone to sign the check below.",
            format!(
                "<section class=\"signing\" aria-label=\"Sign with the seal\">\
                 <form method=\"post\" action=\"/pay/{id}/seal\" class=\"seal-form\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <label for=\"seal\">Seal sent to your phone {phone}</label>\
                 <div class=\"seal-row\"><input name=\"seal\" id=\"seal\" inputmode=\"numeric\" \
                 autocomplete=\"one-time-code\" required maxlength=\"16\" pattern=\"[0-9 -]{{6,16}}\" \
                 spellcheck=\"false\" aria-describedby=\"seal-help\">\
                 <button type=\"submit\" id=\"sign\" class=\"primary\">Sign and pay <span class=\"nowrap\">{amount}</span></button></div>\
                 <p class=\"muted\" id=\"seal-help\">Valid until {until}. {tries}</p></form>{resend}</section>",
                until = crate::clock::clock_time(seal.expires_at_s),
                tries = tries_text(view),
                resend = resend_form(view, csrf),
            ),
        ),
        (Some(_), None) => (
            Step::Seal,
            "Sign with your seal",
            "Ask for a new seal to sign the check below.",
            format!(
                "<section class=\"signing\" aria-label=\"Sign with the seal\">\
                 <p class=\"notice\" role=\"status\">The seal sent to your phone has expired.</p>{}</section>",
                resend_form(view, csrf)
            ),
        ),
    };
    let (top, bottom) = match step {
        Step::Seal => (action, check),
        _ => (check, action),
    };
    Ok((
        step,
        format!("<h1>{title}</h1><p class=\"lead\">{lead}</p>{message}{top}{bottom}"),
    ))
}

fn tries_text(view: &CheckoutView) -> String {
    let left = sceau_domain::seal::SEAL_TRIES_MAX.saturating_sub(view.seal_wrong_tries);
    match left {
        1 => "1 try left.".to_owned(),
        n => format!("{n} tries left."),
    }
}

fn resend_form(view: &CheckoutView, csrf: &str) -> String {
    if view.seal_sends >= sceau_domain::seal::SEAL_SENDS_MAX {
        return String::new();
    }
    format!(
        "<form method=\"post\" action=\"/pay/{}/resend\" class=\"resend\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" class=\"secondary\" id=\"resend\">Send me a new seal</button></form>",
        view.public_id
    )
}

fn ended_page(view: &CheckoutView, session: Option<&Session>) -> (Step, String) {
    let back = format!(
        "<p class=\"actions\"><a class=\"button\" id=\"back\" href=\"{}\">Back to {}</a></p>",
        escape(&return_address(view)),
        escape(&view.merchant_name)
    );
    let outcome = |class: &str, body: String| {
        format!(
            "<section class=\"panel outcome {class}\"><span class=\"outcome-icon\" aria-hidden=\"true\"></span>{body}{back}</section>"
        )
    };
    match view.state {
        CheckoutState::Paid => {
            let download = match session {
                Some(session) if view.client_id == Some(session.client.id) => format!(
                    "<p class=\"download\"><a href=\"/pay/{id}/check.svg\" download=\"check-{id}.svg\" id=\"download\">Download the check</a> \
                     (keep it: it shows what you signed), and \
                     <a href=\"/api/v1/payments/{id}/evidence\" download=\"{id}.evidence.json\" id=\"evidence\">the evidence</a>: \
                     your signed receipt with its time-stamp and its place in the public log, which \
                     <code>sceau verify</code> checks offline.</p>",
                    id = view.public_id
                ),
                _ => String::new(),
            };
            (
                Step::Paid,
                outcome(
                    "paid",
                    format!(
                        "<h1>Paid</h1><p class=\"notice\" role=\"status\" id=\"paid\">Your payment to {} is done. \
                         The seal has been used and is no longer valid.</p>{download}",
                        escape(&view.merchant_name)
                    ),
                ),
            )
        }
        CheckoutState::Failed => (
            Step::Off,
            outcome(
                "failed",
                format!(
                    "<h1>Not paid</h1><p class=\"error\" role=\"alert\" id=\"failed\">This payment failed: {}. \
                     Nothing was taken from your account, and {} has been told.</p>",
                    match view.failure.as_deref() {
                        Some(sceau_store::CHECKOUT_FAILED_SEAL) => "the seal was typed wrong too many times",
                        _ => "it could not be completed in time",
                    },
                    escape(&view.merchant_name)
                ),
            ),
        ),
        _ => (
            Step::Off,
            outcome(
                "expired",
                "<h1>Expired</h1><p class=\"error\" role=\"alert\" id=\"expired\">This payment has expired. \
                 Nothing was taken from your account.</p>"
                    .to_owned(),
            ),
        ),
    }
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
    if view.state.is_final() {
        let (step, body) = ended_page(view, session);
        return Ok(pay_page(view, "Payment", step, &body));
    }
    if now_s >= view.expires_at_s {
        let mut ended = view.clone();
        ended.state = CheckoutState::Expired;
        let (step, body) = ended_page(&ended, session);
        return Ok(pay_page(view, "Payment", step, &body));
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
                &alert(
                    "This payment is being made by another client. Sign out to pay as yourself.",
                ),
            ),
        )
            .into_response()),
        (CheckoutState::Held, Some(session)) => {
            let (step, body) = held_page(state, view, session, message)?;
            Ok(pay_page(view, "Your payment", step, &body))
        }
        (CheckoutState::Open, Some(session)) => Ok(pay_page(
            view,
            "Payment",
            Step::SignIn,
            &format!(
                "<section class=\"panel\"><h1>Pay as {name}?</h1>{message}\
                 <form method=\"post\" action=\"/pay/{id}/hold\" class=\"stack\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <p class=\"muted\">The amount will be held on your account while you check and sign.</p>\
                 <button type=\"submit\" id=\"continue\" class=\"primary\">Continue</button></form></section>",
                name = escape(&session.client.display_name),
                message = message.unwrap_or_default(),
                id = view.public_id,
                csrf = session.csrf,
            ),
        )),
        _ => Ok(pay_page(
            view,
            "Sign in to pay",
            Step::SignIn,
            &sign_in_form(view, None),
        )),
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
    let refused = || {
        (
            StatusCode::UNAUTHORIZED,
            pay_page(
                &view,
                "Sign in to pay",
                Step::SignIn,
                &sign_in_form(&view, Some(SIGN_IN_REFUSED)),
            ),
        )
            .into_response()
    };
    if form.login.len() > 100 || form.password.len() > 1024 {
        return Ok(refused());
    }
    let code = super::pages::typed_code(&form.unlock_code);
    let Some(client) = state
        .service
        .sign_in(&form.login, form.password, code)
        .await?
    else {
        tracing::info!("sign-in refused");
        return Ok(refused());
    };
    let cookie = start_session(&state, &client).await?;
    let mut response = match state.service.hold_checkout(&id, &client).await {
        Ok(_) => see_other(&format!("/pay/{id}")),
        Err(error) => hold_error(&view, &error.into()),
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A refused hold, said to the client without detail beyond what is theirs to know.
fn hold_error(view: &CheckoutView, error: &ApiError) -> Response {
    let text = match error.code {
        "insufficient_funds" => "Your account cannot cover this payment. Nothing was held.",
        "blocked" => "Your payments are paused or blocked for now. Nothing was held.",
        "currency_mismatch" => "Your account is in another currency than this payment.",
        _ => error.message.as_str(),
    };
    (
        error.status,
        pay_page(view, "Payment", Step::Off, &alert(text)),
    )
        .into_response()
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
            Ok(hold_error(&view, &error.into()))
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
        Err(error) => {
            let view = state.service.checkout(&id).await?;
            let response = render(&state, &view, Some(&session), Some(alert(&error.message)))?;
            Ok((error.status, response).into_response())
        }
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
            let view = state.service.checkout(&id).await?;
            let response = render(&state, &view, Some(&session), Some(alert(&error.message)))?;
            return Ok((error.status, response).into_response());
        }
    };
    let session = Session::of(&headers, &state)
        .await?
        .ok_or_else(sign_in_first)?;
    // The page again, as it is now (tries left, the seal's validity), with the message.
    let view = state.service.checkout(&id).await?;
    let response = render(&state, &view, Some(&session), Some(alert(&text)))?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, response).into_response())
}

/// `GET /pay/{id}/check.svg`: the image of the check, for the client who paid (the seed:
/// the image of the check is kept on the client's terminal).
pub async fn check_image(
    State(state): State<AppState>,
    CheckoutId(id): CheckoutId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.service.checkout(&id).await?;
    let session = Session::of(&headers, &state).await?;
    let Some(session) = session.filter(|s| view.client_id == Some(s.client.id)) else {
        return Err(not_found());
    };
    if !matches!(view.state, CheckoutState::Held | CheckoutState::Paid) {
        return Err(not_found());
    }
    let svg = check_svg(&state, &view, &session.client)?;
    let disposition = format!("attachment; filename=\"check-{}.svg\"", view.public_id);
    let mut response = (
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(no_store(response))
}

/// The check as a self-contained SVG image (no script, no external reference).
fn check_svg(
    state: &AppState,
    view: &CheckoutView,
    client: &ClientRecord,
) -> Result<String, ApiError> {
    let currency = currency_of(view)?;
    let amount = Money::new(view.amount, currency);
    let words = |language| amount_in_words(amount, language).unwrap_or_default();
    let status = match view.state {
        CheckoutState::Paid => "PAID · signed with a seal on the client's phone",
        _ => "NOT YET SIGNED",
    };
    let number = match (&view.number_last_four, view.number_expiry) {
        (Some(four), Some((month, year))) => {
            format!("•••• •••• •••• {four}   exp {month:02}/{:02}", year % 100)
        }
        _ => String::new(),
    };
    let text = |x: u32, y: u32, class: &str, content: &str| {
        format!(
            "<text x=\"{x}\" y=\"{y}\" class=\"{class}\">{}</text>",
            escape(content)
        )
    };
    let mut lines = vec![
        text(32, 48, "label", "ISSUER"),
        text(32, 72, "strong", &state.service.settings.issuer_name),
        text(620, 48, "label", "DATE AND TIME"),
        text(620, 72, "value", &rfc3339(view.updated_at_s)),
        text(32, 116, "label", "PAY TO THE ORDER OF"),
        text(32, 142, "strong", &view.merchant_name),
        text(620, 116, "label", "AMOUNT"),
        text(620, 146, "amount", &amount.to_string()),
        text(32, 186, "label", "AMOUNT IN WORDS"),
        text(32, 208, "value", &words(Language::English)),
        text(32, 230, "value", &words(Language::French)),
        text(32, 272, "label", "FOR"),
        text(
            32,
            294,
            "value",
            &format!("{} (reference {})", view.object, view.merchant_reference),
        ),
        text(520, 272, "label", "FROM"),
        text(
            520,
            294,
            "value",
            &format!("{} {}", client.display_name, client.phone.masked()),
        ),
        text(32, 340, "mono", &number),
        text(520, 340, "status", status),
        text(32, 372, "small", &format!("checkout {}", view.public_id)),
    ];
    lines.retain(|line| !line.is_empty());
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"400\" viewBox=\"0 0 900 400\">\
         <style>text{{font-family:Helvetica,Arial,sans-serif;fill:#1c2430}}.label{{font-size:11px;letter-spacing:2px;fill:#6b7280}}\
         .strong{{font-size:20px;font-weight:700}}.value{{font-size:15px}}.amount{{font-size:26px;font-weight:700}}\
         .mono{{font-family:Menlo,monospace;font-size:15px}}.status{{font-size:13px;font-weight:700;fill:#1f7a4d}}\
         .small{{font-size:10px;fill:#6b7280}}</style>\
         <rect x=\"4\" y=\"4\" width=\"892\" height=\"392\" rx=\"14\" fill=\"#fbf8ef\" stroke=\"#b9a77a\" stroke-width=\"2\"/>\
         <rect x=\"14\" y=\"14\" width=\"872\" height=\"372\" rx=\"10\" fill=\"none\" stroke=\"#d8cba5\" stroke-dasharray=\"2 3\"/>\
         <rect x=\"604\" y=\"100\" width=\"264\" height=\"60\" rx=\"6\" fill=\"#fff\" stroke=\"#d8cba5\"/>\
         <line x1=\"32\" y1=\"240\" x2=\"868\" y2=\"240\" stroke=\"#d8cba5\"/>{}</svg>",
        lines.concat()
    ))
}
