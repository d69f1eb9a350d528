//! Queries that only read, and the mapping of rows to the store's values.

use crate::StoreError;
use crate::model::*;
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};
use sceau_domain::ledger::{AccountKind, AuthorizationState};
use sceau_domain::policy::{NumberState, UsagePolicy};

pub(super) fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.to_owned(), rusqlite::types::Type::Text)
}

pub(super) const CLIENT_COLUMNS: &str = "c.id, c.login, c.display_name, c.password_hash, c.phone, \
     c.account_id, a.currency, c.blocked, c.paused_until, \
     c.sign_in_locked_until, c.unlock_nonce, c.unlock_issued_at, c.unlock_sends, \
     c.unlock_sends_since";

pub(super) fn client_row(row: &Row<'_>) -> rusqlite::Result<ClientRecord> {
    let phone: String = row.get(4)?;
    let currency: String = row.get(6)?;
    Ok(ClientRecord {
        id: row.get(0)?,
        login: row.get(1)?,
        display_name: row.get(2)?,
        password_hash: row.get(3)?,
        phone: phone.parse().map_err(|_| corrupt("phone"))?,
        account_id: row.get(5)?,
        currency: currency.parse().map_err(|_| corrupt("currency"))?,
        blocked: row.get(7)?,
        paused_until_s: row.get(8)?,
        sign_in_locked_until_s: row.get(9)?,
        unlock: crate::shared::unlock_state(
            client_id_of(row)?,
            row.get::<_, Option<Vec<u8>>>(10)?,
            row.get(11)?,
            row.get(12)?,
            row.get(13)?,
        )
        .ok_or_else(|| corrupt("unlock_nonce"))?,
    })
}

fn client_id_of(row: &Row<'_>) -> rusqlite::Result<i64> {
    row.get(0)
}

pub(super) fn client_where(
    connection: &Connection,
    condition: &str,
    value: &dyn ToSql,
) -> Result<Option<ClientRecord>, StoreError> {
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM clients c JOIN accounts a ON a.id = c.account_id WHERE c.{condition}"
    );
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([value], client_row)
        .optional()?)
}

pub(super) fn clients(
    connection: &Connection,
    limit: u32,
) -> Result<Vec<ClientRecord>, StoreError> {
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM clients c JOIN accounts a ON a.id = c.account_id ORDER BY c.id LIMIT ?1"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map([limit], client_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The columns [`merchant_row`] reads, of `merchants`.
const MERCHANT_COLUMNS: &str = "id, name, iban, bic";

fn merchant_row(row: &Row<'_>) -> rusqlite::Result<MerchantRecord> {
    Ok(MerchantRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        bank: crate::shared::bank_from_columns(row.get(2)?, row.get(3)?).map_err(corrupt)?,
    })
}

pub(super) fn merchant_by_key_hash(
    connection: &Connection,
    key_hash: &[u8; 32],
) -> Result<Option<MerchantRecord>, StoreError> {
    let sql = format!("SELECT {MERCHANT_COLUMNS} FROM merchants WHERE api_key_hash = ?1");
    let mut statement = connection.prepare_cached(&sql)?;
    Ok(statement
        .query_row([&key_hash[..]], merchant_row)
        .optional()?)
}

pub(super) fn merchant(
    connection: &Connection,
    merchant_id: i64,
) -> Result<Option<MerchantRecord>, StoreError> {
    let sql = format!("SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = ?1");
    let mut statement = connection.prepare_cached(&sql)?;
    Ok(statement
        .query_row([merchant_id], merchant_row)
        .optional()?)
}

pub(super) fn merchants(
    connection: &Connection,
    limit: u32,
) -> Result<Vec<MerchantRecord>, StoreError> {
    let sql = format!("SELECT {MERCHANT_COLUMNS} FROM merchants ORDER BY id LIMIT ?1");
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map([limit], merchant_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn account(
    connection: &Connection,
    account_id: i64,
) -> Result<Option<AccountView>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT id, kind, currency, balance, held, credit_limit FROM accounts WHERE id = ?1",
    )?;
    let found = statement
        .query_row([account_id], |row| {
            let kind: String = row.get(1)?;
            let currency: String = row.get(2)?;
            Ok(AccountView {
                id: row.get(0)?,
                kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                currency: currency.parse().map_err(|_| corrupt("currency"))?,
                balance: row.get(3)?,
                held: row.get(4)?,
                credit_limit: row.get(5)?,
            })
        })
        .optional()?;
    Ok(found)
}

pub(super) const NUMBER_COLUMNS: &str = "n.id, n.client_id, n.last_four, n.expiry_month, n.expiry_year, \
     n.currency, n.origin, n.uses_max, n.amount_rule, n.amount_limit, n.merchant_lock, n.merchant_id, \
     n.valid_until, n.state, n.uses_count, n.amount_used, n.created_at";

