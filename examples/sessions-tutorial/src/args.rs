//! The examples' command line (SPEC section 6) and the store it chooses.

use std::{net::IpAddr, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use distributed_session::{
    store::DistributedCache, MemoryCache, PostgresCache, PostgresCacheOptions, RedisCache, RedisCacheOptions,
    SigningKey, SqlServerCache, SqlServerCacheOptions,
};

/// Which store backs the sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// In-process memory (single instance).
    Memory,
    /// Redis (`--redis-url`).
    Redis,
    /// SQL Server (`--mssql-connection-string`).
    Sqlserver,
    /// PostgreSQL (`--postgres-url`).
    Postgres,
}

/// Command line of both tutorial servers. `Debug` leaves out the secrets (signing key,
/// connection string, Redis URL).
#[derive(Clone, Parser)]
#[command(about = "Session tutorial server (seed 19.1 / 19.2)")]
pub struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Address to listen on (an IP address, or `localhost`).
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_ip)]
    pub ip: IpAddr,
    /// Session store.
    #[arg(long, value_enum, ignore_case = true, default_value_t = StoreKind::Memory)]
    pub store: StoreKind,
    /// Redis for `--store redis`: a URL (`redis://`, `rediss://` for TLS) or a
    /// StackExchange.Redis configuration string (`localhost:6379`,
    /// `host:6380,password=...,ssl=True`). From the environment, it stays out of the
    /// process list (it may hold a password).
    #[arg(
        long,
        env = "SESSION_REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// A Redis Cluster for `--store redis`, instead of `--redis-url`: some of its nodes,
    /// comma-separated URLs (`redis://[user:password@]host:port`, `rediss://` for TLS).
    #[arg(
        long,
        env = "SESSION_REDIS_CLUSTER",
        hide_env_values = true,
        value_delimiter = ',',
        conflicts_with = "redis_sentinel"
    )]
    pub redis_cluster: Vec<String>,
    /// Redis Sentinel for `--store redis`, instead of `--redis-url`: the sentinels,
    /// comma-separated URLs (`redis://host:26379`, ...); needs `--redis-sentinel-master`.
    #[arg(
        long,
        env = "SESSION_REDIS_SENTINEL",
        hide_env_values = true,
        value_delimiter = ',',
        requires = "redis_sentinel_master"
    )]
    pub redis_sentinel: Vec<String>,
    /// The name of the master the sentinels watch (`sentinel monitor <name> ...`).
    #[arg(long, env = "SESSION_REDIS_SENTINEL_MASTER")]
    pub redis_sentinel_master: Option<String>,
    /// Replicas that must acknowledge each commit before it is answered (Redis `WAIT`; 0:
    /// none).
    #[arg(long, default_value_t = 0)]
    pub redis_replica_acks: u32,
    /// ADO.NET-style connection string for `--store sqlserver` (the table `dbo.Sessions`
    /// is created if missing).
    #[arg(long, env = "SESSION_MSSQL_CONNECTION_STRING", hide_env_values = true)]
    pub mssql_connection_string: Option<String>,
    /// PostgreSQL URL for `--store postgres` (`postgres://user:password@host:5432/db`;
    /// the tables are created if missing, and expired rows deleted every 30 minutes).
    #[arg(long, env = "SESSION_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// The schema of the PostgreSQL tables (created if missing).
    #[arg(long, default_value = "public")]
    pub postgres_schema: String,
    /// Send PostgreSQL statements as simple queries with their values written in,
    /// instead of prepared statements: for PgBouncer (before 1.21) in transaction
    /// pooling mode.
    #[arg(long)]
    pub postgres_simple_queries: bool,
    /// Session idle timeout, in seconds (sliding).
    #[arg(long, default_value_t = 20)]
    pub idle_timeout: u64,
    /// Timeout of every store call, in seconds.
    #[arg(long, default_value_t = 10)]
    pub io_timeout: u64,
    /// Longest time, in seconds, a crashed instance can keep a session locked in a
    /// shared store (the lease of the session lock).
    #[arg(long, default_value_t = 30)]
    pub lock_lease: u64,
    /// Hot sessions (Redis): keep the leases and values of up to this many sessions in
    /// this instance between their requests (0: off). See the guide's "Hot sessions".
    #[arg(long, default_value_t = 10_000)]
    pub hot_sessions: usize,
    /// Serve plain HTTP (cookie SecurePolicy None) instead of HTTPS with a self-signed
    /// certificate.
    #[arg(long)]
    pub http: bool,
    /// Record the session metrics and serve them at `GET /metrics` (Prometheus text
    /// format).
    #[arg(long)]
    pub metrics: bool,
    /// Secret (at least 32 bytes) that signs session cookies; instances sharing a store
    /// need the same one, and a shared store (Redis, SQL Server, PostgreSQL) refuses to start without
    /// it. Default with the memory store: a random per-process key.
    #[arg(long, env = "SESSION_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
}

impl Args {
    /// The Redis options of these arguments: one server, a Cluster or Sentinel.
    pub fn redis_options(&self) -> RedisCacheOptions {
        let options = RedisCacheOptions::default()
            .instance_name("KestrunSession_")
            .connect_timeout(self.io_timeout())
            .replica_acks(self.redis_replica_acks)
            .replica_ack_timeout(self.io_timeout() / 2);
        match (&self.redis_cluster[..], &self.redis_sentinel[..]) {
            ([], []) => options.url(&self.redis_url),
            (seeds, []) => options.cluster(seeds.iter().cloned()),
            (_, sentinels) => options.sentinel(
                sentinels.iter().cloned(),
                self.redis_sentinel_master.clone().unwrap_or_default(),
            ),
        }
    }

