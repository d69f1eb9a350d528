//! Clients and merchants: enrolment, lookup and blocking.

use crate::StoreError;
use crate::model::*;
use crate::ops::accounts::{Transfer, funding_account, post_transfer};
use crate::sql::Sql;
use crate::tx::{Fail, Tx, all, args, broken, first, scalar};

static TAKEN: Sql = Sql::new(
    "SELECT login = $1 AS login_taken FROM clients WHERE login = $1 OR phone = $2 \
     ORDER BY (login = $1) DESC LIMIT 1",
);
static CLIENT_ACCOUNT: Sql = Sql::new(
    "INSERT INTO accounts (kind, currency, credit_limit) VALUES ('client', $1, $2) RETURNING id",
);
static OWNER: Sql = Sql::new("UPDATE accounts SET owner_id = $1 WHERE id = $2");

/// Enrols a client: their account (opened with `opening_balance` from the issuer's
/// funding account), their row and their certificates. A login (checked first) or a
/// phone already a client's is refused.
pub(crate) async fn enroll_client(tx: &impl Tx, client: &NewClient) -> Result<ClientRecord, Fail> {
    let currency = client.currency.code();
    refuse_taken_identity(tx, client).await?;
    let funding = funding_account(tx, currency).await?;
    let opened = args![currency, client.credit_limit];
    let account_id: i64 = scalar(tx, &CLIENT_ACCOUNT, opened, "id")
        .await?
        .ok_or_else(|| broken("a client's account has no id"))?;
    let client_id = insert_client(tx, client, account_id).await?;
    tx.execute(&OWNER, args![client_id, account_id]).await?;
    for certificate in &client.certificates {
        crate::ops::certificates::insert(tx, certificate, Some(client_id)).await?;
    }
    if client.opening_balance > 0 {
        let opening = Transfer {
            debit: funding,
            credit: account_id,
            amount: client.opening_balance,
            currency,
            kind: "opening",
            authorization_id: None,
            clearing_batch_id: None,
            now_s: client.now_s,
        };
        post_transfer(tx, &opening).await?;
    }
    crate::ops::reads::client(tx, client_id)
        .await?
        .ok_or_else(|| broken("enrolled client not found"))
}

/// Refuses an enrolment whose login (first) or phone is already a client's.
async fn refuse_taken_identity(tx: &impl Tx, client: &NewClient) -> Result<(), Fail> {
    let identity = args![&client.login, client.phone.as_str()];
    match scalar::<bool>(tx, &TAKEN, identity, "login_taken").await? {
        Some(true) => Err(StoreError::Conflict("login_taken").into()),
        Some(false) => Err(StoreError::Conflict("phone_taken").into()),
        None => Ok(()),
    }
}

static INSERT_CLIENT: Sql = Sql::new(
    "INSERT INTO clients (login, display_name, password_hash, phone, email, account_id, \
     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
);

/// Inserts the client on its account and returns its id. A login or phone taken by a
/// concurrent enrolment (another instance, another currency) is caught by the unique
/// constraints and answered as the check before would.
async fn insert_client(tx: &impl Tx, client: &NewClient, account_id: i64) -> Result<i64, Fail> {
    let values = args![
        &client.login,
        &client.display_name,
        &client.password_hash,
        client.phone.as_str(),
        client.email.as_ref().map(|email| email.as_str()),
        account_id,
        client.now_s
    ];
    match scalar(tx, &INSERT_CLIENT, values, "id").await {
        Ok(id) => id.ok_or_else(|| broken("an enrolled client has no id")),
        Err(fail) if fail.is_unique_violation("clients.login", "clients_login_key") => {
            Err(StoreError::Conflict("login_taken").into())
        }
        Err(fail) if fail.is_unique_violation("clients.phone", "clients_phone_key") => {
            Err(StoreError::Conflict("phone_taken").into())
        }
        Err(fail) => Err(fail),
    }
}

static INSERT_MERCHANT: Sql = Sql::new(
    "INSERT INTO merchants (name, api_key_hash, iban, bic, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (api_key_hash) DO NOTHING RETURNING id",
);

/// Enrols a merchant; an API key already a merchant's is refused.
pub(crate) async fn enroll_merchant(
    tx: &impl Tx,
    merchant: &NewMerchant,
) -> Result<MerchantRecord, Fail> {
    let (iban, bic) = crate::shared::bank_columns(merchant.bank.as_ref());
    let values = args![
        &merchant.name,
        &merchant.api_key_hash,
        iban,
        bic,
        merchant.now_s
    ];
    match scalar(tx, &INSERT_MERCHANT, values, "id").await? {
        Some(id) => Ok(MerchantRecord {
            id,
            name: merchant.name.clone(),
            bank: merchant.bank.clone(),
        }),
        None => Err(StoreError::Conflict("api_key_taken").into()),
    }
}

/// The merchant whose API key hashes to `key_hash`.
pub(crate) async fn merchant_by_key_hash(
    tx: &impl Tx,
    key_hash: &[u8; 32],
) -> Result<Option<MerchantRecord>, Fail> {
    first(tx, &crate::rows::MERCHANT_BY_KEY_HASH, args![key_hash]).await
}

/// A merchant by id.
pub(crate) async fn merchant(tx: &impl Tx, id: i64) -> Result<Option<MerchantRecord>, Fail> {
    first(tx, &crate::rows::MERCHANT, args![id]).await
}

/// The first `limit` merchants, by id.
pub(crate) async fn merchants(tx: &impl Tx, limit: u32) -> Result<Vec<MerchantRecord>, Fail> {
    all(tx, &crate::rows::MERCHANTS, args![limit]).await
}

/// The first `limit` clients, by id.
pub(crate) async fn clients(tx: &impl Tx, limit: u32) -> Result<Vec<ClientRecord>, Fail> {
    all(tx, &crate::rows::CLIENTS, args![limit]).await
}

/// Records whether the client is sent their secrets by call; false if there is no such
/// client.
pub(crate) async fn set_client_by_call(
    tx: &impl Tx,
    client_id: i64,
    by_call: bool,
) -> Result<bool, Fail> {
    let sql = &crate::rows::CLIENT_BY_CALL;
    Ok(tx.execute(sql, args![client_id, by_call]).await? == 1)
}
