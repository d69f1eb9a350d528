//! An SMPP route's configuration: where the SMSC is, how to bind, how fast to go.

use crate::secret::{SecretError, SecretSource};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// One SMPP route, as written in the configuration file. The password is named by a
/// [`SecretSource`] (a file or an environment variable), never written here.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmppConfig {
    pub host: String,
    pub port: u16,
    /// SMPP over TLS (the SMSC's certificate checked against the system's roots and
    /// `tls_ca_file`).
    #[serde(default)]
    pub tls: bool,
    /// An extra CA certificate (PEM) to trust for the SMSC, e.g. an operator's own.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    pub system_id: String,
    pub password: SecretSource,
    #[serde(default)]
    pub system_type: String,
    #[serde(default)]
    pub bind: BindMode,
    /// The sender shown on the phone: a number or a name.
    pub source_addr: String,
    #[serde(default = "defaults::source_ton")]
    pub source_ton: u8,
    #[serde(default = "defaults::source_npi")]
    pub source_npi: u8,
    /// Destinations are written without their '+' in international form (TON 1, NPI 1).
    #[serde(default = "defaults::dest_ton")]
    pub dest_ton: u8,
    #[serde(default = "defaults::dest_npi")]
    pub dest_npi: u8,
    /// Outstanding `submit_sm` at most (each part counts).
    #[serde(default = "defaults::window")]
    pub window: u16,
    /// Parts submitted per second at most.
    #[serde(default = "defaults::rate_per_s")]
    pub rate_per_s: u32,
    /// How long an answer may take (bind, `submit_sm`, `enquire_link`) before the link is
    /// declared dead.
    #[serde(default = "defaults::pdu_timeout_s")]
    pub pdu_timeout_s: u32,
    /// Silence from the SMSC after which an `enquire_link` is sent.
    #[serde(default = "defaults::enquire_link_s")]
    pub enquire_link_s: u32,
    /// Re-bind pauses: from the minimum, doubling (with jitter) up to the maximum.
    #[serde(default = "defaults::reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    #[serde(default = "defaults::reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Pause before the next `submit_sm` after the SMSC said it is throttling.
    #[serde(default = "defaults::throttle_pause_ms")]
    pub throttle_pause_ms: u64,
    /// Ask for delivery receipts.
    #[serde(default = "defaults::registered_delivery")]
    pub registered_delivery: bool,
}

/// How the route binds: one transceiver, or a transmitter for submits and a receiver for
/// receipts.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BindMode {
    #[default]
    Transceiver,
    TransmitterReceiver,
}

mod defaults {
    pub fn source_ton() -> u8 {
        1
    }
    pub fn source_npi() -> u8 {
        1
    }
    pub fn dest_ton() -> u8 {
        1
    }
    pub fn dest_npi() -> u8 {
        1
    }
    pub fn window() -> u16 {
        10
    }
    pub fn rate_per_s() -> u32 {
        100
    }
    pub fn pdu_timeout_s() -> u32 {
        10
    }
    pub fn enquire_link_s() -> u32 {
        30
    }
    pub fn reconnect_min_ms() -> u64 {
        1_000
    }
    pub fn reconnect_max_ms() -> u64 {
        60_000
    }
    pub fn throttle_pause_ms() -> u64 {
        1_000
    }
    pub fn registered_delivery() -> bool {
        true
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("SMPP route {route}: its password: {source}")]
    Secret { route: String, source: SecretError },
    #[error("SMPP route {route}: {what}")]
    Invalid { route: String, what: String },
    #[error("SMPP route {route}: TLS: {what}")]
    Tls { route: String, what: String },
}

/// Limits of SMPP 3.4's fields (octets, without the terminating NUL) and of ours.
const SYSTEM_ID_MAX: usize = 15;
const PASSWORD_MAX: usize = 8;
const SYSTEM_TYPE_MAX: usize = 12;
const ADDRESS_MAX: usize = 20;
const WINDOW_MAX: u16 = 1_000;

