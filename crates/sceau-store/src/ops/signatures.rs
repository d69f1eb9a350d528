//! Requests for signatures in a client's name: created with their seal's message, sealed
//! by the right seal typed in the client's session, then signed.

use crate::StoreError;
use crate::evidence;
use crate::model::*;
use crate::ops::clients::{count_client_failure, forget_client_failures};
use crate::ops::outbox::{budget_allows, enqueue};
use crate::ops::reads::{client, session_client};
use crate::shared::{signature_facts, signature_unwritten};
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, all, args, broken, first, record};
use sceau_domain::reach::MessageKind;
use sceau_domain::signature::{self, SealTyped, SignaturePlan};

macro_rules! select {
    () => {
        "SELECT id, public_id, client_id, document_name, content_digest, state, seal_nonce, \
         seal_digits, seal_issued_at, seal_expires_at, wrong_tries, signature, signed_at, \
         created_at, certificate_serial FROM signature_requests "
    };
}

impl Decode for SignatureRequestView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let state: String = row.column("state")?;
        Ok(SignatureRequestView {
            id: row.column("id")?,
            public_id: row.column("public_id")?,
            client_id: row.column("client_id")?,
            document_name: row.column("document_name")?,
            content_digest: row.column("content_digest")?,
            state: SignatureState::parse(&state).ok_or_else(|| corrupt("signature state"))?,
            seal: StoredSeal {
                nonce: row.column("seal_nonce")?,
                digits: row.column("seal_digits")?,
                issued_at_s: row.column("seal_issued_at")?,
                expires_at_s: row.column("seal_expires_at")?,
            },
            wrong_tries: row.column("wrong_tries")?,
            signature: row.column("signature")?,
            signed_at_s: row.column("signed_at")?,
            created_at_s: row.column("created_at")?,
            certificate_serial: row.column("certificate_serial")?,
        })
    }
}

static BY_PUBLIC_ID: Sql = Sql::new(concat!(select!(), "WHERE public_id = $1"));

/// A signature request by its public id.
pub(crate) async fn request(
    tx: &impl Tx,
    public_id: &str,
) -> Result<Option<SignatureRequestView>, Fail> {
    first(tx, &BY_PUBLIC_ID, args![public_id]).await
}

static OF_CLIENT: Sql = Sql::new(concat!(
    select!(),
    "WHERE client_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
));

/// A client's latest signature requests, newest first, up to `limit`.
pub(crate) async fn client_requests(
    tx: &impl Tx,
    client_id: i64,
    limit: u32,
) -> Result<Vec<SignatureRequestView>, Fail> {
    all(tx, &OF_CLIENT, args![client_id, limit]).await
}

static INSERT: Sql = Sql::new(
    "INSERT INTO signature_requests (public_id, client_id, document_name, content_digest, \
     state, seal_nonce, seal_digits, seal_issued_at, seal_expires_at, created_at, \
     certificate_serial) VALUES ($1, $2, $3, $4, $11, $5, $6, $7, $8, $9, $10)",
);

/// Creates a request awaiting its seal and queues the seal's message, if the client's
/// message budget allows one more (on PostgreSQL, under the client's account lock).
pub(crate) async fn create(
    tx: &impl Tx,
    new: &NewSignatureRequest,
) -> Result<SignatureRequestOutcome, Fail> {
    let (address, kind, now_s) = (&new.message.address, MessageKind::SignatureSeal, new.now_s);
    if let Err(too_many) = budget_allows(tx, address, kind, None, &new.budget, now_s).await? {
        return Ok(SignatureRequestOutcome::Throttled(too_many));
    }
    let values = args![
        &new.public_id,
        new.client_id,
        &new.document_name,
        &new.content_digest,
        &new.seal.nonce,
        new.seal.digits,
        new.seal.issued_at_s,
        new.seal.expires_at_s,
        now_s,
        &new.certificate_serial,
        SignatureState::AwaitingSeal.as_str()
    ];
    tx.execute(&INSERT, values).await?;
    enqueue(tx, &new.message, kind, None, now_s).await?;
    let view = request(tx, &new.public_id)
        .await?
        .ok_or_else(|| broken("signature request not found"))?;
    record(tx, evidence::signature_seal_sent(&view)).await?;
    Ok(SignatureRequestOutcome::Created(Box::new(view)))
}

static SEAL_JUDGED: Sql = Sql::new(
    "UPDATE signature_requests SET wrong_tries = wrong_tries + $2, state = $3 \
     WHERE id = $1 AND state = $4",
);

/// A typed seal: [`signature::on_typed_seal`] decides, this applies its plan (on
/// PostgreSQL, under the request's client's account lock).
pub(crate) async fn type_seal(
    tx: &impl Tx,
    typed: &TypedSignatureSeal,
) -> Result<SignatureSealOutcome, Fail> {
    let now_s = typed.now_s;
    let session_client = session_client(tx, &typed.session_token_hash, now_s).await?;
    let view = request(tx, &typed.public_id).await?;
    let holder = match session_client {
        Some(client_id) => client(tx, client_id).await?,
        None => None,
    };
    let facts = view.as_ref().map(signature_facts);
    let plan = signature::on_typed_seal(&SealTyped {
        request: facts.as_ref(),
        session_client,
        client_may_pay: holder.is_some_and(|holder| !holder.stopped(now_s)),
        matched: view.as_ref().is_some_and(|view| (typed.check)(view)),
        now_s,
    });
    let (Some((tries_added, state)), Some(view)) = (plan.change(), &view) else {
        return Ok(signature_unwritten(plan, view)?);
    };
    let awaiting = SignatureState::AwaitingSeal.as_str();
    let values = args![view.id, tries_added, state.as_str(), awaiting];
    if tx.execute(&SEAL_JUDGED, values).await? != 1 {
        return Err(broken("signature request changed under its writer"));
    }
    record(
        tx,
        evidence::signature_seal_judged(view, plan.tries_left(), now_s),
    )
    .await?;
    let client_id = view.client_id;
    let reread = async || {
        request(tx, &view.public_id)
            .await?
            .ok_or_else(|| broken("signature request vanished"))
    };
    Ok(match plan {
        SignaturePlan::Wrong { tries_left } => SignatureSealOutcome::Wrong {
            tries_left,
            paused: count_client_failure(tx, client_id, now_s).await?,
        },
        SignaturePlan::Seal => {
            forget_client_failures(tx, client_id).await?;
            SignatureSealOutcome::Sealed(reread().await?)
        }
        _ => {
            let paused = count_client_failure(tx, client_id, now_s).await?;
            SignatureSealOutcome::Failed {
                view: reread().await?,
                paused,
            }
        }
    })
}

/// `$1`: the public id, `$2` the new state, `$3` the state it must be in, `$4` the
/// signature if any, `$5` the time.
static SIGNED: Sql = Sql::new(
    "UPDATE signature_requests SET state = $2, signature = COALESCE($4, signature), \
     signed_at = COALESCE($5, signed_at) WHERE public_id = $1 AND state = $3",
);

/// Moves a sealed request on after its signing (see [`signature::after_signing`]):
/// signed with `signature` at `now_s`, or failed without one. False if it was not sealed.
pub(crate) async fn after_signing(
    tx: &impl Tx,
    public_id: &str,
    signature: Option<&[u8]>,
    now_s: Option<i64>,
) -> Result<bool, Fail> {
    let (from, to) = signature::after_signing(signature.is_some());
    let values = args![public_id, to.as_str(), from.as_str(), signature, now_s];
    Ok(tx.execute(&SIGNED, values).await? == 1)
}
