//! What both backends share: the mapping of policies to columns, the figures the ledger
//! rules take, and the ledger's checks as SQL that SQLite and PostgreSQL both run.

use crate::StoreError;
use crate::model::{
    AuthorizationView, BankDetails, CertificateKind, CertificateRecord, CheckoutEvent,
    CheckoutView, ClearingBatch, ClientRecord, CommandRequest, HoldCheckout, MerchantCommand,
    NumberView, Outcome, Payout, PayoutLine, SealOutcome, TypedSeal, UseOutcome,
};
use crate::sql::Sql;
use sceau_domain::Currency;
use sceau_domain::Money;
use sceau_domain::certificate::{self, OneUse, UseRefusal};
use sceau_domain::checkout::{
    self, Checkout, HoldMissing, HoldPlan, Payer, SealPlan, SignIn, Stage,
};
use sceau_domain::decline::{Decline, Rejection};
use sceau_domain::ledger::AuthorizationFigures;
use sceau_domain::policy::{self, Attempt, AuthorizationPlan, Holder, NumberUsage};
use sceau_domain::policy::{AmountRule, MerchantLock, UsagePolicy};
use sceau_domain::seal::SealStatus;
use subtle::ConstantTimeEq;

/// A policy as the columns `amount_rule`, `amount_limit`, `merchant_lock`, `merchant_id`.
pub(crate) fn policy_columns(
    policy: &UsagePolicy,
) -> (&'static str, Option<i64>, &'static str, Option<i64>) {
    let (amount_rule, amount_limit) = match policy.amount {
        AmountRule::Any => ("any", None),
        AmountRule::Cap(cap) => ("cap", Some(cap)),
        AmountRule::Exact(exact) => ("exact", Some(exact)),
    };
    let (merchant_lock, merchant_id) = match policy.merchant {
        MerchantLock::Any => ("any", None),
        MerchantLock::Named(id) => ("named", Some(id)),
        MerchantLock::FirstMerchant => ("first", None),
    };
    (amount_rule, amount_limit, merchant_lock, merchant_id)
}

/// The inverse of [`policy_columns`]: the amount rule, the merchant lock and the merchant
/// the number is locked to (if any). `Err` names the column that holds a bad value.
pub(crate) fn policy_from_columns(
    amount_rule: &str,
    amount_limit: Option<i64>,
    merchant_lock: &str,
    merchant_id: Option<i64>,
) -> Result<(AmountRule, MerchantLock, Option<i64>), &'static str> {
    let amount = match (amount_rule, amount_limit) {
        ("any", _) => AmountRule::Any,
        ("cap", Some(limit)) => AmountRule::Cap(limit),
        ("exact", Some(limit)) => AmountRule::Exact(limit),
        _ => return Err("amount_rule"),
    };
    let (merchant, locked_merchant) = match (merchant_lock, merchant_id) {
        ("any", _) => (MerchantLock::Any, None),
        ("named", Some(id)) => (MerchantLock::Named(id), Some(id)),
        ("first", locked) => (MerchantLock::FirstMerchant, locked),
        _ => return Err("merchant_lock"),
    };
    Ok((amount, merchant, locked_merchant))
}

/// Bank details as the columns `iban`, `bic` (both set or both null).
pub(crate) fn bank_columns(bank: Option<&BankDetails>) -> (Option<&str>, Option<&str>) {
    match bank {
        Some(bank) => (Some(bank.iban.as_str()), Some(bank.bic.as_str())),
        None => (None, None),
    }
}

/// The inverse of [`bank_columns`]. `Err` names the column that holds a bad value.
pub(crate) fn bank_from_columns(
    iban: Option<String>,
    bic: Option<String>,
) -> Result<Option<BankDetails>, &'static str> {
    match (iban, bic) {
        (None, None) => Ok(None),
        (Some(iban), Some(bic)) => Ok(Some(BankDetails {
            iban: iban.parse().map_err(|_| "iban")?,
            bic: bic.parse().map_err(|_| "bic")?,
        })),
        (None, Some(_)) => Err("iban"),
        (Some(_), None) => Err("bic"),
    }
}

