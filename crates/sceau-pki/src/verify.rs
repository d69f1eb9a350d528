//! Offline verification of what sceau (or any standard tool) signs and stamps, with
//! nothing but a trusted root certificate: no network, no clock, no configuration.
//!
//! - [`verify_signature`]: a detached CMS SignedData (RFC 5652, DER) over given content,
//!   as made by [`crate::sign_detached`] or `openssl cms -sign -binary -outform DER`. If its
//!   SignerInfo carries a signature time-stamp (CAdES-B-T, id-aa-signatureTimeStampToken
//!   among the unsigned attributes), that token is verified too and must cover the
//!   SignerInfo's signature value.
//!   [`verify_signature_of_digest`] does the same given the content's SHA-256.
//! - [`verify_time_stamp`]: an RFC 3161 TimeStampResp or bare TimeStampToken against the
//!   data it stamps.
//!
//! Both build the chain from the certificates in the SignedData: from the signer, issuer
//! to subject by name, each certificate's signature checked with its issuer's key, up to
//! the given root (trusted as given), at most [`CHAIN_LEN_MAX`] certificates. Every
//! certificate must be valid at the time checked, every issuer a CA (basicConstraints
//! cA, path length, keyCertSign), and no certificate may carry a critical extension this
//! module does not read (RFC 5280 §4.2). A time-stamp's signer must be a TSA: extended key
//! usage timeStamping only, critical (RFC 3161 §2.3). Revocation is not checked (there is
//! nothing to check it against offline).
//!
//! Algorithms: ECDSA P-256 with SHA-256 for signatures (what sceau and openssl's EC keys
//! use); SHA-256, SHA-384 or SHA-512 for a time-stamp's message imprint; ESS
//! signing-certificate v1 (SHA-1, openssl's default) or v2. Anything else is refused as
//! [`Refusal::Unsupported`], naming the algorithm.
//!
//! Every refusal is a [`Refusal`] saying why, with a stable [`Refusal::code`]. No input
//! makes this module panic.

use crate::cms_der::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST};
use crate::signing::{ID_SIGNING_TIME, SHA256};
use crate::tsa::{ID_AA_SIGNING_CERTIFICATE_V2, ID_CT_TST_INFO};
use cms::content_info::CmsVersion;
use cms::signed_data::{SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{AnyRef, BitString, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence, Tag, Tagged};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use sha2::Digest;
use x509_cert::Certificate;
use x509_cert::attr::Attributes;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Time;
use x509_tsp::TstInfo;

/// Largest signature, time-stamp or root certificate read (sceau's are about 2 KB).
pub const INPUT_LEN_MAX: usize = 1 << 20;
/// Most certificates in a chain, signer and root included.
pub const CHAIN_LEN_MAX: usize = 8;

pub use crate::signing::ID_AA_SIGNATURE_TIME_STAMP_TOKEN;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-aa-signingCertificate (RFC 2634, ESSCertID with SHA-1).
const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
/// The extensions this module reads or may ignore; any other, when critical, is refused.
const EXTENSIONS_KNOWN: [ObjectIdentifier; 6] = [
    BASIC_CONSTRAINTS,
    KEY_USAGE,
    EXTENDED_KEY_USAGE,
    SUBJECT_KEY_IDENTIFIER,
    ObjectIdentifier::new_unwrap("2.5.29.35"), // authorityKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.17"), // subjectAltName
];

/// A detached signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The signer's certificate's subject, RFC 4514 text (`CN=Alice Martin`).
    pub signer: String,
    /// The signer's certificate's serial number, lowercase hex.
    pub serial: String,
    /// The signed signing-time attribute, if any (what the signer claims, Unix seconds).
    pub signing_time_s: Option<i64>,
    /// The signature time-stamp, if the signature carries one (verified). Unsigned
    /// attributes can be removed by anyone: a caller that needs a time-stamp must require
    /// it here.
    pub time_stamp: Option<Stamp>,
}

/// A time-stamp that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The TSTInfo's genTime, Unix seconds.
    pub time_s: i64,
    /// The TSA certificate's subject, RFC 4514 text.
    pub tsa: String,
    /// The TSTInfo's serial number, lowercase hex.
    pub serial: String,
    /// The TSA policy, dotted.
    pub policy: String,
}

