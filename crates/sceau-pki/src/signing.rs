//! CMS SignedData (RFC 5652): detached signatures in a user's name, DER, SHA-256, with
//! the signer's certificate and chain, the ESS signing-certificate-v2 attribute (CAdES)
//! and, except for PAdES, the signing time, verifiable by `openssl cms -verify`.
//!
//! Only the signing is here. Whether a user's key may sign this data (the user proved
//! sole control on the second channel for it) is decided before, by the service.

use crate::ca::{Issued, PkiError, x509_time};
use crate::cms_der::{
    DATA_CONTENT_TYPE, ID_CONTENT_TYPE, SignedDataParts, attribute, certificate_set, cms_error,
    message_digest_attribute, set_of, signed_attributes_digest, signed_data, signer_identifier,
    tlv,
};
use crate::keystore::{KeyLabel, Keystore};
use crate::tsa::{
    EssCertIdV2, ID_AA_SIGNING_CERTIFICATE_V2, SigningCertificateV2, TimeStampAuthority,
};
use der::Encode;
use der::asn1::{ObjectIdentifier, OctetString};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use x509_cert::spki::{AlgorithmIdentifierOwned, EncodePublicKey};

/// id-sha256 (NIST).
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-data (RFC 5652).
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// id-signingTime (RFC 5652).
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

pub(crate) fn sha256_identifier() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: None,
    }
}

/// The signing-time attribute for `unix_s`, DER.
pub(crate) fn signing_time(unix_s: i64) -> Result<Vec<u8>, PkiError> {
    attribute(
        ID_SIGNING_TIME,
        &x509_time(unix_s)?.to_der().map_err(cms_error)?,
    )
}

/// The ESS signing-certificate-v2 attribute (RFC 5035) naming `certificate` by its
/// SHA-256, DER: it binds the signer's certificate into what is signed (CAdES-B,
/// PAdES-B).
pub(crate) fn signing_certificate_v2(certificate: &Issued) -> Result<Vec<u8>, PkiError> {
    let hash: [u8; 32] = Sha256::digest(&certificate.der).into();
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(hash.to_vec()).map_err(cms_error)?,
        }],
    };
    attribute(
        ID_AA_SIGNING_CERTIFICATE_V2,
        &value.to_der().map_err(cms_error)?,
    )
}

/// Fails unless the keystore's key `key` is the key `certificate` certifies.
pub(crate) fn check_key_matches(
    keystore: &dyn Keystore,
    key: &KeyLabel,
    certificate: &Issued,
) -> Result<(), PkiError> {
    let public = keystore.public_key(key)?;
    let der = public.to_public_key_der().map_err(cms_error)?;
    let certified = certificate
        .certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(cms_error)?;
    if der.as_bytes() != certified.as_slice() {
        return Err(PkiError::Certificate(format!(
            "the key {key} is not the key of this certificate"
        )));
    }
    Ok(())
}

/// What a detached signature is made of.
pub struct DetachedSignature<'a> {
    /// The signer's key in the keystore, and its certificate.
    pub key: &'a KeyLabel,
    pub certificate: &'a Issued,
    /// Certificates up to (not including) the root, to help verifiers build the path.
    pub chain: &'a [&'a Issued],
    /// SHA-256 of the signed data (which is not in the signature).
    pub content_digest: [u8; 32],
    pub signing_time_s: i64,
    /// The time-stamp authority whose token on the signature value goes into the
    /// SignerInfo's unsigned attributes (id-aa-signatureTimeStampToken, CAdES-B-T).
    pub time_stamp: Option<&'a TimeStampAuthority>,
}

/// Which signed attributes a detached signature carries besides the content type, the
/// message digest and signing-certificate-v2.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Profile {
    /// CAdES (a `.p7s` beside the data): the signing time too.
    Cades,
    /// PAdES (ETSI EN 319 142-1): no signing time, which the PDF's signature dictionary
    /// holds (`/M`); the request's `signing_time_s` is then only the time-stamp's "now".
    Pades,
}

/// A detached CMS SignedData (a `ContentInfo`, DER): id-data with no content, one
/// SignerInfo (issuer and serial number, SHA-256, ECDSA) whose signed attributes are the
/// content type, the message digest, signing-certificate-v2 and the signing time, and
/// whose unsigned attributes hold a time-stamp token on the signature when a time-stamp
/// authority is given.
pub fn sign_detached(
    keystore: Arc<dyn Keystore>,
    request: &DetachedSignature<'_>,
) -> Result<Vec<u8>, PkiError> {
    sign_detached_as(keystore, request, Profile::Cades)
}

/// [`sign_detached`] for `profile`: with [`Profile::Pades`], the CMS a PDF's signature
/// dictionary holds (`/SubFilter /ETSI.CAdES.detached`).
pub fn sign_detached_as(
    keystore: Arc<dyn Keystore>,
    request: &DetachedSignature<'_>,
    profile: Profile,
) -> Result<Vec<u8>, PkiError> {
    let unstamped = Unstamped::sign(keystore.as_ref(), request, profile)?;
    let token = match request.time_stamp {
        None => None,
        Some(tsa) => Some(tsa.stamp(&unstamped.value_digest(), request.signing_time_s)?),
    };
    unstamped.finish(token.as_deref())
}

