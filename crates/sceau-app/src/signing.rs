//! Signatures in a client's name (SPEC capability 4, the seed's Figures 6 to 8): the
//! client hands a document over; a seal bound to that very document (its SHA-256 and
//! its name) goes to their phone; only when they type it back, in their own session,
//! does the white room sign with their key. No other path signs in a client's name.

use crate::clock::clock_time;
use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_domain::reach::TooMany;
use sceau_domain::seal::{Seal, SealDigits, SignatureSealInput};
use sceau_domain::text::TextRule;
use sceau_store::*;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use zeroize::Zeroizing;

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

/// A document as sceau keeps it: its SHA-256 and length (the bytes are hashed as they
/// arrive and never held whole).
#[derive(Debug, Clone, Copy)]
pub struct Document {
    pub sha256: [u8; 32],
    pub length: usize,
}

/// Hashes a document as it arrives, refusing it once it is over [`DOCUMENT_BYTES_MAX`].
#[derive(Default)]
pub struct DocumentDigester {
    hasher: Sha256,
    length: usize,
}

impl DocumentDigester {
    /// Adds the next part; `Err` once the document is over the limit.
    pub fn update(&mut self, part: &[u8]) -> Result<(), DocumentTooLarge> {
        self.length = self.length.saturating_add(part.len());
        if self.length > DOCUMENT_BYTES_MAX {
            return Err(DocumentTooLarge);
        }
        self.hasher.update(part);
        Ok(())
    }

    pub fn finish(self) -> Document {
        Document {
            sha256: self.hasher.finalize().into(),
            length: self.length,
        }
    }
}

/// A document over [`DOCUMENT_BYTES_MAX`].
#[derive(Debug)]
pub struct DocumentTooLarge;

/// The longest document name (it is shown in the SMS).
pub const DOCUMENT_NAME_LEN_MAX: usize = 100;
/// A document name: shown between quotation marks in the SMS, so it may hold none.
const DOCUMENT_NAME: TextRule = TextRule::quoted(DOCUMENT_NAME_LEN_MAX);

/// Checks a document's name (shown between quotation marks in the SMS): before the
/// document is read, and again when the request is made.
pub fn check_document_name(document_name: &str) -> Result<(), AppError> {
    AppError::check_text(
        "a document name",
        AppError::InvalidDocumentName,
        document_name,
        DOCUMENT_NAME,
    )
}

