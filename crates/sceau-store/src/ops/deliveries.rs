//! Certified delivery: a notarized envelope sent to recipients, each told by e-mail,
//! authenticated by a code sent to their phone, handed the files under a withdrawal
//! certificate, and answering. `sceau_domain::delivery::next` decides each step; this
//! applies it, one transaction per step, with its evidence: the delivery's own chain
//! holds its submission, each recipient's events a chain of their own (each record named
//! as ETSI EN 319 522 names the event, where it has a name).

use crate::StoreError;
use crate::evidence::{self, delivery_event};
use crate::model::*;
use crate::ops::certificates;
use crate::ops::outbox::{budget_allows, enqueue, enqueue_message};
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, all, args, broken, first, record, scalar};
use sceau_domain::delivery::{self, RecipientEvent};
use sceau_domain::reach::MessageKind;
use sceau_log::Object;

/// A delivery's own columns, with its envelope's public id and manifest digest, its
/// sender's name and address, and its first file's name.
macro_rules! head_where {
    ($condition:literal) => {
        Sql::new(concat!(
            "SELECT d.id, d.public_id, d.envelope_id, e.public_id AS envelope_public_id, \
             e.manifest_sha256, d.client_id, d.deadline_at, d.hide_sender, d.link_base, \
             d.created_at, d.settled_at, s.display_name AS sender_name, \
             s.email AS sender_email, \
             (SELECT f.name FROM envelope_files f WHERE f.envelope_id = d.envelope_id \
             ORDER BY f.position LIMIT 1) AS first_name \
             FROM deliveries d JOIN envelopes e ON e.id = d.envelope_id \
             JOIN clients s ON s.id = d.client_id WHERE ",
            $condition
        ))
    };
}

static HEAD_BY_PUBLIC_ID: Sql = head_where!("d.public_id = $1");
static HEAD_BY_ID: Sql = head_where!("d.id = $1");
static OF_ENVELOPE: Sql = head_where!("d.envelope_id = $1 ORDER BY d.id DESC LIMIT $2");
static FILE_DIGESTS: Sql =
    Sql::new("SELECT sha256 FROM envelope_files WHERE envelope_id = $1 ORDER BY position");

macro_rules! recipient_columns {
    () => {
        "SELECT delivery_id, position, email, phone, phone_given, client_id, contact_salt, state, \
         notice_message_id, notice_sent_at, code_nonce, code_digits, code_issued_at, \
         code_expires_at, codes_sent, wrong_tries, paused_until, session_expires_at, \
         withdrawal_serial, withdrawals, session_withdrawals, withdrawn_session_sha256, \
         answer_statement, \
         answer_signature, \
         answer_time_stamp, answered_at, told_state, reminded_at, updated_at FROM delivery_recipients "
    };
}

static RECIPIENTS: Sql = Sql::new(concat!(
    recipient_columns!(),
    "WHERE delivery_id = $1 ORDER BY position"
));
static RECIPIENT: Sql = Sql::new(concat!(
    recipient_columns!(),
    "WHERE delivery_id = $1 AND position = $2"
));
/// The recipient a link names, locked while a step is judged (PostgreSQL: two steps of
/// one recipient take turns; SQLite has one writer).
static LOCK_BY_LINK: Sql = Sql::each(
    "SELECT delivery_id, position FROM delivery_recipients WHERE link_sha256 = $1 FOR UPDATE",
    "SELECT delivery_id, position FROM delivery_recipients WHERE link_sha256 = ?1",
);
/// A recipient by place, locked (see [`LOCK_BY_LINK`]).
static LOCK_BY_POSITION: Sql = Sql::each(
    "SELECT delivery_id, position FROM delivery_recipients \
     WHERE delivery_id = $1 AND position = $2 FOR UPDATE",
    "SELECT delivery_id, position FROM delivery_recipients \
     WHERE delivery_id = ?1 AND position = ?2",
);
static BY_LINK: Sql =
    Sql::new("SELECT delivery_id, position FROM delivery_recipients WHERE link_sha256 = $1");
static BY_SESSION: Sql = Sql::new(
    "SELECT delivery_id, position FROM delivery_recipients \
     WHERE link_sha256 = $1 AND session_sha256 = $2 AND session_expires_at > $3",
);

/// A delivery's head row, before its digests and recipients are read.
struct Head(DeliveryView);

impl Decode for Head {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(Head(DeliveryView {
            id: row.column("id")?,
            public_id: row.column("public_id")?,
            envelope_id: row.column("envelope_id")?,
            envelope_public_id: row.column("envelope_public_id")?,
            manifest_sha256: row
                .column::<Option<[u8; 32]>>("manifest_sha256")?
                .ok_or_else(|| corrupt("a delivered envelope without its manifest"))?,
            file_digests: Vec::new(),
            client_id: row.column("client_id")?,
            sender_name: row.column("sender_name")?,
            sender_email: row.column("sender_email")?,
            first_name: row
                .column::<Option<String>>("first_name")?
                .unwrap_or_default(),
            deadline_s: row.column("deadline_at")?,
            hide_sender: row.column("hide_sender")?,
            link_base: row.column("link_base")?,
            created_at_s: row.column("created_at")?,
            settled_at_s: row.column("settled_at")?,
            recipients: Vec::new(),
        }))
    }
}

