//! Clearing: where merchants are paid out to, and the batches that pay their settlement
//! balances out and keep the settlement file written for the banks.
//!
//! On PostgreSQL, closing a batch changes the settlement accounts it pays and the
//! funding account that receives the payouts: [`accounts_to_clear`] names them before
//! the batch locks its accounts, and the command pays only accounts it finds among those
//! locked, reading their balances under the lock. An account that received money after
//! the lookup waits for the next batch; two closes at once take turns, and the second
//! finds nothing left to pay in the accounts the first paid.

use crate::StoreError;
use crate::model::*;
use crate::ops::accounts::funding_account;
use crate::rows::{CLEARING_BATCH, CLEARING_BATCHES, PAYOUTS, SET_MERCHANT_BANK};
use crate::rows::{SETTLEMENT_FILE, SKIPPED_MERCHANTS};
use crate::shared::check_payouts;
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, Value, all, args, broken, first, holds, record, scalar};

/// Records where a merchant is paid out to; false if there is no such merchant.
pub(crate) async fn set_merchant_bank(
    tx: &impl Tx,
    merchant_id: i64,
    bank: &BankDetails,
) -> Result<bool, Fail> {
    let values = args![merchant_id, bank.iban.as_str(), bank.bic.as_str()];
    Ok(tx.execute(&SET_MERCHANT_BANK, values).await? == 1)
}

/// The settlement accounts with money to pay out whose merchant has bank details.
macro_rules! payable {
    () => {
        " FROM accounts a JOIN merchants m ON m.id = a.owner_id WHERE a.kind = 'merchant' \
         AND a.balance > 0 AND m.iban IS NOT NULL"
    };
}

static TO_CLEAR: Sql = Sql::new(concat!(
    "SELECT a.id",
    payable!(),
    " AND a.currency = $1 ORDER BY a.id LIMIT $2"
));

/// The settlement accounts in `currency` a batch would pay (up to
/// [`CLEARING_PAYOUTS_MAX`]), and, if there is any, the funding account: what a close
/// locks on PostgreSQL.
pub(crate) async fn accounts_to_clear(tx: &impl Tx, currency: &str) -> Result<Vec<i64>, Fail> {
    let limit = CLEARING_PAYOUTS_MAX;
    let mut accounts = tx
        .rows(&TO_CLEAR, args![currency, limit], |row| row.column("id"))
        .await?;
    if !accounts.is_empty() {
        accounts.push(funding_account(tx, currency).await?);
    }
    Ok(accounts)
}

/// The lines of a batch in `$2`, in ascending order, up to `$3`: on PostgreSQL only among
/// the accounts its batch locked (`$1`), whose balances are read under the lock; SQLite's
/// one writer holds them all.
static LINES: Sql = Sql::each(
    concat!(
        "SELECT a.id, a.owner_id, a.balance, m.name, m.iban, m.bic",
        payable!(),
        " AND a.id = ANY($1) AND a.currency = $2 ORDER BY a.id LIMIT $3"
    ),
    concat!(
        "SELECT a.id, a.owner_id, a.balance, m.name, m.iban, m.bic",
        payable!(),
        " AND a.currency = ?2 ORDER BY a.id LIMIT ?3"
    ),
);
static FUNDING: Sql = Sql::new("SELECT id FROM accounts WHERE kind = 'funding' AND currency = $1");
static INSERT_BATCH: Sql = Sql::new(
    "INSERT INTO clearing_batches (message_id, currency, payouts_count, total, \
     settlement_file, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (message_id) DO NOTHING RETURNING id",
);

/// Closes a batch: reads what to pay (and whom it skips for want of bank details), has
/// the file written (nothing is written if it cannot be), records the batch, posts the
/// payouts (the funding account, opened on first use, receives them), and reads the
/// batch back to check that its payouts are exactly its lines.
pub(crate) async fn close_clearing_batch(
    tx: &impl Tx,
    close: &CloseClearing,
) -> Result<ClearingOutcome, Fail> {
    let currency = close.currency.code();
    let limit = CLEARING_PAYOUTS_MAX;
    let values = args![Value::Ids(tx.locked()), currency, limit];
    let lines: Vec<PayoutLine> = all(tx, &LINES, values).await?;
    let skipped = all(tx, &SKIPPED_MERCHANTS, args![currency, limit]).await?;
    if lines.is_empty() {
        return Ok(ClearingOutcome::NothingToPay { skipped });
    }
    let draft = ClearingDraft {
        message_id: &close.message_id,
        currency: close.currency,
        created_at_s: close.now_s,
        lines: &lines,
    };
    let file = match (close.write_file)(&draft) {
        Ok(file) => file,
        Err(error) => return Ok(ClearingOutcome::Unwritable(error)),
    };
    let funding = match scalar(tx, &FUNDING, args![currency], "id").await? {
        Some(funding) => funding,
        None => funding_account(tx, currency).await?,
    };
    if !holds(tx, funding) {
        return Err(broken("the funding account to pay out to was not locked"));
    }
    let total = lines
        .iter()
        .try_fold(0_i64, |sum, line| sum.checked_add(line.amount))
        .ok_or_else(|| broken("clearing total overflows"))?;
    let values = args![
        &close.message_id,
        currency,
        lines.len(),
        total,
        &file,
        close.now_s
    ];
    let Some(batch_id) = scalar(tx, &INSERT_BATCH, values, "id").await? else {
        return Err(StoreError::Conflict("message_id_taken").into());
    };
    post_payouts(tx, close, batch_id, funding, &lines, total).await?;
    let (batch, payouts) = clearing_batch(tx, batch_id)
        .await?
        .ok_or_else(|| broken(&format!("clearing batch {batch_id} vanished")))?;
    check_payouts(&lines, &batch, &payouts)?;
    let closed = crate::evidence::clearing_closed(&batch, &payouts, &file, &close.by)?;
    record(tx, closed).await?;
    Ok(ClearingOutcome::Closed {
        batch,
        payouts,
        skipped,
    })
}

