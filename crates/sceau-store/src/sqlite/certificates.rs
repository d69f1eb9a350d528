//! The white room's certificates on SQLite (the operations are `ops::certificates`).

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::capabilities::Certificates;
use crate::model::*;
use crate::ops::certificates as ops;
use crate::tx::run_now;
use async_trait::async_trait;

#[async_trait]
impl Certificates for SqliteStore {
    async fn pin_pki_root(
        &self,
        root_sha256: [u8; 32],
        now_s: i64,
    ) -> Result<[u8; 32], StoreError> {
        self.write(move |c| run_now(ops::pin_root(&SqliteTx(c), &root_sha256, now_s)))
            .await
    }

    async fn record_certificate(&self, certificate: NewCertificate) -> Result<(), StoreError> {
        self.write(move |c| run_now(ops::insert(&SqliteTx(c), &certificate, None)))
            .await
    }

    async fn certificate(&self, serial: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let serial = serial.to_owned();
        self.read_quick(move |c| run_now(ops::certificate(&SqliteTx(c), &serial)))
            .await
    }

    async fn client_certificates(
        &self,
        client_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        // By the client's index: their holder and pseudonym certificates, a few (one-use
        // and station certificates name no client).
        self.read_quick(move |c| run_now(ops::client_certificates(&SqliteTx(c), client_id)))
            .await
    }

    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: u8,
        by: ActedBy,
        now_s: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        let serial = serial.to_owned();
        self.write(move |c| run_now(ops::revoke(&SqliteTx(c), &serial, reason, Some(&by), now_s)))
            .await
    }

    async fn revocations(&self, now_s: i64) -> Result<Vec<CertificateRecord>, StoreError> {
        self.read(move |c| run_now(ops::revocations(&SqliteTx(c), now_s)))
            .await
    }

    async fn use_certificate(&self, serial: &str, now_s: i64) -> Result<UseOutcome, StoreError> {
        let serial = serial.to_owned();
        self.write(move |c| {
            run_now(ops::use_once(
                &SqliteTx(c),
                &serial,
                CertificateKind::Disposable,
                now_s,
            ))
        })
        .await
    }
}
