//! sceau's secrets.
//!
//! One 32-byte master key (a file created with mode 0600 at first start, or given by the
//! `SCEAU_MASTER_KEY` environment variable) from which every working key is derived with
//! HKDF-SHA256 under its own label. Payment numbers are stored only as keyed fingerprints
//! (HMAC-SHA256), messages to phones only sealed (ChaCha20-Poly1305), passwords only as
//! Argon2id hashes, API keys and session tokens only as SHA-256 hashes.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sceau_domain::seal::{Seal, SealDigits, SealInput, seal_from_mac};
use sha2::{Digest, Sha256};
use std::path::Path;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("master key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("master key must be 32 bytes written as 64 hexadecimal digits")]
    KeyFormat,
    #[error("sealed message is damaged or was sealed under another key")]
    Unseal,
    #[error("password hashing failed")]
    PasswordHash,
}

/// `N` bytes from the operating system's CSPRNG (through rand's thread-local ChaCha).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    left.len() == right.len() && bool::from(left.ct_eq(right))
}

/// SHA-256, for hashing high-entropy tokens (API keys, session ids) before storage.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh random token: `prefix` then 64 hex digits (256 bits).
pub fn new_token(prefix: &str) -> Zeroizing<String> {
    let bytes = Zeroizing::new(random_bytes::<32>());
    Zeroizing::new(format!("{prefix}{}", hex::encode(*bytes)))
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes) into a PHC
/// string, in a reused work area.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
    let salt_bytes = random_bytes::<16>();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| CryptoError::PasswordHash)?;
    let params = argon2::Params::default();
    let blocks = params.block_count();
    let phc_params = ParamsString::try_from(&params).map_err(|_| CryptoError::PasswordHash)?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut digest = Zeroizing::new([0u8; argon2::Params::DEFAULT_OUTPUT_LEN]);
    let mut area = take_work_area(blocks);
    let hashed = hasher.hash_password_into_with_memory(
        password.as_bytes(),
        &salt_bytes,
        digest.as_mut_slice(),
        &mut area[..blocks],
    );
    return_work_area(area);
    hashed.map_err(|_| CryptoError::PasswordHash)?;
    let phc = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: phc_params,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(digest.as_slice()).map_err(|_| CryptoError::PasswordHash)?),
    };
    Ok(phc.to_string())
}

/// Argon2 work areas kept for reuse. Without it each check allocates ~19 MiB afresh, and
/// the allocator keeps freed areas per thread: a burst of sign-ins left the server near
/// 1 GB resident. Callers bound how many checks run at once; beyond this many idle areas,
/// returned ones are freed.
const PASSWORD_WORK_AREAS_KEPT: usize = 4;

static PASSWORD_WORK_AREAS: std::sync::Mutex<Vec<Vec<argon2::Block>>> =
    std::sync::Mutex::new(Vec::new());

/// Largest Argon2 memory cost a stored hash may ask for (KiB): a corrupt or hostile PHC
/// string cannot make a check allocate more.
const PASSWORD_M_COST_MAX: u32 = 256 * 1024;

/// Checks a password against a PHC string made by [`hash_password`]: recomputes the
/// Argon2id hash with the stored parameters and salt, in a reused work area, and compares
/// in constant time.
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::PasswordHash;
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > PASSWORD_M_COST_MAX {
        return false;
    }
    let mut salt_buffer = [0u8; argon2::password_hash::Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };
    let blocks = params.block_count();
    let hasher = argon2::Argon2::new(algorithm, version, params);
    let mut area = take_work_area(blocks);
    let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
    let hashed = hasher.hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        computed.as_mut_slice(),
        &mut area[..blocks],
    );
    return_work_area(area);
    use subtle::ConstantTimeEq;
    hashed.is_ok() && bool::from(computed.as_slice().ct_eq(expected.as_bytes()))
}

fn take_work_area(blocks: usize) -> Vec<argon2::Block> {
    let reused = PASSWORD_WORK_AREAS
        .lock()
        .ok()
        .and_then(|mut areas| areas.pop());
    match reused {
        Some(area) if area.len() >= blocks => area,
        _ => vec![argon2::Block::default(); blocks],
    }
}

fn return_work_area(area: Vec<argon2::Block>) {
    // The area held the password's derived state: wipe it before it waits for reuse.
    let mut area = area;
    area.iter_mut()
        .for_each(|block| *block = argon2::Block::default());
    if let Ok(mut areas) = PASSWORD_WORK_AREAS.lock()
        && areas.len() < PASSWORD_WORK_AREAS_KEPT
    {
        areas.push(area);
    }
}

