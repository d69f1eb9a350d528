//! Background work: the outbox dispatcher (pending messages → the routes of the second
//! channel), the recorder of what routes learn later (delivery reports), and the expiry
//! sweep (holds past their time released, numbers past validity expired, messages past
//! their secret's life expired).

use crate::Service;
use sceau_channel::email::{EmailChannel, OutgoingEmail};
use sceau_channel::http_gateway::HttpGateway;
use sceau_channel::routes::{self, Outcome, Route, Routes};
use sceau_channel::{DeliveryReport, DevPhone, OutgoingText, ReportOutcome, ReportSink, receipt};
use sceau_store::{Medium, MessageDelivery, PartOutcome, ReportRecorded, StoredMessage};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

const OUTBOX_BATCH_MAX: u32 = 100;
/// How long a dispatcher holds the messages it took: another instance's dispatcher sends
/// them only if this one has not marked them by then (it stopped, or the routes failed).
const OUTBOX_CLAIM_S: i64 = 60;
/// How long one message may take on the routes (waiting for a bind, a window, an
/// answer) before the dispatcher gives up on this try: well inside the claim, so no
/// other dispatcher takes the message while this one may still send it.
const SEND_TIMEOUT: Duration = Duration::from_secs(40);
/// Messages on their way at once, every route together (each route bounds its own: an
/// SMPP route its window, an HTTP or SMTP route its `max_in_flight`).
const SENDS_IN_FLIGHT: usize = 256;
// A try on HTTP and SMTP routes ends before the dispatcher gives up on it: such a route is
// tried only while its own time to answer still fits inside `TRY_TIME_MAX` counted from
// the try's start (waiting for a free slot included), and no such route's own time is
// longer. An SMPP route waits for its window up to the message's expiry: cut by
// `SEND_TIMEOUT`, it is the at-least-once case (README).
const _: () = assert!(routes::TRY_TIME_MAX.as_millis() < SEND_TIMEOUT.as_millis());
const _: () = assert!(
    sceau_channel::http_gateway::config::TIMEOUT_MS_MAX as u128 <= routes::TRY_TIME_MAX.as_millis()
);
const _: () =
    assert!(sceau_channel::email::TIMEOUT_S_MAX as u128 * 1000 <= routes::TRY_TIME_MAX.as_millis());
const _: () = assert!(routes::MAX_IN_FLIGHT_MAX <= SENDS_IN_FLIGHT);
const OUTBOX_IDLE_WAIT: Duration = Duration::from_secs(2);
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// The pause before a message every route failed for now is tried again: doubling from
/// the first, at most the last (never past the message's expiry, when it is dropped).
const RETRY_FIRST_S: i64 = 2;
const RETRY_MAX_S: i64 = 60;
/// A report for a part not yet recorded as submitted (a receipt may overtake the mark)
/// is tried again for this long (the claim, past which no mark comes), at most this many
/// waiting at once, at most this many tried each second; by the id exactly as given for
/// the first seconds.
const REPORT_WAIT: Duration = Duration::from_secs(OUTBOX_CLAIM_S as u64 + 30);
const REPORTS_WAITING_MAX: usize = 10_000;
const REPORTS_RETRIED_PER_TICK: usize = 200;
const REPORT_EXACT_FIRST: Duration = Duration::from_secs(10);
/// The recorder's own time at a stop, after the other workers' (the sends just recorded
/// have their receipts coming).
pub const REPORTS_FINAL: Duration = Duration::from_secs(5);

/// Reports the recorder takes from its queue and records at once, at most.
const REPORTS_AT_ONCE: usize = 256;

/// How many reports may wait for the recorder; a gateway's callback past it is asked to
/// call again later.
const REPORTS_QUEUED_MAX: usize = 10_000;

/// The routes messages leave by, and what the routes report.
pub struct Channels {
    pub routing: Arc<Routing>,
    pub callbacks: Arc<Callbacks>,
    reports: Option<mpsc::Receiver<DeliveryReport>>,
}

/// The ordered routes of each medium.
pub struct Routing {
    pub sms: Routes,
    pub email: Routes<dyn EmailChannel>,
}

