//! `RedisCache`: the store operations, each one script call on one pooled connection.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bb8::{ErrorSink, Pool};
use redis::{Cmd, ErrorKind, FromRedisValue, RedisError, ServerErrorKind, Value};
use session_core::__private::{error_chain, start_up_check};
use session_core::store::{
    CommitOp, DistributedCache, EntryOptions, LocalLocks, LockAttempt, LockToken, SessionLock,
};
use session_core::{Error, Result};

use crate::{
    address, client,
    connector::Connector,
    cut_off::{LockCall, Released},
    keys::{duration_ticks, instant_ticks, now_ticks, ttl_ms, KeyName},
    manager::{is_transport_failure, Handle, RedisManager},
    options::{self, RedisCacheOptions},
    scripts::{self, Lua, ScriptCall},
};

/// The Redis store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct RedisCache {
    connector: Connector,
    prefix: String,
    ping_timeout: Duration,
    released: Arc<Released>,
    /// The in-process lock table every clone shares.
    locks: LocalLocks,
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
            locks: LocalLocks::default(),
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
    /// As [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str, options: RedisCacheOptions) -> Result<Self> {
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
        let address = address::parse(&options.url).map_err(Error::Config)?;
        if !address.ignored.is_empty() {
            tracing::info!(
                options = ?address.ignored,
                "Redis configuration string options skipped (connect_timeout and the session io_timeout apply)"
            );
        }
        let manager = RedisManager::from_client(client::open(&address.url, &options)?)
            .with_connect_timeout(options.connect_timeout);
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .connection_timeout(options.connect_timeout)
            .test_on_check_out(false)
            // the store connects by itself and reports failures at once (see `connector`);
            // bb8 is not to retry behind its back
            .retry_connection(false)
            .error_sink(Box::new(LogSink))
            .build_unchecked(manager);
        let cache = RedisCache::new(pool)
            .with_instance_name(options.instance_name)
            .with_ping_timeout(options.connect_timeout);
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

    /// The key prefix (ASP.NET's `InstanceName`).
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The tokens whose release a cut-off lock call sent (see `cut_off`).
    pub(crate) fn released(&self) -> &Released {
        &self.released
    }

    /// Sends one plain command.
    async fn exec(&self, operation: &'static str, cmd: &Cmd) -> Result<Value> {
        let mut route = Route::default();
        let result = self.deliver(operation, cmd, &mut route).await?;
        settle(route.handle.as_ref(), operation, result)
    }

    /// Sends `cmd` on the shared connection. If that connection turns out dead (Redis
    /// restarted, or closed idle clients), `cmd` goes once more on a new one, so the
    /// first request after a restart does not fail. Every script is safe to send twice:
    /// the lock script takes the same lease again for the same token, and a commit that
    /// did run the first time finds its lease gone and reports it lost (503) rather than
    /// writing again.
    ///
    /// `route` tells where `cmd` went (see [`Route`]).
    async fn deliver(
        &self,
        operation: &'static str,
        cmd: &Cmd,
        route: &mut Route,
    ) -> Result<std::result::Result<Value, RedisError>> {
        let first = route.handle.insert(self.connector.handle(operation).await?);
        match first.send(cmd).await {
            Err(error) if first.observe(&error) => {
                tracing::debug!(error = %error_chain(&error), "Redis connection found dead; sending again on a new one");
                route.resent = true;
                let fresh = route.handle.insert(self.connector.handle(operation).await?);
                Ok(fresh.send(cmd).await)
            }
            result => Ok(result),
        }
    }

    /// Runs one script call (`EVALSHA`); if Redis forgot the script (`NOSCRIPT`, after a
    /// restart), loads it and calls again.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        operation: &'static str,
        call: &ScriptCall,
    ) -> Result<T> {
        self.run_on(operation, call, &mut Route::default()).await
    }

    /// [`run`](Self::run), telling where the call went in `route`.
    async fn run_on<T: FromRedisValue>(
        &self,
        operation: &'static str,
        call: &ScriptCall,
        route: &mut Route,
    ) -> Result<T> {
        let mut result = self.deliver(operation, &call.cmd, route).await?;
        if let (Some(handle), Err(e)) = (route.handle.as_mut(), &result) {
            if forgot_script(e) {
                // boxed: a rare path that would otherwise double every call's future
                result = Box::pin(reload_and_send(handle, call)).await;
            }
        }
        let value = settle(route.handle.as_ref(), operation, result)?;
        T::from_redis_value(value).map_err(|error| Error::store(operation, error))
    }

    /// Writes an entry with `script` (SET or CREATE: KEYS data; ARGV data, absexp,
    /// sldexp, ttl). `None` if the entry would already be expired (nothing is sent).
    async fn write(
        &self,
        operation: &'static str,
        script: &'static Lua,
        key: &str,
        value: Vec<u8>,
        options: &EntryOptions,
    ) -> Result<Option<i64>> {
        let Some(ttl) = ttl_ms(options, SystemTime::now()) else {
            return Ok(None);
        };
        let (abs, sld) = expiry_args(options);
        let mut call = script.call(&[KeyName::data(&self.prefix, key)], value.len() + 64);
        call.arg(value).arg(abs).arg(sld).arg(ttl);
        self.run(operation, &call).await.map(Some)
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

/// Where a call went: the connection it went out on last (or is about to), if any, and
/// whether it was sent again because the first connection failed under it (it may have
/// run there, its reply lost). While a new connection is found, `handle` keeps the dead
/// one, so that a call cut off then still has its release sent.
#[derive(Default)]
pub(crate) struct Route {
    pub(crate) handle: Option<Handle>,
    pub(crate) resent: bool,
}

/// Whether Redis answered that it does not know the script (`NOSCRIPT`, after a
/// restart): load it and call again.
pub(crate) fn forgot_script(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}

/// Loads the script of `call`, then sends `call` again.
pub(crate) async fn reload_and_send(
    handle: &mut Handle,
    call: &ScriptCall,
) -> std::result::Result<Value, RedisError> {
    handle.send(&call.script.load()).await?;
    handle.send(&call.cmd).await
}

/// Maps a Redis result, marking the connection broken on transport errors.
fn settle<T>(
    handle: Option<&Handle>,
    operation: &'static str,
    result: std::result::Result<T, RedisError>,
) -> Result<T> {
    result.map_err(|error| {
        if let Some(handle) = handle {
            handle.observe(&error);
        }
        Error::store(operation, error)
    })
}

/// `absexp` and `sldexp` of `options`, in ticks (-1 for none).
fn expiry_args(options: &EntryOptions) -> (i64, i64) {
    (
        options.absolute_expiration.map_or(-1, instant_ticks),
        options.sliding_expiration.map_or(-1, duration_ticks),
    )
}

#[async_trait]
impl DistributedCache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut call = scripts::GET.call(&[KeyName::data(&self.prefix, key)], 20);
        call.arg(now_ticks());
        self.run("get", &call).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        if self
            .write("set", &scripts::SET, key, value, &options)
            .await?
            .is_none()
        {
            // already expired: what was stored under the key is stale too
            self.remove(key).await?;
        }
        Ok(())
    }

    async fn refresh(&self, key: &str) -> Result<()> {
        let mut call = scripts::REFRESH.call(&[KeyName::data(&self.prefix, key)], 20);
        call.arg(now_ticks());
        self.run::<i64>("refresh", &call).await.map(drop)
    }

    async fn remove(&self, key: &str) -> Result<()> {
        let mut call = redis::cmd("DEL");
        call.arg(KeyName::data(&self.prefix, key));
        self.exec("remove", &call).await.map(drop)
    }

    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }

    fn local_locks(&self) -> Option<&LocalLocks> {
        Some(&self.locks)
    }
}

