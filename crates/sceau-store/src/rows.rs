//! The store's rows as both backends read them: the columns of each row type, its one
//! decoder (by column name, for either driver), and the reads the backends share.

use crate::StoreError;
use crate::model::*;
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use sceau_domain::ledger::{AccountKind, AuthorizationState};
use sceau_domain::policy::{NumberState, UsagePolicy};

macro_rules! client_columns {
    () => {
        "c.id, c.login, c.display_name, c.password_hash, c.phone, c.email, c.account_id, a.currency, \
         c.blocked, c.by_call, c.paused_until, c.sign_in_locked_until, c.unlock_nonce, c.unlock_issued_at, \
         c.unlock_sends, c.unlock_sends_since"
    };
}

/// The tables [`ClientRecord`] reads from, as `clients c` and `accounts a`.
macro_rules! client_tables {
    () => {
        " FROM clients c JOIN accounts a ON a.id = c.account_id "
    };
}
pub(crate) use {client_columns, client_tables};

pub(crate) static CLIENTS: Sql = Sql::new(concat!(
    "SELECT ",
    client_columns!(),
    client_tables!(),
    "ORDER BY c.id LIMIT $1"
));

impl Decode for ClientRecord {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let id = row.column("id")?;
        let phone: String = row.column("phone")?;
        let currency: String = row.column("currency")?;
        let email: Option<String> = row.column("email")?;
        Ok(ClientRecord {
            id,
            login: row.column("login")?,
            display_name: row.column("display_name")?,
            password_hash: row.column("password_hash")?,
            phone: phone.parse().map_err(|_| corrupt("phone"))?,
            email: email
                .map(|email| email.parse())
                .transpose()
                .map_err(|_| corrupt("email"))?,
            account_id: row.column("account_id")?,
            currency: currency.parse().map_err(|_| corrupt("currency"))?,
            blocked: row.column("blocked")?,
            by_call: row.column("by_call")?,
            paused_until_s: row.column("paused_until")?,
            sign_in_locked_until_s: row.column("sign_in_locked_until")?,
            unlock: crate::shared::unlock_state(
                id,
                row.column("unlock_nonce")?,
                row.column("unlock_issued_at")?,
                row.column("unlock_sends")?,
                row.column("unlock_sends_since")?,
            )
            .ok_or_else(|| corrupt("unlock_nonce"))?,
        })
    }
}

pub(crate) static MERCHANT_BY_KEY_HASH: Sql =
    Sql::new("SELECT id, name, iban, bic FROM merchants WHERE api_key_hash = $1");
pub(crate) static MERCHANT: Sql =
    Sql::new("SELECT id, name, iban, bic FROM merchants WHERE id = $1");
pub(crate) static MERCHANTS: Sql =
    Sql::new("SELECT id, name, iban, bic FROM merchants ORDER BY id LIMIT $1");

impl Decode for MerchantRecord {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(MerchantRecord {
            id: row.column("id")?,
            name: row.column("name")?,
            bank: crate::shared::bank_from_columns(row.column("iban")?, row.column("bic")?)
                .map_err(corrupt)?,
        })
    }
}

pub(crate) static ACCOUNT: Sql =
    Sql::new("SELECT id, kind, currency, balance, held, credit_limit FROM accounts WHERE id = $1");

impl Decode for AccountView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let kind: String = row.column("kind")?;
        let currency: String = row.column("currency")?;
        Ok(AccountView {
            id: row.column("id")?,
            kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
            currency: currency.parse().map_err(|_| corrupt("currency"))?,
            balance: row.column("balance")?,
            held: row.column("held")?,
            credit_limit: row.column("credit_limit")?,
        })
    }
}

macro_rules! number_columns {
    () => {
        "n.id, n.client_id, n.last_four, n.expiry_month, n.expiry_year, n.currency, n.origin, \
         n.uses_max, n.amount_rule, n.amount_limit, n.merchant_lock, n.merchant_id, \
         n.valid_until, n.state, n.uses_count, n.amount_used, n.created_at"
    };
}

pub(crate) use number_columns;

/// The columns [`NumberView`] reads, of `numbers n`; others may follow them.
pub(crate) const NUMBER_COLUMNS: &str = number_columns!();

