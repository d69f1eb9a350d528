//! The SQLite backend: one file, WAL, `synchronous = FULL`; one writer thread that runs
//! commands in batches (group commit) and a small pool of read connections.

pub mod archive;
mod certificates;
mod checkout;
mod clearing;
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
mod sign_in;
mod signatures;
mod webhooks;

pub use archive::SqliteArchive;

use crate::StoreError;
use crate::capabilities::*;
use crate::model::*;
use crate::sql::Sql;
use crate::tx::{Fail, Tx, Value};
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Commands waiting beyond this make their senders wait (back-pressure).
const WRITE_QUEUE_LEN_MAX: usize = 16_384;
/// Most commands committed together in one transaction.
const BATCH_SIZE_MAX: usize = 1_024;
const READERS_COUNT: usize = 4;
const BUSY_TIMEOUT_MS: u64 = 5_000;
/// Prepared statements kept per connection: more than the writer's distinct statements.
const STATEMENT_CACHE_LEN: usize = 256;

/// A command waiting for the writer. It may run twice: first optimistically inside the
/// batch's transaction with no savepoint; if any command of the batch fails, the batch is
/// rolled back and every command runs again, each in its own savepoint.
trait Command: Send {
    /// Runs the command on the writer connection; true if it succeeded.
    fn run(&mut self, connection: &Connection) -> bool;
    /// Answers the caller once the batch's commit (or failure) is known.
    fn answer(self: Box<Self>, committed: Result<(), StoreError>);
}

type Job = Box<dyn Command>;

struct Pending<F, T> {
    operation: F,
    result: Option<Result<T, StoreError>>,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Command for Pending<F, T>
where
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
    T: Send,
{
    fn run(&mut self, connection: &Connection) -> bool {
        let result = catch_unwind(AssertUnwindSafe(|| (self.operation)(connection)))
            .unwrap_or_else(|_| Err(StoreError::Corrupt("command panicked".into())));
        let succeeded = result.is_ok();
        self.result = Some(result);
        succeeded
    }

    fn answer(self: Box<Self>, committed: Result<(), StoreError>) {
        let result = self
            .result
            .unwrap_or_else(|| Err(StoreError::Unavailable("command not run".into())));
        let _ = self.answer.send(committed.and(result));
    }
}

/// The SQLite store. Cheap to clone; all clones share the writer and the readers.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    readers: Arc<ReadPool>,
}

struct ReadPool {
    connections: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Plans never depend on the values bound: without this, a statement with a bound
    // `LIMIT` (the outbox's and webhooks' claims, a phone's texts) is compiled again at
    // every execution, because SQLite plans with the bound limit and expires the
    // statement whenever it is bound again. Nothing here runs ANALYZE, so the plans are
    // the same either way.
    connection.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_LEN);
    Ok(connection)
}

