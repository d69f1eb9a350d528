//! Reading the PDF (with `lopdf`) and writing the incremental update that adds the
//! signature field, its signature dictionary with placeholders, and the new
//! cross-reference section; then finding and filling the placeholders.

use super::{ByteRange, OFFSET_DIGITS_MAX, PadesError, PadesOptions};
use lopdf::{
    Dictionary, Document, IncrementalDocument, LoadOptions, Object, ObjectId, StringFormat,
};
use std::io::Write;

/// Where a PDF must say it is one (ISO 32000-1, 7.5.2: the header within the first 1024
/// bytes; 7.5.5: `%%EOF` within the last 1024).
const HEADER_WINDOW_BYTES: usize = 1024;
/// Any one stream (object streams, cross-reference streams) may inflate to this much.
const DECOMPRESSED_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The `/ByteRange` numbers before they are known: as wide as the widest offset.
const OFFSET_PLACEHOLDER: i64 = 9_999_999_999;
const _: () = assert!(OFFSET_PLACEHOLDER.ilog10() + 1 == OFFSET_DIGITS_MAX as u32);
/// Signature fields are named `Signature1`, `Signature2`, ...: the first name unused.
const FIELD_NAME_PREFIX: &str = "Signature";

/// The PDF `pdf` as `lopdf` reads it, refused if it is not one, encrypted, or readable
/// only by repairing it.
pub(super) fn read<E>(pdf: &[u8]) -> Result<Document, PadesError<E>> {
    let head = &pdf[..pdf.len().min(HEADER_WINDOW_BYTES)];
    if !contains(head, b"%PDF-") {
        return Err(PadesError::NotPdf(
            "no %PDF- header in its first 1024 bytes".into(),
        ));
    }
    let tail = &pdf[pdf.len().saturating_sub(HEADER_WINDOW_BYTES)..];
    if !contains(tail, b"%%EOF") {
        return Err(PadesError::NotPdf(
            "no %%EOF in its last 1024 bytes: the file is truncated".into(),
        ));
    }
    let options = LoadOptions {
        max_decompressed_size: Some(DECOMPRESSED_BYTES_MAX),
        ..LoadOptions::default()
    };
    // A defence in depth: the reader is meant never to panic on input, but a panic in it
    // must refuse this file, not take the caller down.
    let loaded = std::panic::catch_unwind(|| Document::load_mem_with_options(pdf, options))
        .map_err(|_| PadesError::NotPdf("the PDF reader failed on it".into()))?;
    let document = loaded.map_err(|error| match error {
        lopdf::Error::Decryption(_)
        | lopdf::Error::InvalidPassword
        | lopdf::Error::UnsupportedSecurityHandler(_) => PadesError::Encrypted,
        other => PadesError::NotPdf(format!("it cannot be read as a PDF ({other})")),
    })?;
    if document.was_encrypted() || document.trailer.has(b"Encrypt") {
        return Err(PadesError::Encrypted);
    }
    if document.xref_recovery.is_some() || document.xref_start == 0 {
        return Err(PadesError::NotPdf(
            "its cross-reference data is damaged (a truncated or corrupted file)".into(),
        ));
    }
    Ok(document)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

pub(super) fn unsupported<E>(what: &str) -> impl FnOnce(lopdf::Error) -> PadesError<E> + '_ {
    move |error| PadesError::Unsupported(format!("{what} ({error})"))
}

/// The bytes to append to `pdf` (whose structure is `document`): the signature field,
/// the signature dictionary with its placeholders, the changed catalog (or AcroForm) and
/// first page, the cross-reference section and the trailer.
pub(super) fn append_signature<E>(
    pdf: &[u8],
    document: Document,
    options: &PadesOptions,
) -> Result<Vec<u8>, PadesError<E>> {
    let root = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PadesError::NotPdf("its trailer names no catalog".into()))?;
    refuse_if_certified_without_changes(&document, root)?;
    let page = document
        .page_iter()
        .next()
        .ok_or_else(|| PadesError::Unsupported("it has no page".into()))?;
    let mut incremental = begin_update(pdf, document);
    let new = &mut incremental.new_document;
    let signature = new
        .try_new_object_id()
        .map_err(unsupported("no object number left"))?;
    let field = new
        .try_new_object_id()
        .map_err(unsupported("no object number left"))?;
    new.set_object(signature, signature_dictionary(options)?);
    let name = add_to_acroform(&mut incremental, root, field)?;
    add_to_annotations(&mut incremental, page, field)?;
    incremental
        .new_document
        .set_object(field, signature_field(&name, signature, page));
    finish_update(pdf.len(), incremental, 2 * options.contents_bytes)
}