pub(crate) static NUMBER: Sql = Sql::new(concat!(
    "SELECT ",
    number_columns!(),
    " FROM numbers n WHERE n.id = $1"
));
pub(crate) static CLIENT_NUMBERS: Sql = Sql::new(concat!(
    "SELECT ",
    number_columns!(),
    " FROM numbers n WHERE n.client_id = $1 ORDER BY n.id DESC LIMIT $2"
));
pub(crate) static CLIENT_NUMBERS_ENDING: Sql = Sql::new(concat!(
    "SELECT ",
    number_columns!(),
    " FROM numbers n WHERE n.client_id = $1 AND n.last_four = $2 ORDER BY n.id DESC LIMIT $3"
));

impl Decode for NumberView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let origin: String = row.column("origin")?;
        let amount_rule: String = row.column("amount_rule")?;
        let merchant_lock: String = row.column("merchant_lock")?;
        let state: String = row.column("state")?;
        let (amount, merchant, locked_merchant) = crate::shared::policy_from_columns(
            &amount_rule,
            row.column("amount_limit")?,
            &merchant_lock,
            row.column("merchant_id")?,
        )
        .map_err(corrupt)?;
        Ok(NumberView {
            id: row.column("id")?,
            client_id: row.column("client_id")?,
            last_four: row.column("last_four")?,
            expiry_month: row.column("expiry_month")?,
            expiry_year: row.column("expiry_year")?,
            currency: row.column("currency")?,
            origin: match origin.as_str() {
                "client" => Origin::Client,
                "merchant" => Origin::Merchant,
                _ => return Err(corrupt("origin")),
            },
            policy: UsagePolicy {
                uses_max: row.column("uses_max")?,
                amount,
                merchant,
                valid_until_s: row.column("valid_until")?,
            },
            state: NumberState::parse(&state).ok_or_else(|| corrupt("state"))?,
            uses_count: row.column("uses_count")?,
            amount_used: row.column("amount_used")?,
            locked_merchant,
            created_at_s: row.column("created_at")?,
        })
    }
}

macro_rules! authorization_columns {
    () => {
        "au.id, au.merchant_id, au.number_id, n.last_four, au.client_id, au.currency, au.amount, \
         au.captured, au.refunded, au.state, au.merchant_reference, au.created_at, \
         au.hold_expires_at"
    };
}

pub(crate) use authorization_columns;

pub(crate) static AUTHORIZATION: Sql = Sql::new(concat!(
    "SELECT ",
    authorization_columns!(),
    " FROM authorizations au JOIN numbers n ON n.id = au.number_id \
     WHERE au.id = $1 AND au.merchant_id = $2"
));

impl Decode for AuthorizationView {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let state: String = row.column("state")?;
        Ok(AuthorizationView {
            id: row.column("id")?,
            merchant_id: row.column("merchant_id")?,
            number_id: row.column("number_id")?,
            number_last_four: row.column("last_four")?,
            client_id: row.column("client_id")?,
            currency: row.column("currency")?,
            amount: row.column("amount")?,
            captured: row.column("captured")?,
            refunded: row.column("refunded")?,
            state: AuthorizationState::parse(&state).ok_or_else(|| corrupt("state"))?,
            merchant_reference: row.column("merchant_reference")?,
            created_at_s: row.column("created_at")?,
            hold_expires_at_s: row.column("hold_expires_at")?,
        })
    }
}

pub(crate) static SESSION_CLIENT: Sql =
    Sql::new("SELECT client_id FROM sessions WHERE token_hash = $1 AND expires_at > $2");

macro_rules! message_columns {
    () => {
        "id, address, sealed_body, medium, state, route, attempts, created_at, expires_at"
    };
}
pub(crate) use message_columns;

pub(crate) static PENDING_MESSAGES: Sql = Sql::new(concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE state = 'pending' ORDER BY id ASC LIMIT $1"
));
pub(crate) static MESSAGES_TO: Sql = Sql::new(concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE address = $1 ORDER BY id DESC LIMIT $2"
));

impl Decode for StoredMessage {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(StoredMessage {
            id: row.column("id")?,
            address: row.column("address")?,
            sealed_body: row.column("sealed_body")?,
            medium: medium(row)?,
            state: row.column("state")?,
            route: row.column("route")?,
            attempts: row.column("attempts")?,
            created_at_s: row.column("created_at")?,
            expires_at_s: row.column("expires_at")?,
        })
    }
}

/// A message's `medium` column.
pub(crate) fn medium(row: &impl ReadRow) -> Result<Medium, StoreError> {
    let stored: String = row.column("medium")?;
    Medium::parse(&stored).ok_or_else(|| corrupt("messages.medium"))
}

pub(crate) static SET_MERCHANT_BANK: Sql =
    Sql::new("UPDATE merchants SET iban = $2, bic = $3 WHERE id = $1");

