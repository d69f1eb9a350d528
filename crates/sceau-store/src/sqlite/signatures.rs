//! Requests for signatures on SQLite (the operations are `ops::signatures`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Signatures;
use crate::model::*;
use crate::ops::signatures as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Signatures for SqliteStore {
    async fn create_signature_request(
        &self,
        request: NewSignatureRequest,
    ) -> Result<SignatureRequestOutcome, StoreError> {
        self.write(move |c| run_now(ops::create(&SqliteTx(c), &request)))
            .await
    }

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

    async fn type_signature_seal(
        &self,
        typed: TypedSignatureSeal,
    ) -> Result<SignatureSealOutcome, StoreError> {
        self.write(move |c| run_now(ops::type_seal(&SqliteTx(c), &typed)))
            .await
    }

    async fn record_signature(
        &self,
        public_id: &str,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        let signed = move |c: &_| {
            let tx = SqliteTx(c);
            run_now(ops::after_signing(
                &tx,
                &public_id,
                Some(&signature),
                Some(now_s),
            ))
        };
        self.write(signed).await
    }

    async fn fail_sealed_signature(&self, public_id: &str) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        self.write(move |c| run_now(ops::after_signing(&SqliteTx(c), &public_id, None, None)))
            .await
    }
}
