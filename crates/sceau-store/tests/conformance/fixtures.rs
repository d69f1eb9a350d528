//! What every scenario shares: the backends under test, [`each_backend`], the
//! [`Fixture`] and the builders that make scenarios short.

use sceau_domain::bank::{Bic, Iban};
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::ledger::AccountKind;
use sceau_domain::policy::{AmountRule, MerchantLock, UsagePolicy};
use sceau_domain::reach::MessageBudget;
use sceau_domain::{Currency, Expiry, Money, PhoneNumber};
use sceau_store::postgres::scratch::{ScratchSchema, test_database_url};
use sceau_store::sqlite::SqliteArchive;
use sceau_store::{
    AccountView, ActedBy, Archive, AuthorizationView, BankDetails, CertificateKind, CheckoutView,
    CheckpointSigner, ClearingBatch, ClearingDraft, ClearingOutcome, ClientRecord, CloseClearing,
    CommandRequest, HoldCheckout, HoldOutcome, IdempotencyKey, IssueOutcome, Medium,
    MerchantCommand, MerchantRecord, NewCertificate, NewCheckout, NewClient, NewMerchant,
    NewMessage, NewNumber, NewSession, NumberView, Origin, Outcome, Payout, PayoutLine,
    PostgresSettings, PostgresStore, SealOutcome, SendOutcome, SendSeal, SettlementWriter,
    SkippedMerchant, SqliteStore, Store, StoredSeal, TypedSeal, WebhookDelivery,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The instant every test starts at.
pub(crate) const NOW: i64 = 1_700_000_000;
pub(crate) const VALIDITY_S: i64 = 900;
pub(crate) const HOLD_TTL_S: i64 = 3_600;
pub(crate) const LIST_LIMIT: u32 = 1_000;

// ---------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------

/// Whatever must live as long as the store (a temporary directory, a throw-away database).
pub(crate) type Guard = Box<dyn std::any::Any + Send + Sync>;

/// One fresh, empty store of one backend.
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    pub(crate) store: Arc<dyn Store>,
    /// The notary's archive beside the store (its rows in the same database), for the
    /// scenarios that need one.
    pub(crate) archive: Option<Arc<dyn Archive>>,
    pub(crate) guard: Guard,
}

/// A fresh, empty store of every backend under test: SQLite always; PostgreSQL when
/// `SCEAU_TEST_DATABASE_URL` names a database (each store in a schema of its own,
/// dropped with its guard).
pub(crate) async fn backends() -> Vec<Backend> {
    let mut all = vec![sqlite_backend()];
    if let Some(url) = test_database_url() {
        all.push(postgres_backend(&url).await);
    }
    all
}

pub(crate) async fn postgres_backend(url: &str) -> Backend {
    let schema = ScratchSchema::create(url)
        .await
        .expect("create a scratch schema in the test database");
    let store = PostgresStore::open(&schema.url, PostgresSettings::default())
        .await
        .expect("open the PostgreSQL store");
    Backend {
        name: "postgres",
        archive: Some(Arc::new(store.clone())),
        store: Arc::new(store),
        guard: Box::new(schema),
    }
}

pub(crate) fn sqlite_backend() -> Backend {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store =
        SqliteStore::open(&directory.path().join("sceau.db")).expect("open the SQLite store");
    let archive = SqliteArchive::open(&store, &directory.path().join("archive"))
        .expect("open the SQLite archive");
    Backend {
        name: "sqlite",
        store: Arc::new(store),
        archive: Some(Arc::new(archive)),
        guard: Box::new(directory),
    }
}

