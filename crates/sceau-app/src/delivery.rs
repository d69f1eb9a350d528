//! Certified delivery's use cases (the source document's Figures 7 and 9; ARCHITECTURE.md,
//! "Certified delivery"): a notarized envelope sent to recipients; each recipient's
//! code, session, withdrawal certificate, files and answer; the deadline's sweep and the
//! senders' notices. The rules are `sceau_domain::delivery`; the store applies each step
//! in one transaction (`sceau_store::Deliveries`).

use crate::dispatch::EmailBody;
use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_domain::delivery::{self, DeliveryError, Recipient, RecipientState};
use sceau_domain::email::EmailAddress;
use sceau_domain::phone::PhoneNumber;
use sceau_domain::seal::{DeliveryCodeInput, Seal, SealDigits};
use sceau_store::*;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A certified delivery's settings.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Recipients one delivery may name (at most `delivery::RECIPIENTS_MAX_CEILING`).
    pub recipients_max: usize,
    /// Days a recipient has unless the sender says otherwise.
    pub deadline_days_default: u32,
    /// Days before the deadline a recipient who has not answered is reminded (none: no
    /// reminder).
    pub reminder_days: Option<u32>,
    pub code_digits: SealDigits,
    /// Wrong codes in a row that pause a recipient, and for how long.
    pub code_tries_max: u32,
    pub pause_s: i64,
    /// How long a recipient's session lasts after the right code.
    pub session_s: i64,
}

impl Default for DeliverySettings {
    fn default() -> DeliverySettings {
        DeliverySettings {
            recipients_max: delivery::RECIPIENTS_MAX_DEFAULT,
            deadline_days_default: delivery::DEADLINE_DAYS_DEFAULT,
            reminder_days: Some(3),
            code_digits: SealDigits::new(8).unwrap_or_default(),
            code_tries_max: sceau_domain::limits::NUMBER_TRIES_MAX,
            pause_s: sceau_domain::limits::CLIENT_PAUSE_S,
            session_s: 60 * 60,
        }
    }
}

/// One recipient as a sender names them: an address, and a phone unless they are a
/// client of this service (whose own phone is then used).
#[derive(Debug, Clone)]
pub struct RecipientRequest {
    pub email: EmailAddress,
    pub phone: Option<PhoneNumber>,
}

/// A delivery as a sender asks for it.
#[derive(Debug, Clone)]
pub struct DeliveryRequest {
    /// The recipients; none: the envelope's own destinations.
    pub recipients: Vec<RecipientRequest>,
    pub deadline_days: Option<u32>,
    /// The sender is not named in the notice nor in the code's SMS, only once the
    /// recipient has authenticated.
    pub hide_sender: bool,
}

/// What a recipient sees of a delivery: the delivery, the envelope's files, and the
/// sender (when it may be named to them).
pub struct RecipientContext {
    pub delivery: DeliveryView,
    pub recipient: RecipientView,
    pub envelope: EnvelopeView,
    /// The sender's name, `None` while it is hidden.
    pub sender_name: Option<String>,
    /// The SHA-256 of the recipient's session token, when the context is of a session.
    pub session_sha256: Option<[u8; 32]>,
}

/// A recipient's session, just opened: the token for their cookie (shown once).
pub struct RecipientSession {
    pub token: Zeroizing<String>,
    pub expires_at_s: i64,
}

/// The withdrawal certificate made for a recipient's browser key.
pub struct Withdrawal {
    pub serial: String,
    pub certificate: Vec<u8>,
    pub not_after_s: i64,
}

/// The statement a recipient's browser signs with its withdrawal key (the answer), as
/// sceau reads it: the exact text is what is signed and kept.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "type")]
    kind: String,
    delivery: String,
    recipient: u32,
    certificate: String,
    answer: String,
    files: Vec<StatementFile>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementFile {
    position: u32,
    /// None: the browser could not read the file (only in a refusal).
    sha256: Option<String>,
    digest_matches: bool,
    signature_valid: bool,
}

/// The statement's type.
pub const STATEMENT_TYPE: &str = "sceau-delivery-answer/1";
/// The longest statement taken: an entry of about 140 bytes for each of the most files an
/// envelope may hold (1,000), and a reason of 1,000 characters written as escapes.
pub const STATEMENT_BYTES_MAX: usize = 256 * 1024;
/// The longest reason a recipient may give for a refusal, in characters.
pub const REASON_CHARS_MAX: usize = 1_000;
/// The common name of a withdrawal certificate.
const WITHDRAWAL_SUBJECT: &str = "sceau withdrawal";

/// The SHA-256 of a token, as stored.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The SHA-256 of a link or session token: 64 lowercase hex digits, else none.
fn parse_token(token: &str) -> Option<[u8; 32]> {
    let well_formed = token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed.then(|| token_digest(token))
}

/// The refusal of an envelope that is not (or no longer) notarized.
fn not_notarized(state: EnvelopeState) -> AppError {
    AppError::EnvelopeState(format!(
        "only a notarized envelope is delivered; this one is {}",
        state.as_str()
    ))
}

/// An envelope's deliveries a page lists at most, newest first (the sender's and the
/// console's).
pub(crate) const ENVELOPE_DELIVERIES_LISTED: u32 = 50;