struct Digest([u8; 32]);

impl Decode for Digest {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(Digest(row.column("sha256")?))
    }
}

/// The recipient a link or a session names.
struct Named {
    delivery_id: i64,
    position: u32,
}

impl Decode for Named {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(Named {
            delivery_id: row.column("delivery_id")?,
            position: u32::try_from(row.column::<i64>("position")?)
                .map_err(|_| corrupt("recipient position"))?,
        })
    }
}

fn count(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt(what))
}

fn state_of(text: &str) -> Result<RecipientState, StoreError> {
    RecipientState::parse(text).ok_or_else(|| corrupt("recipient state"))
}

impl Decode for RecipientView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let code = match (
            row.column::<Option<[u8; 16]>>("code_nonce")?,
            row.column::<Option<i64>>("code_digits")?,
            row.column::<Option<i64>>("code_issued_at")?,
            row.column::<Option<i64>>("code_expires_at")?,
        ) {
            (Some(nonce), Some(digits), Some(issued_at_s), Some(expires_at_s)) => {
                Some(StoredSeal {
                    nonce,
                    digits: u8::try_from(digits).map_err(|_| corrupt("code digits"))?,
                    issued_at_s,
                    expires_at_s,
                })
            }
            (None, None, None, None) => None,
            _ => return Err(corrupt("recipient code")),
        };
        let answer = match (
            row.column::<Option<String>>("answer_statement")?,
            row.column::<Option<Vec<u8>>>("answer_signature")?,
            row.column::<Option<Vec<u8>>>("answer_time_stamp")?,
            row.column::<Option<i64>>("answered_at")?,
        ) {
            (Some(statement), Some(signature), Some(time_stamp), Some(answered_at_s)) => {
                Some(RecipientAnswer {
                    statement,
                    signature,
                    time_stamp,
                    answered_at_s,
                })
            }
            (None, None, None, _) => None,
            _ => return Err(corrupt("recipient answer")),
        };
        let told: Option<String> = row.column("told_state")?;
        Ok(RecipientView {
            position: count(row.column("position")?, "recipient position")?,
            email: row.column("email")?,
            phone: row.column("phone")?,
            phone_given: row.column("phone_given")?,
            client_id: row.column("client_id")?,
            contact_salt: row.column("contact_salt")?,
            state: state_of(&row.column::<String>("state")?)?,
            notice_message_id: row.column("notice_message_id")?,
            notice_sent_at_s: row.column("notice_sent_at")?,
            code,
            codes_sent: count(row.column("codes_sent")?, "codes sent")?,
            wrong_tries: count(row.column("wrong_tries")?, "wrong tries")?,
            paused_until_s: row.column("paused_until")?,
            session_expires_at_s: row.column("session_expires_at")?,
            withdrawal_serial: row.column("withdrawal_serial")?,
            withdrawals: count(row.column("withdrawals")?, "withdrawals")?,
            session_withdrawals: count(row.column("session_withdrawals")?, "withdrawals")?,
            withdrawn_session_sha256: row.column("withdrawn_session_sha256")?,
            answer,
            told_state: told.as_deref().map(state_of).transpose()?,
            reminded_at_s: row.column("reminded_at")?,
            updated_at_s: row.column("updated_at")?,
        })
    }
}

/// A delivery with its envelope's digests and the recipients `only` names (all of them
/// when `None`).
async fn complete(tx: &impl Tx, head: Head, only: Option<u32>) -> Result<DeliveryView, Fail> {
    let mut view = head.0;
    let digests: Vec<Digest> = all(tx, &FILE_DIGESTS, args![view.envelope_id]).await?;
    view.file_digests = digests.into_iter().map(|digest| digest.0).collect();
    view.recipients = match only {
        Some(position) => all(tx, &RECIPIENT, args![view.id, position]).await?,
        None => all(tx, &RECIPIENTS, args![view.id]).await?,
    };
    Ok(view)
}

/// A delivery by its public id, with every recipient.
pub(crate) async fn delivery(tx: &impl Tx, public_id: &str) -> Result<Option<DeliveryView>, Fail> {
    match first::<Head>(tx, &HEAD_BY_PUBLIC_ID, args![public_id]).await? {
        Some(head) => Ok(Some(complete(tx, head, None).await?)),
        None => Ok(None),
    }
}

/// A delivery by its row, with the one recipient `position` (or every one).
async fn delivery_by_id(tx: &impl Tx, id: i64, only: Option<u32>) -> Result<DeliveryView, Fail> {
    let head = first::<Head>(tx, &HEAD_BY_ID, args![id])
        .await?
        .ok_or_else(|| broken("a recipient without its delivery"))?;
    complete(tx, head, only).await
}

/// An envelope's deliveries, newest first, up to `limit`, each with every recipient.
pub(crate) async fn envelope_deliveries(
    tx: &impl Tx,
    envelope_id: i64,
    limit: u32,
) -> Result<Vec<DeliveryView>, Fail> {
    let heads: Vec<Head> = all(tx, &OF_ENVELOPE, args![envelope_id, limit]).await?;
    let mut views = Vec::with_capacity(heads.len());
    for head in heads {
        views.push(complete(tx, head, None).await?);
    }
    Ok(views)
}