/// Why a signature or a time-stamp is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("larger than {INPUT_LEN_MAX} bytes")]
    TooLong,
    #[error("not DER, or not a {0}")]
    NotDer(&'static str),
    #[error("not a CMS SignedData")]
    NotSignedData,
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("the given root is not a DER certificate")]
    BadRoot,
    #[error("the signer's certificate is not in the SignedData")]
    SignerNotFound,
    #[error("the signed attributes lack the {0} attribute")]
    MissingAttribute(&'static str),
    #[error("the {0} attribute is malformed, repeated or has several values")]
    BadAttribute(&'static str),
    #[error("the content-type attribute is not the content's type")]
    ContentTypeMismatch,
    #[error("the content does not match the signature (the message-digest differs)")]
    ContentMismatch,
    #[error("the signature does not verify with the signer's key")]
    BadSignature,
    #[error(
        "the chain does not lead to the given root: no certificate for {issuer:?}, the issuer of {subject:?}"
    )]
    IssuerNotFound { subject: String, issuer: String },
    #[error(
        "the chain does not lead to the given root: the signature on {subject:?}'s certificate does not verify with its issuer's key"
    )]
    CertificateSignature { subject: String },
    #[error("the chain does not lead to the given root within {CHAIN_LEN_MAX} certificates")]
    ChainTooLong,
    #[error(
        "the certificate of {subject:?} is not valid at {} (valid from {} to {})",
        utc(*at_s), utc(*not_before_s), utc(*not_after_s)
    )]
    NotValidAt {
        subject: String,
        at_s: i64,
        not_before_s: i64,
        not_after_s: i64,
    },
    #[error("{subject:?} issues certificates but its certificate lacks basicConstraints cA")]
    NotACa { subject: String },
    #[error("{subject:?}'s path length constraint is exceeded")]
    PathLength { subject: String },
    #[error("the key usage of {subject:?}'s certificate does not allow {usage}")]
    KeyUsage {
        subject: String,
        usage: &'static str,
    },
    #[error(
        "the TSA certificate of {subject:?} lacks the critical extended key usage timeStamping, alone (RFC 3161 §2.3)"
    )]
    NotTimeStamping { subject: String },
    #[error("the certificate of {subject:?} is refused: {why}")]
    BadCertificate { subject: String, why: String },
    #[error(
        "no time to check the certificates at: the signature has no signing time and no time-stamp"
    )]
    NoTime,
    #[error("time-stamp not granted: status {status} ({}), failure {failure}, text {text:?}", status_name(*status))]
    NotGranted {
        status: u8,
        failure: String,
        text: String,
    },
    #[error("the token's content is not a TSTInfo")]
    NotATimeStamp,
    #[error("the time-stamp's message imprint does not match the data")]
    ImprintMismatch,
    #[error("the time-stamp's nonce is not the request's")]
    NonceMismatch,
    #[error("the TSA's signing-certificate attribute does not name the signer's certificate")]
    SigningCertificateMismatch,
    #[error("the signature time-stamp does not cover this signature")]
    NotThisSignature,
    #[error("signature time-stamp: {0}")]
    InSignatureTimeStamp(Box<Refusal>),
}

impl Refusal {
    /// A stable, grep-able code for scripts and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLong => "too-long",
            Refusal::NotDer(_) => "not-der",
            Refusal::NotSignedData => "not-signed-data",
            Refusal::Unsupported(_) => "unsupported",
            Refusal::BadRoot => "bad-root",
            Refusal::SignerNotFound => "signer-not-found",
            Refusal::MissingAttribute(_) => "missing-attribute",
            Refusal::BadAttribute(_) => "bad-attribute",
            Refusal::ContentTypeMismatch => "content-type-mismatch",
            Refusal::ContentMismatch => "content-mismatch",
            Refusal::BadSignature => "bad-signature",
            Refusal::IssuerNotFound { .. } => "chain-issuer-not-found",
            Refusal::CertificateSignature { .. } => "chain-bad-signature",
            Refusal::ChainTooLong => "chain-too-long",
            Refusal::NotValidAt { .. } => "certificate-not-valid-at",
            Refusal::NotACa { .. } => "not-a-ca",
            Refusal::PathLength { .. } => "path-length",
            Refusal::KeyUsage { .. } => "key-usage",
            Refusal::NotTimeStamping { .. } => "not-time-stamping",
            Refusal::BadCertificate { .. } => "bad-certificate",
            Refusal::NoTime => "no-time",
            Refusal::NotGranted { .. } => "time-stamp-not-granted",
            Refusal::NotATimeStamp => "not-a-time-stamp",
            Refusal::ImprintMismatch => "imprint-mismatch",
            Refusal::NonceMismatch => "nonce-mismatch",
            Refusal::SigningCertificateMismatch => "signing-certificate-mismatch",
            Refusal::NotThisSignature => "time-stamp-not-for-this-signature",
            Refusal::InSignatureTimeStamp(_) => "signature-time-stamp",
        }
    }
}

/// Verifies the detached CMS signature `signature_der` over `content`, up to `root` (a DER
/// certificate, trusted as given).
///
/// The certificates must be valid at `at_s` if given; otherwise at the signature
/// time-stamp's time if there is one, else at the signed signing time; with none of the
/// three, [`Refusal::NoTime`]. The SignedData must have one SignerInfo, SHA-256 and ECDSA
/// P-256; with signed attributes (content-type and message-digest required, signing-time
/// read), or without (then the signature is over the content itself).
pub fn verify_signature(
    signature_der: &[u8],
    content: &[u8],
    root: &[u8],
    at_s: Option<i64>,
) -> Result<Verified, Refusal> {
    let content_digest: [u8; 32] = sha2::Sha256::digest(content).into();
    verify_signature_of_digest(signature_der, &content_digest, root, at_s)
}

