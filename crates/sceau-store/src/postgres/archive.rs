//! The archive in the database itself, so that every instance reads what any wrote with
//! no other service to run.
//!
//! A put opens an upload (`archive_uploads`), writes the content as it arrives in chunks
//! of [`CHUNK_LEN`] bytes (`archive_chunks`, each chunk its own short statement: a slow
//! upload holds no transaction and no connection between chunks), and, once the content
//! is complete and checked, writes the object's row in one short transaction: that row
//! alone makes the chunks visible under their SHA-256. If the content was archived
//! already (by an earlier put, or by another instance at the same time: the unique
//! SHA-256 decides), the row's retention is extended instead and the upload is dropped
//! in the same transaction. A put refused or abandoned drops its upload (and its chunks
//! with it); an instance that stops mid-upload leaves an upload without an object row,
//! which no read can reach.
//!
//! These writes use a pooled connection directly, not a lane: they lock no account and
//! need no ordering with the ledger's writes, and megabytes of chunks in a lane's batch
//! would hold every payment of the batch behind them. A read fetches one chunk per
//! statement, each on a connection taken from the pool and given back, so memory holds
//! one chunk and a slow reader holds no connection.

use super::{Conn, PostgresStore, classify, col, exec, one_row, opt_row};
use crate::StoreError;
use crate::archive::{ArchiveReader, ByteStream, Intake, next_piece};
use crate::capabilities::Archive;
use crate::error::ArchiveError;
use crate::model::{ArchiveEntry, ArchivedObject, Deposit};
use crate::ops::archive as ops;
use crate::tx::Fail;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use deadpool_postgres::Pool;
use std::io;

/// The bytes one chunk row holds (the last chunk of an object may hold fewer).
pub const CHUNK_LEN: usize = 1024 * 1024;

/// An upload that must be dropped unless the put reaches its end: when the put's future
/// is dropped midway (the client went away), the upload is dropped in the background.
struct Unfinished {
    pool: Pool,
    upload_id: i64,
    armed: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (pool, upload_id) = (self.pool.clone(), self.upload_id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = drop_upload(&pool, upload_id).await {
                    tracing::warn!(%error, upload_id, "an abandoned archive upload was not dropped");
                }
            });
        }
    }
}

async fn connection(pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
    pool.get()
        .await
        .map_err(|e| super::unreachable("no database connection", &e))
}

async fn drop_upload(pool: &Pool, upload_id: i64) -> Result<(), StoreError> {
    let client = connection(pool).await?;
    exec(
        &client,
        "DELETE FROM archive_uploads WHERE id = $1",
        &[&upload_id],
    )
    .await
    .map_err(Fail::into_store_error)?;
    Ok(())
}

async fn read_chunk(pool: &Pool, upload_id: i64, seq: i32) -> Result<Option<Bytes>, StoreError> {
    let client = connection(pool).await?;
    let row = opt_row(
        &client,
        "SELECT bytes FROM archive_chunks WHERE upload_id = $1 AND seq = $2",
        &[&upload_id, &seq],
    )
    .await
    .map_err(Fail::into_store_error)?;
    row.map(|row| col::<Vec<u8>>(&row, 0).map(Bytes::from))
        .transpose()
        .map_err(Fail::into_store_error)
}

fn stored_size(size: u64) -> Result<i64, StoreError> {
    i64::try_from(size).map_err(|_| StoreError::Refused(format!("an object of {size} bytes")))
}

impl PostgresStore {
    async fn write_chunk(&self, upload_id: i64, seq: i32, bytes: &[u8]) -> Result<(), StoreError> {
        let client = self.connection().await?;
        exec(
            &client,
            "INSERT INTO archive_chunks (upload_id, seq, bytes) VALUES ($1, $2, $3)",
            &[&upload_id, &seq, &bytes],
        )
        .await
        .map_err(Fail::into_store_error)?;
        Ok(())
    }

