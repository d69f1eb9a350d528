//! A write, as the lanes see it: what it locks ([`Guard`]), and the operation itself, which
//! a batch may run more than once (a rerun with savepoints, a retry after a lost race).
//!
//! Adding a write is one call: `self.write(guard, data, |c, data, locked| op(c, data).boxed())`
//! in the capability's file. The guard says which accounts the batch locks for it (and,
//! from that, which lane it goes to); the operation's result comes back typed.

use super::{Conn, Fail, col, opt_row, rows};
use crate::model::CommandRequest;
use futures_util::future::BoxFuture;
use std::any::Any;

/// What a write locks before it runs: the accounts it may change, under whose locks its
/// other rows are written. Only immutable links are followed (a number's or an
/// authorization's accounts, a client's account), so what is found before the lock is
/// still true under it.
pub(super) enum Guard {
    /// Nothing: its rows belong to no account, or are guarded by their version.
    Nothing,
    /// Nothing, as for [`Guard::Nothing`], for the second channel's dispatcher (its claims
    /// of the outbox, its sends and reports, rows guarded by their state): it runs in a
    /// lane of its own, so that a seal on its way to the phone never waits for the
    /// payments' batches.
    Dispatch,
    /// The account of this client: their numbers, counters, messages and requests.
    Client(i64),
    /// The account of this client, then the row of the merchant asking for a number for
    /// them (whose distinct clients of the hour are counted under that lock).
    ClientFor { client_id: i64, merchant_id: i64 },
    /// The issuer's funding account of this currency (an enrolment's opening transfer).
    Funding(String),
    /// The two accounts of the authorization of the checkout with this public id (a typed
    /// seal may capture or release its hold, a cancel release it; none before it is held).
    CheckoutHold(String),
    /// The two accounts of this merchant's authorization.
    Authorization { id: i64, merchant_id: i64 },
    /// The account of the number with this fingerprint, found for the whole batch at once
    /// (an authorization: such writes may run together in a wave).
    Number([u8; 32]),
    /// The accounts whose holds or numbers expire by then.
    Expiry(i64),
    /// The settlement accounts to pay out in this currency, and its funding account.
    Clearing(String),
    /// The row of this merchant alone (its webhook secrets, its bank account).
    Merchant(i64),
}

impl Guard {
    /// Which lane the write goes to: writes about the same client, number, authorization
    /// or checkout go to the same lane, so that lanes mostly lock different accounts and
    /// their batches run side by side instead of waiting for each other's locks.
    /// (Correctness does not depend on it: another instance's lanes are elsewhere.)
    pub(super) fn lane_key(&self) -> Option<u64> {
        match self {
            Guard::Client(client_id) | Guard::ClientFor { client_id, .. } => {
                Some(client_id.unsigned_abs())
            }
            Guard::Number(fingerprint) => {
                let mut head = [0_u8; 8];
                head.copy_from_slice(&fingerprint[..8]);
                Some(u64::from_le_bytes(head))
            }
            Guard::Authorization { id, .. } => Some(id.unsigned_abs()),
            // Named by a random public id: spread like the fingerprints.
            Guard::CheckoutHold(public_id) => Some(
                public_id
                    .bytes()
                    .fold(0_u64, |key, byte| key.rotate_left(5) ^ u64::from(byte)),
            ),
            Guard::Nothing
            | Guard::Dispatch
            | Guard::Funding(_)
            | Guard::Expiry(_)
            | Guard::Clearing(_)
            | Guard::Merchant(_) => None,
        }
    }

    /// The number whose account the batch finds with all the others at once.
    pub(super) fn number(&self) -> Option<&[u8]> {
        match self {
            Guard::Number(fingerprint) => Some(&fingerprint[..]),
            _ => None,
        }
    }

    /// The merchant whose row the batch locks after its accounts.
    pub(super) fn merchant(&self) -> Option<i64> {
        match self {
            Guard::ClientFor { merchant_id, .. } | Guard::Merchant(merchant_id) => {
                Some(*merchant_id)
            }
            _ => None,
        }
    }

    /// True when [`Guard::accounts`] needs a query.
    pub(super) fn looks_up(&self) -> bool {
        !matches!(
            self,
            Guard::Nothing | Guard::Dispatch | Guard::Number(_) | Guard::Merchant(_)
        )
    }

