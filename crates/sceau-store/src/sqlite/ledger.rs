//! The ledger's check on SQLite, on a reader (the operation is `ops::ledger`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Ledger;
use crate::model::LedgerReport;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Ledger for SqliteStore {
    async fn check_ledger(&self) -> Result<LedgerReport, StoreError> {
        self.read(|c| run_now(crate::ops::ledger::check_ledger(&SqliteTx(c))))
            .await
    }
}
