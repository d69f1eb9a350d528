//! The transparency log's service side: its key (Ed25519, derived from the master key,
//! the same on every instance), the integrations that append waiting entries and sign a
//! checkpoint per batch, and the reads a monitor needs (checkpoint, entries, proofs).

use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_log::{NoteSigner, VerifierKey};
use sceau_store::{IntegrateLog, LogCheckpoint};
use std::time::Duration;

/// Most entries appended by one integration (one checkpoint signature for them all).
pub const LOG_BATCH_MAX: u32 = 4_096;
/// How often the integrator looks for waiting entries when the last look found none.
const LOG_IDLE_WAIT: Duration = Duration::from_millis(100);

impl Service {
    /// The log's signer: its origin as the key's name.
    pub fn log_signer(&self) -> Result<NoteSigner, AppError> {
        let key = ed25519_dalek::SigningKey::from_bytes(self.keys.log_key_seed());
        NoteSigner::new(&self.settings.log_origin, key).map_err(|_| internal("log key"))
    }

    /// The key that verifies the log's checkpoints (`name+keyid+key`, C2SP).
    pub fn log_verifier_key(&self) -> Result<VerifierKey, AppError> {
        Ok(self.log_signer()?.verifier_key())
    }

    /// Appends what waits (one batch) and signs its checkpoint; `None` if nothing
    /// waited.
    pub async fn integrate_log_once(&self) -> Result<Option<LogCheckpoint>, AppError> {
        let signer = self.log_signer()?;
        let origin = self.settings.log_origin.clone();
        let integrated = self
            .store
            .integrate_log(IntegrateLog {
                batch_max: LOG_BATCH_MAX,
                sign: Box::new(move |size, root| {
                    // The origin was checked at start; a checkpoint is made of it, a size
                    // and a hash, so it cannot be refused here.
                    sceau_log::Checkpoint::new(&origin, size, *root)
                        .map(|checkpoint| checkpoint.sign(&signer))
                        .unwrap_or_default()
                }),
                now_s: self.now_s(),
            })
            .await?;
        Ok(integrated)
    }

    pub async fn log_checkpoint(&self) -> Result<LogCheckpoint, AppError> {
        self.store.log_checkpoint().await?.ok_or(AppError::LogEmpty)
    }
}

/// Integrates the log forever: batch after batch while entries wait, then a look every
/// 100 ms.
pub async fn integrate_forever(service: Service) {
    let mut size = None;
    loop {
        match service.integrate_log_once().await {
            Ok(Some(checkpoint)) => {
                tracing::debug!(size = checkpoint.size, "log integrated");
                let appended = size.map(|before| checkpoint.size.saturating_sub(before));
                size = Some(checkpoint.size);
                // A full batch: more may wait, so at once. Otherwise the next look is in
                // 100 ms: a batch (and its checkpoint's signature and rows) per look, not
                // per handful of entries, while payments keep the writer busy.
                if appended.is_none_or(|appended| appended >= u64::from(LOG_BATCH_MAX)) {
                    continue;
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(code = error.code(), "log integration failed; will retry"),
        }
        tokio::time::sleep(LOG_IDLE_WAIT).await;
    }
}
