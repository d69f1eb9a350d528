//! The SQLite backend: one file, WAL, `synchronous = FULL`; one writer thread that runs
//! commands in batches (group commit) and a small pool of read connections.

mod certificates;
mod checkout;
mod clearing;
mod evidence;
mod log;
mod ops;
mod read;
pub mod schema;
mod signatures;

use crate::model::*;
use crate::{Store, StoreError};
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
use sceau_domain::PhoneNumber;
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
        writer.busy_handler(Some(writer_busy))?;
        // The writer never checkpoints; the checkpointer thread does.
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.pragma_update(None, "cache_size", -16_384)?;
        let checkpointer = Arc::new(Checkpointer {
            state: Mutex::new((false, false)),
            signal: std::sync::Condvar::new(),
        });
        let checkpoint_connection = open_connection(path)?;
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
            let connection = pool
                .connections
                .lock()
                .map_err(|_| stopped())?
                .pop()
                .ok_or_else(stopped)?;
            let result = catch_unwind(AssertUnwindSafe(|| query(&connection)))
                .unwrap_or_else(|_| Err(StoreError::Corrupt("read query panicked".into())));
            if let Ok(mut connections) = pool.connections.lock() {
                connections.push(connection);
            }
            result
        })
        .await
        .map_err(|_| stopped())?
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
        let committed = run_batch(&connection, &mut batch);
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
                Ok(wal_pages) if wal_pages > WAL_PAGES_FORCE => {
                    let _ = checkpoint(&connection, "RESTART");
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

/// Busy handler of the writer: waits 100 µs per try, up to the usual busy timeout.
fn writer_busy(tries: i32) -> bool {
    std::thread::sleep(std::time::Duration::from_micros(100));
    i64::from(tries) < (BUSY_TIMEOUT_MS * 10) as i64
}

/// Runs a checkpoint; returns the WAL's size in pages.
fn checkpoint(connection: &Connection, mode: &str) -> Result<i64, StoreError> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    Ok(connection.query_row(&sql, [], |row| row.get(1))?)
}

#[async_trait]
impl Store for SqliteStore {
    async fn enroll_client(&self, client: NewClient) -> Result<ClientRecord, StoreError> {
        self.write(move |c| ops::enroll_client(c, &client)).await
    }

    async fn enroll_merchant(&self, merchant: NewMerchant) -> Result<MerchantRecord, StoreError> {
        self.write(move |c| ops::enroll_merchant(c, &merchant))
            .await
    }

    async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, StoreError> {
        self.read(move |c| read::merchant_by_key_hash(c, &key_hash))
            .await
    }

    async fn merchant(&self, merchant_id: i64) -> Result<Option<MerchantRecord>, StoreError> {
        self.read(move |c| read::merchant(c, merchant_id)).await
    }

    async fn merchants(&self, limit: u32) -> Result<Vec<MerchantRecord>, StoreError> {
        self.read(move |c| read::merchants(c, limit)).await
    }

    async fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>, StoreError> {
        let login = login.to_owned();
        self.read(move |c| read::client_where(c, "login = ?1", &login))
            .await
    }