impl Service {
    fn delivery_settings(&self) -> Result<&DeliverySettings, AppError> {
        Ok(&self.notary()?.settings.delivery)
    }

    /// Sends a notarized envelope of `sender`'s to its recipients (those asked for, or
    /// the envelope's destinations): each checked (`sceau_domain::delivery`), each an
    /// e-mail notice with their link under `link_base` (the public origin), all in one
    /// transaction; nothing is kept or sent if any is refused.
    pub async fn send_delivery(
        &self,
        sender: &ClientRecord,
        envelope_id: &str,
        request: DeliveryRequest,
        link_base: &str,
    ) -> Result<DeliveryView, AppError> {
        let settings = self.delivery_settings()?.clone();
        let now_s = self.now_s();
        if sender.stopped(now_s) {
            return Err(AppError::ClientStopped);
        }
        let envelope = self.client_envelope(sender, envelope_id).await?;
        if envelope.state != EnvelopeState::Notarized {
            return Err(not_notarized(envelope.state));
        }
        let asked = if request.recipients.is_empty() {
            destinations(&envelope)?
        } else {
            request.recipients
        };
        let days = request
            .deadline_days
            .unwrap_or(settings.deadline_days_default);
        let deadline_s = delivery::deadline_s(now_s, days).map_err(AppError::Delivery)?;
        let mut recipients = Vec::with_capacity(asked.len());
        let mut enrolled = Vec::with_capacity(asked.len());
        if asked.len() > settings.recipients_max {
            let error = DeliveryError::TooManyRecipients {
                given: asked.len(),
                max: settings.recipients_max,
            };
            return Err(AppError::Delivery(error));
        }
        for (index, wanted) in asked.iter().enumerate() {
            let client = self.store.client_by_email(wanted.email.as_str()).await?;
            let phone = delivery::code_phone(
                index,
                wanted.phone.as_ref(),
                client.as_ref().map(|client| &client.phone),
            )
            .map_err(AppError::Delivery)?
            .ok_or_else(|| {
                AppError::InvalidPhone(format!(
                    "recipient {} is not a client of this service: give their phone number \
                     (E.164, +country and number)",
                    index + 1
                ))
            })?;
            recipients.push(Recipient {
                email: wanted.email.clone(),
                phone,
            });
            enrolled.push(client.map(|client| client.id));
        }
        delivery::check_recipients(&recipients, settings.recipients_max)
            .map_err(AppError::Delivery)?;
        let public_id = hex::encode(sceau_crypto::random_bytes::<16>());
        let link_base = link_base.trim_end_matches('/');
        let first_name = envelope
            .files
            .first()
            .map(|file| file.name.clone())
            .ok_or_else(|| internal("a notarized envelope without files"))?;
        let mut new_recipients = Vec::with_capacity(recipients.len());
        let given = asked.iter().map(|wanted| wanted.phone.is_some());
        for (position, ((recipient, client_id), phone_given)) in
            recipients.iter().zip(enrolled).zip(given).enumerate()
        {
            let position = u32::try_from(position).map_err(|_| internal("recipients"))?;
            let contact_salt = sceau_crypto::random_bytes::<16>();
            let token = hex::encode(self.keys.delivery_link(&public_id, position, &contact_salt));
            let link = format!("{link_base}/d/{token}");
            let notice = sceau_channel::email::templates::DeliveryNotice {
                sender: (!request.hide_sender).then_some(sender.display_name.as_str()),
                issuer_name: &self.settings.issuer_name,
                files: envelope.files.len(),
                first_name: &first_name,
                deadline_s,
                link: &link,
                reminder: false,
            };
            new_recipients.push(NewDeliveryRecipient {
                email: recipient.email.as_str().to_owned(),
                phone: recipient.phone.as_str().to_owned(),
                phone_given,
                client_id,
                contact_salt,
                link_sha256: token_digest(&token),
                notice: self.notice_email(&recipient.email, &notice, deadline_s)?,
            });
        }
        let outcome = self
            .store
            .send_delivery(NewDelivery {
                public_id,
                envelope_public_id: envelope.public_id.clone(),
                client_id: sender.id,
                deadline_s,
                hide_sender: request.hide_sender,
                link_base: link_base.to_owned(),
                recipients: new_recipients,
                now_s,
            })
            .await?;
        match outcome {
            DeliverySendOutcome::Sent(view) => {
                self.outbox_ready.notify_one();
                tracing::info!(
                    client_id = sender.id,
                    delivery = view.id,
                    recipients = view.recipients.len(),
                    "delivery sent"
                );
                Ok(*view)
            }
            DeliverySendOutcome::NotFound => Err(AppError::UnknownEnvelope),
            DeliverySendOutcome::NotNotarized(state) => Err(not_notarized(state)),
        }
    }

    /// A recipient's notice (or reminder) as an e-mail, sealed as the dispatcher opens
    /// it, good until the deadline.
    fn notice_email(
        &self,
        to: &EmailAddress,
        notice: &sceau_channel::email::templates::DeliveryNotice<'_>,
        deadline_s: i64,
    ) -> Result<NewMessage, AppError> {
        let written = sceau_channel::email::templates::delivery_notice(notice)
            .map_err(|error| internal(&error.to_string()))?;
        email_message(self, to.as_str(), written, deadline_s)
    }