impl SmppConfig {
    pub(crate) fn pdu_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.pdu_timeout_s))
    }

    pub(crate) fn enquire_link(&self) -> Duration {
        Duration::from_secs(u64::from(self.enquire_link_s))
    }

    /// Checks what the SMSC would refuse or what cannot work, before anything connects.
    pub(crate) fn check(&self, route: &str) -> Result<(), ConfigError> {
        let invalid = |what: String| ConfigError::Invalid {
            route: route.to_owned(),
            what,
        };
        let ascii = |name: &str, value: &str, max: usize, empty: bool| {
            if !value.is_ascii() || value.len() > max || (!empty && value.is_empty()) {
                let need = if empty { "" } else { "1 to " };
                return Err(invalid(format!(
                    "{name} must be {need}{max} ASCII characters"
                )));
            }
            Ok(())
        };
        ascii("host", &self.host, 253, false)?;
        ascii("system_id", &self.system_id, SYSTEM_ID_MAX, false)?;
        ascii("system_type", &self.system_type, SYSTEM_TYPE_MAX, true)?;
        ascii("source_addr", &self.source_addr, ADDRESS_MAX, false)?;
        if self.window == 0 || self.window > WINDOW_MAX {
            return Err(invalid(format!("window must be 1 to {WINDOW_MAX}")));
        }
        let positive = [
            ("port", u64::from(self.port)),
            ("rate_per_s", u64::from(self.rate_per_s)),
            ("pdu_timeout_s", u64::from(self.pdu_timeout_s)),
            ("enquire_link_s", u64::from(self.enquire_link_s)),
            ("reconnect_min_ms", self.reconnect_min_ms),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(invalid(format!("{name} must be above 0")));
        }
        if self.reconnect_max_ms < self.reconnect_min_ms {
            return Err(invalid("reconnect_max_ms is below reconnect_min_ms".into()));
        }
        if self.tls_ca_file.is_some() && !self.tls {
            return Err(invalid("tls_ca_file is set but tls is off".into()));
        }
        Ok(())
    }

    /// Reads the password now, so that a route whose secret is missing is refused at
    /// start; SMPP 3.4 allows 8 characters.
    pub(crate) fn read_password(&self, route: &str) -> Result<crate::secret::Secret, ConfigError> {
        let secret = self.password.read().map_err(|source| ConfigError::Secret {
            route: route.to_owned(),
            source,
        })?;
        if !secret.expose().is_ascii() || secret.expose().len() > PASSWORD_MAX {
            return Err(ConfigError::Invalid {
                route: route.to_owned(),
                what: format!("the password must be 1 to {PASSWORD_MAX} ASCII characters"),
            });
        }
        Ok(secret)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const MINIMAL: &str = "host = \"smsc.example\"\nport = 2775\nsystem_id = \"sceau\"\n\
                           password = { env = \"SMSC_PASSWORD\" }\nsource_addr = \"SCEAU\"\n";

    fn parse(more: &str) -> Result<SmppConfig, toml::de::Error> {
        toml::from_str(&format!("{MINIMAL}{more}"))
    }

    fn check(more: &str, expected: &str) {
        let what = match parse(more).unwrap().check("operator") {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        assert!(what.contains(expected), "{more:?}: {what}");
    }

    #[test]
    fn defaults_fill_what_an_operator_leaves_out() {
        let config = parse("").unwrap();
        assert_eq!(config.bind, BindMode::Transceiver);
        assert_eq!((config.dest_ton, config.dest_npi), (1, 1));
        assert_eq!((config.window, config.rate_per_s), (10, 100));
        assert_eq!((config.pdu_timeout_s, config.enquire_link_s), (10, 30));
        assert_eq!(
            (config.reconnect_min_ms, config.reconnect_max_ms),
            (1_000, 60_000)
        );
        assert!(config.registered_delivery && !config.tls);
        let pair = parse("bind = \"transmitter-receiver\"\n").unwrap();
        assert_eq!(pair.bind, BindMode::TransmitterReceiver);
    }

    #[test]
    fn a_password_in_the_file_or_an_unknown_key_is_refused() {
        assert!(parse("").is_ok());
        let written = "host = \"h\"\nport = 1\nsystem_id = \"s\"\npassword = \"secret\"\n\
                       source_addr = \"S\"\n";
        assert!(toml::from_str::<SmppConfig>(written).is_err());
        assert!(parse("windows = 3\n").is_err());
    }

    #[test]
    fn values_the_smsc_or_the_route_cannot_use_are_refused_at_start() {
        check("", "ok");
        check("window = 0\n", "window must be 1 to 1000");
        check("rate_per_s = 0\n", "rate_per_s must be above 0");
        check("reconnect_max_ms = 10\n", "reconnect_max_ms is below");
        check("tls_ca_file = \"/ca.pem\"\n", "tls is off");
        check(
            "system_type = \"much-too-long-type\"\n",
            "system_type must be",
        );
        let long_id = parse("").unwrap();
        let long_id = SmppConfig {
            system_id: "a-system-id-too-long".into(),
            ..long_id
        };
        assert!(long_id.check("operator").is_err());
    }
}
