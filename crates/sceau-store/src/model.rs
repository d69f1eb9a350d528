//! The values that cross the store's boundary.

use sceau_domain::bank::{Bic, Iban};
use sceau_domain::clearing::ClearingError;
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::email::EmailAddress;
use sceau_domain::ledger::{AccountKind, AuthorizationState};
use sceau_domain::policy::{NumberState, UsagePolicy};
use sceau_domain::reach::{MessageBudget, TooMany};
pub use sceau_domain::sign_in::{SignInVerdict, UnlockInput, UnlockState};
use sceau_domain::{Currency, Expiry, Money, PhoneNumber};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub struct NewClient {
    pub login: String,
    pub display_name: String,
    pub password_hash: String,
    pub phone: PhoneNumber,
    /// Where e-mail notices go besides the phone, if the client gave an address.
    pub email: Option<EmailAddress>,
    pub currency: Currency,
    pub opening_balance: i64,
    pub credit_limit: i64,
    /// Certificates issued for the client, recorded with them (their `client_id` is
    /// set by the store).
    pub certificates: Vec<NewCertificate>,
    pub now_s: i64,
}

#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub password_hash: String,
    pub phone: PhoneNumber,
    pub email: Option<EmailAddress>,
    pub account_id: i64,
    pub currency: Currency,
    /// The client chose to receive seals and numbers by a phone call that reads them
    /// out (when a call route is configured) rather than by SMS.
    pub by_call: bool,
    pub blocked: bool,
    /// Payments are paused until then after too many consecutive failures (0: never).
    pub paused_until_s: i64,
    /// Sign-in is paused until then after too many wrong passwords (0: never); the
    /// holder may lift the pause with an unlock code sent to their phone.
    pub sign_in_locked_until_s: i64,
    /// The unlock codes sent for the pause (`sceau_domain::sign_in`).
    pub unlock: UnlockState,
}

impl ClientRecord {
    /// How the client's phone is sent their seals and numbers: by call or by SMS.
    pub fn phone_medium(&self) -> Medium {
        if self.by_call {
            Medium::Voice
        } else {
            Medium::Sms
        }
    }

    /// Whether the client's sign-in is paused at `now_s`.
    pub fn sign_in_paused(&self, now_s: i64) -> bool {
        now_s < self.sign_in_locked_until_s
    }

    /// Whether the client may not pay or receive numbers at `now_s`.
    pub fn stopped(&self, now_s: i64) -> bool {
        self.blocked || now_s < self.paused_until_s
    }
}

/// A password attempt for the store to judge and record.
#[derive(Debug, Clone, Copy)]
pub struct SignInAttempt {
    pub client_id: i64,
    pub password_right: bool,
    /// The unlock code typed, if it was the right one for the code the caller read.
    pub unlock: Option<UnlockInput>,
    pub now_s: i64,
}

/// An unlock code to send, decided on the account's unlock state as read.
pub struct UnlockCodeSend {
    pub client_id: i64,
    /// The state the decision was made on.
    pub read: UnlockState,
    /// The state after this send.
    pub after: UnlockState,
    /// The SMS with the code.
    pub message: NewMessage,
    pub now_s: i64,
}

/// What became of an unlock code's send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockOutcome {
    Sent,
    /// The account is not paused (any more), or is not there.
    NotPaused,
    /// Its unlock state changed since it was read.
    Changed,
}

/// Where a merchant's settlement account is paid out to: an account and its bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankDetails {
    pub iban: Iban,
    pub bic: Bic,
}

pub struct NewMerchant {
    pub name: String,
    pub api_key_hash: [u8; 32],
    /// Without bank details, the merchant's balances wait in sceau until they are given.
    pub bank: Option<BankDetails>,
    pub now_s: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantRecord {
    pub id: i64,
    pub name: String,
    pub bank: Option<BankDetails>,
}

/// Who asked for a number: the client (Figure 5) or a merchant at checkout (Figure 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Client,
    Merchant,
}

impl Origin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Client => "client",
            Origin::Merchant => "merchant",
        }
    }
}

/// A message for the second channel, sealed by the caller (the store never sees it clear).
/// What it is for is the command's to say (a number, a seal...): every message counts
/// against its address's budget (`sceau_domain::reach`).
pub struct NewMessage {
    pub address: String,
    pub sealed_body: Vec<u8>,
    pub medium: Medium,
    /// When the secret it holds stops being any use (the seal's or the number's end, the
    /// unlock code's, the pause's), in seconds: it is never handed out for sending after.
    pub expires_at_s: i64,
}

/// The network a message goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    Sms,
    /// The client's phone, by a call that reads the text out when a call route takes
    /// it, else by SMS (the client chose calls).
    Voice,
    Email,
}

impl Medium {
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Sms => "sms",
            Medium::Voice => "voice",
            Medium::Email => "email",
        }
    }

    pub fn parse(stored: &str) -> Option<Medium> {
        match stored {
            "sms" => Some(Medium::Sms),
            "voice" => Some(Medium::Voice),
            "email" => Some(Medium::Email),
            _ => None,
        }
    }
}

pub struct NewNumber {
    pub client_id: i64,
    pub fingerprint: [u8; 32],
    pub details_fingerprint: [u8; 32],
    pub last_four: String,
    pub expiry: Expiry,
    pub origin: Origin,
    pub policy: UsagePolicy,
    /// The currency of the policy's amounts: the client's (Figure 5), or the one a
    /// merchant asked in (Figure 4), which must be the client's.
    pub currency: Currency,
    pub message: NewMessage,
    /// What the client may be sent within the hour (the message counts against it).
    pub budget: MessageBudget,
    /// Figure 4: distinct clients one merchant may have numbers sent to within the hour.
    pub merchant_clients_max: u32,
    /// A merchant's idempotency key (Figure 4): a retry answers the first number's view
    /// and sends nothing.
    pub idempotency: Option<(i64, IdempotencyKey)>,
    pub now_s: i64,
}