    /// A sender's delivery (another's is not found).
    pub async fn sender_delivery(
        &self,
        sender: &ClientRecord,
        public_id: &str,
    ) -> Result<DeliveryView, AppError> {
        self.store
            .delivery(public_id)
            .await?
            .filter(|view| view.client_id == sender.id)
            .ok_or(AppError::UnknownDelivery)
    }

    /// The deliveries of a sender's envelope, newest first.
    pub async fn envelope_deliveries(
        &self,
        sender: &ClientRecord,
        envelope: &EnvelopeView,
    ) -> Result<Vec<DeliveryView>, AppError> {
        if envelope.client_id != sender.id {
            return Err(AppError::UnknownEnvelope);
        }
        Ok(self
            .store
            .envelope_deliveries(envelope.id, ENVELOPE_DELIVERIES_LISTED)
            .await?)
    }

    /// What the link `token` shows (the notice again, nothing more): the delivery, the
    /// recipient and the envelope's files; the sender named unless hidden.
    pub async fn delivery_by_link(&self, token: &str) -> Result<RecipientContext, AppError> {
        let link = parse_token(token).ok_or(AppError::UnknownDelivery)?;
        let view = self
            .store
            .delivery_by_link(link)
            .await?
            .ok_or(AppError::UnknownDelivery)?;
        self.recipient_context(view, false).await
    }

    async fn recipient_context(
        &self,
        view: DeliveryView,
        authenticated: bool,
    ) -> Result<RecipientContext, AppError> {
        let recipient = view
            .recipients
            .first()
            .cloned()
            .ok_or_else(|| internal("a recipient's delivery without them"))?;
        let envelope = self
            .store
            .envelope(&view.envelope_public_id)
            .await?
            .ok_or_else(|| internal("a delivery without its envelope"))?;
        let sender_name = if view.hide_sender && !authenticated {
            None
        } else {
            let sender = self
                .store
                .client(view.client_id)
                .await?
                .ok_or_else(|| internal("a delivery without its sender"))?;
            Some(sender.display_name)
        };
        Ok(RecipientContext {
            delivery: view,
            recipient,
            envelope,
            sender_name,
            session_sha256: None,
        })
    }

    /// Sends the recipient of link `token` a code to their phone (within its hourly
    /// budget), naming the sender unless hidden; when it expires.
    pub async fn send_recipient_code(&self, token: &str) -> Result<i64, AppError> {
        let context = self.delivery_by_link(token).await?;
        let link = token_digest(token);
        let settings = self.delivery_settings()?;
        let now_s = self.now_s();
        let (delivery_view, recipient) = (&context.delivery, &context.recipient);
        let phone: PhoneNumber = recipient
            .phone
            .parse()
            .map_err(|_| internal("a stored recipient phone"))?;
        let nonce = sceau_crypto::random_bytes();
        let input = code_input(delivery_view, recipient, now_s, nonce)?;
        let code = self.keys.delivery_code(&input, settings.code_digits);
        let expires_at_s = now_s + self.settings.seal_validity_s;
        let text = self.code_text(&context, &code, expires_at_s);
        let medium = match recipient.client_id {
            Some(client_id) => match self.store.client(client_id).await? {
                Some(client) => client.phone_medium(),
                None => Medium::Sms,
            },
            None => Medium::Sms,
        };
        let outcome = self
            .store
            .send_recipient_code(RecipientCodeSend {
                link_sha256: link,
                client_id: recipient.client_id,
                code: StoredSeal {
                    nonce,
                    digits: settings.code_digits.get(),
                    issued_at_s: now_s,
                    expires_at_s,
                },
                message: NewMessage {
                    address: phone.as_str().to_owned(),
                    sealed_body: self.keys.seal(&text, phone.as_str()),
                    medium,
                    expires_at_s,
                },
                budget: self.settings.message_budget(),
                now_s,
            })
            .await?;
        match outcome {
            RecipientCodeOutcome::Sent(_) => {
                self.outbox_ready.notify_one();
                Ok(expires_at_s)
            }
            RecipientCodeOutcome::Throttled(too_many) => Err(AppError::Throttled(too_many)),
            RecipientCodeOutcome::Refused(refusal) => Err(AppError::Recipient(refusal)),
            RecipientCodeOutcome::NotFound => Err(AppError::UnknownDelivery),
        }
    }

    /// The code's SMS: the code, who it is from (the sender, unless hidden) and what for.
    fn code_text(
        &self,
        context: &RecipientContext,
        code: &Seal,
        expires_at_s: i64,
    ) -> Zeroizing<String> {
        let from = match (&context.sender_name, context.delivery.hide_sender) {
            (Some(name), false) => format!(" from {name}"),
            _ => String::new(),
        };
        let until = crate::clock::clock_time(expires_at_s);
        let files = context.envelope.files.len();
        Zeroizing::new(format!(
            "{}: code {} to open the certified delivery{from} ({files} file{}), until {until}. \
             Never give it to anyone.",
            self.settings.issuer_name,
            code.digits(),
            if files == 1 { "" } else { "s" },
        ))
    }

