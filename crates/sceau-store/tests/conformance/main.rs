//! The store's conformance suite: what every backend of [`Store`] must do.
//!
//! Every test goes through `Arc<dyn Store>` and runs once per backend returned by
//! [`backends`], so a new backend (PostgreSQL next) is tested by adding it there and
//! nothing else. Only the tests named `sqlite_*` are specific to one backend.
//!
//! Time is a parameter (`now_s`) everywhere: tests move it forward, they never sleep.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use proptest::sample::Index;
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::ledger::{AccountKind, AuthorizationState};
use sceau_domain::policy::{AmountRule, MerchantLock, NumberState, UsagePolicy};
use sceau_domain::reach::{MessageBudget, TooMany};
use sceau_domain::{Currency, Expiry, Money, PhoneNumber};
use sceau_store::postgres::scratch::{ScratchSchema, test_database_url};
use sceau_store::{
    AccountView, AuthorizationView, ClientRecord, CommandRequest, Executed, Expired,
    IdempotencyKey, IssueOutcome, MerchantCommand, MerchantRecord, MessageDelivery, NewClient,
    NewMerchant, NewMessage, NewNumber, NewSession, NumberView, Origin, Outcome, Paused,
    PostgresSettings, PostgresStore, SqliteStore, Store, StoreError,
};
use sceau_store::{
    CertificateKind, CheckoutEvent, CheckoutRefusal, CheckoutState, CheckoutView, HoldCheckout,
    HoldOutcome, NewCertificate, NewCheckout, REVOKED_AFTER_USE, RevokeOutcome, SealOutcome,
    SendOutcome, SendSeal, StoredSeal, TypedSeal, UseOutcome, WebhookDelivery, WebhookResult,
};
use sceau_store::{CheckpointSigner, EvidenceRecord, IntegrateLog};
use sceau_store::{
    NewSignatureRequest, SignatureRequestOutcome, SignatureSealOutcome, SignatureState,
    TypedSignatureSeal,
};
use sceau_store::{
    SignInAttempt, SignInVerdict, UnlockCodeSend, UnlockInput, UnlockOutcome, UnlockState,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The instant every test starts at.
const NOW: i64 = 1_700_000_000;
const VALIDITY_S: i64 = 900;
const HOLD_TTL_S: i64 = 3_600;
const LIST_LIMIT: u32 = 1_000;

// ---------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------

/// Whatever must live as long as the store (a temporary directory, a throw-away database).
type Guard = Box<dyn std::any::Any + Send + Sync>;

/// One fresh, empty store of one backend.
struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
    guard: Guard,
}

/// A fresh, empty store of every backend under test: SQLite always; PostgreSQL when
/// `SCEAU_TEST_DATABASE_URL` names a database (each store in a schema of its own,
/// dropped with its guard).
async fn backends() -> Vec<Backend> {
    let mut all = vec![sqlite_backend()];
    if let Some(url) = test_database_url() {
        all.push(postgres_backend(&url).await);
    }
    all
}

async fn postgres_backend(url: &str) -> Backend {
    let schema = ScratchSchema::create(url)
        .await
        .expect("create a scratch schema in the test database");
    let store = PostgresStore::open(&schema.url, PostgresSettings::default())
        .await
        .expect("open the PostgreSQL store");
    Backend {
        name: "postgres",
        store: Arc::new(store),
        guard: Box::new(schema),
    }
}

fn sqlite_backend() -> Backend {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store =
        SqliteStore::open(&directory.path().join("sceau.db")).expect("open the SQLite store");
    Backend {
        name: "sqlite",
        store: Arc::new(store),
        guard: Box::new(directory),
    }
}

/// Runs `scenario` once on a fresh store of every backend.
async fn each_backend(scenario: impl AsyncFn(&Fixture)) {
    for backend in backends().await {
        let fixture = Fixture::new(backend);
        eprintln!("backend: {}", fixture.name);
        scenario(&fixture).await;
    }
}

// ---------------------------------------------------------------------------------------
// Fixture: a store and the helpers that make scenarios short
// ---------------------------------------------------------------------------------------

struct Fixture {
    name: &'static str,
    store: Arc<dyn Store>,
    /// Source of distinct logins, phones, fingerprints, keys.
    counter: AtomicU64,
    _guard: Guard,
}

/// A number as the holder knows it: what the merchant will send to authorize.
#[derive(Debug, Clone)]
struct Card {
    number: [u8; 32],
    details: [u8; 32],
    currency: Currency,
    view: NumberView,
}

fn bytes32(tag: u8, n: u64) -> [u8; 32] {
    let mut bytes = [0_u8; 32];
    bytes[0] = tag;
    bytes[1..9].copy_from_slice(&n.to_le_bytes());
    bytes
}

const NUMBER_TAG: u8 = 0x01;
const DETAILS_TAG: u8 = 0x02;
const KEY_TAG: u8 = 0x03;
const TOKEN_TAG: u8 = 0x04;
const REQUEST_TAG: u8 = 0x05;

fn currency(code: &str) -> Currency {
    code.parse().expect("ISO 4217 code")
}

fn phone(n: u64) -> PhoneNumber {
    format!("+3361{n:07}").parse().expect("E.164")
}

fn new_client(n: u64, currency_code: &str, opening_balance: i64, credit_limit: i64) -> NewClient {
    NewClient {
        login: format!("client-{n}"),
        display_name: format!("Client {n}"),
        password_hash: format!("$argon2id$hash-{n}"),
        phone: phone(n),
        currency: currency(currency_code),
        opening_balance,
        credit_limit,
        certificates: Vec::new(),
        now_s: NOW,
    }
}

fn new_certificate(serial: &str, kind: CertificateKind, names: Option<&str>) -> NewCertificate {
    NewCertificate {
        serial: serial.to_owned(),
        kind,
        client_id: None,
        key_label: format!("key-{serial}"),
        der: serial.as_bytes().to_vec(),
        not_before_s: NOW,
        not_after_s: NOW + 600,
        names_serial: names.map(str::to_owned),
        now_s: NOW,
    }
}

fn policy(uses_max: u32, amount: AmountRule, merchant: MerchantLock) -> UsagePolicy {
    UsagePolicy {
        uses_max,
        amount,
        merchant,
        valid_until_s: NOW + VALIDITY_S,
    }
}

fn one_use() -> UsagePolicy {
    policy(1, AmountRule::Any, MerchantLock::Any)
}

fn new_number(
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
        },
        budget: MessageBudget::UNLIMITED,
        merchant_clients_max: u32::MAX,
        idempotency: None,
        now_s,
    }
}

/// A partial amount in euros (the currency of most cases here).
fn eur(minor: i64) -> Money {
    Money::new(minor, currency("EUR"))
}

fn authorize_command(card: &Card, amount: i64) -> MerchantCommand {
    authorize_command_with(card, amount, card.details, HOLD_TTL_S)
}

fn authorize_command_with(
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

fn request(merchant_id: i64, command: MerchantCommand, now_s: i64) -> CommandRequest {
    CommandRequest {
        merchant_id,
        idempotency: None,
        command,
        now_s,
    }
}

fn keyed(
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

fn authorized(outcome: Outcome) -> AuthorizationView {
    match outcome {
        Outcome::Authorized { authorization } => authorization,
        other => panic!("expected an authorization, got {other:?}"),
    }
}

fn declined(outcome: Outcome) -> Decline {
    match outcome {
        Outcome::Declined { decline, .. } => decline,
        other => panic!("expected a decline, got {other:?}"),
    }
}

fn rejected(outcome: Outcome) -> Rejection {
    match outcome {
        Outcome::Rejected { rejection } => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

impl Fixture {
    fn new(backend: Backend) -> Fixture {
        Fixture {
            name: backend.name,
            store: backend.store,
            counter: AtomicU64::new(1),
            _guard: backend.guard,
        }
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    async fn client(&self, opening_balance: i64, credit_limit: i64) -> ClientRecord {
        self.client_in("EUR", opening_balance, credit_limit).await
    }

    async fn client_in(
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

    async fn merchant(&self) -> MerchantRecord {
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

    async fn issue(&self, client: &ClientRecord, policy: UsagePolicy) -> Card {
        self.issue_at(client, policy, NOW).await
    }

    async fn issue_at(&self, client: &ClientRecord, policy: UsagePolicy, now_s: i64) -> Card {
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
    async fn pays(&self, merchant: &MerchantRecord, client: &ClientRecord, now_s: i64) {
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
    async fn run(&self, merchant_id: i64, command: MerchantCommand, now_s: i64) -> Outcome {
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

    async fn authorize(&self, merchant_id: i64, card: &Card, amount: i64, now_s: i64) -> Outcome {
        self.run(merchant_id, authorize_command(card, amount), now_s)
            .await
    }

    async fn account(&self, client: &ClientRecord) -> AccountView {
        self.store
            .account(client.account_id)
            .await
            .expect("read an account")
            .expect("the client's account exists")
    }

    async fn number(&self, card: &Card) -> NumberView {
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

    async fn reread(&self, authorization: &AuthorizationView) -> AuthorizationView {
        self.store
            .authorization(authorization.merchant_id, authorization.id)
            .await
            .expect("read an authorization")
            .expect("the authorization exists")
    }

    async fn assert_sound(&self) {
        let report = self.store.check_ledger().await.expect("check the ledger");
        assert!(
            report.is_sound(),
            "{}: ledger unsound: {report:?}",
            self.name
        );
    }

    async fn pending_count(&self) -> usize {
        self.store
            .pending_messages(LIST_LIMIT)
            .await
            .expect("pending messages")
            .len()
    }
}

// ---------------------------------------------------------------------------------------
// 1. Enrolment
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn enrol_clients_with_an_opening_balance() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 2_500).await;
        assert_eq!(alice.currency, currency("EUR"));
        assert!(!alice.blocked);
        let account = f.account(&alice).await;
        let expected = AccountView {
            id: alice.account_id,
            kind: AccountKind::Client,
            currency: currency("EUR"),
            balance: 10_000,
            held: 0,
            credit_limit: 2_500,
        };
        assert_eq!(account, expected);

        let broke = f.client_in("JPY", 0, 0).await;
        assert_eq!(f.account(&broke).await.balance, 0);
        assert_eq!(f.account(&broke).await.currency, currency("JPY"));

        let by_login = f
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .expect("found by login");
        assert_eq!(
            (by_login.id, by_login.account_id),
            (alice.id, alice.account_id)
        );
        let by_phone = f
            .store
            .client_by_phone(&alice.phone)
            .await
            .unwrap()
            .expect("found by phone");
        assert_eq!(by_phone.id, alice.id);
        let by_id = f
            .store
            .client(alice.id)
            .await
            .unwrap()
            .expect("found by id");
        assert_eq!(
            (by_id.login.as_str(), by_id.password_hash.as_str()),
            (alice.login.as_str(), alice.password_hash.as_str())
        );
        assert!(f.store.client_by_login("nobody").await.unwrap().is_none());
        assert!(
            f.store
                .client_by_phone(&phone(999_999))
                .await
                .unwrap()
                .is_none()
        );
        assert!(f.store.client(i64::MAX).await.unwrap().is_none());

        let listed: Vec<i64> = f
            .store
            .clients(LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(listed, vec![alice.id, broke.id]);
        assert_eq!(f.store.clients(1).await.unwrap().len(), 1);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn enrolment_conflicts_write_nothing() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let n = f.next();
        let same_login = NewClient {
            login: alice.login.clone(),
            ..new_client(n, "EUR", 5_000, 0)
        };
        let same_phone = NewClient {
            phone: alice.phone.clone(),
            ..new_client(n, "EUR", 5_000, 0)
        };
        let cases = [(same_login, "login_taken"), (same_phone, "phone_taken")];
        for (client, code) in cases {
            match f.store.enroll_client(client).await {
                Err(StoreError::Conflict(found)) => assert_eq!(found, code),
                other => panic!("{}: expected Conflict({code}), got {other:?}", f.name),
            }
        }
        assert_eq!(f.store.clients(LIST_LIMIT).await.unwrap().len(), 1);
        // The opening transfers of the refused enrolments were undone with them.
        f.assert_sound().await;
        // The login and phone are still free for someone else.
        let bob = f
            .store
            .enroll_client(new_client(n, "EUR", 5_000, 0))
            .await
            .expect("enrol after conflicts");
        assert_eq!(f.account(&bob).await.balance, 5_000);
        f.assert_sound().await;
    })
    .await;
}

/// Certificates: recorded with their client at enrolment (or not at all), revoked once,
/// listed for the CRL until they expire; a disposable one is used once, under a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_recorded_revoked_and_used_once() {
    each_backend(async |f: &Fixture| {
        let n = f.next();
        let enrolled = f
            .store
            .enroll_client(NewClient {
                certificates: vec![
                    new_certificate("0a01", CertificateKind::Holder, None),
                    new_certificate("0a02", CertificateKind::Pseudonym, Some("0a01")),
                ],
                ..new_client(n, "EUR", 0, 0)
            })
            .await
            .unwrap();
        let held = f.store.client_certificates(enrolled.id).await.unwrap();
        assert_eq!(held.len(), 2, "{}", f.name);
        assert!(held.iter().all(|c| c.client_id == Some(enrolled.id)));
        assert_eq!(held[1].names_serial.as_deref(), Some("0a01"));
        assert_eq!(held[0].der, b"0a01");
        // A refused enrolment leaves no certificate behind.
        let refused = f
            .store
            .enroll_client(NewClient {
                certificates: vec![new_certificate("0b01", CertificateKind::Holder, None)],
                ..new_client(n, "EUR", 0, 0)
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{}: {refused:?}",
            f.name
        );
        assert!(f.store.certificate("0b01").await.unwrap().is_none());
        // A serial or a key seen before is a conflict.
        let same_serial = NewCertificate {
            key_label: "another-key".into(),
            ..new_certificate("0a01", CertificateKind::Disposable, None)
        };
        let again = f.store.record_certificate(same_serial).await;
        assert!(
            matches!(again, Err(StoreError::Conflict("certificate_serial_taken"))),
            "{again:?}"
        );
        let same_key = NewCertificate {
            key_label: "key-0a01".into(),
            ..new_certificate("0a09", CertificateKind::Disposable, None)
        };
        let again = f.store.record_certificate(same_key).await;
        assert!(
            matches!(again, Err(StoreError::Conflict("certificate_key_taken"))),
            "{again:?}"
        );

        // Revocation: the first stands.
        match f
            .store
            .revoke_certificate("0a01", 1, NOW + 5)
            .await
            .unwrap()
        {
            RevokeOutcome::Revoked(record) => {
                assert_eq!(
                    (record.revoked_at_s, record.revocation_reason),
                    (Some(NOW + 5), Some(1))
                );
            }
            _ => panic!("{}: not revoked", f.name),
        }
        match f
            .store
            .revoke_certificate("0a01", 4, NOW + 9)
            .await
            .unwrap()
        {
            RevokeOutcome::AlreadyRevoked(record) => assert_eq!(record.revocation_reason, Some(1)),
            _ => panic!("{}: revoked twice", f.name),
        }
        assert!(matches!(
            f.store.revoke_certificate("ffff", 1, NOW).await.unwrap(),
            RevokeOutcome::Unknown
        ));

        // Disposable certificates: used once, then revoked.
        let disposable = new_certificate("0c01", CertificateKind::Disposable, None);
        f.store.record_certificate(disposable).await.unwrap();
        let short = NewCertificate {
            not_after_s: NOW + 10,
            ..new_certificate("0c02", CertificateKind::Disposable, None)
        };
        f.store.record_certificate(short).await.unwrap();
        assert!(matches!(
            f.store.use_certificate("0c01", NOW - 1).await.unwrap(),
            UseOutcome::NotYetValid
        ));
        assert!(matches!(
            f.store.use_certificate("0c02", NOW + 11).await.unwrap(),
            UseOutcome::Expired
        ));
        assert!(matches!(
            f.store.use_certificate("0a02", NOW).await.unwrap(),
            UseOutcome::NotDisposable
        ));
        assert!(matches!(
            f.store.use_certificate("0000", NOW).await.unwrap(),
            UseOutcome::Unknown
        ));
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move { store.use_certificate("0c01", NOW + 20).await })
            })
            .collect();
        let mut granted = Vec::new();
        for racer in racers {
            match racer.await.unwrap().unwrap() {
                UseOutcome::Granted(record) => granted.push(record),
                UseOutcome::AlreadyUsed => {}
                _ => panic!(
                    "{}: a second use neither granted nor refused as used",
                    f.name
                ),
            }
        }
        assert_eq!(granted.len(), 1, "{}: used {} times", f.name, granted.len());
        assert_eq!(granted[0].used_at_s, Some(NOW + 20));
        assert_eq!(granted[0].revoked_at_s, Some(NOW + 21));
        assert_eq!(granted[0].revocation_reason, Some(REVOKED_AFTER_USE));
        assert!(matches!(
            f.store.use_certificate("0c01", NOW + 30).await.unwrap(),
            UseOutcome::AlreadyUsed
        ));

        // The CRL lists revoked certificates until they expire.
        let listed: Vec<String> = f
            .store
            .revocations(NOW + 30)
            .await
            .unwrap()
            .into_iter()
            .map(|record| record.serial)
            .collect();
        assert_eq!(listed, ["0a01", "0c01"], "{}", f.name);
        assert!(f.store.revocations(NOW + 601).await.unwrap().is_empty());

        // The first PKI pinned to the database stays pinned.
        assert_eq!(f.store.pin_pki_root([1; 32], NOW).await.unwrap(), [1; 32]);
        assert_eq!(
            f.store.pin_pki_root([2; 32], NOW + 1).await.unwrap(),
            [1; 32]
        );
    })
    .await;
}

fn signature_request(client_id: i64, public_id: &str, now_s: i64) -> NewSignatureRequest {
    NewSignatureRequest {
        public_id: public_id.to_owned(),
        client_id,
        document_name: "contract.pdf".into(),
        content_digest: [9; 32],
        certificate_serial: "5a01".into(),
        seal: StoredSeal {
            nonce: [3; 16],
            digits: 8,
            issued_at_s: now_s,
            expires_at_s: now_s + 300,
        },
        message: NewMessage {
            address: "+33600000001".into(),
            sealed_body: vec![1, 2, 3],
        },
        budget: MessageBudget {
            seals_max: 3,
            ..MessageBudget::UNLIMITED
        },
        now_s,
    }
}

fn typed_signature(
    public_id: &str,
    token: [u8; 32],
    right: bool,
    now_s: i64,
) -> TypedSignatureSeal {
    TypedSignatureSeal {
        public_id: public_id.to_owned(),
        session_token_hash: token,
        check: Box::new(move |_| right),
        now_s,
    }
}

/// Signature requests: created with their seal's message (a few an hour), sealed only by
/// the right seal typed in the client's own session, failed by the third wrong one,
/// signed once.
#[tokio::test]
async fn signature_requests_are_sealed_then_signed_once() {
    each_backend(async |f: &Fixture| {
        let alice = f
            .store
            .enroll_client(NewClient {
                certificates: vec![new_certificate("5a01", CertificateKind::Holder, None)],
                ..new_client(f.next(), "EUR", 0, 0)
            })
            .await
            .unwrap();
        let bob = f.client(0, 0).await;
        let (alice_token, bob_token) = (bytes32(TOKEN_TAG, f.next()), bytes32(TOKEN_TAG, f.next()));
        for (token, client) in [(alice_token, &alice), (bob_token, &bob)] {
            f.store
                .create_session(NewSession {
                    token_hash: token,
                    client_id: client.id,
                    now_s: NOW,
                    expires_at_s: NOW + 3_600,
                })
                .await
                .unwrap();
        }
        let created = |public_id: &str, now_s: i64| {
            let store = Arc::clone(&f.store);
            let request = signature_request(alice.id, public_id, now_s);
            async move { store.create_signature_request(request).await.unwrap() }
        };
        let SignatureRequestOutcome::Created(first) = created("aa01", NOW).await else {
            panic!("{}: not created", f.name);
        };
        assert_eq!(first.state, SignatureState::AwaitingSeal);
        assert_eq!(first.content_digest, [9; 32]);
        assert_eq!(first.certificate_serial, "5a01");
        assert!(
            f.store
                .pending_messages(100)
                .await
                .unwrap()
                .iter()
                .any(|message| message.address == "+33600000001"),
            "{}: the seal's message was not queued",
            f.name
        );
        assert!(matches!(
            created("aa02", NOW + 1).await,
            SignatureRequestOutcome::Created(_)
        ));
        assert!(matches!(
            created("aa03", NOW + 2).await,
            SignatureRequestOutcome::Created(_)
        ));
        assert!(matches!(
            created("aa04", NOW + 3).await,
            SignatureRequestOutcome::Throttled(TooMany::Seals)
        ));
        assert!(f.store.signature_request("aa04").await.unwrap().is_none());

        // Another client's session learns nothing of the request.
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa01", bob_token, true, NOW + 5))
                .await
                .unwrap(),
            SignatureSealOutcome::NotFound
        ));
        // Three wrong seals fail the request.
        for tries_left in [2, 1] {
            match f
                .store
                .type_signature_seal(typed_signature("aa01", alice_token, false, NOW + 5))
                .await
                .unwrap()
            {
                SignatureSealOutcome::Wrong {
                    tries_left: left, ..
                } => assert_eq!(left, tries_left),
                _ => panic!("{}: not counted as wrong", f.name),
            }
        }
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa01", alice_token, false, NOW + 5))
                .await
                .unwrap(),
            SignatureSealOutcome::Failed { .. }
        ));
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa01", alice_token, true, NOW + 5))
                .await
                .unwrap(),
            SignatureSealOutcome::NotAwaiting(_)
        ));
        assert!(
            !f.store
                .record_signature("aa01", vec![1], NOW + 6)
                .await
                .unwrap()
        );

        // A seal typed after its time counts for nothing.
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa02", alice_token, true, NOW + 301))
                .await
                .unwrap(),
            SignatureSealOutcome::Expired
        ));
        // The right seal seals it, once; it is signed once.
        let SignatureSealOutcome::Sealed(sealed) = f
            .store
            .type_signature_seal(typed_signature("aa03", alice_token, true, NOW + 10))
            .await
            .unwrap()
        else {
            panic!("{}: not sealed", f.name);
        };
        assert_eq!(sealed.state, SignatureState::Sealed);
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa03", alice_token, true, NOW + 11))
                .await
                .unwrap(),
            SignatureSealOutcome::NotAwaiting(_)
        ));
        assert!(
            f.store
                .record_signature("aa03", vec![0x30, 0x00], NOW + 12)
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .record_signature("aa03", vec![0x30, 0x01], NOW + 13)
                .await
                .unwrap()
        );
        let signed = f.store.signature_request("aa03").await.unwrap().unwrap();
        assert_eq!(
            (signed.state, signed.signature, signed.signed_at_s),
            (
                SignatureState::Signed,
                Some(vec![0x30, 0x00]),
                Some(NOW + 12)
            )
        );
        let listed = f
            .store
            .client_signature_requests(alice.id, 10)
            .await
            .unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|r| r.public_id.as_str())
                .collect::<Vec<_>>(),
            ["aa03", "aa02", "aa01"]
        );
        assert!(
            f.store
                .client_signature_requests(bob.id, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A sealed request that can no longer be signed fails; only a sealed one.
        assert!(!f.store.fail_sealed_signature("aa03").await.unwrap());
        assert!(!f.store.fail_sealed_signature("aa02").await.unwrap());
        let later = NOW + 3_700;
        let later_token = bytes32(TOKEN_TAG, f.next());
        f.store
            .create_session(NewSession {
                token_hash: later_token,
                client_id: alice.id,
                now_s: later,
                expires_at_s: later + 600,
            })
            .await
            .unwrap();
        assert!(matches!(
            created("aa05", later).await,
            SignatureRequestOutcome::Created(_)
        ));
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa05", later_token, true, later + 1))
                .await
                .unwrap(),
            SignatureSealOutcome::Sealed(_)
        ));
        assert!(f.store.fail_sealed_signature("aa05").await.unwrap());
        let failed = f.store.signature_request("aa05").await.unwrap().unwrap();
        assert_eq!(failed.state, SignatureState::Failed);
        assert!(
            !f.store
                .record_signature("aa05", vec![1], later + 2)
                .await
                .unwrap()
        );
    })
    .await;
}

