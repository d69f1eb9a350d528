//! The time-stamp authority (RFC 3161, with RFC 5816's ESSCertIDv2): a request in, a
//! response out, both DER.
//!
//! A granted response carries a token: a CMS SignedData whose content is the TSTInfo
//! (policy, the request's message imprint and nonce, a serial number, the time), signed
//! by the TSA's key with the content type, the message digest, the signing time and the
//! signing-certificate-v2 attribute (SHA-256 of the TSA's certificate) signed. A request
//! that cannot be granted gets a `rejection` status with the RFC's failure information,
//! never an error of the transport.

use crate::ca::{Issued, PkiError};
use crate::keystore::{KeyLabel, Keystore};
use crate::signing::{
    SignedDataParts, check_key_matches, sha256_identifier, signed_data, signing_time,
};
use cms::content_info::ContentInfo;
use cms::signed_data::EncapsulatedContentInfo;
use der::asn1::{BitString, GeneralizedTime, Int, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence, Tag, Tagged};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use x509_cert::attr::Attribute;
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TspVersion, TstInfo};

/// id-ct-TSTInfo (RFC 3161).
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// id-aa-signingCertificateV2 (RFC 5035).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// The hash algorithms a request's message imprint may use, with their digest lengths.
const HASHES: [(&str, usize); 3] = [
    ("2.16.840.1.101.3.4.2.1", 32), // SHA-256
    ("2.16.840.1.101.3.4.2.2", 48), // SHA-384
    ("2.16.840.1.101.3.4.2.3", 64), // SHA-512
];

/// Largest request accepted (a request with a SHA-512 imprint, a policy and a nonce is
/// about 120 bytes).
pub const REQUEST_LEN_MAX: usize = 4_096;

/// Why a request is rejected: the PKIFailureInfo bit (RFC 3161 §2.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Unrecognized or unsupported hash algorithm.
    BadAlg = 0,
    /// Transaction not permitted or supported.
    BadRequest = 2,
    /// The data submitted has the wrong format (not DER, not a request, a digest of
    /// the wrong length).
    BadDataFormat = 5,
    /// The requested policy is not supported.
    UnacceptedPolicy = 15,
    /// The requested extension is not supported.
    UnacceptedExtension = 16,
    /// The request cannot be handled because of a system failure.
    SystemFailure = 25,
}

impl Failure {
    /// The PKIFailureInfo BIT STRING with this one bit set, in DER (trailing zero bits
    /// dropped).
    fn bits(self) -> Result<BitString, PkiError> {
        let bit = self as usize;
        let mut bytes = vec![0_u8; bit / 8 + 1];
        bytes[bit / 8] = 0x80 >> (bit % 8);
        BitString::new((7 - bit % 8) as u8, bytes).map_err(tsa_error)
    }

    fn text(self) -> &'static str {
        match self {
            Failure::BadAlg => "unsupported hash algorithm",
            Failure::BadRequest => "request not supported",
            Failure::BadDataFormat => {
                "not a DER time-stamp request, or a digest of the wrong length"
            }
            Failure::UnacceptedPolicy => "unsupported policy",
            Failure::UnacceptedExtension => "extensions are not supported",
            Failure::SystemFailure => "the time-stamp authority failed",
        }
    }
}

fn tsa_error(error: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(format!("time-stamp: {error}"))
}

/// PKIStatusInfo, as this TSA writes it.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct StatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

/// TimeStampResp.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct Response {
    status: StatusInfo,
    #[asn1(optional = "true")]
    token: Option<ContentInfo>,
}

/// ESSCertIDv2 with the default hash algorithm (SHA-256) and no issuer serial.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

/// SigningCertificateV2 without policies.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// What the TSA answers: a granted token, or a rejection (both are DER responses).
#[derive(Debug)]
pub enum Answer {
    Granted { response: Vec<u8>, serial: Vec<u8> },
    Rejected { response: Vec<u8>, failure: Failure },
}

impl Answer {
    pub fn response(&self) -> &[u8] {
        match self {
            Answer::Granted { response, .. } | Answer::Rejected { response, .. } => response,
        }
    }
}

