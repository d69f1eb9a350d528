//! The transparency log on PostgreSQL (the shared steps and the reads are `ops::log`).
//! Its own ways, kept for speed: an append, and an integration's entries and nodes, are
//! one statement each whatever their number (arrays); a proof's nodes are fetched in two
//! queries. An integration holds `log_state`'s row lock from its first read
//! ([`ops::tree`]) to its commit: integrations of several instances take turns, and
//! none takes another's entries. Evidence records wait in `log_pending` with the
//! entries (queued by their writes, `evidence::ctes`).

use super::command::Guard;
use super::{Conn, Fail, PgTx, PostgresStore, exec, rows};
use crate::StoreError;
use crate::capabilities::TransparencyLog;
use crate::log::{ProofRequest, frontier_to_stored, signed, stored_level};
use crate::model::*;
use crate::ops::log as ops;
use crate::sql::{ReadRow, Sql};
use crate::tx::{Tx, args, broken, scalar};
use async_trait::async_trait;
use futures_util::FutureExt;
use sceau_log::frontier::CompletedNode;
use std::collections::HashMap;

async fn append(c: &Conn, entries: &[Vec<u8>], now_s: i64) -> Result<(), Fail> {
    // One statement for the lot, in their order.
    let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    exec(
        c,
        "INSERT INTO log_pending (entry, created_at) \
         SELECT entry, $2 FROM unnest($1::BYTEA[]) WITH ORDINALITY AS t (entry, n) ORDER BY n",
        &[&entries, &now_s],
    )
    .await?;
    Ok(())
}

/// An entry waiting: its queue id, the entry, and the record it is the hash of, if any.
type Pending = (i64, Vec<u8>, Option<i64>);

/// What an integration would take: evidence records wait in `log_pending` too.
static WAITING: Sql = Sql::new("SELECT count(*) AS waiting FROM log_pending");
static PENDING: Sql =
    Sql::new("SELECT id, entry, evidence_id FROM log_pending ORDER BY id LIMIT $1");
static STATE_UPDATE: Sql = Sql::new("UPDATE log_state SET size = $1, frontier = $2 WHERE id = 1");

/// Appends what waits in `log_pending` to the tree, oldest first, up to a batch.
async fn integrate(tx: &PgTx<'_>, integrate: &IntegrateLog) -> Result<Option<LogCheckpoint>, Fail> {
    let mut tree = ops::tree(tx).await?;
    let pending: Vec<Pending> = tx
        .rows(&PENDING, args![integrate.batch_max], |row| {
            Ok((
                row.column("id")?,
                row.column("entry")?,
                row.column("evidence_id")?,
            ))
        })
        .await?;
    if pending.is_empty() {
        return Ok(None);
    }
    // Delete the ids taken, and only them. Ids are drawn before commit, so an append
    // that drew a smaller id can commit after the SELECT above, and each statement of a
    // READ COMMITTED transaction sees what committed before it: a DELETE of "every id up
    // to the last taken" would delete that entry unintegrated (the benchmark lost 6%
    // of its entries so). It waits for the next integration instead.
    let taken: Vec<i64> = pending.iter().map(|(id, _, _)| *id).collect();
    let size = tree.size();
    let completed = ops::grow(&mut tree, pending.iter().map(|(_, entry, _)| entry))?;
    // One statement per table for the whole batch.
    insert_entries(tx.client, size, &pending, integrate.now_s).await?;
    insert_nodes(tx.client, completed).await?;
    let stored = frontier_to_stored(&tree);
    tx.execute(&STATE_UPDATE, args![signed(tree.size())?, &stored])
        .await?;
    exec(
        tx.client,
        "DELETE FROM log_pending WHERE id = ANY($1)",
        &[&taken],
    )
    .await?;
    ops::write_checkpoint(tx, integrate, &tree).await.map(Some)
}

/// Inserts the entries taken, from index `size` on, in their order.
async fn insert_entries(c: &Conn, size: u64, pending: &[Pending], now_s: i64) -> Result<(), Fail> {
    let indexes: Vec<i64> = (0..pending.len() as u64)
        .map(|offset| signed(size + offset))
        .collect::<Result<_, StoreError>>()?;
    let entries: Vec<&[u8]> = pending
        .iter()
        .map(|(_, entry, _)| entry.as_slice())
        .collect();
    let evidence: Vec<Option<i64>> = pending.iter().map(|(_, _, id)| *id).collect();
    exec(
        c,
        "INSERT INTO log_entries (idx, entry, created_at, evidence_id) \
         SELECT idx, entry, $3, evidence_id \
         FROM unnest($1::BIGINT[], $2::BYTEA[], $4::BIGINT[]) AS t (idx, entry, evidence_id)",
        &[&indexes, &entries, &now_s, &evidence],
    )
    .await?;
    Ok(())
}

