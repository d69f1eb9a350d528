//! The [`Keystore`] trait and the embedded default, [`FileKeystore`].
//!
//! Every key is P-256 and has one use, fixed when it is made: signing (ECDSA) or key
//! agreement (ECDH). A signing key does not agree and an agreement key does not sign
//! ([`KeystoreError::WrongUse`]).
//!
//! A key file (version 2) is 134 bytes: a magic and version (8), the key's use (1: 1 for
//! signing, 2 for agreement), the public key as an uncompressed SEC1 point (65), a nonce
//! (12), and the private scalar encrypted with ChaCha20-Poly1305 (32 + 16 of tag). The
//! associated data binds the magic, the use, the key's label and its public key, so that a
//! file renamed to another label, given another public key or another use, does not open.
//! Version 1 files (133 bytes: the same without the use byte, nor the use in the
//! associated data) were written before keys had uses: they still open, as signing keys.
//! The encryption key is derived from the master key with HKDF-SHA256 and a label of its
//! own: it is used for nothing else.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use sha2::Sha256;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// The longest key label.
pub const KEY_LABEL_LEN_MAX: usize = 64;

/// A key's name in a keystore: 1 to 64 of `a-z`, `0-9`, `-` and `_` (it names a file, and a
/// PKCS#11 object).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyLabel(String);

