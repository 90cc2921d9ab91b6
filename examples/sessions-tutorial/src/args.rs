//! The examples' command line (SPEC section 6) and the store it chooses.

use std::{net::IpAddr, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use distributed_session::{
    store::DistributedCache, MemoryCache, RedisCache, RedisCacheOptions, SigningKey, SqlServerCache,
    SqlServerCacheOptions,
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
    /// ADO.NET-style connection string for `--store sqlserver` (the table `dbo.Sessions`
    /// is created if missing).
    #[arg(long, env = "SESSION_MSSQL_CONNECTION_STRING", hide_env_values = true)]
    pub mssql_connection_string: Option<String>,
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
    /// Serve plain HTTP (cookie SecurePolicy None) instead of HTTPS with a self-signed
    /// certificate.
    #[arg(long)]
    pub http: bool,
    /// Secret (at least 32 bytes) that signs session cookies; instances sharing a store
    /// need the same one, and a shared store (Redis, SQL Server) refuses to start without
    /// it. Default with the memory store: a random per-process key.
    #[arg(long, env = "SESSION_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
}

impl Args {
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
                let options = RedisCacheOptions::default()
                    .instance_name("KestrunSession_")
                    .connect_timeout(self.io_timeout());
                Arc::new(RedisCache::connect(&self.redis_url, options).await?)
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
            .field("http", &self.http)
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
}