/// The delivery and the one recipient a link names.
pub(crate) async fn by_link(
    tx: &impl Tx,
    link_sha256: &[u8; 32],
) -> Result<Option<DeliveryView>, Fail> {
    match first::<Named>(tx, &BY_LINK, args![link_sha256]).await? {
        Some(named) => Ok(Some(
            delivery_by_id(tx, named.delivery_id, Some(named.position)).await?,
        )),
        None => Ok(None),
    }
}

/// The delivery and the one recipient whose live session this is, on their link.
pub(crate) async fn by_session(
    tx: &impl Tx,
    link_sha256: &[u8; 32],
    session_sha256: &[u8; 32],
    now_s: i64,
) -> Result<Option<DeliveryView>, Fail> {
    let found = first::<Named>(tx, &BY_SESSION, args![link_sha256, session_sha256, now_s]).await?;
    match found {
        Some(named) => Ok(Some(
            delivery_by_id(tx, named.delivery_id, Some(named.position)).await?,
        )),
        None => Ok(None),
    }
}

/// The recipient a link names, locked, with their delivery.
async fn locked_by_link(
    tx: &impl Tx,
    link_sha256: &[u8; 32],
) -> Result<Option<(DeliveryView, RecipientView)>, Fail> {
    let Some(named) = first::<Named>(tx, &LOCK_BY_LINK, args![link_sha256]).await? else {
        return Ok(None);
    };
    let view = delivery_by_id(tx, named.delivery_id, Some(named.position)).await?;
    let recipient = view
        .recipient(named.position)
        .cloned()
        .ok_or_else(|| broken("a locked recipient vanished"))?;
    Ok(Some((view, recipient)))
}

static ENVELOPE_OF_CLIENT: Sql = Sql::new(
    "SELECT id, state FROM envelopes WHERE public_id = $1 AND client_id = $2 \
     AND deleted_at IS NULL",
);
static INSERT_DELIVERY: Sql = Sql::new(
    "INSERT INTO deliveries (public_id, envelope_id, client_id, deadline_at, hide_sender, \
     created_at, link_base) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
);
static INSERT_RECIPIENT: Sql = Sql::new(
    "INSERT INTO delivery_recipients (delivery_id, position, email, phone, client_id, \
     contact_salt, link_sha256, state, notice_message_id, updated_at, phone_given) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'notified', $8, $9, $10)",
);

/// Sends a notarized envelope of the sender's: the delivery, its recipients and each
/// one's notice queued, and the submission's evidence, in one transaction.
pub(crate) async fn send(tx: &impl Tx, new: &NewDelivery) -> Result<DeliverySendOutcome, Fail> {
    let found = tx
        .row(
            &ENVELOPE_OF_CLIENT,
            args![&new.envelope_public_id, new.client_id],
            |row| Ok((row.column::<i64>("id")?, row.column::<String>("state")?)),
        )
        .await?;
    let Some((envelope_id, state)) = found else {
        return Ok(DeliverySendOutcome::NotFound);
    };
    let state = EnvelopeState::parse(&state).ok_or_else(|| broken("envelope state"))?;
    if state != EnvelopeState::Notarized {
        return Ok(DeliverySendOutcome::NotNotarized(state));
    }
    if new.recipients.is_empty() {
        return Err(broken("a delivery without recipients"));
    }
    let values = args![
        &new.public_id,
        envelope_id,
        new.client_id,
        new.deadline_s,
        new.hide_sender,
        new.now_s,
        &new.link_base
    ];
    let delivery_id: i64 = scalar(tx, &INSERT_DELIVERY, values, "id")
        .await?
        .ok_or_else(|| broken("a delivery has no id"))?;
    for (position, recipient) in new.recipients.iter().enumerate() {
        let message_id = enqueue_message(tx, &recipient.notice, new.now_s).await?;
        let values = args![
            delivery_id,
            position,
            &recipient.email,
            &recipient.phone,
            recipient.client_id,
            &recipient.contact_salt,
            &recipient.link_sha256,
            message_id,
            new.now_s,
            recipient.phone_given
        ];
        tx.execute(&INSERT_RECIPIENT, values).await?;
    }
    let view = delivery_by_id(tx, delivery_id, None).await?;
    record(tx, evidence::delivery_sent(&view, new.now_s)).await?;
    Ok(DeliverySendOutcome::Sent(Box::new(view)))
}

static NOTICE_RECIPIENT: Sql =
    Sql::new("SELECT delivery_id, position FROM delivery_recipients WHERE notice_message_id = $1");
static NOTICE_SENT: Sql = Sql::new(
    "UPDATE delivery_recipients SET notice_sent_at = $3, updated_at = $3 \
     WHERE delivery_id = $1 AND position = $2 AND notice_sent_at IS NULL",
);

