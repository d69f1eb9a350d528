//! An envelope for the notary: the files a client sends from a station, what their names
//! may be, who they are for, how many and how large they may be, and the manifest the
//! station signs (see ARCHITECTURE.md, "The notary").
//!
//! The manifest is the envelope as the station saw it: the envelope's id, the disposable
//! certificate the station signs with, each file's name, size and SHA-256 in order, and
//! the destinations. It travels as canonical JSON (RFC 8785: names sorted, no spaces,
//! integers, strings escaped as ECMAScript's `JSON.stringify` escapes them), so that the
//! station's script, which writes it with `JSON.stringify` over keys in order, and the
//! server write the very same bytes; the server accepts only that form.

use crate::email::EmailAddress;
use crate::phone::PhoneNumber;
use crate::text::{TextError, TextRule};
use sceau_log::{Canon, CanonicalError, Object};
use std::fmt;
use unicode_normalization::{IsNormalized, is_nfc_quick};

/// Most bytes of a file's name (UTF-8): what file systems keep.
pub const FILE_NAME_BYTES_MAX: usize = 255;
/// Files per envelope by default.
pub const FILES_MAX_DEFAULT: u32 = 20;
/// Bytes per file by default: 1 GiB.
pub const FILE_BYTES_MAX_DEFAULT: u64 = 1 << 30;
/// Bytes per envelope by default: 2 GiB.
pub const ENVELOPE_BYTES_MAX_DEFAULT: u64 = 2 << 30;
/// The most a setting may raise the files per envelope to.
pub const FILES_MAX_CEILING: u32 = 1_000;
/// Destinations per envelope at most.
pub const DESTINATIONS_MAX: usize = 20;
/// The manifest's format version.
pub const MANIFEST_VERSION: u32 = 1;

/// A file's name, as a client's station gives it and every page, SMS and container shows
/// it: 1 to 255 bytes of UTF-8 in Unicode normalization form C, printable, none of
/// `/`, `\`, a quotation mark or a character that could pass for one (the SMS quotes the
/// first file's name), not `.` or `..`, no space at either end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileName(String);

/// Why a file's name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    #[error("a file's name is empty")]
    Empty,
    #[error("a file's name is longer than {FILE_NAME_BYTES_MAX} bytes")]
    TooLong,
    #[error("a file's name holds a control, invisible or bidirectional formatting character")]
    Unprintable,
    #[error("a file's name holds a quotation mark or a character shown like one")]
    Quote,
    #[error("a file's name holds a / or a \\, or is . or ..")]
    Path,
    #[error("a file's name begins or ends with a space")]
    Spaces,
    #[error("a file's name is not in Unicode normalization form C")]
    NotNormalized,
}

impl FileName {
    pub fn parse(name: &str) -> Result<FileName, FileNameError> {
        if name.is_empty() {
            return Err(FileNameError::Empty);
        }
        if name.len() > FILE_NAME_BYTES_MAX {
            return Err(FileNameError::TooLong);
        }
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(FileNameError::Path);
        }
        if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
            return Err(FileNameError::Spaces);
        }
        if is_nfc_quick(name.chars()) != IsNormalized::Yes && !unicode_normalization::is_nfc(name) {
            return Err(FileNameError::NotNormalized);
        }
        match TextRule::quoted(FILE_NAME_BYTES_MAX).check(name) {
            Ok(()) => Ok(FileName(name.to_owned())),
            Err(TextError::Unprintable) => Err(FileNameError::Unprintable),
            Err(TextError::Quote) => Err(FileNameError::Quote),
            Err(TextError::Empty) => Err(FileNameError::Empty),
            Err(TextError::TooLong { .. }) => Err(FileNameError::TooLong),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One file of an envelope, as the manifest states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: FileName,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// Someone the envelope is for: reached by e-mail, by phone, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
}

/// How many files and bytes an envelope may hold (settings, with defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeLimits {
    pub files_max: u32,
    pub file_bytes_max: u64,
    pub envelope_bytes_max: u64,
}

impl Default for EnvelopeLimits {
    fn default() -> EnvelopeLimits {
        EnvelopeLimits {
            files_max: FILES_MAX_DEFAULT,
            file_bytes_max: FILE_BYTES_MAX_DEFAULT,
            envelope_bytes_max: ENVELOPE_BYTES_MAX_DEFAULT,
        }
    }
}

