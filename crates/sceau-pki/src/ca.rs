//! The certificate authority: a root and an issuing CA whose keys live in the keystore,
//! and X.509 v3 certificates for clients' server-held keys (RFC 5280), all ECDSA P-256
//! with SHA-256.
//!
//! Certificates are built with the `x509-cert` builder; the signer is a keystore key
//! ([`KeySigner`]), so that the CA's private keys are used where they live.

use crate::keystore::{KeyLabel, Keystore, KeystoreError};
use der::{Decode, Encode};
use p256::ecdsa::{DerSignature, VerifyingKey};
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, CrlNumber, ExtendedKeyUsage, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SubjectPublicKeyInfoOwned,
};
use x509_cert::time::{Time, Validity};

/// ecdsa-with-SHA256 (RFC 5758).
const ECDSA_WITH_SHA256: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Labels of the authority's keys in the keystore.
pub const ROOT_KEY: &str = "ca-root";
pub const ISSUING_KEY: &str = "ca-issuing";

/// How long the authority's certificates live.
pub const ROOT_VALIDITY_S: i64 = 20 * 365 * 86_400;
pub const ISSUING_VALIDITY_S: i64 = 10 * 365 * 86_400;
/// Default life of a client's certificate.
pub const CLIENT_VALIDITY_S: i64 = 2 * 365 * 86_400;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("invalid name: {0}")]
    InvalidName(String),
}

fn certificate_error(error: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(error.to_string())
}

/// A keystore key as a signer for the certificate builder: the data is hashed here and
/// the digest signed in the keystore.
pub struct KeySigner {
    keystore: Arc<dyn Keystore>,
    label: KeyLabel,
    public: VerifyingKey,
}

impl KeySigner {
    pub fn new(keystore: Arc<dyn Keystore>, label: KeyLabel) -> Result<KeySigner, PkiError> {
        let public = keystore.public_key(&label)?;
        Ok(KeySigner {
            keystore,
            label,
            public,
        })
    }
}

impl signature::Keypair for KeySigner {
    type VerifyingKey = VerifyingKey;

    fn verifying_key(&self) -> VerifyingKey {
        self.public
    }
}

impl DynSignatureAlgorithmIdentifier for KeySigner {
    fn signature_algorithm_identifier(&self) -> x509_cert::spki::Result<AlgorithmIdentifierOwned> {
        Ok(AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        })
    }
}

impl signature::Signer<DerSignature> for KeySigner {
    fn try_sign(&self, message: &[u8]) -> Result<DerSignature, signature::Error> {
        let digest: [u8; 32] = Sha256::digest(message).into();
        self.keystore
            .sign_digest(&self.label, &digest)
            .map(|signature| signature.to_der())
            .map_err(signature::Error::from_source)
    }
}

/// A time as X.509 wants it: UTCTime up to 2049, GeneralizedTime after (RFC 5280).
pub(crate) fn x509_time(unix_s: i64) -> Result<Time, PkiError> {
    let since_epoch = Duration::from_secs(u64::try_from(unix_s).map_err(certificate_error)?);
    if unix_s < 2_524_608_000 {
        Ok(Time::UtcTime(
            der::asn1::UtcTime::from_unix_duration(since_epoch).map_err(certificate_error)?,
        ))
    } else {
        Ok(Time::GeneralTime(
            der::asn1::GeneralizedTime::from_unix_duration(since_epoch)
                .map_err(certificate_error)?,
        ))
    }
}

fn validity(from_s: i64, to_s: i64) -> Result<Validity, PkiError> {
    Ok(Validity {
        not_before: x509_time(from_s)?,
        not_after: x509_time(to_s)?,
    })
}

/// A fresh positive serial number of 16 random bytes (RFC 5280: at most 20 octets).
fn new_serial() -> Result<SerialNumber, PkiError> {
    use rand::RngCore;
    let mut bytes = [0_u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).map_err(certificate_error)
}

