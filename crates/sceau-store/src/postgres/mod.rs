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

pub mod archive;
mod certificates;
mod checkout;
mod clearing;
mod command;
mod deliveries;
mod envelopes;
mod evidence;
mod ledger;
mod log;
mod operators;
mod ops;
mod outbox;
mod parties;
mod payments;
mod retention;
pub mod schema;
pub mod scratch;
mod sign_in;
mod signatures;
pub mod tls;
mod webhooks;

use crate::StoreError;
use crate::capabilities::*;
use crate::model::*;
use crate::sql::Sql;
use crate::tx::{Fail, Tx, Value};
use async_trait::async_trait;
use command::{Guard, Op, Operation, Output};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};

/// Commands waiting beyond this, over the payment lanes (the dispatcher's lane has a
/// queue of one lane's share besides), make their senders wait (back-pressure).
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
    /// Batches this instance runs at once, each on its own connection; one more lane and
    /// connection run the second channel's dispatcher's writes (`Guard::Dispatch`), so an
    /// instance opens `lanes + 1 + readers` connections at most.
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

impl Fail {
    /// True when the failure is the batch's, not one command's: the connection is gone,
    /// the server is stopping, or the transaction lost a race and must run again.
    fn is_batch_failure(&self) -> bool {
        let Fail::Postgres(error) = self else {
            return false;
        };
        if error.is_closed() {
            return true;
        }
        match error.code() {
            Some(code) => {
                *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::LOCK_NOT_AVAILABLE
                    || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
                    || *code == SqlState::READ_ONLY_SQL_TRANSACTION
                    || code.code().starts_with("08")
                    || code.code().starts_with("57P")
            }
            None => from_the_socket(error),
        }
    }

    /// True when the connection itself is gone (closed, reset, or ended by the server).
    fn is_connection_lost(&self) -> bool {
        let Fail::Postgres(error) = self else {
            return false;
        };
        error.is_closed()
            || match error.code() {
                Some(code) => {
                    code.code().starts_with("08")
                        || *code == SqlState::ADMIN_SHUTDOWN
                        || *code == SqlState::CRASH_SHUTDOWN
                        // A primary demoted by a failover: another connection finds the new one.
                        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
                }
                None => from_the_socket(error),
            }
    }

    fn is_retryable(&self) -> bool {
        let Fail::Postgres(error) = self else {
            return false;
        };
        matches!(error.code(), Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED)
    }
}

/// What a PostgreSQL error means to the caller: only a database that cannot be reached,
/// is stopping, out of resources or lost a race too often is "unavailable" (try again); a
/// statement it refused (a constraint broken, a value of the wrong type) is a bug, and
/// damaged data is corrupt.
pub(crate) fn classify(error: tokio_postgres::Error) -> StoreError {
    let Some(db) = error.as_db_error() else {
        // Without a SQLSTATE: the socket (an outage), or the driver refusing what sceau
        // gave or got (a parameter of the wrong type, a row count it did not expect).
        return if from_the_socket(&error) {
            StoreError::Unavailable(error.to_string())
        } else {
            StoreError::Refused(error.to_string())
        };
    };
    let detail = format!("{}: {}", db.code().code(), db.message());
    let code = db.code().code();
    match code.get(..2).unwrap_or_default() {
        // Connection, resources, operator intervention, a lost race, system errors.
        "08" | "53" | "57" | "40" | "58" => StoreError::Unavailable(detail),
        // Waited too long for a lock, left idle in a transaction by the server, or a
        // write sent to a primary demoted by a failover.
        _ if code == "55P03" || code == "25P03" || code == "25006" => {
            StoreError::Unavailable(detail)
        }
        // Damaged data or index; other internal errors are the server's bugs.
        _ if code == "XX001" || code == "XX002" => StoreError::Corrupt(detail),
        _ => StoreError::Refused(detail),
    }
}

