//! The archive's rows that both backends read alike (what each keeps besides, and how it
//! writes, is in `sqlite/archive.rs` and `postgres/archive.rs`).

use crate::StoreError;
use crate::model::{ArchiveEntry, ArchivedObject};
use crate::sql::{Decode, ReadRow, Sql};
use crate::tx::{Fail, Tx, all, args, first};

impl Decode for ArchiveEntry {
    fn decode(row: &impl ReadRow) -> Result<Self, StoreError> {
        Ok(ArchiveEntry {
            object: ArchivedObject {
                sha256: row.column("sha256")?,
                size: row.column("size")?,
            },
            retain_until_s: row.column("retain_until")?,
            created_at_s: row.column("created_at")?,
        })
    }
}

static ENTRY: Sql = Sql::new(
    "SELECT sha256, size, retain_until, created_at FROM archive_objects WHERE sha256 = $1",
);

pub(crate) async fn entry(tx: &impl Tx, sha256: &[u8; 32]) -> Result<Option<ArchiveEntry>, Fail> {
    first(tx, &ENTRY, args![sha256]).await
}

static PAST_RETENTION: Sql = Sql::new(
    "SELECT sha256, size, retain_until, created_at FROM archive_objects \
     WHERE retain_until <= $1 ORDER BY retain_until, sha256 LIMIT $2",
);

pub(crate) async fn past_retention(
    tx: &impl Tx,
    now_s: i64,
    limit: u32,
) -> Result<Vec<ArchiveEntry>, Fail> {
    all(tx, &PAST_RETENTION, args![now_s, limit]).await
}

static RETAIN: Sql = Sql::new(
    "UPDATE archive_objects SET retain_until = $2 WHERE sha256 = $1 AND retain_until < $2",
);
static HELD: Sql = Sql::new("SELECT retain_until FROM archive_objects WHERE sha256 = $1");

/// Keeps an object at least until `retain_until_s` (never shortens it); false if it is
/// not archived.
pub(crate) async fn retain(
    tx: &impl Tx,
    sha256: &[u8; 32],
    retain_until_s: i64,
) -> Result<bool, Fail> {
    tx.execute(&RETAIN, args![sha256, retain_until_s]).await?;
    let held: Option<i64> = crate::tx::scalar(tx, &HELD, args![sha256], "retain_until").await?;
    Ok(held.is_some_and(|until| until >= retain_until_s))
}
