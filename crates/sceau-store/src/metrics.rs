//! What the store counts for operators: the group commit's batches (how many commands
//! each carried, and how long it took to run and commit), by backend.

/// One batch run and committed (or failed): its commands and its time.
pub(crate) fn batch(backend: &'static str, commands: usize, took: std::time::Duration) {
    metrics::histogram!("sceau_store_batch_commands", "backend" => backend).record(commands as f64);
    metrics::histogram!("sceau_store_commit_seconds", "backend" => backend)
        .record(took.as_secs_f64());
}
