//! Options of the Redis cache.

use std::time::Duration;

/// Options of [`RedisCache::connect_with`](crate::RedisCache::connect_with) and
/// [`RedisCache::connect`](crate::RedisCache::connect).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisCacheOptions {
    pub(crate) url: String,
    pub(crate) topology: Topology,
    /// User name and password for the master a sentinel names (else the sentinels' own).
    pub(crate) sentinel_master_auth: Option<(Option<String>, String)>,
    pub(crate) replica_acks: u32,
    pub(crate) replica_ack_timeout: Duration,
    pub(crate) instance_name: String,
    pub(crate) pool_size: u32,
    pub(crate) connect_timeout: Duration,
    /// PEM roots to trust instead of the system's, for `rediss://`.
    #[cfg(feature = "tls")]
    pub(crate) tls_root_certificates: Option<Vec<u8>>,
}

/// Which Redis deployment the store talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server: [`RedisCacheOptions::url`].
    Standalone,
    /// A Redis Cluster, reached through any of these nodes.
    Cluster(Vec<String>),
    /// The master these sentinels name `master`.
    Sentinel { sentinels: Vec<String>, master: String },
}

/// The default [`replica_ack_timeout`](RedisCacheOptions::replica_ack_timeout).
pub(crate) const DEFAULT_REPLICA_ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// The default [`connect_timeout`](RedisCacheOptions::connect_timeout).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for RedisCacheOptions {
    /// `redis://127.0.0.1:6379`, no key prefix, a pool of 4 connections, 5-second
    /// connect timeout.
    fn default() -> Self {
        RedisCacheOptions {
            url: "redis://127.0.0.1:6379".to_owned(),
            topology: Topology::Standalone,
            sentinel_master_auth: None,
            replica_acks: 0,
            replica_ack_timeout: DEFAULT_REPLICA_ACK_TIMEOUT,
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
        let topology = match &self.topology {
            Topology::Standalone => "standalone",
            Topology::Cluster(_) => "cluster",
            Topology::Sentinel { .. } => "sentinel",
        };
        f.debug_struct("RedisCacheOptions")
            .field("topology", &topology)
            .field("replica_acks", &self.replica_acks)
            .field("replica_ack_timeout", &self.replica_ack_timeout)
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

    /// Talks to a Redis Cluster, found through these nodes (any of them, masters or
    /// replicas; each a URL as for [`url`](Self::url), `rediss://` for TLS, with the ACL
    /// user and password the cluster's nodes share). The store keeps one connection
    /// multiplexed over the cluster's masters, follows `MOVED`/`ASK` redirections and
    /// slot moves, and learns the new master of a failed-over shard by itself. A session
    /// is one key (its lease and fence are fields of it), so every script runs on one node.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default()
    ///     .cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000", "redis://10.0.0.3:7000"]);
    /// ```
    pub fn cluster<I, S>(mut self, seeds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.topology = Topology::Cluster(seeds.into_iter().map(Into::into).collect());
        self
    }

    /// Talks to the master that these Redis Sentinels name `master` (each sentinel a URL,
    /// `redis://[[user]:password@]host:26379`, `rediss://` for TLS). Every new connection
    /// asks the sentinels again, and a connection that fails or finds a replica
    /// (`READONLY`) is given up, so after a failover the store goes to the new master by
    /// itself. The master is reached with TLS exactly when the sentinels are, and with the
    /// user name and password of the first sentinel URL, unless
    /// [`sentinel_master_auth`](Self::sentinel_master_auth) gives others.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default().sentinel(
    ///     ["redis://10.0.0.1:26379", "redis://10.0.0.2:26379", "redis://10.0.0.3:26379"],
    ///     "mymaster",
    /// );
    /// ```
    pub fn sentinel<I, S>(mut self, sentinels: I, master: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.topology = Topology::Sentinel {
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            master: master.into(),
        };
        self
    }

    /// The ACL user (`None`: the default user) and password of the Sentinel-managed
    /// master and its replicas, when they differ from the sentinels' own.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default()
    ///     .sentinel(["redis://10.0.0.1:26379"], "mymaster")
    ///     .sentinel_master_auth(Some("sessions"), "app-secret");
    /// ```
    pub fn sentinel_master_auth(mut self, username: Option<&str>, password: impl Into<String>) -> Self {
        self.sentinel_master_auth = Some((username.map(str::to_owned), password.into()));
        self
    }

    /// Makes every write wait until `count` replicas have it (Redis' `WAIT`, sent in the
    /// same round trip): a new session, a commit that stores or removes, a plain `set` or
    /// `remove`; for at most [`replica_ack_timeout`](Self::replica_ack_timeout). A write
    /// that fewer replicas acknowledged in time answers 503 (it was applied on the master,
    /// and may or may not survive a failover). So an update answered 2xx is on `count`
    /// replicas as well and survives the loss of its master, at the price of a replica
    /// round trip on every modifying request, and of 503s on them while fewer than `count`
    /// replicas are connected. Read-only requests (a refresh, a release) change no data and
    /// do not wait. `0` (the default) waits for none.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default()
    ///     .sentinel(["redis://10.0.0.1:26379"], "mymaster")
    ///     .replica_acks(1);
    /// ```
    pub fn replica_acks(mut self, count: u32) -> Self {
        self.replica_acks = count;
        self
    }

    /// The longest a commit waits for its [`replica_acks`](Self::replica_acks) (default
    /// 1 s, at least 1 ms). The session's `io_timeout` bounds the whole call as well, so
    /// keep this under it: a commit cut off by the IO timeout answers 503 all the same,
    /// but without saying that the replicas were missing.
    ///
    /// ```
    /// let options = session_redis::RedisCacheOptions::default()
    ///     .replica_acks(1)
    ///     .replica_ack_timeout(std::time::Duration::from_millis(250));
    /// ```
    pub fn replica_ack_timeout(mut self, timeout: Duration) -> Self {
        self.replica_ack_timeout = timeout.max(Duration::from_millis(1));
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
    /// TLS needs a process-wide rustls crypto provider, which the application installs
    /// before connecting (the store never installs one): without it, a TLS address is an
    /// [`Error::Config`](session_core::Error::Config) that says so.
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
