//! The legacy requests for signatures in a client's name, read only: those made before a
//! signature request became a one-file envelope (`ops::envelopes`) stay readable, so
//! that a signed one's signature can still be downloaded. Nothing writes them any more.

use crate::StoreError;
use crate::model::*;
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, all, args, first};

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