/// The notice `message_id` was taken by an e-mail route: if it is a recipient's, their
/// ConsignmentNotification is recorded (once). Runs in the dispatcher's transaction.
pub(crate) async fn notice_submitted(
    tx: &impl Tx,
    message_id: i64,
    now_s: i64,
) -> Result<(), Fail> {
    let Some(named) = first::<Named>(tx, &NOTICE_RECIPIENT, args![message_id]).await? else {
        return Ok(());
    };
    let values = args![named.delivery_id, named.position, now_s];
    if tx.execute(&NOTICE_SENT, values).await? != 1 {
        return Ok(());
    }
    let view = delivery_by_id(tx, named.delivery_id, Some(named.position)).await?;
    let recipient = one(&view)?;
    let event = delivery_event(
        &view,
        recipient,
        "delivery.notified",
        Some("ConsignmentNotification"),
        Object::default(),
        now_s,
    );
    record(tx, event).await?;
    Ok(())
}

/// The notice `message_id` failed for good (or expired unsent): if it is a recipient's
/// who has not come yet, they become `notice_failed`, with its evidence. Runs in the
/// dispatcher's transaction.
pub(crate) async fn notice_failed(tx: &impl Tx, message_id: i64, now_s: i64) -> Result<(), Fail> {
    let Some(named) = first::<Named>(tx, &NOTICE_RECIPIENT, args![message_id]).await? else {
        return Ok(());
    };
    // Read under the recipient's lock, as every step that moves them is.
    let values = args![named.delivery_id, named.position];
    let _locked: Option<Named> = first(tx, &LOCK_BY_POSITION, values).await?;
    let view = delivery_by_id(tx, named.delivery_id, Some(named.position)).await?;
    let recipient = one(&view)?.clone();
    let event = RecipientEvent::NoticeFailed;
    let Ok(to) = delivery::next(recipient.state, event, view.deadline_s, now_s) else {
        return Ok(());
    };
    if to == recipient.state {
        return Ok(());
    }
    moved(tx, &MOVED, &view, &recipient, to, now_s).await?;
    let event = delivery_event(
        &view,
        &recipient,
        "delivery.notice_failed",
        delivery::etsi_event(recipient.state, event),
        Object::default(),
        now_s,
    );
    record(tx, event).await?;
    settle(tx, &view, now_s).await
}

/// The one recipient a view was read with.
fn one(view: &DeliveryView) -> Result<&RecipientView, Fail> {
    match view.recipients.as_slice() {
        [recipient] => Ok(recipient),
        _ => Err(broken("a recipient's view without its recipient")),
    }
}

static MOVED: Sql = Sql::new(
    "UPDATE delivery_recipients SET state = $3, updated_at = $4 \
     WHERE delivery_id = $1 AND position = $2 AND state = $5",
);

/// Moves a recipient from their state to `to` by `statement` (`MOVED`, or `PAUSE_ENDED`
/// which also clears the pause), on condition they are still in it.
async fn moved(
    tx: &impl Tx,
    statement: &Sql,
    view: &DeliveryView,
    recipient: &RecipientView,
    to: RecipientState,
    now_s: i64,
) -> Result<(), Fail> {
    let values = args![
        view.id,
        recipient.position,
        to.as_str(),
        now_s,
        recipient.state.as_str()
    ];
    match tx.execute(statement, values).await? {
        1 => Ok(()),
        _ => Err(broken("recipient changed under its lock")),
    }
}

static UNSETTLED_LEFT: Sql = Sql::new(
    "SELECT count(*) AS n FROM delivery_recipients WHERE delivery_id = $1 \
     AND state NOT IN ('notice_failed', 'accepted', 'rejected', 'expired')",
);
static SETTLED: Sql =
    Sql::new("UPDATE deliveries SET settled_at = $2 WHERE id = $1 AND settled_at IS NULL");

/// Marks the delivery settled once no recipient of it can change any more.
async fn settle(tx: &impl Tx, view: &DeliveryView, now_s: i64) -> Result<(), Fail> {
    let left: i64 = scalar(tx, &UNSETTLED_LEFT, args![view.id], "n")
        .await?
        .unwrap_or(0);
    if left == 0 {
        tx.execute(&SETTLED, args![view.id, now_s]).await?;
    }
    Ok(())
}

/// Where a recipient stands before a code is sent or taken: over, past the deadline, or
/// paused (in any state: a recipient who opened the delivery and then has wrong codes
/// typed on their link is paused as one who never did, without losing where they
/// were); a pause that is over ends here (its event applied to a `paused` recipient).
async fn pause_over(
    tx: &impl Tx,
    view: &DeliveryView,
    recipient: &mut RecipientView,
    now_s: i64,
) -> Result<Result<(), RecipientRefusal>, Fail> {
    if recipient.state.is_final() {
        return Ok(Err(RecipientRefusal::Over));
    }
    if now_s >= view.deadline_s {
        return Ok(Err(RecipientRefusal::DeadlinePassed));
    }
    let Some(until) = recipient.paused_until_s else {
        return Ok(Ok(()));
    };
    if until > now_s {
        return Ok(Err(RecipientRefusal::Paused));
    }
    let to = if recipient.state == RecipientState::Paused {
        match delivery::next(
            recipient.state,
            RecipientEvent::PauseOver,
            view.deadline_s,
            now_s,
        ) {
            Ok(to) => to,
            Err(refusal) => return Ok(Err(refusal)),
        }
    } else {
        recipient.state
    };
    moved(tx, &PAUSE_ENDED, view, recipient, to, now_s).await?;
    recipient.state = to;
    recipient.wrong_tries = 0;
    recipient.paused_until_s = None;
    Ok(Ok(()))
}

