//! Payment receipts and evidence bundles (issue 6, point 3). When a seal pays a
//! checkout, the client's key signs the payment's `checkout.paid` evidence record (the
//! seed's PKI signature after the seal, through the one path to a client's key,
//! `sign_as_client` or, for the receipts of payments made together, `sign_as_clients`),
//! with a signature time-stamp; the log includes the record's hash.
//! Client and merchant download the payment's bundle (`bundle.rs`).

use crate::bundle;
use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_store::evidence::checkout_subject;
use sceau_store::{CheckoutState, CheckoutView, EvidenceRecord};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;

/// Receipts waiting for a worker, at most (then a payer waits for room).
const RECEIPT_QUEUE_LEN: usize = 256;

/// Workers, each with a batch of receipts in hand at most: a batch waits mostly for its
/// writes' commit, which the store groups (so many workers make few commits); the
/// signatures themselves run on the blocking threads, as many at once as there are
/// cores to run them.
const RECEIPT_WORKERS: usize = 16;

/// Receipts a worker takes at once, at most, of those waiting: signed together, their
/// time-stamps with one use of the TSA's key (a receipt alone when payments are few).
const RECEIPT_BATCH_MAX: usize = 16;

/// A payment whose receipt is to be signed.
pub(crate) struct Paid {
    client_id: i64,
    checkout_id: i64,
    record: EvidenceRecord,
}

/// The receipt workers' queue, shared by a service's clones; empty until the server
/// starts them ([`ReceiptQueue::start`]).
#[derive(Clone, Default)]
pub struct ReceiptQueue(Arc<OnceLock<mpsc::Sender<Paid>>>);

impl ReceiptQueue {
    /// Starts the workers of `service` (once; later calls start nothing). Once `stop` is
    /// asked for, they sign the receipts still queued and end.
    pub fn start(
        service: &Service,
        stop: &crate::dispatch::Stop,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let (queue, waiting) = mpsc::channel::<Paid>(RECEIPT_QUEUE_LEN);
        if service.receipts.0.set(queue).is_err() {
            return Vec::new();
        }
        let waiting = Arc::new(tokio::sync::Mutex::new(waiting));
        (0..RECEIPT_WORKERS)
            .map(|_| {
                let (service, waiting, mut stop) =
                    (service.clone(), Arc::clone(&waiting), stop.clone());
                tokio::spawn(async move {
                    loop {
                        let mut batch = Vec::with_capacity(RECEIPT_BATCH_MAX);
                        {
                            let mut waiting = waiting.lock().await;
                            if stop.is_stopped() {
                                while batch.len() < RECEIPT_BATCH_MAX {
                                    let Ok(paid) = waiting.try_recv() else { break };
                                    batch.push(paid);
                                }
                            } else {
                                // `recv_many` is cancel safe: a stop loses nothing queued.
                                tokio::select! {
                                    _ = waiting.recv_many(&mut batch, RECEIPT_BATCH_MAX) => {}
                                    () = stop.stopped() => continue,
                                }
                            }
                        }
                        if batch.is_empty() {
                            return;
                        }
                        service.sign_paid(batch).await;
                    }
                })
            })
            .collect()
    }
}

impl ReceiptQueue {
    /// Receipts waiting for a worker now.
    pub fn waiting(&self) -> usize {
        self.0
            .get()
            .map_or(0, |queue| queue.max_capacity() - queue.capacity())
    }
}

fn not_paid() -> AppError {
    AppError::CheckoutNotPaid
}

fn pending() -> AppError {
    AppError::EvidencePending
}

/// Logs why the receipt of `paid` is not signed yet (it will be when its bundle is
/// first asked for).
fn not_signed(paid: &Paid, error: &AppError) {
    // A client without a certificate (enrolled before the white room) is no failure.
    let outcome = match error {
        AppError::NoCertificate => "no_certificate",
        _ => "not_signed",
    };
    crate::metrics::receipts(outcome, 1);
    match error {
        AppError::NoCertificate => tracing::debug!(
            checkout_id = paid.checkout_id,
            "no receipt: the client has no certificate"
        ),
        error => tracing::warn!(
            checkout_id = paid.checkout_id,
            code = error.code(),
            "payment receipt not signed yet"
        ),
    }
}

