//! The self-signed certificate the examples serve HTTPS with by default.

use anyhow::Context;

/// A certificate and key for `localhost` / `127.0.0.1`, made at start-up.
pub struct SelfSigned {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The PKCS#8 private key, DER.
    pub key_der: Vec<u8>,
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
