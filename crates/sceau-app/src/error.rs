//! What a use case can refuse, as one enum. Each variant has a stable code (what clients
//! match on) and a message (what people read); neither says how it travels: the server
//! maps each variant to its HTTP status in one place (`sceau_server::error`), the CLI
//! prints code and message. Internal details go to the log, never into a message.

use crate::clock::clock_time;
use sceau_domain::bank::BankError;
use sceau_domain::card::CardError;
use sceau_domain::clearing::ClearingError;
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::reach::TooMany;
use sceau_domain::{MoneyError, text::TextRule};
use sceau_store::{CheckoutRefusal, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    // Refusals the domain and the store name, with their own codes.
    /// The authorization is declined (`Decline::code`).
    Declined(Decline),
    /// A later operation on an authorization is refused (`Rejection::code`).
    Rejected(Rejection),
    /// An amount or a currency does not parse (`MoneyError::code`).
    Money(MoneyError),
    /// Card details do not parse (`CardError::code`).
    Card(CardError),
    /// An IBAN or a BIC does not parse (`BankError::code`).
    Bank(BankError),
    /// The settlement file cannot be written; nothing was paid (`ClearingError::code`).
    Settlement(ClearingError),
    /// A step of a checkout is refused (`CheckoutRefusal::code`).
    Checkout(CheckoutRefusal),
    /// One more message would exceed what a client may be sent within the hour.
    Throttled(TooMany),
    /// The store refused a write that conflicts with what it holds (its code).
    StoreConflict(&'static str),
    IdempotencyKeyReused,
    StoreUnavailable,
    /// A bug or an impossible stored value: the details are in the log.
    Internal,

    // Fields that break their rule (the message names the field and the rule).
    InvalidField(String),
    InvalidReference(String),
    InvalidDocumentName(String),
    InvalidPhone(String),
    InvalidValidity(String),
    InvalidUses(String),
    InvalidUrl(String),
    InvalidLifetime(String),
    InvalidDocument(String),
    InvalidQuery(&'static str),
    InvalidStationKey(String),
    /// The upload of a file stopped before its end: nothing of it was kept, it may be
    /// sent again.
    UploadIncomplete,
    WeakPassword,
    IncompleteBankDetails,
    CurrencyMismatch,

    // Nothing there, or not for you.
    NotFound,
    UnknownClient,
    CheckoutNotFound,
    /// A payment that is not the client's, or not at all.
    PaymentNotFound,
    UnknownCertificate,
    UnknownSignature,
    UnknownEnvelope,
    /// The envelope has no file of this index.
    UnknownFile,
    NoEntry,
    NoTile,
    NoProof,
    LogEmpty,

    // Who may not.
    Blocked,
    ClientStopped,

    // The state forbids it.
    NoPhoneNumber,
    NoHolderCertificate,
    NoCertificate,
    CertificateNotValid,
    CertificateUsed,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    NotDisposable,
    NotAwaitingSeal(String),
    NotSigned(String),
    SignatureFailed,
    SealExpired,
    WrongSeal {
        tries_left: u32,
    },
    IssuerBankMissing,
    /// A client asked to be called from their session (the operator makes that change),
    /// or no route places calls.
    CallsUnavailable,
    NothingToClear(String),
    CheckoutNotPaid,
    EvidencePending,
    /// The envelope was refused (`sceau_domain::envelope::Refusal::code`), for good.
    EnvelopeRefused {
        code: &'static str,
        detail: String,
    },
    /// The station's certificate ended before the envelope was complete.
    EnvelopeExpired,
    /// The envelope does not take this now (its state says why).
    EnvelopeState(String),
    FileAlreadyReceived,
    EnvelopeFailed,
    /// An archived object is missing or not its bytes (the details are in the log).
    ArchiveDamaged,
    /// The archived content was deleted after its retention.
    ArchiveDeleted,

    // Too much at once.
    TooManyClients,
    TooManySignatures,
    NumberSpaceExhausted,
    UploadsBusy,
    /// The client already has as many envelope files being received as it may at once.
    TooManyUploads,
    PkiUnavailable,
    NotaryUnavailable,

    // Certified delivery.
    /// A delivery cannot be sent as asked (`DeliveryError::code`).
    Delivery(sceau_domain::delivery::DeliveryError),
    /// A recipient's step is refused in their state (`RecipientRefusal::code`).
    Recipient(sceau_domain::delivery::RecipientRefusal),
    /// No delivery by this id or link (or not the sender's).
    UnknownDelivery,
    /// No live recipient session on this link: the code from the phone is needed.
    RecipientSignedOut,
    WrongCode {
        tries_left: u32,
    },
    /// No code is live for this recipient: ask for one.
    CodeExpired,
    /// An acceptance of files whose digests are not the envelope's (their positions).
    DigestsDiffer(Vec<u32>),
    /// The answer names a withdrawal certificate that is not the recipient's latest, or
    /// was used, revoked or has ended.
    WithdrawalCertificateUnusable,
    /// The answer's statement breaks its rules (the message says which).
    InvalidAnswer(String),
    /// The answer's signature does not verify under the withdrawal certificate.
    AnswerSignatureInvalid,
}

impl AppError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        use AppError::*;
        match self {
            Declined(decline) => decline.code(),
            Rejected(rejection) => rejection.code(),
            Money(error) => error.code(),
            Card(error) => error.code(),
            Bank(error) => error.code(),
            Settlement(error) => error.code(),
            Checkout(refusal) => refusal.code(),
            Throttled(too_many) => too_many.code(),
            StoreConflict(code) => code,
            IdempotencyKeyReused => "idempotency_key_reused",
            StoreUnavailable => "store_unavailable",
            Internal => "internal",
            InvalidField(_) => "invalid_field",
            InvalidReference(_) => "invalid_reference",
            InvalidDocumentName(_) => "invalid_document_name",
            InvalidPhone(_) => "invalid_phone",
            InvalidValidity(_) => "invalid_validity",
            InvalidUses(_) => "invalid_uses",
            InvalidUrl(_) => "invalid_url",
            InvalidLifetime(_) => "invalid_lifetime",
            InvalidDocument(_) => "invalid_document",
            InvalidQuery(_) => "invalid_query",
            WeakPassword => "weak_password",
            IncompleteBankDetails => "incomplete_bank_details",
            CurrencyMismatch => "currency_mismatch",
            NotFound => "not_found",
            UnknownClient => "unknown_client",
            CheckoutNotFound | PaymentNotFound => "checkout_not_found",
            UnknownCertificate => "unknown_certificate",
            UnknownSignature => "unknown_signature",
            UnknownEnvelope => "unknown_envelope",
            UnknownFile => "unknown_file",
            InvalidStationKey(_) => "invalid_station_key",
            UploadIncomplete => "upload_incomplete",
            EnvelopeRefused { code, .. } => code,
            EnvelopeExpired => "envelope_expired",
            EnvelopeState(_) => "envelope_state",
            FileAlreadyReceived => "file_already_received",
            EnvelopeFailed => "envelope_failed",
            Delivery(error) => error.code(),
            Recipient(refusal) => refusal.code(),
            UnknownDelivery => "unknown_delivery",
            RecipientSignedOut => "recipient_signed_out",
            WrongCode { .. } => "wrong_code",
            CodeExpired => "code_expired",
            DigestsDiffer(_) => "digests_differ",
            WithdrawalCertificateUnusable => "withdrawal_certificate_unusable",
            InvalidAnswer(_) => "invalid_answer",
            AnswerSignatureInvalid => "answer_signature_invalid",
            ArchiveDamaged => "archive_damaged",
            ArchiveDeleted => "archive_deleted",
            NotaryUnavailable => "notary_unavailable",
            NoEntry => "no_entry",
            NoTile => "no_tile",
            NoProof => "no_proof",
            LogEmpty => "log_empty",
            Blocked => "blocked",
            ClientStopped => "client_stopped",
            NoPhoneNumber => "no_phone_number",
            NoHolderCertificate => "no_holder_certificate",
            NoCertificate => "no_certificate",
            CertificateNotValid => "certificate_not_valid",
            CertificateUsed => "certificate_used",
            CertificateExpired => "certificate_expired",
            CertificateNotYetValid => "certificate_not_yet_valid",
            CertificateRevoked => "certificate_revoked",
            NotDisposable => "not_disposable",
            NotAwaitingSeal(_) => "not_awaiting_seal",
            NotSigned(_) => "not_signed",
            SignatureFailed => "signature_failed",
            SealExpired => "seal_expired",
            WrongSeal { .. } => "wrong_seal",
            IssuerBankMissing => "issuer_bank_missing",
            CallsUnavailable => "calls_unavailable",
            NothingToClear(_) => "nothing_to_clear",
            CheckoutNotPaid => "checkout_not_paid",
            EvidencePending => "evidence_pending",
            TooManyClients => "too_many_clients",
            TooManySignatures => "too_many_signatures",
            NumberSpaceExhausted => "number_space_exhausted",
            UploadsBusy => "uploads_busy",
            TooManyUploads => "too_many_uploads",
            PkiUnavailable => "pki_unavailable",
        }
    }

    /// What people read.
    pub fn message(&self) -> String {
        use AppError::*;
        let text = match self {
            Declined(decline) => decline.message(),
            Rejected(rejection) => rejection.message(),
            Money(error) => return error.to_string(),
            Card(error) => return error.to_string(),
            Bank(error) => return error.to_string(),
            Settlement(error) => {
                return format!(
                    "the settlement file cannot be written ({error}); nothing was paid"
                );
            }
            Checkout(refusal) => return checkout_message(*refusal),
            Throttled(too_many) => too_many_message(*too_many),
            StoreConflict(code) => conflict_message(code),
            IdempotencyKeyReused => "this Idempotency-Key was used with a different request",
            StoreUnavailable => "try again shortly",
            Internal => "internal error",
            InvalidField(message)
            | InvalidReference(message)
            | InvalidDocumentName(message)
            | InvalidPhone(message)
            | InvalidValidity(message)
            | InvalidUses(message)
            | InvalidUrl(message)
            | InvalidLifetime(message)
            | InvalidDocument(message)
            | NotAwaitingSeal(message)
            | NotSigned(message)
            | InvalidStationKey(message)
            | EnvelopeState(message)
            | InvalidAnswer(message)
            | NothingToClear(message) => return message.clone(),
            Delivery(error) => return error.to_string(),
            Recipient(refusal) => return refusal.to_string(),
            UnknownDelivery => "no such delivery, or this link is not valid",
            RecipientSignedOut => "type the code sent to your phone first",
            WrongCode { tries_left } => {
                return format!("this is not the code sent to your phone; {tries_left} tries left");
            }
            CodeExpired => "no code is valid now: ask for a new one",
            DigestsDiffer(positions) => {
                let list: Vec<String> = positions.iter().map(|p| (p + 1).to_string()).collect();
                return format!(
                    "the files received are not those sent (file {}): they cannot be accepted",
                    list.join(", ")
                );
            }
            WithdrawalCertificateUnusable => {
                "this answer is not signed under your latest withdrawal certificate: \
                 receive the files again"
            }
            AnswerSignatureInvalid => "the answer's signature does not verify",
            InvalidQuery(message) => message,
            WeakPassword => "password must be 8 to 1024 characters",
            IncompleteBankDetails => "iban and bic are given together",
            CurrencyMismatch => "the client's account is in another currency",
            NotFound => "no such resource",
            UnknownClient => "no client of yours has this login or phone",
            CheckoutNotFound => "no such checkout",
            PaymentNotFound => "no such payment of yours",
            UnknownCertificate => "no certificate has this serial number",
            UnknownSignature => "no such signature request",
            UnknownEnvelope => "no such envelope",
            UnknownFile => "this envelope has no file of this index",
            UploadIncomplete => {
                "the file's upload stopped before its end: nothing of it was kept; send it again"
            }
            EnvelopeRefused { code, detail } => {
                let why = match *code {
                    "manifest_not_for_this_envelope" => {
                        "the manifest names another envelope or another certificate"
                    }
                    "manifest_invalid" => "the manifest breaks a rule",
                    "manifest_signature_invalid" => {
                        "the manifest's signature does not verify with this envelope's certificate"
                    }
                    "certificate_unusable" => "the station's certificate is revoked or used",
                    "file_size_mismatch" => "a file's size is not the one its manifest states",
                    "file_digest_mismatch" => "a file's SHA-256 is not the one its manifest states",
                    _ => "it does not match what the station signed",
                };
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                };
                return format!(
                    "the envelope is refused: {why}{detail}; nothing of it is kept, and its \
                     refusal is recorded"
                );
            }
            EnvelopeExpired => {
                "the station's certificate ended before the envelope was complete: open a new one"
            }
            FileAlreadyReceived => "this file was received already",
            EnvelopeFailed => "three wrong seals: nothing was signed; send the files again",
            ArchiveDamaged => "an archived file could not be read whole; the operator is told",
            ArchiveDeleted => "this content was deleted at the end of its retention",
            NotaryUnavailable => "this server has no notary configured",
            NoEntry => "no such entry",
            NoTile => "no such tile",
            NoProof => "no such proof: the sizes must be ordered and within the log's size",
            LogEmpty => "the log has no entry yet",
            Blocked => "this client's payments are blocked or paused",
            ClientStopped => "your account is blocked or paused",
            NoPhoneNumber => "only a client's holder certificate carries a phone number",
            NoHolderCertificate => "the client has no valid certificate to name",
            NoCertificate => "you have no valid certificate to sign with",
            CertificateNotValid => {
                "the certificate this signature was sealed for is revoked or expired: \
                 nothing was signed; ask again to sign"
            }
            CertificateUsed => "this disposable certificate was used already",
            CertificateExpired => "this disposable certificate has expired",
            CertificateNotYetValid => "this disposable certificate is not valid yet",
            CertificateRevoked => "this disposable certificate is revoked",
            NotDisposable => "only a disposable certificate is used this way",
            SignatureFailed => "three wrong seals: nothing was signed; ask again to sign",
            SealExpired => "this seal has expired: nothing was signed; ask again to sign",
            WrongSeal { tries_left } => {
                return format!("this is not the seal sent to your phone; {tries_left} tries left");
            }
            IssuerBankMissing => {
                "set issuer_iban and issuer_bic in the configuration to close clearing batches"
            }
            CallsUnavailable => {
                "calls are not chosen here: ask your bank to have your seals read out in phone calls"
            }
            CheckoutNotPaid => "only a paid checkout has a receipt",
            EvidencePending => "the log has not included this evidence yet; ask again in a moment",
            TooManyClients => {
                "you had numbers sent to as many clients as an hour allows; try later"
            }
            TooManySignatures => "too many seals were sent to your phone this hour; try later",
            NumberSpaceExhausted => "no free number could be drawn",
            UploadsBusy => "too many documents are being received right now; try again in a moment",
            TooManyUploads => {
                "as many of your files are being received as may be at once; send this one when \
                 one of them is in"
            }
            PkiUnavailable => "this server has no certificate authority configured",
        };
        text.to_owned()
    }

    /// Checks a text that people read against its rule (see [`sceau_domain::text`]):
    /// refused with `invalid` (the variant of the field's code), naming the field and
    /// saying the rule.
    pub fn check_text(
        field: &str,
        invalid: fn(String) -> AppError,
        text: &str,
        rule: TextRule,
    ) -> Result<(), AppError> {
        rule.check(text)
            .map_err(|_| invalid(format!("{field} must be {rule}")))
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for AppError {}

fn checkout_message(refusal: CheckoutRefusal) -> String {
    let text = match refusal {
        CheckoutRefusal::NotFound => "no such payment",
        CheckoutRefusal::OtherClient => "this payment is being made by another client",
        CheckoutRefusal::WrongState => "this payment can no longer be changed",
        CheckoutRefusal::Expired => "this payment has expired",
        CheckoutRefusal::SealCooldown { until_s } => {
            return format!("a new seal can be sent from {}", clock_time(until_s));
        }
        CheckoutRefusal::NoSealsLeft => "no more seals can be sent for this payment",
        CheckoutRefusal::NoLiveSeal => {
            "this seal is no longer valid; use the latest one sent to your phone"
        }
        CheckoutRefusal::ClientStopped => {
            "your payments are paused for a while after too many failed attempts"
        }
        CheckoutRefusal::TooManyHeld => {
            "you already have payments waiting for your seal; finish or let them expire first"
        }
        CheckoutRefusal::TooManySeals => {
            "too many seals were sent to your phone this hour; try later"
        }
        CheckoutRefusal::TooManyMessages => {
            "your phone was sent as many messages as an hour allows; try later"
        }
        CheckoutRefusal::SignedOut => "sign in first",
    };
    text.to_owned()
}

fn too_many_message(too_many: TooMany) -> &'static str {
    match too_many {
        TooMany::Seals => "too many seals were sent to this client in the last hour; try later",
        TooMany::Numbers => "too many numbers were sent to this client in the last hour; try later",
        TooMany::Messages => "this client was sent as many messages as an hour allows; try later",
    }
}

