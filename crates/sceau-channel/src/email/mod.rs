//! E-mail through an SMTP relay (`lettre` over rustls): STARTTLS (required, never
//! opportunistic) or TLS from the first byte, clear text only to a relay on this machine;
//! authentication with a password read from a file or the environment; a text part and
//! an optional HTML part; optional DKIM signing. `templates` writes the e-mails sceau
//! sends.

pub mod bounce;
mod config;
mod dkim;
pub mod templates;

pub use config::{
    ConfigError, DkimSettings, NamedAddress, SmtpConfig, SmtpSecurity, TIMEOUT_S_MAX,
};

use crate::secret::Secret;
use crate::{Accepted, ChannelError};
use async_trait::async_trait;
use config::check_header_value;
use lettre::message::dkim::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig};
use lettre::message::header::HeaderName;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// An e-mail on its way to one address.
pub struct OutgoingEmail<'a> {
    /// The outbox's id: the `Message-ID` is made from it, so that a message sent twice
    /// (at-least-once) carries the same id both times.
    pub message_id: i64,
    /// A bare address (`client@example.org`), no display name.
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    /// Sent as the alternative to `text` when present.
    pub html: Option<&'a str>,
}

#[async_trait]
pub trait EmailChannel: Send + Sync + 'static {
    /// The kind of route, for logs ("smtp").
    fn kind(&self) -> &'static str;

    /// Hands one e-mail to the route. `Ok` means the relay took responsibility for it
    /// (its part id is the `Message-ID`, without angle brackets).
    async fn send(&self, mail: &OutgoingEmail<'_>) -> Result<Accepted, ChannelError>;
}

/// The development mailbox: every e-mail is taken and stays, sealed, in the outbox, where
/// the mailbox page (`/mailbox`) reads it. No network, nothing leaves the machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct DevMailbox;

#[async_trait]
impl EmailChannel for DevMailbox {
    fn kind(&self) -> &'static str {
        "dev-mailbox"
    }

    async fn send(&self, mail: &OutgoingEmail<'_>) -> Result<Accepted, ChannelError> {
        check_header_value("subject", mail.subject).map_err(ChannelError::Permanent)?;
        Ok(Accepted {
            parts: vec![format!("dev-mail-{}", mail.message_id)],
        })
    }
}

/// One SMTP relay, checked and with its secrets read.
pub struct SmtpRoute {
    name: String,
    summary: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    timeout: Duration,
    max_in_flight: usize,
    dkim: Option<DkimConfig>,
    /// Kept to scrub it from any error text passed on.
    password: Option<Secret>,
}

impl std::fmt::Debug for SmtpRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpRoute({}: {})", self.name, self.summary)
    }
}

impl SmtpRoute {
    /// Checks the configuration and reads its secrets, CA file and DKIM key now, so that
    /// a route that cannot work is refused at start.
    pub fn new(name: &str, config: &SmtpConfig) -> Result<SmtpRoute, ConfigError> {
        let refuse = |problem: String| ConfigError {
            route: name.to_owned(),
            problem,
        };
        config.check().map_err(refuse)?;
        let from = config.from.mailbox("from").map_err(refuse)?;
        let reply_to = match &config.reply_to {
            Some(reply_to) => Some(reply_to.mailbox("reply_to").map_err(refuse)?),
            None => None,
        };
        let password = match &config.password {
            Some(source) => Some(
                source
                    .read()
                    .map_err(|error| refuse(format!("password: {error}")))?,
            ),
            None => None,
        };
        let dkim = match &config.dkim {
            Some(settings) => {
                Some(dkim_config(settings, &from, reply_to.is_some()).map_err(refuse)?)
            }
            None => None,
        };
        let transport = transport(config, password.as_ref()).map_err(refuse)?;
        Ok(SmtpRoute {
            name: name.to_owned(),
            summary: summary(config, dkim.is_some()),
            transport,
            from,
            reply_to,
            timeout: Duration::from_secs(config.timeout_s),
            max_in_flight: config.max_in_flight_or_default(),
            dkim,
            password,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most e-mails on their way to the relay at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// The longest one send may take, connection and TLS included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// What the route is, for `serve`'s start-up lines: relay, protection, login, From.
    pub fn describe(&self) -> &str {
        &self.summary
    }

    /// The message as it goes on the wire, and its `Message-ID` without brackets.
    fn message(&self, mail: &OutgoingEmail<'_>) -> Result<(Message, String), ChannelError> {
        check_header_value("recipient", mail.to).map_err(ChannelError::Permanent)?;
        check_header_value("subject", mail.subject).map_err(ChannelError::Permanent)?;
        let to: Address = mail.to.parse().map_err(|_| {
            ChannelError::Permanent("the recipient is not a valid e-mail address".into())
        })?;
        let id = format!("sceau.{}@{}", mail.message_id, self.from.email.domain());
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject)
            .message_id(Some(format!("<{id}>")))
            .date_now();
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let built = match mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.to_owned(),
                html.to_owned(),
            )),
            None => builder.singlepart(SinglePart::plain(mail.text.to_owned())),
        };
        let mut message = built.map_err(|error| {
            ChannelError::Permanent(format!("the e-mail cannot be written: {error}"))
        })?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok((message, id))
    }

    /// Sorts a relay's refusal: 5xx and what the client itself refuses are permanent,
    /// 4xx, the network, TLS and timeouts are worth another try.
    fn refusal(&self, error: &lettre::transport::smtp::Error) -> ChannelError {
        // Of a relay's reply, only its code: its words may hold the recipient's address
        // (which operators see masked) or echo what it was sent. Other errors (the
        // network, TLS, what lettre refused) say what went wrong, the password scrubbed.
        let said = match error.status() {
            Some(code) => format!("the relay answered {code}"),
            None => match &self.password {
                Some(password) => error.to_string().replace(password.expose(), "***"),
                None => error.to_string(),
            },
        };
        if error.is_permanent() || error.is_client() {
            ChannelError::Permanent(format!("smtp: {said}"))
        } else {
            ChannelError::Transient(format!("smtp: {said}"))
        }
    }
}

