//! The PostgreSQL backend: several sceau instances may share one database.
//!
//! Writes are batched as on SQLite (group commit): each instance runs a few *lanes*; a lane
//! takes every command waiting, runs them in one transaction and commits once. Lanes of
//! this and other instances run at the same time, so correctness comes from the database:
//!
//! * **Account locks, in one order.** Every command names the accounts it may touch (a
//!   number's, an authorization's two, a client's, a checkout's authorization's two, an
//!   enrolment's funding account); a batch first locks all of its accounts with
//!   `SELECT … ORDER BY id FOR NO KEY UPDATE`, ascending, before it changes anything. Numbers, authorizations and a client's counters are only written
//!   under their account's lock, so batches that share an account take turns and batches
//!   cannot wait for each other in a cycle. A batch with numbers asked for by merchants
//!   then locks those merchants' rows the same way (their distinct clients of the hour
//!   are counted under it).
//! * **Conditional updates and constraints** as on SQLite (version-guarded number usage,
//!   floors as `CHECK`s, unique live fingerprints and idempotency keys).
//! * **Retry** of a whole batch on a deadlock or serialization failure (a first-use insert
//!   racing with another instance), and a rerun with one savepoint per command when one
//!   command fails, so that each command still succeeds or fails alone.
//!
//! A lost connection fails the batch with [`StoreError::Unavailable`] (HTTP 503): nothing
//! of it is acknowledged, and the pool replaces the connection on the next use.

mod certificates;
mod checkout;
mod clearing;
mod evidence;
mod log;
mod ops;
mod read;
pub mod schema;
pub mod scratch;
mod signatures;

use crate::model::*;
use crate::{Store, StoreError};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::FutureExt;
use sceau_domain::PhoneNumber;
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

/// Commands waiting beyond this make their senders wait (back-pressure).
const WRITE_QUEUE_LEN_MAX: usize = 16_384;
/// Most commands committed together in one transaction.
const BATCH_SIZE_MAX: usize = 512;
/// Longest wait for a row lock (another batch's accounts), in milliseconds.
const LOCK_TIMEOUT_MS: u64 = 10_000;
/// How long the server lets one of sceau's sessions sit idle inside a transaction before
/// ending it (its instance died or lost the network), in milliseconds.
const IDLE_IN_TRANSACTION_MS: u64 = 30_000;
/// Runs of one batch before its commands are answered "unavailable".
const BATCH_TRIES_MAX: u32 = 4;

/// How an instance uses its database.
#[derive(Debug, Clone, Copy)]
pub struct PostgresSettings {
    /// Batches this instance runs at once, each on its own connection.
    pub lanes: usize,
    /// Connections for reads.
    pub readers: usize,
    /// How long to wait for a connection (or to connect) before answering "unavailable".
    pub connect_timeout: Duration,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        PostgresSettings {
            lanes: 2,
            readers: 8,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A pooled connection, with its cache of prepared statements.
type Conn = deadpool_postgres::ClientWrapper;

/// Why a query or a command failed: a rule of the store, or the database itself.
#[derive(Debug)]
enum Fail {
    Store(StoreError),
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(error: tokio_postgres::Error) -> Self {
        Fail::Db(error)
    }
}

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Fail::Store(error)
    }
}

impl Fail {
    /// True when the failure is the batch's, not one command's: the connection is gone,
    /// the server is stopping, or the transaction lost a race and must run again.
    fn is_batch_failure(&self) -> bool {
        let Fail::Db(error) = self else { return false };
        if error.is_closed() {
            return true;
        }
        match error.code() {
            Some(code) => {
                *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::LOCK_NOT_AVAILABLE
                    || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
                    || code.code().starts_with("08")
                    || code.code().starts_with("57P")
            }
            // No SQLSTATE: the error came from the socket, not from the server.
            None => true,
        }
    }

    /// True when the connection itself is gone (closed, reset, or ended by the server).
    fn is_connection_lost(&self) -> bool {
        let Fail::Db(error) = self else { return false };
        error.is_closed()
            || match error.code() {
                Some(code) => {
                    code.code().starts_with("08")
                        || *code == SqlState::ADMIN_SHUTDOWN
                        || *code == SqlState::CRASH_SHUTDOWN
                }
                None => true,
            }
    }

    fn is_retryable(&self) -> bool {
        let Fail::Db(error) = self else { return false };
        matches!(error.code(), Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED)
    }

