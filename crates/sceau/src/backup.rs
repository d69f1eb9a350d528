//! `sceau admin backup` and `sceau admin restore` for the embedded default: a consistent
//! copy of the SQLite database taken while the server runs (`VACUUM INTO`, one read
//! transaction: writers go on), the encrypted key directory, the PKI and the notary's
//! archive, with a manifest of every file's SHA-256 authenticated under a key derived from
//! the master key. The master key itself is never written into a backup: it is kept apart
//! (README, "Backups"), and a restore checks the backup against it.
//!
//! A backup directory must not exist (nothing is overwritten); a backup that fails is
//! removed. A restore checks everything first (the manifest's authentication, each file's
//! digest and size, no file more), refuses to write over an existing database or key
//! directory, stages the files beside their places and moves them in, then checks the
//! database's integrity.

use crate::config::Config;
use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What a backup holds, by its name there, and where each part lives.
fn parts(config: &Config) -> anyhow::Result<Vec<(&'static str, PathBuf, Kind)>> {
    if config.database.starts_with("postgres://") || config.database.starts_with("postgresql://") {
        bail!(
            "the database is PostgreSQL: back it up with pg_dump (README, \"Backups\"); this \
             command copies the embedded SQLite database"
        );
    }
    let mut parts = vec![
        ("sceau.db", PathBuf::from(&config.database), Kind::Database),
        ("pki", config.pki_directory.clone(), Kind::Directory),
        ("archive", config.archive_directory.clone(), Kind::Directory),
    ];
    // A PKCS#11 token keeps its keys itself: the token's own backup covers them.
    if config.keystore != "pkcs11" {
        parts.push(("keys", config.keys_directory.clone(), Kind::Directory));
    }
    Ok(parts)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Database,
    Directory,
}

const MANIFEST: &str = "MANIFEST.json";
const MANIFEST_MAC: &str = "MANIFEST.mac";
const FORMAT: &str = "sceau-backup-1";

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    format: String,
    created_at_s: i64,
    /// The database's schema version (`PRAGMA user_version`).
    schema_version: i64,
    /// Shows which master key the backup belongs to, without saying anything of it.
    master_key_check: String,
    files: Vec<Entry>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct Entry {
    path: String,
    size: u64,
    sha256: String,
}

/// What a backup or a restore did.
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
    pub schema_version: i64,
}

/// Takes a backup into `out`, which must not exist.
pub fn backup(config: &Config, keys: &sceau_crypto::Keys, out: &Path) -> anyhow::Result<Summary> {
    let parts = parts(config)?;
    if out.exists() {
        bail!(
            "{} exists: a backup goes into a directory of its own, which it creates",
            out.display()
        );
    }
    let database = &parts[0].1;
    if !database.is_file() {
        bail!("no database at {}: nothing to back up", database.display());
    }
    // Without its PKI (or its key directory) a restored server would make new authorities:
    // a backup without them is no backup.
    for (name, path, _) in parts
        .iter()
        .filter(|(name, ..)| matches!(*name, "pki" | "keys"))
    {
        if !path.is_dir() {
            bail!(
                "no {name} directory at {}: check the configuration (or the working \
                 directory) the backup runs with",
                path.display()
            );
        }
    }
    refuse_overlaps(config, &parts, out)?;
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new(".")))
        .with_context(|| format!("creating the parent of {}", out.display()))?;
    std::fs::create_dir(out).with_context(|| format!("creating {}", out.display()))?;
    private(out, 0o700)?;
    let taken = take(&parts, keys, out);
    if taken.is_err() {
        // Nothing half-done: a backup that failed is not left to be mistaken for one.
        let _ = std::fs::remove_dir_all(out);
    }
    taken
}