static PAUSE_ENDED: Sql = Sql::new(
    "UPDATE delivery_recipients SET state = $3, wrong_tries = 0, paused_until = NULL, \
     told_state = NULL, updated_at = $4 \
     WHERE delivery_id = $1 AND position = $2 AND state = $5 AND paused_until IS NOT NULL",
);
static CODE_SET: Sql = Sql::new(
    "UPDATE delivery_recipients SET code_nonce = $3, code_digits = $4, code_issued_at = $5, \
     code_expires_at = $6, codes_sent = codes_sent + 1, updated_at = $7 \
     WHERE delivery_id = $1 AND position = $2",
);

/// Sends a recipient a new code (the previous one, if any, is void), if their phone's
/// budget allows it.
pub(crate) async fn send_code(
    tx: &impl Tx,
    send: &RecipientCodeSend,
) -> Result<RecipientCodeOutcome, Fail> {
    let Some((view, mut recipient)) = locked_by_link(tx, &send.link_sha256).await? else {
        return Ok(RecipientCodeOutcome::NotFound);
    };
    let now_s = send.now_s;
    if let Err(refusal) = pause_over(tx, &view, &mut recipient, now_s).await? {
        return Ok(RecipientCodeOutcome::Refused(refusal));
    }
    if recipient.codes_sent >= delivery::CODES_MAX {
        return Ok(RecipientCodeOutcome::Refused(
            RecipientRefusal::TooManyCodes,
        ));
    }
    if send.message.address != recipient.phone {
        return Err(broken("a recipient's code addressed to another phone"));
    }
    let kind = MessageKind::SignatureSeal;
    let address = &send.message.address;
    if let Err(too_many) = budget_allows(tx, address, kind, None, &send.budget, now_s).await? {
        return Ok(RecipientCodeOutcome::Throttled(too_many));
    }
    let code = &send.code;
    let values = args![
        view.id,
        recipient.position,
        &code.nonce,
        code.digits,
        code.issued_at_s,
        code.expires_at_s,
        now_s
    ];
    tx.execute(&CODE_SET, values).await?;
    enqueue(tx, &send.message, kind, None, now_s).await?;
    let event = delivery_event(
        &view,
        &recipient,
        "delivery.code_sent",
        None,
        evidence::code_fields(code),
        now_s,
    );
    record(tx, event).await?;
    let view = delivery_by_id(tx, view.id, Some(recipient.position)).await?;
    Ok(RecipientCodeOutcome::Sent(Box::new(view)))
}

static CODE_RIGHT: Sql = Sql::new(
    "UPDATE delivery_recipients SET state = $3, code_nonce = NULL, code_digits = NULL, \
     code_issued_at = NULL, code_expires_at = NULL, wrong_tries = 0, session_sha256 = $4, \
     session_expires_at = $5, session_withdrawals = 0, updated_at = $6 \
     WHERE delivery_id = $1 AND position = $2",
);
static CODE_WRONG: Sql = Sql::new(
    "UPDATE delivery_recipients SET wrong_tries = wrong_tries + 1, updated_at = $3 \
     WHERE delivery_id = $1 AND position = $2",
);
/// The last wrong code: the code is void, the session (if any) ends, and nothing is
/// taken until `paused_until`; a recipient who had not opened the delivery becomes
/// `paused`, one who had stays where they were.
static CODE_PAUSED: Sql = Sql::new(
    "UPDATE delivery_recipients SET state = $6, wrong_tries = wrong_tries + 1, \
     paused_until = $3, code_nonce = NULL, code_digits = NULL, code_issued_at = NULL, \
     code_expires_at = NULL, session_sha256 = NULL, session_expires_at = NULL, \
     updated_at = $4 WHERE delivery_id = $1 AND position = $2 AND state = $5",
);