/// The batch read back pays exactly its lines, and adds up.
pub(crate) fn check_payouts(
    lines: &[PayoutLine],
    batch: &ClearingBatch,
    payouts: &[Payout],
) -> Result<(), StoreError> {
    let paid_as_drafted = lines.len() == payouts.len()
        && lines.iter().zip(payouts).all(|(line, payout)| {
            (line.account_id, line.merchant_id, line.amount)
                == (payout.account_id, payout.merchant_id, payout.amount)
        });
    let total: i128 = payouts.iter().map(|payout| i128::from(payout.amount)).sum();
    if !paid_as_drafted
        || i128::from(batch.total) != total
        || batch.payouts_count as usize != payouts.len()
    {
        return Err(StoreError::Corrupt(format!(
            "clearing batch {} differs from its lines",
            batch.id
        )));
    }
    Ok(())
}

/// The minor units of an optional partial amount, refused if it is in another currency
/// than the authorization.
pub(crate) fn in_currency_of(
    view: &AuthorizationView,
    amount: Option<Money>,
) -> Result<Option<i64>, Rejection> {
    match amount {
        Some(money) if money.currency.code() != view.currency => Err(Rejection::CurrencyMismatch),
        Some(money) => Ok(Some(money.minor)),
        None => Ok(None),
    }
}

pub(crate) fn figures(view: &AuthorizationView) -> AuthorizationFigures {
    AuthorizationFigures {
        state: view.state,
        amount: view.amount,
        captured: view.captured,
        refunded: view.refunded,
        hold_expires_at_s: view.hold_expires_at_s,
    }
}