fn take(
    parts: &[(&'static str, PathBuf, Kind)],
    keys: &sceau_crypto::Keys,
    out: &Path,
) -> anyhow::Result<Summary> {
    for (name, path, kind) in parts {
        let target = out.join(name);
        match kind {
            Kind::Database => snapshot(path, &target)?,
            // Taken after the database: every key or archived object a row of the copy
            // names was written before that row was committed, so it is there.
            Kind::Directory if path.is_dir() => copy_tree(path, &target)?,
            Kind::Directory => {}
        }
    }
    let schema_version: i64 = rusqlite::Connection::open(out.join("sceau.db"))?.query_row(
        "PRAGMA user_version",
        [],
        |row| row.get(0),
    )?;
    let mut files = Vec::new();
    for (name, _, _) in parts {
        list(out, &out.join(name), &mut files)?;
    }
    let bytes = files.iter().map(|entry| entry.size).sum();
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        created_at_s: chrono::Utc::now().timestamp(),
        schema_version,
        master_key_check: hex::encode(keys.backup_mac(b"sceau backup: the master key")),
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    crate::write_private(&out.join(MANIFEST), &text)?;
    crate::write_private(
        &out.join(MANIFEST_MAC),
        format!("{}\n", hex::encode(keys.backup_mac(&text))).as_bytes(),
    )?;
    Ok(Summary {
        files: manifest.files.len(),
        bytes,
        schema_version,
    })
}

/// Refuses a backup that would copy itself (`out` inside a copied directory) or a secret
/// (the master key or the admin token inside one), or the live database twice (a copied
/// directory holding it).
fn refuse_overlaps(
    config: &Config,
    parts: &[(&'static str, PathBuf, Kind)],
    out: &Path,
) -> anyhow::Result<()> {
    let absolute = |path: &Path| -> PathBuf {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        // Through the links of what exists, so that two names of one place compare equal.
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => parent
                .canonicalize()
                .map_or_else(|_| path.clone(), |parent| parent.join(name)),
            _ => path,
        }
    };
    let inside = |path: &Path, directory: &Path| absolute(path).starts_with(absolute(directory));
    let secrets = [
        ("the master key", config.master_key_file.as_path()),
        ("the admin token", config.admin_token_file.as_path()),
        ("the database", parts[0].1.as_path()),
    ];
    for (name, directory, kind) in parts {
        if *kind != Kind::Directory {
            continue;
        }
        if inside(out, directory) {
            bail!(
                "{} is inside the {name} directory the backup copies: choose a place outside it",
                out.display()
            );
        }
        for (what, file) in secrets {
            if inside(file, directory) {
                bail!(
                    "{what} ({}) is inside the {name} directory ({}): the backup would copy it; \
                     give {name} a directory of its own",
                    file.display(),
                    directory.display()
                );
            }
        }
    }
    Ok(())
}

/// A consistent copy of the database at one moment, while others write to it.
fn snapshot(database: &Path, target: &Path) -> anyhow::Result<()> {
    let connection = rusqlite::Connection::open_with_flags(
        database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", database.display()))?;
    // The server's writer may hold the lock for a moment.
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    let target_text = target.to_str().context("the backup's path is not UTF-8")?;
    connection
        .execute("VACUUM INTO ?1", [target_text])
        .with_context(|| format!("copying {}", database.display()))?;
    private(target, 0o600)
}

/// Checks the backup in `from` against the master key and restores it into the places
/// the configuration names, none of which may hold data yet.
pub fn restore(config: &Config, keys: &sceau_crypto::Keys, from: &Path) -> anyhow::Result<Summary> {
    let parts = parts(config)?;
    let manifest = check(keys, from)?;
    if manifest.schema_version > sceau_store::sqlite::schema::SCHEMA_VERSION {
        bail!(
            "the backup's database is of schema {}, newer than this sceau's {}: restore it \
             with the version that took it",
            manifest.schema_version,
            sceau_store::sqlite::schema::SCHEMA_VERSION
        );
    }
    for (_, path, kind) in &parts {
        let occupied = match kind {
            // The database's companions too: a foreign WAL would be replayed into it.
            Kind::Database => ["", "-wal", "-shm", "-journal"].iter().any(|suffix| {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                Path::new(&name).exists()
            }),
            Kind::Directory => {
                path.is_dir() && std::fs::read_dir(path)?.next().is_some() || path.is_file()
            }
        };
        if occupied {
            bail!(
                "{} already holds data: a restore writes only where nothing is (move it away \
                 first)",
                path.display()
            );
        }
    }
    // Staged beside their places and checked there (what is staged is what was checked:
    // its listing and digests against the manifest, the database's integrity), then moved
    // in, the database last; a failure takes back what was moved and removes the stages.
    let mut staged: Vec<(&'static str, PathBuf, PathBuf)> = Vec::new();
    let staging = (|| -> anyhow::Result<()> {
        for (name, path, kind) in &parts {
            let source = from.join(name);
            if !source.exists() {
                continue;
            }
            let stage = staged_path(path);
            let _ = std::fs::remove_dir_all(&stage);
            let _ = std::fs::remove_file(&stage);
            if let Some(parent) = stage.parent() {
                std::fs::create_dir_all(parent)?;
            }
            staged.push((name, stage.clone(), path.clone()));
            match kind {
                Kind::Database => {
                    std::fs::copy(&source, &stage)?;
                    private(&stage, 0o600)?;
                }
                Kind::Directory => copy_tree(&source, &stage)?,
            }
        }
        let mut copied = Vec::new();
        for (name, stage, _) in &staged {
            let mut entries = Vec::new();
            list(stage, stage, &mut entries)?;
            copied.extend(entries.into_iter().map(|entry| Entry {
                path: if entry.path.is_empty() {
                    (*name).to_owned()
                } else {
                    format!("{name}/{}", entry.path)
                },
                ..entry
            }));
        }
        copied.sort_by(|a, b| a.path.cmp(&b.path));
        let mut expected = manifest.files.clone();
        expected.sort_by(|a, b| a.path.cmp(&b.path));
        let same = copied.len() == expected.len()
            && copied.iter().zip(&expected).all(|(copied, expected)| {
                copied.path == expected.path
                    && copied.size == expected.size
                    && copied.sha256 == expected.sha256
            });
        if !same {
            bail!("the staged copy differs from the backup's manifest (changed while restoring?)");
        }
        let database = &staged
            .iter()
            .find(|(name, ..)| *name == "sceau.db")
            .context("the backup holds no database")?
            .1;
        let integrity: String = rusqlite::Connection::open(database)?.query_row(
            "PRAGMA integrity_check",
            [],
            |row| row.get(0),
        )?;
        if integrity != "ok" {
            bail!("the backup's database fails SQLite's integrity check: {integrity}");
        }
        Ok(())
    })();
    let remove_stages = |staged: &[(&'static str, PathBuf, PathBuf)]| {
        for (_, stage, _) in staged {
            let _ = std::fs::remove_dir_all(stage);
            let _ = std::fs::remove_file(stage);
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut name = stage.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
    };
    if let Err(error) = staging {
        remove_stages(&staged);
        return Err(error.context("nothing restored"));
    }
    // The directories first, the database last: a server never starts on a database
    // whose keys are not in place yet.
    staged.sort_by_key(|(name, ..)| *name == "sceau.db");
    let mut moved: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    for (_, stage, path) in &staged {
        let emptied = path.is_dir();
        let moved_in = (|| -> std::io::Result<()> {
            if emptied {
                // An empty directory (checked above) gives way to the restored one.
                std::fs::remove_dir(path)?;
            }
            std::fs::rename(stage, path)
        })();
        if let Err(error) = moved_in {
            for (stage, path, emptied) in moved.iter().rev() {
                let _ = std::fs::rename(path, stage);
                if *emptied {
                    let _ = std::fs::create_dir(path);
                }
            }
            remove_stages(&staged);
            return Err(anyhow::Error::from(error).context(format!(
                "moving the restored {} in: nothing restored",
                path.display()
            )));
        }
        moved.push((stage.clone(), path.clone(), emptied));
    }
    Ok(Summary {
        files: manifest.files.len(),
        bytes: manifest.files.iter().map(|entry| entry.size).sum(),
        schema_version: manifest.schema_version,
    })
}

/// The manifest, once its authentication, every file's size and digest, and the absence
/// of any other file are checked.
fn check(keys: &sceau_crypto::Keys, from: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(from.join(MANIFEST))
        .with_context(|| format!("reading {}", from.join(MANIFEST).display()))?;
    let mac = std::fs::read_to_string(from.join(MANIFEST_MAC))
        .with_context(|| format!("reading {}", from.join(MANIFEST_MAC).display()))?;
    let expected = hex::encode(keys.backup_mac(&text));
    if !sceau_crypto::constant_time_eq(mac.trim().as_bytes(), expected.as_bytes()) {
        bail!(
            "the backup's manifest was changed, or the backup belongs to another master key: \
             nothing restored"
        );
    }
    let manifest: Manifest = serde_json::from_slice(&text).context("the backup's manifest")?;
    if manifest.format != FORMAT {
        bail!("not a backup this sceau reads ({})", manifest.format);
    }
    let mut present = Vec::new();
    for name in ["sceau.db", "pki", "archive", "keys"] {
        list(from, &from.join(name), &mut present)?;
    }
    let listed: std::collections::BTreeSet<&str> = manifest
        .files
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    if let Some(extra) = present
        .iter()
        .find(|entry| !listed.contains(entry.path.as_str()))
    {
        bail!(
            "{} is in the backup but not in its manifest: nothing restored",
            extra.path
        );
    }
    for entry in &manifest.files {
        let safe = !entry.path.starts_with('/')
            && entry
                .path
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !safe {
            bail!("the manifest names {:?}: nothing restored", entry.path);
        }
        let path = from.join(&entry.path);
        let (size, digest) =
            digest(&path).with_context(|| format!("{} is missing from the backup", entry.path))?;
        if size != entry.size || digest != entry.sha256 {
            bail!(
                "{} was changed since the backup was taken (its SHA-256 or size differs): \
                 nothing restored",
                entry.path
            );
        }
    }
    Ok(manifest)
}

/// Where a part is staged during a restore.
fn staged_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".restoring");
    path.with_file_name(name)
}

/// Every file under `path` (or `path` itself), relative to `root`, with its size and
/// SHA-256, in name order.
fn list(root: &Path, path: &Path, into: &mut Vec<Entry>) -> anyhow::Result<()> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if metadata.file_type().is_symlink() {
        bail!("{} is a symbolic link: refused", path.display());
    }
    if metadata.is_file() {
        let (size, sha256) = digest(path)?;
        let relative = path
            .strip_prefix(root)?
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        into.push(Entry {
            path: relative,
            size,
            sha256,
        });
    } else if metadata.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|child| child.map(|child| child.path()))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            list(root, &child, into)?;
        }
    }
    Ok(())
}

fn digest(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Copies the files under `from` into `to` (created), private to the owner. Files being
/// written under a temporary name (a key's `.tmp…`, an upload's `.put-…`), and files gone
/// between the listing and the copy (a disposable key destroyed after its one use), are
/// not data the copied database names: left out. A symbolic link is refused.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    private(to, 0o700)?;
    for child in std::fs::read_dir(from)? {
        let child = child?;
        let name = child.file_name();
        if name.to_string_lossy().starts_with(".tmp") || name.to_string_lossy().starts_with(".put-")
        {
            continue;
        }
        let kind = child.file_type()?;
        let target = to.join(&name);
        if kind.is_symlink() {
            bail!(
                "{} is a symbolic link: not copied, and not a backup without it",
                child.path().display()
            );
        } else if kind.is_dir() {
            copy_tree(&child.path(), &target)?;
        } else if kind.is_file() {
            match std::fs::copy(child.path(), &target) {
                Ok(_) => private(&target, 0o600)?,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    let _ = std::fs::remove_file(&target);
                }
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("copying {}", child.path().display()));
                }
            }
        }
        // Anything else (a socket, a pipe) is no data of sceau's.
    }
    Ok(())
}

