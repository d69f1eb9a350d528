//! Commands: everything that writes, on a lane's connection inside its batch's
//! transaction, after the batch has locked the accounts its `command::Guard` named.
//!
//! The rules come from `sceau_domain`, as on SQLite; the updates stay conditional (version,
//! state, floor), so the database refuses a write that would break a rule even if the
//! locking above were ever wrong.

use super::evidence;
use super::{Conn, Fail, col, exec, one_row, opt_row, rows};
use crate::StoreError;
use crate::error::stored_count;
use crate::evidence::{self as records, AuthorizationEvent};
use crate::model::*;
use crate::ops::card_payments::{replayed, to_stored};
use crate::rows::NUMBER_COLUMNS;
use crate::shared::{NumberForAuthorization, approved_authorization, authorization_plan, declined};
use crate::sql::Decode;
use sceau_domain::decline::Decline;
use sceau_domain::policy::{AuthorizationPlan, Holder, NumberUsage};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Locks the rows of these merchants, in ascending id order (after the accounts: every
/// batch takes its locks in that order).
pub(super) async fn lock_merchants(c: &Conn, merchant_ids: &[i64]) -> Result<(), Fail> {
    rows(
        c,
        "SELECT id FROM merchants WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        &[&merchant_ids],
    )
    .await?;
    Ok(())
}

/// In one statement: finds the accounts of the numbers with these fingerprints (live or
/// dead) and locks them with `others`, in ascending id order. Returns the numbers'
/// (fingerprint, account) pairs and how many accounts were locked.
pub(super) async fn lock_accounts(
    c: &Conn,
    fingerprints: &[&[u8]],
    others: &[i64],
) -> Result<(Vec<(Vec<u8>, i64)>, i64), Fail> {
    let row = one_row(
        c,
        "WITH found AS (SELECT DISTINCT fingerprint, account_id FROM numbers WHERE fingerprint = ANY($1)), \
         locked AS (SELECT id FROM accounts WHERE id IN (SELECT account_id FROM found \
         UNION SELECT unnest($2::BIGINT[])) ORDER BY id FOR NO KEY UPDATE) \
         SELECT (SELECT array_agg(fingerprint) FROM found), (SELECT array_agg(account_id) FROM found), \
         (SELECT count(*) FROM locked)",
        &[&fingerprints, &others],
    )
    .await?;
    let found_fingerprints: Option<Vec<Vec<u8>>> = col(&row, 0)?;
    let found_accounts: Option<Vec<i64>> = col(&row, 1)?;
    let pairs = found_fingerprints
        .unwrap_or_default()
        .into_iter()
        .zip(found_accounts.unwrap_or_default())
        .collect();
    Ok((pairs, col(&row, 2)?))
}

/// The issuer's funding account for `currency`, opened on first use.
pub(super) async fn funding_account(c: &Conn, currency: &str) -> Result<i64, Fail> {
    exec(
        c,
        "INSERT INTO accounts (kind, currency) VALUES ('funding', $1) \
         ON CONFLICT (currency) WHERE kind = 'funding' DO NOTHING",
        &[&currency],
    )
    .await?;
    col(
        &one_row(
            c,
            "SELECT id FROM accounts WHERE kind = 'funding' AND currency = $1",
            &[&currency],
        )
        .await?,
        0,
    )
}

/// The merchant's settlement account for `currency`, if it is open.
async fn find_merchant_account(
    c: &Conn,
    merchant_id: i64,
    currency: &str,
) -> Result<Option<i64>, Fail> {
    opt_row(
        c,
        "SELECT id FROM accounts WHERE kind = 'merchant' AND owner_id = $1 AND currency = $2",
        &[&merchant_id, &currency],
    )
    .await?
    .map(|row| col(&row, 0))
    .transpose()
}

/// Opens the merchant's settlement account for `currency` (or finds the one another
/// instance has just opened).
async fn open_merchant_account(c: &Conn, merchant_id: i64, currency: &str) -> Result<i64, Fail> {
    exec(
        c,
        "INSERT INTO accounts (kind, owner_id, currency) VALUES ('merchant', $1, $2) \
         ON CONFLICT (owner_id, currency) WHERE kind = 'merchant' DO NOTHING",
        &[&merchant_id, &currency],
    )
    .await?;
    find_merchant_account(c, merchant_id, currency)
        .await?
        .ok_or_else(|| Fail::Store(StoreError::Corrupt("merchant account not opened".into())))
}

const IDEMPOTENCY_INSERT: &str = "INSERT INTO idempotency (merchant_id, key, request_hash, outcome, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (merchant_id, key) DO NOTHING";

/// The key was recorded by another transaction after this one looked: this command fails,
/// and its rerun (in a savepoint) finds the stored answer.
fn key_in_flight() -> Fail {
    Fail::Store(StoreError::Conflict("idempotency_key_in_flight"))
}

pub(super) async fn record_idempotency(
    c: &Conn,
    merchant_id: i64,
    idempotency: &IdempotencyKey,
    stored: &str,
    now_s: i64,
) -> Result<(), Fail> {
    let inserted = exec(
        c,
        IDEMPOTENCY_INSERT,
        &[
            &merchant_id,
            &idempotency.key,
            &&idempotency.request_hash[..],
            &stored,
            &now_s,
        ],
    )
    .await?;
    if inserted != 1 {
        return Err(key_in_flight());
    }
    Ok(())
}

/// The number an authorization names, with its holder, and what the holder's account
/// can still hold (balance − held + credit limit), from one row of
/// [`read_for_authorizations`].
fn number_for_authorization(
    row: &tokio_postgres::Row,
) -> Result<(NumberForAuthorization, i64), Fail> {
    let view = NumberView::decode(row)?;
    let failed_tries: i64 = col(row, 19)?;
    let holder_failures: i64 = col(row, 23)?;
    let balance: i64 = col(row, 24)?;
    let held: i64 = col(row, 25)?;
    let credit_limit: i64 = col(row, 26)?;
    let number = NumberForAuthorization {
        usage: NumberUsage {
            state: view.state,
            policy: view.policy,
            uses_count: view.uses_count,
            amount_used_minor: view.amount_used,
            locked_merchant: view.locked_merchant,
            failed_tries: stored_count(failed_tries, "numbers.failed_tries")?,
        },
        holder: Holder {
            client_id: view.client_id,
            blocked: col(row, 21)?,
            paused_until_s: col(row, 22)?,
            consecutive_failures: stored_count(holder_failures, "clients.consecutive_failures")?,
        },
        view,
        account_id: col(row, 17)?,
        details_fingerprint: col(row, 18)?,
        version: col(row, 20)?,
    };
    let available = balance.saturating_sub(held).saturating_add(credit_limit);
    Ok((number, available))
}

fn changed_concurrently() -> Fail {
    Fail::Store(StoreError::Conflict("number_changed_concurrently"))
}

/// One authorization, as a wave of one ([`authorize_wave`]): its idempotency key
/// included.
pub(super) async fn authorize(c: &Conn, request: &CommandRequest) -> Result<Executed, Fail> {
    let mut executed = authorize_wave(c, &[request]).await?;
    executed
        .pop()
        .ok_or_else(|| Fail::Store(StoreError::Corrupt("an authorization went missing".into())))
}

/// Authorizations run together (one alone is a wave of one): their reads are one
/// statement, then their decisions are taken in order, then the approvals' writes are one
/// statement. The caller guarantees that no two of them touch the same account or number
/// (so none would have read another's writes had they run one after the other). All
/// succeed or the first failure is returned.
pub(super) async fn authorize_wave(
    c: &Conn,
    requests: &[&CommandRequest],
) -> Result<Vec<Executed>, Fail> {
    let rows = read_for_authorizations(c, requests).await?;
    if rows.len() != requests.len() {
        return Err(Fail::Store(StoreError::Corrupt(
            "authorization reads do not match the requests".into(),
        )));
    }
    let mut planned = Vec::with_capacity(requests.len());
    for (request, row) in requests.iter().zip(&rows) {
        planned.push(plan_authorization(c, request, row).await?);
    }
    let approvals: Vec<&Approval> = planned
        .iter()
        .filter_map(|plan| match plan {
            Planned::Approve(approval) => Some(approval.as_ref()),
            Planned::Finished(_) => None,
        })
        .collect();
    // The numbers' records, after the heads read with the numbers, written with the
    // approvals' own statement (a wave touches each number once).
    let mut events = Vec::with_capacity(approvals.len());
    let mut ids = Vec::with_capacity(approvals.len());
    let mut heads = HashMap::new();
    for approval in &approvals {
        if let Outcome::Authorized { authorization } = &approval.outcome {
            let event = records::authorization(
                authorization,
                AuthorizationEvent::Authorized,
                approval.now_s,
            )?;
            if let Some(head) = approval.record.head {
                heads.insert(event.subject.clone(), head);
            }
            ids.push(approval.record.id);
            events.push(event);
        }
    }
    write_approvals(c, &approvals, evidence::chain(events, ids, heads)?).await?;
    Ok(planned
        .into_iter()
        .map(|plan| match plan {
            Planned::Finished(executed) => executed,
            Planned::Approve(approval) => Executed {
                outcome: approval.outcome,
                replayed: false,
            },
        })
        .collect())
}

enum Planned {
    Finished(Executed),
    Approve(Box<Approval>),
}

/// One statement reads all that each authorization needs: the number (a live one first,
/// else the newest dead one, so that a reused number is told "already used" rather than
/// "unknown") with its holder and account, the stored answer for the idempotency key,
/// the merchant's settlement account, and the id the authorization will have. One row per
/// request, in order.
async fn read_for_authorizations(
    c: &Conn,
    requests: &[&CommandRequest],
) -> Result<Vec<tokio_postgres::Row>, Fail> {
    let mut fingerprints: Vec<&[u8]> = Vec::with_capacity(requests.len());
    let mut currencies: Vec<&str> = Vec::with_capacity(requests.len());
    for request in requests {
        let MerchantCommand::Authorize {
            number_fingerprint,
            currency,
            ..
        } = &request.command
        else {
            return Err(Fail::Store(StoreError::Corrupt(
                "authorize called with another command".into(),
            )));
        };
        fingerprints.push(&number_fingerprint[..]);
        currencies.push(currency.code());
    }
    let merchants: Vec<i64> = requests.iter().map(|r| r.merchant_id).collect();
    let keys: Vec<Option<&str>> = requests
        .iter()
        .map(|r| r.idempotency.as_ref().map(|key| key.key.as_str()))
        .collect();
    // With each number, its evidence head (on its row) and an id for the record an
    // approval writes.
    let sql = format!(
        "SELECT x.*, (SELECT id FROM accounts WHERE kind = 'merchant' AND owner_id = r.merchant \
         AND currency = r.currency) AS payee_account, i.request_hash, i.outcome, nextval('authorizations_id_seq'), r.ord, \
         nextval('evidence_id_seq') \
         FROM unnest($1::BYTEA[], $2::BIGINT[], $3::TEXT[], $4::TEXT[]) WITH ORDINALITY \
         AS r (fingerprint, merchant, currency, key, ord) \
         LEFT JOIN LATERAL (SELECT {NUMBER_COLUMNS}, n.account_id, n.details_fingerprint, n.failed_tries, \
         n.version, c.blocked, c.paused_until, c.consecutive_failures, a.balance, a.held, a.credit_limit, \
         n.evidence_last_id, n.evidence_seq, n.evidence_hash \
         FROM numbers n JOIN clients c ON c.id = n.client_id JOIN accounts a ON a.id = n.account_id \
         WHERE n.fingerprint = r.fingerprint ORDER BY (n.state = 'live') DESC, n.id DESC LIMIT 1) AS x ON TRUE \
         LEFT JOIN idempotency i ON i.merchant_id = r.merchant AND i.key = r.key \
         ORDER BY r.ord"
    );
    rows(c, &sql, &[&fingerprints, &merchants, &currencies, &keys]).await
}

/// Replays, declines or approves on what [`read_for_authorizations`] found.
async fn plan_authorization(
    c: &Conn,
    request: &CommandRequest,
    row: &tokio_postgres::Row,
) -> Result<Planned, Fail> {
    if let Some(key) = &request.idempotency {
        let request_hash: Option<Vec<u8>> = col(row, 31)?;
        if let Some(request_hash) = request_hash {
            if request_hash != key.request_hash {
                return Err(Fail::Store(StoreError::IdempotencyMismatch));
            }
            return Ok(Planned::Finished(replayed(&col::<String>(row, 32)?)?));
        }
    }
    let found = match col::<Option<i64>>(row, 0)? {
        Some(_) => Some(number_for_authorization(row)?),
        None => None,
    };
    let merchant_account: Option<i64> = col(row, 30)?;
    let next_id: i64 = col(row, 33)?;
    let record = RecordSlot {
        id: col(row, 35)?,
        head: records::head_from_stored(col(row, 27)?, col(row, 28)?, col(row, 29)?)?,
    };
    let decided = authorize_decided(c, request, found, merchant_account, next_id, record).await?;
    let outcome = match decided {
        Decided::Approve(approval) => return Ok(Planned::Approve(approval)),
        Decided::Done(outcome) => outcome,
    };
    // A decline has no write of its own to carry the key with; record it alone.
    if let Some(key) = &request.idempotency {
        let stored = to_stored(&outcome)?;
        record_idempotency(c, request.merchant_id, key, &stored, request.now_s).await?;
    }
    Ok(Planned::Finished(Executed {
        outcome,
        replayed: false,
    }))
}

/// An authorization on what was read: [`authorization_plan`] decides. A decline's
/// writes (a wrong try counted) are made at once; an approval's writes (hold, usage,
/// authorization, idempotency key) are returned as one statement for the caller to send.
async fn authorize_decided(
    c: &Conn,
    request: &CommandRequest,
    number: Option<(NumberForAuthorization, i64)>,
    merchant_account: Option<i64>,
    authorization_id: i64,
    record: RecordSlot,
) -> Result<Decided, Fail> {
    let plan = authorization_plan(number.as_ref().map(|(number, _)| number), request)?;
    let (after, reset_failures, (number, available)) = match (plan, number) {
        (AuthorizationPlan::Decline(decline), _) => return Ok(Decided::Done(declined(decline))),
        (wrong @ AuthorizationPlan::WrongDetails { .. }, Some((number, _))) => {
            let tx = super::PgTx::new(c, &[]);
            let outcome = crate::ops::card_payments::count_wrong_details(&tx, &number, wrong);
            return Ok(Decided::Done(outcome.await?));
        }
        (
            AuthorizationPlan::Approve {
                usage,
                reset_failures,
            },
            Some(found),
        ) => (usage, reset_failures, found),
        (_, None) => return Err(super::corrupt("an authorization planned on no number")),
    };
    let authorization = approved_authorization(request, &number.view, authorization_id)?;
    // The account is locked by the batch, so what was read is what the hold sees; the
    // update's condition checks the floor again all the same.
    if available < authorization.amount {
        return Ok(Decided::Done(declined(Decline::InsufficientFunds)));
    }
    let credit_account = match merchant_account {
        Some(id) => id,
        None => open_merchant_account(c, request.merchant_id, &authorization.currency).await?,
    };
    approval(
        request,
        &number,
        &after,
        reset_failures,
        credit_account,
        authorization,
        record,
    )
}

/// The writes of an approved authorization, for [`write_approvals`].
fn approval(
    request: &CommandRequest,
    number: &NumberForAuthorization,
    after: &NumberUsage,
    reset_failures: bool,
    credit_account: i64,
    authorization: AuthorizationView,
    record: RecordSlot,
) -> Result<Decided, Fail> {
    let outcome = Outcome::Authorized { authorization };
    let (key, request_hash, stored) = match &request.idempotency {
        Some(key) => (
            Some(key.key.clone()),
            Some(key.request_hash.to_vec()),
            Some(to_stored(&outcome)?),
        ),
        None => (None, None, None),
    };
    let Outcome::Authorized {
        authorization: view,
    } = &outcome
    else {
        return Err(super::corrupt("an approval without its authorization"));
    };
    Ok(Decided::Approve(Box::new(Approval {
        account_id: number.account_id,
        amount: view.amount,
        number_id: number.view.id,
        version: number.version,
        state: after.state.as_str().to_owned(),
        uses_count: i64::from(after.uses_count),
        amount_used: after.amount_used_minor,
        failed_tries: i64::from(after.failed_tries),
        locked_merchant: after.locked_merchant,
        id: view.id,
        merchant_id: request.merchant_id,
        client_id: view.client_id,
        credit_account,
        currency: view.currency.clone(),
        reference: view.merchant_reference.clone(),
        now_s: request.now_s,
        hold_expires_at_s: view.hold_expires_at_s,
        reset_failures,
        key,
        request_hash,
        stored,
        outcome,
        record,
    })))
}

/// Where an approval's evidence record goes: the id drawn for it, after the number's
/// head as read with the number.
struct RecordSlot {
    id: i64,
    head: Option<records::Head>,
}

/// An approved authorization's writes, not yet sent: the hold, the number's new usage
/// (on condition of its version), the holder's failure count, the authorization row and
/// the idempotency key with the answer to replay.
pub(super) struct Approval {
    account_id: i64,
    amount: i64,
    number_id: i64,
    version: i64,
    state: String,
    uses_count: i64,
    amount_used: i64,
    failed_tries: i64,
    locked_merchant: Option<i64>,
    id: i64,
    merchant_id: i64,
    client_id: i64,
    credit_account: i64,
    currency: String,
    reference: String,
    now_s: i64,
    hold_expires_at_s: i64,
    reset_failures: bool,
    key: Option<String>,
    request_hash: Option<Vec<u8>>,
    stored: Option<String>,
    outcome: Outcome,
    record: RecordSlot,
}

/// The statement of [`write_approvals`].
static WRITE_APPROVALS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH input AS (SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], \
     $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], \
     $12::BIGINT[], $13::BIGINT[], $14::TEXT[], $15::TEXT[], $16::BIGINT[], $17::BIGINT[], $18::BOOLEAN[], \
     $19::TEXT[], $20::BYTEA[], $21::TEXT[], $22::BIGINT[], $23::BIGINT[], $24::BYTEA[], $25::BIGINT[]) \
     AS t (account_id, amount, number_id, version, state, \
     uses_count, amount_used, failed_tries, locked_merchant, id, merchant_id, client_id, credit_account, \
     currency, reference, now_s, hold_expires_at, reset_failures, key, request_hash, stored, \
     head_id, head_seq, head_hash, head_was)), \
     hold AS (UPDATE accounts a SET held = a.held + t.amount FROM input t WHERE a.id = t.account_id \
     AND (a.kind <> 'client' OR a.balance - a.held - t.amount >= -a.credit_limit) RETURNING 1), \
     used AS (UPDATE numbers n SET state = t.state, uses_count = t.uses_count, amount_used = t.amount_used, \
     failed_tries = t.failed_tries, merchant_id = COALESCE(t.locked_merchant, n.merchant_id), \
     version = n.version + 1, evidence_last_id = t.head_id, evidence_seq = t.head_seq, \
     evidence_hash = t.head_hash FROM input t \
     WHERE n.id = t.number_id AND n.version = t.version AND n.evidence_seq = t.head_was RETURNING 1), \
     reset AS (UPDATE clients c SET consecutive_failures = 0 FROM input t \
     WHERE c.id = t.client_id AND t.reset_failures RETURNING 1), \
     inserted AS (INSERT INTO authorizations (id, merchant_id, number_id, client_id, debit_account, \
     credit_account, currency, amount, state, merchant_reference, created_at, hold_expires_at, updated_at) \
     SELECT t.id, t.merchant_id, t.number_id, t.client_id, t.account_id, t.credit_account, t.currency, \
     t.amount, 'authorized', t.reference, t.now_s, t.hold_expires_at, t.now_s FROM input t RETURNING 1), \
     idem AS (INSERT INTO idempotency (merchant_id, key, request_hash, outcome, created_at) \
     SELECT t.merchant_id, t.key, t.request_hash, t.stored, t.now_s FROM input t WHERE t.key IS NOT NULL \
     ON CONFLICT (merchant_id, key) DO NOTHING RETURNING 1), {} \
     SELECT (SELECT count(*) FROM hold), (SELECT count(*) FROM used), (SELECT count(*) FROM inserted), \
     (SELECT count(*) FROM idem), (SELECT count(*) FROM input WHERE key IS NOT NULL), \
     (SELECT count(*) FROM reset), (SELECT count(*) FROM input WHERE reset_failures), {}",
        evidence::ctes(26),
        evidence::COUNTS
    )
});

