//! TLS for `serve` (rustls): a certificate chain and its private key read from PEM files,
//! checked to belong together, and read again on [`Tls::reload`] (SIGHUP) without
//! dropping a connection. A reload that fails keeps the certificate in use.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{ServerConfig, crypto};

/// Why a certificate and key could not be used. Never holds the key's bytes.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the TLS certificate file {path}: {what}")]
    Certificate { path: PathBuf, what: String },
    #[error("the TLS key file {path}: {what}")]
    Key { path: PathBuf, what: String },
    #[error(
        "the TLS key {key} does not match the certificate {certificate} (the first certificate \
         of the file must be the server's own, made for that key)"
    )]
    Mismatch { certificate: PathBuf, key: PathBuf },
    #[error("TLS: {0}")]
    Other(String),
}

/// The server's TLS: where its files are and the configuration read from them.
pub struct Tls {
    certificate: PathBuf,
    key: PathBuf,
    current: RwLock<Loaded>,
}

/// What the files gave: the acceptor, and when the server's certificate ends (Unix
/// seconds; `None` when X.509 as sceau reads it could not say: rustls took it anyway).
struct Loaded {
    acceptor: TlsAcceptor,
    not_after_s: Option<i64>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("certificate", &self.certificate)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate chain (the server's certificate first, then the
    /// intermediates) and the private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub fn load(certificate: &Path, key: &Path) -> Result<Arc<Tls>, TlsError> {
        let loaded = read(certificate, key)?;
        warn_if_readable_by_others(key);
        Ok(Arc::new(Tls {
            certificate: certificate.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(loaded),
        }))
    }

    /// Reads the files again; new connections get the new certificate, those open keep
    /// theirs. On an error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = read(&self.certificate, &self.key)?;
        warn_if_readable_by_others(&self.key);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = loaded;
        Ok(())
    }

    /// When the certificate served now ends (Unix seconds), for the operators' alert
    /// before it does (`sceau_certificate_expiry_timestamp_seconds{certificate="tls"}`);
    /// `None` when its X.509 could not be read as sceau reads certificates (logged).
    pub fn not_after_s(&self) -> Option<i64> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .not_after_s
    }

    /// The certificate file, for what an operator is told.
    pub fn certificate_path(&self) -> &Path {
        &self.certificate
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .acceptor
            .clone()
    }
}

fn read(certificate: &Path, key: &Path) -> Result<Loaded, TlsError> {
    let certificate_error = |what: String| TlsError::Certificate {
        path: certificate.to_owned(),
        what,
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .map_err(|error| certificate_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| certificate_error(error.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error("holds no PEM certificate".into()));
    }
    let not_after_s = sceau_pki::Issued::from_der(chain[0].as_ref())
        .ok()
        .map(|server| server.validity_s().1);
    if not_after_s.is_none() {
        tracing::warn!(
            path = %certificate.display(),
            "the TLS certificate's end could not be read: its expiry gauge says 0"
        );
    }
    // The error of a PEM parser may quote what it could not read: only its kind is said.
    let private = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.to_owned(),
        what: key_error(&error),
    })?;
    let provider = Arc::new(crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Other(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|error| match error {
            tokio_rustls::rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
                certificate: certificate.to_owned(),
                key: key.to_owned(),
            },
            other => TlsError::Key {
                path: key.to_owned(),
                what: other.to_string(),
            },
        })?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Loaded {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        not_after_s,
    })
}

/// A private key others on the machine may read is said (it still works: the operator
/// may have a reason, such as a group of the service's own).
fn warn_if_readable_by_others(key: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(key)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            key = %key.display(),
            "the TLS key file may be read by other users: chmod 600 it"
        );
    }
}

fn key_error(error: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match error {
        Error::NoItemsFound => "holds no PEM private key".into(),
        Error::Io(error) => error.to_string(),
        _ => "is not a readable PEM private key".into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn openssl(args: &[&str]) {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    }

    /// A self-signed certificate and its key in `dir`, named `name`.
    fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let certificate = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            certificate.to_str().unwrap(),
        ]);
        (certificate, key)
    }

    #[test]
    fn a_certificate_and_its_key_load_and_a_key_of_another_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = self_signed(dir.path(), "one");
        let (other_certificate, other_key) = self_signed(dir.path(), "two");
        Tls::load(&certificate, &key).unwrap();
        let error = Tls::load(&certificate, &other_key).unwrap_err();
        assert!(matches!(error, TlsError::Mismatch { .. }), "{error}");
        assert!(error.to_string().contains("does not match"), "{error}");

        // A reload that fails keeps the files' first reading.
        let tls = Tls::load(&other_certificate, &other_key).unwrap();
        std::fs::write(&other_key, std::fs::read(&key).unwrap()).unwrap();
        assert!(matches!(tls.reload(), Err(TlsError::Mismatch { .. })));
        std::fs::write(&other_certificate, std::fs::read(&certificate).unwrap()).unwrap();
        tls.reload().unwrap();
    }

    #[test]
    fn files_that_hold_no_certificate_or_key_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = self_signed(dir.path(), "one");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let error = Tls::load(&empty, &key).unwrap_err();
        assert!(
            error.to_string().contains("holds no PEM certificate"),
            "{error}"
        );
        let error = Tls::load(&certificate, &empty).unwrap_err();
        assert!(
            error.to_string().contains("holds no PEM private key"),
            "{error}"
        );
        // The key given as the certificate: no certificate there, and the key's bytes are
        // not in the message.
        let error = Tls::load(&key, &key).unwrap_err().to_string();
        assert!(error.contains("holds no PEM certificate"), "{error}");
        let missing = dir.path().join("missing.pem");
        let error = Tls::load(&missing, &key).unwrap_err().to_string();
        assert!(error.contains("missing.pem"), "{error}");
    }
}