/// The database holds password hashes and sealed messages: its directories are created
/// 0700 and the file 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm`
/// files the database's own mode); a file or companion left more open by an earlier
/// version is closed to others.
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
        // A directory the operator made is theirs to set; say so if others can list it.
        let mode = std::fs::metadata(parent)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                directory = %parent.display(),
                mode = format!("{:o}", mode & 0o777),
                "the database's directory is open to other local users; make it 0700"
            );
        }
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    let name = path.as_os_str();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = name.to_owned();
        file.push(suffix);
        match std::fs::metadata(&file) {
            Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        make_private(path).map_err(|e| {
            StoreError::Unavailable(format!("making {} private: {e}", path.display()))
        })?;
        let mut writer = open_connection(path)?;
        schema::migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS_COUNT);
        for _ in 0..READERS_COUNT {
            let reader = open_connection(path)?;
            reader.pragma_update(None, "query_only", "ON")?;
            readers.push(reader);
        }
        // SQLite's default busy handler backs off up to 100 ms per wait; the writer only
        // ever waits for a checkpoint's short hold on the lock, so it polls finely.
        writer.busy_handler(Some(poll_busy))?;
        // The writer never checkpoints; the checkpointer thread does.
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.pragma_update(None, "cache_size", -16_384)?;
        let checkpointer = Arc::new(Checkpointer {
            state: Mutex::new((false, false)),
            signal: std::sync::Condvar::new(),
        });
        let checkpoint_connection = open_connection(path)?;
        // A RESTART checkpoint holds the write lock while it waits for the readers to
        // leave the WAL: with the default handler's sleeps (1, 2, 5, 10 ms and more) the
        // writer would wait those too, so the checkpointer polls as finely as the writer,
        // and gives up long before it (a RESTART not done is tried again 50 ms later).
        checkpoint_connection.busy_handler(Some(checkpointer_busy))?;
        let checkpoint_worker = Arc::clone(&checkpointer);
        std::thread::Builder::new()
            .name("sceau-sqlite-checkpoint".into())
            .spawn(move || checkpoint_worker.run(checkpoint_connection))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE_LEN_MAX);
        std::thread::Builder::new()
            .name("sceau-sqlite-writer".into())
            .spawn(move || write_loop(writer, queue, checkpointer))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(SqliteStore {
            jobs,
            readers: Arc::new(ReadPool {
                connections: Mutex::new(readers),
                permits: Arc::new(Semaphore::new(READERS_COUNT)),
            }),
        })
    }

    /// Runs `operation` on the writer, inside the current batch's transaction, in a
    /// savepoint of its own. Answers only after the batch is committed.
    async fn write<T: Send + 'static>(
        &self,
        operation: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(Pending {
            operation,
            result: None,
            answer,
        });
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }

    /// Runs `query` on a read connection, off the async threads.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = Arc::clone(&self.readers);
        // The permit moves into the blocking task: if the caller gives up, the connection
        // is still counted as taken until the task has put it back.
        let permit = Arc::clone(&self.readers.permits)
            .acquire_owned()
            .await
            .map_err(|_| stopped())?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            pool.run(query)
        })
        .await
        .map_err(|_| stopped())?
    }

    /// [`SqliteStore::read`] for a lookup by key (a row or a few, through an index): run
    /// on the calling thread when a read connection is free at once, which saves the two
    /// thread switches of the blocking pool, the larger part of such a read's cost; in
    /// the blocking pool otherwise. A read in WAL mode does not wait for the writer, so
    /// the async thread is held for the lookup itself, which may still wait for the disk
    /// (a page not cached) or, rarely, for a busy database (WAL recovery, within the
    /// readers' busy timeout). Only for queries bounded by their index (never a list, a
    /// page of history or a file).
    async fn read_quick<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Ok(_permit) = Arc::clone(&self.readers.permits).try_acquire_owned() else {
            return self.read(query).await;
        };
        self.readers.run(query)
    }
}

impl ReadPool {
    /// Runs `query` on a connection of the pool, on this thread, and puts it back, even
    /// if the query panicked. The caller holds a permit: a connection is there.
    fn run<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let connection = self
            .connections
            .lock()
            .map_err(|_| stopped())?
            .pop()
            .ok_or_else(stopped)?;
        let result = catch_unwind(AssertUnwindSafe(|| query(&connection)))
            .unwrap_or_else(|_| Err(StoreError::Corrupt("read query panicked".into())));
        if let Ok(mut connections) = self.connections.lock() {
            connections.push(connection);
        }
        result
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store is shutting down".into())
}

/// Runs a command in a savepoint of its own, undoing its writes if it fails.
fn run_in_savepoint(connection: &Connection, command: &mut Job) -> Result<(), StoreError> {
    connection
        .prepare_cached("SAVEPOINT command")?
        .execute([])?;
    if !command.run(connection) {
        connection
            .prepare_cached("ROLLBACK TO command")?
            .execute([])?;
    }
    connection.prepare_cached("RELEASE command")?.execute([])?;
    Ok(())
}