impl Routing {
    /// The development phone alone, no e-mail.
    pub fn dev_phone() -> Routing {
        let route = sceau_channel::routes::Route::new("dev-phone", Arc::new(DevPhone));
        Routing {
            sms: Routes::new(vec![route]),
            email: Routes::new(Vec::new()),
        }
    }

    /// The development phone and the development mailbox: every message shows on
    /// `/phone` or `/mailbox`.
    pub fn development() -> Routing {
        let mailbox = sceau_channel::routes::Route::of_kind(
            "dev-mailbox",
            "dev-mailbox",
            Arc::new(sceau_channel::email::DevMailbox) as Arc<dyn EmailChannel>,
        );
        Routing {
            email: Routes::new(vec![mailbox]),
            ..Routing::dev_phone()
        }
    }
}

/// The routes that take status callbacks, and where their reports go.
#[derive(Default)]
pub struct Callbacks {
    pub gateways: HashMap<String, Arc<HttpGateway>>,
    pub sink: Option<ReportSink>,
}

/// Where routes hand their reports, and where the recorder reads them: made before the
/// routes are opened (an SMPP route needs the sink from the start).
pub fn report_queue() -> (ReportSink, mpsc::Receiver<DeliveryReport>) {
    mpsc::channel(REPORTS_QUEUED_MAX)
}

impl Channels {
    pub fn new(
        sms: Routes,
        email: Routes<dyn EmailChannel>,
        gateways: HashMap<String, Arc<HttpGateway>>,
        (sink, reports): (ReportSink, mpsc::Receiver<DeliveryReport>),
    ) -> Channels {
        Channels {
            routing: Arc::new(Routing { sms, email }),
            callbacks: Arc::new(Callbacks {
                gateways,
                sink: Some(sink),
            }),
            reports: Some(reports),
        }
    }

    /// The development phone alone: every message shows on `/phone`; no e-mail.
    pub fn dev_phone() -> Channels {
        Channels {
            routing: Arc::new(Routing::dev_phone()),
            callbacks: Arc::default(),
            reports: None,
        }
    }

    /// The development phone and mailbox: every message shows on `/phone` or
    /// `/mailbox` (the embedded default, the demo).
    pub fn development() -> Channels {
        Channels {
            routing: Arc::new(Routing::development()),
            callbacks: Arc::default(),
            reports: None,
        }
    }
}

/// Tells the background tasks to stop: each ends at its next safe point (between two
/// claims, two batches, two looks), never in the middle of a write.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    fn new() -> (tokio::sync::watch::Sender<bool>, Stop) {
        let (sender, receiver) = tokio::sync::watch::channel(false);
        (sender, Stop(receiver))
    }

    /// Whether the stop was asked for, or its sender is gone (the background dropped):
    /// a task never outlives its handle spinning.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once the stop is asked for (at once if it was; also if its sender is
    /// gone, which only happens when the background is dropped).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Handle on the background tasks.
pub struct Background {
    /// The dispatcher, the receipt workers, the webhooks, the log and the sweeper.
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// The recorder of delivery reports: stopped last, once the sends it may hear of are.
    reports: Option<tokio::task::JoinHandle<()>>,
    stop_workers: tokio::sync::watch::Sender<bool>,
    stop_reports: tokio::sync::watch::Sender<bool>,
}

impl Background {
    /// Ends every task at once, wherever it is (what it had claimed is taken again when
    /// its claim runs out).
    pub fn abort(&self) {
        for task in self.workers.iter().chain(&self.reports) {
            task.abort();
        }
    }

    /// A clean stop: the dispatcher claims no more messages and waits for the sends on
    /// their way to end and be recorded; the receipt workers sign the receipts queued; the
    /// webhooks, the log and the sweeper end after what they are doing; then the recorder
    /// records the delivery reports already in. What still runs after `grace` (the
    /// recorder: [`REPORTS_FINAL`] more) is aborted, the sends on their way with the
    /// dispatcher. Returns whether everything ended in time.
    pub async fn stop(mut self, grace: Duration) -> bool {
        let _ = self.stop_workers.send(true);
        let workers = futures_util::future::join_all(self.workers.iter_mut());
        let mut ended = tokio::time::timeout(grace, workers).await.is_ok();
        let _ = self.stop_reports.send(true);
        if let Some(reports) = self.reports.as_mut() {
            ended &= tokio::time::timeout(REPORTS_FINAL, reports).await.is_ok();
        }
        if !ended {
            tracing::warn!(
                "background work still running after {grace:?}: aborted (its claims are \
                 taken again when they run out)"
            );
            self.abort();
        }
        ended
    }
}

