//! The store's capabilities: one small trait each, implemented by both backends in one
//! file per capability (`sqlite/<capability>.rs`, `postgres/<capability>.rs`). [`crate::Store`]
//! is their sum; a use case or worker asks only for the traits it needs.

use crate::StoreError;
use crate::archive::{ArchiveReader, ByteStream};
use crate::error::ArchiveError;
use crate::model::*;
use async_trait::async_trait;
use sceau_domain::PhoneNumber;

/// Clients and merchants: enrolment, lookup, blocking, and whether a merchant may reach a client.
#[async_trait]
pub trait Parties: Send + Sync + 'static {
    /// Enrols a client: their account (with its opening balance transferred from the
    /// issuer's funding account of that currency) and their credentials.
    async fn enroll_client(&self, client: NewClient) -> Result<ClientRecord, StoreError>;

    /// Enrols a merchant. Settlement accounts are opened per currency on first use.
    async fn enroll_merchant(&self, merchant: NewMerchant) -> Result<MerchantRecord, StoreError>;

    async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, StoreError>;

    async fn merchant(&self, merchant_id: i64) -> Result<Option<MerchantRecord>, StoreError>;

    async fn merchants(&self, limit: u32) -> Result<Vec<MerchantRecord>, StoreError>;

    async fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>, StoreError>;

    async fn client_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ClientRecord>, StoreError>;

    /// The client whose e-mail address is `email` (without case), the first enrolled if
    /// several gave it.
    async fn client_by_email(&self, email: &str) -> Result<Option<ClientRecord>, StoreError>;

    async fn client(&self, client_id: i64) -> Result<Option<ClientRecord>, StoreError>;

    async fn clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError>;

    /// Whether the client is sent their seals and numbers by a call that reads them out
    /// (the client's choice, when a call route exists); false if there is no such client.
    async fn set_client_by_call(&self, client_id: i64, by_call: bool) -> Result<bool, StoreError>;

    /// Whether the client dealt with the merchant (paid it, or signed in on one of its
    /// checkouts): only then may the merchant have a number sent to them (Figure 4).
    async fn merchant_knows_client(
        &self,
        merchant_id: i64,
        client_id: i64,
    ) -> Result<bool, StoreError>;
}

/// Password sign-in with its pauses and unlock codes, and sessions.
#[async_trait]
pub trait SignIns: Send + Sync + 'static {
    /// Decides a password sign-in attempt under the account's lock, on the account as it
    /// is then (`sceau_domain::sign_in::judge_attempt`: attempts sent at once are judged
    /// one after the other), and records it: a success ends the wrong passwords' count,
    /// the pauses in a row, the unlock code and its sends; a wrong password is counted,
    /// and too many in a row pause sign-in for a while, longer each time; an attempt
    /// during a pause without the right code is refused and not counted. `None` for an
    /// unknown client (an unknown login goes through the same write as a known one).
    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError>;

    /// Sends an unlock code to a paused account's phone: stores the code's input and the
    /// sends of the hour (`send.after`) and queues the message, in one transaction, on
    /// condition that the account is still paused and its unlock state is still
    /// `send.read` (else [`UnlockOutcome::Changed`]: read again and decide again).
    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError>;

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;

    /// The client of a live session, read with it (every signed-in page asks).
    async fn session_client(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<ClientRecord>, StoreError>;

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError>;
}

