//! `POST /tsa`'s signer. Each request is checked and its token prepared by its own
//! handler; the tokens waiting at a given moment are then signed together, with one use
//! of the TSA's key (the encrypted key directory decrypts it once for the group and wipes
//! it after), like the store's group commit. Under load a group holds many tokens; alone,
//! a request is a group of one.

use sceau_pki::{Answer, Pending, Pki, Signature};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most tokens signed with one use of the key.
const GROUP_MAX: usize = 64;
/// Requests waiting for the signer; more wait for room.
const QUEUE_MAX: usize = 1_024;

struct Job {
    pending: Pending,
    signed: oneshot::Sender<Option<(Pending, Signature)>>,
}

/// The handle the handlers send prepared tokens to.
#[derive(Clone)]
pub struct TimeStamper {
    pki: Arc<Pki>,
    jobs: mpsc::Sender<Job>,
}

impl TimeStamper {
    /// Starts the signer task (on the current runtime).
    pub fn spawn(pki: Arc<Pki>) -> TimeStamper {
        let (jobs, receiver) = mpsc::channel(QUEUE_MAX);
        tokio::spawn(sign_groups(Arc::clone(&pki), receiver));
        TimeStamper { pki, jobs }
    }

    /// The answer to `request` at `now_s`.
    pub async fn answer(&self, request: &[u8], now_s: i64) -> Answer {
        let pending = match self.pki.tsa.begin(request, now_s) {
            Ok(pending) => pending,
            Err(rejected) => return rejected,
        };
        let (signed, receive) = oneshot::channel();
        if self.jobs.send(Job { pending, signed }).await.is_err() {
            return sceau_pki::TimeStampAuthority::failed();
        }
        match receive.await {
            Ok(Some((pending, signature))) => self.pki.tsa.finish(pending, &signature),
            _ => sceau_pki::TimeStampAuthority::failed(),
        }
    }
}

async fn sign_groups(pki: Arc<Pki>, mut receiver: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while receiver.recv_many(&mut group, GROUP_MAX).await > 0 {
        let jobs = std::mem::take(&mut group);
        // The encrypted key directory signs in tens of microseconds: in place. A token
        // may take longer: off the async threads.
        let signed = if pki.keystore().kind() == "file" {
            sign(&pki, jobs)
        } else {
            let pki = Arc::clone(&pki);
            match tokio::task::spawn_blocking(move || sign(&pki, jobs)).await {
                Ok(signed) => signed,
                Err(_) => continue,
            }
        };
        for (job, result) in signed {
            let _ = job.send(result);
        }
    }
}

type Signed = Vec<(
    oneshot::Sender<Option<(Pending, Signature)>>,
    Option<(Pending, Signature)>,
)>;

fn sign(pki: &Pki, jobs: Vec<Job>) -> Signed {
    let pending: Vec<&Pending> = jobs.iter().map(|job| &job.pending).collect();
    match pki.tsa.sign(&pending) {
        Ok(signatures) => jobs
            .into_iter()
            .zip(signatures)
            .map(|(job, signature)| (job.signed, Some((job.pending, signature))))
            .collect(),
        Err(error) => {
            tracing::error!(%error, "time-stamp signing failed");
            jobs.into_iter().map(|job| (job.signed, None)).collect()
        }
    }
}
