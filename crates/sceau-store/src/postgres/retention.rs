//! The purge on PostgreSQL (the operation is `ops::retention`): it locks no account
//! (`Guard::Nothing`); it removes only rows nothing changes any more (ended sessions,
//! checkouts, messages and webhooks; old idempotency keys).

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Purging;
use crate::model::*;
use crate::ops::retention as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Purging for PostgresStore {
    async fn purge(&self, purge: Purge) -> Result<Purged, StoreError> {
        self.write(Guard::Nothing, purge, |c, purge, locked| {
            async move { ops::purge(&PgTx::new(c, locked), purge).await }.boxed()
        })
        .await
    }
}
