//! `sceau admin channel-test --to ADDRESS`: a test message on each configured route of
//! the address's medium, sent directly (not through the outbox), to see that a route
//! works before clients depend on it. With `--wait-receipt`, an SMS route that took the
//! message is then asked whether it reached the phone: the command opens the routes with
//! a report sink of its own and waits for the delivery receipts of the test message's
//! parts (matched by provider id, in any of the forms a receipt writes it).

use crate::config::Config;
use anyhow::{Context, bail};
use sceau_channel::config::{open_email_routes, open_sms_routes};
use sceau_channel::email::{EmailChannel, OutgoingEmail, templates};
use sceau_channel::routes::Route;
use sceau_channel::{
    Accepted, ChannelError, DeliveryReport, OutgoingText, ReportOutcome, SecondChannel, receipt,
};
use sceau_domain::PhoneNumber;
use sceau_domain::email::EmailAddress;
use std::time::Duration;
use tokio::sync::mpsc;

/// The outbox id a test message carries (an e-mail's `Message-ID` is made from it): no
/// message of the outbox has it.
const TEST_MESSAGE_ID: i64 = 0;
/// How long a route may take to bind (SMPP) and answer, at most.
pub const WAIT_S_MAX: u64 = 120;
/// Receipts the routes may hand over before this command reads them (an SMSC that finds
/// the sink full sends again later).
const REPORTS_QUEUED_MAX: usize = 1_000;

/// Where a test goes: a phone number (the SMS routes) or an e-mail address.
enum Address {
    Phone(PhoneNumber),
    Email(EmailAddress),
}

fn parse_address(to: &str) -> anyhow::Result<Address> {
    if to.starts_with('+') {
        let phone = to.parse().context("--to")?;
        Ok(Address::Phone(phone))
    } else {
        let email = to.parse().context("--to")?;
        Ok(Address::Email(email))
    }
}

/// What the operator asked for.
pub struct Request<'a> {
    pub to: &'a str,
    /// Only the route of this name.
    pub route: Option<&'a str>,
    pub wait_s: u64,
    /// After an SMS route accepted the message, wait for its parts' delivery receipts.
    pub wait_receipt: bool,
}

/// What the routes tried did with the test message.
#[derive(Default)]
struct Tally {
    tried: u32,
    accepted: u32,
    delivered: u32,
}

/// Sends the test on each route (or the one named), prints what each answered (and, if
/// asked, what its receipts said), and fails unless one route accepted the message (with
/// `wait_receipt`: unless one route's receipts said it was delivered).
pub async fn run(config: &Config, request: &Request<'_>) -> anyhow::Result<()> {
    if !(1..=WAIT_S_MAX).contains(&request.wait_s) {
        bail!("--wait-s must be 1 to {WAIT_S_MAX}");
    }
    let tally = match parse_address(request.to)? {
        Address::Phone(phone) => test_sms_routes(config, &phone, request).await?,
        Address::Email(_) if request.wait_receipt => {
            bail!("--wait-receipt is for SMS routes: e-mail has no delivery receipts")
        }
        Address::Email(email) => test_email_routes(config, &email, request).await?,
    };
    if tally.tried == 0 {
        match request.route {
            Some(name) => bail!("no route named {name} for this address's medium"),
            None => bail!("no route is configured for this address's medium"),
        }
    }
    if tally.accepted == 0 {
        bail!("no route accepted the test message");
    }
    if request.wait_receipt && tally.delivered == 0 {
        bail!("no route's receipts said the test message was delivered");
    }
    Ok(())
}

/// The SMS routes, opened here with a sink of their own: the receipts they receive come
/// to this command (those of other messages are ignored).
async fn test_sms_routes(
    config: &Config,
    phone: &PhoneNumber,
    request: &Request<'_>,
) -> anyhow::Result<Tally> {
    let (sink, mut reports) = mpsc::channel(REPORTS_QUEUED_MAX);
    let opened = open_sms_routes(&config.sms_routes, &sink)?;
    let wait = Duration::from_secs(request.wait_s);
    let mut tally = Tally::default();
    for route in chosen(opened.routes.iter(), request.route) {
        tally.tried += 1;
        let answer = send_sms(route, phone, wait).await;
        let diagnosis = route.channel().diagnosis();
        let Some(accepted) = report(route.name(), route.kind(), answer, diagnosis, wait) else {
            continue;
        };
        tally.accepted += 1;
        if request.wait_receipt {
            let receipts = wait_for_receipts(route, &accepted, &mut reports, wait).await;
            say!("{} ({}): {receipts}", route.name(), route.kind());
            if matches!(receipts, Receipts::Delivered { .. }) {
                tally.delivered += 1;
            }
        }
    }
    Ok(tally)
}

async fn test_email_routes(
    config: &Config,
    email: &EmailAddress,
    request: &Request<'_>,
) -> anyhow::Result<Tally> {
    let routes = open_email_routes(&config.email_routes)?;
    let wait = Duration::from_secs(request.wait_s);
    let mut tally = Tally::default();
    for route in chosen(routes.iter(), request.route) {
        tally.tried += 1;
        let answer = send_email(config, route, email, wait).await;
        if report(route.name(), route.kind(), answer, None, wait).is_some() {
            tally.accepted += 1;
        }
    }
    Ok(tally)
}

fn chosen<'a, C: ?Sized + 'a>(
    routes: impl Iterator<Item = &'a Route<C>>,
    only: Option<&'a str>,
) -> impl Iterator<Item = &'a Route<C>> {
    routes.filter(move |route| only.is_none_or(|name| route.name() == name))
}

