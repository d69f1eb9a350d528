//! The notary (the seed's Figures 6, 8 and 9; ARCHITECTURE.md, "The notary"): a client
//! opens an envelope for a key their station made, the station signs the manifest of the
//! files it hashed, uploads them (each streamed into the archive while hashed again and
//! held to the manifest), the last one sends the seal, and the typed seal has every file
//! signed in the client's name (a detached CAdES-B-T signature each, PAdES for a PDF, an
//! ASiC-E container for the envelope), time-stamped and archived before the envelope is
//! answered notarized.
//!
//! The rules are `sceau_domain::envelope`'s; the store applies them in one transaction
//! per step (`sceau_store::Envelopes`); the archive keeps the bytes (`sceau_store::Archive`).

use crate::clock::clock_time;
use crate::error::{AppError, internal};
use crate::service::Service;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sceau_domain::envelope::{
    Arrival, Destination, EnvelopeLimits, FileEntry, FileName, Manifest, ManifestCheck, Refusal,
    SealText, seal_text,
};
use sceau_domain::seal::{EnvelopeSealInput, Seal, SealDigits};
use sceau_notary::{asic, pades};
use sceau_pki::{Issued, KeyLabel};
use sceau_store::*;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use zeroize::Zeroizing;

/// A station's certificate lives this long unless the station asks otherwise.
pub const STATION_CERTIFICATE_LIFETIME_S_DEFAULT: i64 = 600;
/// The shortest and longest life a station may ask for its certificate.
pub const STATION_CERTIFICATE_LIFETIME_S_MIN: i64 = 60;
pub const STATION_CERTIFICATE_LIFETIME_S_MAX: i64 = 3_600;
/// Envelopes a client may have open or receiving at once (each costs a certificate).
pub const ENVELOPES_OPEN_MAX: u32 = 20;
/// Digits of an envelope's seal by default.
pub const ENVELOPE_SEAL_DIGITS_DEFAULT: u8 = 8;
/// What the archive keeps by default: ten years.
pub const RETENTION_S_DEFAULT: i64 = 10 * 365 * 86_400 + 2 * 86_400;
/// The least retention an operator may set: one year.
pub const RETENTION_S_MIN: i64 = 365 * 86_400;
/// PDFs up to this size get a PAdES signature besides the detached one by default (a PDF
/// is read whole to be signed).
pub const PDF_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;
/// Received files are kept, before the envelope is notarized, this long after the
/// station's certificate ends (time for the seal and its resends); a refused or
/// abandoned envelope's files are past retention then.
const UNSEALED_KEPT_S: i64 = 86_400;

/// What the operator configures about the notary.
#[derive(Debug, Clone)]
pub struct NotarySettings {
    pub limits: EnvelopeLimits,
    pub seal_digits: SealDigits,
    pub retention_s: i64,
    pub pdf_bytes_max: u64,
    /// Certified delivery's settings (delivery builds on the notary).
    pub delivery: crate::delivery::DeliverySettings,
}

impl Default for NotarySettings {
    fn default() -> NotarySettings {
        NotarySettings {
            limits: EnvelopeLimits::default(),
            seal_digits: SealDigits::new(ENVELOPE_SEAL_DIGITS_DEFAULT).unwrap_or_default(),
            retention_s: RETENTION_S_DEFAULT,
            pdf_bytes_max: PDF_BYTES_MAX_DEFAULT,
            delivery: crate::delivery::DeliverySettings::default(),
        }
    }
}

/// The notary's archive and settings (a service without them has no notary).
pub struct Notary {
    pub archive: Arc<dyn Archive>,
    pub settings: NotarySettings,
    /// The envelopes this process is notarizing: one run per envelope at a time.
    in_progress: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Notarizations at once (each may read a PDF whole and writes a container).
    signing: tokio::sync::Semaphore,
}

/// Notarizations a process runs at once.
pub const NOTARIZATIONS_AT_ONCE: usize = 2;
/// How long typing the seal waits for the signatures before answering `sealed` (they
/// go on; the envelope is notarized when they end).
pub const SEAL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Notary {
    pub fn new(archive: Arc<dyn Archive>, settings: NotarySettings) -> Notary {
        Notary {
            archive,
            settings,
            in_progress: Default::default(),
            signing: tokio::sync::Semaphore::new(NOTARIZATIONS_AT_ONCE),
        }
    }

    /// Marks `public_id` as being notarized here; false if it already is.
    fn begin(&self, public_id: &str) -> bool {
        self.in_progress
            .lock()
            .map(|mut running| running.insert(public_id.to_owned()))
            .unwrap_or(false)
    }

    fn end(&self, public_id: &str) {
        if let Ok(mut running) = self.in_progress.lock() {
            running.remove(public_id);
        }
    }
}

/// Ends an envelope's run when dropped (the run's task ended, however).
struct Running {
    notary: Arc<Notary>,
    public_id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.notary.end(&self.public_id);
    }
}

/// The subject of a station's certificate when the client's station made the key.
pub const STATION_SUBJECT: &str = "sceau station certificate";

/// An envelope just opened: its view and the station's certificate (DER).
pub struct OpenedEnvelope {
    pub view: EnvelopeView,
    pub certificate: Vec<u8>,
}

/// What became of a seal typed for an envelope.
pub enum EnvelopeSealResult {
    /// Notarized, or sealed and waiting (its `waiting` says why).
    Sealed(Box<EnvelopeView>),
    Wrong {
        tries_left: u32,
    },
    Failed,
    Expired,
}

/// An envelope identifier as sceau makes them (32 lowercase hex digits); anything else
/// is not found, without reaching the store.
pub fn envelope_id(text: &str) -> Result<&str, AppError> {
    if crate::signing::is_public_id(text) {
        Ok(text)
    } else {
        Err(AppError::UnknownEnvelope)
    }
}

