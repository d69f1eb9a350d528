//! Several `sceau serve` processes on one PostgreSQL schema, driven over HTTP as a load
//! balancer would spread merchants' requests: single use and idempotency hold across
//! instances, and a lost database connection costs a 503, never an acknowledged payment.
//!
//! These tests run only when `SCEAU_TEST_DATABASE_URL` names a database (see
//! `sceau_store::postgres::scratch`); each works in a scratch schema of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{RequestBuilder, StatusCode};
use sceau_crypto::Keys;
use sceau_store::capabilities::*;
use sceau_store::postgres::scratch::{ScratchSchema, test_database_url};
use sceau_store::{PostgresSettings, PostgresStore};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Barrier;

const ADMIN_TOKEN: &str = "adm_postgres_tests_0123456789abcdef";
const PASSWORD: &str = "correct horse battery";
/// Bounds every HTTP exchange: a server that hangs fails the test instead of stalling it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

// -- servers ------------------------------------------------------------------------------

/// One `sceau serve` process. Killed and reaped on drop, so that a failing assertion leaves
/// no server behind; its standard error is printed then if the test is failing.
struct Instance {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Instance {
    /// Starts `sceau serve` on a free loopback port and waits for its
    /// `sceau listening on http://ADDR` line; its output is drained until it exits.
    async fn start(database_url: &str, directory: &Path) -> Instance {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sceau"));
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SCEAU_")) {
            command.env_remove(name);
        }
        let child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(directory)
            .env("SCEAU_DATABASE", database_url)
            .env("SCEAU_MASTER_KEY_FILE", directory.join("master.key"))
            .env("SCEAU_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("SCEAU_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sceau serve");
        let mut instance = Instance {
            child,
            base: String::new(),
            stderr: Arc::default(),
        };
        let mut stderr = instance.child.stderr.take().expect("stderr");
        let kept = Arc::clone(&instance.stderr);
        std::thread::spawn(move || {
            let mut buffer = [0_u8; 4096];
            while let Ok(read @ 1..) = stderr.read(&mut buffer) {
                kept.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        let stdout = instance.child.stdout.take().expect("stdout");
        let (listening, address) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut listening = Some(listening);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(base) = line.strip_prefix("sceau listening on ")
                    && let Some(listening) = listening.take()
                {
                    let _ = listening.send(base.trim().to_owned());
                }
            }
        });
        match tokio::time::timeout(STARTUP_TIMEOUT, address).await {
            Ok(Ok(base)) => instance.base = base,
            _ => panic!(
                "sceau serve did not start:\n{}",
                instance.stderr.lock().unwrap()
            ),
        }
        instance
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- standard error of sceau serve at {} ---\n{}",
                self.base,
                self.stderr.lock().unwrap()
            );
        }
    }
}

/// Servers sharing one scratch schema and one master key (both needed: the number and
/// request fingerprints are keyed), and an HTTP client to drive them.
struct Cluster {
    // Fields drop in order: the servers stop before their schema is dropped.
    instances: Vec<Instance>,
    http: reqwest::Client,
    keys: Keys,
    schema: ScratchSchema,
    _directory: tempfile::TempDir,
}

/// An enrolled client.
#[derive(Clone)]
struct Client {
    id: i64,
    login: String,
    phone: String,
}

/// An enrolled merchant and its API key.
#[derive(Clone)]
struct Merchant {
    id: i64,
    key: String,
}

/// A card as the client reads it on the phone.
#[derive(Clone)]
struct Card {
    number: String,
    month: u8,
    year: u16,
    code: String,
}

impl Card {
    /// The body of `POST /v1/authorizations` for this card.
    fn body(&self, amount: &str, reference: &str) -> Value {
        json!({
            "number": self.number, "expiry_month": self.month, "expiry_year": self.year,
            "security_code": self.code, "amount": amount, "currency": "EUR",
            "reference": reference,
        })
    }
}

impl Cluster {
    /// A fresh scratch schema, a master key written before any server starts (so that they
    /// all read the same one), and `count` servers started together.
    async fn start(database_url: &str, count: usize) -> Cluster {
        let schema = ScratchSchema::create(database_url)
            .await
            .expect("create a scratch schema");
        let directory = tempfile::tempdir().expect("temporary directory");
        let keys = Keys::load_or_create(&directory.path().join("master.key")).expect("master key");
        let instances = futures_util::future::join_all(
            (0..count).map(|_| Instance::start(&schema.url, directory.path())),
        )
        .await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("HTTP client");
        Cluster {
            instances,
            http,
            keys,
            schema,
            _directory: directory,
        }
    }

