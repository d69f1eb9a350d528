//! Clearing (step 10 of the payment flow): captured payments accumulate on merchants'
//! settlement accounts; an operator closes a batch, which pays every balance out to the
//! merchant's bank and yields the settlement file for the acquiring banks, an ISO 20022
//! Customer Credit Transfer Initiation (pain.001.001.03) with one transfer per merchant.
//!
//! The file is written inside the store's closing transaction, from what that transaction
//! is about to pay ([`SettlementWriter`]): a file that cannot be written pays nothing, and
//! a batch that was paid always has its file, stored with it and served again byte for
//! byte.

use crate::error::AppError;
use crate::service::{Service, parse_currency};
use sceau_domain::bank::{BankError, Bic, Iban};
use sceau_domain::clearing::{Party, SettlementBatch, Transfer, utc_date, write_pain_001};
use sceau_domain::{Currency, Money};
use sceau_store::*;
use std::sync::Arc;

/// Characters of the random part of a message id: letters and digits that cannot be
/// misread (no I, O, 0, 1); 32 of them, so a random byte maps onto them evenly.
const MESSAGE_ID_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Random characters in a message id (50 bits).
const MESSAGE_ID_RANDOM_LEN: usize = 10;

/// "SC", the UTC date, a dash and the random part: 21 characters, so that the end-to-end
/// ids made from it (a dash and the line's number) fit their 35.
const _: () = assert!(
    2 + 8 + 1 + MESSAGE_ID_RANDOM_LEN <= sceau_domain::clearing::MESSAGE_ID_LEN_MAX
        && 2 + 8 + 1 + MESSAGE_ID_RANDOM_LEN + 1 + 5
            <= sceau_domain::clearing::END_TO_END_ID_LEN_MAX
        && CLEARING_PAYOUTS_MAX < 100_000
);

/// A closed batch as the operator sees it.
#[derive(Debug, Clone)]
pub struct ClosedBatch {
    pub batch: ClearingBatch,
    pub payouts: Vec<Payout>,
    /// Merchants with money to receive but no bank details: not paid.
    pub skipped: Vec<SkippedMerchant>,
}

fn bank_error(error: BankError) -> AppError {
    AppError::Bank(error)
}

/// Parses an IBAN and a BIC as an operator typed them (spaces and any case accepted).
pub fn parse_bank(iban: &str, bic: &str) -> Result<BankDetails, AppError> {
    Ok(BankDetails {
        iban: iban.parse::<Iban>().map_err(bank_error)?,
        bic: bic.parse::<Bic>().map_err(bank_error)?,
    })
}

/// Bank details given as two optional fields: both or neither.
pub fn parse_optional_bank(
    iban: Option<&str>,
    bic: Option<&str>,
) -> Result<Option<BankDetails>, AppError> {
    match (iban, bic) {
        (Some(iban), Some(bic)) => parse_bank(iban, bic).map(Some),
        (None, None) => Ok(None),
        _ => Err(AppError::IncompleteBankDetails),
    }
}

/// A message id for a new batch, from the creation instant and 10 random bytes.
fn message_id(now_s: i64, random: [u8; MESSAGE_ID_RANDOM_LEN]) -> String {
    let random: String = random
        .iter()
        .map(|byte| char::from(MESSAGE_ID_ALPHABET[usize::from(byte % 32)]))
        .collect();
    format!("SC{}-{random}", utc_date(now_s).replace('-', ""))
}

/// Writes a draft as a pain.001 document: the issuer pays each line's merchant, on the
/// day the batch is closed. End-to-end ids are the message id and the line's number; the
/// remittance names the batch and the merchant.
fn settlement_writer(issuer: Party) -> SettlementWriter {
    Arc::new(move |draft: &ClearingDraft<'_>| {
        let transfers = draft
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| Transfer {
                end_to_end_id: format!("{}-{}", draft.message_id, index + 1),
                creditor: Party {
                    name: line.merchant_name.clone(),
                    iban: line.bank.iban.clone(),
                    bic: line.bank.bic.clone(),
                },
                amount: Money::new(line.amount, draft.currency),
                remittance: format!(
                    "Settlement {} merchant {}",
                    draft.message_id, line.merchant_id
                ),
            })
            .collect();
        write_pain_001(&SettlementBatch {
            message_id: draft.message_id.to_owned(),
            created_at_s: draft.created_at_s,
            execution_date_s: draft.created_at_s,
            debtor: issuer.clone(),
            transfers,
        })
    })
}

