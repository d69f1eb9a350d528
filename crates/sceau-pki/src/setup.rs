//! The server's PKI as it starts: the authority and the time-stamp authority, created at
//! first start (keys in the keystore, certificates as DER files in a directory of their
//! own) and opened afterwards.

use crate::ca::{Authority, Issued, PkiError};
use crate::keystore::{KeyLabel, Keystore, KeystoreError};
use crate::tsa::TimeStampAuthority;
use der::asn1::ObjectIdentifier;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The TSA's key in the keystore.
pub const TSA_KEY: &str = "tsa";
/// The authority's escrow key (agreement only): clients' phone numbers are sealed to it.
pub const ESCROW_KEY: &str = "escrow";
/// How long the TSA's certificate lives.
pub const TSA_VALIDITY_S: i64 = 5 * 365 * 86_400;

const FILES: [&str; 3] = ["root.der", "issuing.der", "tsa.der"];

/// The authority and the time-stamp authority of a running server.
pub struct Pki {
    keystore: Arc<dyn Keystore>,
    escrow: EscrowKey,
    pub authority: Authority,
    pub tsa: TimeStampAuthority,
    pub tsa_certificate: Issued,
}

/// The escrow key: its label, its public half, and the identifier envelopes name it by
/// (the first 20 bytes of SHA-256 of the public point, uncompressed).
struct EscrowKey {
    label: KeyLabel,
    public: p256::PublicKey,
    key_id: Vec<u8>,
}

fn io_error(path: &Path, error: std::io::Error) -> PkiError {
    PkiError::Certificate(format!("{}: {error}", path.display()))
}

/// Writes `bytes` to a new file `path` (never replacing one), synced.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    let directory = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(directory).map_err(|e| io_error(path, e))?;
    file.write_all(bytes).map_err(|e| io_error(path, e))?;
    file.as_file().sync_all().map_err(|e| io_error(path, e))?;
    file.persist_noclobber(path)
        .map_err(|e| io_error(path, e.error))?;
    Ok(())
}

impl Pki {
    /// `plaintext` sealed to the escrow key (a CMS envelope, DER): only the keystore
    /// that holds the escrow key opens it.
    pub fn seal_for_escrow(&self, plaintext: &[u8]) -> Result<Vec<u8>, PkiError> {
        crate::escrow::seal(&self.escrow.public, &self.escrow.key_id, plaintext)
    }

    /// Opens an envelope sealed to the escrow key, inside the keystore.
    pub fn open_escrowed(&self, envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>, PkiError> {
        crate::escrow::open(self.keystore.as_ref(), &self.escrow.label, envelope)
    }

    /// The keystore that holds the authority's keys and the clients'.
    pub fn keystore(&self) -> &Arc<dyn Keystore> {
        &self.keystore
    }

    /// Opens the PKI whose certificates are in `directory`, or creates it all when the
    /// directory holds none of them: the root and issuing CA keys and certificates, the
    /// TSA's key and certificate. A directory with some of the files only is refused,
    /// as is a keystore whose keys are not the certificates' keys.
    pub fn open_or_create(
        keystore: Arc<dyn Keystore>,
        directory: &Path,
        organisation: &str,
        policy: ObjectIdentifier,
        now_s: i64,
    ) -> Result<Pki, PkiError> {
        // Every use of the keystore by the PKI and its users is counted for operators.
        let keystore: Arc<dyn Keystore> = Arc::new(crate::keystore::Metered(keystore));
        // Held to the end of this call.
        let _lock = lock_directory(directory)?;
        let paths: Vec<PathBuf> = FILES.iter().map(|name| directory.join(name)).collect();
        let present = paths.iter().filter(|path| path.exists()).count();
        let tsa_key = KeyLabel::new(TSA_KEY)?;
        let (authority, tsa_certificate) = if present == 0 {
            create_authorities(&keystore, &paths, &tsa_key, organisation, now_s)?
        } else if present == FILES.len() {
            open_authorities(&keystore, &paths)?
        } else {
            return Err(PkiError::Certificate(format!(
                "{} holds some of {} but not all: restore them from the backup",
                directory.display(),
                FILES.join(", ")
            )));
        };
        let escrow = EscrowKey::open_or_generate(keystore.as_ref())?;
        let tsa = TimeStampAuthority::new(
            Arc::clone(&keystore),
            tsa_key,
            tsa_certificate.clone(),
            vec![authority.issuing().clone()],
            policy,
        )?;
        Ok(Pki {
            keystore,
            escrow,
            authority,
            tsa,
            tsa_certificate,
        })
    }
}

/// Creates `directory` (private) if need be and locks it. Servers starting together on one
/// directory take turns: the first creates, the others open (the lock ends when the returned
/// file is closed).
fn lock_directory(directory: &Path) -> Result<std::fs::File, PkiError> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(|e| io_error(directory, e))?;
    }
    let lock_path = directory.join(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io_error(&lock_path, e))?;
    lock.lock().map_err(|e| io_error(&lock_path, e))?;
    Ok(lock)
}

