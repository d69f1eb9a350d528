//! Clearing on PostgreSQL (the operations are `ops::clearing`): a close locks the
//! accounts [`accounts_to_clear`] names (`command::Guard::Clearing`) and pays only those.

use super::command::Guard;
use super::{Conn, PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Clearing;
use crate::model::*;
use crate::ops::clearing as ops;
use crate::tx::Fail;
use async_trait::async_trait;
use futures_util::FutureExt;

/// What a close of `currency` locks (see `ops::clearing::accounts_to_clear`), looked up
/// in the batch's transaction before its locks are taken.
pub(super) async fn accounts_to_clear(c: &Conn, currency: &str) -> Result<Vec<i64>, Fail> {
    ops::accounts_to_clear(&PgTx::new(c, &[]), currency).await
}

#[async_trait]
impl Clearing for PostgresStore {
    async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<bool, StoreError> {
        // The merchant's row is locked with the batch's others, in their order, not in
        // the middle of the batch (where it could deadlock with a batch holding it).
        self.write(
            Guard::Merchant(merchant_id),
            (merchant_id, bank),
            |c, d, locked| {
                async move { ops::set_merchant_bank(&PgTx::new(c, locked), d.0, &d.1).await }
                    .boxed()
            },
        )
        .await
    }

    async fn close_clearing_batch(
        &self,
        close: CloseClearing,
    ) -> Result<ClearingOutcome, StoreError> {
        let guard = Guard::Clearing(close.currency.code().to_owned());
        self.write(guard, close, |c, close, locked| {
            async move { ops::close_clearing_batch(&PgTx::new(c, locked), close).await }.boxed()
        })
        .await
    }

    async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError> {
        self.read(async |c| ops::clearing_batch(&PgTx::reader(c), batch_id).await)
            .await
    }

    async fn clearing_batches(&self, limit: u32) -> Result<Vec<ClearingBatch>, StoreError> {
        self.read(async |c| ops::clearing_batches(&PgTx::reader(c), limit).await)
            .await
    }

    async fn settlement_file(&self, batch_id: i64) -> Result<Option<String>, StoreError> {
        self.read(async |c| ops::settlement_file(&PgTx::reader(c), batch_id).await)
            .await
    }
}
