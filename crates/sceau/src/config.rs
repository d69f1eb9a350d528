//! Configuration: defaults, then a TOML file (`--config`, unknown keys refused), then
//! `SCEAU_*` environment variables. Secrets never sit in the file: the master key and the
//! admin token come from their own files (created at first start, mode 0600) or from
//! `SCEAU_MASTER_KEY` / `SCEAU_ADMIN_TOKEN`.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on. Loopback by default.
    pub listen: SocketAddr,
    /// Where the data lives: a SQLite file path (the embedded default), or a PostgreSQL
    /// URL (`postgres://user:password@host:port/database`) shared by several instances.
    pub database: String,
    /// PostgreSQL only: write batches this instance runs at once (one connection each;
    /// the second channel's dispatcher has one more lane and connection of its own).
    pub postgres_write_lanes: usize,
    /// PostgreSQL only: connections for reads.
    pub postgres_read_connections: usize,
    /// File holding the 32-byte master key in hex; created at first start.
    pub master_key_file: PathBuf,
    /// File holding the admin API token; created at first start.
    pub admin_token_file: PathBuf,
    /// The reserved BIN range single-use numbers are drawn from (6 to 8 digits).
    pub bin_range: String,
    /// Default validity of a number, seconds (at most 86400).
    pub number_validity_s: i64,
    /// How long an uncaptured authorization holds funds, seconds.
    pub hold_ttl_s: i64,
    /// The issuer's name, shown in messages and pages, and in settlement files.
    pub issuer_name: String,
    /// The issuer's account (IBAN) that pays merchants in settlement files; with
    /// `issuer_bic`, needed to close clearing batches. None by default.
    pub issuer_iban: Option<String>,
    /// The BIC of the issuer's bank (8 or 11 characters).
    pub issuer_bic: Option<String>,
    /// The SMS routes, tried in order (`[[sms_routes]]`: the development phone when none
    /// is given; see `sceau_channel::config`).
    pub sms_routes: Vec<sceau_channel::config::SmsRouteConfig>,
    /// The e-mail routes, tried in order (`[[email_routes]]`; none: no e-mail is sent).
    pub email_routes: Vec<sceau_channel::config::EmailRouteConfig>,
    /// Mark session cookies Secure (set when served behind a proxy that terminates TLS;
    /// always so when `tls_certificate` is given).
    pub secure_cookies: bool,
    /// Serve HTTPS: the certificate chain (PEM, the server's certificate first) and its
    /// private key (PEM, mode 0600), read again on SIGHUP. Both or neither.
    pub tls_certificate: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The address clients reach sceau at (for example `https://pay.example`), used in
    /// the payment links given to merchants; by default `http://` and `listen`.
    pub public_url: Option<String>,
    /// A second address serving only `GET /metrics`, without the admin token (for a
    /// Prometheus on the operators' network); none by default.
    pub metrics_listen: Option<SocketAddr>,
    /// Most numbers a client may ask to be sent per hour.
    pub numbers_per_hour_max: u32,
    /// Most numbers one merchant may have sent to one client per hour (at checkout).
    pub checkout_numbers_per_hour_max: u32,
    /// Digits of a payment seal (6 to 10).
    pub seal_digits: u8,
    /// How long a seal may be typed back, seconds (60 to 600).
    pub seal_validity_s: i64,
    /// Default life of a merchant's checkout, seconds (60 to 3600).
    pub checkout_validity_s: i64,
    /// Checkouts a client may have held at once, waiting for their seal (1 to 100,000).
    pub client_held_checkouts_max: u32,
    /// Seals one client may be sent within an hour, payment and signature seals together
    /// (1 to 100,000): a stolen password cannot make the phone a seal oracle.
    pub client_seals_per_hour_max: u32,
    /// Messages one client may be sent within an hour, every kind together: seals,
    /// numbers they ask for, numbers merchants ask for (pause notices always go out, and
    /// count). More than `client_seals_per_hour_max`: what is left beside the seals is
    /// what all merchants together may use.
    pub client_sms_per_hour_max: u32,
    /// Distinct clients one merchant may have numbers sent to within an hour (at
    /// checkout; only clients who paid it or signed in on its checkouts).
    pub merchant_clients_per_hour_max: u32,
    /// Let merchants' return and webhook addresses name this machine or a private
    /// network (development only: webhooks would reach the operator's own network).
    pub webhooks_to_private_networks: bool,
    /// Where server-held keys live: "file" (an encrypted key directory, the default) or
    /// "pkcs11" (a token; its PIN comes from `SCEAU_PKCS11_PIN`, never from a file).
    pub keystore: String,
    /// The encrypted key directory (keystore = "file"); its keys open only with the
    /// master key.
    pub keys_directory: PathBuf,
    /// keystore = "pkcs11": the module (shared library) and the token's label.
    pub pkcs11_module: Option<PathBuf>,
    pub pkcs11_token: Option<String>,
    /// The authority's and the TSA's certificates (created at first start).
    pub pki_directory: PathBuf,
    /// The time-stamp authority's policy OID. The default, 1.2.3.4.1, is OpenSSL's
    /// example: set your organisation's own.
    pub tsa_policy: String,
    /// The transparency log's origin (its checkpoints' first line and its key's name):
    /// a name of the log without scheme, e.g. `pay.example/log`.
    pub log_origin: String,
    /// Serve the development phone page `/phone` (it shows every text sent: development
    /// and demonstration only).
    pub phone_simulator: bool,
    /// The notary's archive on SQLite: objects over 256 KiB are files under this
    /// directory, written with fsync and named by their SHA-256; smaller ones are kept in
    /// the database (on PostgreSQL the whole archive is in the database).
    pub archive_directory: PathBuf,
    /// An envelope's limits: files, bytes per file, bytes per envelope.
    pub envelope_files_max: u32,
    pub envelope_file_bytes_max: u64,
    pub envelope_bytes_max: u64,
    /// Envelope files this server receives at once (streamed; 64 by default, 1 to 4096);
    /// each client has at most 4 of them.
    pub envelope_uploads_at_once: usize,
    /// Digits of an envelope's seal (6 to 10; 8 by default).
    pub envelope_seal_digits: u8,
    /// How long notarized envelopes are kept, in days (at least 365; ten years by
    /// default).
    pub archive_retention_days: i64,
    /// PDFs up to this size get a PAdES signature too (a PDF is read whole to be signed).
    pub pdf_bytes_max: u64,
    /// Days a certified delivery's recipients have to answer unless the sender says
    /// otherwise (1 to 90; 15 by default).
    pub delivery_deadline_days: u32,
    /// Days before the deadline a recipient who has not answered is reminded (0: never;
    /// 3 by default).
    pub delivery_reminder_days: u32,
    /// Recipients one delivery may name (1 to 500; 100 by default).
    pub delivery_recipients_max: usize,
    /// How long sessions, unpaid checkouts, messages' bodies and records, webhooks and
    /// idempotency keys are kept after they ended (`[retention]`, in days).
    pub retention: sceau_domain::retention::Retention,
}