/// Refuses a document certified with "no changes allowed" (ISO 32000-1, 12.8.2.2: the
/// catalog's `/Perms /DocMDP` signature with `/P 1`): another signature would break it.
fn refuse_if_certified_without_changes<E>(
    document: &Document,
    root: ObjectId,
) -> Result<(), PadesError<E>> {
    let permissions = |document: &Document| -> Option<i64> {
        let catalog = document.get_dictionary(root).ok()?;
        let (_, perms) = document.dereference(catalog.get(b"Perms").ok()?).ok()?;
        let (_, signature) = document
            .dereference(perms.as_dict().ok()?.get(b"DocMDP").ok()?)
            .ok()?;
        let (_, references) = document
            .dereference(signature.as_dict().ok()?.get(b"Reference").ok()?)
            .ok()?;
        references.as_array().ok()?.iter().find_map(|reference| {
            let (_, reference) = document.dereference(reference).ok()?;
            let (_, params) = document
                .dereference(reference.as_dict().ok()?.get(b"TransformParams").ok()?)
                .ok()?;
            params.as_dict().ok()?.get(b"P").ok()?.as_i64().ok()
        })
    };
    match permissions(document) {
        Some(1) => Err(PadesError::Unsupported(
            "it is certified with no changes allowed, so no signature can be added".into(),
        )),
        _ => Ok(()),
    }
}

/// An incremental update of `pdf` (whose structure is `document`), with its trailer.
pub(super) fn begin_update(pdf: &[u8], document: Document) -> IncrementalDocument {
    let trailer = update_trailer(&document);
    let mut incremental = IncrementalDocument::create_from(pdf.to_vec(), document);
    incremental.new_document.trailer = trailer;
    incremental
}

/// The bytes `incremental` appends to the `original_length` bytes it updates.
pub(super) fn finish_update<E>(
    original_length: usize,
    mut incremental: IncrementalDocument,
    capacity: usize,
) -> Result<Vec<u8>, PadesError<E>> {
    let mut appended = Appended {
        skip: original_length,
        bytes: Vec::with_capacity(capacity + 8 * 1024),
    };
    incremental
        .save_to(&mut appended)
        .map_err(|error| PadesError::Unsupported(format!("writing the update failed ({error})")))?;
    Ok(appended.bytes)
}

/// The update's trailer: the catalog, the document information and identifier carried
/// over, `/Prev` at the previous cross-reference section. Nothing else of the previous
/// trailer (a cross-reference stream's own keys, `/XRefStm`) belongs in it; the writer
/// adds `/Size` (and a stream's keys when it writes a stream).
fn update_trailer(document: &Document) -> Dictionary {
    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = document.trailer.get(key) {
            trailer.set(key, value.clone());
        }
    }
    trailer.set("Prev", Object::Integer(document.xref_start as i64));
    trailer
}

/// A writer that drops the first `skip` bytes (the original PDF, which the incremental
/// writer copies first) and keeps the rest.
struct Appended {
    skip: usize,
    bytes: Vec<u8>,
}