/// Several CAdES signatures ([`sign_detached`]), each with its own key, in order: their
/// time-stamps are signed together, with one use of each time-stamp authority's key
/// instead of one per signature. Each signature succeeds or fails alone, except that a
/// time-stamp authority that fails fails every signature it was to stamp.
pub fn sign_detached_many(
    keystore: Arc<dyn Keystore>,
    requests: &[DetachedSignature<'_>],
) -> Vec<Result<Vec<u8>, PkiError>> {
    let mut signed: Vec<Result<Unstamped, PkiError>> = requests
        .iter()
        .map(|request| Unstamped::sign(keystore.as_ref(), request, Profile::Cades))
        .collect();
    let mut tokens: Vec<Option<Result<Vec<u8>, PkiError>>> =
        requests.iter().map(|_| None).collect();
    // The authorities named, each once (by address: the same authority, not an equal one).
    let mut authorities: Vec<&TimeStampAuthority> = Vec::new();
    for tsa in requests.iter().filter_map(|request| request.time_stamp) {
        if !authorities.iter().any(|known| std::ptr::eq(*known, tsa)) {
            authorities.push(tsa);
        }
    }
    for tsa in authorities {
        // The signatures this authority stamps: those that name it and were signed.
        let stamped: Vec<usize> = (0..requests.len())
            .filter(|&index| {
                signed[index].is_ok()
                    && requests[index]
                        .time_stamp
                        .is_some_and(|named| std::ptr::eq(named, tsa))
            })
            .collect();
        if stamped.is_empty() {
            // None to stamp: the TSA's key is not opened for nothing.
            continue;
        }
        let digests: Vec<([u8; 32], i64)> = stamped
            .iter()
            .filter_map(|&index| {
                let unstamped = signed[index].as_ref().ok()?;
                Some((unstamped.value_digest(), requests[index].signing_time_s))
            })
            .collect();
        let made = tsa.stamp_many(&digests).and_then(|made| {
            if made.len() == stamped.len() {
                Ok(made)
            } else {
                Err(cms_error(
                    "the time-stamp authority made another number of tokens",
                ))
            }
        });
        match made {
            Ok(made) => {
                for (index, token) in stamped.into_iter().zip(made) {
                    tokens[index] = Some(Ok(token));
                }
            }
            Err(error) => {
                for index in stamped {
                    tokens[index] = Some(Err(cms_error(format!("time-stamp: {error}"))));
                }
            }
        }
    }
    signed
        .drain(..)
        .zip(tokens)
        .zip(requests)
        .map(
            |((unstamped, token), request)| match (request.time_stamp, token) {
                (None, _) => unstamped?.finish(None),
                (Some(_), Some(token)) => unstamped?.finish(Some(&token?)),
                // Asked for a time-stamp and given none: never a signature without it.
                (Some(_), None) => Err(unstamped
                    .err()
                    .unwrap_or_else(|| cms_error("a signature's time-stamp was not made"))),
            },
        )
        .collect()
}

/// A detached signature signed but not time-stamped yet: its parts, DER.
struct Unstamped {
    signed_attributes: Vec<u8>,
    signature: Vec<u8>,
    certificates: Vec<u8>,
    signer_identifier: Vec<u8>,
}

impl Unstamped {
    /// Signs `request` (its `time_stamp` aside) for `profile`, with the request's key,
    /// after checking that it is its certificate's.
    fn sign(
        keystore: &dyn Keystore,
        request: &DetachedSignature<'_>,
        profile: Profile,
    ) -> Result<Unstamped, PkiError> {
        check_key_matches(keystore, request.key, request.certificate)?;
        let content_type = attribute(ID_CONTENT_TYPE, DATA_CONTENT_TYPE)?;
        let message_digest = message_digest_attribute(&request.content_digest)?;
        let signing_certificate = signing_certificate_v2(request.certificate)?;
        let signing_time = match profile {
            Profile::Cades => signing_time(request.signing_time_s)?,
            Profile::Pades => Vec::new(),
        };
        let mut attributes: Vec<&[u8]> = vec![&content_type, &message_digest, &signing_certificate];
        if !signing_time.is_empty() {
            attributes.push(&signing_time);
        }
        let signed_attributes = set_of(&mut attributes);
        let signature = keystore
            .sign_digest(request.key, &signed_attributes_digest(&signed_attributes))?
            .to_der()
            .as_bytes()
            .to_vec();
        let certificates: Vec<&Issued> = std::iter::once(request.certificate)
            .chain(request.chain.iter().copied())
            .collect();
        Ok(Unstamped {
            signed_attributes,
            signature,
            certificates: certificate_set(&certificates),
            signer_identifier: signer_identifier(request.certificate)?,
        })
    }

    /// What a signature time-stamp covers: the SHA-256 of the signature value.
    fn value_digest(&self) -> [u8; 32] {
        Sha256::digest(&self.signature).into()
    }

    /// The ContentInfo, with `token` (a time-stamp token on [`Unstamped::value_digest`])
    /// in the SignerInfo's unsigned attributes, if given.
    fn finish(self, token: Option<&[u8]>) -> Result<Vec<u8>, PkiError> {
        let unsigned_attributes = match token {
            None => Vec::new(),
            Some(token) => attribute(ID_AA_SIGNATURE_TIME_STAMP_TOKEN, token)?,
        };
        Ok(signed_data(&SignedDataParts {
            version: 1,
            content: &tlv(0x30, &[DATA_CONTENT_TYPE]),
            certificates: &self.certificates,
            signer_identifier: &self.signer_identifier,
            signed_attributes: &self.signed_attributes,
            signature: &self.signature,
            unsigned_attributes: &unsigned_attributes,
        }))
    }
}

/// id-aa-signatureTimeStampToken (RFC 3161 appendix A, CAdES).
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
