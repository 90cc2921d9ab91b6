//! Options of the Redis cache.

use std::time::Duration;

/// Options of [`RedisCache::connect_with`](crate::RedisCache::connect_with) and
/// [`RedisCache::connect`](crate::RedisCache::connect).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisCacheOptions {
    pub(crate) url: String,
    pub(crate) instance_name: String,
    pub(crate) pool_size: u32,
    pub(crate) connect_timeout: Duration,
    /// PEM roots to trust instead of the system's, for `rediss://`.
    #[cfg(feature = "tls")]
    pub(crate) tls_root_certificates: Option<Vec<u8>>,
}

/// The default [`connect_timeout`](RedisCacheOptions::connect_timeout).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for RedisCacheOptions {
    /// `redis://127.0.0.1:6379`, no key prefix, a pool of 4 connections, 5-second
    /// connect timeout.
    fn default() -> Self {
        RedisCacheOptions {
            url: "redis://127.0.0.1:6379".to_owned(),
            instance_name: String::new(),
            pool_size: 4,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            #[cfg(feature = "tls")]
            tls_root_certificates: None,
        }
    }
}

/// The URL is left out: it may hold a password.
impl std::fmt::Debug for RedisCacheOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCacheOptions")
            .field("instance_name", &self.instance_name)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisCacheOptions {
    /// The Redis to connect to (default `redis://127.0.0.1:6379`), as a URL,
    /// `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS, with the `tls`
    /// feature), or as a StackExchange.Redis configuration string the way ASP.NET apps
    /// give it: `localhost:6379`, or
    /// `name.redis.cache.windows.net:6380,password=...,ssl=True,abortConnect=False`.
    ///
    /// A configuration string names one `host[:port]` (port 6379, or 6380 with
    /// `ssl=True`) and may set `password`, `user`, `ssl` and `defaultDatabase`. Its
    /// client-side timing options (`abortConnect`, `connectTimeout`, `syncTimeout`, ...)
    /// are skipped with a log line: [`connect_timeout`](Self::connect_timeout) and the
    /// engine's `io_timeout` govern those. Any other option, or several endpoints, is an
    /// [`Error::Config`](session_core::Error::Config) at connect.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default().url("rediss://redis.internal:6380");
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Prefix of every key (ASP.NET's `InstanceName`, e.g. `KestrunSession_`), so apps
    /// sharing a Redis keep apart.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default().instance_name("KestrunSession_");
    /// ```
    pub fn instance_name(mut self, prefix: impl Into<String>) -> Self {
        self.instance_name = prefix.into();
        self
    }

    /// Most connections in the pool (default 4). Store calls share one multiplexed
    /// connection (redis-rs pipelines concurrent commands on it) until it breaks; the pool
    /// keeps the connections that replace it.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default().pool_size(8);
    /// ```
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long a new connection may take to open (TCP, TLS, `AUTH`/`SELECT`), and then
    /// to load the scripts. A connection that is refused, or whose TLS handshake fails,
    /// fails the call at once.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default()
    ///     .connect_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts these PEM certificates (one or more, concatenated) for `rediss://` instead
    /// of the system's roots: for a Redis whose certificate a private CA signed.
    /// (redis-rs still reads the system's roots at each TLS connect and fails if they
    /// cannot be read, for example an `SSL_CERT_FILE` naming a missing file.)
    ///
    /// With TLS, if no rustls crypto provider is installed for the process when the
    /// cache connects, ring's is installed: an app that wants another installs it first.
    ///
    /// ```
    /// let ca_pem = std::fs::read("ca.pem").unwrap_or_default();
    /// let options = session_redis::RedisCacheOptions::default()
    ///     .url("rediss://redis.internal:6380")
    ///     .tls_root_certificates(ca_pem);
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_certificates = Some(pem.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::RedisCacheOptions;
    use crate::RedisCache;

    #[test]
    fn debug_output_leaves_the_url_out() {
        let options = RedisCacheOptions::default().url("redis://:hunter2@cache.internal:6380");
        assert!(!format!("{options:?}").contains("hunter2"));
        assert_eq!(options.url, "redis://:hunter2@cache.internal:6380");
    }

    async fn config_error(options: RedisCacheOptions) -> String {
        match RedisCache::connect_with(options).await {
            Err(session_core::Error::Config(message)) => message,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_configuration_string_it_cannot_honour_is_a_configuration_error() {
        let message = config_error(RedisCacheOptions::default().url("cache:6379,serviceName=m")).await;
        assert!(message.contains("serviceName"), "{message}");
    }

    #[cfg(not(feature = "tls"))]
    #[tokio::test]
    async fn tls_without_the_feature_says_which_feature() {
        let message = config_error(RedisCacheOptions::default().url("rediss://127.0.0.1:1")).await;
        assert!(message.contains("`tls` feature"), "{message}");
        let message = config_error(RedisCacheOptions::default().url("127.0.0.1:1,ssl=true")).await;
        assert!(message.contains("`tls` feature"), "{message}");
    }

    #[cfg(feature = "tls")]
    #[tokio::test]
    async fn root_certificates_need_a_tls_url_and_a_readable_pem() {
        let message = config_error(
            RedisCacheOptions::default()
                .url("redis://127.0.0.1:1")
                .tls_root_certificates(b"-----BEGIN CERTIFICATE-----".to_vec()),
        )
        .await;
        assert!(message.contains("does not ask for TLS"), "{message}");
        let message = config_error(
            RedisCacheOptions::default()
                .url("rediss://127.0.0.1:1")
                .tls_root_certificates(b"not a certificate".to_vec()),
        )
        .await;
        assert!(message.contains("TLS"), "{message}");
    }

    #[tokio::test]
    async fn an_invalid_url_is_a_configuration_error() {
        config_error(RedisCacheOptions::default().url("http://not-redis")).await;
    }
}
