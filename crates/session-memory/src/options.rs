//! Options of the memory cache (after .NET's `MemoryDistributedCacheOptions`).

use std::time::Duration;

/// Options of a [`MemoryCache`](crate::MemoryCache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCacheOptions {
    pub(crate) size_limit: Option<usize>,
    pub(crate) expiration_scan_frequency: Duration,
}

impl Default for MemoryCacheOptions {
    /// No size limit; expired entries scanned for at most once a minute.
    fn default() -> Self {
        MemoryCacheOptions {
            size_limit: None,
            expiration_scan_frequency: Duration::from_secs(60),
        }
    }
}

impl MemoryCacheOptions {
    /// The most bytes (keys + values) the cache holds; least-recently-used entries are
    /// evicted to make room. Default: unlimited.
    ///
    /// ```
    /// let options = session_memory::MemoryCacheOptions::default().size_limit(256 * 1024 * 1024);
    /// ```
    pub fn size_limit(mut self, bytes: usize) -> Self {
        self.size_limit = Some(bytes);
        self
    }

    /// The least time between two scans for expired entries. Default: 1 minute.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = session_memory::MemoryCacheOptions::default().expiration_scan_frequency(Duration::from_secs(30));
    /// ```
    pub fn expiration_scan_frequency(mut self, every: Duration) -> Self {
        self.expiration_scan_frequency = every;
        self
    }
}