/// The first start: the authority's keys and certificates, the TSA's key and certificate,
/// the certificates written to `paths` (root, issuing, TSA).
fn create_authorities(
    keystore: &Arc<dyn Keystore>,
    paths: &[PathBuf],
    tsa_key: &KeyLabel,
    organisation: &str,
    now_s: i64,
) -> Result<(Authority, Issued), PkiError> {
    let authority = Authority::create(Arc::clone(keystore), organisation, now_s)?;
    keystore.generate(tsa_key)?;
    let tsa_certificate = authority.issue_time_stamping(
        tsa_key,
        &format!("{organisation} Time-Stamp Authority"),
        now_s,
        TSA_VALIDITY_S,
    )?;
    for (path, issued) in
        paths
            .iter()
            .zip([authority.root(), authority.issuing(), &tsa_certificate])
    {
        write_new(path, &issued.der)?;
    }
    Ok((authority, tsa_certificate))
}

/// The later starts: the authority and the TSA's certificate from `paths` (root, issuing,
/// TSA), checked against the keystore's keys.
fn open_authorities(
    keystore: &Arc<dyn Keystore>,
    paths: &[PathBuf],
) -> Result<(Authority, Issued), PkiError> {
    let read = |path: &PathBuf| -> Result<Issued, PkiError> {
        Issued::from_der(&std::fs::read(path).map_err(|e| io_error(path, e))?)
    };
    let authority = Authority::open(Arc::clone(keystore), read(&paths[0])?, read(&paths[1])?)?;
    Ok((authority, read(&paths[2])?))
}

impl EscrowKey {
    /// The escrow key came after the first installations: made when it is missing.
    fn open_or_generate(keystore: &dyn Keystore) -> Result<EscrowKey, PkiError> {
        let label = KeyLabel::new(ESCROW_KEY)?;
        let public = match keystore.public_key(&label) {
            Ok(public) => p256::PublicKey::from(&public),
            Err(KeystoreError::NotFound(_)) => keystore.generate_agreement(&label)?,
            Err(error) => return Err(error.into()),
        };
        let key_id = {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            use sha2::Digest;
            let point = public.to_encoded_point(false);
            sha2::Sha256::digest(point.as_bytes())[..20].to_vec()
        };
        Ok(EscrowKey {
            label,
            public,
            key_id,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::FileKeystore;

    #[test]
    fn created_once_then_opened_and_incomplete_directories_refused() {
        let directory = tempfile::tempdir().unwrap();
        let keystore: Arc<dyn Keystore> =
            Arc::new(FileKeystore::open(&directory.path().join("keys"), &[1; 32]).unwrap());
        let pki_directory = directory.path().join("pki");
        let policy: ObjectIdentifier = "1.2.3.4.1".parse().unwrap();
        let created = Pki::open_or_create(
            Arc::clone(&keystore),
            &pki_directory,
            "sceau",
            policy,
            1_800_000_000,
        )
        .unwrap();
        let opened = Pki::open_or_create(
            Arc::clone(&keystore),
            &pki_directory,
            "sceau",
            policy,
            1_800_000_100,
        )
        .unwrap();
        assert_eq!(created.authority.root().der, opened.authority.root().der);
        assert_eq!(created.tsa_certificate.der, opened.tsa_certificate.der);
        // Servers starting together on a fresh directory: one creates, the others open.
        let fresh = directory.path().join("fresh");
        let fresh_keys: Arc<dyn Keystore> =
            Arc::new(FileKeystore::open(&directory.path().join("keys2"), &[2; 32]).unwrap());
        let start = Arc::new(std::sync::Barrier::new(8));
        let roots: Vec<Vec<u8>> = (0..8)
            .map(|_| {
                let (keystore, fresh) = (Arc::clone(&fresh_keys), fresh.clone());
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    Pki::open_or_create(keystore, &fresh, "sceau", policy, 1_800_000_000)
                        .map(|pki| pki.authority.root().der.clone())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|handle| handle.join().unwrap().unwrap())
            .collect();
        assert!(roots.windows(2).all(|pair| pair[0] == pair[1]));
        std::fs::remove_file(pki_directory.join("tsa.der")).unwrap();
        assert!(
            Pki::open_or_create(keystore, &pki_directory, "sceau", policy, 1_800_000_200).is_err()
        );
    }
}
