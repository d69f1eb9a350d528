//! CMS SignedData (RFC 5652) written as DER bytes, around parts encoded once: the
//! time-stamp tokens (`tsa.rs`) and the detached signatures (`signing.rs`) are assembled
//! here, where the `cms` crate's builder re-encodes every certificate and attribute for
//! each signature (most of a receipt's cost besides its two signatures).
//!
//! What is written is checked by the `cms` crate's decoder (which refuses a SET OF out of
//! DER order), `openssl cms -verify`, `openssl ts -verify` and pyHanko in the tests.

use crate::ca::{Issued, PkiError};
use der::Encode;
use der::asn1::ObjectIdentifier;

pub(crate) fn cms_error(error: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(format!("CMS: {error}"))
}

/// id-contentType (RFC 5652).
pub(crate) const ID_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest (RFC 5652).
pub(crate) const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// id-signedData, as an encoded OBJECT IDENTIFIER.
pub(crate) const SIGNED_DATA_CONTENT_TYPE: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
];
/// id-data, encoded.
pub(crate) const DATA_CONTENT_TYPE: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];
/// AlgorithmIdentifier { id-sha256 } (no parameters), encoded.
pub(crate) const SHA256_IDENTIFIER: &[u8] = &[
    0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];
/// AlgorithmIdentifier { ecdsa-with-SHA256 }, encoded.
pub(crate) const ECDSA_WITH_SHA256_IDENTIFIER: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];