/// Why an envelope's contents are refused, before any byte of a file is taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("an envelope holds at least one file")]
    NoFile,
    #[error("an envelope holds at most {files_max} files")]
    TooManyFiles { files_max: u32 },
    #[error("file {index} is larger than {file_bytes_max} bytes")]
    FileTooLarge { index: usize, file_bytes_max: u64 },
    #[error("the files together are larger than {envelope_bytes_max} bytes")]
    EnvelopeTooLarge { envelope_bytes_max: u64 },
    #[error("two files are named {0:?}")]
    NameTwice(String),
    #[error("an envelope has at most {DESTINATIONS_MAX} destinations")]
    TooManyDestinations,
    #[error("destination {index} has neither an e-mail address nor a phone number")]
    EmptyDestination { index: usize },
}

impl EnvelopeLimits {
    /// Limits as an operator sets them: each at least 1, files at most
    /// [`FILES_MAX_CEILING`], and an envelope at least as large as one file may be.
    pub fn new(
        files_max: u32,
        file_bytes_max: u64,
        envelope_bytes_max: u64,
    ) -> Result<EnvelopeLimits, &'static str> {
        if !(1..=FILES_MAX_CEILING).contains(&files_max) {
            return Err("files per envelope must be 1 to 1000");
        }
        if file_bytes_max == 0 || envelope_bytes_max < file_bytes_max {
            return Err(
                "bytes per file must be at least 1, and bytes per envelope at least as many",
            );
        }
        Ok(EnvelopeLimits {
            files_max,
            file_bytes_max,
            envelope_bytes_max,
        })
    }

    /// Whether files of these names and sizes, for these destinations, fit: at least one
    /// file, no name twice, within every limit (empty files are fine).
    pub fn check(
        &self,
        files: &[(&FileName, u64)],
        destinations: &[Destination],
    ) -> Result<(), EnvelopeError> {
        if files.is_empty() {
            return Err(EnvelopeError::NoFile);
        }
        if files.len() > self.files_max as usize {
            return Err(EnvelopeError::TooManyFiles {
                files_max: self.files_max,
            });
        }
        let mut total: u64 = 0;
        let mut seen = std::collections::BTreeSet::new();
        for (index, (name, size)) in files.iter().enumerate() {
            if *size > self.file_bytes_max {
                return Err(EnvelopeError::FileTooLarge {
                    index,
                    file_bytes_max: self.file_bytes_max,
                });
            }
            total = total.saturating_add(*size);
            if !seen.insert(name.as_str()) {
                return Err(EnvelopeError::NameTwice(name.as_str().to_owned()));
            }
        }
        if total > self.envelope_bytes_max {
            return Err(EnvelopeError::EnvelopeTooLarge {
                envelope_bytes_max: self.envelope_bytes_max,
            });
        }
        check_destinations(destinations)
    }
}

fn check_destinations(destinations: &[Destination]) -> Result<(), EnvelopeError> {
    if destinations.len() > DESTINATIONS_MAX {
        return Err(EnvelopeError::TooManyDestinations);
    }
    match destinations
        .iter()
        .position(|d| d.email.is_none() && d.phone.is_none())
    {
        Some(index) => Err(EnvelopeError::EmptyDestination { index }),
        None => Ok(()),
    }
}

/// What the station signs: the envelope as it saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The envelope's public id.
    pub envelope: String,
    /// The disposable certificate's serial, in lower-case hex.
    pub certificate: String,
    pub files: Vec<FileEntry>,
    pub destinations: Vec<Destination>,
}

