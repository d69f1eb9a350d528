//! The ordered routes a message may take, and failover between them.
//!
//! A message goes to the first healthy route. A route that answers `Transient` (a lost
//! bind, throttling, no answer in time) counts a failure and the message moves to the next
//! route; one that answers `Permanent` refused it for good, and the next route may try.
//! Only then is a message handed to a second route: a route that accepted it is never
//! asked again. A route that failed `FAILURES_TO_REST` times in a row rests (it is
//! skipped) for `REST_S`, then takes one message as a probe: if that succeeds it is healthy
//! again, if not it rests again, twice as long each time (at most `REST_S_MAX`).
//! When every route failed for the moment, the message waits and is tried again; when every
//! route refused it for good, it failed.
//!
//! A route may take at most `max_in_flight` messages at once (HTTP and SMTP routes; an
//! SMPP route is bounded by its window). A message finding every one taken waits for a
//! free one, but never so long that the route's own answer could come after
//! [`TRY_TIME_MAX`]; then it moves on to the next route as if the busy one were resting:
//! being busy says nothing of a route's health.

use crate::{Accepted, ChannelError, OutgoingText, SecondChannel};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Failures in a row that make a route rest.
pub const FAILURES_TO_REST: u32 = 3;
/// The first rest, in seconds; each failed probe doubles it.
pub const REST_S: i64 = 15;
pub const REST_S_MAX: i64 = 600;
/// The longest one try on the routes may take: the dispatcher gives it a little more, so
/// that it never gives up while a route's answer may still come (and the message may have
/// left). A wait for a free slot ends early enough for the route's own time to fit.
pub const TRY_TIME_MAX: Duration = Duration::from_secs(38);
/// The most sends a route may have on their way at once: the dispatcher's own bound.
pub const MAX_IN_FLIGHT_MAX: usize = 256;

/// One route: its name in the configuration and the channel behind it (an SMS route's
/// `dyn SecondChannel`, an e-mail route's sender).
pub struct Route<C: ?Sized = dyn SecondChannel> {
    name: String,
    kind: &'static str,
    channel: Arc<C>,
    health: Mutex<Health>,
    slots: Option<Slots>,
}

/// A route's bound on sends at once, and how long a send may wait for a free slot.
struct Slots {
    free: Semaphore,
    max: usize,
    wait: Duration,
    waiting: AtomicUsize,
}

/// A route's sends at once, as the operator (or a test) sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    pub max: usize,
    /// Sends on their way now.
    pub sending: usize,
    /// Sends waiting for a free slot.
    pub waiting: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Health {
    failures_in_a_row: u32,
    /// Resting until then (seconds since the epoch); a probe may go at that time.
    resting_until_s: Option<i64>,
    rest_s: i64,
    /// A probe is on its way: nothing else goes until it is answered.
    probing: bool,
}

/// What became of a message on the routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A route took it.
    Sent { route: String, accepted: Accepted },
    /// Every route that was tried refused it for good (the last refusal's reason).
    Failed { route: String, reason: String },
    /// No route took it for now: try again later. `route` is the last one tried, if any.
    Retry {
        route: Option<String>,
        reason: String,
    },
    /// Its secret expired before a route took it: it must never be sent.
    Expired,
}

/// A route's health as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteState {
    pub name: String,
    pub kind: &'static str,
    pub failures_in_a_row: u32,
    pub resting_until_s: Option<i64>,
}

/// A send's place among a route's sends at once, given back when dropped.
struct Slot<'a> {
    _permit: Option<SemaphorePermit<'a>>,
}

/// One send counted among those waiting for a slot while it lives (also when the wait is
/// dropped: the dispatcher gave up on the try).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Waiting<'a> {
        waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A probe on its way: if the send is dropped before the route judged it (the
/// dispatcher's time ran out), the route may take a probe again; otherwise it would rest
/// for good.
struct Probing<'a, C: ?Sized>(Option<&'a Route<C>>);

