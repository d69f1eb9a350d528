//! Ledger rules: accounts, their floors, and the authorization lifecycle
//! `Authorized → Captured | Voided | Expired`, with refunds after capture.
//!
//! Every movement is a transfer between two accounts of one currency: the debit side
//! loses what the credit side gains, so the sum of all balances of a currency stays zero.
//! An authorization is a pending transfer (a hold) that capture posts and void or
//! expiry releases.

use crate::decline::Rejection;
use serde::{Deserialize, Serialize};

/// What an account is for; the kind decides its floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A client's account: may not go below minus its credit limit, counting holds.
    Client,
    /// A merchant's settlement account: refunds may take it below zero (a receivable).
    Merchant,
    /// The issuer's funding account of a currency: the other side of opening balances.
    Funding,
}

impl AccountKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountKind::Client => "client",
            AccountKind::Merchant => "merchant",
            AccountKind::Funding => "funding",
        }
    }

    pub fn parse(text: &str) -> Option<AccountKind> {
        match text {
            "client" => Some(AccountKind::Client),
            "merchant" => Some(AccountKind::Merchant),
            "funding" => Some(AccountKind::Funding),
            _ => None,
        }
    }
}

/// An account's figures, in minor units. `held` is the sum of its pending debits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFigures {
    pub kind: AccountKind,
    pub balance: i64,
    pub held: i64,
    pub credit_limit: i64,
}

impl AccountFigures {
    /// What may still be spent: balance, less holds, plus the credit limit.
    pub fn available(&self) -> i128 {
        i128::from(self.balance) - i128::from(self.held) + i128::from(self.credit_limit)
    }

    /// Whether the account keeps its rule after a further debit or hold of `amount`.
    pub fn may_debit(&self, amount: i64) -> bool {
        match self.kind {
            AccountKind::Client => self.available() >= i128::from(amount),
            AccountKind::Merchant | AccountKind::Funding => true,
        }
    }

    /// Whether the account keeps its rule as it stands.
    pub fn keeps_rule(&self) -> bool {
        self.held >= 0 && self.credit_limit >= 0 && self.may_debit(0)
    }
}

/// Lifecycle of an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationState {
    Authorized,
    Captured,
    Voided,
    Expired,
}

impl AuthorizationState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthorizationState::Authorized => "authorized",
            AuthorizationState::Captured => "captured",
            AuthorizationState::Voided => "voided",
            AuthorizationState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<AuthorizationState> {
        match text {
            "authorized" => Some(AuthorizationState::Authorized),
            "captured" => Some(AuthorizationState::Captured),
            "voided" => Some(AuthorizationState::Voided),
            "expired" => Some(AuthorizationState::Expired),
            _ => None,
        }
    }

    fn refuse_unless_authorized(&self) -> Result<(), Rejection> {
        match self {
            AuthorizationState::Authorized => Ok(()),
            AuthorizationState::Captured => Err(Rejection::AlreadyCaptured),
            AuthorizationState::Voided => Err(Rejection::Voided),
            AuthorizationState::Expired => Err(Rejection::HoldExpired),
        }
    }
}

/// An authorization's figures, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizationFigures {
    pub state: AuthorizationState,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    pub hold_expires_at_s: i64,
}

/// Capture (once, full or partial): the amount to post. The hold is released whole.
/// An amount that is not positive is refused like one beyond the authorization (as
/// [`refund`] does), so that nothing downstream sees a zero or negative transfer.
pub fn capture(
    authorization: &AuthorizationFigures,
    amount: Option<i64>,
    now_s: i64,
) -> Result<i64, Rejection> {
    authorization.state.refuse_unless_authorized()?;
    if now_s >= authorization.hold_expires_at_s {
        return Err(Rejection::HoldExpired);
    }
    let amount = amount.unwrap_or(authorization.amount);
    if amount > authorization.amount || amount <= 0 {
        return Err(Rejection::ExceedsAuthorized);
    }
    Ok(amount)
}