#[async_trait]
impl EmailChannel for SmtpRoute {
    fn kind(&self) -> &'static str {
        "smtp"
    }

    #[tracing::instrument(skip_all, fields(route = %self.name, message_id = mail.message_id))]
    async fn send(&self, mail: &OutgoingEmail<'_>) -> Result<Accepted, ChannelError> {
        let (message, id) = self.message(mail)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(ChannelError::Transient(format!(
                "smtp: no answer within {} s",
                self.timeout.as_secs()
            ))),
            Ok(Err(error)) => {
                let refusal = self.refusal(&error);
                tracing::warn!(error = %refusal, "the relay did not take the e-mail");
                Err(refusal)
            }
            Ok(Ok(_)) => Ok(Accepted { parts: vec![id] }),
        }
    }
}

/// The connection: TLS parameters with the extra CA, the login, the time limit.
fn transport(
    config: &SmtpConfig,
    password: Option<&Secret>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match config.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::Starttls => Tls::Required(tls_parameters(config)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(config)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
        .port(config.port_or_default())
        .tls(tls)
        .timeout(Some(Duration::from_secs(config.timeout_s)));
    if let (Some(username), Some(password)) = (&config.username, password) {
        builder = builder
            .credentials(Credentials::new(
                username.clone(),
                password.expose().to_owned(),
            ))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(builder.build())
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).map_err(|error| format!("ca_file {}: {error}", path.display()))?;
        let certificate = Certificate::from_pem(&pem)
            .map_err(|_| format!("ca_file {} holds no PEM certificate", path.display()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build_rustls()
        .map_err(|error| format!("TLS settings: {error}"))
}

/// Signs From, To, Subject, Date, Message-ID, MIME-Version and Reply-To when there is
/// one (not Content-Type: lettre writes it with the body, after signing, so a signature
/// naming it would never verify); relaxed canonicalization, which survives relays that
/// refold headers.
fn dkim_config(
    settings: &DkimSettings,
    from: &Mailbox,
    reply_to: bool,
) -> Result<DkimConfig, String> {
    settings.check(from.email.domain())?;
    let pem = settings
        .private_key
        .read()
        .map_err(|error| format!("dkim.private_key: {error}"))?;
    let key = dkim::signing_key(pem.expose())?;
    let mut headers = vec![
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
    ];
    if reply_to {
        headers.push("Reply-To");
    }
    let canonicalization = DkimCanonicalization {
        header: DkimCanonicalizationType::Relaxed,
        body: DkimCanonicalizationType::Relaxed,
    };
    Ok(DkimConfig::new(
        settings.selector.clone(),
        settings.domain.clone(),
        key,
        headers
            .into_iter()
            .map(HeaderName::new_from_ascii_str)
            .collect(),
        canonicalization,
    ))
}

fn summary(config: &SmtpConfig, dkim: bool) -> String {
    let login = match &config.username {
        Some(username) => format!(", login {username}"),
        None => String::new(),
    };
    let ca = match &config.ca_file {
        Some(path) => format!(", also trusting {}", path.display()),
        None => String::new(),
    };
    let signed = match &config.dkim {
        Some(settings) if dkim => format!(
            ", DKIM {}._domainkey.{}",
            settings.selector, settings.domain
        ),
        _ => String::new(),
    };
    format!(
        "smtp {}:{} ({}{ca}{login}), from {}{signed}",
        config.host,
        config.port_or_default(),
        config.security.label(),
        config.from.address
    )
}