/// Inserts the nodes an append completed, those of the levels stored.
async fn insert_nodes(c: &Conn, completed: Vec<CompletedNode>) -> Result<(), Fail> {
    let completed: Vec<_> = completed
        .into_iter()
        .filter(|node| stored_level(node.level))
        .collect();
    let levels: Vec<i16> = completed.iter().map(|node| i16::from(node.level)).collect();
    let node_indexes: Vec<i64> = completed
        .iter()
        .map(|node| signed(node.index))
        .collect::<Result<_, StoreError>>()?;
    let hashes: Vec<&[u8]> = completed.iter().map(|node| node.hash.as_slice()).collect();
    exec(
        c,
        "INSERT INTO log_nodes (level, idx, hash) \
         SELECT * FROM unnest($1::SMALLINT[], $2::BIGINT[], $3::BYTEA[])",
        &[&levels, &node_indexes, &hashes],
    )
    .await?;
    Ok(())
}

/// [`ops::proof`], with the nodes' bases fetched in two queries whatever their number:
/// the entries (level 0) and the stored levels.
async fn proof(
    c: &Conn,
    request: &ProofRequest,
    largest: u64,
) -> Result<Option<Vec<[u8; 32]>>, Fail> {
    let Some(nodes) = ops::proof_nodes(&PgTx::reader(c), request, largest).await? else {
        return Ok(None);
    };
    let ranges = crate::log::base_ranges(&nodes);
    let column = |base: bool, field: fn(&crate::log::Derivation) -> u64| {
        ranges
            .iter()
            .filter(|range| (range.base == 0) == base)
            .map(|range| signed(field(range)))
            .collect::<Result<Vec<i64>, StoreError>>()
    };
    let mut base = HashMap::new();
    for row in rows(
        c,
        "SELECT e.idx, e.entry FROM log_entries e \
         JOIN unnest($1::BIGINT[], $2::BIGINT[]) AS r (first, count) \
         ON e.idx >= r.first AND e.idx < r.first + r.count",
        &[&column(true, |r| r.start)?, &column(true, |r| r.count)?],
    )
    .await?
    {
        let entry: Vec<u8> = row.column("entry")?;
        base.insert((0, row.column("idx")?), sceau_log::leaf_hash(&entry));
    }
    let levels: Vec<i16> = ranges
        .iter()
        .filter(|range| range.base != 0)
        .map(|range| i16::from(range.base))
        .collect();
    for row in rows(
        c,
        "SELECT n.level, n.idx, n.hash FROM log_nodes n \
         JOIN unnest($1::SMALLINT[], $2::BIGINT[], $3::BIGINT[]) AS r (level, first, count) \
         ON n.level = r.level AND n.idx >= r.first AND n.idx < r.first + r.count",
        &[
            &levels,
            &column(false, |r| r.start)?,
            &column(false, |r| r.count)?,
        ],
    )
    .await?
    {
        let node = (row.column("level")?, row.column("idx")?);
        base.insert(node, row.column("hash")?);
    }
    let fetched = crate::log::derive(&nodes, &base);
    request.with_nodes(fetched).map(Some).map_err(Fail::Store)
}

#[async_trait]
impl TransparencyLog for PostgresStore {
    async fn append_log(&self, entries: Vec<Vec<u8>>, now_s: i64) -> Result<(), StoreError> {
        self.write(Guard::Nothing, (entries, now_s), |c, d, _| {
            self::append(c, &d.0, d.1).boxed()
        })
        .await
    }

    async fn integrate_log(
        &self,
        integrate: IntegrateLog,
    ) -> Result<Option<LogCheckpoint>, StoreError> {
        self.write(Guard::Nothing, integrate, |c, integrate, locked| {
            async move { self::integrate(&PgTx::new(c, locked), integrate).await }.boxed()
        })
        .await
    }

    async fn log_checkpoint(&self) -> Result<Option<LogCheckpoint>, StoreError> {
        self.read(async |c| ops::checkpoint(&PgTx::reader(c)).await)
            .await
    }

    async fn log_waiting(&self) -> Result<u64, StoreError> {
        self.read(async |c| {
            scalar(&PgTx::reader(c), &WAITING, args![], "waiting")
                .await?
                .ok_or_else(|| broken("a count returned no row"))
        })
        .await
    }

    async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(async |c| ops::entry(&PgTx::reader(c), index).await)
            .await
    }

    async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = ProofRequest::Inclusion { index, size };
        self.read(async move |c| self::proof(c, &request, size).await)
            .await
    }

    async fn log_consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let request = ProofRequest::Consistency { old, new };
        self.read(async move |c| self::proof(c, &request, new).await)
            .await
    }

    async fn log_nodes(
        &self,
        level: u8,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let count = u64::from(count);
        self.read(async |c| ops::nodes(&PgTx::reader(c), level, start, count).await)
            .await
    }

    async fn log_entries(&self, start: u64, count: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(async |c| ops::entries(&PgTx::reader(c), start, count).await)
            .await
    }
}