    /// The accounts to lock (a number's are found with the batch's others).
    pub(super) async fn accounts(&self, c: &Conn) -> Result<Vec<i64>, Fail> {
        let ids = |rows: Vec<tokio_postgres::Row>| -> Result<Vec<i64>, Fail> {
            rows.iter().map(|row| col(row, 0)).collect()
        };
        let pair = |row: Option<tokio_postgres::Row>| -> Result<Vec<i64>, Fail> {
            match row {
                Some(row) => Ok(vec![col(&row, 0)?, col(&row, 1)?]),
                None => Ok(Vec::new()),
            }
        };
        match self {
            Guard::Nothing | Guard::Dispatch | Guard::Number(_) | Guard::Merchant(_) => {
                Ok(Vec::new())
            }
            Guard::Client(client_id) | Guard::ClientFor { client_id, .. } => {
                ids(rows(c, "SELECT account_id FROM clients WHERE id = $1", &[client_id]).await?)
            }
            Guard::Funding(currency) => Ok(vec![super::ops::funding_account(c, currency).await?]),
            Guard::CheckoutHold(public_id) => pair(
                opt_row(
                    c,
                    "SELECT au.debit_account, au.credit_account FROM checkouts ch \
                     JOIN authorizations au ON au.id = ch.authorization_id WHERE ch.public_id = $1",
                    &[public_id],
                )
                .await?,
            ),
            Guard::Authorization { id, merchant_id } => pair(
                opt_row(
                    c,
                    "SELECT debit_account, credit_account FROM authorizations WHERE id = $1 AND merchant_id = $2",
                    &[id, merchant_id],
                )
                .await?,
            ),
            Guard::Expiry(now_s) => ids(rows(
                c,
                "(SELECT debit_account FROM authorizations WHERE state = 'authorized' AND hold_expires_at <= $1 \
                 ORDER BY hold_expires_at LIMIT $2) \
                 UNION (SELECT account_id FROM numbers WHERE state = 'live' AND valid_until <= $1 \
                 ORDER BY valid_until LIMIT $2)",
                &[now_s, &crate::ops::card_payments::EXPIRY_BATCH_MAX],
            )
            .await?),
            Guard::Clearing(currency) => super::clearing::accounts_to_clear(c, currency).await,
        }
    }

    /// The guard of a merchant command: an authorization's number, or the authorization a
    /// capture, void or refund names.
    pub(super) fn of_command(request: &CommandRequest) -> Guard {
        use crate::model::MerchantCommand as M;
        match &request.command {
            M::Authorize {
                number_fingerprint, ..
            } => Guard::Number(*number_fingerprint),
            M::Capture {
                authorization_id, ..
            }
            | M::Void { authorization_id }
            | M::Refund {
                authorization_id, ..
            } => Guard::Authorization {
                id: *authorization_id,
                merchant_id: request.merchant_id,
            },
        }
    }
}

/// A write's result, until its caller takes it back with its type.
pub(super) type Output = Box<dyn Any + Send + Sync>;

/// A write's operation with its data; run as often as its batch runs.
pub(super) trait Operation: Send + Sync {
    fn run<'a>(&'a self, c: &'a Conn, locked: &'a [i64]) -> BoxFuture<'a, Result<Output, Fail>>;
    /// The write's data, for the batch to look at (an authorization's request, for waves).
    fn data(&self) -> &(dyn Any + Send + Sync);
}

/// An operation made of its data and a function of it.
pub(super) struct Op<D, F> {
    pub(super) data: D,
    pub(super) run: F,
}

impl<D, F, T> Operation for Op<D, F>
where
    D: Send + Sync + 'static,
    T: Send + Sync + 'static,
    F: for<'a> Fn(&'a Conn, &'a D, &'a [i64]) -> BoxFuture<'a, Result<T, Fail>> + Send + Sync,
{
    fn run<'a>(&'a self, c: &'a Conn, locked: &'a [i64]) -> BoxFuture<'a, Result<Output, Fail>> {
        let running = (self.run)(c, &self.data, locked);
        Box::pin(async move { Ok(Box::new(running.await?) as Output) })
    }

    fn data(&self) -> &(dyn Any + Send + Sync) {
        &self.data
    }
}

/// The request of an authorization (the writes a wave may run together).
pub(super) fn authorization_request(operation: &dyn Operation) -> Option<&CommandRequest> {
    operation
        .data()
        .downcast_ref::<CommandRequest>()
        .filter(|request| {
            matches!(
                request.command,
                crate::model::MerchantCommand::Authorize { .. }
            )
        })
}