    /// A code typed on the page of link `token`: the right one opens the recipient's
    /// session (its token returned, for a cookie), a wrong one counts.
    pub async fn type_recipient_code(
        &self,
        token: &str,
        typed: &str,
    ) -> Result<RecipientSession, AppError> {
        let link = parse_token(token).ok_or(AppError::UnknownDelivery)?;
        let settings = self.delivery_settings()?.clone();
        let typed = typed
            .trim()
            .parse::<Seal>()
            .map_err(|_| AppError::WrongCode {
                tries_left: settings.code_tries_max,
            })?;
        let now_s = self.now_s();
        let session = Zeroizing::new(hex::encode(sceau_crypto::random_bytes::<32>()));
        let keys = Arc::clone(&self.keys);
        let digits = settings.code_digits;
        let check: RecipientCodeCheck = Box::new(move |view, recipient| {
            let Some(code) = &recipient.code else {
                return false;
            };
            let Ok(input) = code_input(view, recipient, code.issued_at_s, code.nonce) else {
                return false;
            };
            typed.digits().len() == usize::from(digits.get())
                && keys.delivery_code_matches(&input, digits, &typed)
        });
        let expires_at_s = now_s + settings.session_s;
        let outcome = self
            .store
            .type_recipient_code(TypedRecipientCode {
                link_sha256: link,
                check,
                session_sha256: token_digest(&session),
                session_expires_at_s: expires_at_s,
                tries_max: settings.code_tries_max,
                pause_s: settings.pause_s,
                now_s,
            })
            .await?;
        match outcome {
            TypedCodeOutcome::Right(_) => Ok(RecipientSession {
                token: session,
                expires_at_s,
            }),
            TypedCodeOutcome::Wrong { tries_left } => Err(AppError::WrongCode { tries_left }),
            TypedCodeOutcome::Paused { .. } => {
                self.tell_senders_now().await;
                Err(AppError::Recipient(RecipientRefusal::Paused))
            }
            TypedCodeOutcome::NoCode => Err(AppError::CodeExpired),
            TypedCodeOutcome::Refused(refusal) => Err(AppError::Recipient(refusal)),
            TypedCodeOutcome::NotFound => Err(AppError::UnknownDelivery),
        }
    }

    /// The recipient of link `token` in their session `session` (their cookie's token).
    pub async fn recipient_in_session(
        &self,
        token: &str,
        session: &str,
    ) -> Result<RecipientContext, AppError> {
        let link = parse_token(token).ok_or(AppError::UnknownDelivery)?;
        let session = parse_token(session).ok_or(AppError::RecipientSignedOut)?;
        let view = self
            .store
            .delivery_by_session(link, session, self.now_s())
            .await?
            .ok_or(AppError::RecipientSignedOut)?;
        let mut context = self.recipient_context(view, true).await?;
        context.session_sha256 = Some(session);
        Ok(context)
    }

    /// Hands the files over to the recipient in session: sceau certifies the key their
    /// browser made (`public_key`, a P-256 SubjectPublicKeyInfo) for this recipient of
    /// this delivery, for the session's remaining life; the hand-over is evidence.
    pub async fn withdraw_delivery(
        &self,
        token: &str,
        session: &str,
        public_key: &[u8],
    ) -> Result<Withdrawal, AppError> {
        let context = self.recipient_in_session(token, session).await?;
        // Refused before the CA signs anything (the store judges it again).
        if context.recipient.session_withdrawals >= delivery::SESSION_WITHDRAWALS_MAX {
            return Err(AppError::Recipient(RecipientRefusal::TooManyWithdrawals));
        }
        let key = sceau_pki::station::parse_station_key(public_key)
            .map_err(|e| AppError::InvalidField(format!("public_key: {e}")))?;
        let now_s = self.now_s();
        let lifetime_s = context
            .recipient
            .session_expires_at_s
            .map_or(60, |end| (end - now_s).clamp(60, 3_600));
        let pki = Arc::clone(self.white_room()?);
        let subject = WITHDRAWAL_SUBJECT;
        let issued = crate::white_room::blocking_pki(move || {
            pki.authority
                .certify_station_key(&key, subject, now_s, lifetime_s)
        })
        .await?;
        let (not_before_s, not_after_s) = issued.validity_s();
        let serial = sceau_pki::ca::serial_hex(&issued);
        let outcome = self
            .store
            .withdraw_delivery(RecipientWithdrawal {
                link_sha256: token_digest(token),
                session_sha256: token_digest(session),
                certificate: NewCertificate {
                    serial: serial.clone(),
                    kind: CertificateKind::Station,
                    client_id: None,
                    key_label: None,
                    der: issued.der.clone(),
                    not_before_s,
                    not_after_s,
                    names_serial: None,
                    now_s,
                },
                now_s,
            })
            .await?;
        match outcome {
            WithdrawalOutcome::Withdrawn(_) => Ok(Withdrawal {
                serial,
                certificate: issued.der,
                not_after_s,
            }),
            WithdrawalOutcome::Refused(refusal) => Err(AppError::Recipient(refusal)),
            WithdrawalOutcome::NotFound => Err(AppError::RecipientSignedOut),
        }
    }

