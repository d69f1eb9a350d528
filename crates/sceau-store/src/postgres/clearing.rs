//! Clearing: where merchants are paid out to, and the batches that pay their settlement
//! balances out (the steps of `sqlite/clearing.rs`, on a lane's connection).
//!
//! Closing a batch changes the settlement accounts it pays and the funding account that
//! receives the payouts: [`accounts_to_clear`] names them before the batch locks its
//! accounts, and the command pays only accounts it finds among those locked, reading
//! their balances under the lock. An account that received money after the lookup waits
//! for the next batch; two closes at once take turns, and the second finds nothing left
//! to pay in the accounts the first paid.

use super::ops::funding_account;
use super::read::{all, first};
use super::{Conn, Fail, col, exec, one_row, opt_row, rows as query};
use crate::StoreError;
use crate::model::*;
use crate::rows::{self, PAYOUT_LINE_COLUMNS};
use crate::shared::check_payouts;
use crate::sql::ReadRow;

pub(super) async fn set_merchant_bank(
    c: &Conn,
    merchant_id: i64,
    bank: &BankDetails,
) -> Result<bool, Fail> {
    let bank = [
        &merchant_id as _,
        &bank.iban.as_str() as _,
        &bank.bic.as_str() as _,
    ];
    let changed = exec(c, rows::SET_MERCHANT_BANK.postgres(), &bank).await?;
    Ok(changed == 1)
}

/// The settlement accounts in `currency` with money to pay out whose merchant has bank
/// details (up to [`CLEARING_PAYOUTS_MAX`]), and, if there is any, the funding account.
pub(super) async fn accounts_to_clear(c: &Conn, currency: &str) -> Result<Vec<i64>, Fail> {
    let found = query(
        c,
        "SELECT a.id FROM accounts a JOIN merchants m ON m.id = a.owner_id \
         WHERE a.kind = 'merchant' AND a.currency = $1 AND a.balance > 0 AND m.iban IS NOT NULL \
         ORDER BY a.id LIMIT $2",
        &[&currency, &(CLEARING_PAYOUTS_MAX as i64)],
    )
    .await?;
    let mut accounts = found
        .iter()
        .map(|row| col(row, 0))
        .collect::<Result<Vec<i64>, Fail>>()?;
    if !accounts.is_empty() {
        accounts.push(funding_account(c, currency).await?);
    }
    Ok(accounts)
}

/// The lines of the batch, among the `locked` accounts, with their balances read under
/// the lock; and the merchants skipped for want of bank details.
async fn candidates(
    c: &Conn,
    currency: &str,
    locked: &[i64],
) -> Result<(Vec<PayoutLine>, Vec<SkippedMerchant>), Fail> {
    let locked = locked.to_vec();
    let sql = format!(
        "SELECT {PAYOUT_LINE_COLUMNS} FROM accounts a JOIN merchants m ON m.id = a.owner_id \
         WHERE a.id = ANY($1) AND a.kind = 'merchant' AND a.currency = $2 AND a.balance > 0 \
         AND m.iban IS NOT NULL ORDER BY a.id"
    );
    let lines = all(c, &sql, &[&locked, &currency]).await?;
    let limit = CLEARING_PAYOUTS_MAX as i64;
    let skipped = all(c, rows::SKIPPED_MERCHANTS.postgres(), &[&currency, &limit]).await?;
    Ok((lines, skipped))
}

/// Closes a batch: reads what to pay, has the file written (nothing is written if it
/// cannot be), records the batch, posts the payouts (one statement per side), and reads
/// the batch back to check that its payouts are exactly its lines.
pub(super) async fn close_clearing_batch(
    c: &Conn,
    close: &CloseClearing,
    locked: &[i64],
) -> Result<ClearingOutcome, Fail> {
    let currency = close.currency.code();
    let (lines, skipped) = candidates(c, currency, locked).await?;
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
    let funding = locked_funding_account(c, currency, locked).await?;
    let amounts: Vec<i64> = lines.iter().map(|line| line.amount).collect();
    let total = amounts
        .iter()
        .try_fold(0_i64, |sum, amount| sum.checked_add(*amount))
        .ok_or_else(|| Fail::Store(StoreError::Corrupt("clearing total overflows".into())))?;
    let inserted = opt_row(
        c,
        "INSERT INTO clearing_batches (message_id, currency, payouts_count, total, settlement_file, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING RETURNING id",
        &[
            &close.message_id,
            &currency,
            &(lines.len() as i64),
            &total,
            &file,
            &close.now_s,
        ],
    )
    .await?;
    let Some(inserted) = inserted else {
        return Err(Fail::Store(StoreError::Conflict("message_id_taken")));
    };
    let batch_id: i64 = col(&inserted, 0)?;
    post_payouts(c, close, batch_id, funding, &lines, total).await?;
    let (batch, payouts) = clearing_batch(c, batch_id).await?.ok_or_else(|| {
        Fail::Store(StoreError::Corrupt(format!(
            "clearing batch {batch_id} vanished"
        )))
    })?;
    check_payouts(&lines, &batch, &payouts)?;
    let closed = crate::evidence::clearing_closed(&batch, &payouts, &file)?;
    super::evidence::write(c, closed).await?;
    Ok(ClearingOutcome::Closed {
        batch,
        payouts,
        skipped,
    })
}

