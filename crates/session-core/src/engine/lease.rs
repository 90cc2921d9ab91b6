//! A held session lock: the in-process guard plus the store lease, released together.

use std::sync::Arc;

use super::{lock_table::LockGuard, EngineInner};
use crate::{
    id::SessionId,
    lock::{CommitOp, LockToken},
    Error, Result,
};

/// The lock on one session id, held from load to commit.
///
/// Dropping a lease without committing (a request cancelled mid-handler, or during a
/// store call) releases the store lease in a background task. The in-process lock is
/// freed at once: the next request of the session does not wait for that release (with
/// the store stalled, it would take a whole IO timeout, on top of its own call). If it
/// finds the store lease still taken, it waits for it within its lock wait, as for a
/// lease of another instance.
pub(crate) struct Lease {
    engine: Arc<EngineInner>,
    id: SessionId,
    token: LockToken,
    guard: Option<LockGuard>,
}

impl Lease {
    pub fn new(engine: Arc<EngineInner>, id: SessionId, token: LockToken, guard: LockGuard) -> Self {
        Lease {
            engine,
            id,
            token,
            guard: Some(guard),
        }
    }

    pub fn id(&self) -> &SessionId {
        &self.id
    }

    pub fn token(&self) -> &LockToken {
        &self.token
    }

    /// Records that the store did not answer this request in time: the requests of this
    /// process queued behind it fail at once rather than each waiting out the IO timeout
    /// in turn. (Only timeouts: other store errors come back at once, or belong to one
    /// request, as a deadlock victim's.)
    pub fn store_failed(&mut self) {
        if let Some(guard) = &mut self.guard {
            guard.store_failed();
        }
    }

    /// Frees the in-process lock without a store call, when the store most likely holds
    /// no lease for this token: it answered that the session is missing or busy, or the
    /// call failed. (A call may fail after the store ran it, its reply lost with the
    /// connection: the store knows that case and releases such a lease itself, as the
    /// Redis store does. Releasing here after every failure would double the failing
    /// calls during an outage.)
    pub fn forget(mut self) {
        drop(self.guard.take());
    }

    /// Applies `op` in the store and releases both locks.
    ///
    /// If the call times out, or this future is dropped while the call is in flight (the
    /// client went away), the store may still apply it or hold the lease: the lease is
    /// then released in the background, as when a lease is dropped unused. Releasing is
    /// safe either way: it removes the lease only if this token still owns it.
    pub async fn commit(mut self, op: CommitOp) -> Result<()> {
        let result = self.engine.store.commit(self.id.expose(), &self.token, op).await;
        if matches!(result, Err(Error::Timeout { .. })) {
            // kept for `Drop`, which releases the lease in the background
            self.store_failed();
        } else {
            drop(self.guard.take());
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
        let engine = Arc::clone(&self.engine);
        let id = self.id.clone();
        let token = self.token.clone();
        runtime.spawn(async move {
            match engine.store.commit(id.expose(), &token, CommitOp::Release).await {
                Ok(()) => {}
                // the token holds no lease (it never got one, or it expired): nothing to do
                Err(Error::LeaseLost) => tracing::debug!(session = %id, "abandoned session lock was not held"),
                Err(error) => {
                    tracing::warn!(session = %id, error = %crate::error::chain(&error), "releasing an abandoned session lock failed; unless the store releases it later, it expires with its lease");
                }
            }
        });
    }
}