impl Write for Appended {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let dropped = self.skip.min(buffer.len());
        self.skip -= dropped;
        self.bytes.extend_from_slice(&buffer[dropped..]);
        Ok(buffer.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `/Type /Sig` with the placeholders `/ByteRange [0 P P P]` and `/Contents <00...>`.
fn signature_dictionary<E>(options: &PadesOptions) -> Result<Dictionary, PadesError<E>> {
    let mut dictionary = Dictionary::new();
    dictionary.set("Type", Object::Name(b"Sig".to_vec()));
    dictionary.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    dictionary.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    let placeholder = Object::Integer(OFFSET_PLACEHOLDER);
    dictionary.set(
        "ByteRange",
        Object::Array(vec![
            Object::Integer(0),
            placeholder.clone(),
            placeholder.clone(),
            placeholder,
        ]),
    );
    dictionary.set(
        "Contents",
        Object::String(vec![0; options.contents_bytes], StringFormat::Hexadecimal),
    );
    dictionary.set(
        "M",
        Object::String(pdf_date(options.signing_time_s)?, StringFormat::Literal),
    );
    Ok(dictionary)
}

/// A PDF date (ISO 32000-1, 7.9.4) in UTC: `D:YYYYMMDDHHmmSS+00'00'`.
fn pdf_date<E>(unix_s: i64) -> Result<Vec<u8>, PadesError<E>> {
    let time = chrono::DateTime::from_timestamp(unix_s, 0)
        .ok_or_else(|| PadesError::Unsupported(format!("{unix_s} is not a signing time")))?;
    Ok(format!("D:{}+00'00'", time.format("%Y%m%d%H%M%S")).into_bytes())
}

/// The signature field, merged with its widget: invisible (an empty rectangle), printed
/// and locked flags (132) as PDF/A wants, on `page`.
fn signature_field(name: &str, signature: ObjectId, page: ObjectId) -> Dictionary {
    let mut field = Dictionary::new();
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set(
        "T",
        Object::String(name.as_bytes().to_vec(), StringFormat::Literal),
    );
    field.set("V", Object::Reference(signature));
    field.set("F", Object::Integer(132));
    field.set("Rect", Object::Array(vec![Object::Integer(0); 4]));
    field.set("P", Object::Reference(page));
    field
}

/// Adds `field` to the catalog's AcroForm (made if there is none; its other fields
/// kept), sets `/SigFlags 3`, and returns the new field's name.
fn add_to_acroform<E>(
    incremental: &mut IncrementalDocument,
    root: ObjectId,
    field: ObjectId,
) -> Result<String, PadesError<E>> {
    let previous = incremental.get_prev_documents();
    let catalog = previous
        .get_dictionary(root)
        .map_err(unsupported("its catalog cannot be read"))?;
    let (acroform_id, mut acroform) = match catalog.get(b"AcroForm") {
        Ok(Object::Reference(id)) => (
            Some(*id),
            previous
                .get_dictionary(*id)
                .map_err(unsupported("its AcroForm cannot be read"))?
                .clone(),
        ),
        Ok(Object::Dictionary(dictionary)) => (None, dictionary.clone()),
        _ => (None, Dictionary::new()),
    };
    let fields = array_items(previous, acroform.get(b"Fields").ok())?;
    let name = unused_field_name(previous, &fields);
    let mut fields = fields;
    fields.push(Object::Reference(field));
    acroform.set("Fields", Object::Array(fields));
    acroform.set("SigFlags", Object::Integer(3));
    match acroform_id {
        Some(id) => incremental.new_document.set_object(id, acroform),
        None => {
            let mut catalog = catalog.clone();
            catalog.set("AcroForm", Object::Dictionary(acroform));
            incremental.new_document.set_object(root, catalog);
        }
    }
    Ok(name)
}

/// Adds `field` (its widget) to `page`'s annotations.
fn add_to_annotations<E>(
    incremental: &mut IncrementalDocument,
    page: ObjectId,
    field: ObjectId,
) -> Result<(), PadesError<E>> {
    let previous = incremental.get_prev_documents();
    let mut dictionary = previous
        .get_dictionary(page)
        .map_err(unsupported("its first page cannot be read"))?
        .clone();
    let mut annotations = array_items(previous, dictionary.get(b"Annots").ok())?;
    annotations.push(Object::Reference(field));
    dictionary.set("Annots", Object::Array(annotations));
    incremental.new_document.set_object(page, dictionary);
    Ok(())
}

/// The items of an array given directly or by reference (none when absent).
pub(super) fn array_items<E>(
    document: &Document,
    value: Option<&Object>,
) -> Result<Vec<Object>, PadesError<E>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let (_, value) = document
        .dereference(value)
        .map_err(unsupported("an array it refers to cannot be read"))?;
    match value {
        Object::Array(items) => Ok(items.clone()),
        Object::Null => Ok(Vec::new()),
        _ => Err(PadesError::Unsupported(
            "its /Fields or /Annots is not an array".into(),
        )),
    }
}

/// The first of `Signature1`, `Signature2`, ... that no field in `fields` is named.
fn unused_field_name(document: &Document, fields: &[Object]) -> String {
    let names: Vec<&[u8]> = fields
        .iter()
        .filter_map(|field| document.dereference(field).ok())
        .filter_map(|(_, field)| field.as_dict().ok())
        .filter_map(|field| field.get(b"T").and_then(Object::as_str).ok())
        .collect();
    (1..=fields.len() + 1)
        .map(|number| format!("{FIELD_NAME_PREFIX}{number}"))
        .find(|name| !names.contains(&name.as_bytes()))
        .unwrap_or_else(|| format!("{FIELD_NAME_PREFIX}{}", fields.len() + 2))
}

/// Where the placeholders are in the appended bytes.
pub(super) struct Placeholders {
    /// `[` to `]` of `/ByteRange`.
    byte_range: std::ops::Range<usize>,
    /// `<` to `>` of `/Contents`, both included.
    contents: std::ops::Range<usize>,
}

impl Placeholders {
    /// Finds them in `appended` (the only `/Contents` string of `contents_bytes` zeros;
    /// the only array holding the offset placeholder).
    pub(super) fn find<E>(appended: &[u8], contents_bytes: usize) -> Result<Self, PadesError<E>> {
        let missing = || PadesError::Unsupported("the update lacks its placeholders".into());
        let digits = contents_bytes * 2;
        let contents_start = zeros_in_angles(appended, digits).ok_or_else(missing)?;
        let number = OFFSET_PLACEHOLDER.to_string();
        let at = appended
            .windows(number.len())
            .position(|window| window == number.as_bytes())
            .ok_or_else(missing)?;
        let open = appended[..at]
            .iter()
            .rposition(|&byte| byte == b'[')
            .ok_or_else(missing)?;
        let close = at
            + appended[at..]
                .iter()
                .position(|&byte| byte == b']')
                .ok_or_else(missing)?;
        Ok(Placeholders {
            byte_range: open..close + 1,
            contents: contents_start..contents_start + digits + 2,
        })
    }

