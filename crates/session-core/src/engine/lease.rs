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
/// Dropping a lease without committing (a request cancelled mid-handler) releases the
/// store lease in a background task, and frees the in-process lock only after that, so
/// the next request of this process does not find the store lease still taken.
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

    /// Applies `op` in the store and releases both locks.
    pub async fn commit(mut self, op: CommitOp) -> Result<()> {
        let guard = self.guard.take();
        let result = self.engine.store.commit(self.id.expose(), &self.token, op).await;
        drop(guard);
        result
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
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
                    tracing::warn!(session = %id, error = %crate::error::chain(&error), "releasing an abandoned session lock failed; it will expire with its lease");
                }
            }
            drop(guard);
        });
    }
}