fn test_signer() -> CheckpointSigner {
    Box::new(|size, root| format!("size {size} root {}", hex_of(root)))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The transparency log: entries appended in batches (one checkpoint each), every entry
/// provably in every later tree, every tree consistent with every later one; the roots
/// are the RFC 6962 roots of the entries; racing integrations append each entry once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_appends_in_batches_and_proves_inclusion_and_consistency() {
    each_backend(async |f: &Fixture| {
        let integrate = |batch_max| IntegrateLog {
            batch_max,
            sign: test_signer(),
            now_s: NOW,
        };
        assert!(f.store.log_checkpoint().await.unwrap().is_none());
        assert!(
            f.store
                .integrate_log(integrate(10))
                .await
                .unwrap()
                .is_none()
        );
        let entries: Vec<Vec<u8>> = (0..300_u32)
            .map(|n| format!("entry {n}").into_bytes())
            .collect();
        let mut reference = sceau_log::MemoryTree::new();
        let mut checkpoints = Vec::new();
        for chunk in entries.chunks(70) {
            f.store.append_log(chunk.to_vec(), NOW).await.unwrap();
            while let Some(checkpoint) = f.store.integrate_log(integrate(32)).await.unwrap() {
                checkpoints.push(checkpoint);
            }
        }
        let last = checkpoints.last().unwrap().clone();
        assert_eq!(last.size, 300, "{}", f.name);
        assert_eq!(f.store.log_checkpoint().await.unwrap(), Some(last.clone()));
        // The roots are those of the entries, batch by batch.
        let leaves: Vec<[u8; 32]> = entries.iter().map(|e| sceau_log::leaf_hash(e)).collect();
        let mut at = 0_usize;
        for checkpoint in &checkpoints {
            let size = checkpoint.size as usize;
            reference.append(&leaves[at..size]).unwrap();
            at = size;
            assert_eq!(checkpoint.root, reference.root(), "{} at {size}", f.name);
            assert_eq!(
                checkpoint.note,
                format!("size {size} root {}", hex_of(&checkpoint.root))
            );
        }
        // Every entry is there, and in every tree from its own on.
        for index in [0_u64, 1, 31, 32, 63, 64, 150, 299] {
            assert_eq!(
                f.store.log_entry(index).await.unwrap().as_deref(),
                Some(entries[index as usize].as_slice())
            );
            for checkpoint in checkpoints.iter().filter(|c| c.size > index) {
                let proof = f
                    .store
                    .log_inclusion_proof(index, checkpoint.size)
                    .await
                    .unwrap()
                    .expect("a proof");
                sceau_log::verify_inclusion(
                    &leaves[index as usize],
                    index,
                    checkpoint.size,
                    &proof,
                    &checkpoint.root,
                )
                .unwrap_or_else(|e| panic!("{}: {index} in {}: {e}", f.name, checkpoint.size));
            }
        }
        for (old, new) in checkpoints.iter().zip(checkpoints.iter().skip(3)) {
            let proof = f
                .store
                .log_consistency_proof(old.size, new.size)
                .await
                .unwrap()
                .expect("a proof");
            sceau_log::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
                .unwrap_or_else(|e| panic!("{}: {} to {}: {e}", f.name, old.size, new.size));
        }
        // Beyond what is integrated, or backwards: no proof.
        assert!(f.store.log_entry(300).await.unwrap().is_none());
        assert!(f.store.log_inclusion_proof(5, 301).await.unwrap().is_none());
        assert!(
            f.store
                .log_inclusion_proof(300, 300)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            f.store
                .log_consistency_proof(10, 301)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            f.store
                .log_consistency_proof(20, 10)
                .await
                .unwrap()
                .is_none()
        );

        // Integrations racing each other append every entry once, in order.
        let more: Vec<Vec<u8>> = (300..500_u32)
            .map(|n| format!("entry {n}").into_bytes())
            .collect();
        f.store.append_log(more.clone(), NOW).await.unwrap();
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move {
                    let mut made = 0;
                    while store
                        .integrate_log(IntegrateLog {
                            batch_max: 16,
                            sign: test_signer(),
                            now_s: NOW,
                        })
                        .await
                        .unwrap()
                        .is_some()
                    {
                        made += 1;
                    }
                    made
                })
            })
            .collect();
        for racer in racers {
            racer.await.unwrap();
        }
        let last = f.store.log_checkpoint().await.unwrap().unwrap();
        assert_eq!(last.size, 500, "{}", f.name);
        let more_leaves: Vec<[u8; 32]> = more.iter().map(|e| sceau_log::leaf_hash(e)).collect();
        reference.append(&more_leaves).unwrap();
        assert_eq!(last.root, reference.root(), "{}", f.name);
        assert_eq!(
            f.store.log_entry(499).await.unwrap().as_deref(),
            Some(more[199].as_slice())
        );

        // Appends racing integrations: an entry whose transaction drew its place early
        // but committed late is integrated later, never lost or taken twice.
        let appenders: Vec<_> = (0..8_u32)
            .map(|writer| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move {
                    for write in 0..10_u32 {
                        let batch = (0..5_u32)
                            .map(|n| format!("raced {writer} {write} {n}").into_bytes())
                            .collect();
                        store.append_log(batch, NOW).await.unwrap();
                    }
                })
            })
            .collect();
        let integrators: Vec<_> = (0..3)
            .map(|_| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move {
                    for _ in 0..40 {
                        store
                            .integrate_log(IntegrateLog {
                                batch_max: 7,
                                sign: test_signer(),
                                now_s: NOW,
                            })
                            .await
                            .unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in appenders.into_iter().chain(integrators) {
            task.await.unwrap();
        }
        while f
            .store
            .integrate_log(integrate(1_000))
            .await
            .unwrap()
            .is_some()
        {}
        let last = f.store.log_checkpoint().await.unwrap().unwrap();
        assert_eq!(last.size, 900, "{}: entries lost or doubled", f.name);
        let mut raced = std::collections::HashSet::new();
        for index in 500..900 {
            let entry = f.store.log_entry(index).await.unwrap().unwrap();
            assert!(entry.starts_with(b"raced "), "{}", f.name);
            assert!(raced.insert(entry), "{}: an entry twice", f.name);
        }
    })
    .await;
}

/// The same login enrolled twice at once, in two currencies (so not behind the same
/// funding account): one enrolment wins, the other is told `login_taken`, never an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_enrolments_of_one_login_conflict_cleanly() {
    const PAIRS_COUNT: u64 = 24;
    each_backend(async |f: &Fixture| {
        let mut racers = Vec::new();
        for pair in 0..PAIRS_COUNT {
            let n = f.next();
            for (code, phone_n) in [("EUR", n), ("USD", n + 1_000_000)] {
                let store = Arc::clone(&f.store);
                let client = NewClient {
                    phone: phone(phone_n),
                    ..new_client(n, code, 1_000, 0)
                };
                racers.push((
                    pair,
                    tokio::spawn(async move { store.enroll_client(client).await }),
                ));
            }
        }
        let mut enrolled = vec![0; PAIRS_COUNT as usize];
        for (pair, racer) in racers {
            match racer.await.unwrap() {
                Ok(_) => enrolled[pair as usize] += 1,
                Err(StoreError::Conflict("login_taken")) => {}
                Err(other) => panic!("{}: expected login_taken, got {other:?}", f.name),
            }
        }
        assert!(
            enrolled.iter().all(|&count| count == 1),
            "{}: {enrolled:?}",
            f.name
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn enrol_merchants_and_find_them_by_key_hash() {
    each_backend(async |f: &Fixture| {
        let shop = NewMerchant {
            name: "Shop".into(),
            api_key_hash: bytes32(KEY_TAG, 1_000),
            bank: None,
            now_s: NOW,
        };
        let shop = f.store.enroll_merchant(shop).await.unwrap();
        let cafe = NewMerchant {
            name: "Café".into(),
            api_key_hash: bytes32(KEY_TAG, 1_001),
            bank: None,
            now_s: NOW,
        };
        let cafe = f.store.enroll_merchant(cafe).await.unwrap();
        assert_eq!(shop.name, "Shop");
        assert_ne!(shop.id, cafe.id);

        let found = f
            .store
            .merchant_by_key_hash(bytes32(KEY_TAG, 1_001))
            .await
            .unwrap();
        assert_eq!(found, Some(cafe.clone()));
        assert_eq!(
            f.store
                .merchant_by_key_hash(bytes32(KEY_TAG, 1_002))
                .await
                .unwrap(),
            None
        );
        assert_eq!(f.store.merchant(shop.id).await.unwrap(), Some(shop.clone()));
        assert_eq!(f.store.merchant(i64::MAX).await.unwrap(), None);
        assert_eq!(
            f.store.merchants(LIST_LIMIT).await.unwrap(),
            vec![shop.clone(), cafe.clone()]
        );
        assert_eq!(f.store.merchants(1).await.unwrap(), vec![shop.clone()]);

        let copy = NewMerchant {
            name: "Copy".into(),
            api_key_hash: bytes32(KEY_TAG, 1_000),
            bank: None,
            now_s: NOW,
        };
        match f.store.enroll_merchant(copy).await {
            Err(StoreError::Conflict(code)) => assert_eq!(code, "api_key_taken"),
            other => panic!(
                "{}: expected Conflict(api_key_taken), got {other:?}",
                f.name
            ),
        }
        assert_eq!(f.store.merchants(LIST_LIMIT).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn block_and_unblock_a_client() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f
            .issue(&alice, policy(3, AmountRule::Any, MerchantLock::Any))
            .await;

        assert!(f.store.set_client_blocked(alice.id, true).await.unwrap());
        assert!(f.store.client(alice.id).await.unwrap().unwrap().blocked);
        assert_eq!(
            declined(f.authorize(shop.id, &card, 100, NOW).await),
            Decline::Blocked
        );

        assert!(f.store.set_client_blocked(alice.id, false).await.unwrap());
        assert!(!f.store.client(alice.id).await.unwrap().unwrap().blocked);
        authorized(f.authorize(shop.id, &card, 100, NOW).await);

        assert!(
            !f.store.set_client_blocked(i64::MAX, true).await.unwrap(),
            "no such client"
        );
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 2. Issuing numbers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn issue_a_number_and_queue_its_message() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let named = policy(2, AmountRule::Exact(4_999), MerchantLock::Named(shop.id));
        let card = f.issue(&alice, named).await;
        let expiry = Expiry::of_instant(NOW + VALIDITY_S);
        let n = u64::from_le_bytes(card.number[1..9].try_into().unwrap());
        let expected = NumberView {
            id: card.view.id,
            client_id: alice.id,
            last_four: format!("{:04}", n % 10_000),
            expiry_month: expiry.month,
            expiry_year: expiry.year,
            currency: "EUR".into(),
            origin: Origin::Client,
            policy: named,
            state: NumberState::Live,
            uses_count: 0,
            amount_used: 0,
            locked_merchant: Some(shop.id),
            created_at_s: NOW,
        };
        assert_eq!(card.view, expected);
        assert_eq!(f.number(&card).await, expected);

        let pending = f.store.pending_messages(LIST_LIMIT).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].address, alice.phone.as_str());
        assert_eq!(pending[0].sealed_body, format!("sealed-{n}").into_bytes());
        assert_eq!(
            (pending[0].state.as_str(), pending[0].channel.as_deref()),
            ("pending", None)
        );
        assert_eq!(pending[0].created_at_s, NOW);

        let first = f.issue(&alice, one_use()).await;
        assert_eq!(first.view.locked_merchant, None);
        assert_eq!(first.view.policy.merchant, MerchantLock::Any);
        let listed: Vec<i64> = f
            .store
            .client_numbers(alice.id, LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(listed, vec![first.view.id, card.view.id], "newest first");
        assert_eq!(f.store.client_numbers(alice.id, 1).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn sending_numbers_is_throttled_per_client_and_window() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        // Numbers a merchant asks for go only to its clients (paid long before).
        let shop = f.merchant().await;
        let other_shop = f.merchant().await;
        f.pays(&shop, &bob, NOW - 2 * 3600).await;
        f.pays(&other_shop, &bob, NOW - 2 * 3600).await;
        let budget = MessageBudget {
            client_numbers_max: 2,
            per_merchant_max: 1,
            ..MessageBudget::UNLIMITED
        };
        let issue = async |holder: &ClientRecord, now_s: i64| {
            let n = f.next();
            let number = NewNumber {
                budget,
                ..new_number(holder, one_use(), bytes32(NUMBER_TAG, n), n, now_s)
            };
            f.store.issue_number(number).await.unwrap()
        };
        assert!(matches!(issue(&alice, NOW).await, IssueOutcome::Issued(_)));
        assert!(matches!(
            issue(&alice, NOW + 10).await,
            IssueOutcome::Issued(_)
        ));
        let pending = f.pending_count().await;
        assert!(
            matches!(
                issue(&alice, NOW + 20).await,
                IssueOutcome::Throttled(TooMany::Numbers)
            ),
            "{}",
            f.name
        );
        assert_eq!(
            f.pending_count().await,
            pending,
            "a throttled number sends nothing"
        );
        assert!(
            matches!(issue(&bob, NOW + 20).await, IssueOutcome::Issued(_)),
            "the limit is per client"
        );
        assert!(
            matches!(issue(&alice, NOW + 3600).await, IssueOutcome::Issued(_)),
            "the window slides"
        );

        // Numbers a merchant asks for are limited per merchant and do not use up the
        // client's own allowance.
        let at_checkout = async |merchant: &MerchantRecord| {
            let n = f.next();
            let policy = UsagePolicy {
                merchant: MerchantLock::Named(merchant.id),
                ..one_use()
            };
            let number = NewNumber {
                budget,
                origin: Origin::Merchant,
                ..new_number(&bob, policy, bytes32(NUMBER_TAG, n), n, NOW + 30)
            };
            f.store.issue_number(number).await.unwrap()
        };
        assert!(matches!(at_checkout(&shop).await, IssueOutcome::Issued(_)));
        assert!(
            matches!(
                at_checkout(&shop).await,
                IssueOutcome::Throttled(TooMany::Numbers)
            ),
            "{}: per merchant",
            f.name
        );
        assert!(matches!(
            at_checkout(&other_shop).await,
            IssueOutcome::Issued(_)
        ));
        assert!(
            matches!(issue(&bob, NOW + 40).await, IssueOutcome::Issued(_)),
            "the client's own allowance is untouched"
        );
    })
    .await;
}

impl Fixture {
    /// Asks, as `merchant` at `now_s`, for a number for `client` (Figure 4) in `currency`,
    /// within `budget` and `clients_max` distinct clients an hour.
    async fn merchant_number(
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
    async fn messages_since(&self, client: &ClientRecord, since_s: i64) -> usize {
        self.store
            .messages_to(client.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .filter(|message| message.created_at_s >= since_s)
            .count()
    }
}

/// A merchant may have a number sent only to a client who paid it (a captured payment)
/// or signed in on one of its checkouts, and not while their payments are stopped; every
/// other case is one refusal, with nothing issued or queued.
#[tokio::test]
async fn a_merchant_reaches_only_clients_who_dealt_with_it() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let other_shop = f.merchant().await;
        let eur = currency("EUR");
        let ask = async |client: &ClientRecord, currency: Currency| {
            f.merchant_number(
                &shop,
                client,
                currency,
                MessageBudget::UNLIMITED,
                u32::MAX,
                NOW,
            )
            .await
        };
        let unreachable = async |client: &ClientRecord, currency: Currency| {
            let before = (f.messages_since(client, 0).await, f.pending_count().await);
            let outcome = ask(client, currency).await;
            assert!(
                matches!(outcome, IssueOutcome::Unreachable),
                "{}: client {} reached",
                f.name,
                client.id
            );
            let after = (f.messages_since(client, 0).await, f.pending_count().await);
            assert_eq!(after, before, "{}: nothing queued", f.name);
        };

        // A client who never dealt with the shop: whatever the currency asked.
        let alice = f.client(10_000, 0).await;
        unreachable(&alice, eur).await;
        unreachable(&alice, currency("USD")).await;
        assert!(
            f.store
                .client_numbers(alice.id, LIST_LIMIT)
                .await
                .unwrap()
                .is_empty()
        );
        // Nor does paying another merchant, or an authorization voided, introduce her.
        f.pays(&other_shop, &alice, NOW - 100).await;
        let card = f.issue_at(&alice, one_use(), NOW - 50).await;
        let voided = authorized(f.authorize(shop.id, &card, 100, NOW - 50).await);
        let void = MerchantCommand::Void {
            authorization_id: voided.id,
        };
        assert!(matches!(
            f.run(shop.id, void, NOW - 50).await,
            Outcome::Voided { .. }
        ));
        unreachable(&alice, eur).await;
        // Signing in on one of the shop's checkouts does.
        f.held(&shop, &alice, 1_000).await;
        assert!(
            matches!(ask(&alice, eur).await, IssueOutcome::Issued(_)),
            "{}",
            f.name
        );
        assert!(
            matches!(
                ask(&alice, currency("USD")).await,
                IssueOutcome::CurrencyMismatch
            ),
            "{}: a client of the shop hears of the currency",
            f.name
        );

        // Paying the shop does; a blocked client is unreachable again until unblocked.
        let bob = f.client(10_000, 0).await;
        unreachable(&bob, eur).await;
        f.pays(&shop, &bob, NOW - 100).await;
        assert!(
            matches!(ask(&bob, eur).await, IssueOutcome::Issued(_)),
            "{}",
            f.name
        );
        assert!(f.store.set_client_blocked(bob.id, true).await.unwrap());
        let blocked = f.store.client(bob.id).await.unwrap().unwrap();
        unreachable(&blocked, eur).await;
        assert!(f.store.set_client_blocked(bob.id, false).await.unwrap());
        assert!(
            matches!(ask(&bob, eur).await, IssueOutcome::Issued(_)),
            "{}",
            f.name
        );
        f.assert_sound().await;
    })
    .await;
}

/// A merchant reaches at most so many distinct clients an hour; a client already reached
/// within the hour does not count again, and the window slides.
#[tokio::test]
async fn a_merchant_reaches_so_many_clients_an_hour() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let eur = currency("EUR");
        let mut clients = Vec::new();
        for _ in 0..3 {
            let client = f.client(10_000, 0).await;
            f.pays(&shop, &client, NOW - 2 * 3600).await;
            clients.push(client);
        }
        let ask = async |client: &ClientRecord, now_s: i64| {
            f.merchant_number(&shop, client, eur, MessageBudget::UNLIMITED, 2, now_s)
                .await
        };
        assert!(matches!(
            ask(&clients[0], NOW).await,
            IssueOutcome::Issued(_)
        ));
        assert!(matches!(
            ask(&clients[1], NOW + 1).await,
            IssueOutcome::Issued(_)
        ));
        assert!(matches!(
            ask(&clients[0], NOW + 2).await,
            IssueOutcome::Issued(_)
        ));
        let pending = f.pending_count().await;
        assert!(
            matches!(
                ask(&clients[2], NOW + 3).await,
                IssueOutcome::TooManyClients
            ),
            "{}",
            f.name
        );
        assert_eq!(
            f.pending_count().await,
            pending,
            "{}: nothing queued",
            f.name
        );
        assert!(
            matches!(ask(&clients[2], NOW + 3601).await, IssueOutcome::Issued(_)),
            "{}: the window slides",
            f.name
        );

        // Several asked at once (on PostgreSQL, in lanes that run side by side): the
        // merchant's row is locked while its clients are counted, so exactly the
        // allowance goes out.
        let crowd_shop = f.merchant().await;
        let mut crowd = Vec::new();
        for _ in 0..8 {
            let client = f.client(10_000, 0).await;
            f.pays(&crowd_shop, &client, NOW - 2 * 3600).await;
            crowd.push(client);
        }
        let asked = crowd.iter().map(|client| {
            f.merchant_number(&crowd_shop, client, eur, MessageBudget::UNLIMITED, 3, NOW)
        });
        let outcomes = futures_util::future::join_all(asked).await;
        let issued = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, IssueOutcome::Issued(_)))
            .count();
        let refused = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, IssueOutcome::TooManyClients))
            .count();
        assert_eq!((issued, refused), (3, 5), "{}", f.name);
    })
    .await;
}