/// A DER TLV: `tag`, the definite length of the parts, the parts.
pub(crate) fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let length: usize = parts.iter().map(|part| part.len()).sum();
    let mut out = Vec::with_capacity(length + 6);
    out.push(tag);
    if length < 0x80 {
        out.push(length as u8);
    } else {
        // The long form: 0x80 | the count of the length's bytes, then those bytes.
        let bytes = length.to_be_bytes();
        let first = bytes
            .iter()
            .position(|byte| *byte != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// An Attribute with one value: `SEQUENCE { oid, SET { value } }`, `value` being one DER
/// element.
pub(crate) fn attribute(oid: ObjectIdentifier, value: &[u8]) -> Result<Vec<u8>, PkiError> {
    Ok(tlv(
        0x30,
        &[&oid.to_der().map_err(cms_error)?, &tlv(0x31, &[value])],
    ))
}

/// The message-digest attribute: the digest of the content, `digest`.
pub(crate) fn message_digest_attribute(digest: &[u8]) -> Result<Vec<u8>, PkiError> {
    attribute(ID_MESSAGE_DIGEST, &tlv(0x04, &[digest]))
}

/// The content of a SET OF whose elements are `elements`: in the order of their
/// encodings, as DER wants it (X.690 11.6; no encoding here is a prefix of another, each
/// being one whole element).
pub(crate) fn set_of(elements: &mut [&[u8]]) -> Vec<u8> {
    elements.sort_unstable();
    elements.concat()
}

/// `certificates [0] IMPLICIT CertificateSet` holding `certificates`.
pub(crate) fn certificate_set(certificates: &[&Issued]) -> Vec<u8> {
    let mut ders: Vec<&[u8]> = certificates
        .iter()
        .map(|issued| issued.der.as_slice())
        .collect();
    tlv(0xa0, &[&set_of(&mut ders)])
}

/// A SignerInfo's `sid` naming `certificate`: its issuer and serial number.
pub(crate) fn signer_identifier(certificate: &Issued) -> Result<Vec<u8>, PkiError> {
    let tbs = &certificate.certificate.tbs_certificate;
    Ok(tlv(
        0x30,
        &[
            &tbs.issuer.to_der().map_err(cms_error)?,
            &tbs.serial_number.to_der().map_err(cms_error)?,
        ],
    ))
}

/// What a SignedData with one signer (ECDSA with SHA-256) is made of, each part DER.
pub(crate) struct SignedDataParts<'a> {
    /// The SignedData's version (1 for id-data, 3 for other content types).
    pub version: u8,
    /// The EncapsulatedContentInfo.
    pub content: &'a [u8],
    /// `[0] IMPLICIT CertificateSet` ([`certificate_set`]), or empty for none.
    pub certificates: &'a [u8],
    /// The signer's `sid` ([`signer_identifier`]).
    pub signer_identifier: &'a [u8],
    /// The signed attributes, the content of their SET OF ([`set_of`]).
    pub signed_attributes: &'a [u8],
    /// The signature value (an ECDSA-Sig-Value, DER).
    pub signature: &'a [u8],
    /// The unsigned attributes, the content of their SET OF, or empty for none.
    pub unsigned_attributes: &'a [u8],
}

/// The ContentInfo of a SignedData:
///
/// ```text
/// ContentInfo { signedData, [0] SignedData { version, {sha256}, content, [0] certificates?,
///   { SignerInfo { 1, sid, sha256, [0] signedAttrs, ecdsa-with-SHA256,
///   OCTET STRING signature, [1] unsignedAttrs? } } } }
/// ```
pub(crate) fn signed_data(parts: &SignedDataParts<'_>) -> Vec<u8> {
    let unsigned = if parts.unsigned_attributes.is_empty() {
        Vec::new()
    } else {
        tlv(0xa1, &[parts.unsigned_attributes])
    };
    let signer_info = tlv(
        0x30,
        &[
            &[0x02, 0x01, 0x01],
            parts.signer_identifier,
            SHA256_IDENTIFIER,
            &tlv(0xa0, &[parts.signed_attributes]),
            ECDSA_WITH_SHA256_IDENTIFIER,
            &tlv(0x04, &[parts.signature]),
            &unsigned,
        ],
    );
    let signed_data = tlv(
        0x30,
        &[
            &[0x02, 0x01, parts.version],
            &tlv(0x31, &[SHA256_IDENTIFIER]),
            parts.content,
            parts.certificates,
            &tlv(0x31, &[&signer_info]),
        ],
    );
    tlv(
        0x30,
        &[SIGNED_DATA_CONTENT_TYPE, &tlv(0xa0, &[&signed_data])],
    )
}

/// What the signer signs: the SHA-256 of the signed attributes encoded as a SET OF (RFC
/// 5652 5.4), `attributes` being the content of that SET OF.
pub(crate) fn signed_attributes_digest(attributes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(tlv(0x31, &[attributes])).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_the_short_and_long_forms_at_their_bounds() {
        for (length, header) in [
            (0_usize, vec![0x04, 0x00]),
            (0x7f, vec![0x04, 0x7f]),
            (0x80, vec![0x04, 0x81, 0x80]),
            (0xff, vec![0x04, 0x81, 0xff]),
            (0x100, vec![0x04, 0x82, 0x01, 0x00]),
            (0xffff, vec![0x04, 0x82, 0xff, 0xff]),
            (0x1_0000, vec![0x04, 0x83, 0x01, 0x00, 0x00]),
            (0x100_0000, vec![0x04, 0x84, 0x01, 0x00, 0x00, 0x00]),
        ] {
            let content = vec![0xab; length];
            let written = tlv(0x04, &[&content[..length / 2], &content[length / 2..]]);
            assert_eq!(written[..header.len()], header[..], "length {length}");
            assert_eq!(written.len(), header.len() + length);
            let decoded = <der::asn1::OctetString as der::Decode>::from_der(&written).unwrap();
            assert_eq!(decoded.as_bytes().len(), length);
        }
    }

    #[test]
    fn a_set_of_is_written_in_the_order_of_its_encodings() {
        let (a, b, c) = ([0x30, 0x01, 0x02], [0x30, 0x01, 0x01], [0x04, 0x00]);
        assert_eq!(
            set_of(&mut [&a[..], &b[..], &c[..]]),
            [0x04, 0x00, 0x30, 0x01, 0x01, 0x30, 0x01, 0x02]
        );
    }

    #[test]
    fn the_constant_identifiers_are_what_the_der_crate_writes() {
        use der::asn1::ObjectIdentifier as Oid;
        let oid = |text: &str| Oid::new_unwrap(text).to_der().unwrap();
        assert_eq!(SIGNED_DATA_CONTENT_TYPE, oid("1.2.840.113549.1.7.2"));
        assert_eq!(DATA_CONTENT_TYPE, oid("1.2.840.113549.1.7.1"));
        let identifier = |text: &str| {
            x509_cert::spki::AlgorithmIdentifierOwned {
                oid: Oid::new_unwrap(text),
                parameters: None,
            }
            .to_der()
            .unwrap()
        };
        assert_eq!(SHA256_IDENTIFIER, identifier("2.16.840.1.101.3.4.2.1"));
        assert_eq!(
            ECDSA_WITH_SHA256_IDENTIFIER,
            identifier("1.2.840.10045.4.3.2")
        );
    }
}
