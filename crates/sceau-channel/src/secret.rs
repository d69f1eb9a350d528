//! Secrets a route needs, read from a file or an environment variable named in the
//! configuration: never written in the configuration file itself, never shown in a log
//! or a `Debug` print.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Where one secret comes from: exactly one of `file` and `env`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// A file holding the secret (one line; a final newline is dropped).
    pub file: Option<PathBuf>,
    /// An environment variable holding it.
    pub env: Option<String>,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, &self.env) {
            (Some(file), None) => write!(f, "file {}", file.display()),
            (None, Some(env)) => write!(f, "environment ${env}"),
            _ => f.write_str("(misconfigured)"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a secret names both a file and an environment variable, or neither")]
    OneSource,
    #[error("the secret file {0} cannot be read")]
    Unreadable(String),
    #[error("the environment variable {0} is not set or not UTF-8")]
    Unset(String),
    #[error("the secret from {0} is empty")]
    Empty(String),
}

/// A secret's value; wiped from memory when dropped, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl SecretSource {
    /// Reads the secret now (at start: a route whose secret is missing is refused before
    /// the server serves).
    pub fn read(&self) -> Result<Secret, SecretError> {
        let (value, origin) = match (&self.file, &self.env) {
            (Some(file), None) => {
                let origin = file.display().to_string();
                let read = std::fs::read_to_string(file)
                    .map_err(|_| SecretError::Unreadable(origin.clone()))?;
                (Zeroizing::new(read), origin)
            }
            (None, Some(name)) => {
                let read = std::env::var(name).map_err(|_| SecretError::Unset(name.to_owned()))?;
                (Zeroizing::new(read), format!("${name}"))
            }
            _ => return Err(SecretError::OneSource),
        };
        let trimmed = value.strip_suffix('\n').unwrap_or(&value);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(SecretError::Empty(origin));
        }
        Ok(Secret::new(trimmed.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_read_from_a_file_without_its_newline_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smsc.pass");
        std::fs::write(&path, "s3cret\n").unwrap();
        let source = SecretSource {
            file: Some(path),
            env: None,
        };
        let secret = source.read().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));
        assert!(format!("{source:?}").starts_with("file "));
    }

    #[test]
    fn a_secret_needs_exactly_one_source_and_a_value() {
        let neither = SecretSource {
            file: None,
            env: None,
        };
        assert_eq!(neither.read().unwrap_err(), SecretError::OneSource);
        let unset = SecretSource {
            file: None,
            env: Some("SCEAU_TEST_SECRET_NEVER_SET".into()),
        };
        assert!(matches!(unset.read(), Err(SecretError::Unset(_))));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, "\n").unwrap();
        let empty = SecretSource {
            file: Some(path),
            env: None,
        };
        assert!(matches!(empty.read(), Err(SecretError::Empty(_))));
    }
}
