//! The legacy signature requests on SQLite, read only (the operations are
//! `ops::signatures`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Signatures;
use crate::model::*;
use crate::ops::signatures as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Signatures for SqliteStore {
    async fn signature_request(
        &self,
        public_id: &str,
    ) -> Result<Option<SignatureRequestView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| run_now(ops::request(&SqliteTx(c), &public_id)))
            .await
    }

    async fn client_signature_requests(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, StoreError> {
        self.read(move |c| run_now(ops::client_requests(&SqliteTx(c), client_id, limit)))
            .await
    }
}