    /// Writes `content` as chunks of the upload; the object it was, once checked.
    async fn fill(
        &self,
        upload_id: i64,
        content: &mut ByteStream<'_>,
        deposit: &Deposit,
    ) -> Result<ArchivedObject, ArchiveError> {
        let mut intake = Intake::new(deposit);
        let mut chunk = BytesMut::with_capacity(CHUNK_LEN);
        let mut seq: i32 = 0;
        while let Some(piece) = next_piece(content, &mut intake).await? {
            let mut rest: &[u8] = &piece;
            while !rest.is_empty() {
                let (head, tail) = rest.split_at(rest.len().min(CHUNK_LEN - chunk.len()));
                chunk.extend_from_slice(head);
                rest = tail;
                if chunk.len() == CHUNK_LEN {
                    self.write_chunk(upload_id, seq, &chunk).await?;
                    chunk.clear();
                    seq = seq.checked_add(1).ok_or(ArchiveError::TooLarge {
                        size_max: i32::MAX as u64 * CHUNK_LEN as u64,
                    })?;
                }
            }
        }
        if !chunk.is_empty() {
            self.write_chunk(upload_id, seq, &chunk).await?;
        }
        intake.finish()
    }

    /// Makes the upload the object's content, or, when the object is archived already,
    /// extends its retention and drops the upload; in one transaction.
    async fn publish(
        &self,
        upload_id: i64,
        object: &ArchivedObject,
        deposit: &Deposit,
    ) -> Result<(), StoreError> {
        let size = stored_size(object.size)?;
        let mut client = self.connection().await?;
        let transaction = client.transaction().await.map_err(classify)?;
        let row = transaction
            .query_one(
                "INSERT INTO archive_objects (sha256, upload_id, size, retain_until, created_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (sha256) DO UPDATE SET \
                 retain_until = GREATEST(archive_objects.retain_until, EXCLUDED.retain_until) \
                 RETURNING upload_id, size",
                &[
                    &&object.sha256[..],
                    &upload_id,
                    &size,
                    &deposit.retain_until_s,
                    &deposit.now_s,
                ],
            )
            .await
            .map_err(classify)?;
        let kept: i64 = col(&row, 0).map_err(Fail::into_store_error)?;
        let kept_size: i64 = col(&row, 1).map_err(Fail::into_store_error)?;
        if kept_size != size {
            return Err(StoreError::Corrupt(format!(
                "archived object {} is recorded with {kept_size} bytes, not {size}",
                hex::encode(object.sha256)
            )));
        }
        if kept != upload_id {
            transaction
                .execute("DELETE FROM archive_uploads WHERE id = $1", &[&upload_id])
                .await
                .map_err(classify)?;
        }
        transaction.commit().await.map_err(classify)
    }
}

#[async_trait]
impl Archive for PostgresStore {
    async fn put(
        &self,
        mut content: ByteStream<'_>,
        deposit: Deposit,
    ) -> Result<ArchivedObject, ArchiveError> {
        let upload_id: i64 = {
            let client = self.connection().await?;
            let row = one_row(
                &client,
                "INSERT INTO archive_uploads (started_at) VALUES ($1) RETURNING id",
                &[&deposit.now_s],
            )
            .await
            .map_err(Fail::into_store_error)?;
            col(&row, 0).map_err(Fail::into_store_error)?
        };
        let mut unfinished = Unfinished {
            pool: self.pool.clone(),
            upload_id,
            armed: true,
        };
        let put = match self.fill(upload_id, &mut content, &deposit).await {
            Ok(object) => self
                .publish(upload_id, &object, &deposit)
                .await
                .map(|()| object)
                .map_err(ArchiveError::from),
            Err(error) => Err(error),
        };
        if put.is_ok() || drop_upload(&self.pool, upload_id).await.is_ok() {
            unfinished.armed = false;
        }
        put
    }

