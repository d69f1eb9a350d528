//! Evidence records read back, and the receipts that sign them. A record is written by
//! the operation that makes its event, each backend its own way (`Tx::record`).

use crate::evidence::{
    HeadRow, LOG_INDEX_BY_ENTRY, RECEIPT, RECEIPT_INSERT, RECEIPTS_AFTER, chain_sql,
};
use crate::model::EvidenceRecord;
use crate::ops::log::LOG_INDEX_BY_RUN;
use crate::sql::{ReadRow, Sql};
use crate::tx::{Fail, Tx, all, args, scalar};
use std::sync::LazyLock;

/// A subject's chain, each record with its log index: from its log entry's row, or, on
/// SQLite, from the run of records it was appended in (records integrated before
/// migration 13 have an entry's row there too). Made once.
static CHAIN: LazyLock<Sql> = LazyLock::new(|| {
    let by_run = format!("SELECT COALESCE(({LOG_INDEX_BY_ENTRY}), ({LOG_INDEX_BY_RUN}))");
    let sqlite = chain_sql(&by_run).replace('$', "?");
    Sql::each_built(chain_sql(LOG_INDEX_BY_ENTRY), sqlite)
});

/// A subject's records, oldest first: walked back from its head.
pub(crate) async fn of_subject(tx: &impl Tx, subject: &str) -> Result<Vec<EvidenceRecord>, Fail> {
    all(tx, &CHAIN, args![subject, HeadRow::of(subject).number_id()]).await
}

/// Records `signature` as the receipt of record `evidence_id`, once: false if it has one.
pub(crate) async fn record_receipt(
    tx: &impl Tx,
    evidence_id: i64,
    signature: &[u8],
    now_s: i64,
) -> Result<bool, Fail> {
    let values = args![evidence_id, signature, now_s];
    Ok(tx.execute(&RECEIPT_INSERT, values).await? == 1)
}

/// The receipt of record `evidence_id`, if one was recorded.
pub(crate) async fn receipt(tx: &impl Tx, evidence_id: i64) -> Result<Option<Vec<u8>>, Fail> {
    scalar(tx, &RECEIPT, args![evidence_id], "signature").await
}

/// How many receipts sign records after `evidence_id`, and the newest one's id.
pub(crate) async fn receipts_after(tx: &impl Tx, evidence_id: i64) -> Result<(i64, i64), Fail> {
    let found = tx
        .row(&RECEIPTS_AFTER, args![evidence_id], |row| {
            Ok((row.column("n")?, row.column("newest")?))
        })
        .await?;
    Ok(found.unwrap_or((0, evidence_id)))
}
