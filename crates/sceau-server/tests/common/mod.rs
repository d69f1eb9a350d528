//! The fixture of the HTTP tests: a real sceau server on `127.0.0.1:0` over a SQLite file
//! in a temporary directory, a manual clock, the development phone, and a client that
//! speaks to it as merchants, operators and browsers do.

#![allow(dead_code)]

pub mod notary;

pub mod browser;

pub mod email;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use sceau_crypto::Keys;
use sceau_server::clock::ManualClock;
use sceau_server::{AppState, MerchantCache, Running, Service, Settings};
use sceau_store::SqliteStore;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;

/// The instant every server starts at (2026-09-21T13:46:40Z).
pub const START_S: i64 = 1_790_000_000;
pub const MASTER_KEY: [u8; 32] = [7; 32];
pub const ADMIN_TOKEN: &str = "adm_integration_tests_0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";
pub const ISSUER: &str = "Test Bank";
pub const LOG_ORIGIN: &str = "test.example/log";
pub const NUMBER_VALIDITY_S: i64 = 900;
pub const HOLD_TTL_S: i64 = 7 * 86_400;
/// The default of `sceau serve`; no test sends a client more numbers than this.
pub const NUMBERS_PER_HOUR_MAX: u32 = 20;
/// Messages one client may be sent an hour: the default seals and the numbers above.
pub const CLIENT_SMS_PER_HOUR_MAX: u32 =
    sceau_domain::seal::CLIENT_SEALS_PER_HOUR_MAX as u32 + NUMBERS_PER_HOUR_MAX;
/// Distinct clients a merchant may have numbers sent to an hour: few, so that a test
/// reaches the limit.
pub const MERCHANT_CLIENTS_PER_HOUR_MAX: u32 = 3;

/// A running server and what a test needs to drive it.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub service: Service,
    pub clock: ManualClock,
    /// The routes the server sends by (the development phone, unless the test gave others).
    pub routing: Arc<sceau_server::dispatch::Routing>,
    running: Option<Running>,
    database: std::path::PathBuf,
    _directory: Option<tempfile::TempDir>,
}

/// An enrolled merchant and its API key.
#[derive(Debug, Clone)]
pub struct Merchant {
    pub id: i64,
    pub name: String,
    pub key: String,
}

/// An enrolled client.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: i64,
    pub login: String,
    pub phone: String,
}

/// A signed-in browser: its session cookie (`name=value`) and the wallet's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A card as the client reads it on their phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub number: String,
    pub month: u8,
    pub year: u16,
    pub code: String,
}

impl Card {
    /// The body of `POST /v1/authorizations` for this card.
    pub fn body(&self, amount: &str, currency: &str) -> Value {
        json!({
            "number": self.number, "expiry_month": self.month, "expiry_year": self.year,
            "security_code": self.code, "amount": amount, "currency": currency,
            "reference": "order-1",
        })
    }

    /// The same card with another security code.
    pub fn with_wrong_code(&self) -> Card {
        let code: u32 = self.code.parse().expect("security code");
        Card {
            code: format!("{:03}", (code + 1) % 1000),
            ..self.clone()
        }
    }

    /// The same card with another expiry month.
    pub fn with_wrong_expiry(&self) -> Card {
        Card {
            month: self.month % 12 + 1,
            ..self.clone()
        }
    }

    pub fn last_four(&self) -> &str {
        &self.number[12..]
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `id` of a created or read authorization.
    pub fn id(&self) -> i64 {
        self.json()["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id in {} {}", self.status, self.text))
    }
}

/// Asserts that `reply` is the error `code` with `status`, in exactly the shape
/// `{"error": {"code": ..., "message": ...}}`, with a non-empty message.
#[track_caller]
pub fn check_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "expected {status} {code}, got {} {}",
        reply.status,
        reply.text
    );
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "error without JSON content type: {:?} {}",
        reply.headers,
        reply.text
    );
    let body = reply.json();
    let object = body.as_object().expect("an object");
    assert_eq!(object.len(), 1, "only `error` at the top: {body}");
    let error = body["error"].as_object().expect("an `error` object");
    assert_eq!(error.len(), 2, "only code and message: {body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
}

/// Asserts a declined authorization: HTTP 402 with the decline's code.
#[track_caller]
pub fn check_decline(reply: &Reply, code: &str) {
    check_error(reply, 402, code);
}