/// A distinguished name from its RFC 4514 text (`CN=…,O=…`); values may not carry the
/// characters that would change its structure.
pub fn name(text: &str) -> Result<Name, PkiError> {
    Name::from_str(text).map_err(|error| PkiError::InvalidName(format!("{text:?}: {error}")))
}

fn spki(public: &VerifyingKey) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let der = public.to_public_key_der().map_err(certificate_error)?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(certificate_error)
}

/// A certificate and its DER encoding.
#[derive(Clone, Debug)]
pub struct Issued {
    pub certificate: Certificate,
    pub der: Vec<u8>,
}

impl Issued {
    fn from_certificate(certificate: Certificate) -> Result<Issued, PkiError> {
        let der = certificate.to_der().map_err(certificate_error)?;
        Ok(Issued { certificate, der })
    }

    pub fn from_der(der: &[u8]) -> Result<Issued, PkiError> {
        Ok(Issued {
            certificate: Certificate::from_der(der).map_err(certificate_error)?,
            der: der.to_vec(),
        })
    }

    /// A certificate from PEM text (`-----BEGIN CERTIFICATE-----`) or DER.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Issued, PkiError> {
        use der::DecodePem;
        if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            Issued::from_certificate(
                Certificate::from_pem(bytes.trim_ascii()).map_err(certificate_error)?,
            )
        } else {
            Issued::from_der(bytes)
        }
    }

    /// Its validity: not before, not after (Unix seconds).
    pub fn validity_s(&self) -> (i64, i64) {
        let validity = &self.certificate.tbs_certificate.validity;
        let seconds =
            |time: &Time| i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        (seconds(&validity.not_before), seconds(&validity.not_after))
    }

    /// PEM, for tools.
    pub fn to_pem(&self) -> Result<String, PkiError> {
        use der::EncodePem;
        self.certificate
            .to_pem(der::pem::LineEnding::LF)
            .map_err(certificate_error)
    }
}

/// The authority: its keystore, and the root and issuing CA certificates.
pub struct Authority {
    keystore: Arc<dyn Keystore>,
    root: Issued,
    issuing: Issued,
}

impl Authority {
    /// Creates the authority's two keys in `keystore` and their certificates: a
    /// self-signed root, and the issuing CA it certifies (path length 0).
    pub fn create(
        keystore: Arc<dyn Keystore>,
        organisation: &str,
        now_s: i64,
    ) -> Result<Authority, PkiError> {
        let root_label = KeyLabel::new(ROOT_KEY)?;
        let issuing_label = KeyLabel::new(ISSUING_KEY)?;
        let root_public = keystore.generate(&root_label)?;
        let issuing_public = keystore.generate(&issuing_label)?;
        let root_name = name(&format!("CN={organisation} Root CA,O={organisation}"))?;
        let issuing_name = name(&format!("CN={organisation} Issuing CA,O={organisation}"))?;
        let root_signer = KeySigner::new(Arc::clone(&keystore), root_label)?;
        let root = CertificateBuilder::new(
            Profile::Root,
            new_serial()?,
            validity(now_s, now_s + ROOT_VALIDITY_S)?,
            root_name.clone(),
            spki(&root_public)?,
            &root_signer,
        )
        .map_err(certificate_error)?
        .build::<DerSignature>()
        .map_err(certificate_error)?;
        let issuing = CertificateBuilder::new(
            Profile::SubCA {
                issuer: root_name,
                path_len_constraint: Some(0),
            },
            new_serial()?,
            validity(now_s, now_s + ISSUING_VALIDITY_S)?,
            issuing_name,
            spki(&issuing_public)?,
            &root_signer,
        )
        .map_err(certificate_error)?
        .build::<DerSignature>()
        .map_err(certificate_error)?;
        Ok(Authority {
            keystore,
            root: Issued::from_certificate(root)?,
            issuing: Issued::from_certificate(issuing)?,
        })
    }

