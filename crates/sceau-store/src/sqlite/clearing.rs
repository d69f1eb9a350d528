//! Clearing: where merchants are paid out to, and the batches that pay their settlement
//! balances out and keep the settlement file written for the banks.

use super::ops::{Transfer, funding_account, is_unique_violation, post_transfer};
use super::read::{all, first};
use crate::StoreError;
use crate::model::*;
use crate::rows::{self, PAYOUT_LINE_COLUMNS};
use crate::shared::check_payouts;
use crate::sql::{ReadRow, sqlite_first};
use rusqlite::{Connection, params};

pub(super) fn set_merchant_bank(
    connection: &Connection,
    merchant_id: i64,
    bank: &BankDetails,
) -> Result<bool, StoreError> {
    let changed = connection
        .prepare_cached(rows::SET_MERCHANT_BANK.sqlite())?
        .execute(params![merchant_id, bank.iban.as_str(), bank.bic.as_str()])?;
    Ok(changed == 1)
}

/// The settlement accounts in `currency` with money to pay out, in ascending order, up to
/// [`CLEARING_PAYOUTS_MAX`] each: those whose merchant has bank details (the lines of
/// the batch), and those whose merchant has none (skipped).
fn candidates(
    connection: &Connection,
    currency: &str,
) -> Result<(Vec<PayoutLine>, Vec<SkippedMerchant>), StoreError> {
    let limit = CLEARING_PAYOUTS_MAX as i64;
    let sql = format!(
        "SELECT {PAYOUT_LINE_COLUMNS} FROM accounts a JOIN merchants m ON m.id = a.owner_id \
         WHERE a.kind = 'merchant' AND a.currency = ?1 AND a.balance > 0 AND m.iban IS NOT NULL \
         ORDER BY a.id LIMIT ?2"
    );
    let lines = all(connection, &sql, params![currency, limit])?;
    let skipped = all(
        connection,
        rows::SKIPPED_MERCHANTS.sqlite(),
        params![currency, limit],
    )?;
    Ok((lines, skipped))
}

/// Closes a batch: reads what to pay, has the file written (nothing is written if it
/// cannot be), records the batch, posts one payout per line, and reads the batch back to
/// check that its payouts are exactly its lines.
pub(super) fn close_clearing_batch(
    connection: &Connection,
    close: &CloseClearing,
) -> Result<ClearingOutcome, StoreError> {
    let currency = close.currency.code();
    let (lines, skipped) = candidates(connection, currency)?;
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
    let total = lines
        .iter()
        .try_fold(0_i64, |sum, line| sum.checked_add(line.amount))
        .ok_or_else(|| StoreError::Corrupt("clearing total overflows".into()))?;
    let inserted = connection
        .prepare_cached(
            "INSERT INTO clearing_batches (message_id, currency, payouts_count, total, settlement_file, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            close.message_id,
            currency,
            lines.len() as i64,
            total,
            file,
            close.now_s
        ]);
    match inserted {
        Err(error) if is_unique_violation(&error, "clearing_batches.message_id") => {
            return Err(StoreError::Conflict("message_id_taken"));
        }
        other => other?,
    };
    let batch_id = connection.last_insert_rowid();
    let funding = funding_account(connection, currency)?;
    for line in &lines {
        let payout = Transfer {
            debit: line.account_id,
            credit: funding,
            amount: line.amount,
            currency,
            kind: "payout",
            authorization_id: None,
            clearing_batch_id: Some(batch_id),
            now_s: close.now_s,
        };
        post_transfer(connection, &payout)?;
    }
    let (batch, payouts) = clearing_batch(connection, batch_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("clearing batch {batch_id} vanished")))?;
    check_payouts(&lines, &batch, &payouts)?;
    super::evidence::write(
        connection,
        crate::evidence::clearing_closed(&batch, &payouts, &file)?,
    )?;
    Ok(ClearingOutcome::Closed {
        batch,
        payouts,
        skipped,
    })
}

pub(super) fn clearing_batch(
    connection: &Connection,
    batch_id: i64,
) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError> {
    let Some(batch) = first(connection, rows::CLEARING_BATCH.sqlite(), [batch_id])? else {
        return Ok(None);
    };
    let payouts = all(connection, rows::PAYOUTS.sqlite(), [batch_id])?;
    Ok(Some((batch, payouts)))
}

pub(super) fn clearing_batches(
    connection: &Connection,
    limit: u32,
) -> Result<Vec<ClearingBatch>, StoreError> {
    all(connection, rows::CLEARING_BATCHES.sqlite(), [limit])
}

pub(super) fn settlement_file(
    connection: &Connection,
    batch_id: i64,
) -> Result<Option<String>, StoreError> {
    let sql = rows::SETTLEMENT_FILE.sqlite();
    sqlite_first(connection, sql, [batch_id], |row| {
        row.column("settlement_file")
    })
}

use super::SqliteStore;
use crate::capabilities::Clearing;
use async_trait::async_trait;

#[async_trait]
impl Clearing for SqliteStore {
    async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<bool, StoreError> {
        self.write(move |c| self::set_merchant_bank(c, merchant_id, &bank))
            .await
    }

    async fn close_clearing_batch(
        &self,
        close: CloseClearing,
    ) -> Result<ClearingOutcome, StoreError> {
        self.write(move |c| self::close_clearing_batch(c, &close))
            .await
    }

    async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<Option<(ClearingBatch, Vec<Payout>)>, StoreError> {
        self.read(move |c| self::clearing_batch(c, batch_id)).await
    }

    async fn clearing_batches(&self, limit: u32) -> Result<Vec<ClearingBatch>, StoreError> {
        self.read(move |c| self::clearing_batches(c, limit)).await
    }

    async fn settlement_file(&self, batch_id: i64) -> Result<Option<String>, StoreError> {
        self.read(move |c| self::settlement_file(c, batch_id)).await
    }
}
