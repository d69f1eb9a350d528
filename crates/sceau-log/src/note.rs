//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys: the envelope of checkpoints.
//!
//! A note is a text ending in a newline, a blank line, then lines `— <key name> <base64(key ID
//! || signature)>`. The key ID is the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`, so the pair (name, ID) names one key;
//! signatures from other keys are ignored, which is what lets witnesses add cosignatures and a
//! log rotate its key without breaking clients. Kept apart from checkpoints because the format
//! is generic and has its own known-answer vector (Go's `sumdb/note`).
//!
//! Refused: notes over [`NOTE_BYTES_MAX`] or with more than [`NOTE_SIGNATURES_MAX`] signature
//! lines, ASCII control characters other than newline, any malformed signature line, a
//! signature by the trusted key that does not verify (RFC 8032, strict), and notes without one
//! from the trusted key.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The largest note accepted, signatures included. Checkpoints are about 200 bytes; this leaves
/// room for the 16 signatures C2SP asks verifiers to accept even if they were post-quantum.
pub const NOTE_BYTES_MAX: usize = 128 * 1024;
/// The most signature lines read in one note (C2SP: at least 16 must be accepted).
pub const NOTE_SIGNATURES_MAX: usize = 100;

/// Signature type byte of Ed25519 in key IDs and verifier keys.
const SIGNATURE_TYPE_ED25519: u8 = 0x01;
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// Why a note or a key was refused. The codes (before the colon) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error(
        "log.note.invalid_key_name: a key name must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidKeyName,
    #[error("log.note.malformed_verifier_key: expected <name>+<8 hex digits>+<base64 key>")]
    MalformedVerifierKey,
    #[error("log.note.unknown_key_type: only Ed25519 (type 0x01) keys are supported")]
    UnknownKeyType,
    #[error("log.note.invalid_public_key: not an Ed25519 public key")]
    InvalidPublicKey,
    #[error("log.note.key_id_mismatch: the key ID does not match the name and key")]
    KeyIdMismatch,
    #[error("log.note.too_large: a note is at most {NOTE_BYTES_MAX} bytes")]
    TooLarge,
    #[error("log.note.control_character: a note may hold no control character but newline")]
    ControlCharacter,
    #[error("log.note.malformed: a note is text, a blank line, then signature lines")]
    Malformed,
    #[error("log.note.malformed_text: the text must be non-empty and end with a newline")]
    MalformedText,
    #[error("log.note.malformed_signature_line: expected \"— <name> <base64>\"")]
    MalformedSignatureLine,
    #[error("log.note.too_many_signatures: at most {NOTE_SIGNATURES_MAX} signature lines")]
    TooManySignatures,
    #[error("log.note.bad_signature: the signature of the trusted key does not verify")]
    BadSignature,
    #[error("log.note.no_signature_from_key: no signature from the trusted key")]
    NoSignatureFromKey,
}

