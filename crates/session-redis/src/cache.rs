//! `RedisCache`: what it holds, and connecting it (the calls are in `calls`, the store's
//! contract in `store`).

use std::{sync::Arc, time::Duration};

use bb8::{ErrorSink, Pool};
use redis::RedisError;
use session_core::__private::{error_chain, start_up_check};
use session_core::store::LocalLocks;
use session_core::{Error, Result};

use crate::{
    client,
    connector::Connector,
    errors::is_transport_failure,
    manager::RedisManager,
    options::{self, RedisCacheOptions, Topology},
    recalls::Listener,
    released::Released,
};

/// The Redis store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct RedisCache {
    pub(crate) connector: Connector,
    pub(crate) prefix: String,
    pub(crate) ping_timeout: Duration,
    pub(crate) released: Arc<Released>,
    /// `WAIT <count> <timeout ms>` after every commit, if replicas must acknowledge it.
    pub(crate) replica_acks: Option<(u32, u64)>,
    /// The in-process lock table every clone shares.
    pub(crate) locks: LocalLocks,
    /// Hot sessions: the recall subscription (see `recalls`).
    pub(crate) recalls: Arc<Listener>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Logs the failures of connections bb8 opens by itself (the store opens its own, see
/// `connector`), which bb8 reports nowhere else.
#[derive(Debug, Clone, Copy)]
struct LogSink;

impl ErrorSink<RedisError> for LogSink {
    fn sink(&self, error: RedisError) {
        tracing::warn!(error = %error_chain(&error), "Redis connection failed");
    }

    fn boxed_clone(&self) -> Box<dyn ErrorSink<RedisError>> {
        Box::new(*self)
    }
}

impl RedisCache {
    /// A cache over a ready pool. Build the pool with
    /// `test_on_check_out(false)` (a `PING` per checkout is a round trip per request).
    ///
    /// ```no_run
    /// use session_redis::{bb8, RedisCache, RedisManager};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = RedisManager::new("redis://127.0.0.1:6379")?;
    /// let pool = bb8::Pool::builder().max_size(4).test_on_check_out(false).build(manager).await?;
    /// let cache = RedisCache::new(pool).with_instance_name("app_");
    /// # Ok(()) }
    /// ```
    pub fn new(pool: Pool<RedisManager>) -> Self {
        RedisCache {
            connector: Connector::new(pool),
            prefix: String::new(),
            ping_timeout: options::DEFAULT_CONNECT_TIMEOUT,
            released: Arc::default(),
            replica_acks: None,
            locks: LocalLocks::default(),
            recalls: Arc::new(Listener::new(None, options::DEFAULT_CONNECT_TIMEOUT)),
        }
    }

    /// Sets how long [`ping`](Self::ping) waits for Redis (default: the default
    /// [`connect_timeout`](RedisCacheOptions::connect_timeout), 5 s;
    /// [`connect`](Self::connect) uses the options' one).
    ///
    /// ```
    /// # async fn run(cache: session_redis::RedisCache) {
    /// let cache = cache.with_ping_timeout(std::time::Duration::from_secs(1));
    /// # }
    /// ```
    pub fn with_ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// Makes every commit wait until `count` replicas have it, for at most `timeout` (see
    /// [`RedisCacheOptions::replica_acks`]; `0` waits for none, the default).
    ///
    /// ```
    /// # async fn run(cache: session_redis::RedisCache) {
    /// let cache = cache.with_replica_acks(1, std::time::Duration::from_millis(500));
    /// # }
    /// ```
    pub fn with_replica_acks(mut self, count: u32, timeout: Duration) -> Self {
        // WAIT takes a signed 64-bit count of milliseconds
        let ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, i64::MAX as u64);
        self.replica_acks = (count > 0).then_some((count, ms));
        self
    }

    /// Sets the key prefix (ASP.NET's `InstanceName`).
    ///
    /// ```
    /// # async fn run(cache: session_redis::RedisCache) {
    /// let cache = cache.with_instance_name("KestrunSession_");
    /// # }
    /// ```
    pub fn with_instance_name(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Connects to the Redis at `url`; shorthand for
    /// [`connect_with`](Self::connect_with)`(options.url(url))`.
    ///
    /// ```no_run
    /// use session_redis::{RedisCache, RedisCacheOptions};
    /// # async fn run() -> session_core::Result<()> {
    /// let cache = RedisCache::connect("redis://127.0.0.1:6379", RedisCacheOptions::default()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`connect_with`](Self::connect_with); [`Error::Config`] if the options name a
    /// Cluster or Sentinel.
    pub async fn connect(url: &str, options: RedisCacheOptions) -> Result<Self> {
        if options.topology != Topology::Standalone {
            return Err(Error::Config(
                "`RedisCache::connect(url, ..)` takes one server's URL; connect to a Redis Cluster or Sentinel with `connect_with`".to_owned(),
            ));
        }
        Self::connect_with(options.url(url)).await
    }

    /// Connects to the Redis at the options' [`url`](RedisCacheOptions::url)
    /// (`redis://[:password@]host:port[/db]`, `rediss://` for TLS with the `tls` feature,
    /// or a StackExchange.Redis configuration string such as `localhost:6379`).
    ///
    /// If Redis cannot be reached now, the cause is logged and the cache is returned all
    /// the same: the app starts, session requests answer 503 until Redis is reachable,
    /// and then everything works without a restart. The start-up check (a `PING`) holds
    /// up the caller at most [`START_UP_WAIT`](session_core::__private::START_UP_WAIT) (1 s): a Redis
    /// that accepts connections and does not answer is reported in the background, when
    /// the connect timeout ends.
    ///
    /// ```no_run
    /// use session_redis::{RedisCache, RedisCacheOptions};
    /// # async fn run() -> session_core::Result<()> {
    /// let options = RedisCacheOptions::default()
    ///     .url("redis://:secret@127.0.0.1:6379/0")
    ///     .instance_name("KestrunSession_");
    /// let cache = RedisCache::connect_with(options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] if the address is neither a valid Redis URL nor a configuration
    /// string this store can honour, or asks for TLS the build or the options cannot give.
    pub async fn connect_with(options: RedisCacheOptions) -> Result<Self> {
        let (manager, source) = client::manager(&options)?;
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .connection_timeout(options.connect_timeout)
            .test_on_check_out(false)
            // the store connects by itself and reports failures at once (see `connector`);
            // bb8 is not to retry behind its back
            .retry_connection(false)
            .error_sink(Box::new(LogSink))
            .build_unchecked(manager);
        let mut cache = RedisCache::new(pool);
        cache.recalls = Arc::new(Listener::new(Some(source), options.connect_timeout));
        let cache = cache
            .with_instance_name(options.instance_name)
            .with_ping_timeout(options.connect_timeout)
            .with_replica_acks(options.replica_acks, options.replica_ack_timeout);
        let checked = cache.clone();
        start_up_check(async move { log_start_up_check(checked.ping().await) }).await;
        Ok(cache)
    }

    /// Sends `PING` (for health checks), waiting at most the
    /// [ping timeout](Self::with_ping_timeout).
    ///
    /// ```
    /// # async fn run(cache: session_redis::RedisCache) {
    /// if let Err(error) = cache.ping().await {
    ///     eprintln!("Redis not reachable: {error}");
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`] if Redis cannot be reached, [`Error::Timeout`] if it does not
    /// answer in time.
    pub async fn ping(&self) -> Result<()> {
        let command = redis::cmd("PING");
        match tokio::time::timeout(self.ping_timeout, self.exec("ping", &command)).await {
            Ok(result) => result.map(drop),
            Err(_) => Err(Error::Timeout {
                operation: "ping",
                after: self.ping_timeout,
            }),
        }
    }
}

fn log_start_up_check(result: Result<()>) {
    match result {
        Ok(()) => tracing::info!("connected to Redis"),
        // (the connector warns when a connection cannot be made, with the cause)
        Err(error) if is_transport_failure(&error) || matches!(error, Error::Timeout { .. }) => {
            tracing::info!(error = %error_chain(&error), "Redis is not reachable yet; the app starts all the same")
        }
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "Redis refused the start-up check; session requests may fail")
        }
    }
}
