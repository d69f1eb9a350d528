//! An operator's SMSC over SMPP 3.4: `rusmpp` encodes and decodes the PDUs; the session
//! is ours.
//!
//! - **One persistent bind per route** (`bind_transceiver`, or a transmitter and a
//!   receiver), over TCP or TLS. A refused bind is logged (never the password) and tried
//!   again; so is a lost link, after a pause doubling from `reconnect_min_ms` to
//!   `reconnect_max_ms` with jitter. The password is read again at each bind.
//! - **Keep-alive**: after `enquire_link_s` without a word from the SMSC we send an
//!   `enquire_link`; the SMSC's own are answered. Any request of ours unanswered after
//!   `pdu_timeout_s` (bind, `submit_sm`, `enquire_link`) means the link is dead: it is
//!   dropped and bound again.
//! - **Sending** ([`SmppRoute::send`]): the text is encoded (GSM 03.38 or UCS-2, cut into
//!   concatenated parts), then each part in order waits for a slot in the window (at most
//!   `window` `submit_sm` unanswered), a bound session (at most `pdu_timeout_s`: with no
//!   bind the message is `Transient`, for the next route) and its turn in the rate limit,
//!   never past the message's expiry ([`ChannelError::Expired`], nothing more sent). Each
//!   `submit_sm` carries a relative `validity_period` equal to what is left of the
//!   secret's life and asks for a receipt. The message is accepted when every part is;
//!   [`Accepted::parts`] are the SMSC's ids, in order.
//! - **Failures**: a part refused for good (any other `command_status`) fails the
//!   message (`Permanent`); `ESME_RTHROTTLED`, `ESME_RMSGQFUL`, `ESME_RSYSERR`, no answer
//!   in time or a lost bind make it `Transient` (throttling also pauses the route for
//!   `throttle_pause_ms`). **At least once**: the caller then sends the whole message
//!   again, here or on another route, so parts the SMSC had already accepted (or a part
//!   whose answer was lost with the link) may reach the phone twice.
//! - **Receipts**: every `deliver_sm` is answered; one marked as a receipt becomes a
//!   [`crate::DeliveryReport`] (its id from `receipted_message_id` or the text's `id:`, as
//!   written there: matching hex and decimal forms is the store's business).
//! - **A hostile or broken SMSC** (a `command_length` out of bounds, an undecodable PDU,
//!   an answer to nothing we asked, a request we do not serve) loses its connection, and
//!   the route binds again. Memory stays bounded: one PDU of at most 64 KiB buffered, at
//!   most `window` submits waiting.

mod config;
mod delivery;
pub mod frame;
mod link;
mod session;
mod tls;
mod window;

pub use config::{BindMode, ConfigError, SmppConfig};

use crate::{Accepted, ChannelError, OutgoingText, ReportSink, SecondChannel, sms_text};
use async_trait::async_trait;
use session::{Counters, Role, Shared, Submit, Submitter};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running SMPP route; dropping it (or [`SmppRoute::shutdown`]) unbinds.
pub struct SmppRoute {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What a route's sessions have done so far (for health and for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmppStatus {
    /// A session that takes submits is bound now.
    pub bound: bool,
    pub binds: u64,
    pub binds_refused: u64,
    /// Binds that ended other than by our unbind (dead link, SMSC closed, protocol).
    pub links_lost: u64,
}

