//! A route's session task: connect, bind, serve the bind (submits out, answers and
//! receipts in, `enquire_link` both ways), and on any failure bind again after a pause.

use super::config::SmppConfig;
use super::delivery;
use super::link::{Link, LinkError, Stream};
use super::tls::Tls;
use super::window::{Backoff, Pace, Window};
use crate::secret::Secret;
use crate::{ChannelError, ReportSink};
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSmResp, SubmitSm};
use rusmpp::types::COctetString;
use rusmpp::values::{InterfaceVersion, Npi, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout};

/// What a route's `send` and its session tasks share.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) config: SmppConfig,
    /// The password read at start, used when the source cannot be read again later.
    pub(crate) password: Secret,
    pub(crate) tls: Option<Tls>,
    pub(crate) reports: ReportSink,
    pub(crate) window: Window,
    pub(crate) pace: Pace,
    /// The bound session that takes submits, when there is one.
    pub(crate) submitter: watch::Sender<Option<Submitter>>,
    pub(crate) counters: Counters,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) binds: AtomicU64,
    pub(crate) binds_refused: AtomicU64,
    pub(crate) links_lost: AtomicU64,
    /// Why the last try to bind failed, until a bind succeeds (never a secret).
    pub(crate) bind_failure: std::sync::Mutex<Option<String>>,
}

impl Counters {
    fn set_bind_failure(&self, failure: Option<String>) {
        let mut slot = match self.bind_failure.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = failure;
    }

