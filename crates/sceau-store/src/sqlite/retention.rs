//! The purge on SQLite (the operation is `ops::retention`): one batch a write, on the
//! writer like every other.

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Purging;
use crate::model::*;
use crate::ops::retention as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Purging for SqliteStore {
    async fn purge(&self, purge: Purge) -> Result<Purged, StoreError> {
        self.write(move |c| run_now(ops::purge(&SqliteTx(c), &purge)))
            .await
    }
}
