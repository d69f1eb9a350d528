//! The issuer's operators: accounts, sign-in with its pauses, sessions, and actions with
//! their evidence records (the rules: `sceau_domain::operator`, `sceau_domain::sign_in`).

use crate::model::*;
use crate::sql::{Decode, ReadRow, Sql, corrupt};
use crate::tx::{Fail, Tx, all, args, first, record, scalar};
use sceau_domain::operator::Actor;

/// The columns [`OperatorRecord`] reads, of `operators`.
macro_rules! columns {
    () => {
        "id, login, password_hash, sign_in_locked_until, disabled, created_at"
    };
}

impl Decode for OperatorRecord {
    fn decode(row: &impl ReadRow) -> Result<Self, crate::StoreError> {
        Ok(OperatorRecord {
            id: row.column("id")?,
            login: row.column("login")?,
            password_hash: row.column("password_hash")?,
            paused_until_s: row.column("sign_in_locked_until")?,
            disabled: row.column("disabled")?,
            created_at_s: row.column("created_at")?,
        })
    }
}

static INSERT: Sql = Sql::new(concat!(
    "INSERT INTO operators (login, password_hash, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (login) DO NOTHING RETURNING ",
    columns!()
));

pub(crate) async fn add_operator(
    tx: &impl Tx,
    operator: &NewOperator,
) -> Result<Option<OperatorRecord>, Fail> {
    let values = args![
        operator.login.as_str(),
        &operator.password_hash,
        operator.now_s
    ];
    first(tx, &INSERT, values).await
}

static BY_LOGIN: Sql = Sql::new(concat!(
    "SELECT ",
    columns!(),
    " FROM operators WHERE login = $1"
));

pub(crate) async fn operator_by_login(
    tx: &impl Tx,
    login: &str,
) -> Result<Option<OperatorRecord>, Fail> {
    first(tx, &BY_LOGIN, args![login]).await
}

static ALL: Sql = Sql::new(concat!(
    "SELECT ",
    columns!(),
    " FROM operators ORDER BY id LIMIT $1"
));

/// The operators' accounts, oldest first, `limit` at most.
pub(crate) async fn operators(tx: &impl Tx, limit: u32) -> Result<Vec<OperatorRecord>, Fail> {
    all(tx, &ALL, args![limit]).await
}

static SET_PASSWORD: Sql = Sql::new(
    "UPDATE operators SET password_hash = $2, sign_in_failures = 0, sign_in_locks = 0, \
     sign_in_locked_until = 0 WHERE login = $1",
);

/// Every session of the operator `login` (a password set, or the account disabled).
static END_SESSIONS: Sql = Sql::new(
    "DELETE FROM operator_sessions WHERE operator_id IN \
     (SELECT id FROM operators WHERE login = $1)",
);
static SET_DISABLED: Sql = Sql::new("UPDATE operators SET disabled = $2 WHERE login = $1");

/// Sets the password, lifts a pause and ends every open session of the operator (a
/// password is set when the old one may be known to someone else).
pub(crate) async fn set_operator_password(
    tx: &impl Tx,
    login: &str,
    password_hash: &str,
) -> Result<bool, Fail> {
    let found = tx
        .execute(&SET_PASSWORD, args![login, password_hash])
        .await?
        == 1;
    tx.execute(&END_SESSIONS, args![login]).await?;
    Ok(found)
}

/// Disables (ending every session) or enables the operator `login`.
pub(crate) async fn set_operator_disabled(
    tx: &impl Tx,
    login: &str,
    disabled: bool,
) -> Result<bool, Fail> {
    let found = tx.execute(&SET_DISABLED, args![login, disabled]).await? == 1;
    if disabled {
        tx.execute(&END_SESSIONS, args![login]).await?;
    }
    Ok(found)
}

/// The account's counters, locked on PostgreSQL until the transaction ends (attempts sent
/// at once are judged one after the other).
static STATE: Sql = Sql::each(
    "SELECT sign_in_failures, sign_in_locks, sign_in_locked_until, password_hash, disabled \
     FROM operators WHERE id = $1 FOR UPDATE",
    "SELECT sign_in_failures, sign_in_locks, sign_in_locked_until, password_hash, disabled \
     FROM operators WHERE id = ?1",
);
static ACCEPTED: Sql = Sql::new(
    "UPDATE operators SET sign_in_failures = 0, sign_in_locks = 0, sign_in_locked_until = 0 \
     WHERE id = $1",
);
static WRONG: Sql = Sql::new(
    "UPDATE operators SET sign_in_failures = $2, sign_in_locks = $3, \
     sign_in_locked_until = COALESCE($4, sign_in_locked_until) WHERE id = $1",
);