/// The funding account of the currency, which pays out: it must be among the accounts
/// locked for the batch.
async fn locked_funding_account(c: &Conn, currency: &str, locked: &[i64]) -> Result<i64, Fail> {
    let funding: i64 = col(
        &one_row(
            c,
            "SELECT id FROM accounts WHERE kind = 'funding' AND currency = $1",
            &[&currency],
        )
        .await?,
        0,
    )?;
    if !locked.contains(&funding) {
        return Err(Fail::Store(StoreError::Corrupt(
            "the funding account to pay out to was not locked".into(),
        )));
    }
    Ok(funding)
}

/// Posts the batch's payouts, one statement per side: each line's settlement account
/// gives exactly its balance, the funding account receives the total, and a transfer
/// per line records it, in the lines' order.
async fn post_payouts(
    c: &Conn,
    close: &CloseClearing,
    batch_id: i64,
    funding: i64,
    lines: &[PayoutLine],
    total: i64,
) -> Result<(), Fail> {
    let currency = close.currency.code();
    let accounts: Vec<i64> = lines.iter().map(|line| line.account_id).collect();
    let amounts: Vec<i64> = lines.iter().map(|line| line.amount).collect();
    // Each settlement account gives exactly the balance read under the lock.
    let debited = exec(
        c,
        "UPDATE accounts a SET balance = a.balance - p.amount \
         FROM unnest($1::BIGINT[], $2::BIGINT[]) AS p(id, amount) \
         WHERE a.id = p.id AND a.kind = 'merchant' AND a.currency = $3 AND a.balance = p.amount",
        &[&accounts, &amounts, &currency],
    )
    .await?;
    let credited = exec(
        c,
        "UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND kind = 'funding' AND currency = $3",
        &[&funding, &total, &currency],
    )
    .await?;
    if debited != lines.len() as u64 || credited != 1 {
        return Err(Fail::Store(StoreError::Corrupt(format!(
            "payouts of clearing batch {batch_id} refused by the ledger"
        ))));
    }
    exec(
        c,
        "INSERT INTO transfers (debit_account, credit_account, amount, currency, kind, created_at, clearing_batch_id) \
         SELECT p.id, $3, p.amount, $4, 'payout', $5, $6 \
         FROM unnest($1::BIGINT[], $2::BIGINT[]) WITH ORDINALITY AS p(id, amount, line) ORDER BY p.line",
        &[&accounts, &amounts, &funding, &currency, &close.now_s, &batch_id],
    )
    .await?;
    Ok(())
}

pub(super) async fn clearing_batch(
    c: &Conn,
    batch_id: i64,
) -> Result<Option<(ClearingBatch, Vec<Payout>)>, Fail> {
    let Some(batch) = first(c, rows::CLEARING_BATCH.postgres(), &[&batch_id]).await? else {
        return Ok(None);
    };
    let payouts = all(c, rows::PAYOUTS.postgres(), &[&batch_id]).await?;
    Ok(Some((batch, payouts)))
}

pub(super) async fn clearing_batches(c: &Conn, limit: u32) -> Result<Vec<ClearingBatch>, Fail> {
    all(c, rows::CLEARING_BATCHES.postgres(), &[&i64::from(limit)]).await
}

pub(super) async fn settlement_file(c: &Conn, batch_id: i64) -> Result<Option<String>, Fail> {
    let row = opt_row(c, rows::SETTLEMENT_FILE.postgres(), &[&batch_id]).await?;
    Ok(row.map(|row| row.column("settlement_file")).transpose()?)
}

use super::PostgresStore;
use super::command::Guard;
use crate::capabilities::Clearing;
use async_trait::async_trait;
use futures_util::FutureExt;

#[async_trait]
impl Clearing for PostgresStore {
    async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<bool, StoreError> {
        self.write(Guard::Nothing, (merchant_id, bank), |c, d, _| {
            self::set_merchant_bank(c, d.0, &d.1).boxed()
        })
        .await
    }

    async fn close_clearing_batch(
        &self,
        close: CloseClearing,
    ) -> Result<ClearingOutcome, StoreError> {
        self.write(
            Guard::Clearing(close.currency.code().to_owned()),
            close,
            |c, close, locked| self::close_clearing_batch(c, close, locked).boxed(),
        )
        .await
    }

    async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError> {
        self.read(async |c| self::clearing_batch(c, batch_id).await)
            .await
    }

    async fn clearing_batches(&self, limit: u32) -> Result<Vec<ClearingBatch>, StoreError> {
        self.read(async |c| self::clearing_batches(c, limit).await)
            .await
    }

    async fn settlement_file(&self, batch_id: i64) -> Result<Option<String>, StoreError> {
        self.read(async |c| self::settlement_file(c, batch_id).await)
            .await
    }
}
