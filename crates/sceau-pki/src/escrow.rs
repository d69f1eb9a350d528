//! The escrow envelope: a short value (a client's phone number, carried in its
//! certificate) encrypted so that only the holder of the authority's escrow key can read
//! it. [`seal`] needs only the escrow key's public half; [`open`] asks the keystore for
//! the ECDH secret, so the private key stays where it lives.
//!
//! The envelope is a CMS `ContentInfo` (RFC 5652) holding an `AuthEnvelopedData`
//! (RFC 5083), which `openssl cms -decrypt` reads:
//!
//! ```text
//! ContentInfo { id-ct-authEnvelopedData (1.2.840.113549.1.9.16.1.23), [0] AuthEnvelopedData {
//!   version 0,
//!   recipientInfos SET { kari [1] KeyAgreeRecipientInfo {           -- exactly one
//!     version 3,
//!     originator [0] originatorKey [1] {                            -- ephemeral-static ECDH
//!       id-ecPublicKey (no parameters: the recipient's curve, P-256),
//!       the ephemeral public key, an uncompressed point },
//!     keyEncryptionAlgorithm {
//!       dhSinglePass-stdDH-sha256kdf-scheme (1.3.132.1.11.1),       -- RFC 5753
//!       parameters: { id-aes256-wrap (2.16.840.1.101.3.4.1.45), no parameters } },
//!     recipientEncryptedKeys { {                                    -- exactly one
//!       rKeyId [0] { subjectKeyIdentifier: the `recipient_key_id` given to seal },
//!       AES key wrap (RFC 3394) of the content key under the KEK: 40 bytes } } } },
//!   authEncryptedContentInfo {
//!     id-data, id-aes256-GCM (2.16.840.1.101.3.4.1.46) { nonce (12 bytes), ICV length 16 },
//!     [0] the ciphertext },
//!   mac: the GCM tag (16 bytes) } }
//! ```
//!
//! The KEK is the ANSI X9.63 KDF with SHA-256 (RFC 5753 §7.2) of the ECDH secret (the
//! shared point's x-coordinate) and the DER of `ECC-CMS-SharedInfo { keyInfo
//! id-aes256-wrap, entityUInfo [0] the ukm if any, suppPubInfo [2] 256 as 4 bytes }`.
//! Every seal draws a fresh ephemeral key, content key and nonce: two envelopes of the same
//! value share nothing but their structure and length, so they do not link their holders.
//! The length of the value shows (GCM adds none): a caller whose values' lengths could
//! tell holders apart pads them first.
//!
//! [`open`] supports exactly this scheme (a sender's `ukm` aside): any other content type,
//! content encryption, KDF, wrap or recipient kind is refused. openssl sends it with
//! `openssl cms -encrypt -aes-256-gcm -recip CERT -keyopt ecdh_kdf_md:sha256` (its default
//! KDF hash is SHA-1, and `-aes256` makes an EnvelopedData with CBC: both refused). The
//! recipient identifier is a hint for other tools (openssl matches it against its `-recip`
//! certificate's subjectKeyIdentifier): `open` ignores it and uses the keystore key it is
//! told to use.
//!
//! Integrity: GCM authenticates the content under the content key, and the key wrap's
//! check authenticates the content key under the KEK; an altered envelope does not open.
//! CMS does not bind the recipient identifier or the ephemeral key to the content: that
//! the envelope came from the authority is what the certificate's signature says.

use crate::PkiError;
use crate::keystore::{KeyLabel, Keystore, new_secret_key};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, OriginatorIdentifierOrKey, OriginatorInfo, OriginatorPublicKey,
};
use der::asn1::{BitString, GeneralizedTime, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Choice, Decode, Encode, Sequence, Tag, TagNumber, Tagged};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use sha2::{Digest, Sha256};
use x509_cert::attr::Attributes;
use x509_cert::spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

/// The longest value sealed (a phone number is at most 15 digits and a sign).
pub const PLAINTEXT_LEN_MAX: usize = 1024;
/// The longest envelope opened: the sealed value and about 300 bytes of structure.
pub const ENVELOPE_LEN_MAX: usize = 4096;
/// The longest recipient key identifier (a subjectKeyIdentifier is usually 20 bytes).
pub const KEY_ID_LEN_MAX: usize = 64;

