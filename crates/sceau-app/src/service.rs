//! The use cases, independent of HTTP: the admin CLI, the demo and the handlers all go
//! through [`Service`].

use crate::clock::{Clock, clock_time};
use crate::error::{AppError, internal};
use sceau_crypto::Keys;
use sceau_domain::card::BinRange;
use sceau_domain::email::{EmailAddress, EmailError};
use sceau_domain::limits::{NUMBER_USES_MAX, NUMBER_VALIDITY_S_MAX};
use sceau_domain::policy::{AmountRule, MerchantLock, UsagePolicy};
use sceau_domain::reach::MessageBudget;
use sceau_domain::text;
use sceau_domain::{CardNumber, Currency, Expiry, Money, PhoneNumber, SecurityCode};
use sceau_store::*;
use std::sync::Arc;
use tokio::sync::Notify;
use zeroize::Zeroizing;

/// Draws before giving up when every drawn number collides with a live one.
const DRAW_TRIES_MAX: u32 = 8;

/// What the operator configures about the service itself.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bin_range: BinRange,
    pub number_validity_s_default: i64,
    pub hold_ttl_s: i64,
    pub issuer_name: String,
    /// Most numbers a client may ask to be sent per hour (sending is throttled).
    pub numbers_per_hour_max: u32,
    /// Most numbers one merchant may have sent to one client per hour (Figure 4).
    pub checkout_numbers_per_hour_max: u32,
    /// Digits of a payment seal.
    pub seal_digits: sceau_domain::seal::SealDigits,
    /// How long a seal may be typed back (never more than 10 minutes).
    pub seal_validity_s: i64,
    /// Default life of a checkout.
    pub checkout_validity_s: i64,
    /// Checkouts a client may have held at once, waiting for their seal.
    pub client_held_checkouts_max: u32,
    /// Seals one client may be sent within an hour, payment and signature seals together.
    pub client_seals_per_hour_max: u32,
    /// Messages one client may be sent within an hour, all kinds together (pause notices
    /// are never refused, but count).
    pub client_sms_per_hour_max: u32,
    /// Distinct clients one merchant may have numbers sent to within an hour (Figure 4).
    pub merchant_clients_per_hour_max: u32,
    /// Let merchants' return and webhook addresses name this machine or a private network
    /// (development, tests, the demo). Off in production: webhooks would reach the
    /// operator's own network.
    pub webhooks_to_private_networks: bool,
    /// The issuer's own account, which pays the merchants in settlement files; clearing
    /// batches cannot be closed without it.
    pub issuer_bank: Option<BankDetails>,
    /// The transparency log's origin: the first line of its checkpoints and the name of
    /// its key (C2SP tlog-checkpoint), e.g. `pay.example/log`.
    pub log_origin: String,
    /// A route places calls that read the text out: clients may choose calls.
    pub calls_offered: bool,
    /// How long what only serves the moment is kept (the purge worker, `retention.rs`).
    pub retention: sceau_domain::retention::Retention,
}

impl Settings {
    /// What one client may be sent within an hour (`sceau_domain::reach`).
    pub fn message_budget(&self) -> MessageBudget {
        MessageBudget::new(
            self.client_sms_per_hour_max,
            self.client_seals_per_hour_max,
            self.numbers_per_hour_max,
            self.checkout_numbers_per_hour_max,
        )
    }
}

#[derive(Clone)]
pub struct Service {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Woken whenever a message is queued, so the dispatcher sends it at once.
    pub outbox_ready: Arc<Notify>,
    /// Woken whenever a webhook is queued, so the dispatcher delivers it at once.
    pub webhooks_ready: Arc<Notify>,
    /// The white room: the certificate authority and the time-stamp authority, with
    /// their keystore. Without it, clients get no certificates and nothing is signed.
    pub pki: Option<Arc<sceau_pki::Pki>>,
    /// The payment receipts waiting to be signed (started with the server).
    pub receipts: crate::receipts::ReceiptQueue,
    /// The notary's archive and settings; without them, no envelope is opened.
    pub notary: Option<Arc<crate::notary::Notary>>,
}

