//! Options of the Redis cache.

use std::time::Duration;

/// Options of [`RedisCache::connect`](crate::RedisCache::connect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCacheOptions {
    pub(crate) instance_name: String,
    pub(crate) pool_size: u32,
    pub(crate) connect_timeout: Duration,
}

impl Default for RedisCacheOptions {
    /// No key prefix, a pool of 4 connections, 5-second connect timeout.
    fn default() -> Self {
        RedisCacheOptions {
            instance_name: String::new(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisCacheOptions {
    /// Prefix of every key (ASP.NET's `InstanceName`, e.g. `KestrunSession_`), so apps
    /// sharing a Redis keep apart.
    pub fn instance_name(mut self, prefix: impl Into<String>) -> Self {
        self.instance_name = prefix.into();
        self
    }

    /// Most connections in the pool (default 4). Each is multiplexed and only lent out
    /// for the moment it takes to clone its handle, so concurrent requests pipeline their
    /// commands over a few connections; more rarely helps.
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long to wait for a new connection (TCP, handshake, loading the scripts) and
    /// for a free one from the pool.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}
