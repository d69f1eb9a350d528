//! The routes of the configuration file, tried in the order written:
//!
//! ```toml
//! [[sms_routes]]
//! name = "operator"
//! kind = "smpp"            # or "http", or "dev-phone"
//! [sms_routes.smpp]        # the settings of that kind, in a table named after it
//! host = "smsc.operator.example"
//! ...
//! [[email_routes]]
//! name = "relay"
//! kind = "smtp"
//! [email_routes.smtp]
//! ...
//! ```
//!
//! Without `sms_routes`, the development phone is the one route. A route's name is how
//! logs, the outbox's states and the status callbacks' addresses
//! (`/channel/{name}/status`) call it.

use crate::email::{EmailChannel, SmtpConfig, SmtpRoute};
use crate::http_gateway::{HttpGateway, HttpGatewayConfig};
use crate::routes::{Route, Routes};
use crate::smpp::{SmppConfig, SmppRoute};
use crate::{DevPhone, ReportSink, SecondChannel};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SmsKind {
    DevPhone,
    Smpp,
    Http,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EmailKind {
    Smtp,
    /// The development mailbox: every e-mail is taken and shown on `/mailbox`.
    DevMailbox,
}

/// One SMS route: its name, its kind, and the settings of that kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsRouteConfig {
    pub name: String,
    pub kind: SmsKind,
    pub smpp: Option<SmppConfig>,
    pub http: Option<HttpGatewayConfig>,
}

/// One e-mail route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRouteConfig {
    pub name: String,
    pub kind: EmailKind,
    pub smtp: Option<SmtpConfig>,
}

impl SmsRouteConfig {
    /// The development phone, the route of a configuration that names none.
    pub fn dev_phone() -> SmsRouteConfig {
        SmsRouteConfig {
            name: "dev-phone".into(),
            kind: SmsKind::DevPhone,
            smpp: None,
            http: None,
        }
    }
}

impl SmsRouteConfig {
    /// Whether the route places phone calls that read the text out (a client may choose
    /// calls only when one route does).
    pub fn places_calls(&self) -> bool {
        self.kind == SmsKind::Http && self.http.as_ref().is_some_and(|http| http.places_calls())
    }

    /// The route in one line, for `serve`'s start-up lines (never a secret).
    pub fn describe(&self) -> String {
        let name = &self.name;
        match (self.kind, &self.smpp, &self.http) {
            (SmsKind::Smpp, Some(smpp), _) => format!(
                "{name} (SMPP to {}:{}, system id {})",
                smpp.host, smpp.port, smpp.system_id
            ),
            (SmsKind::Http, _, Some(http)) => {
                let calls = if http.places_calls() {
                    ", phone calls"
                } else {
                    ""
                };
                match (&http.preset, &http.url) {
                    (Some(preset), _) => {
                        format!("{name} (HTTP gateway, {preset:?} preset{calls})")
                    }
                    (None, Some(url)) => {
                        let host = url::Url::parse(url)
                            .ok()
                            .and_then(|url| url.host_str().map(str::to_owned))
                            .unwrap_or_default();
                        format!("{name} (HTTP gateway at {host}{calls})")
                    }
                    (None, None) => format!("{name} (HTTP gateway{calls})"),
                }
            }
            _ => format!("{name} (the development phone: texts shown on /phone only)"),
        }
    }
}

impl EmailRouteConfig {
    /// The development mailbox, the e-mail route of a configuration that names none and
    /// sends its SMS to the development phone.
    pub fn dev_mailbox() -> EmailRouteConfig {
        EmailRouteConfig {
            name: "dev-mailbox".into(),
            kind: EmailKind::DevMailbox,
            smtp: None,
        }
    }

    /// The route in one line, for `serve`'s start-up lines (never a secret).
    pub fn describe(&self) -> String {
        if self.kind == EmailKind::DevMailbox {
            return format!("{} (development mailbox: /mailbox)", self.name);
        }
        match &self.smtp {
            Some(smtp) => format!(
                "{} (SMTP to {}:{})",
                self.name,
                smtp.host,
                smtp.port_or_default()
            ),
            None => format!("{} (SMTP)", self.name),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct RouteConfigError {
    pub route: String,
    pub reason: String,
}

/// A refusal of ours: it names the route.
fn refused(route: &str, reason: impl Into<String>) -> RouteConfigError {
    RouteConfigError {
        route: route.to_owned(),
        reason: format!("route {route}: {}", reason.into()),
    }
}

/// A route's own refusal, which names the route already.
fn refused_by(route: &str, error: impl std::fmt::Display) -> RouteConfigError {
    RouteConfigError {
        route: route.to_owned(),
        reason: error.to_string(),
    }
}

/// A route's name: 1 to 32 lowercase letters, digits and dashes (it is part of an
/// address), unique among the routes of both media.
pub fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), RouteConfigError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        let well_formed = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_formed {
            return Err(refused(
                name,
                "a route's name is 1 to 32 lowercase letters, digits and dashes",
            ));
        }
        if !seen.insert(name) {
            return Err(refused(name, "two routes have this name"));
        }
    }
    Ok(())
}

