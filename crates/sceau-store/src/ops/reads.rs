//! Reads that several capabilities share: a client, a number, an authorization, the
//! client of a session; and the client's wallet: numbers with what became of them, and
//! the history of payments, card and seal alike.

use crate::StoreError;
use crate::model::*;
use crate::sql::{Decode, ReadRow, Sql};
use crate::tx::{Fail, Tx, all, args, broken, first, scalar};

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
static CLIENT_BY_EMAIL: Sql =
    client_where!("email IS NOT NULL AND lower(c.email) = lower($1) ORDER BY c.id LIMIT 1");

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

/// The client whose e-mail address is `email` (compared without case; the first
/// enrolled, if several gave it).
pub(crate) async fn client_by_email(
    tx: &impl Tx,
    email: &str,
) -> Result<Option<ClientRecord>, Fail> {
    first(tx, &CLIENT_BY_EMAIL, args![email]).await
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

/// A client's numbers, newest first, each with what became of its authorizations (by
/// `authorizations_number`, a few rows per number).
pub(crate) static NUMBERS_USED: Sql = Sql::new(concat!(
    "SELECT ",
    crate::rows::number_columns!(),
    ", (SELECT CAST(COALESCE(SUM(au.captured - au.refunded), 0) AS BIGINT) \
     FROM authorizations au WHERE au.number_id = n.id) AS paid, \
     (SELECT CAST(COALESCE(SUM(au.amount), 0) AS BIGINT) FROM authorizations au \
     WHERE au.number_id = n.id AND au.state = 'authorized') AS on_hold, \
     (SELECT COUNT(*) FROM authorizations au \
     WHERE au.number_id = n.id AND au.state IN ('voided', 'expired')) AS released, \
     (SELECT COUNT(*) FROM authorizations au JOIN checkouts ch ON ch.authorization_id = au.id \
     WHERE au.number_id = n.id) AS checkouts \
     FROM numbers n WHERE n.client_id = $1 ORDER BY n.id DESC LIMIT $2"
));

impl Decode for NumberUse {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let checkouts: i64 = row.column("checkouts")?;
        Ok(NumberUse {
            number: NumberView::decode(row)?,
            paid: row.column("paid")?,
            held: row.column("on_hold")?,
            released: row.column("released")?,
            for_checkout: checkouts > 0,
        })
    }
}

/// The client's newest numbers with what became of their payments.
pub(crate) async fn numbers_used(
    tx: &impl Tx,
    client_id: i64,
    limit: u32,
) -> Result<Vec<NumberUse>, Fail> {
    all(tx, &NUMBERS_USED, args![client_id, limit]).await
}

/// A page of a client's payments, newest first, before authorization `$2`, each with the
/// times of its capture and last refund and the checkout it was for. Read through the
/// client's numbers (`numbers_client`, then `authorizations_number`), so a page costs
/// the client's own payments and nothing else; an index of authorizations by client
/// would make it cost a page only, but it cost every authorization a quarter of its
/// speed on SQLite (BENCHMARKS.md).
pub(crate) static CLIENT_PAYMENTS: Sql = Sql::new(
    "SELECT au.id, m.name AS merchant_name, n.last_four, au.currency, au.amount, au.captured, \
     au.refunded, au.state, au.merchant_reference, au.created_at, au.updated_at, \
     au.hold_expires_at, \
     (SELECT MAX(t.created_at) FROM transfers t \
     WHERE t.authorization_id = au.id AND t.kind = 'capture') AS captured_at, \
     (SELECT MAX(t.created_at) FROM transfers t \
     WHERE t.authorization_id = au.id AND t.kind = 'refund') AS refunded_at, \
     ch.public_id, ch.state AS checkout_state, ch.object \
     FROM numbers n JOIN authorizations au ON au.number_id = n.id \
     JOIN merchants m ON m.id = au.merchant_id \
     LEFT JOIN checkouts ch ON ch.authorization_id = au.id \
     WHERE n.client_id = $1 AND au.client_id = $1 AND au.id < $2 \
     ORDER BY au.id DESC LIMIT $3",
);

impl Decode for PaymentEntry {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let checkout = match row.column::<Option<String>>("public_id")? {
            Some(public_id) => Some(PaymentCheckout {
                public_id,
                state: row.column("checkout_state")?,
                object: row.column("object")?,
            }),
            None => None,
        };
        Ok(PaymentEntry {
            authorization_id: row.column("id")?,
            merchant_name: row.column("merchant_name")?,
            number_last_four: row.column("last_four")?,
            currency: row.column("currency")?,
            amount: row.column("amount")?,
            captured: row.column("captured")?,
            refunded: row.column("refunded")?,
            state: row.column("state")?,
            merchant_reference: row.column("merchant_reference")?,
            created_at_s: row.column("created_at")?,
            updated_at_s: row.column("updated_at")?,
            hold_expires_at_s: row.column("hold_expires_at")?,
            captured_at_s: row.column("captured_at")?,
            refunded_at_s: row.column("refunded_at")?,
            checkout,
        })
    }
}

/// Up to `limit` of the client's payments made before authorization `before`, newest
/// first; only the client's own (the authorization's client is the number's).
pub(crate) async fn client_payments(
    tx: &impl Tx,
    client_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<PaymentEntry>, Fail> {
    let before = before.unwrap_or(i64::MAX);
    all(tx, &CLIENT_PAYMENTS, args![client_id, before, limit]).await
}