pub enum IssueOutcome {
    Issued(NumberView),
    /// The idempotency key was seen with the same request: the number issued then.
    Replayed(NumberView),
    FingerprintTaken,
    /// The client was sent as many numbers, or messages, as the hour allows: nothing was
    /// issued or sent.
    Throttled(TooMany),
    /// Figure 4: the merchant may not reach this client (not its client, or blocked or
    /// paused: `sceau_domain::reach::may_reach`). Nothing says which.
    Unreachable,
    /// Figure 4: the merchant had numbers sent to as many distinct clients as the hour
    /// allows.
    TooManyClients,
    /// The number's currency is not the client's account's.
    CurrencyMismatch,
}

impl NewNumber {
    /// The merchant who asks for this number (Figure 4), if a merchant does.
    pub fn asking_merchant(&self) -> Option<i64> {
        match (self.origin, self.policy.merchant) {
            (Origin::Merchant, sceau_domain::policy::MerchantLock::Named(merchant_id)) => {
                Some(merchant_id)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberView {
    pub id: i64,
    pub client_id: i64,
    pub last_four: String,
    pub expiry_month: u8,
    pub expiry_year: u16,
    pub currency: String,
    pub origin: Origin,
    pub policy: UsagePolicy,
    pub state: NumberState,
    pub uses_count: u32,
    pub amount_used: i64,
    pub locked_merchant: Option<i64>,
    pub created_at_s: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    pub id: i64,
    pub kind: AccountKind,
    pub currency: Currency,
    pub balance: i64,
    pub held: i64,
    pub credit_limit: i64,
}

impl AccountView {
    /// What may still be spent: balance, less holds, plus the credit limit.
    pub fn available(&self) -> i64 {
        self.balance - self.held + self.credit_limit
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationView {
    pub id: i64,
    pub merchant_id: i64,
    pub number_id: i64,
    pub number_last_four: String,
    pub client_id: i64,
    pub currency: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    pub state: AuthorizationState,
    pub merchant_reference: String,
    pub created_at_s: i64,
    pub hold_expires_at_s: i64,
}

/// One payment in a client's history: an authorization with one of their numbers (a
/// card payment, or the hold of a payment by seal), what became of it, and the checkout
/// it was for if a seal paid it. States are the stored names, so that a state this
/// binary does not know (a newer one's) is shown by its name rather than refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEntry {
    pub authorization_id: i64,
    pub merchant_name: String,
    pub number_last_four: String,
    pub currency: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    /// `authorized`, `captured`, `voided`, `expired`, or a state of a newer binary.
    pub state: String,
    pub merchant_reference: String,
    pub created_at_s: i64,
    /// When it last changed: a void's or an expiry's time.
    pub updated_at_s: i64,
    pub hold_expires_at_s: i64,
    pub captured_at_s: Option<i64>,
    /// When it was last refunded.
    pub refunded_at_s: Option<i64>,
    pub checkout: Option<PaymentCheckout>,
}

/// The checkout a payment by seal was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentCheckout {
    pub public_id: String,
    /// The checkout's stored state (`held`, `paid`, `failed`, `expired`, or newer).
    pub state: String,
    pub object: String,
}

/// A client's number with what became of its payments, for the wallet: a hold voided or
/// expired is not money used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberUse {
    pub number: NumberView,
    /// Captured and not refunded.
    pub paid: i64,
    /// Authorized and still held.
    pub held: i64,
    /// Authorizations released without payment (voided or expired).
    pub released: u32,
    /// Drawn for a payment by seal (the check's card), not asked for by a merchant.
    pub for_checkout: bool,
}

/// A merchant's command against the ledger.
#[derive(Debug, Clone)]
pub enum MerchantCommand {
    Authorize {
        number_fingerprint: [u8; 32],
        details_fingerprint: [u8; 32],
        amount: i64,
        currency: Currency,
        merchant_reference: String,
        hold_ttl_s: i64,
    },
    /// Capture, in full or for `amount` (which must be in the authorization's currency).
    Capture {
        authorization_id: i64,
        amount: Option<Money>,
    },
    Void {
        authorization_id: i64,
    },
    /// Refund what remains refundable, or `amount` (in the authorization's currency).
    Refund {
        authorization_id: i64,
        amount: Option<Money>,
    },
}

/// The merchant's idempotency key and a hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: [u8; 32],
}

#[derive(Debug, Clone)]
pub struct CommandRequest {
    pub merchant_id: i64,
    pub idempotency: Option<IdempotencyKey>,
    pub command: MerchantCommand,
    pub now_s: i64,
}

/// What a merchant command did. Stored whole with its idempotency key, so that a replay
/// answers exactly what the first request was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Authorized {
        authorization: AuthorizationView,
    },
    Declined {
        decline: Decline,
        /// Set when this failure paused the client (never shown to the merchant): the
        /// caller tells the client on the second channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paused: Option<Paused>,
    },
    Captured {
        authorization: AuthorizationView,
    },
    Voided {
        authorization: AuthorizationView,
    },
    Refunded {
        authorization: AuthorizationView,
        refund_id: i64,
        amount: i64,
    },
    Rejected {
        rejection: Rejection,
    },
}

/// A client whose payments a failure has just paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    pub client_id: i64,
    pub until_s: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub outcome: Outcome,
    /// True when this is the stored answer to an earlier request with the same key.
    pub replayed: bool,
}

/// An operator account to make (the password already hashed).
pub struct NewOperator {
    pub login: sceau_domain::operator::OperatorLogin,
    pub password_hash: String,
    pub now_s: i64,
}

/// An operator's account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    pub id: i64,
    pub login: String,
    pub password_hash: String,
    /// Sign-in is paused until then (after wrong passwords).
    pub paused_until_s: i64,
    /// Disabled by the CLI: no sign-in, no session.
    pub disabled: bool,
    pub created_at_s: i64,
}

/// The SHA-256 of a stored password hash (PHC string): what an operator's sign-in says
/// it checked the password against.
pub fn password_digest(phc: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(phc.as_bytes()).into()
}

/// A password sign-in attempt of an operator (`operator_id` 0 for an unknown login: the
/// same write is made).
#[derive(Debug, Clone, Copy)]
pub struct OperatorSignIn {
    pub operator_id: i64,
    pub password_right: bool,
    /// The hash the password was checked against: if the account's changed meanwhile (a
    /// new password set while the check ran), the attempt is refused, not counted.
    pub checked_hash: [u8; 32],
    pub now_s: i64,
}

