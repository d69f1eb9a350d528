//! The embedded archive: a row of the SQLite store per object, and the object's bytes
//! either in that row (objects of at most [`INLINE_MAX_DEFAULT`] bytes) or in a file of
//! its own under a directory of its own (`ab/cd/<sha256 in hex>`).
//!
//! A small object is gathered in memory (never more than the inline limit) while it is
//! hashed, and written with its row in one commit: durable with the commit's fsync, and no
//! file made for it. On a file system that makes each new file cost an inode, an fsync
//! and its directory's fsync, that is most of what archiving a small file costs; SQLite
//! itself reads blobs of this size faster from the database than from files of their own.
//!
//! A larger put streams the content into a temporary file of `incoming/` (same file system,
//! so the rename below is atomic) while hashing it, fsyncs it, renames it to its address
//! (replacing a file of the same content: the same bytes, repaired if damaged), fsyncs
//! the directory, and only then writes the row. A crash before the row leaves at worst a
//! temporary file or a file no row names (a later put of the same content puts it back
//! under a row), never a row without its file. A put refused or abandoned drops its
//! temporary file.
//!
//! The row is deleted before the file. So that a put of the same content cannot slip its
//! file in between (and lose it to the deletion), a put's last step and a deletion of the
//! same content take turns on one of [`STRIPES_COUNT`] locks. These locks are the
//! process's: deletions run in the process that serves puts.

use super::{SqliteStore, SqliteTx};
use crate::StoreError;
use crate::archive::{ArchiveReader, ByteStream, Intake, next_piece};
use crate::capabilities::Archive;
use crate::error::ArchiveError;
use crate::model::{ArchiveEntry, ArchivedObject, Deposit};
use crate::ops::archive as ops;
use crate::sql::{Decode, ReadRow, Sql};
use crate::tx::{Fail, Tx, args, run_now};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

/// Locks a put's last step and a deletion of the same content take turns on.
const STRIPES_COUNT: usize = 64;
/// The most bytes one piece of a read holds.
const READ_PIECE_LEN: usize = 256 * 1024;
/// Where puts write before they know their content's address.
const INCOMING: &str = "incoming";
/// The largest object kept in its row rather than in a file, unless the archive is
/// opened with another limit ([`SqliteArchive::with_inline_max`]).
pub const INLINE_MAX_DEFAULT: u64 = 256 * 1024;

/// The embedded archive; cheap to clone.
#[derive(Clone)]
pub struct SqliteArchive {
    store: SqliteStore,
    directory: Arc<PathBuf>,
    stripes: Arc<[Mutex<()>; STRIPES_COUNT]>,
    inline_max: u64,
}

fn disk(path: &Path, error: io::Error) -> StoreError {
    StoreError::Unavailable(format!("archive file {}: {error}", path.display()))
}

/// Makes `path`'s entry in its directory durable.
fn sync_directory(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|directory| directory.sync_all())
        .map_err(|error| disk(path, error))
}

/// Creates `directory` (0700) if it is missing, and makes its entry durable.
fn make_directory(directory: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    if directory.is_dir() {
        return Ok(());
    }
    match std::fs::DirBuilder::new().mode(0o700).create(directory) {
        Ok(()) => {}
        // Another put made it meanwhile.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(error) => return Err(disk(directory, error)),
    }
    match directory.parent() {
        Some(parent) => sync_directory(parent),
        None => Ok(()),
    }
}