    /// A file of the delivery (its name, and the archived object), for a recipient in
    /// session who withdrew (the withdrawal certificate made for their browser).
    pub async fn delivered_file(
        &self,
        context: &RecipientContext,
        position: u32,
    ) -> Result<(EnvelopeFileView, ArchiveReader), AppError> {
        match context.recipient.state {
            RecipientState::Withdrawn => {}
            RecipientState::Authenticated => {
                return Err(AppError::Recipient(RecipientRefusal::NotWithdrawn));
            }
            _ => return Err(AppError::Recipient(RecipientRefusal::Over)),
        }
        if self.now_s() >= context.delivery.deadline_s {
            return Err(AppError::Recipient(RecipientRefusal::DeadlinePassed));
        }
        // Handed over in the session that withdrew them only: each later session
        // withdraws again, and that withdrawal is evidence (ContentAccessTracking).
        if context.session_sha256.is_none()
            || context.recipient.withdrawn_session_sha256 != context.session_sha256
        {
            return Err(AppError::Recipient(RecipientRefusal::NotWithdrawn));
        }
        let file = context
            .envelope
            .files
            .iter()
            .find(|file| file.position == position)
            .cloned()
            .ok_or(AppError::UnknownFile)?;
        let reader = self
            .envelope_object(ArchivedObject {
                sha256: file.sha256,
                size: file.size,
            })
            .await?;
        Ok((file, reader))
    }

    /// The sender's certificate (DER): the one the files were signed under.
    pub async fn delivery_sender_certificate(
        &self,
        context: &RecipientContext,
    ) -> Result<Vec<u8>, AppError> {
        let serial = context
            .envelope
            .signer_serial
            .as_deref()
            .ok_or_else(|| internal("a notarized envelope without its signer"))?;
        Ok(self
            .store
            .certificate(serial)
            .await?
            .ok_or_else(|| internal("a signer's certificate missing"))?
            .der)
    }

    /// A recipient's answer: `statement` (the exact text their browser signed) and its
    /// signature (`r || s`) under their withdrawal certificate. Checked (the statement
    /// names this delivery, this recipient, that certificate and every file), time-stamped
    /// and kept with its evidence; an acceptance needs every digest to be the envelope's.
    pub async fn answer_delivery(
        &self,
        token: &str,
        session: &str,
        statement: &str,
        signature: &[u8],
    ) -> Result<RecipientState, AppError> {
        let context = self.recipient_in_session(token, session).await?;
        if context.recipient.state != RecipientState::Withdrawn {
            let refusal = match context.recipient.state {
                RecipientState::Authenticated => RecipientRefusal::NotWithdrawn,
                _ => RecipientRefusal::Over,
            };
            return Err(AppError::Recipient(refusal));
        }
        let ParsedStatement {
            accept,
            certificate: serial,
            digests,
            ..
        } = read_statement(&context, statement)?;
        let certificate = self
            .store
            .certificate(&serial)
            .await?
            .ok_or(AppError::WithdrawalCertificateUnusable)?;
        let issued = sceau_pki::Issued::from_der(&certificate.der)
            .map_err(|_| internal("a stored withdrawal certificate"))?;
        if !sceau_pki::station::station_signature_verifies(&issued, statement.as_bytes(), signature)
        {
            return Err(AppError::AnswerSignatureInvalid);
        }
        let now_s = self.now_s();
        let mut signed = Sha256::new();
        signed.update(statement.as_bytes());
        signed.update(signature);
        let digest: [u8; 32] = signed.finalize().into();
        let pki = Arc::clone(self.white_room()?);
        let time_stamp =
            crate::white_room::blocking_pki(move || pki.tsa.stamp(&digest, now_s)).await?;
        let outcome = self
            .store
            .answer_delivery(RecipientAnswerSent {
                link_sha256: token_digest(token),
                session_sha256: token_digest(session),
                accept,
                serial,
                digests,
                answer: RecipientAnswer {
                    statement: statement.to_owned(),
                    signature: signature.to_vec(),
                    time_stamp,
                    answered_at_s: now_s,
                },
                now_s,
            })
            .await?;
        match outcome {
            AnswerOutcome::Answered(view) => {
                self.tell_senders_now().await;
                view.recipients
                    .first()
                    .map(|recipient| recipient.state)
                    .ok_or_else(|| internal("an answered recipient vanished"))
            }
            AnswerOutcome::DigestsDiffer(positions) => Err(AppError::DigestsDiffer(positions)),
            AnswerOutcome::CertificateUnusable => Err(AppError::WithdrawalCertificateUnusable),
            AnswerOutcome::Refused(refusal) => Err(AppError::Recipient(refusal)),
            AnswerOutcome::NotFound => Err(AppError::RecipientSignedOut),
        }
    }