/// Void: releases the hold. Only an authorization not yet captured can be voided.
pub fn void(authorization: &AuthorizationFigures) -> Result<(), Rejection> {
    authorization.state.refuse_unless_authorized()
}

/// Whether the hold should be released by expiry at `now_s`.
pub fn hold_expired(authorization: &AuthorizationFigures, now_s: i64) -> bool {
    authorization.state == AuthorizationState::Authorized
        && now_s >= authorization.hold_expires_at_s
}

/// Refund (possibly several, partial): the amount to move back to the client.
pub fn refund(authorization: &AuthorizationFigures, amount: Option<i64>) -> Result<i64, Rejection> {
    if authorization.state != AuthorizationState::Captured {
        return Err(Rejection::NotCaptured);
    }
    let refundable = authorization.captured - authorization.refunded;
    let amount = amount.unwrap_or(refundable);
    if amount > refundable || amount <= 0 {
        return Err(Rejection::ExceedsRefundable);
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorized(amount: i64) -> AuthorizationFigures {
        AuthorizationFigures {
            state: AuthorizationState::Authorized,
            amount,
            captured: 0,
            refunded: 0,
            hold_expires_at_s: 100,
        }
    }

    #[test]
    fn client_floor_counts_holds_and_credit() {
        let account = AccountFigures {
            kind: AccountKind::Client,
            balance: 1000,
            held: 300,
            credit_limit: 200,
        };
        assert_eq!(account.available(), 900);
        assert!(account.may_debit(900));
        assert!(!account.may_debit(901));
        let merchant = AccountFigures {
            kind: AccountKind::Merchant,
            balance: -5,
            held: 0,
            credit_limit: 0,
        };
        assert!(merchant.may_debit(i64::MAX));
        assert!(merchant.keeps_rule());
    }

    #[test]
    fn capture_once_full_or_partial() {
        assert_eq!(capture(&authorized(500), None, 0), Ok(500));
        assert_eq!(capture(&authorized(500), Some(200), 0), Ok(200));
        assert_eq!(
            capture(&authorized(500), Some(501), 0),
            Err(Rejection::ExceedsAuthorized)
        );
        assert_eq!(
            capture(&authorized(500), Some(0), 0),
            Err(Rejection::ExceedsAuthorized)
        );
        assert_eq!(
            capture(&authorized(500), Some(-1), 0),
            Err(Rejection::ExceedsAuthorized)
        );
        assert_eq!(
            capture(&authorized(500), None, 100),
            Err(Rejection::HoldExpired)
        );
        let captured = AuthorizationFigures {
            state: AuthorizationState::Captured,
            ..authorized(500)
        };
        assert_eq!(capture(&captured, None, 0), Err(Rejection::AlreadyCaptured));
        assert_eq!(void(&captured), Err(Rejection::AlreadyCaptured));
        let voided = AuthorizationFigures {
            state: AuthorizationState::Voided,
            ..authorized(500)
        };
        assert_eq!(capture(&voided, None, 0), Err(Rejection::Voided));
    }

    #[test]
    fn refunds_stay_within_captured() {
        let captured = AuthorizationFigures {
            state: AuthorizationState::Captured,
            captured: 400,
            refunded: 100,
            ..authorized(500)
        };
        assert_eq!(refund(&captured, None), Ok(300));
        assert_eq!(refund(&captured, Some(300)), Ok(300));
        assert_eq!(
            refund(&captured, Some(301)),
            Err(Rejection::ExceedsRefundable)
        );
        assert_eq!(
            refund(&authorized(500), Some(1)),
            Err(Rejection::NotCaptured)
        );
        let all_refunded = AuthorizationFigures {
            refunded: 400,
            ..captured
        };
        assert_eq!(
            refund(&all_refunded, None),
            Err(Rejection::ExceedsRefundable)
        );
    }

    #[test]
    fn expiry_of_holds() {
        assert!(!hold_expired(&authorized(1), 99));
        assert!(hold_expired(&authorized(1), 100));
        let voided = AuthorizationFigures {
            state: AuthorizationState::Voided,
            ..authorized(1)
        };
        assert!(!hold_expired(&voided, 1000));
    }
}