pub(crate) async fn record_operator_sign_in(
    tx: &impl Tx,
    attempt: &OperatorSignIn,
) -> Result<Option<SignInVerdict>, Fail> {
    let judged = tx
        .row(&STATE, args![attempt.operator_id], |row| {
            let hash: String = row.column("password_hash")?;
            let disabled: bool = row.column("disabled")?;
            let same = password_digest(&hash) == attempt.checked_hash;
            if disabled || !same {
                // Refused and not counted, as during a pause.
                return Ok(SignInVerdict::Paused);
            }
            let failures: i64 = row.column("sign_in_failures")?;
            let locks: i64 = row.column("sign_in_locks")?;
            Ok(sceau_domain::sign_in::judge_attempt(
                attempt.password_right,
                None,
                row.column("sign_in_locked_until")?,
                None,
                u32::try_from(failures).map_err(|_| corrupt("sign_in_failures"))?,
                u32::try_from(locks).map_err(|_| corrupt("sign_in_locks"))?,
                attempt.now_s,
            ))
        })
        .await?;
    match judged {
        Some(SignInVerdict::Accepted) => {
            tx.execute(&ACCEPTED, args![attempt.operator_id]).await?;
        }
        Some(SignInVerdict::Wrong(failure)) => {
            let counted = args![
                attempt.operator_id,
                failure.failures,
                failure.locks,
                failure.locked_until_s
            ];
            tx.execute(&WRONG, counted).await?;
        }
        Some(SignInVerdict::Paused) | None => {}
    }
    Ok(judged)
}

static SESSION_INSERT: Sql = Sql::new(
    "INSERT INTO operator_sessions (token_hash, operator_id, created_at, expires_at) \
     VALUES ($1, $2, $3, $4)",
);

pub(crate) async fn create_operator_session(
    tx: &impl Tx,
    session: &NewOperatorSession,
) -> Result<(), Fail> {
    let values = args![
        &session.token_hash,
        session.operator_id,
        session.now_s,
        session.expires_at_s
    ];
    tx.execute(&SESSION_INSERT, values).await?;
    Ok(())
}

static SESSION: Sql = Sql::new(
    "SELECT o.id, o.login, o.password_hash, o.sign_in_locked_until, o.disabled, o.created_at \
     FROM operator_sessions s JOIN operators o ON o.id = s.operator_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT o.disabled",
);

pub(crate) async fn operator_session(
    tx: &impl Tx,
    token_hash: &[u8; 32],
    now_s: i64,
) -> Result<Option<OperatorRecord>, Fail> {
    first(tx, &SESSION, args![token_hash, now_s]).await
}

static SESSION_DELETE: Sql = Sql::new("DELETE FROM operator_sessions WHERE token_hash = $1");

pub(crate) async fn delete_operator_session(
    tx: &impl Tx,
    token_hash: &[u8; 32],
) -> Result<(), Fail> {
    tx.execute(&SESSION_DELETE, args![token_hash]).await?;
    Ok(())
}

static LOGIN: Sql = Sql::new("SELECT login FROM operators WHERE id = $1 AND NOT disabled");
/// The client's block changes only if it is not already as asked.
static BLOCK: Sql = Sql::new("UPDATE clients SET blocked = $2 WHERE id = $1 AND blocked <> $2");
static CLIENT: Sql = Sql::new("SELECT 1 AS found FROM clients WHERE id = $1");

/// Blocks or unblocks a client and writes its evidence record (on the client's chain,
/// naming who acted) in the same transaction; nothing when it is already so, or when
/// the client or the operator (disabled included) is not there.
pub(crate) async fn operator_acts(
    tx: &impl Tx,
    acts: &OperatorActs,
) -> Result<ActionOutcome, Fail> {
    // Named as the transaction reads them: an operator disabled meanwhile acts no more.
    let by = match acts.actor {
        Actor::Operator(id) => match scalar(tx, &LOGIN, args![id], "login").await? {
            Some(login) => ActedBy::Operator { id, login },
            None => return Ok(ActionOutcome::NotFound),
        },
        Actor::Admin => ActedBy::Admin,
    };
    let client_id = acts.action.client_id();
    if tx
        .execute(&BLOCK, args![client_id, acts.action.blocks()])
        .await?
        == 0
    {
        let found: Option<i64> = scalar(tx, &CLIENT, args![client_id], "found").await?;
        return Ok(match found {
            Some(_) => ActionOutcome::AlreadySo,
            None => ActionOutcome::NotFound,
        });
    }
    let event = crate::evidence::client_block_changed(acts.action, &by, acts.now_s);
    Ok(ActionOutcome::Done(record(tx, event).await?))
}