impl SmppRoute {
    /// Checks the configuration, reads the password, and starts the session task(s) on
    /// the current tokio runtime.
    pub fn start(
        name: &str,
        config: &SmppConfig,
        reports: ReportSink,
    ) -> Result<SmppRoute, ConfigError> {
        config.check(name)?;
        let password = config.read_password(name)?;
        let tls = tls::client(name, config)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::Invalid {
            route: name.to_owned(),
            what: "an SMPP route starts inside the server's runtime".into(),
        })?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            config: config.clone(),
            password,
            tls,
            reports,
            window: window::Window::new(config.window),
            pace: window::Pace::new(config.rate_per_s),
            submitter: watch::Sender::new(None),
            counters: Counters::default(),
        });
        let roles: &[Role] = match config.bind {
            BindMode::Transceiver => &[Role::Transceiver],
            BindMode::TransmitterReceiver => &[Role::Transmitter, Role::Receiver],
        };
        let tasks = roles
            .iter()
            .map(|role| runtime.spawn(session::run(shared.clone(), *role, stopped.clone())))
            .collect();
        Ok(SmppRoute {
            shared,
            stop,
            tasks,
        })
    }

    pub fn status(&self) -> SmppStatus {
        let counters = &self.shared.counters;
        SmppStatus {
            bound: self.shared.submitter.borrow().is_some(),
            binds: counters.binds.load(Ordering::Relaxed),
            binds_refused: counters.binds_refused.load(Ordering::Relaxed),
            links_lost: counters.links_lost.load(Ordering::Relaxed),
        }
    }

    /// Unbinds (parts still unanswered get `Transient`) and waits for the sessions' end.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }

    /// One part: a window slot, a bound session, its turn; then the SMSC's answer.
    async fn submit_part(
        &self,
        text: &OutgoingText<'_>,
        coding: u8,
        udhi: bool,
        part: &[u8],
        deadline: Instant,
    ) -> Result<String, ChannelError> {
        let shared = &self.shared;
        // A route without a bind, or whose window stays full, says so within one answer's
        // time, so that the message moves to the next route instead of waiting here for
        // the end of its secret.
        let patience = deadline.min(Instant::now() + shared.config.pdu_timeout());
        let gave_up = |what: &str| {
            if Instant::now() >= deadline {
                ChannelError::Expired
            } else {
                ChannelError::Transient(what.into())
            }
        };
        let _slot = shared
            .window
            .slot(patience)
            .await
            .ok_or_else(|| gave_up("the window stayed full"))?;
        let submitter = self
            .bound(patience)
            .await
            .ok_or_else(|| gave_up("no bind to the SMSC"))?;
        if !shared.pace.turn(deadline).await {
            return Err(ChannelError::Expired);
        }
        let left_s = text.expires_at_s - unix_now_s();
        if left_s <= 0 {
            return Err(ChannelError::Expired);
        }
        let destination = text.to.as_str().trim_start_matches('+');
        let pdu = delivery::submit_pdu(&shared.config, destination, coding, udhi, part, left_s)?;
        let (reply, answer) = oneshot::channel();
        let lost = || ChannelError::Transient("the bind was lost".into());
        submitter
            .0
            .send(Submit { pdu, reply })
            .await
            .map_err(|_| lost())?;
        answer.await.map_err(|_| lost())?
    }

    /// The bound session taking submits, once there is one (`None` past `deadline`).
    async fn bound(&self, deadline: Instant) -> Option<Submitter> {
        let mut bound = self.shared.submitter.subscribe();
        let ready = tokio::time::timeout_at(deadline, bound.wait_for(Option::is_some));
        ready.await.ok()?.ok()?.clone()
    }
}

impl Drop for SmppRoute {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

#[async_trait]
impl SecondChannel for SmppRoute {
    fn kind(&self) -> &'static str {
        "smpp"
    }

    fn diagnosis(&self) -> Option<String> {
        if self.shared.submitter.borrow().is_some() {
            return None;
        }
        self.shared.counters.bind_failure()
    }

    async fn send(&self, text: &OutgoingText<'_>) -> Result<Accepted, ChannelError> {
        let left_s = text.expires_at_s - unix_now_s();
        let Ok(left) = u64::try_from(left_s) else {
            return Err(ChannelError::Expired);
        };
        if left == 0 {
            return Err(ChannelError::Expired);
        }
        let deadline = Instant::now() + Duration::from_secs(left);
        // The concatenation reference tells one message's parts from the next one's.
        let reference = text.message_id.to_le_bytes()[0];
        let encoded = sms_text::encode(text.text, reference)
            .map_err(|error| ChannelError::Permanent(error.to_string()))?;
        let (coding, udhi) = (encoded.coding.data_coding(), encoded.udhi());
        let mut parts = Vec::with_capacity(encoded.parts.len());
        for part in &encoded.parts {
            parts.push(self.submit_part(text, coding, udhi, part, deadline).await?);
        }
        Ok(Accepted { parts })
    }
}

fn unix_now_s() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}
