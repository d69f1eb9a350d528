//! `sceau admin channel-test --to ADDRESS`: a test message on each configured route of
//! the address's medium, sent directly (not through the outbox), to see that a route
//! works before clients depend on it.

use crate::config::Config;
use anyhow::{Context, bail};
use sceau_channel::email::{EmailChannel, OutgoingEmail, templates};
use sceau_channel::routes::Route;
use sceau_channel::{Accepted, ChannelError, OutgoingText, SecondChannel};
use sceau_domain::PhoneNumber;
use sceau_domain::email::EmailAddress;
use std::time::Duration;

/// The outbox id a test message carries (an e-mail's `Message-ID` is made from it): no
/// message of the outbox has it.
const TEST_MESSAGE_ID: i64 = 0;
/// How long a route may take to bind (SMPP) and answer, at most.
pub const WAIT_S_MAX: u64 = 120;

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

/// Sends the test on each route (or the one named), prints what each answered, and fails
/// unless one route accepted it.
pub async fn run(config: &Config, to: &str, only: Option<&str>, wait_s: u64) -> anyhow::Result<()> {
    if !(1..=WAIT_S_MAX).contains(&wait_s) {
        bail!("--wait-s must be 1 to {WAIT_S_MAX}");
    }
    let address = parse_address(to)?;
    let channels = crate::open_channels(config)?;
    let now_s = sceau_app::clock::Clock::now_s(&sceau_app::clock::SystemClock);
    let wait = Duration::from_secs(wait_s);
    let mut accepted_count = 0;
    let mut tried_count = 0;
    match &address {
        Address::Phone(phone) => {
            for route in chosen(channels.routing.sms.iter(), only) {
                tried_count += 1;
                let answer = send_sms(route, phone, now_s, wait).await;
                accepted_count += report(route.name(), route.kind(), answer);
            }
        }
        Address::Email(email) => {
            for route in chosen(channels.routing.email.iter(), only) {
                tried_count += 1;
                let answer = send_email(config, route, email, now_s, wait).await;
                accepted_count += report(route.name(), route.kind(), answer);
            }
        }
    }
    if tried_count == 0 {
        match only {
            Some(name) => bail!("no route named {name} for this address's medium"),
            None => bail!("no route is configured for this address's medium"),
        }
    }
    if accepted_count == 0 {
        bail!("no route accepted the test message");
    }
    Ok(())
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
    now_s: i64,
    wait: Duration,
) -> Result<Accepted, ChannelError> {
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
    now_s: i64,
    wait: Duration,
) -> Result<Accepted, ChannelError> {
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

/// Prints a route's answer; 1 if it accepted the message.
fn report(name: &str, kind: &str, answer: Result<Accepted, ChannelError>) -> u32 {
    match answer {
        Ok(accepted) => {
            let note = if kind == "dev-phone" {
                " (the development phone shows only the outbox's messages: nothing to see)"
            } else {
                ""
            };
            say!(
                "{name} ({kind}): accepted, provider ids {}{note}",
                accepted.parts.join(", ")
            );
            1
        }
        Err(error) => {
            say!("{name} ({kind}): {error}");
            0
        }
    }
}