/// Requests that arrive together, on several instances (two PostgreSQL stores on one
/// database; SQLite's one writer), are counted one after the other: exactly the budget
/// goes out, whatever the interleaving. A multi-threaded runtime, so that the requests
/// really overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_holds_against_requests_at_once_on_several_instances() {
    /// A backend's name, its instances on one database, and what keeps it.
    type Instances = (&'static str, Vec<Arc<dyn Store>>, Guard);
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
            stores.push(Arc::new(
                PostgresStore::open(&schema.url, settings)
                    .await
                    .expect("an instance"),
            ));
        }
        setups.push(("postgres, two instances", stores, Box::new(schema)));
    }
    for (name, stores, _guard) in setups {
        let alice = stores[0]
            .enroll_client(NewClient {
                certificates: vec![new_certificate("5c01", CertificateKind::Holder, None)],
                ..new_client(1, "EUR", 100_000, 0)
            })
            .await
            .unwrap();
        let budget = MessageBudget::new(40, 5, 20, 5);
        let mut requests = Vec::new();
        for index in 0..24_usize {
            let store = stores[index % stores.len()].clone();
            let address = alice.phone.as_str().to_owned();
            requests.push(tokio::spawn(async move {
                let request = NewSignatureRequest {
                    certificate_serial: "5c01".into(),
                    message: NewMessage {
                        address,
                        sealed_body: b"signature seal".to_vec(),
                    },
                    budget,
                    ..signature_request(alice.id, &format!("{index:032x}"), NOW)
                };
                store.create_signature_request(request).await.unwrap()
            }));
        }
        let mut created = 0;
        for request in requests {
            match request.await.unwrap() {
                SignatureRequestOutcome::Created(_) => created += 1,
                SignatureRequestOutcome::Throttled(too_many) => {
                    assert_eq!(too_many, TooMany::Seals, "{name}")
                }
            }
        }
        assert_eq!(created, 5, "{name}: exactly the budget's seals");
        let sent = stores[0]
            .messages_to(alice.phone.as_str(), 100)
            .await
            .unwrap()
            .len();
        assert_eq!(sent, 5, "{name}: as many messages queued");
    }
}

/// One budget covers every message to a client, whoever asks: signature seals, payment
/// seals, numbers the client asks for and numbers merchants ask for. The burst that once
/// sent 40 messages sends exactly the budget; each refusal names its limit and leaves
/// nothing behind; a pause notice still goes out, and counts.
#[tokio::test]
async fn one_budget_counts_every_message_to_a_client() {
    each_backend(async |f: &Fixture| {
        let alice = f
            .store
            .enroll_client(NewClient {
                certificates: vec![new_certificate("5b01", CertificateKind::Holder, None)],
                ..new_client(f.next(), "EUR", 100_000, 0)
            })
            .await
            .unwrap();
        let shop = f.merchant().await;
        let cafe = f.merchant().await;
        f.pays(&shop, &alice, NOW - 2 * 3600).await;
        f.pays(&cafe, &alice, NOW - 2 * 3600).await;
        let budget = MessageBudget::new(12, 5, 6, 2);
        let eur = currency("EUR");
        let signature = async |public_id: &str| {
            let request = NewSignatureRequest {
                certificate_serial: "5b01".into(),
                message: NewMessage {
                    address: alice.phone.as_str().to_owned(),
                    sealed_body: b"signature seal".to_vec(),
                },
                budget,
                ..signature_request(alice.id, public_id, NOW + 1)
            };
            f.store.create_signature_request(request).await.unwrap()
        };
        let client_number = async || {
            let n = f.next();
            let number = NewNumber {
                budget,
                ..new_number(&alice, one_use(), bytes32(NUMBER_TAG, n), n, NOW + 3)
            };
            f.store.issue_number(number).await.unwrap()
        };
        let payment_seal = async |checkout: &CheckoutView, nonce: u8| {
            f.store
                .send_seal(SendSeal {
                    checkout_id: checkout.id,
                    client_id: alice.id,
                    seal: StoredSeal {
                        nonce: [nonce; 16],
                        digits: 8,
                        issued_at_s: NOW + 2,
                        expires_at_s: NOW + 2 + SEAL_S,
                    },
                    message: NewMessage {
                        address: alice.phone.as_str().to_owned(),
                        sealed_body: vec![nonce],
                    },
                    budget,
                    now_s: NOW + 2,
                })
                .await
                .unwrap()
        };
        let checkouts = [
            f.held(&shop, &alice, 100).await,
            f.held(&shop, &alice, 200).await,
            f.held(&cafe, &alice, 300).await,
        ];

        // Signature seals: 4 of the 5 seals of the hour.
        for index in 0..4 {
            let outcome = signature(&format!("b{index:03}")).await;
            assert!(
                matches!(outcome, SignatureRequestOutcome::Created(_)),
                "{}",
                f.name
            );
        }
        // Payment seals: the fifth seal, then none.
        assert!(matches!(
            payment_seal(&checkouts[0], 1).await,
            SendOutcome::Sent(_)
        ));
        for (checkout, nonce) in [(&checkouts[1], 2), (&checkouts[2], 3)] {
            assert!(
                matches!(
                    payment_seal(checkout, nonce).await,
                    SendOutcome::Refused(CheckoutRefusal::TooManySeals)
                ),
                "{}",
                f.name
            );
        }
        assert!(matches!(
            signature("b900").await,
            SignatureRequestOutcome::Throttled(TooMany::Seals)
        ));
        // Numbers the client asks for: 6 of them, then none.
        for _ in 0..6 {
            assert!(
                matches!(client_number().await, IssueOutcome::Issued(_)),
                "{}",
                f.name
            );
        }
        assert!(matches!(
            client_number().await,
            IssueOutcome::Throttled(TooMany::Numbers)
        ));
        // Numbers merchants ask for: one fits in the total, then the total refuses them.
        let merchant_number = async |merchant: &MerchantRecord| {
            f.merchant_number(merchant, &alice, eur, budget, u32::MAX, NOW + 4)
                .await
        };
        assert!(matches!(
            merchant_number(&shop).await,
            IssueOutcome::Issued(_)
        ));
        for merchant in [&shop, &cafe, &cafe] {
            assert!(
                matches!(
                    merchant_number(merchant).await,
                    IssueOutcome::Throttled(TooMany::Messages)
                ),
                "{}",
                f.name
            );
        }
        assert_eq!(
            f.messages_since(&alice, NOW).await,
            budget.total_max as usize,
            "{}: the burst sent exactly the budget",
            f.name
        );

        // Nothing half-written by the refusals: no request, seal or number.
        assert!(f.store.signature_request("b900").await.unwrap().is_none());
        assert_eq!(
            f.store
                .client_signature_requests(alice.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
            4
        );
        for (checkout, sends) in checkouts.iter().zip([1, 0, 0]) {
            let view = f
                .store
                .checkout(&checkout.public_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(view.seal_sends, sends, "{}", f.name);
            assert_eq!(view.seal.is_some(), sends > 0, "{}", f.name);
        }
        let numbers = f.store.client_numbers(alice.id, LIST_LIMIT).await.unwrap();
        // 2 paid with long before, 3 drawn for the checkouts, 6 asked for, 1 a merchant's.
        assert_eq!(numbers.len(), 2 + 3 + 6 + 1, "{}", f.name);

        // A notice (the client's payments were paused) always goes out, and counts.
        let notice = NewMessage {
            address: alice.phone.as_str().to_owned(),
            sealed_body: b"paused".to_vec(),
        };
        f.store.enqueue_message(notice, NOW + 5).await.unwrap();
        assert_eq!(
            f.messages_since(&alice, NOW).await,
            budget.total_max as usize + 1
        );

        // An hour after the burst, its messages no longer count.
        let n = f.next();
        let number = NewNumber {
            budget,
            ..new_number(&alice, one_use(), bytes32(NUMBER_TAG, n), n, NOW + 3 + 3600)
        };
        assert!(matches!(
            f.store.issue_number(number).await.unwrap(),
            IssueOutcome::Issued(_)
        ));
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_live_fingerprint_is_not_issued_twice() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        let card = f.issue(&alice, one_use()).await;
        let before = (
            f.pending_count().await,
            f.store
                .client_numbers(bob.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
        );

        for holder in [&alice, &bob] {
            let n = f.next();
            let again = new_number(holder, one_use(), card.number, n, NOW);
            let outcome = f.store.issue_number(again).await.unwrap();
            assert!(
                matches!(outcome, IssueOutcome::FingerprintTaken),
                "{}: the fingerprint is live",
                f.name
            );
        }
        let after = (
            f.pending_count().await,
            f.store
                .client_numbers(bob.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
        );
        assert_eq!(after, before, "nothing half-written: no message, no number");

        // A number for no client is refused whole, its message with it.
        let ghost = ClientRecord {
            id: i64::MAX,
            ..bob.clone()
        };
        let n = f.next();
        assert!(
            f.store
                .issue_number(new_number(
                    &ghost,
                    one_use(),
                    bytes32(NUMBER_TAG, n),
                    n,
                    NOW
                ))
                .await
                .is_err()
        );
        assert_eq!(f.pending_count().await, before.0);
    })
    .await;
}

#[tokio::test]
async fn an_expired_fingerprint_may_be_drawn_again() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f
            .issue(&alice, policy(2, AmountRule::Any, MerchantLock::Any))
            .await;
        let later = NOW + VALIDITY_S;
        let n = f.next();
        let again = || {
            new_number(
                &alice,
                UsagePolicy {
                    valid_until_s: later + VALIDITY_S,
                    ..one_use()
                },
                card.number,
                n,
                later,
            )
        };

        // Past its validity but not yet swept: still holds its fingerprint.
        assert!(matches!(
            f.store.issue_number(again()).await.unwrap(),
            IssueOutcome::FingerprintTaken
        ));
        assert_eq!(f.store.expire(later).await.unwrap().numbers_expired, 1);
        let IssueOutcome::Issued(fresh) = f.store.issue_number(again()).await.unwrap() else {
            panic!("{}: an expired fingerprint is free", f.name);
        };
        assert_eq!(f.number(&card).await.state, NumberState::Expired);
        // The merchant reaches the live number, not the expired one with the same fingerprint.
        let card = Card {
            details: bytes32(DETAILS_TAG, n),
            view: fresh.clone(),
            ..card
        };
        let authorization = authorized(f.authorize(shop.id, &card, 100, later).await);
        assert_eq!(authorization.number_id, fresh.id);
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 3. Authorization: the happy path and every decline
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn authorize_places_a_hold_and_consumes_a_one_use_number() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let authorization = authorized(f.authorize(shop.id, &card, 2_500, NOW + 5).await);
        let expected = AuthorizationView {
            id: authorization.id,
            merchant_id: shop.id,
            number_id: card.view.id,
            number_last_four: card.view.last_four.clone(),
            client_id: alice.id,
            currency: "EUR".into(),
            amount: 2_500,
            captured: 0,
            refunded: 0,
            state: AuthorizationState::Authorized,
            merchant_reference: "order-2500".into(),
            created_at_s: NOW + 5,
            hold_expires_at_s: NOW + 5 + HOLD_TTL_S,
        };
        assert_eq!(authorization, expected);
        assert_eq!(f.reread(&authorization).await, expected);

        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (10_000, 2_500));
        let number = f.number(&card).await;
        assert_eq!(
            (number.state, number.uses_count, number.amount_used),
            (NumberState::Consumed, 1, 2_500)
        );
        f.assert_sound().await;
    })
    .await;
}

#[derive(Debug, Clone, Copy)]
enum Who {
    A,
    B,
}

#[derive(Debug, Clone, Copy)]
enum Lock {
    Any,
    Named(Who),
    First,
}

/// One authorization attempt, relative to the case's merchants and start time.
#[derive(Debug, Clone, Copy)]
struct Try {
    by: Who,
    amount: i64,
    right_details: bool,
    currency: &'static str,
    after_s: i64,
}

const fn pay(amount: i64) -> Try {
    Try {
        by: Who::A,
        amount,
        right_details: true,
        currency: "EUR",
        after_s: 0,
    }
}

impl Try {
    const fn by(self, by: Who) -> Try {
        Try { by, ..self }
    }
    const fn wrong_details(self) -> Try {
        Try {
            right_details: false,
            ..self
        }
    }
    const fn in_currency(self, currency: &'static str) -> Try {
        Try { currency, ..self }
    }
    const fn after(self, after_s: i64) -> Try {
        Try { after_s, ..self }
    }
}

/// A number, its holder, attempts that set the scene, and the attempt under test.
#[derive(Debug)]
struct AuthorizeCase {
    name: &'static str,
    opening: i64,
    credit: i64,
    holder_blocked: bool,
    uses_max: u32,
    amount: AmountRule,
    lock: Lock,
    unknown_number: bool,
    before: &'static [(Try, Option<Decline>)],
    attempt: Try,
    /// `None`: authorized.
    expected: Option<Decline>,
}

const CASE: AuthorizeCase = AuthorizeCase {
    name: "",
    opening: 10_000,
    credit: 0,
    holder_blocked: false,
    uses_max: 1,
    amount: AmountRule::Any,
    lock: Lock::Any,
    unknown_number: false,
    before: &[],
    attempt: pay(1_000),
    expected: None,
};

const WRONG: (Try, Option<Decline>) = (pay(1_000).wrong_details(), Some(Decline::WrongCardDetails));
const PAID: (Try, Option<Decline>) = (pay(1_000), None);

#[rustfmt::skip]
const AUTHORIZE_CASES: &[AuthorizeCase] = &[
    AuthorizeCase { name: "approved within the policy", ..CASE },
    AuthorizeCase { name: "unknown number", unknown_number: true, expected: Some(Decline::UnknownNumber), ..CASE },
    AuthorizeCase { name: "wrong card details", attempt: pay(1_000).wrong_details(), expected: Some(Decline::WrongCardDetails), ..CASE },
    AuthorizeCase { name: "two wrong tries are forgiven by a right one", uses_max: 2, before: &[WRONG, WRONG], ..CASE },
    AuthorizeCase { name: "three wrong tries block the number", before: &[WRONG, WRONG, WRONG], expected: Some(Decline::Blocked), ..CASE },
    AuthorizeCase { name: "wrong details are told before the state", before: &[PAID], attempt: pay(1_000).wrong_details(), expected: Some(Decline::WrongCardDetails), ..CASE },
    AuthorizeCase { name: "valid until the last second", attempt: pay(1_000).after(VALIDITY_S - 1), ..CASE },
    AuthorizeCase { name: "expired at the end of validity", attempt: pay(1_000).after(VALIDITY_S), expected: Some(Decline::Expired), ..CASE },
    AuthorizeCase { name: "expired long after", attempt: pay(1_000).after(VALIDITY_S * 100), expected: Some(Decline::Expired), ..CASE },
    AuthorizeCase { name: "already used", before: &[PAID], expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "already used, by another merchant", before: &[PAID], attempt: pay(1_000).by(Who::B), expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "used up after n uses", uses_max: 2, before: &[PAID, PAID], expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "over the cap at once", uses_max: 3, amount: AmountRule::Cap(1_000), attempt: pay(1_001), expected: Some(Decline::OverCap), ..CASE },
    AuthorizeCase { name: "over the cap across uses", uses_max: 3, amount: AmountRule::Cap(1_000), before: &[(pay(600), None)], attempt: pay(401), expected: Some(Decline::OverCap), ..CASE },
    AuthorizeCase { name: "up to the cap", uses_max: 3, amount: AmountRule::Cap(1_000), before: &[(pay(600), None)], attempt: pay(400), ..CASE },
    AuthorizeCase { name: "reaching the cap consumes", uses_max: 3, amount: AmountRule::Cap(1_000), before: &[(pay(1_000), None)], attempt: pay(1), expected: Some(Decline::AlreadyUsed), ..CASE },
    AuthorizeCase { name: "exact amount", amount: AmountRule::Exact(4_999), attempt: pay(4_999), ..CASE },
    AuthorizeCase { name: "exact amount, one more", amount: AmountRule::Exact(4_999), attempt: pay(5_000), expected: Some(Decline::AmountMismatch), ..CASE },
    AuthorizeCase { name: "exact amount, one less", amount: AmountRule::Exact(4_999), attempt: pay(4_998), expected: Some(Decline::AmountMismatch), ..CASE },
    AuthorizeCase { name: "named merchant", lock: Lock::Named(Who::B), attempt: pay(1_000).by(Who::B), ..CASE },
    AuthorizeCase { name: "named merchant, another pays", lock: Lock::Named(Who::A), attempt: pay(1_000).by(Who::B), expected: Some(Decline::OtherMerchant), ..CASE },
    AuthorizeCase { name: "first merchant, same again", uses_max: 2, lock: Lock::First, before: &[PAID], ..CASE },
    AuthorizeCase { name: "first merchant, another after", uses_max: 2, lock: Lock::First, before: &[PAID], attempt: pay(1_000).by(Who::B), expected: Some(Decline::OtherMerchant), ..CASE },
    AuthorizeCase { name: "currency mismatch", attempt: pay(1_000).in_currency("USD"), expected: Some(Decline::CurrencyMismatch), ..CASE },
    AuthorizeCase { name: "insufficient funds", opening: 1_000, attempt: pay(1_001), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "the whole balance", opening: 1_000, attempt: pay(1_000), ..CASE },
    AuthorizeCase { name: "the credit limit extends the floor", opening: 1_000, credit: 500, attempt: pay(1_500), ..CASE },
    AuthorizeCase { name: "beyond the credit limit", opening: 1_000, credit: 500, attempt: pay(1_501), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "holds count against funds", opening: 1_000, credit: 500, uses_max: 3, before: &[PAID], attempt: pay(501), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "what the holds leave", opening: 1_000, credit: 500, uses_max: 3, before: &[PAID], attempt: pay(500), ..CASE },
    AuthorizeCase { name: "no funds at all", opening: 0, attempt: pay(1), expected: Some(Decline::InsufficientFunds), ..CASE },
    AuthorizeCase { name: "blocked holder", holder_blocked: true, expected: Some(Decline::Blocked), ..CASE },
    AuthorizeCase { name: "blocked holder, wrong details (not revealed)", holder_blocked: true, attempt: pay(1_000).wrong_details(), expected: Some(Decline::WrongCardDetails), ..CASE },
];

#[tokio::test]
async fn every_decline_is_reachable_and_changes_nothing() {
    for case in AUTHORIZE_CASES {
        each_backend(async |f: &Fixture| check_authorize(f, case).await).await;
    }
}

async fn check_authorize(f: &Fixture, case: &AuthorizeCase) {
    let context = format!("{}: {}", f.name, case.name);
    let (a, b) = (f.merchant().await, f.merchant().await);
    let merchant = |who: Who| match who {
        Who::A => a.id,
        Who::B => b.id,
    };
    let lock = match case.lock {
        Lock::Any => MerchantLock::Any,
        Lock::Named(who) => MerchantLock::Named(merchant(who)),
        Lock::First => MerchantLock::FirstMerchant,
    };
    let holder = f.client(case.opening, case.credit).await;
    let card = f
        .issue(&holder, policy(case.uses_max, case.amount, lock))
        .await;
    if case.holder_blocked {
        assert!(f.store.set_client_blocked(holder.id, true).await.unwrap());
    }
    let command = |attempt: &Try| MerchantCommand::Authorize {
        number_fingerprint: if case.unknown_number {
            bytes32(NUMBER_TAG, u64::MAX)
        } else {
            card.number
        },
        details_fingerprint: if attempt.right_details {
            card.details
        } else {
            bytes32(DETAILS_TAG, u64::MAX)
        },
        amount: attempt.amount,
        currency: currency(attempt.currency),
        merchant_reference: "order".into(),
        hold_ttl_s: HOLD_TTL_S,
    };
    let decline_of = |outcome: Outcome| match outcome {
        Outcome::Authorized { .. } => None,
        Outcome::Declined { decline, .. } => Some(decline),
        other => panic!("{context}: {other:?}"),
    };
    for (index, (attempt, expected)) in case.before.iter().enumerate() {
        let outcome = f
            .run(
                merchant(attempt.by),
                command(attempt),
                NOW + attempt.after_s,
            )
            .await;
        assert_eq!(
            decline_of(outcome),
            *expected,
            "{context}: attempt {index} before"
        );
    }

    let account_before = f.account(&holder).await;
    let number_before = f.number(&card).await;
    let now_s = NOW + case.attempt.after_s;
    let outcome = f
        .run(merchant(case.attempt.by), command(&case.attempt), now_s)
        .await;
    let account_after = f.account(&holder).await;
    let number_after = f.number(&card).await;
    match (outcome, case.expected) {
        (Outcome::Declined { decline, .. }, Some(expected)) => {
            assert_eq!(decline, expected, "{context}: got {}", decline.code());
            assert_eq!(
                account_after, account_before,
                "{context}: a decline moved money"
            );
            let usage = |n: &NumberView| (n.uses_count, n.amount_used, n.locked_merchant);
            assert_eq!(
                usage(&number_after),
                usage(&number_before),
                "{context}: a decline used the number"
            );
        }
        (Outcome::Authorized { authorization }, None) => {
            assert_eq!(authorization.amount, case.attempt.amount, "{context}");
            assert_eq!(
                authorization.merchant_id,
                merchant(case.attempt.by),
                "{context}"
            );
            assert_eq!(
                authorization.state,
                AuthorizationState::Authorized,
                "{context}"
            );
            assert_eq!(
                authorization.hold_expires_at_s,
                now_s + HOLD_TTL_S,
                "{context}"
            );
            assert_eq!(
                account_after.held,
                account_before.held + case.attempt.amount,
                "{context}"
            );
            assert_eq!(account_after.balance, account_before.balance, "{context}");
            assert_eq!(
                number_after.uses_count,
                number_before.uses_count + 1,
                "{context}"
            );
            assert_eq!(
                number_after.amount_used,
                number_before.amount_used + case.attempt.amount,
                "{context}"
            );
        }
        (outcome, expected) => panic!("{context}: expected {expected:?}, got {outcome:?}"),
    }
    f.assert_sound().await;
}