/// A console session of an operator (only its token's hash is stored).
#[derive(Debug, Clone, Copy)]
pub struct NewOperatorSession {
    pub token_hash: [u8; 32],
    pub operator_id: i64,
    pub now_s: i64,
    pub expires_at_s: i64,
}

/// A client blocked or unblocked by an operator or the admin token's holder, recorded
/// with its evidence on the client's chain.
#[derive(Debug, Clone, Copy)]
pub struct OperatorActs {
    pub actor: sceau_domain::operator::Actor,
    pub action: sceau_domain::operator::OperatorAction,
    pub now_s: i64,
}

/// What became of an operator's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Done, and its evidence record written.
    Done(EvidenceRecord),
    /// The client is already as asked: nothing written.
    AlreadySo,
    /// No such client (or operator).
    NotFound,
}

/// One batch of the purge: what is past its window, at most `batch_max` rows of each kind.
#[derive(Debug, Clone, Copy)]
pub struct Purge {
    pub cutoffs: sceau_domain::retention::Cutoffs,
    pub batch_max: u32,
}

/// What one batch of the purge removed (message bodies: emptied, their records kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    pub sessions: u64,
    pub idempotency_keys: u64,
    pub webhooks: u64,
    pub checkouts: u64,
    pub message_bodies: u64,
    pub messages: u64,
}

impl Purged {
    /// Each kind with its count, as metrics and logs name them.
    pub fn kinds(&self) -> [(&'static str, u64); 6] {
        [
            ("sessions", self.sessions),
            ("idempotency_keys", self.idempotency_keys),
            ("webhooks", self.webhooks),
            ("checkouts", self.checkouts),
            ("message_bodies", self.message_bodies),
            ("messages", self.messages),
        ]
    }

    /// Adds `batch` to these counts.
    pub fn add(&mut self, batch: &Purged) {
        self.sessions += batch.sessions;
        self.idempotency_keys += batch.idempotency_keys;
        self.webhooks += batch.webhooks;
        self.checkouts += batch.checkouts;
        self.message_bodies += batch.message_bodies;
        self.messages += batch.messages;
    }

    /// Whether some kind filled its batch (more may be waiting).
    pub fn full(&self, batch_max: u32) -> bool {
        self.kinds()
            .iter()
            .any(|(_, count)| *count >= u64::from(batch_max))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expired {
    pub holds_released: u64,
    pub numbers_expired: u64,
    pub checkouts_expired: u64,
}

pub struct NewSession {
    pub token_hash: [u8; 32],
    pub client_id: i64,
    pub now_s: i64,
    pub expires_at_s: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: i64,
    pub address: String,
    pub sealed_body: Vec<u8>,
    pub medium: Medium,
    /// `pending`, `submitted`, `delivered`, `failed` or `expired` (see [`MessageStatus`]).
    pub state: String,
    /// The route that took it (or failed it for good), or while pending the last one
    /// tried; `None` before any route was tried.
    pub route: Option<String>,
    /// Tries on a route so far.
    pub attempts: u32,
    pub created_at_s: i64,
    pub expires_at_s: i64,
}

/// What the dispatcher found when it tried to send a pending message
/// ([`crate::Outbox::mark_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageDelivery {
    /// A route took it: the provider's id of each part, in order, normalized by the
    /// caller as reports will be (lower case, no leading zeros).
    Submitted {
        route: String,
        parts: Vec<String>,
        now_s: i64,
    },
    /// It will never be sent: every route refused it for good (`route`: the last one
    /// tried), or it could not be opened (`None`). `reason` is short and holds no body.
    Failed {
        route: Option<String>,
        reason: String,
        now_s: i64,
    },
    /// Its secret expired before a route took it: never sent.
    Expired { now_s: i64 },
    /// Every route failed for now: tried again from `retry_at_s` (a claim until then).
    /// `route`, the last one tried, is kept as the message's route while it waits.
    Retry {
        route: Option<String>,
        reason: String,
        retry_at_s: i64,
        now_s: i64,
    },
}

/// What a route reported about one part it took ([`crate::Outbox::record_report`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartOutcome {
    /// The phone has it.
    Delivered,
    /// The network gave up on it.
    Failed,
    /// Not final: changes nothing but the part's time.
    Pending,
}

/// A delivery report recorded on a message's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRecorded {
    pub message_id: i64,
    /// This report ended the message: all its parts delivered, or one failed.
    pub settled: bool,
}

/// The messages not sent yet: how many, and when the oldest was queued (operators'
/// "outbox depth" and "oldest message age").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutboxBacklog {
    pub pending: u64,
    pub oldest_created_at_s: Option<i64>,
}

/// How many messages created since a time are in one state, per route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageCount {
    /// The route that took it or last tried it; `None`: no route tried it (still
    /// waiting for its first try, or expired or failed before any route).
    pub route: Option<String>,
    pub state: String,
    pub count: u64,
}

/// What an operator may see of a message: its course, never its body, and its address
/// masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageStatus {
    pub id: i64,
    pub medium: Medium,
    /// What it is for, as stored (`payment_seal`, `client_number`, `notice`...).
    pub kind: String,
    /// The address with all but its last two digits hidden (an e-mail address: its
    /// first character and its domain).
    pub address_masked: String,
    /// As stored: `pending`, `submitted`, `delivered`, `failed` or `expired`.
    pub state: String,
    pub route: Option<String>,
    pub attempts: u32,
    /// Parts the route reported taking (0 until submitted).
    pub parts: u32,
    pub last_error: Option<String>,
    pub created_at_s: i64,
    pub submitted_at_s: Option<i64>,
    /// When it was delivered, failed or expired.
    pub ended_at_s: Option<i64>,
    pub expires_at_s: i64,
}

/// The ledger's invariants, recomputed from the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerReport {
    /// Sum of all balances per currency: must be zero for each.
    pub currency_sums: Vec<(String, i64)>,
    /// Every broken rule found, in words. Empty when the ledger is sound.
    pub violations: Vec<String>,
}

impl LedgerReport {
    pub fn is_sound(&self) -> bool {
        self.violations.is_empty() && self.currency_sums.iter().all(|(_, sum)| *sum == 0)
    }
}

pub use sceau_domain::checkout::{CheckoutRefusal, CheckoutState};