/// OpenSSL's example TSA policy (`tsa_policy1` in its configuration).
pub const TSA_POLICY_EXAMPLE: &str = "1.2.3.4.1";

impl Config {
    /// Whether `serve` terminates TLS itself.
    pub fn tls(&self) -> bool {
        self.tls_certificate.is_some()
    }

    /// The e-mail routes `serve` opens: those configured; when none is, and the SMS go to
    /// the development phone (development), the development mailbox.
    pub fn effective_email_routes(&self) -> Vec<sceau_channel::config::EmailRouteConfig> {
        if self.email_routes.is_empty() && self.dev_phone_route() {
            vec![sceau_channel::config::EmailRouteConfig::dev_mailbox()]
        } else {
            self.email_routes.clone()
        }
    }

    /// Whether the development phone is one of the SMS routes (it is when none is named).
    pub fn dev_phone_route(&self) -> bool {
        self.sms_routes.is_empty()
            || self
                .sms_routes
                .iter()
                .any(|route| route.kind == sceau_channel::config::SmsKind::DevPhone)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: "sceau-data/sceau.db".into(),
            postgres_write_lanes: 2,
            postgres_read_connections: 8,
            master_key_file: PathBuf::from("sceau-data/master.key"),
            admin_token_file: PathBuf::from("sceau-data/admin.token"),
            bin_range: "499999".into(),
            number_validity_s: sceau_domain::limits::NUMBER_VALIDITY_S_DEFAULT,
            hold_ttl_s: sceau_domain::limits::HOLD_TTL_S_DEFAULT,
            issuer_name: "sceau".into(),
            issuer_iban: None,
            issuer_bic: None,
            sms_routes: Vec::new(),
            email_routes: Vec::new(),
            secure_cookies: false,
            tls_certificate: None,
            tls_key: None,
            public_url: None,
            metrics_listen: None,
            numbers_per_hour_max: 20,
            checkout_numbers_per_hour_max: 5,
            phone_simulator: true,
            seal_digits: sceau_domain::seal::SEAL_DIGITS_DEFAULT,
            seal_validity_s: sceau_domain::seal::SEAL_VALIDITY_S_DEFAULT,
            checkout_validity_s: 15 * 60,
            client_held_checkouts_max: sceau_domain::seal::CLIENT_HELD_CHECKOUTS_MAX as u32,
            client_seals_per_hour_max: sceau_domain::seal::CLIENT_SEALS_PER_HOUR_MAX as u32,
            client_sms_per_hour_max: sceau_domain::reach::CLIENT_MESSAGES_PER_HOUR_MAX,
            merchant_clients_per_hour_max: sceau_domain::reach::MERCHANT_CLIENTS_PER_HOUR_MAX,
            webhooks_to_private_networks: false,
            keystore: "file".into(),
            keys_directory: PathBuf::from("sceau-data/keys"),
            pkcs11_module: None,
            pkcs11_token: None,
            pki_directory: PathBuf::from("sceau-data/pki"),
            tsa_policy: TSA_POLICY_EXAMPLE.into(),
            log_origin: "localhost/sceau-log".into(),
            archive_directory: PathBuf::from("sceau-data/archive"),
            envelope_files_max: sceau_domain::envelope::FILES_MAX_DEFAULT,
            envelope_uploads_at_once: sceau_app::signing::FILE_UPLOADS_MAX_DEFAULT,
            envelope_file_bytes_max: sceau_domain::envelope::FILE_BYTES_MAX_DEFAULT,
            envelope_bytes_max: sceau_domain::envelope::ENVELOPE_BYTES_MAX_DEFAULT,
            envelope_seal_digits: sceau_app::notary::ENVELOPE_SEAL_DIGITS_DEFAULT,
            archive_retention_days: 3_652,
            pdf_bytes_max: sceau_app::notary::PDF_BYTES_MAX_DEFAULT,
            delivery_deadline_days: sceau_domain::delivery::DEADLINE_DAYS_DEFAULT,
            delivery_reminder_days: 3,
            delivery_recipients_max: sceau_domain::delivery::RECIPIENTS_MAX_DEFAULT,
            retention: Default::default(),
        }
    }
}

