//! The white room's certificates on PostgreSQL (the operations are
//! `ops::certificates`; a certificate's one use locks its row).

use super::command::Guard;
use super::{PgTx, PostgresStore};
use crate::StoreError;
use crate::capabilities::Certificates;
use crate::model::*;
use crate::ops::certificates as ops;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Certificates for PostgresStore {
    async fn pin_pki_root(
        &self,
        root_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<[u8; 32], StoreError> {
        self.write(Guard::Nothing, (root_sha256, now_s), |c, d, locked| {
            async move { ops::pin_root(&PgTx::new(c, locked), &d.0, d.1).await }.boxed()
        })
        .await
    }

    async fn record_certificate(&self, certificate: NewCertificate) -> Result<(), StoreError> {
        self.write(Guard::Nothing, certificate, |c, certificate, locked| {
            async move { ops::insert(&PgTx::new(c, locked), certificate, None).await }.boxed()
        })
        .await
    }

    async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>, StoreError> {
        self.read(async |c| ops::certificate(&PgTx::reader(c), serial).await)
            .await
    }

    async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(async |c| ops::client_certificates(&PgTx::reader(c), client_id).await)
            .await
    }

    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: u8,
        by: ActedBy,
        now_s: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        let data = (serial.to_owned(), reason, by, now_s);
        self.write(Guard::Nothing, data, |c, d, locked| {
            async move { ops::revoke(&PgTx::new(c, locked), &d.0, d.1, Some(&d.2), d.3).await }
                .boxed()
        })
        .await
    }

    async fn revocations(&self, now_s: i64) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(async |c| ops::revocations(&PgTx::reader(c), now_s).await)
            .await
    }

    async fn use_certificate(&self, serial: &str, now_s: i64) -> Result<UseOutcome, StoreError> {
        self.write(
            Guard::Nothing,
            (serial.to_owned(), now_s),
            |c, d, locked| {
                async move {
                    ops::use_once(
                        &PgTx::new(c, locked),
                        &d.0,
                        CertificateKind::Disposable,
                        d.1,
                    )
                    .await
                }
                .boxed()
            },
        )
        .await
    }
}
