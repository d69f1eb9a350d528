//! SMPP over TLS: rustls, the system's roots plus an optional CA file of the operator's.

use super::config::{ConfigError, SmppConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

/// What a route needs to open TLS to its SMSC.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) connector: TlsConnector,
    pub(crate) server_name: ServerName<'static>,
}

/// `None` when the route speaks plain TCP.
pub(crate) fn client(route: &str, config: &SmppConfig) -> Result<Option<Tls>, ConfigError> {
    if !config.tls {
        return Ok(None);
    }
    let refused = |what: String| ConfigError::Tls {
        route: route.to_owned(),
        what,
    };
    let mut roots = RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        // A system root rustls cannot use is skipped, as browsers do.
        let _ = roots.add(certificate);
    }
    if let Some(file) = &config.tls_ca_file {
        let certificates = CertificateDer::pem_file_iter(file)
            .map_err(|error| refused(format!("{}: {error}", file.display())))?;
        for certificate in certificates {
            let certificate =
                certificate.map_err(|error| refused(format!("{}: {error}", file.display())))?;
            roots
                .add(certificate)
                .map_err(|error| refused(format!("{}: {error}", file.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(refused(
            "no CA to check the SMSC's certificate against".into(),
        ));
    }
    let provider = Arc::new(crypto::aws_lc_rs::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| refused(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(config.host.clone())
        .map_err(|error| refused(format!("host {}: {error}", config.host)))?;
    Ok(Some(Tls {
        connector: TlsConnector::from(Arc::new(client)),
        server_name,
    }))
}