/// A request for a single-use number.
#[derive(Debug, Clone)]
pub struct NumberRequest {
    pub uses_max: u32,
    pub amount: AmountRule,
    pub merchant: MerchantLock,
    pub validity_s: Option<i64>,
}

/// An issued number, as its holder's phone will show it. Only the phone ever sees it.
pub struct IssuedNumber {
    pub view: NumberView,
    /// The text sent to the phone; `None` for a replay (nothing was sent again).
    pub text: Option<Zeroizing<String>>,
    pub replayed: bool,
}

pub struct EnrolledMerchant {
    pub merchant: MerchantRecord,
    /// Shown once; only its hash is stored.
    pub api_key: Zeroizing<String>,
    /// The secret sceau signs this merchant's webhooks with.
    pub webhook_secret: Zeroizing<String>,
}

pub struct ClientEnrolment {
    pub login: String,
    pub display_name: String,
    pub password: Zeroizing<String>,
    pub phone: String,
    /// Optional: where e-mail notices go besides the phone.
    pub email: Option<String>,
    pub currency: String,
    pub opening_balance: String,
    pub credit_limit: String,
}

/// An enrolment's optional e-mail address: absent, or one bare address.
fn parse_email(text: Option<&str>) -> Result<Option<EmailAddress>, AppError> {
    text.map(|text| {
        text.parse()
            .map_err(|e: EmailError| AppError::InvalidField(format!("email: {e}")))
    })
    .transpose()
}

pub fn parse_currency(text: &str) -> Result<Currency, AppError> {
    text.parse().map_err(AppError::Money)
}

pub fn parse_amount(text: &str, currency: Currency) -> Result<Money, AppError> {
    Money::parse_positive(text, currency).map_err(AppError::Money)
}

fn parse_non_negative(text: &str, currency: Currency) -> Result<Money, AppError> {
    Money::parse_non_negative(text, currency).map_err(AppError::Money)
}

/// A fresh number and security code, with the fingerprints the store keeps instead of
/// them (the same recipe for every number, so that any can be found by what a merchant
/// sends).
pub(crate) struct DrawnNumber {
    pub number: CardNumber,
    pub code: SecurityCode,
    pub expiry: Expiry,
    pub fingerprint: [u8; 32],
    pub details_fingerprint: [u8; 32],
}

impl Service {
    /// Draws a number from the BIN range and a security code, expiring with `until_s`.
    pub(crate) fn draw_number(&self, until_s: i64) -> DrawnNumber {
        let number = CardNumber::draw(&self.settings.bin_range, sceau_crypto::random_bytes());
        let code = SecurityCode::draw(sceau_crypto::random_bytes());
        let expiry = Expiry::of_instant(until_s);
        let digits = Zeroizing::new(number.reveal());
        DrawnNumber {
            fingerprint: self.keys.number_fingerprint(&digits),
            details_fingerprint: self.keys.card_details_fingerprint(
                &digits,
                expiry.month,
                expiry.year,
                &Zeroizing::new(code.reveal()),
            ),
            number,
            code,
            expiry,
        }
    }

    pub fn now_s(&self) -> i64 {
        self.clock.now_s()
    }