pub fn spawn_background(service: Service, channels: Channels) -> Background {
    let Channels {
        routing, reports, ..
    } = channels;
    let (stop_workers, stop) = Stop::new();
    let (stop_reports, reports_stop) = Stop::new();
    let dispatcher = tokio::spawn(dispatch_forever(service.clone(), routing, stop.clone()));
    let webhooks = tokio::spawn(crate::webhooks::deliver_forever(
        service.clone(),
        stop.clone(),
    ));
    let log = tokio::spawn(crate::transparency::integrate_forever(
        service.clone(),
        stop.clone(),
    ));
    let mut workers = crate::receipts::ReceiptQueue::start(&service, &stop);
    let reports = reports.map(|reports| {
        tokio::spawn(record_reports_forever(
            service.clone(),
            reports,
            reports_stop,
        ))
    });
    let purger = tokio::spawn(crate::retention::purge_forever(
        service.clone(),
        stop.clone(),
    ));
    let sweeper = tokio::spawn(sweep_forever(service, stop));
    workers.extend([dispatcher, webhooks, sweeper, log, purger]);
    Background {
        workers,
        reports,
        stop_workers,
        stop_reports,
    }
}

async fn dispatch_forever(service: Service, routing: Arc<Routing>, mut stop: Stop) {
    let in_flight = Arc::new(Semaphore::new(SENDS_IN_FLIGHT));
    // The sends on their way belong to the dispatcher: aborted with it.
    let mut sends = tokio::task::JoinSet::new();
    while !stop.is_stopped() {
        let room = in_flight.available_permits().min(OUTBOX_BATCH_MAX as usize);
        let claimed = match claim(&service, room as u32).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "outbox claim failed; will retry");
                Vec::new()
            }
        };
        // Fewer than asked: nothing else was due when the claim ran, so wait for the next
        // enqueue (its notification is kept if it came meanwhile) rather than claim again
        // at once for nothing, a write each message.
        let drained = claimed.len() < room;
        // Every message claimed goes to the routes, stop or not: there is a free permit
        // for each (no more were claimed than were free).
        for message in claimed {
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                return;
            };
            let (service, routing) = (service.clone(), routing.clone());
            sends.spawn(async move {
                if let Err(error) = send_one(&service, &routing, message).await {
                    tracing::warn!(%error, "a message's state could not be recorded");
                }
                drop(permit);
            });
        }
        while sends.try_join_next().is_some() {}
        if in_flight.available_permits() == 0 {
            // Every send is taken: claim again as soon as a batch's worth of them ended
            // (no commit wakes the dispatcher then, and the outbox may be full).
            tokio::select! {
                ended = in_flight.acquire_many(OUTBOX_BATCH_MAX) => drop(ended),
                () = stop.stopped() => {}
            }
        } else if drained {
            tokio::select! {
                _ = tokio::time::timeout(OUTBOX_IDLE_WAIT, service.outbox_ready.notified()) => {}
                () = stop.stopped() => {}
            }
        }
    }
    // Stopping: nothing more is claimed, and the sends on their way end (each within
    // `SEND_TIMEOUT`) with their state recorded, so that no message is left claimed but
    // unmarked, to be sent again by whoever takes it once the claim has run out.
    while sends.join_next().await.is_some() {}
}

async fn claim(
    service: &Service,
    room: u32,
) -> Result<Vec<StoredMessage>, sceau_store::StoreError> {
    if room == 0 {
        return Ok(Vec::new());
    }
    service
        .store
        .claim_messages(service.now_s(), OUTBOX_CLAIM_S, room)
        .await
}

/// Claims what is due and hands each message to the routes, all at once; returns how
/// many messages were handled (tests call it to deliver the outbox without waiting).
pub async fn dispatch_once(
    service: &Service,
    routing: &Routing,
) -> Result<usize, sceau_store::StoreError> {
    let claimed = claim(service, OUTBOX_BATCH_MAX).await?;
    let handled = claimed.len();
    let sends = claimed
        .into_iter()
        .map(|message| send_one(service, routing, message));
    for result in futures_util::future::join_all(sends).await {
        result?;
    }
    Ok(handled)
}