// ---------------------------------------------------------------------------------------
// 4. Capture, void, refund; 6. expiry of holds
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Step {
    Capture(Option<i64>),
    Void,
    Refund(Option<i64>),
    CaptureByOther,
    VoidByOther,
    RefundByOther,
    /// `expire(now)`.
    Sweep,
    /// Reads the number's state.
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Captured(i64),
    Voided,
    Refunded { amount: i64, refunded: i64 },
    Rejected(Rejection),
    Swept(Expired),
    NumberIs(NumberState),
}

const fn swept(holds_released: u64, numbers_expired: u64) -> Expect {
    Expect::Swept(Expired {
        holds_released,
        numbers_expired,
        checkouts_expired: 0,
    })
}

/// An authorization of [`AMOUNT`] at `NOW`, then steps at `NOW + after_s`.
#[derive(Debug)]
struct LifecycleCase {
    name: &'static str,
    uses_max: u32,
    steps: &'static [(i64, Step, Expect)],
}

const OPENING: i64 = 5_000;
const AMOUNT: i64 = 1_000;

#[rustfmt::skip]
const LIFECYCLE_CASES: &[LifecycleCase] = &[
    LifecycleCase { name: "full capture, once", uses_max: 1, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (11, Step::Capture(None), Expect::Rejected(Rejection::AlreadyCaptured)),
        (12, Step::Capture(Some(1)), Expect::Rejected(Rejection::AlreadyCaptured)),
        (13, Step::Void, Expect::Rejected(Rejection::AlreadyCaptured)),
    ] },
    LifecycleCase { name: "partial capture releases the whole hold", uses_max: 1, steps: &[
        (10, Step::Capture(Some(400)), Expect::Captured(400)),
        (11, Step::Capture(Some(100)), Expect::Rejected(Rejection::AlreadyCaptured)),
    ] },
    LifecycleCase { name: "capture beyond the authorization, or of nothing", uses_max: 1, steps: &[
        (10, Step::Capture(Some(AMOUNT + 1)), Expect::Rejected(Rejection::ExceedsAuthorized)),
        (10, Step::Capture(Some(0)), Expect::Rejected(Rejection::ExceedsAuthorized)),
        (10, Step::Capture(Some(-5)), Expect::Rejected(Rejection::ExceedsAuthorized)),
        (11, Step::Capture(Some(AMOUNT)), Expect::Captured(AMOUNT)),
    ] },
    LifecycleCase { name: "void", uses_max: 1, steps: &[
        (10, Step::Void, Expect::Voided),
        (11, Step::Capture(None), Expect::Rejected(Rejection::Voided)),
        (12, Step::Void, Expect::Rejected(Rejection::Voided)),
        (13, Step::Refund(None), Expect::Rejected(Rejection::NotCaptured)),
        (14, Step::Sweep, swept(0, 0)),
    ] },
    LifecycleCase { name: "another merchant sees nothing", uses_max: 1, steps: &[
        (10, Step::CaptureByOther, Expect::Rejected(Rejection::NotFound)),
        (10, Step::VoidByOther, Expect::Rejected(Rejection::NotFound)),
        (11, Step::Capture(None), Expect::Captured(AMOUNT)),
        (12, Step::RefundByOther, Expect::Rejected(Rejection::NotFound)),
    ] },
    LifecycleCase { name: "refund in parts, never beyond", uses_max: 1, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (11, Step::Refund(Some(300)), Expect::Refunded { amount: 300, refunded: 300 }),
        (12, Step::Refund(Some(701)), Expect::Rejected(Rejection::ExceedsRefundable)),
        (12, Step::Refund(Some(0)), Expect::Rejected(Rejection::ExceedsRefundable)),
        (13, Step::Refund(None), Expect::Refunded { amount: 700, refunded: AMOUNT }),
        (14, Step::Refund(None), Expect::Rejected(Rejection::ExceedsRefundable)),
        (15, Step::Refund(Some(1)), Expect::Rejected(Rejection::ExceedsRefundable)),
    ] },
    LifecycleCase { name: "refund of a partial capture", uses_max: 1, steps: &[
        (10, Step::Capture(Some(600)), Expect::Captured(600)),
        (11, Step::Refund(Some(601)), Expect::Rejected(Rejection::ExceedsRefundable)),
        (12, Step::Refund(None), Expect::Refunded { amount: 600, refunded: 600 }),
    ] },
    LifecycleCase { name: "refund before capture", uses_max: 1, steps: &[
        (10, Step::Refund(Some(100)), Expect::Rejected(Rejection::NotCaptured)),
        (11, Step::Refund(None), Expect::Rejected(Rejection::NotCaptured)),
        (12, Step::Capture(None), Expect::Captured(AMOUNT)),
    ] },
    LifecycleCase { name: "refund after the one-use number is consumed and past validity", uses_max: 1, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (VALIDITY_S * 10, Step::Sweep, swept(0, 0)),
        (VALIDITY_S * 10, Step::Number, Expect::NumberIs(NumberState::Consumed)),
        (VALIDITY_S * 10, Step::Refund(Some(250)), Expect::Refunded { amount: 250, refunded: 250 }),
    ] },
    LifecycleCase { name: "refund after the number expired", uses_max: 2, steps: &[
        (10, Step::Capture(None), Expect::Captured(AMOUNT)),
        (VALIDITY_S, Step::Sweep, swept(0, 1)),
        (VALIDITY_S, Step::Number, Expect::NumberIs(NumberState::Expired)),
        (VALIDITY_S + 1, Step::Refund(None), Expect::Refunded { amount: AMOUNT, refunded: AMOUNT }),
    ] },
    LifecycleCase { name: "the hold expires", uses_max: 1, steps: &[
        (HOLD_TTL_S - 1, Step::Sweep, swept(0, 0)),
        (HOLD_TTL_S, Step::Capture(None), Expect::Rejected(Rejection::HoldExpired)),
        (HOLD_TTL_S, Step::Sweep, swept(1, 0)),
        (HOLD_TTL_S, Step::Sweep, swept(0, 0)),
        (HOLD_TTL_S + 1, Step::Capture(None), Expect::Rejected(Rejection::HoldExpired)),
        (HOLD_TTL_S + 1, Step::Void, Expect::Rejected(Rejection::HoldExpired)),
        (HOLD_TTL_S + 1, Step::Refund(None), Expect::Rejected(Rejection::NotCaptured)),
    ] },
    LifecycleCase { name: "a capture just before the hold expires", uses_max: 1, steps: &[
        (HOLD_TTL_S - 1, Step::Capture(None), Expect::Captured(AMOUNT)),
        (HOLD_TTL_S, Step::Sweep, swept(0, 0)),
    ] },
];

#[tokio::test]
async fn capture_void_refund_and_hold_expiry() {
    for case in LIFECYCLE_CASES {
        each_backend(async |f: &Fixture| check_lifecycle(f, case).await).await;
    }
}

async fn check_lifecycle(f: &Fixture, case: &LifecycleCase) {
    let (shop, other) = (f.merchant().await, f.merchant().await);
    let holder = f.client(OPENING, 0).await;
    let card = f
        .issue(
            &holder,
            policy(case.uses_max, AmountRule::Any, MerchantLock::Any),
        )
        .await;
    let authorization = authorized(f.authorize(shop.id, &card, AMOUNT, NOW).await);
    let id = authorization.id;
    for (index, (after_s, step, expect)) in case.steps.iter().enumerate() {
        let context = format!("{}: {}: step {index} {step:?}", f.name, case.name);
        let now_s = NOW + after_s;
        let command =
            |merchant_id: i64, command: MerchantCommand| f.run(merchant_id, command, now_s);
        let answer = match step {
            Step::Capture(amount) => {
                command(
                    shop.id,
                    MerchantCommand::Capture {
                        authorization_id: id,
                        amount: amount.map(eur),
                    },
                )
                .await
            }
            Step::Void => {
                command(
                    shop.id,
                    MerchantCommand::Void {
                        authorization_id: id,
                    },
                )
                .await
            }
            Step::Refund(amount) => {
                command(
                    shop.id,
                    MerchantCommand::Refund {
                        authorization_id: id,
                        amount: amount.map(eur),
                    },
                )
                .await
            }
            Step::CaptureByOther => {
                command(
                    other.id,
                    MerchantCommand::Capture {
                        authorization_id: id,
                        amount: None,
                    },
                )
                .await
            }
            Step::VoidByOther => {
                command(
                    other.id,
                    MerchantCommand::Void {
                        authorization_id: id,
                    },
                )
                .await
            }
            Step::RefundByOther => {
                command(
                    other.id,
                    MerchantCommand::Refund {
                        authorization_id: id,
                        amount: None,
                    },
                )
                .await
            }
            Step::Sweep => {
                let expired = f.store.expire(now_s).await.unwrap();
                assert_eq!(Expect::Swept(expired), *expect, "{context}");
                check_figures(f, &holder, &authorization, &context).await;
                continue;
            }
            Step::Number => {
                assert_eq!(
                    Expect::NumberIs(f.number(&card).await.state),
                    *expect,
                    "{context}"
                );
                continue;
            }
        };
        let now = check_figures(f, &holder, &authorization, &context).await;
        match (answer, *expect) {
            (Outcome::Captured { authorization }, Expect::Captured(captured)) => {
                assert_eq!(
                    authorization, now,
                    "{context}: the answer is the stored authorization"
                );
                assert_eq!(
                    (now.state, now.captured, now.refunded),
                    (AuthorizationState::Captured, captured, 0),
                    "{context}"
                );
            }
            (Outcome::Voided { authorization }, Expect::Voided) => {
                assert_eq!(authorization, now, "{context}");
                assert_eq!(
                    (now.state, now.captured),
                    (AuthorizationState::Voided, 0),
                    "{context}"
                );
            }
            (
                Outcome::Refunded {
                    authorization,
                    amount,
                    ..
                },
                Expect::Refunded {
                    amount: expected,
                    refunded,
                },
            ) => {
                assert_eq!(authorization, now, "{context}");
                assert_eq!((amount, now.refunded), (expected, refunded), "{context}");
            }
            (Outcome::Rejected { rejection }, Expect::Rejected(expected)) => {
                assert_eq!(rejection, expected, "{context}: got {}", rejection.code());
            }
            (answer, expected) => panic!("{context}: expected {expected:?}, got {answer:?}"),
        }
    }
    assert_eq!(
        f.store.authorization(other.id, id).await.unwrap(),
        None,
        "only its merchant sees an authorization"
    );
}

/// The client's account follows from its authorization: balance = opening − captured +
/// refunded, and held = the amount while authorized. Returns the authorization as stored.
async fn check_figures(
    f: &Fixture,
    holder: &ClientRecord,
    authorization: &AuthorizationView,
    context: &str,
) -> AuthorizationView {
    let now = f.reread(authorization).await;
    let account = f.account(holder).await;
    let held = if now.state == AuthorizationState::Authorized {
        now.amount
    } else {
        0
    };
    assert_eq!(
        account.balance,
        OPENING - now.captured + now.refunded,
        "{context}: balance"
    );
    assert_eq!(account.held, held, "{context}: held");
    f.assert_sound().await;
    now
}

#[tokio::test]
async fn expire_releases_holds_and_numbers() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let short = f
            .issue(
                &alice,
                UsagePolicy {
                    valid_until_s: NOW + 100,
                    ..policy(5, AmountRule::Any, MerchantLock::Any)
                },
            )
            .await;
        let long = f
            .issue(
                &alice,
                UsagePolicy {
                    valid_until_s: NOW + 10_000,
                    ..policy(5, AmountRule::Any, MerchantLock::Any)
                },
            )
            .await;
        let early = authorize_command_with(&short, 1_000, short.details, 50);
        let early = authorized(f.run(shop.id, early, NOW).await);
        let late = authorized(f.authorize(shop.id, &long, 2_000, NOW).await);
        assert_eq!(f.account(&alice).await.held, 3_000);

        assert_eq!(
            f.store.expire(NOW + 49).await.unwrap(),
            Expired {
                holds_released: 0,
                numbers_expired: 0,
                checkouts_expired: 0,
            }
        );
        assert_eq!(
            f.store.expire(NOW + 50).await.unwrap(),
            Expired {
                holds_released: 1,
                numbers_expired: 0,
                checkouts_expired: 0,
            }
        );
        assert_eq!(f.reread(&early).await.state, AuthorizationState::Expired);
        assert_eq!(f.reread(&late).await.state, AuthorizationState::Authorized);
        assert_eq!(f.account(&alice).await.held, 2_000);
        let capture = MerchantCommand::Capture {
            authorization_id: early.id,
            amount: None,
        };
        assert_eq!(
            rejected(f.run(shop.id, capture, NOW + 51).await),
            Rejection::HoldExpired
        );
        assert_eq!(f.number(&short).await.state, NumberState::Live);

        assert_eq!(
            f.store.expire(NOW + 100).await.unwrap(),
            Expired {
                holds_released: 0,
                numbers_expired: 1,
                checkouts_expired: 0,
            }
        );
        assert_eq!(f.number(&short).await.state, NumberState::Expired);
        assert_eq!(f.number(&long).await.state, NumberState::Live);
        assert_eq!(
            declined(f.authorize(shop.id, &short, 10, NOW + 100).await),
            Decline::Expired
        );

        let both = f.store.expire(NOW + HOLD_TTL_S).await.unwrap();
        assert_eq!(
            both,
            Expired {
                holds_released: 1,
                numbers_expired: 0,
                checkouts_expired: 0,
            }
        );
        let account = f.account(&alice).await;
        assert_eq!(
            (account.balance, account.held),
            (10_000, 0),
            "every hold released"
        );
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 5. Idempotency
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn idempotent_requests_are_replayed_without_a_second_effect() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let (shop, cafe) = (f.merchant().await, f.merchant().await);
        let card = f
            .issue(&alice, policy(5, AmountRule::Any, MerchantLock::Any))
            .await;
        let pay = || authorize_command(&card, 1_000);

        let first = f
            .store
            .execute(keyed(shop.id, "k1", 1, pay(), NOW))
            .await
            .unwrap();
        assert!(!first.replayed);
        let authorization = authorized(first.outcome.clone());
        let again = f
            .store
            .execute(keyed(shop.id, "k1", 1, pay(), NOW + 1))
            .await
            .unwrap();
        assert_eq!(
            again,
            Executed {
                outcome: first.outcome.clone(),
                replayed: true
            }
        );
        assert_eq!(f.account(&alice).await.held, 1_000, "one hold");
        assert_eq!(f.number(&card).await.uses_count, 1, "one use");

        match f
            .store
            .execute(keyed(shop.id, "k1", 2, pay(), NOW + 2))
            .await
        {
            Err(StoreError::IdempotencyMismatch) => {}
            other => panic!("{}: expected IdempotencyMismatch, got {other:?}", f.name),
        }
        let elsewhere = f
            .store
            .execute(keyed(cafe.id, "k1", 1, pay(), NOW + 3))
            .await
            .unwrap();
        assert!(!elsewhere.replayed, "keys are per merchant");
        assert_ne!(authorized(elsewhere.outcome).id, authorization.id);
        assert_eq!(f.account(&alice).await.held, 2_000);

        // A capture replayed moves money once; the replay of the authorization still
        // answers what it answered first, though the authorization has moved on.
        let capture = || MerchantCommand::Capture {
            authorization_id: authorization.id,
            amount: Some(eur(400)),
        };
        let captured = f
            .store
            .execute(keyed(shop.id, "c1", 3, capture(), NOW + 4))
            .await
            .unwrap();
        assert!(matches!(captured.outcome, Outcome::Captured { .. }));
        let replayed = f
            .store
            .execute(keyed(shop.id, "c1", 3, capture(), NOW + 5))
            .await
            .unwrap();
        assert_eq!(
            replayed,
            Executed {
                outcome: captured.outcome,
                replayed: true
            }
        );
        assert_eq!(f.account(&alice).await.balance, 9_600);
        let late = f
            .store
            .execute(keyed(shop.id, "k1", 1, pay(), NOW + 6))
            .await
            .unwrap();
        assert_eq!(
            late,
            Executed {
                outcome: first.outcome,
                replayed: true
            }
        );

        // Refunds too.
        let refund = || MerchantCommand::Refund {
            authorization_id: authorization.id,
            amount: Some(eur(100)),
        };
        let refunded = f
            .store
            .execute(keyed(shop.id, "r1", 4, refund(), NOW + 7))
            .await
            .unwrap();
        let replayed = f
            .store
            .execute(keyed(shop.id, "r1", 4, refund(), NOW + 8))
            .await
            .unwrap();
        assert_eq!(
            replayed,
            Executed {
                outcome: refunded.outcome,
                replayed: true
            }
        );
        assert_eq!(f.account(&alice).await.balance, 9_700);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_decline_is_replayed_too() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let wrong = authorize_command_with(&card, 100, bytes32(DETAILS_TAG, u64::MAX), HOLD_TTL_S);
        let first = f
            .store
            .execute(keyed(shop.id, "w", 1, wrong.clone(), NOW))
            .await
            .unwrap();
        assert_eq!(declined(first.outcome.clone()), Decline::WrongCardDetails);
        // Replayed more often than the try limit: still one wrong try, the number is not blocked.
        for _ in 0..5 {
            let again = f
                .store
                .execute(keyed(shop.id, "w", 1, wrong.clone(), NOW + 1))
                .await
                .unwrap();
            assert_eq!(
                again,
                Executed {
                    outcome: first.outcome.clone(),
                    replayed: true
                }
            );
        }
        authorized(f.authorize(shop.id, &card, 100, NOW + 2).await);
        // And the stored decline is what is replayed even now that the number is used.
        let again = f
            .store
            .execute(keyed(shop.id, "w", 1, wrong, NOW + 3))
            .await
            .unwrap();
        assert_eq!(
            again,
            Executed {
                outcome: first.outcome,
                replayed: true
            }
        );
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 7. Sessions and messages
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sessions_live_until_they_expire_or_are_deleted() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let bob = f.client(0, 0).await;
        let (token, other) = (bytes32(TOKEN_TAG, 1), bytes32(TOKEN_TAG, 2));
        let session = |token_hash, client_id| NewSession {
            token_hash,
            client_id,
            now_s: NOW,
            expires_at_s: NOW + 100,
        };
        f.store
            .create_session(session(token, alice.id))
            .await
            .unwrap();
        f.store
            .create_session(session(other, bob.id))
            .await
            .unwrap();

        let checks = [
            (token, NOW, Some(alice.id)),
            (token, NOW + 99, Some(alice.id)),
            (token, NOW + 100, None),
            (other, NOW, Some(bob.id)),
            (bytes32(TOKEN_TAG, 3), NOW, None),
        ];
        for (token_hash, now_s, expected) in checks {
            assert_eq!(
                f.store
                    .session_client(token_hash, now_s)
                    .await
                    .unwrap()
                    .map(|client| client.id),
                expected,
                "{}: at {now_s}",
                f.name
            );
        }
        f.store.delete_session(token).await.unwrap();
        assert!(f.store.session_client(token, NOW).await.unwrap().is_none());
        assert_eq!(
            f.store
                .session_client(other, NOW)
                .await
                .unwrap()
                .map(|client| client.id),
            Some(bob.id),
            "only that session"
        );
        f.store.delete_session(token).await.unwrap();
    })
    .await;
}

/// Dispatchers of several instances claim messages: a claimed message is not handed to
/// another claim until it lapses, and a marked one never again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_claimed_by_one_dispatcher_at_a_time() {
    const LEASE_S: i64 = 15;
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        for _ in 0..6 {
            f.issue(&alice, one_use()).await;
        }
        let all: Vec<i64> = f
            .store
            .pending_messages(LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(all.len(), 6);
        // Two dispatchers at once, each wanting four: together they get each message once.
        let claims: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move { store.claim_messages(NOW, LEASE_S, 4).await })
            })
            .collect();
        let mut claimed = Vec::new();
        for claim in claims {
            let taken = claim.await.unwrap().unwrap();
            assert!(
                taken.windows(2).all(|pair| pair[0].id < pair[1].id),
                "oldest first"
            );
            claimed.extend(taken.iter().map(|m| m.id));
        }
        claimed.sort_unstable();
        assert_eq!(
            claimed, all,
            "{}: every message claimed exactly once",
            f.name
        );
        assert!(
            f.store
                .claim_messages(NOW + LEASE_S - 1, LEASE_S, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            f.pending_count().await,
            6,
            "claimed messages are still pending"
        );

        // One is sent; when the claims lapse, the others are claimable again, it is not.
        let sent = MessageDelivery::Sent {
            channel: "sms".into(),
            reference: "ref".into(),
            now_s: NOW + 1,
        };
        f.store.mark_message(all[0], sent).await.unwrap();
        let again: Vec<i64> = f
            .store
            .claim_messages(NOW + LEASE_S, LEASE_S, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(again, all[1..].to_vec(), "{}", f.name);
    })
    .await;
}