/// [`verify_signature`] given the content's SHA-256 rather than the content: what checks
/// a signature of a file too large to hold (an evidence bundle names its files by their
/// digests).
pub fn verify_signature_of_digest(
    signature_der: &[u8],
    content_digest: &[u8; 32],
    root: &[u8],
    at_s: Option<i64>,
) -> Result<Verified, Refusal> {
    let root = parse_root(root)?;
    let signed = SignedParts::from_content_info(bounded(signature_der)?)?;
    if signed.content.is_some() {
        return Err(Refusal::Unsupported(
            "encapsulated content (only detached signatures are verified)".to_owned(),
        ));
    }
    // A signature of data is over id-data; a time-stamp token (id-ct-TSTInfo) rewrapped as
    // a detached SignedData is not a signature of the data.
    if signed.content_type != crate::signing::ID_DATA {
        return Err(Refusal::Unsupported(format!(
            "content type {} (a signature of data has id-data)",
            signed.content_type
        )));
    }
    let signer = signed.signer_certificate()?;
    let signing_time_s = check_signer_info(&signed, signer, content_digest)?;
    let time_stamp = signature_time_stamp(&signed.signer_info, &root)?;
    let at_s = at_s
        .or(time_stamp.as_ref().map(|stamp| stamp.time_s))
        .or(signing_time_s)
        .ok_or(Refusal::NoTime)?;
    check_chain(signer, &signed.certificates, &root, at_s)?;
    check_key_usage(signer)?;
    Ok(Verified {
        signer: signer.subject.clone(),
        serial: hex(signer.certificate.tbs_certificate.serial_number.as_bytes()),
        signing_time_s,
        time_stamp,
    })
}

/// Verifies the RFC 3161 time-stamp `response_or_token_der` (a TimeStampResp, `.tsr`, or a
/// bare TimeStampToken) over `data`, up to `root` (a DER certificate, trusted as given).
///
/// A response must be granted (status 0 or 1) and carry a token. The token's TSA
/// certificate must be in it (requests with `certReq`), with its chain, valid at the
/// stamped time; the message imprint must be the data's hash; `nonce`, if given, must be
/// the token's (as in the request).
pub fn verify_time_stamp(
    response_or_token_der: &[u8],
    data: &[u8],
    root: &[u8],
    nonce: Option<u64>,
) -> Result<Stamp, Refusal> {
    let root = parse_root(root)?;
    let input = bounded(response_or_token_der)?;
    // A token is a ContentInfo (SEQUENCE { OID, ... }); a response starts with its status
    // (SEQUENCE { SEQUENCE { INTEGER ... } ... }).
    let token = match ContentInfoRef::from_der(input) {
        Ok(token) => token,
        Err(_) => granted_token(input)?,
    };
    verify_token(&token, data, &root, nonce)
}

/// The TimeStampResp's token, if granted.
fn granted_token(response: &[u8]) -> Result<ContentInfoRef<'_>, Refusal> {
    let response = ResponseRef::from_der(response)
        .map_err(|_| Refusal::NotDer("TimeStampResp or TimeStampToken"))?;
    let status = response.status;
    if status.status > 1 {
        return Err(Refusal::NotGranted {
            status: status.status,
            failure: status
                .fail_info
                .as_ref()
                .map_or_else(|| "none".to_owned(), failure_names),
            text: status.status_string.unwrap_or_default().join("; "),
        });
    }
    response
        .token
        .ok_or(Refusal::NotDer("TimeStampResp with a token"))?
        .decode_as::<ContentInfoRef<'_>>()
        .map_err(|_| Refusal::NotDer("TimeStampToken"))
}

/// Verifies the time-stamp token `token` over `data`.
fn verify_token(
    token: &ContentInfoRef<'_>,
    data: &[u8],
    root: &Cert,
    nonce: Option<u64>,
) -> Result<Stamp, Refusal> {
    let signed = SignedParts::from_content_info_ref(token)?;
    if signed.content_type != ID_CT_TST_INFO {
        return Err(Refusal::NotATimeStamp);
    }
    let content = signed.content.ok_or(Refusal::NotATimeStamp)?;
    if content.tag() != Tag::OctetString {
        return Err(Refusal::NotATimeStamp);
    }
    let info = TstInfo::from_der(content.value()).map_err(|_| Refusal::NotDer("TSTInfo"))?;
    let signer = signed.signer_certificate()?;
    let Some(attributes) = &signed.signer_info.signed_attrs else {
        return Err(Refusal::MissingAttribute("signing-certificate"));
    };
    let content_digest: [u8; 32] = sha2::Sha256::digest(content.value()).into();
    check_signer_info(&signed, signer, &content_digest)?;
    check_signing_certificate(attributes, signer)?;
    let imprint = &info.message_imprint;
    if digest(&imprint.hash_algorithm, data)? != imprint.hashed_message.as_bytes() {
        return Err(Refusal::ImprintMismatch);
    }
    if let Some(expected) = nonce {
        let found = info
            .nonce
            .as_ref()
            .map(|nonce| strip_zeros(nonce.as_bytes()));
        if found != Some(strip_zeros(&expected.to_be_bytes())) {
            return Err(Refusal::NonceMismatch);
        }
    }
    let time_s = unix_s(info.gen_time.to_unix_duration());
    check_chain(signer, &signed.certificates, root, time_s)?;
    check_time_stamping(signer)?;
    Ok(Stamp {
        time_s,
        tsa: signer.subject.clone(),
        serial: hex(info.serial_number.as_bytes()),
        policy: info.policy.to_string(),
    })
}

