//! Opening the redis-rs client for the options' address: plain TCP, or TLS
//! (`rediss://`) verified against the system's roots or the ones the options give.

use bb8_redis::redis::Client;
use session_core::{Error, Result};

use crate::{address, options::RedisCacheOptions};

/// The client for `url` (already a URL, see [`address::parse`]).
///
/// # Errors
/// [`Error::Config`] if `url` is not a valid Redis URL, asks for TLS without the `tls`
/// feature, or root certificates are given for a URL without TLS or cannot be read.
pub(crate) fn open(url: &str, options: &RedisCacheOptions) -> Result<Client> {
    let invalid = |e: bb8_redis::redis::RedisError| Error::Config(format!("invalid Redis URL: {e}"));
    let tls = address::is_tls(url);
    #[cfg(not(feature = "tls"))]
    {
        let _ = options;
        if tls {
            return Err(Error::Config(NO_TLS_FEATURE.to_owned()));
        }
        Client::open(url).map_err(invalid)
    }
    #[cfg(feature = "tls")]
    {
        if tls {
            install_crypto_provider();
        }
        let Some(pem) = &options.tls_root_certificates else {
            return Client::open(url).map_err(invalid);
        };
        if !tls {
            return Err(Error::Config(ROOTS_WITHOUT_TLS.to_owned()));
        }
        check_certificates(pem)?;
        let certificates = bb8_redis::redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.clone()),
        };
        Client::build_with_tls(url, certificates)
            .map_err(|e| Error::Config(format!("Redis TLS settings: {e}")))
    }
}

#[cfg(not(feature = "tls"))]
const NO_TLS_FEATURE: &str =
    "a `rediss://` (TLS) Redis needs the `tls` feature of session-redis (`redis-tls` of distributed-session)";

#[cfg(feature = "tls")]
const ROOTS_WITHOUT_TLS: &str =
    "TLS root certificates are set, but the Redis URL does not ask for TLS (`rediss://`, or `ssl=True`)";

/// At least one certificate, and nothing unreadable: redis-rs would take an empty set and
/// then refuse every server.
#[cfg(feature = "tls")]
fn check_certificates(pem: &[u8]) -> Result<()> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut count = 0;
    for certificate in CertificateDer::pem_slice_iter(pem) {
        certificate.map_err(|e| Error::Config(format!("Redis TLS root certificates: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(Error::Config(
            "Redis TLS root certificates: no PEM certificate in what was given".to_owned(),
        ));
    }
    Ok(())
}

/// rustls needs a process-wide crypto provider when the build enables more than one (or
/// none explicitly); ring's is installed unless the app installed one already. Called
/// before a TLS client is built and before each TLS connect (a pool built by hand).
#[cfg(feature = "tls")]
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only if another thread installed one meanwhile, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use crate::{address, options::RedisCacheOptions};

    #[test]
    fn odd_addresses_are_errors_or_clients_never_panics() {
        let options = RedisCacheOptions::default();
        for text in [
            "",
            ",",
            ":",
            "redis://",
            "redis://:@/",
            "redis://[::1",
            "redis://h:99999",
            "redis://h:-1",
            "redis://h/notanumber",
            "redis://h/99999999999999999999",
            "redis+unix://",
            "unix:///",
            "rediss://",
            "h:6379,password=",
            "h:,ssl=maybe",
            "[::1]:6379",
            "::1",
            "h:6379:1",
            "h:6379,defaultDatabase=x",
            "h:6379,=",
            "%zz:1",
        ] {
            let result = std::panic::catch_unwind(|| {
                address::parse(text).map(|a| super::open(&a.url, &options).is_ok())
            });
            assert!(result.is_ok(), "panicked on {text:?}");
        }
    }
}