impl Service {
    /// The `checkout.paid` record of a paid checkout.
    async fn paid_record(&self, view: &CheckoutView) -> Result<EvidenceRecord, AppError> {
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
    ) -> Result<Vec<u8>, AppError> {
        let signer = self.current_signing_key(client_id).await?;
        let digest: [u8; 32] = Sha256::digest(&record.record).into();
        let signature = self.sign_as_client(&signer, digest).await?;
        if self
            .store
            .record_receipt(record.id, signature.clone(), self.now_s())
            .await?
        {
            crate::metrics::receipts("signed", 1);
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
    ) -> Result<(EvidenceRecord, Vec<u8>), AppError> {
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

    /// Has a payment's receipt signed as the seal pays: handed to the receipt workers
    /// (the client's answer does not wait for two signatures), who keep pace with the
    /// payments (a full queue makes the payer wait for room). Without workers (the
    /// server not started), signed at once. A failure (no certificate, the keystore
    /// away) does not undo the payment; its receipt is signed when its bundle is first
    /// asked for.
    pub(crate) async fn receipt_for_payment(&self, view: &CheckoutView, record: EvidenceRecord) {
        let (Some(client_id), Some(_)) = (view.client_id, &self.pki) else {
            return;
        };
        let paid = Paid {
            client_id,
            checkout_id: view.id,
            record,
        };
        match self.receipts.0.get() {
            Some(queue) => {
                if let Err(refused) = queue.send(paid).await {
                    self.sign_paid(vec![refused.0]).await;
                }
            }
            None => self.sign_paid(vec![paid]).await,
        }
    }

    /// Signs and stores the receipts of `batch` (see [`Service::sign_as_clients`]); a
    /// receipt that fails is logged, and signed when its bundle is first asked for.
    async fn sign_paid(&self, batch: Vec<Paid>) {
        let keys = futures_util::future::join_all(
            batch
                .iter()
                .map(|paid| self.current_signing_key(paid.client_id)),
        )
        .await;
        let mut signers = Vec::with_capacity(batch.len());
        let mut signing = Vec::with_capacity(batch.len());
        for (paid, key) in batch.into_iter().zip(keys) {
            match key {
                Ok(signer) => {
                    signers.push((signer, Sha256::digest(&paid.record.record).into()));
                    signing.push(paid);
                }
                Err(error) => not_signed(&paid, &error),
            }
        }
        if signing.is_empty() {
            return;
        }
        let signed = match self.sign_as_clients(signers).await {
            Ok(signed) if signed.len() == signing.len() => signed,
            Ok(_) => {
                for paid in &signing {
                    not_signed(paid, &internal("a receipt's signature missing"));
                }
                return;
            }
            Err(error) => {
                for paid in &signing {
                    not_signed(paid, &error);
                }
                return;
            }
        };
        let stored = signing.iter().zip(signed).map(|(paid, signed)| async move {
            let stored = match signed {
                Ok(signature) => self
                    .store
                    .record_receipt(paid.record.id, signature, self.now_s())
                    .await
                    .map_err(AppError::from),
                Err(error) => Err(error),
            };
            match stored {
                // Stored now (not by a bundle asked for meanwhile, which counted it).
                Ok(true) => crate::metrics::receipts("signed", 1),
                Ok(false) => {}
                Err(error) => not_signed(paid, &error),
            }
        });
        futures_util::future::join_all(stored).await;
    }

    /// The evidence bundle of a paid checkout (canonical JSON, see `bundle.rs`).
    pub async fn evidence_bundle(&self, view: &CheckoutView) -> Result<Vec<u8>, AppError> {
        let (mut record, signature) = self.receipt(view).await?;
        // The integrator looks every 100 ms; a bundle asked for at once need not wait (one
        // integration takes at most a batch: a long queue may need more than one).
        for _ in 0..crate::envelope_evidence::INTEGRATIONS_MAX {
            if record.log_index.is_some() {
                break;
            }
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
