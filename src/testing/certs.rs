//! Certificates of [`LocalPushService`](super::LocalPushService): a fresh
//! self-signed certificate for `localhost` and `127.0.0.1` (rcgen) and the
//! rustls server configuration (ring provider, ALPN `h2` and `http/1.1`).

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use super::TestingError;

/// The TLS side of the service: the acceptor, and the certificate as DER
/// and PEM for senders to trust.
pub(super) struct Certified {
    pub(super) acceptor: TlsAcceptor,
    pub(super) cert_der: Vec<u8>,
    pub(super) cert_pem: String,
}

/// Generates the certificate and the server configuration.
pub(super) fn generate() -> Result<Certified, TestingError> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| TestingError::Tls(e.to_string()))?;
    let cert_der = certified.cert.der().to_vec();
    let cert_pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TestingError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| TestingError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    Ok(Certified {
        acceptor,
        cert_der,
        cert_pem,
    })
}
