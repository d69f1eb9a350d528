//! Requests for signatures in a client's name (the steps of `sqlite/signatures.rs`). A
//! request's writes run under its client's account lock (`command::Guard::Client`), so
//! that the hourly count, the wrong tries and the client's failure count are never
//! read and written by two batches at once.

use super::checkout::count_client_failure;
use super::ops::{budget_allows, enqueue};
use super::read::{client_where, session_client};
use super::{Conn, Fail, col, corrupt, exec, opt_row, rows};
use crate::StoreError;
use crate::evidence as records;
use crate::model::*;
use crate::shared::{
    SIGNATURE_SEAL_UPDATE_POSTGRES, SIGNED_UPDATE_POSTGRES, signature_facts, signature_unwritten,
};
use sceau_domain::reach::MessageKind;
use sceau_domain::signature::{self, SealTyped, SignaturePlan};
use tokio_postgres::Row;

const COLUMNS: &str = "id, public_id, client_id, document_name, content_digest, state, \
     seal_nonce, seal_digits, seal_issued_at, seal_expires_at, wrong_tries, signature, \
     signed_at, created_at, certificate_serial";

fn request_row(row: &Row) -> Result<SignatureRequestView, Fail> {
    let digest: Vec<u8> = col(row, 4)?;
    let state: String = col(row, 5)?;
    let nonce: Vec<u8> = col(row, 6)?;
    let digits: i16 = col(row, 7)?;
    let wrong_tries: i64 = col(row, 10)?;
    Ok(SignatureRequestView {
        id: col(row, 0)?,
        public_id: col(row, 1)?,
        client_id: col(row, 2)?,
        document_name: col(row, 3)?,
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
            digits: u8::try_from(digits).map_err(|_| corrupt("seal_digits"))?,
            issued_at_s: col(row, 8)?,
            expires_at_s: col(row, 9)?,
        },
        wrong_tries: u32::try_from(wrong_tries).map_err(|_| corrupt("wrong_tries"))?,
        signature: col(row, 11)?,
        signed_at_s: col(row, 12)?,
        created_at_s: col(row, 13)?,
        certificate_serial: col(row, 14)?,
    })
}

pub(super) async fn request(
    c: &Conn,
    public_id: &str,
) -> Result<Option<SignatureRequestView>, Fail> {
    let sql = format!("SELECT {COLUMNS} FROM signature_requests WHERE public_id = $1");
    opt_row(c, &sql, &[&public_id])
        .await?
        .as_ref()
        .map(request_row)
        .transpose()
}