/// The ledger's rules, each as a query returning the ids of the rows that break it. The
/// checks group once and join, so that they stay linear in the size of the ledger
/// without an index per foreign key.
pub(crate) static LEDGER_CHECKS: [(&str, Sql); 11] = [
    (
        "client account below its floor",
        Sql::new(
            "SELECT id FROM accounts WHERE kind = 'client' AND balance - held < -credit_limit",
        ),
    ),
    (
        "held differs from the sum of pending authorizations",
        Sql::new(
            "SELECT a.id FROM accounts a LEFT JOIN (SELECT debit_account, SUM(amount) AS total \
             FROM authorizations WHERE state = 'authorized' GROUP BY debit_account) h ON h.debit_account = a.id \
             WHERE a.held <> COALESCE(h.total, 0)",
        ),
    ),
    (
        "balance differs from the sum of its transfers",
        Sql::new(
            "SELECT a.id FROM accounts a \
             LEFT JOIN (SELECT credit_account, SUM(amount) AS total FROM transfers GROUP BY credit_account) c \
             ON c.credit_account = a.id \
             LEFT JOIN (SELECT debit_account, SUM(amount) AS total FROM transfers GROUP BY debit_account) d \
             ON d.debit_account = a.id \
             WHERE a.balance <> COALESCE(c.total, 0) - COALESCE(d.total, 0)",
        ),
    ),
    (
        "transfer between accounts of different currencies",
        Sql::new(
            "SELECT t.id FROM transfers t JOIN accounts d ON d.id = t.debit_account \
             JOIN accounts c ON c.id = t.credit_account WHERE d.currency <> t.currency OR c.currency <> t.currency",
        ),
    ),
    (
        "number used beyond its policy",
        Sql::new(
            "SELECT id FROM numbers WHERE uses_count > uses_max \
             OR (amount_rule = 'cap' AND amount_used > amount_limit)",
        ),
    ),
    (
        "number usage differs from its authorizations",
        Sql::new(
            "SELECT n.id FROM numbers n LEFT JOIN (SELECT number_id, COUNT(*) AS uses, SUM(amount) AS total \
             FROM authorizations GROUP BY number_id) u ON u.number_id = n.id \
             WHERE n.uses_count <> COALESCE(u.uses, 0) OR n.amount_used <> COALESCE(u.total, 0)",
        ),
    ),
    (
        "exact-amount number used for another amount",
        Sql::new(
            "SELECT au.id FROM authorizations au JOIN numbers n ON n.id = au.number_id \
             WHERE n.amount_rule = 'exact' AND au.amount <> n.amount_limit",
        ),
    ),
    (
        "authorization captured or refunded beyond its amount",
        Sql::new(
            "SELECT id FROM authorizations WHERE captured > amount OR refunded > captured \
             OR (state = 'captured') <> (captured > 0)",
        ),
    ),
    (
        "captured or refunded figures differ from their transfers",
        Sql::new(
            "SELECT au.id FROM authorizations au \
             LEFT JOIN (SELECT authorization_id, SUM(amount) FILTER (WHERE kind = 'capture') AS captured, \
             SUM(amount) FILTER (WHERE kind = 'refund') AS refunded FROM transfers \
             WHERE authorization_id IS NOT NULL GROUP BY authorization_id) t ON t.authorization_id = au.id \
             WHERE au.captured <> COALESCE(t.captured, 0) OR au.refunded <> COALESCE(t.refunded, 0)",
        ),
    ),
    (
        "payout not from a merchant account to the funding account, in its batch's currency",
        Sql::new(
            "SELECT t.id FROM transfers t JOIN accounts d ON d.id = t.debit_account \
             JOIN accounts c ON c.id = t.credit_account LEFT JOIN clearing_batches b ON b.id = t.clearing_batch_id \
             WHERE (t.kind = 'payout') <> (t.clearing_batch_id IS NOT NULL) OR (t.kind = 'payout' \
             AND (d.kind <> 'merchant' OR c.kind <> 'funding' OR b.id IS NULL OR b.currency <> t.currency))",
        ),
    ),
    (
        "clearing batch count or total differs from its payouts",
        Sql::new(
            "SELECT b.id FROM clearing_batches b LEFT JOIN (SELECT clearing_batch_id, COUNT(*) AS payouts, \
             SUM(amount) AS total FROM transfers WHERE clearing_batch_id IS NOT NULL GROUP BY clearing_batch_id) p \
             ON p.clearing_batch_id = b.id \
             WHERE b.payouts_count <> COALESCE(p.payouts, 0) OR b.total <> COALESCE(p.total, 0)",
        ),
    ),
];

/// A checkout's failure after its third wrong seal.
pub use sceau_domain::checkout::FAILED_SEAL as CHECKOUT_FAILED_SEAL;

/// A checkout as its rules take it; `Err` for one held without an authorization.
pub(crate) fn checkout_facts(view: &CheckoutView) -> Result<Checkout, StoreError> {
    Ok(Checkout {
        stage: Stage::of(view.state, view.authorization_id).ok_or_else(|| {
            StoreError::Corrupt(format!("checkout {} held without authorization", view.id))
        })?,
        client_id: view.client_id,
        expires_at_s: view.expires_at_s,
        seal: seal_status(view),
    })
}

/// A held checkout whose authorization is gone.
pub(crate) fn hold_missing(missing: HoldMissing) -> StoreError {
    StoreError::Corrupt(format!(
        "authorization {} of a held checkout vanished",
        missing.authorization_id
    ))
}

/// The answer to a typed seal whose plan writes nothing.
pub(crate) fn unwritten(plan: SealPlan) -> Option<SealOutcome> {
    match plan {
        SealPlan::Refused(refusal) => Some(SealOutcome::Refused(refusal)),
        SealPlan::Expired => Some(SealOutcome::Expired),
        _ => None,
    }
}

/// Whether the typed seal is `view`'s live seal.
pub(crate) fn sealed_by(typed: &TypedSeal, view: &CheckoutView) -> bool {
    view.seal
        .as_ref()
        .is_some_and(|stored| (typed.check)(view, stored))
}