    /// The receipt of recipient `position` of `sender`'s delivery (canonical JSON, format
    /// `sceau-delivery-receipt/1`): what became of them, with the records' places in the
    /// log, the withdrawal certificate and the signed, time-stamped answer; checked
    /// offline by `sceau verify`. `EvidencePending` until the log holds every record.
    pub async fn delivery_receipt(
        &self,
        sender: &ClientRecord,
        public_id: &str,
        position: u32,
    ) -> Result<Vec<u8>, AppError> {
        let view = self.sender_delivery(sender, public_id).await?;
        let recipient = view
            .recipient(position)
            .cloned()
            .ok_or(AppError::UnknownDelivery)?;
        let mut subjects = vec![
            sceau_store::evidence::delivery_subject(view.id),
            sceau_store::evidence::delivery_recipient_subject(view.id, position),
        ];
        if let Some(serial) = &recipient.withdrawal_serial {
            subjects.push(sceau_store::evidence::certificate_subject(serial));
        }
        let mut chains = self.logged_subjects(&subjects).await?.into_iter();
        let records = chains.next().unwrap_or_default();
        let recipient_records = chains.next().unwrap_or_default();
        let withdrawal_records = chains.next().unwrap_or_default();
        let checkpoint = self.log_checkpoint().await?;
        let records = self.proved(records, checkpoint.size).await?;
        let recipient_records = self.proved(recipient_records, checkpoint.size).await?;
        let withdrawal_records = self.proved(withdrawal_records, checkpoint.size).await?;
        let withdrawal_certificate = match &recipient.withdrawal_serial {
            Some(serial) => Some(
                self.store
                    .certificate(serial)
                    .await?
                    .ok_or_else(|| internal("a withdrawal certificate is missing"))?
                    .der,
            ),
            None => None,
        };
        crate::delivery_receipt::write(&crate::delivery_receipt::Contents {
            delivery: view.public_id.clone(),
            position,
            email: recipient.email.clone(),
            phone: recipient.phone_given.then(|| recipient.phone.clone()),
            contact_salt: recipient.contact_salt,
            size: checkpoint.size,
            checkpoint: checkpoint.note,
            records,
            recipient_records,
            withdrawal_records,
            withdrawal_certificate,
            answer: recipient
                .answer
                .as_ref()
                .map(|answer| crate::delivery_receipt::Answer {
                    statement: answer.statement.clone(),
                    signature: answer.signature.clone(),
                    time_stamp: answer.time_stamp.clone(),
                }),
        })
        .map_err(|_| internal("a delivery receipt could not be written"))
    }

    /// The deliveries' sweep: recipients past their deadline expire, and senders are told
    /// of every recipient's state worth telling. Run beside the outbox's sweeps.
    pub async fn sweep_deliveries(&self) -> Result<(u64, u64), AppError> {
        let now_s = self.now_s();
        let mut expired = 0;
        loop {
            let batch = self.store.expire_deliveries(now_s, 50).await?;
            expired += batch;
            if batch == 0 {
                break;
            }
        }
        if let Some(days) = self.delivery_settings()?.reminder_days {
            let ahead_s = i64::from(days) * 86_400;
            loop {
                let reminder = self.reminder();
                let batch = self
                    .store
                    .remind_recipients(reminder, ahead_s, 50, now_s)
                    .await?;
                if batch > 0 {
                    self.outbox_ready.notify_one();
                }
                if batch < 50 {
                    break;
                }
            }
        }
        let told = self.tell_senders().await?;
        Ok((expired, told))
    }

    /// How a recipient's reminder is written, for the store to call in its transaction:
    /// the notice again, its link made again from the recipient's salt.
    fn reminder(&self) -> SenderNotice {
        let service = self.clone();
        Box::new(move |view: &DeliveryView, recipient: &RecipientView| {
            let email: EmailAddress = recipient.email.parse().ok()?;
            let token = hex::encode(service.keys.delivery_link(
                &view.public_id,
                recipient.position,
                &recipient.contact_salt,
            ));
            let link = format!("{}/d/{token}", view.link_base);
            let notice = sceau_channel::email::templates::DeliveryNotice {
                sender: (!view.hide_sender).then_some(view.sender_name.as_str()),
                issuer_name: &service.settings.issuer_name,
                files: view.file_digests.len(),
                first_name: &view.first_name,
                deadline_s: view.deadline_s,
                link: &link,
                reminder: true,
            };
            match service.notice_email(&email, &notice, view.deadline_s) {
                Ok(message) => Some(message),
                Err(error) => {
                    tracing::error!(code = error.code(), "a reminder could not be written");
                    None
                }
            }
        })
    }

    /// Queues the senders' notices of recipients whose state they were not told of.
    pub async fn tell_senders(&self) -> Result<u64, AppError> {
        let now_s = self.now_s();
        let mut told = 0;
        loop {
            let notice = self.sender_notice();
            let batch = self.store.tell_senders(notice, 50, now_s).await?;
            told += batch;
            if batch < 50 {
                break;
            }
        }
        if told > 0 {
            self.outbox_ready.notify_one();
        }
        Ok(told)
    }

    /// Tells senders now (after an answer or a pause), beside the request: the answer
    /// is kept already, and a failure or a backlog is left to the sweep.
    async fn tell_senders_now(&self) {
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(error) = service.tell_senders().await {
                tracing::warn!(code = error.code(), "senders not told yet; the sweep will");
            }
        });
    }

    /// How a sender's notice is written, for the store to call in its transaction (a
    /// sender without an e-mail address is not told by e-mail: their envelope's page
    /// shows every recipient's state).
    fn sender_notice(&self) -> SenderNotice {
        let service = self.clone();
        Box::new(move |view: &DeliveryView, recipient: &RecipientView| {
            let email = view.sender_email.as_deref()?;
            let written = sceau_channel::email::templates::delivery_outcome(
                &sceau_channel::email::templates::DeliveryOutcome {
                    sender_name: &view.sender_name,
                    issuer_name: &service.settings.issuer_name,
                    delivery: &view.public_id,
                    files: view.file_digests.len(),
                    first_name: &view.first_name,
                    position: recipient.position + 1,
                    recipient: &recipient.email,
                    state: recipient.state.as_str(),
                },
            );
            let written = match written {
                Ok(written) => written,
                Err(error) => {
                    tracing::error!(%error, "a sender's notice could not be written");
                    return None;
                }
            };
            let expires_at_s = service.now_s() + SENDER_NOTICE_S;
            email_message(&service, email, written, expires_at_s).ok()
        })
    }
}