/// Runs a batch in one transaction and commits it. The fast path runs the commands one
/// after the other with no savepoint; a failure is rare (a conflict, a broken row), and
/// then the whole batch is rolled back and run again with one savepoint per command, so
/// that each command still succeeds or fails alone.
fn run_batch(connection: &Connection, batch: &mut [Job]) -> Result<(), StoreError> {
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let all_succeeded = batch.iter_mut().all(|command| command.run(connection));
    let outcome = if all_succeeded {
        Ok(())
    } else {
        connection.execute_batch("ROLLBACK; BEGIN IMMEDIATE")?;
        batch
            .iter_mut()
            .try_for_each(|command| run_in_savepoint(connection, command))
    };
    let committed =
        outcome.and_then(|()| connection.execute_batch("COMMIT").map_err(StoreError::from));
    if committed.is_err() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    committed
}

/// The writer: takes every command waiting (up to [`BATCH_SIZE_MAX`]), runs them in one
/// transaction, commits once, then answers them all.
fn write_loop(
    connection: Connection,
    mut queue: mpsc::Receiver<Job>,
    checkpointer: Arc<Checkpointer>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(BATCH_SIZE_MAX);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH_SIZE_MAX {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let committed = run_batch(&connection, &mut batch);
        crate::metrics::batch("sqlite", batch.len(), started.elapsed());
        if let Err(error) = &committed {
            tracing::error!(%error, "write batch failed; nothing of it was applied");
        }
        for command in batch.drain(..) {
            command.answer(committed.clone());
        }
        checkpointer.wake();
    }
    checkpointer.stop();
}

/// WAL pages past which the checkpointer stops being polite (RESTART: waits for the
/// writer between two batches) so that the WAL file cannot grow without bound.
const WAL_PAGES_FORCE: i64 = 8_192;

/// Copies the WAL back into the database file on its own connection and thread, so that
/// the writer never pays for it (PASSIVE checkpoints do not block writers).
struct Checkpointer {
    state: Mutex<(bool, bool)>,
    signal: std::sync::Condvar,
}

impl Checkpointer {
    fn wake(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.0 = true;
            self.signal.notify_one();
        }
    }

    fn stop(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.1 = true;
            self.signal.notify_one();
        }
    }

    fn run(&self, connection: Connection) {
        // After a RESTART that could not finish (a reader held an old snapshot: a
        // backup's long read), the next waits this long, doubling up to 5 s: each try
        // holds the write lock for up to 100 ms, and a long reader would make it fail
        // every cycle.
        let mut restart_pause = std::time::Duration::ZERO;
        let mut restart_after = std::time::Instant::now();
        loop {
            let stopping = {
                let Ok(state) = self.state.lock() else { return };
                let Ok((mut state, _)) = self.signal.wait_timeout_while(
                    state,
                    std::time::Duration::from_millis(200),
                    |s| !s.0 && !s.1,
                ) else {
                    return;
                };
                state.0 = false;
                state.1
            };
            let mode = if stopping { "TRUNCATE" } else { "PASSIVE" };
            match checkpoint(&connection, mode) {
                Ok(wal_pages)
                    if wal_pages > WAL_PAGES_FORCE
                        && std::time::Instant::now() >= restart_after =>
                {
                    match restart(&connection) {
                        Ok(true) => restart_pause = std::time::Duration::ZERO,
                        _ => {
                            restart_pause =
                                (restart_pause * 2).clamp(RESTART_PAUSE_FIRST, RESTART_PAUSE_MAX);
                            restart_after = std::time::Instant::now() + restart_pause;
                        }
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "checkpoint failed; will retry"),
            }
            if stopping {
                return;
            }
            // Checkpoints need not follow every batch: at most twenty a second.
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// Busy handler of the checkpointer: waits 100 µs per try, for about 100 ms at most,
/// a fiftieth of the writer's patience, so that the writer never gives up on a lock a
/// checkpoint holds.
fn checkpointer_busy(tries: i32) -> bool {
    std::thread::sleep(std::time::Duration::from_micros(100));
    tries < 1_000
}

/// Busy handler of the writer: waits 100 µs per try, up to the usual busy timeout.
fn poll_busy(tries: i32) -> bool {
    std::thread::sleep(std::time::Duration::from_micros(100));
    i64::from(tries) < (BUSY_TIMEOUT_MS * 10) as i64
}

/// The first and the longest pause after a RESTART that could not finish.
const RESTART_PAUSE_FIRST: std::time::Duration = std::time::Duration::from_millis(200);
const RESTART_PAUSE_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// A RESTART checkpoint: whether it finished (no reader kept it from starting the WAL
/// over).
fn restart(connection: &Connection) -> Result<bool, StoreError> {
    let busy: i64 = connection.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get(0))?;
    Ok(busy == 0)
}

/// Runs a checkpoint; returns the WAL's size in pages.
fn checkpoint(connection: &Connection, mode: &str) -> Result<i64, StoreError> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    Ok(connection.query_row(&sql, [], |row| row.get(1))?)
}

/// A SQLite connection as a [`Tx`]: the writer's (inside its batch's transaction) or a
/// reader's. Each statement runs when its method is called; the future it returns is
/// ready.
pub(crate) struct SqliteTx<'c>(pub(crate) &'c Connection);