impl SqliteArchive {
    /// The archive kept in `directory` (created if missing, 0700), whose rows are in
    /// `store`.
    pub fn open(store: &SqliteStore, directory: &Path) -> Result<SqliteArchive, StoreError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory.join(INCOMING))
            .map_err(|error| disk(directory, error))?;
        // The directories' own entries are durable before any file is written in them.
        sync_directory(directory)?;
        if let Some(parent) = directory.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_directory(parent)?;
        }
        Ok(SqliteArchive {
            store: store.clone(),
            directory: Arc::new(directory.to_path_buf()),
            stripes: Arc::new(std::array::from_fn(|_| Mutex::new(()))),
            inline_max: INLINE_MAX_DEFAULT,
        })
    }

    /// The same archive keeping objects of at most `inline_max` bytes in their rows (0:
    /// every object but an empty one in a file).
    pub fn with_inline_max(mut self, inline_max: u64) -> SqliteArchive {
        self.inline_max = inline_max;
        self
    }

    /// Where the object of `sha256` is kept: `ab/cd/<sha256 in hex>`.
    pub fn path_of(&self, sha256: &[u8; 32]) -> PathBuf {
        let name = hex::encode(sha256);
        self.directory.join(&name[..2]).join(&name[2..4]).join(name)
    }

    fn stripe(&self, sha256: &[u8; 32]) -> &Mutex<()> {
        &self.stripes[usize::from(sha256[0]) % STRIPES_COUNT]
    }

    /// Takes the first pieces of `content` while they fit in a row: all of it (`Whole`)
    /// or what came before the piece that made it too long for one (`Started`).
    async fn gather(
        &self,
        content: &mut ByteStream<'_>,
        intake: &mut Intake,
    ) -> Result<Gathered, ArchiveError> {
        let mut gathered = BytesMut::new();
        while let Some(piece) = next_piece(content, intake).await? {
            if (gathered.len() + piece.len()) as u64 > self.inline_max {
                return Ok(Gathered::Started(gathered.freeze(), piece));
            }
            gathered.extend_from_slice(&piece);
        }
        Ok(Gathered::Whole(gathered.freeze()))
    }

    /// Streams `first`, then `second`, then the rest of `content` into a temporary
    /// file, durable; dropped (and deleted) if the content is refused or the put
    /// abandoned.
    async fn write_incoming(
        &self,
        first: Bytes,
        second: Bytes,
        content: &mut ByteStream<'_>,
        intake: &mut Intake,
    ) -> Result<tempfile::NamedTempFile, ArchiveError> {
        let incoming = self.directory.join(INCOMING);
        let temporary = {
            let incoming = incoming.clone();
            tokio::task::spawn_blocking(move || {
                tempfile::Builder::new()
                    .prefix(".put-")
                    .tempfile_in(&incoming)
                    .map_err(|error| disk(&incoming, error))
            })
            .await
            .map_err(|_| StoreError::Unavailable("archive put was stopped".into()))??
        };
        let clone = temporary
            .as_file()
            .try_clone()
            .map_err(|error| disk(temporary.path(), error))?;
        let mut file = tokio::fs::File::from_std(clone);
        for piece in [first, second] {
            file.write_all(&piece)
                .await
                .map_err(|error| disk(temporary.path(), error))?;
        }
        while let Some(piece) = next_piece(content, intake).await? {
            file.write_all(&piece)
                .await
                .map_err(|error| disk(temporary.path(), error))?;
        }
        file.flush()
            .await
            .map_err(|error| disk(temporary.path(), error))?;
        file.sync_all()
            .await
            .map_err(|error| disk(temporary.path(), error))?;
        Ok(temporary)
    }
}

/// The first pieces of a put.
enum Gathered {
    /// The whole content, small enough for a row.
    Whole(Bytes),
    /// What fitted in a row, and the piece that did not: the content goes to a file.
    Started(Bytes, Bytes),
}

/// Renames a temporary file to its address, durably (the directories it needed too).
fn move_into_place(temporary: tempfile::NamedTempFile, path: &Path) -> Result<(), StoreError> {
    let directory = path
        .parent()
        .ok_or_else(|| StoreError::Corrupt("an archive path without a directory".into()))?;
    if let Some(parent) = directory.parent() {
        make_directory(parent)?;
    }
    make_directory(directory)?;
    temporary
        .persist(path)
        .map_err(|error| disk(path, error.error))?;
    sync_directory(directory)
}

static RECORD: Sql = Sql::new(
    "INSERT INTO archive_objects (sha256, size, retain_until, created_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (sha256) DO UPDATE SET \
     retain_until = max(archive_objects.retain_until, excluded.retain_until)",
);

/// A small object's bytes, beside its row (written with [`RECORD`], which keeps the
/// longest retention). A row of the same content takes the bytes: a file it had, damaged
/// or not, is no longer read.
static RECORD_CONTENT: Sql = Sql::new(
    "INSERT INTO archive_contents (sha256, content) VALUES ($1, $2) \
     ON CONFLICT (sha256) DO UPDATE SET content = excluded.content",
);

/// An object's row, with its bytes when the database holds them.
static STORED: Sql = Sql::new(
    "SELECT o.sha256, o.size, o.retain_until, o.created_at, c.content \
     FROM archive_objects o LEFT JOIN archive_contents c ON c.sha256 = o.sha256 \
     WHERE o.sha256 = $1",
);

