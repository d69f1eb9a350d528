//! Queries that only read, and the mapping of rows to the store's values. They take any
//! connection of the pool; none of them needs a transaction.

use super::{Conn, Fail, col, corrupt, opt_row, rows};
use crate::StoreError;
use crate::model::*;
use sceau_domain::ledger::{AccountKind, AuthorizationState};
use sceau_domain::policy::{NumberState, UsagePolicy};
use tokio_postgres::Row;

pub(super) const CLIENT_COLUMNS: &str = "c.id, c.login, c.display_name, c.password_hash, c.phone, \
     c.account_id, a.currency, c.blocked, c.paused_until, c.sign_in_locked_until, \
     c.unlock_nonce, c.unlock_issued_at, c.unlock_sends, c.unlock_sends_since";

pub(super) fn client_row(row: &Row) -> Result<ClientRecord, Fail> {
    let phone: String = col(row, 4)?;
    let currency: String = col(row, 6)?;
    Ok(ClientRecord {
        id: col(row, 0)?,
        login: col(row, 1)?,
        display_name: col(row, 2)?,
        password_hash: col(row, 3)?,
        phone: phone.parse().map_err(|_| corrupt("phone"))?,
        account_id: col(row, 5)?,
        currency: currency.parse().map_err(|_| corrupt("currency"))?,
        blocked: col(row, 7)?,
        paused_until_s: col(row, 8)?,
        sign_in_locked_until_s: col(row, 9)?,
        unlock: crate::shared::unlock_state(
            col(row, 0)?,
            col(row, 10)?,
            col(row, 11)?,
            u32::try_from(col::<i64>(row, 12)?).map_err(|_| corrupt("unlock_sends"))?,
            col(row, 13)?,
        )
        .ok_or_else(|| corrupt("unlock_nonce"))?,
    })
}

/// The client matching `condition` on `clients c` (with `$1`).
pub(super) async fn client_where(
    c: &Conn,
    condition: &str,
    value: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<ClientRecord>, Fail> {
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM clients c JOIN accounts a ON a.id = c.account_id WHERE c.{condition}"
    );
    opt_row(c, &sql, &[value])
        .await?
        .as_ref()
        .map(client_row)
        .transpose()
}

pub(super) async fn clients(c: &Conn, limit: u32) -> Result<Vec<ClientRecord>, Fail> {
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM clients c JOIN accounts a ON a.id = c.account_id ORDER BY c.id LIMIT $1"
    );
    rows(c, &sql, &[&i64::from(limit)])
        .await?
        .iter()
        .map(client_row)
        .collect()
}

fn merchant_row(row: &Row) -> Result<MerchantRecord, Fail> {
    Ok(MerchantRecord {
        id: col(row, 0)?,
        name: col(row, 1)?,
        bank: crate::shared::bank_from_columns(col(row, 2)?, col(row, 3)?).map_err(corrupt)?,
    })
}

pub(super) async fn merchant_by_key_hash(
    c: &Conn,
    key_hash: &[u8; 32],
) -> Result<Option<MerchantRecord>, Fail> {
    let sql = "SELECT id, name, iban, bic FROM merchants WHERE api_key_hash = $1";
    opt_row(c, sql, &[&&key_hash[..]])
        .await?
        .as_ref()
        .map(merchant_row)
        .transpose()
}

pub(super) async fn merchant(c: &Conn, merchant_id: i64) -> Result<Option<MerchantRecord>, Fail> {
    let sql = "SELECT id, name, iban, bic FROM merchants WHERE id = $1";
    opt_row(c, sql, &[&merchant_id])
        .await?
        .as_ref()
        .map(merchant_row)
        .transpose()
}

pub(super) async fn merchants(c: &Conn, limit: u32) -> Result<Vec<MerchantRecord>, Fail> {
    let sql = "SELECT id, name, iban, bic FROM merchants ORDER BY id LIMIT $1";
    rows(c, sql, &[&i64::from(limit)])
        .await?
        .iter()
        .map(merchant_row)
        .collect()
}

