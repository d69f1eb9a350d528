//! TLS to PostgreSQL (rustls), with libpq's `sslmode=verify-full` meaning: the server's
//! certificate must chain to the CAs of `sslrootcert` (a PEM file, or `system` for the
//! machine's) and name the host connected to. sceau takes libpq's two parameters out of
//! the URL itself (tokio-postgres knows neither) and refuses the modes that would accept
//! a server it cannot check (`prefer`, `require`, `verify-ca`, `allow`): TLS to the
//! database is verified in full, or not used (`disable`, or no `sslmode`: for a database
//! on the same machine or a private link).

use crate::StoreError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

/// How a pool's connections are made: with TLS checked in full, or none
/// (`sslmode=disable` keeps tokio-postgres from asking for it).
#[derive(Clone)]
pub struct PostgresTls {
    config: Option<Arc<ClientConfig>>,
}

impl PostgresTls {
    /// Whether connections use TLS.
    pub fn verified(&self) -> bool {
        self.config.is_some()
    }
}

/// The connection settings of `url` (a `postgres://` URL), with its `sslmode` and
/// `sslrootcert` applied.
pub fn connection_settings(url: &str) -> Result<(tokio_postgres::Config, PostgresTls), StoreError> {
    let refused = |what: String| StoreError::Unavailable(format!("database URL: {what}"));
    let (rest, mode, root) = take_tls_parameters(url).map_err(refused)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
    match mode.as_deref() {
        None | Some("disable") => {
            if root.is_some() {
                return Err(refused(
                    "sslrootcert is for sslmode=verify-full (the server's certificate checked \
                     against it)"
                        .into(),
                ));
            }
            config.ssl_mode(SslMode::Disable);
            Ok((config, PostgresTls { config: None }))
        }
        Some("verify-full") => {
            let Some(root) = root else {
                return Err(refused(
                    "sslmode=verify-full needs sslrootcert: the CA file (PEM) the server's \
                     certificate must chain to, or sslrootcert=system for the machine's CAs"
                        .into(),
                ));
            };
            if config
                .get_hosts()
                .iter()
                .any(|host| matches!(host, Host::Unix(_)))
            {
                return Err(refused(
                    "sslmode=verify-full over a Unix socket: name the server's host".into(),
                ));
            }
            config.ssl_mode(SslMode::Require);
            let roots = roots(&root).map_err(refused)?;
            let provider = Arc::new(crypto::aws_lc_rs::default_provider());
            let mut client = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|error| refused(error.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            // What PostgreSQL 17's direct TLS negotiation asks for; earlier servers ignore it.
            client.alpn_protocols = vec![b"postgresql".to_vec()];
            Ok((
                config,
                PostgresTls {
                    config: Some(Arc::new(client)),
                },
            ))
        }
        Some(other) => Err(refused(format!(
            "sslmode={other} is not accepted: sceau connects with sslmode=verify-full (TLS, \
             the server's certificate and name checked against sslrootcert) or \
             sslmode=disable (no TLS); {other} would take a server it cannot check"
        ))),
    }
}

/// `url` without its `sslmode` and `sslrootcert`, and their values (keys and values
/// percent-decoded, as tokio-postgres reads them).
fn take_tls_parameters(url: &str) -> Result<(String, Option<String>, Option<String>), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("write it as a postgres:// URL".into());
    }
    let (mut mode, mut root) = (None, None);
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let place = match percent_decode(key).as_str() {
            "sslmode" => &mut mode,
            "sslrootcert" => &mut root,
            _ => {
                kept.push(pair);
                continue;
            }
        };
        if place.replace(percent_decode(value)).is_some() {
            return Err(format!("{} is given twice", percent_decode(key)));
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root))
}

/// `%XX` sequences decoded (what a URL's query may hold in a file's path), by the crate
/// tokio-postgres decodes its URLs' parameters with.
fn percent_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

