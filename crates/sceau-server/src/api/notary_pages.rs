//! The notary's pages: the client's envelopes, the station that sends one (the only
//! page that runs a script, `notary.js`, under a Content-Security-Policy of its own), an
//! envelope's page with the seal form (a plain form, like the other pages), and the
//! station's scripts. The same use cases as the JSON API (`envelopes.rs`).

use super::pages::{Session, form_error};
use super::pay::see_other;
use crate::AppState;
use crate::clock::{clock_time, date_time};
use crate::error::ApiError;
use crate::notary::{EnvelopeSealResult, envelope_id};
use crate::station::{self, StaticScript};
use crate::views::notary as views;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sceau_app::AppError;
use sceau_domain::seal::SEAL_TRIES_MAX;
use sceau_store::{EnvelopeState, EnvelopeView};
use serde::Deserialize;

/// How many envelopes the list shows.
const LISTED_MAX: u32 = 50;
/// The longest seal read from the form (longer is wrong, not read).
const SEAL_CHARS_MAX: usize = 32;

/// The SHA-256 in groups of four digits, easier to compare by eye.
pub(crate) fn grouped(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The state in words, and the class that colours it.
pub(crate) fn state_text(state: EnvelopeState) -> (&'static str, &'static str) {
    match state {
        EnvelopeState::Open => ("opened", "held"),
        EnvelopeState::Receiving => ("receiving the files", "held"),
        EnvelopeState::AwaitingSeal => ("waiting for the seal", "held"),
        EnvelopeState::Sealed => ("sealed, being signed", "held"),
        EnvelopeState::Notarized => ("notarized", "paid"),
        EnvelopeState::Refused => ("refused", "blocked"),
        EnvelopeState::Failed => ("failed", "blocked"),
        EnvelopeState::Expired => ("expired", "ended"),
    }
}

/// Why the envelope was refused, in plain words (the stored reason is a code).
fn refusal_text(code: &str) -> String {
    let why = match code {
        "manifest_not_for_this_envelope" => {
            "the station's signed list of files named another envelope or another certificate"
        }
        "manifest_invalid" => {
            "the station's signed list of files broke a rule (a file's name, a limit, or its form)"
        }
        "manifest_signature_invalid" => {
            "the signature over the list of files did not verify with the station's certificate"
        }
        "certificate_unusable" => "the station's certificate for this envelope was already used",
        "file_size_mismatch" => {
            "a file arrived with another size than the station measured (it changed on the \
             disk, or on the way)"
        }
        "file_digest_mismatch" => {
            "a file arrived with other contents than the station hashed (it changed on the \
             disk, or on the way)"
        }
        other => other,
    };
    format!(
        "Refused: {why}. Nothing of it was kept but this reason, and nothing was signed: \
         send the files again in a new envelope."
    )
}

/// What the page says of where the envelope stands, beyond its state.
fn explanation(view: &EnvelopeView) -> Option<String> {
    match view.state {
        EnvelopeState::Open | EnvelopeState::Receiving => Some(
            "The station has not sent every file yet. If its page was closed, this envelope \
             expires when the station's certificate ends; send the files again in a new one."
                .to_owned(),
        ),
        EnvelopeState::Sealed => Some(match &view.waiting {
            Some(waiting) => format!(
                "Sealed, but the signatures are not made yet: {waiting}. They are tried again \
                 each time this page is read."
            ),
            None => "Sealed: the files are being signed. Reload this page.".to_owned(),
        }),
        EnvelopeState::Notarized if view.deleted_at_s.is_some() => Some(
            "Notarized; what was kept was deleted when its retention ended: only the digests \
             and the evidence remain."
                .to_owned(),
        ),
        EnvelopeState::Notarized | EnvelopeState::AwaitingSeal => None,
        EnvelopeState::Refused => Some(refusal_text(view.refusal.as_deref().unwrap_or(""))),
        EnvelopeState::Failed => {
            Some("Failed: three wrong seals were typed. Nothing was signed.".to_owned())
        }
        EnvelopeState::Expired => Some(
            "Expired: not every file arrived, or no seal was typed, in time. Nothing was \
             signed: send the files again in a new envelope."
                .to_owned(),
        ),
    }
}

/// `GET /wallet/envelopes`: the client's envelopes, newest first.
pub async fn list(State(state): State<AppState>, session: Session) -> Result<Response, ApiError> {
    let views = state
        .service
        .client_envelopes(&session.client, LISTED_MAX)
        .await?;
    let envelopes = views
        .iter()
        .map(|view| {
            let (state, class) = state_text(view.state);
            views::Row {
                id: view.public_id.clone(),
                state,
                class,
                files: view.files.len(),
                first_name: view
                    .files
                    .first()
                    .map(|file| file.name.clone())
                    .unwrap_or_default(),
                created: date_time(view.created_at_s),
            }
        })
        .collect();
    Ok(crate::views::render(&views::List { envelopes })?.into_response())
}

/// `GET /wallet/envelopes/new`: the station. Its answer carries the policy that lets
/// it run its two scripts (this origin's, each named with its integrity value).
pub async fn station(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, ApiError> {
    let notary = state
        .service
        .notary
        .as_ref()
        .ok_or(AppError::NotaryUnavailable)?;
    let limits = notary.settings.limits;
    let scripts = station::SCRIPTS
        .iter()
        .map(|script| views::Script {
            src: format!("/static/{}", script.name),
            integrity: script.integrity(),
        })
        .collect();
    let page = views::Station {
        csrf: &session.csrf,
        phone: session.client.phone.masked(),
        files_max: limits.files_max,
        file_bytes_max: limits.file_bytes_max,
        envelope_bytes_max: limits.envelope_bytes_max,
        file_size_max: views::size_text(limits.file_bytes_max),
        envelope_size_max: views::size_text(limits.envelope_bytes_max),
        scripts,
    };
    let mut response = crate::views::render(&page)?.into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(station::STATION_CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct EnvelopeQuery {
    /// A new seal was just sent.
    resent: Option<String>,
    /// A delivery was just sent.
    delivered: Option<String>,
}

/// `GET /wallet/envelopes/{id}`: the envelope (a sealed one is notarized first, or says
/// why it waits).
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<EnvelopeQuery>,
) -> Result<Response, ApiError> {
    let view = state
        .service
        .client_envelope(&session.client, envelope_id(&id)?)
        .await?;
    let notice = query
        .resent
        .is_some()
        .then_some("A new seal was sent to your phone; the previous one is void.");
    let notice = notice.or(query
        .delivered
        .is_some()
        .then_some("Sent: each recipient is told by e-mail, and you are told of each answer."));
    Ok(render(&state, &session, &view, None, notice)
        .await?
        .into_response())
}

/// The envelope's deliveries as its page shows them (a notarized envelope's only).
async fn deliveries_of(
    state: &AppState,
    session: &Session,
    view: &EnvelopeView,
) -> Result<Vec<views::Delivery>, ApiError> {
    if view.state != EnvelopeState::Notarized || state.service.notary.is_none() {
        return Ok(Vec::new());
    }
    let deliveries = state
        .service
        .envelope_deliveries(&session.client, view)
        .await?;
    Ok(deliveries
        .iter()
        .map(|delivery| views::Delivery {
            id: delivery.public_id.clone(),
            deadline: date_time(delivery.deadline_s),
            recipients: delivery
                .recipients
                .iter()
                .map(|recipient| {
                    let (words, class) =
                        crate::views::delivery::recipient_state_words(recipient.state, false);
                    views::DeliveryRecipient {
                        position: recipient.position,
                        number: recipient.position + 1,
                        email: recipient.email.clone(),
                        state: words,
                        class,
                    }
                })
                .collect(),
        })
        .collect())
}

async fn render(
    state: &AppState,
    session: &Session,
    view: &EnvelopeView,
    alert: Option<&str>,
    notice: Option<&str>,
) -> Result<axum::response::Html<String>, ApiError> {
    let deliveries = deliveries_of(state, session, view).await?;
    let now_s = state.service.now_s();
    let notarized = view.state == EnvelopeState::Notarized && view.deleted_at_s.is_none();
    let action = match (&view.seal, view.state) {
        (Some(seal), EnvelopeState::AwaitingSeal) if now_s < seal.expires_at_s => {
            views::Action::Seal {
                csrf: &session.csrf,
                phone: session.client.phone.masked(),
                until: clock_time(seal.expires_at_s),
                tries_left: SEAL_TRIES_MAX.saturating_sub(view.wrong_tries),
            }
        }
        (_, EnvelopeState::AwaitingSeal) => views::Action::NewSeal {
            csrf: &session.csrf,
            phone: session.client.phone.masked(),
        },
        _ => views::Action::Nothing,
    };
    let files = view
        .files
        .iter()
        .map(|file| {
            let stem = file
                .name
                .strip_suffix(".pdf")
                .or_else(|| file.name.strip_suffix(".PDF"))
                .unwrap_or(&file.name);
            views::FileRow {
                index: file.position,
                name: file.name.clone(),
                shell_name: views::shell_word(&file.name),
                size: views::size_text(file.size),
                digest: grouped(&hex::encode(file.sha256)),
                signed_at: file.signed_at_s.map(date_time),
                download: file.received_at_s.is_some() && view.deleted_at_s.is_none(),
                signature: notarized && file.signature.is_some(),
                signed_pdf: (notarized && file.signed_pdf.is_some())
                    .then(|| views::shell_word(&format!("{stem}.signed.pdf"))),
                pdf_note: file.pdf_note.clone(),
            }
        })
        .collect();
    let destinations = view
        .destinations
        .iter()
        .map(|destination| views::Destination {
            email: destination.email.clone(),
            phone: destination.phone.clone(),
        })
        .collect();
    let (state_words, class) = state_text(view.state);
    crate::views::render(&views::Envelope {
        id: &view.public_id,
        alert,
        notice,
        state: state_words,
        class,
        explanation: explanation(view),
        created: date_time(view.created_at_s),
        notarized: view.notarized_at_s.map(date_time),
        retain_until: view.retain_until_s.map(date_time),
        manifest_digest: view
            .manifest_sha256
            .map(|digest| grouped(&hex::encode(digest))),
        files,
        destinations,
        container: notarized && view.container.is_some(),
        action,
        deliverable: notarized && state.service.notary.is_some(),
        csrf: &session.csrf,
        deliveries,
    })
}

/// The envelope's page again with `message`, answered `status`.
async fn render_refused(
    state: &AppState,
    session: &Session,
    id: &str,
    status: StatusCode,
    message: &str,
) -> Result<Response, ApiError> {
    let view = state.service.client_envelope(&session.client, id).await?;
    let page = render(state, session, &view, Some(message), None).await?;
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct SealForm {
    /// Missing is the same as wrong: 403.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    seal: String,
}

/// `POST /wallet/envelopes/{id}/seal`: the seal typed back. Notarized (or failed by the
/// third wrong seal): the envelope's page; wrong: the page again, with the tries left.
pub async fn seal(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: Result<Form<SealForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    session.check_csrf(&form.csrf)?;
    let id = envelope_id(&id)?;
    let typed = if form.seal.len() > SEAL_CHARS_MAX {
        ""
    } else {
        form.seal.trim()
    };
    let outcome = state
        .service
        .confirm_envelope_seal(&session.client, id, session.token_hash(), typed)
        .await
        .map_err(ApiError::from);
    let (status, message) = match outcome {
        Ok(EnvelopeSealResult::Sealed(_) | EnvelopeSealResult::Failed) => {
            return Ok(see_other(&format!("/wallet/envelopes/{id}")));
        }
        Ok(EnvelopeSealResult::Wrong { tries_left: 1 }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "That seal is not right. 1 try left.".to_owned(),
        ),
        Ok(EnvelopeSealResult::Wrong { tries_left }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("That seal is not right. {tries_left} tries left."),
        ),
        Ok(EnvelopeSealResult::Expired) => (
            StatusCode::GONE,
            "This seal has expired: nothing was signed. Ask for a new one.".to_owned(),
        ),
        // Not this client's, or the server's own failure: not a page about a seal.
        Err(error) if error.status == StatusCode::NOT_FOUND || error.status.is_server_error() => {
            return Err(error);
        }
        Err(error) => (error.status, error.message),
    };
    render_refused(&state, &session, id, status, &message).await
}

#[derive(Deserialize)]
pub struct ResendForm {
    /// Missing is the same as wrong: 403.
    #[serde(default)]
    csrf: String,
}

/// `POST /wallet/envelopes/{id}/resend`: a new seal (the previous one is void); back to
/// the envelope's page, which says it was sent.
pub async fn resend(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: Result<Form<ResendForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    session.check_csrf(&form.csrf)?;
    let id = envelope_id(&id)?;
    match state
        .service
        .resend_envelope_seal(&session.client, id)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(see_other(&format!("/wallet/envelopes/{id}?resent=1"))),
        Err(error) if error.status == StatusCode::NOT_FOUND || error.status.is_server_error() => {
            Err(error)
        }
        Err(error) => render_refused(&state, &session, id, error.status, &error.message).await,
    }
}

/// A station's script, as it is built into the binary (its integrity value on the page
/// names these bytes); cached like the stylesheet.
pub(crate) fn script(script: StaticScript) -> Response {
    (
        [
            (header::CONTENT_TYPE, StaticScript::CONTENT_TYPE),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        script.bytes,
    )
        .into_response()
}

/// `GET /static/sha256.js`.
pub async fn sha256_js() -> Response {
    script(station::SHA256_JS)
}

/// `GET /static/notary.js`.
pub async fn notary_js() -> Response {
    script(station::NOTARY_JS)
}

#[derive(Deserialize)]
pub struct DeliverForm {
    /// Missing is the same as wrong: 403.
    #[serde(default)]
    csrf: String,
    /// One recipient a line: an e-mail address, then (unless they are a client of this
    /// bank) their phone number in international form.
    #[serde(default)]
    recipients: String,
    #[serde(default)]
    deadline_days: String,
    #[serde(default)]
    hide_sender: Option<String>,
}

/// The recipients a form's lines name: each `EMAIL [PHONE]`; none (an empty field): the
/// envelope's destinations.
pub fn recipients_of(lines: &str) -> Result<Vec<sceau_app::delivery::RecipientRequest>, AppError> {
    let mut recipients = Vec::new();
    for (at, line) in lines
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
    {
        if at >= sceau_domain::delivery::RECIPIENTS_MAX_CEILING {
            let error = sceau_domain::delivery::DeliveryError::TooManyRecipients {
                given: lines.lines().filter(|line| !line.trim().is_empty()).count(),
                max: sceau_domain::delivery::RECIPIENTS_MAX_CEILING,
            };
            return Err(AppError::Delivery(error));
        }
        let mut words = line.split_whitespace();
        let email = words.next().unwrap_or_default();
        let phone = words.next();
        if words.next().is_some() {
            return Err(AppError::InvalidField(format!(
                "line {}: an e-mail address, then a phone number, nothing else",
                at + 1
            )));
        }
        let email = email
            .parse()
            .map_err(|error| AppError::InvalidField(format!("line {}: {error}", at + 1)))?;
        let phone = phone
            .map(str::parse)
            .transpose()
            .map_err(|error| AppError::InvalidPhone(format!("line {}: {error}", at + 1)))?;
        recipients.push(sceau_app::delivery::RecipientRequest { email, phone });
    }
    Ok(recipients)
}

/// `POST /wallet/envelopes/{id}/deliveries`: a notarized envelope delivered (the same use
/// case as `POST /api/v1/envelopes/{id}/deliveries`): its page with the recipients, or
/// with why it was refused.
pub async fn deliver(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: Result<Form<DeliverForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form.map_err(form_error)?;
    session.check_csrf(&form.csrf)?;
    let id = envelope_id(&id)?;
    let deadline_days = match form.deadline_days.trim() {
        "" => None,
        days => Some(days.parse::<u32>().map_err(|_| {
            AppError::Delivery(sceau_domain::delivery::DeliveryError::DeadlineOutOfRange {
                days: 0,
            })
        })),
    }
    .transpose();
    let sent = match (recipients_of(&form.recipients), deadline_days) {
        (Ok(recipients), Ok(deadline_days)) => {
            let request = sceau_app::delivery::DeliveryRequest {
                recipients,
                deadline_days,
                hide_sender: form.hide_sender.is_some(),
            };
            state
                .service
                .send_delivery(&session.client, id, request, state.public_url())
                .await
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    match sent {
        Ok(_) => Ok(see_other(&format!("/wallet/envelopes/{id}?delivered=1"))),
        Err(error) => {
            let status = crate::error::status(&error);
            if status.is_server_error() || status == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            render_refused(&state, &session, id, status, &error.message()).await
        }
    }
}