const ID_CT_AUTH_ENVELOPED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.23");
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_AES256_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.46");
const ID_AES256_WRAP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.45");
const DH_SINGLE_PASS_STD_DH_SHA256_KDF: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.132.1.11.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

const CONTENT_KEY_LEN: usize = 32;
const WRAPPED_KEY_LEN: usize = CONTENT_KEY_LEN + 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// `AuthEnvelopedData` (RFC 5083 §2.1); the cms crate has no type for it. Its recipient
/// infos are kept as `Any`: the cms crate's `KeyAgreeRecipientInfo` cannot be used (see
/// [`RecipientKeyIdentifierChoice`]), and a `kari` is read and written by hand.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct AuthEnvelopedData {
    version: CmsVersion,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    originator_info: Option<OriginatorInfo>,
    recip_infos: SetOfVec<Any>,
    auth_encrypted_content_info: EncryptedContentInfo,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    auth_attrs: Option<Attributes>,
    mac: OctetString,
    #[asn1(
        context_specific = "2",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    unauth_attrs: Option<Attributes>,
}

/// The tag of `kari` in a `RecipientInfo` choice: `[1]`, implicit, constructed.
const KARI_TAG: Tag = Tag::ContextSpecific {
    constructed: true,
    number: TagNumber::N1,
};

/// `KeyAgreeRecipientInfo` (RFC 5652 §6.2.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct KeyAgreeRecipientInfo {
    version: CmsVersion,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    originator: OriginatorIdentifierOrKey,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    ukm: Option<OctetString>,
    key_enc_alg: AlgorithmIdentifierOwned,
    recipient_enc_keys: Vec<RecipientEncryptedKey>,
}

/// `RecipientEncryptedKey` (RFC 5652 §6.2.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RecipientEncryptedKey {
    rid: RecipientKeyIdentifierChoice,
    enc_key: OctetString,
}

/// `KeyAgreeRecipientIdentifier` (RFC 5652 §6.2.2). cms 0.2.3 tags `rKeyId` as primitive,
/// which neither it nor openssl can read back: here it is constructed, as a SEQUENCE is.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
enum RecipientKeyIdentifierChoice {
    IssuerAndSerialNumber(IssuerAndSerialNumber),
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", constructed = "true")]
    RKeyId(RecipientKeyIdentifier),
}

/// `RecipientKeyIdentifier` (RFC 5652 §6.2.2); `other` (an OtherKeyAttribute) is not read.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RecipientKeyIdentifier {
    subject_key_identifier: OctetString,
    date: Option<GeneralizedTime>,
    other: Option<Any>,
}

/// `GCMParameters` (RFC 5084 §3.2). The ICV length defaults to 12 there; sceau writes and
/// accepts 16 only.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct GcmParameters {
    nonce: OctetString,
    #[asn1(default = "default_icv_len")]
    icv_len: u8,
}

fn default_icv_len() -> u8 {
    12
}

/// `ECC-CMS-SharedInfo` (RFC 5753 §7.2): what the KDF binds besides the ECDH secret.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EccCmsSharedInfo {
    key_info: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    entity_u_info: Option<OctetString>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    supp_pub_info: OctetString,
}

/// A refusal to seal or open, with what went wrong (never the plaintext).
fn refused(what: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(format!("escrow envelope: {what}"))
}

fn aes256_wrap() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_AES256_WRAP,
        parameters: None,
    }
}

/// The KEK: ANSI X9.63 KDF with SHA-256 (one block is the 32 bytes of an AES-256 key) of
/// the ECDH secret and the ECC-CMS-SharedInfo.
fn key_encryption_key(
    secret: &[u8; 32],
    user_keying_material: Option<&OctetString>,
) -> Result<Zeroizing<[u8; 32]>, PkiError> {
    let shared_info = EccCmsSharedInfo {
        key_info: aes256_wrap(),
        entity_u_info: user_keying_material.cloned(),
        supp_pub_info: OctetString::new(256_u32.to_be_bytes()).map_err(refused)?,
    }
    .to_der()
    .map_err(refused)?;
    let mut hash = Sha256::new();
    hash.update(secret);
    hash.update(1_u32.to_be_bytes());
    hash.update(&shared_info);
    Ok(Zeroizing::new(hash.finalize().into()))
}