fn roots(root: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if root == "system" {
        for certificate in rustls_native_certs::load_native_certs().certs {
            // A system root rustls cannot use is skipped, as browsers do.
            let _ = roots.add(certificate);
        }
    } else {
        let read = |error: &dyn std::fmt::Display| format!("sslrootcert {root}: {error}");
        for certificate in CertificateDer::pem_file_iter(root).map_err(|e| read(&e))? {
            let certificate = certificate.map_err(|e| read(&e))?;
            roots.add(certificate).map_err(|e| read(&e))?;
        }
    }
    if roots.is_empty() {
        return Err(format!("sslrootcert {root} holds no CA certificate"));
    }
    Ok(roots)
}

impl<S> MakeTlsConnect<S> for PostgresTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    /// Asked for every connection, TLS or not (`sslmode=disable` then never uses it):
    /// what cannot be used fails the handshake, not this.
    fn make_tls_connect(&mut self, host: &str) -> Result<Connect, io::Error> {
        Ok(Connect {
            config: self.config.clone(),
            host: host.to_owned(),
        })
    }
}

/// One connection's handshake: the configuration and the name the certificate must bear.
pub struct Connect {
    config: Option<Arc<ClientConfig>>,
    host: String,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let config = self.config.ok_or_else(|| {
                io::Error::other("TLS asked for on a connection configured without it")
            })?;
            let name = ServerName::try_from(self.host).map_err(io::Error::other)?;
            let connector = tokio_rustls::TlsConnector::from(config);
            Ok(TlsStream(connector.connect(name, stream).await?))
        })
    }
}

/// A TLS connection to the server.
pub struct TlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    /// None: SCRAM's channel binding needs the certificate's own signature hash, which
    /// sceau does not parse; the certificate and name are checked in full instead.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_parameters_are_taken_out_and_the_rest_kept_as_written() {
        let (rest, mode, root) = take_tls_parameters(
            "postgres://u:p@db.example:5432/x?sslmode=verify-full&options=-c%20search_path%3Ds\
             &sslrootcert=%2Fetc%2Fca%20file.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u:p@db.example:5432/x?options=-c%20search_path%3Ds"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca file.pem"));
        let (rest, mode, root) = take_tls_parameters("postgres://u@h/x?sslmode=disable").unwrap();
        assert_eq!(
            (rest.as_str(), mode.as_deref(), root),
            ("postgres://u@h/x", Some("disable"), None)
        );
        // A key written encoded is the same key (tokio-postgres would read it so).
        let (_, mode, _) = take_tls_parameters("postgres://u@h/x?ssl%6Dode=require").unwrap();
        assert_eq!(mode.as_deref(), Some("require"));
        assert!(take_tls_parameters("postgres://u@h/x?sslmode=disable&sslmode=require").is_err());
        assert!(take_tls_parameters("host=h sslmode=require").is_err());
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    fn refusal(url: &str) -> String {
        match connection_settings(url) {
            Ok(_) => panic!("{url} accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn only_full_verification_or_none_is_accepted() {
        let error = refusal("postgres://u@h/x?ssl%6Dode=require");
        assert!(error.contains("sslmode=require is not accepted"), "{error}");
        for mode in ["prefer", "require", "verify-ca", "allow"] {
            let error = refusal(&format!("postgres://u@h/x?sslmode={mode}"));
            assert!(error.contains("verify-full"), "{error}");
        }
        let error = refusal("postgres://u@h/x?sslmode=verify-full");
        assert!(error.contains("needs sslrootcert"), "{error}");
        let error = refusal("postgres://u@h/x?sslrootcert=/ca.pem");
        assert!(error.contains("sslmode=verify-full"), "{error}");
        let error = refusal("postgres://u@h/x?sslmode=verify-full&sslrootcert=/nowhere/ca.pem");
        assert!(error.contains("/nowhere/ca.pem"), "{error}");
        let (config, tls) = connection_settings("postgres://u@h/x").unwrap();
        assert!(!tls.verified());
        assert_eq!(config.get_ssl_mode(), SslMode::Disable);
    }
}
