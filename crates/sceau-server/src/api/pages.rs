//! The HTML pages: sign-in, the client's wallet (Figure 5), and the development phone
//! simulator. No script at all; forms carry a CSRF token bound to the session; the
//! session cookie is HttpOnly and SameSite=Strict (and Secure behind TLS).

use super::BODY_BYTES_MAX;
use crate::AppState;
use crate::clock::{date_time, rfc3339};
use crate::error::ApiError;
use crate::service::NumberRequest;
use crate::views::render;
use crate::views::wallet as views;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use sceau_domain::email::EmailAddress;
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_domain::{Money, PhoneNumber};
use sceau_store::{ClientRecord, NumberUse, Origin, PaymentEntry};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use zeroize::Zeroizing;

pub const SESSION_COOKIE: &str = "sceau_session";
/// The one answer to a refused sign-in: it does not say whether the login exists or the
/// account is locked.
pub(crate) const SIGN_IN_REFUSED: &str = "Wrong login or password. After 10 wrong tries in a \
     row, sign-in is paused for a while: the account's phone can then get a code that lifts \
     the pause.";
/// The one answer to a request for an unlock code, whatever became of it.
const UNLOCK_ASKED: &str = "If this login's sign-in is paused, a code that lifts the pause \
     was sent to its phone (at most 3 an hour). Type it below with your password.";
const SESSION_TTL_S: i64 = 30 * 60;

fn csrf_token(session_token: &str) -> String {
    csrf_of(b"sceau csrf v1\0", session_token)
}

/// The CSRF token of a session's forms: SHA-256 of `tag` (a kind of session's own) and
/// the session's token, in hex.
pub(crate) fn csrf_of(tag: &[u8], session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tag);
    hasher.update(session_token.as_bytes());
    hex::encode(hasher.finalize())
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// For a form whose session the store checks itself (in the transaction of the form's
/// write): the session cookie and the form's CSRF token, without reading anything (the
/// edge has refused any other origin: `edge::check_names`). Returns the hash of the session's token.
pub(crate) fn session_form_token(headers: &HeaderMap, csrf: &str) -> Result<[u8; 32], ApiError> {
    let Some(token) = cookie_value(headers, SESSION_COOKIE).filter(|t| t.len() <= 100) else {
        return Err(sign_in_first());
    };
    if !sceau_crypto::constant_time_eq(csrf.as_bytes(), csrf_token(token).as_bytes()) {
        return Err(csrf_refused());
    }
    Ok(sceau_crypto::token_hash(token))
}

/// A signed-in client, from the session cookie.
pub struct Session {
    pub client: ClientRecord,
    pub csrf: String,
    token_hash: [u8; 32],
}

impl Session {
    /// The session the request's cookie names, if it is live.
    pub async fn of(headers: &HeaderMap, state: &AppState) -> Result<Option<Session>, ApiError> {
        let Some(token) = cookie_value(headers, SESSION_COOKIE).filter(|t| t.len() <= 100) else {
            return Ok(None);
        };
        let token_hash = sceau_crypto::token_hash(token);
        let Some(client) = state.service.session_client(token_hash).await? else {
            return Ok(None);
        };
        Ok(Some(Session {
            client,
            csrf: csrf_token(token),
            token_hash,
        }))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Session::of(&parts.headers, state).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// Starts a session for a client who just signed in: the cookie to set.
pub(crate) async fn start_session(
    state: &AppState,
    client: &ClientRecord,
) -> Result<HeaderValue, ApiError> {
    let token = state.service.start_session(client, SESSION_TTL_S).await?;
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_S}{secure}",
        token.as_str()
    );
    HeaderValue::from_str(&cookie).map_err(|_| sceau_app::error::internal("session cookie").into())
}

impl Session {
    /// SHA-256 of the session's token (what the store knows the session by).
    pub(crate) fn token_hash(&self) -> [u8; 32] {
        self.token_hash
    }

    pub(crate) fn check_csrf(&self, presented: &str) -> Result<(), ApiError> {
        if sceau_crypto::constant_time_eq(presented.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(csrf_refused())
        }
    }
}

/// The answer to a form posted without a live session.
pub(crate) fn sign_in_first() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first")
}