impl Manifest {
    /// The manifest's canonical JSON (RFC 8785, written by `sceau_log::canonical`, as the
    /// evidence records are): the only form the server accepts, and the bytes the
    /// station's signature covers. Refused only for a size no JSON number holds exactly
    /// (above 2^53 bytes), which no station could have written.
    pub fn canonical(&self) -> Result<String, CanonicalError> {
        let files: Vec<Canon> = self
            .files
            .iter()
            .map(|file| {
                let digest: String = file.sha256.iter().map(|b| format!("{b:02x}")).collect();
                let size = i64::try_from(file.size).unwrap_or(i64::MAX);
                Object::from_members(vec![
                    ("name", file.name.as_str().into()),
                    ("sha256", digest.into()),
                    ("size", size.into()),
                ])
                .into()
            })
            .collect();
        let destinations: Vec<Canon> = self.destinations.iter().map(destination).collect();
        let manifest = Object::from_members(vec![
            ("certificate", self.certificate.as_str().into()),
            ("destinations", destinations.into()),
            ("envelope", self.envelope.as_str().into()),
            ("files", files.into()),
            ("v", MANIFEST_VERSION.into()),
        ]);
        let bytes = manifest.canonical()?;
        // The writer writes only UTF-8 (the strings it was given, and ASCII).
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn destination(destination: &Destination) -> Canon {
    let mut object = Object::default();
    if let Some(email) = &destination.email {
        object.insert("email", email.as_str());
    }
    if let Some(phone) = &destination.phone {
        object.insert("phone", phone.as_str());
    }
    object.into()
}

// -- the seal's SMS -------------------------------------------------------------------------

/// What the seal's SMS says of an envelope, so that the client knows what they sign and
/// for whom before typing the seal.
#[derive(Debug, Clone, Copy)]
pub struct SealText<'a> {
    pub issuer: &'a str,
    pub files: usize,
    pub first_name: &'a FileName,
    pub first_sha256: &'a [u8; 32],
    /// The first destination's address as given (an e-mail address or a phone number),
    /// and how many there are.
    pub first_destination: Option<&'a str>,
    pub destinations: usize,
    pub seal: &'a str,
    /// When the seal stops being any use, as people read it ("14:05 UTC").
    pub until: &'a str,
}

/// The seal's SMS: what is fixed comes first (the number of files, the destination, the
/// first file's digest), the first file's name last but one, between quotation marks
/// (names hold none, nor anything shown like one), shortened with "..." inside the quotes
/// (three full stops: GSM 03.38 has no ellipsis, which would turn the whole text into
/// UCS-2 and halve what one SMS holds)
/// until the text `fits` (one SMS, as the channel counts it), never below one character;
/// nothing else is ever shortened, so a long name cannot push the digest, the destination
/// or the seal out of sight, and a shortened name says so.
pub fn seal_text(text: &SealText<'_>, fits: impl Fn(&str) -> bool) -> String {
    let name: Vec<char> = text.first_name.as_str().chars().collect();
    let mut shown = name.len();
    loop {
        let written = write_seal_text(text, &name, shown);
        if shown <= 1 || fits(&written) {
            return written;
        }
        shown -= 1;
    }
}

fn write_seal_text(text: &SealText<'_>, name: &[char], shown: usize) -> String {
    let files = match text.files {
        1 => "1 file".to_owned(),
        n => format!("{n} files"),
    };
    let destination = match (text.first_destination, text.destinations) {
        (Some(first), 1) => format!(" for {first}"),
        (Some(first), n) => format!(" for {first} (+{} more)", n - 1),
        (None, _) => String::new(),
    };
    let which = if text.files == 1 { "it" } else { "the first" };
    let digest: String = text.first_sha256[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let mut quoted: String = name[..shown.min(name.len())].iter().collect();
    if shown < name.len() {
        quoted.push_str("...");
    }
    format!(
        "{issuer}: to sign {files}{destination} ({which} of SHA-256 {digest}..., named \"{quoted}\"), \
         your seal is {seal}, until {until}.",
        issuer = text.issuer,
        seal = text.seal,
        until = text.until,
    )
}

// -- the life of an envelope -------------------------------------------------------------

/// Where an envelope stands.
///
/// `Open → Receiving → AwaitingSeal → Sealed → Notarized`; from `Open` or `Receiving`,
/// `Refused` (a mismatch: nothing of it is kept but the reason) or `Expired` (the
/// disposable certificate's time passed first); from `AwaitingSeal`, `Failed` (three wrong
/// seals) or `Expired` (the seal's time passed and no new one was asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeState {
    /// A disposable certificate was issued for the station's key; the signed manifest is
    /// awaited.
    Open,
    /// The manifest is accepted; its files are arriving.
    Receiving,
    /// Every file arrived whole; the disposable certificate is used and revoked; the seal
    /// was sent to the client's phone.
    AwaitingSeal,
    /// The right seal was typed: the files are being signed, time-stamped and archived
    /// (or wait for the time-stamp authority).
    Sealed,
    /// Signed, time-stamped and archived.
    Notarized,
    Refused,
    Failed,
    Expired,
}

impl EnvelopeState {
    const ALL: [EnvelopeState; 8] = [
        EnvelopeState::Open,
        EnvelopeState::Receiving,
        EnvelopeState::AwaitingSeal,
        EnvelopeState::Sealed,
        EnvelopeState::Notarized,
        EnvelopeState::Refused,
        EnvelopeState::Failed,
        EnvelopeState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeState::Open => "open",
            EnvelopeState::Receiving => "receiving",
            EnvelopeState::AwaitingSeal => "awaiting_seal",
            EnvelopeState::Sealed => "sealed",
            EnvelopeState::Notarized => "notarized",
            EnvelopeState::Refused => "refused",
            EnvelopeState::Failed => "failed",
            EnvelopeState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<EnvelopeState> {
        EnvelopeState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }

    /// Whether the envelope is over: nothing more happens to it.
    pub fn ended(self) -> bool {
        matches!(
            self,
            EnvelopeState::Notarized
                | EnvelopeState::Refused
                | EnvelopeState::Failed
                | EnvelopeState::Expired
        )
    }
}

/// Why an envelope was refused: kept as its evidence (ETSI EN 319 522's
/// SubmissionRejection) and answered with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The manifest does not name this envelope or its disposable certificate.
    ManifestNotForThisEnvelope,
    /// The manifest is not in canonical form, or breaks a rule of names or limits.
    ManifestInvalid,
    /// The manifest's signature does not verify with the disposable certificate.
    ManifestSignatureInvalid,
    /// The disposable certificate was revoked or already used.
    CertificateUnusable,
    /// File `index` arrived with another size than the manifest states.
    SizeMismatch { index: usize },
    /// File `index` arrived with another SHA-256 than the manifest states.
    DigestMismatch { index: usize },
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::ManifestNotForThisEnvelope => "manifest_not_for_this_envelope",
            Refusal::ManifestInvalid => "manifest_invalid",
            Refusal::ManifestSignatureInvalid => "manifest_signature_invalid",
            Refusal::CertificateUnusable => "certificate_unusable",
            Refusal::SizeMismatch { .. } => "file_size_mismatch",
            Refusal::DigestMismatch { .. } => "file_digest_mismatch",
        }
    }
}