    /// What a failure means to the caller: only a database that cannot be reached, is
    /// stopping, out of resources or lost a race too often is "unavailable" (try again);
    /// a statement it refused (a constraint broken, a value of the wrong type) is a bug,
    /// and damaged data is corrupt.
    fn into_store_error(self) -> StoreError {
        let error = match self {
            Fail::Store(error) => return error,
            Fail::Db(error) => error,
        };
        let Some(db) = error.as_db_error() else {
            return StoreError::Unavailable(error.to_string());
        };
        let detail = format!("{}: {}", db.code().code(), db.message());
        let code = db.code().code();
        match code.get(..2).unwrap_or_default() {
            // Connection, resources, operator intervention, a lost race, system errors.
            "08" | "53" | "57" | "40" | "58" => StoreError::Unavailable(detail),
            // Waited too long for a lock, or left idle in a transaction by the server.
            _ if code == "55P03" || code == "25P03" => StoreError::Unavailable(detail),
            "XX" => StoreError::Corrupt(detail),
            _ => StoreError::Refused(detail),
        }
    }
}

fn corrupt(what: &str) -> Fail {
    Fail::Store(StoreError::Corrupt(format!("bad stored value: {what}")))
}

/// Reads column `index` of `row`; a type mismatch is a corrupt row, not a lost database.
fn col<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, Fail> {
    row.try_get(index)
        .map_err(|e| Fail::Store(StoreError::Corrupt(e.to_string())))
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

async fn rows(c: &Conn, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, Fail> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

async fn opt_row(c: &Conn, sql: &str, params: &Params<'_>) -> Result<Option<Row>, Fail> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

async fn one_row(c: &Conn, sql: &str, params: &Params<'_>) -> Result<Row, Fail> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_one(&statement, params).await?)
}

async fn exec(c: &Conn, sql: &str, params: &Params<'_>) -> Result<u64, Fail> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// A write, as data: a batch may run it twice (see [`run_batch`]).
enum Write {
    EnrollClient(NewClient),
    EnrollMerchant(NewMerchant),
    RecordSignIn(SignInAttempt),
    SendUnlockCode(UnlockCodeSend),
    SetClientBlocked {
        client_id: i64,
        blocked: bool,
    },
    IssueNumber(NewNumber),
    Execute(CommandRequest),
    Expire(i64),
    CreateSession(NewSession),
    DeleteSession([u8; 32]),
    EnqueueMessage(NewMessage, i64),
    MarkMessage(i64, MessageDelivery),
    ClaimMessages {
        now_s: i64,
        lease_s: i64,
        limit: u32,
    },
    CreateCheckout(NewCheckout),
    HoldCheckout(HoldCheckout),
    SendSeal(SendSeal),
    TypeSeal(TypedSeal),
    ClaimWebhooks {
        now_s: i64,
        lease_s: i64,
        limit: u32,
    },
    MarkWebhook(i64, WebhookResult),
    SetMerchantBank {
        merchant_id: i64,
        bank: BankDetails,
    },
    CloseClearing(CloseClearing),
    RecordCertificate(NewCertificate),
    RevokeCertificate {
        serial: String,
        reason: u8,
        now_s: i64,
    },
    UseCertificate {
        serial: String,
        now_s: i64,
    },
    CreateSignatureRequest(NewSignatureRequest),
    PinPkiRoot {
        root_sha256: [u8; 32],
        now_s: i64,
    },
    AppendLog(Vec<Vec<u8>>, i64),
    FailSealedSignature(String),
    IntegrateLog(IntegrateLog),
    TypeSignatureSeal(TypedSignatureSeal),
    RecordSignature {
        public_id: String,
        signature: Vec<u8>,
        now_s: i64,
    },
    RecordReceipt {
        evidence_id: i64,
        signature: Vec<u8>,
        now_s: i64,
    },
}

impl Write {
    /// Which lane a write goes to: writes about the same number, authorization or client
    /// go to the same lane, so that lanes mostly lock different accounts and their
    /// batches run side by side instead of waiting for each other's locks. (Correctness
    /// does not depend on it: another instance's lanes are elsewhere anyway.)
    fn lane_key(&self) -> Option<u64> {
        let fingerprint_key = |fingerprint: &[u8; 32]| {
            let mut head = [0_u8; 8];
            head.copy_from_slice(&fingerprint[..8]);
            u64::from_le_bytes(head)
        };
        match self {
            Write::Execute(request) => Some(match &request.command {
                MerchantCommand::Authorize {
                    number_fingerprint, ..
                } => fingerprint_key(number_fingerprint),
                MerchantCommand::Capture {
                    authorization_id, ..
                }
                | MerchantCommand::Void { authorization_id }
                | MerchantCommand::Refund {
                    authorization_id, ..
                } => authorization_id.unsigned_abs(),
            }),
            Write::IssueNumber(number) => Some(number.client_id.unsigned_abs()),
            Write::RecordSignIn(SignInAttempt { client_id, .. })
            | Write::SetClientBlocked { client_id, .. }
            | Write::SendUnlockCode(UnlockCodeSend { client_id, .. }) => {
                Some(client_id.unsigned_abs())
            }
            Write::HoldCheckout(HoldCheckout { checkout_id, .. })
            | Write::SendSeal(SendSeal { checkout_id, .. }) => Some(checkout_id.unsigned_abs()),
            // Named by its public id (random): spread like the fingerprints.
            Write::TypeSeal(TypedSeal { public_id, .. }) => Some(
                public_id
                    .bytes()
                    .fold(0_u64, |key, byte| key.rotate_left(5) ^ u64::from(byte)),
            ),
            _ => None,
        }
    }
}

/// What a write returns.
enum Done {
    Client(ClientRecord),
    Merchant(MerchantRecord),
    SignIn(Option<SignInVerdict>),
    Unlock(UnlockOutcome),
    Changed(bool),
    Issued(IssueOutcome),
    Executed(Executed),
    Expired(Expired),
    Id(i64),
    Messages(Vec<StoredMessage>),
    /// A checkout created, and whether it is a replay.
    Checkout(Box<CheckoutView>, bool),
    Held(HoldOutcome),
    SealSent(SendOutcome),
    SealTyped(Box<SealOutcome>),
    Webhooks(Vec<WebhookDelivery>),
    Clearing(Box<ClearingOutcome>),
    Revoked(RevokeOutcome),
    Used(Box<UseOutcome>),
    Pinned([u8; 32]),
    Integrated(Option<LogCheckpoint>),
    SignatureRequest(Box<SignatureRequestOutcome>),
    SignatureSeal(Box<SignatureSealOutcome>),
    Nothing,
}

struct Job {
    write: Write,
    result: Option<Result<Done, StoreError>>,
    answer: oneshot::Sender<Result<Done, StoreError>>,
}

/// The PostgreSQL store. Cheap to clone; clones share the lanes and the pool.
#[derive(Clone)]
pub struct PostgresStore {
    /// One queue per lane; see [`Write::lane_key`].
    lanes: Arc<Vec<mpsc::Sender<Job>>>,
    next_lane: Arc<AtomicUsize>,
    pool: Pool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, with libpq's
    /// parameters such as `options=-c search_path=…`), migrates the schema and starts the
    /// lanes. Must be called inside a Tokio runtime.
    pub async fn open(url: &str, settings: PostgresSettings) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
        config.connect_timeout(settings.connect_timeout);
        // Every statement but the ledger check finds its rows by key. The planner is told
        // so (no sequential scans, hash or merge joins) and plans each statement once per
        // connection (generic plans): sized on statistics taken while a table was small,
        // or full of dead versions of a few hot rows, its plans would otherwise scan
        // whole tables — once per row of a wave — where a few index lookups do.
        //
        // No wait is endless: a batch waits at most `LOCK_TIMEOUT_MS` for another's account
        // locks (then its commands answer 503 and may be retried), and a session left in a
        // transaction by an instance that died or lost its network is ended by the server
        // after `IDLE_IN_TRANSACTION_MS`, releasing its locks for the other instances.
        let options = format!(
            "{} -c plan_cache_mode=force_generic_plan -c enable_seqscan=off \
             -c enable_hashjoin=off -c enable_mergejoin=off -c lock_timeout={LOCK_TIMEOUT_MS} \
             -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
            config.get_options().unwrap_or("")
        );
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.keepalives_interval(Duration::from_secs(10));
        config.keepalives_retries(3);
        config.tcp_user_timeout(Duration::from_secs(60));
        config.options(options.trim());
        config.application_name("sceau");
        // Two pools: the lanes' own (one connection each), so that a burst of reads can
        // never leave a lane waiting for a connection, and the readers'.
        let pool_of = |size: usize| {
            let manager = Manager::from_config(
                config.clone(),
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size)
                .wait_timeout(Some(settings.connect_timeout))
                .create_timeout(Some(settings.connect_timeout))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        let lanes_pool = pool_of(settings.lanes.max(1))?;
        let pool = pool_of(settings.readers.max(1))?;
        {
            let mut client = lanes_pool
                .get()
                .await
                .map_err(|e| StoreError::Unavailable(format!("cannot connect: {e}")))?;
            schema::migrate(&mut client).await?;
        }
        let lanes_count = settings.lanes.max(1);
        let mut lanes = Vec::with_capacity(lanes_count);
        for _ in 0..lanes_count {
            let (jobs, queue) = mpsc::channel(WRITE_QUEUE_LEN_MAX / lanes_count);
            tokio::spawn(lane(queue, lanes_pool.clone()));
            lanes.push(jobs);
        }
        Ok(PostgresStore {
            lanes: Arc::new(lanes),
            next_lane: Arc::new(AtomicUsize::new(0)),
            pool,
        })
    }

    async fn write(&self, write: Write) -> Result<Done, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            write,
            result: None,
            answer,
        };
        let lanes_count = self.lanes.len();
        let index = match job.write.lane_key() {
            Some(key) => (key % lanes_count as u64) as usize,
            None => self.next_lane.fetch_add(1, Ordering::Relaxed) % lanes_count,
        };
        let lane = self.lanes.get(index).ok_or_else(stopped)?;
        lane.send(job).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }

    async fn connection(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store is shutting down".into())
}

fn unexpected() -> StoreError {
    StoreError::Corrupt("a write answered with another kind of result".into())
}

/// A lane: takes every command waiting in its queue, runs them as one transaction,
/// answers them all.
async fn lane(mut queue: mpsc::Receiver<Job>, pool: Pool) {
    let mut batch: Vec<Job> = Vec::with_capacity(BATCH_SIZE_MAX);
    loop {
        let Some(first) = queue.recv().await else {
            return;
        };
        batch.push(first);
        while batch.len() < BATCH_SIZE_MAX {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_on_a_connection(&pool, &mut batch).await;
        if let Err(error) = &committed {
            tracing::error!(%error, "write batch failed; nothing of it was applied");
        }
        for job in batch.drain(..) {
            let result = committed.clone().and_then(|()| {
                job.result
                    .unwrap_or_else(|| Err(StoreError::Unavailable("command not run".into())))
            });
            let _ = job.answer.send(result);
        }
    }
}

/// Runs a batch on a connection of the lanes' pool. A connection found lost before the
/// batch's `COMMIT` was sent (a restarted or failed-over server leaves every pooled
/// connection stale) costs nothing but a second try on a fresh one: the server has
/// rolled the transaction back. Lost during `COMMIT`, the outcome is unknown and the
/// commands are answered "unavailable" (a retry with the same key finds out).
async fn run_on_a_connection(pool: &Pool, batch: &mut [Job]) -> Result<(), StoreError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let mut client = pool
            .get()
            .await
            .map_err(|error| StoreError::Unavailable(format!("no database connection: {error}")))?;
        let run = AssertUnwindSafe(run_batch(&mut client, batch))
            .catch_unwind()
            .await;
        match run {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(BatchFailed::BeforeCommit(fail))) if fail.is_connection_lost() && tries < 2 => {
                tracing::warn!("database connection lost before commit; running the batch again");
                drop(deadpool_postgres::Object::take(client));
            }
            Ok(Err(BatchFailed::BeforeCommit(fail) | BatchFailed::AtCommit(fail))) => {
                return Err(fail.into_store_error());
            }
            Ok(Err(BatchFailed::Store(error))) => return Err(error),
            Err(_) => {
                // The connection may be inside the batch's transaction: never reuse it.
                drop(deadpool_postgres::Object::take(client));
                return Err(StoreError::Corrupt("a write batch panicked".into()));
            }
        }
    }
}

/// How a batch failed: where, so that the caller knows whether it may have committed.
enum BatchFailed {
    BeforeCommit(Fail),
    AtCommit(Fail),
    Store(StoreError),
}

/// Runs a batch until it commits: optimistically first (no savepoints); if a command
/// fails, again with a savepoint per command; if the database reports a deadlock or a
/// serialization failure, again from the start, a bounded number of times.
async fn run_batch(client: &mut Conn, batch: &mut [Job]) -> Result<(), BatchFailed> {
    let mut savepoints = false;
    let mut tries = 0;
    loop {
        tries += 1;
        for job in batch.iter_mut() {
            job.result = None;
        }
        let run = try_batch(client, batch, savepoints).await;
        if let Err(Ran::Before(_)) = &run {
            // The transaction is dead either way; on a lost connection this fails too.
            let _ = client.batch_execute("ROLLBACK").await;
        }
        match run {
            Ok(true) => return Ok(()),
            Ok(false) if !savepoints => savepoints = true,
            Ok(false) => {
                return Err(BatchFailed::Store(StoreError::Corrupt(
                    "a batch with savepoints did not commit".into(),
                )));
            }
            Err(Ran::Before(fail)) if fail.is_retryable() && tries < BATCH_TRIES_MAX => {
                tracing::warn!(tries, "write batch lost a race; running it again");
            }
            Err(Ran::Before(fail)) => return Err(BatchFailed::BeforeCommit(fail)),
            Err(Ran::Commit(fail)) => return Err(BatchFailed::AtCommit(fail)),
        }
    }
}

/// Where a run of a batch failed: before its `COMMIT` was sent, or at it.
enum Ran {
    Before(Fail),
    Commit(Fail),
}

impl From<Fail> for Ran {
    fn from(fail: Fail) -> Self {
        Ran::Before(fail)
    }
}

impl From<tokio_postgres::Error> for Ran {
    fn from(error: tokio_postgres::Error) -> Self {
        Ran::Before(Fail::Db(error))
    }
}

/// One run of a batch in one transaction. `Ok(false)`: a command failed without
/// savepoints, the transaction was rolled back, run again with savepoints.
async fn try_batch(client: &Conn, batch: &mut [Job], savepoints: bool) -> Result<bool, Ran> {
    let (locked, number_accounts) = begin_and_lock(client, batch).await?;
    let mut index = 0;
    while index < batch.len() {
        let end = if savepoints {
            index
        } else {
            wave_end(batch, index, &number_accounts)
        };
        if end > index + 1 {
            let requests: Vec<&CommandRequest> = batch[index..end]
                .iter()
                .filter_map(|job| ops::authorization_request(&job.write))
                .collect();
            match ops::authorize_wave(client, &requests).await {
                Ok(executed) => {
                    for (job, executed) in batch[index..end].iter_mut().zip(executed) {
                        job.result = Some(Ok(Done::Executed(executed)));
                    }
                }
                Err(fail) if fail.is_batch_failure() => return Err(Ran::Before(fail)),
                Err(_) => {
                    client.batch_execute("ROLLBACK").await?;
                    return Ok(false);
                }
            }
            index = end;
            continue;
        }
        let job = &mut batch[index];
        index += 1;
        if savepoints {
            client.batch_execute("SAVEPOINT command").await?;
        }
        match ops::run(
            client,
            &job.write,
            locked.get(index - 1).map_or(&[], Vec::as_slice),
        )
        .await
        {
            Ok(done) => {
                job.result = Some(Ok(done));
                if savepoints {
                    client.batch_execute("RELEASE SAVEPOINT command").await?;
                }
            }
            Err(fail) if fail.is_batch_failure() => return Err(Ran::Before(fail)),
            Err(fail) => {
                if !savepoints {
                    client.batch_execute("ROLLBACK").await?;
                    return Ok(false);
                }
                client
                    .batch_execute("ROLLBACK TO SAVEPOINT command; RELEASE SAVEPOINT command")
                    .await?;
                job.result = Some(Err(fail.into_store_error()));
            }
        }
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|error| Ran::Commit(Fail::Db(error)))?;
    Ok(true)
}

/// Where the wave of authorizations starting at `start` ends: the longest run of
/// authorizations whose numbers and accounts are all distinct, so that running them
/// together reads and writes exactly what running them one by one would.
fn wave_end(batch: &[Job], start: usize, number_accounts: &HashMap<Vec<u8>, Vec<i64>>) -> usize {
    let mut accounts = HashSet::new();
    let mut numbers = HashSet::new();
    let mut end = start;
    for job in &batch[start..] {
        let Some(fingerprint) = ops::number_fingerprint(&job.write) else {
            break;
        };
        let touched = number_accounts
            .get(fingerprint)
            .map_or(&[][..], Vec::as_slice);
        if !numbers.insert(fingerprint) || touched.iter().any(|id| accounts.contains(id)) {
            break;
        }
        accounts.extend(touched.iter().copied());
        end += 1;
    }
    end
}

/// Each command's accounts, and the accounts of the numbers the batch's authorizations
/// name.
type Locked = (Vec<Vec<i64>>, HashMap<Vec<u8>, Vec<i64>>);

/// Opens the batch's transaction and locks every account its commands may touch, in
/// ascending id order; returns each command's accounts and the accounts of the numbers
/// its authorizations name. Round trips are few: the per-command lookups (if any) go
/// together with `BEGIN`, and the numbers' accounts are found and everything is locked
/// by one statement, itself sent with `BEGIN` when nothing else needs looking up.
async fn begin_and_lock(client: &Conn, batch: &[Job]) -> Result<Locked, Fail> {
    let fingerprints: Vec<&[u8]> = batch
        .iter()
        .filter_map(|job| ops::number_fingerprint(&job.write))
        .collect();
    let (per_command, (of_numbers, locked)) =
        if batch.iter().any(|job| ops::looks_up_accounts(&job.write)) {
            let ((), per_command) = tokio::try_join!(
                async { Ok(client.batch_execute("BEGIN").await?) },
                futures_util::future::try_join_all(
                    batch
                        .iter()
                        .map(|job| ops::accounts_touched(client, &job.write)),
                ),
            )?;
            let others: Vec<i64> = per_command.iter().flatten().copied().collect();
            let locked = ops::lock_accounts(client, &fingerprints, &others).await?;
            (per_command, locked)
        } else {
            let ((), locked) = tokio::try_join!(
                async { Ok(client.batch_execute("BEGIN").await?) },
                ops::lock_accounts(client, &fingerprints, &[]),
            )?;
            (vec![Vec::new(); batch.len()], locked)
        };
    let mut number_accounts: HashMap<Vec<u8>, Vec<i64>> = HashMap::new();
    for (fingerprint, account_id) in of_numbers {
        number_accounts
            .entry(fingerprint)
            .or_default()
            .push(account_id);
    }
    let expected: HashSet<i64> = per_command
        .iter()
        .flatten()
        .chain(number_accounts.values().flatten())
        .copied()
        .collect();
    if locked != expected.len() as i64 {
        return Err(Fail::Store(StoreError::Corrupt(
            "an account to lock was not found".into(),
        )));
    }
    let mut merchants: Vec<i64> = batch
        .iter()
        .filter_map(|job| ops::merchant_locked(&job.write))
        .collect();
    if !merchants.is_empty() {
        // A merchant not found is locked by nobody: its command finds it unknown.
        merchants.sort_unstable();
        merchants.dedup();
        ops::lock_merchants(client, &merchants).await?;
    }
    Ok((per_command, number_accounts))
}

impl PostgresStore {
    async fn read<T>(
        &self,
        query: impl AsyncFnOnce(&Conn) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let client = self.connection().await?;
        query(&client).await.map_err(Fail::into_store_error)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn enroll_client(&self, client: NewClient) -> Result<ClientRecord, StoreError> {
        match self.write(Write::EnrollClient(client)).await? {
            Done::Client(record) => Ok(record),
            _ => Err(unexpected()),
        }
    }

    async fn enroll_merchant(&self, merchant: NewMerchant) -> Result<MerchantRecord, StoreError> {
        match self.write(Write::EnrollMerchant(merchant)).await? {
            Done::Merchant(record) => Ok(record),
            _ => Err(unexpected()),
        }
    }

    async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, StoreError> {
        self.read(async |c| read::merchant_by_key_hash(c, &key_hash).await)
            .await
    }

    async fn merchant(&self, merchant_id: i64) -> Result<Option<MerchantRecord>, StoreError> {
        self.read(async |c| read::merchant(c, merchant_id).await)
            .await
    }

    async fn merchants(&self, limit: u32) -> Result<Vec<MerchantRecord>, StoreError> {
        self.read(async |c| read::merchants(c, limit).await).await
    }

    async fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| read::client_where(c, "login = $1", &login).await)
            .await
    }

    async fn client_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let phone = phone.as_str();
        self.read(async |c| read::client_where(c, "phone = $1", &phone).await)
            .await
    }

    async fn client(&self, client_id: i64) -> Result<Option<ClientRecord>, StoreError> {
        self.read(async |c| read::client_where(c, "id = $1", &client_id).await)
            .await
    }

    async fn clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        self.read(async |c| read::clients(c, limit).await).await
    }

    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        match self.write(Write::RecordSignIn(attempt)).await? {
            Done::SignIn(verdict) => Ok(verdict),
            _ => Err(unexpected()),
        }
    }

    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError> {
        match self.write(Write::SendUnlockCode(send)).await? {
            Done::Unlock(outcome) => Ok(outcome),
            _ => Err(unexpected()),
        }
    }

    async fn set_client_blocked(&self, client_id: i64, blocked: bool) -> Result<bool, StoreError> {
        match self
            .write(Write::SetClientBlocked { client_id, blocked })
            .await?
        {
            Done::Changed(changed) => Ok(changed),
            _ => Err(unexpected()),
        }
    }

    async fn merchant_knows_client(
        &self,
        merchant_id: i64,
        client_id: i64,
    ) -> Result<bool, StoreError> {
        self.read(async |c| ops::merchant_knows_client(c, merchant_id, client_id).await)
            .await
    }

    async fn issue_number(&self, number: NewNumber) -> Result<IssueOutcome, StoreError> {
        match self.write(Write::IssueNumber(number)).await? {
            Done::Issued(outcome) => Ok(outcome),
            _ => Err(unexpected()),
        }
    }

    async fn execute(&self, request: CommandRequest) -> Result<Executed, StoreError> {
        match self.write(Write::Execute(request)).await? {
            Done::Executed(executed) => Ok(executed),
            _ => Err(unexpected()),
        }
    }

    async fn expire(&self, now_s: i64) -> Result<Expired, StoreError> {
        match self.write(Write::Expire(now_s)).await? {
            Done::Expired(expired) => Ok(expired),
            _ => Err(unexpected()),
        }
    }

    async fn account(&self, account_id: i64) -> Result<Option<AccountView>, StoreError> {
        self.read(async |c| read::account(c, account_id).await)
            .await
    }

    async fn client_numbers(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        self.read(async |c| read::client_numbers(c, client_id, limit).await)
            .await
    }

    async fn authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<Option<AuthorizationView>, StoreError> {
        self.read(async |c| read::authorization(c, merchant_id, authorization_id).await)
            .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(Write::CreateSession(session)).await.map(|_| ())
    }

    async fn session_client(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.read(
            async |c| match read::session_client(c, &token_hash, now_s).await? {
                Some(client_id) => read::client_where(c, "id = $1", &client_id).await,
                None => Ok(None),
            },
        )
        .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(Write::DeleteSession(token_hash))
            .await
            .map(|_| ())
    }

    async fn enqueue_message(&self, message: NewMessage, now_s: i64) -> Result<i64, StoreError> {
        match self.write(Write::EnqueueMessage(message, now_s)).await? {
            Done::Id(id) => Ok(id),
            _ => Err(unexpected()),
        }
    }

    async fn pending_messages(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(async |c| read::pending_messages(c, limit).await)
            .await
    }

    async fn claim_messages(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let write = Write::ClaimMessages {
            now_s,
            lease_s,
            limit,
        };
        match self.write(write).await? {
            Done::Messages(messages) => Ok(messages),
            _ => Err(unexpected()),
        }
    }

    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<(), StoreError> {
        self.write(Write::MarkMessage(message_id, delivery))
            .await
            .map(|_| ())
    }

    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(async |c| read::messages_to(c, address, limit).await)
            .await
    }

    async fn create_checkout(
        &self,
        checkout: NewCheckout,
    ) -> Result<(CheckoutView, bool), StoreError> {
        match self.write(Write::CreateCheckout(checkout)).await? {
            Done::Checkout(view, replayed) => Ok((*view, replayed)),
            _ => Err(unexpected()),
        }
    }

    async fn checkout(&self, public_id: &str) -> Result<Option<CheckoutView>, StoreError> {
        self.read(async |c| checkout::checkout(c, public_id).await)
            .await
    }

    async fn hold_checkout(&self, hold: HoldCheckout) -> Result<HoldOutcome, StoreError> {
        match self.write(Write::HoldCheckout(hold)).await? {
            Done::Held(outcome) => Ok(outcome),
            _ => Err(unexpected()),
        }
    }

    async fn send_seal(&self, send: SendSeal) -> Result<SendOutcome, StoreError> {
        match self.write(Write::SendSeal(send)).await? {
            Done::SealSent(outcome) => Ok(outcome),
            _ => Err(unexpected()),
        }
    }

    async fn type_seal(&self, typed: TypedSeal) -> Result<SealOutcome, StoreError> {
        match self.write(Write::TypeSeal(typed)).await? {
            Done::SealTyped(outcome) => Ok(*outcome),
            _ => Err(unexpected()),
        }
    }

    async fn claim_webhooks(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let write = Write::ClaimWebhooks {
            now_s,
            lease_s,
            limit,
        };
        match self.write(write).await? {
            Done::Webhooks(webhooks) => Ok(webhooks),
            _ => Err(unexpected()),
        }
    }

    async fn mark_webhook(&self, webhook_id: i64, result: WebhookResult) -> Result<(), StoreError> {
        self.write(Write::MarkWebhook(webhook_id, result))
            .await
            .map(|_| ())
    }

    async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<bool, StoreError> {
        match self
            .write(Write::SetMerchantBank { merchant_id, bank })
            .await?
        {
            Done::Changed(changed) => Ok(changed),
            _ => Err(unexpected()),
        }
    }

    async fn close_clearing_batch(
        &self,
        close: CloseClearing,
    ) -> Result<ClearingOutcome, StoreError> {
        match self.write(Write::CloseClearing(close)).await? {
            Done::Clearing(outcome) => Ok(*outcome),
            _ => Err(unexpected()),
        }
    }

    async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError> {
        self.read(async |c| clearing::clearing_batch(c, batch_id).await)
            .await
    }

    async fn clearing_batches(&self, limit: u32) -> Result<Vec<ClearingBatch>, StoreError> {
        self.read(async |c| clearing::clearing_batches(c, limit).await)
            .await
    }

    async fn settlement_file(&self, batch_id: i64) -> Result<Option<String>, StoreError> {
        self.read(async |c| clearing::settlement_file(c, batch_id).await)
            .await
    }

    async fn pin_pki_root(
        &self,
        root_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<[u8; 32], StoreError> {
        match self.write(Write::PinPkiRoot { root_sha256, now_s }).await? {
            Done::Pinned(pinned) => Ok(pinned),
            _ => Err(unexpected()),
        }
    }

    async fn record_certificate(&self, certificate: NewCertificate) -> Result<(), StoreError> {
        self.write(Write::RecordCertificate(certificate))
            .await
            .map(|_| ())
    }

    async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let serial = serial.to_owned();
        self.read(async move |c| certificates::certificate(c, &serial).await)
            .await
    }

    async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(async |c| certificates::client_certificates(c, client_id).await)
            .await
    }

    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: u8,
        now_s: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        let serial = serial.to_owned();
        match self
            .write(Write::RevokeCertificate {
                serial,
                reason,
                now_s,
            })
            .await?
        {
            Done::Revoked(outcome) => Ok(outcome),
            _ => Err(unexpected()),
        }
    }

    async fn revocations(&self, now_s: i64) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(async |c| certificates::revocations(c, now_s).await)
            .await
    }

    async fn use_certificate(&self, serial: &str, now_s: i64) -> Result<UseOutcome, StoreError> {
        let serial = serial.to_owned();
        match self.write(Write::UseCertificate { serial, now_s }).await? {
            Done::Used(outcome) => Ok(*outcome),
            _ => Err(unexpected()),
        }
    }

    async fn create_signature_request(
        &self,
        request: NewSignatureRequest,
    ) -> Result<SignatureRequestOutcome, StoreError> {
        match self.write(Write::CreateSignatureRequest(request)).await? {
            Done::SignatureRequest(outcome) => Ok(*outcome),
            _ => Err(unexpected()),
        }
    }

    async fn signature_request(
        &self,
        public_id: &str,
    ) -> Result<Option<SignatureRequestView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(async move |c| signatures::request(c, &public_id).await)
            .await
    }

    async fn client_signature_requests(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, StoreError> {
        self.read(async |c| signatures::client_requests(c, client_id, limit).await)
            .await
    }

    async fn type_signature_seal(
        &self,
        typed: TypedSignatureSeal,
    ) -> Result<SignatureSealOutcome, StoreError> {
        match self.write(Write::TypeSignatureSeal(typed)).await? {
            Done::SignatureSeal(outcome) => Ok(*outcome),
            _ => Err(unexpected()),
        }
    }

    async fn record_signature(
        &self,
        public_id: &str,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        match self
            .write(Write::RecordSignature {
                public_id: public_id.to_owned(),
                signature,
                now_s,
            })
            .await?
        {
            Done::Changed(changed) => Ok(changed),
            _ => Err(unexpected()),
        }
    }

    async fn append_log(&self, entries: Vec<Vec<u8>>, now_s: i64) -> Result<(), StoreError> {
        self.write(Write::AppendLog(entries, now_s))
            .await
            .map(|_| ())
    }

    async fn integrate_log(
        &self,
        integrate: IntegrateLog,
    ) -> Result<Option<LogCheckpoint>, StoreError> {
        match self.write(Write::IntegrateLog(integrate)).await? {
            Done::Integrated(checkpoint) => Ok(checkpoint),
            _ => Err(unexpected()),
        }
    }

    async fn log_checkpoint(&self) -> Result<Option<LogCheckpoint>, StoreError> {
        self.read(async |c| log::checkpoint(c).await).await
    }

    async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(async |c| log::entry(c, index).await).await
    }

    async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Inclusion { index, size };
        self.read(async move |c| log::proof(c, &request, size).await)
            .await
    }

    async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Consistency { old, new };
        self.read(async move |c| log::proof(c, &request, new).await)
            .await
    }

    async fn log_nodes(
        &self,
        level: u8,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(async |c| log::nodes(c, level, start, count).await)
            .await
    }

    async fn log_entries(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(async |c| log::entries(c, start, count).await)
            .await
    }

    async fn evidence(&self, subject: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        self.read(async |c| evidence::of_subject(c, subject).await)
            .await
    }

    async fn record_receipt(
        &self,
        evidence_id: i64,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        match self
            .write(Write::RecordReceipt {
                evidence_id,
                signature,
                now_s,
            })
            .await?
        {
            Done::Changed(changed) => Ok(changed),
            _ => Err(unexpected()),
        }
    }

    async fn receipt(&self, evidence_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(async |c| evidence::receipt(c, evidence_id).await)
            .await
    }

    async fn fail_sealed_signature(&self, public_id: &str) -> Result<bool, StoreError> {
        match self
            .write(Write::FailSealedSignature(public_id.to_owned()))
            .await?
        {
            Done::Changed(changed) => Ok(changed),
            _ => Err(unexpected()),
        }
    }

    async fn check_ledger(&self) -> Result<LedgerReport, StoreError> {
        let mut client = self.connection().await?;
        read::check_ledger(&mut client)
            .await
            .map_err(Fail::into_store_error)
    }
}