/// What the command line sets (`--listen`, `--database`): applied over the file and the
/// environment, before the configuration is checked.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
}

impl Overrides {
    fn apply(self, config: &mut Config) {
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(database) = self.database {
            config.database = database;
        }
    }
}

/// Where the data lives, as read from [`Config::database`].
pub enum Database<'a> {
    Sqlite(&'a Path),
    Postgres(&'a str),
}

impl Config {
    pub fn database(&self) -> Database<'_> {
        let value = self.database.as_str();
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Database::Postgres(value)
        } else {
            Database::Sqlite(Path::new(value))
        }
    }

    /// The database as it may be shown: a URL's password is masked.
    pub fn database_for_display(&self) -> String {
        match self.database() {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => mask_password(url),
        }
    }

    /// The configuration from every source, merged in order (defaults, the file, the
    /// environment, then the command line's `overrides`), and only then checked: a rule
    /// such as "the phone simulator only on loopback" holds whichever source set what.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_environment()?;
        overrides.apply(&mut config);
        config.check()?;
        Ok(config)
    }

    fn apply_environment(&mut self) -> anyhow::Result<()> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(value) = var("SCEAU_LISTEN") {
            self.listen = value.parse().context("SCEAU_LISTEN")?;
        }
        if let Some(value) = var("SCEAU_TLS_CERTIFICATE") {
            self.tls_certificate = Some(value.into());
        }
        if let Some(value) = var("SCEAU_TLS_KEY") {
            self.tls_key = Some(value.into());
        }
        let retention = &mut self.retention;
        for (name, days) in [
            (
                "SCEAU_RETENTION_SESSIONS_DAYS",
                &mut retention.sessions_days,
            ),
            (
                "SCEAU_RETENTION_UNPAID_CHECKOUTS_DAYS",
                &mut retention.unpaid_checkouts_days,
            ),
            (
                "SCEAU_RETENTION_MESSAGE_BODIES_DAYS",
                &mut retention.message_bodies_days,
            ),
            (
                "SCEAU_RETENTION_MESSAGES_DAYS",
                &mut retention.messages_days,
            ),
            (
                "SCEAU_RETENTION_WEBHOOKS_DAYS",
                &mut retention.webhooks_days,
            ),
            (
                "SCEAU_RETENTION_IDEMPOTENCY_DAYS",
                &mut retention.idempotency_days,
            ),
        ] {
            if let Some(value) = var(name) {
                *days = value.parse().context(name)?;
            }
        }
        if let Some(value) = var("SCEAU_METRICS_LISTEN") {
            self.metrics_listen = Some(value.parse().context("SCEAU_METRICS_LISTEN")?);
        }
        if let Some(value) = var("SCEAU_DATABASE") {
            self.database = value;
        }
        if let Some(value) = var("SCEAU_POSTGRES_WRITE_LANES") {
            self.postgres_write_lanes = value.parse().context("SCEAU_POSTGRES_WRITE_LANES")?;
        }
        if let Some(value) = var("SCEAU_POSTGRES_READ_CONNECTIONS") {
            self.postgres_read_connections =
                value.parse().context("SCEAU_POSTGRES_READ_CONNECTIONS")?;
        }
        if let Some(value) = var("SCEAU_MASTER_KEY_FILE") {
            self.master_key_file = value.into();
        }
        if let Some(value) = var("SCEAU_ADMIN_TOKEN_FILE") {
            self.admin_token_file = value.into();
        }
        if let Some(value) = var("SCEAU_BIN_RANGE") {
            self.bin_range = value;
        }
        if let Some(value) = var("SCEAU_NUMBER_VALIDITY_S") {
            self.number_validity_s = value.parse().context("SCEAU_NUMBER_VALIDITY_S")?;
        }
        if let Some(value) = var("SCEAU_HOLD_TTL_S") {
            self.hold_ttl_s = value.parse().context("SCEAU_HOLD_TTL_S")?;
        }
        if let Some(value) = var("SCEAU_ISSUER_NAME") {
            self.issuer_name = value;
        }
        if let Some(value) = var("SCEAU_ISSUER_IBAN") {
            self.issuer_iban = Some(value);
        }
        if let Some(value) = var("SCEAU_ISSUER_BIC") {
            self.issuer_bic = Some(value);
        }
        if let Some(value) = var("SCEAU_NUMBERS_PER_HOUR_MAX") {
            self.numbers_per_hour_max = value.parse().context("SCEAU_NUMBERS_PER_HOUR_MAX")?;
        }
        if let Some(value) = var("SCEAU_CHECKOUT_NUMBERS_PER_HOUR_MAX") {
            self.checkout_numbers_per_hour_max = value
                .parse()
                .context("SCEAU_CHECKOUT_NUMBERS_PER_HOUR_MAX")?;
        }
        if let Some(value) = var("SCEAU_SEAL_DIGITS") {
            self.seal_digits = value.parse().context("SCEAU_SEAL_DIGITS")?;
        }
        if let Some(value) = var("SCEAU_SEAL_VALIDITY_S") {
            self.seal_validity_s = value.parse().context("SCEAU_SEAL_VALIDITY_S")?;
        }
        if let Some(value) = var("SCEAU_CHECKOUT_VALIDITY_S") {
            self.checkout_validity_s = value.parse().context("SCEAU_CHECKOUT_VALIDITY_S")?;
        }
        if let Some(value) = var("SCEAU_CLIENT_HELD_CHECKOUTS_MAX") {
            self.client_held_checkouts_max =
                value.parse().context("SCEAU_CLIENT_HELD_CHECKOUTS_MAX")?;
        }
        if let Some(value) = var("SCEAU_CLIENT_SEALS_PER_HOUR_MAX") {
            self.client_seals_per_hour_max =
                value.parse().context("SCEAU_CLIENT_SEALS_PER_HOUR_MAX")?;
        }
        if let Some(value) = var("SCEAU_CLIENT_SMS_PER_HOUR_MAX") {
            self.client_sms_per_hour_max =
                value.parse().context("SCEAU_CLIENT_SMS_PER_HOUR_MAX")?;
        }
        if let Some(value) = var("SCEAU_MERCHANT_CLIENTS_PER_HOUR_MAX") {
            self.merchant_clients_per_hour_max = value
                .parse()
                .context("SCEAU_MERCHANT_CLIENTS_PER_HOUR_MAX")?;
        }
        if let Some(value) = var("SCEAU_WEBHOOKS_TO_PRIVATE_NETWORKS") {
            self.webhooks_to_private_networks = value
                .parse()
                .context("SCEAU_WEBHOOKS_TO_PRIVATE_NETWORKS")?;
        }
        if let Some(value) = var("SCEAU_KEYSTORE") {
            self.keystore = value;
        }
        if let Some(value) = var("SCEAU_KEYS_DIRECTORY") {
            self.keys_directory = PathBuf::from(value);
        }
        if let Some(value) = var("SCEAU_PKCS11_MODULE") {
            self.pkcs11_module = Some(PathBuf::from(value));
        }
        if let Some(value) = var("SCEAU_PKCS11_TOKEN") {
            self.pkcs11_token = Some(value);
        }
        if let Some(value) = var("SCEAU_PKI_DIRECTORY") {
            self.pki_directory = PathBuf::from(value);
        }
        if let Some(value) = var("SCEAU_TSA_POLICY") {
            self.tsa_policy = value;
        }
        if let Some(value) = var("SCEAU_LOG_ORIGIN") {
            self.log_origin = value;
        }
        if let Some(value) = var("SCEAU_PHONE_SIMULATOR") {
            self.phone_simulator = value.parse().context("SCEAU_PHONE_SIMULATOR")?;
        }
        if let Some(value) = var("SCEAU_ARCHIVE_DIRECTORY") {
            self.archive_directory = PathBuf::from(value);
        }
        if let Some(value) = var("SCEAU_ENVELOPE_UPLOADS_AT_ONCE") {
            self.envelope_uploads_at_once =
                value.parse().context("SCEAU_ENVELOPE_UPLOADS_AT_ONCE")?;
        }
        if let Some(value) = var("SCEAU_DELIVERY_DEADLINE_DAYS") {
            self.delivery_deadline_days = value.parse().context("SCEAU_DELIVERY_DEADLINE_DAYS")?;
        }
        if let Some(value) = var("SCEAU_DELIVERY_REMINDER_DAYS") {
            self.delivery_reminder_days = value.parse().context("SCEAU_DELIVERY_REMINDER_DAYS")?;
        }
        if let Some(value) = var("SCEAU_DELIVERY_RECIPIENTS_MAX") {
            self.delivery_recipients_max =
                value.parse().context("SCEAU_DELIVERY_RECIPIENTS_MAX")?;
        }
        if let Some(value) = var("SCEAU_ARCHIVE_RETENTION_DAYS") {
            self.archive_retention_days = value.parse().context("SCEAU_ARCHIVE_RETENTION_DAYS")?;
        }
        if let Some(value) = var("SCEAU_PUBLIC_URL") {
            self.public_url = Some(value);
        }
        if let Some(value) = var("SCEAU_SECURE_COOKIES") {
            self.secure_cookies = value.parse().context("SCEAU_SECURE_COOKIES")?;
        }
        Ok(())
    }

    fn check(&self) -> anyhow::Result<()> {
        self.notary_settings()?;
        self.check_numbers_and_seals()?;
        self.check_phone_simulator()?;
        self.check_limits()?;
        self.check_pki_and_log()?;
        self.retention.check()?;
        if self.tls_certificate.is_some() != self.tls_key.is_some() {
            bail!("tls_certificate and tls_key go together: give both, or neither");
        }
        if self.tls()
            && self
                .public_url
                .as_deref()
                .is_some_and(|url| url.to_ascii_lowercase().starts_with("http://"))
        {
            bail!(
                "public_url is http:// but serve speaks HTTPS (tls_certificate): browsers would \
                 send an origin sceau refuses; write https://"
            );
        }
        if self.database.trim().is_empty() {
            bail!("database must be a SQLite file path or a postgres:// URL");
        }
        if self.sms_routes.len() > 1 && self.dev_phone_route() {
            bail!(
                "the development phone cannot be one SMS route among others: it would take \
                 real clients' seals whenever a real route fails, and show them on /phone"
            );
        }
        sceau_channel::config::check_names(
            self.sms_routes
                .iter()
                .map(|route| route.name.as_str())
                .chain(self.email_routes.iter().map(|route| route.name.as_str())),
        )?;
        self.bin_range
            .parse::<sceau_domain::card::BinRange>()
            .map_err(|e| anyhow::anyhow!("bin_range: {e}"))?;
        self.issuer_bank()?;
        Ok(())
    }

    /// The notary's settings, checked.
    pub fn notary_settings(&self) -> anyhow::Result<sceau_app::notary::NotarySettings> {
        let limits = sceau_domain::envelope::EnvelopeLimits::new(
            self.envelope_files_max,
            self.envelope_file_bytes_max,
            self.envelope_bytes_max,
        )
        .map_err(|e| {
            anyhow::anyhow!("envelope_files_max, envelope_file_bytes_max, envelope_bytes_max: {e}")
        })?;
        let seal_digits = sceau_domain::seal::SealDigits::new(self.envelope_seal_digits)
            .map_err(|_| anyhow::anyhow!("envelope_seal_digits must be 6 to 10"))?;
        if !(365..=100 * 366).contains(&self.archive_retention_days) {
            bail!("archive_retention_days must be 365 (one year) to 36600");
        }
        if self.pdf_bytes_max == 0 {
            bail!("pdf_bytes_max must be at least 1");
        }
        Ok(sceau_app::notary::NotarySettings {
            limits,
            seal_digits,
            retention_s: self.archive_retention_days * 86_400,
            pdf_bytes_max: self.pdf_bytes_max,
            delivery: self.delivery_settings()?,
        })
    }

    /// Certified delivery's settings, checked.
    fn delivery_settings(&self) -> anyhow::Result<sceau_app::delivery::DeliverySettings> {
        use sceau_domain::delivery::{
            DEADLINE_DAYS_MAX, DEADLINE_DAYS_MIN, RECIPIENTS_MAX_CEILING,
        };
        if !(DEADLINE_DAYS_MIN..=DEADLINE_DAYS_MAX).contains(&self.delivery_deadline_days) {
            bail!("delivery_deadline_days must be {DEADLINE_DAYS_MIN} to {DEADLINE_DAYS_MAX}");
        }
        if self.delivery_reminder_days >= self.delivery_deadline_days {
            bail!(
                "delivery_reminder_days must be less than delivery_deadline_days (0: no reminder)"
            );
        }
        if !(1..=RECIPIENTS_MAX_CEILING).contains(&self.delivery_recipients_max) {
            bail!("delivery_recipients_max must be 1 to {RECIPIENTS_MAX_CEILING}");
        }
        Ok(sceau_app::delivery::DeliverySettings {
            recipients_max: self.delivery_recipients_max,
            deadline_days_default: self.delivery_deadline_days,
            reminder_days: (self.delivery_reminder_days > 0).then_some(self.delivery_reminder_days),
            ..sceau_app::delivery::DeliverySettings::default()
        })
    }

    /// The lives of numbers, holds and seals, and the seals' length.
    fn check_numbers_and_seals(&self) -> anyhow::Result<()> {
        use sceau_domain::limits::NUMBER_VALIDITY_S_MAX;
        if !(60..=NUMBER_VALIDITY_S_MAX).contains(&self.number_validity_s) {
            bail!("number_validity_s must be 60 to {NUMBER_VALIDITY_S_MAX}");
        }
        if !(60..=90 * 24 * 3600).contains(&self.hold_ttl_s) {
            bail!("hold_ttl_s must be 60 seconds to 90 days");
        }
        if sceau_domain::seal::SealDigits::new(self.seal_digits).is_err() {
            bail!("seal_digits must be 6 to 10");
        }
        if !(60..=sceau_domain::seal::SEAL_VALIDITY_S_MAX).contains(&self.seal_validity_s) {
            bail!("seal_validity_s must be 60 to 600 (a seal never lives more than 10 minutes)");
        }
        Ok(())
    }

    /// The phone simulator shows every text: only where loopback alone reaches it.
    fn check_phone_simulator(&self) -> anyhow::Result<()> {
        if self.phone_simulator && !self.listen.ip().is_loopback() {
            bail!(
                "phone_simulator shows every SMS (seals included) to whoever reaches /phone: \
                 it is allowed only with a loopback listen address; set phone_simulator = false"
            );
        }
        if let Some(public_url) = &self.public_url {
            let parsed = url::Url::parse(public_url)
                .ok()
                .filter(|parsed| matches!(parsed.scheme(), "http" | "https"));
            let Some(parsed) = parsed.filter(|parsed| parsed.host().is_some()) else {
                bail!(
                    "public_url must be an http:// or https:// address, such as https://pay.example"
                );
            };
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            // The server answers to its public address: a proxy in front would carry
            // /phone to whoever reaches that address.
            if self.phone_simulator && !loopback {
                bail!(
                    "phone_simulator shows every SMS (seals included) to whoever reaches /phone: \
                     it is allowed only with a loopback public_url; set phone_simulator = false"
                );
            }
        }
        Ok(())
    }

    /// The checkouts' life, the per-hour budgets and the PostgreSQL pools.
    fn check_limits(&self) -> anyhow::Result<()> {
        if !(60..=3600).contains(&self.checkout_validity_s) {
            bail!("checkout_validity_s must be 60 to 3600");
        }
        if !(1..=100_000).contains(&self.client_held_checkouts_max)
            || !(1..=100_000).contains(&self.client_seals_per_hour_max)
        {
            bail!("client_held_checkouts_max and client_seals_per_hour_max must be 1 to 100000");
        }
        if self.numbers_per_hour_max == 0 || self.checkout_numbers_per_hour_max == 0 {
            bail!("numbers_per_hour_max and checkout_numbers_per_hour_max must be at least 1");
        }
        if self.client_sms_per_hour_max <= self.client_seals_per_hour_max
            || self.client_sms_per_hour_max > 1_000_000
        {
            bail!(
                "client_sms_per_hour_max must be more than client_seals_per_hour_max (what is \
                 left is what merchants' numbers may use) and at most 1000000"
            );
        }
        if !(1..=1_000_000).contains(&self.merchant_clients_per_hour_max) {
            bail!("merchant_clients_per_hour_max must be 1 to 1000000");
        }
        if !(1..=64).contains(&self.postgres_write_lanes)
            || !(1..=256).contains(&self.postgres_read_connections)
        {
            bail!("postgres_write_lanes must be 1 to 64 and postgres_read_connections 1 to 256");
        }
        if !(1..=4_096).contains(&self.envelope_uploads_at_once) {
            bail!("envelope_uploads_at_once must be 1 to 4096");
        }
        Ok(())
    }

    /// The TSA's policy, the log's origin and where the keys live.
    fn check_pki_and_log(&self) -> anyhow::Result<()> {
        if self
            .tsa_policy
            .parse::<sceau_pki::ObjectIdentifier>()
            .is_err()
        {
            bail!("tsa_policy must be an OID in dotted form, such as 1.3.6.1.4.1.99999.1");
        }
        // C2SP: a key name is printable ASCII without spaces or '+'.
        if self.log_origin.is_empty()
            || self.log_origin.len() > 200
            || !self
                .log_origin
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'+')
        {
            bail!(
                "log_origin must be printable ASCII without spaces or '+', such as pay.example/log"
            );
        }
        match self.keystore.as_str() {
            "file" => {}
            "pkcs11" if self.pkcs11_module.is_some() && self.pkcs11_token.is_some() => {}
            "pkcs11" => bail!("keystore = \"pkcs11\" needs pkcs11_module and pkcs11_token"),
            _ => bail!("keystore must be \"file\" or \"pkcs11\""),
        }
        Ok(())
    }

    /// The issuer's account from `issuer_iban` and `issuer_bic`: both or neither.
    pub fn issuer_bank(&self) -> anyhow::Result<Option<sceau_store::BankDetails>> {
        match (&self.issuer_iban, &self.issuer_bic) {
            (Some(iban), Some(bic)) => Ok(Some(sceau_store::BankDetails {
                iban: iban
                    .parse()
                    .map_err(|e| anyhow::anyhow!("issuer_iban: {e}"))?,
                bic: bic
                    .parse()
                    .map_err(|e| anyhow::anyhow!("issuer_bic: {e}"))?,
            })),
            (None, None) => Ok(None),
            _ => bail!("issuer_iban and issuer_bic are set together"),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`. The credentials end
/// at the last `@`, so a password with `/`, `?` or `@` in it is masked whole too.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {

    /// Each TOML block of the README, as a reader would copy it into a configuration file.
    fn readme_toml_blocks() -> Vec<String> {
        let readme = include_str!("../../../README.md");
        let mut blocks = Vec::new();
        let mut rest = readme;
        while let Some(start) = rest.find("```toml\n") {
            let body = &rest[start + "```toml\n".len()..];
            let end = body.find("```").expect("a closed block");
            blocks.push(body[..end].to_owned());
            rest = &body[end..];
        }
        blocks
    }

    #[test]
    fn the_readme_s_route_configurations_are_accepted_as_written() {
        let blocks = readme_toml_blocks();
        assert!(blocks.len() >= 3, "the README's route examples are gone");
        let mut sms = 0;
        let mut email = 0;
        for block in blocks {
            let config: Config = toml::from_str(&block)
                .unwrap_or_else(|error| panic!("README block refused: {error}\n{block}"));
            config
                .check()
                .unwrap_or_else(|error| panic!("{error}\n{block}"));
            sms += config.sms_routes.len();
            email += config.email_routes.len();
        }
        assert!(
            sms >= 4 && email >= 1,
            "{sms} SMS routes, {email} e-mail routes"
        );
    }
    use super::*;

    #[test]
    fn file_keys_are_checked() {
        let ok: Result<Config, _> =
            toml::from_str("listen = \"127.0.0.1:9000\"\nbin_range = \"4000001\"");
        assert!(ok.is_ok_and(|c| c.listen.port() == 9000 && c.bin_range == "4000001"));
        let unknown: Result<Config, _> = toml::from_str("listn = \"127.0.0.1:9000\"");
        assert!(unknown.is_err());
        let bad = Config {
            number_validity_s: 100_000,
            ..Config::default()
        };
        assert!(bad.check().is_err());
        let bad_bin = Config {
            bin_range: "12".into(),
            ..Config::default()
        };
        assert!(bad_bin.check().is_err());
        assert!(Config::default().check().is_ok());
    }

    /// The budget of messages is read from the file, and must leave room beside the
    /// seals (what is left is what merchants' numbers may use).
    #[test]
    fn the_budget_of_messages_exceeds_the_seals() {
        let read: Result<Config, _> =
            toml::from_str("client_sms_per_hour_max = 40\nmerchant_clients_per_hour_max = 7");
        assert!(read.is_ok_and(|config| {
            (
                config.client_sms_per_hour_max,
                config.merchant_clients_per_hour_max,
            ) == (40, 7)
                && config.check().is_ok()
        }));
        let budget = |total, seals| Config {
            client_sms_per_hour_max: total,
            client_seals_per_hour_max: seals,
            ..Config::default()
        };
        assert!(budget(10, 10).check().is_err());
        assert!(budget(11, 10).check().is_ok());
        assert!(budget(2_000_000, 10).check().is_err());
        let reach = Config {
            merchant_clients_per_hour_max: 0,
            ..Config::default()
        };
        assert!(reach.check().is_err());
    }

    #[test]
    fn the_phone_simulator_is_refused_on_an_address_others_can_reach() {
        let exposed = |phone_simulator| Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            phone_simulator,
            ..Config::default()
        };
        assert!(exposed(true).check().is_err());
        assert!(exposed(false).check().is_ok());
        let proxied = |phone_simulator, public_url: &str| Config {
            public_url: Some(public_url.to_owned()),
            phone_simulator,
            ..Config::default()
        };
        assert!(proxied(true, "https://pay.example").check().is_err());
        assert!(proxied(false, "https://pay.example").check().is_ok());
        assert!(proxied(true, "http://localhost:8080").check().is_ok());
        assert!(proxied(true, "http://127.0.0.1:8080").check().is_ok());
        assert!(proxied(false, "pay.example").check().is_err());
        let seals = |digits, validity_s| Config {
            seal_digits: digits,
            seal_validity_s: validity_s,
            ..Config::default()
        };
        assert!(seals(6, 600).check().is_ok());
        assert!(seals(5, 300).check().is_err());
        assert!(seals(11, 300).check().is_err());
        assert!(
            seals(8, 601).check().is_err(),
            "a seal never lives over 10 minutes"
        );
    }

    #[test]
    fn the_issuer_account_is_both_keys_or_none_and_checked() {
        let with = |iban: Option<&str>, bic: Option<&str>| Config {
            issuer_iban: iban.map(str::to_owned),
            issuer_bic: bic.map(str::to_owned),
            ..Config::default()
        };
        assert!(matches!(Config::default().issuer_bank(), Ok(None)));
        let bank = with(Some("FR76 3000 6000 0112 3456 7890 189"), Some("agrifrpp"))
            .issuer_bank()
            .ok()
            .flatten()
            .map(|bank| (bank.iban.to_string(), bank.bic.to_string()));
        assert_eq!(
            bank,
            Some(("FR7630006000011234567890189".into(), "AGRIFRPP".into()))
        );
        assert!(
            with(Some("FR7630006000011234567890189"), None)
                .check()
                .is_err()
        );
        assert!(
            with(Some("FR7630006000011234567890188"), Some("AGRIFRPP"))
                .check()
                .is_err()
        );
        assert!(
            with(Some("FR7630006000011234567890189"), Some("AGRI"))
                .check()
                .is_err()
        );
        let from_file: Result<Config, _> = toml::from_str(
            "issuer_iban = \"FR7630006000011234567890189\"\nissuer_bic = \"AGRIFRPP\"",
        );
        assert!(from_file.is_ok_and(|c| c.issuer_bank().is_ok_and(|bank| bank.is_some())));
    }

    #[test]
    fn a_database_url_selects_postgres_and_its_password_is_never_shown() {
        let config = Config {
            database: "postgres://sceau:s3cret@db.example:5432/sceau?sslmode=disable".into(),
            ..Config::default()
        };
        assert!(matches!(config.database(), Database::Postgres(_)));
        let shown = config.database_for_display();
        assert_eq!(
            shown,
            "postgres://sceau:***@db.example:5432/sceau?sslmode=disable"
        );
        assert!(matches!(Config::default().database(), Database::Sqlite(_)));
        assert_eq!(mask_password("postgresql://u@h/d"), "postgresql://u@h/d");
        assert_eq!(
            mask_password("postgres://u:pa/ss?w@rd@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
    }

    /// Routes of the three kinds as an operator writes them, their secrets in files.
    fn routes_file(directory: &Path) -> String {
        let secret = |name: &str, value: &str| {
            let path = directory.join(name);
            std::fs::write(&path, format!("{value}\n")).unwrap();
            format!("{{ file = {:?} }}", path.display().to_string())
        };
        format!(
            r#"
            [[sms_routes]]
            name = "operator"
            kind = "smpp"
            [sms_routes.smpp]
            host = "127.0.0.1"
            port = 9
            system_id = "sceau"
            password = {smsc}
            source_addr = "SCEAU"

            [[sms_routes]]
            name = "backup"
            kind = "http"
            [sms_routes.http]
            url = "https://sms.example/send"
            body = "json"
            fields = {{ to = "{{to}}", text = "{{text}}" }}
            auth = {{ kind = "bearer", secret = {token} }}

            [[email_routes]]
            name = "relay"
            kind = "smtp"
            [email_routes.smtp]
            host = "smtp.bank.example"
            username = "sceau"
            password = {smtp}
            from = {{ name = "Banque", address = "alerts@bank.example" }}
            "#,
            smsc = secret("smsc.password", "s3cr3t-1"),
            token = secret("gateway.token", "s3cr3t-2-gateway"),
            smtp = secret("smtp.password", "s3cr3t-3-smtp"),
        )
    }

    #[tokio::test]
    async fn routes_of_every_kind_are_read_named_and_opened_with_their_secrets() {
        use sceau_channel::config::{EmailKind, SmsKind};
        let directory = tempfile::tempdir().unwrap();
        let text = routes_file(directory.path());
        let config: Config = toml::from_str(&text).unwrap();
        config.check().unwrap();
        let sms: Vec<_> = config
            .sms_routes
            .iter()
            .map(|route| (route.name.as_str(), route.kind))
            .collect();
        assert_eq!(
            sms,
            [("operator", SmsKind::Smpp), ("backup", SmsKind::Http)]
        );
        assert_eq!(config.email_routes[0].kind, EmailKind::Smtp);
        assert!(!config.dev_phone_route());
        let described = crate::describe_routes(&config).join("\n");
        assert!(
            described.contains("operator (SMPP to 127.0.0.1:9"),
            "{described}"
        );
        assert!(
            described.contains("backup (HTTP gateway at sms.example)"),
            "{described}"
        );
        assert!(
            described.contains("relay (SMTP to smtp.bank.example:587)"),
            "{described}"
        );
        assert!(!described.contains("s3cr3t"), "{described}");
        let channels = crate::open_channels(&config).unwrap();
        let opened: Vec<_> = channels.routing.sms.iter().map(|r| r.name()).collect();
        assert_eq!(opened, ["operator", "backup"]);
        assert_eq!(channels.routing.email.iter().count(), 1);
        drop(channels);

        // Names: unique across both media, and fit for an address.
        let renamed = |from: &str, to: &str| {
            let config: Config = toml::from_str(&text.replacen(from, to, 1)).unwrap();
            config.check().map_err(|error| format!("{error:#}"))
        };
        let twice = renamed("name = \"relay\"", "name = \"operator\"").unwrap_err();
        assert!(
            twice.contains("operator") && twice.contains("two routes"),
            "{twice}"
        );
        for bad in [
            "Operator",
            "op erator",
            "",
            "a-name-longer-than-thirty-two-chars",
        ] {
            let refused = renamed("name = \"backup\"", &format!("name = {bad:?}"));
            assert!(refused.is_err_and(|e| e.contains("lowercase")), "{bad:?}");
        }

        // A missing secret stops the start, naming the route and none of the secrets.
        for (file, route) in [
            ("smsc.password", "operator"),
            ("gateway.token", "backup"),
            ("smtp.password", "relay"),
        ] {
            let moved = directory.path().join("moved");
            std::fs::rename(directory.path().join(file), &moved).unwrap();
            let refused = match crate::open_channels(&config) {
                Ok(_) => panic!("opened without {file}"),
                Err(error) => format!("{error:#}"),
            };
            assert!(refused.contains(route), "{file}: {refused}");
            assert!(!refused.contains("s3cr3t"), "{file}: {refused}");
            std::fs::rename(&moved, directory.path().join(file)).unwrap();
        }
    }
}