/// A merchant's request for a payment by seal (operations 125–137).
pub struct NewCheckout {
    pub merchant_id: i64,
    /// The identifier in the payment page's address: 128 random bits, not guessable.
    pub public_id: String,
    pub amount: i64,
    pub currency: Currency,
    pub merchant_reference: String,
    /// What is bought, shown on the check (zone 27).
    pub object: String,
    pub return_url: String,
    pub webhook_url: Option<String>,
    pub expires_at_s: i64,
    pub idempotency: Option<IdempotencyKey>,
    pub now_s: i64,
}

/// The seal of a checkout as stored: what it is recomputed from, never the seal itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSeal {
    pub nonce: [u8; 16],
    pub digits: u8,
    pub issued_at_s: i64,
    pub expires_at_s: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutView {
    pub id: i64,
    pub public_id: String,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub amount: i64,
    pub currency: String,
    pub merchant_reference: String,
    pub object: String,
    pub return_url: String,
    pub webhook_url: Option<String>,
    pub state: CheckoutState,
    /// Why it failed or expired, as a stable code.
    pub failure: Option<String>,
    pub client_id: Option<i64>,
    pub authorization_id: Option<i64>,
    /// The merchant's settlement account the money goes to, once held.
    pub payee_account_id: Option<i64>,
    /// The single-use number drawn for this payment, once held (zone 25 of the check).
    pub number_last_four: Option<String>,
    pub number_expiry: Option<(u8, u16)>,
    pub seal: Option<StoredSeal>,
    pub seal_wrong_tries: u32,
    pub seal_sends: u32,
    pub created_at_s: i64,
    pub expires_at_s: i64,
    pub updated_at_s: i64,
}

/// The client signs in on a checkout: the amount is held with a single-use number drawn
/// for this payment (locked to this amount and merchant), consumed at once.
pub struct HoldCheckout {
    pub checkout_id: i64,
    pub client_id: i64,
    pub number_fingerprint: [u8; 32],
    pub details_fingerprint: [u8; 32],
    pub last_four: String,
    pub expiry: Expiry,
    /// Checkouts the client may have held at once (this one included).
    pub held_max: i64,
    pub now_s: i64,
}

pub enum HoldOutcome {
    Held(Box<CheckoutView>),
    /// The client's account or state does not allow the payment: nothing was held.
    Declined(Decline),
    Refused(CheckoutRefusal),
}

/// A seal sent for a held checkout: its inputs and its SMS, queued in the same
/// transaction. Replaces the previous seal, which dies.
pub struct SendSeal {
    pub checkout_id: i64,
    pub client_id: i64,
    pub seal: StoredSeal,
    pub message: NewMessage,
    /// What the client may be sent within the hour (the seal counts against it).
    pub budget: MessageBudget,
    pub now_s: i64,
}

pub enum SendOutcome {
    Sent(Box<CheckoutView>),
    Refused(CheckoutRefusal),
}

/// Whether the typed seal is the one of this checkout's live seal: recomputes it from the
/// checkout and the seal's stored inputs and compares in constant time. The store calls
/// it inside the transaction, on the checkout as it is then.
pub type SealCheck = Box<dyn Fn(&CheckoutView, &StoredSeal) -> bool + Send + Sync>;

/// A seal typed by a client in a browser session. In one transaction the store finds the
/// session's client, the checkout (which must be held by that client), checks the typed
/// seal against the live seal and applies the verdict: a seal is accepted once, a race
/// cannot count a try twice, and a seal typed as the session ends counts for nobody.
pub struct TypedSeal {
    /// The checkout, as its page names it.
    pub public_id: String,
    /// The session the seal was typed in (SHA-256 of its token).
    pub session_token_hash: [u8; 32],
    pub check: SealCheck,
    pub now_s: i64,
}

pub enum SealOutcome {
    /// Captured: the checkout is paid and the merchant's webhook is queued; with the
    /// payment's `checkout.paid` evidence record (what its receipt signs).
    Paid(CheckoutView, Box<EvidenceRecord>),
    /// Wrong: `tries_left` more.
    Wrong {
        tries_left: u32,
        paused: Option<Paused>,
    },
    /// The third wrong seal: the payment failed and its hold was released.
    Failed {
        view: CheckoutView,
        paused: Option<Paused>,
    },
    /// The seal's time had passed: nothing counted.
    Expired,
    Refused(CheckoutRefusal),
}

/// A client refusing to pay a checkout, on its page.
pub struct CancelCheckout {
    /// The checkout, as its page names it.
    pub public_id: String,
    /// The client signed in on the page.
    pub client_id: i64,
    pub now_s: i64,
}

pub enum CancelOutcome {
    /// Canceled: its hold (if any) released, the merchant's webhook queued.
    Canceled(Box<CheckoutView>),
    Refused(CheckoutRefusal),
}

/// A webhook waiting to be delivered to a merchant.
/// A merchant's webhook secrets, and why a rotation is refused (the rules are the domain's).
pub use sceau_domain::webhook_secret::{RotationRefused, WebhookSecrets};

/// A rotation of a merchant's webhook secret asked for.
#[derive(Debug, Clone)]
pub struct RotateWebhookSecret {
    pub merchant_id: i64,
    pub overlap_s: i64,
    pub now_s: i64,
    pub idempotency: Option<IdempotencyKey>,
    /// Who rotated it, as the rotation's evidence record names them.
    pub by: ActedBy,
}

/// Who acted, as an evidence record names them: a merchant's webhook secret rotated, a
/// certificate revoked, a clearing batch closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActedBy {
    /// The merchant, with its API key (its own webhook secret only).
    Merchant,
    /// The admin token's holder (the admin API, the CLI on the database).
    Admin,
    /// An operator of the console, by identifier and login.
    Operator { id: i64, login: String },
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationOutcome {
    Rotated(WebhookSecrets),
    /// The idempotency key was seen: the versions that rotation gave, nothing changed.
    Replayed(WebhookSecrets),
    Refused(RotationRefused),
    NoMerchant,
}

/// A webhook waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub merchant_id: i64,
    pub url: String,
    pub event: String,
    pub body: String,
    pub attempts: u32,
    /// The merchant's webhook secrets when it was claimed (which versions sign it).
    pub secrets: WebhookSecrets,
}