    /// The authority as it was created: its certificates, with its keys in `keystore`.
    /// The keys must be the certificates' keys.
    pub fn open(
        keystore: Arc<dyn Keystore>,
        root: Issued,
        issuing: Issued,
    ) -> Result<Authority, PkiError> {
        for (label, issued) in [(ROOT_KEY, &root), (ISSUING_KEY, &issuing)] {
            let public = keystore.public_key(&KeyLabel::new(label)?)?;
            if spki(&public)? != issued.certificate.tbs_certificate.subject_public_key_info {
                return Err(PkiError::Certificate(format!(
                    "the key {label} is not the key of its certificate"
                )));
            }
        }
        Ok(Authority {
            keystore,
            root,
            issuing,
        })
    }

    pub fn root(&self) -> &Issued {
        &self.root
    }

    pub fn issuing(&self) -> &Issued {
        &self.issuing
    }

    /// A client's certificate for its server-held key `key` (a leaf for signatures:
    /// digitalSignature and nonRepudiation) with no private extension, issued by the
    /// issuing CA.
    pub fn issue_client(
        &self,
        key: &KeyLabel,
        common_name: &str,
        now_s: i64,
        validity_s: i64,
    ) -> Result<Issued, PkiError> {
        self.issue_for_client(
            key,
            common_name,
            ClientProfile::Disposable,
            now_s,
            validity_s,
        )
    }

    /// A certificate for a client's server-held key `key`, of the kind `profile` says,
    /// issued by the issuing CA; its subject is the common name alone.
    pub fn issue_for_client(
        &self,
        key: &KeyLabel,
        common_name: &str,
        profile: ClientProfile<'_>,
        now_s: i64,
        validity_s: i64,
    ) -> Result<Issued, PkiError> {
        let extension = match profile {
            ClientProfile::Holder { escrowed_phone } => {
                Some(PrivateExtension::escrowed_phone(escrowed_phone))
            }
            ClientProfile::Pseudonym { first } => Some(PrivateExtension::names(first)?),
            ClientProfile::Disposable => None,
        };
        self.issue_leaf(
            key,
            common_name,
            now_s,
            validity_s,
            LeafUse::Signing(extension),
        )
    }

    /// The time-stamping authority's certificate for `key`: a leaf whose extended key
    /// usage is timeStamping only, critical (RFC 3161 §2.3).
    pub fn issue_time_stamping(
        &self,
        key: &KeyLabel,
        common_name: &str,
        now_s: i64,
        validity_s: i64,
    ) -> Result<Issued, PkiError> {
        self.issue_leaf(key, common_name, now_s, validity_s, LeafUse::TimeStamping)
    }

    /// A disposable certificate for a key a client's station made and holds (its public
    /// half only ever reaches sceau): a leaf for signatures, with no private extension,
    /// issued by the issuing CA.
    pub fn certify_station_key(
        &self,
        public: &VerifyingKey,
        common_name: &str,
        now_s: i64,
        validity_s: i64,
    ) -> Result<Issued, PkiError> {
        self.issue_leaf_for(
            public,
            common_name,
            now_s,
            validity_s,
            LeafUse::Signing(None),
        )
    }

    fn issue_leaf(
        &self,
        key: &KeyLabel,
        common_name: &str,
        now_s: i64,
        validity_s: i64,
        leaf_use: LeafUse,
    ) -> Result<Issued, PkiError> {
        let public = self.keystore.public_key(key)?;
        self.issue_leaf_for(&public, common_name, now_s, validity_s, leaf_use)
    }

