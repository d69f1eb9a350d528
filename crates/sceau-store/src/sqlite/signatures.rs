//! Requests for signatures in a client's name: created with their seal's message, sealed
//! by the right seal typed in the client's session, then signed.

use super::checkout::count_client_failure;
use super::ops::{budget_allows, enqueue};
use super::read::{client_where, corrupt, session_client};
use crate::StoreError;
use crate::evidence;
use crate::model::*;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sceau_domain::reach::MessageKind;
use sceau_domain::seal::{self, SealStatus, SealVerdict};

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
             VALUES (?1, ?2, ?3, ?4, 'awaiting_seal', ?5, ?6, ?7, ?8, ?9, ?10)",
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
            new.certificate_serial
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

pub(super) fn type_seal(
    connection: &Connection,
    typed: &TypedSignatureSeal,
) -> Result<SignatureSealOutcome, StoreError> {
    let Some(client_id) = session_client(connection, &typed.session_token_hash, typed.now_s)?
    else {
        return Ok(SignatureSealOutcome::NotFound);
    };
    let view = match request(connection, &typed.public_id)? {
        Some(view) if view.client_id == client_id => view,
        _ => return Ok(SignatureSealOutcome::NotFound),
    };
    if view.state != SignatureState::AwaitingSeal {
        return Ok(SignatureSealOutcome::NotAwaiting(view));
    }
    match client_where(connection, "id = ?1", &client_id)? {
        Some(client) if !client.stopped(typed.now_s) => {}
        _ => return Ok(SignatureSealOutcome::ClientStopped),
    }
    let status = SealStatus {
        issued_at_s: view.seal.issued_at_s,
        expires_at_s: view.seal.expires_at_s,
        wrong_tries: view.wrong_tries,
        sends: 1,
    };
    let matched = (typed.check)(&view);
    let update = |set: &str| -> Result<(), StoreError> {
        let changed = connection
            .prepare_cached(&format!(
                "UPDATE signature_requests SET {set} WHERE id = ?1 AND state = 'awaiting_seal'"
            ))?
            .execute([view.id])?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::Corrupt(
                "signature request changed under its writer".into(),
            ))
        }
    };
    let verdict = seal::judge(&status, matched, typed.now_s);
    let judged = match verdict {
        SealVerdict::Expired => None,
        SealVerdict::Accept => Some(None),
        SealVerdict::Wrong { tries_left } => Some(Some(tries_left)),
        SealVerdict::Exhausted => Some(Some(0)),
    };
    if let Some(tries_left) = judged {
        super::evidence::write(
            connection,
            evidence::signature_seal_judged(&view, tries_left, typed.now_s),
        )?;
    }
    match verdict {
        SealVerdict::Expired => Ok(SignatureSealOutcome::Expired),
        SealVerdict::Accept => {
            update("state = 'sealed'")?;
            connection
                .prepare_cached(
                    "UPDATE clients SET consecutive_failures = 0 WHERE id = ?1 AND consecutive_failures <> 0",
                )?
                .execute([client_id])?;
            Ok(SignatureSealOutcome::Sealed(reread(connection, &view)?))
        }
        SealVerdict::Wrong { tries_left } => {
            update("wrong_tries = wrong_tries + 1")?;
            let paused = count_client_failure(connection, client_id, typed.now_s)?;
            Ok(SignatureSealOutcome::Wrong { tries_left, paused })
        }
        SealVerdict::Exhausted => {
            update("wrong_tries = wrong_tries + 1, state = 'failed'")?;
            let paused = count_client_failure(connection, client_id, typed.now_s)?;
            Ok(SignatureSealOutcome::Failed {
                view: reread(connection, &view)?,
                paused,
            })
        }
    }
}

fn reread(
    connection: &Connection,
    view: &SignatureRequestView,
) -> Result<SignatureRequestView, StoreError> {
    request(connection, &view.public_id)?
        .ok_or_else(|| StoreError::Corrupt("signature request vanished".into()))
}

pub(super) fn record_signature(
    connection: &Connection,
    public_id: &str,
    signature: &[u8],
    now_s: i64,
) -> Result<bool, StoreError> {
    let changed = connection
        .prepare_cached(
            "UPDATE signature_requests SET state = 'signed', signature = ?2, signed_at = ?3 \
             WHERE public_id = ?1 AND state = 'sealed'",
        )?
        .execute(params![public_id, signature, now_s])?;
    Ok(changed == 1)
}

pub(super) fn fail_sealed(connection: &Connection, public_id: &str) -> Result<bool, StoreError> {
    let changed = connection
        .prepare_cached(
            "UPDATE signature_requests SET state = 'failed' WHERE public_id = ?1 AND state = 'sealed'",
        )?
        .execute([public_id])?;
    Ok(changed == 1)
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
