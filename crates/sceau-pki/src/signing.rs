//! CMS SignedData (RFC 5652): detached signatures in a user's name, DER, SHA-256, with
//! the signer's certificate and chain, the ESS signing-certificate-v2 attribute (CAdES)
//! and, except for PAdES, the signing time, verifiable by `openssl cms -verify`.
//!
//! Only the signing is here. Whether a user's key may sign this data (the user proved
//! sole control on the second channel for it) is decided before, by the service.

use crate::ca::{Issued, KeySigner, PkiError, x509_time};
use crate::keystore::{KeyLabel, Keystore};
use crate::tsa::{
    EssCertIdV2, ID_AA_SIGNING_CERTIFICATE_V2, SigningCertificateV2, TimeStampAuthority,
};
use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{
    EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use p256::ecdsa::DerSignature;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use x509_cert::attr::Attribute;
use x509_cert::spki::{AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfoOwned};

/// id-sha256 (NIST).
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-data (RFC 5652).
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// id-signingTime (RFC 5652).
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

fn cms_error(error: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(format!("CMS: {error}"))
}

pub(crate) fn sha256_identifier() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: None,
    }
}

/// The signing-time attribute for `unix_s`.
pub(crate) fn signing_time(unix_s: i64) -> Result<Attribute, PkiError> {
    let value =
        Any::from_der(&x509_time(unix_s)?.to_der().map_err(cms_error)?).map_err(cms_error)?;
    let mut values = SetOfVec::new();
    values.insert(value).map_err(cms_error)?;
    Ok(Attribute {
        oid: ID_SIGNING_TIME,
        values,
    })
}

/// The ESS signing-certificate-v2 attribute (RFC 5035) naming `certificate` by its
/// SHA-256: it binds the signer's certificate into what is signed (CAdES-B, PAdES-B).
pub(crate) fn signing_certificate_v2(certificate: &Issued) -> Result<Attribute, PkiError> {
    let hash: [u8; 32] = Sha256::digest(&certificate.der).into();
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(hash.to_vec()).map_err(cms_error)?,
        }],
    };
    let mut values = SetOfVec::new();
    values
        .insert(Any::from_der(&value.to_der().map_err(cms_error)?).map_err(cms_error)?)
        .map_err(cms_error)?;
    Ok(Attribute {
        oid: ID_AA_SIGNING_CERTIFICATE_V2,
        values,
    })
}

/// Fails unless the keystore's key `key` is the key `certificate` certifies.
pub(crate) fn check_key_matches(
    keystore: &dyn Keystore,
    key: &KeyLabel,
    certificate: &Issued,
) -> Result<(), PkiError> {
    let public = keystore.public_key(key)?;
    let der = public.to_public_key_der().map_err(cms_error)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(cms_error)?;
    if spki
        != certificate
            .certificate
            .tbs_certificate
            .subject_public_key_info
    {
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
    let content = EncapsulatedContentInfo {
        econtent_type: ID_DATA,
        econtent: None,
    };
    let certificates: Vec<&Issued> = std::iter::once(request.certificate)
        .chain(request.chain.iter().copied())
        .collect();
    let signed = signed_data(&SignedDataParts {
        keystore,
        key: request.key,
        certificate: request.certificate,
        content: &content,
        external_digest: Some(&request.content_digest),
        attributes: signed_attributes(request, profile)?,
        certificates: &certificates,
    })?;
    match request.time_stamp {
        None => signed.to_der().map_err(cms_error),
        Some(tsa) => with_signature_time_stamp(signed, tsa, request.signing_time_s),
    }
}

/// The signed attributes besides the content type and message digest.
fn signed_attributes(
    request: &DetachedSignature<'_>,
    profile: Profile,
) -> Result<Vec<Attribute>, PkiError> {
    let mut attributes = vec![signing_certificate_v2(request.certificate)?];
    if profile == Profile::Cades {
        attributes.push(signing_time(request.signing_time_s)?);
    }
    Ok(attributes)
}

/// id-aa-signatureTimeStampToken (RFC 3161 appendix A, CAdES).
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

/// `signed` with, in its one SignerInfo's unsigned attributes, a time-stamp token on the
/// SHA-256 of the signature value (RFC 3161 appendix A).
fn with_signature_time_stamp(
    signed: ContentInfo,
    tsa: &TimeStampAuthority,
    now_s: i64,
) -> Result<Vec<u8>, PkiError> {
    let mut data = signed
        .content
        .decode_as::<SignedData>()
        .map_err(cms_error)?;
    let mut signer_infos: Vec<SignerInfo> = data.signer_infos.0.into_vec();
    let [signer_info] = signer_infos.as_mut_slice() else {
        return Err(cms_error("one signer expected"));
    };
    let digest: [u8; 32] = Sha256::digest(signer_info.signature.as_bytes()).into();
    let token = tsa.stamp(&digest, now_s)?;
    let mut values = SetOfVec::new();
    values
        .insert(Any::from_der(&token).map_err(cms_error)?)
        .map_err(cms_error)?;
    let mut attributes = SetOfVec::new();
    attributes
        .insert(Attribute {
            oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
            values,
        })
        .map_err(cms_error)?;
    signer_info.unsigned_attrs = Some(attributes);
    data.signer_infos = SignerInfos(SetOfVec::try_from(signer_infos).map_err(cms_error)?);
    ContentInfo {
        content_type: signed.content_type,
        content: Any::from_der(&data.to_der().map_err(cms_error)?).map_err(cms_error)?,
    }
    .to_der()
    .map_err(cms_error)
}

/// What a SignedData with one signer is made of.
pub(crate) struct SignedDataParts<'a> {
    pub keystore: Arc<dyn Keystore>,
    pub key: &'a KeyLabel,
    /// The signer's certificate (it names the signer: issuer and serial number).
    pub certificate: &'a Issued,
    pub content: &'a EncapsulatedContentInfo,
    /// The SHA-256 of detached content; `None` when the content is encapsulated.
    pub external_digest: Option<&'a [u8]>,
    /// Signed attributes besides the content type and message digest (which the builder
    /// adds).
    pub attributes: Vec<Attribute>,
    /// The certificates to include.
    pub certificates: &'a [&'a Issued],
}

/// A SignedData with one SignerInfo: SHA-256, ECDSA through the keystore.
pub(crate) fn signed_data(parts: &SignedDataParts<'_>) -> Result<ContentInfo, PkiError> {
    let tbs = &parts.certificate.certificate.tbs_certificate;
    let signer = KeySigner::new(Arc::clone(&parts.keystore), parts.key.clone())?;
    let mut signer_info = SignerInfoBuilder::new(
        &signer,
        SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        sha256_identifier(),
        parts.content,
        parts.external_digest,
    )
    .map_err(cms_error)?;
    for attribute in &parts.attributes {
        signer_info
            .add_signed_attribute(attribute.clone())
            .map_err(cms_error)?;
    }
    let mut builder = SignedDataBuilder::new(parts.content);
    builder
        .add_digest_algorithm(sha256_identifier())
        .map_err(cms_error)?;
    for issued in parts.certificates {
        builder
            .add_certificate(CertificateChoices::Certificate(issued.certificate.clone()))
            .map_err(cms_error)?;
    }
    builder
        .add_signer_info::<KeySigner, DerSignature>(signer_info)
        .map_err(cms_error)?;
    builder.build().map_err(cms_error)
}
