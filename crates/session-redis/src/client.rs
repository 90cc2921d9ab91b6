//! The redis-rs client for the options' topology (one server, a Cluster's seeds, or the
//! sentinels of a master): plain TCP, or TLS (`rediss://`) verified against the system's
//! roots or the ones the options give.

use std::{sync::Arc, time::Duration};

use redis::{
    cluster::ClusterClient,
    sentinel::{SentinelClientBuilder, SentinelServerType},
    Client, ConnectionInfo, IntoConnectionInfo, TlsMode,
};
use session_core::{Error, Result};

use crate::{
    address,
    manager::RedisManager,
    options::{RedisCacheOptions, Topology},
    recalls::Source,
};

/// How many times redis-rs' cluster connection tries a command again after a connection
/// error or a redirection, and its waits in between (ms). Its defaults (16 tries, waits
/// from 1.28 s) would outlast any IO timeout; the engine bounds each call, and a failover
/// is over in about a second.
const CLUSTER_RETRIES: u32 = 3;
const CLUSTER_RETRY_WAIT_MS: (u64, u64) = (20, 250);
/// The cluster connection's own per-command timeout: the engine's IO timeout bounds every
/// call, so this is only a backstop (redis-rs' default of 500 ms would cut calls short).
const CLUSTER_RESPONSE_BACKSTOP: Duration = Duration::from_secs(60);

/// The connection manager for the options' topology.
///
/// # Errors
/// [`Error::Config`] if an address is invalid, a Cluster or Sentinel setup names no
/// node (or no master), TLS is asked for by some addresses and not by others, or TLS is
/// asked for but cannot be given.
pub(crate) fn manager(options: &RedisCacheOptions) -> Result<(RedisManager, Source)> {
    let (manager, source) = match &options.topology {
        Topology::Standalone => {
            let address = address::parse(&options.url).map_err(Error::Config)?;
            if !address.ignored.is_empty() {
                tracing::info!(
                    options = ?address.ignored,
                    "Redis configuration string options skipped (connect_timeout and the session io_timeout apply)"
                );
            }
            let client = open(&address.url, options)?;
            (
                RedisManager::from_client(client.clone()),
                Source::Node(Box::new(client)),
            )
        }
        Topology::Cluster(seeds) => {
            // the recall subscription goes to one seed at a time: plain clients of them
            let clients = seeds
                .iter()
                .map(|seed| {
                    address::parse(seed)
                        .map_err(Error::Config)
                        .and_then(|a| open(&a.url, options))
                })
                .collect::<Result<Vec<_>>>();
            let manager = RedisManager::from_cluster_client(cluster(seeds, options)?);
            (manager, Source::Cluster(clients?))
        }
        Topology::Sentinel { sentinels, master } => {
            let client = Arc::new(tokio::sync::Mutex::new(sentinel(sentinels, master, options)?));
            (
                RedisManager::from_shared_sentinel(Arc::clone(&client)),
                Source::Sentinel(client),
            )
        }
    };
    Ok((manager.with_connect_timeout(options.connect_timeout), source))
}

/// The seeds or sentinels as connection infos, all with TLS or all without; `Ok(true)`
/// if with.
fn nodes(addresses: &[String], what: &str) -> Result<(Vec<ConnectionInfo>, bool)> {
    if addresses.is_empty() {
        return Err(Error::Config(format!(
            "a Redis {what} setup needs at least one address"
        )));
    }
    let mut infos = Vec::with_capacity(addresses.len());
    let mut tls = Vec::with_capacity(addresses.len());
    for text in addresses {
        let address = address::parse(text).map_err(Error::Config)?;
        tls.push(address::is_tls(&address.url));
        let info = address
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| Error::Config(format!("invalid Redis {what} address: {e}")))?;
        infos.push(info);
    }
    let with_tls = tls.iter().all(|t| *t);
    if !with_tls && tls.iter().any(|t| *t) {
        return Err(Error::Config(format!(
            "some Redis {what} addresses ask for TLS (`rediss://`) and others do not"
        )));
    }
    tls_allowed(with_tls)?;
    Ok((infos, with_tls))
}