/// An envelope as its rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    pub client_id: i64,
    pub state: EnvelopeState,
    /// The end of the disposable certificate's life: the manifest and the files must
    /// all be in before it.
    pub certificate_expires_at_s: i64,
}

/// What a signed manifest does to an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestPlan {
    /// No such envelope, or not this client's: nothing is written, nothing said of which.
    NotFound,
    /// The envelope no longer waits for a manifest: nothing is written.
    NotOpen,
    /// The disposable certificate's time passed: the envelope expires.
    Expire,
    /// The manifest is refused: the envelope is refused with the reason.
    Refuse(Refusal),
    /// The manifest is accepted: its files are awaited.
    Accept,
}

/// What the use case found of a manifest (before the store's transaction): its form and
/// signature, and whether it names this envelope and its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestCheck {
    /// Canonical, every name and limit kept.
    pub valid: bool,
    pub names_this_envelope: bool,
    pub signature_verifies: bool,
    /// The disposable certificate is neither revoked nor used.
    pub certificate_usable: bool,
}

/// What a signed manifest does to `envelope` for the client `client_id` at `now_s`.
pub fn on_manifest(
    envelope: Option<&Envelope>,
    client_id: i64,
    check: &ManifestCheck,
    now_s: i64,
) -> ManifestPlan {
    let Some(envelope) = envelope.filter(|e| e.client_id == client_id) else {
        return ManifestPlan::NotFound;
    };
    if envelope.state != EnvelopeState::Open {
        return ManifestPlan::NotOpen;
    }
    if now_s >= envelope.certificate_expires_at_s {
        return ManifestPlan::Expire;
    }
    let refusal = if !check.certificate_usable {
        Some(Refusal::CertificateUnusable)
    } else if !check.valid {
        Some(Refusal::ManifestInvalid)
    } else if !check.names_this_envelope {
        Some(Refusal::ManifestNotForThisEnvelope)
    } else if !check.signature_verifies {
        Some(Refusal::ManifestSignatureInvalid)
    } else {
        None
    };
    match refusal {
        Some(refusal) => ManifestPlan::Refuse(refusal),
        None => ManifestPlan::Accept,
    }
}

/// One file as it arrived: its size and SHA-256, computed while it streamed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub index: usize,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// What a file's arrival does to an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePlan {
    NotFound,
    /// The envelope does not take files now (no manifest yet, or all are in, or over).
    NotReceiving,
    /// The manifest has no file of this index.
    NoSuchFile,
    /// This file arrived already: the new copy is thrown away.
    AlreadyReceived,
    /// The disposable certificate's time passed: the envelope expires.
    Expire,
    /// Not the file the manifest states: the envelope is refused.
    Refuse(Refusal),
    /// Kept; `last`: every file is in (the certificate's one use, the seal).
    Keep {
        last: bool,
    },
}