/// What a detached signature carries, read without judging it: the certificates in the
/// order the SignedData lists them, the signature value, and the signature time-stamp
/// token (DER) if any. For showing and extracting; [`verify_signature`] is the check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParts {
    pub certificates: Vec<Vec<u8>>,
    pub signature_value: Vec<u8>,
    pub time_stamp_token: Option<Vec<u8>>,
}

/// The parts of the detached CMS signature `signature_der` (see [`SignatureParts`]).
pub fn signature_parts(signature_der: &[u8]) -> Result<SignatureParts, Refusal> {
    let signed = SignedParts::from_content_info(bounded(signature_der)?)?;
    let time_stamp_token = match &signed.signer_info.unsigned_attrs {
        Some(attributes) => attribute_value(
            attributes,
            ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
            "signature-time-stamp",
        )?
        .map(|value| {
            value
                .to_der()
                .map_err(|_| Refusal::NotDer("TimeStampToken"))
        })
        .transpose()?,
        None => None,
    };
    Ok(SignatureParts {
        certificates: signed
            .certificates
            .iter()
            .map(|cert| cert.der.clone())
            .collect(),
        signature_value: signed.signer_info.signature.as_bytes().to_vec(),
        time_stamp_token,
    })
}

/// The signature time-stamp among `signer_info`'s unsigned attributes, verified against
/// its signature value; `None` if it has none.
fn signature_time_stamp(signer_info: &SignerInfo, root: &Cert) -> Result<Option<Stamp>, Refusal> {
    let Some(attributes) = &signer_info.unsigned_attrs else {
        return Ok(None);
    };
    let Some(value) = attribute_value(
        attributes,
        ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
        "signature-time-stamp",
    )?
    else {
        return Ok(None);
    };
    let token = AnyRef::from(value)
        .decode_as::<ContentInfoRef<'_>>()
        .map_err(|_| Refusal::InSignatureTimeStamp(Box::new(Refusal::NotDer("TimeStampToken"))))?;
    match verify_token(&token, signer_info.signature.as_bytes(), root, None) {
        Ok(stamp) => Ok(Some(stamp)),
        Err(Refusal::ImprintMismatch) => Err(Refusal::NotThisSignature),
        Err(refusal) => Err(Refusal::InSignatureTimeStamp(Box::new(refusal))),
    }
}

// ---- CMS ----

/// ContentInfo, its content undecoded.
#[derive(Clone, Debug, Sequence)]
struct ContentInfoRef<'a> {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: AnyRef<'a>,
}

/// EncapsulatedContentInfo, its content undecoded.
#[derive(Clone, Debug, Sequence)]
struct EncapsulatedRef<'a> {
    econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    econtent: Option<AnyRef<'a>>,
}

/// SignedData with its certificates as they came (their to-be-signed bytes are checked,
/// not a re-encoding).
#[derive(Clone, Debug, Sequence)]
struct SignedDataRef<'a> {
    version: AnyRef<'a>,
    digest_algorithms: AnyRef<'a>,
    encap_content_info: EncapsulatedRef<'a>,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    certificates: Option<Vec<AnyRef<'a>>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    crls: Option<Vec<AnyRef<'a>>>,
    signer_infos: SignerInfos,
}

/// What the verification needs of a SignedData with one signer.
struct SignedParts<'a> {
    content_type: ObjectIdentifier,
    content: Option<AnyRef<'a>>,
    certificates: Vec<Cert>,
    signer_info: SignerInfo,
}

