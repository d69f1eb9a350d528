//! PAdES signatures of PDFs (ETSI EN 319 142-1, baseline B-T when the CMS the caller
//! gives carries a signature time-stamp): an **incremental update** appended to the PDF,
//! so that its bytes, and any signature already in it, stay as they were.
//!
//! The update holds a new signature field (an invisible widget on the first page, added
//! to the AcroForm, which gets `/SigFlags 3`), its signature dictionary (`/Filter
//! /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [...] /Contents <...> /M
//! (D:...)`), a new cross-reference section of the kind the PDF already uses (a table or a
//! stream) and a trailer whose `/Prev` points to the previous one. The `/ByteRange`
//! covers the whole file but the `/Contents` hex string, where the CMS goes.
//!
//! The PDF is read in memory (its cross-reference data may be at its end and its objects
//! anywhere, in object streams too): the caller says how large a PDF it accepts. Reading
//! is `lopdf`'s; a file it cannot read without repairing it (a truncated file, damaged
//! cross-reference data) is refused, as is an encrypted one.

mod dss;
mod update;

pub use dss::{VALIDATION_ITEMS_MAX, ValidationData, add_validation_data};

use sha2::{Digest, Sha256};

/// Bytes reserved for the CMS in `/Contents` by default: enough for a CAdES-B-T with the
/// signer's certificate, its chain and a time-stamp token with the TSA's chain.
pub const CONTENTS_BYTES_DEFAULT: usize = 32 * 1024;
/// The largest reservation accepted (the `/Contents` string is twice as many hex digits).
pub const CONTENTS_BYTES_MAX: usize = 1024 * 1024;
/// The largest PDF [`PadesOptions::new`] accepts.
pub const PDF_BYTES_MAX_DEFAULT: usize = 256 * 1024 * 1024;
/// Offsets in `/ByteRange` are written over a placeholder of this many digits, so no PDF
/// may reach 10^10 bytes (whatever `pdf_bytes_max` says).
const OFFSET_DIGITS_MAX: usize = 10;

/// How a PDF is signed.
#[derive(Clone, Debug)]
pub struct PadesOptions {
    /// A larger PDF is refused before it is read.
    pub pdf_bytes_max: usize,
    /// The signing time written in the signature dictionary (`/M`), in Unix seconds.
    pub signing_time_s: i64,
    /// Bytes reserved for the CMS; a larger CMS is refused.
    pub contents_bytes: usize,
}

impl PadesOptions {
    pub fn new(signing_time_s: i64) -> PadesOptions {
        PadesOptions {
            pdf_bytes_max: PDF_BYTES_MAX_DEFAULT,
            signing_time_s,
            contents_bytes: CONTENTS_BYTES_DEFAULT,
        }
    }
}

/// Why a PDF was not signed. `E` is the signing closure's error.
#[derive(Debug, thiserror::Error)]
pub enum PadesError<E> {
    #[error("the PDF is {size_bytes} bytes, more than the {max_bytes} accepted")]
    TooLarge { size_bytes: usize, max_bytes: usize },
    #[error("not a PDF: {0}")]
    NotPdf(String),
    #[error(
        "the PDF is encrypted: it cannot be signed as it is (decrypt it, or sign it before encrypting it)"
    )]
    Encrypted,
    #[error("this PDF cannot be signed: {0}")]
    Unsupported(String),
    #[error(
        "the signature is {size_bytes} bytes, more than the {reserved_bytes} reserved for it in the PDF"
    )]
    SignatureTooLarge {
        size_bytes: usize,
        reserved_bytes: usize,
    },
    #[error("signing failed: {0}")]
    Signing(E),
}

impl<E> PadesError<E> {
    /// A stable code for each kind of refusal.
    pub fn code(&self) -> &'static str {
        match self {
            PadesError::TooLarge { .. } => "pdf_too_large",
            PadesError::NotPdf(_) => "not_a_pdf",
            PadesError::Encrypted => "pdf_encrypted",
            PadesError::Unsupported(_) => "pdf_unsupported",
            PadesError::SignatureTooLarge { .. } => "signature_too_large",
            PadesError::Signing(_) => "signing_failed",
        }
    }
}

/// Signs `pdf`: `sign` gets the SHA-256 of the bytes the signature covers (all of the
/// signed file but the `/Contents` string) and returns a detached CMS SignedData (DER
/// `ContentInfo`; PAdES wants signing-certificate-v2 and no signing-time attribute).
///
/// Returns the incremental update: the signed PDF is `pdf` followed by these bytes (so a
/// caller can stream the original from where it is kept, then append them).
pub fn sign_pdf<E>(
    pdf: &[u8],
    options: &PadesOptions,
    sign: impl FnOnce([u8; 32]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, PadesError<E>> {
    check_options(pdf, options)?;
    let document = update::read(pdf)?;
    let mut appended = update::append_signature(pdf, document, options)?;
    let placeholders = update::Placeholders::find(&appended, options.contents_bytes)?;
    let byte_range = placeholders.byte_range(pdf.len(), appended.len());
    placeholders.write_byte_range(&mut appended, &byte_range)?;
    let digest = covered_digest(pdf, &appended, &byte_range).ok_or_else(|| {
        PadesError::Unsupported("the byte range does not fall inside the signed file".into())
    })?;
    let cms = sign(digest).map_err(PadesError::Signing)?;
    placeholders.write_contents(&mut appended, &cms)?;
    Ok(appended)
}

/// Refuses a PDF larger than `pdf_bytes_max` (or than the byte range can describe).
fn check_size<E>(pdf: &[u8], pdf_bytes_max: usize) -> Result<(), PadesError<E>> {
    let max_bytes = pdf_bytes_max.min(10usize.pow(OFFSET_DIGITS_MAX as u32) / 2);
    if pdf.len() > max_bytes {
        return Err(PadesError::TooLarge {
            size_bytes: pdf.len(),
            max_bytes,
        });
    }
    Ok(())
}

fn check_options<E>(pdf: &[u8], options: &PadesOptions) -> Result<(), PadesError<E>> {
    check_size(pdf, options.pdf_bytes_max)?;
    if options.contents_bytes == 0 || options.contents_bytes > CONTENTS_BYTES_MAX {
        return Err(PadesError::Unsupported(format!(
            "the space reserved for the signature must be 1 to {CONTENTS_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

/// The four numbers of `/ByteRange`: offset and length of what precedes `/Contents`'s
/// hex string (its `<` excluded), then of what follows it (its `>` excluded).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ByteRange {
    pub first_start: usize,
    pub first_length: usize,
    pub second_start: usize,
    pub second_length: usize,
}

/// SHA-256 of the bytes `range` covers in `original` followed by `appended`; `None`
/// unless `range` starts at 0, its gap lies in `appended` and it ends with the file.
fn covered_digest(original: &[u8], appended: &[u8], range: &ByteRange) -> Option<[u8; 32]> {
    let split = original.len();
    let end = split.checked_add(appended.len())?;
    if range.first_start != 0 || range.second_start.checked_add(range.second_length)? != end {
        return None;
    }
    let before = appended.get(..range.first_length.checked_sub(split)?)?;
    let after = appended.get(range.second_start.checked_sub(split)?..)?;
    let mut hasher = Sha256::new();
    hasher.update(original);
    hasher.update(before);
    hasher.update(after);
    Some(hasher.finalize().into())
}