impl Service {
    /// The closed batches, newest first (at most [`crate::parties::LIST_LEN_MAX`]),
    /// without their payouts.
    pub async fn clearing_batches(&self) -> Result<Vec<ClearingBatch>, AppError> {
        Ok(self
            .store
            .clearing_batches(crate::parties::LIST_LEN_MAX)
            .await?)
    }

    /// A closed batch and its payouts.
    pub async fn clearing_batch(
        &self,
        batch_id: i64,
    ) -> Result<(ClearingBatch, Vec<Payout>), AppError> {
        self.store
            .clearing_batch(batch_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// A closed batch's settlement file, exactly as it was written.
    pub async fn settlement_file(&self, batch_id: i64) -> Result<String, AppError> {
        self.store
            .settlement_file(batch_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Sets where a merchant is paid out to.
    pub async fn set_merchant_bank(
        &self,
        merchant_id: i64,
        bank: BankDetails,
    ) -> Result<MerchantRecord, AppError> {
        if !self.store.set_merchant_bank(merchant_id, bank).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!(merchant_id, "merchant bank details set");
        self.store
            .merchant(merchant_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Closes a clearing batch in `currency`: pays out every settlement balance of a
    /// merchant with bank details and stores the settlement file with the batch; its
    /// evidence record names `by`.
    pub async fn close_clearing_batch(
        &self,
        currency: &str,
        by: ActedBy,
    ) -> Result<ClosedBatch, AppError> {
        let currency: Currency = parse_currency(currency)?;
        let Some(issuer_bank) = self.settings.issuer_bank.clone() else {
            return Err(AppError::IssuerBankMissing);
        };
        let issuer = Party {
            name: self.settings.issuer_name.clone(),
            iban: issuer_bank.iban,
            bic: issuer_bank.bic,
        };
        let now_s = self.now_s();
        let close = CloseClearing {
            currency,
            message_id: message_id(now_s, sceau_crypto::random_bytes()),
            write_file: settlement_writer(issuer),
            by,
            now_s,
        };
        match self.store.close_clearing_batch(close).await? {
            ClearingOutcome::Closed {
                batch,
                payouts,
                skipped,
            } => {
                tracing::info!(
                    batch_id = batch.id,
                    currency = currency.code(),
                    payouts = batch.payouts_count,
                    total = batch.total,
                    skipped = skipped.len(),
                    "clearing batch closed"
                );
                Ok(ClosedBatch {
                    batch,
                    payouts,
                    skipped,
                })
            }
            ClearingOutcome::NothingToPay { skipped } => Err(AppError::NothingToClear(format!(
                "no merchant with bank details has money to receive in {}; {} merchant(s) \
                 without bank details wait",
                currency.code(),
                skipped.len()
            ))),
            ClearingOutcome::Unwritable(error) => {
                tracing::warn!(%error, "settlement file refused; nothing was paid");
                Err(AppError::Settlement(error))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_carry_the_date_and_fit_the_file() {
        let id = message_id(1_790_000_000, [0, 1, 31, 32, 255, 7, 8, 9, 10, 11]);
        assert_eq!(id, "SC20260921-AB9A9HJKLM");
        assert!(id.len() + "-5000".len() <= sceau_domain::clearing::END_TO_END_ID_LEN_MAX);
    }

    #[test]
    fn bank_details_go_together_and_are_checked() {
        let bank = parse_optional_bank(Some("de89 3704 0044 0532 0130 00"), Some("cobadeff"))
            .unwrap()
            .unwrap();
        assert_eq!(bank.iban.as_str(), "DE89370400440532013000");
        assert_eq!(bank.bic.as_str(), "COBADEFF");
        assert!(parse_optional_bank(None, None).unwrap().is_none());
        let code = |iban, bic| parse_optional_bank(iban, bic).unwrap_err().code();
        assert_eq!(
            code(Some("DE89370400440532013000"), None),
            "incomplete_bank_details"
        );
        assert_eq!(
            code(Some("DE88370400440532013000"), Some("COBADEFF")),
            "iban_checksum"
        );
        assert_eq!(
            code(Some("DE89370400440532013000"), Some("COBA")),
            "invalid_bic"
        );
    }
}
