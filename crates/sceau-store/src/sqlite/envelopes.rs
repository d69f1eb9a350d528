//! The notary's envelopes on SQLite (the operations are `ops::envelopes`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Envelopes;
use crate::model::*;
use crate::ops::envelopes as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Envelopes for SqliteStore {
    async fn create_envelope(&self, envelope: NewEnvelope) -> Result<EnvelopeView, StoreError> {
        self.write(move |c| run_now(ops::create(&SqliteTx(c), &envelope)))
            .await
    }

    async fn envelope(&self, public_id: &str) -> Result<Option<EnvelopeView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| run_now(ops::envelope(&SqliteTx(c), &public_id)))
            .await
    }

    async fn client_envelopes(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError> {
        self.read(move |c| run_now(ops::client_envelopes(&SqliteTx(c), client_id, limit)))
            .await
    }

    async fn sign_manifest(
        &self,
        signed: SignedManifest,
    ) -> Result<(ManifestPlan, Option<EnvelopeView>), StoreError> {
        self.write(move |c| run_now(ops::sign_manifest(&SqliteTx(c), &signed)))
            .await
    }

    async fn receive_file(
        &self,
        received: ReceivedFile,
    ) -> Result<(FilePlan, Option<EnvelopeView>), StoreError> {
        self.write(move |c| run_now(ops::receive_file(&SqliteTx(c), &received)))
            .await
    }
}
