//! The issuer's operators and their console (issue 23): accounts made with the CLI,
//! password sign-in with the clients' pauses (lifted only by a new password), sessions,
//! actions written with their evidence, and the figures the console's first page shows.

use crate::error::AppError;
use crate::service::{Service, check_strength};
use crate::sign_in::check_password;
use sceau_domain::operator::{Actor, OperatorAction, OperatorLogin};
use sceau_store::*;
use zeroize::Zeroizing;

/// Merchants a search by name looks through (the console's: a few at most, by hand).
const MERCHANTS_LOOKED_THROUGH: u32 = 100_000;

/// Operators' accounts listed at most (a team's, by hand).
pub const OPERATORS_LISTED_MAX: u32 = 10_000;

/// How long a console session lives: a working shift, no more.
pub const OPERATOR_SESSION_TTL_S: i64 = 8 * 3600;

/// Numbers the console lists at most: a client's newest, or those ending in the digits
/// looked for.
pub const CONSOLE_NUMBERS_MAX: u32 = 50;

/// Messages the console's list of the outbox shows.
pub const CONSOLE_MESSAGES_MAX: u32 = 50;

/// The service's health as the console's first page shows it and the scraped gauges
/// report it (`Service::record_gauges`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleFigures {
    /// Messages not sent yet, and the oldest one's age (seconds).
    pub outbox_pending: u64,
    pub outbox_oldest_age_s: Option<i64>,
    /// The transparency log: its size at the last checkpoint, that checkpoint's age, the
    /// entries not integrated yet.
    pub log_size: u64,
    pub checkpoint_age_s: Option<i64>,
    pub log_waiting: u64,
}

impl Service {
    /// Makes an operator's account (the CLI's `operator-add`).
    pub async fn add_operator(
        &self,
        login: &str,
        password: Zeroizing<String>,
    ) -> Result<OperatorRecord, AppError> {
        let login: OperatorLogin =
            login
                .parse()
                .map_err(|refused: sceau_domain::operator::LoginRefused| {
                    AppError::InvalidField(refused.to_string())
                })?;
        check_strength(&password)?;
        let operator = NewOperator {
            login,
            password_hash: crate::service::hash_password(password).await?,
            now_s: self.now_s(),
        };
        let added = self
            .store
            .add_operator(operator)
            .await?
            .ok_or(AppError::StoreConflict("login_taken"))?;
        tracing::info!(operator_id = added.id, "operator added");
        Ok(added)
    }

    /// The operators' accounts, oldest first (the CLI's `operator-list`).
    pub async fn operators(&self) -> Result<Vec<OperatorRecord>, AppError> {
        Ok(self.store.operators(OPERATORS_LISTED_MAX).await?)
    }

    /// Disables an operator (their sessions end; they cannot sign in) or enables them.
    pub async fn set_operator_disabled(&self, login: &str, disabled: bool) -> Result<(), AppError> {
        if !self.store.set_operator_disabled(login, disabled).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!(disabled, "an operator was disabled or enabled");
        Ok(())
    }

    /// Sets an operator's password, lifts a pause and ends their sessions (the CLI's
    /// `operator-password`).
    pub async fn reset_operator_password(
        &self,
        login: &str,
        password: Zeroizing<String>,
    ) -> Result<(), AppError> {
        check_strength(&password)?;
        let hash = crate::service::hash_password(password).await?;
        if !self.store.set_operator_password(login, hash).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!("an operator's password was set");
        Ok(())
    }

