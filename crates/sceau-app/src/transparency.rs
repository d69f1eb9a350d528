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
/// Hashes (or entries) in a full tile (C2SP tlog-tiles).
pub const TILE_WIDTH: u64 = 256;
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

    /// The entry at `index`, as it was appended.
    pub async fn log_entry(&self, index: u64) -> Result<Vec<u8>, AppError> {
        self.store.log_entry(index).await?.ok_or(AppError::NoEntry)
    }

    /// The audit path of entry `index` in the tree of `size` entries (RFC 9162 §2.1.3).
    pub async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<[u8; 32]>, AppError> {
        self.store
            .log_inclusion_proof(index, size)
            .await?
            .ok_or(AppError::NoProof)
    }

    /// The proof that the tree of `new` entries extends the tree of `old` (RFC 9162
    /// §2.1.4).
    pub async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Vec<[u8; 32]>, AppError> {
        self.store
            .log_consistency_proof(old, new)
            .await?
            .ok_or(AppError::NoProof)
    }

    /// A tile (C2SP tlog-tiles) of `width` hashes of tile `level`, or of entries (`None`: an
    /// entry bundle, each entry after its big-endian 16-bit length), the `index`-th of
    /// its kind. It exists once all its hashes or entries do.
    pub async fn log_tile(
        &self,
        level: Option<u8>,
        index: u64,
        width: u64,
    ) -> Result<Vec<u8>, AppError> {
        let start = index.checked_mul(TILE_WIDTH).ok_or(AppError::NoTile)?;
        let count = u32::try_from(width).map_err(|_| AppError::NoTile)?;
        match level {
            Some(level) => {
                // Tile level L holds the tree's nodes of level 8L.
                let tree_level = level.checked_mul(8).ok_or(AppError::NoTile)?;
                let nodes = self.store.log_nodes(tree_level, start, count).await?;
                if nodes.len() as u64 != width {
                    return Err(AppError::NoTile);
                }
                Ok(nodes.concat())
            }
            None => {
                let entries = self.store.log_entries(start, count).await?;
                if entries.len() as u64 != width {
                    return Err(AppError::NoTile);
                }
                let mut bundle = Vec::new();
                for entry in entries {
                    let length = u16::try_from(entry.len())
                        .map_err(|_| internal("log entry too long for a bundle"))?;
                    bundle.extend_from_slice(&length.to_be_bytes());
                    bundle.extend_from_slice(&entry);
                }
                Ok(bundle)
            }
        }
    }
}

/// Integrates the log forever: batch after batch while entries wait, then a look every
/// 100 ms.
pub async fn integrate_forever(service: Service, mut stop: crate::dispatch::Stop) {
    let mut size = None;
    while !stop.is_stopped() {
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
        tokio::select! {
            () = tokio::time::sleep(LOG_IDLE_WAIT) => {}
            () = stop.stopped() => {}
        }
    }
}