#[tokio::test]
async fn messages_wait_until_marked() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        let first = f.issue(&alice, one_use()).await;
        let _bobs = f.issue(&bob, one_use()).await;
        let second = f.issue_at(&alice, one_use(), NOW + 1).await;

        let pending = f.store.pending_messages(LIST_LIMIT).await.unwrap();
        let addresses: Vec<&str> = pending.iter().map(|m| m.address.as_str()).collect();
        assert_eq!(
            addresses,
            vec![
                alice.phone.as_str(),
                bob.phone.as_str(),
                alice.phone.as_str()
            ],
            "oldest first"
        );
        assert!(pending.windows(2).all(|pair| pair[0].id < pair[1].id));
        assert_eq!(
            f.store.pending_messages(2).await.unwrap(),
            pending[..2].to_vec()
        );

        let to_alice = f
            .store
            .messages_to(alice.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(
            to_alice.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![pending[2].id, pending[0].id],
            "newest first"
        );
        assert_eq!(to_alice[0].created_at_s, NOW + 1);
        assert_ne!(first.view.id, second.view.id);
        assert_eq!(
            f.store
                .messages_to(alice.phone.as_str(), 1)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            f.store
                .messages_to("+10000000", LIST_LIMIT)
                .await
                .unwrap()
                .is_empty()
        );

        let sent = MessageDelivery::Sent {
            channel: "sms".into(),
            reference: "ref-1".into(),
            now_s: NOW + 2,
        };
        f.store.mark_message(pending[0].id, sent).await.unwrap();
        let failed = MessageDelivery::Failed {
            channel: "smtp".into(),
            reason: "refused".into(),
            now_s: NOW + 3,
        };
        f.store.mark_message(pending[1].id, failed).await.unwrap();
        let still: Vec<i64> = f
            .store
            .pending_messages(LIST_LIMIT)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(still, vec![pending[2].id]);

        let to_alice = f
            .store
            .messages_to(alice.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(
            (to_alice[1].state.as_str(), to_alice[1].channel.as_deref()),
            ("sent", Some("sms"))
        );
        assert_eq!(to_alice[1].sealed_body, pending[0].sealed_body);
        let to_bob = f
            .store
            .messages_to(bob.phone.as_str(), LIST_LIMIT)
            .await
            .unwrap();
        assert_eq!(
            (to_bob[0].state.as_str(), to_bob[0].channel.as_deref()),
            ("failed", Some("smtp"))
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 8. Concurrency
// ---------------------------------------------------------------------------------------

const RACERS_COUNT: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_use_number_is_authorized_once_under_a_race() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let mut merchants = Vec::with_capacity(RACERS_COUNT);
        for _ in 0..RACERS_COUNT {
            merchants.push(f.merchant().await);
        }
        let card = f.issue(&alice, one_use()).await;
        let start = Arc::new(tokio::sync::Barrier::new(RACERS_COUNT));
        let racers: Vec<_> = merchants
            .iter()
            .map(|merchant| {
                let (store, start) = (Arc::clone(&f.store), Arc::clone(&start));
                let command = request(merchant.id, authorize_command(&card, 1_234), NOW);
                tokio::spawn(async move {
                    start.wait().await;
                    store.execute(command).await
                })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(RACERS_COUNT);
        for racer in racers {
            outcomes.push(racer.await.unwrap().unwrap().outcome);
        }
        let approved = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Authorized { .. }))
            .count();
        let used = outcomes
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Outcome::Declined {
                        decline: Decline::AlreadyUsed,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(
            (approved, used),
            (1, RACERS_COUNT - 1),
            "{}: {outcomes:?}",
            f.name
        );
        assert_eq!(f.account(&alice).await.held, 1_234);
        let number = f.number(&card).await;
        assert_eq!(
            (number.state, number.uses_count),
            (NumberState::Consumed, 1)
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_racing_idempotent_request_has_one_effect() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let shop = f.merchant().await;
        let card = f
            .issue(
                &alice,
                policy(RACERS_COUNT as u32, AmountRule::Any, MerchantLock::Any),
            )
            .await;
        let racers: Vec<_> = (0..RACERS_COUNT)
            .map(|_| {
                let store = Arc::clone(&f.store);
                let command = keyed(shop.id, "once", 7, authorize_command(&card, 500), NOW);
                tokio::spawn(async move { store.execute(command).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(RACERS_COUNT);
        for racer in racers {
            answers.push(racer.await.unwrap().unwrap());
        }
        assert_eq!(
            answers.iter().filter(|a| !a.replayed).count(),
            1,
            "{}: one request ran",
            f.name
        );
        assert!(
            answers.iter().all(|a| a.outcome == answers[0].outcome),
            "all got the same answer"
        );
        authorized(answers[0].outcome.clone());
        assert_eq!(f.account(&alice).await.held, 500);
        assert_eq!(f.number(&card).await.uses_count, 1);
        f.assert_sound().await;
    })
    .await;
}

/// Many authorizations on different numbers at once (a backend may run them together, as
/// PostgreSQL's waves do): each gets exactly the answer it would get alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_authorizations_at_once_each_get_their_own_answer() {
    const CLIENTS_COUNT: usize = 24;
    each_backend(async |f: &Fixture| {
        let mut parties = Vec::with_capacity(CLIENTS_COUNT);
        for _ in 0..CLIENTS_COUNT {
            let client = f.client(10_000, 0).await;
            let shop = f.merchant().await;
            let card = f
                .issue(&client, policy(3, AmountRule::Any, MerchantLock::Any))
                .await;
            parties.push((client, shop, card));
        }
        let mut racers = Vec::new();
        for (index, (_, shop, card)) in parties.iter().enumerate() {
            let requests = match index % 4 {
                0 => vec![request(shop.id, authorize_command(card, 1_000), NOW)],
                1 => vec![request(shop.id, authorize_command(card, 50_000), NOW)],
                2 => vec![request(
                    shop.id,
                    authorize_command_with(card, 1_000, bytes32(DETAILS_TAG, 999_999), HOLD_TTL_S),
                    NOW,
                )],
                _ => (0..2)
                    .map(|_| keyed(shop.id, "twice", 1, authorize_command(card, 1_000), NOW))
                    .collect(),
            };
            for command in requests {
                let store = Arc::clone(&f.store);
                racers.push((
                    index,
                    tokio::spawn(async move { store.execute(command).await }),
                ));
            }
        }
        let mut answers: Vec<Vec<Executed>> = vec![Vec::new(); CLIENTS_COUNT];
        for (index, racer) in racers {
            answers[index].push(racer.await.unwrap().unwrap());
        }
        for (index, (client, _, card)) in parties.iter().enumerate() {
            let answers = &answers[index];
            let account = f.account(client).await;
            let number = f.number(card).await;
            match index % 4 {
                0 => {
                    authorized(answers[0].outcome.clone());
                    assert_eq!((account.held, number.uses_count), (1_000, 1), "{}", f.name);
                }
                1 => {
                    assert_eq!(
                        declined(answers[0].outcome.clone()),
                        Decline::InsufficientFunds
                    );
                    assert_eq!((account.held, number.uses_count), (0, 0), "{}", f.name);
                }
                2 => {
                    assert_eq!(
                        declined(answers[0].outcome.clone()),
                        Decline::WrongCardDetails
                    );
                    assert_eq!((account.held, number.uses_count), (0, 0), "{}", f.name);
                }
                _ => {
                    assert_eq!(
                        answers.iter().filter(|a| !a.replayed).count(),
                        1,
                        "{}",
                        f.name
                    );
                    assert_eq!(answers[0].outcome, answers[1].outcome, "{}", f.name);
                    authorized(answers[0].outcome.clone());
                    assert_eq!((account.held, number.uses_count), (1_000, 1), "{}", f.name);
                }
            }
        }
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_captures_voids_and_refunds_move_money_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let authorization = authorized(f.authorize(shop.id, &card, 1_000, NOW).await);
        let id = authorization.id;
        let race = async |command: &dyn Fn(usize) -> MerchantCommand| {
            let racers: Vec<_> = (0..RACERS_COUNT)
                .map(|index| {
                    let store = Arc::clone(&f.store);
                    let command = request(shop.id, command(index), NOW + 1);
                    tokio::spawn(async move { store.execute(command).await.unwrap().outcome })
                })
                .collect();
            let mut outcomes = Vec::with_capacity(RACERS_COUNT);
            for racer in racers {
                outcomes.push(racer.await.unwrap());
            }
            outcomes
        };
        let settled = race(&|index| {
            if index % 2 == 0 {
                MerchantCommand::Capture {
                    authorization_id: id,
                    amount: None,
                }
            } else {
                MerchantCommand::Void {
                    authorization_id: id,
                }
            }
        })
        .await;
        let done = settled
            .iter()
            .filter(|o| matches!(o, Outcome::Captured { .. } | Outcome::Voided { .. }))
            .count();
        assert_eq!(
            done, 1,
            "{}: exactly one capture or void: {settled:?}",
            f.name
        );
        f.assert_sound().await;
        if settled
            .iter()
            .any(|o| matches!(o, Outcome::Captured { .. }))
        {
            let refunds = race(&|_| MerchantCommand::Refund {
                authorization_id: id,
                amount: Some(eur(100)),
            })
            .await;
            let refunded = refunds
                .iter()
                .filter(|o| matches!(o, Outcome::Refunded { .. }))
                .count();
            assert_eq!(refunded, 10, "{}: ten refunds of 100 fit in 1000", f.name);
            assert_eq!(f.account(&alice).await.balance, 100_000);
        } else {
            let account = f.account(&alice).await;
            assert_eq!(
                (account.balance, account.held),
                (100_000, 0),
                "voided: nothing moved"
            );
        }
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 9. SQLite only: durability and the schema version
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_everything_survives_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("sceau.db");
    let f = Fixture::new(Backend {
        name: "sqlite",
        store: Arc::new(SqliteStore::open(&path).unwrap()),
        guard: Box::new(()),
    });
    let alice = f.client(10_000, 1_000).await;
    let shop = f.merchant().await;
    let card = f
        .issue(
            &alice,
            policy(2, AmountRule::Cap(5_000), MerchantLock::FirstMerchant),
        )
        .await;
    let captured = authorized(f.authorize(shop.id, &card, 3_000, NOW).await);
    let capture = MerchantCommand::Capture {
        authorization_id: captured.id,
        amount: Some(eur(2_000)),
    };
    assert!(matches!(
        f.run(shop.id, capture, NOW + 1).await,
        Outcome::Captured { .. }
    ));
    let refund = MerchantCommand::Refund {
        authorization_id: captured.id,
        amount: Some(eur(500)),
    };
    assert!(matches!(
        f.run(shop.id, refund, NOW + 2).await,
        Outcome::Refunded { .. }
    ));
    let pending = authorized(
        f.store
            .execute(keyed(
                shop.id,
                "k",
                1,
                authorize_command(&card, 1_500),
                NOW + 3,
            ))
            .await
            .unwrap()
            .outcome,
    );
    let token = bytes32(TOKEN_TAG, 1);
    f.store
        .create_session(NewSession {
            token_hash: token,
            client_id: alice.id,
            now_s: NOW,
            expires_at_s: NOW + 100,
        })
        .await
        .unwrap();

    let account = f.account(&alice).await;
    assert_eq!((account.balance, account.held), (8_500, 1_500));
    let number = f.number(&card).await;
    let views = (f.reread(&captured).await, f.reread(&pending).await);
    let messages = f.store.pending_messages(LIST_LIMIT).await.unwrap();
    drop(f); // Closes the writer's queue: the writer thread ends.

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let reopened = Fixture::new(Backend {
        name: "sqlite reopened",
        store,
        guard: Box::new(directory),
    });
    assert_eq!(reopened.account(&alice).await, account);
    assert_eq!(reopened.number(&card).await, number);
    assert_eq!(
        (
            reopened.reread(&views.0).await,
            reopened.reread(&views.1).await
        ),
        views
    );
    assert_eq!(
        reopened.store.pending_messages(LIST_LIMIT).await.unwrap(),
        messages
    );
    assert_eq!(
        reopened
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(alice.id)
    );
    assert_eq!(
        reopened.store.merchant(shop.id).await.unwrap(),
        Some(shop.clone())
    );
    assert_eq!(
        reopened
            .store
            .session_client(token, NOW + 1)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(alice.id)
    );
    let replayed = reopened
        .store
        .execute(keyed(
            shop.id,
            "k",
            1,
            authorize_command(&card, 1_500),
            NOW + 4,
        ))
        .await
        .unwrap();
    assert!(replayed.replayed, "idempotency keys survive too");
    reopened.assert_sound().await;
}

#[tokio::test]
async fn sqlite_refuses_a_database_from_a_newer_binary() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("sceau.db");
    drop(SqliteStore::open(&path).unwrap());
    let newer = sceau_store::sqlite::schema::SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (newer, newer - 1))
        }
        Err(other) => panic!("expected SchemaTooNew, got {other:?}"),
        Ok(_) => panic!("expected SchemaTooNew, the store opened"),
    }
}

// ---------------------------------------------------------------------------------------
// 10. The ledger under random sequences of operations
// ---------------------------------------------------------------------------------------

const CLIENTS: [(&str, i64, i64); 3] =
    [("EUR", 10_000, 0), ("EUR", 3_000, 2_000), ("USD", 5_000, 0)];
const MERCHANTS_COUNT: usize = 3;

#[derive(Debug, Clone, Copy)]
enum AmountChoice {
    Any,
    Cap(i64),
    Exact(i64),
}

#[derive(Debug, Clone, Copy)]
enum LockChoice {
    Any,
    Named(usize),
    First,
}

/// How much of what is there: all of it (`None`), a part (per mille), or one more.
#[derive(Debug, Clone, Copy)]
enum Portion {
    All,
    PerMille(i64),
    TooMuch,
}

#[derive(Debug, Clone)]
enum Op {
    Issue {
        client: usize,
        uses_max: u32,
        amount: AmountChoice,
        lock: LockChoice,
        validity_s: i64,
    },
    /// `amount: None` pays what the number's policy names (or 500).
    Authorize {
        number: Pick,
        merchant: usize,
        amount: Option<i64>,
        wrong_details: bool,
        wrong_currency: bool,
        hold_ttl_s: i64,
    },
    Capture {
        authorization: Pick,
        portion: Portion,
        by_other: bool,
    },
    Void {
        authorization: Pick,
    },
    Refund {
        authorization: Pick,
        portion: Portion,
    },
    Expire {
        advance_s: i64,
    },
}

/// Which of the numbers or authorizations so far: mostly one of the latest, so that
/// sequences act on what is still live; sometimes any.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Recent(Index),
    Any(Index),
}

impl Pick {
    const RECENT_COUNT: usize = 3;

    /// An index below `len`, which must not be zero.
    fn of(self, len: usize) -> usize {
        match self {
            Pick::Recent(index) => len - 1 - index.index(len.min(Pick::RECENT_COUNT)),
            Pick::Any(index) => index.index(len),
        }
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![3 => any::<Index>().prop_map(Pick::Recent), 2 => any::<Index>().prop_map(Pick::Any)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![
        Just(AmountChoice::Any),
        (1..5_000_i64).prop_map(AmountChoice::Cap),
        (1..3_000_i64).prop_map(AmountChoice::Exact),
    ];
    let lock = prop_oneof![
        Just(LockChoice::Any),
        (0..MERCHANTS_COUNT).prop_map(LockChoice::Named),
        Just(LockChoice::First)
    ];
    let validity_s = prop_oneof![300..=VALIDITY_S, 3_600..=86_400_i64];
    let issue = (0..CLIENTS.len(), 1..=3_u32, amount, lock, validity_s).prop_map(
        |(client, uses_max, amount, lock, validity_s)| Op::Issue {
            client,
            uses_max,
            amount,
            lock,
            validity_s,
        },
    );
    let authorize = (
        pick(),
        0..MERCHANTS_COUNT,
        prop::option::weighted(0.5, 1..6_000_i64),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
        30..=3_000_i64,
    )
        .prop_map(
            |(number, merchant, amount, wrong_details, wrong_currency, hold_ttl_s)| Op::Authorize {
                number,
                merchant,
                amount,
                wrong_details,
                wrong_currency,
                hold_ttl_s,
            },
        );
    let portion = || {
        prop_oneof![
            Just(Portion::All),
            (1..=1_000_i64).prop_map(Portion::PerMille),
            Just(Portion::TooMuch)
        ]
    };
    let capture = (pick(), portion(), prop::bool::weighted(0.1)).prop_map(
        |(authorization, portion, by_other)| Op::Capture {
            authorization,
            portion,
            by_other,
        },
    );
    let void = pick().prop_map(|authorization| Op::Void { authorization });
    let refund = (pick(), portion()).prop_map(|(authorization, portion)| Op::Refund {
        authorization,
        portion,
    });
    let expire = (0..=900_i64).prop_map(|advance_s| Op::Expire { advance_s });
    prop_oneof![3 => issue, 6 => authorize, 4 => capture, 1 => void, 3 => refund, 1 => expire]
}

/// What the test knows independently of the store.
struct World {
    now_s: i64,
    clients: Vec<(ClientRecord, i64)>,
    merchants: Vec<MerchantRecord>,
    cards: Vec<Card>,
    /// (merchant, authorization) of every approval.
    authorizations: Vec<(i64, i64)>,
    /// Per number: approvals and their sum.
    usage: HashMap<i64, (u32, i64)>,
}

impl Portion {
    fn of(self, whole: i64) -> Option<i64> {
        match self {
            Portion::All => None,
            Portion::PerMille(per_mille) => Some((whole * per_mille / 1_000).max(1)),
            Portion::TooMuch => Some(whole + 1),
        }
    }
}

async fn apply(f: &Fixture, world: &mut World, op: &Op) {
    let now_s = world.now_s;
    match op {
        Op::Issue {
            client,
            uses_max,
            amount,
            lock,
            validity_s,
        } => {
            let amount = match amount {
                AmountChoice::Any => AmountRule::Any,
                AmountChoice::Cap(cap) => AmountRule::Cap(*cap),
                AmountChoice::Exact(exact) => AmountRule::Exact(*exact),
            };
            let merchant = match lock {
                LockChoice::Any => MerchantLock::Any,
                LockChoice::Named(index) => MerchantLock::Named(world.merchants[*index].id),
                LockChoice::First => MerchantLock::FirstMerchant,
            };
            let policy = UsagePolicy {
                uses_max: *uses_max,
                amount,
                merchant,
                valid_until_s: now_s + validity_s,
            };
            let card = f.issue_at(&world.clients[*client].0, policy, now_s).await;
            world.cards.push(card);
        }
        Op::Authorize {
            number,
            merchant,
            amount,
            wrong_details,
            wrong_currency,
            hold_ttl_s,
        } => {
            if world.cards.is_empty() {
                return;
            }
            let card = &world.cards[number.of(world.cards.len())];
            let amount = amount.unwrap_or(match card.view.policy.amount {
                AmountRule::Any => 500,
                AmountRule::Cap(limit) | AmountRule::Exact(limit) => limit,
            });
            let other_currency = if card.currency == currency("EUR") {
                currency("USD")
            } else {
                currency("EUR")
            };
            let command = MerchantCommand::Authorize {
                number_fingerprint: card.number,
                details_fingerprint: if *wrong_details {
                    bytes32(DETAILS_TAG, u64::MAX)
                } else {
                    card.details
                },
                amount,
                currency: if *wrong_currency {
                    other_currency
                } else {
                    card.currency
                },
                merchant_reference: "order".into(),
                hold_ttl_s: *hold_ttl_s,
            };
            let merchant_id = world.merchants[*merchant].id;
            match f.run(merchant_id, command, now_s).await {
                Outcome::Authorized { authorization } => {
                    assert!(
                        !wrong_details && !wrong_currency,
                        "approved a bad attempt: {op:?}"
                    );
                    assert_eq!(
                        (authorization.number_id, authorization.amount),
                        (card.view.id, amount)
                    );
                    world.authorizations.push((merchant_id, authorization.id));
                    let usage = world.usage.entry(card.view.id).or_default();
                    *usage = (usage.0 + 1, usage.1 + amount);
                }
                Outcome::Declined { decline, .. } => {
                    if *wrong_details {
                        assert!(
                            matches!(decline, Decline::WrongCardDetails | Decline::Blocked),
                            "{decline:?}"
                        );
                    }
                }
                other => panic!("authorize answered {other:?}"),
            }
        }
        Op::Capture {
            authorization,
            portion,
            by_other,
        } => {
            let Some(view) = pick_authorization(f, world, authorization).await else {
                return;
            };
            let merchant_id = if *by_other {
                other_merchant(world, view.merchant_id)
            } else {
                view.merchant_id
            };
            let command = MerchantCommand::Capture {
                authorization_id: view.id,
                amount: portion.of(view.amount).map(eur),
            };
            match f.run(merchant_id, command, now_s).await {
                Outcome::Captured { authorization } => {
                    assert!(!by_other && !matches!(portion, Portion::TooMuch), "{op:?}");
                    assert_eq!(view.state, AuthorizationState::Authorized);
                    assert_eq!(
                        authorization.captured,
                        portion.of(view.amount).unwrap_or(view.amount)
                    );
                }
                Outcome::Rejected { .. } => {}
                other => panic!("capture answered {other:?}"),
            }
        }
        Op::Void { authorization } => {
            let Some(view) = pick_authorization(f, world, authorization).await else {
                return;
            };
            match f
                .run(
                    view.merchant_id,
                    MerchantCommand::Void {
                        authorization_id: view.id,
                    },
                    now_s,
                )
                .await
            {
                Outcome::Voided { .. } => assert_eq!(view.state, AuthorizationState::Authorized),
                Outcome::Rejected { .. } => {}
                other => panic!("void answered {other:?}"),
            }
        }
        Op::Refund {
            authorization,
            portion,
        } => {
            let Some(view) = pick_authorization(f, world, authorization).await else {
                return;
            };
            let refundable = view.captured - view.refunded;
            let command = MerchantCommand::Refund {
                authorization_id: view.id,
                amount: portion.of(refundable).map(eur),
            };
            match f.run(view.merchant_id, command, now_s).await {
                Outcome::Refunded { amount, .. } => {
                    assert!(!matches!(portion, Portion::TooMuch), "{op:?}");
                    assert!(
                        amount > 0 && amount <= refundable,
                        "refunded {amount} of {refundable}"
                    );
                }
                Outcome::Rejected { .. } => {}
                other => panic!("refund answered {other:?}"),
            }
        }
        Op::Expire { advance_s } => {
            world.now_s += advance_s;
            f.store.expire(world.now_s).await.unwrap();
        }
    }
}

async fn pick_authorization(f: &Fixture, world: &World, index: &Pick) -> Option<AuthorizationView> {
    if world.authorizations.is_empty() {
        return None;
    }
    let (merchant_id, id) = world.authorizations[index.of(world.authorizations.len())];
    Some(
        f.store
            .authorization(merchant_id, id)
            .await
            .unwrap()
            .expect("an approved authorization exists"),
    )
}

fn other_merchant(world: &World, merchant_id: i64) -> i64 {
    world
        .merchants
        .iter()
        .map(|m| m.id)
        .find(|id| *id != merchant_id)
        .expect("several merchants")
}

/// The invariants, after every step: the ledger's own report, and what the test can
/// check independently through the trait.
async fn check_invariants(f: &Fixture, world: &World, context: &str) {
    let report = f.store.check_ledger().await.unwrap();
    assert!(report.is_sound(), "{context}: {report:?}");

    for (client, _) in &world.clients {
        for number in f.store.client_numbers(client.id, LIST_LIMIT).await.unwrap() {
            let label = format!("{context}: number {}", number.id);
            assert!(
                number.uses_count <= number.policy.uses_max,
                "{label}: {number:?}"
            );
            match number.policy.amount {
                AmountRule::Any => {}
                AmountRule::Cap(cap) => assert!(number.amount_used <= cap, "{label}: {number:?}"),
                AmountRule::Exact(exact) => assert_eq!(
                    number.amount_used,
                    exact * i64::from(number.uses_count),
                    "{label}"
                ),
            }
            let expected = world.usage.get(&number.id).copied().unwrap_or_default();
            assert_eq!(
                (number.uses_count, number.amount_used),
                expected,
                "{label}: usage differs from approvals"
            );
            if number.uses_count == number.policy.uses_max {
                assert_ne!(number.state, NumberState::Live, "{label}: used up but live");
            }
        }
    }

    let mut held: HashMap<i64, i64> = HashMap::new();
    let mut moved: HashMap<i64, i64> = HashMap::new();
    for (merchant_id, id) in &world.authorizations {
        let view = f
            .store
            .authorization(*merchant_id, *id)
            .await
            .unwrap()
            .expect("authorization exists");
        assert!(
            view.captured <= view.amount && view.refunded <= view.captured,
            "{context}: {view:?}"
        );
        assert_eq!(
            view.state == AuthorizationState::Captured,
            view.captured > 0,
            "{context}: {view:?}"
        );
        if view.state == AuthorizationState::Authorized {
            *held.entry(view.client_id).or_default() += view.amount;
        }
        *moved.entry(view.client_id).or_default() += view.refunded - view.captured;
    }
    for (client, opening) in &world.clients {
        let account = f.account(client).await;
        assert_eq!(
            account.held,
            held.get(&client.id).copied().unwrap_or(0),
            "{context}: held of {}",
            client.id
        );
        assert_eq!(
            account.balance,
            opening + moved.get(&client.id).copied().unwrap_or(0),
            "{context}: balance of {}",
            client.id
        );
        assert!(
            account.balance - account.held >= -account.credit_limit,
            "{context}: below the floor: {account:?}"
        );
    }
}

async fn run_sequence(ops: &[Op]) {
    for backend in backends().await {
        let f = Fixture::new(backend);
        let mut world = World {
            now_s: NOW,
            clients: Vec::new(),
            merchants: Vec::new(),
            cards: Vec::new(),
            authorizations: Vec::new(),
            usage: HashMap::new(),
        };
        for (code, opening, credit) in CLIENTS {
            world
                .clients
                .push((f.client_in(code, opening, credit).await, opening));
        }
        for _ in 0..MERCHANTS_COUNT {
            world.merchants.push(f.merchant().await);
        }
        // One number per client to start with, so that the first steps have work.
        for (client, _) in &world.clients {
            let policy = UsagePolicy {
                valid_until_s: NOW + 86_400,
                ..policy(3, AmountRule::Any, MerchantLock::Any)
            };
            world.cards.push(f.issue(client, policy).await);
        }
        for (index, op) in ops.iter().enumerate() {
            apply(&f, &mut world, op).await;
            check_invariants(&f, &world, &format!("{}: step {index} {op:?}", f.name)).await;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_stays_sound_under_any_sequence(ops in prop::collection::vec(op_strategy(), 5..=40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run_sequence(&ops));
    }
}

/// Commands sent together share a batch; one that fails (here: a login already taken,
/// after it has written its account) must leave its batch-mates applied and itself
/// wholly undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_does_not_fail_its_batch() {
    each_backend(async |f: &Fixture| {
        let taken = f.client(1_000, 0).await;
        let mut tasks = Vec::new();
        for round in 0..32_u64 {
            let store = Arc::clone(&f.store);
            let n = f.next();
            let mut client = new_client(n, "EUR", 500, 0);
            if round % 4 == 0 {
                client.login = taken.login.clone();
            }
            tasks.push(tokio::spawn(
                async move { store.enroll_client(client).await },
            ));
        }
        let mut enrolled = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => enrolled += 1,
                Err(StoreError::Conflict("login_taken")) => refused += 1,
                Err(other) => panic!("{}: unexpected {other:?}", f.name),
            }
        }
        assert_eq!((enrolled, refused), (24, 8), "{}", f.name);
        let clients = f.store.clients(1_000).await.unwrap();
        assert_eq!(
            clients.len(),
            25,
            "{}: the refused enrolments left nothing",
            f.name
        );
        let report = f.store.check_ledger().await.unwrap();
        assert!(report.is_sound(), "{}: {report:?}", f.name);
        let funding_total: i64 = report.currency_sums.iter().map(|(_, sum)| sum).sum();
        assert_eq!(funding_total, 0);
    })
    .await;
}

/// SPEC: at most 5 consecutive failures per client, then a temporary pause. The count is
/// across the client's numbers, a success resets it, and the pause ends by itself.
#[tokio::test]
async fn consecutive_failures_pause_the_client_for_a_while() {
    use sceau_domain::limits::{CLIENT_FAILURES_MAX, CLIENT_PAUSE_S};
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let uses_ten = UsagePolicy {
            valid_until_s: NOW + 10 * CLIENT_PAUSE_S,
            ..policy(10, AmountRule::Any, MerchantLock::Any)
        };
        let first = f.issue(&alice, uses_ten).await;
        let second = f.issue(&alice, uses_ten).await;
        let third = f.issue(&alice, uses_ten).await;
        let fourth = f.issue(&alice, uses_ten).await;
        let wrong = |card: &Card| authorize_command_with(card, 100, [0xEE; 32], HOLD_TTL_S);
        let decline_of = |outcome: Outcome| match outcome {
            Outcome::Declined { decline, paused } => (decline, paused),
            other => panic!("{}: expected a decline, got {other:?}", f.name),
        };

        // Two failures, a success: the count starts again.
        for card in [&first, &second] {
            assert_eq!(
                decline_of(f.run(shop.id, wrong(card), NOW).await),
                (Decline::WrongCardDetails, None)
            );
        }
        assert!(matches!(
            f.authorize(shop.id, &first, 100, NOW).await,
            Outcome::Authorized { .. }
        ));

        // Then five in a row, spread over three numbers (two tries each at most, so none
        // reaches its own limit of three): the fifth pauses the client.
        let cards = [&third, &third, &fourth, &fourth, &first];
        for (index, card) in cards.iter().enumerate() {
            let (decline, paused) = decline_of(f.run(shop.id, wrong(card), NOW + 1).await);
            assert_eq!(decline, Decline::WrongCardDetails);
            if index + 1 < CLIENT_FAILURES_MAX as usize {
                assert_eq!(paused, None, "{}: failure {}", f.name, index + 1);
            } else {
                assert_eq!(
                    paused,
                    Some(Paused {
                        client_id: alice.id,
                        until_s: NOW + 1 + CLIENT_PAUSE_S
                    })
                );
            }
        }
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert!(
            record.stopped(NOW + 1) && !record.blocked,
            "{}: paused, not blocked",
            f.name
        );
        assert_eq!(
            decline_of(f.authorize(shop.id, &second, 100, NOW + 2).await).0,
            Decline::Blocked
        );
        // The pause ends by itself.
        let after = NOW + 1 + CLIENT_PAUSE_S;
        let outcome = f.authorize(shop.id, &second, 100, after).await;
        assert!(
            matches!(outcome.clone(), Outcome::Authorized { .. }),
            "{outcome:?}"
        );
        assert!(f.store.check_ledger().await.unwrap().is_sound());
    })
    .await;
}

/// A partial capture or refund in another currency than the authorization is refused by
/// the store itself, and moves nothing.
#[tokio::test]
async fn partial_amounts_must_be_in_the_authorizations_currency() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        let card = f.issue(&alice, one_use()).await;
        let Outcome::Authorized { authorization } = f.authorize(shop.id, &card, 1_000, NOW).await
        else {
            panic!("{}: not authorized", f.name);
        };
        let usd = Money::new(500, currency("USD"));
        let commands = [
            MerchantCommand::Capture {
                authorization_id: authorization.id,
                amount: Some(usd),
            },
            MerchantCommand::Refund {
                authorization_id: authorization.id,
                amount: Some(usd),
            },
        ];
        for command in commands {
            assert_eq!(
                f.run(shop.id, command, NOW).await,
                Outcome::Rejected {
                    rejection: Rejection::CurrencyMismatch
                },
                "{}",
                f.name
            );
        }
        let account = f.account(&alice).await;
        assert_eq!(
            (account.balance, account.held),
            (10_000, 1_000),
            "{}",
            f.name
        );
    })
    .await;
}

