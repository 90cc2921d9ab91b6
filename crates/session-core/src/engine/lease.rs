//! A held session lock: the in-process guard plus the store lease, released together.

use std::{sync::Arc, time::Instant};

use super::{lock_table::LockGuard, EngineInner};
use crate::{
    error::Error,
    error::Result,
    id::SessionId,
    lease::release_until,
    lock::{CommitOp, Fence, LockToken},
    principal::Owner,
};

/// The lock on one session id, held from load to commit.
///
/// Dropping a lease without committing (a request cancelled mid-handler, or during a
/// store call) releases the store lease in a background task. The in-process lock is
/// freed at once: the next request of the session does not wait for that release (with
/// the store stalled, it would take a whole IO timeout, on top of its own call). If it
/// finds the store lease still taken, it waits for it within its lock wait, as for a
/// lease of another instance.
///
/// A lease known to be held (the lock call said so) whose release fails because the
/// store is down is released again ([`ReleaseRetry`](crate::store::lease::ReleaseRetry)) until the store is back or the
/// lease has expired: a store that comes back with its data (SQL Server's rows, a Redis
/// restarted from AOF or RDB) frees the session within about a second of its return
/// rather than after `lock_lease`.
pub(crate) struct Lease {
    engine: Arc<EngineInner>,
    id: SessionId,
    token: LockToken,
    /// The entry's fence, as the lock call read it.
    fence: Fence,
    guard: Option<LockGuard>,
    /// When the store lease expires, once the lock call said it is held.
    held_until: Option<Instant>,
}

impl Lease {
    pub(crate) fn new(engine: Arc<EngineInner>, id: SessionId, token: LockToken, guard: LockGuard) -> Self {
        Lease {
            engine,
            id,
            token,
            fence: Fence::ZERO,
            guard: Some(guard),
            held_until: None,
        }
    }

    /// The lock call took the lease (it lasts `lock_lease` from about now) and read the
    /// entry at `fence`.
    pub(crate) fn held(&mut self, fence: Fence) {
        self.fence = fence;
        self.held_until = Some(Instant::now() + self.engine.limits.lock_lease);
    }

    pub(crate) fn id(&self) -> &SessionId {
        &self.id
    }

    pub(crate) fn token(&self) -> &LockToken {
        &self.token
    }

    /// Records that the store did not answer this request in time: the requests of this
    /// process queued behind it fail at once rather than each waiting out the IO timeout
    /// in turn. (Only timeouts: other store errors come back at once, or belong to one
    /// request, as a deadlock victim's.)
    pub(crate) fn store_failed(&mut self) {
        if let Some(guard) = &mut self.guard {
            guard.store_failed();
        }
    }

    /// Frees the in-process lock without a store call, when the store most likely holds
    /// no lease for this token: it answered that the session is missing or busy, or the
    /// call failed. (A call may fail after the store ran it, its reply lost with the
    /// connection: only the store can tell, and the Redis store then releases such a
    /// lease itself; with SQL Server it lasts until it expires. Releasing here after
    /// every failure would double the failing calls during an outage.)
    pub(crate) fn forget(mut self) {
        drop(self.guard.take());
    }

    /// Applies `op` in the store and releases both locks.
    ///
    /// If the call fails with a store error or times out, or this future is dropped
    /// while the call is in flight (the client went away), the store may still apply it
    /// or hold the lease: the lease is then released in the background, as when a lease
    /// is dropped unused. Releasing is safe either way: it removes the lease only if this
    /// token still owns it.
    pub(crate) async fn commit(mut self, op: CommitOp, owner: Option<Owner<'_>>) -> Result<()> {
        let result = self
            .engine
            .store
            .commit(self.id.expose(), &self.token, self.fence, op, owner)
            .await;
        // on a store failure the guard stays for `Drop`, which releases the lease in the
        // background
        match &result {
            Err(Error::Timeout { .. }) => self.store_failed(),
            Err(Error::Store { .. }) => {}
            _ => drop(self.guard.take()),
        }
        result
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        drop(guard);
        if !self.engine.store.has_lock() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to release on: the store lease expires on its own.
            return;
        };
        let release = release(
            Arc::clone(&self.engine),
            self.id.clone(),
            self.token.clone(),
            self.held_until,
        );
        runtime.spawn(release);
    }
}

/// Releases the store lease of `token`. A lease held `until` some time is released
/// again while the store fails (store errors and timeouts), on core's release schedule
/// ([`release_until`]).
async fn release(engine: Arc<EngineInner>, id: SessionId, token: LockToken, until: Option<Instant>) {
    let down = |error: &Error| matches!(error, Error::Store { .. } | Error::Timeout { .. });
    let span = tracing::debug_span!("release", session = %id);
    let attempt = || {
        let (engine, id, token) = (Arc::clone(&engine), id.clone(), token.clone());
        async move {
            engine
                .store
                .commit(id.expose(), &token, Fence::ZERO, CommitOp::Release, None)
                .await
        }
    };
    tracing::Instrument::instrument(release_until(until, down, attempt), span).await;
}
