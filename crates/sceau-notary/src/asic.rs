//! The ASiC-E container of an envelope (ETSI EN 319 162-1, ASiC Extended with CAdES): one
//! ZIP file that holds the envelope's files and one detached CMS signature over a
//! manifest of their SHA-256 digests, so that anyone can check the whole envelope with
//! `unzip` and `openssl cms -verify`.
//!
//! The layout written, in this order:
//! - `mimetype`: first, STORED, no extra field, exactly [`MIMETYPE`] (so that the first
//!   bytes of the file say what it is, as the standard wants);
//! - the files, under the names given, STORED: signed documents are mostly compressed
//!   already (PDF, images, office files), files reach 256 MiB and more and are written on
//!   the signing path, and a stored entry keeps the file's bytes as they are in the
//!   container;
//! - `META-INF/ASiCManifest.xml`: one `DataObjectReference` per file (its URI, its media
//!   type, its SHA-256);
//! - `META-INF/signature.p7s`: the caller's detached CMS over the SHA-256 of the exact
//!   manifest bytes written.
//!
//! Files stream through a fixed buffer, re-hashed on the way: nothing holds a whole file
//! in memory. The manifest and the signature are held whole (small, and bounded when
//! read: [`MANIFEST_BYTES_MAX`], [`SIGNATURE_BYTES_MAX`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// The content of the `mimetype` entry of an ASiC-E container.
pub const MIMETYPE: &str = "application/vnd.etsi.asic-e+zip";
/// The name of the first entry.
pub const MIMETYPE_NAME: &str = "mimetype";
/// Where the manifest is.
pub const MANIFEST_NAME: &str = "META-INF/ASiCManifest.xml";
/// Where the signature over the manifest is.
pub const SIGNATURE_NAME: &str = "META-INF/signature.p7s";
/// The media type of [`SIGNATURE_NAME`].
pub const SIGNATURE_MEDIA_TYPE: &str = "application/pkcs7-signature";
/// The ASiC namespace (ETSI EN 319 162-1, v1.2.1 schema).
pub const ASIC_NAMESPACE: &str = "http://uri.etsi.org/02918/v1.2.1#";
/// The XML Signature namespace of `DigestMethod` and `DigestValue`.
pub const DS_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";
/// SHA-256 as XML Encryption names it.
pub const SHA256_ALGORITHM: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Files in one container, at most.
pub const FILES_MAX: usize = 10_000;
/// Bytes of one file's name in the container, at most.
pub const NAME_BYTES_MAX: usize = 1_024;
/// Bytes of a media type, at most.
pub const MEDIA_TYPE_BYTES_MAX: usize = 255;
/// Bytes of a manifest read back, at most (10 000 references of long names fit).
pub const MANIFEST_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Bytes of a signature read back, at most (a CMS with its chain and time-stamp is a few
/// KiB).
pub const SIGNATURE_BYTES_MAX: u64 = 1024 * 1024;
/// Nesting of XML elements in a manifest, at most (this shape needs 3).
const XML_DEPTH_MAX: usize = 8;
/// Bytes moved at a time between a file and the container.
const BUFFER_BYTES: usize = 64 * 1024;

/// What went wrong writing or checking a container.
#[derive(Debug, thiserror::Error)]
pub enum AsicError {
    #[error("the name {name:?} cannot be in a container: {reason}")]
    NameUnsafe { name: String, reason: &'static str },
    #[error("the name {name:?} is given twice (or twice but for case, or as a folder of another)")]
    NameDuplicate { name: String },
    #[error("the media type {0:?} is not a type/subtype")]
    MediaTypeInvalid(String),
    #[error("a container holds {FILES_MAX} files at most, not {0}")]
    TooManyFiles(usize),
    #[error("a container holds at least one file")]
    NoFiles,
    #[error("{name}: {actual} bytes read where {expected} were announced")]
    SizeMismatch {
        name: String,
        expected: u64,
        actual: u64,
    },
    #[error("{name}: its bytes do not have the SHA-256 announced")]
    DigestMismatch { name: String },
    #[error("signing the manifest failed: {0}")]
    Signing(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the first entry is not `mimetype`")]
    MimetypeNotFirst,
    #[error("`mimetype` is compressed, encrypted or has an extra field: it must be stored as is")]
    MimetypeNotStored,
    #[error("`mimetype` does not say {MIMETYPE}")]
    MimetypeContent,
    #[error("the container has no {0}")]
    EntryMissing(&'static str),
    #[error("{name} is larger than {limit} bytes")]
    EntryTooLarge { name: &'static str, limit: u64 },
    #[error("the manifest is malformed: {0}")]
    ManifestMalformed(String),
    #[error("{0} is named in the manifest but not in the container")]
    FileMissing(String),
    #[error("{0} is in the container but not in the manifest")]
    FileUnlisted(String),
    #[error("{0} is not the file the manifest signed: its SHA-256 differs")]
    FileChanged(String),
    #[error("the ZIP structure is not acceptable: {0}")]
    ZipStructure(&'static str),
    #[error("ZIP: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

impl AsicError {
    /// A stable code for clients and logs.
    pub fn code(&self) -> &'static str {
        match self {
            AsicError::NameUnsafe { .. } => "asic_name_unsafe",
            AsicError::NameDuplicate { .. } => "asic_name_duplicate",
            AsicError::MediaTypeInvalid(_) => "asic_media_type_invalid",
            AsicError::TooManyFiles(_) => "asic_too_many_files",
            AsicError::NoFiles => "asic_no_files",
            AsicError::SizeMismatch { .. } => "asic_size_mismatch",
            AsicError::DigestMismatch { .. } => "asic_digest_mismatch",
            AsicError::Signing(_) => "asic_signing_failed",
            AsicError::MimetypeNotFirst => "asic_mimetype_not_first",
            AsicError::MimetypeNotStored => "asic_mimetype_not_stored",
            AsicError::MimetypeContent => "asic_mimetype_content",
            AsicError::EntryMissing(_) => "asic_entry_missing",
            AsicError::EntryTooLarge { .. } => "asic_entry_too_large",
            AsicError::ManifestMalformed(_) => "asic_manifest_malformed",
            AsicError::FileMissing(_) => "asic_file_missing",
            AsicError::FileUnlisted(_) => "asic_file_unlisted",
            AsicError::FileChanged(_) => "asic_file_changed",
            AsicError::ZipStructure(_) => "asic_zip_structure",
            AsicError::Zip(_) => "asic_zip",
            AsicError::Io(_) => "asic_io",
        }
    }
}

fn malformed(reason: impl Into<String>) -> AsicError {
    AsicError::ManifestMalformed(reason.into())
}

// ---------------------------------------------------------------------------------------
// Names and media types.

/// Fails unless `name` can be an entry of a container: a relative path of non-empty
/// segments (no `.`, `..`, leading `/`, drive letter or backslash), no control
/// character, not `mimetype` nor under `META-INF/` (any case), at most
/// [`NAME_BYTES_MAX`] bytes.
pub fn check_name(name: &str) -> Result<(), AsicError> {
    let unsafe_because = |reason| {
        Err(AsicError::NameUnsafe {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return unsafe_because("it is empty");
    }
    if name.len() > NAME_BYTES_MAX {
        return unsafe_because("it is too long");
    }
    if name.contains('\\') {
        return unsafe_because("it holds a backslash");
    }
    if name.chars().any(char::is_control) {
        return unsafe_because("it holds a control character");
    }
    if name.starts_with('/') {
        return unsafe_because("it is absolute");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return unsafe_because("it starts with a drive letter");
    }
    if name
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return unsafe_because("it has an empty, `.` or `..` segment");
    }
    let folded = name.to_lowercase();
    if folded == MIMETYPE_NAME || folded.starts_with("meta-inf/") || folded == "meta-inf" {
        return unsafe_because("it is reserved by the container");
    }
    Ok(())
}

/// Fails when two names would be the same entry once extracted: equal, equal but for
/// case, or one a folder of the other.
fn check_distinct<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), AsicError> {
    let mut seen = HashSet::new();
    let mut folders = HashSet::new();
    let mut files = Vec::new();
    for name in names {
        let folded = name.to_lowercase();
        if !seen.insert(folded.clone()) {
            return Err(AsicError::NameDuplicate {
                name: name.to_owned(),
            });
        }
        let mut end = 0;
        for segment in folded.split('/') {
            end += segment.len();
            if end < folded.len() {
                folders.insert(folded[..end].to_owned());
            }
            end += 1;
        }
        files.push((name, folded));
    }
    match files.iter().find(|(_, folded)| folders.contains(folded)) {
        Some((name, _)) => Err(AsicError::NameDuplicate {
            name: (*name).to_owned(),
        }),
        None => Ok(()),
    }
}

/// Fails unless `media_type` is `type/subtype` in RFC 6838's restricted characters.
pub fn check_media_type(media_type: &str) -> Result<(), AsicError> {
    let restricted = |part: &str| {
        !part.is_empty()
            && part.len() <= 127
            && part
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&byte))
    };
    match media_type.split_once('/') {
        Some((kind, subtype))
            if media_type.len() <= MEDIA_TYPE_BYTES_MAX
                && restricted(kind)
                && restricted(subtype) =>
        {
            Ok(())
        }
        _ => Err(AsicError::MediaTypeInvalid(media_type.to_owned())),
    }
}

/// The media type of a file from its name's extension, for the manifest:
/// `application/octet-stream` when the extension says nothing sure.
pub fn media_type_for_name(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "xml" => "application/xml",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

/// What a URI in the manifest leaves as is: RFC 3986's unreserved characters and the
/// path separator. Everything else (spaces, non-ASCII bytes, `%`, `#`, `?`) is
/// percent-encoded, byte by byte of the UTF-8 name.
const URI_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The manifest URI of an entry named `name`.
pub fn name_to_uri(name: &str) -> String {
    utf8_percent_encode(name, URI_ESCAPED).to_string()
}

/// The entry name a manifest URI points at: strict percent-decoding (every `%` followed
/// by two hex digits), UTF-8, and a safe name.
pub fn uri_to_name(uri: &str) -> Result<String, AsicError> {
    let bytes = uri.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = bytes
                .get(index + 1..index + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| malformed(format!("the URI {uri:?} has a bad %-escape")))?;
            decoded.push(hex);
            index += 3;
        } else {
            decoded.push(byte);
            index += 1;
        }
    }
    let name = String::from_utf8(decoded)
        .map_err(|_| malformed(format!("the URI {uri:?} is not UTF-8 once decoded")))?;
    check_name(&name)?;
    Ok(name)
}

// ---------------------------------------------------------------------------------------
// The manifest.

/// One file as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestReference {
    /// The entry's name in the container (the URI decoded).
    pub name: String,
    pub media_type: Option<String>,
    pub sha256: [u8; 32],
}

/// A manifest as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The `SigReference`'s URI (always [`SIGNATURE_NAME`] once parsed).
    pub signature_uri: String,
    pub references: Vec<ManifestReference>,
}

/// Escapes `value` for an XML attribute or text.
fn xml_escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The manifest's bytes: `SigReference` to [`SIGNATURE_NAME`], then one
/// `DataObjectReference` per file, in order.
pub fn render_manifest(references: &[ManifestReference]) -> Vec<u8> {
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    xml.push_str(&format!(
        "<asic:ASiCManifest xmlns:asic=\"{}\" xmlns:ds=\"{}\">\n",
        xml_escape(ASIC_NAMESPACE),
        xml_escape(DS_NAMESPACE)
    ));
    xml.push_str(&format!(
        "  <asic:SigReference URI=\"{}\" MimeType=\"{}\"/>\n",
        xml_escape(&name_to_uri(SIGNATURE_NAME)),
        xml_escape(SIGNATURE_MEDIA_TYPE)
    ));
    for reference in references {
        xml.push_str(&format!(
            "  <asic:DataObjectReference URI=\"{}\"",
            xml_escape(&name_to_uri(&reference.name))
        ));
        if let Some(media_type) = &reference.media_type {
            xml.push_str(&format!(" MimeType=\"{}\"", xml_escape(media_type)));
        }
        xml.push_str(&format!(
            ">\n    <ds:DigestMethod Algorithm=\"{}\"/>\n    <ds:DigestValue>{}</ds:DigestValue>\n  </asic:DataObjectReference>\n",
            xml_escape(SHA256_ALGORITHM),
            BASE64.encode(reference.sha256)
        ));
    }
    xml.push_str("</asic:ASiCManifest>\n");
    xml.into_bytes()
}

/// An XML element as the manifest parser reads it: its namespace and local name
/// resolved, its unprefixed attributes, its children and its text.
#[derive(Debug)]
struct Element {
    namespace: Option<String>,
    local: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn is(&self, namespace: &str, local: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.local == local
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn describe(&self) -> String {
        format!(
            "{{{}}}{}",
            self.namespace.as_deref().unwrap_or_default(),
            self.local
        )
    }
}

/// A small XML reader for exactly what a manifest needs: an optional XML declaration,
/// elements with attributes and namespace declarations, text, the five predefined
/// entities and character references. No DOCTYPE (so no entity expansion), no comments,
/// no CDATA, no processing instructions: a manifest with them is refused.
struct XmlReader<'a> {
    text: &'a str,
    position: usize,
}

type Scope = Vec<(Option<String>, String)>;

impl<'a> XmlReader<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.position..).unwrap_or_default()
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.position += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
    }

    fn eat(&mut self, expected: &str) -> bool {
        if self.rest().starts_with(expected) {
            self.position += expected.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, expected: &str) -> Result<(), AsicError> {
        if self.eat(expected) {
            Ok(())
        } else {
            Err(malformed(format!(
                "{expected:?} expected at byte {}",
                self.position
            )))
        }
    }

    fn name(&mut self) -> Result<&'a str, AsicError> {
        let rest = self.rest();
        let length = rest
            .find(|character: char| character.is_whitespace() || "/>=<\"'?!&".contains(character))
            .unwrap_or(rest.len());
        if length == 0 {
            return Err(malformed(format!(
                "a name expected at byte {}",
                self.position
            )));
        }
        self.position += length;
        Ok(&rest[..length])
    }

    fn document(mut self) -> Result<Element, AsicError> {
        self.eat("\u{feff}");
        if self.eat("<?xml") {
            let end = self
                .rest()
                .find("?>")
                .ok_or_else(|| malformed("the XML declaration does not end"))?;
            self.position += end + 2;
        }
        self.skip_whitespace();
        let root = self.element(&Vec::new(), 1)?;
        self.skip_whitespace();
        if !self.rest().is_empty() {
            return Err(malformed("something follows the root element"));
        }
        Ok(root)
    }

    fn element(&mut self, outer: &Scope, depth: usize) -> Result<Element, AsicError> {
        if depth > XML_DEPTH_MAX {
            return Err(malformed("elements nest too deep"));
        }
        self.expect("<")?;
        if self.rest().starts_with(['!', '?']) {
            return Err(malformed(
                "comments, DOCTYPE, CDATA and processing instructions are not accepted",
            ));
        }
        let qualified = self.name()?;
        let mut raw_attributes: Vec<(&str, String)> = Vec::new();
        let self_closing = loop {
            let before = self.position;
            self.skip_whitespace();
            if self.eat("/>") {
                break true;
            }
            if self.eat(">") {
                break false;
            }
            if self.position == before {
                return Err(malformed(format!(
                    "whitespace expected before an attribute at byte {}",
                    self.position
                )));
            }
            let key = self.name()?;
            self.skip_whitespace();
            self.expect("=")?;
            self.skip_whitespace();
            let value = self.quoted()?;
            if raw_attributes.iter().any(|(seen, _)| *seen == key) {
                return Err(malformed(format!("the attribute {key} is given twice")));
            }
            raw_attributes.push((key, value));
        };
        let mut scope = outer.clone();
        let mut attributes = Vec::new();
        for (key, value) in raw_attributes {
            if key == "xmlns" {
                scope.push((None, value));
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                scope.push((Some(prefix.to_owned()), value));
            } else if !key.contains(':') {
                attributes.push((key.to_owned(), value));
            }
        }
        let (prefix, local) = match qualified.split_once(':') {
            Some((prefix, local)) => (Some(prefix), local),
            None => (None, qualified),
        };
        let namespace = scope
            .iter()
            .rev()
            .find(|(declared, _)| declared.as_deref() == prefix)
            .map(|(_, uri)| uri.clone());
        if prefix.is_some() && namespace.is_none() {
            return Err(malformed(format!(
                "the prefix of {qualified} is not declared"
            )));
        }
        let mut element = Element {
            namespace: namespace.filter(|uri| !uri.is_empty()),
            local: local.to_owned(),
            attributes,
            children: Vec::new(),
            text: String::new(),
        };
        if self_closing {
            return Ok(element);
        }
        loop {
            let rest = self.rest();
            if rest.starts_with("</") {
                self.position += 2;
                let closing = self.name()?;
                if closing != qualified {
                    return Err(malformed(format!("</{closing}> closes <{qualified}>")));
                }
                self.skip_whitespace();
                self.expect(">")?;
                return Ok(element);
            }
            if rest.starts_with('<') {
                element.children.push(self.element(&scope, depth + 1)?);
            } else if rest.is_empty() {
                return Err(malformed(format!("<{qualified}> is not closed")));
            } else {
                let length = rest.find('<').unwrap_or(rest.len());
                element.text.push_str(&decode_entities(&rest[..length])?);
                self.position += length;
            }
        }
    }

    fn quoted(&mut self) -> Result<String, AsicError> {
        let rest = self.rest();
        let quote = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => quote,
            _ => {
                return Err(malformed(format!(
                    "a quoted value expected at byte {}",
                    self.position
                )));
            }
        };
        let inner = &rest[1..];
        let end = inner
            .find(quote)
            .ok_or_else(|| malformed("an attribute value does not end"))?;
        let raw = &inner[..end];
        if raw.contains('<') {
            return Err(malformed("`<` in an attribute value"));
        }
        self.position += end + 2;
        decode_entities(raw)
    }
}