/// What the arrival of a file does, given the manifest's entries and which of them are
/// in already.
pub fn on_file(
    envelope: Option<&Envelope>,
    client_id: i64,
    entries: &[FileEntry],
    received: &[bool],
    arrival: &Arrival,
    now_s: i64,
) -> FilePlan {
    let Some(envelope) = envelope.filter(|e| e.client_id == client_id) else {
        return FilePlan::NotFound;
    };
    if envelope.state != EnvelopeState::Receiving {
        return FilePlan::NotReceiving;
    }
    let Some(entry) = entries.get(arrival.index) else {
        return FilePlan::NoSuchFile;
    };
    if received.get(arrival.index).copied().unwrap_or(false) {
        return FilePlan::AlreadyReceived;
    }
    if now_s >= envelope.certificate_expires_at_s {
        return FilePlan::Expire;
    }
    if arrival.size != entry.size {
        return FilePlan::Refuse(Refusal::SizeMismatch {
            index: arrival.index,
        });
    }
    if arrival.sha256 != entry.sha256 {
        return FilePlan::Refuse(Refusal::DigestMismatch {
            index: arrival.index,
        });
    }
    let others_in = received
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != arrival.index)
        .all(|(_, in_already)| *in_already);
    FilePlan::Keep {
        last: others_in && received.len() == entries.len(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn name(text: &str) -> FileName {
        FileName::parse(text).unwrap()
    }

    #[test]
    fn ordinary_names_are_taken_as_given() {
        for text in [
            "contrat.pdf",
            "résumé été 2026.txt",
            "l'acte n°12 (copie).pdf",
            "報告書.docx",
            "Отчёт.odt",
            "データ.xlsx",
            "佐々木.pdf",
            "山田・報告.odt",
            ".profile",
            "a",
            "0-byte file",
        ] {
            assert_eq!(name(text).as_str(), text);
        }
        let longest = "é".repeat(127) + "x";
        assert_eq!(longest.len(), FILE_NAME_BYTES_MAX);
        assert!(FileName::parse(&longest).is_ok());
    }

    #[test]
    fn names_that_are_paths_lie_or_hide_are_refused() {
        use FileNameError::*;
        let cases: &[(&str, FileNameError)] = &[
            ("", Empty),
            ("../etc/passwd", Path),
            ("a/b.pdf", Path),
            ("a\\b.pdf", Path),
            ("..", Path),
            (".", Path),
            ("new\nline.pdf", Unprintable),
            ("nul\0.pdf", Unprintable),
            ("evil\u{202E}fdp.exe", Unprintable),
            ("zero\u{200B}width.pdf", Unprintable),
            ("say \"yes\".pdf", Quote),
            ("say \u{201C}yes\u{201D}.pdf", Quote),
            (" leading.pdf", Spaces),
            ("trailing.pdf ", Spaces),
            // "é" as e and a combining acute accent: not NFC (the station normalizes).
            ("re\u{0301}sume\u{0301}.pdf", NotNormalized),
        ];
        for (text, expected) in cases {
            assert_eq!(FileName::parse(text), Err(*expected), "{text:?}");
        }
        let long = "x".repeat(FILE_NAME_BYTES_MAX + 1);
        assert_eq!(FileName::parse(&long), Err(TooLong));
        let long = "é".repeat(150);
        assert_eq!(FileName::parse(&long), Err(TooLong));
    }

    #[test]
    fn a_name_not_in_form_c_is_refused_even_where_its_marks_are_allowed() {
        // Devanagari: the nukta (U+093C) after KA composes only in NFD-decomposed text;
        // U+0958 decomposes to KA + NUKTA and is excluded from composition, so KA + NUKTA
        // is NFC. A Hangul syllable written as its jamo is not NFC.
        assert!(FileName::parse("\u{0915}\u{093C}.txt").is_ok());
        assert_eq!(
            FileName::parse("\u{1100}\u{1161}.txt"),
            Err(FileNameError::NotNormalized)
        );
        assert!(FileName::parse("\u{AC00}.txt").is_ok());
    }

    fn destination(email: Option<&str>, phone: Option<&str>) -> Destination {
        Destination {
            email: email.map(|e| e.parse().unwrap()),
            phone: phone.map(|p| p.parse().unwrap()),
        }
    }

    #[test]
    fn limits_count_files_bytes_names_and_destinations() {
        let limits = EnvelopeLimits::new(3, 100, 150).unwrap();
        let (a, b, c, d) = (name("a"), name("b"), name("c"), name("d"));
        assert_eq!(limits.check(&[], &[]), Err(EnvelopeError::NoFile));
        assert_eq!(
            limits.check(&[(&a, 0)], &[]),
            Ok(()),
            "an empty file is fine"
        );
        assert_eq!(
            limits.check(&[(&a, 1), (&b, 1), (&c, 1), (&d, 1)], &[]),
            Err(EnvelopeError::TooManyFiles { files_max: 3 })
        );
        assert_eq!(
            limits.check(&[(&a, 1), (&b, 101)], &[]),
            Err(EnvelopeError::FileTooLarge {
                index: 1,
                file_bytes_max: 100
            })
        );
        assert_eq!(
            limits.check(&[(&a, 100), (&b, 50)], &[]),
            Ok(()),
            "exactly the envelope's limit"
        );
        assert_eq!(
            limits.check(&[(&a, 100), (&b, 51)], &[]),
            Err(EnvelopeError::EnvelopeTooLarge {
                envelope_bytes_max: 150
            })
        );
        assert_eq!(
            limits.check(&[(&a, 1), (&a, 1)], &[]),
            Err(EnvelopeError::NameTwice("a".into()))
        );
        let someone = destination(Some("bob@example.org"), None);
        assert_eq!(
            limits.check(&[(&a, 1)], std::slice::from_ref(&someone)),
            Ok(())
        );
        assert_eq!(
            limits.check(&[(&a, 1)], &[someone.clone(), destination(None, None)]),
            Err(EnvelopeError::EmptyDestination { index: 1 })
        );
        let many = vec![someone; DESTINATIONS_MAX + 1];
        assert_eq!(
            limits.check(&[(&a, 1)], &many),
            Err(EnvelopeError::TooManyDestinations)
        );
    }

    #[test]
    fn limits_an_operator_sets_are_checked() {
        assert!(EnvelopeLimits::new(0, 1, 1).is_err());
        assert!(EnvelopeLimits::new(FILES_MAX_CEILING + 1, 1, 1).is_err());
        assert!(EnvelopeLimits::new(1, 0, 0).is_err());
        assert!(EnvelopeLimits::new(1, 10, 9).is_err());
        assert!(EnvelopeLimits::new(1, 10, 10).is_ok());
        let defaults = EnvelopeLimits::default();
        assert_eq!(
            EnvelopeLimits::new(
                defaults.files_max,
                defaults.file_bytes_max,
                defaults.envelope_bytes_max
            ),
            Ok(defaults)
        );
    }

    /// The canonical form, written out by hand: names sorted at every level, no spaces,
    /// digests in lower-case hex, non-ASCII as itself.
    #[test]
    fn the_manifest_is_written_in_canonical_json() {
        let manifest = Manifest {
            envelope: "env_7Qx".into(),
            certificate: "0a1b".into(),
            files: vec![
                FileEntry {
                    name: name("résumé.pdf"),
                    size: 3,
                    sha256: [0xab; 32],
                },
                FileEntry {
                    name: name("empty"),
                    size: 0,
                    sha256: [0; 32],
                },
            ],
            destinations: vec![
                destination(Some("bob@example.org"), Some("+33612345678")),
                destination(None, Some("+33687654321")),
            ],
        };
        let expected = format!(
            "{{\"certificate\":\"0a1b\",\"destinations\":[{{\"email\":\"bob@example.org\",\
             \"phone\":\"+33612345678\"}},{{\"phone\":\"+33687654321\"}}],\"envelope\":\"env_7Qx\",\
             \"files\":[{{\"name\":\"résumé.pdf\",\"sha256\":\"{}\",\"size\":3}},\
             {{\"name\":\"empty\",\"sha256\":\"{}\",\"size\":0}}],\"v\":1}}",
            "ab".repeat(32),
            "00".repeat(32)
        );
        assert_eq!(manifest.canonical().unwrap(), expected);
    }

    /// Names are escaped as `JSON.stringify` escapes them (RFC 8785), and a size no JSON
    /// number holds exactly is refused rather than written.
    #[test]
    fn the_manifest_escapes_as_json_stringify_and_refuses_inexact_sizes() {
        let mut manifest = Manifest {
            envelope: "env_\"q\"\\".into(),
            certificate: "0a".into(),
            files: vec![FileEntry {
                name: name("a.pdf"),
                size: 1 << 53,
                sha256: [0; 32],
            }],
            destinations: vec![],
        };
        let text = manifest.canonical().unwrap();
        assert!(
            text.contains("\"envelope\":\"env_\\\"q\\\"\\\\\""),
            "{text}"
        );
        assert!(text.contains("\"size\":9007199254740992"), "{text}");
        manifest.files[0].size = (1 << 53) + 1;
        assert!(manifest.canonical().is_err());
        manifest.files[0].size = u64::MAX;
        assert!(manifest.canonical().is_err());
    }

    // -- the life of an envelope --

    const NOW: i64 = 1_000_000;
    const CLIENT: i64 = 9;

    fn envelope(state: EnvelopeState) -> Envelope {
        Envelope {
            client_id: CLIENT,
            state,
            certificate_expires_at_s: NOW + 600,
        }
    }

    const GOOD: ManifestCheck = ManifestCheck {
        valid: true,
        names_this_envelope: true,
        signature_verifies: true,
        certificate_usable: true,
    };

    #[test]
    fn states_round_trip_through_their_text_and_say_when_they_end() {
        for state in EnvelopeState::ALL {
            assert_eq!(EnvelopeState::parse(state.as_str()), Some(state));
        }
        assert_eq!(EnvelopeState::parse("signed"), None);
        let ended: Vec<_> = EnvelopeState::ALL
            .into_iter()
            .filter(|state| state.ended())
            .collect();
        assert_eq!(
            ended,
            [
                EnvelopeState::Notarized,
                EnvelopeState::Refused,
                EnvelopeState::Failed,
                EnvelopeState::Expired
            ]
        );
    }

    #[test]
    fn a_manifest_is_accepted_only_whole_in_time_and_for_its_envelope() {
        let open = envelope(EnvelopeState::Open);
        assert_eq!(
            on_manifest(Some(&open), CLIENT, &GOOD, NOW),
            ManifestPlan::Accept
        );
        assert_eq!(
            on_manifest(None, CLIENT, &GOOD, NOW),
            ManifestPlan::NotFound
        );
        assert_eq!(
            on_manifest(Some(&open), CLIENT + 1, &GOOD, NOW),
            ManifestPlan::NotFound,
            "another client's envelope is not found"
        );
        for state in EnvelopeState::ALL
            .into_iter()
            .filter(|s| *s != EnvelopeState::Open)
        {
            let plan = on_manifest(Some(&envelope(state)), CLIENT, &GOOD, NOW);
            assert_eq!(plan, ManifestPlan::NotOpen, "{state:?}");
        }
        assert_eq!(
            on_manifest(Some(&open), CLIENT, &GOOD, NOW + 600),
            ManifestPlan::Expire
        );
        let refused = |check: ManifestCheck| on_manifest(Some(&open), CLIENT, &check, NOW);
        let cases = [
            (
                ManifestCheck {
                    certificate_usable: false,
                    ..GOOD
                },
                Refusal::CertificateUnusable,
            ),
            (
                ManifestCheck {
                    valid: false,
                    ..GOOD
                },
                Refusal::ManifestInvalid,
            ),
            (
                ManifestCheck {
                    names_this_envelope: false,
                    ..GOOD
                },
                Refusal::ManifestNotForThisEnvelope,
            ),
            (
                ManifestCheck {
                    signature_verifies: false,
                    ..GOOD
                },
                Refusal::ManifestSignatureInvalid,
            ),
        ];
        for (check, refusal) in cases {
            assert_eq!(refused(check), ManifestPlan::Refuse(refusal));
        }
    }

    fn entries() -> Vec<FileEntry> {
        (0..3_u8)
            .map(|n| FileEntry {
                name: name(&format!("file {n}")),
                size: u64::from(n) * 10,
                sha256: [n; 32],
            })
            .collect()
    }

    fn arrival(index: usize) -> Arrival {
        Arrival {
            index,
            size: index as u64 * 10,
            sha256: [index as u8; 32],
        }
    }

    #[test]
    fn files_are_kept_only_as_the_manifest_states_them_and_the_last_one_says_so() {
        let receiving = envelope(EnvelopeState::Receiving);
        let entries = entries();
        let plan = |received: &[bool], arrival: &Arrival| {
            on_file(Some(&receiving), CLIENT, &entries, received, arrival, NOW)
        };
        assert_eq!(
            plan(&[false; 3], &arrival(0)),
            FilePlan::Keep { last: false }
        );
        assert_eq!(
            plan(&[true, false, true], &arrival(1)),
            FilePlan::Keep { last: true }
        );
        assert_eq!(
            plan(&[true, false, false], &arrival(0)),
            FilePlan::AlreadyReceived
        );
        assert_eq!(plan(&[false; 3], &arrival(3)), FilePlan::NoSuchFile);
        let longer = Arrival {
            size: 11,
            ..arrival(1)
        };
        assert_eq!(
            plan(&[false; 3], &longer),
            FilePlan::Refuse(Refusal::SizeMismatch { index: 1 })
        );
        let changed = Arrival {
            sha256: [7; 32],
            ..arrival(2)
        };
        assert_eq!(
            plan(&[false; 3], &changed),
            FilePlan::Refuse(Refusal::DigestMismatch { index: 2 })
        );
        assert_eq!(
            on_file(
                Some(&receiving),
                CLIENT,
                &entries,
                &[false; 3],
                &arrival(0),
                NOW + 600
            ),
            FilePlan::Expire
        );
        assert_eq!(
            on_file(
                Some(&receiving),
                CLIENT + 1,
                &entries,
                &[false; 3],
                &arrival(0),
                NOW
            ),
            FilePlan::NotFound
        );
        for state in [
            EnvelopeState::Open,
            EnvelopeState::AwaitingSeal,
            EnvelopeState::Refused,
        ] {
            let other = envelope(state);
            assert_eq!(
                on_file(
                    Some(&other),
                    CLIENT,
                    &entries,
                    &[false; 3],
                    &arrival(0),
                    NOW
                ),
                FilePlan::NotReceiving,
                "{state:?}"
            );
        }
    }

    #[test]
    fn refusals_have_stable_distinct_codes() {
        let all = [
            Refusal::ManifestNotForThisEnvelope,
            Refusal::ManifestInvalid,
            Refusal::ManifestSignatureInvalid,
            Refusal::CertificateUnusable,
            Refusal::SizeMismatch { index: 0 },
            Refusal::DigestMismatch { index: 0 },
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(
            Refusal::DigestMismatch { index: 4 }.code(),
            "file_digest_mismatch"
        );
    }

    // -- the seal's SMS --

    fn seal_sms(name: &FileName, files: usize, destinations: usize) -> SealText<'_> {
        SealText {
            issuer: "Banque",
            files,
            first_name: name,
            first_sha256: &[0x3f; 32],
            first_destination: (destinations > 0).then_some("bob@example.org"),
            destinations,
            seal: "12345678",
            until: "14:05 UTC",
        }
    }

    #[test]
    fn the_seal_s_sms_says_what_is_signed_and_for_whom() {
        let contract = name("contrat.pdf");
        let one = seal_text(&seal_sms(&contract, 1, 1), |_| true);
        assert_eq!(
            one,
            "Banque: to sign 1 file for bob@example.org (it of SHA-256 3f3f3f3f..., named \
             \"contrat.pdf\"), your seal is 12345678, until 14:05 UTC."
        );
        let many = seal_text(&seal_sms(&contract, 3, 2), |_| true);
        assert!(
            many.starts_with("Banque: to sign 3 files for bob@example.org (+1 more) (the first of"),
            "{many}"
        );
        let alone = seal_text(&seal_sms(&contract, 2, 0), |_| true);
        assert!(
            alone.starts_with("Banque: to sign 2 files (the first of"),
            "{alone}"
        );
    }

    /// A long name is shortened inside its quotes, with "...", until the text fits; the
    /// digest, the destination and the seal are always whole.
    #[test]
    fn a_long_name_is_shortened_and_nothing_else_is() {
        let long = name(&format!("{}.pdf", "rapport annuel ".repeat(12).trim_end()));
        let fits = |text: &str| text.chars().count() <= 160;
        let text = seal_text(&seal_sms(&long, 1, 1), fits);
        assert!(fits(&text), "{text}");
        assert!(text.contains("...\""), "{text}");
        for whole in ["bob@example.org", "3f3f3f3f", "12345678", "14:05 UTC"] {
            assert!(text.contains(whole), "{whole}: {text}");
        }
        // The shown part is the name's beginning.
        let start = text.find("named \"").unwrap() + "named \"".len();
        let shown = text[start..].split("...\"").next().unwrap().to_owned();
        assert!(long.as_str().starts_with(&shown), "{shown}");
        assert!(shown.chars().count() > 10, "{text}");
        // Nothing fits: one character of the name is kept, the rest as it is.
        let tiny = seal_text(&seal_sms(&long, 1, 1), |_| false);
        assert!(tiny.contains("named \"r...\""), "{tiny}");
        assert!(tiny.contains("12345678") && tiny.contains("bob@example.org"));
    }
}