    /// The byte range, for an update of `appended_length` bytes after `original_length`.
    pub(super) fn byte_range(&self, original_length: usize, appended_length: usize) -> ByteRange {
        let gap_end = original_length + self.contents.end;
        ByteRange {
            first_start: 0,
            first_length: original_length + self.contents.start,
            second_start: gap_end,
            second_length: original_length + appended_length - gap_end,
        }
    }

    /// Writes `range` over the `/ByteRange` placeholder, padded with spaces to its width.
    pub(super) fn write_byte_range<E>(
        &self,
        appended: &mut [u8],
        range: &ByteRange,
    ) -> Result<(), PadesError<E>> {
        let numbers = format!(
            "[{} {} {} {}",
            range.first_start, range.first_length, range.second_start, range.second_length
        );
        let width = self.byte_range.len();
        if numbers.len() + 1 > width {
            return Err(PadesError::Unsupported(
                "the file is too large for its byte range".into(),
            ));
        }
        let text = format!("{numbers:<0$}]", width - 1);
        appended[self.byte_range.clone()].copy_from_slice(text.as_bytes());
        Ok(())
    }

    /// Writes `cms` in hex into `/Contents`, the rest left as zeros.
    pub(super) fn write_contents<E>(
        &self,
        appended: &mut [u8],
        cms: &[u8],
    ) -> Result<(), PadesError<E>> {
        let reserved_bytes = (self.contents.len() - 2) / 2;
        if cms.len() > reserved_bytes {
            return Err(PadesError::SignatureTooLarge {
                size_bytes: cms.len(),
                reserved_bytes,
            });
        }
        let start = self.contents.start + 1;
        let hex = hex::encode_upper(cms);
        appended[start..start + hex.len()].copy_from_slice(hex.as_bytes());
        Ok(())
    }
}

/// The offset of the first `<` in `bytes` followed by exactly `digits` zeros and `>`.
fn zeros_in_angles(bytes: &[u8], digits: usize) -> Option<usize> {
    let mut zeros_since: Option<usize> = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match (byte, zeros_since) {
            (b'<', _) => zeros_since = Some(index),
            (b'0', Some(_)) => {}
            (b'>', Some(start)) if index - start - 1 == digits => return Some(start),
            _ => zeros_since = None,
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_contents_placeholder_is_the_run_of_exactly_so_many_zeros() {
        let check = |bytes: &[u8], digits: usize, expected: Option<usize>| {
            assert_eq!(zeros_in_angles(bytes, digits), expected, "{bytes:?}");
        };
        check(b"<<<0000>>", 4, Some(2));
        check(b"<000><0000>", 4, Some(5));
        check(b"<00000>", 4, None);
        check(b"<0010>", 4, None);
        check(b"", 4, None);
    }

    #[test]
    fn signing_times_are_pdf_dates_in_utc() {
        let check = |unix_s: i64, expected: &str| {
            assert_eq!(pdf_date::<()>(unix_s).unwrap(), expected.as_bytes());
        };
        check(0, "D:19700101000000+00'00'");
        check(1_796_594_400, "D:20261206220000+00'00'");
        assert!(pdf_date::<()>(i64::MAX).is_err());
    }

    #[test]
    fn the_byte_range_is_written_over_its_placeholder_padded_with_spaces() {
        let mut bytes = b"/ByteRange [0 9999999999 9999999999 9999999999]/Contents <0000>".to_vec();
        let placeholders = Placeholders::find::<()>(&bytes, 2).unwrap();
        let range = placeholders.byte_range(100, bytes.len());
        assert_eq!(range.first_length, 100 + 57);
        assert_eq!(range.second_start, 100 + 63);
        assert_eq!(range.second_length, 0);
        placeholders
            .write_byte_range::<()>(&mut bytes, &range)
            .unwrap();
        placeholders
            .write_contents::<()>(&mut bytes, &[0xab])
            .unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "/ByteRange [0 157 163 0                       ]/Contents <AB00>"
        );
        let error = placeholders
            .write_contents::<()>(&mut [0; 64], &[1, 2, 3])
            .unwrap_err();
        assert_eq!(error.code(), "signature_too_large");
    }
}