    pub async fn enroll_client(
        &self,
        enrolment: ClientEnrolment,
    ) -> Result<ClientRecord, AppError> {
        check_names_and_password(&enrolment)?;
        let phone: PhoneNumber = enrolment
            .phone
            .parse()
            .map_err(|e: sceau_domain::phone::PhoneError| AppError::InvalidPhone(e.to_string()))?;
        let email = parse_email(enrolment.email.as_deref())?;
        let currency = parse_currency(&enrolment.currency)?;
        let opening_balance = parse_non_negative(&enrolment.opening_balance, currency)?;
        let credit_limit = parse_non_negative(&enrolment.credit_limit, currency)?;
        let password_hash = hash_password(enrolment.password.clone()).await?;
        // The client's certificate, for a key of their own, is recorded with them.
        let holder = self
            .holder_certificate(&enrolment.display_name, &phone)
            .await?;
        let (certificates, key) = match holder {
            Some((certificate, key)) => (vec![certificate], Some(key)),
            None => (Vec::new(), None),
        };
        let enrolled = self
            .store
            .enroll_client(NewClient {
                login: enrolment.login,
                display_name: enrolment.display_name,
                password_hash,
                phone,
                email,
                currency,
                opening_balance: opening_balance.minor,
                credit_limit: credit_limit.minor,
                certificates,
                now_s: self.now_s(),
            })
            .await;
        let client = match enrolled {
            Ok(client) => client,
            Err(error) => {
                if let Some(key) = key {
                    self.forget_key(key, &error).await;
                }
                return Err(error.into());
            }
        };
        tracing::info!(client_id = client.id, "client enrolled");
        Ok(client)
    }

    pub async fn enroll_merchant(&self, name: &str) -> Result<EnrolledMerchant, AppError> {
        self.enroll_merchant_paid_to(name, None).await
    }

    /// Enrols a merchant whose settlement balances are paid out to `bank` (later, if
    /// none: see [`Service::set_merchant_bank`]).
    pub async fn enroll_merchant_paid_to(
        &self,
        name: &str,
        bank: Option<BankDetails>,
    ) -> Result<EnrolledMerchant, AppError> {
        AppError::check_text("name", AppError::InvalidField, name, text::NAME)?;
        let api_key = sceau_crypto::new_token("sk_");
        let merchant = self
            .store
            .enroll_merchant(NewMerchant {
                name: name.to_owned(),
                api_key_hash: sceau_crypto::token_hash(&api_key),
                bank,
                now_s: self.now_s(),
            })
            .await?;
        tracing::info!(merchant_id = merchant.id, "merchant enrolled");
        let webhook_secret = self.keys.webhook_secret(merchant.id);
        Ok(EnrolledMerchant {
            merchant,
            api_key,
            webhook_secret,
        })
    }

    /// Draws a number for `client`, stores its fingerprints and queues its message in one
    /// transaction, and wakes the dispatcher. `merchant_name` is set for Figure 4, where
    /// the amounts are in `currency` (for Figure 5, the client's): a merchant may reach
    /// only its own clients, and is told nothing else of the others.
    pub async fn issue_number(
        &self,
        client: &ClientRecord,
        request: &NumberRequest,
        merchant_name: Option<&str>,
        origin: Origin,
        currency: Currency,
        idempotency: Option<(i64, IdempotencyKey)>,
    ) -> Result<IssuedNumber, AppError> {
        if client.stopped(self.now_s()) {
            return Err(match origin {
                Origin::Merchant => AppError::UnknownClient,
                Origin::Client => AppError::Blocked,
            });
        }
        let validity_s = self.number_validity_s(request)?;
        let now_s = self.now_s();
        let policy = UsagePolicy {
            uses_max: request.uses_max,
            amount: request.amount,
            merchant: request.merchant,
            valid_until_s: now_s + validity_s,
        };
        for _ in 0..DRAW_TRIES_MAX {
            let drawn = self.draw_number(policy.valid_until_s);
            let (number, code, expiry) = (&drawn.number, &drawn.code, drawn.expiry);
            let text = self.number_text(client, number, code, expiry, &policy, merchant_name);
            let new_number = NewNumber {
                client_id: client.id,
                fingerprint: drawn.fingerprint,
                details_fingerprint: drawn.details_fingerprint,
                last_four: number.last_four(),
                expiry,
                origin,
                policy,
                currency,
                message: NewMessage {
                    address: client.phone.as_str().to_owned(),
                    sealed_body: self.keys.seal(&text, client.phone.as_str()),
                    medium: client.phone_medium(),
                    expires_at_s: policy.valid_until_s,
                },
                budget: self.settings.message_budget(),
                merchant_clients_max: self.settings.merchant_clients_per_hour_max,
                idempotency: idempotency.clone(),
                now_s,
            };
            let outcome = self.store.issue_number(new_number).await?;
            if let Some(issued) = self.issue_outcome(outcome, client, origin, text)? {
                return Ok(issued);
            }
        }
        Err(AppError::NumberSpaceExhausted)
    }

