//! Requests for signatures in a client's name: created with their seal's message, sealed
//! by the right seal typed in the client's session, then signed.

use super::checkout::count_client_failure;
use super::ops::{budget_allows, enqueue};
use super::read::{client_where, corrupt, session_client};
use crate::StoreError;
use crate::evidence;
use crate::model::*;
use crate::shared::{
    SIGNATURE_SEAL_UPDATE_SQLITE, SIGNED_UPDATE_SQLITE, signature_facts, signature_unwritten,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sceau_domain::reach::MessageKind;
use sceau_domain::signature::{self, SealTyped, SignaturePlan};

const COLUMNS: &str = "id, public_id, client_id, document_name, content_digest, state, \
     seal_nonce, seal_digits, seal_issued_at, seal_expires_at, wrong_tries, signature, \
     signed_at, created_at, certificate_serial";

fn request_row(row: &Row<'_>) -> rusqlite::Result<SignatureRequestView> {
    let digest: Vec<u8> = row.get(4)?;
    let state: String = row.get(5)?;
    let nonce: Vec<u8> = row.get(6)?;
    Ok(SignatureRequestView {
        id: row.get(0)?,
        public_id: row.get(1)?,
        client_id: row.get(2)?,
        document_name: row.get(3)?,
        content_digest: digest
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("content_digest"))?,
        state: SignatureState::parse(&state).ok_or_else(|| corrupt("signature state"))?,
        seal: StoredSeal {
            nonce: nonce
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("seal_nonce"))?,
            digits: row.get(7)?,
            issued_at_s: row.get(8)?,
            expires_at_s: row.get(9)?,
        },
        wrong_tries: row.get(10)?,
        signature: row.get(11)?,
        signed_at_s: row.get(12)?,
        created_at_s: row.get(13)?,
        certificate_serial: row.get(14)?,
    })
}

pub(super) fn request(
    connection: &Connection,
    public_id: &str,
) -> Result<Option<SignatureRequestView>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM signature_requests WHERE public_id = ?1"
        ))?
        .query_row([public_id], request_row)
        .optional()?)
}

pub(super) fn client_requests(
    connection: &Connection,
    client_id: i64,
    limit: u32,
) -> Result<Vec<SignatureRequestView>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM signature_requests WHERE client_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))?
        .query_map(params![client_id, limit], request_row)?
        .collect::<Result<_, _>>()?)
}

pub(super) fn create(
    connection: &Connection,
    new: &NewSignatureRequest,
) -> Result<SignatureRequestOutcome, StoreError> {
    let allowed = budget_allows(
        connection,
        &new.message.address,
        MessageKind::SignatureSeal,
        None,
        &new.budget,
        new.now_s,
    )?;
    if let Err(too_many) = allowed {
        return Ok(SignatureRequestOutcome::Throttled(too_many));
    }
    connection
        .prepare_cached(
            "INSERT INTO signature_requests (public_id, client_id, document_name, content_digest, \
             state, seal_nonce, seal_digits, seal_issued_at, seal_expires_at, created_at, \
             certificate_serial) \
             VALUES (?1, ?2, ?3, ?4, ?11, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            new.public_id,
            new.client_id,
            new.document_name,
            &new.content_digest[..],
            &new.seal.nonce[..],
            new.seal.digits,
            new.seal.issued_at_s,
            new.seal.expires_at_s,
            new.now_s,
            new.certificate_serial,
            SignatureState::AwaitingSeal.as_str()
        ])?;
    enqueue(
        connection,
        &new.message,
        MessageKind::SignatureSeal,
        None,
        new.now_s,
    )?;
    let view = request(connection, &new.public_id)?
        .ok_or_else(|| StoreError::Corrupt("signature request not found".into()))?;
    super::evidence::write(connection, evidence::signature_seal_sent(&view))?;
    Ok(SignatureRequestOutcome::Created(Box::new(view)))
}

