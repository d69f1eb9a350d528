use super::*;
use rusqlite::Connection;

fn check(postgres: &'static str, sqlite: &str) {
    assert!(shareable(postgres.as_bytes()), "{postgres}");
    let statement = Sql::built(postgres.to_owned());
    assert_eq!(statement.sqlite(), sqlite);
    assert_eq!(statement.postgres(), postgres);
}

#[test]
fn sqlite_numbers_what_postgres_numbers() {
    check(
        "SELECT a FROM t WHERE x = $1",
        "SELECT a FROM t WHERE x = ?1",
    );
    check(
        "UPDATE t SET a = $10 WHERE b = $1",
        "UPDATE t SET a = ?10 WHERE b = ?1",
    );
    check("SELECT 'it''s ?', $2 FROM t", "SELECT 'it''s ?', ?2 FROM t");
    check(
        "SELECT '::' FROM t WHERE a = $1",
        "SELECT '::' FROM t WHERE a = ?1",
    );
    check("SELECT 1", "SELECT 1");
}

#[test]
fn what_only_one_database_reads_is_refused() {
    for sql in [
        "SELECT SUM(a)::BIGINT FROM t",
        "SELECT a FROM t WHERE b = ?1",
        "SELECT a FROM t WHERE b = $name",
        "SELECT $$text$$",
        "SELECT a FROM t WHERE b = $0",
        "SELECT a FROM t WHERE b = $",
        "SELECT 'unclosed",
        "SELECT '$1', $2",
        "SELECT \"$1\" FROM t",
    ] {
        assert!(!shareable(sql.as_bytes()), "{sql}");
    }
    assert!(shareable(b"SELECT '::' || ':'"));
}

#[test]
fn sqlite_binds_the_derived_form_by_number() -> Result<(), StoreError> {
    static DIFFERENCE: Sql = Sql::new("SELECT $2 - $1 AS difference");
    let connection = Connection::open_in_memory()?;
    let derived: i64 = connection.query_row(DIFFERENCE.sqlite(), [3, 10], |row| row.get(0))?;
    assert_eq!(derived, 7);
    // Fed as written, SQLite numbers `$2` first: the reason for the derivation.
    let misread: i64 = connection.query_row(DIFFERENCE.postgres(), [3, 10], |row| row.get(0))?;
    assert_eq!(misread, -7);
    Ok(())
}

const SQLITE_ROW: &str = "SELECT 1 AS yes, 0 AS no, 2 AS two, NULL AS null_value, 300 AS big, \
     -1 AS negative, x'0102' AS blob, 'text' AS word";

fn sqlite_row<T>(read: impl Fn(&rusqlite::Row<'_>) -> T) -> Result<T, StoreError> {
    let connection = Connection::open_in_memory()?;
    Ok(connection.query_row(SQLITE_ROW, [], |row| Ok(read(row)))?)
}

fn is_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Corrupt(_)))
}

#[test]
fn a_sqlite_row_is_read_by_name() -> Result<(), StoreError> {
    sqlite_row(|row| -> Result<(), StoreError> {
        assert!(row.column::<bool>("yes")?);
        assert!(!row.column::<bool>("no")?);
        assert_eq!(row.column::<Option<i64>>("null_value")?, None);
        assert_eq!(row.column::<Option<i64>>("big")?, Some(300));
        assert_eq!(row.column::<u16>("big")?, 300);
        assert_eq!(row.column::<[u8; 2]>("blob")?, [1, 2]);
        assert_eq!(row.column::<Vec<u8>>("blob")?, vec![1, 2]);
        assert_eq!(row.column::<String>("word")?, "text");
        assert_eq!(row.column::<Option<String>>("null_value")?, None);
        Ok(())
    })?
}

#[test]
fn a_sqlite_value_that_does_not_fit_is_corrupt() -> Result<(), StoreError> {
    sqlite_row(|row| {
        assert!(is_corrupt(row.column::<bool>("two")));
        assert!(is_corrupt(row.column::<u8>("big")));
        assert!(is_corrupt(row.column::<u32>("negative")));
        assert!(is_corrupt(row.column::<i64>("null_value")));
        assert!(is_corrupt(row.column::<i64>("word")));
        assert!(is_corrupt(row.column::<[u8; 3]>("blob")));
        assert!(is_corrupt(row.column::<i64>("absent")));
    })
}

#[test]
fn a_decoder_failure_crosses_rusqlite_unchanged() -> Result<(), StoreError> {
    let connection = Connection::open_in_memory()?;
    let result = connection.query_row("SELECT 1", [], |_| -> rusqlite::Result<()> {
        Err(into_sqlite(corrupt("the test's value")))
    });
    let Err(error) = result else {
        unreachable!("the closure fails");
    };
    let error = StoreError::from(error);
    assert!(
        matches!(&error, StoreError::Corrupt(detail) if detail.contains("the test's value")),
        "{error:?}"
    );
    Ok(())
}

/// The same reads on PostgreSQL, whose types differ: BOOLEAN, SMALLINT, INTEGER, BYTEA.
#[tokio::test]
async fn a_postgres_row_is_read_by_name() -> Result<(), Box<dyn std::error::Error>> {
    let Some(url) = crate::postgres::scratch::test_database_url() else {
        return Ok(());
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT TRUE AS yes, FALSE AS no, 7::SMALLINT AS level, 300::INTEGER AS big, \
             (-1)::BIGINT AS negative, NULL::BIGINT AS null_value, '\\x0102'::BYTEA AS blob, \
             'text' AS word",
            &[],
        )
        .await?;
    assert!(row.column::<bool>("yes")?);
    assert!(!row.column::<bool>("no")?);
    assert_eq!(row.column::<u8>("level")?, 7);
    assert_eq!(row.column::<i64>("big")?, 300);
    assert_eq!(row.column::<Option<i64>>("null_value")?, None);
    assert_eq!(row.column::<Option<u16>>("big")?, Some(300));
    assert_eq!(row.column::<[u8; 2]>("blob")?, [1, 2]);
    assert_eq!(row.column::<String>("word")?, "text");
    assert!(is_corrupt(row.column::<u8>("big")));
    assert!(is_corrupt(row.column::<u32>("negative")));
    assert!(is_corrupt(row.column::<i64>("null_value")));
    assert!(is_corrupt(row.column::<bool>("level")));
    assert!(is_corrupt(row.column::<i64>("word")));
    assert!(is_corrupt(row.column::<[u8; 3]>("blob")));
    assert!(is_corrupt(row.column::<i64>("absent")));
    drop(client);
    connection.await??;
    Ok(())
}
