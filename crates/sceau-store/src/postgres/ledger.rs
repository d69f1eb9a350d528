//! The ledger's invariants, recomputed from the stored rows.

use super::*;

#[async_trait]
impl Ledger for PostgresStore {
    async fn check_ledger(&self) -> Result<LedgerReport, StoreError> {
        let mut client = self.connection().await?;
        read::check_ledger(&mut client)
            .await
            .map_err(Fail::into_store_error)
    }
}