    /// A store handle of the test's own on the cluster's schema.
    async fn store(&self) -> PostgresStore {
        let settings = PostgresSettings {
            lanes: 1,
            readers: 2,
            ..PostgresSettings::default()
        };
        PostgresStore::open(&self.schema.url, settings)
            .await
            .expect("open the store")
    }

    fn instance(&self, index: usize) -> &Instance {
        &self.instances[index % self.instances.len()]
    }

    async fn admin_post(&self, instance: usize, path: &str, body: Value) -> Value {
        let reply = send(
            self.http
                .post(self.instance(instance).url(path))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.text);
        reply.json()
    }

    /// Enrols client number `index` (below 100), with an account in EUR and no credit.
    async fn enroll_client(&self, index: usize, opening_balance: &str) -> Client {
        let (login, phone) = (format!("client-{index}"), format!("+336123456{index:02}"));
        let body = json!({
            "login": login, "display_name": login, "password": PASSWORD, "phone": phone,
            "currency": "EUR", "opening_balance": opening_balance, "credit_limit": "0",
        });
        let client = self.admin_post(index, "/admin/v1/clients", body).await;
        Client {
            id: client["id"].as_i64().expect("client id"),
            login,
            phone,
        }
    }

    /// Enrols `count` merchants, spread over the instances.
    async fn enroll_merchants(&self, count: usize) -> Vec<Merchant> {
        futures_util::future::join_all((0..count).map(|index| async move {
            let body = json!({ "name": format!("Shop {index}") });
            let merchant = self.admin_post(index, "/admin/v1/merchants", body).await;
            Merchant {
                id: merchant["id"].as_i64().expect("merchant id"),
                key: merchant["api_key"].as_str().expect("API key").to_owned(),
            }
        }))
        .await
    }

    /// The client's (balance, held), as the admin API shows them.
    async fn figures(&self, instance: usize, client: &Client) -> (String, String) {
        let path = format!("/admin/v1/clients/{}", client.id);
        let reply = send(
            self.http
                .get(self.instance(instance).url(&path))
                .bearer_auth(ADMIN_TOKEN),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        let figure = |name: &str| body[name].as_str().expect(name).to_owned();
        (figure("balance"), figure("held"))
    }

    /// Figure 5: the client signs in on the web, asks for a number with `form` (the
    /// wallet's fields), and reads it in the SMS — taken from the outbox, where it was
    /// written with the number, and opened with the master key, as the phone would show it.
    async fn wallet_card(&self, client: &Client, form: &[(&str, &str)]) -> Card {
        let instance = self.instance(0);
        let login = send(
            self.http
                .post(instance.url("/login"))
                .form(&[("login", client.login.as_str()), ("password", PASSWORD)]),
        )
        .await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.text);
        let cookie = login.set_cookie.expect("a session cookie");
        let wallet = send(
            self.http
                .get(instance.url("/wallet"))
                .header("cookie", &cookie),
        )
        .await;
        let marker = "name=\"csrf\" value=\"";
        let at = wallet.text.find(marker).expect("a CSRF token") + marker.len();
        let csrf = &wallet.text[at..at + 64];
        let mut fields = vec![("csrf", csrf)];
        fields.extend_from_slice(form);
        let asked = send(
            self.http
                .post(instance.url("/wallet/numbers"))
                .header("cookie", &cookie)
                .form(&fields),
        )
        .await;
        assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text);
        let store = self.store().await;
        let messages = store
            .messages_to(&client.phone, 1)
            .await
            .expect("read the outbox");
        let message = messages.first().expect("an SMS to the client");
        let text = self
            .keys
            .unseal(&message.sealed_body, &message.address)
            .expect("open the SMS");
        let (number, month, year, code) = sceau_app::service::card_in_message(&text)
            .unwrap_or_else(|| panic!("no card in {:?}", *text));
        Card {
            number,
            month,
            year,
            code,
        }
    }

    /// `POST /v1/authorizations` on `instance`, with an `Idempotency-Key`.
    async fn authorize(
        &self,
        instance: usize,
        merchant: &Merchant,
        body: &Value,
        key: &str,
    ) -> Reply {
        send(
            self.http
                .post(self.instance(instance).url("/v1/authorizations"))
                .bearer_auth(&merchant.key)
                .header("Idempotency-Key", key)
                .json(body),
        )
        .await
    }

    /// Opens a fresh store handle and asserts that the ledger check finds nothing wrong
    /// (held = the pending authorizations, uses = the authorizations, sums zero...).
    async fn assert_ledger_sound(&self) {
        let report = self
            .store()
            .await
            .check_ledger()
            .await
            .expect("check the ledger");
        assert!(report.is_sound(), "ledger: {report:?}");
    }
}

