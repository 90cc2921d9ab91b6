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
    aio::{ConnectionLike, MultiplexedConnection},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    sentinel::SentinelClient,
    AsyncConnectionConfig, Client, Cmd, IntoConnectionInfo, Pipeline, RedisError, Value,
};

use crate::errors::{first_refusal, is_transport, is_wrong_node, timed_out, CONNECTING, LOADING, RESOLVING};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where new connections go.
#[derive(Clone)]
enum Source {
    /// One Redis server.
    Node(Box<Client>),
    /// The master that Redis Sentinel names, asked again for every new connection, so
    /// that a connection made after a failover goes to the new master.
    Sentinel(Arc<tokio::sync::Mutex<SentinelClient>>),
    /// A Redis Cluster: one connection object multiplexed over all its masters, which
    /// follows `MOVED`/`ASK` redirections and slot moves by itself.
    Cluster(Box<ClusterClient>),
}

/// bb8 manager of [`RedisConnection`]s.
#[derive(Clone)]
pub struct RedisManager {
    source: Source,
    config: AsyncConnectionConfig,
    connect_timeout: Duration,
}

impl std::fmt::Debug for RedisManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let topology = match self.source {
            Source::Node(_) => "standalone",
            Source::Sentinel(_) => "sentinel",
            Source::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisManager")
            .field("topology", &topology)
            .finish_non_exhaustive()
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
        Self::with_source(Source::Node(Box::new(client)))
    }

    /// A manager for a Redis Cluster (any of its nodes as seeds). Each connection is
    /// redis-rs's cluster connection, multiplexed over every master; it follows
    /// redirections and slot moves itself, and the store replaces it when it fails at the
    /// transport level.
    ///
    /// ```
    /// use session_redis::{redis::cluster::ClusterClient, RedisManager};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = ClusterClient::new(vec!["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"])?;
    /// let manager = RedisManager::from_cluster_client(client);
    /// # Ok(()) }
    /// ```
    pub fn from_cluster_client(client: ClusterClient) -> Self {
        Self::with_source(Source::Cluster(Box::new(client)))
    }

    /// A manager for the master a Redis Sentinel names (build the client with
    /// `SentinelServerType::Master`). Every new connection asks the sentinels again, so
    /// after a failover the store's next connection goes to the new master.
    ///
    /// ```
    /// use session_redis::redis::sentinel::{SentinelClient, SentinelServerType};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = SentinelClient::build(
    ///     vec!["redis://127.0.0.1:26379"],
    ///     "mymaster".to_owned(),
    ///     None,
    ///     SentinelServerType::Master,
    /// )?;
    /// let manager = session_redis::RedisManager::from_sentinel_client(client);
    /// # Ok(()) }
    /// ```
    pub fn from_sentinel_client(client: SentinelClient) -> Self {
        Self::from_shared_sentinel(Arc::new(tokio::sync::Mutex::new(client)))
    }

    /// [`from_sentinel_client`](Self::from_sentinel_client), with a client the store's
    /// recall subscription asks too.
    pub(crate) fn from_shared_sentinel(client: Arc<tokio::sync::Mutex<SentinelClient>>) -> Self {
        Self::with_source(Source::Sentinel(client))
    }

    fn with_source(source: Source) -> Self {
        RedisManager {
            source,
            config: AsyncConnectionConfig::new()
                .set_response_timeout(None)
                .set_connection_timeout(Some(DEFAULT_CONNECT_TIMEOUT)),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Sets how long connecting (asking the sentinels, TCP, TLS, `AUTH`/`SELECT`, loading
    /// the scripts) may take (default: 1 s).
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

    /// A connection to one server (standalone, or the master a sentinel named), with the
    /// scripts loaded in one pipelined round trip.
    async fn connect_node(&self, client: &Client) -> Result<Conn, RedisError> {
        #[cfg(feature = "tls")]
        if matches!(
            client.get_connection_info().addr(),
            redis::ConnectionAddr::TcpTls { .. }
        ) {
            if let Err(message) = crate::client::require_crypto_provider() {
                return Err(RedisError::from((redis::ErrorKind::InvalidClientConfig, message)));
            }
        }
        let conn = client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(|error| self.connect_error(error))?;
        let mut load = redis::pipe();
        for script in crate::scripts::all() {
            load.add_command(script.load()).ignore();
        }
        tokio::time::timeout(self.connect_timeout, load.exec_async(&mut conn.clone()))
            .await
            .map_err(|_| timed_out(self.connect_timeout, LOADING))?
            .map_err(first_refusal)?;
        Ok(Conn::Node(conn))
    }

    /// A cluster connection. The scripts are loaded on every node it can reach; a node
    /// that is down now gets them from the `NOSCRIPT` fallback later (see `calls`).
    async fn connect_cluster(&self, client: &ClusterClient) -> Result<Conn, RedisError> {
        let mut conn = tokio::time::timeout(self.connect_timeout, client.get_async_connection())
            .await
            .map_err(|_| timed_out(self.connect_timeout, CONNECTING))?
            .map_err(|error| self.connect_error(error))?;
        for script in crate::scripts::all() {
            let load =
                tokio::time::timeout(self.connect_timeout, conn.req_packed_command(&script.load())).await;
            match load {
                Ok(Ok(_)) => {}
                Ok(Err(error)) if !is_transport(&error) => return Err(first_refusal(error)),
                // a node down: the cluster works on without it
                Ok(Err(_)) | Err(_) => break,
            }
        }
        Ok(Conn::Cluster(conn))
    }

    fn connect_error(&self, error: RedisError) -> RedisError {
        if error.is_timeout() {
            timed_out(self.connect_timeout, CONNECTING)
        } else {
            error
        }
    }
}

/// A connection: to one server, or redis-rs's cluster connection (itself multiplexed
/// over the cluster's nodes). Cheap to clone; clones share the connection.
#[derive(Clone)]
pub(crate) enum Conn {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn send(&mut self, cmd: &Cmd) -> Result<Value, RedisError> {
        match self {
            Conn::Node(conn) => conn.send_packed_command(cmd).await,
            Conn::Cluster(conn) => conn.req_packed_command(cmd).await,
        }
    }

    async fn send_pipeline(&mut self, pipeline: &Pipeline, count: usize) -> Result<Vec<Value>, RedisError> {
        match self {
            Conn::Node(conn) => conn.send_packed_commands(pipeline, 0, count).await,
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, 0, count).await,
        }
    }
}

/// A pooled multiplexed connection that remembers whether it broke.
///
/// The store does not hold it for the length of a command: it clones the multiplexed
/// handle (shared by all clones) and returns the connection to the pool at once, so
/// concurrent requests share a few connections and redis-rs pipelines their commands.
pub struct RedisConnection {
    pub(crate) conn: Conn,
    pub(crate) health: Arc<ConnectionHealth>,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection").finish_non_exhaustive()
    }
}

