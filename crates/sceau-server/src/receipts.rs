//! Payment receipts and evidence bundles (issue 6, point 3). When a seal pays a
//! checkout, the client's key signs the payment's `checkout.paid` evidence record (the
//! seed's PKI signature after the seal, through the one path to a client's key,
//! `sign_for_client`), with a signature time-stamp; the log includes the record's hash.
//! Client and merchant download the payment's bundle (`bundle.rs`).

use crate::bundle;
use crate::error::ApiError;
use crate::service::{Service, internal};
use axum::http::StatusCode;
use sceau_store::evidence::checkout_subject;
use sceau_store::{CheckoutState, CheckoutView, EvidenceRecord};
use sha2::{Digest, Sha256};

fn not_paid() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "checkout_not_paid",
        "only a paid checkout has a receipt",
    )
}

fn pending() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "evidence_pending",
        "the log has not included this payment yet; ask again in a moment",
    )
}

impl Service {
    /// The `checkout.paid` record of a paid checkout.
    async fn paid_record(&self, view: &CheckoutView) -> Result<EvidenceRecord, ApiError> {
        if view.state != CheckoutState::Paid {
            return Err(not_paid());
        }
        self.store
            .evidence(&checkout_subject(view.id))
            .await?
            .into_iter()
            .find(|record| record.kind == "checkout.paid")
            .ok_or_else(|| internal("a paid checkout without its record"))
    }

    /// Signs the receipt of `record`, the `checkout.paid` record of a checkout the
    /// client `client_id` paid with a seal, under their current certificate; the first
    /// receipt stored stands. The client consented with the seal that paid: the record
    /// is what that seal made happen.
    async fn sign_receipt(
        &self,
        client_id: i64,
        record: &EvidenceRecord,
    ) -> Result<Vec<u8>, ApiError> {
        let certificate = self.signing_certificate(client_id).await?;
        let digest: [u8; 32] = Sha256::digest(&record.record).into();
        let signature = self
            .sign_for_client(client_id, &certificate.serial, digest)
            .await?;
        if self
            .store
            .record_receipt(record.id, signature.clone(), self.now_s())
            .await?
        {
            return Ok(signature);
        }
        // Another instance or request signed it first: theirs stands.
        self.store
            .receipt(record.id)
            .await?
            .ok_or_else(|| internal("a receipt vanished"))
    }

    /// The receipt of a paid checkout, signed now if it was not yet.
    pub async fn receipt(
        &self,
        view: &CheckoutView,
    ) -> Result<(EvidenceRecord, Vec<u8>), ApiError> {
        let record = self.paid_record(view).await?;
        if let Some(signature) = self.store.receipt(record.id).await? {
            return Ok((record, signature));
        }
        let client_id = view
            .client_id
            .ok_or_else(|| internal("a paid checkout without its client"))?;
        let signature = self.sign_receipt(client_id, &record).await?;
        Ok((record, signature))
    }

    /// Signs a payment's receipt as the seal pays, before the client is answered (so
    /// that receipts keep pace with payments, and cost what they cost where it is
    /// measured); a failure (no certificate, the keystore away) does not undo the payment,
    /// whose receipt is then signed when its bundle is first asked for.
    pub(crate) async fn sign_receipt_now(&self, view: &CheckoutView, record: &EvidenceRecord) {
        let (Some(client_id), Some(_)) = (view.client_id, &self.pki) else {
            return;
        };
        match self.sign_receipt(client_id, record).await {
            Ok(_) => {}
            Err(error) if error.code == "no_certificate" => {
                tracing::debug!(
                    checkout_id = view.id,
                    "no receipt: the client has no certificate"
                );
            }
            Err(error) => {
                tracing::warn!(
                    checkout_id = view.id,
                    code = error.code,
                    "payment receipt not signed yet"
                );
            }
        }
    }

    /// The evidence bundle of a paid checkout (canonical JSON, see `bundle.rs`).
    pub async fn evidence_bundle(&self, view: &CheckoutView) -> Result<Vec<u8>, ApiError> {
        let (mut record, signature) = self.receipt(view).await?;
        if record.log_index.is_none() {
            // The integrator looks every 100 ms; a bundle asked for at once need not wait.
            self.integrate_log_once().await?;
            record = self.paid_record(view).await?;
        }
        let index = record.log_index.ok_or_else(pending)?;
        let checkpoint = self.log_checkpoint().await?;
        let proof = self
            .store
            .log_inclusion_proof(index, checkpoint.size)
            .await?
            .ok_or_else(pending)?;
        let parts = sceau_pki::signature_parts(&signature)
            .map_err(|_| internal("a stored receipt does not parse"))?;
        let time_stamp = parts
            .time_stamp_token
            .ok_or_else(|| internal("a receipt without its time-stamp"))?;
        let mut certificates = parts.certificates;
        certificates.push(self.white_room()?.authority.root().der.clone());
        bundle::write(&bundle::Parts {
            record: &record.record,
            signature: &signature,
            time_stamp: &time_stamp,
            index,
            size: checkpoint.size,
            inclusion_proof: &proof,
            checkpoint: &checkpoint.note,
            certificates: &certificates,
        })
        .map_err(|_| internal("a bundle could not be written"))
    }
}