pub enum WebhookResult {
    Delivered {
        now_s: i64,
    },
    /// Not acknowledged: tried again from `next_attempt_s`.
    Retry {
        next_attempt_s: i64,
        error: String,
        now_s: i64,
    },
    /// Not acknowledged and out of attempts.
    GaveUp {
        error: String,
        now_s: i64,
    },
}

/// The body of a checkout webhook: what happened to which checkout, at the time it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutEvent {
    /// `checkout.paid`, `checkout.failed`, `checkout.expired` or `checkout.canceled`.
    #[serde(rename = "type")]
    pub event: String,
    pub checkout_id: String,
    pub merchant_reference: String,
    pub amount: String,
    pub currency: String,
    pub state: CheckoutState,
    pub failure: Option<String>,
    pub authorization_id: Option<i64>,
    pub created_at: i64,
}

/// Most payouts in one clearing batch (and most merchants it reports as skipped); the
/// next batch pays the rest.
pub const CLEARING_PAYOUTS_MAX: usize = 5_000;

const _: () = assert!(CLEARING_PAYOUTS_MAX <= sceau_domain::clearing::TRANSFERS_MAX);

/// A payout about to be made: a merchant's settlement account, its whole balance, and
/// where it goes. What the settlement file is written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutLine {
    pub merchant_id: i64,
    pub merchant_name: String,
    pub account_id: i64,
    pub amount: i64,
    pub bank: BankDetails,
}

/// A clearing batch about to be closed, before anything of it is written.
#[derive(Debug, Clone, Copy)]
pub struct ClearingDraft<'a> {
    pub message_id: &'a str,
    pub currency: Currency,
    pub created_at_s: i64,
    /// In ascending order of account.
    pub lines: &'a [PayoutLine],
}

/// Writes the settlement file of a draft. The store calls it inside the closing
/// transaction, before it writes anything: a file that cannot be written pays nothing.
pub type SettlementWriter =
    Arc<dyn Fn(&ClearingDraft<'_>) -> Result<String, ClearingError> + Send + Sync>;

/// Closes a clearing batch in `currency`: pays out every merchant settlement account with
/// a positive balance whose merchant has bank details (up to [`CLEARING_PAYOUTS_MAX`]).
pub struct CloseClearing {
    pub currency: Currency,
    /// The file's message id: unique across batches (banks refuse one they have seen).
    pub message_id: String,
    pub write_file: SettlementWriter,
    /// Who closed it, as the batch's evidence record names them.
    pub by: ActedBy,
    pub now_s: i64,
}

/// A closed clearing batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingBatch {
    pub id: i64,
    pub message_id: String,
    pub currency: Currency,
    pub created_at_s: i64,
    pub payouts_count: u32,
    /// The sum of its payouts, in minor units of `currency`.
    pub total: i64,
}

/// One payout of a closed batch: a transfer of kind `payout` from the merchant's
/// settlement account to the issuer's funding account (the money left for the bank).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub transfer_id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub amount: i64,
}

/// A merchant with money to receive but no bank details: left out of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedMerchant {
    pub merchant_id: i64,
    pub account_id: i64,
    pub balance: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearingOutcome {
    Closed {
        batch: ClearingBatch,
        payouts: Vec<Payout>,
        skipped: Vec<SkippedMerchant>,
    },
    /// No merchant with bank details has a positive balance: no batch was made.
    NothingToPay { skipped: Vec<SkippedMerchant> },
    /// The settlement file refused the draft: nothing was paid.
    Unwritable(ClearingError),
}

/// What a certificate is for (the white room's certificates; the authority's own live in
/// files beside the keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateKind {
    /// A client's own certificate, carrying their sealed phone number.
    Holder,
    /// A client's second certificate, with no phone number, naming their first.
    Pseudonym,
    /// A certificate for one use: a short life, revoked as it is used.
    Disposable,
    /// A disposable certificate for a key a notary's station made and holds (sceau has
    /// no key for it): it signs one envelope's manifest, and is used and revoked when the
    /// envelope's last file arrives.
    Station,
}

impl CertificateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateKind::Holder => "holder",
            CertificateKind::Pseudonym => "pseudonym",
            CertificateKind::Disposable => "disposable",
            CertificateKind::Station => "station",
        }
    }

    pub fn parse(text: &str) -> Option<CertificateKind> {
        [
            CertificateKind::Holder,
            CertificateKind::Pseudonym,
            CertificateKind::Disposable,
            CertificateKind::Station,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// A certificate to record.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// The serial number, lowercase hexadecimal (the key of the row).
    pub serial: String,
    pub kind: CertificateKind,
    /// The client it certifies (none for a disposable certificate; set by the store for
    /// certificates recorded at enrolment).
    pub client_id: Option<i64>,
    /// Its key's label in the keystore (none for a station's key, which sceau does not
    /// hold).
    pub key_label: Option<String>,
    pub der: Vec<u8>,
    pub not_before_s: i64,
    pub not_after_s: i64,
    /// The certificate a pseudonymous certificate names.
    pub names_serial: Option<String>,
    pub now_s: i64,
}

/// A recorded certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub serial: String,
    pub kind: CertificateKind,
    pub client_id: Option<i64>,
    pub key_label: Option<String>,
    pub der: Vec<u8>,
    pub not_before_s: i64,
    pub not_after_s: i64,
    pub names_serial: Option<String>,
    /// When a disposable certificate was used.
    pub used_at_s: Option<i64>,
    pub revoked_at_s: Option<i64>,
    /// The RFC 5280 reason code of the revocation.
    pub revocation_reason: Option<u8>,
    pub created_at_s: i64,
}

impl CertificateRecord {
    /// Whether this is a holder certificate of `client_id`, unrevoked and valid at
    /// `now_s`: one a client may sign under.
    pub fn signs_for(&self, client_id: i64, now_s: i64) -> bool {
        self.kind == CertificateKind::Holder
            && self.client_id == Some(client_id)
            && self.revoked_at_s.is_none()
            && self.not_before_s <= now_s
            && now_s < self.not_after_s
    }
}

pub enum RevokeOutcome {
    Revoked(CertificateRecord),
    /// Revoked before (the first revocation stands).
    AlreadyRevoked(CertificateRecord),
    Unknown,
}

