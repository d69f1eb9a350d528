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
use crate::cms_der::{
    ID_CONTENT_TYPE, SignedDataParts, attribute, certificate_set, message_digest_attribute, set_of,
    signed_attributes_digest, signed_data, signer_identifier, tlv,
};
use crate::keystore::{KeyLabel, Keystore};
use crate::signing::{check_key_matches, sha256_identifier, signing_certificate_v2, signing_time};
use cms::content_info::ContentInfo;
use der::asn1::{BitString, GeneralizedTime, Int, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use sha2::{Digest, Sha256};
use std::sync::Arc;
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
pub(crate) struct EssCertIdV2 {
    pub cert_hash: OctetString,
}

/// SigningCertificateV2 without policies.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
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
    policy: ObjectIdentifier,
    /// The parts of every token that do not change, DER: see [`Fixed`].
    fixed: Fixed,
}

/// The DER of what every token repeats, encoded once: tokens are assembled around them
/// (the CMS builder would re-encode the certificates and attributes every time).
struct Fixed {
    /// The signed attributes that never change: content type (id-ct-TSTInfo) and
    /// signing-certificate-v2.
    content_type_attribute: Vec<u8>,
    signing_certificate_attribute: Vec<u8>,
    /// `[0] IMPLICIT SET OF Certificate`: the TSA's certificate and its chain.
    certificates: Vec<u8>,
    /// The SignerInfo's `sid`: the TSA certificate's issuer and serial number.
    signer_identifier: Vec<u8>,
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
        let chain: Vec<&Issued> = std::iter::once(&certificate).chain(chain.iter()).collect();
        Ok(TimeStampAuthority {
            keystore,
            key,
            policy,
            fixed: Fixed {
                content_type_attribute: attribute(
                    ID_CONTENT_TYPE,
                    &ID_CT_TST_INFO.to_der().map_err(tsa_error)?,
                )?,
                signing_certificate_attribute: signing_certificate_v2(&certificate)?,
                certificates: certificate_set(&chain),
                signer_identifier: signer_identifier(&certificate)?,
            },
        })
    }

    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// Answers the DER request `request` at `now_s` (Unix seconds).
    pub fn answer(&self, request: &[u8], now_s: i64) -> Answer {
        self.answer_many(&[request], now_s)
            .pop()
            .unwrap_or_else(|| rejected(Failure::SystemFailure))
    }

    /// The first half of answering `request`: checked, and its token prepared but for
    /// its signature; a request that cannot be granted is answered at once. Several
    /// prepared tokens are signed together by [`TimeStampAuthority::sign`], each then
    /// finished by [`TimeStampAuthority::finish`].
    pub fn begin(&self, request: &[u8], now_s: i64) -> Result<Pending, Answer> {
        let parsed = self.check(request).map_err(rejected)?;
        self.prepare(
            MessageImprint {
                hash_algorithm: parsed.message_imprint.hash_algorithm.clone(),
                hashed_message: parsed.message_imprint.hashed_message.clone(),
            },
            parsed.nonce.clone(),
            parsed.cert_req,
            now_s,
        )
        .map(Pending)
        .map_err(|_| rejected(Failure::SystemFailure))
    }

    /// Signs prepared tokens with one use of the TSA's key.
    pub fn sign(&self, pending: &[&Pending]) -> Result<Vec<crate::Signature>, PkiError> {
        let digests: Vec<[u8; 32]> = pending.iter().map(|pending| pending.0.digest).collect();
        let signatures = self.keystore.sign_digests(&self.key, &digests)?;
        if signatures.len() != digests.len() {
            return Err(tsa_error("the keystore signed another number of digests"));
        }
        Ok(signatures)
    }

    /// The answer for a prepared token and its signature.
    pub fn finish(&self, pending: Pending, signature: &crate::Signature) -> Answer {
        let token = self.assemble(&pending.0, signature);
        // TimeStampResp { PKIStatusInfo { granted }, token }.
        Answer::Granted {
            response: tlv(0x30, &[&[0x30, 0x03, 0x02, 0x01, 0x00], &token]),
            serial: pending.0.serial,
        }
    }

    /// The answer when signing failed.
    pub fn failed() -> Answer {
        rejected(Failure::SystemFailure)
    }

    /// Answers several requests at once, in order: their tokens are signed with one use
    /// of the key (the keystore opens it once for them all, see
    /// [`Keystore::sign_digests`]).
    pub fn answer_many(&self, requests: &[&[u8]], now_s: i64) -> Vec<Answer> {
        let begun: Vec<Result<Pending, Answer>> = requests
            .iter()
            .map(|request| self.begin(request, now_s))
            .collect();
        let pending: Vec<&Pending> = begun.iter().filter_map(|b| b.as_ref().ok()).collect();
        let mut signatures = match self.sign(&pending) {
            Ok(signatures) => signatures.into_iter(),
            Err(_) => {
                return begun
                    .into_iter()
                    .map(|begun| begun.err().unwrap_or_else(TimeStampAuthority::failed))
                    .collect();
            }
        };
        begun
            .into_iter()
            .map(|begun| match begun {
                Err(rejection) => rejection,
                Ok(pending) => match signatures.next() {
                    Some(signature) => self.finish(pending, &signature),
                    None => TimeStampAuthority::failed(),
                },
            })
            .collect()
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

    /// A time-stamp token (a `ContentInfo` SignedData over TSTInfo, DER, with the TSA's
    /// certificate and chain) for the SHA-256 digest `digest` at `now_s`: what sceau puts
    /// in its own signatures (CAdES signature time-stamp).
    pub fn stamp(&self, digest: &[u8; 32], now_s: i64) -> Result<Vec<u8>, PkiError> {
        let imprint = MessageImprint {
            hash_algorithm: sha256_identifier(),
            hashed_message: OctetString::new(digest.to_vec()).map_err(tsa_error)?,
        };
        Ok(self.token(imprint, None, true, now_s)?.0)
    }

    /// [`TimeStampAuthority::stamp`] for several digests, each at its own time, in
    /// order: their tokens are signed with one use of the TSA's key (the keystore opens
    /// it once for them all, see [`Keystore::sign_digests`]).
    pub fn stamp_many(&self, digests: &[([u8; 32], i64)]) -> Result<Vec<Vec<u8>>, PkiError> {
        let prepared = digests
            .iter()
            .map(|(digest, now_s)| {
                let imprint = MessageImprint {
                    hash_algorithm: sha256_identifier(),
                    hashed_message: OctetString::new(digest.to_vec()).map_err(tsa_error)?,
                };
                self.prepare(imprint, None, true, *now_s).map(Pending)
            })
            .collect::<Result<Vec<Pending>, PkiError>>()?;
        let signatures = self.sign(&prepared.iter().collect::<Vec<&Pending>>())?;
        Ok(prepared
            .iter()
            .zip(&signatures)
            .map(|(pending, signature)| self.assemble(&pending.0, signature))
            .collect())
    }

    /// The token for `imprint` (DER), and its serial number.
    fn token(
        &self,
        imprint: MessageImprint,
        nonce: Option<Int>,
        with_certificates: bool,
        now_s: i64,
    ) -> Result<(Vec<u8>, Vec<u8>), PkiError> {
        let prepared = self.prepare(imprint, nonce, with_certificates, now_s)?;
        let signature = self.keystore.sign_digest(&self.key, &prepared.digest)?;
        let token = self.assemble(&prepared, &signature);
        Ok((token, prepared.serial))
    }

    /// Everything of a token but its signature: the TSTInfo, the signed attributes and
    /// the digest to sign.
    fn prepare(
        &self,
        imprint: MessageImprint,
        nonce: Option<Int>,
        with_certificates: bool,
        now_s: i64,
    ) -> Result<Prepared, PkiError> {
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
        }
        .to_der()
        .map_err(tsa_error)?;
        // The signed attributes, as a DER SET OF (sorted by their encodings): content
        // type, signing time, message digest, signing certificate.
        let signing_time = signing_time(now_s)?;
        let message_digest = message_digest_attribute(&Sha256::digest(&info))?;
        let attributes = set_of(&mut [
            &self.fixed.content_type_attribute,
            &signing_time,
            &message_digest,
            &self.fixed.signing_certificate_attribute,
        ]);
        let digest = signed_attributes_digest(&attributes);
        Ok(Prepared {
            info,
            attributes,
            digest,
            serial: serial.to_vec(),
            with_certificates,
        })
    }

    /// The token (DER) of `prepared` signed with `signature`: a SignedData of version 3
    /// whose content is `{ id-ct-TSTInfo, [0] OCTET STRING TSTInfo }`, with the TSA's
    /// certificates when the request asked for them.
    fn assemble(&self, prepared: &Prepared, signature: &crate::Signature) -> Vec<u8> {
        // Every token issued passes here: answers to `POST /tsa` and sceau's own.
        metrics::counter!("sceau_time_stamps_total").increment(1);
        let content = tlv(
            0x30,
            &[
                TST_INFO_CONTENT_TYPE,
                &tlv(0xa0, &[&tlv(0x04, &[&prepared.info])]),
            ],
        );
        signed_data(&SignedDataParts {
            version: 3,
            content: &content,
            certificates: if prepared.with_certificates {
                &self.fixed.certificates
            } else {
                &[]
            },
            signer_identifier: &self.fixed.signer_identifier,
            signed_attributes: &prepared.attributes,
            signature: signature.to_der().as_bytes(),
            unsigned_attributes: &[],
        })
    }
}

/// A granted request's token, waiting for its signature.
pub struct Pending(Prepared);

/// A token waiting for its signature.
struct Prepared {
    /// The TSTInfo, DER.
    info: Vec<u8>,
    /// The signed attributes' encodings, in DER order (the content of the SET OF).
    attributes: Vec<u8>,
    /// SHA-256 of the signed attributes as a SET OF: what the key signs.
    digest: [u8; 32],
    serial: Vec<u8>,
    with_certificates: bool,
}

/// A `rejection` answer for `failure`.
fn rejected(failure: Failure) -> Answer {
    Answer::Rejected {
        response: rejection(failure),
        failure,
    }
}

/// id-ct-TSTInfo, encoded.
const TST_INFO_CONTENT_TYPE: &[u8] = &[
    0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];

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
