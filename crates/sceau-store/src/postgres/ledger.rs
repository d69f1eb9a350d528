//! The ledger's check on PostgreSQL (the operation is `ops::ledger`), read in one
//! repeatable-read, read-only snapshot so that a busy ledger is seen whole.

use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Ledger;
use crate::model::LedgerReport;
use crate::tx::{Fail, broken};
use async_trait::async_trait;

/// Opens the snapshot. The checks read whole tables: the planner may scan and hash (the
/// connection's settings favour key lookups, see `PostgresStore::open`).
const SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
     SET LOCAL enable_seqscan = on; SET LOCAL enable_hashjoin = on; \
     SET LOCAL enable_mergejoin = on; SET LOCAL plan_cache_mode = auto";

/// A reader's connection in a transaction of its own. Dropped before its end (a failed
/// statement, or a caller that gave up), it is closed rather than pooled: the server
/// rolls the transaction back, and no reader is handed it still open.
struct Snapshot(Option<deadpool_postgres::Object>);

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            drop(deadpool_postgres::Object::take(connection));
        }
    }
}

impl Snapshot {
    async fn check_ledger(&self) -> Result<LedgerReport, Fail> {
        let c = self.0.as_ref().ok_or_else(|| broken("a snapshot ended"))?;
        c.batch_execute(SNAPSHOT).await?;
        let report = crate::ops::ledger::check_ledger(&PgTx::reader(c)).await?;
        c.batch_execute("COMMIT").await?;
        Ok(report)
    }
}

#[async_trait]
impl Ledger for PostgresStore {
    async fn check_ledger(&self) -> Result<LedgerReport, StoreError> {
        let mut snapshot = Snapshot(Some(self.connection().await?));
        let report = snapshot.check_ledger().await;
        if report.is_ok() {
            drop(snapshot.0.take()); // committed: back to the pool
        }
        report.map_err(Fail::into_store_error)
    }
}