/// A code typed on a recipient's page: the right one authenticates them and opens
/// their session (the code is used up); a wrong one counts, and the last wrong one
/// pauses them and voids the code.
pub(crate) async fn type_code(
    tx: &impl Tx,
    typed: &TypedRecipientCode,
) -> Result<TypedCodeOutcome, Fail> {
    let Some((view, mut recipient)) = locked_by_link(tx, &typed.link_sha256).await? else {
        return Ok(TypedCodeOutcome::NotFound);
    };
    let now_s = typed.now_s;
    if let Err(refusal) = pause_over(tx, &view, &mut recipient, now_s).await? {
        return Ok(TypedCodeOutcome::Refused(refusal));
    }
    let live = recipient
        .code
        .as_ref()
        .is_some_and(|code| code.issued_at_s <= now_s && now_s < code.expires_at_s);
    if !live {
        return Ok(TypedCodeOutcome::NoCode);
    }
    if (typed.check)(&view, &recipient) {
        let to = delivery::next(
            recipient.state,
            RecipientEvent::CodeRight,
            view.deadline_s,
            now_s,
        )
        .map_err(|_| broken("a right code refused after its checks"))?;
        let values = args![
            view.id,
            recipient.position,
            to.as_str(),
            &typed.session_sha256,
            typed.session_expires_at_s,
            now_s
        ];
        tx.execute(&CODE_RIGHT, values).await?;
        let event = delivery_event(
            &view,
            &recipient,
            "delivery.authenticated",
            None,
            Object::default(),
            now_s,
        );
        record(tx, event).await?;
        let view = delivery_by_id(tx, view.id, Some(recipient.position)).await?;
        return Ok(TypedCodeOutcome::Right(Box::new(view)));
    }
    let tries = recipient.wrong_tries + 1;
    let pause = tries >= typed.tries_max;
    let to = delivery::next(
        recipient.state,
        RecipientEvent::CodeWrong { pause },
        view.deadline_s,
        now_s,
    )
    .map_err(|_| broken("a wrong code refused after its checks"))?;
    let mut extra = Object::default();
    extra.insert("wrong_tries", tries);
    if pause {
        let until_s = now_s + typed.pause_s;
        let values = args![
            view.id,
            recipient.position,
            until_s,
            now_s,
            recipient.state.as_str(),
            to.as_str()
        ];
        if tx.execute(&CODE_PAUSED, values).await? != 1 {
            return Err(broken("recipient changed under its lock"));
        }
        extra.insert("paused_until", evidence::rfc3339(until_s));
        let event = delivery_event(&view, &recipient, "delivery.paused", None, extra, now_s);
        record(tx, event).await?;
        return Ok(TypedCodeOutcome::Paused { until_s });
    }
    tx.execute(&CODE_WRONG, args![view.id, recipient.position, now_s])
        .await?;
    let event = delivery_event(&view, &recipient, "delivery.code_wrong", None, extra, now_s);
    record(tx, event).await?;
    Ok(TypedCodeOutcome::Wrong {
        tries_left: typed.tries_max.saturating_sub(tries),
    })
}

static SESSION_OF: Sql = Sql::new(
    "SELECT 1 AS ok FROM delivery_recipients WHERE delivery_id = $1 AND position = $2 \
     AND session_sha256 = $3 AND session_expires_at > $4",
);
static WITHDRAWN: Sql = Sql::new(
    "UPDATE delivery_recipients SET state = $3, withdrawal_serial = $4, \
     withdrawals = withdrawals + 1, session_withdrawals = session_withdrawals + 1, \
     updated_at = $5, withdrawn_session_sha256 = $7 \
     WHERE delivery_id = $1 AND position = $2 AND state = $6",
);

/// Whether `session_sha256` is the recipient's live session.
async fn in_session(
    tx: &impl Tx,
    view: &DeliveryView,
    recipient: &RecipientView,
    session_sha256: &[u8; 32],
    now_s: i64,
) -> Result<bool, Fail> {
    let values = args![view.id, recipient.position, session_sha256, now_s];
    Ok(scalar::<i64>(tx, &SESSION_OF, values, "ok")
        .await?
        .is_some())
}

/// RFC 5280's reason "superseded": a recipient's earlier withdrawal certificate, when a
/// later one is made.
const SUPERSEDED: u8 = 4;

/// The files handed over to an authenticated recipient: the withdrawal certificate made
/// for their browser's key is recorded (the previous one revoked, superseded), and the
/// hand-over is evidence (ContentHandover the first time, ContentAccessTracking after).
pub(crate) async fn withdraw(
    tx: &impl Tx,
    withdrawal: &RecipientWithdrawal,
) -> Result<WithdrawalOutcome, Fail> {
    let Some((view, recipient)) = locked_by_link(tx, &withdrawal.link_sha256).await? else {
        return Ok(WithdrawalOutcome::NotFound);
    };
    let now_s = withdrawal.now_s;
    if !in_session(tx, &view, &recipient, &withdrawal.session_sha256, now_s).await? {
        return Ok(WithdrawalOutcome::NotFound);
    }
    let event = RecipientEvent::Withdrawn;
    let to = match delivery::next(recipient.state, event, view.deadline_s, now_s) {
        Ok(to) => to,
        Err(refusal) => return Ok(WithdrawalOutcome::Refused(refusal)),
    };
    if recipient.session_withdrawals >= delivery::SESSION_WITHDRAWALS_MAX {
        return Ok(WithdrawalOutcome::Refused(
            RecipientRefusal::TooManyWithdrawals,
        ));
    }
    let certificate = &withdrawal.certificate;
    if certificate.kind != CertificateKind::Station || certificate.key_label.is_some() {
        return Err(broken(
            "a withdrawal certificate is for a key sceau does not hold",
        ));
    }
    if let Some(previous) = &recipient.withdrawal_serial {
        certificates::revoke(tx, previous, SUPERSEDED, None, now_s).await?;
    }
    certificates::insert(tx, certificate, None).await?;
    let values = args![
        view.id,
        recipient.position,
        to.as_str(),
        &certificate.serial,
        now_s,
        recipient.state.as_str(),
        &withdrawal.session_sha256
    ];
    if tx.execute(&WITHDRAWN, values).await? != 1 {
        return Err(broken("recipient changed under its lock"));
    }
    let mut extra = Object::default();
    extra.insert("withdrawal_certificate", certificate.serial.as_str());
    extra.insert("withdrawal", recipient.withdrawals + 1);
    let record_event = delivery_event(
        &view,
        &recipient,
        "delivery.withdrawn",
        delivery::etsi_event(recipient.state, event),
        extra,
        now_s,
    );
    record(tx, record_event).await?;
    let view = delivery_by_id(tx, view.id, Some(recipient.position)).await?;
    Ok(WithdrawalOutcome::Withdrawn(Box::new(view)))
}