/// The master key and the working keys derived from it. Wiped from memory on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Keys {
    number_lookup: [u8; 32],
    card_details: [u8; 32],
    message_seal: [u8; 32],
    request: [u8; 32],
    payment_seal: [u8; 32],
    envelope_seal: [u8; 32],
    delivery_code: [u8; 32],
    delivery_link: [u8; 32],
    unlock_code: [u8; 32],
    webhook: [u8; 32],
    keystore: [u8; 32],
    log: [u8; 32],
    backup: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Keys(***)")
    }
}

impl Keys {
    /// Derives the working keys from a 32-byte master key.
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"sceau master key v1"), master);
        let derive = |label: &[u8]| {
            let mut key = [0_u8; 32];
            // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
            let _ = hkdf.expand(label, &mut key);
            key
        };
        Keys {
            number_lookup: derive(b"sceau/number-lookup/v1"),
            card_details: derive(b"sceau/card-details/v1"),
            message_seal: derive(b"sceau/message-seal/v1"),
            request: derive(b"sceau/request/v1"),
            payment_seal: derive(b"sceau/payment-seal/v1"),
            envelope_seal: derive(b"sceau/envelope-seal/v1"),
            delivery_code: derive(b"sceau/delivery-code/v1"),
            delivery_link: derive(b"sceau/delivery-link/v1"),
            unlock_code: derive(b"sceau/unlock-code/v1"),
            webhook: derive(b"sceau/webhook/v1"),
            keystore: derive(b"sceau/keystore/v1"),
            log: derive(b"sceau/log-key/v1"),
            backup: derive(b"sceau/backup/v1"),
        }
    }

    /// The secret the encrypted key directory derives its encryption key from (see
    /// `sceau_pki::FileKeystore`): a key of its own, used for nothing else.
    pub fn keystore_secret(&self) -> &[u8; 32] {
        &self.keystore
    }

    /// HMAC-SHA256 of `data` under the backups' key: authenticates a backup's manifest,
    /// so that a backup changed since it was taken, or another master key's, is refused.
    pub fn backup_mac(&self, data: &[u8]) -> [u8; 32] {
        self.mac(&self.backup, &[data])
    }

    /// The seed of the transparency log's Ed25519 key, which signs its checkpoints: the
    /// same on every instance that shares the master key.
    pub fn log_key_seed(&self) -> &[u8; 32] {
        &self.log
    }

    /// Reads the master key from `SCEAU_MASTER_KEY`-style hex text.
    pub fn from_hex(text: &str) -> Result<Keys, CryptoError> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| CryptoError::KeyFormat)?);
        let master: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::KeyFormat)?,
        );
        Ok(Keys::from_master(&master))
    }

    /// Loads the master key file, creating it (mode 0600) with a fresh key if absent.
    pub fn load_or_create(path: &Path) -> Result<Keys, CryptoError> {
        let error = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Keys::from_hex(&Zeroizing::new(text)),
            Err(read_error) if read_error.kind() == std::io::ErrorKind::NotFound => {
                let master = Zeroizing::new(random_bytes::<32>());
                let text = Zeroizing::new(hex::encode(*master));
                write_private(path, text.as_bytes()).map_err(error)?;
                Ok(Keys::from_master(&master))
            }
            Err(read_error) => Err(error(read_error)),
        }
    }

    /// Keyed fingerprint of a payment number: how a number is found without storing it.
    pub fn number_fingerprint(&self, number_digits: &str) -> [u8; 32] {
        self.mac(&self.number_lookup, &[number_digits.as_bytes()])
    }

    /// Keyed fingerprint of a number with its expiry and security code: checking it checks
    /// both at once, so a failure cannot say which one was wrong.
    pub fn card_details_fingerprint(
        &self,
        number_digits: &str,
        expiry_month: u8,
        expiry_year: u16,
        security_code: &str,
    ) -> [u8; 32] {
        let expiry = format!("{expiry_month:02}/{expiry_year:04}");
        self.mac(
            &self.card_details,
            &[
                number_digits.as_bytes(),
                b"|",
                expiry.as_bytes(),
                b"|",
                security_code.as_bytes(),
            ],
        )
    }

    /// Keyed fingerprint of a request, stored with its idempotency key. Keyed because a
    /// request body may carry a card number and security code: a plain hash of it could
    /// be reversed by trying every number of the BIN range.
    pub fn request_fingerprint(&self, route: &str, body: &[u8]) -> [u8; 32] {
        self.mac(&self.request, &[route.as_bytes(), b"\0", body])
    }

    /// Encrypts a message for storage: a random 96-bit nonce, then the AEAD ciphertext.
    /// `context` (for example the recipient's address) is bound as associated data.
    pub fn seal(&self, plaintext: &str, context: &str) -> Vec<u8> {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.message_seal));
        let nonce_bytes = random_bytes::<12>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let payload = chacha20poly1305::aead::Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption with ChaCha20-Poly1305 fails only past 256 GiB per message.
        let ciphertext = cipher.encrypt(nonce, payload).unwrap_or_default();
        let mut sealed = Vec::with_capacity(12 + ciphertext.len());
        sealed.extend_from_slice(&nonce_bytes);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts what [`Keys::seal`] made with the same `context`.
    pub fn unseal(&self, sealed: &[u8], context: &str) -> Result<Zeroizing<String>, CryptoError> {
        if sealed.len() < 12 + 16 {
            return Err(CryptoError::Unseal);
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.message_seal));
        let (nonce, ciphertext) = sealed.split_at(12);
        let payload = chacha20poly1305::aead::Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(Nonce::from_slice(nonce), payload)
                .map_err(|_| CryptoError::Unseal)?,
        );
        String::from_utf8(plaintext.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Unseal)
    }

    /// The seal of a payment: HMAC-SHA256 under the seal key over the input's canonical
    /// encoding, reduced to `digits` digits. Recomputed, never stored.
    pub fn payment_seal(&self, input: &SealInput, digits: SealDigits) -> Seal {
        let mac = Zeroizing::new(self.mac(&self.payment_seal, &[&input.canonical()]));
        seal_from_mac(&mac, digits)
    }

    /// Whether `typed` is the seal of `input`, compared in constant time.
    pub fn seal_matches(&self, input: &SealInput, digits: SealDigits, typed: &Seal) -> bool {
        let expected = self.payment_seal(input, digits);
        constant_time_eq(expected.digits().as_bytes(), typed.digits().as_bytes())
    }

    /// The seal of an envelope (the notary): HMAC-SHA256 under a key of its own over the
    /// input's canonical encoding (its envelope, client, manifest digest, time and nonce),
    /// reduced to `digits` digits.
    pub fn envelope_seal(
        &self,
        input: &sceau_domain::seal::EnvelopeSealInput,
        digits: SealDigits,
    ) -> Seal {
        let mac = Zeroizing::new(self.mac(&self.envelope_seal, &[&input.canonical()]));
        seal_from_mac(&mac, digits)
    }

    /// Whether `typed` is the seal of the envelope `input`, compared in constant time.
    pub fn envelope_seal_matches(
        &self,
        input: &sceau_domain::seal::EnvelopeSealInput,
        digits: SealDigits,
        typed: &Seal,
    ) -> bool {
        let expected = self.envelope_seal(input, digits);
        constant_time_eq(expected.digits().as_bytes(), typed.digits().as_bytes())
    }

    /// The code of a delivery's recipient (certified delivery): HMAC-SHA256 under a key
    /// of its own over the input's canonical encoding, reduced to `digits` digits.
    pub fn delivery_code(
        &self,
        input: &sceau_domain::seal::DeliveryCodeInput,
        digits: SealDigits,
    ) -> Seal {
        let mac = Zeroizing::new(self.mac(&self.delivery_code, &[&input.canonical()]));
        seal_from_mac(&mac, digits)
    }

    /// The token of a recipient's link (certified delivery): HMAC-SHA256 under a key of
    /// its own over the delivery's public id, the recipient's place and their salt. Only
    /// its SHA-256 is stored; the notice and each reminder carry the token, made again.
    pub fn delivery_link(&self, delivery: &str, position: u32, salt: &[u8; 16]) -> [u8; 32] {
        self.mac(
            &self.delivery_link,
            &[delivery.as_bytes(), &position.to_be_bytes(), salt],
        )
    }

    /// Whether `typed` is the code of the recipient `input`, compared in constant time.
    pub fn delivery_code_matches(
        &self,
        input: &sceau_domain::seal::DeliveryCodeInput,
        digits: SealDigits,
        typed: &Seal,
    ) -> bool {
        let expected = self.delivery_code(input, digits);
        constant_time_eq(expected.digits().as_bytes(), typed.digits().as_bytes())
    }

    /// The code that lifts a paused sign-in: HMAC-SHA256 under a key of its own over
    /// the input's canonical encoding, reduced to
    /// [`sceau_domain::sign_in::UNLOCK_CODE_DIGITS`] digits. Recomputed, never stored.
    pub fn unlock_code(&self, input: &sceau_domain::sign_in::UnlockInput) -> Seal {
        let mac = Zeroizing::new(self.mac(&self.unlock_code, &[&input.canonical()]));
        let digits = SealDigits::new(sceau_domain::sign_in::UNLOCK_CODE_DIGITS).unwrap_or_default();
        seal_from_mac(&mac, digits)
    }

    /// Whether `typed` is the unlock code of `input`, compared in constant time.
    pub fn unlock_code_matches(
        &self,
        input: &sceau_domain::sign_in::UnlockInput,
        typed: &Seal,
    ) -> bool {
        let expected = self.unlock_code(input);
        constant_time_eq(expected.digits().as_bytes(), typed.digits().as_bytes())
    }

    /// The secret with which sceau signs a merchant's webhooks (`whsec_` and 64 hex
    /// digits). Derived, not stored: the same master key always gives the same secret.
    pub fn webhook_secret(&self, merchant_id: i64) -> Zeroizing<String> {
        self.webhook_secret_version(merchant_id, 0)
    }

    /// Version `version` of a merchant's webhook secret: version 0 is the one given at
    /// enrolment, each rotation takes the next (derived alike, with the version).
    pub fn webhook_secret_version(&self, merchant_id: i64, version: i64) -> Zeroizing<String> {
        let id = merchant_id.to_be_bytes();
        let secret = Zeroizing::new(if version == 0 {
            self.mac(&self.webhook, &[&id])
        } else {
            self.mac(&self.webhook, &[&id, b"rotated", &version.to_be_bytes()])
        });
        Zeroizing::new(format!("whsec_{}", hex::encode(*secret)))
    }

    fn mac(&self, key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
        // HMAC accepts keys of any length: new_from_slice cannot fail here.
        let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(key) else {
            return [0; 32];
        };
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// A webhook's signature: HMAC-SHA256 under the merchant's webhook secret (the whole
/// `whsec_…` text, as bytes) over `"{timestamp}.{body}"`, in hex. The merchant recomputes it
/// from the `Sceau-Signature: t=…,v1=…` header and the raw body.
pub fn webhook_signature(secret: &str, timestamp_s: i64, body: &[u8]) -> String {
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut directories = std::fs::DirBuilder::new();
        directories.recursive(true);
        #[cfg(unix)]
        directories.mode(0o700);
        directories.create(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_master(&[7; 32])
    }

    #[test]
    fn fingerprints_are_keyed_and_distinct() {
        let a = keys().number_fingerprint("4999991200000001");
        assert_eq!(a, keys().number_fingerprint("4999991200000001"));
        assert_ne!(a, keys().number_fingerprint("4999991200000002"));
        assert_ne!(
            a,
            Keys::from_master(&[8; 32]).number_fingerprint("4999991200000001")
        );
        let details = keys().card_details_fingerprint("4999991200000001", 3, 2027, "123");
        assert_ne!(
            details,
            keys().card_details_fingerprint("4999991200000001", 4, 2027, "123")
        );
        assert_ne!(
            details,
            keys().card_details_fingerprint("4999991200000001", 3, 2027, "124")
        );
    }

    #[test]
    fn sealed_messages_open_only_with_key_and_context() {
        let sealed = keys().seal("your number 4999 9912 0000 0001", "+33612345678");
        assert!(!sealed.windows(4).any(|w| w == b"4999"));
        assert_eq!(
            keys()
                .unseal(&sealed, "+33612345678")
                .map(|t| t.to_string())
                .ok()
                .as_deref(),
            Some("your number 4999 9912 0000 0001")
        );
        assert!(keys().unseal(&sealed, "+33612345679").is_err());
        assert!(
            Keys::from_master(&[8; 32])
                .unseal(&sealed, "+33612345678")
                .is_err()
        );
        let mut damaged = sealed.clone();
        damaged[20] ^= 1;
        assert!(keys().unseal(&damaged, "+33612345678").is_err());
        assert!(keys().unseal(&[0; 5], "+33612345678").is_err());
    }

    #[test]
    fn passwords_and_tokens() {
        let phc = hash_password("correct horse").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horse!", &phc));
        assert!(!verify_password("x", "not a hash"));
        let token = new_token("sk_");
        assert_eq!(token.len(), 3 + 64);
        assert_ne!(*token, *new_token("sk_"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    /// The reused work areas change nothing: hashes made by the argon2 crate's own
    /// hasher (as stored before) verify, ours verify with its verifier, salts differ,
    /// and a stored hash cannot ask for unbounded memory.
    #[test]
    fn password_hashes_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap_or_else(|e| panic!("{e}"));
        let theirs = argon2::Argon2::default()
            .hash_password(b"tr0ub4dor", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default();
        assert!(verify_password("tr0ub4dor", &theirs));
        assert!(!verify_password("tr0ub4dor&3", &theirs));
        for _ in 0..3 {
            let ours = hash_password("tr0ub4dor").unwrap_or_default();
            let parsed = PasswordHash::new(&ours).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                argon2::Argon2::default()
                    .verify_password(b"tr0ub4dor", &parsed)
                    .is_ok()
            );
            assert_ne!(ours, hash_password("tr0ub4dor").unwrap_or_default());
        }
        let greedy = theirs.replace("m=19456", "m=4194304");
        assert_ne!(greedy, theirs);
        assert!(!verify_password("tr0ub4dor", &greedy));
        let truncated = &theirs[..theirs.len() - 4];
        assert!(!verify_password("tr0ub4dor", truncated));
    }

    #[test]
    fn master_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| unreachable!());
        let path = dir.path().join("master.key");
        let first = Keys::load_or_create(&path).unwrap_or_else(|_| unreachable!());
        let second = Keys::load_or_create(&path).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            first.number_fingerprint("1"),
            second.number_fingerprint("1")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap_or_else(|_| unreachable!());
        assert!(matches!(
            Keys::load_or_create(&path),
            Err(CryptoError::KeyFormat)
        ));
    }

    fn seal_input() -> SealInput {
        SealInput {
            checkout_id: 41,
            amount_minor: 4_990,
            currency: "EUR".parse().unwrap(),
            merchant_id: 2,
            payee_account_id: 9,
            client_id: 3,
            check_time_s: 1_789_999_000,
            issued_at_s: 1_790_000_000,
            nonce: [7; 16],
        }
    }

    #[test]
    fn a_seal_is_bound_to_amount_payee_and_nonce() {
        let keys = keys();
        let digits = SealDigits::default();
        let input = seal_input();
        let seal = keys.payment_seal(&input, digits);
        assert_eq!(seal.digits().len(), 8);
        assert!(keys.seal_matches(&input, digits, &seal));
        assert_eq!(keys.payment_seal(&input, digits), seal, "deterministic");
        let changed = [
            SealInput {
                amount_minor: 4_991,
                ..input
            },
            SealInput {
                payee_account_id: 10,
                ..input
            },
            SealInput {
                merchant_id: 5,
                ..input
            },
            SealInput {
                currency: "USD".parse().unwrap(),
                ..input
            },
            SealInput {
                nonce: [8; 16],
                ..input
            },
            SealInput {
                check_time_s: 1_789_999_001,
                ..input
            },
        ];
        for other in changed {
            assert!(!keys.seal_matches(&other, digits, &seal), "{other:?}");
        }
        let other_keys = Keys::from_master(&[2; 32]);
        assert!(!other_keys.seal_matches(&input, digits, &seal));
        let ten = SealDigits::new(10).unwrap();
        assert_eq!(keys.payment_seal(&input, ten).digits().len(), 10);
    }

    #[test]
    fn webhook_secrets_are_per_merchant_and_signatures_cover_time_and_body() {
        let keys = keys();
        let secret = keys.webhook_secret(1);
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64);
        assert_ne!(*secret, *keys.webhook_secret(2));
        assert_eq!(*secret, *keys.webhook_secret(1));
        // Each version its own; version 0 the enrolment's.
        assert_eq!(*secret, *keys.webhook_secret_version(1, 0));
        assert_ne!(*secret, *keys.webhook_secret_version(1, 1));
        assert_ne!(
            *keys.webhook_secret_version(1, 1),
            *keys.webhook_secret_version(1, 2)
        );
        assert_ne!(
            *keys.webhook_secret_version(1, 1),
            *keys.webhook_secret_version(2, 1)
        );
        let signature = webhook_signature(&secret, 1_700_000_000, b"{}");
        assert_eq!(signature.len(), 64);
        assert_ne!(signature, webhook_signature(&secret, 1_700_000_001, b"{}"));
        assert_ne!(signature, webhook_signature(&secret, 1_700_000_000, b"{ }"));
        // The construction is HMAC-SHA256(secret, "t.body"): recomputed independently.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"1700000000.{}");
        assert_eq!(signature, hex::encode(mac.finalize().into_bytes()));
    }
}