/// Everything an authorization needs to know about the number and its holder, read in
/// one query by either backend.
pub(crate) struct NumberForAuthorization {
    pub(crate) view: NumberView,
    /// The holder's account, where the amount is held.
    pub(crate) account_id: i64,
    pub(crate) details_fingerprint: Vec<u8>,
    pub(crate) usage: NumberUsage,
    pub(crate) version: i64,
    pub(crate) holder: Holder,
}

/// What an authorization request does with the number found for it
/// ([`policy::plan_authorization`]); the details are compared in constant time here.
pub(crate) fn authorization_plan(
    number: Option<&NumberForAuthorization>,
    request: &CommandRequest,
) -> Result<AuthorizationPlan, StoreError> {
    let MerchantCommand::Authorize {
        details_fingerprint,
        amount,
        currency,
        ..
    } = &request.command
    else {
        return Err(StoreError::Corrupt(
            "authorize called with another command".into(),
        ));
    };
    let attempt = |number: &NumberForAuthorization| Attempt {
        merchant_id: request.merchant_id,
        amount_minor: *amount,
        same_currency: number.view.currency == currency.code(),
        details_match: bool::from(
            number
                .details_fingerprint
                .as_slice()
                .ct_eq(details_fingerprint.as_slice()),
        ),
        holder_blocked: false,
    };
    Ok(match number {
        Some(number) => policy::plan_authorization(
            Some((&number.usage, &number.holder)),
            &attempt(number),
            request.now_s,
        ),
        None => AuthorizationPlan::Decline(Decline::UnknownNumber),
    })
}

/// An authorization declined with nothing written.
pub(crate) fn declined(decline: Decline) -> Outcome {
    Outcome::Declined {
        decline,
        paused: None,
    }
}

/// The authorization an approved request records, under the id it gets.
pub(crate) fn approved_authorization(
    request: &CommandRequest,
    number: &NumberView,
    id: i64,
) -> Result<AuthorizationView, StoreError> {
    let MerchantCommand::Authorize {
        amount,
        currency,
        merchant_reference,
        hold_ttl_s,
        ..
    } = &request.command
    else {
        return Err(StoreError::Corrupt(
            "authorize called with another command".into(),
        ));
    };
    Ok(AuthorizationView {
        id,
        merchant_id: request.merchant_id,
        number_id: number.id,
        number_last_four: number.last_four.clone(),
        client_id: number.client_id,
        currency: currency.code().to_owned(),
        amount: *amount,
        captured: 0,
        refunded: 0,
        state: sceau_domain::ledger::AuthorizationState::Authorized,
        merchant_reference: merchant_reference.clone(),
        created_at_s: request.now_s,
        hold_expires_at_s: request.now_s.saturating_add(*hold_ttl_s),
    })
}

/// The live seal's figures as the seal rules take them.
pub(crate) fn seal_status(view: &CheckoutView) -> Option<SealStatus> {
    view.seal.as_ref().map(|seal| SealStatus {
        issued_at_s: seal.issued_at_s,
        expires_at_s: seal.expires_at_s,
        wrong_tries: view.seal_wrong_tries,
        sends: view.seal_sends,
    })
}

/// The webhook body for a checkout that just reached a final state.
pub(crate) fn checkout_event(view: &CheckoutView, now_s: i64) -> Result<CheckoutEvent, StoreError> {
    let currency: Currency = view
        .currency
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("checkout {} currency", view.id)))?;
    Ok(CheckoutEvent {
        event: format!("checkout.{}", view.state.as_str()),
        checkout_id: view.public_id.clone(),
        merchant_reference: view.merchant_reference.clone(),
        amount: Money::new(view.amount, currency).to_decimal(),
        currency: view.currency.clone(),
        state: view.state,
        failure: view.failure.clone(),
        authorization_id: view.authorization_id,
        created_at: now_s,
    })
}

