//! Signatures in a client's name (SPEC capability 4, the seed's Figures 6 to 8), for a
//! document handed over whole: a **one-file envelope of the notary** whose station is
//! sceau itself. sceau makes the station's key in memory for this one envelope (the
//! seed's variant of the disposable certificate, its subject saying so), hashes the
//! document, signs the manifest of its one file, and gives the file to the envelope as
//! any station would: from there on it is the notary's one flow (the seal bound to the
//! file, typed in the client's own session, the signatures, time-stamps, container,
//! archive and evidence). No other path signs in a client's name.
//!
//! Signature requests made before they became envelopes stay readable (their rows, and
//! their records in the log, are kept): [`SignatureView::Legacy`].

use crate::error::AppError;
use crate::notary::EnvelopeSealResult;
use crate::service::Service;
use bytes::Bytes;
use sceau_domain::envelope::{FileEntry, FileName, Manifest};
use sceau_domain::reach::{MessageKind, TooMany};
use sceau_pki::station::StationKey;
use sceau_store::*;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The largest document sceau signs (it reads the whole document to show and bind its
/// digest).
pub const DOCUMENT_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Documents received at once unless configured otherwise.
pub const UPLOADS_MAX_DEFAULT: usize = 8;
/// The places for documents being received at once by a server; when all are taken, a
/// further upload is refused at once (503), before anything of it is read.
#[derive(Clone)]
pub struct Uploads(Arc<tokio::sync::Semaphore>);

impl Uploads {
    pub fn new(uploads_max: usize) -> Uploads {
        Uploads(Arc::new(tokio::sync::Semaphore::new(uploads_max)))
    }
}

impl Default for Uploads {
    fn default() -> Uploads {
        Uploads::new(UPLOADS_MAX_DEFAULT)
    }
}

/// A place among the documents received at once, held while one is read.
pub struct UploadPermit(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl UploadPermit {
    pub fn take(uploads: &Uploads) -> Result<UploadPermit, AppError> {
        uploads
            .0
            .clone()
            .try_acquire_owned()
            .map(UploadPermit)
            .map_err(|_| AppError::UploadsBusy)
    }
}

/// The subject of the station certificate of a document given whole to the signature
/// API: the key was made by sceau, not at the client's station, and the evidence says so.
pub const SERVER_STATION_SUBJECT: &str =
    "sceau station certificate (document received whole by sceau)";

/// Checks a document's name (a file name of the notary: shown between quotation marks in
/// the SMS, so it may hold none, nor anything that is a path), before the document is
/// read.
pub fn check_document_name(document_name: &str) -> Result<FileName, AppError> {
    FileName::parse(document_name)
        .map_err(|error| AppError::InvalidDocumentName(format!("a document name: {error}")))
}

/// A signature request as the signatures API shows it.
pub enum SignatureView {
    /// A one-file envelope (every request since signature requests became envelopes).
    Envelope(Box<EnvelopeView>),
    /// A request made before, read-only.
    Legacy(Box<SignatureRequestView>),
}

impl SignatureView {
    pub fn created_at_s(&self) -> i64 {
        match self {
            SignatureView::Envelope(view) => view.created_at_s,
            SignatureView::Legacy(view) => view.created_at_s,
        }
    }
}

/// The answer for a signature request that is not the client's, or not at all.
fn not_found() -> AppError {
    AppError::UnknownSignature
}

/// Whether `text` is a public identifier as sceau makes them (16 random bytes: 32
/// lowercase hex digits), of a signature request or an envelope.
pub(crate) fn is_public_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A request identifier as sceau makes them; anything else is not found, without
/// reaching the store.
pub fn request_id(text: &str) -> Result<&str, AppError> {
    if is_public_id(text) {
        Ok(text)
    } else {
        Err(not_found())
    }
}

impl Service {
    /// The largest document the signature API takes here: [`DOCUMENT_BYTES_MAX`], or less
    /// when the notary's limits of a file or an envelope are set lower.
    pub fn document_bytes_max(&self) -> usize {
        let limits = self
            .notary
            .as_ref()
            .map(|notary| notary.settings.limits)
            .unwrap_or_default();
        let notary_max = limits.file_bytes_max.min(limits.envelope_bytes_max);
        usize::try_from(notary_max).map_or(DOCUMENT_BYTES_MAX, |max| max.min(DOCUMENT_BYTES_MAX))
    }

    /// A client asks to sign `document` under the name `document_name`: a one-file
    /// envelope is opened for a station key sceau makes now, its manifest signed with
    /// that key, and the document given to it as its file; the envelope then sends the
    /// seal, bound to the document, to the client's phone. Nothing is signed yet.
    ///
    /// Once begun, the envelope is made in a task of its own: a caller who goes away
    /// does not leave it halfway (opened, its document never given).
    pub async fn request_signature(
        &self,
        client: &ClientRecord,
        document_name: &str,
        document: Bytes,
    ) -> Result<EnvelopeView, AppError> {
        let name = check_document_name(document_name)?;
        let bytes_max = self.document_bytes_max();
        if document.is_empty() || document.len() > bytes_max {
            return Err(AppError::InvalidDocument(format!(
                "a document is 1 to {bytes_max} bytes"
            )));
        }
        self.notary()?;
        // The client's seals of the hour spent: refused before anything is written, as
        // a signature request always was (the envelope's own check, in the transaction
        // that queues the seal, still bounds what the phone receives).
        let allowed = self
            .store
            .message_allowed(
                client.phone.as_str(),
                MessageKind::SignatureSeal,
                self.settings.message_budget(),
                self.now_s(),
            )
            .await?;
        match allowed {
            Ok(()) => {}
            Err(TooMany::Seals) => return Err(AppError::TooManySignatures),
            Err(too_many) => return Err(AppError::Throttled(too_many)),
        }
        let service = self.clone();
        let client = client.clone();
        tokio::spawn(async move { service.envelope_of_one(&client, name, document).await })
            .await
            .map_err(|_| crate::error::internal("a signature request stopped"))?
    }

    /// The envelope of one document, as a station would make it, with a key made here.
    async fn envelope_of_one(
        &self,
        client: &ClientRecord,
        name: FileName,
        document: Bytes,
    ) -> Result<EnvelopeView, AppError> {
        let key = StationKey::new();
        let public_key = key
            .public_key_der()
            .map_err(|_| crate::error::internal("encoding a station key"))?;
        let opened = self
            .open_envelope_for(client, &public_key, None, SERVER_STATION_SUBJECT)
            .await?;
        let manifest = Manifest {
            envelope: opened.view.public_id.clone(),
            certificate: opened.view.certificate_serial.clone(),
            files: vec![FileEntry {
                name,
                size: document.len() as u64,
                sha256: Sha256::digest(&document).into(),
            }],
            destinations: Vec::new(),
        };
        let canonical = manifest
            .canonical()
            .map_err(|_| crate::error::internal("a one-file manifest"))?;
        let signature = key.sign(canonical.as_bytes());
        drop(key);
        let public_id = opened.view.public_id;
        self.submit_manifest(client, &public_id, &canonical, &signature)
            .await?;
        let content = futures_util::stream::once(async move { Ok(document) });
        let view = self
            .receive_envelope_file(client, &public_id, 0, content)
            .await?;
        tracing::info!(
            client_id = client.id,
            envelope = view.id,
            "signature requested"
        );
        Ok(view)
    }

    /// The client typed a seal for a signature request, in the session
    /// `session_token_hash`: the envelope's seal (`Service::confirm_envelope_seal`).
    pub async fn confirm_signature(
        &self,
        client: &ClientRecord,
        public_id: &str,
        session_token_hash: [u8; 32],
        typed: &str,
    ) -> Result<EnvelopeSealResult, AppError> {
        match self.client_signature(client, public_id).await? {
            SignatureView::Envelope(_) => {
                self.confirm_envelope_seal(client, public_id, session_token_hash, typed)
                    .await
            }
            SignatureView::Legacy(view) => Err(AppError::NotAwaitingSeal(format!(
                "this signature request, made before signature requests became envelopes, \
                 is {} and takes no seal",
                view.state.as_str()
            ))),
        }
    }

    /// A client's own signature request (another client's is not found): a one-file
    /// envelope (notarized now if it was sealed and waits, as any envelope read by its
    /// client), or a request made before.
    pub async fn client_signature(
        &self,
        client: &ClientRecord,
        public_id: &str,
    ) -> Result<SignatureView, AppError> {
        let public_id = request_id(public_id)?;
        if let Some(view) = self
            .store
            .envelope(public_id)
            .await?
            .filter(|view| view.client_id == client.id && view.files.len() == 1)
        {
            let view = self.notarized_if_sealed(view).await?;
            return Ok(SignatureView::Envelope(Box::new(view)));
        }
        self.store
            .signature_request(public_id)
            .await?
            .filter(|view| view.client_id == client.id)
            .map(|view| SignatureView::Legacy(Box::new(view)))
            .ok_or_else(not_found)
    }

    /// A client's signature requests, newest first, `limit` at most: their envelopes of
    /// one file, and their requests made before.
    pub async fn client_signatures(
        &self,
        client: &ClientRecord,
        limit: u32,
    ) -> Result<Vec<SignatureView>, AppError> {
        let envelopes = self
            .store
            .client_one_file_envelopes(client.id, limit)
            .await?;
        let legacy = self
            .store
            .client_signature_requests(client.id, limit)
            .await?;
        let mut views: Vec<SignatureView> = envelopes
            .into_iter()
            .map(|view| SignatureView::Envelope(Box::new(view)))
            .chain(
                legacy
                    .into_iter()
                    .map(|view| SignatureView::Legacy(Box::new(view))),
            )
            .collect();
        views.sort_by_key(|view| std::cmp::Reverse(view.created_at_s()));
        views.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(views)
    }
}