    fn issue_leaf_for(
        &self,
        public: &VerifyingKey,
        common_name: &str,
        now_s: i64,
        validity_s: i64,
        leaf_use: LeafUse,
    ) -> Result<Issued, PkiError> {
        let signer = KeySigner::new(Arc::clone(&self.keystore), KeyLabel::new(ISSUING_KEY)?)?;
        let mut builder = CertificateBuilder::new(
            Profile::Leaf {
                issuer: self.issuing.certificate.tbs_certificate.subject.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: false,
            },
            new_serial()?,
            validity(now_s, now_s + validity_s)?,
            common_name_only(common_name)?,
            spki(public)?,
            &signer,
        )
        .map_err(certificate_error)?;
        match leaf_use {
            LeafUse::TimeStamping => builder
                .add_extension(&CriticalExtendedKeyUsage(ExtendedKeyUsage(vec![
                    ID_KP_TIME_STAMPING,
                ])))
                .map_err(certificate_error)?,
            LeafUse::Signing(Some(PrivateExtension::EscrowedPhone(envelope))) => builder
                .add_extension(&EscrowedPhone(envelope))
                .map_err(certificate_error)?,
            LeafUse::Signing(Some(PrivateExtension::Names(reference))) => builder
                .add_extension(&reference)
                .map_err(certificate_error)?,
            LeafUse::Signing(None) => {}
        }
        let certificate = builder.build::<DerSignature>().map_err(certificate_error)?;
        Issued::from_certificate(certificate)
    }

    /// The issuing CA's certificate revocation list (RFC 5280 §5, v2): `revoked`, with
    /// their reasons, valid from `now_s` to `next_update_s`, numbered `number` (which must
    /// grow from one list to the next: the time it was made does).
    pub fn crl(
        &self,
        revoked: &[Revocation],
        now_s: i64,
        next_update_s: i64,
        number: u64,
    ) -> Result<Vec<u8>, PkiError> {
        let entries = revoked
            .iter()
            .map(revoked_entry)
            .collect::<Result<Vec<_>, PkiError>>()?;
        let authority_key = AuthorityKeyIdentifier {
            key_identifier: Some(self.issuing_key_identifier()?.0),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        let number = der::asn1::Uint::new(&number.to_be_bytes()).map_err(certificate_error)?;
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            issuer: self.issuing.certificate.tbs_certificate.subject.clone(),
            this_update: x509_time(now_s)?,
            next_update: Some(x509_time(next_update_s)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(vec![
                crl_extension(
                    <AuthorityKeyIdentifier as der::oid::AssociatedOid>::OID,
                    authority_key.to_der().map_err(certificate_error)?,
                )?,
                crl_extension(
                    <CrlNumber as der::oid::AssociatedOid>::OID,
                    CrlNumber(number).to_der().map_err(certificate_error)?,
                )?,
            ]),
        };
        self.sign_crl(tbs)
    }

    /// The issuing CA's subject key identifier, which names it in its lists.
    fn issuing_key_identifier(&self) -> Result<SubjectKeyIdentifier, PkiError> {
        self.issuing
            .certificate
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|found| found.extn_id == <SubjectKeyIdentifier as der::oid::AssociatedOid>::OID)
            .map(|found| SubjectKeyIdentifier::from_der(found.extn_value.as_bytes()))
            .transpose()
            .map_err(certificate_error)?
            .ok_or_else(|| PkiError::Certificate("the issuing CA has no key identifier".into()))
    }

    /// Signs the list's contents with the issuing key and encodes the whole list (DER).
    fn sign_crl(&self, tbs: TbsCertList) -> Result<Vec<u8>, PkiError> {
        let signer = KeySigner::new(Arc::clone(&self.keystore), KeyLabel::new(ISSUING_KEY)?)?;
        let signature: DerSignature =
            signature::Signer::try_sign(&signer, &tbs.to_der().map_err(certificate_error)?)
                .map_err(certificate_error)?;
        CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            signature: der::asn1::BitString::from_bytes(signature.as_bytes())
                .map_err(certificate_error)?,
        }
        .to_der()
        .map_err(certificate_error)
    }
}

/// A non-critical extension of a list or of one of its entries.
fn crl_extension(oid: der::asn1::ObjectIdentifier, value: Vec<u8>) -> Result<Extension, PkiError> {
    Ok(Extension {
        extn_id: oid,
        critical: false,
        extn_value: der::asn1::OctetString::new(value).map_err(certificate_error)?,
    })
}