/// The one use of a certificate as stored ([`certificate::use_once`]): what it writes,
/// or why not.
pub(crate) fn use_verdict(
    record: &CertificateRecord,
    kind: CertificateKind,
    now_s: i64,
) -> Result<OneUse, UseRefusal> {
    let facts = certificate::Certificate {
        disposable: record.kind == kind,
        used_at_s: record.used_at_s,
        revoked_at_s: record.revoked_at_s,
        not_before_s: record.not_before_s,
        not_after_s: record.not_after_s,
    };
    certificate::use_once(&facts, now_s)
}

/// The answer to a refused use.
pub(crate) fn use_refused(refusal: UseRefusal) -> UseOutcome {
    match refusal {
        UseRefusal::NotDisposable => UseOutcome::NotDisposable,
        UseRefusal::AlreadyUsed => UseOutcome::AlreadyUsed,
        UseRefusal::Revoked => UseOutcome::Revoked,
        UseRefusal::NotYetValid => UseOutcome::NotYetValid,
        UseRefusal::Expired => UseOutcome::Expired,
    }
}

/// An account's unlock code from its columns: `Some(None)` when there is none, `None`
/// if the nonce is not 16 bytes.
pub(crate) fn unlock_code(
    client_id: i64,
    nonce: Option<Vec<u8>>,
    issued_at_s: Option<i64>,
) -> Option<Option<sceau_domain::sign_in::UnlockInput>> {
    match (nonce, issued_at_s) {
        (Some(nonce), Some(issued_at_s)) => Some(Some(sceau_domain::sign_in::UnlockInput {
            client_id,
            issued_at_s,
            nonce: nonce.as_slice().try_into().ok()?,
        })),
        _ => Some(None),
    }
}

/// An account's unlock codes from their columns (`None` if the nonce is not 16 bytes).
pub(crate) fn unlock_state(
    client_id: i64,
    nonce: Option<Vec<u8>>,
    issued_at_s: Option<i64>,
    sends: u32,
    sends_since_s: i64,
) -> Option<sceau_domain::sign_in::UnlockState> {
    Some(sceau_domain::sign_in::UnlockState {
        code: unlock_code(client_id, nonce, issued_at_s)?,
        sends,
        sends_since_s,
    })
}

/// An unlock state's code as its columns (nonce, issue time).
pub(crate) fn unlock_columns(state: &crate::model::UnlockState) -> (Option<Vec<u8>>, Option<i64>) {
    match state.code {
        Some(code) => (Some(code.nonce.to_vec()), Some(code.issued_at_s)),
        None => (None, None),
    }
}

/// The tally of [`SENT_THIS_HOUR_SQLITE`]'s rows.
pub(crate) fn sent_this_hour(
    rows: impl IntoIterator<Item = (String, i64, i64)>,
) -> Result<sceau_domain::reach::SentThisHour, StoreError> {
    let mut sent = sceau_domain::reach::SentThisHour::default();
    for (kind, count, of_this_merchant) in rows {
        let kind = sceau_domain::reach::MessageKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("message kind {kind:?}")))?;
        let count = crate::error::stored_count(count, "messages of the hour")?;
        let of_this_merchant =
            crate::error::stored_count(of_this_merchant, "messages of the hour")?;
        sent.add(kind, count, of_this_merchant);
    }
    Ok(sent)
}

/// What signing in on a checkout does, from what the store read in its transaction: the
/// checkout (`view` and its `facts`), the client, and how many checkouts they hold now.
pub(crate) fn hold_plan(
    hold: &HoldCheckout,
    facts: Option<&Checkout>,
    view: Option<&CheckoutView>,
    client: Option<&ClientRecord>,
    held_now: i64,
) -> HoldPlan {
    checkout::on_sign_in(&SignIn {
        checkout: facts,
        client_id: hold.client_id,
        payer: client.zip(view).map(|(client, view)| Payer {
            stopped: client.stopped(hold.now_s),
            same_currency: client.currency.code() == view.currency,
        }),
        held_now,
        held_max: hold.held_max,
        now_s: hold.now_s,
    })
}