// -- HTTP ---------------------------------------------------------------------------------

/// An HTTP answer, read whole.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    /// `Idempotent-Replayed: true` was present.
    replayed: bool,
    set_cookie: Option<String>,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {} {}", self.status, self.text))
    }

    /// The id of an authorization answered 201.
    fn authorization_id(&self) -> i64 {
        assert_eq!(self.status, StatusCode::CREATED, "{}", self.text);
        self.json()["id"].as_i64().expect("authorization id")
    }

    /// The code of an error answer, after checking its shape: exactly
    /// `{"error": {"code": "...", "message": "..."}}` with a message.
    fn error_code(&self) -> String {
        let body = self.json();
        let shape_ok = body.as_object().is_some_and(|o| o.len() == 1)
            && body["error"].as_object().is_some_and(|o| o.len() == 2)
            && body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty());
        assert!(shape_ok, "not an error body: {} {}", self.status, self.text);
        body["error"]["code"].as_str().expect("a code").to_owned()
    }

    /// Asserts the answer is the error `code` with `status`.
    #[track_caller]
    fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "{}",
            self.text
        );
    }
}

async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("an HTTP answer");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let set_cookie = header("set-cookie").and_then(|c| c.split(';').next().map(str::to_owned));
    Reply {
        status: response.status(),
        replayed,
        set_cookie,
        text: response.text().await.expect("a readable body"),
    }
}

// -- database connections -----------------------------------------------------------------

/// The local ports of the TCP connections that the processes `pids` hold to
/// `database_port`, read from Linux's /proc. Every sceau connection is called `sceau` in
/// `pg_stat_activity`; the ports tell this test's servers from other tests and other
/// programs using the same database.
fn database_client_ports(pids: &[u32], database_port: u16) -> Vec<i32> {
    let mut sockets = BTreeSet::new();
    for pid in pids {
        let Ok(descriptors) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for descriptor in descriptors.flatten() {
            let Ok(target) = std::fs::read_link(descriptor.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                sockets.insert(inode.to_owned());
            }
        }
    }
    let port = |address: &str| {
        let hex = address.rsplit(':').next()?;
        u16::from_str_radix(hex, 16).ok()
    };
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9
                && sockets.contains(fields[9])
                && port(fields[2]) == Some(database_port)
                && let Some(local) = port(fields[1])
            {
                ports.push(i32::from(local));
            }
        }
    }
    ports
}

/// Terminates the PostgreSQL backends serving `pids`; returns how many it terminated.
async fn terminate_backends(
    killer: &tokio_postgres::Client,
    pids: &[u32],
    database_port: u16,
) -> usize {
    let ports = database_client_ports(pids, database_port);
    let rows = killer
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'sceau' AND datname = current_database() \
             AND client_port = ANY($1)",
            &[&ports],
        )
        .await
        .expect("terminate backends");
    rows.iter().filter(|row| row.get::<_, bool>(0)).count()
}

// -- tests --------------------------------------------------------------------------------

