//! Requests for signatures on PostgreSQL (the operations are `ops::signatures`). A
//! request's writes run under its client's account lock (`command::Guard::Client`), so
//! that the hourly count, the wrong tries and the client's failure count are never
//! read and written by two batches at once.

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Signatures;
use crate::model::*;
use crate::ops::signatures as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Signatures for PostgresStore {
    async fn create_signature_request(
        &self,
        request: NewSignatureRequest,
    ) -> Result<SignatureRequestOutcome, StoreError> {
        let guard = Guard::Client(request.client_id);
        self.write(guard, request, |c, request, locked| {
            async move { ops::create(&PgTx::new(c, locked), request).await }.boxed()
        })
        .await
    }

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

    async fn type_signature_seal(
        &self,
        typed: TypedSignatureSeal,
    ) -> Result<SignatureSealOutcome, StoreError> {
        let guard = Guard::SignatureRequest(typed.public_id.clone());
        self.write(guard, typed, |c, typed, locked| {
            async move { ops::type_seal(&PgTx::new(c, locked), typed).await }.boxed()
        })
        .await
    }

    async fn record_signature(
        &self,
        public_id: &str,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let data = (public_id.to_owned(), signature, now_s);
        self.write(Guard::Nothing, data, |c, d, locked| {
            let tx = PgTx::new(c, locked);
            async move { ops::after_signing(&tx, &d.0, Some(&d.1), Some(d.2)).await }.boxed()
        })
        .await
    }

    async fn fail_sealed_signature(&self, public_id: &str) -> Result<bool, StoreError> {
        self.write(Guard::Nothing, public_id.to_owned(), |c, d, locked| {
            async move { ops::after_signing(&PgTx::new(c, locked), d, None, None).await }.boxed()
        })
        .await
    }
}
