//! What the use cases and workers count for operators (`GET /metrics` renders them; see
//! README, "Operating sceau"). Counters only, through the `metrics` facade: nothing here
//! knows how they are exported, and none of their labels names a person, a number or a
//! secret.

/// A typed seal's verdict: `right`, `wrong` (a failed last try included) or `expired`;
/// `flow` is `checkout` or `envelope`.
pub(crate) fn seal_verdict(flow: &'static str, verdict: &'static str) {
    metrics::counter!("sceau_seal_verdicts_total", "flow" => flow, "verdict" => verdict)
        .increment(1);
}

/// A client paused for too many wrong card details or seals.
pub(crate) fn client_paused() {
    metrics::counter!("sceau_client_pauses_total").increment(1);
}

/// A message's new state (`submitted`, `retry`, `failed`, `expired`, `delivered`), on
/// `route` (empty when no route took it).
pub(crate) fn message(route: &str, state: &'static str) {
    metrics::counter!(
        "sceau_messages_total",
        "route" => route.to_owned(),
        "state" => state
    )
    .increment(1);
}

/// Rows the purge removed (message bodies: emptied), by `kind`.
pub(crate) fn purged(kind: &'static str, count: u64) {
    metrics::counter!("sceau_purged_total", "kind" => kind).increment(count);
}

/// Messages the sweep expired before any route took them.
pub(crate) fn messages_expired(count: u64) {
    metrics::counter!("sceau_messages_total", "route" => "", "state" => "expired").increment(count);
}

/// A webhook delivery's try: `delivered`, `retry` or `gave_up`.
pub(crate) fn webhook(outcome: &'static str) {
    metrics::counter!("sceau_webhook_deliveries_total", "outcome" => outcome).increment(1);
}

/// Receipts of payments: `signed` (by a worker, or when the bundle was first asked for),
/// `not_signed` (a failure: tried again when the bundle is first asked for) or
/// `no_certificate` (a client enrolled before the white room: none is made).
pub(crate) fn receipts(outcome: &'static str, count: usize) {
    metrics::counter!("sceau_receipts_total", "outcome" => outcome).increment(count as u64);
}

impl crate::Service {
    /// Sets the gauges read when metrics are scraped rather than counted as they happen:
    /// the outbox's depth and its oldest message's age, the log's size, its integration's
    /// lag and its last checkpoint's age, and the receipts waiting for a worker.
    pub async fn record_gauges(&self) -> Result<(), crate::AppError> {
        let figures = self.console_figures().await?;
        metrics::gauge!("sceau_outbox_pending").set(figures.outbox_pending as f64);
        let oldest = figures.outbox_oldest_age_s.unwrap_or(0);
        metrics::gauge!("sceau_outbox_oldest_age_seconds").set(oldest as f64);
        metrics::gauge!("sceau_log_size").set(figures.log_size as f64);
        metrics::gauge!("sceau_log_waiting_entries").set(figures.log_waiting as f64);
        // No checkpoint yet while entries wait: as old as the epoch, so that an alert on
        // its age fires for an integrator that never worked; nothing waiting: not late.
        let checkpoint_age = match figures.checkpoint_age_s {
            Some(age) => age,
            None if figures.log_waiting > 0 => self.now_s().max(0),
            None => 0,
        };
        metrics::gauge!("sceau_log_checkpoint_age_seconds").set(checkpoint_age as f64);
        metrics::gauge!("sceau_receipts_queued").set(self.receipts.waiting() as f64);
        if let Some(pki) = &self.pki {
            certificate_ends("ca_root", pki.authority.root().validity_s().1);
            certificate_ends("ca_issuing", pki.authority.issuing().validity_s().1);
            certificate_ends("tsa", pki.tsa_certificate.validity_s().1);
        }
        Ok(())
    }
}

/// Sets when the certificate `which` ends (Unix seconds), the gauge operators alert on
/// weeks before (`sceau_certificate_expiry_timestamp_seconds{certificate}`).
pub fn certificate_ends(which: &'static str, not_after_s: i64) {
    metrics::gauge!("sceau_certificate_expiry_timestamp_seconds", "certificate" => which)
        .set(not_after_s as f64);
}
