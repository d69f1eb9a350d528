//! What an SMTP route's configuration says, and the checks it passes at start: a route
//! that could only fail (plain text to a remote host, a missing secret, an unreadable CA
//! or DKIM key) is refused before the server serves.

use crate::secret::SecretSource;
use lettre::Address;
use lettre::message::Mailbox;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;

/// The longest one send may take, connection and TLS included.
/// Below the dispatcher's time for one try on the routes (40 s), so that a relay's answer
/// is never cut off mid-way (which would send the mail again).
pub const TIMEOUT_S_MAX: u64 = 30;
const TIMEOUT_S_DEFAULT: u64 = 30;
pub const MAX_IN_FLIGHT_DEFAULT: usize = 4;

/// One e-mail route of kind `smtp`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay's name or address; checked against its TLS certificate.
    pub host: String,
    /// Default: 587 with `starttls`, 465 with `tls`, 25 with `none`.
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The login, when the relay asks for one (then `password` too).
    pub username: Option<String>,
    pub password: Option<SecretSource>,
    /// A PEM file of CA certificates trusted for this relay, besides the system's (for a
    /// relay with a private CA).
    pub ca_file: Option<PathBuf>,
    pub from: NamedAddress,
    pub reply_to: Option<NamedAddress>,
    /// The longest one send may take, connection and TLS included (1 to 300 s).
    #[serde(default = "timeout_s_default")]
    pub timeout_s: u64,
    /// The most e-mails on their way to the relay at once (default 4, 1 to 256).
    pub max_in_flight: Option<usize>,
    /// Signs every message with DKIM.
    pub dkim: Option<DkimSettings>,
}

fn timeout_s_default() -> u64 {
    TIMEOUT_S_DEFAULT
}

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS; a relay that does not offer it is refused
    /// (never opportunistic).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only to a relay on this machine (a loopback host).
    None,
}

impl SmtpSecurity {
    pub fn port_default(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SmtpSecurity::Starttls => "STARTTLS",
            SmtpSecurity::Tls => "TLS",
            SmtpSecurity::None => "no encryption",
        }
    }
}

/// An address with an optional display name (`"Banque Exemple" <alerts@bank.example>`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NamedAddress {
    pub name: Option<String>,
    pub address: String,
}

/// DKIM signing: the DNS record `<selector>._domainkey.<domain>` holds the public key.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    pub selector: String,
    /// The signing domain: the From address's domain or a parent of it.
    pub domain: String,
    /// A PEM private key: RSA (PKCS#1 or PKCS#8, at least 1024 bits) or Ed25519 (PKCS#8).
    pub private_key: SecretSource,
}

/// An e-mail route's configuration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("e-mail route \"{route}\": {problem}")]
pub struct ConfigError {
    pub route: String,
    pub problem: String,
}

/// Refuses a value that would break out of its header line (CR, LF or any other control
/// character).
pub fn check_header_value(what: &str, value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err(format!(
            "the {what} holds a line break or a control character"
        ));
    }
    Ok(())
}

/// Whether a plain-text connection to `host` stays on this machine.
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl SmtpConfig {
    /// The checks that need no file and no secret.
    pub fn check(&self) -> Result<(), String> {
        if self.host.is_empty()
            || self
                .host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("host must be a host name or an address".into());
        }
        if self.port == Some(0) {
            return Err("port must be between 1 and 65535".into());
        }
        if self.security == SmtpSecurity::None && !is_loopback(&self.host) {
            return Err(format!(
                "security = \"none\" sends in clear text: only allowed to a relay on this machine \
                 (localhost, 127.0.0.1, ::1), not to {}; use \"starttls\" or \"tls\"",
                self.host
            ));
        }
        if self.security == SmtpSecurity::None && self.ca_file.is_some() {
            return Err("ca_file is given but security is \"none\"".into());
        }
        if self.username.is_some() != self.password.is_some() {
            return Err("username and password go together: give both or neither".into());
        }
        if let Some(username) = &self.username {
            check_header_value("username", username)?;
        }
        if !(1..=TIMEOUT_S_MAX).contains(&self.timeout_s) {
            return Err(format!("timeout_s must be between 1 and {TIMEOUT_S_MAX}"));
        }
        let max = crate::routes::MAX_IN_FLIGHT_MAX;
        if !(1..=max).contains(&self.max_in_flight_or_default()) {
            return Err(format!("max_in_flight must be between 1 and {max}"));
        }
        Ok(())
    }

    pub fn max_in_flight_or_default(&self) -> usize {
        self.max_in_flight.unwrap_or(MAX_IN_FLIGHT_DEFAULT)
    }

    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.security.port_default())
    }
}