pub(super) async fn account(c: &Conn, account_id: i64) -> Result<Option<AccountView>, Fail> {
    let sql = "SELECT id, kind, currency, balance, held, credit_limit FROM accounts WHERE id = $1";
    let Some(row) = opt_row(c, sql, &[&account_id]).await? else {
        return Ok(None);
    };
    let kind: String = col(&row, 1)?;
    let currency: String = col(&row, 2)?;
    Ok(Some(AccountView {
        id: col(&row, 0)?,
        kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        currency: currency.parse().map_err(|_| corrupt("currency"))?,
        balance: col(&row, 3)?,
        held: col(&row, 4)?,
        credit_limit: col(&row, 5)?,
    }))
}

pub(super) const NUMBER_COLUMNS: &str = "n.id, n.client_id, n.last_four, n.expiry_month, n.expiry_year, \
     n.currency, n.origin, n.uses_max, n.amount_rule, n.amount_limit, n.merchant_lock, n.merchant_id, \
     n.valid_until, n.state, n.uses_count, n.amount_used, n.created_at";

pub(super) fn narrow<T: TryFrom<i64>>(row: &Row, index: usize, what: &str) -> Result<T, Fail> {
    let wide: i64 = col(row, index)?;
    T::try_from(wide).map_err(|_| corrupt(what))
}

/// Maps the columns of [`NUMBER_COLUMNS`].
pub(super) fn number_row(row: &Row) -> Result<NumberView, Fail> {
    let origin: String = col(row, 6)?;
    let amount_rule: String = col(row, 8)?;
    let amount_limit: Option<i64> = col(row, 9)?;
    let merchant_lock: String = col(row, 10)?;
    let merchant_id: Option<i64> = col(row, 11)?;
    let state: String = col(row, 13)?;
    let (amount, merchant, locked_merchant) =
        crate::shared::policy_from_columns(&amount_rule, amount_limit, &merchant_lock, merchant_id)
            .map_err(corrupt)?;
    Ok(NumberView {
        id: col(row, 0)?,
        client_id: col(row, 1)?,
        last_four: col(row, 2)?,
        expiry_month: narrow(row, 3, "expiry_month")?,
        expiry_year: narrow(row, 4, "expiry_year")?,
        currency: col(row, 5)?,
        origin: match origin.as_str() {
            "client" => Origin::Client,
            "merchant" => Origin::Merchant,
            _ => return Err(corrupt("origin")),
        },
        policy: UsagePolicy {
            uses_max: narrow(row, 7, "uses_max")?,
            amount,
            merchant,
            valid_until_s: col(row, 12)?,
        },
        state: NumberState::parse(&state).ok_or_else(|| corrupt("state"))?,
        uses_count: narrow(row, 14, "uses_count")?,
        amount_used: col(row, 15)?,
        locked_merchant,
        created_at_s: col(row, 16)?,
    })
}

pub(super) async fn client_numbers(
    c: &Conn,
    client_id: i64,
    limit: u32,
) -> Result<Vec<NumberView>, Fail> {
    let sql = format!(
        "SELECT {NUMBER_COLUMNS} FROM numbers n WHERE n.client_id = $1 ORDER BY n.id DESC LIMIT $2"
    );
    rows(c, &sql, &[&client_id, &i64::from(limit)])
        .await?
        .iter()
        .map(number_row)
        .collect()
}

pub(super) const AUTHORIZATION_COLUMNS: &str = "au.id, au.merchant_id, au.number_id, n.last_four, \
     au.client_id, au.currency, au.amount, au.captured, au.refunded, au.state, au.merchant_reference, \
     au.created_at, au.hold_expires_at";

pub(super) fn authorization_row(row: &Row) -> Result<AuthorizationView, Fail> {
    let state: String = col(row, 9)?;
    Ok(AuthorizationView {
        id: col(row, 0)?,
        merchant_id: col(row, 1)?,
        number_id: col(row, 2)?,
        number_last_four: col(row, 3)?,
        client_id: col(row, 4)?,
        currency: col(row, 5)?,
        amount: col(row, 6)?,
        captured: col(row, 7)?,
        refunded: col(row, 8)?,
        state: AuthorizationState::parse(&state).ok_or_else(|| corrupt("state"))?,
        merchant_reference: col(row, 10)?,
        created_at_s: col(row, 11)?,
        hold_expires_at_s: col(row, 12)?,
    })
}

pub(super) async fn authorization(
    c: &Conn,
    merchant_id: i64,
    authorization_id: i64,
) -> Result<Option<AuthorizationView>, Fail> {
    let sql = format!(
        "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations au JOIN numbers n ON n.id = au.number_id \
         WHERE au.id = $1 AND au.merchant_id = $2"
    );
    opt_row(c, &sql, &[&authorization_id, &merchant_id])
        .await?
        .as_ref()
        .map(authorization_row)
        .transpose()
}

