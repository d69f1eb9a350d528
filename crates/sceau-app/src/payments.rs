//! A merchant's payments by card details (Figures 4 and 5): authorize, capture, void and
//! refund, each one transaction of the store, and the read of an authorization.

use crate::error::AppError;
use crate::service::Service;
use sceau_domain::decline::Rejection;
use sceau_domain::{CardNumber, Expiry, Money, SecurityCode, text};
use sceau_store::{
    AuthorizationView, CommandRequest, Executed, IdempotencyKey, MerchantCommand, Outcome,
};
use zeroize::Zeroizing;

/// Card details and an amount, as a merchant sends them to authorize a payment.
pub struct CardPayment {
    pub number: CardNumber,
    pub expiry: Expiry,
    pub code: SecurityCode,
    pub amount: Money,
    /// The merchant's own reference (may be empty).
    pub reference: String,
}

impl Service {
    /// Authorizes `payment` for `merchant_id`. The card is found by its fingerprints
    /// (the store keeps no card number); whether it may pay is decided in the store's
    /// transaction (`Outcome::Authorized`, `Declined` or `Rejected`).
    pub async fn authorize(
        &self,
        merchant_id: i64,
        idempotency: Option<IdempotencyKey>,
        payment: CardPayment,
    ) -> Result<Executed, AppError> {
        AppError::check_text(
            "reference",
            AppError::InvalidReference,
            &payment.reference,
            text::REFERENCE.or_empty(),
        )?;
        let digits = Zeroizing::new(payment.number.reveal());
        let command = MerchantCommand::Authorize {
            number_fingerprint: self.keys.number_fingerprint(&digits),
            details_fingerprint: self.keys.card_details_fingerprint(
                &digits,
                payment.expiry.month,
                payment.expiry.year,
                &Zeroizing::new(payment.code.reveal()),
            ),
            amount: payment.amount.minor,
            currency: payment.amount.currency,
            merchant_reference: payment.reference,
            hold_ttl_s: self.settings.hold_ttl_s,
        };
        self.run_merchant_command(merchant_id, idempotency, command)
            .await
    }

    /// Runs a merchant's command in one transaction of the store (or answers it again,
    /// for a replayed idempotency key); a decline that paused the client is told to them.
    pub async fn run_merchant_command(
        &self,
        merchant_id: i64,
        idempotency: Option<IdempotencyKey>,
        command: MerchantCommand,
    ) -> Result<Executed, AppError> {
        let request = CommandRequest {
            merchant_id,
            idempotency,
            command,
            now_s: self.now_s(),
        };
        let executed = self.store.execute(request).await?;
        if let Outcome::Declined {
            paused: Some(paused),
            ..
        } = executed.outcome
            && !executed.replayed
        {
            self.tell_paused(paused).await;
        }
        Ok(executed)
    }

    /// An authorization of `merchant_id` (another merchant's is not found).
    pub async fn merchant_authorization(
        &self,
        merchant_id: i64,
        authorization_id: i64,
    ) -> Result<AuthorizationView, AppError> {
        self.store
            .authorization(merchant_id, authorization_id)
            .await?
            .ok_or(AppError::Rejected(Rejection::NotFound))
    }
}