/// The manifest the station sent, parsed and held to every rule: `None` if it is not a
/// manifest sceau accepts (not JSON of the manifest's shape, a name or a limit broken,
/// or not in canonical form).
pub fn parse_manifest(text: &str, limits: &EnvelopeLimits) -> Result<Manifest, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sent {
        certificate: String,
        destinations: Vec<SentDestination>,
        envelope: String,
        files: Vec<SentFile>,
        v: u32,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SentFile {
        name: String,
        sha256: String,
        size: u64,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SentDestination {
        email: Option<String>,
        phone: Option<String>,
    }
    let sent: Sent = serde_json::from_str(text).map_err(|_| {
        "the manifest is not JSON with certificate, destinations, envelope, files and v".to_owned()
    })?;
    if sent.v != sceau_domain::envelope::MANIFEST_VERSION {
        return Err(format!("manifest version {} is not known", sent.v));
    }
    let files = sent
        .files
        .into_iter()
        .enumerate()
        .map(|(index, file)| {
            let name = FileName::parse(&file.name).map_err(|e| format!("file {index}: {e}"))?;
            let mut sha256 = [0_u8; 32];
            if file.sha256.len() != 64
                || file.sha256.bytes().any(|b| b.is_ascii_uppercase())
                || hex::decode_to_slice(&file.sha256, &mut sha256).is_err()
            {
                return Err(format!("file {index}: sha256 is 64 lowercase hex digits"));
            }
            Ok(FileEntry {
                name,
                size: file.size,
                sha256,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let destinations = sent
        .destinations
        .into_iter()
        .enumerate()
        .map(|(index, destination)| {
            let email = destination
                .email
                .map(|email| email.parse())
                .transpose()
                .map_err(|e| format!("destination {index}: {e}"))?;
            let phone = destination
                .phone
                .map(|phone| phone.parse())
                .transpose()
                .map_err(|e| format!("destination {index}: {e}"))?;
            Ok(Destination { email, phone })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let entries: Vec<(&FileName, u64)> = files.iter().map(|f| (&f.name, f.size)).collect();
    limits
        .check(&entries, &destinations)
        .map_err(|e| e.to_string())?;
    let manifest = Manifest {
        envelope: sent.envelope,
        certificate: sent.certificate,
        files,
        destinations,
    };
    match manifest.canonical() {
        Ok(canonical) if canonical == text => Ok(manifest),
        _ => Err("the manifest is not in canonical form (RFC 8785)".to_owned()),
    }
}

/// Counts what passes through a stream (a put's content, to tell a short or long file
/// from one of other bytes when the archive refuses it).
fn counted<'a>(
    stream: impl Stream<Item = io::Result<Bytes>> + Send + 'a,
    count: Arc<AtomicU64>,
) -> ByteStream<'a> {
    Box::pin(stream.map(move |piece| {
        if let Ok(bytes) = &piece {
            count.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        piece
    }))
}

/// Whether a file is named as a PDF.
fn named_pdf(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".pdf")
}

/// The files of an envelope whose container is written in memory rather than to a
/// temporary file, at most (their container is a little larger: names, manifest,
/// signature).
const CONTAINER_IN_MEMORY_MAX: u64 = 4 * 1024 * 1024;

/// The first bytes of a file kept to tell a PDF by its start (`%PDF-`).
const HEAD_BYTES: usize = 8;

/// Whether a file is to be signed as a PDF too: named `.pdf`, or starting as one.
fn looks_like_pdf(name: &str, head: &[u8]) -> bool {
    named_pdf(name) || head.starts_with(b"%PDF-")
}

impl Service {
    pub(crate) fn notary(&self) -> Result<&Arc<Notary>, AppError> {
        self.notary.as_ref().ok_or(AppError::NotaryUnavailable)
    }

    /// The envelope `public_id` if it is `client`'s (another's is not found).
    async fn own_envelope(
        &self,
        client: &ClientRecord,
        public_id: &str,
    ) -> Result<EnvelopeView, AppError> {
        self.store
            .envelope(envelope_id(public_id)?)
            .await?
            .filter(|view| view.client_id == client.id)
            .ok_or(AppError::UnknownEnvelope)
    }

    /// Opens an envelope for the station key `public_key` (a P-256 SubjectPublicKeyInfo,
    /// DER): sceau's CA certifies it for `lifetime_s` (10 minutes unless given, 1 to 60
    /// minutes), and the certificate is recorded with the envelope.
    pub async fn open_envelope(
        &self,
        client: &ClientRecord,
        public_key: &[u8],
        lifetime_s: Option<i64>,
    ) -> Result<OpenedEnvelope, AppError> {
        self.open_envelope_for(client, public_key, lifetime_s, STATION_SUBJECT)
            .await
    }

    /// [`Service::open_envelope`], the certificate's subject naming who made the station's
    /// key: the client's station, or sceau for a document given whole to the signature
    /// API.
    pub(crate) async fn open_envelope_for(
        &self,
        client: &ClientRecord,
        public_key: &[u8],
        lifetime_s: Option<i64>,
        subject: &'static str,
    ) -> Result<OpenedEnvelope, AppError> {
        self.notary()?;
        if client.stopped(self.now_s()) {
            return Err(AppError::ClientStopped);
        }
        let lifetime_s = lifetime_s.unwrap_or(STATION_CERTIFICATE_LIFETIME_S_DEFAULT);
        if !(STATION_CERTIFICATE_LIFETIME_S_MIN..=STATION_CERTIFICATE_LIFETIME_S_MAX)
            .contains(&lifetime_s)
        {
            return Err(AppError::InvalidLifetime(format!(
                "a station's certificate lives {STATION_CERTIFICATE_LIFETIME_S_MIN} to \
                 {STATION_CERTIFICATE_LIFETIME_S_MAX} seconds"
            )));
        }
        let key = sceau_pki::station::parse_station_key(public_key)
            .map_err(|e| AppError::InvalidStationKey(e.to_string()))?;
        // Refused now rather than after the upload: without a certificate to sign with,
        // nothing of the envelope could ever be signed.
        self.signing_certificate(client.id).await?;
        let pki = Arc::clone(self.white_room()?);
        let now_s = self.now_s();
        let issued = crate::white_room::blocking_pki(move || {
            pki.authority
                .certify_station_key(&key, subject, now_s, lifetime_s)
        })
        .await?;
        let (not_before_s, not_after_s) = issued.validity_s();
        let public_id = hex::encode(sceau_crypto::random_bytes::<16>());
        let view = self
            .store
            .create_envelope(NewEnvelope {
                public_id,
                client_id: client.id,
                certificate: NewCertificate {
                    serial: sceau_pki::ca::serial_hex(&issued),
                    kind: CertificateKind::Station,
                    client_id: None,
                    key_label: None,
                    der: issued.der.clone(),
                    not_before_s,
                    not_after_s,
                    names_serial: None,
                    now_s,
                },
                open_max: ENVELOPES_OPEN_MAX,
            })
            .await?;
        tracing::info!(client_id = client.id, envelope = view.id, "envelope opened");
        Ok(OpenedEnvelope {
            view,
            certificate: issued.der,
        })
    }

    /// The station's signed manifest: checked (its form and rules, that it names this
    /// envelope and its certificate, its signature by the station's key, the certificate
    /// unused and unrevoked) and kept, or the envelope refused with the reason.
    pub async fn submit_manifest(
        &self,
        client: &ClientRecord,
        public_id: &str,
        manifest: &str,
        signature: &[u8],
    ) -> Result<EnvelopeView, AppError> {
        let notary = Arc::clone(self.notary()?);
        let view = self.own_envelope(client, public_id).await?;
        let certificate = self
            .store
            .certificate(&view.certificate_serial)
            .await?
            .ok_or_else(|| internal("an envelope's certificate is missing"))?;
        let parsed = parse_manifest(manifest, &notary.settings.limits);
        let detail = parsed.as_ref().err().cloned();
        let parsed = parsed.ok();
        let issued =
            Issued::from_der(&certificate.der).map_err(|_| internal("stored certificate"))?;
        let check = ManifestCheck {
            valid: parsed.is_some(),
            names_this_envelope: parsed.as_ref().is_some_and(|m| {
                m.envelope == view.public_id && m.certificate == view.certificate_serial
            }),
            signature_verifies: sceau_pki::station::station_signature_verifies(
                &issued,
                manifest.as_bytes(),
                signature,
            ),
            certificate_usable: certificate.kind == CertificateKind::Station
                && certificate.used_at_s.is_none()
                && certificate.revoked_at_s.is_none(),
        };
        let (plan, view) = self
            .store
            .sign_manifest(SignedManifest {
                public_id: view.public_id.clone(),
                client_id: client.id,
                manifest: parsed,
                sent_sha256: Sha256::digest(manifest.as_bytes()).into(),
                signature: signature.to_vec(),
                check,
                now_s: self.now_s(),
            })
            .await?;
        match plan {
            ManifestPlan::Accept => view.ok_or_else(|| internal("envelope vanished")),
            ManifestPlan::Refuse(refusal) => {
                tracing::info!(
                    envelope = public_id,
                    code = refusal.code(),
                    "envelope refused"
                );
                Err(AppError::EnvelopeRefused {
                    code: refusal.code(),
                    detail: match refusal {
                        Refusal::ManifestInvalid => detail.unwrap_or_default(),
                        _ => String::new(),
                    },
                })
            }
            ManifestPlan::Expire => Err(AppError::EnvelopeExpired),
            ManifestPlan::NotFound => Err(AppError::UnknownEnvelope),
            ManifestPlan::NotOpen => Err(AppError::EnvelopeState(format!(
                "this envelope is {}: its manifest was given already or it is over",
                view.map_or("over", |v| v.state.as_str())
            ))),
        }
    }

    /// File `index` of an envelope, as its bytes arrive: streamed into the archive while
    /// hashed, held to the manifest's size and SHA-256 as it goes. A file that is not the
    /// manifest's refuses the envelope (and nothing of it is kept); the last file sends
    /// the seal.
    pub async fn receive_envelope_file<'a>(
        &self,
        client: &ClientRecord,
        public_id: &str,
        index: usize,
        content: impl Stream<Item = io::Result<Bytes>> + Send + 'a,
    ) -> Result<EnvelopeView, AppError> {
        let notary = Arc::clone(self.notary()?);
        let view = self.own_envelope(client, public_id).await?;
        let now_s = self.now_s();
        // What can be refused before a byte is read is refused then.
        if view.state != EnvelopeState::Receiving {
            return Err(AppError::EnvelopeState(format!(
                "this envelope is {}: it takes no file now",
                view.state.as_str()
            )));
        }
        let Some(file) = view.files.get(index) else {
            return Err(AppError::UnknownFile);
        };
        if file.received_at_s.is_some() {
            return Err(AppError::FileAlreadyReceived);
        }
        let expected = ArchivedObject {
            sha256: file.sha256,
            size: file.size,
        };
        let retain_until_s = view.certificate_expires_at_s + UNSEALED_KEPT_S;
        // The upload must end within the station certificate's life: a slow one does
        // not hold an upload's place past it.
        let left_s = view.certificate_expires_at_s - now_s;
        if left_s <= 0 {
            return Err(AppError::EnvelopeExpired);
        }
        let deadline = std::time::Duration::from_secs(left_s.unsigned_abs());
        let count = Arc::new(AtomicU64::new(0));
        let put = notary.archive.put(
            counted(content, Arc::clone(&count)),
            Deposit {
                retain_until_s,
                now_s,
                size_max: notary.settings.limits.file_bytes_max,
                expected: Some(expected),
            },
        );
        // Dropped at the deadline, the put leaves nothing (the archive's rule).
        let Ok(put) = tokio::time::timeout(deadline, put).await else {
            return Err(AppError::EnvelopeExpired);
        };
        let arrival = match put {
            Ok(object) => Arrival {
                index,
                size: object.size,
                sha256: object.sha256,
            },
            Err(ArchiveError::Mismatch { found, .. }) => {
                let found = found.unwrap_or(ArchivedObject {
                    // Cut as it ran past the expected size: longer than stated.
                    sha256: [0; 32],
                    size: count.load(Ordering::Relaxed).max(expected.size + 1),
                });
                Arrival {
                    index,
                    size: found.size,
                    sha256: found.sha256,
                }
            }
            Err(ArchiveError::TooLarge { .. }) => Arrival {
                index,
                size: count.load(Ordering::Relaxed).max(expected.size + 1),
                sha256: [0; 32],
            },
            Err(ArchiveError::Input(_)) => return Err(AppError::UploadIncomplete),
            Err(ArchiveError::Store(error)) => return Err(error.into()),
        };
        let seal = self.prepare_envelope_seal(client, &view, now_s).await?;
        let receipt = self
            .store
            .receive_file(ReceivedFile {
                public_id: view.public_id.clone(),
                client_id: client.id,
                arrival,
                seal: Some(seal),
                now_s: self.now_s(),
            })
            .await?;
        match receipt.plan {
            FilePlan::Keep { last } => {
                let view = receipt.view.ok_or_else(|| internal("envelope vanished"))?;
                if last {
                    self.outbox_ready.notify_one();
                    tracing::info!(envelope = view.id, "envelope submitted");
                    // The files are in: the upload succeeded. A seal the client's budget
                    // refused shows as `seal: None`, to be asked for again.
                    if receipt.seal_throttled.is_some() {
                        tracing::info!(envelope = view.id, "envelope's seal throttled");
                    }
                }
                Ok(view)
            }
            FilePlan::Refuse(refusal) => {
                tracing::info!(
                    envelope = public_id,
                    code = refusal.code(),
                    "envelope refused"
                );
                if let Some(view) = &receipt.view {
                    self.forget_unsealed(&notary, view, retain_until_s).await;
                }
                Err(AppError::EnvelopeRefused {
                    code: refusal.code(),
                    detail: String::new(),
                })
            }
            FilePlan::Expire => {
                if let Some(view) = &receipt.view {
                    self.forget_unsealed(&notary, view, retain_until_s).await;
                }
                Err(AppError::EnvelopeExpired)
            }
            FilePlan::AlreadyReceived => Err(AppError::FileAlreadyReceived),
            FilePlan::NoSuchFile => Err(AppError::UnknownFile),
            FilePlan::NotFound => Err(AppError::UnknownEnvelope),
            FilePlan::NotReceiving => Err(AppError::EnvelopeState(
                "this envelope takes no file now".to_owned(),
            )),
        }
    }

    /// Deletes from the archive the files of a refused or expired envelope that no other
    /// live envelope names (best effort: what is left is past retention a day later, and
    /// `sceau admin archive-expired` deletes it).
    async fn forget_unsealed(&self, notary: &Notary, view: &EnvelopeView, kept_until_s: i64) {
        for file in &view.files {
            let in_use = self
                .store
                .envelope_content_in_use(&view.public_id, file.sha256)
                .await;
            if !matches!(in_use, Ok(false)) {
                continue;
            }
            // Deleted only if nothing extended its retention past this envelope's.
            if notary
                .archive
                .delete(&file.sha256, kept_until_s)
                .await
                .is_err()
            {
                tracing::warn!(
                    envelope = view.id,
                    "a refused envelope's file stays until swept"
                );
            }
        }
    }

    /// The seal to send when an envelope's last file arrives (or when a new one is asked
    /// for), its SMS and the certificate it consents to.
    async fn prepare_envelope_seal(
        &self,
        client: &ClientRecord,
        view: &EnvelopeView,
        now_s: i64,
    ) -> Result<PreparedEnvelopeSeal, AppError> {
        let notary = self.notary()?;
        let certificate = self.signing_certificate(client.id).await?;
        let manifest_digest = view
            .manifest_sha256
            .ok_or_else(|| internal("an envelope receiving files has no manifest"))?;
        let nonce = sceau_crypto::random_bytes();
        let input = envelope_seal_input(view, manifest_digest, now_s, nonce)?;
        let digits = notary.settings.seal_digits;
        let seal = self.keys.envelope_seal(&input, digits);
        let expires_at_s = now_s + self.settings.seal_validity_s;
        let text = self.envelope_seal_text(view, &seal, expires_at_s)?;
        Ok(PreparedEnvelopeSeal {
            seal: StoredSeal {
                nonce,
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
            signer_serial: certificate.serial,
        })
    }

    /// The seal's SMS: what is signed and for whom, in one SMS (`sceau_domain::envelope::
    /// seal_text`: the first file's name is what gets shortened, never the rest).
    fn envelope_seal_text(
        &self,
        view: &EnvelopeView,
        seal: &Seal,
        expires_at_s: i64,
    ) -> Result<Zeroizing<String>, AppError> {
        let first = view
            .files
            .first()
            .ok_or_else(|| internal("an envelope without files"))?;
        let first_name = FileName::parse(&first.name).map_err(|_| internal("stored file name"))?;
        // The first destination whole: its e-mail address and its phone number when it
        // has both (certified delivery reaches both: neither may be hidden).
        let first_destination: Option<String> = view.destinations.first().map(|d| {
            [d.email.as_deref(), d.phone.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        });
        let first_destination = first_destination.as_deref().filter(|text| !text.is_empty());
        let digits = Zeroizing::new(seal.digits().to_owned());
        let until = clock_time(expires_at_s);
        let text = seal_text(
            &SealText {
                issuer: &self.settings.issuer_name,
                files: view.files.len(),
                first_name: &first_name,
                first_sha256: &first.sha256,
                first_destination,
                destinations: view.destinations.len(),
                seal: &digits,
                until: &until,
            },
            |text| {
                // One SMS in GSM 03.38 (160 characters). A text that needs UCS-2 (a name
                // or an address outside GSM) holds 70 characters a part, fewer than the
                // fixed words alone: two parts, shown as one message, then.
                sceau_channel::sms_text::encode(text, 0).is_ok_and(|encoded| match encoded.coding {
                    sceau_channel::sms_text::Coding::Gsm7 => encoded.parts.len() == 1,
                    sceau_channel::sms_text::Coding::Ucs2 => encoded.parts.len() <= 2,
                })
            },
        );
        Ok(Zeroizing::new(text))
    }

    /// A new seal for an envelope awaiting one (the previous one is void).
    pub async fn resend_envelope_seal(
        &self,
        client: &ClientRecord,
        public_id: &str,
    ) -> Result<EnvelopeView, AppError> {
        let view = self.own_envelope(client, public_id).await?;
        if view.state != EnvelopeState::AwaitingSeal {
            return Err(AppError::NotAwaitingSeal(format!(
                "this envelope is {}",
                view.state.as_str()
            )));
        }
        if client.stopped(self.now_s()) {
            return Err(AppError::ClientStopped);
        }
        let now_s = self.now_s();
        let seal = self.prepare_envelope_seal(client, &view, now_s).await?;
        let outcome = self
            .store
            .resend_envelope_seal(EnvelopeSealResend {
                public_id: view.public_id.clone(),
                client_id: client.id,
                seal,
                now_s,
            })
            .await?;
        match outcome {
            EnvelopeResendOutcome::Sent(view) => {
                self.outbox_ready.notify_one();
                Ok(*view)
            }
            EnvelopeResendOutcome::Throttled(too_many) => Err(AppError::Throttled(too_many)),
            EnvelopeResendOutcome::NotAwaiting(view) => Err(AppError::NotAwaitingSeal(format!(
                "this envelope is {} (or its signing certificate changed: open a new one)",
                view.state.as_str()
            ))),
            EnvelopeResendOutcome::NotFound => Err(AppError::UnknownEnvelope),
        }
    }

    /// The client typed a seal for an envelope in the session `session_token_hash`. The
    /// right seal seals it (one write, in which the store finds the session's client and
    /// checks the seal); then, only then, its files are signed, time-stamped and
    /// archived.
    pub async fn confirm_envelope_seal(
        &self,
        client: &ClientRecord,
        public_id: &str,
        session_token_hash: [u8; 32],
        typed: &str,
    ) -> Result<EnvelopeSealResult, AppError> {
        let public_id = envelope_id(public_id)?;
        let typed: Option<Seal> = typed.parse().ok();
        let keys = Arc::clone(&self.keys);
        let check: EnvelopeSealCheck = Box::new(move |view| {
            let (Some(typed), Some(seal), Some(digest)) =
                (&typed, view.seal.as_ref(), view.manifest_sha256)
            else {
                return false;
            };
            let (Ok(input), Ok(digits)) = (
                envelope_seal_input(view, digest, seal.issued_at_s, seal.nonce),
                SealDigits::new(seal.digits),
            ) else {
                return false;
            };
            keys.envelope_seal_matches(&input, digits, typed)
        });
        let outcome = self
            .store
            .type_envelope_seal(TypedEnvelopeSeal {
                public_id: public_id.to_owned(),
                client_id: client.id,
                session_token_hash,
                check,
                now_s: self.now_s(),
            })
            .await?;
        match outcome {
            EnvelopeSealOutcome::Sealed(view) => {
                crate::metrics::seal_verdict("envelope", "right");
                Ok(EnvelopeSealResult::Sealed(Box::new(
                    self.notarize(*view).await?,
                )))
            }
            EnvelopeSealOutcome::Wrong { tries_left, paused } => {
                crate::metrics::seal_verdict("envelope", "wrong");
                tracing::info!(envelope = public_id, tries_left, "wrong envelope seal");
                if let Some(paused) = paused {
                    self.tell_paused(paused).await;
                }
                Ok(EnvelopeSealResult::Wrong { tries_left })
            }
            EnvelopeSealOutcome::Failed { view, paused } => {
                crate::metrics::seal_verdict("envelope", "wrong");
                tracing::info!(envelope = view.id, "envelope failed: wrong seals");
                if let Some(paused) = paused {
                    self.tell_paused(paused).await;
                }
                Ok(EnvelopeSealResult::Failed)
            }
            EnvelopeSealOutcome::Expired => {
                crate::metrics::seal_verdict("envelope", "expired");
                Ok(EnvelopeSealResult::Expired)
            }
            EnvelopeSealOutcome::NotAwaiting(view) => Err(AppError::NotAwaitingSeal(format!(
                "this envelope is {}",
                view.state.as_str()
            ))),
            EnvelopeSealOutcome::NotFound => Err(AppError::UnknownEnvelope),
            EnvelopeSealOutcome::ClientStopped => Err(AppError::ClientStopped),
        }
    }

    /// Notarizes a sealed envelope in a task of its own, so that a caller who goes away
    /// (a request over its time limit) does not stop it halfway.
    ///
    /// One run per envelope at a time in this process (a read while it runs answers the
    /// envelope as it stands, `sealed`), at most [`NOTARIZATIONS_AT_ONCE`] runs at once;
    /// the caller waits at most [`SEAL_WAIT`]. Another instance may run one too: the store
    /// keeps the first to finish, and what the other made expires with the short
    /// retention it was archived under.
    async fn notarize(&self, view: EnvelopeView) -> Result<EnvelopeView, AppError> {
        if view.state != EnvelopeState::Sealed {
            return Ok(view);
        }
        let notary = Arc::clone(self.notary()?);
        if !notary.begin(&view.public_id) {
            return Ok(view);
        }
        let running = Running {
            notary: Arc::clone(&notary),
            public_id: view.public_id.clone(),
        };
        let public_id = view.public_id.clone();
        let service = self.clone();
        let task = tokio::spawn(async move {
            let _running = running;
            let _turn = notary
                .signing
                .acquire()
                .await
                .map_err(|_| internal("notarizing closed"))?;
            service.notarize_now(view).await
        });
        match tokio::time::timeout(SEAL_WAIT, task).await {
            Ok(joined) => joined.map_err(|_| internal("notarizing stopped"))?,
            Err(_) => self
                .store
                .envelope(&public_id)
                .await?
                .ok_or_else(|| internal("envelope vanished")),
        }
    }

    /// Signs, time-stamps and archives a sealed envelope; when something it needs does not
    /// answer (the keystore, the time-stamp authority, the archive), the envelope waits,
    /// sealed, saying why, and is tried again when next read. Nothing is signed without
    /// its time-stamp.
    async fn notarize_now(&self, view: EnvelopeView) -> Result<EnvelopeView, AppError> {
        let notary = Arc::clone(self.notary()?);
        match self.sign_envelope(&notary, &view).await {
            Ok(mut notarized) => {
                // The signer is judged again as the notarization is kept, after the last
                // time-stamp (and in the store's transaction, against a revocation).
                notarized.kept_at_s = self.now_s();
                // The store keeps the files and what was made of them as long as the
                // envelope, in the notarization's own transaction.
                if self.store.notarize_envelope(notarized).await? {
                    tracing::info!(envelope = view.id, "envelope notarized");
                }
            }
            Err(AppError::CertificateNotValid) => {
                self.store
                    .fail_sealed_envelope(&view.public_id, SIGNER_NOT_VALID, self.now_s())
                    .await?;
            }
            Err(error) => {
                tracing::warn!(envelope = view.id, code = error.code(), "envelope waits");
                let why = format!(
                    "the signatures could not be made yet ({}); they are made again when the \
                     envelope is next read",
                    error.code()
                );
                self.store
                    .envelope_waits(&view.public_id, &why, self.now_s())
                    .await?;
            }
        }
        self.store
            .envelope(&view.public_id)
            .await?
            .ok_or_else(|| internal("envelope vanished"))
    }

    /// Every file's signatures and the container, archived.
    async fn sign_envelope(
        &self,
        notary: &Arc<Notary>,
        view: &EnvelopeView,
    ) -> Result<NotarizedEnvelope, AppError> {
        let serial = view
            .signer_serial
            .as_deref()
            .ok_or_else(|| internal("a sealed envelope has no signer"))?;
        // The certificate the seal consented to, read and checked once for everything
        // signed now.
        let signer = self.client_signing_key(view.client_id, serial).await?;
        let now_s = self.now_s();
        let retain_until_s = now_s + notary.settings.retention_s;
        // What is made here is archived for a day, and kept longer only once the store
        // has made it the envelope's.
        let made_until_s = now_s + UNSEALED_KEPT_S;
        // The container first: writing it reads every file, and each file's first bytes
        // say whether it is a PDF, without reading the archive again.
        let (
            asic::Written {
                sink: container,
                manifest: container_manifest,
                signature: container_signature,
            },
            heads,
        ) = self
            .write_container(notary, view, &signer, made_until_s)
            .await?;
        // Each file's signature, their time-stamps with one use of the TSA's key.
        let signatures = self
            .sign_as_clients(
                view.files
                    .iter()
                    .map(|file| (signer.clone(), file.sha256))
                    .collect(),
            )
            .await?;
        if signatures.len() != view.files.len() {
            return Err(internal("a file's signature missing"));
        }
        let mut files = Vec::with_capacity(view.files.len());
        for ((file, head), signature) in view.files.iter().zip(heads).zip(signatures) {
            let signature = signature?;
            let (signed_pdf, pdf_note) = self
                .sign_if_pdf(notary, file, &head, &signer, made_until_s)
                .await?;
            files.push(SignedFile {
                position: file.position,
                signature,
                signed_pdf,
                pdf_note,
            });
        }
        Ok(NotarizedEnvelope {
            public_id: view.public_id.clone(),
            files,
            container,
            container_manifest,
            container_signature,
            retain_until_s,
            now_s,
            kept_at_s: now_s,
        })
    }

    /// A PDF's PAdES-signed copy (PAdES-B-LT: the chain and the CRL in its document
    /// security store), archived; or why a file that claims to be a PDF has none. `head`
    /// is the file's first bytes (up to [`HEAD_BYTES`]).
    async fn sign_if_pdf(
        &self,
        notary: &Notary,
        file: &EnvelopeFileView,
        head: &[u8],
        (key, certificate): &(KeyLabel, Issued),
        retain_until_s: i64,
    ) -> Result<(Option<ArchivedObject>, Option<String>), AppError> {
        if !looks_like_pdf(&file.name, head) {
            return Ok((None, None));
        }
        if file.size > notary.settings.pdf_bytes_max {
            return Ok((
                None,
                Some(format!(
                    "a PDF larger than {} bytes gets the detached signature only",
                    notary.settings.pdf_bytes_max
                )),
            ));
        }
        let pdf = self.archived_bytes(notary, &file.sha256).await?;
        let pki = Arc::clone(self.white_room()?);
        let (key, certificate) = (key.clone(), certificate.clone());
        let crl = self.crl().await?;
        let now_s = self.now_s();
        let signed = crate::white_room::blocking_pki(move || {
            let options = pades::PadesOptions {
                pdf_bytes_max: pdf.len(),
                ..pades::PadesOptions::new(now_s)
            };
            let appended = pades::sign_pdf(&pdf, &options, |digest| {
                sceau_pki::sign_detached_as(
                    Arc::clone(pki.keystore()),
                    &sceau_pki::DetachedSignature {
                        key: &key,
                        certificate: &certificate,
                        chain: &[pki.authority.issuing()],
                        content_digest: digest,
                        signing_time_s: now_s,
                        time_stamp: Some(&pki.tsa),
                    },
                    sceau_pki::Profile::Pades,
                )
            });
            let appended = match appended {
                Ok(appended) => appended,
                Err(pades::PadesError::Signing(error)) => return Ok(Err(Err(error))),
                Err(refused) => return Ok(Err(Ok(refused.to_string()))),
            };
            let mut whole = pdf;
            whole.extend_from_slice(&appended);
            let certificates = [
                certificate.der.as_slice(),
                pki.authority.issuing().der.as_slice(),
                pki.authority.root().der.as_slice(),
                pki.tsa_certificate.der.as_slice(),
            ];
            let crls = [crl.as_slice()];
            let data = pades::ValidationData {
                certificates: &certificates,
                crls: &crls,
            };
            let size_max = whole.len().saturating_mul(2);
            match pades::add_validation_data(&whole, &data, size_max) {
                Ok(more) => whole.extend_from_slice(&more),
                Err(refused) => return Ok(Err(Ok(refused.to_string()))),
            }
            Ok::<_, sceau_pki::PkiError>(Ok(whole))
        })
        .await?;
        let whole = match signed {
            Ok(whole) => whole,
            Err(Ok(note)) => return Ok((None, Some(note))),
            Err(Err(error)) => return Err(crate::white_room::pki_error(error)),
        };
        let object = self.put_bytes(notary, whole, retain_until_s).await?;
        Ok((Some(object), None))
    }

    /// The envelope's ASiC-E container (every file, the manifest of their digests, and
    /// the client's time-stamped signature over it), archived; with the manifest and its
    /// signature, which the envelope keeps for its evidence, and each file's first bytes
    /// (up to [`HEAD_BYTES`]), read on the way.
    async fn write_container(
        &self,
        notary: &Arc<Notary>,
        view: &EnvelopeView,
        (key, certificate): &(KeyLabel, Issued),
        retain_until_s: i64,
    ) -> Result<(asic::Written<ArchivedObject>, Vec<Vec<u8>>), AppError> {
        let pki = Arc::clone(self.white_room()?);
        let (key, certificate) = (key.clone(), certificate.clone());
        let mut readers = Vec::with_capacity(view.files.len());
        for file in &view.files {
            let reader = notary
                .archive
                .get(&file.sha256)
                .await?
                .ok_or(AppError::ArchiveDamaged)?;
            readers.push((file.clone(), reader));
        }
        let now_s = self.now_s();
        let handle = tokio::runtime::Handle::current();
        // A container of small files is written in memory, a larger one to a temporary
        // file (memory never holds more than [`CONTAINER_IN_MEMORY_MAX`] a notarization).
        let small = view.files.iter().map(|file| file.size).sum::<u64>() <= CONTAINER_IN_MEMORY_MAX;
        let (written, heads) = tokio::task::spawn_blocking(move || {
            let sink = if small {
                Sink::Memory(io::Cursor::new(Vec::new()))
            } else {
                Sink::File(tempfile::tempfile().map_err(|_| internal("a temporary file"))?)
            };
            let heads: Vec<Rc<RefCell<Vec<u8>>>> = readers.iter().map(|_| Rc::default()).collect();
            let files = readers
                .into_iter()
                .zip(&heads)
                .map(|((file, reader), head)| asic::ContainerFile {
                    media_type: asic::media_type_for_name(&file.name).to_owned(),
                    name: file.name,
                    content: BlockingReader::new(reader, handle.clone(), Rc::clone(head)),
                    size: file.size,
                    sha256: file.sha256,
                })
                .collect();
            let written = asic::write_container(sink, files, now_s, |digest| {
                sceau_pki::sign_detached(
                    Arc::clone(pki.keystore()),
                    &sceau_pki::DetachedSignature {
                        key: &key,
                        certificate: &certificate,
                        chain: &[pki.authority.issuing()],
                        content_digest: digest,
                        signing_time_s: now_s,
                        time_stamp: Some(&pki.tsa),
                    },
                )
            })
            .map_err(|error| match error {
                // The keystore or the time-stamp authority did not sign: the envelope
                // waits for them, not for a damaged archive.
                asic::AsicError::Signing(source) => {
                    match source.downcast::<sceau_pki::PkiError>() {
                        Ok(error) => crate::white_room::pki_error(*error),
                        Err(other) => {
                            tracing::error!(error = %other, "signing an envelope's container");
                            internal("certificate authority or signing keys")
                        }
                    }
                }
                error => {
                    tracing::warn!(code = error.code(), "an envelope's container failed");
                    AppError::ArchiveDamaged
                }
            })?;
            let heads = heads
                .into_iter()
                .map(Rc::unwrap_or_clone)
                .map(RefCell::into_inner);
            Ok::<_, AppError>((written, heads.collect()))
        })
        .await
        .map_err(|_| internal("the container's writer stopped"))??;
        let container = match written.sink {
            Sink::Memory(bytes) => {
                self.put_bytes(notary, bytes.into_inner(), retain_until_s)
                    .await?
            }
            Sink::File(file) => {
                let file = tokio::fs::File::from_std(file);
                self.put_file(notary, file, retain_until_s).await?
            }
        };
        let written = asic::Written {
            sink: container,
            manifest: written.manifest,
            signature: written.signature,
        };
        Ok((written, heads))
    }

    /// Puts bytes held in memory into the archive.
    async fn put_bytes(
        &self,
        notary: &Notary,
        bytes: Vec<u8>,
        retain_until_s: i64,
    ) -> Result<ArchivedObject, AppError> {
        let size = bytes.len() as u64;
        let stream = futures_util::stream::once(async move { Ok(Bytes::from(bytes)) });
        notary
            .archive
            .put(
                Box::pin(stream),
                Deposit {
                    retain_until_s,
                    now_s: self.now_s(),
                    size_max: size,
                    expected: None,
                },
            )
            .await
            .map_err(archive_failure)
    }

    /// Puts a temporary file (read from its start) into the archive.
    async fn put_file(
        &self,
        notary: &Notary,
        mut file: tokio::fs::File,
        retain_until_s: i64,
    ) -> Result<ArchivedObject, AppError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let size = file
            .seek(io::SeekFrom::End(0))
            .await
            .map_err(|_| internal("a temporary file"))?;
        file.seek(io::SeekFrom::Start(0))
            .await
            .map_err(|_| internal("a temporary file"))?;
        // Pieces of at most 1 MiB, and never larger than what is left to read: a small
        // container is not given a megabyte of zeroes to fill.
        let stream = futures_util::stream::unfold((file, size), |(mut file, left)| async move {
            if left == 0 {
                return None;
            }
            let mut buffer = vec![0_u8; usize::try_from(left.min(1 << 20)).unwrap_or(1 << 20)];
            match file.read(&mut buffer).await {
                Ok(0) => Some((Err(io::ErrorKind::UnexpectedEof.into()), (file, 0))),
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok(Bytes::from(buffer)), (file, left - n as u64)))
                }
                Err(error) => Some((Err(error), (file, 0))),
            }
        });
        notary
            .archive
            .put(
                Box::pin(stream),
                Deposit {
                    retain_until_s,
                    now_s: self.now_s(),
                    size_max: size,
                    expected: None,
                },
            )
            .await
            .map_err(archive_failure)
    }

    /// An archived object whole (a PDF to sign: bounded by the PDF limit).
    async fn archived_bytes(
        &self,
        notary: &Notary,
        sha256: &[u8; 32],
    ) -> Result<Vec<u8>, AppError> {
        let mut reader = notary
            .archive
            .get(sha256)
            .await?
            .ok_or(AppError::ArchiveDamaged)?;
        let mut bytes = Vec::with_capacity(usize::try_from(reader.object().size).unwrap_or(0));
        while let Some(piece) = reader.next().await {
            bytes.extend_from_slice(&piece.map_err(|_| AppError::ArchiveDamaged)?);
        }
        Ok(bytes)
    }

    /// An envelope of `client`'s; a sealed one is notarized first (or says why it waits).
    pub async fn client_envelope(
        &self,
        client: &ClientRecord,
        public_id: &str,
    ) -> Result<EnvelopeView, AppError> {
        let view = self.own_envelope(client, public_id).await?;
        self.notarized_if_sealed(view).await
    }

    /// A client's envelope as they read it: a sealed one (waiting for the time-stamp
    /// authority or the keystore) is notarized first.
    pub(crate) async fn notarized_if_sealed(
        &self,
        view: EnvelopeView,
    ) -> Result<EnvelopeView, AppError> {
        match view.state {
            EnvelopeState::Sealed if self.notary.is_some() => self.notarize(view).await,
            _ => Ok(view),
        }
    }

    /// A client's envelopes, newest first.
    pub async fn client_envelopes(
        &self,
        client: &ClientRecord,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, AppError> {
        Ok(self.store.client_envelopes(client.id, limit).await?)
    }

    /// An archived object of a client's envelope, re-checked as it is read: a file as
    /// received, a signed PDF or the container.
    pub async fn envelope_object(&self, object: ArchivedObject) -> Result<ArchiveReader, AppError> {
        let notary = self.notary()?;
        notary
            .archive
            .get(&object.sha256)
            .await?
            .ok_or(AppError::ArchiveDeleted)
    }

    /// Envelopes past retention (`delete`: their archived content deleted, each deletion
    /// evidence). Content another envelope still keeps is left to it. With `delete`, the
    /// files of envelopes never notarized (refused, expired, abandoned: kept a day past
    /// their station certificate) and the leftovers of uploads that never ended go too.
    pub async fn archive_expired(
        &self,
        delete: bool,
        limit: u32,
    ) -> Result<Vec<EnvelopeView>, AppError> {
        let notary = Arc::clone(self.notary()?);
        let now_s = self.now_s();
        let views = self.store.envelopes_past_retention(now_s, limit).await?;
        if !delete {
            return Ok(views);
        }
        for view in &views {
            let mut objects: Vec<[u8; 32]> = view.files.iter().map(|f| f.sha256).collect();
            objects.extend(
                view.files
                    .iter()
                    .filter_map(|f| f.signed_pdf)
                    .map(|o| o.sha256),
            );
            objects.extend(view.container.map(|o| o.sha256));
            for sha256 in objects {
                // Refused (false) when another envelope extended its retention.
                notary.archive.delete(&sha256, now_s).await?;
            }
            self.store.envelope_deleted(&view.public_id, now_s).await?;
            tracing::info!(envelope = view.id, "envelope deleted after retention");
        }
        // Envelopes left unfinished a day past what they waited for expire, so that
        // their files are no longer "in use" and go below.
        self.store
            .expire_stale_envelopes(now_s, UNSEALED_KEPT_S, limit)
            .await?;
        for entry in notary.archive.past_retention(now_s, limit).await? {
            let sha256 = entry.object.sha256;
            // A sealed envelope waiting for its signatures still needs its files.
            if !self.store.envelope_content_in_use("", sha256).await? {
                notary.archive.delete(&sha256, now_s).await?;
            }
        }
        notary
            .archive
            .sweep_unfinished(now_s - UNSEALED_KEPT_S)
            .await?;
        Ok(views)
    }
}

/// The seal's input for an envelope: its id, client, manifest's SHA-256, time and nonce.
fn envelope_seal_input(
    view: &EnvelopeView,
    manifest_digest: [u8; 32],
    issued_at_s: i64,
    nonce: [u8; 16],
) -> Result<EnvelopeSealInput, AppError> {
    let mut envelope = [0_u8; 16];
    hex::decode_to_slice(&view.public_id, &mut envelope)
        .map_err(|_| internal("stored envelope id"))?;
    Ok(EnvelopeSealInput {
        envelope,
        client_id: view.client_id,
        manifest_digest,
        issued_at_s,
        nonce,
    })
}

fn archive_failure(error: ArchiveError) -> AppError {
    match error {
        ArchiveError::Store(error) => error.into(),
        other => {
            tracing::warn!(code = other.code(), "an archive put failed");
            AppError::ArchiveDamaged
        }
    }
}

/// Where a container is written: memory for small files, a temporary file otherwise.
enum Sink {
    Memory(io::Cursor<Vec<u8>>),
    File(std::fs::File),
}

impl io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Memory(memory) => memory.write(bytes),
            Sink::File(file) => file.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Memory(memory) => memory.flush(),
            Sink::File(file) => file.flush(),
        }
    }
}