    async fn get(&self, sha256: &[u8; 32]) -> Result<Option<ArchiveReader>, StoreError> {
        let sha256 = *sha256;
        let found = self
            .read(async |c: &Conn| {
                let Some(row) = opt_row(
                    c,
                    "SELECT size, upload_id FROM archive_objects WHERE sha256 = $1",
                    &[&&sha256[..]],
                )
                .await?
                else {
                    return Ok(None);
                };
                let size: i64 = col(&row, 0)?;
                let upload_id: i64 = col(&row, 1)?;
                Ok(Some((size, upload_id)))
            })
            .await?;
        let Some((size, upload_id)) = found else {
            return Ok(None);
        };
        let size = u64::try_from(size)
            .map_err(|_| StoreError::Corrupt(format!("an archived object of {size} bytes")))?;
        let pool = self.pool.clone();
        let pieces = futures_util::stream::unfold(Some(0_i32), move |seq| {
            let pool = pool.clone();
            async move {
                let seq = seq?;
                match read_chunk(&pool, upload_id, seq).await {
                    Ok(Some(bytes)) => Some((Ok(bytes), seq.checked_add(1))),
                    Ok(None) => None,
                    Err(error) => Some((Err(io::Error::other(error)), None)),
                }
            }
        });
        Ok(Some(ArchiveReader::new(
            ArchivedObject { sha256, size },
            Box::pin(pieces),
        )))
    }

    async fn archived(&self, sha256: &[u8; 32]) -> Result<Option<ArchiveEntry>, StoreError> {
        let sha256 = *sha256;
        self.read(async |c: &Conn| ops::entry(&super::PgTx::reader(c), &sha256).await)
            .await
    }

    async fn past_retention(
        &self,
        now_s: i64,
        limit: u32,
    ) -> Result<Vec<ArchiveEntry>, StoreError> {
        self.read(async |c: &Conn| ops::past_retention(&super::PgTx::reader(c), now_s, limit).await)
            .await
    }

    async fn retain(&self, sha256: &[u8; 32], retain_until_s: i64) -> Result<bool, StoreError> {
        let client = self.connection().await?;
        // One statement: the row's lock orders it with a deletion of the same content.
        let held = client
            .query_opt(
                "UPDATE archive_objects SET retain_until = GREATEST(retain_until, $2) \
                 WHERE sha256 = $1 RETURNING retain_until",
                &[&&sha256[..], &retain_until_s],
            )
            .await
            .map_err(classify)?;
        Ok(held.is_some())
    }

    async fn delete(&self, sha256: &[u8; 32], now_s: i64) -> Result<bool, StoreError> {
        let mut client = self.connection().await?;
        let transaction = client.transaction().await.map_err(classify)?;
        let deleted = transaction
            .query_opt(
                "DELETE FROM archive_objects WHERE sha256 = $1 AND retain_until <= $2 \
                 RETURNING upload_id",
                &[&&sha256[..], &now_s],
            )
            .await
            .map_err(classify)?;
        if let Some(row) = &deleted {
            let upload_id: i64 = col(row, 0).map_err(Fail::into_store_error)?;
            transaction
                .execute("DELETE FROM archive_uploads WHERE id = $1", &[&upload_id])
                .await
                .map_err(classify)?;
        }
        transaction.commit().await.map_err(classify)?;
        Ok(deleted.is_some())
    }

    async fn sweep_unfinished(&self, before_s: i64) -> Result<u64, StoreError> {
        // An upload is unfinished while no object row names it; a put in progress
        // started after `before_s`, and its object row (if any) is what spares it.
        self.read(async |c: &Conn| {
            exec(
                c,
                "DELETE FROM archive_uploads u WHERE u.started_at < $1 AND NOT EXISTS \
                 (SELECT 1 FROM archive_objects o WHERE o.upload_id = u.id)",
                &[&before_s],
            )
            .await
        })
        .await
    }
}