/// One SMS route's answer. The message's life is the wait: an SMPP route that has not
/// bound by then gives up (`Expired`) instead of sending late.
async fn send_sms(
    route: &Route<dyn SecondChannel>,
    phone: &PhoneNumber,
    wait: Duration,
) -> Result<Accepted, ChannelError> {
    let now_s = now_s();
    let text = format!(
        "sceau test message from route {} at {}",
        route.name(),
        sceau_app::clock::rfc3339(now_s)
    );
    let outgoing = OutgoingText {
        message_id: TEST_MESSAGE_ID,
        to: phone,
        text: &text,
        expires_at_s: now_s + i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
    };
    bounded(wait, route.channel().send(&outgoing)).await
}

async fn send_email(
    config: &Config,
    route: &Route<dyn EmailChannel>,
    email: &EmailAddress,
    wait: Duration,
) -> Result<Accepted, ChannelError> {
    let now_s = now_s();
    let written = templates::channel_test(&config.issuer_name, route.name(), now_s)
        .map_err(|error| ChannelError::Permanent(error.to_string()))?;
    let mail = OutgoingEmail {
        message_id: TEST_MESSAGE_ID,
        to: email.as_str(),
        subject: &written.subject,
        text: &written.text,
        html: Some(&written.html),
    };
    bounded(wait, route.channel().send(&mail)).await
}

async fn bounded(
    wait: Duration,
    send: impl Future<Output = Result<Accepted, ChannelError>>,
) -> Result<Accepted, ChannelError> {
    tokio::time::timeout(wait, send)
        .await
        .unwrap_or_else(|_| Err(ChannelError::Transient("no answer in time".into())))
}

fn now_s() -> i64 {
    sceau_app::clock::Clock::now_s(&sceau_app::clock::SystemClock)
}

/// Prints a route's answer (and, when it did not take the message, why the route cannot
/// take messages if it knows); what it accepted, if it did.
fn report(
    name: &str,
    kind: &str,
    answer: Result<Accepted, ChannelError>,
    diagnosis: Option<String>,
    wait: Duration,
) -> Option<Accepted> {
    match answer {
        Ok(accepted) => {
            let note = if kind == "dev-phone" {
                " (the development phone shows only the outbox's messages: nothing to see)"
            } else {
                ""
            };
            let ids = accepted.parts.join(", ");
            match accepted.parts.len() {
                1 => say!("{name} ({kind}): accepted, provider ids {ids}{note}"),
                parts => {
                    say!("{name} ({kind}): accepted in {parts} parts, provider ids {ids}{note}")
                }
            }
            Some(accepted)
        }
        Err(error) => {
            let error = match error {
                // The test message lives as long as the wait.
                ChannelError::Expired => format!("not sent within {} s", wait.as_secs()),
                error => error.to_string(),
            };
            match diagnosis {
                Some(why) => say!("{name} ({kind}): {error} ({why})"),
                None => say!("{name} ({kind}): {error}"),
            }
            None
        }
    }
}

/// What the receipts of a test message said.
enum Receipts {
    /// Every part delivered.
    Delivered { parts: usize },
    /// A part failed; the receipt's own words for it, if it gave them.
    Failed { status: Option<String> },
    /// Not every part was reported within the wait.
    NoneInTime {
        delivered: usize,
        parts: usize,
        wait_s: u64,
    },
    /// The route does not report receipts to this command.
    NotHere { kind: &'static str },
}

impl std::fmt::Display for Receipts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Receipts::Delivered { parts: 1 } => write!(f, "delivered"),
            Receipts::Delivered { parts } => write!(f, "delivered, all {parts} parts"),
            Receipts::Failed {
                status: Some(status),
            } => write!(f, "failed: {status}"),
            Receipts::Failed { status: None } => write!(f, "failed (the receipt gave no status)"),
            Receipts::NoneInTime {
                delivered,
                parts,
                wait_s,
            } => write!(
                f,
                "no receipt in time ({delivered} of {parts} parts reported delivered within \
                 {wait_s} s)"
            ),
            Receipts::NotHere { kind } => write!(
                f,
                "no receipts waited for: a {kind} route does not report them to this command \
                 (only SMPP routes do)"
            ),
        }
    }
}

/// Waits up to `wait` for the receipts of every part `accepted` names on this route.
async fn wait_for_receipts(
    route: &Route<dyn SecondChannel>,
    accepted: &Accepted,
    reports: &mut mpsc::Receiver<DeliveryReport>,
    wait: Duration,
) -> Receipts {
    if route.kind() != "smpp" {
        return Receipts::NotHere { kind: route.kind() };
    }
    let parts: Vec<String> = accepted
        .parts
        .iter()
        .map(|id| receipt::normalize_id(id))
        .collect();
    let mut delivered = vec![false; parts.len()];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let done = delivered.iter().filter(|&&done| done).count();
        if done == parts.len() {
            return Receipts::Delivered { parts: done };
        }
        let Ok(Some(report)) = tokio::time::timeout_at(deadline, reports.recv()).await else {
            return Receipts::NoneInTime {
                delivered: done,
                parts: parts.len(),
                wait_s: wait.as_secs(),
            };
        };
        if report.route != route.name() {
            continue;
        }
        let Some(index) = part_named(&parts, &report.provider_id) else {
            continue;
        };
        match report.outcome {
            ReportOutcome::Delivered => delivered[index] = true,
            ReportOutcome::Failed => {
                return Receipts::Failed {
                    status: report.status,
                };
            }
            ReportOutcome::Pending => {}
        }
    }
}

/// Which of the parts (their normalized ids) a report names: the id as written first,
/// then its other forms (a receipt may write in decimal an id given in hex).
fn part_named(parts: &[String], provider_id: &str) -> Option<usize> {
    receipt::id_candidates(provider_id)
        .iter()
        .find_map(|candidate| parts.iter().position(|part| part == candidate))
}