/// The lines' (account, amount) pairs, zipped (`$1`, `$2`): PostgreSQL unnests its
/// arrays, SQLite reads its JSON arrays.
macro_rules! pairs {
    (postgres) => {
        "unnest($1::BIGINT[], $2::BIGINT[]) WITH ORDINALITY AS p(id, amount, line)"
    };
    (sqlite) => {
        "(SELECT i.value AS id, v.value AS amount, i.key AS line \
         FROM json_each(?1) i JOIN json_each(?2) v ON v.key = i.key) AS p"
    };
}

/// Each settlement account (`$3`: the currency) gives exactly the balance read under
/// the lock.
static PAY_OUT: Sql = Sql::each(
    concat!(
        "UPDATE accounts a SET balance = a.balance - p.amount FROM ",
        pairs!(postgres),
        " WHERE a.id = p.id AND a.kind = 'merchant' AND a.currency = $3 \
         AND a.balance = p.amount"
    ),
    concat!(
        "UPDATE accounts SET balance = balance - p.amount FROM ",
        pairs!(sqlite),
        " WHERE accounts.id = p.id AND accounts.kind = 'merchant' \
         AND accounts.currency = ?3 AND accounts.balance = p.amount"
    ),
);
static RECEIVE: Sql = Sql::new(
    "UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND kind = 'funding' \
     AND currency = $3",
);
/// A transfer per line (`$3`: the funding account, `$4` the currency, `$5` the time,
/// `$6` the batch), in the lines' order.
static PAYOUT_TRANSFERS: Sql = Sql::each(
    concat!(
        "INSERT INTO transfers (debit_account, credit_account, amount, currency, kind, \
         created_at, clearing_batch_id) SELECT p.id, $3, p.amount, $4, 'payout', $5, $6 FROM ",
        pairs!(postgres),
        " ORDER BY p.line"
    ),
    concat!(
        "INSERT INTO transfers (debit_account, credit_account, amount, currency, kind, \
         created_at, clearing_batch_id) SELECT p.id, ?3, p.amount, ?4, 'payout', ?5, ?6 FROM ",
        pairs!(sqlite),
        " ORDER BY p.line"
    ),
);

/// Posts the batch's payouts, one statement per side: each line's settlement account
/// gives exactly its balance, the funding account receives the total, and a transfer
/// per line records it, in the lines' order.
async fn post_payouts(
    tx: &impl Tx,
    close: &CloseClearing,
    batch_id: i64,
    funding: i64,
    lines: &[PayoutLine],
    total: i64,
) -> Result<(), Fail> {
    let currency = close.currency.code();
    let accounts: Vec<i64> = lines.iter().map(|line| line.account_id).collect();
    let amounts: Vec<i64> = lines.iter().map(|line| line.amount).collect();
    let (accounts, amounts) = (Value::Ids(&accounts), Value::Ids(&amounts));
    let debited = tx
        .execute(&PAY_OUT, args![accounts, amounts, currency])
        .await?;
    let credited = tx
        .execute(&RECEIVE, args![funding, total, currency])
        .await?;
    if debited != lines.len() as u64 || credited != 1 {
        return Err(StoreError::Corrupt(format!(
            "payouts of clearing batch {batch_id} refused by the ledger"
        ))
        .into());
    }
    let values = args![accounts, amounts, funding, currency, close.now_s, batch_id];
    tx.execute(&PAYOUT_TRANSFERS, values).await?;
    Ok(())
}

/// A batch and its payouts.
pub(crate) async fn clearing_batch(
    tx: &impl Tx,
    batch_id: i64,
) -> Result<Option<(ClearingBatch, Vec<Payout>)>, Fail> {
    let Some(batch) = first(tx, &CLEARING_BATCH, args![batch_id]).await? else {
        return Ok(None);
    };
    let payouts = all(tx, &PAYOUTS, args![batch_id]).await?;
    Ok(Some((batch, payouts)))
}

/// The latest batches, newest first, up to `limit`.
pub(crate) async fn clearing_batches(tx: &impl Tx, limit: u32) -> Result<Vec<ClearingBatch>, Fail> {
    all(tx, &CLEARING_BATCHES, args![limit]).await
}

/// A batch's settlement file.
pub(crate) async fn settlement_file(tx: &impl Tx, batch_id: i64) -> Result<Option<String>, Fail> {
    scalar(tx, &SETTLEMENT_FILE, args![batch_id], "settlement_file").await
}