static ANSWERED: Sql = Sql::new(
    "UPDATE delivery_recipients SET state = $3, answer_statement = $4, \
     answer_signature = $5, answer_time_stamp = $6, answered_at = $7, \
     session_sha256 = NULL, session_expires_at = NULL, updated_at = $7 \
     WHERE delivery_id = $1 AND position = $2 AND state = 'withdrawn'",
);

/// A recipient's answer, its signature checked by the caller: an acceptance needs every
/// digest the browser computed to be the envelope's; the withdrawal certificate is used
/// (and revoked); the answer, its signature and time-stamp are kept, with its evidence
/// (ConsignmentAcceptance or ConsignmentRejection, naming the files that differ).
pub(crate) async fn answer(
    tx: &impl Tx,
    sent: &RecipientAnswerSent,
) -> Result<AnswerOutcome, Fail> {
    let Some((view, recipient)) = locked_by_link(tx, &sent.link_sha256).await? else {
        return Ok(AnswerOutcome::NotFound);
    };
    let now_s = sent.now_s;
    if !in_session(tx, &view, &recipient, &sent.session_sha256, now_s).await? {
        return Ok(AnswerOutcome::NotFound);
    }
    let event = if sent.accept {
        RecipientEvent::Accepted
    } else {
        RecipientEvent::Rejected
    };
    let to = match delivery::next(recipient.state, event, view.deadline_s, now_s) {
        Ok(to) => to,
        Err(refusal) => return Ok(AnswerOutcome::Refused(refusal)),
    };
    let differ = evidence::differing(&view, &sent.digests);
    if sent.accept && (!differ.is_empty() || sent.digests.len() != view.file_digests.len()) {
        return Ok(AnswerOutcome::DigestsDiffer(differ));
    }
    if recipient.withdrawal_serial.as_deref() != Some(sent.serial.as_str()) {
        return Ok(AnswerOutcome::CertificateUnusable);
    }
    let used = certificates::use_once(tx, &sent.serial, CertificateKind::Station, now_s).await?;
    if !matches!(used, UseOutcome::Granted(_)) {
        return Ok(AnswerOutcome::CertificateUnusable);
    }
    let answer = &sent.answer;
    let values = args![
        view.id,
        recipient.position,
        to.as_str(),
        &answer.statement,
        &answer.signature,
        &answer.time_stamp,
        now_s
    ];
    if tx.execute(&ANSWERED, values).await? != 1 {
        return Err(broken("recipient changed under its lock"));
    }
    let kind = if sent.accept {
        "delivery.accepted"
    } else {
        "delivery.rejected"
    };
    let extra = evidence::answer_fields(&view, &sent.serial, &sent.digests, answer);
    let etsi = delivery::etsi_event(recipient.state, event);
    record(
        tx,
        delivery_event(&view, &recipient, kind, etsi, extra, now_s),
    )
    .await?;
    settle(tx, &view, now_s).await?;
    let view = delivery_by_id(tx, view.id, Some(recipient.position)).await?;
    Ok(AnswerOutcome::Answered(Box::new(view)))
}

static DUE: Sql = Sql::new(
    "SELECT id FROM deliveries WHERE settled_at IS NULL AND deadline_at <= $1 \
     ORDER BY id LIMIT $2",
);
static LOCK_DELIVERY: Sql = Sql::each(
    "SELECT id FROM deliveries WHERE id = $1 AND settled_at IS NULL FOR UPDATE",
    "SELECT id FROM deliveries WHERE id = ?1 AND settled_at IS NULL",
);
static LOCK_RECIPIENTS: Sql = Sql::each(
    "SELECT position FROM delivery_recipients WHERE delivery_id = $1 ORDER BY position \
     FOR UPDATE",
    "SELECT position FROM delivery_recipients WHERE delivery_id = ?1",
);
static EXPIRED: Sql = Sql::new(
    "UPDATE delivery_recipients SET state = 'expired', code_nonce = NULL, code_digits = NULL, \
     code_issued_at = NULL, code_expires_at = NULL, session_sha256 = NULL, \
     session_expires_at = NULL, updated_at = $3 \
     WHERE delivery_id = $1 AND position = $2 AND state = $4",
);