    pub(crate) fn bind_failure(&self) -> Option<String> {
        match self.bind_failure.lock() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// One part for the SMSC, and where its answer goes: the SMSC's message id, or why not.
pub(crate) struct Submit {
    pub(crate) pdu: SubmitSm,
    pub(crate) reply: oneshot::Sender<Result<String, ChannelError>>,
}

#[derive(Clone)]
pub(crate) struct Submitter(pub(crate) mpsc::Sender<Submit>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Transceiver,
    Transmitter,
    Receiver,
}

/// Binds and serves until the route shuts down.
pub(crate) async fn run(shared: Arc<Shared>, role: Role, mut shutdown: watch::Receiver<bool>) {
    let config = &shared.config;
    let mut backoff = Backoff::new(
        Duration::from_millis(config.reconnect_min_ms),
        Duration::from_millis(config.reconnect_max_ms),
    );
    let route = shared.name.as_str();
    while !stopping(&shutdown) {
        match open(&shared, role).await {
            Ok(link) => {
                backoff.reset();
                shared.counters.binds.fetch_add(1, Ordering::Relaxed);
                shared.counters.set_bind_failure(None);
                tracing::info!(route, ?role, "bound to the SMSC");
                let error = serve(&shared, role, link, &mut shutdown).await;
                if matches!(error, LinkError::Shutdown) {
                    return;
                }
                shared.counters.links_lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(route, ?role, %error, "link to the SMSC lost; binding again");
            }
            Err(LinkError::Refused(status)) => {
                shared
                    .counters
                    .binds_refused
                    .fetch_add(1, Ordering::Relaxed);
                let system_id = config.system_id.as_str();
                tracing::warn!(
                    route,
                    ?role,
                    system_id,
                    status,
                    "the SMSC refused the bind (system_id or password?)"
                );
                shared.counters.set_bind_failure(Some(format!(
                    "the SMSC refused the bind as system_id {system_id} \
                     (command_status {status:#x}): check the system_id and the password"
                )));
            }
            Err(error) => {
                tracing::warn!(route, ?role, %error, "cannot bind to the SMSC");
                shared
                    .counters
                    .set_bind_failure(Some(format!("cannot bind to the SMSC: {error}")));
            }
        }
        let pause = backoff.next_pause();
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Shut down explicitly, or the route dropped.
fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Connects and binds.
async fn open(shared: &Shared, role: Role) -> Result<Link, LinkError> {
    let config = &shared.config;
    let limit = config.pdu_timeout();
    let dead = |_| LinkError::Dead(config.pdu_timeout_s);
    let tcp = timeout(
        limit,
        TcpStream::connect((config.host.as_str(), config.port)),
    )
    .await
    .map_err(dead)??;
    tcp.set_nodelay(true)?;
    let stream: Box<dyn Stream> = match &shared.tls {
        Some(tls) => {
            let connect = tls.connector.connect(tls.server_name.clone(), tcp);
            Box::new(timeout(limit, connect).await.map_err(dead)??)
        }
        None => Box::new(tcp),
    };
    let mut link = Link::new(stream);
    let sequence = link.request(bind_pdu(shared, role)?).await?;
    let answer = timeout(limit, link.read()).await.map_err(dead)??;
    check_bind_answer(&answer, sequence, role)?;
    Ok(link)
}

fn bind_pdu(shared: &Shared, role: Role) -> Result<Pdu, LinkError> {
    let config = &shared.config;
    // Read again at each bind, so that a corrected password needs no restart.
    let password = config
        .read_password(&shared.name)
        .unwrap_or_else(|_| shared.password.clone());
    let field = |what: &str| LinkError::Protocol(format!("{what} does not fit its field"));
    let system_id = COctetString::from_str(&config.system_id).map_err(|_| field("system_id"))?;
    let password = COctetString::from_str(password.expose()).map_err(|_| field("password"))?;
    let system_type =
        COctetString::from_str(&config.system_type).map_err(|_| field("system_type"))?;
    macro_rules! bind {
        ($kind:ident) => {
            Pdu::$kind($kind {
                system_id,
                password,
                system_type,
                interface_version: InterfaceVersion::Smpp3_4,
                addr_ton: Ton::Unknown,
                addr_npi: Npi::Unknown,
                address_range: COctetString::empty(),
            })
        };
    }
    Ok(match role {
        Role::Transceiver => bind!(BindTransceiver),
        Role::Transmitter => bind!(BindTransmitter),
        Role::Receiver => bind!(BindReceiver),
    })
}

fn check_bind_answer(answer: &Command, sequence: u32, role: Role) -> Result<(), LinkError> {
    let expected = match role {
        Role::Transceiver => CommandId::BindTransceiverResp,
        Role::Transmitter => CommandId::BindTransmitterResp,
        Role::Receiver => CommandId::BindReceiverResp,
    };
    let id = answer.id();
    if id != expected && id != CommandId::GenericNack {
        return Err(LinkError::Protocol(format!(
            "{id:?} instead of {expected:?}"
        )));
    }
    if answer.sequence_number() != sequence {
        return Err(LinkError::Protocol(
            "the bind's answer has another sequence number".into(),
        ));
    }
    let status = u32::from(answer.status());
    if status != 0 || id == CommandId::GenericNack {
        return Err(LinkError::Refused(status));
    }
    Ok(())
}

/// Serves one bound link until it fails or the route shuts down; says why it ended.
async fn serve(
    shared: &Shared,
    role: Role,
    mut link: Link,
    shutdown: &mut watch::Receiver<bool>,
) -> LinkError {
    let (sender, mut requests) = mpsc::channel(usize::from(shared.config.window));
    let submits = role != Role::Receiver;
    if submits {
        shared.submitter.send_replace(Some(Submitter(sender)));
    } else {
        drop(sender);
    }
    let mut session = Session::new(shared);
    let error = loop {
        let wake = session.wake();
        let step = tokio::select! {
            read = link.read() => match read {
                Ok(command) => session.incoming(&mut link, command).await,
                Err(error) => Err(error),
            },
            Some(submit) = requests.recv() => session.submit(&mut link, submit).await,
            () = tokio::time::sleep_until(wake) => session.tick(&mut link).await,
            _ = shutdown.changed() => Err(LinkError::Shutdown),
        };
        if let Err(error) = step {
            break error;
        }
    };
    if submits {
        shared.submitter.send_replace(None);
    }
    // Parts queued but never written: dropping them tells their senders (Transient).
    requests.close();
    drop(requests);
    session.fail_pending(&error);
    if matches!(error, LinkError::Shutdown) {
        unbind(&mut link, shared.config.pdu_timeout()).await;
    }
    link.close().await;
    error
}

async fn unbind(link: &mut Link, limit: Duration) {
    let Ok(sequence) = link.request(Pdu::Unbind).await else {
        return;
    };
    let answered = async {
        while let Ok(command) = link.read().await {
            if command.id() == CommandId::UnbindResp && command.sequence_number() == sequence {
                return;
            }
        }
    };
    let _ = timeout(limit, answered).await;
}

struct Pending {
    reply: oneshot::Sender<Result<String, ChannelError>>,
    sent: Instant,
}

/// The state of one bound link: submits waiting for their answer, our `enquire_link`
/// waiting for its answer, when the SMSC was last heard.
struct Session<'a> {
    shared: &'a Shared,
    pending: HashMap<u32, Pending>,
    enquiry: Option<(u32, Instant)>,
    heard: Instant,
}

impl<'a> Session<'a> {
    fn new(shared: &'a Shared) -> Session<'a> {
        Session {
            shared,
            pending: HashMap::with_capacity(usize::from(shared.config.window)),
            enquiry: None,
            heard: Instant::now(),
        }
    }

    /// When something is due: the oldest answer's deadline, or the next `enquire_link`.
    fn wake(&self) -> Instant {
        let config = &self.shared.config;
        let mut wake = match self.enquiry {
            Some((_, sent)) => sent + config.pdu_timeout(),
            None => self.heard + config.enquire_link(),
        };
        if let Some(oldest) = self.pending.values().map(|pending| pending.sent).min() {
            wake = wake.min(oldest + config.pdu_timeout());
        }
        wake
    }

    async fn tick(&mut self, link: &mut Link) -> Result<(), LinkError> {
        let config = &self.shared.config;
        let now = Instant::now();
        let late = |sent: Instant| now >= sent + config.pdu_timeout();
        let enquiry_late = self.enquiry.is_some_and(|(_, sent)| late(sent));
        if enquiry_late || self.pending.values().any(|pending| late(pending.sent)) {
            return Err(LinkError::Dead(config.pdu_timeout_s));
        }
        if self.enquiry.is_none() && now >= self.heard + config.enquire_link() {
            let sequence = link.request(Pdu::EnquireLink).await?;
            self.enquiry = Some((sequence, now));
        }
        Ok(())
    }

    async fn submit(&mut self, link: &mut Link, submit: Submit) -> Result<(), LinkError> {
        // Whoever queued it gave up waiting (the dispatcher's time ran out): writing it now
        // would send a message the dispatcher will send again.
        if submit.reply.is_closed() {
            return Ok(());
        }
        // The window's slots keep this map within its size; checked all the same.
        if self.pending.len() >= usize::from(self.shared.config.window) {
            let full = ChannelError::Transient("the window is full".into());
            let _ = submit.reply.send(Err(full));
            return Ok(());
        }
        let sequence = link.request(submit.pdu).await?;
        let pending = Pending {
            reply: submit.reply,
            sent: Instant::now(),
        };
        self.pending.insert(sequence, pending);
        Ok(())
    }

    async fn incoming(&mut self, link: &mut Link, command: Command) -> Result<(), LinkError> {
        self.heard = Instant::now();
        let sequence = command.sequence_number();
        match command.id() {
            CommandId::EnquireLink => link.answer(sequence, Pdu::EnquireLinkResp).await,
            CommandId::SubmitSmResp => self.settle(&command),
            CommandId::GenericNack if self.pending.contains_key(&sequence) => self.settle(&command),
            CommandId::EnquireLinkResp | CommandId::GenericNack => self.enquiry_answered(sequence),
            CommandId::DeliverSm => {
                let taken = match command.pdu() {
                    Some(Pdu::DeliverSm(deliver)) => delivery::receive(self.shared, deliver),
                    _ => true,
                };
                // Nowhere to put a receipt now: the SMSC is told to try again later
                // (ESME_RX_T_APPN), and this session never waits on the recorder.
                let status = match taken {
                    true => CommandStatus::EsmeRok,
                    false => CommandStatus::EsmeRxTAppn,
                };
                let answer = Command::new(status, sequence, DeliverSmResp::default());
                link.write(&answer).await
            }
            CommandId::Unbind => {
                link.answer(sequence, Pdu::UnbindResp).await?;
                Err(LinkError::Unbound)
            }
            // An SMSC may notify (alert_notification: no answer is due).
            CommandId::AlertNotification => Ok(()),
            // A request this client does not serve (data_sm, say) is refused the way SMPP
            // says, not by dropping a bind the SMSC would send it on again.
            other if other.is_operation() => {
                let nack = Command::new(CommandStatus::EsmeRinvcmdid, sequence, Pdu::GenericNack);
                link.write(&nack).await
            }
            other => Err(LinkError::Protocol(format!("unexpected {other:?}"))),
        }
    }

    fn enquiry_answered(&mut self, sequence: u32) -> Result<(), LinkError> {
        match self.enquiry {
            Some((asked, _)) if asked == sequence => {
                self.enquiry = None;
                Ok(())
            }
            _ => Err(LinkError::Protocol(format!(
                "an answer to no request (sequence {sequence})"
            ))),
        }
    }

    fn settle(&mut self, command: &Command) -> Result<(), LinkError> {
        let sequence = command.sequence_number();
        let Some(pending) = self.pending.remove(&sequence) else {
            return Err(LinkError::Protocol(format!(
                "an answer to no submit_sm (sequence {sequence})"
            )));
        };
        let _ = pending
            .reply
            .send(delivery::submit_outcome(self.shared, command));
        Ok(())
    }

    /// Parts written but unanswered: the caller hears `Transient` (they may still arrive).
    fn fail_pending(&mut self, error: &LinkError) {
        for (_, pending) in self.pending.drain() {
            let lost = format!("the bind ended before the SMSC answered: {error}");
            let _ = pending.reply.send(Err(ChannelError::Transient(lost)));
        }
    }
}
