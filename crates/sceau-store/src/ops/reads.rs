//! Reads that several capabilities share: a client, a number, an authorization, the
//! client of a session.

use crate::model::*;
use crate::sql::Sql;
use crate::tx::{Fail, Tx, args, broken, first, scalar};

macro_rules! client_where {
    ($condition:literal) => {
        Sql::new(concat!(
            "SELECT ",
            crate::rows::client_columns!(),
            crate::rows::client_tables!(),
            "WHERE c.",
            $condition
        ))
    };
}

static CLIENT_BY_ID: Sql = client_where!("id = $1");
static CLIENT_BY_LOGIN: Sql = client_where!("login = $1");
static CLIENT_BY_PHONE: Sql = client_where!("phone = $1");

/// A client by id.
pub(crate) async fn client(tx: &impl Tx, client_id: i64) -> Result<Option<ClientRecord>, Fail> {
    first(tx, &CLIENT_BY_ID, args![client_id]).await
}

/// The client who signs in as `login`.
pub(crate) async fn client_by_login(
    tx: &impl Tx,
    login: &str,
) -> Result<Option<ClientRecord>, Fail> {
    first(tx, &CLIENT_BY_LOGIN, args![login]).await
}

/// The client whose phone is `phone`.
pub(crate) async fn client_by_phone(
    tx: &impl Tx,
    phone: &str,
) -> Result<Option<ClientRecord>, Fail> {
    first(tx, &CLIENT_BY_PHONE, args![phone]).await
}

/// A number by id (one just written: its absence is a broken rule).
pub(crate) async fn number(tx: &impl Tx, number_id: i64) -> Result<NumberView, Fail> {
    first(tx, &crate::rows::NUMBER, args![number_id])
        .await?
        .ok_or_else(|| broken("issued number not found"))
}

/// A merchant's authorization by id.
pub(crate) async fn authorization(
    tx: &impl Tx,
    merchant_id: i64,
    authorization_id: i64,
) -> Result<Option<AuthorizationView>, Fail> {
    let sql = &crate::rows::AUTHORIZATION;
    first(tx, sql, args![authorization_id, merchant_id]).await
}

/// The client whose session token hashes to `token_hash`, if it is still open.
pub(crate) async fn session_client(
    tx: &impl Tx,
    token_hash: &[u8; 32],
    now_s: i64,
) -> Result<Option<i64>, Fail> {
    let sql = &crate::rows::SESSION_CLIENT;
    scalar(tx, sql, args![token_hash, now_s], "client_id").await
}