impl<'a> SignedParts<'a> {
    fn from_content_info(der: &'a [u8]) -> Result<SignedParts<'a>, Refusal> {
        let info = ContentInfoRef::from_der(der).map_err(|_| Refusal::NotDer("ContentInfo"))?;
        SignedParts::from_content_info_ref(&info)
    }

    fn from_content_info_ref(info: &ContentInfoRef<'a>) -> Result<SignedParts<'a>, Refusal> {
        if info.content_type != ID_SIGNED_DATA {
            return Err(Refusal::NotSignedData);
        }
        let signed = info
            .content
            .decode_as::<SignedDataRef<'a>>()
            .map_err(|_| Refusal::NotSignedData)?;
        // Fields the signature does not cover are still checked, so that no byte of a
        // SignedData can change unnoticed: CMSVersion 1, 3, 4 or 5; and SHA-256 alone
        // as the digest algorithm (the only one verified).
        match signed.version.decode_as::<u8>() {
            Ok(1 | 3..=5) => {}
            _ => return Err(Refusal::NotSignedData),
        }
        let digests = signed
            .digest_algorithms
            .decode_as::<der::asn1::SetOfVec<AlgorithmIdentifierOwned>>()
            .map_err(|_| Refusal::NotSignedData)?;
        match digests.as_slice() {
            [digest] => check_hash_is_sha256(digest)?,
            _ => {
                return Err(Refusal::Unsupported(
                    "digest algorithms other than SHA-256 alone".to_owned(),
                ));
            }
        }
        let mut signer_infos = signed.signer_infos.0.into_vec();
        if signer_infos.len() != 1 {
            return Err(Refusal::Unsupported(format!(
                "{} signers (one is verified)",
                signer_infos.len()
            )));
        }
        let signer_info = signer_infos.pop().ok_or(Refusal::NotSignedData)?;
        // The SignerInfo's version is not signed either: it must be the one its kind of
        // signer identifier has (RFC 5652 §5.3: 1 for issuer and serial, 3 for a key
        // identifier).
        let version_expected = match &signer_info.sid {
            SignerIdentifier::IssuerAndSerialNumber(_) => CmsVersion::V1,
            SignerIdentifier::SubjectKeyIdentifier(_) => CmsVersion::V3,
        };
        if signer_info.version != version_expected {
            return Err(Refusal::NotSignedData);
        }
        let certificates = signed
            .certificates
            .unwrap_or_default()
            .into_iter()
            // Other choices (attribute certificates, other formats) are not for chains.
            .filter(|choice| choice.tag() == Tag::Sequence)
            .map(|choice| {
                let der = choice
                    .to_der()
                    .map_err(|_| Refusal::NotDer("certificate"))?;
                Cert::from_der(&der)
            })
            .collect::<Result<Vec<Cert>, Refusal>>()?;
        Ok(SignedParts {
            content_type: signed.encap_content_info.econtent_type,
            content: signed.encap_content_info.econtent,
            certificates,
            signer_info,
        })
    }

    /// The certificate the SignerInfo names.
    fn signer_certificate(&self) -> Result<&Cert, Refusal> {
        let found = match &self.signer_info.sid {
            SignerIdentifier::IssuerAndSerialNumber(named) => {
                self.certificates.iter().find(|cert| {
                    let tbs = &cert.certificate.tbs_certificate;
                    tbs.issuer == named.issuer && tbs.serial_number == named.serial_number
                })
            }
            SignerIdentifier::SubjectKeyIdentifier(identifier) => {
                self.certificates.iter().find(|cert| {
                    matches!(
                        cert.extension::<SubjectKeyIdentifier>(SUBJECT_KEY_IDENTIFIER),
                        Ok(Some((_, found))) if found == *identifier
                    )
                })
            }
        };
        found.ok_or(Refusal::SignerNotFound)
    }
}

/// Checks the one SignerInfo of `signed` against the content's SHA-256 `content_digest`
/// and the signer's key: its algorithms, its signature, then its content-type and
/// message-digest attributes. The signed signing time, if any.
fn check_signer_info(
    signed: &SignedParts<'_>,
    signer: &Cert,
    content_digest: &[u8; 32],
) -> Result<Option<i64>, Refusal> {
    let info = &signed.signer_info;
    check_hash_is_sha256(&info.digest_alg)?;
    let algorithm = info.signature_algorithm.oid;
    // Some writers name the key's algorithm rather than the signature's (RFC 5753 allows
    // id-ecPublicKey); with SHA-256 as the digest both mean ECDSA with SHA-256.
    if algorithm != ECDSA_WITH_SHA256 && algorithm != ID_EC_PUBLIC_KEY {
        return Err(Refusal::Unsupported(format!(
            "signature algorithm {algorithm} (only ecdsa-with-SHA256)"
        )));
    }
    let key = p256_key(signer)?;
    let Some(attributes) = &info.signed_attrs else {
        // No signed attributes: the signature is over the content itself.
        return match verify_prehash(&key, content_digest, info.signature.as_bytes()) {
            true => Ok(None),
            false => Err(Refusal::BadSignature),
        };
    };
    // RFC 5652 §5.4: the signature is over the attributes' DER as a SET OF (tag 0x31).
    let encoded = attributes
        .to_der()
        .map_err(|_| Refusal::NotDer("signed attributes"))?;
    let attributes_digest: [u8; 32] = sha2::Sha256::digest(&encoded).into();
    if !verify_prehash(&key, &attributes_digest, info.signature.as_bytes()) {
        return Err(Refusal::BadSignature);
    }
    let content_type = attribute_value(attributes, ID_CONTENT_TYPE, "content-type")?
        .ok_or(Refusal::MissingAttribute("content-type"))?
        .decode_as::<ObjectIdentifier>()
        .map_err(|_| Refusal::BadAttribute("content-type"))?;
    if content_type != signed.content_type {
        return Err(Refusal::ContentTypeMismatch);
    }
    let message_digest = attribute_value(attributes, ID_MESSAGE_DIGEST, "message-digest")?
        .ok_or(Refusal::MissingAttribute("message-digest"))?
        .decode_as::<OctetString>()
        .map_err(|_| Refusal::BadAttribute("message-digest"))?;
    if message_digest.as_bytes() != content_digest {
        return Err(Refusal::ContentMismatch);
    }
    attribute_value(attributes, ID_SIGNING_TIME, "signing-time")?
        .map(|value| {
            let der = value
                .to_der()
                .map_err(|_| Refusal::BadAttribute("signing-time"))?;
            let time = Time::from_der(&der).map_err(|_| Refusal::BadAttribute("signing-time"))?;
            Ok(unix_s(time.to_unix_duration()))
        })
        .transpose()
}

/// The one value of the attribute `oid` in `attributes`, if present; refused if the
/// attribute is repeated or has several values.
fn attribute_value<'s>(
    attributes: &'s Attributes,
    oid: ObjectIdentifier,
    name: &'static str,
) -> Result<Option<&'s Any>, Refusal> {
    let mut found = attributes.iter().filter(|attribute| attribute.oid == oid);
    let Some(attribute) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || attribute.values.len() != 1 {
        return Err(Refusal::BadAttribute(name));
    }
    Ok(attribute.values.get(0))
}