    /// What an attempt to issue a number came to: the number issued (or replayed), `None`
    /// when its fingerprint was taken (draw again), or the refusal.
    fn issue_outcome(
        &self,
        outcome: IssueOutcome,
        client: &ClientRecord,
        origin: Origin,
        text: Zeroizing<String>,
    ) -> Result<Option<IssuedNumber>, AppError> {
        match outcome {
            IssueOutcome::Issued(view) => {
                self.outbox_ready.notify_one();
                tracing::info!(
                    number_id = view.id,
                    client_id = client.id,
                    origin = origin.as_str(),
                    "number issued"
                );
                Ok(Some(IssuedNumber {
                    view,
                    text: Some(text),
                    replayed: false,
                }))
            }
            IssueOutcome::Replayed(view) => Ok(Some(IssuedNumber {
                view,
                text: None,
                replayed: true,
            })),
            IssueOutcome::FingerprintTaken => Ok(None),
            IssueOutcome::Throttled(too_many) => {
                tracing::info!(
                    client_id = client.id,
                    code = too_many.code(),
                    "number request throttled"
                );
                Err(AppError::Throttled(too_many))
            }
            IssueOutcome::Unreachable => {
                tracing::info!(
                    client_id = client.id,
                    "number refused: client not reachable"
                );
                Err(AppError::UnknownClient)
            }
            IssueOutcome::TooManyClients => Err(AppError::TooManyClients),
            IssueOutcome::CurrencyMismatch => Err(AppError::CurrencyMismatch),
        }
    }

    /// How long a requested number will be valid; refuses what no number may be given
    /// (checked before anything about the client is looked at).
    pub fn number_validity_s(&self, request: &NumberRequest) -> Result<i64, AppError> {
        let validity_s = request
            .validity_s
            .unwrap_or(self.settings.number_validity_s_default);
        if !(60..=NUMBER_VALIDITY_S_MAX).contains(&validity_s) {
            return Err(AppError::InvalidValidity(format!(
                "validity must be 60 to {NUMBER_VALIDITY_S_MAX} seconds"
            )));
        }
        if !(1..=NUMBER_USES_MAX).contains(&request.uses_max) {
            return Err(AppError::InvalidUses(format!(
                "uses must be 1 to {NUMBER_USES_MAX}"
            )));
        }
        Ok(validity_s)
    }

    /// The client a merchant names at checkout (Figure 4), if the merchant may have a
    /// number sent to them: they paid it or signed in on one of its checkouts, and their
    /// payments are neither blocked nor paused. Every other case (nobody has this login
    /// or phone, not the merchant's client, blocked, paused) is the same 404 after the
    /// same reads, and nothing is written or sent: a merchant learns nothing of people
    /// who are not its clients. The store checks again when it issues.
    pub async fn merchant_client(
        &self,
        merchant_id: i64,
        reference: &str,
    ) -> Result<ClientRecord, AppError> {
        let client = self.find_client(reference).await?;
        // Asked for nobody too (no client has id 0), so that an unknown login costs the
        // same reads as a known one.
        let client_id = client.as_ref().map_or(0, |client| client.id);
        let known = self
            .store
            .merchant_knows_client(merchant_id, client_id)
            .await?;
        match client {
            Some(client) if known && !client.stopped(self.now_s()) => Ok(client),
            _ => Err(AppError::UnknownClient),
        }
    }