/// Writes approvals (on distinct accounts and numbers) as one statement of
/// data-modifying CTEs over their values as arrays, their numbers' evidence `records`
/// included. The hold's condition is the client's floor, the usage's the number's
/// version and each head's the `seq` read, checked again by the database; the counts
/// it returns must show every part applied to every approval.
async fn write_approvals(
    c: &Conn,
    approvals: &[&Approval],
    mut records: evidence::Chained,
) -> Result<(), Fail> {
    if approvals.is_empty() {
        return Ok(());
    }
    let heads = approval_head_moves(approvals, &mut records)?;
    let columns = records.columns();
    let evidence = columns.params();
    let row = one_row(
        c,
        &WRITE_APPROVALS,
        &[
            &column(approvals, |a| a.account_id),
            &column(approvals, |a| a.amount),
            &column(approvals, |a| a.number_id),
            &column(approvals, |a| a.version),
            &column(approvals, |a| a.state.as_str()),
            &column(approvals, |a| a.uses_count),
            &column(approvals, |a| a.amount_used),
            &column(approvals, |a| a.failed_tries),
            &column(approvals, |a| a.locked_merchant),
            &column(approvals, |a| a.id),
            &column(approvals, |a| a.merchant_id),
            &column(approvals, |a| a.client_id),
            &column(approvals, |a| a.credit_account),
            &column(approvals, |a| a.currency.as_str()),
            &column(approvals, |a| a.reference.as_str()),
            &column(approvals, |a| a.now_s),
            &column(approvals, |a| a.hold_expires_at_s),
            &column(approvals, |a| a.reset_failures),
            &column(approvals, |a| a.key.as_deref()),
            &column(approvals, |a| a.request_hash.as_deref()),
            &column(approvals, |a| a.stored.as_deref()),
            &heads.iter().map(|h| h.last_id).collect::<Vec<i64>>(),
            &heads.iter().map(|h| h.seq).collect::<Vec<i64>>(),
            &heads
                .iter()
                .map(|h| h.hash.as_slice())
                .collect::<Vec<&[u8]>>(),
            &heads.iter().map(|h| h.was).collect::<Vec<i64>>(),
            evidence[0],
            evidence[1],
            evidence[2],
            evidence[3],
            evidence[4],
            evidence[5],
            evidence[6],
            evidence[7],
            evidence[8],
            evidence[9],
            evidence[10],
            evidence[11],
            evidence[12],
            evidence[13],
            evidence[14],
            evidence[15],
            evidence[16],
            evidence[17],
        ],
    )
    .await?;
    check_approval_counts(&row, approvals.len())?;
    drop(columns);
    records.check(&row, 7).map(|_| ())
}