/// What became of a seal typed for a signature.
pub enum SignatureResult {
    Signed(SignatureRequestView),
    Wrong { tries_left: u32 },
    Failed(SignatureRequestView),
    Expired,
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

/// The seal's input for a request, from its stored form.
fn seal_input(view: &SignatureRequestView) -> Option<SignatureSealInput> {
    let mut request = [0_u8; 16];
    hex::decode_to_slice(&view.public_id, &mut request).ok()?;
    Some(SignatureSealInput {
        request,
        client_id: view.client_id,
        content_digest: view.content_digest,
        name_digest: Sha256::digest(view.document_name.as_bytes()).into(),
        issued_at_s: view.seal.issued_at_s,
        nonce: view.seal.nonce,
    })
}

/// Refuses a document that cannot be signed: a name that cannot be shown, or a length
/// out of bounds.
fn check_document(document_name: &str, document: &Document) -> Result<(), AppError> {
    // The name is shown in the SMS between quotes, after the digest: no quote may
    // close it early and make what follows look like the message's own text.
    check_document_name(document_name)?;
    if document.length == 0 || document.length > DOCUMENT_BYTES_MAX {
        return Err(AppError::InvalidDocument(format!(
            "a document is 1 to {DOCUMENT_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

impl Service {
    /// A client asks to sign `document` under the name `document_name`: the request is
    /// recorded and the seal sent to their phone with the name and the digest, in one
    /// transaction. Nothing is signed yet.
    pub async fn request_signature(
        &self,
        client: &ClientRecord,
        document_name: &str,
        document: Document,
    ) -> Result<SignatureRequestView, AppError> {
        check_document(document_name, &document)?;
        if client.stopped(self.now_s()) {
            return Err(AppError::ClientStopped);
        }
        // Refused now rather than after the seal: a client with no valid certificate
        // (enrolled before the white room, revoked, expired) cannot sign. The request
        // names the certificate: the seal is consent to a signature under this one.
        self.white_room()?;
        let certificate = self.signing_certificate(client.id).await?;
        let request: [u8; 16] = sceau_crypto::random_bytes();
        let public_id = hex::encode(request);
        let now_s = self.now_s();
        let content_digest = document.sha256;
        let input = SignatureSealInput {
            request,
            client_id: client.id,
            content_digest,
            name_digest: Sha256::digest(document_name.as_bytes()).into(),
            issued_at_s: now_s,
            nonce: sceau_crypto::random_bytes(),
        };
        let digits = self.settings.seal_digits;
        let seal = self.keys.signature_seal(&input, digits);
        let expires_at_s = now_s + self.settings.seal_validity_s;
        let text = self.signature_seal_text(document_name, &content_digest, &seal, expires_at_s);
        let outcome = self
            .store
            .create_signature_request(NewSignatureRequest {
                public_id,
                client_id: client.id,
                document_name: document_name.to_owned(),
                content_digest,
                certificate_serial: certificate.serial,
                seal: StoredSeal {
                    nonce: input.nonce,
                    digits: digits.get(),
                    issued_at_s: now_s,
                    expires_at_s,
                },
                message: NewMessage {
                    address: client.phone.as_str().to_owned(),
                    sealed_body: self.keys.seal(&text, client.phone.as_str()),
                    medium: client.phone_medium(),
                    expires_at_s,
                },
                budget: self.settings.message_budget(),
                now_s,
            })
            .await?;
        self.signature_requested(client, outcome)
    }

    /// The request recorded (the dispatcher is woken for its seal), or refused.
    fn signature_requested(
        &self,
        client: &ClientRecord,
        outcome: SignatureRequestOutcome,
    ) -> Result<SignatureRequestView, AppError> {
        match outcome {
            SignatureRequestOutcome::Created(view) => {
                self.outbox_ready.notify_one();
                tracing::info!(
                    client_id = client.id,
                    request = view.id,
                    "signature requested"
                );
                Ok(*view)
            }
            SignatureRequestOutcome::Throttled(TooMany::Seals) => Err(AppError::TooManySignatures),
            SignatureRequestOutcome::Throttled(too_many) => Err(AppError::Throttled(too_many)),
        }
    }

    /// The SMS: what the seal is for (the document's name and the start of its SHA-256,
    /// which the client can compare with their own copy), the seal and until when.
    fn signature_seal_text(
        &self,
        document_name: &str,
        content_digest: &[u8; 32],
        seal: &Seal,
        expires_at_s: i64,
    ) -> Zeroizing<String> {
        let fingerprint = hex::encode(&content_digest[..8]);
        // The digest first, at a fixed place, then the name (which may not hold quotes).
        Zeroizing::new(format!(
            "{issuer}: to sign the document of SHA-256 {fingerprint}... named \"{document_name}\", \
             your seal is {digits}. Valid until {until}. Type it only on the {issuer} signature \
             page; nobody will ever ask you for it.",
            issuer = self.settings.issuer_name,
            digits = seal.digits(),
            until = clock_time(expires_at_s),
        ))
    }

    /// The client typed a seal for a signature request in the session
    /// `session_token_hash`. The right seal seals the request (one write, in which the
    /// store finds the session's client and checks the seal), and then, only then, the
    /// document's digest is signed with the client's key and the signature stored.
    pub async fn confirm_signature(
        &self,
        public_id: &str,
        session_token_hash: [u8; 32],
        typed: &str,
    ) -> Result<SignatureResult, AppError> {
        // Anything that is not 6 to 10 digits is a wrong seal like any other: counted.
        let typed: Option<Seal> = typed.parse().ok();
        let keys = Arc::clone(&self.keys);
        let check: SignatureSealCheck = Box::new(move |view| {
            let (Some(typed), Some(input), Ok(digits)) =
                (&typed, seal_input(view), SealDigits::new(view.seal.digits))
            else {
                return false;
            };
            keys.signature_seal_matches(&input, digits, typed)
        });
        let outcome = self
            .store
            .type_signature_seal(TypedSignatureSeal {
                public_id: public_id.to_owned(),
                session_token_hash,
                check,
                now_s: self.now_s(),
            })
            .await?;
        match outcome {
            SignatureSealOutcome::Sealed(view) => {
                Ok(SignatureResult::Signed(self.sign(view).await?))
            }
            SignatureSealOutcome::Wrong { tries_left, paused } => {
                tracing::info!(request = public_id, tries_left, "wrong signature seal");
                if let Some(paused) = paused {
                    self.tell_paused(paused).await;
                }
                Ok(SignatureResult::Wrong { tries_left })
            }
            SignatureSealOutcome::Failed { view, paused } => {
                tracing::info!(request = view.id, "signature failed: wrong seals");
                if let Some(paused) = paused {
                    self.tell_paused(paused).await;
                }
                Ok(SignatureResult::Failed(view))
            }
            SignatureSealOutcome::Expired => Ok(SignatureResult::Expired),
            SignatureSealOutcome::NotAwaiting(view) => Err(AppError::NotAwaitingSeal(format!(
                "this signature request is {}",
                view.state.as_str()
            ))),
            SignatureSealOutcome::NotFound => Err(not_found()),
            SignatureSealOutcome::ClientStopped => Err(AppError::ClientStopped),
        }
    }

    /// Signs a sealed request and stores the signature. A request whose signing failed
    /// after its seal (the keystore was unreachable) is signed when next asked for.
    async fn sign(&self, view: SignatureRequestView) -> Result<SignatureRequestView, AppError> {
        let signed = self
            .sign_for_client(
                view.client_id,
                &view.certificate_serial,
                view.content_digest,
            )
            .await;
        let signature = match signed {
            Ok(signature) => signature,
            // The certificate the seal consented to is gone: nothing will ever be signed
            // for this request, which fails rather than waiting forever.
            Err(error) if error == AppError::CertificateNotValid => {
                self.store.fail_sealed_signature(&view.public_id).await?;
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        // False when a concurrent reader signed it first: theirs stands.
        if self
            .store
            .record_signature(&view.public_id, signature, self.now_s())
            .await?
        {
            tracing::info!(request = view.id, "signed in the client's name");
        }
        self.store
            .signature_request(&view.public_id)
            .await?
            .ok_or_else(|| internal("signature request vanished"))
    }

    /// A client's own signature request (another client's is not found).
    pub async fn client_signature(
        &self,
        client: &ClientRecord,
        public_id: &str,
    ) -> Result<SignatureRequestView, AppError> {
        let view = self
            .store
            .signature_request(public_id)
            .await?
            .filter(|view| view.client_id == client.id)
            .ok_or_else(not_found)?;
        match view.state {
            SignatureState::Sealed => self.sign(view).await,
            _ => Ok(view),
        }
    }

    /// A client's signature requests, newest first.
    pub async fn client_signatures(
        &self,
        client: &ClientRecord,
        limit: u32,
    ) -> Result<Vec<SignatureRequestView>, AppError> {
        Ok(self
            .store
            .client_signature_requests(client.id, limit)
            .await?)
    }
}