/// The one use of a disposable certificate.
pub enum UseOutcome {
    /// Granted, and recorded: the certificate is revoked from the next second on
    /// (reason cessationOfOperation), so a second use is refused.
    Granted(CertificateRecord),
    AlreadyUsed,
    Expired,
    /// Not yet valid.
    NotYetValid,
    Revoked,
    /// Not a disposable certificate.
    NotDisposable,
    Unknown,
}

pub use sceau_domain::certificate::REVOKED_AFTER_USE;

pub use sceau_domain::signature::SignatureState;

/// A legacy request for a signature in a client's name (made before a signature request
/// became a one-file envelope), as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRequestView {
    pub id: i64,
    pub public_id: String,
    pub client_id: i64,
    pub document_name: String,
    pub content_digest: [u8; 32],
    pub certificate_serial: String,
    pub state: SignatureState,
    pub seal: StoredSeal,
    pub wrong_tries: u32,
    /// The CMS signature (DER), once signed.
    pub signature: Option<Vec<u8>>,
    pub signed_at_s: Option<i64>,
    pub created_at_s: i64,
}

/// Signs the checkpoint of the log at `size` with `root` (a C2SP signed note); the store
/// calls it inside the integration's transaction.
pub type CheckpointSigner = Box<dyn Fn(u64, &[u8; 32]) -> String + Send + Sync>;

/// One integration of the log: the entries waiting (up to `batch_max`, oldest first)
/// are appended, the tree's new nodes stored and the new checkpoint signed, in one
/// transaction; one signature for the whole batch.
pub struct IntegrateLog {
    pub batch_max: u32,
    pub sign: CheckpointSigner,
    pub now_s: i64,
}

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheckpoint {
    pub size: u64,
    pub root: [u8; 32],
    /// The C2SP signed note, as served.
    pub note: String,
    pub created_at_s: i64,
}

/// An evidence record as stored (see ARCHITECTURE.md, "Evidence records").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    /// The record's row (a receipt names it).
    pub id: i64,
    /// What the record is about: `number:12`, `checkout:7`, `certificate:…`.
    pub subject: String,
    /// Its place in its subject's chain, from 1.
    pub seq: i64,
    /// `checkout.paid`, `number.captured`...
    pub kind: String,
    /// SHA-256 of `record`: the log entry.
    pub hash: [u8; 32],
    /// The canonical JSON (RFC 8785), exactly as hashed.
    pub record: Vec<u8>,
    pub created_at_s: i64,
    /// Its index in the log, once integrated.
    pub log_index: Option<u64>,
}

// -- the notary's envelopes --------------------------------------------------------------

pub use sceau_domain::envelope::{EnvelopeState, FilePlan, ManifestPlan, Refusal};

/// An envelope opened for a client: a disposable certificate was issued for the key its
/// station made.
#[derive(Debug, Clone)]
pub struct NewEnvelope {
    pub public_id: String,
    pub client_id: i64,
    /// The disposable certificate issued for the station's key (kind `Station`),
    /// recorded with the envelope; the envelope lives as long as it.
    pub certificate: NewCertificate,
    /// The most envelopes the client may have open or receiving (their certificates
    /// still alive) at once: one more is refused (`too_many_open_envelopes`).
    pub open_max: u32,
}

/// One file of an envelope, as its manifest states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeFileView {
    pub position: u32,
    pub name: String,
    pub size: u64,
    pub sha256: [u8; 32],
    /// When it arrived whole and matched; `None` while awaited.
    pub received_at_s: Option<i64>,
    /// Its detached CMS signature (CAdES-B-T, DER), once signed.
    pub signature: Option<Vec<u8>>,
    pub signed_at_s: Option<i64>,
    /// A PDF's PAdES-signed copy, archived.
    pub signed_pdf: Option<ArchivedObject>,
    /// Why a file that claims to be a PDF has no PAdES signature.
    pub pdf_note: Option<String>,
}

/// One destination of an envelope, as its manifest states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeDestinationView {
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// An envelope as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeView {
    pub id: i64,
    pub public_id: String,
    pub client_id: i64,
    pub state: EnvelopeState,
    pub certificate_serial: String,
    pub certificate_expires_at_s: i64,
    /// The canonical manifest the station signed, once accepted.
    pub manifest: Option<String>,
    pub manifest_sha256: Option<[u8; 32]>,
    /// The station's signature over the manifest (P-256, `r || s`), kept with it since
    /// SQLite migration 28 / PostgreSQL 24 (none for envelopes accepted before).
    pub manifest_signature: Option<Vec<u8>>,
    /// Why it was refused (`Refusal::code`).
    pub refusal: Option<String>,
    pub files: Vec<EnvelopeFileView>,
    pub destinations: Vec<EnvelopeDestinationView>,
    /// The holder certificate the seal consents to signing under (set with the seal).
    pub signer_serial: Option<String>,
    /// The seal sent for it (`None` until every file is in, or when the client's budget
    /// refused the seal: a resend is then needed).
    pub seal: Option<StoredSeal>,
    pub wrong_tries: u32,
    /// Why a sealed envelope is not notarized yet (the time-stamp authority or the
    /// keystore did not answer); it is tried again when next read.
    pub waiting: Option<String>,
    /// The ASiC-E container, archived.
    pub container: Option<ArchivedObject>,
    /// The container's `META-INF/ASiCManifest.xml` and the client's signature over it
    /// (kept with the envelope: its evidence needs them, not the container's bytes).
    pub container_manifest: Option<Vec<u8>>,
    pub container_signature: Option<Vec<u8>>,
    /// Until when what it made is kept (set when notarized).
    pub retain_until_s: Option<i64>,
    pub notarized_at_s: Option<i64>,
    /// When its archived content was deleted after retention.
    pub deleted_at_s: Option<i64>,
    pub created_at_s: i64,
    pub updated_at_s: i64,
}

/// The seal to send when an envelope's last file arrives (prepared before the store's
/// transaction, from the envelope as read then; used only if that file is the last).
pub struct PreparedEnvelopeSeal {
    pub seal: StoredSeal,
    pub message: NewMessage,
    pub budget: sceau_domain::reach::MessageBudget,
    /// The holder certificate the seal consents to signing under.
    pub signer_serial: String,
}

