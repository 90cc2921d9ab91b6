//! Sessions a store's own expiry removed (its expired-entries scan or deletion task),
//! reported to the engines over it as [`SessionEvent::Expired`](crate::SessionEvent::Expired).
//!
//! An engine with event handlers gives its store an [`ExpiryWatcher`] when it is built
//! ([`DistributedCache::watch_expiry`](crate::store::DistributedCache::watch_expiry)); a
//! store that removes expired entries itself keeps its watchers in [`ExpiryWatchers`] and
//! reports each batch it removed. Stores whose expiry happens inside the server (Redis
//! TTLs) report nothing: their sessions are reported expired when a cookie comes back.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::{events::Events, id::SessionId, SessionEvent};

/// One engine's ear for the sessions its store's expiry removed. It holds the engine
/// weakly: once the engine is dropped, reports go nowhere and the watcher is let go.
#[derive(Clone)]
pub struct ExpiryWatcher {
    events: Weak<Events>,
}

impl ExpiryWatcher {
    pub(crate) fn new(events: &Arc<Events>) -> Self {
        ExpiryWatcher {
            events: Arc::downgrade(events),
        }
    }

    /// Reports the entries removed under `keys` as expired sessions (keys that are not
    /// session ids are skipped), as one batch on the engine's event queue; `false` once
    /// the engine is gone.
    pub fn expired<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> bool {
        let Some(events) = self.events.upgrade() else {
            return false;
        };
        let batch: Vec<SessionEvent> = keys
            .into_iter()
            .filter_map(SessionId::parse)
            .map(|id| SessionEvent::Expired { id })
            .collect();
        events.emit_batch(batch);
        true
    }

    /// Whether the engine is still there.
    pub fn is_live(&self) -> bool {
        self.events.strong_count() > 0
    }
}

impl std::fmt::Debug for ExpiryWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiryWatcher")
            .field("live", &self.is_live())
            .finish()
    }
}

/// A store's [`ExpiryWatcher`]s, shared by its clones: what a store that removes expired
/// entries itself keeps, to report them.
///
/// ```
/// use session_core::store::ExpiryWatchers;
/// let watchers = ExpiryWatchers::default();
/// assert!(!watchers.is_watched()); // no engine with event handlers: nothing to collect
/// watchers.report(["an-expired-key"]); // reaches no one
/// ```
#[derive(Debug, Default)]
pub struct ExpiryWatchers {
    watchers: Mutex<Vec<ExpiryWatcher>>,
}

impl ExpiryWatchers {
    /// Adds an engine's watcher (what a store's
    /// [`watch_expiry`](crate::store::DistributedCache::watch_expiry) does).
    pub fn add(&self, watcher: ExpiryWatcher) {
        let mut watchers = self.lock();
        watchers.retain(ExpiryWatcher::is_live);
        watchers.push(watcher);
    }

    /// Whether any live engine listens: a store need not even collect the keys it
    /// removes otherwise.
    pub fn is_watched(&self) -> bool {
        self.lock().iter().any(ExpiryWatcher::is_live)
    }

    /// Reports the entries removed under `keys` to every live watcher.
    pub fn report<'a, I>(&self, keys: I)
    where
        I: IntoIterator<Item = &'a str>,
        I::IntoIter: Clone,
    {
        let keys = keys.into_iter();
        self.lock().retain(|watcher| watcher.expired(keys.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ExpiryWatcher>> {
        // a watcher list is consistent at every step: a panic elsewhere cannot break it
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watcher_lets_go_when_its_engine_is_dropped() {
        let events = Arc::new(Events::default());
        let watchers = ExpiryWatchers::default();
        watchers.add(ExpiryWatcher::new(&events));
        assert!(watchers.is_watched());
        drop(events);
        assert!(!watchers.is_watched());
        watchers.report(["gone"]);
        assert!(watchers.lock().is_empty());
    }
}
