//! Throw-away schemas, for tests and benchmarks that share one PostgreSQL database: each
//! gets a schema of its own (so they can run in parallel) that is dropped afterwards.

use crate::StoreError;
use std::io::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_postgres::NoTls;

/// The variable that names the database the PostgreSQL tests run against.
pub const TEST_DATABASE_URL: &str = "SCEAU_TEST_DATABASE_URL";

/// The test database's URL, if one is given. Without one, says once (on the terminal,
/// past the test harness's capture) that the PostgreSQL tests did not run; under CI
/// (`CI=true`) a missing URL is an error, so that CI cannot pass them silently.
pub fn test_database_url() -> Option<String> {
    static NOTE: Once = Once::new();
    match std::env::var(TEST_DATABASE_URL) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{TEST_DATABASE_URL} must be set under CI: the PostgreSQL tests must run"
            );
            NOTE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {TEST_DATABASE_URL} is not set: the PostgreSQL tests were not run (SQLite only)"
                );
            });
            None
        }
    }
}

/// A schema of its own in a PostgreSQL database; dropped, with all it holds, on drop.
pub struct ScratchSchema {
    database_url: String,
    name: String,
    /// The database URL with this schema as its `search_path`: give it to
    /// [`crate::PostgresStore::open`] or to `sceau serve`.
    pub url: String,
}

impl ScratchSchema {
    pub async fn create(database_url: &str) -> Result<ScratchSchema, StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "sceau_scratch_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run_sql(database_url, &format!("CREATE SCHEMA {name}")).await?;
        let separator = if database_url.contains('?') { '&' } else { '?' };
        let url = format!("{database_url}{separator}options=-c%20search_path%3D{name}");
        Ok(ScratchSchema {
            database_url: database_url.to_owned(),
            name,
            url,
        })
    }

    /// The schema's name (for `pg_dump --schema`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sql` on the database (not only in this schema).
    pub async fn run(&self, sql: &str) -> Result<(), StoreError> {
        run_sql(&self.database_url, sql).await
    }
}

async fn run_sql(database_url: &str, sql: &str) -> Result<(), StoreError> {
    let (client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot connect: {e}")))?;
    let connection = tokio::spawn(connection);
    let result = client
        .batch_execute(sql)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()));
    drop(client);
    let _ = connection.await;
    result
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let database_url = self.database_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop may run inside a runtime, which cannot block: a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            runtime.block_on(run_sql(&database_url, &sql))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            tracing::warn!(schema = %self.name, "could not drop a scratch schema");
        }
    }
}