impl io::Seek for Sink {
    fn seek(&mut self, position: io::SeekFrom) -> io::Result<u64> {
        match self {
            Sink::Memory(memory) => memory.seek(position),
            Sink::File(file) => file.seek(position),
        }
    }
}

/// An archived object read from a blocking thread (the container's writer reads each
/// file through `std::io::Read`), one piece at a time; its first [`HEAD_BYTES`] are kept
/// in `head` as they go by.
struct BlockingReader {
    stream: ArchiveReader,
    handle: tokio::runtime::Handle,
    piece: Bytes,
    head: Rc<RefCell<Vec<u8>>>,
}

impl BlockingReader {
    fn new(
        stream: ArchiveReader,
        handle: tokio::runtime::Handle,
        head: Rc<RefCell<Vec<u8>>>,
    ) -> BlockingReader {
        BlockingReader {
            stream,
            handle,
            piece: Bytes::new(),
            head,
        }
    }
}

impl io::Read for BlockingReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.piece.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                Some(piece) => self.piece = piece?,
                None => return Ok(0),
            }
        }
        let n = buffer.len().min(self.piece.len());
        buffer[..n].copy_from_slice(&self.piece.split_to(n));
        let mut head = self.head.borrow_mut();
        let wanted = HEAD_BYTES.saturating_sub(head.len()).min(n);
        head.extend_from_slice(&buffer[..wanted]);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            envelope: "0123456789abcdef0123456789abcdef".to_owned(),
            certificate: "5f3a".to_owned(),
            files: vec![FileEntry {
                name: FileName::parse("contrat signé.pdf").unwrap(),
                size: 12,
                sha256: [7; 32],
            }],
            destinations: vec![Destination {
                email: Some("bob@example.org".parse().unwrap()),
                phone: None,
            }],
        }
    }

    #[test]
    fn a_canonical_manifest_parses_to_itself() {
        let text = manifest().canonical().unwrap();
        let parsed = parse_manifest(&text, &EnvelopeLimits::default()).unwrap();
        assert_eq!(parsed, manifest());
    }

    #[test]
    fn anything_but_the_canonical_form_is_refused() {
        let limits = EnvelopeLimits::default();
        let text = manifest().canonical().unwrap();
        let spaced = text.replace(",\"", ", \"");
        let reordered = text
            .replacen("{\"certificate\":\"5f3a\",", "{", 1)
            .replacen("\"v\":1}", "\"v\":1,\"certificate\":\"5f3a\"}", 1);
        for bad in [
            spaced,
            reordered,
            text.replace("\"v\":1", "\"v\":2"),
            text.replace(&"07".repeat(32), &"0A".repeat(32)),
            text.replace("\"size\":12", "\"size\":-1"),
            text.replace("\"size\":12", "\"size\":12.0"),
            text.replace("contrat signé.pdf", "../x"),
            text.replace("}],\"envelope\"", ",\"extra\":1}],\"envelope\""),
            String::new(),
            "[]".to_owned(),
        ] {
            assert!(parse_manifest(&bad, &limits).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_held_to() {
        let mut big = manifest();
        big.files[0].size = 2 << 30;
        let text = big.canonical().unwrap();
        let refused = parse_manifest(&text, &EnvelopeLimits::default()).unwrap_err();
        assert!(refused.contains("larger than"), "{refused}");
    }

    #[test]
    fn pdfs_are_told_by_name_or_by_their_first_bytes() {
        assert!(looks_like_pdf("a.PDF", b""));
        assert!(looks_like_pdf("scan", b"%PDF-1.7\n"));
        assert!(!looks_like_pdf("notes.txt", b"hello"));
    }
}