impl KeyLabel {
    pub fn new(text: &str) -> Result<KeyLabel, KeystoreError> {
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if text.is_empty() || text.len() > KEY_LABEL_LEN_MAX || !text.chars().all(allowed) {
            return Err(KeystoreError::InvalidLabel);
        }
        Ok(KeyLabel(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyLabel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeystoreError {
    #[error("a key label is 1 to 64 of a-z, 0-9, '-' and '_'")]
    InvalidLabel,
    #[error("a key named {0} already exists")]
    Exists(KeyLabel),
    #[error("no key named {0}")]
    NotFound(KeyLabel),
    /// The key is there but does not open: another master key, or an altered file.
    #[error("the key {0} does not open with this master key, or was altered")]
    Unreadable(KeyLabel),
    /// A signing key asked to agree, or an agreement key asked to sign.
    #[error("the key {0} is not for this use: signing keys only sign, agreement keys only agree")]
    WrongUse(KeyLabel),
    #[error("the keystore is unavailable: {0}")]
    Unavailable(String),
}

/// Where the server's private keys live. Keys are P-256, each for one use: signing
/// (ECDSA) or key agreement (ECDH). A private key is used inside the keystore and never
/// returned by it.
pub trait Keystore: Send + Sync {
    /// Creates a new signing key named `label` and returns its public half. A label in use
    /// is refused ([`KeystoreError::Exists`]): a key is never replaced.
    fn generate(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError>;

    /// Creates a new key named `label` for key agreement only (ECDH; it cannot sign) and
    /// returns its public half. A label in use is refused, as for [`Keystore::generate`].
    fn generate_agreement(&self, label: &KeyLabel) -> Result<p256::PublicKey, KeystoreError>;

    /// The public half of the key named `label`, whatever its use (the same point, typed
    /// for ECDSA: `p256::PublicKey::from(&key)` gives it for agreement).
    fn public_key(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError>;

    /// Signs a SHA-256 digest (the caller hashes) with the signing key named `label`: ECDSA
    /// P-256 (the file keystore signs with AWS-LC, whose nonces mix fresh randomness with
    /// the key and the digest).
    fn sign_digest(&self, label: &KeyLabel, digest: &[u8; 32]) -> Result<Signature, KeystoreError>;

    /// Signs several digests with the key named `label`, in order: one use of the key for
    /// them all (the file keystore decrypts it once and wipes it after the last).
    fn sign_digests(
        &self,
        label: &KeyLabel,
        digests: &[[u8; 32]],
    ) -> Result<Vec<Signature>, KeystoreError> {
        digests
            .iter()
            .map(|digest| self.sign_digest(label, digest))
            .collect()
    }

    /// The ECDH shared secret of the agreement key named `label` and `peer`: the
    /// x-coordinate of the shared point (SEC 1 §3.3.1, as CMS uses it, RFC 5753), for the
    /// caller to derive keys from and wipe.
    fn agree(
        &self,
        label: &KeyLabel,
        peer: &p256::PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, KeystoreError>;

    /// Destroys the key named `label` (a disposable certificate's key, after its one use).
    fn destroy(&self, label: &KeyLabel) -> Result<(), KeystoreError>;

    /// What kind of keystore this is, for logs and reports: "file" or "pkcs11".
    fn kind(&self) -> &'static str;
}

/// The magic of the files written now (version 2: with the key's use).
const MAGIC: &[u8; 8] = b"sceauK2\0";
/// The magic of version 1 files (signing keys, before keys had uses): read, never written.
const MAGIC_V1: &[u8; 8] = b"sceauK1\0";
const USE_LEN: usize = 1;
const PUBLIC_LEN: usize = 65;
const NONCE_LEN: usize = 12;
const SEALED_LEN: usize = 32 + 16;
const FILE_LEN: usize = MAGIC.len() + USE_LEN + PUBLIC_LEN + NONCE_LEN + SEALED_LEN;
const FILE_V1_LEN: usize = MAGIC_V1.len() + PUBLIC_LEN + NONCE_LEN + SEALED_LEN;
const FILE_SUFFIX: &str = ".key";

/// What a key is for: one use, fixed when the key is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyUse {
    Signing,
    Agreement,
}

impl KeyUse {
    fn byte(self) -> u8 {
        match self {
            KeyUse::Signing => 1,
            KeyUse::Agreement => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<KeyUse> {
        match byte {
            1 => Some(KeyUse::Signing),
            2 => Some(KeyUse::Agreement),
            _ => None,
        }
    }
}

/// The layout a key file was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileVersion {
    /// No use byte: a signing key.
    V1,
    V2,
}

/// A key as its file holds it: nothing secret in clear.
struct StoredKey {
    version: FileVersion,
    usage: KeyUse,
    public: VerifyingKey,
    nonce: [u8; NONCE_LEN],
    sealed: [u8; SEALED_LEN],
}

/// The embedded keystore: one file per key in a directory (mode 0700, files 0600), each
/// private key encrypted at rest. Files are written once (a new file, synced, then linked
/// under its name without replacing anything) and read into a cache that holds only what
/// the files hold; a private key is decrypted for one signature and wiped after it.
pub struct FileKeystore {
    directory: PathBuf,
    cipher: ChaCha20Poly1305,
    cache: Mutex<HashMap<KeyLabel, Arc<StoredKey>>>,
}

impl std::fmt::Debug for FileKeystore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FileKeystore")
            .field("directory", &self.directory)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: impl std::fmt::Display) -> KeystoreError {
    KeystoreError::Unavailable(error.to_string())
}

impl FileKeystore {
    /// Opens the keystore in `directory` (created, private, if missing), with the
    /// encryption key derived from `master`.
    pub fn open(directory: &Path, master: &[u8; 32]) -> Result<FileKeystore, KeystoreError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(unavailable)?;
        let mode = std::fs::metadata(directory)
            .map_err(unavailable)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeystoreError::Unavailable(format!(
                "{} is readable by others (mode {:o}); make it 0700",
                directory.display(),
                mode & 0o777
            )));
        }
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"sceau keystore v1"), master);
        let mut key = Zeroizing::new([0_u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit: expand cannot fail.
        let _ = hkdf.expand(b"sceau/keystore/file-encryption/v1", key.as_mut_slice());
        Ok(FileKeystore {
            directory: directory.to_path_buf(),
            cipher: ChaCha20Poly1305::new(Key::from_slice(key.as_slice())),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn path(&self, label: &KeyLabel) -> PathBuf {
        self.directory.join(format!("{label}{FILE_SUFFIX}"))
    }

    /// What the encryption binds: the magic, the use (version 2), the label, the public key.
    fn aad(version: FileVersion, usage: KeyUse, label: &KeyLabel, public: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(MAGIC.len() + 2 + label.0.len() + public.len());
        match version {
            FileVersion::V1 => aad.extend_from_slice(MAGIC_V1),
            FileVersion::V2 => {
                aad.extend_from_slice(MAGIC);
                aad.push(usage.byte());
            }
        }
        aad.push(label.0.len() as u8);
        aad.extend_from_slice(label.0.as_bytes());
        aad.extend_from_slice(public);
        aad
    }

    /// The key as stored, from the cache or its file.
    fn stored(&self, label: &KeyLabel) -> Result<Arc<StoredKey>, KeystoreError> {
        if let Some(found) = self.cache.lock().map_err(unavailable)?.get(label) {
            return Ok(Arc::clone(found));
        }
        let bytes = match std::fs::read(self.path(label)) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeystoreError::NotFound(label.clone()));
            }
            Err(error) => return Err(unavailable(error)),
        };
        let unreadable = || KeystoreError::Unreadable(label.clone());
        let (version, usage, rest) = if bytes.len() == FILE_LEN && bytes.starts_with(MAGIC) {
            let usage = KeyUse::from_byte(bytes[MAGIC.len()]).ok_or_else(unreadable)?;
            (FileVersion::V2, usage, &bytes[MAGIC.len() + USE_LEN..])
        } else if bytes.len() == FILE_V1_LEN && bytes.starts_with(MAGIC_V1) {
            (FileVersion::V1, KeyUse::Signing, &bytes[MAGIC_V1.len()..])
        } else {
            return Err(unreadable());
        };
        let (public, rest) = rest.split_at(PUBLIC_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let stored = Arc::new(StoredKey {
            version,
            usage,
            public: VerifyingKey::from_sec1_bytes(public).map_err(|_| unreadable())?,
            nonce: nonce.try_into().map_err(|_| unreadable())?,
            sealed: sealed.try_into().map_err(|_| unreadable())?,
        });
        self.cache
            .lock()
            .map_err(unavailable)?
            .insert(label.clone(), Arc::clone(&stored));
        Ok(stored)
    }

    /// Writes a new key file under `label`, never replacing one.
    fn write_new(&self, label: &KeyLabel, contents: &[u8]) -> Result<(), KeystoreError> {
        let mut file = tempfile::NamedTempFile::new_in(&self.directory).map_err(unavailable)?;
        file.write_all(contents).map_err(unavailable)?;
        file.as_file().sync_all().map_err(unavailable)?;
        match file.persist_noclobber(self.path(label)) {
            Ok(_) => {}
            Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(KeystoreError::Exists(label.clone()));
            }
            Err(error) => return Err(unavailable(error.error)),
        }
        self.sync_directory()
    }

    fn sync_directory(&self) -> Result<(), KeystoreError> {
        std::fs::File::open(&self.directory)
            .and_then(|directory| directory.sync_all())
            .map_err(unavailable)
    }
}

/// A fresh private key from the operating system's random numbers.
pub(crate) fn new_secret_key() -> p256::SecretKey {
    loop {
        let mut bytes = Zeroizing::new([0_u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut_slice());
        // Fails only for zero or a value above the group order: about 2^-32 of draws.
        if let Ok(key) = p256::SecretKey::from_slice(bytes.as_slice()) {
            return key;
        }
    }
}

impl FileKeystore {
    /// Makes a key for `usage` and writes its file (version 2).
    fn generate_for(
        &self,
        label: &KeyLabel,
        usage: KeyUse,
    ) -> Result<p256::PublicKey, KeystoreError> {
        let secret = new_secret_key();
        let public = secret.public_key();
        let point = public.to_encoded_point(false);
        let mut nonce = [0_u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let scalar = Zeroizing::new(secret.to_bytes());
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: scalar.as_slice(),
                    aad: &FileKeystore::aad(FileVersion::V2, usage, label, point.as_bytes()),
                },
            )
            .map_err(|_| unavailable("encrypting a key failed"))?;
        let mut contents = Vec::with_capacity(FILE_LEN);
        contents.extend_from_slice(MAGIC);
        contents.push(usage.byte());
        contents.extend_from_slice(point.as_bytes());
        contents.extend_from_slice(&nonce);
        contents.extend_from_slice(&sealed);
        if contents.len() != FILE_LEN {
            return Err(unavailable("a key file of the wrong length"));
        }
        self.write_new(label, &contents)?;
        Ok(public)
    }

    /// The private scalar of the key named `label`, if it is a key for `usage`: decrypted
    /// (which also authenticates the file's use) for one operation, wiped when dropped.
    /// The private key of `label`, decrypted (wiped when dropped), if it is for `usage`,
    /// with what its file holds.
    fn secret(
        &self,
        label: &KeyLabel,
        usage: KeyUse,
    ) -> Result<(Zeroizing<Vec<u8>>, Arc<StoredKey>), KeystoreError> {
        let stored = self.stored(label)?;
        let unreadable = || KeystoreError::Unreadable(label.clone());
        let point = stored.public.to_encoded_point(false);
        let secret = Zeroizing::new(
            self.cipher
                .decrypt(
                    Nonce::from_slice(&stored.nonce),
                    Payload {
                        msg: &stored.sealed,
                        aad: &FileKeystore::aad(
                            stored.version,
                            stored.usage,
                            label,
                            point.as_bytes(),
                        ),
                    },
                )
                .map_err(|_| unreadable())?,
        );
        if stored.usage != usage {
            return Err(KeystoreError::WrongUse(label.clone()));
        }
        if secret.len() != 32 {
            return Err(unreadable());
        }
        Ok((secret, stored))
    }

    fn scalar(
        &self,
        label: &KeyLabel,
        usage: KeyUse,
    ) -> Result<Zeroizing<p256::NonZeroScalar>, KeystoreError> {
        let (secret, _) = self.secret(label, usage)?;
        // The scalar alone (no public key is derived: the associated data already ties
        // the file's public key to its scalar).
        Ok(Zeroizing::new(
            p256::SecretKey::from_slice(&secret)
                .map_err(|_| KeystoreError::Unreadable(label.clone()))?
                .to_nonzero_scalar(),
        ))
    }
}

/// The RFC 5915 ECPrivateKey of a P-256 key (with its curve and public point), for
/// AWS-LC to load: `SEQUENCE { 1, OCTET STRING d, [0] prime256v1, [1] BIT STRING Q }`.
fn ec_private_key_der(secret: &[u8], public: &[u8]) -> Zeroizing<Vec<u8>> {
    const CURVE: [u8; 12] = [
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let mut der = Zeroizing::new(Vec::with_capacity(121));
    der.extend_from_slice(&[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
    der.extend_from_slice(secret);
    der.extend_from_slice(&CURVE);
    der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    der.extend_from_slice(public);
    der
}

impl Keystore for FileKeystore {
    fn generate(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError> {
        Ok(VerifyingKey::from(
            self.generate_for(label, KeyUse::Signing)?,
        ))
    }

    fn generate_agreement(&self, label: &KeyLabel) -> Result<p256::PublicKey, KeystoreError> {
        self.generate_for(label, KeyUse::Agreement)
    }

    fn public_key(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError> {
        Ok(self.stored(label)?.public)
    }

    fn sign_digest(&self, label: &KeyLabel, digest: &[u8; 32]) -> Result<Signature, KeystoreError> {
        self.sign_digests(label, std::slice::from_ref(digest))?
            .pop()
            .ok_or_else(|| unavailable("no signature"))
    }

    fn sign_digests(
        &self,
        label: &KeyLabel,
        digests: &[[u8; 32]],
    ) -> Result<Vec<Signature>, KeystoreError> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let (secret, stored) = self.secret(label, KeyUse::Signing)?;
        let point = stored.public.to_encoded_point(false);
        // AWS-LC signs (assembly, several times the pure-Rust speed); it checks that the
        // public point is the scalar's, and wipes its copy of the key when it frees it,
        // after the last digest.
        let der = ec_private_key_der(&secret, point.as_bytes());
        drop(secret);
        let key = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
            .map_err(|_| KeystoreError::Unreadable(label.clone()))?;
        drop(der);
        digests
            .iter()
            .map(|digest| {
                let digest =
                    aws_lc_rs::digest::Digest::import_less_safe(digest, &aws_lc_rs::digest::SHA256)
                        .map_err(|_| unavailable("digest"))?;
                let signature = key
                    .sign_digest(&digest)
                    .map_err(|_| unavailable("signing failed"))?;
                Signature::from_der(signature.as_ref())
                    .map_err(|_| unavailable("signature encoding"))
            })
            .collect()
    }

    fn agree(
        &self,
        label: &KeyLabel,
        peer: &p256::PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let scalar = self.scalar(label, KeyUse::Agreement)?;
        // The shared point's x-coordinate; `SharedSecret` wipes its copy when dropped.
        let shared = p256::ecdh::diffie_hellman(&*scalar, peer.as_affine());
        let mut secret = Zeroizing::new([0_u8; 32]);
        secret.copy_from_slice(shared.raw_secret_bytes().as_slice());
        Ok(secret)
    }

    fn destroy(&self, label: &KeyLabel) -> Result<(), KeystoreError> {
        self.cache.lock().map_err(unavailable)?.remove(label);
        match std::fs::remove_file(self.path(label)) {
            Ok(()) => self.sync_directory(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(KeystoreError::NotFound(label.clone()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}

/// A keystore whose every use is counted for operators
/// (`sceau_keystore_operations_total`, by keystore, operation and outcome); what it
/// counts never names a key.
pub struct Metered(pub Arc<dyn Keystore>);

impl Metered {
    fn counted<T>(
        &self,
        operation: &'static str,
        result: Result<T, KeystoreError>,
    ) -> Result<T, KeystoreError> {
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!(
            "sceau_keystore_operations_total",
            "keystore" => self.0.kind(),
            "operation" => operation,
            "outcome" => outcome
        )
        .increment(1);
        result
    }
}

impl Keystore for Metered {
    fn generate(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError> {
        self.counted("generate", self.0.generate(label))
    }

    fn generate_agreement(&self, label: &KeyLabel) -> Result<p256::PublicKey, KeystoreError> {
        self.counted("generate", self.0.generate_agreement(label))
    }

    fn public_key(&self, label: &KeyLabel) -> Result<VerifyingKey, KeystoreError> {
        self.counted("public_key", self.0.public_key(label))
    }

    fn sign_digest(&self, label: &KeyLabel, digest: &[u8; 32]) -> Result<Signature, KeystoreError> {
        self.counted("sign", self.0.sign_digest(label, digest))
    }

    fn sign_digests(
        &self,
        label: &KeyLabel,
        digests: &[[u8; 32]],
    ) -> Result<Vec<Signature>, KeystoreError> {
        self.counted("sign", self.0.sign_digests(label, digests))
    }

    fn agree(
        &self,
        label: &KeyLabel,
        peer: &p256::PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        self.counted("agree", self.0.agree(label, peer))
    }

    fn destroy(&self, label: &KeyLabel) -> Result<(), KeystoreError> {
        self.counted("destroy", self.0.destroy(label))
    }

    fn kind(&self) -> &'static str {
        self.0.kind()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha2::Digest;

    const MASTER: [u8; 32] = [7; 32];

    fn label(text: &str) -> KeyLabel {
        KeyLabel::new(text).unwrap()
    }

    fn digest(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    /// (What every keystore must do is in `tests/keystores.rs`, run against both.)
    #[test]
    fn labels_name_files_safely() {
        for bad in ["", "Client", "a/b", "../x", "a.key", &"x".repeat(65)] {
            assert_eq!(
                KeyLabel::new(bad),
                Err(KeystoreError::InvalidLabel),
                "{bad}"
            );
        }
        assert!(KeyLabel::new(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn keys_persist_private_and_open_only_with_their_master_key() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("keys");
        let public = FileKeystore::open(&path, &MASTER)
            .unwrap()
            .generate(&label("root-ca"))
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&path.join("root-ca.key")), 0o600);
        let reopened = FileKeystore::open(&path, &MASTER).unwrap();
        let signature = reopened
            .sign_digest(&label("root-ca"), &digest(b"x"))
            .unwrap();
        assert!(public.verify_prehash(&digest(b"x"), &signature).is_ok());
        let stranger = FileKeystore::open(&path, &[8; 32]).unwrap();
        assert_eq!(stranger.public_key(&label("root-ca")).unwrap(), public);
        assert_eq!(
            stranger.sign_digest(&label("root-ca"), &digest(b"x")),
            Err(KeystoreError::Unreadable(label("root-ca")))
        );
        // A directory others can read is refused.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            FileKeystore::open(&path, &MASTER),
            Err(KeystoreError::Unavailable(_))
        ));
    }

    /// A key file as version 1 wrote it (a signing key, no use byte).
    fn version_1_file(store: &FileKeystore, label: &KeyLabel, secret: &p256::SecretKey) -> Vec<u8> {
        let point = secret.public_key().to_encoded_point(false);
        let nonce = [9_u8; NONCE_LEN];
        let aad = FileKeystore::aad(FileVersion::V1, KeyUse::Signing, label, point.as_bytes());
        let sealed = store
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.to_bytes().as_slice(),
                    aad: &aad,
                },
            )
            .unwrap();
        [MAGIC_V1.as_slice(), point.as_bytes(), &nonce, &sealed].concat()
    }

    #[test]
    fn version_1_files_still_open_as_signing_keys() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("keys");
        let store = FileKeystore::open(&path, &MASTER).unwrap();
        let secret = new_secret_key();
        let file = version_1_file(&store, &label("old"), &secret);
        assert_eq!(file.len(), FILE_V1_LEN);
        std::fs::write(path.join("old.key"), &file).unwrap();
        let public = VerifyingKey::from(secret.public_key());
        assert_eq!(store.public_key(&label("old")).unwrap(), public);
        let signature = store.sign_digest(&label("old"), &digest(b"x")).unwrap();
        assert!(public.verify_prehash(&digest(b"x"), &signature).is_ok());
        assert_eq!(
            store.agree(&label("old"), &new_secret_key().public_key()),
            Err(KeystoreError::WrongUse(label("old")))
        );
        // Made into a version 2 agreement key file, it does not open: the use is bound.
        let forged = [
            MAGIC.as_slice(),
            &[KeyUse::Agreement.byte()],
            &file[MAGIC_V1.len()..],
        ]
        .concat();
        std::fs::write(path.join("forged.key"), &forged).unwrap();
        assert_eq!(
            store.agree(&label("forged"), &new_secret_key().public_key()),
            Err(KeystoreError::Unreadable(label("forged")))
        );
    }

    #[test]
    fn a_key_file_cannot_change_its_use() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("keys");
        let store = FileKeystore::open(&path, &MASTER).unwrap();
        store.generate_agreement(&label("escrow")).unwrap();
        let mut file = std::fs::read(path.join("escrow.key")).unwrap();
        assert_eq!(file[MAGIC.len()], KeyUse::Agreement.byte());
        file[MAGIC.len()] = KeyUse::Signing.byte();
        std::fs::write(path.join("turned.key"), &file).unwrap();
        assert_eq!(
            store.sign_digest(&label("turned"), &digest(b"x")),
            Err(KeystoreError::Unreadable(label("turned")))
        );
    }

    #[test]
    fn any_altered_byte_of_a_key_file_is_detected() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileKeystore::open(&directory.path().join("keys"), &MASTER).unwrap();
        store.generate(&label("k")).unwrap();
        store.generate_agreement(&label("a")).unwrap();
        let original = std::fs::read(directory.path().join("keys/k.key")).unwrap();
        let agreement = std::fs::read(directory.path().join("keys/a.key")).unwrap();
        assert_eq!(original.len(), FILE_LEN);
        assert_eq!(agreement.len(), FILE_LEN);
        let peer = new_secret_key().public_key();
        for index in 0..FILE_LEN {
            let mut altered = original.clone();
            altered[index] ^= 0x01;
            std::fs::write(directory.path().join("keys/k.key"), &altered).unwrap();
            let mut altered = agreement.clone();
            altered[index] ^= 0x01;
            std::fs::write(directory.path().join("keys/a.key"), &altered).unwrap();
            let fresh = FileKeystore::open(&directory.path().join("keys"), &MASTER).unwrap();
            let signed = fresh.sign_digest(&label("k"), &digest(b"x"));
            assert!(
                matches!(signed, Err(KeystoreError::Unreadable(_))),
                "byte {index} altered: {signed:?}"
            );
            let agreed = fresh.agree(&label("a"), &peer);
            assert!(
                matches!(agreed, Err(KeystoreError::Unreadable(_))),
                "byte {index} altered: {agreed:?}"
            );
        }
        // A file copied under another label does not open either.
        std::fs::write(directory.path().join("keys/k2.key"), &original).unwrap();
        let fresh = FileKeystore::open(&directory.path().join("keys"), &MASTER).unwrap();
        assert_eq!(
            fresh.sign_digest(&label("k2"), &digest(b"x")),
            Err(KeystoreError::Unreadable(label("k2")))
        );
    }
}
