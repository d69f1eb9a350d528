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
        self.read(move |c| run_now(ops::client_envelopes(&SqliteTx(c), client_id, false, limit)))
            .await
    }

    async fn client_one_file_envelopes(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError> {
        self.read(move |c| run_now(ops::client_envelopes(&SqliteTx(c), client_id, true, limit)))
            .await
    }

    async fn sign_manifest(
        &self,
        signed: SignedManifest,
    ) -> Result<(ManifestPlan, Option<EnvelopeView>), StoreError> {
        self.write(move |c| run_now(ops::sign_manifest(&SqliteTx(c), &signed)))
            .await
    }

    async fn receive_file(&self, received: ReceivedFile) -> Result<FileReceipt, StoreError> {
        self.write(move |c| run_now(ops::receive_file(&SqliteTx(c), &received)))
            .await
    }

    async fn resend_envelope_seal(
        &self,
        resend: EnvelopeSealResend,
    ) -> Result<EnvelopeResendOutcome, StoreError> {
        self.write(move |c| run_now(ops::resend_seal(&SqliteTx(c), &resend)))
            .await
    }

    async fn type_envelope_seal(
        &self,
        typed: TypedEnvelopeSeal,
    ) -> Result<EnvelopeSealOutcome, StoreError> {
        self.write(move |c| run_now(ops::type_seal(&SqliteTx(c), &typed)))
            .await
    }

    async fn notarize_envelope(&self, notarized: NotarizedEnvelope) -> Result<bool, StoreError> {
        self.write(move |c| run_now(ops::notarize(&SqliteTx(c), &notarized)))
            .await
    }

    async fn envelope_waits(
        &self,
        public_id: &str,
        why: &str,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let (public_id, why) = (public_id.to_owned(), why.to_owned());
        self.write(move |c| run_now(ops::wait(&SqliteTx(c), &public_id, &why, now_s)))
            .await
    }

    async fn fail_sealed_envelope(
        &self,
        public_id: &str,
        why: &str,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let (public_id, why) = (public_id.to_owned(), why.to_owned());
        self.write(move |c| run_now(ops::fail_sealed(&SqliteTx(c), &public_id, &why, now_s)))
            .await
    }

    async fn envelopes_past_retention(
        &self,
        now_s: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError> {
        self.read(move |c| run_now(ops::past_retention(&SqliteTx(c), now_s, limit)))
            .await
    }

    async fn envelope_deleted(&self, public_id: &str, now_s: i64) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        self.write(move |c| run_now(ops::deleted(&SqliteTx(c), &public_id, now_s)))
            .await
    }

    async fn envelope_content_in_use(
        &self,
        public_id: &str,
        sha256: [u8; 32],
    ) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| run_now(ops::content_in_use(&SqliteTx(c), &public_id, &sha256)))
            .await
    }

    async fn expire_stale_envelopes(
        &self,
        now_s: i64,
        grace_s: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.write(move |c| run_now(ops::expire_stale(&SqliteTx(c), now_s, grace_s, limit)))
            .await
    }
}