/// One message's try on the routes, and its state recorded.
async fn send_one(
    service: &Service,
    routing: &Routing,
    message: StoredMessage,
) -> Result<(), sceau_store::StoreError> {
    let now_s = service.now_s();
    let delivery = if message.expires_at_s <= now_s {
        MessageDelivery::Expired { now_s }
    } else {
        let attempt = match message.medium {
            Medium::Sms => try_sms(service, &routing.sms, &message, now_s, false),
            Medium::Voice => try_sms(service, &routing.sms, &message, now_s, true),
            Medium::Email => Box::pin(try_email(service, &routing.email, &message, now_s)),
        };
        let outcome = match tokio::time::timeout(SEND_TIMEOUT, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Retry {
                route: None,
                reason: "no route answered in time".into(),
            },
        };
        delivery_of(outcome, &message, service.now_s())
    };
    let shown_at_once = match &delivery {
        MessageDelivery::Submitted { route, parts, .. }
            if routing
                .sms
                .iter()
                .any(|r| r.name() == route && r.kind() == "dev-phone") =>
        {
            Some((route.clone(), parts.clone()))
        }
        _ => None,
    };
    log_delivery(&message, &delivery);
    let (route, state) = match &delivery {
        MessageDelivery::Submitted { route, .. } => (route.clone(), "submitted"),
        MessageDelivery::Failed { route, .. } => (route.clone().unwrap_or_default(), "failed"),
        MessageDelivery::Expired { .. } => (String::new(), "expired"),
        MessageDelivery::Retry { route, .. } => (route.clone().unwrap_or_default(), "retry"),
    };
    let marked = service.store.mark_message(message.id, delivery).await?;
    if marked {
        crate::metrics::message(&route, state);
    }
    if let (true, Some((route, parts))) = (marked, shown_at_once) {
        // The development phone shows a message as soon as it has it.
        for part in parts {
            let now_s = service.now_s();
            let ended = service
                .store
                .record_report(&route, &[part], PartOutcome::Delivered, now_s)
                .await?;
            if ended.is_some_and(|ended| ended.settled) {
                crate::metrics::message(&route, "delivered");
            }
        }
    }
    Ok(())
}

type Attempt<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>>;

fn cannot_open() -> Outcome {
    Outcome::Failed {
        route: String::new(),
        reason: "the message cannot be opened".into(),
    }
}

/// A text to the phone, on the SMS routes in order, or (`by_call`: the client chose
/// calls) on the routes that place calls first.
fn try_sms<'a>(
    service: &'a Service,
    routes: &'a Routes,
    message: &'a StoredMessage,
    now_s: i64,
    by_call: bool,
) -> Attempt<'a> {
    Box::pin(async move {
        let (Ok(to), Ok(text)) = (
            message.address.parse(),
            service.keys.unseal(&message.sealed_body, &message.address),
        ) else {
            return cannot_open();
        };
        let outgoing = OutgoingText {
            message_id: message.id,
            to: &to,
            text: &text,
            expires_at_s: message.expires_at_s,
        };
        let calls = |route: &Route| by_call && route.channel().places_calls();
        routes.send_preferring(&outgoing, now_s, calls).await
    })
}

/// An e-mail's sealed body: its subject, its text and its HTML, as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct EmailBody {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

async fn try_email(
    service: &Service,
    routes: &Routes<dyn EmailChannel>,
    message: &StoredMessage,
    now_s: i64,
) -> Outcome {
    if routes.iter().next().is_none() {
        return Outcome::Failed {
            route: String::new(),
            reason: "no e-mail route is configured".into(),
        };
    }
    let Ok(opened) = service.keys.unseal(&message.sealed_body, &message.address) else {
        return cannot_open();
    };
    let Ok(body) = serde_json::from_str::<EmailBody>(&opened) else {
        return cannot_open();
    };
    let mail = OutgoingEmail {
        message_id: message.id,
        to: &message.address,
        subject: &body.subject,
        text: &body.text,
        html: body.html.as_deref(),
    };
    routes.send(&mail, now_s).await
}