    /// Password sign-in of an operator: one Argon2 check and one write whether the login
    /// exists or not; while paused, every attempt answers as a wrong password.
    pub async fn operator_sign_in(
        &self,
        login: &str,
        password: Zeroizing<String>,
    ) -> Result<Option<OperatorRecord>, AppError> {
        let operator = self.store.operator_by_login(login).await?;
        let phc = match &operator {
            Some(operator) => operator.password_hash.clone(),
            None => crate::sign_in::dummy_hash().await?,
        };
        let checked_hash = password_digest(&phc);
        let right = check_password(password, phc).await?;
        let attempt = OperatorSignIn {
            operator_id: operator.as_ref().map_or(0, |operator| operator.id),
            password_right: right,
            checked_hash,
            now_s: self.now_s(),
        };
        let verdict = self.store.record_operator_sign_in(attempt).await?;
        match (operator, verdict) {
            (Some(operator), Some(SignInVerdict::Accepted)) => {
                tracing::info!(operator_id = operator.id, "operator signed in");
                Ok(Some(operator))
            }
            (Some(operator), Some(SignInVerdict::Wrong(failure))) => {
                if failure.locked_until_s.is_some() {
                    tracing::warn!(
                        operator_id = operator.id,
                        "operator sign-in paused after consecutive wrong passwords"
                    );
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Starts a console session: its token, given once (only its hash is stored).
    pub async fn start_operator_session(
        &self,
        operator: &OperatorRecord,
    ) -> Result<Zeroizing<String>, AppError> {
        let token = sceau_crypto::new_token("");
        let now_s = self.now_s();
        self.store
            .create_operator_session(NewOperatorSession {
                token_hash: sceau_crypto::token_hash(&token),
                operator_id: operator.id,
                now_s,
                expires_at_s: now_s + OPERATOR_SESSION_TTL_S,
            })
            .await?;
        Ok(token)
    }

    /// The operator of a live console session.
    pub async fn operator_of_session(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<OperatorRecord>, AppError> {
        Ok(self
            .store
            .operator_session(token_hash, self.now_s())
            .await?)
    }

    pub async fn end_operator_session(&self, token_hash: [u8; 32]) -> Result<(), AppError> {
        Ok(self.store.delete_operator_session(token_hash).await?)
    }

    /// Takes `action` for `operator`, with its evidence record on the client's chain,
    /// naming them (the log integrates it).
    pub async fn operator_acts(
        &self,
        operator: &OperatorRecord,
        action: OperatorAction,
    ) -> Result<ActionOutcome, AppError> {
        self.act_on_client(Actor::Operator(operator.id), action)
            .await
    }

    /// Takes `action` on a client for `actor` (an operator, or the admin token's holder),
    /// written with its evidence record: the one way a client's block changes.
    pub(crate) async fn act_on_client(
        &self,
        actor: Actor,
        action: OperatorAction,
    ) -> Result<ActionOutcome, AppError> {
        let acts = OperatorActs {
            actor,
            action,
            now_s: self.now_s(),
        };
        let outcome = self.store.operator_acts(acts).await?;
        if let ActionOutcome::Done(record) = &outcome {
            let operator_id = match actor {
                Actor::Operator(id) => Some(id),
                Actor::Admin => None,
            };
            tracing::info!(
                operator_id,
                client_id = action.client_id(),
                evidence_id = record.id,
                "{}",
                action.kind()
            );
        }
        Ok(outcome)
    }

    /// The client an operator looks for: by number (`42`), else by phone (`+33…`) or
    /// login as a merchant's checkout finds one.
    pub async fn console_find_client(&self, query: &str) -> Result<Option<ClientRecord>, AppError> {
        let query = query.trim();
        if query.is_empty() || query.len() > 100 {
            return Ok(None);
        }
        // Digits alone: a number ("+336…" would parse as one too).
        match query.parse::<i64>() {
            Ok(id) if query.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(self.store.client(id).await?)
            }
            _ => self.find_client(query).await,
        }
    }

    /// A client by number, for the console.
    pub async fn client_for_operator(&self, client_id: i64) -> Result<ClientRecord, AppError> {
        self.store
            .client(client_id)
            .await?
            .ok_or(AppError::UnknownClient)
    }

    /// The merchant an operator looks for: by number (`7`) or by name (whole, any case).
    pub async fn console_find_merchant(
        &self,
        query: &str,
    ) -> Result<Option<MerchantRecord>, AppError> {
        let query = query.trim();
        if query.is_empty() || query.len() > 200 {
            return Ok(None);
        }
        if query.bytes().all(|b| b.is_ascii_digit())
            && let Ok(id) = query.parse::<i64>()
            && let Some(merchant) = self.store.merchant(id).await?
        {
            return Ok(Some(merchant));
        }
        let wanted = query.to_lowercase();
        Ok(self
            .store
            .merchants(MERCHANTS_LOOKED_THROUGH)
            .await?
            .into_iter()
            .find(|merchant| merchant.name.to_lowercase() == wanted))
    }

    /// A merchant by number, for the console.
    pub async fn merchant_for_operator(
        &self,
        merchant_id: i64,
    ) -> Result<MerchantRecord, AppError> {
        self.store
            .merchant(merchant_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// An operator rotates a merchant's webhook secret (the merchant lost it, or it
    /// leaked): the rotation's record names them. `rotation` is the form's own token: the
    /// same form sent again (a reload) answers the same secret instead of rotating again.
    /// Its key has a space, which no merchant's `Idempotency-Key` may hold. Returns the
    /// merchant with the new secret.
    pub async fn operator_rotates_webhook_secret(
        &self,
        operator: &OperatorRecord,
        merchant_id: i64,
        overlap_s: i64,
        rotation: &str,
    ) -> Result<(MerchantRecord, crate::webhooks::RotatedSecret), AppError> {
        let merchant = self.merchant_for_operator(merchant_id).await?;
        let by = Self::acted_by(operator);
        let once = IdempotencyKey {
            key: format!("console {rotation}"),
            request_hash: sceau_crypto::token_hash("sceau console rotation v1"),
        };
        let rotated = self
            .rotate_webhook_secret(merchant_id, overlap_s, Some(once), by)
            .await?;
        tracing::info!(
            operator_id = operator.id,
            merchant_id,
            "webhook secret rotated by an operator"
        );
        Ok((merchant, rotated))
    }

    /// Who an operator is, as the evidence of what they do names them.
    fn acted_by(operator: &OperatorRecord) -> ActedBy {
        ActedBy::Operator {
            id: operator.id,
            login: operator.login.clone(),
        }
    }

    /// The numbers of a client ending in `last_four` (four digits), newest first: what
    /// a client reads out of a number on the phone.
    pub async fn console_numbers(
        &self,
        client_id: i64,
        last_four: &str,
    ) -> Result<Vec<NumberView>, AppError> {
        if last_four.len() != 4 || !last_four.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::InvalidField(
                "a number's last four digits: four digits".into(),
            ));
        }
        Ok(self
            .store
            .client_numbers_ending(client_id, last_four, CONSOLE_NUMBERS_MAX)
            .await?)
    }

    /// A client's page on the console: the client, their newest numbers and their
    /// certificates.
    pub async fn console_client(
        &self,
        client_id: i64,
    ) -> Result<(ClientRecord, Vec<NumberView>, Vec<CertificateRecord>), AppError> {
        let client = self.client_for_operator(client_id).await?;
        let numbers = self
            .store
            .client_numbers(client_id, CONSOLE_NUMBERS_MAX)
            .await?;
        let certificates = self.store.client_certificates(client_id).await?;
        Ok((client, numbers, certificates))
    }

    /// A message's course (states, route, times; the address masked, never the body).
    pub async fn console_message(&self, message_id: i64) -> Result<MessageStatus, AppError> {
        // The newest message before the next id: this one, if it is there.
        let before = message_id.checked_add(1).ok_or(AppError::NotFound)?;
        self.store
            .message_states(Some(before), 1)
            .await?
            .into_iter()
            .find(|message| message.id == message_id)
            .ok_or(AppError::NotFound)
    }

    /// An envelope, whoever's.
    pub async fn console_envelope(&self, public_id: &str) -> Result<EnvelopeView, AppError> {
        let public_id = crate::notary::envelope_id(public_id)?;
        self.store
            .envelope(public_id)
            .await?
            .ok_or(AppError::UnknownEnvelope)
    }

    /// An envelope's deliveries, newest first, for its page on the console.
    pub async fn console_envelope_deliveries(
        &self,
        envelope: &EnvelopeView,
    ) -> Result<Vec<DeliveryView>, AppError> {
        Ok(self
            .store
            .envelope_deliveries(envelope.id, crate::delivery::ENVELOPE_DELIVERIES_LISTED)
            .await?)
    }

    /// A certified delivery, whoever sent it.
    pub async fn console_delivery(&self, public_id: &str) -> Result<DeliveryView, AppError> {
        if !crate::signing::is_public_id(public_id) {
            return Err(AppError::UnknownDelivery);
        }
        self.store
            .delivery(public_id)
            .await?
            .ok_or(AppError::UnknownDelivery)
    }

    /// An operator revokes a certificate (a client's key lost or compromised): the
    /// revocation's record names them. Returns the certificate and whether this revoked
    /// it (false: it already was; the first revocation stands).
    pub async fn operator_revokes_certificate(
        &self,
        operator: &OperatorRecord,
        serial: &str,
        reason: sceau_pki::ca::RevocationReason,
    ) -> Result<(CertificateRecord, bool), AppError> {
        let (record, revoked) = self
            .revoke(serial, reason, Self::acted_by(operator))
            .await?;
        if revoked {
            tracing::info!(
                operator_id = operator.id,
                serial = record.serial,
                "certificate revoked by an operator"
            );
        }
        Ok((record, revoked))
    }

    /// An operator closes a clearing batch in `currency`: the batch's record names them.
    pub async fn operator_closes_clearing_batch(
        &self,
        operator: &OperatorRecord,
        currency: &str,
    ) -> Result<crate::clearing::ClosedBatch, AppError> {
        let closed = self
            .close_clearing_batch(currency, Self::acted_by(operator))
            .await?;
        tracing::info!(
            operator_id = operator.id,
            batch_id = closed.batch.id,
            "clearing batch closed by an operator"
        );
        Ok(closed)
    }

    /// The figures of the console's first page.
    pub async fn console_figures(&self) -> Result<ConsoleFigures, AppError> {
        let now_s = self.now_s();
        let backlog = self.store.outbox_backlog().await?;
        let waiting = self.store.log_waiting().await?;
        let checkpoint = self.store.log_checkpoint().await?;
        Ok(ConsoleFigures {
            outbox_pending: backlog.pending,
            outbox_oldest_age_s: backlog
                .oldest_created_at_s
                .map(|created| now_s.saturating_sub(created).max(0)),
            log_size: checkpoint.as_ref().map_or(0, |checkpoint| checkpoint.size),
            checkpoint_age_s: checkpoint
                .as_ref()
                .map(|checkpoint| now_s.saturating_sub(checkpoint.created_at_s).max(0)),
            log_waiting: waiting,
        })
    }
}
