//! The ledger's invariants, recomputed from the stored rows.

use super::*;

#[async_trait]
impl Ledger for SqliteStore {
    async fn check_ledger(&self) -> Result<LedgerReport, StoreError> {
        self.read(read::check_ledger).await
    }
}