fn conflict_message(code: &str) -> &'static str {
    match code {
        "login_taken" => "this login is taken",
        "phone_taken" => "this phone number belongs to another client",
        "too_many_open_envelopes" => {
            "you have as many envelopes open as allowed: send or let one of them end first"
        }
        _ => "the request conflicts with the current state; retry",
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        match error {
            StoreError::Conflict(code) => AppError::StoreConflict(code),
            StoreError::IdempotencyMismatch => AppError::IdempotencyKeyReused,
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                AppError::StoreUnavailable
            }
            // A refused statement or a damaged value is a bug, never "try again": the
            // client is told it is internal, the log says which kind (a stable code).
            other => {
                tracing::error!(code = other.code(), error = %other, "store failure");
                AppError::Internal
            }
        }
    }
}

/// A bug or an impossible value: `detail` goes to the log (never a secret), the client
/// is told only that it is internal.
pub fn internal(detail: &str) -> AppError {
    tracing::error!(detail, "internal error");
    AppError::Internal
}

/// One of every refusal a use case can make: each variant once, and each variant of the
/// domain's refusals it wraps. What the API description is checked against
/// (`sceau-server/tests/openapi.rs`). A new variant does not compile until it is named
/// in the match below; name it in the list too.
pub fn every_refusal() -> Vec<AppError> {
    use AppError::*;
    let text = || String::new();
    let mut all = vec![
        StoreConflict("login_taken"),
        StoreConflict("phone_taken"),
        StoreConflict("api_key_taken"),
        StoreConflict("idempotency_key_in_flight"),
        StoreConflict("authorization_changed_concurrently"),
        StoreConflict("checkout_changed_concurrently"),
        StoreConflict("number_changed_concurrently"),
        StoreConflict("evidence_changed_concurrently"),
        StoreConflict("message_id_taken"),
        StoreConflict("certificate_key_taken"),
        StoreConflict("certificate_serial_taken"),
        IdempotencyKeyReused,
        StoreUnavailable,
        Internal,
        InvalidField(text()),
        InvalidReference(text()),
        InvalidDocumentName(text()),
        InvalidPhone(text()),
        InvalidValidity(text()),
        InvalidUses(text()),
        InvalidUrl(text()),
        InvalidLifetime(text()),
        InvalidDocument(text()),
        InvalidQuery(""),
        WeakPassword,
        IncompleteBankDetails,
        CurrencyMismatch,
        NotFound,
        UnknownClient,
        CheckoutNotFound,
        PaymentNotFound,
        UnknownCertificate,
        UnknownSignature,
        NoEntry,
        NoTile,
        NoProof,
        LogEmpty,
        Blocked,
        ClientStopped,
        NoPhoneNumber,
        NoHolderCertificate,
        NoCertificate,
        CertificateNotValid,
        CertificateUsed,
        CertificateExpired,
        CertificateNotYetValid,
        CertificateRevoked,
        NotDisposable,
        NotAwaitingSeal(text()),
        NotSigned(text()),
        SignatureFailed,
        SealExpired,
        WrongSeal { tries_left: 1 },
        IssuerBankMissing,
        CallsUnavailable,
        NothingToClear(text()),
        CheckoutNotPaid,
        EvidencePending,
        TooManyClients,
        TooManySignatures,
        NumberSpaceExhausted,
        UploadsBusy,
        TooManyUploads,
        PkiUnavailable,
        UnknownEnvelope,
        UnknownFile,
        InvalidStationKey(text()),
        UploadIncomplete,
        EnvelopeExpired,
        EnvelopeState(text()),
        FileAlreadyReceived,
        EnvelopeFailed,
        ArchiveDamaged,
        ArchiveDeleted,
        NotaryUnavailable,
        UnknownDelivery,
        RecipientSignedOut,
        WrongCode { tries_left: 1 },
        CodeExpired,
        DigestsDiffer(vec![0]),
        WithdrawalCertificateUnusable,
        InvalidAnswer(text()),
        AnswerSignatureInvalid,
    ];
    all.extend(every_domain_refusal());
    all.extend(delivery_refusals());
    for error in &all {
        match error {
            Declined(_)
            | Rejected(_)
            | Money(_)
            | Card(_)
            | Bank(_)
            | Settlement(_)
            | Checkout(_)
            | Throttled(_)
            | StoreConflict(_)
            | IdempotencyKeyReused
            | StoreUnavailable
            | Internal
            | InvalidField(_)
            | InvalidReference(_)
            | InvalidDocumentName(_)
            | InvalidPhone(_)
            | InvalidValidity(_)
            | InvalidUses(_)
            | InvalidUrl(_)
            | InvalidLifetime(_)
            | InvalidDocument(_)
            | InvalidQuery(_)
            | WeakPassword
            | IncompleteBankDetails
            | CurrencyMismatch
            | NotFound
            | UnknownClient
            | CheckoutNotFound
            | PaymentNotFound
            | UnknownCertificate
            | UnknownSignature
            | NoEntry
            | NoTile
            | NoProof
            | LogEmpty
            | Blocked
            | ClientStopped
            | NoPhoneNumber
            | NoHolderCertificate
            | NoCertificate
            | CertificateNotValid
            | CertificateUsed
            | CertificateExpired
            | CertificateNotYetValid
            | CertificateRevoked
            | NotDisposable
            | NotAwaitingSeal(_)
            | NotSigned(_)
            | SignatureFailed
            | SealExpired
            | WrongSeal { .. }
            | IssuerBankMissing
            | CallsUnavailable
            | NothingToClear(_)
            | CheckoutNotPaid
            | EvidencePending
            | TooManyClients
            | TooManySignatures
            | NumberSpaceExhausted
            | UnknownEnvelope
            | UnknownFile
            | InvalidStationKey(_)
            | UploadIncomplete
            | EnvelopeRefused { .. }
            | EnvelopeExpired
            | EnvelopeState(_)
            | FileAlreadyReceived
            | EnvelopeFailed
            | ArchiveDamaged
            | ArchiveDeleted
            | NotaryUnavailable
            | UploadsBusy
            | TooManyUploads
            | PkiUnavailable
            | Delivery(_)
            | Recipient(_)
            | UnknownDelivery
            | RecipientSignedOut
            | WrongCode { .. }
            | CodeExpired
            | DigestsDiffer(_)
            | WithdrawalCertificateUnusable
            | InvalidAnswer(_)
            | AnswerSignatureInvalid => {}
        }
    }
    all
}

