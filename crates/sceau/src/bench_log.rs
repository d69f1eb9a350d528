//! `sceau bench --scenario log`: entries appended to the transparency log per second,
//! durably: queued by concurrent writers (as events will queue their evidence, each
//! commit acknowledged after its fsync) while the integrator appends them to the tree
//! in batches and signs one checkpoint per batch. In-process, against the store the
//! configuration names (no HTTP: the log is written by the server's own transactions).

use crate::config::Config;
use sceau_app::Service;
use sceau_app::clock::SystemClock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Writers queueing entries at once.
const WRITERS: usize = 16;
/// Entries a writer queues per transaction.
const ENTRIES_PER_WRITE: usize = 64;
/// Bytes of an entry (about an evidence record's).
const ENTRY_LEN: usize = 300;

pub async fn run(config: &Config, entries: usize, runs: usize) -> anyhow::Result<()> {
    let service = crate::open_service_without_pki(config, Arc::new(SystemClock)).await?;
    say!(
        "transparency log: {entries} entries of {ENTRY_LEN} bytes per run, {WRITERS} writers \
         queueing {ENTRIES_PER_WRITE} per transaction, integrated in batches of up to {}",
        sceau_app::transparency::LOG_BATCH_MAX
    );
    let mut rates = Vec::with_capacity(runs);
    for run in 0..runs {
        rates.push(measure_run(&service, run, entries).await?);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
    say!(
        "\nresult (median of {runs} runs)\n  log appends            {median:>9.0} entries/s durable"
    );
    Ok(())
}

/// One run: the writers queue `entries` (rounded up to whole writes) while the integrator
/// appends them; prints the run's figures and returns its rate (entries per second).
async fn measure_run(service: &Service, run: usize, entries: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let writes = entries.div_ceil(ENTRIES_PER_WRITE);
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| tokio::spawn(queue_entries(service.clone(), run, writer, writes)))
        .collect();
    let integrator = tokio::spawn(integrate_until_done(service.clone(), Arc::clone(&done)));
    for writer in writers {
        writer.await??;
    }
    done.store(true, Ordering::Release);
    let checkpoints = integrator.await??;
    let elapsed = started.elapsed().as_secs_f64();
    let size = service
        .store
        .log_checkpoint()
        .await?
        .map_or(0, |checkpoint| checkpoint.size);
    let appended = (writes * ENTRIES_PER_WRITE) as f64;
    let rate = appended / elapsed;
    say!(
        "  run {}: {appended:.0} entries in {elapsed:.2} s = {rate:.0} entries/s durable, \
         {checkpoints} checkpoints signed, log size {size}",
        run + 1
    );
    Ok(rate)
}

/// Writer `writer`'s share of the `writes` of run `run`: every `WRITERS`th write, each a
/// transaction of `ENTRIES_PER_WRITE` entries.
async fn queue_entries(
    service: Service,
    run: usize,
    writer: usize,
    writes: usize,
) -> anyhow::Result<()> {
    let mut write = writer;
    while write < writes {
        let batch: Vec<Vec<u8>> = (0..ENTRIES_PER_WRITE)
            .map(|n| {
                let mut entry = format!("run {run} write {write} entry {n} ").into_bytes();
                entry.resize(ENTRY_LEN, b'.');
                entry
            })
            .collect();
        service.store.append_log(batch, service.now_s()).await?;
        write += WRITERS;
    }
    Ok(())
}

/// Integrates the queued entries batch by batch until the writers are `done` and nothing
/// is left; returns the checkpoints signed.
async fn integrate_until_done(service: Service, done: Arc<AtomicBool>) -> anyhow::Result<u64> {
    let mut checkpoints = 0_u64;
    loop {
        let writers_done = done.load(Ordering::Acquire);
        match service.integrate_log_once().await {
            Ok(Some(_)) => checkpoints += 1,
            Ok(None) if writers_done => return Ok(checkpoints),
            Ok(None) => tokio::task::yield_now().await,
            Err(error) => anyhow::bail!("integration failed: {}", error.message()),
        }
    }
}
