//! The operator's console (issue 23): `/admin`, its own sign-in (operators' accounts, not
//! clients', and never the admin API's token), the service's figures; finding a client, a
//! merchant, a number, a checkout, a message, a clearing batch, a certificate, an envelope
//! or a delivery; blocking and unblocking a client, rotating a merchant's webhook secret,
//! revoking a certificate, closing a clearing batch (each written with its evidence
//! record, naming the operator). Pages without script; every form carries the session's
//! CSRF token, and the edge refuses writes from another origin. The session cookie is
//! `sceau_operator`, for `/admin` only, `HttpOnly`, `SameSite=Strict`, `Secure` over TLS.
//! Searches are form posts: what is looked for stays out of addresses (and so out of
//! proxies' access logs).

use super::pages::{CsrfForm, cookie_value, csrf_of, csrf_refused, form_error};
use super::pay::see_other;
use crate::AppState;
use crate::error::ApiError;
use crate::views::console::{
    BatchLine, CertificateLine, ConsoleBatch, ConsoleCertificate, ConsoleCheckout, ConsoleClearing,
    ConsoleClient, ConsoleDelivery, ConsoleEnvelope, ConsoleHome, ConsoleLogin, ConsoleMerchant,
    ConsoleMessage, ConsoleMessages, ConsoleNumbers, DeliveryLine, Figures, MessageLine,
    NumberLine, RecipientLine, RouteLine,
};
use crate::views::render;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sceau_app::error::AppError;
use sceau_app::operators::{CONSOLE_MESSAGES_MAX, OPERATOR_SESSION_TTL_S};
use sceau_domain::operator::OperatorAction;
use sceau_store::{ActionOutcome, OperatorRecord};
use serde::Deserialize;
use zeroize::Zeroizing;

pub const OPERATOR_COOKIE: &str = "sceau_operator";

/// The one answer to a refused sign-in, whatever the reason.
const SIGN_IN_REFUSED: &str = "Wrong login or password. After 10 wrong tries in a row, sign-in \
     is paused for a while; `sceau admin operator-password` lifts the pause.";

fn csrf_token(session_token: &str) -> String {
    csrf_of(b"sceau operator csrf v1\0", session_token)
}

/// A signed-in operator, from the console's cookie.
pub struct Operator {
    pub record: OperatorRecord,
    csrf: String,
    token_hash: [u8; 32],
}

impl Operator {
    async fn of(headers: &HeaderMap, state: &AppState) -> Result<Option<Operator>, ApiError> {
        let Some(token) = cookie_value(headers, OPERATOR_COOKIE).filter(|t| t.len() <= 100) else {
            return Ok(None);
        };
        let token_hash = sceau_crypto::token_hash(token);
        let Some(record) = state.service.operator_of_session(token_hash).await? else {
            return Ok(None);
        };
        Ok(Some(Operator {
            record,
            csrf: csrf_token(token),
            token_hash,
        }))
    }