/// A backend's name, its instances on one database, and what keeps it.
pub(crate) type Instances = (&'static str, Vec<Arc<dyn Store>>, Guard);

/// Each backend with several instances where it can have them: SQLite's one store, and
/// PostgreSQL's two instances of 4 lanes on one scratch schema (for races between
/// instances, which one instance's lanes alone may not make).
pub(crate) async fn instances_of_each_backend() -> Vec<Instances> {
    let mut setups: Vec<Instances> = Vec::new();
    let sqlite = sqlite_backend();
    setups.push(("sqlite", vec![sqlite.store.clone()], sqlite.guard));
    if let Some(url) = test_database_url() {
        let schema = ScratchSchema::create(&url).await.expect("a scratch schema");
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..2 {
            let settings = PostgresSettings {
                lanes: 4,
                ..PostgresSettings::default()
            };
            let store = PostgresStore::open(&schema.url, settings)
                .await
                .expect("an instance");
            stores.push(Arc::new(store));
        }
        setups.push(("postgres, two instances", stores, Box::new(schema)));
    }
    setups
}

/// A fixture on the first of a backend's instances (the scenario's own set-up and
/// checks); the others stay in `Instances` for the race itself. The instances' guard
/// keeps the database.
pub(crate) fn on_first_instance(name: &'static str, stores: &[Arc<dyn Store>]) -> Fixture {
    Fixture::new(Backend {
        name,
        store: stores[0].clone(),
        archive: None,
        guard: Box::new(()),
    })
}

/// Runs `scenario` once on a fresh store of every backend.
pub(crate) async fn each_backend(scenario: impl AsyncFn(&Fixture)) {
    for backend in backends().await {
        let fixture = Fixture::new(backend);
        eprintln!("backend: {}", fixture.name);
        scenario(&fixture).await;
    }
}

// ---------------------------------------------------------------------------------------
// Fixture: a store and the helpers that make scenarios short
// ---------------------------------------------------------------------------------------

pub(crate) struct Fixture {
    pub(crate) name: &'static str,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) archive: Option<Arc<dyn Archive>>,
    /// Source of distinct logins, phones, fingerprints, keys.
    pub(crate) counter: AtomicU64,
    pub(crate) _guard: Guard,
}

/// A number as the holder knows it: what the merchant will send to authorize.
#[derive(Debug, Clone)]
pub(crate) struct Card {
    pub(crate) number: [u8; 32],
    pub(crate) details: [u8; 32],
    pub(crate) currency: Currency,
    pub(crate) view: NumberView,
}

pub(crate) fn bytes32(tag: u8, n: u64) -> [u8; 32] {
    let mut bytes = [0_u8; 32];
    bytes[0] = tag;
    bytes[1..9].copy_from_slice(&n.to_le_bytes());
    bytes
}

pub(crate) const NUMBER_TAG: u8 = 0x01;
pub(crate) const DETAILS_TAG: u8 = 0x02;
pub(crate) const KEY_TAG: u8 = 0x03;
pub(crate) const TOKEN_TAG: u8 = 0x04;
pub(crate) const REQUEST_TAG: u8 = 0x05;

pub(crate) fn currency(code: &str) -> Currency {
    code.parse().expect("ISO 4217 code")
}

pub(crate) fn phone(n: u64) -> PhoneNumber {
    format!("+3361{n:07}").parse().expect("E.164")
}

pub(crate) fn new_client(
    n: u64,
    currency_code: &str,
    opening_balance: i64,
    credit_limit: i64,
) -> NewClient {
    NewClient {
        login: format!("client-{n}"),
        display_name: format!("Client {n}"),
        password_hash: format!("$argon2id$hash-{n}"),
        phone: phone(n),
        email: None,
        currency: currency(currency_code),
        opening_balance,
        credit_limit,
        certificates: Vec::new(),
        now_s: NOW,
    }
}

pub(crate) fn new_certificate(
    serial: &str,
    kind: CertificateKind,
    names: Option<&str>,
) -> NewCertificate {
    NewCertificate {
        serial: serial.to_owned(),
        kind,
        client_id: None,
        key_label: Some(format!("key-{serial}")),
        der: serial.as_bytes().to_vec(),
        not_before_s: NOW,
        not_after_s: NOW + 600,
        names_serial: names.map(str::to_owned),
        now_s: NOW,
    }
}

pub(crate) fn policy(uses_max: u32, amount: AmountRule, merchant: MerchantLock) -> UsagePolicy {
    UsagePolicy {
        uses_max,
        amount,
        merchant,
        valid_until_s: NOW + VALIDITY_S,
    }
}

pub(crate) fn one_use() -> UsagePolicy {
    policy(1, AmountRule::Any, MerchantLock::Any)
}

pub(crate) fn new_number(
    client: &ClientRecord,
    policy: UsagePolicy,
    fingerprint: [u8; 32],
    n: u64,
    now_s: i64,
) -> NewNumber {
    NewNumber {
        client_id: client.id,
        fingerprint,
        details_fingerprint: bytes32(DETAILS_TAG, n),
        last_four: format!("{:04}", n % 10_000),
        expiry: Expiry::of_instant(policy.valid_until_s),
        origin: Origin::Client,
        policy,
        currency: client.currency,
        message: NewMessage {
            address: client.phone.as_str().to_owned(),
            sealed_body: format!("sealed-{n}").into_bytes(),
            medium: Medium::Sms,
            expires_at_s: policy.valid_until_s,
        },
        budget: MessageBudget::UNLIMITED,
        merchant_clients_max: u32::MAX,
        idempotency: None,
        now_s,
    }
}

/// A partial amount in euros (the currency of most cases here).
pub(crate) fn eur(minor: i64) -> Money {
    Money::new(minor, currency("EUR"))
}

pub(crate) fn authorize_command(card: &Card, amount: i64) -> MerchantCommand {
    authorize_command_with(card, amount, card.details, HOLD_TTL_S)
}

pub(crate) fn authorize_command_with(
    card: &Card,
    amount: i64,
    details_fingerprint: [u8; 32],
    hold_ttl_s: i64,
) -> MerchantCommand {
    MerchantCommand::Authorize {
        number_fingerprint: card.number,
        details_fingerprint,
        amount,
        currency: card.currency,
        merchant_reference: format!("order-{amount}"),
        hold_ttl_s,
    }
}

pub(crate) fn request(merchant_id: i64, command: MerchantCommand, now_s: i64) -> CommandRequest {
    CommandRequest {
        merchant_id,
        idempotency: None,
        command,
        now_s,
    }
}

pub(crate) fn keyed(
    merchant_id: i64,
    key: &str,
    hash: u64,
    command: MerchantCommand,
    now_s: i64,
) -> CommandRequest {
    CommandRequest {
        merchant_id,
        idempotency: Some(IdempotencyKey {
            key: key.to_owned(),
            request_hash: bytes32(REQUEST_TAG, hash),
        }),
        command,
        now_s,
    }
}

pub(crate) fn authorized(outcome: Outcome) -> AuthorizationView {
    match outcome {
        Outcome::Authorized { authorization } => authorization,
        other => panic!("expected an authorization, got {other:?}"),
    }
}

pub(crate) fn declined(outcome: Outcome) -> Decline {
    match outcome {
        Outcome::Declined { decline, .. } => decline,
        other => panic!("expected a decline, got {other:?}"),
    }
}

pub(crate) fn rejected(outcome: Outcome) -> Rejection {
    match outcome {
        Outcome::Rejected { rejection } => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

impl Fixture {
    pub(crate) fn new(backend: Backend) -> Fixture {
        Fixture {
            name: backend.name,
            store: backend.store,
            archive: backend.archive,
            counter: AtomicU64::new(1),
            _guard: backend.guard,
        }
    }

    pub(crate) fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) async fn client(&self, opening_balance: i64, credit_limit: i64) -> ClientRecord {
        self.client_in("EUR", opening_balance, credit_limit).await
    }

    pub(crate) async fn client_in(
        &self,
        currency_code: &str,
        opening_balance: i64,
        credit_limit: i64,
    ) -> ClientRecord {
        let n = self.next();
        self.store
            .enroll_client(new_client(n, currency_code, opening_balance, credit_limit))
            .await
            .expect("enrol a client")
    }

    pub(crate) async fn merchant(&self) -> MerchantRecord {
        let n = self.next();
        let merchant = NewMerchant {
            name: format!("Merchant {n}"),
            api_key_hash: bytes32(KEY_TAG, n),
            bank: None,
            now_s: NOW,
        };
        self.store
            .enroll_merchant(merchant)
            .await
            .expect("enrol a merchant")
    }

    pub(crate) async fn issue(&self, client: &ClientRecord, policy: UsagePolicy) -> Card {
        self.issue_at(client, policy, NOW).await
    }

    pub(crate) async fn issue_at(
        &self,
        client: &ClientRecord,
        policy: UsagePolicy,
        now_s: i64,
    ) -> Card {
        let n = self.next();
        let number = bytes32(NUMBER_TAG, n);
        match self
            .store
            .issue_number(new_number(client, policy, number, n, now_s))
            .await
            .expect("issue a number")
        {
            IssueOutcome::Issued(view) => Card {
                number,
                details: bytes32(DETAILS_TAG, n),
                currency: client.currency,
                view,
            },
            IssueOutcome::Replayed(_) => panic!("an issue without idempotency key was replayed"),
            IssueOutcome::FingerprintTaken
            | IssueOutcome::Throttled(_)
            | IssueOutcome::Unreachable
            | IssueOutcome::TooManyClients
            | IssueOutcome::CurrencyMismatch => panic!("{}: a number was refused", self.name),
        }
    }

    /// `client` pays `merchant` one cent at `now_s` (a number of their own, authorized and
    /// captured): from then on the merchant may have numbers sent to them.
    pub(crate) async fn pays(&self, merchant: &MerchantRecord, client: &ClientRecord, now_s: i64) {
        let card = self.issue_at(client, one_use(), now_s).await;
        let authorization = authorized(self.authorize(merchant.id, &card, 1, now_s).await);
        let capture = MerchantCommand::Capture {
            authorization_id: authorization.id,
            amount: None,
        };
        assert!(
            matches!(
                self.run(merchant.id, capture, now_s).await,
                Outcome::Captured { .. }
            ),
            "{}",
            self.name
        );
    }

    /// Runs a command without an idempotency key: never a replay.
    pub(crate) async fn run(
        &self,
        merchant_id: i64,
        command: MerchantCommand,
        now_s: i64,
    ) -> Outcome {
        let executed = self
            .store
            .execute(request(merchant_id, command, now_s))
            .await
            .expect("execute");
        assert!(
            !executed.replayed,
            "{}: a request without a key was replayed",
            self.name
        );
        executed.outcome
    }

    pub(crate) async fn authorize(
        &self,
        merchant_id: i64,
        card: &Card,
        amount: i64,
        now_s: i64,
    ) -> Outcome {
        self.run(merchant_id, authorize_command(card, amount), now_s)
            .await
    }

    pub(crate) async fn account(&self, client: &ClientRecord) -> AccountView {
        self.store
            .account(client.account_id)
            .await
            .expect("read an account")
            .expect("the client's account exists")
    }

    pub(crate) async fn number(&self, card: &Card) -> NumberView {
        let numbers = self
            .store
            .client_numbers(card.view.client_id, LIST_LIMIT)
            .await
            .expect("list numbers");
        numbers
            .into_iter()
            .find(|number| number.id == card.view.id)
            .expect("the number is listed")
    }

    pub(crate) async fn reread(&self, authorization: &AuthorizationView) -> AuthorizationView {
        self.store
            .authorization(authorization.merchant_id, authorization.id)
            .await
            .expect("read an authorization")
            .expect("the authorization exists")
    }

    pub(crate) async fn assert_sound(&self) {
        let report = self.store.check_ledger().await.expect("check the ledger");
        assert!(
            report.is_sound(),
            "{}: ledger unsound: {report:?}",
            self.name
        );
    }

    pub(crate) async fn pending_count(&self) -> usize {
        self.store
            .pending_messages(LIST_LIMIT)
            .await
            .expect("pending messages")
            .len()
    }
}

impl Fixture {
    /// Asks, as `merchant` at `now_s`, for a number for `client` (Figure 4) in `currency`,
    /// within `budget` and `clients_max` distinct clients an hour.
    pub(crate) async fn merchant_number(
        &self,
        merchant: &MerchantRecord,
        client: &ClientRecord,
        currency: Currency,
        budget: MessageBudget,
        clients_max: u32,
        now_s: i64,
    ) -> IssueOutcome {
        let n = self.next();
        let policy = UsagePolicy {
            merchant: MerchantLock::Named(merchant.id),
            ..one_use()
        };
        let number = NewNumber {
            origin: Origin::Merchant,
            currency,
            budget,
            merchant_clients_max: clients_max,
            ..new_number(client, policy, bytes32(NUMBER_TAG, n), n, now_s)
        };
        self.store.issue_number(number).await.unwrap()
    }

    /// What the phone of `client` was sent from `since_s` on.
    pub(crate) async fn messages_since(&self, client: &ClientRecord, since_s: i64) -> usize {
        self.store
            .messages_to(client.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .filter(|message| message.created_at_s >= since_s)
            .count()
    }
}

// ---------------------------------------------------------------------------------------
// The log
// ---------------------------------------------------------------------------------------

pub(crate) fn test_signer() -> CheckpointSigner {
    Box::new(|size, root| format!("size {size} root {}", hex_of(root)))
}

pub(crate) fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Checkouts paid with a seal
// ---------------------------------------------------------------------------------------

pub(crate) const CHECKOUT_S: i64 = 900;
pub(crate) const SEAL_S: i64 = 300;

pub(crate) fn new_checkout(
    merchant: &MerchantRecord,
    n: u64,
    amount: i64,
    key: Option<&str>,
) -> NewCheckout {
    NewCheckout {
        merchant_id: merchant.id,
        public_id: format!("co_{n:032x}"),
        amount,
        currency: currency("EUR"),
        merchant_reference: format!("cart-{n}"),
        object: "Two tickets".to_owned(),
        return_url: "https://shop.example/return".to_owned(),
        webhook_url: Some("https://shop.example/hooks".to_owned()),
        expires_at_s: NOW + CHECKOUT_S,
        idempotency: key.map(|key| IdempotencyKey {
            key: key.to_owned(),
            request_hash: bytes32(REQUEST_TAG, 77),
        }),
        now_s: NOW,
    }
}

impl Fixture {
    pub(crate) async fn checkout(&self, merchant: &MerchantRecord, amount: i64) -> CheckoutView {
        let n = self.next();
        let (view, replayed) = self
            .store
            .create_checkout(new_checkout(merchant, n, amount, None))
            .await
            .expect("create a checkout");
        assert!(!replayed);
        view
    }

    pub(crate) async fn hold(
        &self,
        checkout: &CheckoutView,
        client: &ClientRecord,
        now_s: i64,
    ) -> HoldOutcome {
        let n = self.next();
        self.store
            .hold_checkout(HoldCheckout {
                checkout_id: checkout.id,
                client_id: client.id,
                number_fingerprint: bytes32(NUMBER_TAG, n),
                details_fingerprint: bytes32(DETAILS_TAG, n),
                last_four: format!("{:04}", n % 10_000),
                expiry: Expiry::of_instant(checkout.expires_at_s),
                held_max: sceau_domain::seal::CLIENT_HELD_CHECKOUTS_MAX,
                now_s,
            })
            .await
            .expect("hold a checkout")
    }

    pub(crate) async fn held(
        &self,
        merchant: &MerchantRecord,
        client: &ClientRecord,
        amount: i64,
    ) -> CheckoutView {
        let checkout = self.checkout(merchant, amount).await;
        match self.hold(&checkout, client, NOW).await {
            HoldOutcome::Held(view) => *view,
            HoldOutcome::Declined(decline) => panic!("{}: hold declined: {decline:?}", self.name),
            HoldOutcome::Refused(refusal) => panic!("{}: hold refused: {refusal:?}", self.name),
        }
    }

    /// Sends a seal with nonce `nonce` at `now_s`.
    pub(crate) async fn send_seal(
        &self,
        checkout: &CheckoutView,
        client: &ClientRecord,
        nonce: u8,
        now_s: i64,
    ) -> SendOutcome {
        self.store
            .send_seal(SendSeal {
                checkout_id: checkout.id,
                client_id: client.id,
                seal: StoredSeal {
                    nonce: [nonce; 16],
                    digits: 8,
                    issued_at_s: now_s,
                    expires_at_s: now_s + SEAL_S,
                },
                message: NewMessage {
                    address: client.phone.as_str().to_owned(),
                    sealed_body: format!("seal-{nonce}").into_bytes(),
                    medium: Medium::Sms,
                    expires_at_s: now_s + SEAL_S,
                },
                budget: MessageBudget {
                    seals_max: sceau_domain::seal::CLIENT_SEALS_PER_HOUR_MAX as u32,
                    ..MessageBudget::UNLIMITED
                },
                now_s,
            })
            .await
            .expect("send a seal")
    }

    pub(crate) async fn sent(
        &self,
        checkout: &CheckoutView,
        client: &ClientRecord,
        nonce: u8,
        now_s: i64,
    ) -> CheckoutView {
        match self.send_seal(checkout, client, nonce, now_s).await {
            SendOutcome::Sent(view) => *view,
            SendOutcome::Refused(refusal) => panic!("{}: seal refused: {refusal:?}", self.name),
        }
    }

    /// Blocks or unblocks a client as the admin token's holder does (with its evidence
    /// record): false if there is no such client.
    pub(crate) async fn set_blocked(&self, client_id: i64, blocked: bool) -> bool {
        use sceau_domain::operator::{Actor, OperatorAction};
        let action = if blocked {
            OperatorAction::ClientBlocked { client_id }
        } else {
            OperatorAction::ClientUnblocked { client_id }
        };
        let acts = sceau_store::OperatorActs {
            actor: Actor::Admin,
            action,
            now_s: NOW,
        };
        self.store
            .operator_acts(acts)
            .await
            .expect("block or unblock")
            != sceau_store::ActionOutcome::NotFound
    }

    /// A new browser session of `client`, live for a long while: its token's hash.
    pub(crate) async fn session(&self, client: &ClientRecord) -> [u8; 32] {
        let token_hash = bytes32(TOKEN_TAG, 1_000 + self.next());
        self.store
            .create_session(NewSession {
                token_hash,
                client_id: client.id,
                now_s: NOW,
                expires_at_s: NOW + 1_000_000,
            })
            .await
            .expect("create a session");
        token_hash
    }

    /// A seal typed in `session`: right (`matched`) if the live seal is the one sent
    /// with `nonce`.
    pub(crate) fn typed(
        checkout: &CheckoutView,
        session: [u8; 32],
        nonce: u8,
        matched: bool,
        now_s: i64,
    ) -> TypedSeal {
        TypedSeal {
            public_id: checkout.public_id.clone(),
            session_token_hash: session,
            check: Box::new(move |_, live| matched && live.nonce == [nonce; 16]),
            now_s,
        }
    }

    /// Types a seal in a new session of `client`.
    pub(crate) async fn type_seal(
        &self,
        checkout: &CheckoutView,
        client: &ClientRecord,
        nonce: u8,
        matched: bool,
        now_s: i64,
    ) -> SealOutcome {
        let session = self.session(client).await;
        self.store
            .type_seal(Fixture::typed(checkout, session, nonce, matched, now_s))
            .await
            .expect("type a seal")
    }

    pub(crate) async fn reread_checkout(&self, checkout: &CheckoutView) -> CheckoutView {
        self.store
            .checkout(&checkout.public_id)
            .await
            .expect("read a checkout")
            .expect("the checkout exists")
    }

    pub(crate) async fn merchant_balance(
        &self,
        merchant: &MerchantRecord,
        checkout: &CheckoutView,
    ) -> i64 {
        let payee = checkout
            .payee_account_id
            .expect("a held checkout has a payee account");
        let account = self
            .store
            .account(payee)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(account.kind, AccountKind::Merchant);
        let _ = merchant;
        account.balance
    }

    pub(crate) async fn webhooks(&self, now_s: i64) -> Vec<WebhookDelivery> {
        self.store
            .claim_webhooks(now_s, 60, 100)
            .await
            .expect("claim webhooks")
    }
}

// ---------------------------------------------------------------------------------------
// Clearing
// ---------------------------------------------------------------------------------------

/// A German IBAN (bank code 37040044) for account `account`, check digits computed.
pub(crate) fn iban(account: u64) -> Iban {
    let bban = format!("37040044{account:010}");
    let remainder = format!("{bban}131400")
        .bytes()
        .fold(0_u32, |remainder, digit| {
            (remainder * 10 + u32::from(digit - b'0')) % 97
        });
    format!("DE{:02}{bban}", 98 - remainder)
        .parse()
        .expect("a valid IBAN")
}

pub(crate) fn bank(account: u64) -> BankDetails {
    let bic: Bic = "COBADEFFXXX".parse().expect("a valid BIC");
    BankDetails {
        iban: iban(account),
        bic,
    }
}

/// A settlement file that lists the draft, one line per payout, and keeps every draft it
/// was given.
pub(crate) fn listing_writer() -> (
    SettlementWriter,
    Arc<std::sync::Mutex<Vec<Vec<PayoutLine>>>>,
) {
    let drafts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = Arc::clone(&drafts);
    let writer: SettlementWriter = Arc::new(move |draft: &ClearingDraft<'_>| {
        kept.lock().unwrap().push(draft.lines.to_vec());
        let mut file = format!(
            "{} {} {}\n",
            draft.message_id,
            draft.currency.code(),
            draft.created_at_s
        );
        for line in draft.lines {
            file.push_str(&format!(
                "{} {} {} {}\n",
                line.merchant_name, line.bank.iban, line.bank.bic, line.amount
            ));
        }
        Ok(file)
    });
    (writer, drafts)
}

pub(crate) fn close(
    code: &str,
    message_id: &str,
    writer: &SettlementWriter,
    now_s: i64,
) -> CloseClearing {
    CloseClearing {
        currency: currency(code),
        message_id: message_id.to_owned(),
        write_file: Arc::clone(writer),
        by: ActedBy::Admin,
        now_s,
    }
}

pub(crate) fn closed(
    outcome: ClearingOutcome,
) -> (ClearingBatch, Vec<Payout>, Vec<SkippedMerchant>) {
    match outcome {
        ClearingOutcome::Closed {
            batch,
            payouts,
            skipped,
        } => (batch, payouts, skipped),
        other => panic!("expected a closed batch, got {other:?}"),
    }
}

impl Fixture {
    pub(crate) async fn merchant_paid_to(&self, bank: Option<BankDetails>) -> MerchantRecord {
        let n = self.next();
        let merchant = NewMerchant {
            name: format!("Merchant {n}"),
            api_key_hash: bytes32(KEY_TAG, n),
            bank,
            now_s: NOW,
        };
        self.store
            .enroll_merchant(merchant)
            .await
            .expect("enrol a merchant")
    }

    /// `client` pays `merchant` `amount` (authorized and captured) with a fresh number.
    pub(crate) async fn pay(
        &self,
        client: &ClientRecord,
        merchant: &MerchantRecord,
        amount: i64,
    ) -> i64 {
        let card = self.issue(client, one_use()).await;
        let authorization = authorized(self.authorize(merchant.id, &card, amount, NOW).await);
        let capture = MerchantCommand::Capture {
            authorization_id: authorization.id,
            amount: None,
        };
        match self.run(merchant.id, capture, NOW + 1).await {
            Outcome::Captured { .. } => authorization.id,
            other => panic!("{}: expected a capture, got {other:?}", self.name),
        }
    }

    pub(crate) async fn balance(&self, account_id: i64) -> i64 {
        self.store
            .account(account_id)
            .await
            .expect("read an account")
            .expect("the account exists")
            .balance
    }

    pub(crate) async fn close_batch(&self, close: CloseClearing) -> ClearingOutcome {
        self.store
            .close_clearing_batch(close)
            .await
            .expect("close a clearing batch")
    }
}