pub(crate) fn csrf_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "the form has expired; reload the page",
    )
}

pub(crate) fn form_error(rejection: FormRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("bodies are limited to {BODY_BYTES_MAX} bytes"),
        );
    }
    ApiError::bad_request("invalid_form", "the form is malformed or misses a field")
}

pub async fn home() -> Result<Html<String>, ApiError> {
    render(&views::Home)
}

fn login_page(
    alert: Option<&str>,
    notice: Option<&str>,
    login: &str,
) -> Result<Html<String>, ApiError> {
    render(&views::Login {
        alert,
        notice,
        login,
    })
}

pub async fn login_form() -> Result<Html<String>, ApiError> {
    login_page(None, None, "")
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: Zeroizing<String>,
    #[serde(default)]
    unlock_code: Zeroizing<String>,
}

/// The unlock code a sign-in form carries, if one was typed.
pub(crate) fn typed_code(code: &str) -> Option<&str> {
    Some(code.trim()).filter(|code| !code.is_empty() && code.len() <= 20)
}

pub async fn login(
    State(state): State<AppState>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    let refused = || -> Result<Response, ApiError> {
        Ok((
            StatusCode::UNAUTHORIZED,
            login_page(Some(SIGN_IN_REFUSED), None, "")?,
        )
            .into_response())
    };
    if form.login.len() > 100 || form.password.len() > 1024 {
        return refused();
    }
    let service = &state.service;
    let code = typed_code(&form.unlock_code);
    let Some(client) = service.sign_in(&form.login, form.password, code).await? else {
        tracing::info!("sign-in refused");
        return refused();
    };
    let cookie = start_session(&state, &client).await?;
    let mut response = Redirect::to("/wallet").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `GET /login/unlock`: ask for a code that lifts a paused sign-in.
pub async fn unlock_form() -> Result<Html<String>, ApiError> {
    render(&views::Unlock)
}

#[derive(Deserialize)]
pub struct UnlockForm {
    login: String,
}

/// Unlock codes being sent at once; more wait their turn.
const UNLOCK_SENDS_MAX: usize = 16;

/// `POST /login/unlock`: sends the code if the login's sign-in is paused. The answer is
/// the same, and comes as soon, whatever the login: the code is sent apart from it.
pub async fn unlock(
    State(state): State<AppState>,
    form: Result<Form<UnlockForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    let login = form.login.trim().to_owned();
    if !login.is_empty() && login.len() <= 100 {
        // A place among the sends under way, or none: the answer is the same either way.
        static SENDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(UNLOCK_SENDS_MAX);
        if let Ok(permit) = SENDS.try_acquire() {
            let service = state.service.clone();
            let asked = login.clone();
            tokio::spawn(async move {
                if let Err(error) = service.send_unlock_code(&asked).await {
                    tracing::warn!(code = error.code(), "unlock code not sent");
                }
                drop(permit);
            });
        }
        return Ok(login_page(None, Some(UNLOCK_ASKED), &login)?.into_response());
    }
    Ok(login_page(None, Some(UNLOCK_ASKED), "")?.into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    /// Missing is the same as wrong: 403.
    #[serde(default)]
    pub(crate) csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    session.check_csrf(&form.csrf)?;
    state.service.end_session(session.token_hash).await?;
    let mut response = Redirect::to("/login").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sceau_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct WalletQuery {
    sent: Option<String>,
    /// The client's choice of calls or SMS was just saved.
    reach: Option<String>,
    /// The history's page: the payments made before this one.
    before: Option<String>,
}

/// The history's `before`: the number of a payment, as the link to the older page
/// writes it; anything else is a 400.
pub fn history_cursor(before: Option<&str>) -> Result<Option<i64>, ApiError> {
    match before {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(id) if id > 0 && text.len() <= 19 => Ok(Some(id)),
            _ => Err(ApiError::bad_request(
                "invalid_field",
                "before must be a payment's number, as the link to older payments gives it",
            )),
        },
    }
}

/// The names of the merchants `numbers` are locked to (at most one look-up each).
async fn lock_names(
    state: &AppState,
    numbers: &[NumberUse],
) -> Result<HashMap<i64, String>, ApiError> {
    let locked: Vec<i64> = numbers
        .iter()
        .filter_map(|n| n.number.locked_merchant)
        .collect();
    let mut merchant_names = state.service.merchant_names(&locked).await?;
    for &id in &locked {
        merchant_names
            .entry(id)
            .or_insert_with(|| format!("merchant #{id}"));
    }
    Ok(merchant_names)
}

pub async fn wallet(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<WalletQuery>,
) -> Result<Response, ApiError> {
    let before = history_cursor(query.before.as_deref())?;
    let client = &session.client;
    let (account, numbers) = state.service.client_overview(client).await?;
    let history = state.service.client_history(client, before).await?;
    let now_s = state.service.now_s();
    let money = |minor| Money::new(minor, account.currency).to_string();
    let standing = if client.blocked {
        views::Standing::Blocked
    } else if client.stopped(now_s) {
        views::Standing::PausedUntil(crate::clock::clock_time(client.paused_until_s))
    } else {
        views::Standing::Clear
    };
    let merchant_names = lock_names(&state, &numbers).await?;
    let numbers = numbers
        .iter()
        .map(|used| {
            let number = &used.number;
            views::NumberRow {
                last_four: number.last_four.clone(),
                origin: views::origin_text(used),
                state: number.state.shown(number.policy.valid_until_s, now_s),
                uses: number.uses_count,
                uses_max: number.policy.uses_max,
                used: views::use_text(used, money),
                limit: match number.policy.amount {
                    AmountRule::Any => "—".to_owned(),
                    AmountRule::Cap(cap) => format!("up to {}", money(cap)),
                    AmountRule::Exact(exact) => format!("exactly {}", money(exact)),
                },
                merchant: match (number.policy.merchant, number.locked_merchant) {
                    (MerchantLock::Any, _) => "any".to_owned(),
                    (_, Some(id)) => merchant_names.get(&id).cloned().unwrap_or_default(),
                    (MerchantLock::FirstMerchant, None) => "first merchant".to_owned(),
                    (MerchantLock::Named(id), None) => format!("merchant #{id}"),
                },
                valid_until: date_time(number.policy.valid_until_s),
            }
        })
        .collect();
    let page = views::Wallet {
        name: &client.display_name,
        sent_to: query.sent.is_some().then(|| client.phone.masked()),
        standing,
        balance: money(account.balance),
        held: money(account.held),
        available: money(account.available()),
        phone: client.phone.masked(),
        currency: account.currency.to_string(),
        csrf: &session.csrf,
        numbers,
        payments: history.payments.iter().map(views::payment_row).collect(),
        older: history
            .older
            .map(|id| format!("/wallet?before={id}#history")),
        paged: before.is_some(),
        calls_offered: state.service.settings.calls_offered,
        by_call: client.by_call,
        reach_saved: query.reach.is_some(),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct ReachForm {
    /// Missing is the same as wrong: 403.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    by: String,
}

/// How the client's phone is sent seals and numbers: from a session only `sms` (back from
/// calls); `call` is refused, since the operator switches a client to calls
/// (`Service::choose_calls`).
pub async fn choose_reach(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<ReachForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    session.check_csrf(&form.csrf)?;
    let by_call = match form.by.as_str() {
        "sms" => false,
        "call" => true,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "by must be sms or call",
            ));
        }
    };
    state.service.choose_calls(&session.client, by_call).await?;
    let mut response = Redirect::to("/wallet?reach=1#reach").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    Ok(response)
}

#[derive(Deserialize)]
pub struct NumberForm {
    /// Missing is the same as wrong: 403.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount_cap: String,
    uses: Option<u32>,
    merchant: Option<String>,
    validity_min: Option<i64>,
}

/// Figure 5: a signed-in client asks for a number; it goes to their phone.
pub async fn request_number(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<NumberForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    session.check_csrf(&form.csrf)?;
    let amount = match form.amount_cap.trim() {
        "" => AmountRule::Any,
        text => AmountRule::Cap(crate::service::parse_amount(text, session.client.currency)?.minor),
    };
    let merchant = match form.merchant.as_deref() {
        None | Some("any") => MerchantLock::Any,
        Some("first") => MerchantLock::FirstMerchant,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "merchant must be any or first",
            ));
        }
    };
    let request = NumberRequest {
        uses_max: form.uses.unwrap_or(1),
        amount,
        merchant,
        validity_s: form.validity_min.map(|minutes| minutes.saturating_mul(60)),
    };
    state
        .service
        .issue_number(
            &session.client,
            &request,
            None,
            Origin::Client,
            session.client.currency,
            None,
        )
        .await?;
    let mut response = Redirect::to("/wallet?sent=1").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    Ok(response)
}