/// Encrypts `plaintext` to `recipient` (the authority's escrow key, an agreement key) as a
/// DER `ContentInfo` (see the module's documentation for the layout). `recipient_key_id`
/// goes into the recipient identifier (`rKeyId`) for standard tools: the
/// subjectKeyIdentifier of the escrow key's certificate, if it has one (1 to 64 bytes).
pub fn seal(
    recipient: &p256::PublicKey,
    recipient_key_id: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, PkiError> {
    if plaintext.len() > PLAINTEXT_LEN_MAX {
        return Err(refused(format!(
            "a value of {} bytes (at most {PLAINTEXT_LEN_MAX})",
            plaintext.len()
        )));
    }
    if recipient_key_id.is_empty() || recipient_key_id.len() > KEY_ID_LEN_MAX {
        return Err(refused(format!(
            "a recipient key identifier is 1 to {KEY_ID_LEN_MAX} bytes"
        )));
    }
    // Key agreement: a fresh ephemeral key, then the KEK.
    let ephemeral = new_secret_key();
    let shared = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), recipient.as_affine());
    let mut secret = Zeroizing::new([0_u8; 32]);
    secret.copy_from_slice(shared.raw_secret_bytes().as_slice());
    let kek = key_encryption_key(&secret, None)?;
    // A fresh content key, wrapped under the KEK; the content under the content key.
    let mut content_key = Zeroizing::new([0_u8; CONTENT_KEY_LEN]);
    rand::rng().fill_bytes(content_key.as_mut_slice());
    let mut nonce = [0_u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut wrapped = [0_u8; WRAPPED_KEY_LEN];
    aes_kw::KekAes256::try_from(kek.as_slice())
        .map_err(refused)?
        .wrap(content_key.as_slice(), &mut wrapped)
        .map_err(refused)?;
    let mut ciphertext = plaintext.to_vec();
    let tag = Aes256Gcm::new_from_slice(content_key.as_slice())
        .map_err(refused)?
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut ciphertext)
        .map_err(refused)?;
    assemble(
        &ephemeral.public_key(),
        recipient_key_id,
        wrapped,
        nonce,
        ciphertext,
        tag.into(),
    )
}

/// The DER of the envelope (see the module's documentation) from its parts.
fn assemble(
    ephemeral: &p256::PublicKey,
    recipient_key_id: &[u8],
    wrapped_key: [u8; WRAPPED_KEY_LEN],
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
) -> Result<Vec<u8>, PkiError> {
    let recipient_info = KeyAgreeRecipientInfo {
        version: CmsVersion::V3,
        originator: OriginatorIdentifierOrKey::OriginatorKey(OriginatorPublicKey {
            algorithm: AlgorithmIdentifierOwned {
                oid: ID_EC_PUBLIC_KEY,
                parameters: None,
            },
            public_key: BitString::from_bytes(ephemeral.to_encoded_point(false).as_bytes())
                .map_err(refused)?,
        }),
        ukm: None,
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: DH_SINGLE_PASS_STD_DH_SHA256_KDF,
            parameters: Some(Any::encode_from(&aes256_wrap()).map_err(refused)?),
        },
        recipient_enc_keys: vec![RecipientEncryptedKey {
            rid: RecipientKeyIdentifierChoice::RKeyId(RecipientKeyIdentifier {
                subject_key_identifier: OctetString::new(recipient_key_id).map_err(refused)?,
                date: None,
                other: None,
            }),
            enc_key: OctetString::new(wrapped_key).map_err(refused)?,
        }],
    };
    let enveloped = AuthEnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: SetOfVec::try_from(vec![kari(&recipient_info)?]).map_err(refused)?,
        auth_encrypted_content_info: EncryptedContentInfo {
            content_type: ID_DATA,
            content_enc_alg: AlgorithmIdentifierOwned {
                oid: ID_AES256_GCM,
                parameters: Some(
                    Any::encode_from(&GcmParameters {
                        nonce: OctetString::new(nonce).map_err(refused)?,
                        icv_len: TAG_LEN as u8,
                    })
                    .map_err(refused)?,
                ),
            },
            encrypted_content: Some(OctetString::new(ciphertext).map_err(refused)?),
        },
        auth_attrs: None,
        mac: OctetString::new(tag).map_err(refused)?,
        unauth_attrs: None,
    };
    ContentInfo {
        content_type: ID_CT_AUTH_ENVELOPED_DATA,
        content: Any::encode_from(&enveloped).map_err(refused)?,
    }
    .to_der()
    .map_err(refused)
}

