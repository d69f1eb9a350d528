//! `sceau admin ...`: the operator's commands, run against the database directly.

use crate::config::Config;
use anyhow::{Context, bail};
use clap::Subcommand;
use sceau_app::clearing::{parse_bank, parse_optional_bank};
use sceau_app::clock::{SystemClock, rfc3339};
use sceau_app::service::ClientEnrolment;
use sceau_domain::{Money, PhoneNumber};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Enrol a client. The password is read from standard input (one line).
    ClientAdd {
        /// The name the client signs in with (unique), e.g. alice.
        #[arg(long)]
        login: String,
        /// The client's full name, as pages and checks show it, e.g. "Alice Martin".
        #[arg(long)]
        name: String,
        /// Phone number in international form (E.164: + then the country code and the
        /// number, digits only), e.g. +33612345678: the client's unique address, where
        /// numbers and seals are sent.
        #[arg(long)]
        phone: String,
        /// An e-mail address (optional), where notices such as "your payments are
        /// paused" also go, e.g. alice@example.org: one bare address, no display name.
        #[arg(long)]
        email: Option<String>,
        /// ISO 4217 currency of the client's account.
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Opening balance, e.g. 250.00.
        #[arg(long, default_value = "0")]
        opening_balance: String,
        /// Credit limit: how far below zero the balance may go.
        #[arg(long, default_value = "0")]
        credit_limit: String,
    },
    /// List clients with their balances.
    ClientList,
    /// Block a client: their numbers decline with "blocked".
    ClientBlock {
        /// The client's id (see client-list).
        id: i64,
    },
    /// Lift a client's block.
    ClientUnblock {
        /// The client's id (see client-list).
        id: i64,
    },
    /// Have a client's seals, numbers and codes read out in phone calls (on the routes
    /// that place calls first, by SMS when none takes them), or sent by SMS again. Made
    /// by the operator once the client asked and was checked: a call can be forwarded or
    /// reach voicemail, so a password alone must not switch a client to calls.
    ClientCalls {
        /// The client's id (see client-list).
        id: i64,
        /// `on`: by phone call; `off`: by SMS.
        #[arg(value_parser = ["on", "off"])]
        calls: String,
    },
    /// Enrol a merchant and print its API key (shown this once; only its hash is kept).
    MerchantAdd {
        /// The merchant's name, as clients see it on checks and texts.
        #[arg(long)]
        name: String,
        /// The account the merchant's settlement balances are paid out to (with --bic).
        #[arg(long, requires = "bic")]
        iban: Option<String>,
        /// The BIC of the merchant's bank (with --iban).
        #[arg(long, requires = "iban")]
        bic: Option<String>,
    },
    /// List merchants.
    MerchantList,
    /// Add an operator of the console (/admin): its password is read on standard input,
    /// one line, e.g. printf '%s\n' 'a long password' | sceau admin operator-add --login ops.
    OperatorAdd {
        /// The login the operator signs in with: a-z, 0-9, '.', '_', '-', starting with a
        /// letter (it names them in the evidence of their actions).
        #[arg(long)]
        login: String,
    },
    /// List the operators of the console: number, login, state (active, disabled, or
    /// sign-in paused until when), when added. Never a password's hash.
    OperatorList,
    /// Set an operator's password (read on standard input), lift a pause of their sign-in
    /// after wrong passwords, and end their open sessions.
    OperatorPassword {
        /// The operator's login.
        #[arg(long)]
        login: String,
    },
    /// Disable an operator (their sessions end; they cannot sign in), or enable them again
    /// with --enable. Accounts are never deleted: their actions' evidence names them.
    OperatorDisable {
        /// The operator's login.
        #[arg(long)]
        login: String,
        /// Enable the operator again instead.
        #[arg(long)]
        enable: bool,
    },
    /// Rotate a merchant's webhook secret (as the merchant can, with POST
    /// /v1/webhook-secret): a new secret signs from now on; the one in use also signs
    /// for the overlap, so that the merchant's servers can move over. Prints the new one.
    MerchantWebhookSecret {
        /// The merchant's id (see merchant-list).
        id: i64,
        /// Seconds the secret in use still signs beside the new one (0 to 604800, a week).
        #[arg(long, default_value_t = 86_400)]
        overlap_s: i64,
    },
    /// Set the account a merchant's settlement balances are paid out to.
    MerchantBank {
        /// The merchant's id (see merchant-list).
        id: i64,
        /// The account's IBAN.
        #[arg(long)]
        iban: String,
        /// The BIC of the account's bank.
        #[arg(long)]
        bic: String,
    },
    /// Close a clearing batch: pay every merchant's settlement balance in the currency out
    /// to its bank, and write the settlement file (ISO 20022 pain.001.001.03).
    ClearingClose {
        /// The currency of the balances paid out (ISO 4217).
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Where to write the settlement file.
        #[arg(long)]
        out: PathBuf,
    },
    /// List clearing batches, newest first.
    ClearingList,
    /// Write a closed batch's settlement file again, exactly as it was first written.
    ClearingFile {
        /// The batch's id (see clearing-list).
        id: i64,
        /// Where to write the settlement file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Show the messages the development channel delivered to a phone (newest first).
    Outbox {
        /// The phone number, in international form, e.g. +33612345678.
        #[arg(long)]
        phone: String,
        /// Most messages shown.
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Record a bounce: the delivery status notification a mail server sent back for an
    /// e-mail of sceau's, read from standard input (as a mail system's alias pipes it:
    /// "|sceau admin bounce"). A permanent failure (Action: failed, Status: 5.x.x) fails
    /// the message it returns; a certified delivery's notice fails its recipient and the
    /// sender is told. Anything else is reported and left alone (exit 0).
    Bounce,
    /// The second channel's messages, newest first: state, route, tries, parts and times
    /// (addresses masked, never a body), after the last day's counts by route and state.
    Messages {
        /// Show messages older than this message id (to page back).
        #[arg(long)]
        before: Option<i64>,
        /// Most messages shown (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Send a test message through the configured routes, directly (not through the
    /// outbox): to a phone number on each SMS route in order, or to an e-mail address on
    /// each e-mail route. Prints what each route answered (the provider's ids, or its
    /// refusal and, for an SMPP route that could not bind, why); fails unless one route
    /// accepted the message. Reads the routes from the configuration file (--config) as
    /// `sceau serve` does; needs no database.
    ChannelTest {
        /// A phone number in international form (E.164, e.g. +33612345678) or an e-mail
        /// address (e.g. ops@bank.example).
        #[arg(long)]
        to: String,
        /// Only this route (its `name` in the configuration).
        #[arg(long)]
        route: Option<String>,
        /// Seconds each route may take to connect (an SMPP bind) and answer, 1 to 120;
        /// with --wait-receipt, also the longest wait for the receipts.
        #[arg(long, default_value_t = 10)]
        wait_s: u64,
        /// After an SMS route accepted the message, wait (up to --wait-s) for the delivery
        /// receipts of all its parts and print delivered, failed (with the receipt's
        /// status) or no receipt in time; fail unless one route's receipts said
        /// delivered. Only SMPP routes report receipts to this command; a receipt the SMSC
        /// gives to another bind of the same account (a running server's) is not seen.
        #[arg(long)]
        wait_receipt: bool,
    },
    /// Recompute the ledger's invariants and report any broken rule.
    LedgerCheck,
    /// List a client's certificates (serial, kind, validity, revocation).
    CertificateList {
        /// The client's id (see client-list).
        #[arg(long)]
        client: i64,
    },
    /// Write a certificate (PEM) to a file.
    CertificateShow {
        /// The certificate's serial number, as certificate-list prints it.
        serial: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a client a new certificate with their phone sealed in it, for a new key (a
    /// client enrolled before the server had its certificate authority, or whose
    /// certificate expired or was revoked).
    CertificateIssue {
        /// The client's id (see client-list).
        #[arg(long)]
        client: i64,
    },
    /// Issue a client's second certificate: no phone number, naming their first.
    CertificatePseudonym {
        /// The client's id (see client-list).
        #[arg(long)]
        client: i64,
    },
    /// Revoke a certificate; it appears on the list of revoked certificates (CRL) from now
    /// on.
    CertificateRevoke {
        /// The certificate's serial number, as certificate-list prints it.
        serial: String,
        /// unspecified, key-compromise, affiliation-changed, superseded or
        /// cessation-of-operation.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Reveal the phone number sealed in a client's certificate, with the authority's
    /// escrow key (the act is logged; the number is printed here only).
    CertificateRevealPhone {
        /// The certificate's serial number, as certificate-list prints it.
        serial: String,
    },
    /// List the notarized envelopes past their retention (`archive_retention_days`);
    /// with --delete, delete their archived content (the files, signed PDFs and
    /// container; content another envelope still keeps stays), each deletion an
    /// `envelope.deleted` evidence record. Their records and signatures stay, and their
    /// downloads answer 410 archive_deleted. Envelopes left unfinished a day past their
    /// station certificate or seal expire first (an `envelope.expired` record each), and
    /// what envelopes never notarized left is deleted too. With the embedded archive (SQLite, files
    /// under `archive_directory`), a deletion and a put of the same content take turns on
    /// a lock held within one process: run --delete only while no `sceau serve` uses the
    /// same data (stop it first). On PostgreSQL, any time.
    ArchiveExpired {
        /// Delete their archived content (without it, only list them).
        #[arg(long)]
        delete: bool,
        /// Envelopes handled at most, oldest retention first.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Write the issuing authority's current list of revoked certificates (CRL, DER) to a
    /// file.
    Crl {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Back up the embedded default while the server runs: a consistent copy of the
    /// SQLite database, the key directory, the PKI and the notary's archive, with an
    /// authenticated manifest. The master key is not copied: keep it apart.
    Backup {
        /// The directory to create (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a backup against the master key (every file's digest, the manifest's
    /// authentication) and restore it where the configuration points; the database and
    /// the directories must not hold data yet, and the master key must be in place.
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: PathBuf,
    },
}

/// The password on the first line of `input`. Nothing there (no input at all, or an
/// empty line) is its own refusal, `no_password`, rather than a password too short.
fn read_password(mut input: impl BufRead) -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    input
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
    if password.is_empty() {
        bail!(
            "no_password: no password on standard input: give the client's password as \
             one line, e.g. printf '%s\\n' 'a long password' | sceau admin client-add …"
        );
    }
    Ok(password)
}

pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    if let AdminCommand::ChannelTest {
        to,
        route,
        wait_s,
        wait_receipt,
    } = &command
    {
        let request = crate::channel_test::Request {
            to,
            route: route.as_deref(),
            wait_s: *wait_s,
            wait_receipt: *wait_receipt,
        };
        return crate::channel_test::run(&config, &request).await;
    }
    match &command {
        AdminCommand::Backup { out } => {
            let keys = crate::existing_keys(&config)?;
            let summary = crate::backup::backup(&config, &keys, out)?;
            say!(
                "backup written to {}: {} files, {} bytes, schema {} (the master key is not \
                 in it: keep {} apart)",
                out.display(),
                summary.files,
                summary.bytes,
                summary.schema_version,
                config.master_key_file.display()
            );
            return Ok(());
        }
        AdminCommand::Restore { from } => {
            // The key must be brought back first: a new one would open nothing.
            let keys = crate::existing_keys(&config)?;
            let summary = crate::backup::restore(&config, &keys, from)?;
            say!(
                "restored from {}: {} files, {} bytes, schema {}; start sceau serve",
                from.display(),
                summary.files,
                summary.bytes,
                summary.schema_version
            );
            return Ok(());
        }
        _ => {}
    }
    let service = crate::open_service(&config, Arc::new(SystemClock)).await?;
    let store = &service.store;
    match command {
        AdminCommand::ClientAdd {
            login,
            name,
            phone,
            email,
            currency,
            opening_balance,
            credit_limit,
        } => {
            let password = read_password(std::io::stdin().lock())?;
            let client = service
                .enroll_client(ClientEnrolment {
                    login,
                    display_name: name,
                    password,
                    phone,
                    email,
                    currency,
                    opening_balance,
                    credit_limit,
                })
                .await?;
            say!(
                "client {} enrolled: login {}, phone {}, account {}",
                client.id,
                client.login,
                client.phone.masked(),
                client.account_id
            );
        }
        AdminCommand::ClientList => {
            say!(
                "{:>5}  {:<16} {:<24} {:<14} {:>16} {:>14}  {:<7}  phone by",
                "id",
                "login",
                "name",
                "phone",
                "balance",
                "held",
                "blocked"
            );
            for client in store.clients(10_000).await? {
                let account = store
                    .account(client.account_id)
                    .await?
                    .context("client without account")?;
                let money = |minor| Money::new(minor, account.currency).to_string();
                say!(
                    "{:>5}  {:<16} {:<24} {:<14} {:>16} {:>14}  {:<7}  {}",
                    client.id,
                    client.login,
                    client.display_name,
                    client.phone.masked(),
                    money(account.balance),
                    money(account.held),
                    if client.blocked { "yes" } else { "no" },
                    if client.by_call { "call" } else { "sms" }
                );
            }
        }
        AdminCommand::ClientCalls { id, calls } => {
            let on = calls == "on";
            if on && !config.sms_routes.iter().any(|route| route.places_calls()) {
                bail!("no configured SMS route places calls (twilio-voice, or call = true)");
            }
            if !store.set_client_by_call(id, on).await? {
                bail!("no client {id}");
            }
            say!(
                "client {id}: seals, numbers and codes {}",
                if on {
                    "read out in phone calls (by SMS when no call route takes them)"
                } else {
                    "by SMS"
                }
            );
        }
        AdminCommand::ClientBlock { id } | AdminCommand::ClientUnblock { id } => {
            let blocked = matches!(command, AdminCommand::ClientBlock { .. });
            service
                .set_client_blocked(id, blocked)
                .await
                .map_err(|error| match error {
                    sceau_app::error::AppError::NotFound => anyhow::anyhow!("no client {id}"),
                    other => other.into(),
                })?;
            say!(
                "client {id} {}",
                if blocked { "blocked" } else { "unblocked" }
            );
        }
        AdminCommand::MerchantAdd { name, iban, bic } => {
            let bank = parse_optional_bank(iban.as_deref(), bic.as_deref())?;
            let enrolled = service.enroll_merchant_paid_to(&name, bank).await?;
            say!(
                "merchant {} enrolled: {}",
                enrolled.merchant.id,
                enrolled.merchant.name
            );
            say!(
                "API key (shown once, keep it secret): {}",
                enrolled.api_key.as_str()
            );
            say!(
                "Webhook secret (checks the Sceau-Signature header): {}",
                enrolled.webhook_secret.as_str()
            );
        }
        AdminCommand::OperatorAdd { login } => {
            let password = read_password(std::io::stdin().lock())?;
            let operator = service.add_operator(&login, password).await?;
            say!(
                "operator {} added: {}; they sign in at /admin/login",
                operator.id,
                operator.login
            );
        }
        AdminCommand::OperatorList => {
            let now_s = service.now_s();
            say!("{:>6}  {:<24} {:<42} added", "number", "login", "state");
            for operator in service.operators().await? {
                let state = if operator.disabled {
                    "disabled".to_owned()
                } else if operator.paused_until_s > now_s {
                    format!("sign-in paused until {}", rfc3339(operator.paused_until_s))
                } else {
                    "active".to_owned()
                };
                say!(
                    "{:>6}  {:<24} {:<42} {}",
                    operator.id,
                    operator.login,
                    state,
                    rfc3339(operator.created_at_s)
                );
            }
        }
        AdminCommand::OperatorPassword { login } => {
            let password = read_password(std::io::stdin().lock())?;
            service
                .reset_operator_password(&login, password)
                .await
                .map_err(|error| no_operator(error, &login))?;
            say!(
                "password of operator {login} set; their sign-in is not paused and their \
                 sessions have ended"
            );
        }
        AdminCommand::OperatorDisable { login, enable } => {
            service
                .set_operator_disabled(&login, !enable)
                .await
                .map_err(|error| no_operator(error, &login))?;
            if enable {
                say!("operator {login} enabled: they may sign in");
            } else {
                say!("operator {login} disabled: their sessions have ended");
            }
        }
        AdminCommand::MerchantWebhookSecret { id, overlap_s } => {
            if store.merchant(id).await?.is_none() {
                bail!("no merchant {id} (see merchant-list)");
            }
            let rotated = service
                .rotate_webhook_secret(id, overlap_s, None, sceau_store::ActedBy::Admin)
                .await?;
            match rotated.previous_until_s {
                Some(until_s) => say!(
                    "webhook secret of merchant {id} rotated; the previous one also signs until {}",
                    sceau_app::clock::date_time(until_s)
                ),
                None => say!("webhook secret of merchant {id} rotated; the previous one has ended"),
            }
            say!(
                "Webhook secret (give it to the merchant, keep it secret): {}",
                rotated.webhook_secret.as_str()
            );
        }
        AdminCommand::MerchantList => {
            for merchant in store.merchants(10_000).await? {
                let bank = merchant.bank.map_or_else(
                    || "(no bank details)".to_owned(),
                    |bank| format!("{} {}", bank.iban.printable(), bank.bic),
                );
                say!("{:>5}  {:<32} {bank}", merchant.id, merchant.name);
            }
        }
        AdminCommand::MerchantBank { id, iban, bic } => {
            let bank = parse_bank(&iban, &bic)?;
            let shown = format!("{} {}", bank.iban.printable(), bank.bic);
            service.set_merchant_bank(id, bank).await?;
            say!("merchant {id} is paid out to {shown}");
        }
        AdminCommand::ClearingClose { currency, out } => {
            clearing_close(&service, &currency, &out).await?;
        }
        AdminCommand::ClearingList => {
            say!(
                "{:>5}  {:<22} {:<20} {:>8} {:>18}",
                "id",
                "message id",
                "created",
                "payouts",
                "total"
            );
            for batch in store.clearing_batches(10_000).await? {
                say!(
                    "{:>5}  {:<22} {:<20} {:>8} {:>18}",
                    batch.id,
                    batch.message_id,
                    rfc3339(batch.created_at_s),
                    batch.payouts_count,
                    Money::new(batch.total, batch.currency).to_string()
                );
            }
        }
        AdminCommand::ClearingFile { id, out } => {
            let file = store
                .settlement_file(id)
                .await?
                .with_context(|| format!("no clearing batch {id}"))?;
            write_file(&out, &file)?;
            say!("settlement file of batch {id} written to {}", out.display());
        }
        AdminCommand::Outbox { phone, limit } => {
            let phone: PhoneNumber = phone.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let messages = service
                .phone_messages(&phone, limit.min(1000))
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            if messages.is_empty() {
                say!("no message to {phone}");
            }
            for (message, text) in messages {
                say!(
                    "[{}] #{} {}\n  {}\n",
                    rfc3339(message.created_at_s),
                    message.id,
                    message.state,
                    text.as_str()
                );
            }
        }
        AdminCommand::Bounce => {
            use std::io::Read;
            let mut mail = Vec::new();
            std::io::stdin()
                .take(sceau_channel::email::bounce::BOUNCE_BYTES_MAX as u64)
                .read_to_end(&mut mail)?;
            let routes: Vec<String> = config
                .effective_email_routes()
                .iter()
                .map(|route| route.name.clone())
                .collect();
            let outcome = service
                .record_bounce(&mail, &routes)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            match outcome {
                sceau_app::messages::BounceOutcome::NotABounce => {
                    say!("not a permanent failure of a message of sceau's: nothing recorded");
                }
                sceau_app::messages::BounceOutcome::Unknown { status } => {
                    say!(
                        "a bounce ({status}) of no message an e-mail route here took: nothing recorded"
                    );
                }
                sceau_app::messages::BounceOutcome::Recorded { messages, status } => {
                    let ids: Vec<String> = messages.iter().map(i64::to_string).collect();
                    say!(
                        "bounce ({status}) recorded: message {} failed",
                        ids.join(", ")
                    );
                }
            }
        }
        AdminCommand::Messages { before, limit } => {
            let overview = service
                .message_overview(before, limit)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            print_messages(&overview);
        }
        AdminCommand::CertificateList { client } => {
            say!(
                "{:<34} {:<11} {:<20} {:<20} revoked",
                "serial",
                "kind",
                "not before",
                "not after"
            );
            for record in service.client_certificates(client).await? {
                let revoked = match (record.revoked_at_s, record.revocation_reason) {
                    (Some(at_s), Some(code)) => format!(
                        "{} ({})",
                        rfc3339(at_s),
                        sceau_pki::ca::RevocationReason::from_code(code)
                            .map_or("unknown", |reason| reason.name())
                    ),
                    _ => "no".to_owned(),
                };
                say!(
                    "{:<34} {:<11} {:<20} {:<20} {revoked}",
                    record.serial,
                    record.kind.as_str(),
                    rfc3339(record.not_before_s),
                    rfc3339(record.not_after_s),
                );
            }
        }
        AdminCommand::CertificateShow { serial, out } => {
            let record = service.certificate(&serial).await?;
            let pem = sceau_pki::Issued::from_der(&record.der)?.to_pem()?;
            write_file(&out, &pem)?;
            say!("certificate {} written to {}", record.serial, out.display());
        }
        AdminCommand::CertificateIssue { client } => {
            let record = service.issue_holder(client).await?;
            say!(
                "certificate {} issued to client {client}, valid until {}",
                record.serial,
                rfc3339(record.not_after_s)
            );
        }
        AdminCommand::CertificatePseudonym { client } => {
            let record = service.issue_pseudonym(client).await?;
            say!(
                "certificate {} issued to client {client}, naming {}",
                record.serial,
                record.names_serial.as_deref().unwrap_or("-")
            );
        }
        AdminCommand::CertificateRevoke { serial, reason } => {
            let reason: sceau_pki::ca::RevocationReason = reason.parse()?;
            let record = service
                .revoke_certificate(&serial, reason, sceau_store::ActedBy::Admin)
                .await?;
            say!(
                "certificate {} revoked at {}",
                record.serial,
                record.revoked_at_s.map(rfc3339).unwrap_or_default()
            );
        }
        AdminCommand::CertificateRevealPhone { serial } => {
            say!("{}", service.reveal_phone(&serial).await?);
        }
        AdminCommand::Crl { out } => {
            let der = service.crl().await?;
            write_bytes(&out, &der)?;
            say!("CRL written to {}", out.display());
        }
        AdminCommand::ArchiveExpired { delete, limit } => {
            let views = service.archive_expired(delete, limit).await?;
            for view in &views {
                say!(
                    "envelope {}  client {:>5}  {} file(s)  notarized {}  retained until {}  {}",
                    view.public_id,
                    view.client_id,
                    view.files.len(),
                    view.notarized_at_s.map(rfc3339).unwrap_or_default(),
                    view.retain_until_s.map(rfc3339).unwrap_or_default(),
                    if delete { "deleted" } else { "past retention" }
                );
            }
            match (views.len(), delete) {
                (0, _) => say!("no envelope is past its retention"),
                (count, true) => say!("{count} envelope(s) deleted"),
                (count, false) => {
                    say!("{count} envelope(s) past retention; --delete deletes their content")
                }
            }
        }
        // Sent above, before the database is opened: it needs none.
        AdminCommand::ChannelTest { .. } => bail!("channel-test needs no database"),
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } => {
            bail!("backup and restore open no service")
        }
        AdminCommand::LedgerCheck => {
            let report = store.check_ledger().await?;
            for (currency, sum) in &report.currency_sums {
                say!("{currency}: sum of balances {sum}");
            }
            for violation in &report.violations {
                say!("VIOLATION {violation}");
            }
            if !report.is_sound() {
                bail!(
                    "the ledger breaks {} rule(s)",
                    report.violations.len().max(1)
                );
            }
            say!("ledger sound");
        }
    }
    Ok(())
}

/// An operator's command's error: "no operator" for a login that is not one.
fn no_operator(error: sceau_app::error::AppError, login: &str) -> anyhow::Error {
    match error {
        sceau_app::error::AppError::NotFound => anyhow::anyhow!("no operator {login:?}"),
        other => other.into(),
    }
}

/// Writes `contents` to `path` (replacing it) and waits until it is on disk.
fn write_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_bytes(path, contents.as_bytes())
}

fn write_bytes(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Closes a batch and writes its settlement file to `out`. The file is created first, so
/// that a path that cannot be written stops the command before any money moves.
async fn clearing_close(
    service: &sceau_app::Service,
    currency: &str,
    out: &Path,
) -> anyhow::Result<()> {
    std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let closed = match service
        .close_clearing_batch(currency, sceau_store::ActedBy::Admin)
        .await
    {
        Ok(closed) => closed,
        Err(error) => {
            let _ = std::fs::remove_file(out);
            return Err(error.into());
        }
    };
    let batch = &closed.batch;
    let money = |minor| Money::new(minor, batch.currency).to_string();
    say!(
        "clearing batch {} closed: {} payout(s), {} in total, message id {}",
        batch.id,
        batch.payouts_count,
        money(batch.total),
        batch.message_id
    );
    for payout in &closed.payouts {
        say!(
            "  merchant {:>5}  {:>18}",
            payout.merchant_id,
            money(payout.amount)
        );
    }
    for skipped in &closed.skipped {
        say!(
            "  merchant {:>5}  {:>18}  not paid: no bank details",
            skipped.merchant_id,
            money(skipped.balance)
        );
    }
    let written = async {
        let file = service
            .store
            .settlement_file(batch.id)
            .await?
            .context("the closed batch has no settlement file")?;
        write_file(out, &file)
    };
    written.await.with_context(|| {
        format!(
            "batch {} is closed and paid, but its file was not written; write it again with \
             `sceau admin clearing-file {} --out FILE`",
            batch.id, batch.id
        )
    })?;
    say!("settlement file written to {}", out.display());
    Ok(())
}

/// The outbox's counts, then its messages, one line each.
fn print_messages(overview: &sceau_app::messages::MessageOverview) {
    say!("last 24 hours, by route and state:");
    if overview.counts.is_empty() {
        say!("  no message");
    }
    for count in &overview.counts {
        say!(
            "  {:<20} {:<10} {}",
            count.route.as_deref().unwrap_or("(no route yet)"),
            count.state,
            count.count
        );
    }
    say!(
        "\n{:>8} {:<6} {:<16} {:<18} {:<10} {:<16} {:>5} {:>5}  {:<20} last error",
        "id",
        "medium",
        "kind",
        "to",
        "state",
        "route",
        "tries",
        "parts",
        "created"
    );
    for message in &overview.messages {
        say!(
            "{:>8} {:<6} {:<16} {:<18} {:<10} {:<16} {:>5} {:>5}  {:<20} {}",
            message.id,
            message.medium.as_str(),
            message.kind,
            message.address_masked,
            message.state,
            message.route.as_deref().unwrap_or("-"),
            message.attempts,
            message.parts,
            rfc3339(message.created_at_s),
            // A route's words may come from the network: no control character reaches
            // the terminal.
            message
                .last_error
                .as_deref()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        );
    }
}