/// The time-stamp authority: its key in the keystore, its certificate (extended key
/// usage timeStamping, critical) and chain, and its policy.
pub struct TimeStampAuthority {
    keystore: Arc<dyn Keystore>,
    key: KeyLabel,
    certificate: Issued,
    chain: Vec<Issued>,
    policy: ObjectIdentifier,
    signing_certificate: Attribute,
}

impl TimeStampAuthority {
    pub fn new(
        keystore: Arc<dyn Keystore>,
        key: KeyLabel,
        certificate: Issued,
        chain: Vec<Issued>,
        policy: ObjectIdentifier,
    ) -> Result<TimeStampAuthority, PkiError> {
        check_key_matches(keystore.as_ref(), &key, &certificate)?;
        let hash: [u8; 32] = Sha256::digest(&certificate.der).into();
        let value = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                cert_hash: OctetString::new(hash.to_vec()).map_err(tsa_error)?,
            }],
        };
        let mut values = SetOfVec::new();
        values
            .insert(Any::from_der(&value.to_der().map_err(tsa_error)?).map_err(tsa_error)?)
            .map_err(tsa_error)?;
        Ok(TimeStampAuthority {
            keystore,
            key,
            certificate,
            chain,
            policy,
            signing_certificate: Attribute {
                oid: ID_AA_SIGNING_CERTIFICATE_V2,
                values,
            },
        })
    }

    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// Answers the DER request `request` at `now_s` (Unix seconds).
    pub fn answer(&self, request: &[u8], now_s: i64) -> Answer {
        let rejected = |failure: Failure| Answer::Rejected {
            response: rejection(failure),
            failure,
        };
        let parsed = match self.check(request) {
            Ok(parsed) => parsed,
            Err(failure) => return rejected(failure),
        };
        match self.grant(&parsed, now_s) {
            Ok(answer) => answer,
            Err(_) => rejected(Failure::SystemFailure),
        }
    }

    /// The request, if this TSA can grant it.
    fn check(&self, request: &[u8]) -> Result<TimeStampReq, Failure> {
        if request.len() > REQUEST_LEN_MAX {
            return Err(Failure::BadDataFormat);
        }
        let parsed = TimeStampReq::from_der(request).map_err(|_| Failure::BadDataFormat)?;
        let imprint = &parsed.message_imprint;
        let algorithm = imprint.hash_algorithm.oid.to_string();
        let Some((_, length)) = HASHES.iter().find(|(oid, _)| *oid == algorithm) else {
            return Err(Failure::BadAlg);
        };
        // Parameters, when present, must be NULL (RFC 5754).
        if let Some(parameters) = &imprint.hash_algorithm.parameters
            && parameters.tag() != Tag::Null
        {
            return Err(Failure::BadAlg);
        }
        if imprint.hashed_message.as_bytes().len() != *length {
            return Err(Failure::BadDataFormat);
        }
        if parsed
            .req_policy
            .is_some_and(|policy| policy != self.policy)
        {
            return Err(Failure::UnacceptedPolicy);
        }
        if parsed
            .extensions
            .as_ref()
            .is_some_and(|extensions| !extensions.is_empty())
        {
            return Err(Failure::UnacceptedExtension);
        }
        Ok(parsed)
    }

    fn grant(&self, request: &TimeStampReq, now_s: i64) -> Result<Answer, PkiError> {
        let (token, serial) = self.token(
            MessageImprint {
                hash_algorithm: request.message_imprint.hash_algorithm.clone(),
                hashed_message: request.message_imprint.hashed_message.clone(),
            },
            request.nonce.clone(),
            request.cert_req,
            now_s,
        )?;
        let response = Response {
            status: StatusInfo {
                status: 0,
                status_string: None,
                fail_info: None,
            },
            token: Some(token),
        }
        .to_der()
        .map_err(tsa_error)?;
        Ok(Answer::Granted {
            response,
            serial: serial.to_vec(),
        })
    }

    /// A time-stamp token (a `ContentInfo` SignedData over TSTInfo, with the TSA's
    /// certificate and chain) for the SHA-256 digest `digest` at `now_s`: what sceau puts
    /// in its own signatures (CAdES signature time-stamp).
    pub fn stamp(&self, digest: &[u8; 32], now_s: i64) -> Result<ContentInfo, PkiError> {
        let imprint = MessageImprint {
            hash_algorithm: sha256_identifier(),
            hashed_message: OctetString::new(digest.to_vec()).map_err(tsa_error)?,
        };
        Ok(self.token(imprint, None, true, now_s)?.0)
    }

    /// The token for `imprint`, and its serial number.
    fn token(
        &self,
        imprint: MessageImprint,
        nonce: Option<Int>,
        with_certificates: bool,
        now_s: i64,
    ) -> Result<(ContentInfo, Vec<u8>), PkiError> {
        use rand::RngCore;
        let mut serial = [0_u8; 16];
        rand::rng().fill_bytes(&mut serial);
        serial[0] = (serial[0] & 0x7f) | 0x01;
        let since_epoch = std::time::Duration::from_secs(u64::try_from(now_s).map_err(tsa_error)?);
        let info = TstInfo {
            version: TspVersion::V1,
            policy: self.policy,
            message_imprint: imprint,
            serial_number: Int::new(&serial).map_err(tsa_error)?,
            gen_time: GeneralizedTime::from_unix_duration(since_epoch).map_err(tsa_error)?,
            accuracy: Some(Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce,
            tsa: None,
            extensions: None,
        };
        let content = EncapsulatedContentInfo {
            econtent_type: ID_CT_TST_INFO,
            econtent: Some(
                Any::new(Tag::OctetString, info.to_der().map_err(tsa_error)?).map_err(tsa_error)?,
            ),
        };
        // RFC 3161 §2.4.1: the TSA's certificate is in the token when the request asks
        // for it (and then its chain, so that a verifier needs only the root).
        let certificates: Vec<&Issued> = if with_certificates {
            std::iter::once(&self.certificate)
                .chain(self.chain.iter())
                .collect()
        } else {
            Vec::new()
        };
        let token = signed_data(&SignedDataParts {
            keystore: Arc::clone(&self.keystore),
            key: &self.key,
            certificate: &self.certificate,
            content: &content,
            external_digest: None,
            attributes: vec![signing_time(now_s)?, self.signing_certificate.clone()],
            certificates: &certificates,
        })?;
        Ok((token, serial.to_vec()))
    }
}

