//! The notary's envelopes on PostgreSQL (the operations are `ops::envelopes`). An
//! envelope's writes run under its client's account lock (`command::Guard::Client`), so
//! that a manifest and the files of one envelope are judged one at a time.

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Envelopes;
use crate::model::*;
use crate::ops::envelopes as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Envelopes for PostgresStore {
    async fn create_envelope(&self, envelope: NewEnvelope) -> Result<EnvelopeView, StoreError> {
        let guard = Guard::Client(envelope.client_id);
        self.write(guard, envelope, |c, envelope, locked| {
            async move { ops::create(&PgTx::new(c, locked), envelope).await }.boxed()
        })
        .await
    }

    async fn envelope(&self, public_id: &str) -> Result<Option<EnvelopeView>, StoreError> {
        self.read(async |c| ops::envelope(&PgTx::reader(c), public_id).await)
            .await
    }

    async fn client_envelopes(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError> {
        self.read(async |c| ops::client_envelopes(&PgTx::reader(c), client_id, limit).await)
            .await
    }

    async fn sign_manifest(
        &self,
        signed: SignedManifest,
    ) -> Result<(ManifestPlan, Option<EnvelopeView>), StoreError> {
        let guard = Guard::Client(signed.client_id);
        self.write(guard, signed, |c, signed, locked| {
            async move { ops::sign_manifest(&PgTx::new(c, locked), signed).await }.boxed()
        })
        .await
    }

    async fn receive_file(
        &self,
        received: ReceivedFile,
    ) -> Result<(FilePlan, Option<EnvelopeView>), StoreError> {
        let guard = Guard::Client(received.client_id);
        self.write(guard, received, |c, received, locked| {
            async move { ops::receive_file(&PgTx::new(c, locked), received).await }.boxed()
        })
        .await
    }
}