/// A public key that notes are checked against: its name, key ID and Ed25519 key.
/// Written `<name>+<hex key ID>+<base64(0x01 || public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    public_key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, public_key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            public_key,
        })
    }

    /// Parses `<name>+<hex key ID>+<base64(0x01 || public key)>`, checking the key ID.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, rest) = text
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey)?;
        let (id_hex, key_base64) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey)?;
        check_key_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NoteError::MalformedVerifierKey);
        }
        let claimed_id =
            u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::MalformedVerifierKey)?;
        let key = BASE64
            .decode(key_base64)
            .map_err(|_| NoteError::MalformedVerifierKey)?;
        let public_key = match key.split_first() {
            Some((&SIGNATURE_TYPE_ED25519, bytes)) => {
                let bytes: &[u8; 32] = bytes
                    .try_into()
                    .map_err(|_| NoteError::MalformedVerifierKey)?;
                VerifyingKey::from_bytes(bytes).map_err(|_| NoteError::InvalidPublicKey)?
            }
            Some(_) => return Err(NoteError::UnknownKeyType),
            None => return Err(NoteError::MalformedVerifierKey),
        };
        let key = Self::new(name, public_key)?;
        if key.key_id != claimed_id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(key)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    /// Verifies the signed note and returns its text (final newline included).
    pub fn open<'note>(&self, note: &'note str) -> Result<&'note str, NoteError> {
        if note.len() > NOTE_BYTES_MAX {
            return Err(NoteError::TooLarge);
        }
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        // The text ends at the last blank line; the text keeps its final newline.
        let split = note.rfind("\n\n").ok_or(NoteError::Malformed)?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let signatures = signatures.strip_suffix('\n').ok_or(NoteError::Malformed)?;
        let mut verified = false;
        for (count, line) in signatures.split('\n').enumerate() {
            if count == NOTE_SIGNATURES_MAX {
                return Err(NoteError::TooManySignatures);
            }
            let (name, key_id, signature) = parse_signature_line(line)?;
            if name != self.name || key_id != self.key_id {
                continue; // another key's signature: ignored, as C2SP requires
            }
            let signature =
                Signature::from_slice(&signature).map_err(|_| NoteError::BadSignature)?;
            self.public_key
                .verify_strict(text.as_bytes(), &signature)
                .map_err(|_| NoteError::BadSignature)?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::NoSignatureFromKey);
        }
        Ok(text)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = [0u8; 33];
        key[0] = SIGNATURE_TYPE_ED25519;
        key[1..].copy_from_slice(self.public_key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, NoteError> {
        Self::parse(text)
    }
}

/// A named Ed25519 signing key. The secret is zeroized on drop by `ed25519-dalek` and never
/// printed.
pub struct NoteSigner {
    name: String,
    key_id: u32,
    signing_key: SigningKey,
}

impl NoteSigner {
    pub fn new(name: &str, signing_key: SigningKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &signing_key.verifying_key()),
            signing_key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            public_key: self.signing_key.verifying_key(),
        }
    }

    /// Signs `text` (non-empty, ending in a newline, no control character but newline) and
    /// returns the note: the text, a blank line and this key's signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if text.is_empty() || !text.ends_with('\n') {
            return Err(NoteError::MalformedText);
        }
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        let note = self.sign_checked_text(text);
        if note.len() > NOTE_BYTES_MAX {
            return Err(NoteError::TooLarge);
        }
        Ok(note)
    }

    /// [`Self::sign`] for a text the caller has already validated.
    pub(crate) fn sign_checked_text(&self, text: &str) -> String {
        let signature = self.signing_key.sign(text.as_bytes());
        let mut signed = Vec::with_capacity(4 + 64);
        signed.extend_from_slice(&self.key_id.to_be_bytes());
        signed.extend_from_slice(&signature.to_bytes());
        format!(
            "{text}\n{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(signed)
        )
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}+{:08x}, ***)", self.name, self.key_id)
    }
}

/// `— <name> <base64(key ID || signature)>` → (name, key ID, signature bytes).
fn parse_signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let malformed = NoteError::MalformedSignatureLine;
    let line = line.strip_prefix(SIGNATURE_LINE_PREFIX).ok_or(malformed)?;
    let (name, encoded) = line.split_once(' ').ok_or(malformed)?;
    check_key_name(name).map_err(|_| malformed)?;
    let mut decoded = BASE64.decode(encoded).map_err(|_| malformed)?;
    if decoded.len() <= 4 {
        return Err(malformed);
    }
    let signature = decoded.split_off(4);
    let key_id = u32::from_be_bytes([decoded[0], decoded[1], decoded[2], decoded[3]]);
    Ok((name, key_id, signature))
}

/// C2SP: non-empty, no Unicode space, no '+'; and no control character, which a note refuses.
fn check_key_name(name: &str) -> Result<(), NoteError> {
    let valid = !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+');
    if valid {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName)
    }
}

/// The first four bytes, big-endian, of `SHA-256(name || 0x0A || 0x01 || public key)`.
fn key_id(name: &str, public_key: &VerifyingKey) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', SIGNATURE_TYPE_ED25519])
        .chain_update(public_key.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}