/// `recipient` as the `kari` choice of a `RecipientInfo`: its SEQUENCE's contents under
/// the tag `[1]`.
fn kari(recipient: &KeyAgreeRecipientInfo) -> Result<Any, PkiError> {
    let sequence = Any::encode_from(recipient).map_err(refused)?;
    Any::new(KARI_TAG, sequence.value()).map_err(refused)
}

/// The `KeyAgreeRecipientInfo` of a `RecipientInfo`, if it is a `kari`.
fn from_kari(recipient: &Any) -> Option<KeyAgreeRecipientInfo> {
    if recipient.tag() != KARI_TAG {
        return None;
    }
    Any::new(Tag::Sequence, recipient.value())
        .ok()?
        .decode_as()
        .ok()
}

/// What `open` needs from an envelope, once its algorithms are checked.
struct Parsed {
    recipient: Recipient,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
}

/// Parses an envelope and checks that it is exactly the scheme [`seal`] writes.
fn parse(envelope_der: &[u8]) -> Result<Parsed, PkiError> {
    if envelope_der.len() > ENVELOPE_LEN_MAX {
        return Err(refused(format!(
            "{} bytes (at most {ENVELOPE_LEN_MAX})",
            envelope_der.len()
        )));
    }
    let content_info = ContentInfo::from_der(envelope_der).map_err(refused)?;
    if content_info.content_type != ID_CT_AUTH_ENVELOPED_DATA {
        return Err(refused(format!(
            "content type {} (only authEnvelopedData)",
            content_info.content_type
        )));
    }
    let enveloped: AuthEnvelopedData = content_info.content.decode_as().map_err(refused)?;
    if enveloped.version != CmsVersion::V0
        || enveloped.originator_info.is_some()
        || enveloped.auth_attrs.is_some()
        || enveloped.unauth_attrs.is_some()
    {
        return Err(refused(
            "an AuthEnvelopedData other than version 0 with recipients, content and mac only",
        ));
    }
    let recipient = match enveloped.recip_infos.as_slice() {
        [recipient] => from_kari(recipient),
        _ => None,
    }
    .ok_or_else(|| refused("not exactly one key agreement recipient"))?;
    let recipient = parse_recipient(&recipient)?;
    let (nonce, ciphertext) = parse_content(&enveloped.auth_encrypted_content_info)?;
    let tag = enveloped
        .mac
        .as_bytes()
        .try_into()
        .map_err(|_| refused("a mac that is not 16 bytes"))?;
    Ok(Parsed {
        recipient,
        nonce,
        ciphertext,
        tag,
    })
}

/// What `open` needs from the one recipient.
struct Recipient {
    ephemeral: p256::PublicKey,
    user_keying_material: Option<OctetString>,
    wrapped_key: [u8; WRAPPED_KEY_LEN],
}