/// Single-use payment numbers and the merchant commands on them (Figures 4 and 5): authorize, capture, void, refund, expiry; accounts and authorizations read back.
#[async_trait]
pub trait CardPayments: Send + Sync + 'static {
    /// Issues a payment number and queues its message, in one transaction. Returns
    /// [`IssueOutcome::FingerprintTaken`] if a live number already has that fingerprint
    /// (the caller draws again).
    async fn issue_number(&self, number: NewNumber) -> Result<IssueOutcome, StoreError>;

    /// Runs a merchant command (authorize, capture, void, refund), replaying the first
    /// outcome if the idempotency key was seen before.
    async fn execute(&self, request: CommandRequest) -> Result<Executed, StoreError>;

    /// Releases holds whose time has passed and marks numbers past validity expired.
    async fn expire(&self, now_s: i64) -> Result<Expired, StoreError>;

    async fn account(&self, account_id: i64) -> Result<Option<AccountView>, StoreError>;

    async fn client_numbers(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError>;

    /// The client's numbers whose last four digits are `last_four`, newest first (at
    /// most `limit`): what an operator finds by the digits a client reads out.
    async fn client_numbers_ending(
        &self,
        client_id: i64,
        last_four: &str,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError>;

    async fn authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<Option<AuthorizationView>, StoreError>;

    /// The client's newest numbers with what became of their payments (`limit` at most).
    async fn numbers_used(&self, client_id: i64, limit: u32) -> Result<Vec<NumberUse>, StoreError>;

    /// The client's payments, newest first: up to `limit` of those made before the
    /// authorization `before` (all, when `None`).
    async fn client_payments(
        &self,
        client_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<PaymentEntry>, StoreError>;
}

/// Messages for the second channel, queued in the transaction of what they report, claimed and marked by the dispatcher.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Queues a message for the second channel on its own (for notices; a message that
    /// reports a change is queued by the command that makes it).
    async fn enqueue_message(&self, message: NewMessage, now_s: i64) -> Result<i64, StoreError>;

    /// Messages waiting for the second channel, oldest first.
    async fn pending_messages(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError>;

    /// Takes up to `limit` pending messages, oldest first, for a dispatcher to send: each
    /// is claimed until `now_s + lease_s`, and no other claim (of this or another
    /// instance) returns it before it is marked or its claim lapses. A message whose
    /// `expires_at_s` has come is never handed out: [`Outbox::expire_messages`] records
    /// it `expired`.
    async fn claim_messages(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Records what became of a send, only if the message is still pending (a message
    /// two instances mark is marked once; a final state never goes back): `Submitted`
    /// (its route and the provider's id of each part, normalized by the caller as reports
    /// will be: lower case, no leading zeros), `Failed`, `Expired`, or `Retry` (one more
    /// attempt, still pending, not claimed again before `retry_at_s`). `Failed` and
    /// `Retry` keep their reason (the route's name first, at most 200 characters) as the
    /// message's `last_error`. True if it applied.
    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<bool, StoreError>;

    /// Records a route's report on one part: finds the part `route` took under any of
    /// `id_forms` (the provider id's candidate normalized forms, tried in order, at most
    /// 8; the newest message's part if an id was reused), whichever bind of the route the
    /// report came on. `Delivered` or `Failed` sets a part still `submitted`; the message
    /// then becomes `failed` if a part failed, `delivered` when all are. A final state
    /// never changes, so a report received twice is harmless. Returns the message's id
    /// and whether this report ended it (delivered or failed),
    /// or `None` (nothing written) when no part matches.
    async fn record_report(
        &self,
        route: &str,
        id_forms: &[String],
        outcome: PartOutcome,
        now_s: i64,
    ) -> Result<Option<ReportRecorded>, StoreError>;

    /// Pending messages whose `expires_at_s` has come, and that no dispatcher holds right
    /// now, become `expired` (never sent late); how many. The expiry sweep runs it.
    async fn expire_messages(&self, now_s: i64) -> Result<u64, StoreError>;

    /// The messages not sent yet, and when the oldest of them was queued.
    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError>;

    /// How many messages created since `since_s` are in each state, per route (`None`
    /// first), then state.
    async fn message_counts(&self, since_s: i64) -> Result<Vec<MessageCount>, StoreError>;

    /// What operators see of the messages, newest first, before `before_id` if given,
    /// at most `limit` (capped at 1,000): states and times, addresses masked, never a
    /// body.
    async fn message_states(
        &self,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageStatus>, StoreError>;

    /// Messages to one address, newest first (the phone simulator).
    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Whether `budget` would let one more message of `kind` (not a merchant's number) go
    /// to `address` at `now_s`, as the command that queues it will judge: a read, to
    /// refuse early what would be refused anyway. The command's own judgement, in its
    /// transaction, is what bounds the messages.
    async fn message_allowed(
        &self,
        address: &str,
        kind: sceau_domain::reach::MessageKind,
        budget: sceau_domain::reach::MessageBudget,
        now_s: i64,
    ) -> Result<Result<(), sceau_domain::reach::TooMany>, StoreError>;
}

/// Checkouts paid with a seal (Figures 1–3).
#[async_trait]
pub trait Checkouts: Send + Sync + 'static {
    /// Records a merchant's checkout (replaying the first answer for a seen idempotency
    /// key). Returns the checkout and whether it is a replay.
    async fn create_checkout(
        &self,
        checkout: NewCheckout,
    ) -> Result<(CheckoutView, bool), StoreError>;

    /// A checkout by the identifier in its page's address.
    async fn checkout(&self, public_id: &str) -> Result<Option<CheckoutView>, StoreError>;

    /// The client signed in on a checkout: holds the amount and binds the checkout to them.
    async fn hold_checkout(&self, hold: HoldCheckout) -> Result<HoldOutcome, StoreError>;

    /// Sends a (new) seal for a held checkout; the previous seal dies.
    async fn send_seal(&self, send: SendSeal) -> Result<SendOutcome, StoreError>;

    /// Applies the verdict on a typed seal: pays, counts a wrong try, or fails the payment.
    async fn type_seal(&self, typed: TypedSeal) -> Result<SealOutcome, StoreError>;

    /// The client refuses to pay: cancels the checkout and releases its hold at once.
    async fn cancel_checkout(&self, cancel: CancelCheckout) -> Result<CancelOutcome, StoreError>;
}

/// Signed notices to merchants' servers, queued with their event, claimed and marked by the deliverer.
#[async_trait]
pub trait Webhooks: Send + Sync + 'static {
    /// Takes up to `limit` webhooks due at `now_s`, each claimed until `now_s + lease_s`.
    async fn claim_webhooks(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Records a delivery attempt of a webhook.
    async fn mark_webhook(&self, webhook_id: i64, result: WebhookResult) -> Result<(), StoreError>;

    /// Rotates a merchant's webhook secret, the one in use still signing for the overlap
    /// asked (`sceau_domain::webhook_secret::rotate`), or, for an idempotency key seen
    /// before, answers what that rotation gave.
    async fn rotate_webhook_secret(
        &self,
        rotation: RotateWebhookSecret,
    ) -> Result<RotationOutcome, StoreError>;
}

/// Where merchants are paid out to, and clearing batches with their settlement files.
#[async_trait]
pub trait Clearing: Send + Sync + 'static {
    /// Sets where a merchant is paid out to. False if there is no such merchant.
    async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<bool, StoreError>;

    /// Closes a clearing batch, in one transaction: pays out the balances (transfers of
    /// kind `payout`, recorded with the batch), and stores the batch with its settlement
    /// file. Balances paid are zero afterwards, so a second close pays nothing.
    async fn close_clearing_batch(
        &self,
        close: CloseClearing,
    ) -> Result<ClearingOutcome, StoreError>;

    /// A closed batch and its payouts.
    async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError>;

    /// Closed batches, newest first.
    async fn clearing_batches(&self, limit: u32) -> Result<Vec<ClearingBatch>, StoreError>;

    /// A closed batch's settlement file, exactly as it was written.
    async fn settlement_file(&self, batch_id: i64) -> Result<Option<String>, StoreError>;
}

/// The pinned PKI root and the certificates it issued: recorded, revoked, used once.
#[async_trait]
pub trait Certificates: Send + Sync + 'static {
    /// Pins the PKI whose root certificate has this SHA-256 to the database, the first
    /// time; returns the pinned root's hash (the one given, or another instance's).
    async fn pin_pki_root(&self, root_sha256: [u8; 32], now_s: i64)
    -> Result<[u8; 32], StoreError>;

    /// Records a certificate issued outside enrolment (a disposable one, or a client's
    /// later certificate). A serial or key label seen before is a conflict.
    async fn record_certificate(&self, certificate: NewCertificate) -> Result<(), StoreError>;

    /// A certificate by its serial number (lowercase hexadecimal).
    async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>, StoreError>;

    /// A client's certificates, oldest first.
    async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError>;

    /// Revokes a certificate for the RFC 5280 reason `reason`, at `now_s`; the first
    /// revocation stands. Its evidence record names `by`.
    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: u8,
        by: ActedBy,
        now_s: i64,
    ) -> Result<RevokeOutcome, StoreError>;

    /// Revoked certificates not yet expired at `now_s` (what the CRL lists), by serial.
    async fn revocations(&self, now_s: i64) -> Result<Vec<CertificateRecord>, StoreError>;

    /// The one use of a disposable certificate: in one transaction, checks it is valid
    /// at `now_s`, unused and unrevoked, and records the use with its revocation.
    async fn use_certificate(&self, serial: &str, now_s: i64) -> Result<UseOutcome, StoreError>;
}

/// The legacy signature requests, read only: those made before a signature request
/// became a one-file envelope ([`Envelopes`]). Nothing creates, seals or signs them any
/// more; their rows stay readable, so that a request signed before keeps its signature
/// downloadable.
#[async_trait]
pub trait Signatures: Send + Sync + 'static {
    /// A signature request by its public identifier.
    async fn signature_request(
        &self,
        public_id: &str,
    ) -> Result<Option<SignatureRequestView>, StoreError>;

    /// A client's signature requests, newest first, up to `limit`.
    async fn client_signature_requests(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, StoreError>;
}

/// The transparency log: entries queued, integrated under signed checkpoints, proved.
#[async_trait]
pub trait TransparencyLog: Send + Sync + 'static {
    /// Queues entries for the transparency log, in order (an integration appends them).
    async fn append_log(&self, entries: Vec<Vec<u8>>, now_s: i64) -> Result<(), StoreError>;

    /// Appends the waiting entries (up to the batch's size) to the log and signs the new
    /// checkpoint, in one transaction. `None` when nothing was waiting.
    async fn integrate_log(
        &self,
        integrate: IntegrateLog,
    ) -> Result<Option<LogCheckpoint>, StoreError>;

    /// The newest checkpoint.
    async fn log_checkpoint(&self) -> Result<Option<LogCheckpoint>, StoreError>;

    /// Entries written but not integrated yet (queued entries and evidence records): the
    /// integration's lag.
    async fn log_waiting(&self) -> Result<u64, StoreError>;

    /// The entry at `index` of the log (integrated).
    async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// The inclusion proof of the entry `index` in the tree of `size` entries; `None`
    /// unless `index < size <=` the integrated size.
    async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError>;

    /// The inclusion proofs of the entries `indexes` in the tree of `size` entries, in
    /// order; `None` unless every `index < size <=` the integrated size. A backend may
    /// read the nodes the proofs share once (records of one subject are near each other
    /// in the log, and their proofs mostly the same nodes).
    async fn log_inclusion_proofs(
        &self,
        indexes: Vec<u64>,
        size: u64,
    ) -> Result<Option<Vec<Vec<[u8; 32]>>>, StoreError> {
        let mut proofs = Vec::with_capacity(indexes.len());
        for index in indexes {
            match self.log_inclusion_proof(index, size).await? {
                Some(proof) => proofs.push(proof),
                None => return Ok(None),
            }
        }
        Ok(Some(proofs))
    }

    /// The consistency proof between the trees of `old` and `new` entries; `None` unless
    /// `old <= new <=` the integrated size.
    async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError>;

    /// The stored complete nodes of `level` from `start`, in order, up to `count`
    /// (stopping at the first missing): the content of tlog-tiles' hash tiles.
    async fn log_nodes(
        &self,
        level: u8,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, StoreError>;

    /// The entries from `start`, in order, up to `count` (tlog-tiles' entry bundles).
    async fn log_entries(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError>;
}

/// Evidence records per subject, and their receipts.
#[async_trait]
pub trait Evidence: Send + Sync + 'static {
    /// The evidence records of a subject (`checkout:co_…`, `number:12`...), in order,
    /// each with its index in the log once integrated.
    async fn evidence(&self, subject: &str) -> Result<Vec<EvidenceRecord>, StoreError>;

    /// Stores the receipt of an evidence record: the CMS signature of the record by the
    /// client's key. The first receipt stands: false if the record had one.
    async fn record_receipt(
        &self,
        evidence_id: i64,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError>;

    /// The receipt of an evidence record.
    async fn receipt(&self, evidence_id: i64) -> Result<Option<Vec<u8>>, StoreError>;

    /// How many receipts sign records after `evidence_id` (ids grow with the records),
    /// and the newest such record's id (`evidence_id` if none): what `sceau bench`
    /// waits for before it ends a run of whole payments, reading only that run's rows.
    async fn receipts_after(&self, evidence_id: i64) -> Result<(i64, i64), StoreError>;
}

/// The ledger's invariants, recomputed from the stored rows.
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// Recomputes the ledger's invariants from the stored rows.
    async fn check_ledger(&self) -> Result<LedgerReport, StoreError>;
}

/// The notary's envelopes: opened for a disposable certificate, then the manifest the
/// station signed and each of its files, judged by `sceau_domain::envelope`.
#[async_trait]
pub trait Envelopes: Send + Sync + 'static {
    /// Opens an envelope for a client and the disposable certificate issued for it.
    async fn create_envelope(&self, envelope: NewEnvelope) -> Result<EnvelopeView, StoreError>;

    /// An envelope by its public id, with its files and destinations.
    async fn envelope(&self, public_id: &str) -> Result<Option<EnvelopeView>, StoreError>;

    /// A client's envelopes, newest first.
    async fn client_envelopes(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError>;

    /// A client's envelopes of exactly one file (signature requests), newest first.
    async fn client_one_file_envelopes(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError>;

    /// Judges a signed manifest and applies the plan (kept, refused with its evidence, or
    /// expired); the envelope as it is then (`None` if there is none).
    async fn sign_manifest(
        &self,
        signed: SignedManifest,
    ) -> Result<(ManifestPlan, Option<EnvelopeView>), StoreError>;

    /// Judges a file that arrived whole and applies the plan (kept, refused with its
    /// evidence, or expired).
    async fn receive_file(&self, received: ReceivedFile) -> Result<FileReceipt, StoreError>;

    /// A new seal for an envelope awaiting one, if the client's budget allows it.
    async fn resend_envelope_seal(
        &self,
        resend: EnvelopeSealResend,
    ) -> Result<EnvelopeResendOutcome, StoreError>;

    /// A seal typed for an envelope in a client's session: judged and recorded in one
    /// transaction.
    async fn type_envelope_seal(
        &self,
        typed: TypedEnvelopeSeal,
    ) -> Result<EnvelopeSealOutcome, StoreError>;

    /// A sealed envelope signed and archived: notarized, with its evidence, and in the
    /// same transaction every archived object it names (its files, signed PDFs,
    /// container) kept until its retention (extended, never shortened). False if it was
    /// not sealed.
    async fn notarize_envelope(&self, notarized: NotarizedEnvelope) -> Result<bool, StoreError>;

    /// Says why a sealed envelope waits.
    async fn envelope_waits(
        &self,
        public_id: &str,
        why: &str,
        now_s: i64,
    ) -> Result<bool, StoreError>;

    /// A sealed envelope that can never be signed fails, saying why.
    async fn fail_sealed_envelope(
        &self,
        public_id: &str,
        why: &str,
        now_s: i64,
    ) -> Result<bool, StoreError>;

    /// Notarized envelopes whose retention ended by `now_s`, with their files.
    async fn envelopes_past_retention(
        &self,
        now_s: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError>;

    /// Records (with its evidence) that an envelope's archived content was deleted after
    /// its retention; false if it was not past retention or was deleted already.
    async fn envelope_deleted(&self, public_id: &str, now_s: i64) -> Result<bool, StoreError>;

    /// Envelopes never finished, `grace_s` past what they waited for (the station's
    /// certificate, or the seal), become expired with their evidence; how many (at most
    /// `limit`).
    async fn expire_stale_envelopes(
        &self,
        now_s: i64,
        grace_s: i64,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Whether another live envelope names content of this SHA-256.
    async fn envelope_content_in_use(
        &self,
        public_id: &str,
        sha256: [u8; 32],
    ) -> Result<bool, StoreError>;
}

/// The notary's archive: files kept for years, content-addressed by SHA-256. Puts and
/// reads stream (memory does not grow with an object's size); every read is re-checked
/// against the object's address ([`ArchiveReader`]).
/// Certified delivery: notarized envelopes sent to recipients, their codes, sessions,
/// withdrawals and answers, the deadline's sweep and the senders' notices
/// (`ops::deliveries`; the rules are `sceau_domain::delivery`).
#[async_trait]
pub trait Deliveries: Send + Sync + 'static {
    /// Sends a notarized envelope of the sender's: the delivery, its recipients, each
    /// one's notice queued and the submission's evidence, in one transaction.
    async fn send_delivery(&self, delivery: NewDelivery)
    -> Result<DeliverySendOutcome, StoreError>;

    /// A delivery by its public id, with every recipient.
    async fn delivery(&self, public_id: &str) -> Result<Option<DeliveryView>, StoreError>;

    /// An envelope's deliveries, newest first, each with every recipient.
    async fn envelope_deliveries(
        &self,
        envelope_id: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, StoreError>;

    /// The delivery a link names, with that one recipient.
    async fn delivery_by_link(
        &self,
        link_sha256: [u8; 32],
    ) -> Result<Option<DeliveryView>, StoreError>;

    /// The delivery whose recipient (on this link) has this live session, with that one
    /// recipient.
    async fn delivery_by_session(
        &self,
        link_sha256: [u8; 32],
        session_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<Option<DeliveryView>, StoreError>;

    /// Sends a recipient a new code, if their phone's budget allows it.
    async fn send_recipient_code(
        &self,
        send: RecipientCodeSend,
    ) -> Result<RecipientCodeOutcome, StoreError>;

    /// Judges a code typed on a recipient's page (see `ops::deliveries::type_code`).
    async fn type_recipient_code(
        &self,
        typed: TypedRecipientCode,
    ) -> Result<TypedCodeOutcome, StoreError>;

    /// Hands the files over to an authenticated recipient under a withdrawal certificate.
    async fn withdraw_delivery(
        &self,
        withdrawal: RecipientWithdrawal,
    ) -> Result<WithdrawalOutcome, StoreError>;

    /// A recipient's answer, its signature checked by the caller.
    async fn answer_delivery(
        &self,
        answer: RecipientAnswerSent,
    ) -> Result<AnswerOutcome, StoreError>;

    /// Expires the recipients of deliveries past their deadline (up to `limit`
    /// deliveries); how many recipients expired.
    async fn expire_deliveries(&self, now_s: i64, limit: u32) -> Result<u64, StoreError>;

    /// Queues reminders to recipients who have not answered, of deliveries whose deadline
    /// is within `ahead_s` (up to `limit`), each once; how many.
    async fn remind_recipients(
        &self,
        reminder: SenderNotice,
        ahead_s: i64,
        limit: u32,
        now_s: i64,
    ) -> Result<u64, StoreError>;

    /// Queues to senders the notices of recipients whose latest state they were not
    /// told of (up to `limit`); how many recipients were marked told.
    async fn tell_senders(
        &self,
        notice: SenderNotice,
        limit: u32,
        now_s: i64,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait Archive: Send + Sync + 'static {
    /// Stores `content`, hashing it as it arrives, and answers once it is durable. The
    /// same content is stored once: a put of bytes already archived succeeds with the
    /// same address and may extend their retention, never shorten it. A put refused
    /// (not the expected bytes, too long, a stream that failed) or abandoned leaves no
    /// object behind.
    async fn put(
        &self,
        content: ByteStream<'_>,
        deposit: Deposit,
    ) -> Result<ArchivedObject, ArchiveError>;

    /// The object's bytes, re-checked as they are read; `None` if it is not archived.
    async fn get(&self, sha256: &[u8; 32]) -> Result<Option<ArchiveReader>, StoreError>;

    /// What the archive keeps of an object, without its bytes.
    async fn archived(&self, sha256: &[u8; 32]) -> Result<Option<ArchiveEntry>, StoreError>;

    /// Keeps an archived object at least until `retain_until_s` (a later put's rule:
    /// extended, never shortened) without its bytes passing again; false if it is not
    /// archived. Takes turns with a deletion of the same content.
    async fn retain(&self, sha256: &[u8; 32], retain_until_s: i64) -> Result<bool, StoreError>;

    /// Objects whose retention ended at or before `now_s`, the longest past first.
    async fn past_retention(&self, now_s: i64, limit: u32)
    -> Result<Vec<ArchiveEntry>, StoreError>;

    /// Deletes an object whose retention ended at or before `now_s`; false (and nothing
    /// deleted) if it is not archived or must still be kept.
    async fn delete(&self, sha256: &[u8; 32], now_s: i64) -> Result<bool, StoreError>;

    /// Removes what puts that never ended left behind, last written before `before_s`
    /// (give it a margin longer than any upload): a server stopped mid-upload leaves an
    /// upload no row names (PostgreSQL) or a temporary file (SQLite), and a crash between
    /// a file's rename and its row a file no row names. Reads every such candidate's row:
    /// a maintenance task, not a hot path. Returns how many were removed.
    async fn sweep_unfinished(&self, before_s: i64) -> Result<u64, StoreError>;
}

/// The purge of what is past its retention window (`sceau_domain::retention`).
#[async_trait]
pub trait Purging: Send + Sync + 'static {
    /// Removes one batch: at most `purge.batch_max` rows of each kind, in one
    /// transaction. Never touches the ledger, numbers, evidence, the log, certificates,
    /// signatures or the archive.
    async fn purge(&self, purge: Purge) -> Result<Purged, StoreError>;
}

/// The issuer's operators (the console): accounts, password sign-in with its pauses,
/// sessions, and their actions, each written with its evidence record.
#[async_trait]
pub trait Operators: Send + Sync + 'static {
    /// Makes an account; `None` if the login is taken.
    async fn add_operator(
        &self,
        operator: NewOperator,
    ) -> Result<Option<OperatorRecord>, StoreError>;

    async fn operator_by_login(&self, login: &str) -> Result<Option<OperatorRecord>, StoreError>;

    /// The operators' accounts (disabled ones too), oldest first, `limit` at most.
    async fn operators(&self, limit: u32) -> Result<Vec<OperatorRecord>, StoreError>;

    /// Disables an operator (no sign-in; every session ended) or enables them again; false
    /// if there is no such login.
    async fn set_operator_disabled(&self, login: &str, disabled: bool) -> Result<bool, StoreError>;

    /// Sets an operator's password, lifts a pause and ends every session of theirs; false
    /// if there is no such login.
    async fn set_operator_password(
        &self,
        login: &str,
        password_hash: String,
    ) -> Result<bool, StoreError>;

    /// Judges a sign-in attempt under the account's lock (`sign_in::judge_attempt`, with no
    /// unlock code) and records it; `None` for an unknown operator.
    async fn record_operator_sign_in(
        &self,
        attempt: OperatorSignIn,
    ) -> Result<Option<SignInVerdict>, StoreError>;

    async fn create_operator_session(&self, session: NewOperatorSession) -> Result<(), StoreError>;

    /// The operator of a live session.
    async fn operator_session(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<OperatorRecord>, StoreError>;

    async fn delete_operator_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError>;

    /// Blocks or unblocks a client (a blocked client's numbers and checkouts decline with
    /// `blocked`) and writes its evidence record on the client's chain, naming who acted,
    /// in one transaction: the only way a client's block changes.
    async fn operator_acts(&self, acts: OperatorActs) -> Result<ActionOutcome, StoreError>;
}
