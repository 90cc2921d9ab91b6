//! The bb8 connection manager: bb8-redis's, minus the hidden round trips.
//!
//! bb8-redis checks a connection with `PING` on every checkout (a round trip per request)
//! and never notices a broken multiplexed connection, so after a Redis restart the pool
//! would hand out dead connections forever. This manager never pings on checkout; a
//! connection whose command failed at the transport level is marked broken and bb8 drops
//! it when it comes back, so the next checkout connects afresh.
//!
//! redis-rs also puts a 500 ms response timeout (a timer per command) on connections by
//! default; ours have none, because the engine bounds every store call by its
//! `io_timeout` already.

use std::{sync::Arc, time::Duration};

use session_core::store::lease::ConnectionHealth;

use redis::{
    aio::MultiplexedConnection, AsyncConnectionConfig, Client, Cmd, IntoConnectionInfo, RedisError, Value,
};

use crate::errors::{first_refusal, is_transport, timed_out, CONNECTING, LOADING};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// bb8 manager of [`RedisConnection`]s.
#[derive(Clone)]
pub struct RedisManager {
    client: Client,
    config: AsyncConnectionConfig,
    connect_timeout: Duration,
}

impl std::fmt::Debug for RedisManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisManager").finish_non_exhaustive()
    }
}

impl RedisManager {
    /// A manager for the Redis at `info` (a `redis://` URL, ...).
    ///
    /// ```
    /// let manager = session_redis::RedisManager::new("redis://127.0.0.1:6379");
    /// ```
    ///
    /// # Errors
    /// If `info` is not a valid Redis address.
    pub fn new<T: IntoConnectionInfo>(info: T) -> Result<Self, RedisError> {
        Ok(Self::from_client(Client::open(info.into_connection_info()?)?))
    }

    /// A manager for a client built by hand (for example with
    /// [`Client::build_with_tls`](redis::Client) and a TLS feature of redis-rs).
    ///
    /// ```
    /// use session_redis::{redis::Client, RedisManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = RedisManager::from_client(Client::open("redis://127.0.0.1:6379")?);
    /// # Ok(()) }
    /// ```
    pub fn from_client(client: Client) -> Self {
        RedisManager {
            client,
            config: AsyncConnectionConfig::new()
                .set_response_timeout(None)
                .set_connection_timeout(Some(DEFAULT_CONNECT_TIMEOUT)),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Sets how long connecting (TCP, TLS, `AUTH`/`SELECT`, loading the scripts) may
    /// take (default: 1 s).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = session_redis::RedisManager::new("redis://127.0.0.1:6379")?
    ///     .with_connect_timeout(std::time::Duration::from_secs(2));
    /// # Ok(()) }
    /// ```
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.set_connection_timeout(Some(timeout));
        self.connect_timeout = timeout;
        self
    }
}

/// A pooled multiplexed connection that remembers whether it broke.
///
/// The store does not hold it for the length of a command: it clones the multiplexed
/// handle (shared by all clones) and returns the connection to the pool at once, so
/// concurrent requests share a few connections and redis-rs pipelines their commands.
pub struct RedisConnection {
    pub(crate) conn: MultiplexedConnection,
    pub(crate) health: Arc<ConnectionHealth>,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection").finish_non_exhaustive()
    }
}

/// A clone of a pooled connection's handle.
#[derive(Clone)]
pub(crate) struct Handle {
    conn: MultiplexedConnection,
    health: Arc<ConnectionHealth>,
}

impl RedisConnection {
    pub(crate) fn handle(&self) -> Handle {
        Handle {
            conn: self.conn.clone(),
            health: Arc::clone(&self.health),
        }
    }
}

impl Handle {
    /// Sends one command and reads its reply, server errors included.
    ///
    /// A call dropped before its reply is judged as on any multiplexed connection
    /// ([`ConnectionHealth::multiplexed`]): after a slow wait, or the third in a row, the
    /// connection counts as dead and the next call takes a new one; a single call dropped
    /// sooner (its client went away) leaves it to the other requests, and a release sent
    /// after it then travels behind it on the same connection.
    pub(crate) async fn send(&mut self, cmd: &Cmd) -> Result<Value, RedisError> {
        let watch = self.health.watch();
        let reply = self.conn.send_packed_command(cmd).await;
        watch.answered();
        reply?.extract_error()
    }

    /// Whether a command on this connection failed at the transport level.
    pub(crate) fn is_broken(&self) -> bool {
        self.health.is_broken()
    }

    /// Marks the connection broken if `error` came from the transport (the server went
    /// away, the connection was reset, a read timed out), and says whether it did.
    pub(crate) fn observe(&self, error: &RedisError) -> bool {
        let transport = is_transport(error);
        if transport {
            self.health.mark_broken();
        }
        transport
    }
}

impl bb8::ManageConnection for RedisManager {
    type Connection = RedisConnection;
    type Error = RedisError;

    async fn connect(&self) -> Result<RedisConnection, RedisError> {
        #[cfg(feature = "tls")]
        if matches!(
            self.client.get_connection_info().addr(),
            redis::ConnectionAddr::TcpTls { .. }
        ) {
            if let Err(message) = crate::client::require_crypto_provider() {
                return Err(RedisError::from((redis::ErrorKind::InvalidClientConfig, message)));
            }
        }
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(|error| {
                if error.is_timeout() {
                    timed_out(self.connect_timeout, CONNECTING)
                } else {
                    error
                }
            })?;
        let mut load = redis::pipe();
        for script in crate::scripts::all() {
            load.add_command(script.load()).ignore();
        }
        tokio::time::timeout(self.connect_timeout, load.exec_async(&mut conn.clone()))
            .await
            .map_err(|_| timed_out(self.connect_timeout, LOADING))?
            .map_err(first_refusal)?;
        Ok(RedisConnection {
            conn,
            health: Arc::new(ConnectionHealth::multiplexed()),
        })
    }

    async fn is_valid(&self, conn: &mut RedisConnection) -> Result<(), RedisError> {
        // Only used if a pool is built with `test_on_check_out(true)`.
        redis::cmd("PING")
            .query_async::<String>(&mut conn.conn)
            .await
            .map(drop)
    }

    fn has_broken(&self, conn: &mut RedisConnection) -> bool {
        conn.health.is_broken()
    }
}