/// The one recipient, checking its algorithms.
fn parse_recipient(recipient: &KeyAgreeRecipientInfo) -> Result<Recipient, PkiError> {
    if recipient.version != CmsVersion::V3 {
        return Err(refused("a key agreement recipient other than version 3"));
    }
    let OriginatorIdentifierOrKey::OriginatorKey(originator) = &recipient.originator else {
        return Err(refused("an originator other than an ephemeral key"));
    };
    let curve_ok = match &originator.algorithm.parameters {
        None => true,
        Some(parameters) if parameters.is_null() => true,
        Some(parameters) => parameters.decode_as::<ObjectIdentifier>().ok() == Some(PRIME256V1),
    };
    if originator.algorithm.oid != ID_EC_PUBLIC_KEY || !curve_ok {
        return Err(refused("an ephemeral key that is not on P-256"));
    }
    let point = originator
        .public_key
        .as_bytes()
        .ok_or_else(|| refused("an ephemeral key of a partial byte"))?;
    let ephemeral =
        p256::PublicKey::from_sec1_bytes(point).map_err(|_| refused("an invalid ephemeral key"))?;
    let wrap = recipient
        .key_enc_alg
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<AlgorithmIdentifierOwned>().ok());
    if recipient.key_enc_alg.oid != DH_SINGLE_PASS_STD_DH_SHA256_KDF || wrap != Some(aes256_wrap())
    {
        return Err(refused(format!(
            "key encryption {} (only dhSinglePass-stdDH-sha256kdf-scheme with id-aes256-wrap)",
            recipient.key_enc_alg.oid
        )));
    }
    let wrapped_key = match recipient.recipient_enc_keys.as_slice() {
        [one] => one
            .enc_key
            .as_bytes()
            .try_into()
            .map_err(|_| refused("a wrapped key that is not 40 bytes"))?,
        _ => return Err(refused("not exactly one encrypted key")),
    };
    Ok(Recipient {
        ephemeral,
        user_keying_material: recipient.ukm.clone(),
        wrapped_key,
    })
}

/// The nonce and ciphertext of the content, checking its algorithm.
fn parse_content(content: &EncryptedContentInfo) -> Result<([u8; NONCE_LEN], Vec<u8>), PkiError> {
    if content.content_type != ID_DATA || content.content_enc_alg.oid != ID_AES256_GCM {
        return Err(refused(format!(
            "content {} encrypted with {} (only id-data with id-aes256-GCM)",
            content.content_type, content.content_enc_alg.oid
        )));
    }
    let parameters = content
        .content_enc_alg
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<GcmParameters>().ok());
    let nonce = match parameters {
        Some(GcmParameters { nonce, icv_len }) if usize::from(icv_len) == TAG_LEN => {
            nonce.as_bytes().try_into().ok()
        }
        _ => None,
    }
    .ok_or_else(|| refused("GCM parameters other than a 12-byte nonce and a 16-byte tag"))?;
    let ciphertext = content
        .encrypted_content
        .as_ref()
        .ok_or_else(|| refused("no encrypted content"))?
        .as_bytes()
        .to_vec();
    if ciphertext.len() > PLAINTEXT_LEN_MAX {
        return Err(refused("a value longer than sealed values are"));
    }
    Ok((nonce, ciphertext))
}

/// Decrypts an envelope made by [`seal`] (or by any sender of the same scheme) with the
/// agreement key `label` of `keystore`: the ECDH secret is computed in the keystore, the
/// rest here. An envelope of another scheme, altered, or sealed to another key is refused.
pub fn open(
    keystore: &dyn Keystore,
    label: &KeyLabel,
    envelope_der: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let parsed = parse(envelope_der)?;
    let recipient = &parsed.recipient;
    let secret = keystore.agree(label, &recipient.ephemeral)?;
    let kek = key_encryption_key(&secret, recipient.user_keying_material.as_ref())?;
    let mut content_key = Zeroizing::new([0_u8; CONTENT_KEY_LEN]);
    aes_kw::KekAes256::try_from(kek.as_slice())
        .map_err(refused)?
        .unwrap(&recipient.wrapped_key, content_key.as_mut_slice())
        .map_err(|_| refused("it does not open with this key, or was altered"))?;
    let mut plaintext = Zeroizing::new(parsed.ciphertext);
    Aes256Gcm::new_from_slice(content_key.as_slice())
        .map_err(refused)?
        .decrypt_in_place_detached(
            Nonce::from_slice(&parsed.nonce),
            b"",
            plaintext.as_mut_slice(),
            aes_gcm::Tag::from_slice(&parsed.tag),
        )
        .map_err(|_| refused("its content was altered"))?;
    Ok(plaintext)
}
