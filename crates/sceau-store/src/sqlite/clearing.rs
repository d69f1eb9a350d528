//! Clearing on SQLite (the operations are `ops::clearing`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Clearing;
use crate::model::*;
use crate::ops::clearing as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Clearing for SqliteStore {
    async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<bool, StoreError> {
        self.write(move |c| run_now(ops::set_merchant_bank(&SqliteTx(c), merchant_id, &bank)))
            .await
    }

    async fn close_clearing_batch(
        &self,
        close: CloseClearing,
    ) -> Result<ClearingOutcome, StoreError> {
        self.write(move |c| run_now(ops::close_clearing_batch(&SqliteTx(c), &close)))
            .await
    }

    async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError> {
        self.read(move |c| run_now(ops::clearing_batch(&SqliteTx(c), batch_id)))
            .await
    }

    async fn clearing_batches(&self, limit: u32) -> Result<Vec<ClearingBatch>, StoreError> {
        self.read(move |c| run_now(ops::clearing_batches(&SqliteTx(c), limit)))
            .await
    }

    async fn settlement_file(&self, batch_id: i64) -> Result<Option<String>, StoreError> {
        self.read(move |c| run_now(ops::settlement_file(&SqliteTx(c), batch_id)))
            .await
    }
}
