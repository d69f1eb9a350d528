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
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The largest document sceau signs (it reads the whole document to show and bind its
/// digest).
pub const DOCUMENT_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Documents received whole at once unless configured otherwise (each is held whole, up
/// to [`DOCUMENT_BYTES_MAX`]).
pub const UPLOADS_MAX_DEFAULT: usize = 8;
/// Envelope files received at once by a server unless configured otherwise. They are
/// streamed into the archive (each holds a piece at a time in memory, or a small file
/// gathered for its row), so many more fit than whole documents.
pub const FILE_UPLOADS_MAX_DEFAULT: usize = 64;
/// Envelope files one client may have being received at once by a server: a station
/// sends its files one after the other, and no client can take every place.
pub const CLIENT_FILE_UPLOADS_MAX: usize = 4;

/// The places for uploads being received at once by a server: whole documents (the
/// signature API and its page), and envelope files, of which each client has a share.
/// When the places are taken, a further upload is refused at once, before anything of
/// it is read: 503 when the server's are, 429 when the client's are.
#[derive(Clone)]
pub struct Uploads {
    documents: Arc<tokio::sync::Semaphore>,
    files: Arc<tokio::sync::Semaphore>,
    /// Envelope files being received, by client (a client with none has no entry).
    by_client: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Uploads {
    /// `documents_max` whole documents and `files_max` envelope files at once.
    pub fn new(documents_max: usize, files_max: usize) -> Uploads {
        Uploads {
            documents: Arc::new(tokio::sync::Semaphore::new(documents_max)),
            files: Arc::new(tokio::sync::Semaphore::new(files_max)),
            by_client: Arc::default(),
        }
    }
}

impl Default for Uploads {
    fn default() -> Uploads {
        Uploads::new(UPLOADS_MAX_DEFAULT, FILE_UPLOADS_MAX_DEFAULT)
    }
}

/// A place among the documents received at once, held while one is read.
pub struct UploadPermit(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl UploadPermit {
    pub fn take(uploads: &Uploads) -> Result<UploadPermit, AppError> {
        uploads
            .documents
            .clone()
            .try_acquire_owned()
            .map(UploadPermit)
            .map_err(|_| AppError::UploadsBusy)
    }
}

/// A place among the envelope files received at once, and one of its client's, held
/// while one is read.
pub struct FileUploadPermit {
    _place: tokio::sync::OwnedSemaphorePermit,
    client_id: i64,
    by_client: Arc<Mutex<HashMap<i64, usize>>>,
}

impl FileUploadPermit {
    /// The client's share is checked first: a client at its limit takes none of the
    /// server's places.
    pub fn take(uploads: &Uploads, client_id: i64) -> Result<FileUploadPermit, AppError> {
        let mut by_client = uploads
            .by_client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let taken = by_client.get(&client_id).copied().unwrap_or(0);
        if taken >= CLIENT_FILE_UPLOADS_MAX {
            return Err(AppError::TooManyUploads);
        }
        let place = uploads
            .files
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::UploadsBusy)?;
        by_client.insert(client_id, taken + 1);
        Ok(FileUploadPermit {
            _place: place,
            client_id,
            by_client: Arc::clone(&uploads.by_client),
        })
    }
}

impl Drop for FileUploadPermit {
    fn drop(&mut self) {
        let mut by_client = self
            .by_client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(taken) = by_client.get_mut(&self.client_id) {
            *taken = taken.saturating_sub(1);
            if *taken == 0 {
                by_client.remove(&self.client_id);
            }
        }
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