/// Single use holds across instances: 64 merchants try one one-use number at once, half
/// through each of two servers; exactly one is approved, the 63 others are declined
/// `already_used`, and the client's account holds exactly the one amount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_approve_a_one_use_number_once() {
    let Some(url) = test_database_url() else {
        return;
    };
    let cluster = Cluster::start(&url, 2).await;
    let client = cluster.enroll_client(0, "500.00").await;
    let merchants = cluster.enroll_merchants(64).await;
    let card = cluster
        .wallet_card(&client, &[("uses", "1"), ("merchant", "any")])
        .await;

    let cluster = Arc::new(cluster);
    let start = Arc::new(Barrier::new(merchants.len()));
    let tries = merchants.iter().enumerate().map(|(index, merchant)| {
        let (cluster, start, merchant) = (cluster.clone(), start.clone(), merchant.clone());
        let body = card.body("12.34", &format!("order-{index}"));
        tokio::spawn(async move {
            start.wait().await;
            let key = format!("order-{index}");
            (
                index,
                cluster.authorize(index, &merchant, &body, &key).await,
            )
        })
    });
    let replies: Vec<(usize, Reply)> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|joined| joined.expect("an authorization task"))
        .collect();

    let approved: Vec<&(usize, Reply)> = replies
        .iter()
        .filter(|(_, reply)| reply.status == StatusCode::CREATED)
        .collect();
    assert_eq!(approved.len(), 1, "one approval: {replies:#?}");
    for (_, reply) in replies
        .iter()
        .filter(|(_, r)| r.status != StatusCode::CREATED)
    {
        reply.assert_error(StatusCode::PAYMENT_REQUIRED, "already_used");
    }
    let (winner, authorization) = approved[0];
    let body = authorization.json();
    assert_eq!(
        (&body["amount"], &body["state"]),
        (&json!("12.34"), &json!("authorized"))
    );
    // The other instance sees it too.
    let path = format!("/v1/authorizations/{}", authorization.authorization_id());
    let read = send(
        cluster
            .http
            .get(cluster.instance(winner + 1).url(&path))
            .bearer_auth(&merchants[*winner].key),
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json()["id"], body["id"]);

    for instance in 0..2 {
        assert_eq!(
            cluster.figures(instance, &client).await,
            ("500.00".to_owned(), "12.34".to_owned()),
            "balance and held, seen from instance {instance}"
        );
    }
    cluster.assert_ledger_sound().await;
}

/// Idempotency holds across instances: one merchant sends one request with one
/// `Idempotency-Key` 16 times at once, alternating between two servers; it takes effect
/// once, and every answer is that one authorization, 15 of them marked as replays.
///
/// All 16 are 201, none `409 idempotency_key_in_flight`: every batch that authorizes on
/// the number first locks the client's account (`FOR UPDATE`), so the batches of both
/// instances take turns and each reads the key only after the other committed it; within
/// one batch, a later command sees the earlier one's row. `key_in_flight` is left to
/// *different* requests with one key, which lock different accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_idempotency() {
    let Some(url) = test_database_url() else {
        return;
    };
    let cluster = Cluster::start(&url, 2).await;
    let client = cluster.enroll_client(0, "500.00").await;
    let merchant = cluster.enroll_merchants(1).await.remove(0);
    let card = cluster
        .wallet_card(&client, &[("uses", "10"), ("merchant", "any")])
        .await;
    let body = card.body("25.00", "order-1");

    let cluster = Arc::new(cluster);
    let start = Arc::new(Barrier::new(16));
    let sends = (0..16).map(|index| {
        let (cluster, start, merchant, body) = (
            cluster.clone(),
            start.clone(),
            merchant.clone(),
            body.clone(),
        );
        tokio::spawn(async move {
            start.wait().await;
            cluster.authorize(index, &merchant, &body, "order-1").await
        })
    });
    let replies: Vec<Reply> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|joined| joined.expect("an authorization task"))
        .collect();

    for reply in &replies {
        assert_eq!(reply.status, StatusCode::CREATED, "{replies:#?}");
        assert_eq!(reply.text, replies[0].text, "one answer: {replies:#?}");
    }
    let first_answers = replies.iter().filter(|reply| !reply.replayed).count();
    assert_eq!(
        first_answers, 1,
        "one first answer, 15 replays: {replies:#?}"
    );
    let id = replies[0].authorization_id();

    for instance in 0..2 {
        assert_eq!(
            cluster.figures(instance, &client).await,
            ("500.00".to_owned(), "25.00".to_owned()),
            "one hold, seen from instance {instance}"
        );
    }
    let store = cluster.store().await;
    let numbers = store.client_numbers(client.id, 10).await.expect("numbers");
    assert_eq!(numbers.len(), 1);
    assert_eq!(numbers[0].uses_count, 1, "one use of the number");
    let authorization = store
        .authorization(merchant.id, id)
        .await
        .expect("read the authorization")
        .expect("the authorization exists");
    assert_eq!(authorization.amount, 2500);
    cluster.assert_ledger_sound().await;
}

/// What a load task learnt of one request.
struct Sent {
    key: String,
    body: Value,
    /// The load task that sent it: its merchant and its client (same index).
    task: usize,
    instance: usize,
    /// The authorization's id if the answer was 201; `None` for a 503.
    id: Option<i64>,
}

