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
}

impl Default for RedisCacheOptions {
    /// `redis://127.0.0.1:6379`, no key prefix, a pool of 4 connections, 5-second
    /// connect timeout.
    fn default() -> Self {
        RedisCacheOptions {
            url: "redis://127.0.0.1:6379".to_owned(),
            instance_name: String::new(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(5),
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
    /// The Redis to connect to (default `redis://127.0.0.1:6379`):
    /// `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS when
    /// redis-rs is built with a TLS feature.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

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

    #[tokio::test]
    async fn an_invalid_url_is_a_configuration_error() {
        let result = RedisCache::connect_with(RedisCacheOptions::default().url("http://not-redis")).await;
        assert!(
            matches!(result, Err(session_core::Error::Config(_))),
            "{result:?}"
        );
    }
}
