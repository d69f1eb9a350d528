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
    check_key_matches(keystore.as_ref(), request.key, request.certificate)?;
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
    let attributes = set_of(&mut attributes);
    let signature = keystore
        .sign_digest(request.key, &signed_attributes_digest(&attributes))?
        .to_der();
    let unsigned_attributes = match request.time_stamp {
        None => Vec::new(),
        Some(tsa) => {
            let digest: [u8; 32] = Sha256::digest(signature.as_bytes()).into();
            let token = tsa.stamp(&digest, request.signing_time_s)?;
            attribute(ID_AA_SIGNATURE_TIME_STAMP_TOKEN, &token)?
        }
    };
    let certificates: Vec<&Issued> = std::iter::once(request.certificate)
        .chain(request.chain.iter().copied())
        .collect();
    Ok(signed_data(&SignedDataParts {
        version: 1,
        content: &tlv(0x30, &[DATA_CONTENT_TYPE]),
        certificates: &certificate_set(&certificates),
        signer_identifier: &signer_identifier(request.certificate)?,
        signed_attributes: &attributes,
        signature: signature.as_bytes(),
        unsigned_attributes: &unsigned_attributes,
    }))
}

/// id-aa-signatureTimeStampToken (RFC 3161 appendix A, CAdES).
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