/// A signed-in client for the JSON API: no session is a JSON 401, not a redirect.
pub struct ApiSession(pub Session);

impl FromRequestParts<AppState> for ApiSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Session::from_request_parts(parts, state)
            .await
            .map(ApiSession)
            .map_err(|_| sign_in_first())
    }
}

/// The client's figures and numbers as JSON (same session as the pages).
pub async fn me(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Response, ApiError> {
    let (account, numbers) = state.service.client_overview(&session.client).await?;
    let now_s = state.service.now_s();
    let money = |minor| Money::new(minor, account.currency).to_decimal();
    let numbers: Vec<serde_json::Value> = numbers
        .iter()
        .map(|used| {
            let n = &used.number;
            serde_json::json!({
                "id": n.id, "last_four": n.last_four, "origin": n.origin, "state": n.state.shown(n.policy.valid_until_s, now_s),
                "uses": n.uses_count, "uses_max": n.policy.uses_max, "amount_used": money(n.amount_used),
                "amount_paid": money(used.paid), "amount_held": money(used.held), "holds_released": used.released,
                "for_checkout": used.for_checkout,
                "amount_rule": n.policy.amount, "merchant_lock": n.policy.merchant, "locked_merchant": n.locked_merchant,
                "valid_until": rfc3339(n.policy.valid_until_s),
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({
        "login": session.client.login, "display_name": session.client.display_name, "currency": account.currency.code(),
        "balance": money(account.balance), "held": money(account.held), "credit_limit": money(account.credit_limit),
        "available": money(account.available()), "numbers": numbers,
        "csrf_token": session.csrf,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct PaymentsQuery {
    before: Option<String>,
}

/// One payment of the client's history as JSON: amounts as decimal strings, times in
/// RFC 3339, states by their stored names.
fn payment_json(entry: &PaymentEntry) -> serde_json::Value {
    let money = |minor| super::merchant::money(minor, &entry.currency);
    let checkout = entry.checkout.as_ref().map(|checkout| {
        serde_json::json!({
            "id": checkout.public_id, "state": checkout.state, "object": checkout.object,
            "url": format!("/pay/{}", checkout.public_id),
            "check_image": format!("/pay/{}/check.svg", checkout.public_id),
            "evidence": format!("/api/v1/payments/{}/evidence", checkout.public_id),
        })
    });
    serde_json::json!({
        "authorization_id": entry.authorization_id, "merchant": entry.merchant_name,
        "reference": entry.merchant_reference, "last_four": entry.number_last_four,
        "currency": entry.currency, "amount": money(entry.amount),
        "captured": money(entry.captured), "refunded": money(entry.refunded),
        "state": entry.state, "created_at": rfc3339(entry.created_at_s),
        "updated_at": rfc3339(entry.updated_at_s),
        "hold_expires_at": rfc3339(entry.hold_expires_at_s),
        "captured_at": entry.captured_at_s.map(rfc3339),
        "refunded_at": entry.refunded_at_s.map(rfc3339),
        "checkout": checkout,
    })
}

/// `GET /api/v1/me/payments`: the client's payments, newest first, a page at a time.
pub async fn my_payments(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Query(query): Query<PaymentsQuery>,
) -> Result<Response, ApiError> {
    let before = history_cursor(query.before.as_deref())?;
    let history = state
        .service
        .client_history(&session.client, before)
        .await?;
    let payments: Vec<serde_json::Value> = history.payments.iter().map(payment_json).collect();
    Ok(axum::Json(serde_json::json!({
        "payments": payments,
        "older": history.older.map(|id| format!("/api/v1/me/payments?before={id}")),
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct PhoneQuery {
    to: Option<String>,
    /// How many of the newest texts to show: 1 to [`PHONE_TEXTS_MAX`] (all of them, up
    /// to that many, when absent).
    limit: Option<String>,
}

/// The most texts the development phone shows.
pub const PHONE_TEXTS_MAX: u32 = 50;

/// The number typed in an address: `?to=+33612345678` reaches the server as
/// `" 33612345678"` (in a query, `+` stands for a space), so a leading space followed by
/// digits only is read back as the `+` it was. Anything else is left as it came.
pub fn phone_as_typed(to: &str) -> std::borrow::Cow<'_, str> {
    match to.strip_prefix(' ') {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            format!("+{digits}").into()
        }
        _ => to.into(),
    }
}

/// The development phone: the texts the development channel delivered to one number.
pub async fn phone(
    State(state): State<AppState>,
    query: Result<Query<PhoneQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if !state.phone_simulator {
        return Err(ApiError::not_found());
    }
    let Query(query) = query
        .map_err(|_| sceau_app::AppError::InvalidQuery("give to= once, and limit= at most once"))?;
    let Some(to) = query.to.filter(|t| !t.is_empty()) else {
        let page = views::Phone {
            to: "",
            not_a_number: false,
            messages: None,
            link: None,
        };
        return Ok(render(&page)?.into_response());
    };
    let Ok(phone) = phone_as_typed(&to).parse::<PhoneNumber>() else {
        let page = views::Phone {
            to: &to,
            not_a_number: true,
            messages: None,
            link: None,
        };
        return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
    };
    let limit = match query.limit.as_deref().map(str::parse::<u32>) {
        None => PHONE_TEXTS_MAX,
        Some(Ok(limit)) if (1..=PHONE_TEXTS_MAX).contains(&limit) => limit,
        Some(_) => {
            return Err(
                sceau_app::AppError::InvalidQuery("limit is a number of texts, 1 to 50").into(),
            );
        }
    };
    let messages = state.service.phone_messages(&phone, limit).await?;
    let messages = messages
        .iter()
        .map(|(message, text)| views::PhoneMessage {
            id: message.id,
            at: rfc3339(message.created_at_s),
            text: text.to_string(),
        })
        .collect();
    let link = format!("/phone?to={}", phone.as_str().replace('+', "%2B"));
    let page = views::Phone {
        to: phone.as_str(),
        not_a_number: false,
        messages: Some(messages),
        link: Some(&link),
    };
    let mut response = render(&page)?.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
pub struct MailboxQuery {
    to: Option<String>,
}

/// How many of the newest e-mails the mailbox shows.
pub const MAILBOX_MAILS_MAX: u32 = 50;

/// The development mailbox: the e-mails the development route took for one address
/// (served only where the development phone is, as `/phone`).
pub async fn mailbox(
    State(state): State<AppState>,
    query: Result<Query<MailboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if !state.phone_simulator {
        return Err(ApiError::not_found());
    }
    let Query(query) = query.map_err(|_| sceau_app::AppError::InvalidQuery("give to= once"))?;
    let Some(to) = query.to.filter(|t| !t.is_empty()) else {
        let page = views::Mailbox {
            to: "",
            not_an_address: false,
            mails: None,
        };
        return Ok(render(&page)?.into_response());
    };
    let Ok(address) = to.parse::<EmailAddress>() else {
        let page = views::Mailbox {
            to: &to,
            not_an_address: true,
            mails: None,
        };
        return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
    };
    let origin = state.public_url().to_owned();
    let mails = state
        .service
        .mailbox_messages(&address, MAILBOX_MAILS_MAX)
        .await?
        .into_iter()
        .map(|(message, body)| views::Mail {
            id: message.id,
            at: rfc3339(message.created_at_s),
            subject: body.subject,
            pieces: views::pieces(&body.text, &origin),
        })
        .collect();
    let page = views::Mailbox {
        to: address.as_str(),
        not_an_address: false,
        mails: Some(mails),
    };
    Ok(render(&page)?.into_response())
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

const STYLESHEET: &str = include_str!("sceau.css");