/// `raw` with its entity and character references replaced.
fn decode_entities(raw: &str) -> Result<String, AsicError> {
    let mut decoded = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find('&') {
        decoded.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find(';')
            .filter(|end| *end <= 10)
            .ok_or_else(|| malformed("an `&` that starts no reference"))?;
        let reference = &after[..end];
        let character = match reference {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let number = if let Some(hex) = reference.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(decimal) = reference.strip_prefix('#') {
                    decimal.parse::<u32>().ok()
                } else {
                    None
                };
                number
                    .filter(|number| *number != 0)
                    .and_then(char::from_u32)
                    .ok_or_else(|| malformed(format!("unknown reference &{reference};")))?
            }
        };
        decoded.push(character);
        rest = &after[end + 1..];
    }
    decoded.push_str(rest);
    Ok(decoded)
}

fn is_whitespace_only(text: &str) -> bool {
    text.chars().all(|character| " \t\r\n".contains(character))
}

/// Reads a manifest: an `ASiCManifest` (ASiC namespace) with one `SigReference` to
/// [`SIGNATURE_NAME`] and one or more `DataObjectReference`s, each with a safe URI, an
/// optional valid media type, `DigestMethod` SHA-256 and a 32-byte `DigestValue`, no URI
/// twice. Anything else is refused. Never panics, on any bytes.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, AsicError> {
    if bytes.len() as u64 > MANIFEST_BYTES_MAX {
        return Err(AsicError::EntryTooLarge {
            name: MANIFEST_NAME,
            limit: MANIFEST_BYTES_MAX,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("it is not UTF-8"))?;
    let root = XmlReader { text, position: 0 }.document()?;
    if !root.is(ASIC_NAMESPACE, "ASiCManifest") {
        return Err(malformed(format!(
            "the root is {}, not an ASiCManifest",
            root.describe()
        )));
    }
    if !is_whitespace_only(&root.text) {
        return Err(malformed("text in ASiCManifest"));
    }
    let mut signature_uri = None;
    let mut references = Vec::new();
    for child in &root.children {
        if child.is(ASIC_NAMESPACE, "SigReference") {
            if signature_uri.is_some() {
                return Err(malformed("more than one SigReference"));
            }
            let uri = child
                .attribute("URI")
                .ok_or_else(|| malformed("a SigReference without URI"))?;
            if uri != SIGNATURE_NAME {
                return Err(malformed(format!(
                    "the SigReference is {uri:?}, not {SIGNATURE_NAME}"
                )));
            }
            signature_uri = Some(uri.to_owned());
        } else if child.is(ASIC_NAMESPACE, "DataObjectReference") {
            if references.len() >= FILES_MAX {
                return Err(AsicError::TooManyFiles(references.len() + 1));
            }
            references.push(data_object_reference(child)?);
        } else {
            return Err(malformed(format!("unexpected {}", child.describe())));
        }
    }
    let signature_uri = signature_uri.ok_or_else(|| malformed("no SigReference"))?;
    if references.is_empty() {
        return Err(malformed("no DataObjectReference"));
    }
    check_distinct(references.iter().map(|reference| reference.name.as_str()))?;
    Ok(Manifest {
        signature_uri,
        references,
    })
}

fn data_object_reference(element: &Element) -> Result<ManifestReference, AsicError> {
    let uri = element
        .attribute("URI")
        .ok_or_else(|| malformed("a DataObjectReference without URI"))?;
    let name = uri_to_name(uri)?;
    let media_type = element.attribute("MimeType").map(str::to_owned);
    if let Some(media_type) = &media_type {
        check_media_type(media_type)?;
    }
    if !is_whitespace_only(&element.text) {
        return Err(malformed(format!("text in the reference to {name}")));
    }
    let [method, value] = element.children.as_slice() else {
        return Err(malformed(format!(
            "the reference to {name} must hold DigestMethod and DigestValue only"
        )));
    };
    if !method.is(DS_NAMESPACE, "DigestMethod") || !value.is(DS_NAMESPACE, "DigestValue") {
        return Err(malformed(format!(
            "the reference to {name} must hold DigestMethod then DigestValue"
        )));
    }
    if method.attribute("Algorithm") != Some(SHA256_ALGORITHM) {
        return Err(malformed(format!(
            "the reference to {name} is not digested with SHA-256"
        )));
    }
    if !method.children.is_empty()
        || !is_whitespace_only(&method.text)
        || !value.children.is_empty()
    {
        return Err(malformed(format!(
            "unexpected content in the reference to {name}"
        )));
    }
    let base64: String = value
        .text
        .chars()
        .filter(|character| !character.is_ascii_whitespace())
        .collect();
    let sha256: [u8; 32] = BASE64
        .decode(base64.as_bytes())
        .ok()
        .and_then(|digest| digest.try_into().ok())
        .ok_or_else(|| malformed(format!("the digest of {name} is not 32 bytes of base64")))?;
    Ok(ManifestReference {
        name,
        media_type,
        sha256,
    })
}

// ---------------------------------------------------------------------------------------
// Writing.

/// One file to put in a container: its bytes come from `content`, and must be `size`
/// bytes whose SHA-256 is `sha256` (computed and checked by the caller; the container
/// checks again as it writes).
pub struct ContainerFile<R> {
    pub name: String,
    /// For the manifest's `MimeType` ([`media_type_for_name`] when unknown).
    pub media_type: String,
    pub content: R,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// A container written: the sink it went to, the manifest's bytes and the signature
/// over them.
pub struct Written<W> {
    pub sink: W,
    pub manifest: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The sink under the ZIP writer: once failed, it takes writes and seeks without passing
/// them on (keeping a position as if it did, since the ZIP writer checks it), so that
/// the ZIP writer, dropped after an error, cannot end what was written with a central
/// directory that would make it look like a container.
struct FailableSink<W> {
    inner: W,
    failed: Rc<Cell<bool>>,
    position: u64,
    end: u64,
}

impl<W> FailableSink<W> {
    fn advance(&mut self, written: usize) {
        self.position = self.position.saturating_add(written as u64);
        self.end = self.end.max(self.position);
    }
}

impl<W: Write> Write for FailableSink<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = if self.failed.get() {
            bytes.len()
        } else {
            self.inner.write(bytes)?
        };
        self.advance(written);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed.get() {
            return Ok(());
        }
        self.inner.flush()
    }
}

impl<W: Seek> Seek for FailableSink<W> {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        if !self.failed.get() {
            self.position = self.inner.seek(position)?;
            self.end = self.end.max(self.position);
            return Ok(self.position);
        }
        let target = match position {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            SeekFrom::End(delta) => self.end.checked_add_signed(delta),
        };
        self.position = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a seek before the start")
        })?;
        Ok(self.position)
    }
}