/// One revoked certificate as an entry of the list.
fn revoked_entry(entry: &Revocation) -> Result<RevokedCert, PkiError> {
    Ok(RevokedCert {
        serial_number: SerialNumber::new(&entry.serial).map_err(certificate_error)?,
        revocation_date: x509_time(entry.at_s)?,
        // RFC 5280 §5.3.1: no reason code rather than "unspecified".
        crl_entry_extensions: if entry.reason == RevocationReason::Unspecified {
            None
        } else {
            Some(vec![crl_extension(
                <x509_cert::ext::pkix::crl::CrlReason as der::oid::AssociatedOid>::OID,
                entry
                    .reason
                    .as_crl_reason()
                    .to_der()
                    .map_err(certificate_error)?,
            )?])
        },
    })
}

/// What a client's certificate is for.
pub enum ClientProfile<'a> {
    /// The client's own certificate: it carries their phone number, sealed (a CMS
    /// envelope, DER) so that only the authority's escrow key opens it.
    Holder { escrowed_phone: &'a [u8] },
    /// A second certificate with no phone number, which names the client's first.
    Pseudonym { first: &'a Issued },
    /// A certificate for one use (a short life, no phone number).
    Disposable,
}

/// Why a certificate was revoked (RFC 5280 §5.3.1 reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

impl RevocationReason {
    /// The reason's code in RFC 5280.
    pub fn code(self) -> u8 {
        self.as_crl_reason() as u8
    }

    pub fn from_code(code: u8) -> Option<RevocationReason> {
        [
            RevocationReason::Unspecified,
            RevocationReason::KeyCompromise,
            RevocationReason::AffiliationChanged,
            RevocationReason::Superseded,
            RevocationReason::CessationOfOperation,
        ]
        .into_iter()
        .find(|reason| reason.code() == code)
    }

    /// The reason as the operator names it (`key-compromise`, …).
    pub fn name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key-compromise",
            RevocationReason::AffiliationChanged => "affiliation-changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation-of-operation",
        }
    }

    fn as_crl_reason(self) -> x509_cert::ext::pkix::crl::CrlReason {
        use x509_cert::ext::pkix::crl::CrlReason;
        match self {
            RevocationReason::Unspecified => CrlReason::Unspecified,
            RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
            RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
            RevocationReason::Superseded => CrlReason::Superseded,
            RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
        }
    }
}

impl std::str::FromStr for RevocationReason {
    type Err = PkiError;

    fn from_str(text: &str) -> Result<RevocationReason, PkiError> {
        (0..=10)
            .filter_map(RevocationReason::from_code)
            .find(|reason| reason.name() == text)
            .ok_or_else(|| PkiError::Certificate(format!("unknown revocation reason {text:?}")))
    }
}

/// A revoked certificate, as the CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The certificate's serial number (its bytes, big-endian).
    pub serial: Vec<u8>,
    pub at_s: i64,
    pub reason: RevocationReason,
}