    /// The store these arguments choose, connected.
    ///
    /// # Errors
    /// If the store cannot be set up (a Redis URL or connection string that does not
    /// parse; a server that cannot be reached is only logged, and answered with 503s).
    pub async fn store(&self) -> anyhow::Result<Arc<dyn DistributedCache>> {
        Ok(match self.store {
            StoreKind::Memory => Arc::new(MemoryCache::default()),
            StoreKind::Redis => {
                // `rediss://` needs a process-wide rustls crypto provider, which is the
                // application's to choose (the library does not install one)
                let _ = rustls::crypto::ring::default_provider().install_default();
                Arc::new(RedisCache::connect_with(self.redis_options()).await?)
            }
            StoreKind::Sqlserver => {
                let Some(connection_string) = &self.mssql_connection_string else {
                    bail!("--store sqlserver needs --mssql-connection-string");
                };
                let options = SqlServerCacheOptions::default()
                    .table_name("Sessions")
                    .create_table_if_missing(true)
                    .connect_timeout(self.io_timeout());
                Arc::new(SqlServerCache::connect(connection_string, options).await?)
            }
            StoreKind::Postgres => {
                let Some(url) = &self.postgres_url else {
                    bail!("--store postgres needs --postgres-url (or SESSION_POSTGRES_URL)");
                };
                let options = PostgresCacheOptions::default()
                    .schema_name(&self.postgres_schema)
                    .create_if_missing(true)
                    .prepared_statements(!self.postgres_simple_queries)
                    .connect_timeout(self.io_timeout());
                let cache = PostgresCache::connect(url, options).await?;
                cache
                    .spawn_expired_deletion(Duration::from_secs(30 * 60))
                    .detach();
                Arc::new(cache)
            }
        })
    }

    /// The signing key, if one was given.
    ///
    /// # Errors
    /// If it is shorter than 32 bytes.
    pub fn signing_key(&self) -> anyhow::Result<Option<SigningKey>> {
        self.signing_key
            .as_ref()
            .map(|secret| SigningKey::from_bytes(secret.as_bytes()))
            .transpose()
            .context("--signing-key (or SESSION_SIGNING_KEY)")
    }

    /// `--idle-timeout`.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }

    /// `--io-timeout`.
    pub fn io_timeout(&self) -> Duration {
        Duration::from_secs(self.io_timeout)
    }

    /// `--lock-lease`.
    pub fn lock_lease(&self) -> Duration {
        Duration::from_secs(self.lock_lease)
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.http {
            "http"
        } else {
            "https"
        }
    }
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("port", &self.port)
            .field("ip", &self.ip)
            .field("store", &self.store)
            .field("idle_timeout", &self.idle_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("lock_lease", &self.lock_lease)
            .field("hot_sessions", &self.hot_sessions)
            .field("http", &self.http)
            .field("redis_sentinel_master", &self.redis_sentinel_master)
            .field("redis_replica_acks", &self.redis_replica_acks)
            .finish_non_exhaustive()
    }
}

/// `--ip`: an IP address, or `localhost` for 127.0.0.1.
fn parse_ip(value: &str) -> Result<IpAddr, String> {
    if value.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    value
        .parse()
        .map_err(|_| format!("{value:?} is not an IP address (or `localhost`)"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Args, StoreKind};

    #[test]
    fn ip_takes_localhost_and_store_ignores_case() {
        let args = Args::try_parse_from(["x", "--ip", "localhost", "--store", "Redis"]).unwrap();
        assert_eq!(args.ip.to_string(), "127.0.0.1");
        assert!(matches!(args.store, StoreKind::Redis));
        assert!(Args::try_parse_from(["x", "--ip", "example.com"]).is_err());
    }

    #[test]
    fn redis_topologies_take_comma_separated_urls() {
        let args = Args::try_parse_from([
            "x",
            "--redis-cluster",
            "redis://a:7000,redis://b:7001",
            "--redis-replica-acks",
            "1",
        ])
        .unwrap();
        assert_eq!(args.redis_cluster, ["redis://a:7000", "redis://b:7001"]);
        assert_eq!(args.redis_replica_acks, 1);
        let debug = format!("{:?}", args.redis_options());
        assert!(
            debug.contains("cluster") && debug.contains("replica_acks: 1"),
            "{debug}"
        );

        let args = Args::try_parse_from([
            "x",
            "--redis-sentinel",
            "redis://s1:26379,redis://s2:26379",
            "--redis-sentinel-master",
            "mymaster",
        ])
        .unwrap();
        assert_eq!(args.redis_sentinel.len(), 2);
        assert!(format!("{:?}", args.redis_options()).contains("sentinel"));

        // a sentinel setup names its master; cluster and sentinel exclude each other
        assert!(Args::try_parse_from(["x", "--redis-sentinel", "redis://s1:26379"]).is_err());
        assert!(Args::try_parse_from([
            "x",
            "--redis-cluster",
            "redis://a:7000",
            "--redis-sentinel",
            "redis://s:26379",
            "--redis-sentinel-master",
            "m"
        ])
        .is_err());
    }
}
