//! The ledger's accounts and transfers, as every capability that moves money writes
//! them (card payments, checkouts, clearing).

use crate::StoreError;
use crate::sql::Sql;
use crate::tx::{Fail, Tx, args, broken, scalar};

static OPEN_FUNDING: Sql = Sql::new(
    "INSERT INTO accounts (kind, currency) VALUES ('funding', $1) \
     ON CONFLICT (currency) WHERE kind = 'funding' DO NOTHING",
);
static FUNDING: Sql = Sql::new("SELECT id FROM accounts WHERE kind = 'funding' AND currency = $1");

/// The issuer's funding account for `currency`, opened on first use.
pub(crate) async fn funding_account(tx: &impl Tx, currency: &str) -> Result<i64, Fail> {
    tx.execute(&OPEN_FUNDING, args![currency]).await?;
    scalar(tx, &FUNDING, args![currency], "id")
        .await?
        .ok_or_else(|| broken("funding account not opened"))
}

static MERCHANT: Sql =
    Sql::new("SELECT id FROM accounts WHERE kind = 'merchant' AND owner_id = $1 AND currency = $2");
static OPEN_MERCHANT: Sql = Sql::new(
    "INSERT INTO accounts (kind, owner_id, currency) VALUES ('merchant', $1, $2) \
     ON CONFLICT (owner_id, currency) WHERE kind = 'merchant' DO NOTHING",
);

/// The merchant's settlement account for `currency`, opened on first use (or found
/// opened by another instance meanwhile).
pub(crate) async fn merchant_account(
    tx: &impl Tx,
    merchant_id: i64,
    currency: &str,
) -> Result<i64, Fail> {
    let key = args![merchant_id, currency];
    if let Some(id) = scalar(tx, &MERCHANT, key, "id").await? {
        return Ok(id);
    }
    tx.execute(&OPEN_MERCHANT, key).await?;
    scalar(tx, &MERCHANT, key, "id")
        .await?
        .ok_or_else(|| broken("merchant account not opened"))
}

/// A movement between two accounts of one currency.
pub(crate) struct Transfer<'a> {
    pub(crate) debit: i64,
    pub(crate) credit: i64,
    pub(crate) amount: i64,
    pub(crate) currency: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) authorization_id: Option<i64>,
    /// Set on payouts, and only on them.
    pub(crate) clearing_batch_id: Option<i64>,
    pub(crate) now_s: i64,
}

static DEBIT: Sql = Sql::new(
    "UPDATE accounts SET balance = balance - $2 WHERE id = $1 AND currency = $3 \
     AND (kind <> 'client' OR balance - held - $2 >= -credit_limit)",
);
static CREDIT: Sql =
    Sql::new("UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND currency = $3");
static TRANSFER: Sql = Sql::new(
    "INSERT INTO transfers (debit_account, credit_account, amount, currency, kind, \
     authorization_id, clearing_batch_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
);

/// Posts a transfer: moves `amount` from `debit` to `credit` and records it; its id.
/// The debit side's floor is enforced by the update's condition, not by an earlier read.
pub(crate) async fn post_transfer(tx: &impl Tx, transfer: &Transfer<'_>) -> Result<i64, Fail> {
    let Transfer {
        debit,
        credit,
        amount,
        currency,
        kind,
        authorization_id,
        clearing_batch_id,
        now_s,
    } = *transfer;
    debug_assert!(amount > 0 && debit != credit);
    let debited = tx.execute(&DEBIT, args![debit, amount, currency]).await?;
    let credited = tx.execute(&CREDIT, args![credit, amount, currency]).await?;
    if debited != 1 || credited != 1 {
        return Err(StoreError::Corrupt(format!(
            "transfer {debit} -> {credit} refused by the ledger"
        ))
        .into());
    }
    let values = args![
        debit,
        credit,
        amount,
        currency,
        kind,
        authorization_id,
        clearing_batch_id,
        now_s
    ];
    scalar(tx, &TRANSFER, values, "id")
        .await?
        .ok_or_else(|| broken("a transfer has no id"))
}
