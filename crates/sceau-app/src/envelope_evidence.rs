//! The evidence bundle of an envelope (`envelope_bundle.rs`), gathered: the envelope's
//! and its station certificate's records with their places in the log, each file's
//! signature, and the container's signed manifest as the envelope keeps it.

use crate::envelope_bundle::{self, Container, Contents, Logged, SignedFile};
use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_store::evidence::{certificate_subject, envelope_subject};
use sceau_store::{ClientRecord, EnvelopeState, EnvelopeView, EvidenceRecord};

/// Integrations an evidence bundle or receipt may run before its records are said
/// pending: records appended by other writers meanwhile, or a queue longer than one
/// integration's batch, each take one more.
pub(crate) const INTEGRATIONS_MAX: usize = 4;

impl Service {
    /// The evidence bundle of `client`'s envelope `public_id` (canonical JSON): for a
    /// notarized envelope (its content archived, or deleted after its retention), or a
    /// refused one (its refusal). `EvidencePending` until the log has included every record.
    pub async fn envelope_evidence_bundle(
        &self,
        client: &ClientRecord,
        public_id: &str,
    ) -> Result<Vec<u8>, AppError> {
        let view = self.client_envelope(client, public_id).await?;
        // A notarized envelope's bundle outlives its content: it holds the signatures and
        // the container's signed manifest (kept with the envelope), and its chain ends
        // with the deletion's record.
        match view.state {
            EnvelopeState::Notarized | EnvelopeState::Refused => {}
            other => {
                return Err(AppError::EnvelopeState(format!(
                    "this envelope is {}: its evidence bundle comes once it is notarized or \
                     refused",
                    other.as_str()
                )));
            }
        }
        let station = self
            .store
            .certificate(&view.certificate_serial)
            .await?
            .ok_or_else(|| internal("an envelope's certificate is missing"))?;
        let (records, station_records) = self.logged_chains(&view).await?;
        let checkpoint = self.log_checkpoint().await?;
        let records = self.proved(records, checkpoint.size).await?;
        let station_records = self.proved(station_records, checkpoint.size).await?;
        let files = signed_files(&view)?;
        let container = match (
            &view.container,
            &view.container_manifest,
            &view.container_signature,
        ) {
            (Some(object), Some(manifest), Some(signature))
                if view.state == EnvelopeState::Notarized =>
            {
                Some(Container {
                    sha256: object.sha256,
                    size: object.size,
                    manifest: manifest.clone(),
                    signature: signature.clone(),
                })
            }
            _ => None,
        };
        let mut certificates = match files.first() {
            Some(file) => {
                sceau_pki::signature_parts(&file.signature)
                    .map_err(|_| internal("a stored signature does not parse"))?
                    .certificates
            }
            None => Vec::new(),
        };
        certificates.push(self.white_room()?.authority.root().der.clone());
        envelope_bundle::write(&Contents {
            envelope: view.public_id.clone(),
            size: checkpoint.size,
            checkpoint: checkpoint.note,
            records,
            station_records,
            station_certificate: station.der,
            manifest: view.manifest.clone(),
            manifest_signature: view.manifest_signature.clone(),
            files,
            container,
            certificates,
        })
        .map_err(|_| internal("an envelope bundle could not be written"))
    }

    /// The envelope's and its station certificate's records, every one in the log.
    async fn logged_chains(
        &self,
        view: &EnvelopeView,
    ) -> Result<(Vec<EvidenceRecord>, Vec<EvidenceRecord>), AppError> {
        let subjects = [
            envelope_subject(view.id),
            certificate_subject(&view.certificate_serial),
        ];
        let mut chains = self.logged_subjects(&subjects).await?.into_iter();
        match (chains.next(), chains.next()) {
            (Some(records), Some(station_records)) => Ok((records, station_records)),
            _ => Err(internal("two chains asked for")),
        }
    }

    /// The records of each of `subjects`, every one in the log (the log integrated here
    /// if one is not yet: the integrator looks every 100 ms, and a bundle or a receipt
    /// asked for at once need not wait). A record another writer appends to a chain
    /// meanwhile (the recipient's notice, sent by the dispatcher) is integrated by the
    /// next round; after [`INTEGRATIONS_MAX`] rounds the evidence is said pending.
    pub(crate) async fn logged_subjects(
        &self,
        subjects: &[String],
    ) -> Result<Vec<Vec<EvidenceRecord>>, AppError> {
        let mut integrations = 0;
        loop {
            let mut chains = Vec::with_capacity(subjects.len());
            for subject in subjects {
                chains.push(self.store.evidence(subject).await?);
            }
            let logged = chains
                .iter()
                .flatten()
                .all(|record| record.log_index.is_some());
            if logged {
                return Ok(chains);
            }
            if integrations == INTEGRATIONS_MAX {
                return Err(AppError::EvidencePending);
            }
            self.integrate_log_once().await?;
            integrations += 1;
        }
    }

    /// Each record with its inclusion proof in the tree of `size` entries.
    pub(crate) async fn proved(
        &self,
        records: Vec<EvidenceRecord>,
        size: u64,
    ) -> Result<Vec<Logged>, AppError> {
        let indexes = records
            .iter()
            .map(|record| record.log_index.ok_or(AppError::EvidencePending))
            .collect::<Result<Vec<u64>, AppError>>()?;
        let proofs = self
            .store
            .log_inclusion_proofs(indexes.clone(), size)
            .await?
            .ok_or(AppError::EvidencePending)?;
        Ok(records
            .into_iter()
            .zip(indexes)
            .zip(proofs)
            .map(|((record, index), inclusion_proof)| Logged {
                record: record.record,
                index,
                inclusion_proof,
            })
            .collect())
    }
}

/// Each signed file of a notarized envelope with its signature's time-stamp token (none
/// for a refused envelope: nothing of its files was kept).
fn signed_files(view: &EnvelopeView) -> Result<Vec<SignedFile>, AppError> {
    if view.state != EnvelopeState::Notarized {
        return Ok(Vec::new());
    }
    view.files
        .iter()
        .map(|file| {
            let signature = file
                .signature
                .clone()
                .ok_or_else(|| internal("a notarized envelope's file has no signature"))?;
            let time_stamp = sceau_pki::signature_parts(&signature)
                .map_err(|_| internal("a stored signature does not parse"))?
                .time_stamp_token
                .ok_or_else(|| internal("a signature without its time-stamp"))?;
            Ok(SignedFile {
                name: file.name.clone(),
                size: file.size,
                sha256: file.sha256,
                signature,
                time_stamp,
            })
        })
        .collect()
}