    fn check_csrf(&self, presented: &str) -> Result<(), ApiError> {
        if sceau_crypto::constant_time_eq(presented.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(csrf_refused())
        }
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Operator::of(&parts.headers, state).await {
            Ok(Some(operator)) => Ok(operator),
            Ok(None) => Err(see_other("/admin/login")),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// `GET /admin/login`.
pub async fn login_form() -> Result<Response, ApiError> {
    Ok(render(&ConsoleLogin { alert: None })?.into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: Zeroizing<String>,
}

/// `POST /admin/login`: a console session, or 401 with the one refusal.
pub async fn login(
    State(state): State<AppState>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    let refused = || -> Result<Response, ApiError> {
        let page = render(&ConsoleLogin {
            alert: Some(SIGN_IN_REFUSED),
        })?;
        Ok((StatusCode::UNAUTHORIZED, page).into_response())
    };
    if form.login.len() > 64 || form.password.len() > 1024 {
        return refused();
    }
    let Some(operator) = state
        .service
        .operator_sign_in(&form.login, form.password)
        .await?
    else {
        return refused();
    };
    let token = state.service.start_operator_session(&operator).await?;
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{OPERATOR_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict; \
         Max-Age={OPERATOR_SESSION_TTL_S}{secure}",
        token.as_str()
    );
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|_| ApiError::from(sceau_app::error::internal("operator cookie")))?;
    let mut response = see_other("/admin");
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /admin/logout`.
pub async fn logout(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    operator.check_csrf(&form.csrf)?;
    state
        .service
        .end_operator_session(operator.token_hash)
        .await?;
    let mut response = see_other("/admin/login");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "sceau_operator=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(response)
}

async fn home_page(
    state: &AppState,
    operator: &Operator,
    alert: Option<&str>,
    query: &str,
) -> Result<axum::response::Html<String>, ApiError> {
    let figures = state.service.console_figures().await?;
    let routes = state.routing.as_ref().map_or_else(Vec::new, |routing| {
        let sms = routing
            .sms
            .states()
            .into_iter()
            .map(|s| RouteLine::of("SMS", &s));
        let email = routing
            .email
            .states()
            .into_iter()
            .map(|s| RouteLine::of("e-mail", &s));
        sms.chain(email).collect()
    });
    render(&ConsoleHome {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        figures: Figures::of(&figures),
        routes,
        alert,
        query,
    })
}

/// `GET /admin`: the service's figures and the search.
pub async fn home(State(state): State<AppState>, operator: Operator) -> Result<Response, ApiError> {
    Ok(home_page(&state, &operator, None, "")
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub struct FindForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q: String,
}

/// `POST /admin/clients` (`q`, `csrf`): to the client found, or the first page saying
/// none was. A form post, not a query: a phone number looked for stays out of addresses
/// (and so out of proxies' access logs).
pub async fn find_client(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let query = search(&operator, form)?;
    let found = state.service.console_find_client(&query).await?;
    let place = found.map(|client| format!("/admin/clients/{}", client.id));
    found_or_none(&state, &operator, place, "No client matches.", &query).await
}

/// A search form's words, once its token is checked.
fn search(
    operator: &Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<String, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    operator.check_csrf(&form.csrf)?;
    Ok(form.q)
}

/// To `place` when a search found something; else the first page, saying `none`, 404.
async fn found_or_none(
    state: &AppState,
    operator: &Operator,
    place: Option<String>,
    none: &str,
    query: &str,
) -> Result<Response, ApiError> {
    match place {
        Some(place) => Ok(see_other(&place)),
        None => {
            let page = home_page(state, operator, Some(none), query).await?;
            Ok((StatusCode::NOT_FOUND, page).into_response())
        }
    }
}

/// `POST /admin/checkouts` (`q`, `csrf`): to the checkout of that identifier, or the first
/// page saying there is none.
pub async fn find_checkout(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let query = search(&operator, form)?;
    let id = query.trim();
    let mut place = None;
    if checkout_id_shape(id) {
        match state.service.checkout(id).await {
            Ok(_) => place = Some(format!("/admin/checkouts/{id}")),
            Err(sceau_app::error::AppError::Checkout(
                sceau_domain::checkout::CheckoutRefusal::NotFound,
            )) => {}
            Err(other) => return Err(other.into()),
        }
    }
    found_or_none(
        &state,
        &operator,
        place,
        "No checkout has this identifier.",
        "",
    )
    .await
}

/// `co_` and 32 lower-case hexadecimal digits, as checkouts are named.
fn checkout_id_shape(id: &str) -> bool {
    id.strip_prefix("co_").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `GET /admin/checkouts/{id}`: what a checkout is, for an operator.
pub async fn checkout(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !checkout_id_shape(&id) {
        return Err(sceau_app::error::AppError::Checkout(
            sceau_domain::checkout::CheckoutRefusal::NotFound,
        )
        .into());
    }
    let checkout = state.service.checkout(&id).await?;
    let amount = crate::views::pay::currency_of(&checkout)
        .map(|currency| sceau_domain::Money::new(checkout.amount, currency).to_string())?;
    let page = render(&ConsoleCheckout {
        operator: &operator.record.login,
        checkout: &checkout,
        amount,
        created: sceau_app::clock::date_time(checkout.created_at_s),
        updated: sceau_app::clock::date_time(checkout.updated_at_s),
    })?;
    Ok(page.into_response())
}

/// `POST /admin/merchants` (`q`, `csrf`): to the merchant of that number or name, or the
/// first page saying there is none.
pub async fn find_merchant(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let query = search(&operator, form)?;
    let found = state.service.console_find_merchant(&query).await?;
    let place = found.map(|merchant| format!("/admin/merchants/{}", merchant.id));
    found_or_none(&state, &operator, place, "No merchant matches.", "").await
}

/// A merchant's number in an address; anything else is no merchant.
fn merchant_id(text: &str) -> Result<i64, ApiError> {
    positive(text, AppError::NotFound)
}

/// `GET /admin/merchants/{id}`.
pub async fn merchant(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let merchant = state
        .service
        .merchant_for_operator(merchant_id(&id)?)
        .await?;
    let page = render(&ConsoleMerchant {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        merchant: &merchant,
        new_secret: None,
        previous_until: None,
        rotation: hex::encode(sceau_crypto::random_bytes::<16>()),
    })?;
    Ok(page.into_response())
}

#[derive(Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    csrf: String,
    overlap_s: i64,
    /// The form's own token, 32 hexadecimal digits (see the merchant's page).
    #[serde(default)]
    rotation: String,
}

/// `POST /admin/merchants/{id}/webhook-secret` (`overlap_s`, `csrf`): the new secret, on
/// the answer's page only (never in an address, never cached).
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<RotateForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    operator.check_csrf(&form.csrf)?;
    if form.rotation.len() != 32 || !form.rotation.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            "invalid_form",
            "the form's rotation token is missing: reload the merchant's page",
        ));
    }
    let (merchant, rotated) = state
        .service
        .operator_rotates_webhook_secret(
            &operator.record,
            merchant_id(&id)?,
            form.overlap_s,
            &form.rotation,
        )
        .await?;
    let page = render(&ConsoleMerchant {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        merchant: &merchant,
        new_secret: Some(rotated.webhook_secret.as_str()),
        previous_until: rotated.previous_until_s.map(sceau_app::clock::date_time),
        rotation: hex::encode(sceau_crypto::random_bytes::<16>()),
    })?;
    Ok(page.into_response())
}

/// What the action a page was sent to after did (`?done=`), for the page to say: the
/// page shows the state as read, whatever this says.
#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `GET /admin/clients/{id}`.
pub async fn client(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, ApiError> {
    let (client, numbers, certificates) = state.service.console_client(client_id(&id)?).await?;
    // What the address says was done, only where the client's state bears it out (a
    // link made up elsewhere says nothing false above the state).
    let notice = match (query.done.as_deref(), client.blocked) {
        (Some("blocked"), true) => {
            Some("Blocked: their payments are declined. Recorded as evidence.")
        }
        (Some("unblocked"), false) => {
            Some("Unblocked: their payments are accepted. Recorded as evidence.")
        }
        (Some("already"), _) => Some("Nothing changed: the client already was so."),
        _ => None,
    };
    let page = render(&ConsoleClient {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        client: &client,
        phone: client.phone.masked(),
        notice,
        numbers: numbers.iter().map(NumberLine::of).collect(),
        certificates: certificates.iter().map(CertificateLine::of).collect(),
    })?;
    Ok(page.into_response())
}

/// `POST /admin/clients/{id}/block`.
pub async fn block(
    state: State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let action = OperatorAction::block(client_id(&id)?, true);
    act(state, operator, action, form).await
}

/// `POST /admin/clients/{id}/unblock`.
pub async fn unblock(
    state: State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let action = OperatorAction::block(client_id(&id)?, false);
    act(state, operator, action, form).await
}

/// A client's number in an address or a form; anything else is no client.
fn client_id(text: &str) -> Result<i64, ApiError> {
    positive(text, AppError::UnknownClient)
}

async fn act(
    State(state): State<AppState>,
    operator: Operator,
    action: OperatorAction,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    operator.check_csrf(&form.csrf)?;
    let done = match state
        .service
        .operator_acts(&operator.record, action)
        .await?
    {
        ActionOutcome::Done(_) if action.blocks() => "blocked",
        ActionOutcome::Done(_) => "unblocked",
        ActionOutcome::AlreadySo => "already",
        ActionOutcome::NotFound => return Err(sceau_app::error::AppError::UnknownClient.into()),
    };
    Ok(see_other(&format!(
        "/admin/clients/{}?done={done}",
        action.client_id()
    )))
}

#[derive(Deserialize)]
pub struct NumbersForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    last_four: String,
}

/// `POST /admin/numbers` (`client`, `last_four`, `csrf`): the client's numbers ending in
/// those four digits, or the first page saying there is none.
pub async fn find_numbers(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<NumbersForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    operator.check_csrf(&form.csrf)?;
    let client = state
        .service
        .client_for_operator(client_id(&form.client)?)
        .await?;
    let last_four = form.last_four.trim();
    let numbers = state.service.console_numbers(client.id, last_four).await?;
    if numbers.is_empty() {
        let none = "No number of this client ends in these four digits.";
        return found_or_none(&state, &operator, None, none, "").await;
    }
    let page = render(&ConsoleNumbers {
        operator: &operator.record.login,
        client: &client,
        last_four,
        numbers: numbers.iter().map(NumberLine::of).collect(),
    })?;
    Ok(page.into_response())
}

/// A positive number in an address or a form; anything else is `missing`.
fn positive(text: &str, missing: AppError) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| missing.into())
}

/// `POST /admin/messages` (`q`, `csrf`): to the message of that number, or the first page
/// saying there is none.
pub async fn find_message(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let query = search(&operator, form)?;
    let mut place = None;
    if let Ok(id) = positive(&query, AppError::NotFound) {
        match state.service.console_message(id).await {
            Ok(message) => place = Some(format!("/admin/messages/{}", message.id)),
            Err(AppError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let none = "No message has this number (or it was purged).";
    found_or_none(&state, &operator, place, none, "").await
}

/// `GET /admin/messages`: the last day's counts by route and state, the newest messages.
pub async fn messages(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Response, ApiError> {
    let overview = state
        .service
        .message_overview(None, CONSOLE_MESSAGES_MAX)
        .await?;
    let page = render(&ConsoleMessages {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        since: sceau_app::clock::date_time(overview.counts_since_s),
        counts: &overview.counts,
        messages: overview.messages.iter().map(MessageLine::of).collect(),
    })?;
    Ok(page.into_response())
}

/// `GET /admin/messages/{id}`: a message's course (never its body).
pub async fn message(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = positive(&id, AppError::NotFound)?;
    let message = state.service.console_message(id).await?;
    let page = render(&ConsoleMessage {
        operator: &operator.record.login,
        message: MessageLine::of(&message),
    })?;
    Ok(page.into_response())
}

/// The clearing page: the batches closed, and the form that closes one.
async fn clearing_page(
    state: &AppState,
    operator: &Operator,
    alert: Option<&str>,
    currency: &str,
) -> Result<axum::response::Html<String>, ApiError> {
    let batches = state.service.clearing_batches().await?;
    render(&ConsoleClearing {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        batches: batches.iter().map(BatchLine::of).collect(),
        alert,
        currency,
    })
}

/// `GET /admin/clearing/batches`.
pub async fn clearing(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Response, ApiError> {
    Ok(clearing_page(&state, &operator, None, "EUR")
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    currency: String,
}

/// `POST /admin/clearing/batches` (`currency`, `csrf`): closes a batch, to its page; a
/// refusal (nothing to pay, no issuer's bank, no such currency, the settlement file's
/// own) is the clearing page saying why, with the refusal's status.
pub async fn close_batch(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<CloseForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    operator.check_csrf(&form.csrf)?;
    let currency = form.currency.trim();
    match state
        .service
        .operator_closes_clearing_batch(&operator.record, currency)
        .await
    {
        Ok(closed) => Ok(see_other(&format!(
            "/admin/clearing/batches/{}?done=closed",
            closed.batch.id
        ))),
        Err(error) => {
            let refused = ApiError::from(error);
            if refused.status != StatusCode::CONFLICT
                && refused.status != StatusCode::UNPROCESSABLE_ENTITY
            {
                return Err(refused);
            }
            // Nothing was paid: said on the clearing page, with the refusal's status.
            let typed = if currency.len() <= 3 { currency } else { "" };
            let page = clearing_page(&state, &operator, Some(&refused.message), typed).await?;
            Ok((refused.status, page).into_response())
        }
    }
}

/// `GET /admin/clearing/batches/{id}`: a closed batch and its payouts.
pub async fn batch(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, ApiError> {
    let id = positive(&id, AppError::NotFound)?;
    let (batch, payouts) = state.service.clearing_batch(id).await?;
    let notice = match query.done.as_deref() {
        Some("closed") => Some("Closed: its payouts are posted. Recorded as evidence."),
        _ => None,
    };
    let page = render(&ConsoleBatch {
        operator: &operator.record.login,
        payouts: ConsoleBatch::payouts_of(&batch, &payouts),
        batch: BatchLine::of(&batch),
        notice,
    })?;
    Ok(page.into_response())
}

/// A certificate's serial as sceau writes them (hexadecimal, lower case, at most 64
/// digits); anything else is no certificate.
fn serial(text: &str) -> Result<String, ApiError> {
    let serial = text.trim().to_ascii_lowercase();
    if (1..=64).contains(&serial.len()) && serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(serial)
    } else {
        Err(AppError::UnknownCertificate.into())
    }
}

/// `POST /admin/certificates` (`q`, `csrf`): to the certificate of that serial, or the
/// first page saying there is none.
pub async fn find_certificate(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let query = search(&operator, form)?;
    let mut place = None;
    if let Ok(serial) = serial(&query) {
        match state.service.certificate(&serial).await {
            Ok(record) => place = Some(format!("/admin/certificates/{}", record.serial)),
            Err(AppError::UnknownCertificate) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let none = "No certificate has this serial number.";
    found_or_none(&state, &operator, place, none, "").await
}

/// `GET /admin/certificates/{serial}`: what a certificate is, its state, and revoking it.
pub async fn certificate(
    State(state): State<AppState>,
    operator: Operator,
    Path(serial_text): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, ApiError> {
    let record = state.service.certificate(&serial(&serial_text)?).await?;
    // Only where the certificate's state bears it out (see the client's page).
    let notice = match (query.done.as_deref(), record.revoked_at_s.is_some()) {
        (Some("revoked"), true) => Some("Revoked: on the CRL from now on. Recorded as evidence."),
        (Some("already"), true) => Some("Nothing changed: the certificate already was revoked."),
        _ => None,
    };
    let revoked = record.revoked_at_s.map(|at_s| {
        let reason = record
            .revocation_reason
            .and_then(sceau_pki::ca::RevocationReason::from_code)
            .map_or("unknown", |reason| reason.name());
        (sceau_app::clock::date_time(at_s), reason)
    });
    let page = render(&ConsoleCertificate {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        certificate: &record,
        not_before: sceau_app::clock::date_time(record.not_before_s),
        not_after: sceau_app::clock::date_time(record.not_after_s),
        used: record.used_at_s.map(sceau_app::clock::date_time),
        revoked,
        notice,
    })?;
    Ok(page.into_response())
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/certificates/{serial}/revoke` (`reason`, `csrf`): revokes it, its record
/// naming the operator; to its page, which says whether this revoked it.
pub async fn revoke_certificate(
    State(state): State<AppState>,
    operator: Operator,
    Path(serial_text): Path<String>,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    operator.check_csrf(&form.csrf)?;
    let serial = serial(&serial_text)?;
    let reason: sceau_pki::ca::RevocationReason = form.reason.parse().map_err(|_| {
        AppError::InvalidField(
            "the reason: key-compromise, affiliation-changed, superseded, \
             cessation-of-operation or unspecified"
                .into(),
        )
    })?;
    let (record, revoked) = state
        .service
        .operator_revokes_certificate(&operator.record, &serial, reason)
        .await?;
    let done = if revoked { "revoked" } else { "already" };
    Ok(see_other(&format!(
        "/admin/certificates/{}?done={done}",
        record.serial
    )))
}

/// `POST /admin/envelopes` (`q`, `csrf`): to the envelope of that identifier, or the first
/// page saying there is none.
pub async fn find_envelope(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let query = search(&operator, form)?;
    let place = match state.service.console_envelope(query.trim()).await {
        Ok(envelope) => Some(format!("/admin/envelopes/{}", envelope.public_id)),
        Err(AppError::UnknownEnvelope) => None,
        Err(other) => return Err(other.into()),
    };
    let none = "No envelope has this identifier.";
    found_or_none(&state, &operator, place, none, "").await
}

/// `GET /admin/envelopes/{id}`: an envelope's state, files (names and sizes, never their
/// content) and certified deliveries.
pub async fn envelope(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let envelope = state.service.console_envelope(&id).await?;
    let deliveries = state.service.console_envelope_deliveries(&envelope).await?;
    let page = render(&ConsoleEnvelope::of(
        &operator.record.login,
        &envelope,
        &deliveries,
    ))?;
    Ok(page.into_response())
}

/// `POST /admin/deliveries` (`q`, `csrf`): to the delivery of that identifier, or the
/// first page saying there is none.
pub async fn find_delivery(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<FindForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let query = search(&operator, form)?;
    let place = match state.service.console_delivery(query.trim()).await {
        Ok(delivery) => Some(format!("/admin/deliveries/{}", delivery.public_id)),
        Err(AppError::UnknownDelivery) => None,
        Err(other) => return Err(other.into()),
    };
    let none = "No delivery has this identifier.";
    found_or_none(&state, &operator, place, none, "").await
}

/// `GET /admin/deliveries/{id}`: a certified delivery and each recipient's state
/// (addresses masked).
pub async fn delivery(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let delivery = state.service.console_delivery(&id).await?;
    let page = render(&ConsoleDelivery {
        operator: &operator.record.login,
        line: DeliveryLine::of(&delivery),
        created: sceau_app::clock::date_time(delivery.created_at_s),
        recipients: delivery.recipients.iter().map(RecipientLine::of).collect(),
        delivery: &delivery,
    })?;
    Ok(page.into_response())
}