static DELETE_CONTENT: Sql = Sql::new("DELETE FROM archive_contents WHERE sha256 = $1");

static DELETE: Sql =
    Sql::new("DELETE FROM archive_objects WHERE sha256 = $1 AND retain_until <= $2");

fn record(tx: &SqliteTx<'_>, object: &ArchivedObject, deposit: &Deposit) -> Result<(), StoreError> {
    run_now(async {
        tx.execute(
            &RECORD,
            args![
                &object.sha256,
                object.size,
                deposit.retain_until_s,
                deposit.now_s
            ],
        )
        .await?;
        Ok::<_, Fail>(())
    })
}

fn record_inline(
    tx: &SqliteTx<'_>,
    object: &ArchivedObject,
    deposit: &Deposit,
    bytes: &[u8],
) -> Result<(), StoreError> {
    record(tx, object, deposit)?;
    run_now(async {
        tx.execute(&RECORD_CONTENT, args![&object.sha256, bytes])
            .await?;
        Ok::<_, Fail>(())
    })
}

/// An object's entry, and its bytes when its row holds them.
type Stored = (ArchiveEntry, Option<Vec<u8>>);

fn stored(tx: &SqliteTx<'_>, sha256: &[u8; 32]) -> Result<Option<Stored>, StoreError> {
    run_now(tx.row(&STORED, args![sha256], |row| {
        Ok((ArchiveEntry::decode(row)?, row.column("content")?))
    }))
}

#[async_trait]
impl Archive for SqliteArchive {
    async fn put(
        &self,
        mut content: ByteStream<'_>,
        deposit: Deposit,
    ) -> Result<ArchivedObject, ArchiveError> {
        let mut intake = Intake::new(&deposit);
        let (first, second) = match self.gather(&mut content, &mut intake).await? {
            Gathered::Whole(bytes) => {
                let object = intake.finish()?;
                let _turn = self.stripe(&object.sha256).lock().await;
                self.store
                    .write(move |c| record_inline(&SqliteTx(c), &object, &deposit, &bytes))
                    .await?;
                return Ok(object);
            }
            Gathered::Started(first, second) => (first, second),
        };
        let temporary = self
            .write_incoming(first, second, &mut content, &mut intake)
            .await?;
        let object = intake.finish()?;
        let path = self.path_of(&object.sha256);
        let _turn = self.stripe(&object.sha256).lock().await;
        tokio::task::spawn_blocking(move || move_into_place(temporary, &path))
            .await
            .map_err(|_| StoreError::Unavailable("archive put was stopped".into()))??;
        self.store
            .write(move |c| record(&SqliteTx(c), &object, &deposit))
            .await?;
        Ok(object)
    }