/// A merchant's idempotency key on a checkout number: a retry gets the first number's
/// view and sends nothing; another request under the same key is refused.
#[tokio::test]
async fn checkout_numbers_are_idempotent() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant().await;
        f.pays(&shop, &alice, NOW - 2 * 3600).await;
        let key = |hash_tag: u8| IdempotencyKey {
            key: "checkout-77".into(),
            request_hash: [hash_tag; 32],
        };
        let issue = async |hash_tag: u8| {
            let n = f.next();
            let policy = UsagePolicy {
                merchant: MerchantLock::Named(shop.id),
                ..one_use()
            };
            let number = NewNumber {
                origin: Origin::Merchant,
                idempotency: Some((shop.id, key(hash_tag))),
                ..new_number(&alice, policy, bytes32(NUMBER_TAG, n), n, NOW)
            };
            f.store.issue_number(number).await
        };
        let IssueOutcome::Issued(first) = issue(1).await.unwrap() else {
            panic!("{}: not issued", f.name);
        };
        let pending = f.pending_count().await;
        let IssueOutcome::Replayed(again) = issue(1).await.unwrap() else {
            panic!("{}: not replayed", f.name);
        };
        assert_eq!(again, first, "{}", f.name);
        assert_eq!(
            f.pending_count().await,
            pending,
            "{}: a replay sends nothing",
            f.name
        );
        assert!(
            matches!(issue(2).await, Err(StoreError::IdempotencyMismatch)),
            "{}",
            f.name
        );
        assert_eq!(
            f.store
                .client_numbers(alice.id, LIST_LIMIT)
                .await
                .unwrap()
                .len(),
            2,
            "the number she paid with, and the checkout number"
        );
    })
    .await;
}

/// Ten wrong passwords in a row pause sign-in for a while; a success resets the count;
/// during the pause even the right password is refused, and not counted.
#[tokio::test]
async fn wrong_passwords_lock_sign_in_for_a_while() {
    use sceau_domain::limits::{SIGN_IN_FAILURES_MAX, SIGN_IN_LOCK_S};
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let attempt = async |right: bool, now_s: i64| {
            f.store
                .record_sign_in(SignInAttempt {
                    client_id: alice.id,
                    password_right: right,
                    unlock: None,
                    now_s,
                })
                .await
                .unwrap()
                .expect("a known client")
        };
        for _ in 1..SIGN_IN_FAILURES_MAX {
            assert!(matches!(attempt(false, NOW).await, SignInVerdict::Wrong(f) if f.locked_until_s.is_none()));
        }
        assert_eq!(attempt(true, NOW).await, SignInVerdict::Accepted);
        for number in 1..=SIGN_IN_FAILURES_MAX {
            let SignInVerdict::Wrong(failure) = attempt(false, NOW + 1).await else {
                panic!("{}: attempt {number} is a wrong password", f.name);
            };
            let expected = (number == SIGN_IN_FAILURES_MAX).then_some(NOW + 1 + SIGN_IN_LOCK_S);
            assert_eq!(failure.locked_until_s, expected, "{}: attempt {number}", f.name);
        }
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.sign_in_locked_until_s, NOW + 1 + SIGN_IN_LOCK_S, "{}", f.name);
        assert_eq!(attempt(true, NOW + 2).await, SignInVerdict::Paused, "{}", f.name);
        assert_eq!(attempt(false, NOW + 2).await, SignInVerdict::Paused, "{}", f.name);
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.sign_in_locked_until_s, NOW + 1 + SIGN_IN_LOCK_S, "not counted");
        assert_eq!(attempt(true, NOW + 1 + SIGN_IN_LOCK_S).await, SignInVerdict::Accepted);
        assert_eq!(
            f.store
                .record_sign_in(SignInAttempt {
                    client_id: i64::MAX,
                    password_right: false,
                    unlock: None,
                    now_s: NOW,
                })
                .await
                .unwrap(),
            None,
            "unknown client"
        );
    })
    .await;
}

/// Attempts sent at once are judged one after the other: once ten wrong ones paused the
/// account, the right password sent with them is refused.
#[tokio::test]
async fn sign_in_attempts_at_once_meet_the_pause_they_start() {
    use sceau_domain::limits::SIGN_IN_FAILURES_MAX;
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let store = f.store.clone();
        let mut attempts = Vec::new();
        for index in 0..3 * SIGN_IN_FAILURES_MAX {
            let store = store.clone();
            let right = index == 2 * SIGN_IN_FAILURES_MAX;
            attempts.push(tokio::spawn(async move {
                store
                    .record_sign_in(SignInAttempt {
                        client_id: alice.id,
                        password_right: right,
                        unlock: None,
                        now_s: NOW,
                    })
                    .await
                    .unwrap()
                    .unwrap()
            }));
        }
        let mut verdicts = Vec::new();
        for attempt in attempts {
            verdicts.push(attempt.await.unwrap());
        }
        let wrong = verdicts
            .iter()
            .filter(|v| matches!(v, SignInVerdict::Wrong(_)))
            .count();
        let accepted = verdicts
            .iter()
            .filter(|v| **v == SignInVerdict::Accepted)
            .count();
        // However they were ordered: at most ten wrong ones were counted before a pause
        // or a success, and the right one signs in only if it came before the pause.
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        if accepted == 1 {
            assert!(
                wrong < 2 * SIGN_IN_FAILURES_MAX as usize,
                "{}: {verdicts:?}",
                f.name
            );
        } else {
            assert!(record.sign_in_paused(NOW), "{}: {verdicts:?}", f.name);
            assert_eq!(
                wrong, SIGN_IN_FAILURES_MAX as usize,
                "{}: {verdicts:?}",
                f.name
            );
        }
        assert_eq!(
            wrong
                + accepted
                + verdicts
                    .iter()
                    .filter(|v| **v == SignInVerdict::Paused)
                    .count(),
            verdicts.len()
        );
    })
    .await;
}