/// ESSCertIDv2 (RFC 5035).
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// SigningCertificateV2 (RFC 5035).
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// ESSCertID (RFC 2634): the SHA-1 of the certificate.
#[derive(Clone, Debug, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// SigningCertificate (RFC 2634).
#[derive(Clone, Debug, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// RFC 3161 §2.4.1 (and RFC 5816): a token's signed attributes name the TSA's
/// certificate by its hash, first in the list; it must be `signer`.
fn check_signing_certificate(attributes: &Attributes, signer: &Cert) -> Result<(), Refusal> {
    const V2: &str = "signing-certificate-v2";
    const V1: &str = "signing-certificate";
    let (found, expected) = if let Some(value) =
        attribute_value(attributes, ID_AA_SIGNING_CERTIFICATE_V2, V2)?
    {
        let parsed = decode_any::<SigningCertificateV2>(value).ok_or(Refusal::BadAttribute(V2))?;
        let first = parsed
            .certs
            .into_iter()
            .next()
            .ok_or(Refusal::BadAttribute(V2))?;
        let algorithm = first.hash_algorithm.unwrap_or(AlgorithmIdentifierOwned {
            oid: SHA256,
            parameters: None,
        });
        (first.cert_hash, digest(&algorithm, &signer.der)?)
    } else if let Some(value) = attribute_value(attributes, ID_AA_SIGNING_CERTIFICATE, V1)? {
        let parsed = decode_any::<SigningCertificate>(value).ok_or(Refusal::BadAttribute(V1))?;
        let first = parsed
            .certs
            .into_iter()
            .next()
            .ok_or(Refusal::BadAttribute(V1))?;
        (first.cert_hash, sha1::Sha1::digest(&signer.der).to_vec())
    } else {
        return Err(Refusal::MissingAttribute(V2));
    };
    if found.as_bytes() != expected.as_slice() {
        return Err(Refusal::SigningCertificateMismatch);
    }
    Ok(())
}

fn decode_any<T: for<'b> Decode<'b>>(value: &Any) -> Option<T> {
    T::from_der(&value.to_der().ok()?).ok()
}

/// TimeStampResp, its token undecoded.
#[derive(Clone, Debug, Sequence)]
struct ResponseRef<'a> {
    status: StatusInfo,
    #[asn1(optional = "true")]
    token: Option<AnyRef<'a>>,
}

/// PKIStatusInfo.
#[derive(Clone, Debug, Sequence)]
struct StatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

fn status_name(status: u8) -> &'static str {
    match status {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown",
    }
}

/// The names of the PKIFailureInfo bits set (RFC 3161 §2.4.2).
fn failure_names(bits: &BitString) -> String {
    let names: Vec<String> = bits
        .bits()
        .enumerate()
        .filter(|(_, set)| *set)
        .map(|(bit, _)| match bit {
            0 => "badAlg".to_owned(),
            2 => "badRequest".to_owned(),
            5 => "badDataFormat".to_owned(),
            14 => "timeNotAvailable".to_owned(),
            15 => "unacceptedPolicy".to_owned(),
            16 => "unacceptedExtension".to_owned(),
            17 => "addInfoNotAvailable".to_owned(),
            25 => "systemFailure".to_owned(),
            other => format!("bit {other}"),
        })
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

// ---- Certificates and chains ----

/// A certificate as it came: its DER, its to-be-signed bytes, decoded, and its subject.
struct Cert {
    der: Vec<u8>,
    tbs: Vec<u8>,
    certificate: Certificate,
    subject: String,
}

/// Certificate, its parts undecoded.
#[derive(Clone, Debug, Sequence)]
struct CertificateRef<'a> {
    tbs_certificate: AnyRef<'a>,
    signature_algorithm: AnyRef<'a>,
    signature: AnyRef<'a>,
}

impl Cert {
    fn from_der(der: &[u8]) -> Result<Cert, Refusal> {
        let parts = CertificateRef::from_der(der).map_err(|_| Refusal::NotDer("certificate"))?;
        let tbs = parts
            .tbs_certificate
            .to_der()
            .map_err(|_| Refusal::NotDer("certificate"))?;
        let certificate = Certificate::from_der(der).map_err(|_| Refusal::NotDer("certificate"))?;
        let subject = name_text(&certificate.tbs_certificate.subject);
        Ok(Cert {
            der: der.to_vec(),
            tbs,
            certificate,
            subject,
        })
    }

