//! The self-signed certificate the examples serve HTTPS with by default.

use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate and key for `localhost` / `127.0.0.1`, made at start-up.
pub struct SelfSigned {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The PKCS#8 private key, DER.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned").finish_non_exhaustive() // (the key stays out)
    }
}

impl SelfSigned {
    /// Makes a new certificate for the loopback names and `extra` hosts.
    ///
    /// # Errors
    /// If key generation fails.
    pub fn generate(extra: &[String]) -> anyhow::Result<Self> {
        let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        names.extend(extra.iter().cloned());
        let certified =
            rcgen::generate_simple_self_signed(names).context("making a self-signed certificate")?;
        Ok(SelfSigned {
            cert_der: certified.cert.der().to_vec(),
            key_der: certified.key_pair.serialize_der(),
        })
    }
}

impl SelfSigned {
    /// A rustls server configuration serving this certificate (ring provider, TLS 1.2
    /// and 1.3), offering ALPN `h2` (if `http2`) and `http/1.1`.
    ///
    /// # Errors
    /// If rustls rejects the key.
    pub fn rustls_config(&self, http2: bool) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .context("loading the self-signed certificate")?;
        if http2 {
            config.alpn_protocols.push(b"h2".to_vec());
        }
        config.alpn_protocols.push(b"http/1.1".to_vec());
        Ok(Arc::new(config))
    }
}