/// What became of a file that arrived.
pub struct FileReceipt {
    pub plan: FilePlan,
    pub view: Option<EnvelopeView>,
    /// The last file arrived but the client's budget refused the seal: the envelope
    /// awaits a seal that must be asked for again.
    pub seal_throttled: Option<sceau_domain::reach::TooMany>,
}

/// A new seal asked for an envelope awaiting one.
pub struct EnvelopeSealResend {
    pub public_id: String,
    pub client_id: i64,
    pub seal: PreparedEnvelopeSeal,
    pub now_s: i64,
}

pub enum EnvelopeResendOutcome {
    Sent(Box<EnvelopeView>),
    Throttled(sceau_domain::reach::TooMany),
    NotAwaiting(Box<EnvelopeView>),
    NotFound,
}

/// Judges a typed seal against an envelope as read in the seal's transaction.
pub type EnvelopeSealCheck = Box<dyn Fn(&EnvelopeView) -> bool + Send + Sync>;

/// A seal typed for an envelope in a client's session.
pub struct TypedEnvelopeSeal {
    pub public_id: String,
    /// The session's client as the caller found it (the lock to take on PostgreSQL; the
    /// store finds the session's client again in the seal's transaction).
    pub client_id: i64,
    pub session_token_hash: [u8; 32],
    pub check: EnvelopeSealCheck,
    pub now_s: i64,
}

pub enum EnvelopeSealOutcome {
    /// The right seal: the envelope is sealed and may be signed.
    Sealed(Box<EnvelopeView>),
    Wrong {
        tries_left: u32,
        paused: Option<Paused>,
    },
    /// The third wrong seal: the envelope failed.
    Failed {
        view: Box<EnvelopeView>,
        paused: Option<Paused>,
    },
    /// No seal is live (it expired, or none was sent): nothing counted.
    Expired,
    NotAwaiting(Box<EnvelopeView>),
    NotFound,
    ClientStopped,
}

/// One file's signatures.
#[derive(Debug, Clone)]
pub struct SignedFile {
    pub position: u32,
    pub signature: Vec<u8>,
    pub signed_pdf: Option<ArchivedObject>,
    pub pdf_note: Option<String>,
}

/// A sealed envelope, signed and archived: it becomes notarized.
#[derive(Debug, Clone)]
pub struct NotarizedEnvelope {
    pub public_id: String,
    pub files: Vec<SignedFile>,
    pub container: ArchivedObject,
    /// The container's ASiC manifest and the signature over it.
    pub container_manifest: Vec<u8>,
    pub container_signature: Vec<u8>,
    pub retain_until_s: i64,
    /// When the signing began (the signatures' signing time).
    pub now_s: i64,
    /// When the notarization is kept, after every signature and time-stamp: the signer's
    /// certificate must still be valid then.
    pub kept_at_s: i64,
}

/// A manifest the station signed, with what the use case found of it.
#[derive(Debug, Clone)]
pub struct SignedManifest {
    pub public_id: String,
    pub client_id: i64,
    /// The manifest, when it parsed and kept every rule (`check.valid`).
    pub manifest: Option<sceau_domain::envelope::Manifest>,
    /// SHA-256 of the bytes the station sent (its canonical form when valid).
    pub sent_sha256: [u8; 32],
    /// The station's signature over those bytes (P-256, `r || s`), kept with an
    /// accepted manifest for the envelope's evidence bundle.
    pub signature: Vec<u8>,
    pub check: sceau_domain::envelope::ManifestCheck,
    pub now_s: i64,
}

/// A file that arrived for an envelope, hashed as it streamed in.
pub struct ReceivedFile {
    pub public_id: String,
    pub client_id: i64,
    pub arrival: sceau_domain::envelope::Arrival,
    /// The seal to send if this file is the last.
    pub seal: Option<PreparedEnvelopeSeal>,
    pub now_s: i64,
}

/// An object of the archive: its address (the SHA-256 of its bytes) and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivedObject {
    pub sha256: [u8; 32],
    pub size: u64,
}

/// An archived object as the archive keeps it: until when it must be kept, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveEntry {
    pub object: ArchivedObject,
    pub retain_until_s: i64,
    pub created_at_s: i64,
}

/// What a put asks of the archive besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Deposit {
    /// Kept at least until then; a later put of the same content may extend it, never
    /// shorten it.
    pub retain_until_s: i64,
    pub now_s: i64,
    /// Content longer than this is refused (and nothing of it kept).
    pub size_max: u64,
    /// When given, content that is not exactly these bytes is refused (and nothing of it
    /// kept): an upload checked against its manifest as it streams in.
    pub expected: Option<ArchivedObject>,
}

// -- certified delivery ---------------------------------------------------------------------

pub use sceau_domain::delivery::{RecipientRefusal, RecipientState};

/// A delivery to send: a notarized envelope of the sender's, to its recipients, each
/// with the notice to queue to them.
pub struct NewDelivery {
    /// 32 lowercase hexadecimal digits (16 random bytes).
    pub public_id: String,
    pub envelope_public_id: String,
    /// The sender, whose envelope it must be.
    pub client_id: i64,
    pub deadline_s: i64,
    pub hide_sender: bool,
    /// The origin the recipients' links are under (the reminders' links too).
    pub link_base: String,
    pub recipients: Vec<NewDeliveryRecipient>,
    pub now_s: i64,
}

/// One recipient of a delivery to send.
pub struct NewDeliveryRecipient {
    pub email: String,
    /// E.164: where the recipient's code goes.
    pub phone: String,
    /// Whether the sender gave that phone (else it is the enrolled client's own, which
    /// the sender is never shown).
    pub phone_given: bool,
    /// The client of this service the recipient is, if any (their phone is then theirs).
    pub client_id: Option<i64>,
    /// Salts the digests of the address and the phone the evidence carries.
    pub contact_salt: [u8; 16],
    /// The SHA-256 of the notice's link token (the token itself is only in the notice).
    pub link_sha256: [u8; 32],
    /// The notice, an e-mail to `email`.
    pub notice: NewMessage,
}

pub enum DeliverySendOutcome {
    Sent(Box<DeliveryView>),
    /// No envelope of the sender's by that id.
    NotFound,
    /// The envelope is not notarized (yet, or ever).
    NotNotarized(EnvelopeState),
}