impl Tx for SqliteTx<'_> {
    type Row<'r> = rusqlite::Row<'r>;

    fn locks_rows(&self) -> bool {
        false
    }

    fn locked(&self) -> &[i64] {
        &[]
    }

    fn rows<T, F>(
        &self,
        sql: &Sql,
        args: &[Value<'_>],
        mut each: F,
    ) -> impl Future<Output = Result<Vec<T>, Fail>> + Send
    where
        T: Send,
        F: FnMut(&Self::Row<'_>) -> Result<T, StoreError> + Send,
    {
        let all = (|| {
            let mut statement = self.0.prepare_cached(sql.sqlite())?;
            let mut rows = statement.query(rusqlite::params_from_iter(args))?;
            let mut all = Vec::new();
            while let Some(row) = rows.next()? {
                all.push(each(row)?);
            }
            Ok(all)
        })();
        std::future::ready(all)
    }

    fn row<T, F>(
        &self,
        sql: &Sql,
        args: &[Value<'_>],
        decode: F,
    ) -> impl Future<Output = Result<Option<T>, Fail>> + Send
    where
        T: Send,
        F: FnOnce(&Self::Row<'_>) -> Result<T, StoreError> + Send,
    {
        let first = (|| {
            let mut statement = self.0.prepare_cached(sql.sqlite())?;
            let mut rows = statement.query(rusqlite::params_from_iter(args))?;
            Ok(rows.next()?.map(decode).transpose()?)
        })();
        std::future::ready(first)
    }

    fn execute(
        &self,
        sql: &Sql,
        args: &[Value<'_>],
    ) -> impl Future<Output = Result<u64, Fail>> + Send {
        let changed = (|| {
            let mut statement = self.0.prepare_cached(sql.sqlite())?;
            Ok(statement.execute(rusqlite::params_from_iter(args))? as u64)
        })();
        std::future::ready(changed)
    }

    fn record(
        &self,
        events: Vec<crate::evidence::Event>,
    ) -> impl Future<Output = Result<Vec<EvidenceRecord>, Fail>> + Send {
        let written = events
            .into_iter()
            .map(|event| evidence::write(self.0, event).map_err(Fail::Store))
            .collect();
        std::future::ready(written)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::open_connection;
    use rusqlite::config::DbConfig;

    /// How many times a statement with a bound `LIMIT` was compiled again over five
    /// executions with other limits.
    fn recompiled(connection: &rusqlite::Connection) -> i32 {
        let mut statement = connection
            .prepare("SELECT n FROM t ORDER BY n LIMIT ?1")
            .unwrap();
        for limit in 1..=5 {
            let rows: Vec<i64> = statement
                .query_map([limit], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(rows.len(), usize::try_from(limit.min(2)).unwrap());
        }
        statement.get_status(rusqlite::StatementStatus::RePrepare)
    }

    /// The store's connections compile a statement once, whatever values are bound to
    /// it; SQLite's default compiles it again for every new `LIMIT`.
    #[test]
    fn statements_are_not_compiled_again_for_new_bound_values() {
        let directory = tempfile::tempdir().unwrap();
        let connection = open_connection(&directory.path().join("a.db")).unwrap();
        connection
            .execute_batch("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2)")
            .unwrap();
        assert_eq!(recompiled(&connection), 0);
        connection
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, false)
            .unwrap();
        assert!(recompiled(&connection) >= 4);
    }
}