fn cluster(seeds: &[String], options: &RedisCacheOptions) -> Result<ClusterClient> {
    let (infos, tls) = nodes(seeds, "Cluster")?;
    let (min_wait, max_wait) = CLUSTER_RETRY_WAIT_MS;
    let builder = ClusterClient::builder(infos)
        .connection_timeout(options.connect_timeout)
        .response_timeout(CLUSTER_RESPONSE_BACKSTOP)
        .retries(CLUSTER_RETRIES)
        .min_retry_wait(min_wait)
        .max_retry_wait(max_wait);
    // (without the `tls` feature, `nodes` refused TLS addresses)
    #[cfg(feature = "tls")]
    let builder = {
        let builder = if tls {
            builder.tls(TlsMode::Secure)
        } else {
            builder
        };
        match certificates(options, tls)? {
            Some(certificates) => builder.certs(certificates),
            None => builder,
        }
    };
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    builder
        .build()
        .map_err(|e| Error::Config(format!("Redis Cluster settings: {e}")))
}

fn sentinel(
    sentinels: &[String],
    master: &str,
    options: &RedisCacheOptions,
) -> Result<redis::sentinel::SentinelClient> {
    if master.trim().is_empty() {
        return Err(Error::Config(
            "a Redis Sentinel setup needs the master's name".to_owned(),
        ));
    }
    let (infos, tls) = nodes(sentinels, "Sentinel")?;
    let first = infos[0].redis_settings().clone();
    let same = |info: &ConnectionInfo| {
        let other = info.redis_settings();
        (other.username(), other.password(), other.db()) == (first.username(), first.password(), first.db())
    };
    if !infos.iter().all(same) {
        return Err(Error::Config(
            "the Redis Sentinel URLs name different users, passwords or databases; give them alike"
                .to_owned(),
        ));
    }
    let invalid = |e: redis::RedisError| Error::Config(format!("Redis Sentinel settings: {e}"));
    let addresses = infos.iter().map(|info| info.addr().clone());
    let mut builder =
        SentinelClientBuilder::new(addresses, master, SentinelServerType::Master).map_err(invalid)?;
    if let Some(username) = first.username() {
        builder = builder.set_client_to_sentinel_username(username);
    }
    if let Some(password) = first.password() {
        builder = builder.set_client_to_sentinel_password(password);
    }
    let (username, password) = match &options.sentinel_master_auth {
        Some((username, password)) => (username.as_deref(), Some(password.as_str())),
        None => (first.username(), first.password()),
    };
    if let Some(username) = username {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = password {
        builder = builder.set_client_to_redis_password(password);
    }
    builder = builder.set_client_to_redis_db(first.db());
    if tls {
        builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
    }
    #[cfg(feature = "tls")]
    if let Some(certificates) = certificates(options, tls)? {
        builder = builder
            .set_client_to_sentinel_certificates(certificates.clone())
            .set_client_to_redis_certificates(certificates);
    }
    builder.build().map_err(invalid)
}

/// The options' root certificates, checked, for a setup with TLS (`tls`).
#[cfg(feature = "tls")]
fn certificates(options: &RedisCacheOptions, tls: bool) -> Result<Option<redis::TlsCertificates>> {
    let Some(pem) = &options.tls_root_certificates else {
        return Ok(None);
    };
    if !tls {
        return Err(Error::Config(ROOTS_WITHOUT_TLS.to_owned()));
    }
    check_certificates(pem)?;
    Ok(Some(redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.clone()),
    }))
}

/// Whether TLS can be given: with the `tls` feature and an installed crypto provider.
fn tls_allowed(tls: bool) -> Result<()> {
    if !tls {
        return Ok(());
    }
    #[cfg(not(feature = "tls"))]
    return Err(Error::Config(NO_TLS_FEATURE.to_owned()));
    #[cfg(feature = "tls")]
    require_crypto_provider().map_err(|message| Error::Config(message.to_owned()))
}

/// The client for `url` (already a URL, see [`address::parse`]).
///
/// # Errors
/// [`Error::Config`] if `url` is not a valid Redis URL, asks for TLS without the `tls`
/// feature, or root certificates are given for a URL without TLS or cannot be read.
fn open(url: &str, options: &RedisCacheOptions) -> Result<Client> {
    let invalid = |e: redis::RedisError| Error::Config(format!("invalid Redis URL: {e}"));
    let tls = address::is_tls(url);
    tls_allowed(tls)?;
    #[cfg(feature = "tls")]
    if let Some(certificates) = certificates(options, tls)? {
        return Client::build_with_tls(url, certificates)
            .map_err(|e| Error::Config(format!("Redis TLS settings: {e}")));
    }
    #[cfg(not(feature = "tls"))]
    let _ = options;
    Client::open(url).map_err(invalid)
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