/// What to record of a message's try.
fn delivery_of(outcome: Outcome, message: &StoredMessage, now_s: i64) -> MessageDelivery {
    match outcome {
        Outcome::Sent { route, accepted } => MessageDelivery::Submitted {
            route,
            parts: accepted
                .parts
                .iter()
                .map(|id| receipt::normalize_id(id))
                .collect(),
            now_s,
        },
        Outcome::Failed { route, reason } => MessageDelivery::Failed {
            route: (!route.is_empty()).then_some(route),
            reason,
            now_s,
        },
        Outcome::Expired => MessageDelivery::Expired { now_s },
        Outcome::Retry { route, reason } => {
            let pause = RETRY_FIRST_S
                .saturating_mul(1 << message.attempts.min(16))
                .min(RETRY_MAX_S);
            MessageDelivery::Retry {
                route,
                reason,
                retry_at_s: now_s + pause,
                now_s,
            }
        }
    }
}

/// One line per message handled: its id, what became of it, never its address or body.
fn log_delivery(message: &StoredMessage, delivery: &MessageDelivery) {
    let id = message.id;
    match delivery {
        MessageDelivery::Submitted { route, parts, .. } => {
            tracing::info!(message_id = id, route = %route, parts = parts.len(), "message submitted")
        }
        MessageDelivery::Failed { route, reason, .. } => {
            tracing::warn!(message_id = id, route = ?route, %reason, "message failed")
        }
        MessageDelivery::Expired { .. } => {
            tracing::warn!(
                message_id = id,
                "message expired before a route took it: not sent"
            )
        }
        MessageDelivery::Retry { route, reason, .. } => tracing::warn!(
            message_id = id,
            route = ?route,
            %reason,
            attempts = message.attempts + 1,
            "no route took the message for now; will try again"
        ),
    }
}

/// A report for a part not yet recorded as submitted (a receipt may overtake the mark).
struct Parked {
    report: DeliveryReport,
    since: tokio::time::Instant,
    next: tokio::time::Instant,
    tries: u32,
}

/// Records what routes report. A report that overtook its message's mark waits, tried
/// again with a growing pause, for a while; it is matched by the id exactly as given at
/// first, and by the id's other forms (hex for decimal and back) only once the mark has
/// surely been made, so that it is not taken for an older message's part meanwhile.
///
/// Stopping, it records the reports already in (those of the sends just ended among
/// them), tries those waiting once more, and ends.
async fn record_reports_forever(
    service: Service,
    mut reports: mpsc::Receiver<DeliveryReport>,
    mut stop: Stop,
) {
    let mut waiting: VecDeque<Parked> = VecDeque::new();
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            report = reports.recv() => {
                let Some(first) = report else { return };
                record_batch(&service, first, &mut reports, &mut waiting).await;
            }
            _ = every.tick() => {
                retry_parked(&service, &mut waiting, REPORTS_RETRIED_PER_TICK).await;
            }
            () = stop.stopped() => break,
        }
    }
    // Closed first: a receipt the routes take from now on is refused (the SMSC sends it
    // again to the next instance), none is acknowledged and then dropped.
    reports.close();
    while let Some(first) = reports.recv().await {
        record_batch(&service, first, &mut reports, &mut waiting).await;
    }
    for parked in &mut waiting {
        parked.next = tokio::time::Instant::now();
    }
    retry_parked(&service, &mut waiting, usize::MAX).await;
    if !waiting.is_empty() {
        tracing::info!(
            reports = waiting.len(),
            "stopping with delivery reports for messages not known yet: dropped"
        );
    }
}

/// Records `first` and what else is already queued, at once: the store commits
/// concurrent writes together, where one report after the other would cost a commit
/// each. What names no submitted part yet waits in `waiting`.
async fn record_batch(
    service: &Service,
    first: DeliveryReport,
    reports: &mut mpsc::Receiver<DeliveryReport>,
    waiting: &mut VecDeque<Parked>,
) {
    let mut batch = vec![first];
    while batch.len() < REPORTS_AT_ONCE {
        let Ok(report) = reports.try_recv() else {
            break;
        };
        batch.push(report);
    }
    let recorded =
        futures_util::future::join_all(batch.iter().map(|report| record(service, report, true)))
            .await;
    for (report, recorded) in batch.into_iter().zip(recorded) {
        if !recorded {
            park(waiting, report);
        }
    }
}