    /// The extension `oid`, decoded, and whether it is critical; refused if malformed or
    /// repeated (RFC 5280 §4.2).
    fn extension<'s, T: Decode<'s>>(
        &'s self,
        oid: ObjectIdentifier,
    ) -> Result<Option<(bool, T)>, Refusal> {
        let extensions = self
            .certificate
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or_default();
        let mut found = extensions
            .iter()
            .filter(|extension| extension.extn_id == oid);
        let Some(extension) = found.next() else {
            return Ok(None);
        };
        let refused = || Refusal::BadCertificate {
            subject: self.subject.clone(),
            why: format!("extension {oid} malformed or repeated"),
        };
        if found.next().is_some() {
            return Err(refused());
        }
        let value = T::from_der(extension.extn_value.as_bytes()).map_err(|_| refused())?;
        Ok(Some((extension.critical, value)))
    }

    fn issuer_text(&self) -> String {
        name_text(&self.certificate.tbs_certificate.issuer)
    }
}

fn parse_root(root: &[u8]) -> Result<Cert, Refusal> {
    Cert::from_der(bounded(root)?).map_err(|_| Refusal::BadRoot)
}

/// Checks the chain from `leaf` to `root` through `pool`, every certificate valid at
/// `at_s`.
fn check_chain(leaf: &Cert, pool: &[Cert], root: &Cert, at_s: i64) -> Result<(), Refusal> {
    let mut current = leaf;
    // `below`: how many CA certificates stand between `current` and the leaf.
    for below in 0..CHAIN_LEN_MAX {
        check_valid_at(current, at_s)?;
        check_critical_extensions(current)?;
        if current.der == root.der {
            return Ok(());
        }
        let issuer = find_issuer(current, pool, root)?;
        check_ca(issuer, below)?;
        current = issuer;
    }
    Err(Refusal::ChainTooLong)
}

/// The certificate, the root first then `pool`, named as `cert`'s issuer and whose key
/// verifies `cert`'s signature.
fn find_issuer<'c>(cert: &Cert, pool: &'c [Cert], root: &'c Cert) -> Result<&'c Cert, Refusal> {
    let issuer_name = &cert.certificate.tbs_certificate.issuer;
    let mut refusal = None;
    for candidate in std::iter::once(root).chain(pool) {
        if candidate.certificate.tbs_certificate.subject != *issuer_name
            || candidate.der == cert.der
        {
            continue;
        }
        match check_issued_by(cert, candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) => {
                refusal.get_or_insert(error);
            }
        }
    }
    Err(refusal.unwrap_or_else(|| Refusal::IssuerNotFound {
        subject: cert.subject.clone(),
        issuer: cert.issuer_text(),
    }))
}

/// Checks `cert`'s signature with `issuer`'s key.
fn check_issued_by(cert: &Cert, issuer: &Cert) -> Result<(), Refusal> {
    let refused = || Refusal::CertificateSignature {
        subject: cert.subject.clone(),
    };
    let certificate = &cert.certificate;
    // RFC 5280 §4.1.1.2: the outer algorithm (unsigned) must be the signed one.
    if certificate.signature_algorithm != certificate.tbs_certificate.signature {
        return Err(refused());
    }
    let algorithm = certificate.signature_algorithm.oid;
    if algorithm != ECDSA_WITH_SHA256 {
        return Err(Refusal::Unsupported(format!(
            "certificate signature algorithm {algorithm} (only ecdsa-with-SHA256)"
        )));
    }
    let key = p256_key(issuer)?;
    let signature = certificate.signature.as_bytes().ok_or_else(refused)?;
    let digest: [u8; 32] = sha2::Sha256::digest(&cert.tbs).into();
    if !verify_prehash(&key, &digest, signature) {
        return Err(refused());
    }
    Ok(())
}

fn check_valid_at(cert: &Cert, at_s: i64) -> Result<(), Refusal> {
    let validity = &cert.certificate.tbs_certificate.validity;
    let not_before_s = unix_s(validity.not_before.to_unix_duration());
    let not_after_s = unix_s(validity.not_after.to_unix_duration());
    if at_s < not_before_s || at_s > not_after_s {
        return Err(Refusal::NotValidAt {
            subject: cert.subject.clone(),
            at_s,
            not_before_s,
            not_after_s,
        });
    }
    Ok(())
}

fn check_critical_extensions(cert: &Cert) -> Result<(), Refusal> {
    let extensions = cert
        .certificate
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default();
    match extensions
        .iter()
        .find(|extension| extension.critical && !EXTENSIONS_KNOWN.contains(&extension.extn_id))
    {
        Some(unknown) => Err(Refusal::BadCertificate {
            subject: cert.subject.clone(),
            why: format!("unknown critical extension {}", unknown.extn_id),
        }),
        None => Ok(()),
    }
}

/// An issuer with `below` CA certificates between it and the leaf: a CA whose path
/// length allows them, allowed to sign certificates.
fn check_ca(issuer: &Cert, below: usize) -> Result<(), Refusal> {
    let subject = || issuer.subject.clone();
    match issuer.extension::<BasicConstraints>(BASIC_CONSTRAINTS)? {
        Some((_, constraints)) if constraints.ca => {
            if constraints
                .path_len_constraint
                .is_some_and(|length| usize::from(length) < below)
            {
                return Err(Refusal::PathLength { subject: subject() });
            }
        }
        _ => return Err(Refusal::NotACa { subject: subject() }),
    }
    if let Some((_, usage)) = issuer.extension::<KeyUsage>(KEY_USAGE)?
        && !usage.key_cert_sign()
    {
        return Err(Refusal::KeyUsage {
            subject: subject(),
            usage: "signing certificates",
        });
    }
    Ok(())
}

