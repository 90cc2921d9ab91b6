//! Recalls: how a store that keeps leases between requests (hot sessions) reaches the
//! sessions this instance keeps, when another instance asks for one or when the store
//! may have lost track of them.
//!
//! An engine with hot sessions gives its store a [`Recalls`] when it is built
//! ([`SessionLock::watch_recalls`](crate::store::SessionLock::watch_recalls)). The store
//! hears, its own way (the Redis store: a pub/sub channel), that another instance waits
//! for a session, and calls [`Recalls::recall`]: the kept lease leaves the hot table and
//! the store releases it. A recall that is not heard costs time, never correctness: the
//! waiter gets the session when the kept lease lapses, and every commit of a hot session
//! is still a compare-and-set on its token and fence.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard, PoisonError, Weak,
    },
    time::{Duration, Instant},
};

use crate::{engine::hot::HotTable, id::SessionId, lock::LockToken};

/// The hot sessions of the engines over one store, as the store reaches them. It holds
/// them weakly: once the engines are gone, recalls find nothing.
#[derive(Clone)]
pub struct Recalls {
    hot: Weak<HotTable>,
}

impl Recalls {
    pub(crate) fn new(hot: &Arc<HotTable>) -> Self {
        Recalls {
            hot: Arc::downgrade(hot),
        }
    }

    /// Another instance asked for the session under `key`: if this instance keeps its
    /// lease with no request on it, the lease leaves the hot table and its token is
    /// returned, for the store to release (`commit_and_unlock(key, token, Fence::ZERO,
    /// CommitOp::Release, None)`). `None` if the session is not kept here, or a request
    /// holds it now (its commit lets go: the store reserved the entry for the waiter).
    pub fn recall(&self, key: &str) -> Option<LockToken> {
        let id = SessionId::parse(key)?;
        self.hot.upgrade()?.recall(&id)
    }

    /// The store may have lost track of the leases it kept (its recall messages were cut
    /// off, it failed over or restarted): every hot session is read from the store again
    /// at its next request, which takes its lease again with the kept token.
    pub fn recheck_all(&self) {
        if let Some(hot) = self.hot.upgrade() {
            hot.recheck_all(Instant::now());
        }
    }

    /// Whether the engines are still there.
    pub fn is_live(&self) -> bool {
        self.hot.strong_count() > 0
    }

    /// Whether both reach the same hot sessions (the engines over one store share them:
    /// a store need keep one of each).
    pub fn same_as(&self, other: &Recalls) -> bool {
        Weak::ptr_eq(&self.hot, &other.hot)
    }
}

impl std::fmt::Debug for Recalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recalls").field("live", &self.is_live()).finish()
    }
}

/// A store's [`Recalls`], shared by its clones, and whether its listener runs: what a
/// store that hears recalls keeps (one of each set of hot sessions, since the engines
/// over one store share theirs).
///
/// ```
/// use session_core::store::RecallWatchers;
/// let watchers = RecallWatchers::default();
/// assert!(!watchers.start_listening()); // no engine with hot sessions: nothing to hear
/// assert!(watchers.recall("an-id").is_empty());
/// ```
#[derive(Debug, Default)]
pub struct RecallWatchers {
    watchers: Mutex<Vec<Recalls>>,
    /// Whether the store's listener runs (read without the lock by every keeping commit).
    listening: AtomicBool,
}

impl RecallWatchers {
    fn watchers(&self) -> MutexGuard<'_, Vec<Recalls>> {
        // every step leaves the list consistent: a panic elsewhere cannot break it
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        watchers.retain(Recalls::is_live);
        watchers
    }

    /// Adds an engine's hot sessions, unless the same set is there (what a store's
    /// [`watch_recalls`](crate::store::SessionLock::watch_recalls) does).
    pub fn add(&self, recalls: Recalls) {
        let mut watchers = self.watchers();
        if !watchers.iter().any(|w| w.same_as(&recalls)) {
            watchers.push(recalls);
        }
    }

    /// Whether the caller is to start the store's listener: some engine watches and no
    /// listener runs; it then counts as running. Cheap when one runs (no lock).
    pub fn start_listening(&self) -> bool {
        if self.listening.load(Ordering::Acquire) {
            return false;
        }
        let watchers = self.watchers();
        !watchers.is_empty()
            && self
                .listening
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Whether the listener is to go on: some engine still watches. If none does, the
    /// listener counts as stopped (and is to end).
    pub fn keep_listening(&self) -> bool {
        let watchers = self.watchers();
        let go_on = !watchers.is_empty();
        self.listening.store(go_on, Ordering::Release);
        go_on
    }

    /// [`Recalls::recall`] on every set: the tokens of the kept leases of `key` taken out,
    /// for the store to release.
    pub fn recall(&self, key: &str) -> Vec<LockToken> {
        self.watchers().iter().filter_map(|w| w.recall(key)).collect()
    }

    /// [`Recalls::recheck_all`] on every set.
    pub fn recheck_all(&self) {
        self.watchers().iter().for_each(Recalls::recheck_all);
    }

    /// How long a listener waits before its `attempt`-th try to listen again (from 0):
    /// 100 ms, doubling up to 2 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::store::RecallWatchers;
    /// assert_eq!(RecallWatchers::retry_wait(0), Duration::from_millis(100));
    /// assert_eq!(RecallWatchers::retry_wait(30), Duration::from_secs(2));
    /// ```
    pub fn retry_wait(attempt: u32) -> Duration {
        let (first, last) = (Duration::from_millis(100), Duration::from_secs(2));
        first.saturating_mul(2u32.saturating_pow(attempt)).min(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::hot::{HotLimits, HotTable};

    #[test]
    fn one_listener_runs_while_an_engine_keeps_sessions_hot() {
        let limits = HotLimits {
            capacity: 10,
            lease: Duration::from_secs(2),
        };
        let hot = Arc::new(HotTable::new(limits, Duration::from_secs(60)));
        let watchers = RecallWatchers::default();
        assert!(!watchers.start_listening(), "no engine yet");
        watchers.add(Recalls::new(&hot));
        watchers.add(Recalls::new(&hot));
        assert_eq!(watchers.watchers().len(), 1, "one of each set");
        assert!(watchers.start_listening());
        assert!(!watchers.start_listening(), "one listener");
        assert!(watchers.keep_listening());
        drop(hot);
        assert!(!watchers.keep_listening(), "the engines are gone");
        assert!(!watchers.start_listening());
    }
}
