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
use x509_cert::ext::pkix::ExtendedKeyUsage;
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
    /// digitalSignature and nonRepudiation), issued by the issuing CA.
    pub fn issue_client(
        &self,
        key: &KeyLabel,
        common_name: &str,
        now_s: i64,
        validity_s: i64,
    ) -> Result<Issued, PkiError> {
        self.issue_leaf(key, common_name, now_s, validity_s, false)
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
        self.issue_leaf(key, common_name, now_s, validity_s, true)
    }

    fn issue_leaf(
        &self,
        key: &KeyLabel,
        common_name: &str,
        now_s: i64,
        validity_s: i64,
        time_stamping: bool,
    ) -> Result<Issued, PkiError> {
        if common_name.is_empty()
            || common_name.chars().any(|c| {
                c.is_control() || matches!(c, ',' | '+' | '=' | '"' | '\\' | '<' | '>' | ';')
            })
        {
            return Err(PkiError::InvalidName(common_name.to_owned()));
        }
        let public = self.keystore.public_key(key)?;
        let signer = KeySigner::new(Arc::clone(&self.keystore), KeyLabel::new(ISSUING_KEY)?)?;
        let mut builder = CertificateBuilder::new(
            Profile::Leaf {
                issuer: self.issuing.certificate.tbs_certificate.subject.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: false,
            },
            new_serial()?,
            validity(now_s, now_s + validity_s)?,
            name(&format!("CN={common_name}"))?,
            spki(&public)?,
            &signer,
        )
        .map_err(certificate_error)?;
        if time_stamping {
            builder
                .add_extension(&CriticalExtendedKeyUsage(ExtendedKeyUsage(vec![
                    ID_KP_TIME_STAMPING,
                ])))
                .map_err(certificate_error)?;
        }
        let certificate = builder.build::<DerSignature>().map_err(certificate_error)?;
        Issued::from_certificate(certificate)
    }
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