    async fn client_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let phone = phone.as_str().to_owned();
        self.read(move |c| read::client_where(c, "phone = ?1", &phone))
            .await
    }

    async fn client(&self, client_id: i64) -> Result<Option<ClientRecord>, StoreError> {
        self.read(move |c| read::client_where(c, "id = ?1", &client_id))
            .await
    }

    async fn clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        self.read(move |c| read::clients(c, limit)).await
    }

    async fn set_client_blocked(&self, client_id: i64, blocked: bool) -> Result<bool, StoreError> {
        self.write(move |c| ops::set_client_blocked(c, client_id, blocked))
            .await
    }

    async fn merchant_knows_client(
        &self,
        merchant_id: i64,
        client_id: i64,
    ) -> Result<bool, StoreError> {
        self.read(move |c| ops::merchant_knows_client(c, merchant_id, client_id))
            .await
    }

    async fn issue_number(&self, number: NewNumber) -> Result<IssueOutcome, StoreError> {
        self.write(move |c| ops::issue_number(c, &number)).await
    }

    async fn execute(&self, request: CommandRequest) -> Result<Executed, StoreError> {
        self.write(move |c| ops::execute(c, &request)).await
    }

    async fn expire(&self, now_s: i64) -> Result<Expired, StoreError> {
        self.write(move |c| ops::expire(c, now_s)).await
    }

    async fn account(&self, account_id: i64) -> Result<Option<AccountView>, StoreError> {
        self.read(move |c| read::account(c, account_id)).await
    }

    async fn client_numbers(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<NumberView>, StoreError> {
        self.read(move |c| read::client_numbers(c, client_id, limit))
            .await
    }

    async fn authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<Option<AuthorizationView>, StoreError> {
        self.read(move |c| ops::authorization(c, merchant_id, authorization_id))
            .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(move |c| ops::create_session(c, &session)).await
    }

    async fn session_client(
        &self,
        token_hash: [u8; 32],
        now_s: i64,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.read(
            move |c| match read::session_client(c, &token_hash, now_s)? {
                Some(client_id) => read::client_where(c, "id = ?1", &client_id),
                None => Ok(None),
            },
        )
        .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |c| ops::delete_session(c, &token_hash))
            .await
    }

    async fn record_sign_in(
        &self,
        attempt: SignInAttempt,
    ) -> Result<Option<SignInVerdict>, StoreError> {
        self.write(move |c| ops::record_sign_in(c, &attempt)).await
    }

    async fn send_unlock_code(&self, send: UnlockCodeSend) -> Result<UnlockOutcome, StoreError> {
        self.write(move |c| ops::send_unlock_code(c, &send)).await
    }

    async fn enqueue_message(&self, message: NewMessage, now_s: i64) -> Result<i64, StoreError> {
        self.write(move |c| ops::enqueue_message(c, &message, now_s))
            .await
    }

    async fn pending_messages(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(move |c| read::messages(c, "state = 'pending' ORDER BY id ASC", None, limit))
            .await
    }

    async fn claim_messages(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.write(move |c| ops::claim_messages(c, now_s, lease_s, limit))
            .await
    }

    async fn mark_message(
        &self,
        message_id: i64,
        delivery: MessageDelivery,
    ) -> Result<(), StoreError> {
        self.write(move |c| ops::mark_message(c, message_id, &delivery))
            .await
    }

    async fn messages_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let address = address.to_owned();
        self.read(move |c| {
            read::messages(c, "address = ?1 ORDER BY id DESC", Some(&address), limit)
        })
        .await
    }

    async fn create_checkout(
        &self,
        checkout: NewCheckout,
    ) -> Result<(CheckoutView, bool), StoreError> {
        self.write(move |c| checkout::create_checkout(c, &checkout))
            .await
    }

    async fn checkout(&self, public_id: &str) -> Result<Option<CheckoutView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| checkout::checkout(c, &public_id)).await
    }

    async fn hold_checkout(&self, hold: HoldCheckout) -> Result<HoldOutcome, StoreError> {
        self.write(move |c| checkout::hold_checkout(c, &hold)).await
    }

    async fn send_seal(&self, send: SendSeal) -> Result<SendOutcome, StoreError> {
        self.write(move |c| checkout::send_seal(c, &send)).await
    }

    async fn type_seal(&self, typed: TypedSeal) -> Result<SealOutcome, StoreError> {
        self.write(move |c| checkout::type_seal(c, &typed)).await
    }

    async fn claim_webhooks(
        &self,
        now_s: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.write(move |c| checkout::claim_webhooks(c, now_s, lease_s, limit))
            .await
    }

    async fn mark_webhook(&self, webhook_id: i64, result: WebhookResult) -> Result<(), StoreError> {
        self.write(move |c| checkout::mark_webhook(c, webhook_id, &result))
            .await
    }

    async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<bool, StoreError> {
        self.write(move |c| clearing::set_merchant_bank(c, merchant_id, &bank))
            .await
    }

    async fn close_clearing_batch(
        &self,
        close: CloseClearing,
    ) -> Result<ClearingOutcome, StoreError> {
        self.write(move |c| clearing::close_clearing_batch(c, &close))
            .await
    }

    async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError> {
        self.read(move |c| clearing::clearing_batch(c, batch_id))
            .await
    }

    async fn clearing_batches(&self, limit: u32) -> Result<Vec<ClearingBatch>, StoreError> {
        self.read(move |c| clearing::clearing_batches(c, limit))
            .await
    }

    async fn settlement_file(&self, batch_id: i64) -> Result<Option<String>, StoreError> {
        self.read(move |c| clearing::settlement_file(c, batch_id))
            .await
    }

    async fn pin_pki_root(
        &self,
        root_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<[u8; 32], StoreError> {
        self.write(move |c| certificates::pin_root(c, &root_sha256, now_s))
            .await
    }

    async fn record_certificate(&self, certificate: NewCertificate) -> Result<(), StoreError> {
        self.write(move |c| certificates::insert(c, &certificate, None))
            .await
    }

    async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let serial = serial.to_owned();
        self.read(move |c| certificates::certificate(c, &serial))
            .await
    }

    async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(move |c| certificates::client_certificates(c, client_id))
            .await
    }

    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: u8,
        now_s: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        let serial = serial.to_owned();
        self.write(move |c| certificates::revoke(c, &serial, reason, now_s))
            .await
    }

    async fn revocations(&self, now_s: i64) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(move |c| certificates::revocations(c, now_s))
            .await
    }

    async fn use_certificate(&self, serial: &str, now_s: i64) -> Result<UseOutcome, StoreError> {
        let serial = serial.to_owned();
        self.write(move |c| certificates::use_once(c, &serial, now_s))
            .await
    }

    async fn create_signature_request(
        &self,
        request: NewSignatureRequest,
    ) -> Result<SignatureRequestOutcome, StoreError> {
        self.write(move |c| signatures::create(c, &request)).await
    }

    async fn signature_request(
        &self,
        public_id: &str,
    ) -> Result<Option<SignatureRequestView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| signatures::request(c, &public_id)).await
    }

    async fn client_signature_requests(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, StoreError> {
        self.read(move |c| signatures::client_requests(c, client_id, limit))
            .await
    }

    async fn type_signature_seal(
        &self,
        typed: TypedSignatureSeal,
    ) -> Result<SignatureSealOutcome, StoreError> {
        self.write(move |c| signatures::type_seal(c, &typed)).await
    }

    async fn record_signature(
        &self,
        public_id: &str,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        self.write(move |c| signatures::record_signature(c, &public_id, &signature, now_s))
            .await
    }

    async fn append_log(&self, entries: Vec<Vec<u8>>, now_s: i64) -> Result<(), StoreError> {
        self.write(move |c| log::append(c, &entries, now_s)).await
    }

    async fn integrate_log(
        &self,
        integrate: IntegrateLog,
    ) -> Result<Option<LogCheckpoint>, StoreError> {
        self.write(move |c| log::integrate(c, &integrate)).await
    }

    async fn log_checkpoint(&self) -> Result<Option<LogCheckpoint>, StoreError> {
        self.read(log::checkpoint).await
    }

    async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |c| log::entry(c, index)).await
    }

    async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Inclusion { index, size };
        self.read(move |c| log::proof(c, &request, size)).await
    }

    async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = crate::log::ProofRequest::Consistency { old, new };
        self.read(move |c| log::proof(c, &request, new)).await
    }

    async fn log_nodes(
        &self,
        level: u8,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(move |c| log::nodes(c, level, start, count)).await
    }

    async fn log_entries(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(move |c| log::entries(c, start, count)).await
    }

    async fn evidence(&self, subject: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        let subject = subject.to_owned();
        self.read(move |c| evidence::of_subject(c, &subject)).await
    }

    async fn record_receipt(
        &self,
        evidence_id: i64,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |c| evidence::record_receipt(c, evidence_id, &signature, now_s))
            .await
    }

    async fn receipt(&self, evidence_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |c| evidence::receipt(c, evidence_id)).await
    }

    async fn fail_sealed_signature(&self, public_id: &str) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        self.write(move |c| signatures::fail_sealed(c, &public_id))
            .await
    }

    async fn check_ledger(&self) -> Result<LedgerReport, StoreError> {
        self.read(read::check_ledger).await
    }
}