/// Lost connections cost a 503, never a lost acknowledgement: two servers take 1,200
/// authorizations of 1.00 (8 merchants, each paid 150 times, with unique keys, by a client
/// of its own on a multi-use number: distinct accounts, so that batches run several as one
/// wave) while their database connections are terminated 10 times, paced by the load's
/// progress so that the kills land during it, wherever in a batch. Every answer is 201 or
/// `503 store_unavailable`; once the servers have reconnected (by themselves), each 503'd
/// request sent again with its key is answered 201, a replay if it had committed. At the
/// end every acknowledged authorization exists, exactly one per key (each number's uses
/// and each client's hold count them), and the ledger is sound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_database_connections_give_503_and_lose_nothing_acknowledged() {
    const TASKS: usize = 8;
    const PER_TASK: usize = 150;
    const TOTAL: usize = TASKS * PER_TASK;
    const KILLS: usize = 10;
    const TRIES_MAX: usize = 100;
    let Some(url) = test_database_url() else {
        return;
    };
    let database_port = url
        .parse::<tokio_postgres::Config>()
        .expect("database URL")
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432);
    let cluster = Cluster::start(&url, 2).await;
    let merchants = cluster.enroll_merchants(TASKS).await;
    let mut clients = Vec::with_capacity(TASKS);
    let mut cards = Vec::with_capacity(TASKS);
    for task in 0..TASKS {
        let client = cluster.enroll_client(task, "10000.00").await;
        let form = [
            ("uses", "1000000"),
            ("merchant", "any"),
            ("validity_min", "1440"),
        ];
        cards.push(cluster.wallet_card(&client, &form).await);
        clients.push(client);
    }
    let pids: Vec<u32> = cluster.instances.iter().map(|i| i.child.id()).collect();
    let (killer, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect the killer");
    tokio::spawn(connection);

    let cluster = Arc::new(cluster);
    let (progress, mut progressed) = tokio::sync::watch::channel(0_usize);
    let progress = Arc::new(progress);
    let loads = (0..TASKS).map(|task| {
        let (cluster, merchant) = (cluster.clone(), merchants[task].clone());
        let (card, progress) = (cards[task].clone(), progress.clone());
        tokio::spawn(async move {
            let mut sent = Vec::with_capacity(PER_TASK);
            for n in 0..PER_TASK {
                let key = format!("load-{task}-{n}");
                let body = card.body("1.00", &key);
                let instance = task + n;
                let reply = cluster.authorize(instance, &merchant, &body, &key).await;
                let id = match reply.status {
                    StatusCode::CREATED => Some(reply.authorization_id()),
                    _ => {
                        reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
                        None
                    }
                };
                sent.push(Sent {
                    key,
                    body,
                    task,
                    instance,
                    id,
                });
                progress.send_modify(|done| *done += 1);
            }
            sent
        })
    });
    let loads = tokio::spawn(futures_util::future::join_all(loads));
    let mut terminated = 0;
    for round in 1..=KILLS {
        let threshold = round * TOTAL / (KILLS + 1);
        if progressed
            .wait_for(|done| *done >= threshold)
            .await
            .is_err()
        {
            break;
        }
        terminated += terminate_backends(&killer, &pids, database_port).await;
    }
    let mut sent: Vec<Sent> = Vec::with_capacity(TOTAL + 2);
    for load in loads.await.expect("the load") {
        sent.extend(load.expect("a load task"));
    }
    assert!(
        terminated > 0,
        "no connection of the servers was found to terminate"
    );
    let unavailable = sent.iter().filter(|s| s.id.is_none()).count();

    // The pools reconnect by themselves: each instance answers again within a few tries
    // (a connection killed while idle is found dead when next used: one more 503).
    let retry = async |request: &mut Sent, first_instance: usize| {
        for tries in 0..TRIES_MAX {
            let instance = first_instance + tries;
            let merchant = &merchants[request.task];
            let reply = cluster
                .authorize(instance, merchant, &request.body, &request.key)
                .await;
            if reply.status == StatusCode::CREATED {
                request.id = Some(reply.authorization_id());
                return reply.replayed;
            }
            reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} was never answered 201", request.key);
    };
    for instance in 0..2 {
        let key = format!("recovery-{instance}");
        let body = cards[0].body("1.00", &key);
        let mut probe = Sent {
            key,
            body,
            task: 0,
            instance,
            id: None,
        };
        retry(&mut probe, instance).await;
        sent.push(probe);
    }
    // Each 503'd request, sent again with its key (first to the other instance), is
    // answered 201: a replay if its batch had committed before the connection was lost.
    let mut committed_unacknowledged = 0;
    for request in sent.iter_mut().filter(|s| s.id.is_none()) {
        committed_unacknowledged += usize::from(retry(request, request.instance + 1).await);
    }

    // Exactly one authorization per key, each of them found, and nothing else held.
    let ids: BTreeMap<i64, &Sent> = sent.iter().map(|s| (s.id.unwrap(), s)).collect();
    assert_eq!(ids.len(), sent.len(), "two keys got the same authorization");
    let store = cluster.store().await;
    for (id, request) in &ids {
        let authorization = store
            .authorization(merchants[request.task].id, *id)
            .await
            .expect("read an authorization")
            .unwrap_or_else(|| panic!("authorization {id} ({}) is lost", request.key));
        assert_eq!(
            (authorization.amount, authorization.client_id),
            (100, clients[request.task].id)
        );
        assert_eq!(authorization.merchant_reference, request.key);
    }
    for (task, client) in clients.iter().enumerate() {
        let keys = sent.iter().filter(|s| s.task == task).count();
        let record = store
            .client(client.id)
            .await
            .expect("client")
            .expect("client");
        let account = store
            .account(record.account_id)
            .await
            .expect("account")
            .expect("account");
        let held = 100 * i64::try_from(keys).unwrap();
        assert_eq!(
            (account.balance, account.held),
            (1_000_000, held),
            "{}",
            client.login
        );
        let numbers = store.client_numbers(client.id, 10).await.expect("numbers");
        assert_eq!(numbers.len(), 1);
        assert_eq!(
            numbers[0].uses_count,
            u32::try_from(keys).unwrap(),
            "{}",
            client.login
        );
    }
    cluster.assert_ledger_sound().await;
    eprintln!(
        "{TOTAL} authorizations under {terminated} terminated connections: {unavailable} \
         answered 503, of which {committed_unacknowledged} had committed (replayed on retry)"
    );
}