/// The SMS routes, opened, and those of them that take status callbacks (by name).
pub struct SmsRoutes {
    pub routes: Routes,
    pub callbacks: HashMap<String, Arc<HttpGateway>>,
}

/// Opens the SMS routes (their secrets read now; SMPP sessions start binding), in order.
/// Runs inside the server's runtime.
pub fn open_sms_routes(
    configs: &[SmsRouteConfig],
    reports: &ReportSink,
) -> Result<SmsRoutes, RouteConfigError> {
    let mut routes = Vec::with_capacity(configs.len());
    let mut callbacks = HashMap::new();
    for config in configs {
        let name = config.name.as_str();
        let mut bound = None;
        let channel: Arc<dyn SecondChannel> = match (config.kind, &config.smpp, &config.http) {
            (SmsKind::DevPhone, None, None) => Arc::new(DevPhone),
            (SmsKind::Smpp, Some(smpp), None) => Arc::new(
                SmppRoute::start(name, smpp, reports.clone())
                    .map_err(|error| refused_by(name, error))?,
            ),
            (SmsKind::Http, None, Some(http)) => {
                let gateway = Arc::new(
                    HttpGateway::new(name, http).map_err(|error| refused_by(name, error))?,
                );
                if gateway.callback_url().is_some() {
                    callbacks.insert(name.to_owned(), gateway.clone());
                }
                bound = Some((gateway.max_in_flight(), gateway.timeout()));
                gateway
            }
            _ => {
                return Err(refused(
                    name,
                    "give the settings of its kind, and only those, in a table named after the \
                     kind ([sms_routes.smpp] for kind = \"smpp\", [sms_routes.http] for \"http\")",
                ));
            }
        };
        let mut route = Route::new(name, channel);
        if let Some((max, answer_time)) = bound {
            route = route.with_max_in_flight(max, answer_time);
        }
        routes.push(route);
    }
    if routes.is_empty() {
        routes.push(Route::new("dev-phone", Arc::new(DevPhone)));
    }
    Ok(SmsRoutes {
        routes: Routes::new(routes),
        callbacks,
    })
}

/// Opens the e-mail routes, in order (none: sceau sends no e-mail).
pub fn open_email_routes(
    configs: &[EmailRouteConfig],
) -> Result<Routes<dyn EmailChannel>, RouteConfigError> {
    let mut routes = Vec::with_capacity(configs.len());
    for config in configs {
        let name = config.name.as_str();
        if config.kind == EmailKind::DevMailbox {
            if config.smtp.is_some() {
                return Err(refused(name, "the development mailbox takes no settings"));
            }
            let channel: Arc<dyn EmailChannel> = Arc::new(crate::email::DevMailbox);
            routes.push(Route::of_kind(name, "dev-mailbox", channel));
            continue;
        }
        let Some(smtp) = &config.smtp else {
            return Err(refused(
                name,
                "give its settings in [email_routes.smtp] (kind = \"smtp\")",
            ));
        };
        let route = SmtpRoute::new(name, smtp).map_err(|error| refused_by(name, error))?;
        let (max, answer_time) = (route.max_in_flight(), route.timeout());
        let channel: Arc<dyn EmailChannel> = Arc::new(route);
        routes.push(Route::of_kind(name, "smtp", channel).with_max_in_flight(max, answer_time));
    }
    Ok(Routes::new(routes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        sms_routes: Vec<SmsRouteConfig>,
    }

    /// Which routes place calls: the voice preset and a provider described with
    /// `call = true`; not an SMS preset nor a plain provider. `serve` says so of each.
    #[test]
    fn routes_that_place_calls_are_the_voice_preset_and_those_that_say_so() {
        let file: File = toml::from_str(
            r#"
            [[sms_routes]]
            name = "texts"
            kind = "http"
            [sms_routes.http]
            preset = "twilio"
            [[sms_routes]]
            name = "voice"
            kind = "http"
            [sms_routes.http]
            preset = "twilio-voice"
            [[sms_routes]]
            name = "acme-calls"
            kind = "http"
            [sms_routes.http]
            url = "https://calls.acme.example/v1/call"
            call = true
            [[sms_routes]]
            name = "acme"
            kind = "http"
            [sms_routes.http]
            url = "https://sms.acme.example/v1/sms"
            [[sms_routes]]
            name = "phone"
            kind = "dev-phone"
            "#,
        )
        .unwrap();
        let calls: Vec<bool> = file.sms_routes.iter().map(|r| r.places_calls()).collect();
        assert_eq!(calls, [false, true, true, false, false]);
        let lines: Vec<String> = file.sms_routes.iter().map(|r| r.describe()).collect();
        assert!(
            lines[1].ends_with("TwilioVoice preset, phone calls)"),
            "{lines:?}"
        );
        assert!(
            lines[2].ends_with("calls.acme.example, phone calls)"),
            "{lines:?}"
        );
        assert!(
            !lines[0].contains("calls") && !lines[3].contains("calls"),
            "{lines:?}"
        );
    }
}
