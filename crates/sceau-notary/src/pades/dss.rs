//! The document security store (ETSI EN 319 142-1, 5.4.2; ISO 32000-2, 12.8.4.3): the
//! certificates and revocation lists a verifier needs, in the PDF itself, added by an
//! incremental update after the signature (PAdES-B-LT). What was there is kept.

use super::update::{array_items, begin_update, finish_update, read, unsupported};
use super::{PadesError, check_size};
use lopdf::{Dictionary, IncrementalDocument, Object, ObjectId, Stream};
use std::convert::Infallible;

/// Certificates and CRLs (DER) in one store: far more than any chain and its lists.
pub const VALIDATION_ITEMS_MAX: usize = 64;

/// What goes into the store: DER certificates (the signer's, its chain, the TSA's) and
/// DER CRLs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValidationData<'a> {
    pub certificates: &'a [&'a [u8]],
    pub crls: &'a [&'a [u8]],
}

/// The incremental update that adds `data` to `pdf`'s document security store (made if
/// there is none; the certificates and lists it had kept). The result is `pdf` followed by
/// these bytes; a signature already in `pdf` still covers its own revision. A PDF larger
/// than `pdf_bytes_max` is refused before it is read.
pub fn add_validation_data(
    pdf: &[u8],
    data: &ValidationData<'_>,
    pdf_bytes_max: usize,
) -> Result<Vec<u8>, PadesError<Infallible>> {
    check_size(pdf, pdf_bytes_max)?;
    if data.certificates.len() + data.crls.len() > VALIDATION_ITEMS_MAX {
        return Err(PadesError::Unsupported(format!(
            "at most {VALIDATION_ITEMS_MAX} certificates and CRLs go into the store"
        )));
    }
    let document = read(pdf)?;
    let root = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PadesError::NotPdf("its trailer names no catalog".into()))?;
    let mut incremental = begin_update(pdf, document);
    let certificates = add_streams(&mut incremental, data.certificates)?;
    let crls = add_streams(&mut incremental, data.crls)?;
    store(&mut incremental, root, certificates, crls)?;
    let size: usize = data
        .certificates
        .iter()
        .chain(data.crls)
        .map(|der| der.len())
        .sum();
    finish_update(pdf.len(), incremental, size)
}

/// Each of `items` as a new stream object; their references.
fn add_streams(
    incremental: &mut IncrementalDocument,
    items: &[&[u8]],
) -> Result<Vec<Object>, PadesError<Infallible>> {
    let mut references = Vec::with_capacity(items.len());
    for item in items {
        let id = incremental
            .new_document
            .try_new_object_id()
            .map_err(unsupported("no object number left"))?;
        let stream = Stream::new(Dictionary::new(), item.to_vec()).with_compression(false);
        incremental.new_document.set_object(id, stream);
        references.push(Object::Reference(id));
    }
    Ok(references)
}

/// Writes the catalog's `/DSS` with `certificates` and `crls` added to what it held.
fn store(
    incremental: &mut IncrementalDocument,
    root: ObjectId,
    certificates: Vec<Object>,
    crls: Vec<Object>,
) -> Result<(), PadesError<Infallible>> {
    let previous = incremental.get_prev_documents();
    let catalog = previous
        .get_dictionary(root)
        .map_err(unsupported("its catalog cannot be read"))?;
    let (store_id, mut store) = match catalog.get(b"DSS") {
        Ok(Object::Reference(id)) => (
            Some(*id),
            previous
                .get_dictionary(*id)
                .map_err(unsupported("its document security store cannot be read"))?
                .clone(),
        ),
        Ok(Object::Dictionary(dictionary)) => (None, dictionary.clone()),
        _ => (None, Dictionary::new()),
    };
    for (key, added) in [(&b"Certs"[..], certificates), (b"CRLs", crls)] {
        let mut items = array_items(previous, store.get(key).ok())?;
        items.extend(added);
        store.set(key, Object::Array(items));
    }
    match store_id {
        Some(id) => incremental.new_document.set_object(id, store),
        None => {
            let mut catalog = catalog.clone();
            catalog.set("DSS", Object::Dictionary(store));
            incremental.new_document.set_object(root, catalog);
        }
    }
    Ok(())
}