/// A certificate's serial number as lowercase hexadecimal (how the store keys it).
pub fn serial_hex(issued: &Issued) -> String {
    hex_bytes(issued.certificate.tbs_certificate.serial_number.as_bytes())
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The serial number's bytes from its hexadecimal form.
pub fn serial_from_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) || text.len() > 40 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Longest common name (RFC 5280's upper bound, ub-common-name).
pub const COMMON_NAME_LEN_MAX: usize = 64;

/// A subject made of one common name, as a UTF8String, taken literally: characters that
/// would mean structure in RFC 4514 text are just characters here.
fn common_name_only(text: &str) -> Result<Name, PkiError> {
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
    if text.is_empty()
        || text.chars().count() > COMMON_NAME_LEN_MAX
        || text.chars().any(char::is_control)
    {
        return Err(PkiError::InvalidName(text.to_owned()));
    }
    let value = AttributeTypeAndValue {
        oid: der::oid::db::rfc4519::CN,
        value: der::Any::new(der::Tag::Utf8String, text.as_bytes()).map_err(certificate_error)?,
    };
    let mut set = der::asn1::SetOfVec::new();
    set.insert(value).map_err(certificate_error)?;
    Ok(RdnSequence(vec![RelativeDistinguishedName(set)]))
}

/// Private extensions, under an example arc (like the default time-stamp policy): an
/// operator with a registered arc replaces them before issuing to the public.
pub const ID_ESCROWED_PHONE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.3.4.2.1");
pub const ID_NAMES_CERTIFICATE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.3.4.2.2");

enum LeafUse {
    TimeStamping,
    Signing(Option<PrivateExtension>),
}

enum PrivateExtension {
    EscrowedPhone(Vec<u8>),
    Names(NamesCertificate),
}

impl PrivateExtension {
    fn escrowed_phone(envelope: &[u8]) -> PrivateExtension {
        PrivateExtension::EscrowedPhone(envelope.to_vec())
    }

    fn names(first: &Issued) -> Result<PrivateExtension, PkiError> {
        Ok(PrivateExtension::Names(NamesCertificate {
            cert_hash: der::asn1::OctetString::new(Sha256::digest(&first.der).to_vec())
                .map_err(certificate_error)?,
            issuer: first.certificate.tbs_certificate.issuer.clone(),
            serial_number: first.certificate.tbs_certificate.serial_number.clone(),
        }))
    }
}

/// The escrowed phone number: the extension's value is the envelope's DER as it is.
struct EscrowedPhone(Vec<u8>);

impl der::oid::AssociatedOid for EscrowedPhone {
    const OID: der::asn1::ObjectIdentifier = ID_ESCROWED_PHONE;
}

impl der::Encode for EscrowedPhone {
    fn encoded_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.0.len())
    }

    fn encode(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

impl x509_cert::ext::AsExtension for EscrowedPhone {
    fn critical(&self, _subject: &Name, _extensions: &[x509_cert::ext::Extension]) -> bool {
        false
    }
}

/// The certificate a pseudonymous certificate names: `SEQUENCE { certHash OCTET STRING
/// (SHA-256 of its DER), issuer Name, serialNumber INTEGER }`, like ESSCertIDv2.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct NamesCertificate {
    pub cert_hash: der::asn1::OctetString,
    pub issuer: Name,
    pub serial_number: SerialNumber,
}

impl der::oid::AssociatedOid for NamesCertificate {
    const OID: der::asn1::ObjectIdentifier = ID_NAMES_CERTIFICATE;
}

impl x509_cert::ext::AsExtension for NamesCertificate {
    fn critical(&self, _subject: &Name, _extensions: &[x509_cert::ext::Extension]) -> bool {
        false
    }
}

/// The value of the extension `oid` of `issued`, if it has one.
pub fn extension_value(issued: &Issued, oid: der::asn1::ObjectIdentifier) -> Option<&[u8]> {
    issued
        .certificate
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|extension| extension.extn_id == oid)
        .map(|extension| extension.extn_value.as_bytes())
}

/// id-kp-timeStamping (RFC 5280).
const ID_KP_TIME_STAMPING: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// An extended key usage extension marked critical.
struct CriticalExtendedKeyUsage(ExtendedKeyUsage);

impl der::oid::AssociatedOid for CriticalExtendedKeyUsage {
    const OID: der::asn1::ObjectIdentifier = ExtendedKeyUsage::OID;
}

impl der::Encode for CriticalExtendedKeyUsage {
    fn encoded_len(&self) -> der::Result<der::Length> {
        self.0.encoded_len()
    }

    fn encode(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        self.0.encode(writer)
    }
}

impl x509_cert::ext::AsExtension for CriticalExtendedKeyUsage {
    fn critical(&self, _subject: &Name, _extensions: &[x509_cert::ext::Extension]) -> bool {
        true
    }
}
