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
    sync::{Arc, Weak},
    time::Instant,
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