impl<C: ?Sized> Drop for Probing<'_, C> {
    fn drop(&mut self) {
        if let Some(route) = self.0 {
            // After `succeeded` or `failed` this changes nothing: they end the probe.
            route.unjudged(true);
        }
    }
}

impl Route {
    /// An SMS route.
    pub fn new(name: impl Into<String>, channel: Arc<dyn SecondChannel>) -> Route {
        let kind = channel.kind();
        Route::of_kind(name, kind, channel)
    }
}

impl<C: ?Sized> Route<C> {
    /// A route of any medium; `kind` says what it is in logs ("smtp", ...).
    pub fn of_kind(name: impl Into<String>, kind: &'static str, channel: Arc<C>) -> Route<C> {
        Route {
            name: name.into(),
            kind,
            channel,
            health: Mutex::new(Health::default()),
            slots: None,
        }
    }

    /// At most `max` (1 to [`MAX_IN_FLIGHT_MAX`]) of this route's sends at once. A send
    /// waits for a free slot only as long as leaves `answer_time`, the longest the route
    /// takes to answer, inside [`TRY_TIME_MAX`].
    pub fn with_max_in_flight(mut self, max: usize, answer_time: Duration) -> Route<C> {
        let max = max.clamp(1, MAX_IN_FLIGHT_MAX);
        self.slots = Some(Slots {
            free: Semaphore::new(max),
            max,
            wait: TRY_TIME_MAX.saturating_sub(answer_time),
            waiting: AtomicUsize::new(0),
        });
        self
    }

    /// The route's bound on sends at once and how much of it is taken (`None`: unbounded
    /// here, as an SMPP route, bounded by its window).
    pub fn in_flight(&self) -> Option<InFlight> {
        self.slots.as_ref().map(|slots| InFlight {
            max: slots.max,
            sending: slots.max - slots.free.available_permits(),
            waiting: slots.waiting.load(Ordering::Relaxed),
        })
    }