/// Pauses in a row grow; an unlock code is sent only to a paused account, on condition
/// that its unlock state is still the one read, with its message in the same
/// transaction; a success ends the pauses, the count and the code.
#[tokio::test]
async fn sign_in_pauses_grow_and_unlock_codes_are_sent_on_condition() {
    use sceau_domain::limits::{SIGN_IN_FAILURES_MAX, SIGN_IN_LOCK_S};
    use sceau_domain::sign_in::{UnlockSend, unlock_send};
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let pause = async |at_s: i64| {
            let mut until_s = None;
            for _ in 0..SIGN_IN_FAILURES_MAX {
                let verdict = f
                    .store
                    .record_sign_in(SignInAttempt {
                        client_id: alice.id,
                        password_right: false,
                        unlock: None,
                        now_s: at_s,
                    })
                    .await
                    .unwrap();
                if let Some(SignInVerdict::Wrong(failure)) = verdict {
                    until_s = until_s.or(failure.locked_until_s);
                }
            }
            until_s.expect("a pause")
        };
        assert_eq!(pause(NOW).await, NOW + SIGN_IN_LOCK_S, "{}", f.name);
        let later = NOW + SIGN_IN_LOCK_S;
        assert_eq!(pause(later).await, later + 2 * SIGN_IN_LOCK_S, "{}", f.name);
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert!(record.sign_in_paused(later));
        assert_eq!(record.unlock, UnlockState::default());
        let message = |text: &str| NewMessage {
            address: record.phone.as_str().to_owned(),
            sealed_body: text.as_bytes().to_vec(),
        };
        let UnlockSend::Send { after, .. } = unlock_send(record.unlock, alice.id, [9; 16], later)
        else {
            panic!("a first code is sent");
        };
        let send = |read: UnlockState, after: UnlockState, now_s: i64| UnlockCodeSend {
            client_id: alice.id,
            read,
            after,
            message: message("code"),
            now_s,
        };
        let messages = async || {
            f.store
                .messages_to(record.phone.as_str(), 100)
                .await
                .unwrap()
                .len()
        };
        let before = messages().await;
        assert_eq!(
            f.store
                .send_unlock_code(send(record.unlock, after, later))
                .await
                .unwrap(),
            UnlockOutcome::Sent,
            "{}",
            f.name
        );
        assert_eq!(
            messages().await,
            before + 1,
            "{}: the code's message",
            f.name
        );
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.unlock, after, "{}: stored as decided", f.name);
        // A decision on the state before that send is refused, and sends nothing.
        assert_eq!(
            f.store
                .send_unlock_code(send(UnlockState::default(), after, later))
                .await
                .unwrap(),
            UnlockOutcome::Changed,
            "{}",
            f.name
        );
        assert_eq!(messages().await, before + 1, "{}", f.name);
        // During the pause: only the right password with the stored code signs in.
        let typed = |password_right, unlock| SignInAttempt {
            client_id: alice.id,
            password_right,
            unlock,
            now_s: later + 1,
        };
        let stranger = after.code.map(|code| UnlockInput {
            nonce: [8; 16],
            ..code
        });
        for (attempt, expected) in [
            (typed(true, None), SignInVerdict::Paused),
            (typed(true, stranger), SignInVerdict::Paused),
            (typed(false, after.code), SignInVerdict::Paused),
            (typed(true, after.code), SignInVerdict::Accepted),
        ] {
            assert_eq!(
                f.store.record_sign_in(attempt).await.unwrap(),
                Some(expected),
                "{}: {attempt:?}",
                f.name
            );
        }
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert!(!record.sign_in_paused(later + 1), "{}: lifted", f.name);
        assert_eq!(
            record.unlock,
            UnlockState::default(),
            "{}: code and sends end",
            f.name
        );
        // Once the pause is over, nothing is sent.
        let over = later + 2 * SIGN_IN_LOCK_S;
        assert_eq!(
            f.store
                .send_unlock_code(send(after, after, over))
                .await
                .unwrap(),
            UnlockOutcome::NotPaused,
            "{}",
            f.name
        );
        // A success ends it all: the next pause is the first again.
        let success = SignInAttempt {
            client_id: alice.id,
            password_right: true,
            unlock: None,
            now_s: over,
        };
        assert_eq!(
            f.store.record_sign_in(success).await.unwrap(),
            Some(SignInVerdict::Accepted)
        );
        let record = f.store.client(alice.id).await.unwrap().unwrap();
        assert_eq!(record.unlock.code, None, "{}", f.name);
        assert_eq!(record.sign_in_locked_until_s, 0, "{}", f.name);
        assert_eq!(pause(over).await, over + SIGN_IN_LOCK_S, "{}", f.name);
        assert_eq!(
            f.store
                .send_unlock_code(UnlockCodeSend {
                    client_id: i64::MAX,
                    ..send(UnlockState::default(), after, over)
                })
                .await
                .unwrap(),
            UnlockOutcome::NotPaused,
            "unknown client"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Checkouts paid with a seal (Figures 1-3) and their webhooks
// ---------------------------------------------------------------------------------------

const CHECKOUT_S: i64 = 900;
const SEAL_S: i64 = 300;

fn new_checkout(merchant: &MerchantRecord, n: u64, amount: i64, key: Option<&str>) -> NewCheckout {
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
    async fn checkout(&self, merchant: &MerchantRecord, amount: i64) -> CheckoutView {
        let n = self.next();
        let (view, replayed) = self
            .store
            .create_checkout(new_checkout(merchant, n, amount, None))
            .await
            .expect("create a checkout");
        assert!(!replayed);
        view
    }

    async fn hold(
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

    async fn held(
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
    async fn send_seal(
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

    async fn sent(
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

    /// A new browser session of `client`, live for a long while: its token's hash.
    async fn session(&self, client: &ClientRecord) -> [u8; 32] {
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
    fn typed(
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
    async fn type_seal(
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

    async fn reread_checkout(&self, checkout: &CheckoutView) -> CheckoutView {
        self.store
            .checkout(&checkout.public_id)
            .await
            .expect("read a checkout")
            .expect("the checkout exists")
    }

    async fn merchant_balance(&self, merchant: &MerchantRecord, checkout: &CheckoutView) -> i64 {
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

    async fn webhooks(&self, now_s: i64) -> Vec<WebhookDelivery> {
        self.store
            .claim_webhooks(now_s, 60, 100)
            .await
            .expect("claim webhooks")
    }
}

fn refusal_of_seal(outcome: SealOutcome) -> CheckoutRefusal {
    match outcome {
        SealOutcome::Refused(refusal) => refusal,
        SealOutcome::Paid(..) => panic!("expected a refusal, the checkout was paid"),
        SealOutcome::Wrong { tries_left, .. } => {
            panic!("expected a refusal, got wrong ({tries_left} left)")
        }
        SealOutcome::Failed { .. } => panic!("expected a refusal, the checkout failed"),
        SealOutcome::Expired => panic!("expected a refusal, the seal expired"),
    }
}

#[tokio::test]
async fn checkout_creation_is_idempotent_and_readable_by_its_public_id() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let first = new_checkout(&shop, 1, 4_990, Some("cart-1"));
        let (created, replayed) = f.store.create_checkout(first).await.unwrap();
        assert!(!replayed);
        assert_eq!(created.state, CheckoutState::Open);
        assert_eq!((created.amount, created.currency.as_str()), (4_990, "EUR"));
        assert_eq!(created.merchant_name, shop.name);
        assert_eq!(
            (
                created.client_id,
                created.authorization_id,
                created.seal.clone()
            ),
            (None, None, None)
        );
        // The same key and request: the same checkout, not a second one.
        let again = new_checkout(&shop, 2, 4_990, Some("cart-1"));
        let (replay, replayed) = f.store.create_checkout(again).await.unwrap();
        assert!(replayed);
        assert_eq!(replay, created);
        // The same key with another request is refused.
        let mut other = new_checkout(&shop, 3, 5_000, Some("cart-1"));
        other.idempotency.as_mut().unwrap().request_hash = bytes32(REQUEST_TAG, 78);
        assert!(matches!(
            f.store.create_checkout(other).await,
            Err(StoreError::IdempotencyMismatch)
        ));
        assert_eq!(f.reread_checkout(&created).await, created);
        assert_eq!(f.store.checkout("co_nothing").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn checkout_hold_binds_the_client_and_holds_the_amount_once() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let bob = f.client(10_000, 0).await;
        let checkout = f.checkout(&shop, 4_990).await;
        let HoldOutcome::Held(held) = f.hold(&checkout, &alice, NOW + 1).await else {
            panic!("{}: not held", f.name);
        };
        assert_eq!(held.state, CheckoutState::Held);
        assert_eq!(held.client_id, Some(alice.id));
        assert!(held.authorization_id.is_some() && held.payee_account_id.is_some());
        assert!(
            held.number_last_four
                .as_ref()
                .is_some_and(|four| four.len() == 4)
        );
        assert_eq!(
            (
                f.account(&alice).await.balance,
                f.account(&alice).await.held
            ),
            (10_000, 4_990)
        );
        // Signing in again changes nothing; another client cannot take it over.
        assert!(matches!(
            f.hold(&checkout, &alice, NOW + 2).await,
            HoldOutcome::Held(_)
        ));
        assert_eq!(f.account(&alice).await.held, 4_990);
        assert!(matches!(
            f.hold(&checkout, &bob, NOW + 2).await,
            HoldOutcome::Refused(CheckoutRefusal::OtherClient)
        ));
        assert_eq!(f.account(&bob).await.held, 0);
        // Funds, currency, time.
        let poor = f.client(100, 0).await;
        let dear = f.checkout(&shop, 4_990).await;
        assert!(matches!(
            f.hold(&dear, &poor, NOW).await,
            HoldOutcome::Declined(Decline::InsufficientFunds)
        ));
        assert_eq!(f.reread_checkout(&dear).await.state, CheckoutState::Open);
        let dollars = f.client_in("USD", 10_000, 0).await;
        assert!(matches!(
            f.hold(&dear, &dollars, NOW).await,
            HoldOutcome::Declined(Decline::CurrencyMismatch)
        ));
        assert!(matches!(
            f.hold(&dear, &bob, NOW + CHECKOUT_S).await,
            HoldOutcome::Refused(CheckoutRefusal::Expired)
        ));
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn checkout_the_right_seal_pays_once_and_tells_the_merchant() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 4_990).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 5).await,
            SealOutcome::Refused(CheckoutRefusal::NoLiveSeal)
        ));
        let pending_before = f.pending_count().await;
        let sealed = f.sent(&held, &alice, 1, NOW + 10).await;
        assert_eq!(
            f.pending_count().await,
            pending_before + 1,
            "the SMS is queued with the seal"
        );
        assert_eq!(sealed.seal_sends, 1);
        let stored = sealed.seal.clone().unwrap();
        assert_eq!(
            (
                stored.nonce,
                stored.digits,
                stored.issued_at_s,
                stored.expires_at_s
            ),
            ([1; 16], 8, NOW + 10, NOW + 10 + SEAL_S)
        );
        // Another client cannot type it.
        let bob = f.client(10_000, 0).await;
        assert_eq!(
            refusal_of_seal(f.type_seal(&held, &bob, 1, true, NOW + 20).await),
            CheckoutRefusal::OtherClient
        );
        let SealOutcome::Paid(paid, _) = f.type_seal(&held, &alice, 1, true, NOW + 20).await else {
            panic!("{}: the right seal did not pay", f.name);
        };
        assert_eq!(paid.state, CheckoutState::Paid);
        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (10_000 - 4_990, 0));
        assert_eq!(f.merchant_balance(&shop, &paid).await, 4_990);
        let authorization = f
            .store
            .authorization(shop.id, paid.authorization_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (authorization.state, authorization.captured),
            (AuthorizationState::Captured, 4_990)
        );
        // A seal is accepted once.
        assert_eq!(
            refusal_of_seal(f.type_seal(&held, &alice, 1, true, NOW + 21).await),
            CheckoutRefusal::WrongState
        );
        assert!(matches!(
            f.send_seal(&held, &alice, 2, NOW + 100).await,
            SendOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        // The merchant's webhook, once.
        let hooks = f.webhooks(NOW + 21).await;
        assert_eq!(hooks.len(), 1, "{}", f.name);
        assert_eq!(
            (
                hooks[0].event.as_str(),
                hooks[0].merchant_id,
                hooks[0].url.as_str()
            ),
            ("checkout.paid", shop.id, "https://shop.example/hooks")
        );
        let event: CheckoutEvent = serde_json::from_str(&hooks[0].body).unwrap();
        assert_eq!(
            (
                event.checkout_id.as_str(),
                event.amount.as_str(),
                event.state
            ),
            (held.public_id.as_str(), "49.90", CheckoutState::Paid)
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn checkout_three_wrong_seals_fail_the_payment_and_release_the_hold() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 2_500).await;
        f.sent(&held, &alice, 1, NOW).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, false, NOW + 1).await,
            SealOutcome::Wrong {
                tries_left: 2,
                paused: None
            }
        ));
        // A new seal kills the old one but not the count of wrong tries of this payment:
        // the old seal, typed now, is a wrong one.
        f.sent(&held, &alice, 2, NOW + 60).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 61).await,
            SealOutcome::Wrong {
                tries_left: 1,
                paused: None
            }
        ));
        let SealOutcome::Failed { view, paused: None } =
            f.type_seal(&held, &alice, 2, false, NOW + 63).await
        else {
            panic!("{}: the third wrong seal did not fail the payment", f.name);
        };
        assert_eq!(
            (view.state, view.failure.as_deref(), view.seal_wrong_tries),
            (CheckoutState::Failed, Some("seal_tries_exhausted"), 3)
        );
        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (10_000, 0));
        // Dead: even the right seal does nothing now.
        assert_eq!(
            refusal_of_seal(f.type_seal(&held, &alice, 2, true, NOW + 64).await),
            CheckoutRefusal::WrongState
        );
        let hooks = f.webhooks(NOW + 64).await;
        assert_eq!(
            hooks
                .iter()
                .map(|hook| hook.event.as_str())
                .collect::<Vec<_>>(),
            ["checkout.failed"]
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn seals_are_resent_after_a_cooldown_a_bounded_number_of_times_and_expire() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        assert!(matches!(
            f.send_seal(&held, &alice, 2, NOW + 29).await,
            SendOutcome::Refused(CheckoutRefusal::SealCooldown { until_s }) if until_s == NOW + 30
        ));
        f.sent(&held, &alice, 2, NOW + 30).await;
        let third = f.sent(&held, &alice, 3, NOW + 60).await;
        assert_eq!(third.seal_sends, 3);
        assert!(matches!(
            f.send_seal(&held, &alice, 4, NOW + 200).await,
            SendOutcome::Refused(CheckoutRefusal::NoSealsLeft)
        ));
        // Typed after its time: refused without counting a try.
        assert!(matches!(
            f.type_seal(&held, &alice, 3, true, NOW + 60 + SEAL_S).await,
            SealOutcome::Expired
        ));
        assert_eq!(f.reread_checkout(&held).await.seal_wrong_tries, 0);
        assert_eq!(f.reread_checkout(&held).await.state, CheckoutState::Held);
    })
    .await;
}

#[tokio::test]
async fn five_wrong_seals_in_a_row_pause_the_client() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(100_000, 0).await;
        let mut pauses = Vec::new();
        for (checkout_index, wrongs) in [2, 2, 1].into_iter().enumerate() {
            let held = f.held(&shop, &alice, 1_000).await;
            let nonce = checkout_index as u8 + 1;
            f.sent(&held, &alice, nonce, NOW).await;
            for _ in 0..wrongs {
                match f.type_seal(&held, &alice, nonce, false, NOW + 1).await {
                    SealOutcome::Wrong { paused, .. } | SealOutcome::Failed { paused, .. } => {
                        pauses.push(paused)
                    }
                    _ => panic!("{}: expected a wrong seal", f.name),
                }
            }
        }
        assert_eq!(pauses.len(), 5);
        assert!(pauses[..4].iter().all(Option::is_none), "{pauses:?}");
        let paused = pauses[4].expect("the fifth failure pauses the client");
        assert_eq!(paused.client_id, alice.id);
        assert!(paused.until_s > NOW + 1);
        let held = f.held_or_declined(&shop, &alice).await;
        assert!(held.is_none(), "a paused client cannot start a payment");
    })
    .await;
}

impl Fixture {
    /// Holds a fresh checkout for `client`; `None` if it was declined as blocked.
    async fn held_or_declined(
        &self,
        merchant: &MerchantRecord,
        client: &ClientRecord,
    ) -> Option<CheckoutView> {
        let checkout = self.checkout(merchant, 1_000).await;
        match self.hold(&checkout, client, NOW + 2).await {
            HoldOutcome::Held(view) => Some(*view),
            HoldOutcome::Declined(Decline::Blocked) => None,
            HoldOutcome::Declined(other) => panic!("{}: declined {other:?}", self.name),
            HoldOutcome::Refused(refusal) => panic!("{}: refused {refusal:?}", self.name),
        }
    }
}

#[tokio::test]
async fn checkouts_past_their_time_expire_and_release_their_holds() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 3_000).await;
        let open = f.checkout(&shop, 1_000).await;
        let early = f.store.expire(NOW + CHECKOUT_S - 1).await.unwrap();
        assert_eq!(early.checkouts_expired, 0);
        let swept = f.store.expire(NOW + CHECKOUT_S).await.unwrap();
        assert_eq!((swept.checkouts_expired, swept.holds_released), (2, 1));
        for checkout in [&held, &open] {
            let view = f.reread_checkout(checkout).await;
            assert_eq!(
                (view.state, view.failure.as_deref()),
                (CheckoutState::Expired, Some("checkout_expired"))
            );
        }
        assert_eq!(f.account(&alice).await.held, 0);
        assert!(matches!(
            f.send_seal(&held, &alice, 1, NOW + CHECKOUT_S + 1).await,
            SendOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        let hooks = f.webhooks(NOW + CHECKOUT_S).await;
        assert_eq!(
            hooks
                .iter()
                .filter(|hook| hook.event == "checkout.expired")
                .count(),
            2
        );
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn webhooks_are_claimed_once_retried_later_and_delivered_once() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 1).await,
            SealOutcome::Paid(..)
        ));
        let first = f.webhooks(NOW + 1).await;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attempts, 0);
        assert!(
            f.webhooks(NOW + 2).await.is_empty(),
            "claimed: nobody else takes it"
        );
        f.store
            .mark_webhook(
                first[0].id,
                WebhookResult::Retry {
                    next_attempt_s: NOW + 100,
                    error: "HTTP 500".into(),
                    now_s: NOW + 2,
                },
            )
            .await
            .unwrap();
        assert!(
            f.webhooks(NOW + 99).await.is_empty(),
            "not before its next attempt"
        );
        let again = f.webhooks(NOW + 100).await;
        assert_eq!(
            (again.len(), again[0].attempts, &again[0].body),
            (1, 1, &first[0].body)
        );
        f.store
            .mark_webhook(again[0].id, WebhookResult::Delivered { now_s: NOW + 101 })
            .await
            .unwrap();
        assert!(
            f.webhooks(NOW + 10_000).await.is_empty(),
            "delivered: never again"
        );
        // A claim lapses: a webhook claimed by a dispatcher that died goes out again.
        let other = f.held(&shop, &alice, 1_000).await;
        f.sent(&other, &alice, 2, NOW).await;
        assert!(matches!(
            f.type_seal(&other, &alice, 2, true, NOW + 1).await,
            SealOutcome::Paid(..)
        ));
        let claimed = f.webhooks(NOW + 200).await;
        assert_eq!(claimed.len(), 1);
        assert_eq!(f.webhooks(NOW + 200 + 60).await.len(), 1);
        f.store
            .mark_webhook(
                claimed[0].id,
                WebhookResult::GaveUp {
                    error: "HTTP 500".into(),
                    now_s: NOW + 300,
                },
            )
            .await
            .unwrap();
        assert!(
            f.webhooks(NOW + 10_000).await.is_empty(),
            "given up: never again"
        );
    })
    .await;
}

#[tokio::test]
async fn a_seal_counts_only_in_a_live_session_of_the_checkouts_client() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let (alice, bob) = (f.client(10_000, 0).await, f.client(10_000, 0).await);
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        let type_in = async |session: [u8; 32], now_s: i64| {
            f.store
                .type_seal(Fixture::typed(&held, session, 1, true, now_s))
                .await
                .expect("type a seal")
        };
        // Signed out, or never signed in: refused, and nothing counted.
        let signed_out = f.session(&alice).await;
        f.store.delete_session(signed_out).await.unwrap();
        assert_eq!(
            refusal_of_seal(type_in(signed_out, NOW + 1).await),
            CheckoutRefusal::SignedOut
        );
        assert_eq!(
            refusal_of_seal(type_in(bytes32(TOKEN_TAG, 999_999), NOW + 1).await),
            CheckoutRefusal::SignedOut
        );
        // Expired.
        let short = bytes32(TOKEN_TAG, 1_000 + f.next());
        f.store
            .create_session(NewSession {
                token_hash: short,
                client_id: alice.id,
                now_s: NOW,
                expires_at_s: NOW + 2,
            })
            .await
            .unwrap();
        assert_eq!(
            refusal_of_seal(type_in(short, NOW + 2).await),
            CheckoutRefusal::SignedOut
        );
        // Another client's live session: refused too.
        let bobs = f.session(&bob).await;
        assert_eq!(
            refusal_of_seal(type_in(bobs, NOW + 3).await),
            CheckoutRefusal::OtherClient
        );
        let unchanged = f.reread_checkout(&held).await;
        assert_eq!(
            (unchanged.state, unchanged.seal_wrong_tries),
            (CheckoutState::Held, 0),
            "{}",
            f.name
        );
        // The client's own session: paid.
        let alices = f.session(&alice).await;
        assert!(matches!(
            type_in(alices, NOW + 4).await,
            SealOutcome::Paid(..)
        ));
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn racing_right_seals_pay_once() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        let session = f.session(&alice).await;
        // Spawned all before the first is awaited, so that they race.
        let tries: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&f.store);
                let typed = Fixture::typed(&held, session, 1, true, NOW + 1);
                tokio::spawn(async move { store.type_seal(typed).await })
            })
            .collect();
        let mut paid = 0;
        for task in tries {
            match task.await.unwrap() {
                Ok(SealOutcome::Paid(..)) => paid += 1,
                Ok(SealOutcome::Refused(CheckoutRefusal::WrongState)) => {}
                Err(StoreError::Conflict(_)) => {}
                Ok(_) => panic!("{}: unexpected outcome", f.name),
                Err(error) => panic!("{}: {error}", f.name),
            }
        }
        assert_eq!(paid, 1, "{}", f.name);
        let account = f.account(&alice).await;
        assert_eq!((account.balance, account.held), (9_000, 0));
        assert_eq!(f.webhooks(NOW + 2).await.len(), 1);
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Clearing: payouts of settlement balances, in batches with their settlement file
// ---------------------------------------------------------------------------------------

use sceau_domain::bank::{Bic, Iban};
use sceau_domain::clearing::ClearingError;
use sceau_store::{
    BankDetails, ClearingBatch, ClearingDraft, ClearingOutcome, CloseClearing, Payout, PayoutLine,
    SettlementWriter, SkippedMerchant,
};