/// How long a sender's notice may wait for a route.
const SENDER_NOTICE_S: i64 = 7 * 86_400;

/// An e-mail's words as a queued message, sealed as the dispatcher opens it.
fn email_message(
    service: &Service,
    to: &str,
    written: sceau_channel::email::templates::EmailText,
    expires_at_s: i64,
) -> Result<NewMessage, AppError> {
    let body = EmailBody {
        subject: written.subject,
        text: written.text,
        html: Some(written.html),
    };
    let json = serde_json::to_string(&body).map_err(|error| internal(&error.to_string()))?;
    Ok(NewMessage {
        address: to.to_owned(),
        sealed_body: service.keys.seal(&json, to),
        medium: Medium::Email,
        expires_at_s,
    })
}

/// The envelope's destinations as recipients (a destination without an address is not
/// one: the notice goes by e-mail).
fn destinations(envelope: &EnvelopeView) -> Result<Vec<RecipientRequest>, AppError> {
    let mut recipients = Vec::with_capacity(envelope.destinations.len());
    for (index, destination) in envelope.destinations.iter().enumerate() {
        let email = destination.email.as_deref().ok_or_else(|| {
            AppError::InvalidField(format!(
                "destination {} of the envelope has no e-mail address: name the recipients",
                index + 1
            ))
        })?;
        let email: EmailAddress = email
            .parse()
            .map_err(|_| internal("a stored destination address"))?;
        let phone = destination
            .phone
            .as_deref()
            .map(str::parse::<PhoneNumber>)
            .transpose()
            .map_err(|_| internal("a stored destination phone"))?;
        recipients.push(RecipientRequest { email, phone });
    }
    if recipients.is_empty() {
        return Err(AppError::Delivery(DeliveryError::NoRecipients));
    }
    Ok(recipients)
}

/// The code's input for `recipient` of `view`.
fn code_input(
    view: &DeliveryView,
    recipient: &RecipientView,
    issued_at_s: i64,
    nonce: [u8; 16],
) -> Result<DeliveryCodeInput, AppError> {
    let mut delivery_id = [0_u8; 16];
    hex::decode_to_slice(&view.public_id, &mut delivery_id)
        .map_err(|_| internal("stored delivery id"))?;
    Ok(DeliveryCodeInput {
        delivery: delivery_id,
        recipient: recipient.position,
        manifest_digest: view.manifest_sha256,
        phone_digest: Sha256::digest(recipient.phone.as_bytes()).into(),
        issued_at_s,
        nonce,
    })
}

/// A recipient's statement as read, its form checked (not yet against a recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedStatement {
    pub delivery: String,
    pub recipient: u32,
    /// The withdrawal certificate's serial the statement names.
    pub certificate: String,
    pub accept: bool,
    /// The digests the browser computed, in the files' order (none for a file it could
    /// not read: only in a refusal).
    pub digests: Vec<Option<[u8; 32]>>,
    pub reason: Option<String>,
}

/// Reads the text of a recipient's statement (what their browser signed): at most
/// [`STATEMENT_BYTES_MAX`] bytes of JSON of the statement's members alone, of type
/// [`STATEMENT_TYPE`], answering `accept` or `reject`, each file once in order with a
/// digest of 64 lowercase hex digits (or none, in a refusal), a reason of at most
/// [`REASON_CHARS_MAX`] characters; an acceptance only of files whose checks passed.
pub fn parse_statement(text: &str) -> Result<ParsedStatement, AppError> {
    let invalid = |why: &str| AppError::InvalidAnswer(format!("the answer's statement {why}"));
    if text.len() > STATEMENT_BYTES_MAX {
        return Err(invalid("is too long"));
    }
    let statement: Statement =
        serde_json::from_str(text).map_err(|_| invalid("is not the JSON expected"))?;
    if statement.kind != STATEMENT_TYPE {
        return Err(invalid("is not of the type sceau-delivery-answer/1"));
    }
    let accept = match statement.answer.as_str() {
        "accept" => true,
        "reject" => false,
        _ => return Err(invalid("answers neither accept nor reject")),
    };
    if statement
        .reason
        .as_ref()
        .is_some_and(|reason| reason.chars().count() > REASON_CHARS_MAX)
    {
        return Err(invalid("gives a reason longer than 1000 characters"));
    }
    let mut digests = Vec::with_capacity(statement.files.len());
    for (position, file) in statement.files.iter().enumerate() {
        if usize::try_from(file.position).ok() != Some(position) {
            return Err(invalid("does not name the files in order"));
        }
        let digest = match &file.sha256 {
            Some(text) => {
                let mut digest = [0_u8; 32];
                if text.len() != 64
                    || text.bytes().any(|b| b.is_ascii_uppercase())
                    || hex::decode_to_slice(text, &mut digest).is_err()
                {
                    return Err(invalid(
                        "holds a digest that is not 64 lowercase hex digits",
                    ));
                }
                Some(digest)
            }
            None if accept => return Err(invalid("accepts a file it could not read")),
            None => None,
        };
        if accept && !(file.digest_matches && file.signature_valid) {
            return Err(invalid("accepts a file whose check failed"));
        }
        digests.push(digest);
    }
    Ok(ParsedStatement {
        delivery: statement.delivery,
        recipient: statement.recipient,
        certificate: statement.certificate,
        accept,
        digests,
        reason: statement.reason,
    })
}