/// `unix_s` as a ZIP date and time (UTC; 1980-01-01 outside the years ZIP can say).
fn zip_time(unix_s: i64) -> DateTime {
    // Howard Hinnant's civil_from_days.
    let days = unix_s.div_euclid(86_400) + 719_468;
    let seconds = unix_s.rem_euclid(86_400);
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let parts = (
        u16::try_from(year),
        u8::try_from(month),
        u8::try_from(day),
        u8::try_from(seconds / 3_600),
        u8::try_from(seconds % 3_600 / 60),
        u8::try_from(seconds % 60),
    );
    match parts {
        (Ok(year), Ok(month), Ok(day), Ok(hour), Ok(minute), Ok(second)) => {
            DateTime::from_date_and_time(year, month, day, hour, minute, second).unwrap_or_default()
        }
        _ => DateTime::default(),
    }
}

/// Writes an ASiC-E container of `files` to `sink`, then asks `sign` for a detached CMS
/// over the SHA-256 of the manifest and writes it. `written_at_s` (Unix seconds) dates
/// the entries.
///
/// Every name and media type is checked before anything is written. Each file streams
/// through a fixed buffer while it is hashed again: a file whose bytes are not `size`
/// bytes with the announced SHA-256 fails the whole container (and `sign` is then never
/// called). On any error what went to `sink` is not a container (it has no central
/// directory): discard it.
pub fn write_container<W, R, E>(
    sink: W,
    files: Vec<ContainerFile<R>>,
    written_at_s: i64,
    sign: impl FnOnce([u8; 32]) -> Result<Vec<u8>, E>,
) -> Result<Written<W>, AsicError>
where
    W: Write + Seek,
    R: Read,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if files.is_empty() {
        return Err(AsicError::NoFiles);
    }
    if files.len() > FILES_MAX {
        return Err(AsicError::TooManyFiles(files.len()));
    }
    for file in &files {
        check_name(&file.name)?;
        check_media_type(&file.media_type)?;
    }
    check_distinct(files.iter().map(|file| file.name.as_str()))?;

    let failed = Rc::new(Cell::new(false));
    let mut sink = sink;
    let start = sink.stream_position()?;
    let mut zip = ZipWriter::new(FailableSink {
        inner: sink,
        failed: Rc::clone(&failed),
        position: start,
        end: start,
    });
    // On an error the sink is marked failed before the ZIP writer is dropped (its drop
    // would otherwise write a central directory).
    let (manifest, signature) = match write_entries(&mut zip, files, zip_time(written_at_s), sign) {
        Ok(written) => written,
        Err(error) => {
            failed.set(true);
            drop(zip);
            return Err(error);
        }
    };
    match zip.finish() {
        Ok(sink) => Ok(Written {
            sink: sink.inner,
            manifest,
            signature,
        }),
        Err(error) => Err(error.into()),
    }
}

