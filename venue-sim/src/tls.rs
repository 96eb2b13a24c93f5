//! Certificates and TLS configuration of the simulator: a throw-away certificate authority made
//! at start-up, a server certificate for `localhost`, `127.0.0.1` and `::1` signed by it, and
//! the rustls configurations of both ends.
//!
//! Contract: [`SimCertificates::generate`] is called once per server start (on the caller's
//! thread; it allocates and uses the OS random source through `ring`); the CA certificate's PEM
//! goes to a file ([`SimCertificates::write_ca_pem`]) that clients trust through
//! [`client_config_from_ca_file`]. Every configuration names the `ring` provider explicitly, so
//! no process-wide default provider is installed or relied on. The private keys never leave
//! memory.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The names the server certificate is valid for.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What can go wrong making or loading certificates and TLS configurations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// rcgen refused to make a key or certificate.
    #[error("certificate generation ({what}): {source}")]
    Generate {
        /// Which step.
        what: &'static str,
        /// The cause.
        source: rcgen::Error,
    },
    /// rustls refused a configuration.
    #[error("rustls configuration ({what}): {source}")]
    Config {
        /// Which configuration.
        what: &'static str,
        /// The cause.
        source: rustls::Error,
    },
    /// A CA file could not be read or written.
    #[error("CA file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A CA file holds no usable certificate.
    #[error("CA file {path}: {reason}")]
    BadCaFile {
        /// The file.
        path: PathBuf,
        /// What was wrong (expected: one or more PEM `CERTIFICATE` blocks).
        reason: String,
    },
}

/// The `ring` crypto provider, named explicitly for every configuration.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A freshly generated CA and the server certificate it signed.
pub struct SimCertificates {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SimCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of logs.
        f.debug_struct("SimCertificates").field("server_names", &SERVER_NAMES).finish_non_exhaustive()
    }
}

impl SimCertificates {
    /// Generates a self-signed CA ("Quantum Trader venue simulator CA") and an end-entity
    /// certificate for [`SERVER_NAMES`] signed by it (ECDSA P-256 keys).
    pub fn generate() -> Result<Self, TlsError> {
        let failed = |what| move |source| TlsError::Generate { what, source };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed("CA parameters"))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Quantum Trader venue simulator CA");
        ca_params.distinguished_name.push(DnType::OrganizationName, "Quantum Trader");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().map_err(failed("CA key"))?;
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(failed("CA certificate"))?;

        let names: Vec<String> = SERVER_NAMES.iter().map(|s| (*s).to_string()).collect();
        let mut params = CertificateParams::new(names).map_err(failed("server parameters"))?;
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(failed("server key"))?;
        let cert = params.signed_by(&key, &ca).map_err(failed("server certificate"))?;

        Ok(Self {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server_chain: vec![cert.der().clone(), ca.der().clone()],
            server_key_pkcs8: key.serialize_der(),
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// Writes the CA certificate's PEM to `path` (creating parent directories).
    pub fn write_ca_pem(&self, path: &Path) -> Result<(), TlsError> {
        let io = |source| TlsError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, self.ca_pem.as_bytes()).map_err(io)
    }

    /// A server configuration presenting the server certificate (TLS 1.2 and 1.3, `ring`
    /// provider, no client authentication, ALPN `http/1.1`).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let cfg_err = |source| TlsError::Config { what: "server", source };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_pkcs8.clone()));
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(cfg_err)?
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .map_err(cfg_err)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// A client configuration (`ring` provider, TLS 1.2 and 1.3) trusting exactly the certificates
/// in the PEM file `ca_file`.
pub fn client_config_from_ca_file(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let pem = std::fs::read(ca_file).map_err(|source| TlsError::Io { path: ca_file.to_path_buf(), source })?;
    client_config_from_ca_pem(&pem).map_err(|e| match e {
        TlsError::BadCaFile { reason, .. } => TlsError::BadCaFile { path: ca_file.to_path_buf(), reason },
        other => other,
    })
}

/// A client configuration trusting exactly the certificates in `pem` (one or more PEM
/// `CERTIFICATE` blocks).
pub fn client_config_from_ca_pem(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let bad = |reason: String| TlsError::BadCaFile { path: PathBuf::new(), reason };
    let mut roots = rustls::RootCertStore::empty();
    let mut n = 0usize;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| bad(format!("unreadable PEM: {e}")))?;
        roots.add(cert).map_err(|e| bad(format!("certificate #{n} rejected: {e}")))?;
        n += 1;
    }
    if n == 0 {
        return Err(bad("no PEM CERTIFICATE block found".into()));
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| TlsError::Config { what: "client", source })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    fn handshake_over_loopback(version: &'static rustls::SupportedProtocolVersion) {
        let certs = SimCertificates::generate().unwrap();
        let server_cfg = certs.server_config().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(server_cfg).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).unwrap();
            tls.write_all(&buf).unwrap();
            tls.flush().unwrap();
            tls.conn.protocol_version()
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certs.ca_der().clone()).unwrap();
        let client_cfg = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(client_cfg), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
        tls.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        assert_eq!(server.join().unwrap(), Some(version.version));
    }

    #[test]
    fn tls13_and_tls12_handshakes_verify_against_the_ca() {
        handshake_over_loopback(&rustls::version::TLS13);
        handshake_over_loopback(&rustls::version::TLS12);
    }

    #[test]
    fn ca_file_round_trips_and_bad_files_are_named() {
        let certs = SimCertificates::generate().unwrap();
        let dir = std::env::temp_dir().join(format!("qt-venue-sim-tls-{}", std::process::id()));
        let path = dir.join("ca.pem");
        certs.write_ca_pem(&path).unwrap();
        assert!(client_config_from_ca_file(&path).is_ok());
        std::fs::write(&path, b"not a certificate").unwrap();
        let err = client_config_from_ca_file(&path).unwrap_err();
        assert!(matches!(err, TlsError::BadCaFile { ref path, .. } if path.ends_with("ca.pem")), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(client_config_from_ca_file(&path), Err(TlsError::Io { .. })));
    }
}