/// A typed seal: [`signature::on_typed_seal`] decides, this applies its plan.
pub(super) fn type_seal(
    connection: &Connection,
    typed: &TypedSignatureSeal,
) -> Result<SignatureSealOutcome, StoreError> {
    let session_client = session_client(connection, &typed.session_token_hash, typed.now_s)?;
    let view = request(connection, &typed.public_id)?;
    let client = match session_client {
        Some(client_id) => client_where(connection, "id = ?1", &client_id)?,
        None => None,
    };
    let facts = view.as_ref().map(signature_facts);
    let plan = signature::on_typed_seal(&SealTyped {
        request: facts.as_ref(),
        session_client,
        client_may_pay: client.is_some_and(|client| !client.stopped(typed.now_s)),
        matched: view.as_ref().is_some_and(|view| (typed.check)(view)),
        now_s: typed.now_s,
    });
    let (Some((tries_added, state)), Some(view)) = (plan.change(), &view) else {
        return signature_unwritten(plan, view);
    };
    let changed = connection
        .prepare_cached(SIGNATURE_SEAL_UPDATE_SQLITE)?
        .execute(params![
            view.id,
            tries_added,
            state.as_str(),
            SignatureState::AwaitingSeal.as_str()
        ])?;
    if changed != 1 {
        return Err(StoreError::Corrupt(
            "signature request changed under its writer".into(),
        ));
    }
    let judged = evidence::signature_seal_judged(view, plan.tries_left(), typed.now_s);
    super::evidence::write(connection, judged)?;
    let client_id = view.client_id;
    Ok(match plan {
        SignaturePlan::Wrong { tries_left } => SignatureSealOutcome::Wrong {
            tries_left,
            paused: count_client_failure(connection, client_id, typed.now_s)?,
        },
        SignaturePlan::Seal => {
            connection
                .prepare_cached(
                    "UPDATE clients SET consecutive_failures = 0 WHERE id = ?1 AND consecutive_failures <> 0",
                )?
                .execute([client_id])?;
            SignatureSealOutcome::Sealed(reread(connection, view)?)
        }
        _ => {
            let paused = count_client_failure(connection, client_id, typed.now_s)?;
            SignatureSealOutcome::Failed {
                view: reread(connection, view)?,
                paused,
            }
        }
    })
}

fn reread(
    connection: &Connection,
    view: &SignatureRequestView,
) -> Result<SignatureRequestView, StoreError> {
    request(connection, &view.public_id)?
        .ok_or_else(|| StoreError::Corrupt("signature request vanished".into()))
}

/// Moves a sealed request on after its signing (see [`signature::after_signing`]).
fn after_signing(
    connection: &Connection,
    public_id: &str,
    signature: Option<&[u8]>,
    now_s: Option<i64>,
) -> Result<bool, StoreError> {
    let (from, to) = signature::after_signing(signature.is_some());
    let changed = connection
        .prepare_cached(SIGNED_UPDATE_SQLITE)?
        .execute(params![
            public_id,
            to.as_str(),
            from.as_str(),
            signature,
            now_s
        ])?;
    Ok(changed == 1)
}

pub(super) fn record_signature(
    connection: &Connection,
    public_id: &str,
    signature: &[u8],
    now_s: i64,
) -> Result<bool, StoreError> {
    after_signing(connection, public_id, Some(signature), Some(now_s))
}

pub(super) fn fail_sealed(connection: &Connection, public_id: &str) -> Result<bool, StoreError> {
    after_signing(connection, public_id, None, None)
}

use super::SqliteStore;
use crate::capabilities::Signatures;
use async_trait::async_trait;

#[async_trait]
impl Signatures for SqliteStore {
    async fn create_signature_request(
        &self,
        request: NewSignatureRequest,
    ) -> Result<SignatureRequestOutcome, StoreError> {
        self.write(move |c| self::create(c, &request)).await
    }

    async fn signature_request(
        &self,
        public_id: &str,
    ) -> Result<Option<SignatureRequestView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(move |c| self::request(c, &public_id)).await
    }

    async fn client_signature_requests(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, StoreError> {
        self.read(move |c| self::client_requests(c, client_id, limit))
            .await
    }

    async fn type_signature_seal(
        &self,
        typed: TypedSignatureSeal,
    ) -> Result<SignatureSealOutcome, StoreError> {
        self.write(move |c| self::type_seal(c, &typed)).await
    }

    async fn record_signature(
        &self,
        public_id: &str,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        self.write(move |c| self::record_signature(c, &public_id, &signature, now_s))
            .await
    }

    async fn fail_sealed_signature(&self, public_id: &str) -> Result<bool, StoreError> {
        let public_id = public_id.to_owned();
        self.write(move |c| self::fail_sealed(c, &public_id)).await
    }
}