fn write_entries<W, R, E>(
    zip: &mut ZipWriter<W>,
    files: Vec<ContainerFile<R>>,
    modified: DateTime,
    sign: impl FnOnce([u8; 32]) -> Result<Vec<u8>, E>,
) -> Result<(Vec<u8>, Vec<u8>), AsicError>
where
    W: Write + Seek,
    R: Read,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(modified);
    zip.start_file(MIMETYPE_NAME, stored)?;
    zip.write_all(MIMETYPE.as_bytes())?;

    let mut references = Vec::with_capacity(files.len());
    let mut buffer = vec![0u8; BUFFER_BYTES];
    for file in files {
        zip.start_file(
            file.name.as_str(),
            stored
                .unix_permissions(0o644)
                .large_file(file.size >= u64::from(u32::MAX)),
        )?;
        copy_checked(
            file.content,
            zip,
            &mut buffer,
            &file.name,
            file.size,
            file.sha256,
        )?;
        references.push(ManifestReference {
            name: file.name,
            media_type: Some(file.media_type),
            sha256: file.sha256,
        });
    }

    let manifest = render_manifest(&references);
    let manifest_sha256: [u8; 32] = Sha256::digest(&manifest).into();
    let signature = sign(manifest_sha256).map_err(|error| AsicError::Signing(error.into()))?;
    zip.start_file(MANIFEST_NAME, stored)?;
    zip.write_all(&manifest)?;
    zip.start_file(SIGNATURE_NAME, stored)?;
    zip.write_all(&signature)?;
    Ok((manifest, signature))
}