/// Reads a recipient's statement ([`parse_statement`]) against what they were handed:
/// this delivery, this recipient, their latest withdrawal certificate, every file.
fn read_statement(context: &RecipientContext, text: &str) -> Result<ParsedStatement, AppError> {
    let statement = parse_statement(text)?;
    let invalid = |why: &str| AppError::InvalidAnswer(format!("the answer's statement {why}"));
    if statement.delivery != context.delivery.public_id
        || statement.recipient != context.recipient.position
    {
        return Err(invalid("names another delivery or recipient"));
    }
    if context.recipient.withdrawal_serial.as_deref() != Some(statement.certificate.as_str()) {
        return Err(AppError::WithdrawalCertificateUnusable);
    }
    if statement.digests.len() != context.envelope.files.len() {
        return Err(invalid("does not name every file once"));
    }
    Ok(statement)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn statement(answer: &str, files: &str) -> String {
        format!(
            "{{\"type\":\"sceau-delivery-answer/1\",\"delivery\":\"d\",\"recipient\":0,\
             \"certificate\":\"c\",\"answer\":\"{answer}\",\"files\":[{files}]}}"
        )
    }

    fn file(position: u32, sha256: &str, ok: bool) -> String {
        format!(
            "{{\"position\":{position},\"sha256\":{sha256},\"digest_matches\":{ok},\
             \"signature_valid\":{ok}}}"
        )
    }

    #[test]
    fn only_64_lowercase_hex_digits_are_a_token() {
        let token = "0123456789abcdef".repeat(4);
        assert_eq!(parse_token(&token), Some(token_digest(&token)));
        assert_eq!(parse_token(&token.to_uppercase()), None);
        assert_eq!(parse_token(&token[1..]), None);
        assert_eq!(parse_token(&format!("{token}0")), None);
        assert_eq!(parse_token(&format!("g{}", &token[1..])), None);
        assert_eq!(parse_token(&format!("é{}", &token[2..])), None);
        assert_eq!(parse_token(""), None);
    }

    #[test]
    fn a_statement_is_read_as_the_browser_writes_it() {
        let digest = format!("\"{}\"", "ab".repeat(32));
        let text = statement(
            "accept",
            &[file(0, &digest, true), file(1, &digest, true)].join(","),
        );
        let read = parse_statement(&text).unwrap();
        assert!(read.accept);
        assert_eq!(read.digests, vec![Some([0xab; 32]); 2]);
        assert_eq!(
            (read.delivery.as_str(), read.certificate.as_str()),
            ("d", "c")
        );
        // A refusal may name a file the browser could not read.
        let text = statement(
            "reject",
            &[file(0, &digest, true), file(1, "null", false)].join(","),
        );
        assert_eq!(parse_statement(&text).unwrap().digests[1], None);
    }

    #[test]
    fn a_statement_that_breaks_a_rule_is_refused_with_its_reason() {
        let digest = format!("\"{}\"", "ab".repeat(32));
        let cases = [
            (
                statement("accept", &file(0, "null", false)),
                "could not read",
            ),
            (
                statement("accept", &file(0, &digest, false)),
                "check failed",
            ),
            (
                statement("maybe", &file(0, &digest, true)),
                "neither accept",
            ),
            (statement("accept", &file(1, &digest, true)), "in order"),
            (
                statement(
                    "accept",
                    &file(0, &format!("\"{}\"", "AB".repeat(32)), true),
                ),
                "64 lowercase",
            ),
            (
                statement("accept", &file(0, &digest, true)).replace("answer/1", "answer/2"),
                "type",
            ),
            (
                statement("accept", &file(0, &digest, true))
                    .replace("\"files\"", "\"extra\":1,\"files\""),
                "JSON expected",
            ),
            (" ".repeat(STATEMENT_BYTES_MAX + 1), "too long"),
        ];
        for (text, why) in cases {
            let Err(AppError::InvalidAnswer(message)) = parse_statement(&text) else {
                panic!("{text} was read");
            };
            assert!(message.contains(why), "{message} / {why}");
        }
        let long = format!(
            "{{\"type\":\"sceau-delivery-answer/1\",\"delivery\":\"d\",\"recipient\":0,\
             \"certificate\":\"c\",\"answer\":\"reject\",\"files\":[],\"reason\":\"{}\"}}",
            "é".repeat(REASON_CHARS_MAX + 1)
        );
        assert!(parse_statement(&long).is_err());
    }
}