impl Decode for PayoutLine {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let bank = crate::shared::bank_from_columns(row.column("iban")?, row.column("bic")?);
        Ok(PayoutLine {
            account_id: row.column("id")?,
            merchant_id: row.column("owner_id")?,
            amount: row.column("balance")?,
            merchant_name: row.column("name")?,
            bank: bank.map_err(corrupt)?.ok_or_else(|| corrupt("iban"))?,
        })
    }
}

/// The settlement accounts in `$1` with money to pay out whose merchant has no bank
/// details, up to `$2`.
pub(crate) static SKIPPED_MERCHANTS: Sql = Sql::new(
    "SELECT a.id, a.owner_id, a.balance FROM accounts a JOIN merchants m ON m.id = a.owner_id \
     WHERE a.kind = 'merchant' AND a.currency = $1 AND a.balance > 0 AND m.iban IS NULL \
     ORDER BY a.id LIMIT $2",
);

impl Decode for SkippedMerchant {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(SkippedMerchant {
            account_id: row.column("id")?,
            merchant_id: row.column("owner_id")?,
            balance: row.column("balance")?,
        })
    }
}

macro_rules! batch_columns {
    () => {
        "SELECT id, message_id, currency, created_at, payouts_count, total FROM clearing_batches "
    };
}

pub(crate) static CLEARING_BATCH: Sql = Sql::new(concat!(batch_columns!(), "WHERE id = $1"));
pub(crate) static CLEARING_BATCHES: Sql =
    Sql::new(concat!(batch_columns!(), "ORDER BY id DESC LIMIT $1"));

impl Decode for ClearingBatch {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        let currency: String = row.column("currency")?;
        Ok(ClearingBatch {
            id: row.column("id")?,
            message_id: row.column("message_id")?,
            currency: currency.parse().map_err(|_| corrupt("currency"))?,
            created_at_s: row.column("created_at")?,
            payouts_count: row.column("payouts_count")?,
            total: row.column("total")?,
        })
    }
}

pub(crate) static PAYOUTS: Sql = Sql::new(
    "SELECT t.id, a.owner_id, t.debit_account, t.amount FROM transfers t \
     JOIN accounts a ON a.id = t.debit_account WHERE t.clearing_batch_id = $1 \
     ORDER BY t.debit_account",
);

impl Decode for Payout {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(Payout {
            transfer_id: row.column("id")?,
            merchant_id: row.column("owner_id")?,
            account_id: row.column("debit_account")?,
            amount: row.column("amount")?,
        })
    }
}

pub(crate) static SETTLEMENT_FILE: Sql =
    Sql::new("SELECT settlement_file FROM clearing_batches WHERE id = $1");

pub(crate) static CLIENT_BY_CALL: Sql = Sql::new("UPDATE clients SET by_call = $2 WHERE id = $1");

pub(crate) static SESSION_INSERT: Sql = Sql::new(
    "INSERT INTO sessions (token_hash, client_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
);
pub(crate) static SESSION_DELETE: Sql = Sql::new("DELETE FROM sessions WHERE token_hash = $1");

/// What a sign-in attempt is judged on: the client's counters and unlock code.
pub(crate) static SIGN_IN_STATE: Sql = Sql::new(
    "SELECT sign_in_failures, sign_in_locks, sign_in_locked_until, unlock_nonce, \
     unlock_issued_at FROM clients WHERE id = $1",
);
pub(crate) static SIGN_IN_WRONG: Sql = Sql::new(
    "UPDATE clients SET sign_in_failures = $2, sign_in_locks = $3, \
     sign_in_locked_until = COALESCE($4, sign_in_locked_until) WHERE id = $1",
);

/// The verdict on `attempt`, from the client's row as [`SIGN_IN_STATE`] reads it.
pub(crate) fn judge_sign_in(
    row: &impl ReadRow,
    attempt: &SignInAttempt,
) -> Result<SignInVerdict, StoreError> {
    let nonce = row.column("unlock_nonce")?;
    let stored =
        crate::shared::unlock_code(attempt.client_id, nonce, row.column("unlock_issued_at")?)
            .ok_or_else(|| corrupt("unlock_nonce"))?;
    Ok(sceau_domain::sign_in::judge_attempt(
        attempt.password_right,
        attempt.unlock,
        row.column("sign_in_locked_until")?,
        stored,
        row.column("sign_in_failures")?,
        row.column("sign_in_locks")?,
        attempt.now_s,
    ))
}