/// Each approval's number moves its head to its record in the usage's update: the
/// moves taken from `records`, in the order of the approvals, one for each.
fn approval_head_moves(
    approvals: &[&Approval],
    records: &mut evidence::Chained,
) -> Result<Vec<evidence::NumberHeadMove>, Fail> {
    let moves: HashMap<i64, evidence::NumberHeadMove> = records
        .take_number_moves()
        .into_iter()
        .map(|head| (head.number_id, head))
        .collect();
    let heads = approvals
        .iter()
        .map(|approval| {
            moves
                .get(&approval.number_id)
                .copied()
                .ok_or_else(|| super::corrupt("an approval without its record"))
        })
        .collect::<Result<Vec<_>, Fail>>()?;
    if moves.len() != approvals.len() {
        return Err(super::corrupt("a record without its approval"));
    }
    Ok(heads)
}

/// One field of every approval, as the array bound to its column.
fn column<'a, T>(approvals: &[&'a Approval], field: impl Fn(&'a Approval) -> T) -> Vec<T> {
    approvals.iter().map(|a| field(a)).collect()
}

/// The counts [`write_approvals`] returns must show every part applied to each of the
/// `expected` approvals: a hold refused under the account's lock is a bug, a usage not
/// applied a concurrent change, a key not stored a request still in flight.
fn check_approval_counts(row: &tokio_postgres::Row, expected: usize) -> Result<(), Fail> {
    let count = |index| col::<i64>(row, index);
    let expected = expected as i64;
    if count(0)? != expected || count(2)? != expected || count(5)? != count(6)? {
        return Err(Fail::Store(StoreError::Corrupt(
            "hold refused under the account's lock".into(),
        )));
    }
    if count(1)? != expected {
        return Err(changed_concurrently());
    }
    if count(3)? != count(4)? {
        return Err(key_in_flight());
    }
    Ok(())
}

/// What was decided before anything is written: an outcome already complete (declines,
/// whose few writes are made at once), or an approval to write.
enum Decided {
    Done(Outcome),
    Approve(Box<Approval>),
}