/// The reply of a command, and of the `WAIT` sent behind it, if any.
pub(crate) struct Sent {
    pub(crate) value: Value,
    pub(crate) acks: Option<Value>,
}

/// A clone of a pooled connection's handle.
#[derive(Clone)]
pub(crate) struct Handle {
    conn: Conn,
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
        let reply = self.conn.send(cmd).await;
        watch.answered();
        reply?.extract_error()
    }

    /// Sends `cmd`, with `wait` behind it in the same round trip if given.
    pub(crate) async fn send_packet(&mut self, cmd: &Cmd, wait: Option<&Cmd>) -> Result<Sent, RedisError> {
        match wait {
            None => self.send(cmd).await.map(|value| Sent { value, acks: None }),
            Some(wait) => {
                let (value, acks) = self.send_with(cmd, wait).await?;
                Ok(Sent {
                    value: value?,
                    acks: Some(acks?),
                })
            }
        }
    }

    /// Sends `cmd` and `then` in one pipeline (one round trip, on the same server in a
    /// cluster: `then` has no key of its own) and returns both replies, each with its
    /// server error.
    async fn send_with(
        &mut self,
        cmd: &Cmd,
        then: &Cmd,
    ) -> Result<(Result<Value, RedisError>, Result<Value, RedisError>), RedisError> {
        let mut pipeline = redis::pipe();
        pipeline.add_command(cmd.clone()).add_command(then.clone());
        let watch = self.health.watch();
        let replies = self.conn.send_pipeline(&pipeline, 2).await;
        watch.answered();
        let mut replies = replies?.into_iter().map(Value::extract_error);
        match (replies.next(), replies.next()) {
            (Some(first), Some(second)) => Ok((first, second)),
            _ => Err(RedisError::from((
                redis::ErrorKind::Parse,
                "a pipeline of two commands got fewer than two replies",
            ))),
        }
    }

    /// Whether a command on this connection failed at the transport level.
    pub(crate) fn is_broken(&self) -> bool {
        self.health.is_broken()
    }

    /// Marks the connection broken if `error` came from the transport (the server went
    /// away, the connection was reset, a read timed out) or says that the server is no
    /// longer a master (`READONLY`: a failover demoted it), and says whether it did.
    pub(crate) fn observe(&self, error: &RedisError) -> bool {
        let broken = is_transport(error) || is_wrong_node(error);
        if broken {
            self.health.mark_broken();
        }
        broken
    }
}

impl bb8::ManageConnection for RedisManager {
    type Connection = RedisConnection;
    type Error = RedisError;

    async fn connect(&self) -> Result<RedisConnection, RedisError> {
        let conn = match &self.source {
            Source::Node(client) => self.connect_node(client).await?,
            Source::Sentinel(sentinel) => {
                let asked = async { sentinel.lock().await.async_get_client().await };
                let client = tokio::time::timeout(self.connect_timeout, asked)
                    .await
                    .map_err(|_| timed_out(self.connect_timeout, RESOLVING))??;
                self.connect_node(&client).await?
            }
            Source::Cluster(client) => self.connect_cluster(client).await?,
        };
        Ok(RedisConnection {
            conn,
            health: Arc::new(ConnectionHealth::multiplexed()),
        })
    }

    async fn is_valid(&self, conn: &mut RedisConnection) -> Result<(), RedisError> {
        // Only used if a pool is built with `test_on_check_out(true)`.
        conn.conn
            .send(&redis::cmd("PING"))
            .await?
            .extract_error()
            .map(drop)
    }

    fn has_broken(&self, conn: &mut RedisConnection) -> bool {
        conn.health.is_broken()
    }
}
