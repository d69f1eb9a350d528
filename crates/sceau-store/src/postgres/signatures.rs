//! The legacy signature requests on PostgreSQL, read only (the operations are
//! `ops::signatures`).

use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Signatures;
use crate::model::*;
use crate::ops::signatures as ops;
use async_trait::async_trait;

#[async_trait]
impl Signatures for PostgresStore {
    async fn signature_request(
        &self,
        public_id: &str,
    ) -> Result<Option<SignatureRequestView>, StoreError> {
        self.read(async |c| ops::request(&PgTx::reader(c), public_id).await)
            .await
    }

    async fn client_signature_requests(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, StoreError> {
        self.read(async |c| ops::client_requests(&PgTx::reader(c), client_id, limit).await)
            .await
    }
}
