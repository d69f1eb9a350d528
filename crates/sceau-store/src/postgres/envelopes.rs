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
        self.read(async |c| ops::client_envelopes(&PgTx::reader(c), client_id, false, limit).await)
            .await
    }

    async fn client_one_file_envelopes(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError> {
        self.read(async |c| ops::client_envelopes(&PgTx::reader(c), client_id, true, limit).await)
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

    async fn receive_file(&self, received: ReceivedFile) -> Result<FileReceipt, StoreError> {
        let guard = Guard::Client(received.client_id);
        self.write(guard, received, |c, received, locked| {
            async move { ops::receive_file(&PgTx::new(c, locked), received).await }.boxed()
        })
        .await
    }

    async fn resend_envelope_seal(
        &self,
        resend: EnvelopeSealResend,
    ) -> Result<EnvelopeResendOutcome, StoreError> {
        let guard = Guard::Client(resend.client_id);
        self.write(guard, resend, |c, resend, locked| {
            async move { ops::resend_seal(&PgTx::new(c, locked), resend).await }.boxed()
        })
        .await
    }

    async fn type_envelope_seal(
        &self,
        typed: TypedEnvelopeSeal,
    ) -> Result<EnvelopeSealOutcome, StoreError> {
        let guard = Guard::Client(typed.client_id);
        self.write(guard, typed, |c, typed, locked| {
            async move { ops::type_seal(&PgTx::new(c, locked), typed).await }.boxed()
        })
        .await
    }

    async fn notarize_envelope(&self, notarized: NotarizedEnvelope) -> Result<bool, StoreError> {
        self.write(Guard::Nothing, notarized, |c, notarized, locked| {
            async move { ops::notarize(&PgTx::new(c, locked), notarized).await }.boxed()
        })
        .await
    }

    async fn envelope_waits(
        &self,
        public_id: &str,
        why: &str,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let data = (public_id.to_owned(), why.to_owned(), now_s);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::wait(&PgTx::new(c, locked), &d.0, &d.1, d.2).await }.boxed()
        })
        .await
    }

    async fn fail_sealed_envelope(
        &self,
        public_id: &str,
        why: &str,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let data = (public_id.to_owned(), why.to_owned(), now_s);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::fail_sealed(&PgTx::new(c, locked), &d.0, &d.1, d.2).await }.boxed()
        })
        .await
    }

    async fn envelopes_past_retention(
        &self,
        now_s: i64,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, StoreError> {
        self.read(async |c| ops::past_retention(&PgTx::reader(c), now_s, limit).await)
            .await
    }

    async fn envelope_deleted(&self, public_id: &str, now_s: i64) -> Result<bool, StoreError> {
        let data = (public_id.to_owned(), now_s);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::deleted(&PgTx::new(c, locked), &d.0, d.1).await }.boxed()
        })
        .await
    }

    async fn envelope_content_in_use(
        &self,
        public_id: &str,
        sha256: [u8; 32],
    ) -> Result<bool, StoreError> {
        self.read(async |c| ops::content_in_use(&PgTx::reader(c), public_id, &sha256).await)
            .await
    }

    async fn expire_stale_envelopes(
        &self,
        now_s: i64,
        grace_s: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let data = (now_s, grace_s, limit);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::expire_stale(&PgTx::new(c, locked), d.0, d.1, d.2).await }.boxed()
        })
        .await
    }
}