/// Issue 23 (5): the README's PostgreSQL backup drill. `pg_dump` of the schema while a
/// server runs; the schema lost; `pg_restore`; a server started on the restored schema
/// (with the same master key) holds the payment acknowledged before the dump, the ledger
/// is sound, and it goes on taking payments.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pg_dump_restores_into_a_server_that_goes_on() {
    let Some(url) = test_database_url() else {
        return;
    };
    let mut cluster = Cluster::start(&url, 1).await;
    let client = cluster.enroll_client(0, "500.00").await;
    let shop = cluster.enroll_merchants(1).await.remove(0);
    let card = cluster
        .wallet_card(&client, &[("uses", "2"), ("merchant", "any")])
        .await;
    let paid = cluster
        .authorize(0, &shop, &card.body("12.34", "order-1"), "order-1")
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);

    // The dump, while the server runs (pg_dump reads one snapshot).
    let directory = tempfile::tempdir().unwrap();
    let dump = directory.path().join("sceau.dump");
    let schema = cluster.schema.name().to_owned();
    let tool = |program: &str, args: &[&str]| {
        let output = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("{program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    tool(
        "pg_dump",
        &[
            "--format=custom",
            &format!("--schema={schema}"),
            &format!("--file={}", dump.display()),
            &url,
        ],
    );
    // The database lost: the server stopped, the schema gone.
    cluster.instances.clear();
    cluster
        .schema
        .run(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    tool(
        "pg_restore",
        &[
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            &format!("--dbname={url}"),
            &dump.display().to_string(),
        ],
    );
    cluster
        .instances
        .push(Instance::start(&cluster.schema.url, cluster._directory.path()).await);
    assert_eq!(
        cluster.figures(0, &client).await,
        ("500.00".to_owned(), "12.34".to_owned()),
        "the hold acknowledged before the dump"
    );
    let read = send(
        cluster
            .http
            .get(
                cluster
                    .instance(0)
                    .url(&format!("/v1/authorizations/{}", paid.authorization_id())),
            )
            .bearer_auth(&shop.key),
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    cluster.assert_ledger_sound().await;
    // It goes on: the number's second use, and the same key answers the same payment.
    let again = cluster
        .authorize(0, &shop, &card.body("12.34", "order-1"), "order-1")
        .await;
    assert!(again.replayed, "{}", again.text);
    let second = cluster
        .authorize(0, &shop, &card.body("1.00", "order-2"), "order-2")
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    cluster.assert_ledger_sound().await;
}