/// A delivery with its recipients, and the envelope's digests its evidence names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryView {
    pub id: i64,
    pub public_id: String,
    pub envelope_id: i64,
    pub envelope_public_id: String,
    pub manifest_sha256: [u8; 32],
    /// Each file's SHA-256, in the envelope's order.
    pub file_digests: Vec<[u8; 32]>,
    /// The sender, their name and e-mail address (if they gave one).
    pub client_id: i64,
    pub sender_name: String,
    pub sender_email: Option<String>,
    /// The envelope's first file's name.
    pub first_name: String,
    pub deadline_s: i64,
    pub hide_sender: bool,
    /// The origin the recipients' links are under.
    pub link_base: String,
    pub created_at_s: i64,
    /// When every recipient's state became final.
    pub settled_at_s: Option<i64>,
    pub recipients: Vec<RecipientView>,
}

impl DeliveryView {
    pub fn recipient(&self, position: u32) -> Option<&RecipientView> {
        self.recipients
            .iter()
            .find(|recipient| recipient.position == position)
    }
}

/// One recipient of a delivery, where they stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientView {
    pub position: u32,
    pub email: String,
    pub phone: String,
    /// Whether the sender gave the phone (else it is the enrolled client's own).
    pub phone_given: bool,
    pub client_id: Option<i64>,
    pub contact_salt: [u8; 16],
    pub state: RecipientState,
    pub notice_message_id: Option<i64>,
    /// When the notice was taken by an e-mail route.
    pub notice_sent_at_s: Option<i64>,
    /// The live code's input and times, if one was sent and not yet used or voided.
    pub code: Option<StoredSeal>,
    pub codes_sent: u32,
    pub wrong_tries: u32,
    pub paused_until_s: Option<i64>,
    pub session_expires_at_s: Option<i64>,
    /// The serial of the latest withdrawal certificate (the one an answer must use).
    pub withdrawal_serial: Option<String>,
    pub withdrawals: u32,
    /// Withdrawals in the current session (reset by the right code).
    pub session_withdrawals: u32,
    /// The SHA-256 of the session's token the latest withdrawal was made in: the files
    /// are handed over in that session only.
    pub withdrawn_session_sha256: Option<[u8; 32]>,
    pub answer: Option<RecipientAnswer>,
    /// The last state the sender was told of.
    pub told_state: Option<RecipientState>,
    /// When the reminder before the deadline was queued.
    pub reminded_at_s: Option<i64>,
    pub updated_at_s: i64,
}

/// A recipient's answer as kept: the statement their browser signed, its signature
/// (r || s, under the withdrawal certificate's key) and sceau's time-stamp token over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientAnswer {
    pub statement: String,
    pub signature: Vec<u8>,
    pub time_stamp: Vec<u8>,
    pub answered_at_s: i64,
}

/// A code to send to a recipient, reached by their link.
pub struct RecipientCodeSend {
    pub link_sha256: [u8; 32],
    /// The enrolled client the recipient is, when they are one: their account is locked
    /// while the code is counted against their phone's budget (PostgreSQL).
    pub client_id: Option<i64>,
    pub code: StoredSeal,
    pub message: NewMessage,
    pub budget: MessageBudget,
    pub now_s: i64,
}

pub enum RecipientCodeOutcome {
    Sent(Box<DeliveryView>),
    Throttled(TooMany),
    Refused(RecipientRefusal),
    NotFound,
}

/// Judges a typed code against a recipient (of the delivery) as read in the code's
/// transaction.
pub type RecipientCodeCheck = Box<dyn Fn(&DeliveryView, &RecipientView) -> bool + Send + Sync>;

/// A code typed on a recipient's page.
pub struct TypedRecipientCode {
    pub link_sha256: [u8; 32],
    pub check: RecipientCodeCheck,
    /// The session the right code opens: its token's SHA-256, and its end.
    pub session_sha256: [u8; 32],
    pub session_expires_at_s: i64,
    /// Wrong codes in a row that pause the recipient, and for how long.
    pub tries_max: u32,
    pub pause_s: i64,
    pub now_s: i64,
}

pub enum TypedCodeOutcome {
    /// The right code: the recipient is authenticated and the session opened.
    Right(Box<DeliveryView>),
    Wrong {
        tries_left: u32,
    },
    /// The last wrong code: the recipient is paused until then.
    Paused {
        until_s: i64,
    },
    /// No code is live (none sent, used, or past its time): nothing counted.
    NoCode,
    Refused(RecipientRefusal),
    NotFound,
}

/// The files handed over to an authenticated recipient, under a withdrawal certificate
/// sceau made for a key their browser holds.
pub struct RecipientWithdrawal {
    pub link_sha256: [u8; 32],
    pub session_sha256: [u8; 32],
    pub certificate: NewCertificate,
    pub now_s: i64,
}

pub enum WithdrawalOutcome {
    Withdrawn(Box<DeliveryView>),
    Refused(RecipientRefusal),
    /// No such recipient, or not this session's.
    NotFound,
}

/// A recipient's answer, its signature checked by the caller under the certificate
/// `serial`, with the digests their browser computed, in the envelope's order (none for
/// a file it could not read: only in a refusal).
pub struct RecipientAnswerSent {
    pub link_sha256: [u8; 32],
    pub session_sha256: [u8; 32],
    pub accept: bool,
    pub serial: String,
    pub digests: Vec<Option<[u8; 32]>>,
    pub answer: RecipientAnswer,
    pub now_s: i64,
}

pub enum AnswerOutcome {
    Answered(Box<DeliveryView>),
    /// An acceptance of files whose digests are not the envelope's: nothing is kept
    /// (the positions that differ).
    DigestsDiffer(Vec<u32>),
    /// The certificate is not the recipient's latest withdrawal certificate, or was used,
    /// revoked or has expired.
    CertificateUnusable,
    Refused(RecipientRefusal),
    NotFound,
}

/// What the sender is told of a recipient whose state they were not told yet (or what a
/// recipient is reminded): the message to queue, if any.
pub type SenderNotice =
    Box<dyn Fn(&DeliveryView, &RecipientView) -> Option<NewMessage> + Send + Sync>;
