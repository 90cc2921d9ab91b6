//! In-process [`DistributedCache`] for distributed-session (ASP.NET Core's
//! `MemoryDistributedCache`): the default store, for single-instance apps and tests.
//!
//! - **Size limit** (optional, in bytes of keys + values): least-recently-used entries
//!   are evicted to make room; a single entry larger than the limit is refused with
//!   [`Error::EntryTooLarge`](session_core::Error::EntryTooLarge).
//! - **Expiry**: sliding and absolute, per entry. Expired entries are never returned;
//!   they are dropped when touched and by a scan that runs, at most once per
//!   [`MemoryCacheOptions::expiration_scan_frequency`], on the next cache operation
//!   (as in .NET, no background task is needed). The sessions a scan drops are reported
//!   to engines with event handlers as `SessionEvent::Expired`.
//! - **Session lock**: implements [`SessionLock`] with in-process leases, so the
//!   session engine's lock contract holds exactly as with Redis or SQL Server.
//!
//! Nothing is shared between processes and everything is lost on restart.
//!
//! ```
//! use std::time::Duration;
//! use session_memory::{MemoryCache, MemoryCacheOptions};
//!
//! let cache = MemoryCache::new(
//!     MemoryCacheOptions::default()
//!         .size_limit(64 * 1024 * 1024)
//!         .expiration_scan_frequency(Duration::from_secs(300)),
//! );
//! # let _ = cache;
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod entry;
mod options;
mod principals;
mod store;

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use session_core::store::{
    CommitOp, DistributedCache, EntryOptions, ExpiryWatcher, ExpiryWatchers, Fence, IndexedSession,
    LocalLocks, LockAttempt, LockToken, Owner, PrincipalIndex, SessionLock,
};
use session_core::Result;

pub use options::MemoryCacheOptions;
use store::Store;

/// The in-process cache. Cheap to clone: clones share one store and one lock table
/// (build it once, then clone it into each actix-web worker's middleware). All operations
/// take one short mutex and never wait on I/O.
#[derive(Debug, Clone)]
pub struct MemoryCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Mutex<Store>,
    locks: LocalLocks,
    /// The engines told of what the expiration scan drops.
    expiry: ExpiryWatchers,
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new(MemoryCacheOptions::default())
    }
}

impl MemoryCache {
    /// A cache with the given options.
    ///
    /// ```
    /// use session_memory::{MemoryCache, MemoryCacheOptions};
    /// let cache = MemoryCache::new(MemoryCacheOptions::default().size_limit(64 * 1024 * 1024));
    /// ```
    pub fn new(options: MemoryCacheOptions) -> Self {
        MemoryCache {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::new(options)),
                locks: LocalLocks::default(),
                expiry: ExpiryWatchers::default(),
            }),
        }
    }

    /// Runs `f` on the store after an expiration scan, if one is due; the sessions the
    /// scan dropped are reported to the watching engines once the store is unlocked.
    fn with<T>(&self, f: impl FnOnce(&mut Store, u64) -> T) -> T {
        let mut store = self.lock();
        let now = store.now();
        let expired = store.scan_if_due(now);
        let out = f(&mut store, now);
        drop(store);
        if !expired.is_empty() {
            self.inner.expiry.report(expired.iter().map(|key| &**key));
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // Every critical section leaves the store consistent, so a panic elsewhere while
        // holding the lock does not make it unusable.
        self.inner.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of live (unexpired) entries.
    ///
    /// ```
    /// let cache = session_memory::MemoryCache::default();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.with(|store, now| store.live_count(now))
    }

    /// Whether the cache has no live entries.
    ///
    /// ```
    /// assert!(session_memory::MemoryCache::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes counted against the size limit (keys + values of stored entries).
    ///
    /// ```
    /// assert_eq!(session_memory::MemoryCache::default().size(), 0);
    /// ```
    pub fn size(&self) -> usize {
        self.lock().size()
    }

    /// Number of records in the principal index (every principal's sessions together):
    /// what the index costs in memory, and a check that it holds no dead sessions.
    ///
    /// ```
    /// assert_eq!(session_memory::MemoryCache::default().indexed_sessions(), 0);
    /// ```
    pub fn indexed_sessions(&self) -> usize {
        self.lock().indexed()
    }
}

#[async_trait]
impl DistributedCache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.with(|store, now| store.live(key, now).map(|e| e.value.to_vec())))
    }

    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        self.with(|store, now| store.set(key, value, options, now))
    }

    async fn refresh(&self, key: &str) -> Result<()> {
        self.with(|store, now| {
            store.live(key, now);
        });
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.with(|store, _| store.remove(key));
        Ok(())
    }

    fn local_locks(&self) -> Option<&LocalLocks> {
        Some(&self.inner.locks)
    }

    fn is_distributed(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }

    fn watch_expiry(&self, watcher: ExpiryWatcher) {
        self.inner.expiry.add(watcher);
    }

    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        Some(self)
    }
}

#[async_trait]
impl PrincipalIndex for MemoryCache {
    async fn sessions_of(&self, principal: &str) -> Result<Vec<IndexedSession>> {
        Ok(self.with(|store, now| store.sessions_of(principal, now)))
    }

    async fn revoke(&self, principal: &str, keys: &[String]) -> Result<usize> {
        Ok(self.with(|store, now| store.revoke(principal, keys, now)))
    }

    async fn unindex(&self, principal: &str, key: &str) -> Result<()> {
        self.with(|store, _| store.unindex(principal, key));
        Ok(())
    }
}

#[async_trait]
impl SessionLock for MemoryCache {
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt> {
        Ok(self.with(|store, now| {
            let until = store.after(now, lease);
            match store.live(key, now) {
                Some(entry) if entry.leased_by_other(token, now) => LockAttempt::Busy,
                Some(entry) => {
                    entry.take_lease(token, until);
                    LockAttempt::Acquired(entry.value.to_vec(), Fence::new(entry.fence))
                }
                None => LockAttempt::Missing,
            }
        }))
    }

    async fn commit_and_unlock(
        &self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
    ) -> Result<()> {
        self.with(|store, now| store.commit(key, token, fence, op, owner, now))
    }

    fn fences(&self) -> bool {
        true
    }

    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        options: EntryOptions,
        owner: Option<Owner<'_>>,
    ) -> Result<bool> {
        self.with(|store, now| {
            if store.live(key, now).is_some() {
                return Ok(false);
            }
            store.remove(key); // an expired entry under the key: nothing of it is kept
            store.set(key, value, options, now)?;
            store.own(key, owner, now);
            Ok(true)
        })
    }
}