impl NamedAddress {
    /// The mailbox for a header; `what` names the key in errors.
    pub fn mailbox(&self, what: &str) -> Result<Mailbox, String> {
        check_header_value(&format!("{what} address"), &self.address)?;
        let address: Address = self
            .address
            .parse()
            .map_err(|_| format!("{what}.address is not an e-mail address"))?;
        if let Some(name) = &self.name {
            check_header_value(&format!("{what} name"), name)?;
        }
        Ok(Mailbox::new(self.name.clone(), address))
    }
}

impl DkimSettings {
    /// Checks the selector and domain against the From address's domain.
    pub fn check(&self, from_domain: &str) -> Result<(), String> {
        let label = |value: &str| {
            !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        };
        if !label(&self.selector) || !label(&self.domain) {
            return Err("dkim.selector and dkim.domain must be DNS names".into());
        }
        let domain = self.domain.to_ascii_lowercase();
        let from = from_domain.to_ascii_lowercase();
        if from != domain && !from.ends_with(&format!(".{domain}")) {
            return Err(format!(
                "dkim.domain ({}) must be the From address's domain ({from_domain}) or a parent \
                 of it, or receivers will not count the signature",
                self.domain
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<SmtpConfig, String> {
        toml::from_str::<SmtpConfig>(toml_text).map_err(|error| error.to_string())
    }

    const FROM: &str = "from = { name = \"Banque\", address = \"alerts@bank.example\" }\n";

    #[test]
    fn the_defaults_are_starttls_on_587_with_thirty_seconds() {
        let config = parse(&format!("host = \"mail.example\"\n{FROM}")).unwrap();
        assert_eq!(config.security, SmtpSecurity::Starttls);
        assert_eq!(config.port_or_default(), 587);
        assert_eq!(config.timeout_s, 30);
        assert_eq!(config.check(), Ok(()));
        let tls = parse(&format!(
            "host = \"mail.example\"\nsecurity = \"tls\"\n{FROM}"
        ))
        .unwrap();
        assert_eq!(tls.port_or_default(), 465);
    }

    #[test]
    fn unknown_keys_and_a_password_in_the_file_are_refused() {
        let unknown = parse(&format!("host = \"mail.example\"\nhots = \"x\"\n{FROM}"));
        assert!(unknown.unwrap_err().contains("unknown field"));
        let inline = parse(&format!(
            "host = \"mail.example\"\nusername = \"u\"\npassword = \"hunter2\"\n{FROM}"
        ));
        assert!(
            inline.is_err(),
            "a password must come from a file or the environment"
        );
        let security = parse(&format!(
            "host = \"mail.example\"\nsecurity = \"maybe\"\n{FROM}"
        ));
        assert!(security.is_err());
    }

    #[test]
    fn clear_text_is_allowed_to_loopback_only() {
        let check = |host: &str, allowed: bool| {
            let config = parse(&format!("host = \"{host}\"\nsecurity = \"none\"\n{FROM}")).unwrap();
            assert_eq!(config.check().is_ok(), allowed, "{host}");
        };
        check("127.0.0.1", true);
        check("127.9.9.9", true);
        check("::1", true);
        check("[::1]", true);
        check("localhost", true);
        check("LOCALHOST", true);
        check("mail.example", false);
        check("10.0.0.1", false);
        check("localhost.evil.example", false);
    }

    #[test]
    fn credentials_go_in_pairs_and_the_timeout_has_bounds() {
        let mut config = parse(&format!("host = \"mail.example\"\n{FROM}")).unwrap();
        config.username = Some("alerts".into());
        assert!(config.check().unwrap_err().contains("give both"));
        config.username = None;
        config.timeout_s = 0;
        assert!(config.check().unwrap_err().contains("timeout_s"));
        config.timeout_s = TIMEOUT_S_MAX + 1;
        assert!(config.check().is_err());
    }

    #[test]
    fn header_values_with_line_breaks_are_refused() {
        assert!(check_header_value("subject", "Paiements suspendus — café").is_ok());
        assert!(check_header_value("subject", "a\r\nBcc: x@example.org").is_err());
        assert!(check_header_value("subject", "a\nb").is_err());
        let from = NamedAddress {
            name: Some("Banque\r\nBcc: x@example.org".into()),
            address: "alerts@bank.example".into(),
        };
        assert!(from.mailbox("from").is_err());
        let from = NamedAddress {
            name: None,
            address: "not an address".into(),
        };
        assert!(from.mailbox("from").is_err());
    }

    #[test]
    fn the_dkim_domain_must_cover_the_from_address() {
        let dkim = |domain: &str| DkimSettings {
            selector: "sceau".into(),
            domain: domain.into(),
            private_key: SecretSource {
                file: Some("/nonexistent".into()),
                env: None,
            },
        };
        assert!(dkim("bank.example").check("bank.example").is_ok());
        assert!(dkim("bank.example").check("mail.bank.example").is_ok());
        assert!(dkim("other.example").check("bank.example").is_err());
        assert!(dkim("ank.example").check("bank.example").is_err());
        assert!(dkim("bank example").check("bank example").is_err());
    }
}
