//! A client's station and its own key: the notary's disposable certificate is issued for a
//! public key the station made (WebCrypto's ECDSA P-256, non-extractable, or the command
//! line's), so the private key never travels; the station signs the envelope's manifest
//! with it. What comes from the station is outside input: its public key (SubjectPublicKeyInfo,
//! DER) and its signatures (WebCrypto's form: `r || s`, 32 bytes each, IEEE P1363).

use crate::Issued;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use zeroize::Zeroizing;

/// Most bytes of a station's public key as sent (a P-256 SubjectPublicKeyInfo is 91).
pub const STATION_KEY_BYTES_MAX: usize = 200;

/// Why a station's key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StationKeyError {
    #[error("the station's key is longer than {STATION_KEY_BYTES_MAX} bytes")]
    TooLong,
    #[error("the station's key is not an ECDSA P-256 public key (SubjectPublicKeyInfo, DER)")]
    NotP256,
}

/// The station's public key from its SubjectPublicKeyInfo (DER): P-256 only, a point on
/// the curve (the identity is refused by the parser).
pub fn parse_station_key(der: &[u8]) -> Result<VerifyingKey, StationKeyError> {
    if der.len() > STATION_KEY_BYTES_MAX {
        return Err(StationKeyError::TooLong);
    }
    VerifyingKey::from_public_key_der(der).map_err(|_| StationKeyError::NotP256)
}

/// A station's signature (`r || s`, 64 bytes) in the DER form openssl reads (`openssl
/// dgst -verify`); `None` when it is not one.
pub fn signature_der(fixed: &[u8]) -> Option<Vec<u8>> {
    Signature::from_slice(fixed)
        .ok()
        .map(|signature| signature.to_der().as_bytes().to_vec())
}

/// Whether `signature` (`r || s`, 64 bytes) is the signature of `message` (ECDSA with
/// SHA-256) by the key `certificate` certifies. Anything malformed is simply not a
/// signature: false.
pub fn station_signature_verifies(certificate: &Issued, message: &[u8], signature: &[u8]) -> bool {
    let Ok(der) = der::Encode::to_der(
        &certificate
            .certificate
            .tbs_certificate
            .subject_public_key_info,
    ) else {
        return false;
    };
    // Parsed as a P-256 point here (what the certificate says is checked, not assumed),
    // verified by aws-lc: several times faster than the pure Rust arithmetic, and this
    // runs for every envelope.
    let Ok(key) = VerifyingKey::from_public_key_der(&der) else {
        return false;
    };
    let point = key.to_encoded_point(false);
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        point.as_bytes(),
    )
    .verify(message, signature)
    .is_ok()
}

/// A station's key, made in memory for one envelope: by `sceau notarize`, or by sceau
/// itself for a document handed over whole to the signature API (the seed's variant, a
/// key made by the server for the station). Its private half is never written or sent.
pub struct StationKey(SigningKey);

impl StationKey {
    pub fn new() -> StationKey {
        loop {
            // A random scalar; the rare value that is not one (zero, or not below the
            // curve's order) is drawn again.
            let bytes = Zeroizing::new(rand::random::<[u8; 32]>());
            if let Ok(key) = SigningKey::from_slice(bytes.as_slice()) {
                return StationKey(key);
            }
        }
    }

    /// The public key as the server takes it: SubjectPublicKeyInfo, DER.
    pub fn public_key_der(&self) -> Result<Vec<u8>, StationKeyError> {
        self.0
            .verifying_key()
            .to_public_key_der()
            .map(|der| der.as_bytes().to_vec())
            .map_err(|_| StationKeyError::NotP256)
    }

    /// ECDSA P-256 with SHA-256 over `message`, as `r || s` (64 bytes): WebCrypto's form,
    /// the one the server checks.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.0.sign(message);
        signature.to_bytes().into()
    }
}

impl Default for StationKey {
    fn default() -> StationKey {
        StationKey::new()
    }
}