fn private(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("making {} private", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn config(data: &Path) -> Config {
        Config {
            database: data.join("sceau.db").display().to_string(),
            master_key_file: data.join("master.key"),
            admin_token_file: data.join("admin.token"),
            keys_directory: data.join("keys"),
            pki_directory: data.join("pki"),
            archive_directory: data.join("archive"),
            ..Config::default()
        }
    }

    #[test]
    fn a_backup_copies_neither_itself_nor_a_secret() {
        let directory = tempfile::tempdir().unwrap();
        let data = directory.path().join("sceau-data");
        std::fs::create_dir_all(data.join("keys")).unwrap();
        let good = config(&data);
        let parts = parts(&good).unwrap();
        let elsewhere = directory.path().join("backups/today");
        assert!(refuse_overlaps(&good, &parts, &elsewhere).is_ok());
        let inside = data.join("keys/backup");
        let refused = refuse_overlaps(&good, &parts, &inside).unwrap_err();
        assert!(
            refused.to_string().contains("inside the keys directory"),
            "{refused}"
        );
        // The archive set to the data directory itself: the master key would be copied.
        let careless = Config {
            archive_directory: data.clone(),
            ..config(&data)
        };
        let parts = super::parts(&careless).unwrap();
        let refused = refuse_overlaps(&careless, &parts, &elsewhere).unwrap_err();
        assert!(refused.to_string().contains("the master key"), "{refused}");
        // PostgreSQL: pg_dump's to do.
        let postgres = Config {
            database: "postgres://sceau@127.0.0.1/sceau".into(),
            ..config(&data)
        };
        assert!(super::parts(&postgres).is_err());
    }
}