/// Every way a delivery or a recipient's step is refused.
fn delivery_refusals() -> Vec<AppError> {
    use sceau_domain::delivery::{DeliveryError, RecipientRefusal};
    let sending = [
        DeliveryError::NoRecipients,
        DeliveryError::TooManyRecipients { given: 0, max: 0 },
        DeliveryError::RecipientTwice { index: 0 },
        DeliveryError::PhoneMismatch { index: 0 },
        DeliveryError::DeadlineOutOfRange { days: 0 },
    ];
    for error in &sending {
        match error {
            DeliveryError::NoRecipients
            | DeliveryError::TooManyRecipients { .. }
            | DeliveryError::RecipientTwice { .. }
            | DeliveryError::PhoneMismatch { .. }
            | DeliveryError::DeadlineOutOfRange { .. } => {}
        }
    }
    let steps = [
        RecipientRefusal::Over,
        RecipientRefusal::DeadlinePassed,
        RecipientRefusal::Paused,
        RecipientRefusal::NotAuthenticated,
        RecipientRefusal::NotWithdrawn,
        RecipientRefusal::NotApplicable,
        RecipientRefusal::TooManyWithdrawals,
        RecipientRefusal::TooManyCodes,
    ];
    for refusal in steps {
        match refusal {
            RecipientRefusal::Over
            | RecipientRefusal::DeadlinePassed
            | RecipientRefusal::Paused
            | RecipientRefusal::NotAuthenticated
            | RecipientRefusal::NotWithdrawn
            | RecipientRefusal::NotApplicable
            | RecipientRefusal::TooManyWithdrawals
            | RecipientRefusal::TooManyCodes => {}
        }
    }
    sending
        .into_iter()
        .map(AppError::Delivery)
        .chain(steps.into_iter().map(AppError::Recipient))
        .collect()
}