pub(super) async fn session_client(
    c: &Conn,
    token_hash: &[u8; 32],
    now_s: i64,
) -> Result<Option<i64>, Fail> {
    let sql = "SELECT client_id FROM sessions WHERE token_hash = $1 AND expires_at > $2";
    opt_row(c, sql, &[&&token_hash[..], &now_s])
        .await?
        .map(|row| col(&row, 0))
        .transpose()
}

fn message_row(row: &Row) -> Result<StoredMessage, Fail> {
    Ok(StoredMessage {
        id: col(row, 0)?,
        address: col(row, 1)?,
        sealed_body: col(row, 2)?,
        state: col(row, 3)?,
        channel: col(row, 4)?,
        created_at_s: col(row, 5)?,
    })
}

const MESSAGE_COLUMNS: &str = "id, address, sealed_body, state, channel, created_at";

pub(super) async fn pending_messages(c: &Conn, limit: u32) -> Result<Vec<StoredMessage>, Fail> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE state = 'pending' ORDER BY id ASC LIMIT $1"
    );
    rows(c, &sql, &[&i64::from(limit)])
        .await?
        .iter()
        .map(message_row)
        .collect()
}

/// Claims pending messages (see [`crate::Store::claim_messages`]); rows another
/// transaction is claiming are skipped, not waited for.
pub(super) async fn claim_messages(
    c: &Conn,
    now_s: i64,
    lease_s: i64,
    limit: u32,
) -> Result<Vec<StoredMessage>, Fail> {
    let sql = format!(
        "UPDATE messages SET claimed_until = $1 + $2 WHERE id IN (SELECT id FROM messages \
         WHERE state = 'pending' AND claimed_until <= $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING {MESSAGE_COLUMNS}"
    );
    let mut claimed = rows(c, &sql, &[&now_s, &lease_s, &i64::from(limit)])
        .await?
        .iter()
        .map(message_row)
        .collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|message| message.id);
    Ok(claimed)
}

pub(super) async fn messages_to(
    c: &Conn,
    address: &str,
    limit: u32,
) -> Result<Vec<StoredMessage>, Fail> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE address = $1 ORDER BY id DESC LIMIT $2"
    );
    rows(c, &sql, &[&address, &i64::from(limit)])
        .await?
        .iter()
        .map(message_row)
        .collect()
}

/// Recomputes every ledger invariant from the rows; see [`LedgerReport`]. The same rules
/// as SQLite's, read in one repeatable-read snapshot so that a busy ledger is seen whole.
pub(super) async fn check_ledger(c: &mut Conn) -> Result<LedgerReport, Fail> {
    let transaction = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    // The checks read whole tables: let the planner scan and hash (the connection's
    // settings favour key lookups, see `PostgresStore::open`).
    transaction
        .batch_execute(
            "SET LOCAL enable_seqscan = on; SET LOCAL enable_hashjoin = on; \
             SET LOCAL enable_mergejoin = on; SET LOCAL plan_cache_mode = auto",
        )
        .await?;
    let mut report = LedgerReport::default();
    for row in transaction
        .query(
            "SELECT currency, SUM(balance)::BIGINT FROM accounts GROUP BY currency ORDER BY currency",
            &[],
        )
        .await?
    {
        report.currency_sums.push((col(&row, 0)?, col(&row, 1)?));
    }
    let checks = crate::shared::LEDGER_CHECKS;
    for (rule, sql) in checks {
        for row in transaction.query(*sql, &[]).await? {
            let id: i64 = col(&row, 0)?;
            report.violations.push(format!("{rule}: id {id}"));
        }
    }
    transaction.commit().await?;
    Ok(report)
}

/// The view of one number by id (after its insert).
pub(super) async fn number(c: &Conn, number_id: i64) -> Result<NumberView, Fail> {
    let sql = format!("SELECT {NUMBER_COLUMNS} FROM numbers n WHERE n.id = $1");
    let row = opt_row(c, &sql, &[&number_id])
        .await?
        .ok_or_else(|| Fail::Store(StoreError::Corrupt("issued number not found".into())))?;
    number_row(&row)
}