/// A German IBAN (bank code 37040044) for account `account`, check digits computed.
fn iban(account: u64) -> Iban {
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

fn bank(account: u64) -> BankDetails {
    let bic: Bic = "COBADEFFXXX".parse().expect("a valid BIC");
    BankDetails {
        iban: iban(account),
        bic,
    }
}

/// A settlement file that lists the draft, one line per payout, and keeps every draft it
/// was given.
fn listing_writer() -> (
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

fn close(code: &str, message_id: &str, writer: &SettlementWriter, now_s: i64) -> CloseClearing {
    CloseClearing {
        currency: currency(code),
        message_id: message_id.to_owned(),
        write_file: Arc::clone(writer),
        now_s,
    }
}

fn closed(outcome: ClearingOutcome) -> (ClearingBatch, Vec<Payout>, Vec<SkippedMerchant>) {
    match outcome {
        ClearingOutcome::Closed {
            batch,
            payouts,
            skipped,
        } => (batch, payouts, skipped),
        other => panic!("expected a closed batch, got {other:?}"),
    }
}

fn nothing_to_pay(outcome: ClearingOutcome) -> Vec<SkippedMerchant> {
    match outcome {
        ClearingOutcome::NothingToPay { skipped } => skipped,
        other => panic!("expected nothing to pay, got {other:?}"),
    }
}

impl Fixture {
    async fn merchant_paid_to(&self, bank: Option<BankDetails>) -> MerchantRecord {
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
    async fn pay(&self, client: &ClientRecord, merchant: &MerchantRecord, amount: i64) -> i64 {
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

    async fn balance(&self, account_id: i64) -> i64 {
        self.store
            .account(account_id)
            .await
            .expect("read an account")
            .expect("the account exists")
            .balance
    }

    async fn close_batch(&self, close: CloseClearing) -> ClearingOutcome {
        self.store
            .close_clearing_batch(close)
            .await
            .expect("close a clearing batch")
    }
}

#[tokio::test]
async fn merchants_carry_bank_details_from_enrolment_or_later() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        assert_eq!(shop.bank, Some(bank(1)));
        let key_hash = bytes32(KEY_TAG, f.counter.load(Ordering::Relaxed) - 1);
        assert_eq!(
            f.store.merchant_by_key_hash(key_hash).await.unwrap(),
            Some(shop.clone())
        );
        let bare = f.merchant_paid_to(None).await;
        assert_eq!(f.store.merchant(bare.id).await.unwrap().unwrap().bank, None);

        assert!(f.store.set_merchant_bank(bare.id, bank(2)).await.unwrap());
        assert!(f.store.set_merchant_bank(shop.id, bank(3)).await.unwrap());
        assert!(!f.store.set_merchant_bank(i64::MAX, bank(4)).await.unwrap());
        let banks: Vec<Option<BankDetails>> = f
            .store
            .merchants(LIST_LIMIT)
            .await
            .unwrap()
            .into_iter()
            .map(|merchant| merchant.bank)
            .collect();
        assert_eq!(banks, vec![Some(bank(3)), Some(bank(2))], "{}", f.name);
    })
    .await;
}

#[tokio::test]
async fn clearing_pays_out_exactly_the_settlement_balances() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let bob = f.client_in("USD", 100_000, 0).await;
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        let cafe = f.merchant_paid_to(Some(bank(2))).await;
        let bare = f.merchant_paid_to(None).await;

        let first = f.pay(&alice, &shop, 1_000).await;
        f.pay(&alice, &shop, 250).await;
        let refund = MerchantCommand::Refund {
            authorization_id: first,
            amount: Some(eur(100)),
        };
        assert!(matches!(
            f.run(shop.id, refund, NOW + 2).await,
            Outcome::Refunded { .. }
        ));
        f.pay(&alice, &cafe, 700).await;
        f.pay(&alice, &bare, 300).await;
        f.pay(&bob, &shop, 4_200).await;
        // Held but not captured: not the merchant's money yet.
        let card = f.issue(&alice, one_use()).await;
        authorized(f.authorize(cafe.id, &card, 50, NOW).await);

        let (writer, drafts) = listing_writer();
        let (batch, payouts, skipped) = closed(
            f.close_batch(close("EUR", "BATCH-1", &writer, NOW + 10))
                .await,
        );
        assert_eq!(
            (
                batch.message_id.as_str(),
                batch.currency,
                batch.created_at_s,
                batch.payouts_count,
                batch.total
            ),
            ("BATCH-1", currency("EUR"), NOW + 10, 2, 1_850),
            "{}",
            f.name
        );
        let paid: Vec<(i64, i64)> = payouts
            .iter()
            .map(|payout| (payout.merchant_id, payout.amount))
            .collect();
        assert_eq!(paid, vec![(shop.id, 1_150), (cafe.id, 700)], "{}", f.name);
        assert_eq!(skipped.len(), 1);
        assert_eq!((skipped[0].merchant_id, skipped[0].balance), (bare.id, 300));

        let drafted = drafts.lock().unwrap().clone();
        assert_eq!(drafted.len(), 1, "the file is written once");
        let lines: Vec<(i64, String, BankDetails, i64)> = drafted[0]
            .iter()
            .map(|line| {
                (
                    line.merchant_id,
                    line.merchant_name.clone(),
                    line.bank.clone(),
                    line.amount,
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (shop.id, shop.name.clone(), bank(1), 1_150),
                (cafe.id, cafe.name.clone(), bank(2), 700)
            ]
        );
        for payout in &payouts {
            assert_eq!(f.balance(payout.account_id).await, 0, "{}", f.name);
        }
        assert_eq!(f.balance(skipped[0].account_id).await, 300);
        let cafe_account = payouts[1].account_id;
        assert_eq!(f.account(&alice).await.held, 50);
        f.assert_sound().await;
        let sums = f.store.check_ledger().await.unwrap().currency_sums;
        assert!(sums.iter().all(|(_, sum)| *sum == 0), "{sums:?}");

        // Read back: the batch, its payouts, and the file byte for byte.
        assert_eq!(
            f.store.clearing_batch(batch.id).await.unwrap(),
            Some((batch.clone(), payouts.clone()))
        );
        let expected_file = format!(
            "BATCH-1 EUR {}\n{} {} COBADEFFXXX 1150\n{} {} COBADEFFXXX 700\n",
            NOW + 10,
            shop.name,
            iban(1),
            cafe.name,
            iban(2)
        );
        assert_eq!(
            f.store.settlement_file(batch.id).await.unwrap(),
            Some(expected_file)
        );
        assert_eq!(f.store.settlement_file(batch.id + 1).await.unwrap(), None);
        assert_eq!(f.store.clearing_batch(batch.id + 1).await.unwrap(), None);

        // The USD balance is another batch's.
        let (usd, usd_payouts, _) = closed(
            f.close_batch(close("USD", "BATCH-USD", &writer, NOW + 11))
                .await,
        );
        assert_eq!((usd.currency, usd.total), (currency("USD"), 4_200));
        assert_eq!(usd_payouts.len(), 1);
        assert_eq!(
            f.store
                .clearing_batches(LIST_LIMIT)
                .await
                .unwrap()
                .iter()
                .map(|batch| batch.id)
                .collect::<Vec<_>>(),
            vec![usd.id, batch.id],
            "newest first"
        );

        // A second close finds nothing to pay, and makes no batch.
        let skipped = nothing_to_pay(
            f.close_batch(close("EUR", "BATCH-2", &writer, NOW + 12))
                .await,
        );
        assert_eq!(skipped.len(), 1);
        assert_eq!(f.store.clearing_batches(LIST_LIMIT).await.unwrap().len(), 2);
        assert_eq!(drafts.lock().unwrap().len(), 2, "no file for nothing");

        // A refund after the payout leaves the settlement account below zero (a
        // receivable): nothing to pay there until captures cover it.
        let refund = MerchantCommand::Refund {
            authorization_id: first,
            amount: Some(eur(200)),
        };
        assert!(matches!(
            f.run(shop.id, refund, NOW + 13).await,
            Outcome::Refunded { .. }
        ));
        let shop_account = payouts[0].account_id;
        assert_eq!(f.balance(shop_account).await, -200);

        // The merchant without bank details gives them: the next batch pays them too.
        assert!(f.store.set_merchant_bank(bare.id, bank(3)).await.unwrap());
        f.pay(&alice, &cafe, 80).await;
        let (third, payouts, skipped) = closed(
            f.close_batch(close("EUR", "BATCH-3", &writer, NOW + 14))
                .await,
        );
        let paid: Vec<(i64, i64)> = payouts
            .iter()
            .map(|payout| (payout.merchant_id, payout.amount))
            .collect();
        assert_eq!(paid, vec![(cafe.id, 80), (bare.id, 300)], "{}", f.name);
        assert_eq!((third.payouts_count, third.total), (2, 380));
        assert!(skipped.is_empty());
        assert_eq!(f.balance(cafe_account).await, 0);
        assert_eq!(f.balance(shop_account).await, -200);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_settlement_file_that_cannot_be_written_pays_nothing() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        f.pay(&alice, &shop, 900).await;
        let refusing: SettlementWriter = Arc::new(|draft: &ClearingDraft<'_>| {
            assert_eq!(draft.lines.len(), 1);
            Err(ClearingError::ControlSumTooLarge)
        });
        let outcome = f
            .close_batch(close("EUR", "BATCH-1", &refusing, NOW + 5))
            .await;
        assert_eq!(
            outcome,
            ClearingOutcome::Unwritable(ClearingError::ControlSumTooLarge),
            "{}",
            f.name
        );
        assert!(
            f.store
                .clearing_batches(LIST_LIMIT)
                .await
                .unwrap()
                .is_empty()
        );

        // The same message id is then free, and the balance is all there.
        let (writer, _) = listing_writer();
        let (batch, _, _) = closed(
            f.close_batch(close("EUR", "BATCH-1", &writer, NOW + 6))
                .await,
        );
        assert_eq!(batch.total, 900);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_message_id_is_used_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        let (writer, _) = listing_writer();
        f.pay(&alice, &shop, 400).await;
        let (_, payouts, _) = closed(f.close_batch(close("EUR", "ONCE", &writer, NOW + 5)).await);
        f.pay(&alice, &shop, 600).await;
        match f
            .store
            .close_clearing_batch(close("EUR", "ONCE", &writer, NOW + 6))
            .await
        {
            Err(StoreError::Conflict(code)) => assert_eq!(code, "message_id_taken"),
            other => panic!("{}: expected message_id_taken, got {other:?}", f.name),
        }
        assert_eq!(f.balance(payouts[0].account_id).await, 600, "nothing paid");
        assert_eq!(f.store.clearing_batches(LIST_LIMIT).await.unwrap().len(), 1);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_clearing_closes_pay_once() {
    const CLOSES_COUNT: usize = 8;
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let mut merchants = Vec::new();
        for account in 0..4 {
            let merchant = f.merchant_paid_to(Some(bank(account))).await;
            f.pay(&alice, &merchant, 1_000 + account as i64).await;
            merchants.push(merchant);
        }
        let (writer, _) = listing_writer();
        let start = Arc::new(tokio::sync::Barrier::new(CLOSES_COUNT));
        let closes: Vec<_> = (0..CLOSES_COUNT)
            .map(|index| {
                let (store, start) = (Arc::clone(&f.store), Arc::clone(&start));
                let close = close("EUR", &format!("RACE-{index}"), &writer, NOW + 5);
                tokio::spawn(async move {
                    start.wait().await;
                    store.close_clearing_batch(close).await
                })
            })
            .collect();
        let mut payouts = Vec::new();
        let mut batches = 0;
        for task in closes {
            match task.await.unwrap().unwrap() {
                ClearingOutcome::Closed { payouts: paid, .. } => {
                    batches += 1;
                    payouts.extend(paid);
                }
                ClearingOutcome::NothingToPay { skipped } => assert!(skipped.is_empty()),
                other => panic!("{}: {other:?}", f.name),
            }
        }
        // Every balance is paid exactly once, by the one close that ran first.
        let mut paid: Vec<(i64, i64)> = payouts
            .iter()
            .map(|payout| (payout.merchant_id, payout.amount))
            .collect();
        paid.sort_unstable();
        let expected: Vec<(i64, i64)> = merchants
            .iter()
            .zip(0..)
            .map(|(merchant, account)| (merchant.id, 1_000 + account))
            .collect();
        assert_eq!(paid, expected, "{}", f.name);
        assert_eq!(batches, 1, "{}", f.name);
        assert_eq!(f.store.clearing_batches(LIST_LIMIT).await.unwrap().len(), 1);
        for payout in &payouts {
            assert_eq!(f.balance(payout.account_id).await, 0);
        }
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_merchant_cannot_capture_or_void_a_checkout_only_refund_it_once_paid() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 4_000).await;
        let authorization_id = held.authorization_id.unwrap();
        let capture = MerchantCommand::Capture {
            authorization_id,
            amount: None,
        };
        let void = MerchantCommand::Void { authorization_id };
        assert_eq!(
            rejected(f.run(shop.id, capture.clone(), NOW + 1).await),
            Rejection::OfCheckout
        );
        assert_eq!(
            rejected(f.run(shop.id, void.clone(), NOW + 1).await),
            Rejection::OfCheckout
        );
        let account = f.account(&alice).await;
        assert_eq!(
            (account.balance, account.held),
            (10_000, 4_000),
            "{}",
            f.name
        );
        f.sent(&held, &alice, 1, NOW + 2).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 3).await,
            SealOutcome::Paid(..)
        ));
        assert_eq!(
            rejected(f.run(shop.id, void, NOW + 4).await),
            Rejection::OfCheckout
        );
        let refund = MerchantCommand::Refund {
            authorization_id,
            amount: Some(eur(1_000)),
        };
        assert!(matches!(
            f.run(shop.id, refund, NOW + 5).await,
            Outcome::Refunded { amount: 1_000, .. }
        ));
        assert_eq!(f.account(&alice).await.balance, 7_000);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_client_has_at_most_three_checkouts_held_and_ten_seals_an_hour() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(100_000, 0).await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(f.held(&shop, &alice, 1_000).await);
        }
        let fourth = f.checkout(&shop, 1_000).await;
        assert!(matches!(
            f.hold(&fourth, &alice, NOW).await,
            HoldOutcome::Refused(CheckoutRefusal::TooManyHeld)
        ));
        assert_eq!(
            f.account(&alice).await.held,
            3_000,
            "nothing held for the fourth"
        );
        // Ten seals an hour across the client's checkouts: 3 + 3 + 3 + 1.
        let mut sent = 0;
        for (index, checkout) in held.iter().enumerate() {
            for send in 0..3 {
                let nonce = (index * 3 + send) as u8 + 1;
                f.sent(checkout, &alice, nonce, NOW + 30 * send as i64)
                    .await;
                sent += 1;
            }
        }
        assert_eq!(sent, 9);
        let SealOutcome::Paid(..) = f.type_seal(&held[0], &alice, 3, true, NOW + 61).await else {
            panic!("{}: the right seal did not pay", f.name);
        };
        let next = f.held(&shop, &alice, 1_000).await;
        f.sent(&next, &alice, 20, NOW + 62).await;
        let SealOutcome::Paid(..) = f.type_seal(&held[1], &alice, 6, true, NOW + 63).await else {
            panic!("{}: the right seal did not pay", f.name);
        };
        let last = f.held(&shop, &alice, 1_000).await;
        assert!(matches!(
            f.send_seal(&last, &alice, 21, NOW + 64).await,
            SendOutcome::Refused(CheckoutRefusal::TooManySeals)
        ));
        f.assert_sound().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Evidence records
// ---------------------------------------------------------------------------------------

impl Fixture {
    async fn evidence(&self, subject: &str) -> Vec<EvidenceRecord> {
        self.store.evidence(subject).await.expect("read evidence")
    }
}

/// The types of a subject's records, after checking the chain: `seq` from 1, each
/// record canonical JSON whose hash is stored, naming its subject and the hash of the
/// one before; and no record holds the phone number or a seal's nonce.
fn checked_chain(name: &str, records: &[EvidenceRecord], phone: &str) -> Vec<String> {
    let mut previous: Option<[u8; 32]> = None;
    for (index, record) in records.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_slice(&record.record).unwrap();
        assert_eq!(
            sceau_log::canonical(&value).unwrap(),
            record.record,
            "{name}: a record is not in canonical form"
        );
        let hash: [u8; 32] = Sha256::digest(&record.record).into();
        assert_eq!(hash, record.hash, "{name}: stored hash");
        assert_eq!(record.seq, index as i64 + 1, "{name}: seq");
        assert_eq!(value["seq"], serde_json::json!(record.seq));
        assert_eq!(value["v"], serde_json::json!(1));
        assert_eq!(value["type"], serde_json::json!(record.kind));
        assert_eq!(value["subject"], serde_json::json!(record.subject));
        let prev = previous.map(|hash| serde_json::json!(hex_of(&hash)));
        assert_eq!(value["prev"], prev.unwrap_or(serde_json::Value::Null));
        let text = String::from_utf8(record.record.clone()).unwrap();
        assert!(!text.contains(phone), "{name}: a record holds the phone");
        assert!(!text.contains("nonce"), "{name}: a record holds a nonce");
        previous = Some(hash);
    }
    records.iter().map(|record| record.kind.clone()).collect()
}

/// Every event of the evidence list leaves one record, in the event's transaction,
/// chained to its subject's previous record, and its hash reaches the log.
#[tokio::test]
async fn every_event_leaves_one_chained_record_whose_hash_the_log_appends() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let phone = alice.phone.as_str().to_owned();
        // A checkout paid with its second seal, after a wrong one.
        let held = f.held(&shop, &alice, 4_990).await;
        f.sent(&held, &alice, 1, NOW + 10).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, false, NOW + 11).await,
            SealOutcome::Wrong { .. }
        ));
        let SealOutcome::Paid(paid, paid_record) =
            f.type_seal(&held, &alice, 1, true, NOW + 12).await
        else {
            panic!("{}: the right seal did not pay", f.name);
        };
        let checkout = f.evidence(&format!("checkout:{}", held.id)).await;
        // The outcome carries the record it wrote (what the receipt signs).
        assert_eq!(*paid_record, checkout[3], "{}", f.name);
        // A receipt per record: the first stands.
        assert!(
            f.store
                .record_receipt(paid_record.id, b"first".to_vec(), NOW + 13)
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .record_receipt(paid_record.id, b"second".to_vec(), NOW + 14)
                .await
                .unwrap()
        );
        assert_eq!(
            f.store.receipt(paid_record.id).await.unwrap(),
            Some(b"first".to_vec())
        );
        assert_eq!(f.store.receipt(checkout[0].id).await.unwrap(), None);
        assert_eq!(
            checked_chain(f.name, &checkout, &phone),
            ["seal.sent", "seal.failed", "seal.verified", "checkout.paid"],
            "{}",
            f.name
        );
        let receipt: serde_json::Value = serde_json::from_slice(&checkout[3].record).unwrap();
        assert_eq!(receipt["checkout"]["amount"], "49.90");
        assert_eq!(receipt["checkout"]["currency"], "EUR");
        assert_eq!(receipt["checkout"]["merchant"], shop.id.to_string());
        assert_eq!(receipt["client"], alice.id.to_string());
        assert_eq!(receipt["at"], "2023-11-14T22:13:32Z");
        let authorization = f
            .store
            .authorization(shop.id, paid.authorization_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        let drawn = f
            .evidence(&format!("number:{}", authorization.number_id))
            .await;
        assert_eq!(
            checked_chain(f.name, &drawn, &phone),
            ["number.issued", "number.authorized", "number.captured"]
        );
        // A checkout failed by three wrong seals.
        let failing = f.held(&shop, &alice, 100).await;
        f.sent(&failing, &alice, 2, NOW).await;
        for tries in 0..3 {
            f.type_seal(&failing, &alice, 2, false, NOW + 1 + tries)
                .await;
        }
        assert_eq!(
            checked_chain(
                f.name,
                &f.evidence(&format!("checkout:{}", failing.id)).await,
                &phone
            ),
            [
                "seal.sent",
                "seal.failed",
                "seal.failed",
                "seal.failed",
                "checkout.failed"
            ]
        );
        // A number of the merchant API: authorized, captured, refunded twice; another
        // voided; a third left to expire.
        let card = f
            .issue(&alice, policy(1, AmountRule::Any, MerchantLock::Any))
            .await;
        let first = authorized(f.authorize(shop.id, &card, 1_000, NOW).await);
        let capture = MerchantCommand::Capture {
            authorization_id: first.id,
            amount: Some(eur(800)),
        };
        f.run(shop.id, capture, NOW + 1).await;
        for amount in [300, 200] {
            let refund = MerchantCommand::Refund {
                authorization_id: first.id,
                amount: Some(eur(amount)),
            };
            f.run(shop.id, refund, NOW + 2).await;
        }
        let number = f.evidence(&format!("number:{}", card.view.id)).await;
        assert_eq!(
            checked_chain(f.name, &number, &phone),
            [
                "number.issued",
                "number.authorized",
                "number.captured",
                "number.refunded",
                "number.refunded"
            ]
        );
        let last: serde_json::Value = serde_json::from_slice(&number[4].record).unwrap();
        assert_eq!(
            (
                &last["authorization"]["captured"],
                &last["authorization"]["refunded"],
                &last["refund"]["amount"]
            ),
            (
                &serde_json::json!("8.00"),
                &serde_json::json!("5.00"),
                &serde_json::json!("2.00")
            )
        );
        assert_eq!(last["number"]["last_four"], card.view.last_four);
        let voided = f.issue(&alice, one_use()).await;
        let hold = authorized(f.authorize(shop.id, &voided, 50, NOW).await);
        f.run(
            shop.id,
            MerchantCommand::Void {
                authorization_id: hold.id,
            },
            NOW + 1,
        )
        .await;
        let expiring = f.issue(&alice, one_use()).await;
        authorized(f.authorize(shop.id, &expiring, 60, NOW).await);
        f.store.expire(NOW + HOLD_TTL_S + 1).await.unwrap();
        for (card, last) in [(&voided, "number.voided"), (&expiring, "number.expired")] {
            let chain = f.evidence(&format!("number:{}", card.view.id)).await;
            assert_eq!(
                checked_chain(f.name, &chain, &phone),
                ["number.issued", "number.authorized", last]
            );
        }
        // A certificate issued, then revoked once (the second revocation changes nothing).
        f.store
            .record_certificate(new_certificate("e1", CertificateKind::Disposable, None))
            .await
            .unwrap();
        for _ in 0..2 {
            f.store.revoke_certificate("e1", 4, NOW + 5).await.unwrap();
        }
        let certificate = f.evidence("certificate:e1").await;
        assert_eq!(
            checked_chain(f.name, &certificate, &phone),
            ["certificate.issued", "certificate.revoked"]
        );
        let revoked: serde_json::Value = serde_json::from_slice(&certificate[1].record).unwrap();
        assert_eq!(revoked["reason"], 4);
        // A refused step writes nothing.
        assert!(matches!(
            f.send_seal(&held, &alice, 3, NOW + 100).await,
            SendOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        assert_eq!(f.evidence(&format!("checkout:{}", held.id)).await.len(), 4);
        // Every record's hash is a log entry once integrated, in the records' order.
        let checkpoint = f
            .store
            .integrate_log(IntegrateLog {
                batch_max: 4_096,
                sign: test_signer(),
                now_s: NOW,
            })
            .await
            .unwrap()
            .unwrap();
        let checkout = f.evidence(&format!("checkout:{}", held.id)).await;
        let mut indices = Vec::new();
        for record in &checkout {
            let index = record.log_index.expect("integrated");
            assert!(index < checkpoint.size);
            assert_eq!(
                f.store.log_entry(index).await.unwrap().unwrap(),
                record.hash.to_vec()
            );
            indices.push(index);
        }
        assert!(indices.windows(2).all(|pair| pair[0] < pair[1]));
        f.assert_sound().await;
    })
    .await;
}

/// A clearing batch's record lists what it paid and the hash of its settlement file.
#[tokio::test]
async fn a_closed_clearing_batch_leaves_its_record() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant_paid_to(Some(bank(7))).await;
        let alice = f.client(10_000, 0).await;
        f.pay(&alice, &shop, 1_234).await;
        let (writer, _) = listing_writer();
        let (batch, payouts, _) =
            closed(f.close_batch(close("EUR", "EV-1", &writer, NOW + 5)).await);
        let file = f.store.settlement_file(batch.id).await.unwrap().unwrap();
        let records = f.evidence(&format!("clearing:{}", batch.id)).await;
        assert_eq!(
            checked_chain(f.name, &records, alice.phone.as_str()),
            ["clearing.closed"]
        );
        let record: serde_json::Value = serde_json::from_slice(&records[0].record).unwrap();
        assert_eq!(record["batch"]["total"], "12.34");
        assert_eq!(record["batch"]["message_id"], "EV-1");
        assert_eq!(
            record["payouts"],
            serde_json::json!([{
                "merchant": shop.id.to_string(),
                "amount": "12.34",
                "transfer": payouts[0].transfer_id.to_string(),
            }])
        );
        assert_eq!(
            record["settlement_file_sha256"],
            hex_of(&Sha256::digest(file.as_bytes()))
        );
    })
    .await;
}