/// A signer's key usage, if stated, must allow signatures.
fn check_key_usage(signer: &Cert) -> Result<(), Refusal> {
    if let Some((_, usage)) = signer.extension::<KeyUsage>(KEY_USAGE)?
        && !usage.digital_signature()
        && !usage.non_repudiation()
    {
        return Err(Refusal::KeyUsage {
            subject: signer.subject.clone(),
            usage: "signatures",
        });
    }
    Ok(())
}

/// RFC 3161 §2.3: the TSA's certificate has the extended key usage timeStamping only,
/// critical.
fn check_time_stamping(signer: &Cert) -> Result<(), Refusal> {
    match signer.extension::<ExtendedKeyUsage>(EXTENDED_KEY_USAGE)? {
        Some((true, usage)) if usage.0 == [ID_KP_TIME_STAMPING] => check_key_usage(signer),
        _ => Err(Refusal::NotTimeStamping {
            subject: signer.subject.clone(),
        }),
    }
}

// ---- Algorithms ----

/// The P-256 key of `cert`.
fn p256_key(cert: &Cert) -> Result<VerifyingKey, Refusal> {
    let spki: &SubjectPublicKeyInfoOwned =
        &cert.certificate.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(Refusal::Unsupported(format!(
            "key algorithm {} (only EC P-256)",
            spki.algorithm.oid
        )));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok());
    if curve != Some(SECP256R1) {
        return Err(Refusal::Unsupported(match curve {
            Some(curve) => format!("elliptic curve {curve} (only P-256)"),
            None => "elliptic curve parameters (only the named curve P-256)".to_owned(),
        }));
    }
    spki.subject_public_key
        .as_bytes()
        .and_then(|point| VerifyingKey::from_sec1_bytes(point).ok())
        .ok_or_else(|| Refusal::BadCertificate {
            subject: cert.subject.clone(),
            why: "its key is not a P-256 point".to_owned(),
        })
}

/// Whether `signature` (DER) is `key`'s ECDSA signature of the SHA-256 `digest`.
fn verify_prehash(key: &VerifyingKey, digest: &[u8; 32], signature: &[u8]) -> bool {
    Signature::from_der(signature)
        .is_ok_and(|signature| key.verify_prehash(digest, &signature).is_ok())
}

/// Parameters, when present, must be NULL (RFC 5754).
fn parameters_absent_or_null(algorithm: &AlgorithmIdentifierOwned) -> bool {
    algorithm
        .parameters
        .as_ref()
        .is_none_or(|parameters| parameters.tag() == Tag::Null && parameters.value().is_empty())
}

fn check_hash_is_sha256(algorithm: &AlgorithmIdentifierOwned) -> Result<(), Refusal> {
    if algorithm.oid != SHA256 || !parameters_absent_or_null(algorithm) {
        return Err(Refusal::Unsupported(format!(
            "digest algorithm {} (only SHA-256)",
            algorithm.oid
        )));
    }
    Ok(())
}

/// `data` hashed with `algorithm`: SHA-256, SHA-384 or SHA-512.
fn digest(algorithm: &AlgorithmIdentifierOwned, data: &[u8]) -> Result<Vec<u8>, Refusal> {
    if !parameters_absent_or_null(algorithm) {
        return Err(Refusal::Unsupported(format!(
            "parameters of the hash algorithm {}",
            algorithm.oid
        )));
    }
    match algorithm.oid {
        oid if oid == SHA256 => Ok(sha2::Sha256::digest(data).to_vec()),
        oid if oid == SHA384 => Ok(sha2::Sha384::digest(data).to_vec()),
        oid if oid == SHA512 => Ok(sha2::Sha512::digest(data).to_vec()),
        oid => Err(Refusal::Unsupported(format!(
            "hash algorithm {oid} (only SHA-256, SHA-384, SHA-512)"
        ))),
    }
}

// ---- Small things ----

fn bounded(input: &[u8]) -> Result<&[u8], Refusal> {
    if input.len() > INPUT_LEN_MAX {
        return Err(Refusal::TooLong);
    }
    Ok(input)
}

fn unix_s(since_epoch: std::time::Duration) -> i64 {
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// `unix_s` as `YYYY-MM-DDThh:mm:ssZ`, or the bare number when out of range.
fn utc(unix_s: i64) -> String {
    u64::try_from(unix_s)
        .ok()
        .and_then(|s| der::DateTime::from_unix_duration(std::time::Duration::from_secs(s)).ok())
        .map_or_else(|| unix_s.to_string(), |time| time.to_string())
}

/// A name as RFC 4514 text (never failing: `to_string` would panic if `Display` did).
fn name_text(name: &Name) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    match write!(text, "{name}") {
        Ok(()) => text,
        Err(_) => "(a name that cannot be printed)".to_owned(),
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// A non-negative INTEGER's content as lowercase hex, leading zero bytes dropped.
fn hex(bytes: &[u8]) -> String {
    let digits: String = strip_zeros(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if digits.is_empty() {
        "00".to_owned()
    } else {
        digits
    }
}
