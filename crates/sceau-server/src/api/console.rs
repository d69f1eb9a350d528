//! The operator's console (issue 23): `/admin`, its own sign-in (operators' accounts, not
//! clients', and never the admin API's token), the service's figures, finding a client and
//! blocking or unblocking them. Pages without script; every form carries the session's
//! CSRF token, and the edge refuses writes from another origin. The session cookie is
//! `sceau_operator`, for `/admin` only, `HttpOnly`, `SameSite=Strict`, `Secure` over TLS.

use super::pages::{CsrfForm, cookie_value, csrf_of, csrf_refused, form_error};
use super::pay::see_other;
use crate::AppState;
use crate::error::ApiError;
use crate::views::console::{
    ConsoleCheckout, ConsoleClient, ConsoleHome, ConsoleLogin, ConsoleMerchant, Figures, RouteLine,
};
use crate::views::render;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sceau_app::operators::OPERATOR_SESSION_TTL_S;
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
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| sceau_app::error::AppError::NotFound.into())
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

#[derive(Deserialize)]
pub struct ClientQuery {
    done: Option<String>,
}

/// `GET /admin/clients/{id}`.
pub async fn client(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Query(query): Query<ClientQuery>,
) -> Result<Response, ApiError> {
    let client = state.service.client_for_operator(client_id(&id)?).await?;
    let notice = match query.done.as_deref() {
        Some("blocked") => Some("Blocked: their payments are declined. Recorded as evidence."),
        Some("unblocked") => Some("Unblocked: their payments are accepted. Recorded as evidence."),
        Some("already") => Some("Nothing changed: the client already was so."),
        _ => None,
    };
    let page = render(&ConsoleClient {
        operator: &operator.record.login,
        csrf: &operator.csrf,
        client: &client,
        phone: client.phone.masked(),
        notice,
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
    let client_id = client_id(&id)?;
    act(
        state,
        operator,
        OperatorAction::ClientBlocked { client_id },
        form,
    )
    .await
}

/// `POST /admin/clients/{id}/unblock`.
pub async fn unblock(
    state: State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let client_id = client_id(&id)?;
    act(
        state,
        operator,
        OperatorAction::ClientUnblocked { client_id },
        form,
    )
    .await
}

/// A client's number in an address; anything else is no client.
fn client_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| sceau_app::error::AppError::UnknownClient.into())
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