/// Completes 15 digits with their Luhn check digit.
pub fn with_luhn_digit(fifteen: &str) -> String {
    assert_eq!(fifteen.len(), 15);
    let sum: u32 = fifteen
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    format!("{fifteen}{}", (10 - sum % 10) % 10)
}

/// The card in a phone message, read as the client would.
pub fn card_from_message(text: &str) -> Option<Card> {
    let (number, month, year, code) = sceau_server::service::card_in_message(text)?;
    Some(Card {
        number,
        month,
        year,
        code,
    })
}

fn unescape(text: &str) -> String {
    text.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

/// The messages of a `/phone` page, newest first: (message id, text).
pub fn messages_in_page(page: &str) -> Vec<(i64, String)> {
    let mut messages = Vec::new();
    let marker = "<li class=\"sms\" data-message-id=\"";
    let mut rest = page;
    while let Some(start) = rest.find(marker) {
        rest = &rest[start + marker.len()..];
        let id_end = rest.find('"').expect("end of the message id");
        let id = rest[..id_end].parse().expect("a numeric message id");
        let text_start = rest.find("<p>").expect("message text") + 3;
        let text_end = rest.find("</p>").expect("end of the message text");
        messages.push((id, unescape(&rest[text_start..text_end])));
        rest = &rest[text_end..];
    }
    messages
}

/// Runs `openssl args` in `directory`: whether it succeeded, and what it printed.
pub fn openssl(directory: &Path, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("openssl")
        .args(args)
        .current_dir(directory)
        .output()
        .expect("run openssl");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The white room of a server on `database`: keys and certificates beside it, created
/// at first start and opened on a restart.
pub fn white_room(database: &Path, now_s: i64) -> Arc<sceau_pki::Pki> {
    let directory = database.parent().expect("the database's directory");
    let keystore: Arc<dyn sceau_pki::Keystore> = Arc::new(
        sceau_pki::FileKeystore::open(
            &directory.join("keys"),
            Keys::from_master(&MASTER_KEY).keystore_secret(),
        )
        .expect("the keystore"),
    );
    Arc::new(
        sceau_pki::Pki::open_or_create(
            keystore,
            &directory.join("pki"),
            ISSUER,
            "1.2.3.4.1".parse().expect("an OID"),
            now_s,
        )
        .expect("the PKI"),
    )
}

impl Server {
    /// A fresh server on a fresh database.
    pub async fn start() -> Server {
        Server::start_fresh(|_| {}, |_| {}).await
    }

    /// A fresh server on a fresh database, its state changed by `configure` first.
    pub async fn start_with(configure: impl FnOnce(&mut AppState)) -> Server {
        Server::start_fresh(|_| {}, configure).await
    }

    /// A fresh server on a fresh database, with the settings `adjust` makes.
    pub async fn start_adjusted(adjust: impl FnOnce(&mut Settings)) -> Server {
        Server::start_fresh(adjust, |_| {}).await
    }

    async fn start_fresh(
        adjust: impl FnOnce(&mut Settings),
        configure: impl FnOnce(&mut AppState),
    ) -> Server {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("sceau.db");
        let clock = ManualClock::starting_at(START_S);
        let channels = sceau_server::dispatch::Channels::development();
        let mut server =
            Server::start_on_configured(&path, clock, channels, adjust, configure).await;
        server._directory = Some(directory);
        server
    }

    /// A fresh server on a fresh database that sends by `channels` (routes the test
    /// opened) and reads the time from `clock`.
    pub async fn start_with_channels(
        clock: ManualClock,
        channels: sceau_server::dispatch::Channels,
    ) -> Server {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("sceau.db");
        let mut server = Server::start_on_configured(&path, clock, channels, |_| {}, |_| {}).await;
        server._directory = Some(directory);
        server
    }

    /// A server on `database` (created if absent), built as `sceau serve` builds it.
    pub async fn start_on(database: &Path, clock: ManualClock) -> Server {
        let channels = sceau_server::dispatch::Channels::development();
        Server::start_on_configured(database, clock, channels, |_| {}, |_| {}).await
    }

    /// [`Server::start_on`], sending by `channels`, with the settings `adjust` makes and
    /// the state changed by `configure`.
    async fn start_on_configured(
        database: &Path,
        clock: ManualClock,
        channels: sceau_server::dispatch::Channels,
        adjust: impl FnOnce(&mut Settings),
        configure: impl FnOnce(&mut AppState),
    ) -> Server {
        let store = SqliteStore::open(database).expect("open the SQLite store");
        let archive_directory = database.with_extension("archive");
        let archive = sceau_store::sqlite::SqliteArchive::open(&store, &archive_directory)
            .expect("open the archive");
        let mut settings = Settings {
            bin_range: "499999".parse().expect("BIN range"),
            number_validity_s_default: NUMBER_VALIDITY_S,
            hold_ttl_s: HOLD_TTL_S,
            issuer_name: ISSUER.to_owned(),
            numbers_per_hour_max: NUMBERS_PER_HOUR_MAX,
            checkout_numbers_per_hour_max: NUMBERS_PER_HOUR_MAX,
            seal_digits: Default::default(),
            seal_validity_s: sceau_domain::seal::SEAL_VALIDITY_S_DEFAULT,
            checkout_validity_s: 900,
            client_held_checkouts_max: sceau_domain::seal::CLIENT_HELD_CHECKOUTS_MAX as u32,
            client_seals_per_hour_max: sceau_domain::seal::CLIENT_SEALS_PER_HOUR_MAX as u32,
            client_sms_per_hour_max: CLIENT_SMS_PER_HOUR_MAX,
            merchant_clients_per_hour_max: MERCHANT_CLIENTS_PER_HOUR_MAX,
            webhooks_to_private_networks: true,
            issuer_bank: Some(issuer_bank()),
            log_origin: LOG_ORIGIN.to_owned(),
            calls_offered: channels
                .routing
                .sms
                .iter()
                .any(|route| route.channel().places_calls()),
            retention: Default::default(),
        };
        adjust(&mut settings);
        let service = Service {
            store: Arc::new(store),
            keys: Arc::new(Keys::from_master(&MASTER_KEY)),
            clock: Arc::new(clock.clone()),
            settings: Arc::new(settings),
            outbox_ready: Arc::new(Notify::new()),
            webhooks_ready: Arc::new(Notify::new()),
            pki: Some(white_room(
                database,
                sceau_server::clock::Clock::now_s(&clock),
            )),
            receipts: Default::default(),
            notary: Some(Arc::new(sceau_app::notary::Notary::new(
                Arc::new(archive),
                Default::default(),
            ))),
        };
        let mut state = AppState {
            service: service.clone(),
            admin_token_hash: sceau_crypto::token_hash(ADMIN_TOKEN),
            merchant_cache: Arc::new(MerchantCache::default()),
            phone_simulator: true,
            secure_cookies: false,
            public_url: None,
            time_stamper: None,
            limits: sceau_server::edge::Limits::default(),
            uploads: Default::default(),
            channel_callbacks: Default::default(),
            routing: None,
            metrics_listen: None,
            tls: None,
        };
        configure(&mut state);
        let routing = channels.routing.clone();
        let running = sceau_server::start(state, channels, "127.0.0.1:0".parse().expect("address"))
            .await
            .expect("start the server");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Server {
            base: format!("http://{}", running.address),
            http,
            service,
            clock,
            routing,
            running: Some(running),
            database: database.to_path_buf(),
            _directory: None,
        }
    }

    /// Stops the server and lets go of its store.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    /// The SQLite database file the server runs on.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// The notary's archive directory (beside the database file).
    pub fn archive_directory(&self) -> std::path::PathBuf {
        self.database.with_extension("archive")
    }

    /// Until when the archive keeps the object of this SHA-256 (none when it holds none).
    pub fn archive_retention(&self, sha256: &[u8]) -> Option<i64> {
        let database = rusqlite::Connection::open_with_flags(
            &self.database,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the database to read");
        database
            .query_row(
                "SELECT retain_until FROM archive_objects WHERE sha256 = ?1",
                [sha256],
                |row| row.get(0),
            )
            .ok()
    }

    /// The SHA-256 (hex) of every content the archive holds bytes of: its files (an
    /// upload's temporary file included, by name) and the small objects kept in the
    /// database, sorted.
    pub fn archived_contents(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut pending = vec![self.archive_directory()];
        while let Some(directory) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    found.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        let database = rusqlite::Connection::open_with_flags(
            &self.database,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the database to read");
        let mut rows = database
            .prepare("SELECT sha256 FROM archive_contents")
            .expect("archive_contents");
        let in_rows = rows
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .expect("read archive_contents");
        found.extend(in_rows.map(|sha256| hex::encode(sha256.expect("a digest"))));
        found.sort();
        found
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("an HTTP answer");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        Reply {
            status,
            headers,
            text,
        }
    }

    // -- operators ------------------------------------------------------------------------

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn enroll_merchant(&self, name: &str) -> Merchant {
        let reply = self
            .admin(
                Method::POST,
                "/admin/v1/merchants",
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let body = reply.json();
        Merchant {
            id: body["id"].as_i64().expect("merchant id"),
            name: name.to_owned(),
            key: body["api_key"].as_str().expect("API key").to_owned(),
        }
    }

    /// Enrols a merchant paid out to `iban`/`bic` (as the admin API checks them): it and
    /// the enrolment's answer.
    pub async fn enroll_paid_merchant(
        &self,
        name: &str,
        iban: &str,
        bic: &str,
    ) -> (Merchant, Value) {
        let reply = self
            .admin(
                Method::POST,
                "/admin/v1/merchants",
                Some(json!({ "name": name, "iban": iban, "bic": bic })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let body = reply.json();
        let merchant = Merchant {
            id: body["id"].as_i64().expect("merchant id"),
            name: name.to_owned(),
            key: body["api_key"].as_str().expect("API key").to_owned(),
        };
        (merchant, body)
    }

    /// Enrols a client with an account in EUR, no credit.
    pub async fn enroll_client(&self, login: &str, phone: &str, opening_balance: &str) -> Client {
        let reply = self
            .admin(
                Method::POST,
                "/admin/v1/clients",
                Some(json!({
                    "login": login, "display_name": format!("Client {login}"), "password": PASSWORD,
                    "phone": phone, "currency": "EUR", "opening_balance": opening_balance,
                    "credit_limit": "0",
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        Client {
            id: reply.json()["id"].as_i64().expect("client id"),
            login: login.to_owned(),
            phone: phone.to_owned(),
        }
    }

    /// The client's (balance, held) as the admin API shows them.
    pub async fn figures(&self, client: &Client) -> (String, String) {
        let reply = self
            .admin(
                Method::GET,
                &format!("/admin/v1/clients/{}", client.id),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        (
            body["balance"].as_str().expect("balance").to_owned(),
            body["held"].as_str().expect("held").to_owned(),
        )
    }

    pub async fn assert_figures(&self, client: &Client, balance: &str, held: &str) {
        assert_eq!(
            self.figures(client).await,
            (balance.to_owned(), held.to_owned()),
            "balance and held of {}",
            client.login
        );
    }

    /// Asserts that the admin ledger check finds the ledger sound.
    pub async fn assert_ledger_sound(&self) {
        let reply = self
            .admin(Method::GET, "/admin/v1/ledger/check", None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["sound"], true, "ledger: {body}");
        assert_eq!(body["violations"], json!([]), "ledger: {body}");
    }

    // -- merchants ------------------------------------------------------------------------

    pub async fn merchant_post(
        &self,
        merchant: &Merchant,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url(path))
            .bearer_auth(&merchant.key)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request).await
    }

    /// Delivers the due webhooks (as the server's own task would) until none is due.
    pub async fn deliver_webhooks(&self) {
        let client = sceau_server::webhooks::http_client(true);
        for _ in 0..1_000 {
            let attempted = sceau_server::webhooks::deliver_once(&self.service, &client)
                .await
                .unwrap();
            if attempted == 0 {
                return;
            }
        }
        panic!("webhooks kept coming");
    }

    pub async fn merchant_get(&self, merchant: &Merchant, path: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(&merchant.key))
            .await
    }

    pub async fn authorize(
        &self,
        merchant: &Merchant,
        card: &Card,
        amount: &str,
        currency: &str,
    ) -> Reply {
        self.merchant_post(
            merchant,
            "/v1/authorizations",
            &card.body(amount, currency),
            None,
        )
        .await
    }

    /// `POST /v1/authorizations/{id}/{action}` with an optional JSON body.
    pub async fn act(
        &self,
        merchant: &Merchant,
        id: impl std::fmt::Display,
        action: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url(&format!("/v1/authorizations/{id}/{action}")))
            .bearer_auth(&merchant.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Figure 4: the merchant asks for a number for `client` (login or phone).
    pub async fn checkout_number(
        &self,
        merchant: &Merchant,
        client: &str,
        amount: &str,
        currency: &str,
    ) -> Reply {
        self.merchant_post(
            merchant,
            "/v1/numbers",
            &json!({ "client": client, "amount": amount, "currency": currency }),
            None,
        )
        .await
    }

    /// `client` pays `merchant` one cent with a number of their own (Figure 5), which the
    /// merchant captures and refunds: balances end as they were, one SMS was sent (the
    /// number), and from then on the merchant may have numbers sent to the client
    /// (Figure 4: only to clients who paid it or signed in on its checkouts).
    pub async fn introduce(&self, merchant: &Merchant, client: &Client) {
        let session = self.sign_in(&client.login).await;
        let card = self.any_card(&session, client).await;
        let paid = self.authorize(merchant, &card, "0.01", "EUR").await;
        assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
        let captured = self.act(merchant, paid.id(), "capture", None).await;
        assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
        let refund = json!({ "amount": "0.01", "currency": "EUR" });
        let refunded = self.act(merchant, paid.id(), "refunds", Some(refund)).await;
        assert_eq!(refunded.status, StatusCode::OK, "{}", refunded.text);
    }

    /// Figure 4 up to the phone: the number the client reads for this checkout.
    pub async fn checkout_card(&self, merchant: &Merchant, client: &Client, amount: &str) -> Card {
        let newest = self.newest_message_id(&client.phone).await;
        let reply = self
            .checkout_number(merchant, &client.login, amount, "EUR")
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        self.card_after(&client.phone, newest).await
    }

    // -- browsers and phones ----------------------------------------------------------------

    /// Signs in with the password form, checks the session cookie's attributes, and reads
    /// the CSRF token on the wallet page.
    pub async fn sign_in(&self, login: &str) -> Session {
        let reply = self
            .send(
                self.http
                    .post(self.url("/login"))
                    .form(&[("login", login), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        assert_eq!(reply.header("location"), Some("/wallet"));
        let set_cookie = reply.header("set-cookie").expect("a session cookie");
        let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
        assert!(attributes.contains(&"HttpOnly"), "{set_cookie}");
        assert!(attributes.contains(&"SameSite=Strict"), "{set_cookie}");
        assert!(attributes.contains(&"Path=/"), "{set_cookie}");
        let cookie = attributes[0].to_owned();
        assert!(cookie.starts_with("sceau_session="), "{set_cookie}");
        let wallet = self.page("/wallet", Some(&cookie)).await;
        assert_eq!(wallet.status, StatusCode::OK, "{}", wallet.text);
        let marker = "name=\"csrf\" value=\"";
        let at = wallet
            .text
            .find(marker)
            .expect("a CSRF token on the wallet")
            + marker.len();
        let end = wallet.text[at..].find('"').expect("end of the CSRF token") + at;
        let csrf = wallet.text[at..end].to_owned();
        assert_eq!(csrf.len(), 64, "{csrf}");
        Session { cookie, csrf }
    }

    /// GET a page, with a session cookie or without.
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = self.http.get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request).await
    }

    /// `POST /wallet/numbers` with this session's cookie and exactly `form`.
    pub async fn ask_number(&self, session: &Session, form: &[(&str, &str)]) -> Reply {
        self.send(
            self.http
                .post(self.url("/wallet/numbers"))
                .header("cookie", &session.cookie)
                .form(form),
        )
        .await
    }

    /// Figure 5 up to the phone: asks for a number on the wallet (with the session's CSRF
    /// token and `form`) and reads it on the phone.
    pub async fn wallet_card(
        &self,
        session: &Session,
        client: &Client,
        form: &[(&str, &str)],
    ) -> (Card, String) {
        let newest = self.newest_message_id(&client.phone).await;
        let mut fields = vec![("csrf", session.csrf.as_str())];
        fields.extend_from_slice(form);
        let reply = self.ask_number(session, &fields).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        assert_eq!(reply.header("location"), Some("/wallet?sent=1"));
        let text = self.message_after(&client.phone, newest).await;
        let card = card_from_message(&text).unwrap_or_else(|| panic!("no card in {text:?}"));
        (card, text)
    }

    /// A one-payment number for any merchant and any amount.
    pub async fn any_card(&self, session: &Session, client: &Client) -> Card {
        self.wallet_card(session, client, &[]).await.0
    }

    /// Hands what is pending in the outbox to the development phone, and waits until
    /// nothing is pending (the server's own dispatcher may have claimed some messages and
    /// be sending them).
    pub async fn deliver(&self) {
        for _ in 0..10_000 {
            // A message whose secret expired is never claimed: record it expired, as the
            // server's sweep would, so that it does not stay pending.
            self.service
                .store
                .expire_messages(self.service.now_s())
                .await
                .expect("expire the outbox");
            sceau_server::dispatch::dispatch_once(&self.service, &self.routing)
                .await
                .expect("dispatch the outbox");
            let pending = self
                .service
                .store
                .pending_messages(1)
                .await
                .expect("read the outbox");
            if pending.is_empty() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the outbox never emptied");
    }

    /// The phone's messages, newest first, as the phone simulator page shows them.
    pub async fn phone_messages(&self, phone: &str) -> Vec<(i64, String)> {
        let reply = self
            .send(self.http.get(self.url("/phone")).query(&[("to", phone)]))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        messages_in_page(&reply.text)
    }

    pub async fn newest_message_id(&self, phone: &str) -> i64 {
        self.phone_messages(phone)
            .await
            .first()
            .map_or(0, |(id, _)| *id)
    }

    /// Delivers the outbox and returns the one message newer than `after`.
    pub async fn message_after(&self, phone: &str, after: i64) -> String {
        self.deliver().await;
        let newer: Vec<(i64, String)> = self
            .phone_messages(phone)
            .await
            .into_iter()
            .filter(|(id, _)| *id > after)
            .collect();
        assert_eq!(newer.len(), 1, "one new message to {phone}: {newer:?}");
        newer
            .into_iter()
            .next()
            .map(|(_, text)| text)
            .unwrap_or_default()
    }

    pub async fn card_after(&self, phone: &str, after: i64) -> Card {
        let text = self.message_after(phone, after).await;
        card_from_message(&text).unwrap_or_else(|| panic!("no card in {text:?}"))
    }

    /// `GET /api/v1/me` with the session cookie.
    pub async fn me(&self, session: &Session) -> Value {
        let reply = self.page("/api/v1/me", Some(&session.cookie)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()
    }
}

// -- clearing ------------------------------------------------------------------------------

/// The issuer's own account, which pays the merchants in settlement files.
pub const ISSUER_IBAN: &str = "FR7630006000011234567890189";
pub const ISSUER_BIC: &str = "AGRIFRPP";

pub fn issuer_bank() -> sceau_store::BankDetails {
    sceau_store::BankDetails {
        iban: ISSUER_IBAN.parse().expect("the issuer's IBAN"),
        bic: ISSUER_BIC.parse().expect("the issuer's BIC"),
    }
}

// -- paying a checkout, as a browser and a phone do ------------------------------------

/// A browser on the payment page: its cookie and the page's CSRF token once signed in.
pub struct Payer {
    pub cookie: String,
    pub path: String,
}

pub fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF token in {page}"))
        + marker.len();
    let end = page[at..].find('"').unwrap() + at;
    page[at..end].to_owned()
}

/// Signs in on the payment page; the hold is placed on the way.
pub async fn sign_in_to_pay(server: &Server, checkout: &Value, login: &str) -> (Payer, Reply) {
    let url = checkout["url"].as_str().unwrap();
    let path = url
        .strip_prefix(&server.base)
        .expect("the payment link is on this server")
        .to_owned();
    let page = server.page(&path, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Sign in to pay"), "{}", page.text);
    let reply = server
        .send(
            server
                .http
                .post(server.url(&format!("{path}/sign-in")))
                .form(&[("login", login), ("password", PASSWORD)]),
        )
        .await;
    let cookie = reply
        .header("set-cookie")
        .map(|value| value.split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    (Payer { cookie, path }, reply)
}

impl Payer {
    pub async fn page(&self, server: &Server) -> Reply {
        server.page(&self.path, Some(&self.cookie)).await
    }

    /// The session's CSRF token (the same on every page of the session).
    pub async fn csrf(&self, server: &Server) -> String {
        csrf_in(&server.page("/wallet", Some(&self.cookie)).await.text)
    }

    pub async fn post(&self, server: &Server, action: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf(server).await;
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        server
            .send(
                server
                    .http
                    .post(server.url(&format!("{}/{action}", self.path)))
                    .header("cookie", &self.cookie)
                    .form(&form),
            )
            .await
    }
}

/// The seal in the newest message to `phone`, and that message.
pub async fn seal_on_phone(server: &Server, phone: &str, after: i64) -> (String, String) {
    let text = server.message_after(phone, after).await;
    let marker = "your seal is ";
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no seal in {text:?}"))
        + marker.len();
    let seal: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(seal.len(), 8, "{text}");
    (seal, text)
}
