//! A DKIM signing key from PEM: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8), the forms
//! `openssl genrsa` and `openssl genpkey` write, turned into the form lettre signs with.

use base64::Engine;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use lettre::message::dkim::{DkimSigningAlgorithm, DkimSigningKey};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

/// RFC 8301: verifiers refuse RSA keys shorter than this.
const RSA_BITS_MIN: usize = 1024;

/// Reads a PEM private key. Errors never quote the key.
pub fn signing_key(pem: &str) -> Result<DkimSigningKey, String> {
    let pem = pem.trim();
    let rsa = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
        .ok()
        .or_else(|| rsa::pkcs8::DecodePrivateKey::from_pkcs8_pem(pem).ok());
    if let Some(key) = rsa {
        if key.size() * 8 < RSA_BITS_MIN {
            return Err(format!(
                "the DKIM RSA key is shorter than {RSA_BITS_MIN} bits"
            ));
        }
        let pkcs1 = key
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|_| "the DKIM RSA key cannot be encoded".to_owned())?;
        return DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
            .map_err(|_| "the DKIM RSA key is refused".to_owned());
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        let raw = Zeroizing::new(key.to_bytes());
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*raw));
        return DkimSigningKey::new(&encoded, DkimSigningAlgorithm::Ed25519)
            .map_err(|_| "the DKIM Ed25519 key is refused".to_owned());
    }
    Err("the DKIM private key is neither an RSA nor an Ed25519 key in PEM".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_without_being_quoted() {
        let error = signing_key("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----")
            .err()
            .unwrap();
        assert!(!error.contains("c2VjcmV0"));
        assert!(signing_key("").is_err());
    }
}