fn park(waiting: &mut VecDeque<Parked>, report: DeliveryReport) {
    if waiting.len() >= REPORTS_WAITING_MAX {
        tracing::warn!(route = %report.route, "too many reports for unknown messages; one dropped");
        return;
    }
    let now = tokio::time::Instant::now();
    waiting.push_back(Parked {
        report,
        since: now,
        next: now + Duration::from_secs(1),
        tries: 0,
    });
}

/// Tries the reports whose pause is over again, at most `at_most` of them.
async fn retry_parked(service: &Service, waiting: &mut VecDeque<Parked>, at_most: usize) {
    let now = tokio::time::Instant::now();
    let mut tried = 0;
    for _ in 0..waiting.len() {
        let Some(mut parked) = waiting.pop_front() else {
            break;
        };
        if parked.next > now || tried >= at_most {
            waiting.push_back(parked);
            continue;
        }
        tried += 1;
        let exact_only = parked.since.elapsed() < REPORT_EXACT_FIRST;
        if record(service, &parked.report, exact_only).await {
            continue;
        }
        if parked.since.elapsed() >= REPORT_WAIT {
            tracing::info!(route = %parked.report.route, "a report for no known message, dropped");
            continue;
        }
        parked.tries += 1;
        parked.next = now + Duration::from_secs(1 << parked.tries.min(4));
        waiting.push_back(parked);
    }
}

/// Records one report; false when no submitted part has its id (yet).
async fn record(service: &Service, report: &DeliveryReport, exact_only: bool) -> bool {
    let state = match report.outcome {
        ReportOutcome::Delivered => PartOutcome::Delivered,
        ReportOutcome::Failed => PartOutcome::Failed,
        ReportOutcome::Pending => PartOutcome::Pending,
    };
    let forms = match exact_only {
        true => vec![receipt::normalize_id(&report.provider_id)],
        false => receipt::id_candidates(&report.provider_id),
    };
    match service
        .store
        .record_report(&report.route, &forms, state, service.now_s())
        .await
    {
        Ok(Some(ReportRecorded {
            message_id,
            settled,
        })) => {
            match report.outcome {
                ReportOutcome::Delivered if settled => {
                    crate::metrics::message(&report.route, "delivered")
                }
                ReportOutcome::Failed if settled => {
                    crate::metrics::message(&report.route, "failed")
                }
                _ => {}
            }
            tracing::info!(message_id, route = %report.route, outcome = ?report.outcome, "delivery report");
            true
        }
        Ok(None) => false,
        Err(error) => {
            tracing::warn!(%error, "a delivery report could not be recorded");
            false
        }
    }
}

async fn sweep_forever(service: Service, mut stop: Stop) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.stopped() => return,
        }
        match service.store.expire(service.now_s()).await {
            Ok(expired)
                if expired.holds_released > 0
                    || expired.numbers_expired > 0
                    || expired.checkouts_expired > 0 =>
            {
                tracing::info!(
                    holds = expired.holds_released,
                    numbers = expired.numbers_expired,
                    checkouts = expired.checkouts_expired,
                    "expired"
                );
                if expired.checkouts_expired > 0 {
                    service.webhooks_ready.notify_one();
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "expiry sweep failed"),
        }
        match service.store.expire_messages(service.now_s()).await {
            Ok(0) => {}
            Ok(expired) => {
                crate::metrics::messages_expired(expired);
                tracing::warn!(
                    messages = expired,
                    "messages expired before any route took them: not sent"
                );
            }
            Err(error) => tracing::warn!(%error, "the outbox's expiry sweep failed"),
        }
        if service.notary.is_some() {
            match service.sweep_deliveries().await {
                Ok((0, 0)) => {}
                Ok((expired, told)) => {
                    tracing::info!(expired, told, "deliveries swept");
                }
                Err(error) => tracing::warn!(code = error.code(), "the deliveries' sweep failed"),
            }
        }
    }
}