    /// A free slot for one send, waited for until the slot's wait counted from `began`
    /// (when the try on the routes began) ends; `None` if the route stays busy.
    async fn slot(&self, began: Instant) -> Option<Slot<'_>> {
        let Some(slots) = &self.slots else {
            return Some(Slot { _permit: None });
        };
        let deadline = began + slots.wait;
        if Instant::now() >= deadline {
            // Earlier routes of this try took the time this one's answer needs.
            return None;
        }
        let waiting = Waiting::count(&slots.waiting);
        let free = tokio::time::timeout_at(deadline, slots.free.acquire()).await;
        drop(waiting);
        match free {
            Ok(Ok(permit)) => Some(Slot {
                _permit: Some(permit),
            }),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The channel behind the route, to use it alone (an operator's test), without the
    /// failover and health of [`Routes::send`].
    pub fn channel(&self) -> &Arc<C> {
        &self.channel
    }

    fn health(&self) -> Health {
        match self.health.lock() {
            Ok(health) => *health,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Health)) {
        let mut health = match self.health.lock() {
            Ok(health) => health,
            Err(poisoned) => poisoned.into_inner(),
        };
        change(&mut health);
    }

    /// Whether the route takes a message at `now_s`: `Some(false)` when healthy,
    /// `Some(true)` for the one probe a rested route takes, `None` while it rests.
    fn admit(&self, now_s: i64) -> Option<bool> {
        let mut admitted = None;
        self.update(|health| match health.resting_until_s {
            None => admitted = Some(false),
            Some(until) if until <= now_s && !health.probing => {
                health.probing = true;
                admitted = Some(true);
            }
            Some(_) => {}
        });
        admitted
    }

    fn succeeded(&self) {
        self.update(|health| *health = Health::default());
    }

    /// The message is not the route's to judge (it expired): a probe may go again.
    fn unjudged(&self, probe: bool) {
        if probe {
            self.update(|health| health.probing = false);
        }
    }

    fn failed(&self, now_s: i64, probe: bool) {
        let name = &self.name;
        self.update(|health| {
            if probe {
                // The probe failed: rest again, longer.
                health.probing = false;
                health.rest_s = (health.rest_s * 2).clamp(REST_S, REST_S_MAX);
            } else if health.resting_until_s.is_some() {
                // A send that began before the rest: the rest already counts it.
                return;
            } else {
                health.failures_in_a_row = health.failures_in_a_row.saturating_add(1);
                if health.failures_in_a_row < FAILURES_TO_REST {
                    return;
                }
                health.rest_s = REST_S;
            }
            health.resting_until_s = Some(now_s + health.rest_s);
            tracing::warn!(route = %name, rest_s = health.rest_s, "route failing: resting it");
        });
    }
}

/// The ordered routes of one medium.
pub struct Routes<C: ?Sized = dyn SecondChannel> {
    routes: Vec<Route<C>>,
}

/// What a route of some medium does with a message of that medium.
#[async_trait::async_trait]
pub trait Carrier<M: Sync + ?Sized>: Send + Sync {
    async fn carry(&self, message: &M) -> Result<Accepted, ChannelError>;
}

#[async_trait::async_trait]
impl<'a> Carrier<OutgoingText<'a>> for dyn SecondChannel {
    async fn carry(&self, text: &OutgoingText<'a>) -> Result<Accepted, ChannelError> {
        self.send(text).await
    }
}

#[async_trait::async_trait]
impl<'a> Carrier<crate::email::OutgoingEmail<'a>> for dyn crate::email::EmailChannel {
    async fn carry(
        &self,
        mail: &crate::email::OutgoingEmail<'a>,
    ) -> Result<Accepted, ChannelError> {
        self.send(mail).await
    }
}

impl<C: ?Sized> Routes<C> {
    /// Routes in the order they are tried.
    pub fn new(routes: Vec<Route<C>>) -> Routes<C> {
        Routes { routes }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route<C>> {
        self.routes.iter()
    }

    /// Each route's health, in order.
    pub fn states(&self) -> Vec<RouteState> {
        self.routes
            .iter()
            .map(|route| {
                let health = route.health();
                RouteState {
                    name: route.name.clone(),
                    kind: route.kind(),
                    failures_in_a_row: health.failures_in_a_row,
                    resting_until_s: health.resting_until_s,
                }
            })
            .collect()
    }

    /// Sends `message` on the first route that takes it (see the module's rules). `now_s`
    /// decides which routes rest; the caller checks the message's expiry before.
    pub async fn send<M: Sync + ?Sized>(&self, message: &M, now_s: i64) -> Outcome
    where
        C: Carrier<M>,
    {
        self.send_preferring(message, now_s, |_| false).await
    }

    /// [`Routes::send`], trying first the routes `preferred` picks (in their order),
    /// then the others (in theirs): a client who chose calls is called first, and sent
    /// an SMS when no call route takes the message.
    pub async fn send_preferring<M: Sync + ?Sized>(
        &self,
        message: &M,
        now_s: i64,
        preferred: impl Fn(&Route<C>) -> bool,
    ) -> Outcome
    where
        C: Carrier<M>,
    {
        let began = Instant::now();
        let mut retry: Option<(String, String)> = None;
        let mut busy: Option<String> = None;
        let mut refused: Option<(String, String)> = None;
        let (first, then): (Vec<&Route<C>>, Vec<&Route<C>>) =
            self.routes.iter().partition(|route| preferred(route));
        for route in first.into_iter().chain(then) {
            let Some(probe) = route.admit(now_s) else {
                continue;
            };
            let _probing = Probing(probe.then_some(route));
            let Some(_slot) = route.slot(began).await else {
                route.unjudged(probe);
                busy = Some(route.name.clone());
                continue;
            };
            match route.channel.carry(message).await {
                Ok(accepted) => {
                    route.succeeded();
                    return Outcome::Sent {
                        route: route.name.clone(),
                        accepted,
                    };
                }
                Err(ChannelError::Expired) => {
                    route.unjudged(probe);
                    return Outcome::Expired;
                }
                Err(ChannelError::Transient(reason)) => {
                    route.failed(now_s, probe);
                    retry = Some((route.name.clone(), reason));
                }
                Err(ChannelError::Permanent(reason)) => {
                    // The route works; it refused this message.
                    route.succeeded();
                    refused = Some((route.name.clone(), reason));
                }
            }
        }
        match (retry, busy, refused) {
            (Some((route, reason)), _, _) => Outcome::Retry {
                route: Some(route),
                reason,
            },
            (None, Some(route), _) => Outcome::Retry {
                route: Some(route),
                reason: "every one of the route's sends at once (max_in_flight) stayed taken"
                    .into(),
            },
            (None, None, Some((route, reason))) => Outcome::Failed { route, reason },
            (None, None, None) => Outcome::Retry {
                route: None,
                reason: "every route is resting after failures".into(),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use sceau_domain::PhoneNumber;
    use std::collections::VecDeque;

    /// A route that answers what it is told, in order, and counts what it was given.
    struct Scripted {
        answers: Mutex<VecDeque<Result<Accepted, ChannelError>>>,
        given: Mutex<u32>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<Accepted, ChannelError>>) -> Arc<Scripted> {
            Arc::new(Scripted {
                answers: Mutex::new(answers.into()),
                given: Mutex::new(0),
            })
        }

        fn given(&self) -> u32 {
            *self.given.lock().unwrap()
        }
    }

    #[async_trait]
    impl SecondChannel for Scripted {
        fn kind(&self) -> &'static str {
            "scripted"
        }

        async fn send(&self, _: &OutgoingText<'_>) -> Result<Accepted, ChannelError> {
            *self.given.lock().unwrap() += 1;
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("an answer for each message")
        }
    }

    fn ok(id: &str) -> Result<Accepted, ChannelError> {
        Ok(Accepted {
            parts: vec![id.into()],
        })
    }

    fn transient() -> Result<Accepted, ChannelError> {
        Err(ChannelError::Transient("no bind".into()))
    }

    async fn send(routes: &Routes, now_s: i64) -> Outcome {
        let to: PhoneNumber = "+33612345678".parse().unwrap();
        let text = OutgoingText {
            message_id: 1,
            to: &to,
            text: "hello",
            expires_at_s: now_s + 300,
        };
        routes.send(&text, now_s).await
    }

    fn two(first: &Arc<Scripted>, second: &Arc<Scripted>) -> Routes {
        Routes::new(vec![
            Route::new("smsc", first.clone()),
            Route::new("gateway", second.clone()),
        ])
    }

    #[tokio::test]
    async fn a_message_goes_to_the_first_route_and_no_other() {
        let (first, second) = (Scripted::new(vec![ok("a1")]), Scripted::new(vec![]));
        let routes = two(&first, &second);
        let outcome = send(&routes, 1000).await;
        assert_eq!(
            outcome,
            Outcome::Sent {
                route: "smsc".into(),
                accepted: Accepted {
                    parts: vec!["a1".into()]
                }
            }
        );
        assert_eq!(second.given(), 0);
    }

    #[tokio::test]
    async fn a_temporary_failure_moves_the_message_to_the_next_route() {
        let (first, second) = (
            Scripted::new(vec![transient()]),
            Scripted::new(vec![ok("g1")]),
        );
        let routes = two(&first, &second);
        match send(&routes, 1000).await {
            Outcome::Sent { route, .. } => assert_eq!(route, "gateway"),
            other => panic!("{other:?}"),
        }
    }

    /// A client who chose calls: the preferred route goes first, and when it fails for
    /// now the others take the message in their order.
    #[tokio::test]
    async fn preferred_routes_are_tried_first_then_the_others() {
        let to: PhoneNumber = "+33612345678".parse().unwrap();
        let text = OutgoingText {
            message_id: 1,
            to: &to,
            text: "hello",
            expires_at_s: 1300,
        };
        let (first, second) = (Scripted::new(vec![ok("a1")]), Scripted::new(vec![ok("g1")]));
        let routes = two(&first, &second);
        let gateway_first = |route: &Route| route.name() == "gateway";
        match routes.send_preferring(&text, 1000, gateway_first).await {
            Outcome::Sent { route, .. } => assert_eq!(route, "gateway"),
            other => panic!("{other:?}"),
        }
        assert_eq!((first.given(), second.given()), (0, 1));

        let (first, second) = (
            Scripted::new(vec![ok("a2")]),
            Scripted::new(vec![transient()]),
        );
        let routes = two(&first, &second);
        match routes.send_preferring(&text, 1000, gateway_first).await {
            Outcome::Sent { route, .. } => assert_eq!(route, "smsc"),
            other => panic!("{other:?}"),
        }
        assert_eq!((first.given(), second.given()), (1, 1));
    }

    #[tokio::test]
    async fn a_refusal_for_good_everywhere_fails_the_message() {
        let refuse = || Err(ChannelError::Permanent("unknown subscriber".into()));
        let (first, second) = (Scripted::new(vec![refuse()]), Scripted::new(vec![refuse()]));
        let routes = two(&first, &second);
        assert_eq!(
            send(&routes, 1000).await,
            Outcome::Failed {
                route: "gateway".into(),
                reason: "unknown subscriber".into()
            }
        );
    }

    #[tokio::test]
    async fn when_every_route_fails_for_now_the_message_waits() {
        let (first, second) = (
            Scripted::new(vec![transient()]),
            Scripted::new(vec![transient()]),
        );
        let routes = two(&first, &second);
        assert!(matches!(
            send(&routes, 1000).await,
            Outcome::Retry { route: Some(route), .. } if route == "gateway"
        ));
    }

    #[tokio::test]
    async fn an_expired_message_is_not_tried_elsewhere() {
        let (first, second) = (
            Scripted::new(vec![Err(ChannelError::Expired)]),
            Scripted::new(vec![]),
        );
        let routes = two(&first, &second);
        assert_eq!(send(&routes, 1000).await, Outcome::Expired);
        assert_eq!(second.given(), 0);
    }

    #[tokio::test]
    async fn a_failing_route_rests_then_is_probed_and_rests_longer_when_the_probe_fails() {
        let first = Scripted::new(vec![
            transient(),
            transient(),
            transient(),
            transient(), // the first probe
            ok("a1"),    // the second probe
        ]);
        let second = Scripted::new((0..6).map(|i| ok(&format!("g{i}"))).collect());
        let routes = two(&first, &second);
        for _ in 0..3 {
            send(&routes, 1000).await;
        }
        assert_eq!(routes.states()[0].resting_until_s, Some(1000 + REST_S));
        // While it rests, messages go straight to the next route.
        send(&routes, 1000 + REST_S - 1).await;
        assert_eq!(first.given(), 3);
        // The probe fails: the rest doubles.
        send(&routes, 1000 + REST_S).await;
        assert_eq!(first.given(), 4);
        let resting = routes.states()[0].resting_until_s;
        assert_eq!(resting, Some(1000 + REST_S + 2 * REST_S));
        // The next probe succeeds: healthy again.
        match send(&routes, 1000 + 3 * REST_S).await {
            Outcome::Sent { route, .. } => assert_eq!(route, "smsc"),
            other => panic!("{other:?}"),
        }
        assert_eq!(routes.states()[0].resting_until_s, None);
        assert_eq!(routes.states()[0].failures_in_a_row, 0);
    }

    #[tokio::test]
    async fn when_every_route_rests_the_message_waits_without_trying_any() {
        let first = Scripted::new(vec![transient(), transient(), transient()]);
        let routes = Routes::new(vec![Route::new("smsc", first.clone())]);
        for _ in 0..3 {
            send(&routes, 1000).await;
        }
        assert!(matches!(
            send(&routes, 1001).await,
            Outcome::Retry { route: None, .. }
        ));
        assert_eq!(first.given(), 3);
    }

    /// A route whose sends wait until the test lets them answer.
    struct Gate {
        open: tokio::sync::Semaphore,
        given: Mutex<u32>,
        /// Once opened, fail for now instead of accepting.
        fail: std::sync::atomic::AtomicBool,
    }

    impl Gate {
        fn new() -> Arc<Gate> {
            Arc::new(Gate {
                open: tokio::sync::Semaphore::new(0),
                given: Mutex::new(0),
                fail: std::sync::atomic::AtomicBool::new(false),
            })
        }

        fn given(&self) -> u32 {
            *self.given.lock().unwrap()
        }
    }

    #[async_trait]
    impl SecondChannel for Gate {
        fn kind(&self) -> &'static str {
            "gate"
        }

        async fn send(&self, _: &OutgoingText<'_>) -> Result<Accepted, ChannelError> {
            *self.given.lock().unwrap() += 1;
            self.open.acquire().await.unwrap().forget();
            if self.fail.load(Ordering::SeqCst) {
                return transient();
            }
            ok("g")
        }
    }

    const ANSWER_TIME: Duration = Duration::from_secs(30);

    fn spawn_send(routes: &Arc<Routes>) -> tokio::task::JoinHandle<Outcome> {
        let routes = routes.clone();
        tokio::spawn(async move { send(&routes, 1000).await })
    }

    async fn until(done: impl Fn() -> bool) {
        while !done() {
            tokio::task::yield_now().await;
        }
    }

    fn sent_by(outcome: &Outcome) -> &str {
        match outcome {
            Outcome::Sent { route, .. } => route,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_route_is_passed_over_after_its_wait_and_not_judged_for_it() {
        let (gate, spare) = (Gate::new(), Scripted::new(vec![ok("s1")]));
        let routes = Arc::new(Routes::new(vec![
            Route::new("gateway", gate.clone()).with_max_in_flight(1, ANSWER_TIME),
            Route::new("spare", spare.clone()),
        ]));
        let first = spawn_send(&routes);
        until(|| gate.given() == 1).await;
        let began = Instant::now();
        assert_eq!(sent_by(&send(&routes, 1000).await), "spare");
        // It waited for a slot only as long as leaves the route's answer inside a try.
        assert_eq!(began.elapsed(), TRY_TIME_MAX - ANSWER_TIME);
        assert_eq!(gate.given(), 1);
        assert_eq!(routes.states()[0].failures_in_a_row, 0);
        assert_eq!(routes.states()[0].resting_until_s, None);
        gate.open.add_permits(1);
        assert_eq!(sent_by(&first.await.unwrap()), "gateway");
        let in_flight = routes.iter().next().unwrap().in_flight();
        let idle = InFlight {
            max: 1,
            sending: 0,
            waiting: 0,
        };
        assert_eq!(in_flight, Some(idle));
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_waits_for_a_free_slot_and_a_route_that_stays_busy_is_named_for_a_retry() {
        let gate = Gate::new();
        let route = Route::new("gateway", gate.clone()).with_max_in_flight(2, ANSWER_TIME);
        let routes = Arc::new(Routes::new(vec![route]));
        let held: Vec<_> = (0..3).map(|_| spawn_send(&routes)).collect();
        let route = routes.iter().next().unwrap();
        until(|| gate.given() == 2 && route.in_flight().unwrap().waiting == 1).await;
        assert_eq!(route.in_flight().unwrap().sending, 2);
        // One answer frees a slot: the waiting send takes it.
        gate.open.add_permits(1);
        until(|| gate.given() == 3).await;
        assert_eq!(route.in_flight().unwrap().waiting, 0);
        // A wait given up (the dispatcher's time ran out) is no longer counted.
        let given_up = spawn_send(&routes);
        until(|| route.in_flight().unwrap().waiting == 1).await;
        given_up.abort();
        assert!(given_up.await.unwrap_err().is_cancelled());
        assert_eq!(route.in_flight().unwrap().waiting, 0);
        // No slot frees in time for a fourth: it is to be tried again, naming the route.
        let outcome = send(&routes, 1000).await;
        assert!(
            matches!(&outcome, Outcome::Retry { route: Some(route), .. } if route == "gateway"),
            "{outcome:?}"
        );
        assert_eq!(gate.given(), 3);
        gate.open.add_permits(2);
        for send in held {
            assert_eq!(sent_by(&send.await.unwrap()), "gateway");
        }
    }

    /// A route whose answer would come too late for the try, after earlier routes took
    /// the time, is not tried: its answer could come after the dispatcher gave up.
    #[tokio::test(start_paused = true)]
    async fn a_route_is_not_tried_when_the_try_has_no_time_left_for_its_answer() {
        let (slow, late) = (Gate::new(), Scripted::new(vec![ok("l1")]));
        let routes = Arc::new(Routes::new(vec![
            Route::new("slow", slow.clone()),
            Route::new("late", late.clone()).with_max_in_flight(4, ANSWER_TIME),
        ]));
        let sending = spawn_send(&routes);
        until(|| slow.given() == 1).await;
        // The first route takes all but less than the second's answer time, then fails.
        tokio::time::advance(TRY_TIME_MAX - ANSWER_TIME).await;
        slow.fail.store(true, Ordering::SeqCst);
        slow.open.add_permits(1);
        let outcome = sending.await.unwrap();
        assert!(
            matches!(&outcome, Outcome::Retry { route: Some(route), .. } if route == "slow"),
            "{outcome:?}"
        );
        assert_eq!(late.given(), 0, "no time was left for its answer");
    }

    /// A probe whose send is dropped before its answer (the dispatcher gave up) does not
    /// leave the route resting for good.
    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_before_its_answer_lets_the_route_be_probed_again() {
        let gate = Gate::new();
        let routes = Arc::new(Routes::new(vec![Route::new("gateway", gate.clone())]));
        let route = routes.iter().next().unwrap();
        for _ in 0..FAILURES_TO_REST {
            assert_eq!(route.admit(1000), Some(false));
            route.failed(1000, false);
        }
        let probe_at = 1000 + REST_S;
        let routes_for_probe = routes.clone();
        let probe = tokio::spawn(async move { send(&routes_for_probe, probe_at).await });
        until(|| gate.given() == 1).await;
        assert_eq!(route.admit(probe_at), None, "one probe at a time");
        probe.abort();
        assert!(probe.await.unwrap_err().is_cancelled());
        assert_eq!(route.admit(probe_at), Some(true), "probed again");
    }

    #[test]
    fn failures_begun_before_a_rest_do_not_lengthen_it_and_one_probe_goes_at_a_time() {
        let route = Route::new("smsc", Scripted::new(vec![]));
        for _ in 0..FAILURES_TO_REST {
            assert_eq!(route.admit(1000), Some(false));
            route.failed(1000, false);
        }
        let resting = route.health().resting_until_s;
        assert_eq!(resting, Some(1000 + REST_S));
        // The rest of the window's sends fail after it began: nothing changes.
        for _ in 0..9 {
            route.failed(1001, false);
        }
        assert_eq!(route.health().resting_until_s, resting);
        assert_eq!(route.admit(1000 + REST_S - 1), None);
        // At the rest's end, one probe and only one.
        assert_eq!(route.admit(1000 + REST_S), Some(true));
        assert_eq!(route.admit(1000 + REST_S), None);
        // An expired message says nothing of the route: another probe may go.
        route.unjudged(true);
        assert_eq!(route.admit(1000 + REST_S), Some(true));
    }
}