/// Deliveries whose deadline passed by `now_s` (up to `limit`): every recipient who has
/// not answered expires (AcceptanceRejectionExpiry) and the delivery is settled; how
/// many recipients expired.
pub(crate) async fn expire(tx: &impl Tx, now_s: i64, limit: u32) -> Result<u64, Fail> {
    let due: Vec<i64> = tx
        .rows(&DUE, args![now_s, limit], |row| row.column("id"))
        .await?;
    let mut expired = 0;
    for delivery_id in due {
        // The recipients first, then the delivery: the order an answer takes them in (its
        // recipient's row, then the delivery's as it settles), so that the two never wait
        // on each other in a circle.
        let _locked: Vec<i64> = tx
            .rows(&LOCK_RECIPIENTS, args![delivery_id], |row| {
                row.column("position")
            })
            .await?;
        if scalar::<i64>(tx, &LOCK_DELIVERY, args![delivery_id], "id")
            .await?
            .is_none()
        {
            continue;
        }
        let view = delivery_by_id(tx, delivery_id, None).await?;
        for recipient in &view.recipients {
            let event = RecipientEvent::DeadlinePassed;
            let Ok(to) = delivery::next(recipient.state, event, view.deadline_s, now_s) else {
                continue;
            };
            let values = args![view.id, recipient.position, now_s, recipient.state.as_str()];
            if tx.execute(&EXPIRED, values).await? != 1 {
                return Err(broken("recipient changed under its lock"));
            }
            debug_assert_eq!(to, RecipientState::Expired);
            let etsi = delivery::etsi_event(recipient.state, event);
            let event = delivery_event(
                &view,
                recipient,
                "delivery.expired",
                etsi,
                Object::default(),
                now_s,
            );
            record(tx, event).await?;
            expired += 1;
        }
        tx.execute(&SETTLED, args![view.id, now_s]).await?;
    }
    Ok(expired)
}

/// (The partial index `delivery_recipients_to_tell` has these conditions, as each
/// database writes them.)
static TO_TELL: Sql = Sql::each(
    "SELECT delivery_id, position FROM delivery_recipients \
     WHERE told_state IS DISTINCT FROM state \
     AND state IN ('notice_failed', 'paused', 'accepted', 'rejected', 'expired') \
     ORDER BY delivery_id, position LIMIT $1",
    "SELECT delivery_id, position FROM delivery_recipients \
     WHERE told_state IS NOT state \
     AND state IN ('notice_failed', 'paused', 'accepted', 'rejected', 'expired') \
     ORDER BY delivery_id, position LIMIT ?1",
);
/// Marks a recipient told of `$3`, if no one marked them since they were read (the one
/// whose update changes the row queues the notice: a sweep and an answer's own telling,
/// or two instances, at once tell the sender once).
static TOLD: Sql = Sql::each(
    "UPDATE delivery_recipients SET told_state = state \
     WHERE delivery_id = $1 AND position = $2 AND state = $3 \
     AND told_state IS DISTINCT FROM state",
    "UPDATE delivery_recipients SET told_state = state \
     WHERE delivery_id = ?1 AND position = ?2 AND state = ?3 AND told_state IS NOT state",
);

/// Recipients whose sender was not told of their latest state (a failure, a pause, an
/// answer, an expiry), up to `limit`: each gets the notice `notice` makes (queued) and is
/// marked told, in one transaction; how many.
pub(crate) async fn tell_senders(
    tx: &impl Tx,
    notice: &SenderNotice,
    limit: u32,
    now_s: i64,
) -> Result<u64, Fail> {
    let due: Vec<Named> = all(tx, &TO_TELL, args![limit]).await?;
    let mut told = 0;
    for named in due {
        let view = delivery_by_id(tx, named.delivery_id, Some(named.position)).await?;
        let recipient = one(&view)?;
        let values = args![view.id, recipient.position, recipient.state.as_str()];
        if tx.execute(&TOLD, values).await? != 1 {
            continue;
        }
        if let Some(message) = notice(&view, recipient) {
            enqueue_message(tx, &message, now_s).await?;
        }
        told += 1;
    }
    Ok(told)
}

static TO_REMIND: Sql = Sql::new(
    "SELECT r.delivery_id, r.position FROM deliveries d \
     JOIN delivery_recipients r ON r.delivery_id = d.id \
     WHERE d.settled_at IS NULL AND d.deadline_at > $1 AND d.deadline_at <= $2 \
     AND d.created_at <= $4 AND r.reminded_at IS NULL \
     AND r.state IN ('notified', 'paused', 'authenticated', 'withdrawn') \
     ORDER BY d.deadline_at, r.delivery_id, r.position LIMIT $3",
);
static REMINDED: Sql = Sql::new(
    "UPDATE delivery_recipients SET reminded_at = $3 \
     WHERE delivery_id = $1 AND position = $2 AND reminded_at IS NULL \
     AND state IN ('notified', 'paused', 'authenticated', 'withdrawn')",
);

/// Recipients who have not answered, of deliveries whose deadline is within `ahead_s`
/// of `now_s`, not yet reminded (up to `limit`): each is queued the reminder `reminder`
/// makes and marked reminded, in one transaction; how many.
pub(crate) async fn remind(
    tx: &impl Tx,
    reminder: &SenderNotice,
    ahead_s: i64,
    limit: u32,
    now_s: i64,
) -> Result<u64, Fail> {
    // A delivery sent less than a day ago is not reminded (a short deadline would have
    // the reminder follow the notice at once).
    let values = args![now_s, now_s + ahead_s, limit, now_s - 86_400];
    let due: Vec<Named> = all(tx, &TO_REMIND, values).await?;
    let mut reminded = 0;
    for named in due {
        let view = delivery_by_id(tx, named.delivery_id, Some(named.position)).await?;
        let recipient = one(&view)?;
        let values = args![view.id, recipient.position, now_s];
        if tx.execute(&REMINDED, values).await? != 1 {
            continue;
        }
        if let Some(message) = reminder(&view, recipient) {
            enqueue_message(tx, &message, now_s).await?;
        }
        reminded += 1;
    }
    Ok(reminded)
}