    /// The text the phone shows: the number with its limits (Figure 5), or with the
    /// amount and the merchant it is for (Figure 4).
    fn number_text(
        &self,
        client: &ClientRecord,
        number: &CardNumber,
        code: &SecurityCode,
        expiry: Expiry,
        policy: &UsagePolicy,
        merchant_name: Option<&str>,
    ) -> Zeroizing<String> {
        let money = |minor| Money::new(minor, client.currency).to_string();
        let card = format!(
            "{} exp {} code {}",
            number.reveal_grouped(),
            expiry.display_short(),
            code.reveal()
        );
        let until = clock_time(policy.valid_until_s);
        let issuer = &self.settings.issuer_name;
        let text = match (merchant_name, policy.amount) {
            (Some(merchant), AmountRule::Exact(amount)) => format!(
                "{issuer}: {merchant} asks you to pay {}. Your single-use card for this payment: {card}. \
                 Valid until {until}. Type it only on {merchant}'s page.",
                money(amount)
            ),
            _ => {
                let uses = match policy.uses_max {
                    1 => "1 payment".to_owned(),
                    n => format!("{n} payments"),
                };
                let amount = match policy.amount {
                    AmountRule::Any => String::new(),
                    AmountRule::Cap(cap) | AmountRule::Exact(cap) => {
                        format!(", up to {}", money(cap))
                    }
                };
                let merchant = match (policy.merchant, merchant_name) {
                    (MerchantLock::Named(_), Some(name)) => format!(", only at {name}"),
                    (MerchantLock::FirstMerchant, _) => ", first merchant only".to_owned(),
                    _ => String::new(),
                };
                format!(
                    "{issuer}: your single-use card {card}. {uses}{amount}{merchant}, valid until {until}. Never share it except to pay."
                )
            }
        };
        Zeroizing::new(text)
    }

    /// Tells a client on the second channel that too many wrong card details paused their
    /// payments, and until when. Best effort: the pause itself is already committed.
    pub async fn tell_paused(&self, paused: Paused) {
        crate::metrics::client_paused();
        let told = async {
            let client = self
                .store
                .client(paused.client_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("paused client missing".into()))?;
            let text = format!(
                "{}: wrong card details or seals were typed {} times in a row. Your payments are paused \
                 until {}. If this was not you, tell us.",
                self.settings.issuer_name,
                sceau_domain::limits::CLIENT_FAILURES_MAX,
                clock_time(paused.until_s)
            );
            let now_s = self.now_s();
            let message = NewMessage {
                address: client.phone.as_str().to_owned(),
                sealed_body: self.keys.seal(&text, client.phone.as_str()),
                medium: client.phone_medium(),
                expires_at_s: notice_expiry(paused.until_s, now_s),
            };
            self.store.enqueue_message(message, now_s).await?;
            if let Some(email) = &client.email {
                let message = self.paused_email(&client, email, paused.until_s, now_s)?;
                self.store.enqueue_message(message, now_s).await?;
            }
            Ok::<_, AppError>(())
        };
        let told = told.await;
        // What was queued goes out now, even if a later notice could not be.
        self.outbox_ready.notify_one();
        match told {
            Ok(()) => {
                tracing::info!(
                    client_id = paused.client_id,
                    "client paused after consecutive failures; told"
                );
            }
            Err(error) => {
                tracing::error!(client_id = paused.client_id, %error, "cannot tell a paused client")
            }
        }
    }

    /// The "your payments are paused" notice as an e-mail to `email`, sealed as the
    /// dispatcher opens it (`dispatch::EmailBody`), expiring as the SMS notice does.
    fn paused_email(
        &self,
        client: &ClientRecord,
        email: &EmailAddress,
        until_s: i64,
        now_s: i64,
    ) -> Result<NewMessage, AppError> {
        let notice = sceau_channel::email::templates::PausedNotice {
            client_name: &client.display_name,
            issuer_name: &self.settings.issuer_name,
            until_s,
        };
        let written = sceau_channel::email::templates::payments_paused(&notice)
            .map_err(|error| internal(&error.to_string()))?;
        let body = crate::dispatch::EmailBody {
            subject: written.subject,
            text: written.text,
            html: Some(written.html),
        };
        let json = serde_json::to_string(&body).map_err(|error| internal(&error.to_string()))?;
        Ok(NewMessage {
            address: email.as_str().to_owned(),
            sealed_body: self.keys.seal(&json, email.as_str()),
            medium: Medium::Email,
            expires_at_s: notice_expiry(until_s, now_s),
        })
    }

