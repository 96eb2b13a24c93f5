//! TLS client configuration shared by the WebSocket connection (core thread) and the snapshot
//! thread's HTTPS client.
//!
//! [`client_config`] builds a rustls `ClientConfig` (ring provider, TLS 1.2 and 1.3) trusting
//! either the PEM certificates of a CA file (the venue simulator writes one) or the Mozilla
//! roots compiled in by `webpki-roots`. Called once at start-up: it allocates and reads the CA
//! file (blocking file I/O), so never call it on the core thread's steady state.

use crate::error::FeedError;
use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// A client config trusting the certificates in `ca_file`, or the webpki roots if `None`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, FeedError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let ca_err = |problem: String| FeedError::CaFile { path: path.to_path_buf(), problem };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_err(format!("cannot read PEM: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_err(format!("bad PEM: {e}")))?;
            if certs.is_empty() {
                return Err(ca_err("holds no CERTIFICATE block".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| ca_err(format!("unusable certificate: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webpki_roots_config_builds() {
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn missing_ca_file_names_the_path() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
