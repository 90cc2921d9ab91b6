//! Opening the redis-rs client for the options' address: plain TCP, or TLS
//! (`rediss://`) verified against the system's roots or the ones the options give.

use redis::Client;
use session_core::{Error, Result};

use crate::{address, options::RedisCacheOptions};

/// The client for `url` (already a URL, see [`address::parse`]).
///
/// # Errors
/// [`Error::Config`] if `url` is not a valid Redis URL, asks for TLS without the `tls`
/// feature, or root certificates are given for a URL without TLS or cannot be read.
pub(crate) fn open(url: &str, options: &RedisCacheOptions) -> Result<Client> {
    let invalid = |e: redis::RedisError| Error::Config(format!("invalid Redis URL: {e}"));
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
            require_crypto_provider().map_err(|message| Error::Config(message.to_owned()))?;
        }
        let Some(pem) = &options.tls_root_certificates else {
            return Client::open(url).map_err(invalid);
        };
        if !tls {
            return Err(Error::Config(ROOTS_WITHOUT_TLS.to_owned()));
        }
        check_certificates(pem)?;
        let certificates = redis::TlsCertificates {
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

/// TLS needs the process-wide rustls crypto provider, which is the application's to
/// choose and install: a library must not change process-global state. Checked before a
/// TLS client is built and before each TLS connect (a pool built by hand), so that a
/// missing provider is a clear error, not a panic inside rustls.
#[cfg(feature = "tls")]
pub(crate) fn require_crypto_provider() -> std::result::Result<(), &'static str> {
    match rustls::crypto::CryptoProvider::get_default() {
        Some(_) => Ok(()),
        None => Err(NO_CRYPTO_PROVIDER),
    }
}

#[cfg(feature = "tls")]
const NO_CRYPTO_PROVIDER: &str = "a `rediss://` (TLS) Redis needs a process-wide rustls crypto \
     provider: install one at start-up, before connecting, for example with \
     `rustls::crypto::ring::default_provider().install_default()`";

#[cfg(test)]
mod tests {
    use crate::{address, options::RedisCacheOptions};

    /// Nothing in this test binary installs a rustls provider: a TLS address is then a
    /// configuration error that says what to do, and the library installs none itself.
    #[cfg(feature = "tls")]
    #[test]
    fn tls_without_a_crypto_provider_is_a_clear_error_and_none_is_installed() {
        let result = super::open("rediss://127.0.0.1:6380", &RedisCacheOptions::default());
        let error = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("crypto provider"), "{error}");
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }

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