/// A `rejection` response with `failure`'s bit and text.
fn rejection(failure: Failure) -> Vec<u8> {
    let encoded = (|| -> Result<Vec<u8>, PkiError> {
        Response {
            status: StatusInfo {
                status: 2,
                status_string: Some(vec![failure.text().to_owned()]),
                fail_info: Some(failure.bits()?),
            },
            token: None,
        }
        .to_der()
        .map_err(tsa_error)
    })();
    // A fixed response cannot fail to encode; should it, the bare rejection status
    // (SEQUENCE { SEQUENCE { INTEGER 2 } }) still answers.
    encoded.unwrap_or_else(|_| vec![0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02])
}

/// A time-stamp request (DER) for the SHA-256 digest `digest`, as `openssl ts -query
/// -sha256` makes one: with `nonce` (big-endian, positive) and, if `cert_req`, asking for
/// the TSA's certificate. For clients and benchmarks.
pub fn query(digest: &[u8; 32], nonce: u64, cert_req: bool) -> Result<Vec<u8>, PkiError> {
    let sha256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
    TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: x509_cert::spki::AlgorithmIdentifier {
                oid: sha256,
                parameters: None,
            },
            hashed_message: OctetString::new(digest.to_vec()).map_err(tsa_error)?,
        },
        req_policy: None,
        nonce: Some(positive_integer(nonce)?),
        cert_req,
        extensions: None,
    }
    .to_der()
    .map_err(tsa_error)
}

/// `value` as a positive DER INTEGER (minimal, with a leading zero when the top bit is
/// set).
fn positive_integer(value: u64) -> Result<Int, PkiError> {
    let bytes = value.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut encoded = Vec::with_capacity(9);
    if bytes[first] & 0x80 != 0 {
        encoded.push(0);
    }
    encoded.extend_from_slice(&bytes[first..]);
    Int::new(&encoded).map_err(tsa_error)
}
