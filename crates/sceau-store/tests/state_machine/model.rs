//! What the state machine test knows independently of the store: every party, number,
//! authorization, checkout and certificate, with the figures and
//! states the store must agree with after every step.

use super::{Op, Pick, Typed};
use sceau_domain::bank::{Bic, Iban};
use sceau_domain::decline::Decline;
use sceau_domain::ledger::AuthorizationState;
use sceau_domain::policy::{AmountRule, MerchantLock, NumberState, UsagePolicy};
use sceau_domain::reach::MessageBudget;
use sceau_domain::seal::{CLIENT_HELD_CHECKOUTS_MAX, SEAL_RESEND_COOLDOWN_S, SEAL_SENDS_MAX};
use sceau_domain::{Currency, Expiry, Money, PhoneNumber};
use sceau_store::evidence::{
    certificate_subject, checkout_subject, clearing_subject, number_subject,
};
use sceau_store::postgres::scratch::{ScratchSchema, test_database_url};
use sceau_store::{
    ActedBy, BankDetails, CancelCheckout, CancelOutcome, CertificateKind, CheckoutRefusal,
    CheckoutState, ClearingDraft, ClearingOutcome, ClientRecord, CloseClearing, CommandRequest,
    EvidenceRecord, HoldCheckout, HoldOutcome, IssueOutcome, Medium, MerchantCommand,
    MerchantRecord, NewCertificate, NewCheckout, NewClient, NewMerchant, NewMessage, NewNumber,
    NewSession, Origin, Outcome, Paused, PostgresSettings, PostgresStore, REVOKED_AFTER_USE,
    RevokeOutcome, SealOutcome, SendOutcome, SendSeal, SettlementWriter, SqliteStore, Store,
    StoredSeal, TypedSeal, UseOutcome,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// The instant every sequence starts at.
const NOW: i64 = 1_700_000_000;
const LIST_LIMIT: u32 = 1_000;
const SEAL_TRIES_MAX: u32 = sceau_domain::seal::SEAL_TRIES_MAX;
/// The SPEC's limits, read here apart from the domain's constants so that a change there
/// shows: three wrong expiry/security-code tries block a number; five failures in a row
/// across a client's numbers and seals pause the client's payments for 15 minutes.
const NUMBER_TRIES_MAX: u32 = 3;
const CLIENT_FAILURES_MAX: u32 = 5;
const CLIENT_PAUSE_S: i64 = 15 * 60;

// ---------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------

/// One fresh, empty store of one backend, with what must live as long as it.
pub struct Backend {
    pub name: &'static str,
    store: Arc<dyn Store>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

impl Backend {
    /// SQLite in a temporary directory; PostgreSQL in a scratch schema when
    /// `SCEAU_TEST_DATABASE_URL` names a database.
    pub async fn all() -> Vec<Backend> {
        let directory = tempfile::tempdir().expect("temporary directory");
        let sqlite =
            SqliteStore::open(&directory.path().join("sceau.db")).expect("open the SQLite store");
        let mut all = vec![Backend {
            name: "sqlite",
            store: Arc::new(sqlite),
            _guard: Box::new(directory),
        }];
        if let Some(url) = test_database_url() {
            let schema = ScratchSchema::create(&url)
                .await
                .expect("create a scratch schema");
            let store = PostgresStore::open(&schema.url, PostgresSettings::default())
                .await
                .expect("open the PostgreSQL store");
            all.push(Backend {
                name: "postgres",
                store: Arc::new(store),
                _guard: Box::new(schema),
            });
        }
        all
    }
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

struct Client {
    record: ClientRecord,
    session: [u8; 32],
    balance: i64,
    held: i64,
    credit_limit: i64,
    blocked: bool,
    paused_until_s: i64,
    /// Wrong card details and wrong seals in a row since the last success or pause.
    failures: u32,
}

impl Client {
    fn stopped(&self, now_s: i64) -> bool {
        self.blocked || now_s < self.paused_until_s
    }

    fn available(&self) -> i64 {
        self.balance - self.held + self.credit_limit
    }
}

struct Merchant {
    record: MerchantRecord,
    has_bank: bool,
    /// Settlement balances by currency code.
    balances: HashMap<String, i64>,
    /// Settlement accounts by currency code, once the store named them.
    accounts: HashMap<String, i64>,
}

struct Card {
    number: [u8; 32],
    details: [u8; 32],
    client: usize,
    number_id: i64,
    currency: Currency,
    policy: UsagePolicy,
    /// As stored: `Live`, `Consumed` (no use or amount left), `Blocked` (too many wrong
    /// tries) or `Expired` (recorded by the sweep).
    state: NumberState,
    uses: u32,
    amount_used: i64,
    /// The merchant a locked number is bound to, once it paid one.
    locked_merchant: Option<i64>,
    /// Wrong expiry/security-code tries since the last approval.
    failed_tries: u32,
}

impl Card {
    /// The SPEC's decision on an attempt that got past the card details and the holder,
    /// in its order: validity, uses left, merchant, amount.
    fn decline(&self, merchant_id: i64, amount: i64, now_s: i64) -> Option<Decline> {
        let merchant_allowed = match (self.locked_merchant, self.policy.merchant) {
            (Some(locked), _) => locked == merchant_id,
            (None, MerchantLock::Named(named)) => named == merchant_id,
            (None, MerchantLock::Any | MerchantLock::FirstMerchant) => true,
        };
        if self.state == NumberState::Expired || now_s >= self.policy.valid_until_s {
            Some(Decline::Expired)
        } else if self.state == NumberState::Consumed || self.uses >= self.policy.uses_max {
            Some(Decline::AlreadyUsed)
        } else if !merchant_allowed {
            Some(Decline::OtherMerchant)
        } else {
            match self.policy.amount {
                AmountRule::Cap(cap) if self.amount_used + amount > cap => Some(Decline::OverCap),
                AmountRule::Exact(exact) if amount != exact => Some(Decline::AmountMismatch),
                _ => None,
            }
        }
    }

    /// An approved use: counted, its amount added, the merchant locked if the policy
    /// locks, the wrong tries forgotten; consumed when no use or amount is left.
    fn approve(&mut self, merchant_id: i64, amount: i64) {
        self.uses += 1;
        self.amount_used += amount;
        if self.policy.merchant != MerchantLock::Any {
            self.locked_merchant = Some(merchant_id);
        }
        self.failed_tries = 0;
        let cap_reached =
            matches!(self.policy.amount, AmountRule::Cap(cap) if self.amount_used == cap);
        if self.uses >= self.policy.uses_max || cap_reached {
            self.state = NumberState::Consumed;
        }
    }

    /// A wrong expiry or security code: one more try, the number blocked at the limit
    /// whatever its state.
    fn wrong_try(&mut self) {
        self.failed_tries += 1;
        if self.failed_tries >= NUMBER_TRIES_MAX {
            self.state = NumberState::Blocked;
        }
    }
}

struct Authorization {
    id: i64,
    merchant: usize,
    client: usize,
    number_id: i64,
    currency: Currency,
    amount: i64,
    captured: i64,
    refunded: i64,
    state: AuthorizationState,
    hold_expires_at_s: i64,
    of_checkout: bool,
}

#[derive(Clone, Copy)]
struct Seal {
    nonce: u8,
    expires_at_s: i64,
    issued_at_s: i64,
}

struct Checkout {
    id: i64,
    public_id: String,
    merchant: usize,
    amount: i64,
    currency: Currency,
    expires_at_s: i64,
    state: CheckoutState,
    client: Option<usize>,
    authorization: Option<usize>,
    seal: Option<Seal>,
    /// The nonce of the seal the live one replaced.
    replaced_nonce: Option<u8>,
    sends: u32,
    wrong_tries: u32,
}

struct Certificate {
    serial: String,
    disposable: bool,
    not_before_s: i64,
    not_after_s: i64,
    used_at_s: Option<i64>,
    revoked_at_s: Option<i64>,
    reason: Option<u8>,
}

pub struct World {
    name: &'static str,
    store: Arc<dyn Store>,
    now_s: i64,
    counter: u64,
    clients: Vec<Client>,
    merchants: Vec<Merchant>,
    cards: Vec<Card>,
    authorizations: Vec<Authorization>,
    checkouts: Vec<Checkout>,
    certificates: Vec<Certificate>,
    /// Every subject's chain as last read: the hashes of its records.
    chains: HashMap<String, Vec<[u8; 32]>>,
    /// The subjects the step touched, with how many records it added to each (when the
    /// model knows).
    touched: Vec<(String, Option<usize>)>,
}

fn bytes32(tag: u8, n: u64) -> [u8; 32] {
    let mut bytes = [0_u8; 32];
    bytes[0] = tag;
    bytes[1..9].copy_from_slice(&n.to_le_bytes());
    bytes
}

fn currency(euro: bool) -> Currency {
    let code = if euro { "EUR" } else { "USD" };
    code.parse().expect("ISO 4217")
}

/// A German IBAN for account `account`, its check digits computed.
fn bank(account: u64) -> BankDetails {
    let bban = format!("37040044{account:010}");
    let remainder = format!("{bban}131400")
        .bytes()
        .fold(0_u32, |remainder, digit| {
            (remainder * 10 + u32::from(digit - b'0')) % 97
        });
    let iban: Iban = format!("DE{:02}{bban}", 98 - remainder)
        .parse()
        .expect("a valid IBAN");
    let bic: Bic = "COBADEFFXXX".parse().expect("a valid BIC");
    BankDetails { iban, bic }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The code of a checkout step's answer, to compare with the model's.
fn refusal_code(refusal: CheckoutRefusal) -> &'static str {
    refusal.code()
}

impl World {
    /// Three clients, two merchants (one paid to a bank) and two checkouts, one held, to
    /// start with.
    pub async fn start(backend: &Backend) -> World {
        let mut world = World {
            name: backend.name,
            store: Arc::clone(&backend.store),
            now_s: NOW,
            counter: 1,
            clients: Vec::new(),
            merchants: Vec::new(),
            cards: Vec::new(),
            authorizations: Vec::new(),
            checkouts: Vec::new(),
            certificates: Vec::new(),
            chains: HashMap::new(),
            touched: Vec::new(),
        };
        world.enrol_client(true, 10_000, 0).await;
        world.enrol_client(true, 3_000, 2_000).await;
        world.enrol_client(false, 5_000, 0).await;
        world.enrol_merchant(true).await;
        world.enrol_merchant(false).await;
        world.create_checkout_of(0, 2_500, true, 900).await;
        world.create_checkout_of(1, 1_500, true, 900).await;
        world.hold_by(0, 0, "start").await;
        world.check("start").await;
        world
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A nonce for a seal: never 0 (what a stale seal with no predecessor is typed as),
    /// and never the same twice in a row.
    fn next_nonce(&mut self) -> u8 {
        (self.next() % 250) as u8 + 1
    }

    /// Time passes (nothing is swept).
    pub fn elapse(&mut self, seconds: i64) {
        self.now_s += seconds;
    }

    /// A subject the step touched; touched again, the records it added are summed (or
    /// unknown if either is).
    fn touch(&mut self, subject: String, added: Option<usize>) {
        match self
            .touched
            .iter_mut()
            .find(|(touched, _)| *touched == subject)
        {
            Some((_, before)) => *before = before.zip(added).map(|(a, b)| a + b),
            None => self.touched.push((subject, added)),
        }
    }

    /// One more failure of `client` in a row: the pause it starts, if it reaches the
    /// limit (the count then starts again; a pause under way is replaced).
    fn count_failure(&mut self, client: usize) -> Option<Paused> {
        let now_s = self.now_s;
        let holder = &mut self.clients[client];
        holder.failures += 1;
        if holder.failures < CLIENT_FAILURES_MAX {
            return None;
        }
        holder.failures = 0;
        holder.paused_until_s = now_s + CLIENT_PAUSE_S;
        Some(Paused {
            client_id: holder.record.id,
            until_s: holder.paused_until_s,
        })
    }

    /// A success of `client`: its failures in a row start again from none.
    fn reset_failures(&mut self, client: usize) {
        self.clients[client].failures = 0;
    }

    /// The store's answer on a pause against the model's.
    fn check_paused(found: Option<Paused>, expected: Option<Paused>, context: &str) {
        assert_eq!(found, expected, "{context}: the client's pause");
    }

    pub async fn apply(&mut self, op: &Op, context: &str) {
        match op {
            Op::EnrolClient {
                euro,
                opening,
                credit,
            } => self.enrol_client(*euro, *opening, *credit).await,
            Op::EnrolMerchant { with_bank } => self.enrol_merchant(*with_bank).await,
            Op::Block { client, blocked } => self.block(*client, *blocked).await,
            Op::Issue { .. } => self.issue(op).await,
            Op::Authorize { tries, .. } => {
                for _ in 0..*tries {
                    self.authorize(op, context).await;
                }
            }
            Op::Capture { .. } | Op::Void { .. } | Op::Refund { .. } => {
                self.merchant_command(op, context).await;
            }
            Op::Advance { seconds } => self.advance(*seconds, context).await,
            Op::CreateCheckout { .. } => self.create_checkout(op).await,
            Op::Hold { checkout, client } => self.hold(*checkout, *client, context).await,
            Op::SendSeal { .. } => self.send_seal(op, context).await,
            Op::TypeSeal { .. } => self.type_seal(op, context).await,
            Op::Cancel { checkout, by_other } => self.cancel(*checkout, *by_other, context).await,
            Op::RecordCertificate { .. } => self.record_certificate(op).await,
            Op::UseCertificate { certificate } => self.use_certificate(*certificate, context).await,
            Op::RevokeCertificate {
                certificate,
                reason,
            } => {
                self.revoke_certificate(*certificate, *reason, context)
                    .await
            }
            Op::SetBank { merchant } => self.set_bank(*merchant).await,
            Op::CloseClearing { euro } => self.close_clearing(*euro, context).await,
        }
    }

    // -----------------------------------------------------------------------------------
    // Parties
    // -----------------------------------------------------------------------------------

    async fn enrol_client(&mut self, euro: bool, opening: i64, credit_limit: i64) {
        let n = self.next();
        let phone: PhoneNumber = format!("+3361{n:07}").parse().expect("E.164");
        let record = self
            .store
            .enroll_client(NewClient {
                login: format!("client-{n}"),
                display_name: format!("Client {n}"),
                password_hash: format!("$argon2id$hash-{n}"),
                phone,
                email: None,
                currency: currency(euro),
                opening_balance: opening,
                credit_limit,
                certificates: Vec::new(),
                now_s: self.now_s,
            })
            .await
            .expect("enrol a client");
        let session = bytes32(4, n);
        self.store
            .create_session(NewSession {
                token_hash: session,
                client_id: record.id,
                now_s: self.now_s,
                expires_at_s: self.now_s + 10_000_000,
            })
            .await
            .expect("create a session");
        self.clients.push(Client {
            record,
            session,
            balance: opening,
            held: 0,
            credit_limit,
            blocked: false,
            paused_until_s: 0,
            failures: 0,
        });
    }

    async fn enrol_merchant(&mut self, with_bank: bool) {
        let n = self.next();
        let record = self
            .store
            .enroll_merchant(NewMerchant {
                name: format!("Merchant {n}"),
                api_key_hash: bytes32(3, n),
                bank: with_bank.then(|| bank(n)),
                now_s: self.now_s,
            })
            .await
            .expect("enrol a merchant");
        self.merchants.push(Merchant {
            record,
            has_bank: with_bank,
            balances: HashMap::new(),
            accounts: HashMap::new(),
        });
    }

    async fn block(&mut self, client: Pick, blocked: bool) {
        let index = client.of(self.clients.len()).expect("clients");
        let id = self.clients[index].record.id;
        use sceau_domain::operator::{Actor, OperatorAction};
        let action = if blocked {
            OperatorAction::ClientBlocked { client_id: id }
        } else {
            OperatorAction::ClientUnblocked { client_id: id }
        };
        let acts = sceau_store::OperatorActs {
            actor: Actor::Admin,
            action,
            now_s: 0,
        };
        let outcome = self.store.operator_acts(acts).await.unwrap();
        assert_ne!(outcome, sceau_store::ActionOutcome::NotFound);
        self.clients[index].blocked = blocked;
    }

    async fn set_bank(&mut self, merchant: Pick) {
        let index = merchant.of(self.merchants.len()).expect("merchants");
        let n = self.next();
        let id = self.merchants[index].record.id;
        assert!(self.store.set_merchant_bank(id, bank(n)).await.unwrap());
        self.merchants[index].has_bank = true;
    }

    // -----------------------------------------------------------------------------------
    // Numbers and merchant commands
    // -----------------------------------------------------------------------------------

    async fn issue(&mut self, op: &Op) {
        let Op::Issue {
            client,
            uses_max,
            rule,
            limit,
            lock,
            validity_s,
        } = op
        else {
            unreachable!()
        };
        let client = client.of(self.clients.len()).expect("clients");
        let merchant = match lock {
            None => MerchantLock::Any,
            Some(None) => MerchantLock::FirstMerchant,
            Some(Some(pick)) => MerchantLock::Named(
                self.merchants[pick.of(self.merchants.len()).expect("merchants")]
                    .record
                    .id,
            ),
        };
        let policy = UsagePolicy {
            uses_max: *uses_max,
            amount: match rule {
                0 => AmountRule::Any,
                1 => AmountRule::Cap(*limit),
                _ => AmountRule::Exact(*limit),
            },
            merchant,
            valid_until_s: self.now_s + validity_s,
        };
        let n = self.next();
        let record = &self.clients[client].record;
        let number = NewNumber {
            client_id: record.id,
            fingerprint: bytes32(1, n),
            details_fingerprint: bytes32(2, n),
            last_four: format!("{:04}", n % 10_000),
            expiry: Expiry::of_instant(policy.valid_until_s),
            origin: Origin::Client,
            policy,
            currency: record.currency,
            message: NewMessage {
                address: record.phone.as_str().to_owned(),
                sealed_body: format!("number-{n}").into_bytes(),
                medium: Medium::Sms,
                expires_at_s: policy.valid_until_s,
            },
            budget: MessageBudget::UNLIMITED,
            merchant_clients_max: u32::MAX,
            idempotency: None,
            now_s: self.now_s,
        };
        let currency = record.currency;
        match self.store.issue_number(number).await.expect("issue") {
            IssueOutcome::Issued(view) => {
                self.touch(number_subject(view.id), Some(1));
                self.cards.push(Card {
                    number: bytes32(1, n),
                    details: bytes32(2, n),
                    client,
                    number_id: view.id,
                    currency,
                    policy,
                    state: NumberState::Live,
                    uses: 0,
                    amount_used: 0,
                    // A number named to a merchant is bound to it from the start.
                    locked_merchant: match policy.merchant {
                        MerchantLock::Named(merchant_id) => Some(merchant_id),
                        MerchantLock::Any | MerchantLock::FirstMerchant => None,
                    },
                    failed_tries: 0,
                });
            }
            _ => panic!("{}: a client's own number was refused", self.name),
        }
    }

    async fn authorize(&mut self, op: &Op, context: &str) {
        let Op::Authorize {
            number,
            merchant,
            amount,
            wrong_details,
            hold_ttl_s,
            ..
        } = op
        else {
            unreachable!()
        };
        let now_s = self.now_s;
        let Some(card_index) = number.of_live(self.cards.len(), |index| {
            now_s < self.cards[index].policy.valid_until_s
        }) else {
            return;
        };
        let merchant = merchant.of(self.merchants.len()).expect("merchants");
        let card = &self.cards[card_index];
        let amount = amount.unwrap_or(match card.policy.amount {
            AmountRule::Any => 500,
            AmountRule::Cap(limit) | AmountRule::Exact(limit) => limit,
        });
        let command = MerchantCommand::Authorize {
            number_fingerprint: card.number,
            details_fingerprint: if *wrong_details {
                bytes32(2, u64::MAX)
            } else {
                card.details
            },
            amount,
            currency: card.currency,
            merchant_reference: "order".into(),
            hold_ttl_s: *hold_ttl_s,
        };
        let (client, number_id, currency) = (card.client, card.number_id, card.currency);
        let merchant_id = self.merchants[merchant].record.id;
        let expected = self.expected_authorization(card_index, merchant_id, amount, *wrong_details);
        let outcome = self.run(merchant, command).await;
        match (outcome, expected) {
            (Outcome::Authorized { authorization }, Ok(())) => {
                assert_eq!(authorization.amount, amount, "{context}");
                self.cards[card_index].approve(merchant_id, amount);
                self.reset_failures(client);
                self.clients[client].held += amount;
                self.authorizations.push(Authorization {
                    id: authorization.id,
                    merchant,
                    client,
                    number_id,
                    currency,
                    amount,
                    captured: 0,
                    refunded: 0,
                    state: AuthorizationState::Authorized,
                    hold_expires_at_s: authorization.hold_expires_at_s,
                    of_checkout: false,
                });
                self.touch(number_subject(number_id), Some(1));
            }
            (Outcome::Declined { decline, paused }, Err(expected)) if decline == expected => {
                self.touch(number_subject(number_id), None);
                let pause = if decline == Decline::WrongCardDetails {
                    self.cards[card_index].wrong_try();
                    self.count_failure(client)
                } else {
                    None
                };
                World::check_paused(paused, pause, context);
            }
            (outcome, expected) => {
                panic!("{context}: authorize answered {outcome:?}, the model expected {expected:?}")
            }
        }
    }

    /// What the model expects of an authorization with card `index`: in the SPEC's order,
    /// the card details first (so that nothing is revealed without them), then the number
    /// or its holder blocked or paused, the number's own rules, and last the funds.
    fn expected_authorization(
        &self,
        index: usize,
        merchant_id: i64,
        amount: i64,
        wrong_details: bool,
    ) -> Result<(), Decline> {
        let card = &self.cards[index];
        let holder = &self.clients[card.client];
        if wrong_details {
            Err(Decline::WrongCardDetails)
        } else if card.state == NumberState::Blocked || holder.stopped(self.now_s) {
            Err(Decline::Blocked)
        } else if let Some(decline) = card.decline(merchant_id, amount, self.now_s) {
            Err(decline)
        } else if holder.available() < amount {
            Err(Decline::InsufficientFunds)
        } else {
            Ok(())
        }
    }

    async fn run(&self, merchant: usize, command: MerchantCommand) -> Outcome {
        let executed = self
            .store
            .execute(CommandRequest {
                merchant_id: self.merchants[merchant].record.id,
                idempotency: None,
                command,
                now_s: self.now_s,
            })
            .await
            .expect("execute");
        assert!(
            !executed.replayed,
            "{}: a request without a key replayed",
            self.name
        );
        executed.outcome
    }

    /// Capture, void or refund, each predicted from the model.
    async fn merchant_command(&mut self, op: &Op, context: &str) {
        let (pick, portion, by_other) = match op {
            Op::Capture {
                authorization,
                portion,
                by_other,
            } => (authorization, Some(*portion), *by_other),
            Op::Void { authorization } => (authorization, None, false),
            Op::Refund {
                authorization,
                portion,
            } => (authorization, Some(*portion), false),
            _ => unreachable!(),
        };
        let wanted = match op {
            Op::Refund { .. } => AuthorizationState::Captured,
            _ => AuthorizationState::Authorized,
        };
        let Some(index) = pick.of_live(self.authorizations.len(), |index| {
            let a = &self.authorizations[index];
            a.state == wanted && (wanted == AuthorizationState::Captured || !a.of_checkout)
        }) else {
            return;
        };
        let now_s = self.now_s;
        let a = &self.authorizations[index];
        let merchant = if by_other {
            (0..self.merchants.len())
                .find(|m| *m != a.merchant)
                .unwrap_or(a.merchant)
        } else {
            a.merchant
        };
        let money = |amount: i64| Money::new(amount, a.currency);
        let (command, expected) = match op {
            Op::Capture { .. } => {
                let asked = portion.and_then(|p| p.of(a.amount));
                let amount = asked.unwrap_or(a.amount);
                let accepted = merchant == a.merchant
                    && !a.of_checkout
                    && a.state == AuthorizationState::Authorized
                    && now_s < a.hold_expires_at_s
                    && amount <= a.amount;
                let command = MerchantCommand::Capture {
                    authorization_id: a.id,
                    amount: asked.map(money),
                };
                (command, accepted.then_some(amount))
            }
            Op::Void { .. } => {
                let accepted = !a.of_checkout && a.state == AuthorizationState::Authorized;
                let command = MerchantCommand::Void {
                    authorization_id: a.id,
                };
                (command, accepted.then_some(0))
            }
            _ => {
                let refundable = a.captured - a.refunded;
                let asked = portion.and_then(|p| p.of(refundable));
                let amount = asked.unwrap_or(refundable);
                let accepted =
                    a.state == AuthorizationState::Captured && amount > 0 && amount <= refundable;
                let command = MerchantCommand::Refund {
                    authorization_id: a.id,
                    amount: asked.map(money),
                };
                (command, accepted.then_some(amount))
            }
        };
        let outcome = self.run(merchant, command).await;
        let number = number_subject(self.authorizations[index].number_id);
        match (outcome, expected) {
            (Outcome::Rejected { .. }, None) => self.touch(number, Some(0)),
            (Outcome::Captured { authorization }, Some(amount)) => {
                assert_eq!(authorization.captured, amount, "{context}");
                self.settle(index, AuthorizationState::Captured, amount);
                self.touch(number, Some(1));
            }
            (Outcome::Voided { .. }, Some(_)) => {
                self.settle(index, AuthorizationState::Voided, 0);
                self.touch(number, Some(1));
            }
            (Outcome::Refunded { amount: paid, .. }, Some(amount)) => {
                assert_eq!(paid, amount, "{context}");
                let a = &mut self.authorizations[index];
                a.refunded += amount;
                let (client, merchant, code) = (a.client, a.merchant, a.currency.code());
                self.clients[client].balance += amount;
                *self.merchants[merchant]
                    .balances
                    .entry(code.to_owned())
                    .or_default() -= amount;
                self.touch(number, Some(1));
            }
            (outcome, expected) => {
                panic!("{context}: the store answered {outcome:?}, the model expected {expected:?}")
            }
        }
    }

    /// An authorization leaves `authorized` for `state`, `captured` of it paid.
    fn settle(&mut self, index: usize, state: AuthorizationState, captured: i64) {
        let a = &mut self.authorizations[index];
        assert_eq!(a.state, AuthorizationState::Authorized);
        a.state = state;
        a.captured = captured;
        let (client, merchant, amount, code) = (a.client, a.merchant, a.amount, a.currency.code());
        let holder = &mut self.clients[client];
        holder.held -= amount;
        holder.balance -= captured;
        *self.merchants[merchant]
            .balances
            .entry(code.to_owned())
            .or_default() += captured;
    }

    /// The clock moves and the sweep runs: holds and checkouts past their time end.
    async fn advance(&mut self, seconds: i64, context: &str) {
        self.now_s += seconds;
        let now_s = self.now_s;
        let swept = self.store.expire(now_s).await.expect("expire");
        for card in &mut self.cards {
            if card.state == NumberState::Live && now_s >= card.policy.valid_until_s {
                card.state = NumberState::Expired;
            }
        }
        let due: Vec<usize> = (0..self.authorizations.len())
            .filter(|index| {
                let a = &self.authorizations[*index];
                a.state == AuthorizationState::Authorized && now_s >= a.hold_expires_at_s
            })
            .collect();
        for index in &due {
            self.settle(*index, AuthorizationState::Expired, 0);
            let subject = number_subject(self.authorizations[*index].number_id);
            self.touch(subject, Some(1));
        }
        let mut ended = 0;
        for index in 0..self.checkouts.len() {
            let checkout = &mut self.checkouts[index];
            if !checkout.state.is_final() && now_s >= checkout.expires_at_s {
                checkout.state = CheckoutState::Expired;
                ended += 1;
                let subject = checkout_subject(checkout.id);
                self.touch(subject, Some(1));
            }
        }
        assert_eq!(
            (swept.holds_released, swept.checkouts_expired),
            (due.len() as u64, ended),
            "{context}: the sweep"
        );
    }

    // -----------------------------------------------------------------------------------
    // Checkouts
    // -----------------------------------------------------------------------------------

    async fn create_checkout(&mut self, op: &Op) {
        let Op::CreateCheckout {
            merchant,
            amount,
            euro,
            lifetime_s,
        } = op
        else {
            unreachable!()
        };
        let merchant = merchant.of(self.merchants.len()).expect("merchants");
        self.create_checkout_of(merchant, *amount, *euro, *lifetime_s)
            .await;
    }

    async fn create_checkout_of(
        &mut self,
        merchant: usize,
        amount: i64,
        euro: bool,
        lifetime_s: i64,
    ) {
        let n = self.next();
        let (view, replayed) = self
            .store
            .create_checkout(NewCheckout {
                merchant_id: self.merchants[merchant].record.id,
                public_id: format!("co_{n:032x}"),
                amount,
                currency: currency(euro),
                merchant_reference: format!("cart-{n}"),
                object: "Two tickets".into(),
                return_url: "https://shop.example/return".into(),
                webhook_url: Some("https://shop.example/hooks".into()),
                expires_at_s: self.now_s + lifetime_s,
                idempotency: None,
                now_s: self.now_s,
            })
            .await
            .expect("create a checkout");
        assert!(!replayed);
        assert_eq!(view.state, CheckoutState::Open);
        self.touch(checkout_subject(view.id), Some(0));
        self.checkouts.push(Checkout {
            id: view.id,
            public_id: view.public_id,
            merchant,
            amount,
            currency: currency(euro),
            expires_at_s: view.expires_at_s,
            state: CheckoutState::Open,
            client: None,
            authorization: None,
            seal: None,
            replaced_nonce: None,
            sends: 0,
            wrong_tries: 0,
        });
    }

    /// What the model expects of a hold: `Ok(true)` a new hold, `Ok(false)` the same hold
    /// again, `Err(code)` a refusal or decline.
    fn expected_hold(&self, index: usize, client: usize) -> Result<bool, &'static str> {
        let checkout = &self.checkouts[index];
        let holder = &self.clients[client];
        let now_s = self.now_s;
        if checkout.state == CheckoutState::Held && checkout.client == Some(client) {
            return Ok(false);
        }
        let held_now = self
            .checkouts
            .iter()
            .filter(|c| c.state == CheckoutState::Held && c.client == Some(client))
            .filter(|c| c.expires_at_s > now_s)
            .count() as i64;
        if checkout.client.is_some_and(|owner| owner != client) {
            Err(refusal_code(CheckoutRefusal::OtherClient))
        } else if checkout.state != CheckoutState::Open {
            Err(refusal_code(CheckoutRefusal::WrongState))
        } else if now_s >= checkout.expires_at_s {
            Err(refusal_code(CheckoutRefusal::Expired))
        } else if holder.stopped(now_s) {
            Err(Decline::Blocked.code())
        } else if holder.record.currency != checkout.currency {
            Err(Decline::CurrencyMismatch.code())
        } else if held_now >= CLIENT_HELD_CHECKOUTS_MAX {
            Err(refusal_code(CheckoutRefusal::TooManyHeld))
        } else if holder.available() < checkout.amount {
            Err(Decline::InsufficientFunds.code())
        } else {
            Ok(true)
        }
    }

    async fn hold(&mut self, checkout: Pick, client: Pick, context: &str) {
        let Some(index) = checkout.of_live(self.checkouts.len(), |index| {
            self.checkouts[index].state == CheckoutState::Open
        }) else {
            return;
        };
        let currency = self.checkouts[index].currency;
        let client = client
            .of_live(self.clients.len(), |index| {
                self.clients[index].record.currency == currency
            })
            .expect("clients");
        self.hold_by(index, client, context).await;
    }

    async fn hold_by(&mut self, index: usize, client: usize, context: &str) {
        let expected = self.expected_hold(index, client);
        let n = self.next();
        let c = &self.checkouts[index];
        let outcome = self
            .store
            .hold_checkout(HoldCheckout {
                checkout_id: c.id,
                client_id: self.clients[client].record.id,
                number_fingerprint: bytes32(1, n),
                details_fingerprint: bytes32(2, n),
                last_four: format!("{:04}", n % 10_000),
                expiry: Expiry::of_instant(c.expires_at_s),
                held_max: CLIENT_HELD_CHECKOUTS_MAX,
                now_s: self.now_s,
            })
            .await
            .expect("hold a checkout");
        self.touch(checkout_subject(c.id), Some(0));
        let view = match (outcome, expected) {
            (HoldOutcome::Held(view), Ok(true)) => view,
            (HoldOutcome::Held(view), Ok(false)) => {
                assert_eq!(view.state, CheckoutState::Held, "{context}");
                return;
            }
            (HoldOutcome::Declined(decline), Err(code)) if decline.code() == code => return,
            (HoldOutcome::Refused(refusal), Err(code)) if refusal.code() == code => return,
            (outcome, expected) => {
                let found = match outcome {
                    HoldOutcome::Held(_) => "held",
                    HoldOutcome::Declined(decline) => decline.code(),
                    HoldOutcome::Refused(refusal) => refusal.code(),
                };
                panic!("{context}: hold answered {found}, the model expected {expected:?}")
            }
        };
        let authorization_id = view
            .authorization_id
            .expect("a held checkout's authorization");
        let merchant = self.checkouts[index].merchant;
        let stored = self
            .store
            .authorization(self.merchants[merchant].record.id, authorization_id)
            .await
            .unwrap()
            .expect("the hold's authorization");
        let (amount, code) = (view.amount, view.currency.clone());
        self.clients[client].held += amount;
        let payee = view.payee_account_id.expect("a held checkout's payee");
        self.merchants[merchant].accounts.insert(code, payee);
        self.authorizations.push(Authorization {
            id: authorization_id,
            merchant,
            client,
            number_id: stored.number_id,
            currency: self.checkouts[index].currency,
            amount,
            captured: 0,
            refunded: 0,
            state: AuthorizationState::Authorized,
            hold_expires_at_s: stored.hold_expires_at_s,
            of_checkout: true,
        });
        let checkout = &mut self.checkouts[index];
        checkout.state = CheckoutState::Held;
        checkout.client = Some(client);
        checkout.authorization = Some(self.authorizations.len() - 1);
        self.touch(number_subject(stored.number_id), Some(2));
    }

    /// Who acts on a checkout: another client if asked, else its client (or the first).
    fn actor(&self, checkout: usize, by_other: Option<Pick>) -> usize {
        match by_other {
            Some(pick) => pick.of(self.clients.len()).expect("clients"),
            None => self.checkouts[checkout].client.unwrap_or(0),
        }
    }

    /// The refusal the model expects before a checkout step by `client` looks at seals.
    fn checkout_step_refusal(&self, index: usize, client: usize) -> Option<CheckoutRefusal> {
        let checkout = &self.checkouts[index];
        if checkout.client.is_some_and(|owner| owner != client) {
            Some(CheckoutRefusal::OtherClient)
        } else if checkout.state != CheckoutState::Held {
            Some(CheckoutRefusal::WrongState)
        } else if self.now_s >= checkout.expires_at_s {
            Some(CheckoutRefusal::Expired)
        } else if self.clients[client].stopped(self.now_s) {
            Some(CheckoutRefusal::ClientStopped)
        } else {
            None
        }
    }

    async fn send_seal(&mut self, op: &Op, context: &str) {
        let Op::SendSeal {
            checkout,
            by_other,
            validity_s,
        } = op
        else {
            unreachable!()
        };
        let Some(index) = checkout.of_live(self.checkouts.len(), |index| {
            self.checkouts[index].state == CheckoutState::Held
        }) else {
            return;
        };
        let client = self.actor(index, *by_other);
        let now_s = self.now_s;
        let c = &self.checkouts[index];
        let expected = self.checkout_step_refusal(index, client).or_else(|| {
            if c.sends >= SEAL_SENDS_MAX {
                Some(CheckoutRefusal::NoSealsLeft)
            } else {
                c.seal
                    .map(|seal| seal.issued_at_s + SEAL_RESEND_COOLDOWN_S)
                    .filter(|until_s| now_s < *until_s)
                    .map(|until_s| CheckoutRefusal::SealCooldown { until_s })
            }
        });
        let nonce = self.next_nonce();
        let holder = &self.clients[client].record;
        let outcome = self
            .store
            .send_seal(SendSeal {
                checkout_id: self.checkouts[index].id,
                client_id: holder.id,
                seal: StoredSeal {
                    nonce: [nonce; 16],
                    digits: 8,
                    issued_at_s: now_s,
                    expires_at_s: now_s + validity_s,
                },
                message: NewMessage {
                    address: holder.phone.as_str().to_owned(),
                    sealed_body: format!("seal-{nonce}").into_bytes(),
                    medium: Medium::Sms,
                    expires_at_s: now_s + validity_s,
                },
                budget: MessageBudget::UNLIMITED,
                now_s,
            })
            .await
            .expect("send a seal");
        let subject = checkout_subject(self.checkouts[index].id);
        match (outcome, expected) {
            (SendOutcome::Sent(view), None) => {
                let c = &mut self.checkouts[index];
                c.replaced_nonce = c.seal.map(|seal| seal.nonce);
                c.seal = Some(Seal {
                    nonce,
                    issued_at_s: now_s,
                    expires_at_s: now_s + validity_s,
                });
                c.sends += 1;
                assert_eq!(view.seal_sends, c.sends, "{context}");
                self.touch(subject, Some(1));
            }
            (SendOutcome::Refused(refusal), Some(expected)) if refusal == expected => {
                self.touch(subject, Some(0));
            }
            (SendOutcome::Sent(_), expected) => {
                panic!("{context}: a seal was sent, the model expected {expected:?}")
            }
            (SendOutcome::Refused(refusal), expected) => {
                panic!("{context}: refused {refusal:?}, the model expected {expected:?}")
            }
        }
    }

    async fn type_seal(&mut self, op: &Op, context: &str) {
        let Op::TypeSeal {
            checkout,
            typed,
            by_other,
        } = op
        else {
            unreachable!()
        };
        let Some(index) = checkout.of_live(self.checkouts.len(), |index| {
            let c = &self.checkouts[index];
            c.state == CheckoutState::Held && c.seal.is_some()
        }) else {
            return;
        };
        let client = self.actor(index, *by_other);
        let c = &self.checkouts[index];
        let nonce = match typed {
            Typed::Right => c.seal.map_or(0, |seal| seal.nonce),
            Typed::Stale => c.replaced_nonce.unwrap_or(0),
            Typed::Wrong => 0,
        };
        let refusal = self.checkout_step_refusal(index, client).or(match c.seal {
            None => Some(CheckoutRefusal::NoLiveSeal),
            Some(_) => None,
        });
        let seal_expired = c.seal.is_some_and(|seal| self.now_s >= seal.expires_at_s);
        let right = *typed == Typed::Right;
        let outcome = self
            .store
            .type_seal(TypedSeal {
                public_id: c.public_id.clone(),
                session_token_hash: self.clients[client].session,
                check: Box::new(move |_, live| nonce != 0 && live.nonce == [nonce; 16]),
                now_s: self.now_s,
            })
            .await
            .expect("type a seal");
        let subject = checkout_subject(c.id);
        match (outcome, refusal) {
            (SealOutcome::Refused(found), Some(expected)) if found == expected => {
                self.touch(subject, Some(0));
            }
            (SealOutcome::Expired, None) if seal_expired => self.touch(subject, Some(0)),
            (SealOutcome::Paid(view, _), None) if right && !seal_expired => {
                assert_eq!(view.state, CheckoutState::Paid, "{context}");
                self.reset_failures(client);
                self.end_checkout(index, CheckoutState::Paid);
            }
            (SealOutcome::Wrong { tries_left, paused }, None) if !right && !seal_expired => {
                let c = &mut self.checkouts[index];
                c.wrong_tries += 1;
                assert!(
                    c.wrong_tries < SEAL_TRIES_MAX,
                    "{context}: a third wrong seal"
                );
                assert_eq!(tries_left, SEAL_TRIES_MAX - c.wrong_tries, "{context}");
                let pause = self.count_failure(client);
                World::check_paused(paused, pause, context);
                self.touch(subject, Some(1));
            }
            (SealOutcome::Failed { view, paused }, None) if !right && !seal_expired => {
                self.checkouts[index].wrong_tries += 1;
                assert_eq!(
                    self.checkouts[index].wrong_tries, SEAL_TRIES_MAX,
                    "{context}: failed before the third wrong seal"
                );
                assert_eq!(view.state, CheckoutState::Failed, "{context}");
                let pause = self.count_failure(client);
                World::check_paused(paused, pause, context);
                self.end_checkout(index, CheckoutState::Failed);
            }
            (outcome, refusal) => {
                let found = match outcome {
                    SealOutcome::Paid(..) => "paid".to_owned(),
                    SealOutcome::Wrong { .. } => "wrong".to_owned(),
                    SealOutcome::Failed { .. } => "failed".to_owned(),
                    SealOutcome::Expired => "expired".to_owned(),
                    SealOutcome::Refused(refusal) => format!("{refusal:?}"),
                };
                panic!(
                    "{context}: the seal was judged {found}; the model expected refusal \
                     {refusal:?}, right {right}, seal expired {seal_expired}"
                )
            }
        }
    }

    /// A client refuses to pay: an open or held checkout not run out is canceled by
    /// them (a held one by its own client only), its hold released.
    async fn cancel(&mut self, checkout: Pick, by_other: Option<Pick>, context: &str) {
        let Some(index) = checkout.of_live(self.checkouts.len(), |index| {
            !self.checkouts[index].state.is_final()
        }) else {
            return;
        };
        let client = self.actor(index, by_other);
        let c = &self.checkouts[index];
        let expected = if c.client.is_some_and(|owner| owner != client) {
            Some(CheckoutRefusal::OtherClient)
        } else if c.state.is_final() {
            Some(CheckoutRefusal::WrongState)
        } else if self.now_s >= c.expires_at_s {
            Some(CheckoutRefusal::Expired)
        } else {
            None
        };
        let outcome = self
            .store
            .cancel_checkout(CancelCheckout {
                public_id: c.public_id.clone(),
                client_id: self.clients[client].record.id,
                now_s: self.now_s,
            })
            .await
            .expect("cancel a checkout");
        let subject = checkout_subject(c.id);
        match (outcome, expected) {
            (CancelOutcome::Refused(found), Some(expected)) if found == expected => {
                self.touch(subject, Some(0));
            }
            (CancelOutcome::Canceled(view), None) => {
                assert_eq!(view.state, CheckoutState::Canceled, "{context}");
                let c = &mut self.checkouts[index];
                c.state = CheckoutState::Canceled;
                c.client = Some(client);
                c.seal = None;
                self.touch(subject, Some(1));
                if let Some(authorization) = self.checkouts[index].authorization {
                    self.settle(authorization, AuthorizationState::Voided, 0);
                    let number = number_subject(self.authorizations[authorization].number_id);
                    self.touch(number, Some(1));
                }
            }
            (CancelOutcome::Canceled(_), expected) => {
                panic!("{context}: canceled, the model expected {expected:?}")
            }
            (CancelOutcome::Refused(found), expected) => {
                panic!("{context}: cancel refused {found:?}, the model expected {expected:?}")
            }
        }
    }

    /// A held checkout is paid (its hold captured) or failed (its hold released).
    fn end_checkout(&mut self, index: usize, state: CheckoutState) {
        let c = &mut self.checkouts[index];
        assert_eq!(c.state, CheckoutState::Held);
        c.state = state;
        c.seal = None;
        let (amount, subject) = (c.amount, checkout_subject(c.id));
        let authorization = c.authorization.expect("a held checkout's authorization");
        if state == CheckoutState::Paid {
            self.settle(authorization, AuthorizationState::Captured, amount);
        } else {
            self.settle(authorization, AuthorizationState::Voided, 0);
        }
        self.touch(subject, Some(2));
        let number = number_subject(self.authorizations[authorization].number_id);
        self.touch(number, Some(1));
    }

    // -----------------------------------------------------------------------------------
    // Certificates and clearing
    // -----------------------------------------------------------------------------------

    async fn record_certificate(&mut self, op: &Op) {
        let Op::RecordCertificate {
            holder,
            starts_in_s,
            lifetime_s,
        } = op
        else {
            unreachable!()
        };
        let client = holder.map(|pick| pick.of(self.clients.len()).expect("clients"));
        self.record_certificate_of(client, *starts_in_s, *lifetime_s)
            .await;
    }

    /// Records a holder certificate of `client`, or a disposable one.
    async fn record_certificate_of(
        &mut self,
        client: Option<usize>,
        starts_in_s: i64,
        lifetime_s: i64,
    ) {
        let n = self.next();
        let serial = format!("{n:06x}");
        let not_before_s = self.now_s + starts_in_s;
        let certificate = NewCertificate {
            serial: serial.clone(),
            kind: if client.is_some() {
                CertificateKind::Holder
            } else {
                CertificateKind::Disposable
            },
            client_id: client.map(|index| self.clients[index].record.id),
            key_label: Some(format!("key-{serial}")),
            der: serial.as_bytes().to_vec(),
            not_before_s,
            not_after_s: not_before_s + lifetime_s,
            names_serial: None,
            now_s: self.now_s,
        };
        self.store
            .record_certificate(certificate)
            .await
            .expect("record a certificate");
        self.touch(certificate_subject(&serial), Some(1));
        self.certificates.push(Certificate {
            serial,
            disposable: client.is_none(),
            not_before_s,
            not_after_s: not_before_s + lifetime_s,
            used_at_s: None,
            revoked_at_s: None,
            reason: None,
        });
    }

    async fn use_certificate(&mut self, certificate: Pick, context: &str) {
        let Some(index) = certificate.of_live(self.certificates.len(), |index| {
            self.certificates[index].disposable
        }) else {
            return;
        };
        let now_s = self.now_s;
        let c = &mut self.certificates[index];
        let expected = if !c.disposable {
            "not_disposable"
        } else if c.used_at_s.is_some() {
            "already_used"
        } else if c.revoked_at_s.is_some() {
            "revoked"
        } else if now_s < c.not_before_s {
            "not_yet_valid"
        } else if now_s > c.not_after_s {
            "expired"
        } else {
            "granted"
        };
        let found = match self.store.use_certificate(&c.serial, now_s).await.unwrap() {
            UseOutcome::Granted(_) => "granted",
            UseOutcome::AlreadyUsed => "already_used",
            UseOutcome::Expired => "expired",
            UseOutcome::NotYetValid => "not_yet_valid",
            UseOutcome::Revoked => "revoked",
            UseOutcome::NotDisposable => "not_disposable",
            UseOutcome::Unknown => "unknown",
        };
        assert_eq!(found, expected, "{context}: a certificate's use");
        let granted = found == "granted";
        if granted {
            c.used_at_s = Some(now_s);
            c.revoked_at_s = Some(now_s + 1);
            c.reason = Some(REVOKED_AFTER_USE);
        }
        let subject = certificate_subject(&c.serial);
        self.touch(subject, Some(usize::from(granted)));
    }

    async fn revoke_certificate(&mut self, certificate: Pick, reason: u8, context: &str) {
        let Some(index) = certificate.of_live(self.certificates.len(), |index| {
            self.certificates[index].revoked_at_s.is_none()
        }) else {
            return;
        };
        let now_s = self.now_s;
        let c = &mut self.certificates[index];
        let outcome = self
            .store
            .revoke_certificate(&c.serial, reason, ActedBy::Admin, now_s)
            .await
            .expect("revoke a certificate");
        let revoked = match outcome {
            RevokeOutcome::Revoked(record) => {
                assert!(c.revoked_at_s.is_none(), "{context}: revoked twice");
                assert_eq!(record.revoked_at_s, Some(now_s), "{context}");
                c.revoked_at_s = Some(now_s);
                c.reason = Some(reason);
                true
            }
            RevokeOutcome::AlreadyRevoked(record) => {
                assert!(
                    c.revoked_at_s.is_some(),
                    "{context}: not revoked, yet already"
                );
                assert_eq!(
                    record.revocation_reason, c.reason,
                    "{context}: the first stands"
                );
                false
            }
            RevokeOutcome::Unknown => panic!("{context}: a recorded certificate is unknown"),
        };
        let subject = certificate_subject(&c.serial);
        self.touch(subject, Some(usize::from(revoked)));
    }

    async fn close_clearing(&mut self, euro: bool, context: &str) {
        let currency = currency(euro);
        let code = currency.code().to_owned();
        let owed = |bank: bool| -> Vec<(i64, i64)> {
            let mut owed: Vec<(i64, i64)> = self
                .merchants
                .iter()
                .filter(|m| m.has_bank == bank)
                .map(|m| (m.record.id, m.balances.get(&code).copied().unwrap_or(0)))
                .filter(|(_, balance)| *balance > 0)
                .collect();
            owed.sort_unstable();
            owed
        };
        let (payable, waiting) = (owed(true), owed(false));
        let writer: SettlementWriter = Arc::new(|draft: &ClearingDraft<'_>| {
            Ok(format!("{} {}\n", draft.message_id, draft.lines.len()))
        });
        let n = self.next();
        let outcome = self
            .store
            .close_clearing_batch(CloseClearing {
                currency,
                message_id: format!("msg-{n}"),
                write_file: writer,
                by: ActedBy::Admin,
                now_s: self.now_s,
            })
            .await
            .expect("close a clearing batch");
        let (paid, skipped) = match outcome {
            ClearingOutcome::Closed {
                batch,
                payouts,
                skipped,
            } => {
                self.touch(clearing_subject(batch.id), Some(1));
                let paid: Vec<(i64, i64, i64)> = payouts
                    .iter()
                    .map(|p| (p.merchant_id, p.amount, p.account_id))
                    .collect();
                (paid, skipped)
            }
            ClearingOutcome::NothingToPay { skipped } => (Vec::new(), skipped),
            ClearingOutcome::Unwritable(error) => panic!("{context}: unwritable: {error:?}"),
        };
        let mut paid_to: Vec<(i64, i64)> = paid.iter().map(|(m, a, _)| (*m, *a)).collect();
        paid_to.sort_unstable();
        assert_eq!(paid_to, payable, "{context}: the payouts");
        let mut skipped_to: Vec<(i64, i64)> =
            skipped.iter().map(|s| (s.merchant_id, s.balance)).collect();
        skipped_to.sort_unstable();
        assert_eq!(skipped_to, waiting, "{context}: the merchants left waiting");
        for (merchant_id, _, account_id) in paid {
            let merchant = self
                .merchants
                .iter_mut()
                .find(|m| m.record.id == merchant_id)
                .expect("a paid merchant is known");
            merchant.balances.insert(code.clone(), 0);
            merchant.accounts.insert(code.clone(), account_id);
        }
    }

    // -----------------------------------------------------------------------------------
    // Invariants
    // -----------------------------------------------------------------------------------

    /// After every step: the ledger's report, every figure and state of the model, and
    /// the chains of the subjects the step touched.
    pub async fn check(&mut self, context: &str) {
        let report = self.store.check_ledger().await.expect("check the ledger");
        assert!(report.is_sound(), "{context}: {report:?}");
        self.check_parties(context).await;
        self.check_lifecycles(context).await;
        for (subject, added) in std::mem::take(&mut self.touched) {
            self.check_chain(&subject, added, context).await;
        }
    }

    async fn check_parties(&self, context: &str) {
        for client in &self.clients {
            let account = self
                .store
                .account(client.record.account_id)
                .await
                .unwrap()
                .expect("a client's account");
            assert_eq!(
                (account.balance, account.held),
                (client.balance, client.held),
                "{context}: the account of client {}",
                client.record.id
            );
            let record = self.store.client(client.record.id).await.unwrap().unwrap();
            assert_eq!(
                (record.blocked, record.paused_until_s),
                (client.blocked, client.paused_until_s),
                "{context}: client {}",
                client.record.id
            );
        }
        self.check_numbers(context).await;
        for merchant in &self.merchants {
            for (code, account_id) in &merchant.accounts {
                let account = self.store.account(*account_id).await.unwrap().unwrap();
                let expected = merchant.balances.get(code).copied().unwrap_or(0);
                assert_eq!(
                    account.balance, expected,
                    "{context}: merchant {} in {code}",
                    merchant.record.id
                );
            }
        }
    }

    /// Every number the model issued: its state and what of it is used, as the model
    /// counted them.
    async fn check_numbers(&self, context: &str) {
        let mut stored = HashMap::new();
        for client in &self.clients {
            let numbers = self
                .store
                .client_numbers(client.record.id, LIST_LIMIT)
                .await
                .unwrap();
            stored.extend(numbers.into_iter().map(|number| (number.id, number)));
        }
        for card in &self.cards {
            let number = stored.get(&card.number_id).expect("an issued number");
            assert_eq!(
                (
                    number.client_id,
                    number.policy,
                    number.state,
                    number.uses_count,
                    number.amount_used,
                    number.locked_merchant
                ),
                (
                    self.clients[card.client].record.id,
                    card.policy,
                    card.state,
                    card.uses,
                    card.amount_used,
                    card.locked_merchant
                ),
                "{context}: number {}",
                card.number_id
            );
        }
    }

    async fn check_lifecycles(&self, context: &str) {
        for a in &self.authorizations {
            let merchant_id = self.merchants[a.merchant].record.id;
            let view = self
                .store
                .authorization(merchant_id, a.id)
                .await
                .unwrap()
                .expect("an authorization");
            assert_eq!(
                (view.state, view.captured, view.refunded),
                (a.state, a.captured, a.refunded),
                "{context}: authorization {}",
                a.id
            );
        }
        for c in &self.checkouts {
            let view = self.store.checkout(&c.public_id).await.unwrap().unwrap();
            let client_id = c.client.map(|index| self.clients[index].record.id);
            let authorization_id = c.authorization.map(|index| self.authorizations[index].id);
            assert_eq!(
                (view.state, view.client_id, view.authorization_id),
                (c.state, client_id, authorization_id),
                "{context}: checkout {}",
                c.id
            );
            assert_eq!(
                (view.seal_wrong_tries, view.seal_sends),
                (c.wrong_tries, c.sends),
                "{context}: checkout {}",
                c.id
            );
            if c.state == CheckoutState::Held {
                let live = view.seal.map(|seal| seal.nonce[0]);
                assert_eq!(live, c.seal.map(|seal| seal.nonce), "{context}: live seal");
            }
            // A canceled checkout holds nothing: its authorization (if any) is voided.
            if c.state == CheckoutState::Canceled
                && let Some(authorization_id) = view.authorization_id
            {
                let merchant_id = self.merchants[c.merchant].record.id;
                let stored = self
                    .store
                    .authorization(merchant_id, authorization_id)
                    .await;
                let state = stored
                    .unwrap()
                    .expect("a canceled hold's authorization")
                    .state;
                assert_eq!(state, AuthorizationState::Voided, "{context}: {}", c.id);
            }
        }
        for c in &self.certificates {
            let record = self.store.certificate(&c.serial).await.unwrap().unwrap();
            assert_eq!(
                (
                    record.used_at_s,
                    record.revoked_at_s,
                    record.revocation_reason
                ),
                (c.used_at_s, c.revoked_at_s, c.reason),
                "{context}: certificate {}",
                c.serial
            );
        }
    }

    /// A subject's chain: well formed, what it was before with `added` records after it
    /// (when the model knows how many).
    async fn check_chain(&mut self, subject: &str, added: Option<usize>, context: &str) {
        let records = self.store.evidence(subject).await.expect("read evidence");
        let hashes = checked_chain(subject, &records, context);
        let before = self.chains.get(subject).cloned().unwrap_or_default();
        assert!(
            hashes.starts_with(&before),
            "{context}: the chain of {subject} was rewritten"
        );
        if let Some(added) = added {
            assert_eq!(
                hashes.len(),
                before.len() + added,
                "{context}: records added to {subject}: {:?}",
                records.iter().map(|r| &r.kind).collect::<Vec<_>>()
            );
        }
        self.chains.insert(subject.to_owned(), hashes);
    }

    /// Every chain known, at the end of a sequence.
    pub async fn check_every_chain(&mut self, name: &str) {
        let subjects: Vec<String> = self.chains.keys().cloned().collect();
        for subject in subjects {
            self.check_chain(&subject, Some(0), &format!("{name}: at the end"))
                .await;
        }
    }
}

/// The hashes of a subject's records, after checking the chain: `seq` from 1, each
/// record canonical JSON whose hash is stored, naming its subject, type and `seq`, and
/// the hash of the one before.
fn checked_chain(subject: &str, records: &[EvidenceRecord], context: &str) -> Vec<[u8; 32]> {
    let mut previous: Option<[u8; 32]> = None;
    for (index, record) in records.iter().enumerate() {
        let label = format!("{context}: {subject} record {}", index + 1);
        let value: serde_json::Value = serde_json::from_slice(&record.record).expect("JSON");
        assert_eq!(
            sceau_log::canonical(&value).expect("canonical"),
            record.record,
            "{label}: not canonical"
        );
        let hash: [u8; 32] = Sha256::digest(&record.record).into();
        assert_eq!(hash, record.hash, "{label}: stored hash");
        assert_eq!(record.subject, subject, "{label}: subject");
        assert_eq!(record.seq, index as i64 + 1, "{label}: seq");
        assert_eq!(value["seq"], serde_json::json!(record.seq), "{label}");
        assert_eq!(value["v"], serde_json::json!(1), "{label}");
        assert_eq!(value["type"], serde_json::json!(record.kind), "{label}");
        assert_eq!(value["subject"], serde_json::json!(subject), "{label}");
        let prev = previous.map_or(serde_json::Value::Null, |hash| {
            serde_json::json!(hex(&hash))
        });
        assert_eq!(value["prev"], prev, "{label}: prev");
        previous = Some(hash);
    }
    records.iter().map(|record| record.hash).collect()
}