    /// Finds a client by login or by phone number (E.164), for a merchant's checkout.
    pub async fn find_client(&self, reference: &str) -> Result<Option<ClientRecord>, AppError> {
        if reference.starts_with('+') {
            match reference.parse::<PhoneNumber>() {
                Ok(phone) => Ok(self.store.client_by_phone(&phone).await?),
                Err(_) => Ok(None),
            }
        } else {
            Ok(self.store.client_by_login(reference).await?)
        }
    }

    /// Everything a client sees about their account.
    pub async fn client_overview(
        &self,
        client: &ClientRecord,
    ) -> Result<(AccountView, Vec<NumberUse>), AppError> {
        let account = self
            .store
            .account(client.account_id)
            .await?
            .ok_or_else(|| internal("client account missing"))?;
        let numbers = self.store.numbers_used(client.id, 50).await?;
        Ok((account, numbers))
    }

    /// A page of the client's payments, newest first: those made before the payment
    /// `before` (from the newest, when `None`), and where the next, older page starts.
    pub async fn client_history(
        &self,
        client: &ClientRecord,
        before: Option<i64>,
    ) -> Result<HistoryPage, AppError> {
        let asked = HISTORY_PAGE_LEN + 1;
        let mut payments = self.store.client_payments(client.id, before, asked).await?;
        let older = if payments.len() > HISTORY_PAGE_LEN as usize {
            payments.truncate(HISTORY_PAGE_LEN as usize);
            payments.last().map(|payment| payment.authorization_id)
        } else {
            None
        };
        Ok(HistoryPage { payments, older })
    }

    /// The e-mails the development mailbox took for `address`, opened: newest first, up
    /// to `limit` (what `/mailbox` shows).
    pub async fn mailbox_messages(
        &self,
        address: &EmailAddress,
        limit: u32,
    ) -> Result<Vec<(StoredMessage, crate::dispatch::EmailBody)>, AppError> {
        let messages = self.store.messages_to(address.as_str(), limit).await?;
        Ok(messages
            .into_iter()
            .filter(|message| {
                message.medium == Medium::Email
                    && message.route.as_deref() == Some("dev-mailbox")
                    && matches!(message.state.as_str(), "submitted" | "delivered")
            })
            .filter_map(|message| {
                let opened = self
                    .keys
                    .unseal(&message.sealed_body, &message.address)
                    .ok()?;
                let body = serde_json::from_str::<crate::dispatch::EmailBody>(&opened).ok()?;
                Some((message, body))
            })
            .collect())
    }

    /// The messages delivered to a phone, opened (the development phone simulator).
    pub async fn phone_messages(
        &self,
        phone: &PhoneNumber,
        limit: u32,
    ) -> Result<Vec<(StoredMessage, Zeroizing<String>)>, AppError> {
        let messages = self.store.messages_to(phone.as_str(), limit).await?;
        Ok(messages
            .into_iter()
            .filter(|message| matches!(message.state.as_str(), "submitted" | "delivered"))
            .map(|message| {
                let text = if message.sealed_body.is_empty() {
                    Zeroizing::new(
                        "(its text was purged: retention.message_bodies_days)".to_owned(),
                    )
                } else {
                    self.keys
                        .unseal(&message.sealed_body, &message.address)
                        .unwrap_or_else(|_| {
                            Zeroizing::new("(cannot be opened with this server's key)".to_owned())
                        })
                };
                (message, text)
            })
            .collect())
    }
}

