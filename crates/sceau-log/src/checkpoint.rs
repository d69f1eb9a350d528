//! Signed tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint): the note text
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zero>
//! <base64 root hash>
//! [extension lines]
//! ```
//!
//! signed as a C2SP note (see [`crate::note`]). A standard format means existing witnesses,
//! monitors and tools (Go's `sumdb/note`, `tlog-tiles` clients) can check sceau's log without
//! sceau code. Parsing is strict: one spelling per checkpoint, so two different byte strings
//! never claim the same tree head.
//!
//! The origin is not compared with the key name here: C2SP only says it SHOULD match. A client
//! that knows which log it follows compares [`Checkpoint::origin`] itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::Hash;
use crate::note::{NoteError, NoteSigner, VerifierKey};

/// The longest origin line accepted, in bytes.
pub const ORIGIN_BYTES_MAX: usize = 1024;
/// The most extension lines read, and the longest one, in bytes.
pub const EXTENSION_LINES_MAX: usize = 16;
pub const EXTENSION_BYTES_MAX: usize = 1024;

/// A tree head: the log's identity, its size, and the root hash at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root_hash: Hash,
    extensions: Vec<String>,
}

/// Why a checkpoint was refused. The codes (before the colon) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error(
        "log.checkpoint.invalid_origin: the origin must be 1 to {ORIGIN_BYTES_MAX} bytes without control characters"
    )]
    InvalidOrigin,
    #[error("log.checkpoint.missing_line: a checkpoint has an origin, a size and a root hash line")]
    MissingLine,
    #[error(
        "log.checkpoint.invalid_size: the tree size must be a decimal u64 without leading zeros"
    )]
    InvalidSize,
    #[error("log.checkpoint.invalid_root_hash: the root hash must be 32 bytes in standard base64")]
    InvalidRootHash,
    #[error(
        "log.checkpoint.invalid_extension: extension lines are non-empty, at most {EXTENSION_LINES_MAX} of at most {EXTENSION_BYTES_MAX} bytes"
    )]
    InvalidExtension,
    #[error("log.checkpoint.missing_final_newline: the checkpoint text must end with a newline")]
    MissingFinalNewline,
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root_hash: Hash) -> Result<Self, CheckpointError> {
        check_origin(origin)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions: Vec::new(),
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root_hash(&self) -> &Hash {
        &self.root_hash
    }

    /// Extension lines found when parsing (sceau writes none: C2SP advises against them).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, base64 root, extensions, each line ending in a newline.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root_hash)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint text (not a signed note: see [`parse_and_verify`]).
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let text = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let mut lines = text.split('\n');
        let origin = lines.next().ok_or(CheckpointError::MissingLine)?;
        check_origin(origin)?;
        let size = parse_size(lines.next().ok_or(CheckpointError::MissingLine)?)?;
        let root_hash = parse_root_hash(lines.next().ok_or(CheckpointError::MissingLine)?)?;
        let mut extensions = Vec::new();
        for line in lines {
            let valid = !line.is_empty()
                && line.len() <= EXTENSION_BYTES_MAX
                && extensions.len() < EXTENSION_LINES_MAX
                && !line.chars().any(char::is_control);
            if !valid {
                return Err(CheckpointError::InvalidExtension);
            }
            extensions.push(line.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }

    /// The signed checkpoint note.
    pub fn sign(&self, signer: &NoteSigner) -> String {
        // A `Checkpoint` only holds checked lines, so its body is a valid note text and, at
        // most ~18 KiB with every limit reached, well under `NOTE_BYTES_MAX`.
        signer.sign_checked_text(&self.body())
    }
}

/// Verifies a signed checkpoint against the log's key and parses it.
pub fn parse_and_verify(note: &str, key: &VerifierKey) -> Result<Checkpoint, CheckpointError> {
    let text = key.open(note)?;
    Checkpoint::parse_body(text)
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    let valid = !origin.is_empty()
        && origin.len() <= ORIGIN_BYTES_MAX
        && !origin.chars().any(char::is_control);
    if valid {
        Ok(())
    } else {
        Err(CheckpointError::InvalidOrigin)
    }
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let digits_only = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = line.len() > 1 && line.starts_with('0');
    if !digits_only || leading_zero {
        return Err(CheckpointError::InvalidSize);
    }
    line.parse().map_err(|_| CheckpointError::InvalidSize)
}

fn parse_root_hash(line: &str) -> Result<Hash, CheckpointError> {
    let bytes = BASE64
        .decode(line)
        .map_err(|_| CheckpointError::InvalidRootHash)?;
    bytes
        .try_into()
        .map_err(|_| CheckpointError::InvalidRootHash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(&str, u64), CheckpointError>) {
        let got = Checkpoint::parse_body(text).map(|c| (c.origin.clone(), c.size));
        let expected = expected.map(|(origin, size)| (origin.to_owned(), size));
        assert_eq!(got, expected, "{text:?}");
    }

    const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    #[test]
    fn body_lines() {
        use CheckpointError::*;
        check(&format!("log\n0\n{ROOT}\n"), Ok(("log", 0)));
        check(&format!("log\n20852163\n{ROOT}\n"), Ok(("log", 20852163)));
        check(
            &format!("log\n20852163\n{ROOT}\next\n"),
            Ok(("log", 20852163)),
        );
        check(
            &format!("log\n18446744073709551615\n{ROOT}\n"),
            Ok(("log", u64::MAX)),
        );
        check(
            &format!("log\n18446744073709551616\n{ROOT}\n"),
            Err(InvalidSize),
        );
        check(&format!("log\n01\n{ROOT}\n"), Err(InvalidSize));
        check(&format!("log\n00\n{ROOT}\n"), Err(InvalidSize));
        check(&format!("log\n+1\n{ROOT}\n"), Err(InvalidSize));
        check(&format!("log\n-1\n{ROOT}\n"), Err(InvalidSize));
        check(&format!("log\n 1\n{ROOT}\n"), Err(InvalidSize));
        check(&format!("log\n\n{ROOT}\n"), Err(InvalidSize));
        check(&format!("log\n1\n{ROOT}"), Err(MissingFinalNewline));
        check(&format!("\n1\n{ROOT}\n"), Err(InvalidOrigin));
        check("log\n1\n", Err(MissingLine));
        check(&format!("log\n1\n{ROOT}\n\n"), Err(InvalidExtension));
        // Not 32 bytes, unpadded, URL alphabet, non-canonical trailing bits.
        check("log\n1\nAAAA\n", Err(InvalidRootHash));
        check(
            "log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
            Err(InvalidRootHash),
        );
        check(
            "log\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",
            Err(InvalidRootHash),
        );
        check(
            "log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
            Err(InvalidRootHash),
        );
    }

    #[test]
    fn body_round_trip() {
        let checkpoint = Checkpoint::new("example.com/log", 42, [7; 32]).ok();
        let body = checkpoint.as_ref().map(Checkpoint::body);
        assert_eq!(
            body.as_deref()
                .map(Checkpoint::parse_body)
                .and_then(Result::ok),
            checkpoint
        );
    }
}