/// Every variant of the domain's and the store's refusals that [`AppError`] wraps.
fn every_domain_refusal() -> Vec<AppError> {
    use sceau_domain::clearing::Field;
    let declines = [
        Decline::UnknownNumber,
        Decline::WrongCardDetails,
        Decline::Expired,
        Decline::AlreadyUsed,
        Decline::OverCap,
        Decline::AmountMismatch,
        Decline::OtherMerchant,
        Decline::CurrencyMismatch,
        Decline::InsufficientFunds,
        Decline::Blocked,
    ];
    let rejections = [
        Rejection::NotFound,
        Rejection::AlreadyCaptured,
        Rejection::Voided,
        Rejection::HoldExpired,
        Rejection::NotCaptured,
        Rejection::ExceedsAuthorized,
        Rejection::ExceedsRefundable,
        Rejection::CurrencyMismatch,
        Rejection::OfCheckout,
    ];
    let money = [
        MoneyError::UnknownCurrency,
        MoneyError::Malformed,
        MoneyError::TooManyDecimals,
        MoneyError::NotPositive,
        MoneyError::TooLarge,
    ];
    let card = [
        CardError::NotSixteenDigits,
        CardError::Luhn,
        CardError::Expiry,
        CardError::SecurityCode,
        CardError::BinRange,
    ];
    let bank = [
        BankError::IbanMalformed,
        BankError::UnknownIbanCountry,
        BankError::IbanLength,
        BankError::IbanChecksum,
        BankError::BicMalformed,
        BankError::UnknownBicCountry,
    ];
    let settlement = [
        ClearingError::NoTransfers,
        ClearingError::TooManyTransfers,
        ClearingError::TooManyPaymentBlocks,
        ClearingError::AmountNotPositive { transfer: 0 },
        ClearingError::AmountTooLarge { transfer: 0 },
        ClearingError::ControlSumTooLarge,
        ClearingError::TextTooLong {
            field: Field::MessageId,
            length_max: 0,
        },
        ClearingError::TextEmpty {
            field: Field::MessageId,
        },
        ClearingError::IdentifierInvalid {
            field: Field::MessageId,
        },
        ClearingError::DuplicateEndToEndId {
            transfer: 1,
            first: 0,
        },
        ClearingError::InstantOutOfRange,
        ClearingError::ExecutionBeforeCreation,
    ];
    let checkout = [
        CheckoutRefusal::NotFound,
        CheckoutRefusal::OtherClient,
        CheckoutRefusal::WrongState,
        CheckoutRefusal::Expired,
        CheckoutRefusal::SealCooldown { until_s: 0 },
        CheckoutRefusal::NoSealsLeft,
        CheckoutRefusal::NoLiveSeal,
        CheckoutRefusal::ClientStopped,
        CheckoutRefusal::TooManyHeld,
        CheckoutRefusal::TooManySeals,
        CheckoutRefusal::TooManyMessages,
        CheckoutRefusal::SignedOut,
    ];
    let too_many = [TooMany::Seals, TooMany::Numbers, TooMany::Messages];
    // Each list above names every variant: a new one fails to compile here.
    for decline in declines {
        match decline {
            Decline::UnknownNumber
            | Decline::WrongCardDetails
            | Decline::Expired
            | Decline::AlreadyUsed
            | Decline::OverCap
            | Decline::AmountMismatch
            | Decline::OtherMerchant
            | Decline::CurrencyMismatch
            | Decline::InsufficientFunds
            | Decline::Blocked => {}
        }
    }
    for refusal in checkout {
        match refusal {
            CheckoutRefusal::NotFound
            | CheckoutRefusal::OtherClient
            | CheckoutRefusal::WrongState
            | CheckoutRefusal::Expired
            | CheckoutRefusal::SealCooldown { .. }
            | CheckoutRefusal::NoSealsLeft
            | CheckoutRefusal::NoLiveSeal
            | CheckoutRefusal::ClientStopped
            | CheckoutRefusal::TooManyHeld
            | CheckoutRefusal::TooManySeals
            | CheckoutRefusal::TooManyMessages
            | CheckoutRefusal::SignedOut => {}
        }
    }
    declines
        .into_iter()
        .map(AppError::Declined)
        .chain(rejections.into_iter().map(AppError::Rejected))
        .chain(money.into_iter().map(AppError::Money))
        .chain(card.into_iter().map(AppError::Card))
        .chain(bank.into_iter().map(AppError::Bank))
        .chain(settlement.into_iter().map(AppError::Settlement))
        .chain(checkout.into_iter().map(AppError::Checkout))
        .chain(too_many.into_iter().map(AppError::Throttled))
        .chain(envelope_refusals())
        .collect()
}

/// Every way an envelope is refused.
fn envelope_refusals() -> Vec<AppError> {
    use sceau_domain::envelope::Refusal;
    let refusals = [
        Refusal::ManifestNotForThisEnvelope,
        Refusal::ManifestInvalid,
        Refusal::ManifestSignatureInvalid,
        Refusal::CertificateUnusable,
        Refusal::SizeMismatch { index: 0 },
        Refusal::DigestMismatch { index: 0 },
    ];
    refusals
        .into_iter()
        .map(|refusal| AppError::EnvelopeRefused {
            code: refusal.code(),
            detail: String::new(),
        })
        .collect()
}