/// The longest a notice waits to be sent: after a day it is news no more.
const NOTICE_LIFE_S: i64 = 86_400;

/// When a pause notice stops being worth sending: at the pause's end, or after a day if
/// the pause is longer.
fn notice_expiry(pause_until_s: i64, now_s: i64) -> i64 {
    pause_until_s.min(now_s.saturating_add(NOTICE_LIFE_S))
}

/// Reads back the card in a text written by [`Service::issue_number`], as its holder
/// would: "dddd dddd dddd dddd exp MM/YY code CCC" → (number, month, year, code). For
/// the demo, the benchmark and tests, which play the client reading their phone.
pub fn card_in_message(text: &str) -> Option<(String, u8, u16, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let is_group = |group: &&str| group.len() == 4 && group.bytes().all(|b| b.is_ascii_digit());
    let position = words.windows(4).position(|w| w.iter().all(is_group))?;
    let number = words[position..position + 4].concat();
    let rest = &words[position + 4..];
    if rest.len() < 4 || rest[0] != "exp" || rest[2] != "code" {
        return None;
    }
    let (month, year) = rest[1].split_once('/')?;
    let code: String = rest[3].chars().filter(char::is_ascii_digit).collect();
    Some((
        number,
        month.parse().ok()?,
        2000 + year.parse::<u16>().ok()?,
        code,
    ))
}

/// Refuses an enrolment whose login or display name is not a name, whose login has
/// spaces, or whose password is too short or too long.
fn check_names_and_password(enrolment: &ClientEnrolment) -> Result<(), AppError> {
    AppError::check_text(
        "login",
        AppError::InvalidField,
        &enrolment.login,
        text::NAME,
    )?;
    AppError::check_text(
        "display_name",
        AppError::InvalidField,
        &enrolment.display_name,
        text::NAME,
    )?;
    if enrolment.login.chars().any(char::is_whitespace) {
        return Err(AppError::InvalidField(
            "login must not contain spaces".to_owned(),
        ));
    }
    check_strength(&enrolment.password)
}

/// A password's rule, clients' and operators' alike: 8 to 1024 characters.
pub(crate) fn check_strength(password: &str) -> Result<(), AppError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(AppError::WeakPassword);
    }
    Ok(())
}

/// Hashes a password on a blocking thread (it takes long by design).
pub(crate) async fn hash_password(password: Zeroizing<String>) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || sceau_crypto::hash_password(&password))
        .await
        .map_err(|_| internal("password hashing task failed"))?
        .map_err(|_| internal("password hashing failed"))
}

/// Payments on one page of a client's history.
pub const HISTORY_PAGE_LEN: u32 = 20;

/// A page of a client's history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// Newest first, at most [`HISTORY_PAGE_LEN`].
    pub payments: Vec<PaymentEntry>,
    /// What to ask for as `before` to get the next, older page; `None` on the last page.
    pub older: Option<i64>,
}

#[cfg(test)]
mod tests {
    /// A pause notice lives until the pause ends, and never more than a day.
    #[test]
    fn a_pause_notice_expires_with_the_pause_or_after_a_day() {
        const NOW: i64 = 1_700_000_000;
        assert_eq!(super::notice_expiry(NOW + 900, NOW), NOW + 900);
        assert_eq!(super::notice_expiry(NOW + 7 * 86_400, NOW), NOW + 86_400);
    }

    #[test]
    fn reads_the_card_in_a_message() {
        let text = "Bank: your single-use card 4999 9912 3456 7890 exp 11/26 code 042. 1 payment.";
        assert_eq!(
            super::card_in_message(text),
            Some(("4999991234567890".to_owned(), 11, 2026, "042".to_owned()))
        );
        assert_eq!(super::card_in_message("no card here"), None);
        assert_eq!(super::card_in_message("1234 5678 9012 3456 exp"), None);
    }
}