/// True when an error without a SQLSTATE came from the connection (closed, or an I/O
/// error), not from the driver's own checks.
fn from_the_socket(error: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    error.is_closed()
        || error
            .source()
            .is_some_and(|source| source.is::<std::io::Error>())
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

struct Job {
    guard: Guard,
    operation: Box<dyn Operation>,
    result: Option<Result<Output, StoreError>>,
    answer: oneshot::Sender<Result<Output, StoreError>>,
}

/// A connection could not be had: `what`, then the error and each of its causes (a TLS
/// handshake's "error performing TLS handshake" says why only in its source: the
/// certificate's issuer unknown, or another name).
pub(crate) fn unreachable(what: &str, error: &dyn std::error::Error) -> StoreError {
    let mut said = format!("{what}: {error}");
    let mut cause = error.source();
    while let Some(error) = cause {
        let text = error.to_string();
        if !said.ends_with(&text) {
            said.push_str(": ");
            said.push_str(&text);
        }
        cause = error.source();
    }
    StoreError::Unavailable(said)
}

/// Whether every host of `config` is this machine (a Unix socket, `localhost`, a loopback
/// address).
fn on_this_machine(config: &tokio_postgres::Config) -> bool {
    let addresses_here = config
        .get_hostaddrs()
        .iter()
        .all(|address| address.is_loopback());
    addresses_here
        && config.get_hosts().iter().all(|host| match host {
            tokio_postgres::config::Host::Unix(_) => true,
            tokio_postgres::config::Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|address| address.is_loopback())
            }
        })
}

/// The PostgreSQL store. Cheap to clone; clones share the lanes and the pool.
#[derive(Clone)]
pub struct PostgresStore {
    /// One queue per lane; see [`Guard::lane_key`].
    lanes: Arc<Vec<mpsc::Sender<Job>>>,
    next_lane: Arc<AtomicUsize>,
    pool: Pool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, with libpq's
    /// parameters such as `options=-c search_path=…`, and `sslmode=verify-full` with
    /// `sslrootcert=…` for TLS: see [`tls`]), migrates the schema and starts the lanes.
    /// Must be called inside a Tokio runtime.
    pub async fn open(url: &str, settings: PostgresSettings) -> Result<PostgresStore, StoreError> {
        let (mut config, tls) = tls::connection_settings(url)?;
        if !tls.verified() && !on_this_machine(&config) {
            tracing::warn!(
                "the database is reached without TLS over the network: add \
                 sslmode=verify-full&sslrootcert=… to its URL unless the link is private"
            );
        }
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
                tls.clone(),
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
        // One connection per lane, the dispatcher's included.
        let lanes_pool = pool_of(settings.lanes.max(1) + 1)?;
        let pool = pool_of(settings.readers.max(1))?;
        {
            let mut client = lanes_pool
                .get()
                .await
                .map_err(|e| unreachable("cannot connect", &e))?;
            schema::migrate(&mut client).await?;
        }
        let lanes_count = settings.lanes.max(1);
        let mut lanes = Vec::with_capacity(lanes_count);
        for _ in 0..lanes_count {
            let (jobs, queue) = mpsc::channel(WRITE_QUEUE_LEN_MAX / lanes_count);
            tokio::spawn(lane(queue, lanes_pool.clone()));
            lanes.push(jobs);
        }
        // The dispatcher's lane (see `Guard::Dispatch`), after the others.
        let (dispatch, queue) = mpsc::channel(WRITE_QUEUE_LEN_MAX / lanes_count);
        tokio::spawn(lane(queue, lanes_pool.clone()));
        lanes.push(dispatch);
        Ok(PostgresStore {
            lanes: Arc::new(lanes),
            next_lane: Arc::new(AtomicUsize::new(0)),
            pool,
        })
    }