/// A number by its identifier.
pub(super) fn number(connection: &Connection, number_id: i64) -> Result<NumberView, StoreError> {
    let sql = format!("SELECT {NUMBER_COLUMNS} FROM numbers n WHERE n.id = ?1");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([number_id], number_row)?)
}

/// Maps the columns of [`NUMBER_COLUMNS`] starting at `base`.
pub(super) fn number_row(row: &Row<'_>) -> rusqlite::Result<NumberView> {
    let origin: String = row.get(6)?;
    let amount_rule: String = row.get(8)?;
    let amount_limit: Option<i64> = row.get(9)?;
    let merchant_lock: String = row.get(10)?;
    let merchant_id: Option<i64> = row.get(11)?;
    let state: String = row.get(13)?;
    let (amount, merchant, locked_merchant) =
        crate::shared::policy_from_columns(&amount_rule, amount_limit, &merchant_lock, merchant_id)
            .map_err(corrupt)?;
    Ok(NumberView {
        id: row.get(0)?,
        client_id: row.get(1)?,
        last_four: row.get(2)?,
        expiry_month: row.get(3)?,
        expiry_year: row.get(4)?,
        currency: row.get(5)?,
        origin: match origin.as_str() {
            "client" => Origin::Client,
            "merchant" => Origin::Merchant,
            _ => return Err(corrupt("origin")),
        },
        policy: UsagePolicy {
            uses_max: row.get(7)?,
            amount,
            merchant,
            valid_until_s: row.get(12)?,
        },
        state: NumberState::parse(&state).ok_or_else(|| corrupt("state"))?,
        uses_count: row.get(14)?,
        amount_used: row.get(15)?,
        locked_merchant,
        created_at_s: row.get(16)?,
    })
}

pub(super) fn client_numbers(
    connection: &Connection,
    client_id: i64,
    limit: u32,
) -> Result<Vec<NumberView>, StoreError> {
    let sql = format!(
        "SELECT {NUMBER_COLUMNS} FROM numbers n WHERE n.client_id = ?1 ORDER BY n.id DESC LIMIT ?2"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![client_id, limit], number_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) const AUTHORIZATION_COLUMNS: &str = "au.id, au.merchant_id, au.number_id, n.last_four, \
     au.client_id, au.currency, au.amount, au.captured, au.refunded, au.state, au.merchant_reference, \
     au.created_at, au.hold_expires_at";

pub(super) fn authorization_row(row: &Row<'_>) -> rusqlite::Result<AuthorizationView> {
    let state: String = row.get(9)?;
    Ok(AuthorizationView {
        id: row.get(0)?,
        merchant_id: row.get(1)?,
        number_id: row.get(2)?,
        number_last_four: row.get(3)?,
        client_id: row.get(4)?,
        currency: row.get(5)?,
        amount: row.get(6)?,
        captured: row.get(7)?,
        refunded: row.get(8)?,
        state: AuthorizationState::parse(&state).ok_or_else(|| corrupt("state"))?,
        merchant_reference: row.get(10)?,
        created_at_s: row.get(11)?,
        hold_expires_at_s: row.get(12)?,
    })
}

pub(super) fn session_client(
    connection: &Connection,
    token_hash: &[u8; 32],
    now_s: i64,
) -> Result<Option<i64>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT client_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
    )?;
    Ok(statement
        .query_row(params![&token_hash[..], now_s], |row| row.get(0))
        .optional()?)
}

pub(super) fn messages(
    connection: &Connection,
    condition: &str,
    address: Option<&str>,
    limit: u32,
) -> Result<Vec<StoredMessage>, StoreError> {
    let sql = format!(
        "SELECT id, address, sealed_body, state, channel, created_at FROM messages WHERE {condition} LIMIT {limit}"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let map = |row: &Row<'_>| {
        Ok(StoredMessage {
            id: row.get(0)?,
            address: row.get(1)?,
            sealed_body: row.get(2)?,
            state: row.get(3)?,
            channel: row.get(4)?,
            created_at_s: row.get(5)?,
        })
    };
    let rows = match address {
        Some(address) => statement
            .query_map([address], map)?
            .collect::<Result<Vec<_>, _>>()?,
        None => statement
            .query_map([], map)?
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(rows)
}

/// Recomputes every ledger invariant from the rows; see [`LedgerReport`].
pub(super) fn check_ledger(connection: &Connection) -> Result<LedgerReport, StoreError> {
    let mut report = LedgerReport::default();
    let mut sums = connection.prepare(
        "SELECT currency, SUM(balance) FROM accounts GROUP BY currency ORDER BY currency",
    )?;
    report.currency_sums = sums
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let checks = crate::shared::LEDGER_CHECKS;
    for (rule, sql) in checks {
        let mut statement = connection.prepare(sql)?;
        let ids: Vec<i64> = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for id in ids {
            report.violations.push(format!("{rule}: id {id}"));
        }
    }
    Ok(report)
}