    async fn get(&self, sha256: &[u8; 32]) -> Result<Option<ArchiveReader>, StoreError> {
        let address = *sha256;
        let Some((entry, content)) = self
            .store
            .read(move |c| stored(&SqliteTx(c), &address))
            .await?
        else {
            return Ok(None);
        };
        if let Some(bytes) = content {
            let piece: io::Result<Bytes> = Ok(Bytes::from(bytes));
            let pieces = futures_util::stream::iter([piece]);
            return Ok(Some(ArchiveReader::new(entry.object, Box::pin(pieces))));
        }
        let path = self.path_of(sha256);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            // Deleted since its row was read: gone, not damaged.
            Err(error)
                if error.kind() == io::ErrorKind::NotFound
                    && self.archived(sha256).await?.is_none() =>
            {
                return Ok(None);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Corrupt(format!(
                    "archived object {} has no file at {}",
                    hex::encode(sha256),
                    path.display()
                )));
            }
            Err(error) => return Err(disk(&path, error)),
        };
        let pieces = futures_util::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut piece = BytesMut::with_capacity(READ_PIECE_LEN);
            match file.read_buf(&mut piece).await {
                Ok(0) => None,
                Ok(_) => Some((Ok(piece.freeze()), Some(file))),
                Err(error) => Some((Err(error), None)),
            }
        });
        Ok(Some(ArchiveReader::new(entry.object, Box::pin(pieces))))
    }

    async fn archived(&self, sha256: &[u8; 32]) -> Result<Option<ArchiveEntry>, StoreError> {
        let sha256 = *sha256;
        self.store
            .read(move |c| run_now(ops::entry(&SqliteTx(c), &sha256)))
            .await
    }

    async fn past_retention(
        &self,
        now_s: i64,
        limit: u32,
    ) -> Result<Vec<ArchiveEntry>, StoreError> {
        self.store
            .read(move |c| run_now(ops::past_retention(&SqliteTx(c), now_s, limit)))
            .await
    }

    async fn retain(&self, sha256: &[u8; 32], retain_until_s: i64) -> Result<bool, StoreError> {
        let sha256 = *sha256;
        let _turn = self.stripe(&sha256).lock().await;
        self.store
            .write(move |c| run_now(ops::retain(&SqliteTx(c), &sha256, retain_until_s)))
            .await
    }

    async fn delete(&self, sha256: &[u8; 32], now_s: i64) -> Result<bool, StoreError> {
        let sha256 = *sha256;
        let _turn = self.stripe(&sha256).lock().await;
        let deleted = self
            .store
            .write(move |c| {
                run_now(async {
                    let tx = SqliteTx(c);
                    let deleted = tx.execute(&DELETE, args![&sha256, now_s]).await? == 1;
                    if deleted {
                        tx.execute(&DELETE_CONTENT, args![&sha256]).await?;
                    }
                    Ok::<_, Fail>(deleted)
                })
            })
            .await?;
        if deleted {
            // The row is gone (committed): a crash from here on leaves a file no row
            // names, which the next put of the same content reuses.
            let path = self.path_of(&sha256);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(disk(&path, error)),
            }
        }
        Ok(deleted)
    }

    async fn sweep_unfinished(&self, before_s: i64) -> Result<u64, StoreError> {
        let directory = Arc::clone(&self.directory);
        let (temporary, objects) =
            tokio::task::spawn_blocking(move || written_before(&directory, before_s))
                .await
                .map_err(|_| StoreError::Unavailable("archive sweep was stopped".into()))??;
        let mut removed = 0;
        for path in temporary {
            removed += u64::from(remove(&path)?);
        }
        for (sha256, path) in objects {
            // A put renames its file and writes its row under this lock: a file with no
            // row while the lock is held is no put's in progress.
            let _turn = self.stripe(&sha256).lock().await;
            if self.archived(&sha256).await?.is_none() {
                removed += u64::from(remove(&path)?);
            }
        }
        Ok(removed)
    }
}

/// Removes a file; false if it was gone already.
fn remove(path: &Path) -> Result<bool, StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(disk(path, error)),
    }
}

/// Files last written before `before_s`: the temporary files of `incoming/`, and the
/// objects' files (with their address) of `ab/cd/`. Names the archive never gives are
/// left alone.
type Candidates = (Vec<PathBuf>, Vec<([u8; 32], PathBuf)>);

fn written_before(directory: &Path, before_s: i64) -> Result<Candidates, StoreError> {
    let entries = |path: &Path| -> Result<Vec<(String, PathBuf, std::fs::Metadata)>, StoreError> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|error| disk(path, error))? {
            let entry = entry.map_err(|error| disk(path, error))?;
            let metadata = entry
                .metadata()
                .map_err(|error| disk(&entry.path(), error))?;
            all.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
                metadata,
            ));
        }
        Ok(all)
    };
    let old = |metadata: &std::fs::Metadata| {
        use std::os::unix::fs::MetadataExt;
        metadata.is_file() && metadata.mtime() < before_s
    };
    let two_hex = |name: &str| name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit());
    let temporary = entries(&directory.join(INCOMING))?
        .into_iter()
        .filter(|(name, _, metadata)| name.starts_with(".put-") && old(metadata))
        .map(|(_, path, _)| path)
        .collect();
    let mut objects = Vec::new();
    for (first, first_path, metadata) in entries(directory)? {
        if !metadata.is_dir() || !two_hex(&first) {
            continue;
        }
        for (second, second_path, metadata) in entries(&first_path)? {
            if !metadata.is_dir() || !two_hex(&second) {
                continue;
            }
            for (name, path, metadata) in entries(&second_path)? {
                let mut sha256 = [0_u8; 32];
                let addressed = hex::decode_to_slice(&name, &mut sha256).is_ok()
                    && name.starts_with(&format!("{first}{second}"));
                if addressed && old(&metadata) {
                    objects.push((sha256, path));
                }
            }
        }
    }
    Ok((temporary, objects))
}