/// Copies `content` to `sink` through `buffer`, failing as soon as it exceeds `size`
/// bytes, and at the end unless it was `size` bytes with SHA-256 `sha256`.
fn copy_checked(
    mut content: impl Read,
    sink: &mut impl Write,
    buffer: &mut [u8],
    name: &str,
    size: u64,
    sha256: [u8; 32],
) -> Result<(), AsicError> {
    let mut hasher = Sha256::new();
    let mut copied: u64 = 0;
    loop {
        let read = match content.read(buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        };
        let chunk = buffer.get(..read).unwrap_or_default();
        copied = copied.saturating_add(read as u64);
        if copied > size {
            return Err(AsicError::SizeMismatch {
                name: name.to_owned(),
                expected: size,
                actual: copied,
            });
        }
        hasher.update(chunk);
        sink.write_all(chunk)?;
    }
    if copied != size {
        return Err(AsicError::SizeMismatch {
            name: name.to_owned(),
            expected: size,
            actual: copied,
        });
    }
    if <[u8; 32]>::from(hasher.finalize()) != sha256 {
        return Err(AsicError::DigestMismatch {
            name: name.to_owned(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Checking.

/// A container checked: its manifest's bytes and parsed references (every file present
/// with the digest the manifest gives), and the signature's bytes, to be checked against
/// the manifest by a CMS verifier.
#[derive(Debug)]
pub struct CheckedContainer {
    pub manifest: Vec<u8>,
    pub references: Vec<ManifestReference>,
    pub signature: Vec<u8>,
}

/// The local file header of `mimetype` as the first bytes of a container must be: the
/// signature, any version, flags with neither encryption nor a data descriptor, STORED,
/// the sizes, name length 8, extra field length 0, then the name and the content.
fn check_mimetype_header(reader: &mut (impl Read + Seek)) -> Result<(), AsicError> {
    reader.seek(SeekFrom::Start(0))?;
    let mut header = [0u8; 30 + MIMETYPE_NAME.len() + MIMETYPE.len()];
    let mut filled = 0;
    while filled < header.len() {
        match reader.read(&mut header[filled..]) {
            Ok(0) => return Err(AsicError::MimetypeNotFirst),
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    let u16_at = |offset: usize| u16::from_le_bytes([header[offset], header[offset + 1]]);
    let u32_at = |offset: usize| {
        u32::from_le_bytes([
            header[offset],
            header[offset + 1],
            header[offset + 2],
            header[offset + 3],
        ])
    };
    if u32_at(0) != 0x0403_4b50
        || usize::from(u16_at(26)) != MIMETYPE_NAME.len()
        || &header[30..38] != MIMETYPE_NAME.as_bytes()
    {
        return Err(AsicError::MimetypeNotFirst);
    }
    let flags = u16_at(6);
    let encrypted_or_described = flags & 0b1001 != 0;
    if encrypted_or_described || u16_at(8) != 0 || u16_at(28) != 0 {
        return Err(AsicError::MimetypeNotStored);
    }
    let length = MIMETYPE.len() as u32;
    if u32_at(18) != length || u32_at(22) != length || &header[38..] != MIMETYPE.as_bytes() {
        return Err(AsicError::MimetypeContent);
    }
    Ok(())
}

/// Reads the entry `name` whole, refusing more than `limit` bytes.
fn read_small_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &'static str,
    limit: u64,
) -> Result<Vec<u8>, AsicError> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Err(AsicError::EntryMissing(name)),
        Err(error) => return Err(error.into()),
    };
    if entry.size() > limit {
        return Err(AsicError::EntryTooLarge { name, limit });
    }
    let mut bytes = Vec::new();
    entry.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(AsicError::EntryTooLarge { name, limit });
    }
    Ok(bytes)
}

/// Checks an ASiC-E container: `mimetype` first, stored, with the right content; no
/// duplicate or overlapping entries; a manifest that [`parse_manifest`] accepts; every
/// file it names present with its SHA-256, and no file it does not name. Returns the
/// manifest and the signature; the CMS check of the signature over the manifest is the
/// caller's (a CMS verifier, or `openssl cms -verify`). Files stream: memory does not
/// grow with their size.
pub fn check_container<R: Read + Seek>(mut reader: R) -> Result<CheckedContainer, AsicError> {
    check_mimetype_header(&mut reader)?;
    let mut archive = ZipArchive::new(reader)?;
    if archive.len() > FILES_MAX + 3 {
        return Err(AsicError::TooManyFiles(archive.len().saturating_sub(3)));
    }
    if archive.has_duplicate_names() {
        return Err(AsicError::ZipStructure("two entries have the same name"));
    }
    if archive.has_overlapping_entries()? {
        return Err(AsicError::ZipStructure("entries overlap"));
    }
    let first = archive.by_index_raw(0)?;
    if first.name_raw() != MIMETYPE_NAME.as_bytes() || first.header_start() != 0 {
        return Err(AsicError::MimetypeNotFirst);
    }
    drop(first);

    let manifest = read_small_entry(&mut archive, MANIFEST_NAME, MANIFEST_BYTES_MAX)?;
    let signature = read_small_entry(&mut archive, SIGNATURE_NAME, SIGNATURE_BYTES_MAX)?;
    let parsed = parse_manifest(&manifest)?;

    let listed: HashSet<&[u8]> = parsed
        .references
        .iter()
        .map(|reference| reference.name.as_bytes())
        .collect();
    for name in archive.file_names_raw() {
        let container_own = [MIMETYPE_NAME, MANIFEST_NAME, SIGNATURE_NAME]
            .iter()
            .any(|own| own.as_bytes() == name);
        if !container_own && !listed.contains(name) {
            return Err(AsicError::FileUnlisted(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
    }

    let mut buffer = vec![0u8; BUFFER_BYTES];
    for reference in &parsed.references {
        let mut entry = match archive.by_name(&reference.name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(AsicError::FileMissing(reference.name.clone()));
            }
            Err(error) => return Err(error.into()),
        };
        let mut hasher = Sha256::new();
        loop {
            let read = match entry.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            };
            hasher.update(buffer.get(..read).unwrap_or_default());
        }
        if <[u8; 32]>::from(hasher.finalize()) != reference.sha256 {
            return Err(AsicError::FileChanged(reference.name.clone()));
        }
    }
    Ok(CheckedContainer {
        manifest,
        references: parsed.references,
        signature,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn check_name_case(name: &str, accepted: bool) {
        assert_eq!(check_name(name).is_ok(), accepted, "{name:?}");
    }

    #[test]
    fn names() {
        for name in [
            "a.txt",
            "résumé été.txt",
            "folder/a.pdf",
            "..a",
            "a..",
            "meta-inf.txt",
        ] {
            check_name_case(name, true);
        }
        for name in [
            "",
            "/etc/passwd",
            "../a",
            "a/../b",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "C:a",
            "mimetype",
            "MimeType",
            "META-INF/signature.p7s",
            "meta-inf/x",
            "META-INF",
            "a\nb",
            "a\u{0}b",
        ] {
            check_name_case(name, false);
        }
        check_name_case(&"a".repeat(NAME_BYTES_MAX), true);
        check_name_case(&"a".repeat(NAME_BYTES_MAX + 1), false);
    }

    #[test]
    fn names_that_collide_once_extracted() {
        let check = |names: &[&str], accepted: bool| {
            assert_eq!(
                check_distinct(names.iter().copied()).is_ok(),
                accepted,
                "{names:?}"
            );
        };
        check(&["a", "b", "a.b", "ab/c"], true);
        check(&["a", "a"], false);
        check(&["Été.txt", "éTÉ.TXT"], false);
        check(&["a", "a/b"], false);
        check(&["x/a/b", "X/A"], false);
    }

    #[test]
    fn uris_round_trip_and_escape_what_the_standard_wants() {
        let check = |name: &str, uri: &str| {
            assert_eq!(name_to_uri(name), uri);
            assert_eq!(uri_to_name(uri).unwrap(), name);
        };
        check("a.txt", "a.txt");
        check("résumé été.txt", "r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.txt");
        check("f/100% #1?&.pdf", "f/100%25%20%231%3F%26.pdf");
        check("a~b_c-d", "a~b_c-d");
        for bad in ["%", "%4", "%zz", "%C3", "..%2Fa", "%2E%2E/a", "META-INF/x"] {
            assert!(uri_to_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn media_types() {
        for good in [
            "application/pdf",
            "text/plain",
            "application/vnd.etsi.asic-e+zip",
        ] {
            assert!(check_media_type(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "pdf",
            "/pdf",
            "text/",
            "text/plain; charset=utf-8",
            "a/b/c",
            "t\"/x",
        ] {
            assert!(check_media_type(bad).is_err(), "{bad}");
        }
        assert_eq!(media_type_for_name("Contrat.PDF"), "application/pdf");
        assert_eq!(media_type_for_name("data"), "application/octet-stream");
    }

    #[test]
    fn zip_times() {
        let check = |unix_s: i64, expected: (u16, u8, u8, u8, u8, u8)| {
            let time = zip_time(unix_s);
            assert_eq!(
                (
                    time.year(),
                    time.month(),
                    time.day(),
                    time.hour(),
                    time.minute(),
                    time.second()
                ),
                expected,
                "{unix_s}"
            );
        };
        check(0, (1980, 1, 1, 0, 0, 0));
        check(315_532_800, (1980, 1, 1, 0, 0, 0));
        check(951_782_400, (2000, 2, 29, 0, 0, 0));
        check(1_798_761_599, (2026, 12, 31, 23, 59, 58));
        check(1_772_323_200 + 3_661, (2026, 3, 1, 1, 1, 0));
        check(i64::MAX, (1980, 1, 1, 0, 0, 0));
    }

    fn reference(name: &str, byte: u8) -> ManifestReference {
        ManifestReference {
            name: name.to_owned(),
            media_type: Some(media_type_for_name(name).to_owned()),
            sha256: [byte; 32],
        }
    }

    #[test]
    fn a_rendered_manifest_parses_back() {
        let references = vec![
            reference("résumé été.txt", 1),
            reference("a&b <c>.pdf", 2),
            ManifestReference {
                media_type: None,
                ..reference("x", 3)
            },
        ];
        let bytes = render_manifest(&references);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains("URI=\"r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.txt\""),
            "{text}"
        );
        assert!(text.contains("URI=\"a%26b%20%3Cc%3E.pdf\""), "{text}");
        let parsed = parse_manifest(&bytes).unwrap();
        assert_eq!(parsed.signature_uri, SIGNATURE_NAME);
        assert_eq!(parsed.references, references);
    }

    /// A manifest written by hand another way: other prefixes, a default namespace,
    /// single quotes, references, whitespace in the digest.
    #[test]
    fn the_parser_reads_namespaces_not_prefixes() {
        let digest = BASE64.encode([7u8; 32]);
        let (first, second) = digest.split_at(10);
        let xml = format!(
            "\u{feff}<?xml version='1.0'?><ASiCManifest xmlns='{ASIC_NAMESPACE}'>\
             <SigReference URI='META-INF/signature.p7s'/>\
             <DataObjectReference URI='a%20b' MimeType='text/plain' xmlns:x='{DS_NAMESPACE}'>\
             <x:DigestMethod Algorithm='http://www.w3.org/2001/04/xmlenc&#x23;sha256'></x:DigestMethod>\
             <x:DigestValue>\n{first}\n{second}</x:DigestValue></DataObjectReference>\
             </ASiCManifest>"
        );
        let parsed = parse_manifest(xml.as_bytes()).unwrap();
        assert_eq!(
            parsed.references,
            vec![ManifestReference {
                name: "a b".into(),
                media_type: Some("text/plain".into()),
                sha256: [7; 32]
            }]
        );
    }

    #[test]
    fn the_parser_refuses_what_is_not_exactly_a_manifest() {
        let good = String::from_utf8(render_manifest(&[reference("a.txt", 1)])).unwrap();
        assert!(parse_manifest(good.as_bytes()).is_ok());
        let digest = BASE64.encode([1u8; 32]);
        let changed = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            good.replacen(from, to, 1)
        };
        let cases = [
            changed(ASIC_NAMESPACE, "http://example.org/"),
            changed(DS_NAMESPACE, "http://example.org/"),
            changed("xmlenc#sha256", "xmlenc#sha512"),
            changed(&digest, &BASE64.encode([1u8; 31])),
            changed(&digest, "not base64!"),
            changed("URI=\"a.txt\"", "URI=\"../a.txt\""),
            changed("URI=\"a.txt\"", "URI=\"META-INF/signature.p7s\""),
            changed("URI=\"a.txt\"", ""),
            changed(
                "URI=\"META-INF/signature.p7s\"",
                "URI=\"META-INF/other.p7s\"",
            ),
            changed("<asic:SigReference", "<!-- x --><asic:SigReference"),
            changed("<?xml", "<!DOCTYPE a [<!ENTITY b \"c\">]><?xml"),
            changed("</asic:ASiCManifest>", ""),
            changed("</asic:ASiCManifest>", "</asic:ASiCManifest><x/>"),
            changed("</asic:DataObjectReference>", "</asic:DataObjectReferenc>"),
            changed("<ds:DigestMethod", "<ds:Transforms/><ds:DigestMethod"),
            changed(
                "MimeType=\"text/plain\"",
                "MimeType=\"text/plain\" MimeType=\"a/b\"",
            ),
            changed("MimeType=\"text/plain\"", "MimeType=\"text\""),
            changed("asic:SigReference", "nope:SigReference"),
            changed("URI=\"a.txt\"", "URI=\"a&bogus;.txt\""),
            changed("a.txt", "a&#0;.txt"),
        ];
        for case in cases {
            assert!(parse_manifest(case.as_bytes()).is_err(), "{case}");
        }
        let twice = render_manifest(&[reference("a.txt", 1), reference("A.TXT", 2)]);
        assert!(matches!(
            parse_manifest(&twice),
            Err(AsicError::NameDuplicate { .. })
        ));
        let deep = format!(
            "<asic:ASiCManifest xmlns:asic=\"{ASIC_NAMESPACE}\">{}{}</asic:ASiCManifest>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        assert!(parse_manifest(deep.as_bytes()).is_err());
        assert!(parse_manifest(&[0xff, 0xfe]).is_err());
        for length in 0..good.trim_end().len() {
            if let Some(prefix) = good.get(..length) {
                assert!(parse_manifest(prefix.as_bytes()).is_err(), "{prefix}");
            }
        }
    }
}