pub(super) async fn client_requests(
    c: &Conn,
    client_id: i64,
    limit: u32,
) -> Result<Vec<SignatureRequestView>, Fail> {
    let sql = format!(
        "SELECT {COLUMNS} FROM signature_requests WHERE client_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    rows(c, &sql, &[&client_id, &i64::from(limit)])
        .await?
        .iter()
        .map(request_row)
        .collect()
}

pub(super) async fn create(
    c: &Conn,
    new: &NewSignatureRequest,
) -> Result<SignatureRequestOutcome, Fail> {
    let allowed = budget_allows(
        c,
        &new.message.address,
        MessageKind::SignatureSeal,
        None,
        &new.budget,
        new.now_s,
    )
    .await?;
    if let Err(too_many) = allowed {
        return Ok(SignatureRequestOutcome::Throttled(too_many));
    }
    exec(
        c,
        "INSERT INTO signature_requests (public_id, client_id, document_name, content_digest, \
         state, seal_nonce, seal_digits, seal_issued_at, seal_expires_at, created_at, \
         certificate_serial) \
         VALUES ($1, $2, $3, $4, $11, $5, $6, $7, $8, $9, $10)",
        &[
            &new.public_id,
            &new.client_id,
            &new.document_name,
            &&new.content_digest[..],
            &&new.seal.nonce[..],
            &i16::from(new.seal.digits),
            &new.seal.issued_at_s,
            &new.seal.expires_at_s,
            &new.now_s,
            &new.certificate_serial,
            &SignatureState::AwaitingSeal.as_str(),
        ],
    )
    .await?;
    enqueue(c, &new.message, MessageKind::SignatureSeal, None, new.now_s).await?;
    let view = request(c, &new.public_id)
        .await?
        .ok_or_else(|| Fail::Store(StoreError::Corrupt("signature request not found".into())))?;
    super::evidence::write(c, records::signature_seal_sent(&view)).await?;
    Ok(SignatureRequestOutcome::Created(Box::new(view)))
}

/// A typed seal: [`signature::on_typed_seal`] decides, this applies its plan.
pub(super) async fn type_seal(
    c: &Conn,
    typed: &TypedSignatureSeal,
) -> Result<SignatureSealOutcome, Fail> {
    let session_client = session_client(c, &typed.session_token_hash, typed.now_s).await?;
    let view = request(c, &typed.public_id).await?;
    let client = match session_client {
        Some(client_id) => client_where(c, "id = $1", &client_id).await?,
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
        return Ok(signature_unwritten(plan, view)?);
    };
    let changed = exec(
        c,
        SIGNATURE_SEAL_UPDATE_POSTGRES,
        &[
            &view.id,
            &i64::from(tries_added),
            &state.as_str(),
            &SignatureState::AwaitingSeal.as_str(),
        ],
    )
    .await?;
    if changed != 1 {
        return Err(Fail::Store(StoreError::Corrupt(
            "signature request changed under its lock".into(),
        )));
    }
    let judged = records::signature_seal_judged(view, plan.tries_left(), typed.now_s);
    super::evidence::write(c, judged).await?;
    let reread = async || {
        request(c, &view.public_id)
            .await?
            .ok_or_else(|| Fail::Store(StoreError::Corrupt("signature request vanished".into())))
    };
    let client_id = view.client_id;
    Ok(match plan {
        SignaturePlan::Seal => {
            exec(
                c,
                "UPDATE clients SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0",
                &[&client_id],
            )
            .await?;
            SignatureSealOutcome::Sealed(reread().await?)
        }
        SignaturePlan::Wrong { tries_left } => SignatureSealOutcome::Wrong {
            tries_left,
            paused: count_client_failure(c, client_id, typed.now_s).await?,
        },
        _ => {
            let paused = count_client_failure(c, client_id, typed.now_s).await?;
            SignatureSealOutcome::Failed {
                view: reread().await?,
                paused,
            }
        }
    })
}

/// Moves a sealed request on after its signing (see [`signature::after_signing`]).
async fn after_signing(
    c: &Conn,
    public_id: &str,
    signature: Option<&[u8]>,
    now_s: Option<i64>,
) -> Result<bool, Fail> {
    let (from, to) = signature::after_signing(signature.is_some());
    let changed = exec(
        c,
        SIGNED_UPDATE_POSTGRES,
        &[&public_id, &to.as_str(), &from.as_str(), &signature, &now_s],
    )
    .await?;
    Ok(changed == 1)
}

pub(super) async fn record_signature(
    c: &Conn,
    public_id: &str,
    signature: &[u8],
    now_s: i64,
) -> Result<bool, Fail> {
    after_signing(c, public_id, Some(signature), Some(now_s)).await
}

pub(super) async fn fail_sealed(c: &Conn, public_id: &str) -> Result<bool, Fail> {
    after_signing(c, public_id, None, None).await
}

use super::PostgresStore;
use super::command::Guard;
use crate::capabilities::Signatures;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Signatures for PostgresStore {
    async fn create_signature_request(
        &self,
        request: NewSignatureRequest,
    ) -> Result<SignatureRequestOutcome, StoreError> {
        self.write(
            Guard::Client(request.client_id),
            request,
            |c, request, _| self::create(c, request).boxed(),
        )
        .await
    }

    async fn signature_request(
        &self,
        public_id: &str,
    ) -> Result<Option<SignatureRequestView>, StoreError> {
        let public_id = public_id.to_owned();
        self.read(async move |c| self::request(c, &public_id).await)
            .await
    }

    async fn client_signature_requests(
        &self,
        client_id: i64,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, StoreError> {
        self.read(async |c| self::client_requests(c, client_id, limit).await)
            .await
    }

    async fn type_signature_seal(
        &self,
        typed: TypedSignatureSeal,
    ) -> Result<SignatureSealOutcome, StoreError> {
        self.write(
            Guard::SignatureRequest(typed.public_id.clone()),
            typed,
            |c, typed, _| self::type_seal(c, typed).boxed(),
        )
        .await
    }

    async fn record_signature(
        &self,
        public_id: &str,
        signature: Vec<u8>,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        self.write(
            Guard::Nothing,
            (public_id.to_owned(), signature, now_s),
            |c, d, _| self::record_signature(c, &d.0, &d.1, d.2).boxed(),
        )
        .await
    }

    async fn fail_sealed_signature(&self, public_id: &str) -> Result<bool, StoreError> {
        self.write(Guard::Nothing, public_id.to_owned(), |c, d, _| {
            self::fail_sealed(c, d).boxed()
        })
        .await
    }
}