    /// Runs a write in a lane's batch and answers once the batch is committed: `run` on
    /// `data`, after the batch has locked what `guard` names (see [`command`]).
    async fn write<D, T, F>(&self, guard: Guard, data: D, run: F) -> Result<T, StoreError>
    where
        D: Send + Sync + 'static,
        T: Send + Sync + 'static,
        F: for<'a> Fn(&'a Conn, &'a D, &'a [i64]) -> BoxFuture<'a, Result<T, Fail>>
            + Send
            + Sync
            + 'static,
    {
        let (answer, answered) = oneshot::channel();
        // The last lane is the dispatcher's.
        let lanes_count = self.lanes.len().saturating_sub(1).max(1);
        let index = match (&guard, guard.lane_key()) {
            (Guard::Dispatch, _) => self.lanes.len().saturating_sub(1),
            (_, Some(key)) => (key % lanes_count as u64) as usize,
            (_, None) => self.next_lane.fetch_add(1, Ordering::Relaxed) % lanes_count,
        };
        let job = Job {
            guard,
            operation: Box::new(Op { data, run }),
            result: None,
            answer,
        };
        let lane = self.lanes.get(index).ok_or_else(stopped)?;
        lane.send(job).await.map_err(|_| stopped())?;
        let output = answered.await.map_err(|_| stopped())??;
        output
            .downcast::<T>()
            .map(|output| *output)
            .map_err(|_| StoreError::Corrupt("a write answered with another kind of result".into()))
    }

    async fn connection(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| unreachable("no database connection", &e))
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store is shutting down".into())
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
        let started = std::time::Instant::now();
        let committed = run_on_a_connection(&pool, &mut batch).await;
        crate::metrics::batch("postgres", batch.len(), started.elapsed());
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
            .map_err(|error| unreachable("no database connection", &error))?;
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
        Ran::Before(Fail::Postgres(error))
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
                .filter_map(|job| command::authorization_request(job.operation.as_ref()))
                .collect();
            match ops::authorize_wave(client, &requests).await {
                Ok(executed) => {
                    for (job, executed) in batch[index..end].iter_mut().zip(executed) {
                        job.result = Some(Ok(Box::new(executed) as Output));
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
        match job
            .operation
            .run(client, locked.get(index - 1).map_or(&[], Vec::as_slice))
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
        .map_err(|error| Ran::Commit(Fail::Postgres(error)))?;
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
        // Only authorizations: a job whose guard names a number carries its request.
        let (Some(fingerprint), Some(_)) = (
            job.guard.number(),
            command::authorization_request(job.operation.as_ref()),
        ) else {
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
    let fingerprints: Vec<&[u8]> = batch.iter().filter_map(|job| job.guard.number()).collect();
    let (per_command, (of_numbers, locked)) = if batch.iter().any(|job| job.guard.looks_up()) {
        let ((), per_command) = tokio::try_join!(
            async { Ok(client.batch_execute("BEGIN").await?) },
            futures_util::future::try_join_all(batch.iter().map(|job| job.guard.accounts(client)),),
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
        .filter_map(|job| job.guard.merchant())
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

/// A PostgreSQL connection as a [`Tx`]: a lane's, inside its batch's transaction, with
/// the accounts the batch locked for this command; or a reader's.
pub(crate) struct PgTx<'c> {
    client: &'c Conn,
    locked: &'c [i64],
}

impl<'c> PgTx<'c> {
    /// A lane's connection, for one command of its batch.
    fn new(client: &'c Conn, locked: &'c [i64]) -> PgTx<'c> {
        PgTx { client, locked }
    }

    /// A reader's connection (no transaction, nothing locked).
    fn reader(client: &'c Conn) -> PgTx<'c> {
        PgTx {
            client,
            locked: &[],
        }
    }
}

impl Tx for PgTx<'_> {
    type Row<'r> = Row;

    fn locks_rows(&self) -> bool {
        true
    }

    fn locked(&self) -> &[i64] {
        self.locked
    }

    async fn rows<T, F>(&self, sql: &Sql, args: &[Value<'_>], each: F) -> Result<Vec<T>, Fail>
    where
        T: Send,
        F: FnMut(&Self::Row<'_>) -> Result<T, StoreError> + Send,
    {
        let statement = self.client.prepare_cached(sql.postgres()).await?;
        let rows = self.client.query(&statement, &params(args)).await?;
        Ok(rows.iter().map(each).collect::<Result<_, _>>()?)
    }

    async fn row<T, F>(&self, sql: &Sql, args: &[Value<'_>], decode: F) -> Result<Option<T>, Fail>
    where
        T: Send,
        F: FnOnce(&Self::Row<'_>) -> Result<T, StoreError> + Send,
    {
        let statement = self.client.prepare_cached(sql.postgres()).await?;
        let row = self.client.query_opt(&statement, &params(args)).await?;
        Ok(row.as_ref().map(decode).transpose()?)
    }

    async fn execute(&self, sql: &Sql, args: &[Value<'_>]) -> Result<u64, Fail> {
        let statement = self.client.prepare_cached(sql.postgres()).await?;
        Ok(self.client.execute(&statement, &params(args)).await?)
    }

    async fn record(
        &self,
        events: Vec<crate::evidence::Event>,
    ) -> Result<Vec<EvidenceRecord>, Fail> {
        evidence::write_all(self.client, events).await
    }
}

/// The driver's view of a statement's parameters.
fn params<'a>(args: &'a [Value<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter().map(|arg| arg as &(dyn ToSql + Sync)).collect()
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio_postgres::NoTls;

    /// The test database's URL; none outside CI without one (the test then checks
    /// nothing), and in CI its absence fails the test.
    fn test_database_url() -> Option<String> {
        let url = std::env::var(scratch::TEST_DATABASE_URL).ok();
        assert!(
            url.is_some() || std::env::var("CI").is_err(),
            "{} is required in CI",
            scratch::TEST_DATABASE_URL
        );
        url
    }

    /// What the server answers a statement, as the store reports it: only an unreachable
    /// or busy database is "unavailable"; a statement it refuses is a bug.
    async fn verdict_on(url: &str, sql: &str) -> StoreError {
        let (client, connection) = match tokio_postgres::connect(url, NoTls).await {
            Ok(connected) => connected,
            Err(error) => return Fail::Postgres(error).into_store_error(),
        };
        tokio::spawn(connection);
        match client.batch_execute(sql).await {
            Ok(()) => StoreError::Conflict("the statement was accepted"),
            Err(error) => Fail::Postgres(error).into_store_error(),
        }
    }

    #[tokio::test]
    async fn a_refused_statement_is_a_bug_and_a_lost_database_an_outage() {
        let Some(url) = test_database_url() else {
            return;
        };
        let refused = verdict_on(
            &url,
            "CREATE TEMPORARY TABLE t (n BIGINT CHECK (n >= 0)); INSERT INTO t VALUES (-1)",
        )
        .await;
        assert!(matches!(refused, StoreError::Refused(_)), "{refused:?}");
        assert_eq!(refused.code(), "store_refused_statement");
        let wrong = verdict_on(&url, "SELECT 1 / 0").await;
        assert!(matches!(wrong, StoreError::Refused(_)), "{wrong:?}");
        let raced = verdict_on(
            &url,
            "DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = 'serialization_failure'; END $$",
        )
        .await;
        assert!(matches!(raced, StoreError::Unavailable(_)), "{raced:?}");
        let demoted = verdict_on(
            &url,
            "DO $$ BEGIN RAISE EXCEPTION 'demoted' USING ERRCODE = 'read_only_sql_transaction'; END $$",
        )
        .await;
        assert!(matches!(demoted, StoreError::Unavailable(_)), "{demoted:?}");
        // The driver's own refusal (no SQLSTATE, not the socket): a bug, not an outage.
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("the test database answers");
        tokio::spawn(connection);
        let none = client
            .query_one("SELECT 1 WHERE false", &[])
            .await
            .expect_err("no row");
        let fail = Fail::Postgres(none);
        assert!(!fail.is_batch_failure() && !fail.is_connection_lost());
        assert!(matches!(fail.into_store_error(), StoreError::Refused(_)));
        let unreachable = verdict_on("postgres://sceau:sceau@127.0.0.1:1/none", "SELECT 1").await;
        assert!(
            matches!(unreachable, StoreError::Unavailable(_)),
            "{unreachable:?}"
        );
    }

    /// Statements sent together in a transaction: the one sent after a failed one fails
    /// with "current transaction is aborted"; what they report is the cause, whichever
    /// order they are given in (a deadlock must reach the batch as a deadlock).
    #[tokio::test]
    async fn statements_sent_together_report_the_cause_not_its_echo() {
        let Some(url) = test_database_url() else {
            return;
        };
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("the test database answers");
        tokio::spawn(connection);
        for cause_first in [true, false] {
            client.batch_execute("BEGIN").await.expect("a transaction");
            let (cause, echo) = futures_util::future::join(
                client.query("SELECT 1 / 0", &[]),
                client.query("SELECT 1", &[]),
            )
            .await;
            let (cause, echo) = (cause.map_err(Fail::Postgres), echo.map_err(Fail::Postgres));
            assert!(echo.as_ref().is_err_and(Fail::is_aborted_echo));
            let reported = if cause_first {
                crate::tx::both(cause, echo)
            } else {
                crate::tx::both(echo, cause)
            };
            let Err(Fail::Postgres(reported)) = reported else {
                panic!("the statements did not fail");
            };
            assert_eq!(
                reported.code(),
                Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
            );
            client.batch_execute("ROLLBACK").await.expect("rolled back");
        }
    }
}