/// Beyond the [`SessionLock`] contract: a `try_lock_and_get` future dropped before its
/// reply (cut off by a timeout, or its request went away) sends the release of its token
/// behind the call, since Redis may still run it (or sends nothing, if the call never
/// went out); the next `Release` of that token is then answered without a round trip.
/// So a caller must not retry a cut-off call with the same token (the engine draws a
/// new token for every request).
#[async_trait]
impl SessionLock for RedisCache {
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt> {
        let data = KeyName::data(&self.prefix, key);
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut call = scripts::LOCK_AND_GET.call(&[data, data.lock()], 64);
        call.arg(token.as_bytes()).arg(lease_ms);
        let mut in_flight = LockCall::new(self, key, token, lease);
        let reply = self.run_on("lock", &call, &mut in_flight.route).await;
        in_flight.returned(&reply);
        let (status, value): (i64, Option<Vec<u8>>) = reply?;
        Ok(match (status, value) {
            (2, Some(value)) => LockAttempt::Acquired(value),
            (1, _) => LockAttempt::Busy,
            _ => LockAttempt::Missing,
        })
    }

    async fn commit_and_unlock(&self, key: &str, token: &LockToken, op: CommitOp) -> Result<()> {
        if matches!(op, CommitOp::Release) && self.released.take(token) {
            // sent behind the cut-off lock call that may take the lease (see `cut_off`)
            return Ok(());
        }
        let data = KeyName::data(&self.prefix, key);
        let keys = [data, data.lock()];
        let call = match op {
            CommitOp::Set { value, options } => match ttl_ms(&options, SystemTime::now()) {
                Some(ttl) => {
                    let (abs, sld) = expiry_args(&options);
                    let mut call = scripts::COMMIT_SET.call(&keys, value.len() + 96);
                    call.arg(token.as_bytes()).arg(value).arg(abs).arg(sld).arg(ttl);
                    call
                }
                // already expired: remove what is stored
                None => unlock_call(&keys, token, true),
            },
            CommitOp::Refresh => {
                let mut call = scripts::COMMIT_REFRESH.call(&keys, 64);
                call.arg(token.as_bytes()).arg(now_ticks());
                call
            }
            CommitOp::Remove => unlock_call(&keys, token, true),
            CommitOp::Release => unlock_call(&keys, token, false),
        };
        match self.run::<i64>("commit", &call).await? {
            1 => Ok(()),
            _ => Err(Error::LeaseLost),
        }
    }

    async fn create(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<bool> {
        // an entry expired on arrival is never visible: report it created, store nothing
        let created = self
            .write("create", &scripts::CREATE, key, value, &options)
            .await?;
        Ok(created.is_none_or(|n| n == 1))
    }
}

/// The call that releases the lease, deleting the entry too if `remove`.
pub(crate) fn unlock_call(keys: &[KeyName<'_>], token: &LockToken, remove: bool) -> ScriptCall {
    let mut call = scripts::COMMIT_UNLOCK.call(keys, 64);
    call.arg(token.as_bytes()).arg(if remove { "1" } else { "0" });
    call
}
