//! Business outcomes that are not successes: declines of an authorization and
//! rejections of a later operation. Each has a stable code that clients can rely on.

use serde::{Deserialize, Serialize};

/// Why an authorization was declined. The codes are part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decline {
    /// No live number matches.
    UnknownNumber,
    /// The expiry or the security code is wrong (which one is not said).
    WrongCardDetails,
    /// The number's validity has passed.
    Expired,
    /// The number has no use left.
    AlreadyUsed,
    /// The amount would exceed the number's cap.
    OverCap,
    /// The number is locked to an exact amount and this is not it.
    AmountMismatch,
    /// The number is locked to another merchant.
    OtherMerchant,
    /// The number is in another currency than the payment.
    CurrencyMismatch,
    /// The client's account cannot cover the amount.
    InsufficientFunds,
    /// The number or the client is blocked.
    Blocked,
}

impl Decline {
    pub fn code(&self) -> &'static str {
        match self {
            Decline::UnknownNumber => "unknown_number",
            Decline::WrongCardDetails => "wrong_card_details",
            Decline::Expired => "expired",
            Decline::AlreadyUsed => "already_used",
            Decline::OverCap => "over_cap",
            Decline::AmountMismatch => "amount_mismatch",
            Decline::OtherMerchant => "other_merchant",
            Decline::CurrencyMismatch => "currency_mismatch",
            Decline::InsufficientFunds => "insufficient_funds",
            Decline::Blocked => "blocked",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Decline::UnknownNumber => "no live payment number matches",
            Decline::WrongCardDetails => "the card details do not match",
            Decline::Expired => "the payment number has expired",
            Decline::AlreadyUsed => "the payment number has already been used",
            Decline::OverCap => "the amount exceeds what the payment number allows",
            Decline::AmountMismatch => "the payment number is locked to another amount",
            Decline::OtherMerchant => "the payment number is locked to another merchant",
            Decline::CurrencyMismatch => "the payment number is in another currency",
            Decline::InsufficientFunds => "insufficient funds",
            Decline::Blocked => "the payment number or its holder is blocked",
        }
    }

    pub const ALL: [Decline; 10] = [
        Decline::UnknownNumber,
        Decline::WrongCardDetails,
        Decline::Expired,
        Decline::AlreadyUsed,
        Decline::OverCap,
        Decline::AmountMismatch,
        Decline::OtherMerchant,
        Decline::CurrencyMismatch,
        Decline::InsufficientFunds,
        Decline::Blocked,
    ];
}

/// Why a capture, void or refund was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// No such authorization for this merchant.
    NotFound,
    /// The authorization was already captured.
    AlreadyCaptured,
    /// The authorization was voided.
    Voided,
    /// The hold expired before capture.
    HoldExpired,
    /// Only a captured authorization can be refunded.
    NotCaptured,
    /// More than was authorized.
    ExceedsAuthorized,
    /// More than was captured and not yet refunded.
    ExceedsRefundable,
    /// The amount is in another currency than the authorization.
    CurrencyMismatch,
    /// The authorization holds a checkout's amount: only the client's seal captures it,
    /// and only the checkout's end releases it.
    OfCheckout,
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotFound => "authorization_not_found",
            Rejection::AlreadyCaptured => "already_captured",
            Rejection::Voided => "authorization_voided",
            Rejection::HoldExpired => "authorization_expired",
            Rejection::NotCaptured => "not_captured",
            Rejection::ExceedsAuthorized => "amount_exceeds_authorized",
            Rejection::ExceedsRefundable => "amount_exceeds_refundable",
            Rejection::CurrencyMismatch => "currency_mismatch",
            Rejection::OfCheckout => "authorization_of_checkout",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Rejection::NotFound => "no such authorization",
            Rejection::AlreadyCaptured => "the authorization was already captured",
            Rejection::Voided => "the authorization was voided",
            Rejection::HoldExpired => "the authorization expired before capture",
            Rejection::NotCaptured => "only a captured authorization can be refunded",
            Rejection::ExceedsAuthorized => "the amount exceeds what was authorized",
            Rejection::ExceedsRefundable => "the amount exceeds what remains refundable",
            Rejection::CurrencyMismatch => "the amount is in another currency",
            Rejection::OfCheckout => {
                "this authorization is a checkout's: only the client's seal captures it"
            }
        }
    }
}
