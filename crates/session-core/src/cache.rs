//! The `DistributedCache` port (ASP.NET Core's `IDistributedCache`).

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use crate::{
    engine::{hot::HotTable, lock_table::LockTable},
    entry::EntryOptions,
    error::Result,
    lock::SessionLock,
    principal::PrincipalIndex,
};

/// A byte-valued cache shared by every instance of an app: the store behind sessions.
///
/// This is the port of ASP.NET Core's `IDistributedCache`, object-safe through
/// `async_trait` so the engine can hold an `Arc<dyn DistributedCache>`.
///
/// # Guarantees every implementation gives
///
/// - **No stale reads:** an expired entry is never returned by [`get`](Self::get), even if
///   the store has not yet deleted it.
/// - **Sliding expiry:** [`get`](Self::get) and [`refresh`](Self::refresh) move a sliding
///   entry's expiry to *now + sliding*, capped by its absolute expiry.
/// - **Whole values:** [`set`](Self::set) replaces the value atomically; a reader sees the
///   old value or the new one, never a mix.
/// - **Errors, not panics:** a store outage is an [`Error::Store`](crate::Error::Store);
///   the caller bounds each call with its IOTimeout.
///
/// Stores that can serialize the requests of a session across processes also implement
/// [`SessionLock`] and return it from [`session_lock`](Self::session_lock); the engine
/// then takes the lease and loads the data in one call, and commits and releases in one.
#[doc(alias = "SessionStore")]
#[async_trait]
pub trait DistributedCache: Send + Sync + 'static {
    /// Returns the value under `key`, or `None` if it is missing or expired, and slides
    /// its expiry.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key` with the given expiry, replacing any previous value.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached;
    /// [`Error::EntryTooLarge`](crate::Error::EntryTooLarge) if the store cannot hold it.
    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()>;

    /// Slides the expiry of `key` without reading its value. Missing keys are ignored.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn refresh(&self, key: &str) -> Result<()>;

    /// Deletes `key`. Missing keys are ignored.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn remove(&self, key: &str) -> Result<()>;

    /// The in-process lock table this store shares with all its clones, if it keeps one.
    ///
    /// Every engine built over a clone of one store (one per actix-web worker, say)
    /// then waits on the same table, so the requests of a session are serialized across
    /// all of them in-process. Without one (the default), each engine has a table of its
    /// own, and only the store's [`SessionLock`] (if any) serializes across engines.
    fn local_locks(&self) -> Option<&LocalLocks> {
        None
    }

    /// Whether several processes can share this store (default `true`). An engine over
    /// such a store refuses to start without a signing key: instances with random keys
    /// would reject each other's cookies. The memory store answers `false`.
    fn is_distributed(&self) -> bool {
        true
    }

    /// The store's name in metrics' `store` label (`memory`, `redis`, `postgres`,
    /// `sqlserver`; default `custom`): a short constant, never a connection string.
    fn name(&self) -> &'static str {
        "custom"
    }

    /// The store's session-lock capability, if it has one.
    ///
    /// Without it the engine still serializes the requests of a session within one
    /// process, but not across processes, and logs a warning when it is built.
    fn session_lock(&self) -> Option<&dyn SessionLock> {
        None
    }

    /// Gives the store an engine's ear for the sessions its own expiry removes (an
    /// expired-entries scan or deletion task), to be reported as
    /// [`SessionEvent::Expired`](crate::SessionEvent::Expired). The engine calls it when
    /// it is built with event handlers. A store that removes expired entries itself keeps
    /// the watcher in an [`ExpiryWatchers`](crate::store::ExpiryWatchers) and reports each
    /// batch; the default ignores it (nothing is reported but expired cookies that come
    /// back).
    fn watch_expiry(&self, watcher: crate::expiry::ExpiryWatcher) {
        let _ = watcher;
    }

    /// The store's index of sessions by principal, if it has one (it needs the
    /// [`SessionLock`] capability too): what listing and revoking a user's sessions use.
    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        None
    }
}

/// A shared store is a store: `Arc<dyn DistributedCache>` (or `Arc<MyStore>`) can be
/// handed to a session layer while the application keeps its own handle.
#[async_trait]
impl<T: DistributedCache + ?Sized> DistributedCache for Arc<T> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        (**self).get(key).await
    }
    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        (**self).set(key, value, options).await
    }
    async fn refresh(&self, key: &str) -> Result<()> {
        (**self).refresh(key).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key).await
    }
    fn local_locks(&self) -> Option<&LocalLocks> {
        (**self).local_locks()
    }
    fn is_distributed(&self) -> bool {
        (**self).is_distributed()
    }
    fn session_lock(&self) -> Option<&dyn SessionLock> {
        (**self).session_lock()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn watch_expiry(&self, watcher: crate::expiry::ExpiryWatcher) {
        (**self).watch_expiry(watcher);
    }
    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        (**self).principal_index()
    }
}

/// The in-process half of the session lock: the table of sessions locked in this
/// process, shared by every clone of the store that keeps it.
///
/// A store author keeps one in the state its clones share and returns it from
/// [`DistributedCache::local_locks`]. The table is made by the first engine built over
/// the store, with that engine's `max_locked_sessions` bound.
#[derive(Clone, Default)]
pub struct LocalLocks(Arc<Shared>);

/// What the engines over one store share in process.
#[derive(Default)]
struct Shared {
    table: OnceLock<Arc<LockTable>>,
    /// Hot sessions' kept leases: one table per store, so that every engine over it
    /// (one per actix-web worker) serves the sessions any of them keeps.
    hot: OnceLock<Arc<HotTable>>,
}

impl LocalLocks {
    /// The table, made with `limit` if this is its first use.
    pub(crate) fn table(&self, limit: usize) -> Arc<LockTable> {
        Arc::clone(self.0.table.get_or_init(|| Arc::new(LockTable::new(limit))))
    }

    /// The hot-session table, made by `make` if this is its first use.
    pub(crate) fn hot(&self, make: impl FnOnce() -> HotTable) -> Arc<HotTable> {
        Arc::clone(self.0.hot.get_or_init(|| Arc::new(make())))
    }
}

impl std::fmt::Debug for LocalLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLocks")
            .field("in_use", &self.0.table.get().is_some())
            .field("hot", &self.0.hot.get().is_some())
            .finish()
    }
}
