//! A held session lock: the in-process guard plus the store lease, released together.

use std::{sync::Arc, time::Instant};

use super::{
    hot::{Hot, HotTable},
    lock_table::LockGuard,
    EngineInner,
};
use crate::{
    error::Error,
    error::Result,
    id::SessionId,
    lease::release_until,
    lock::{CommitOp, Fence, Keeping, Kept, LockToken},
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
    /// Hot sessions: what keeping the lease after the commit needs (`None`: the commit
    /// releases it). Boxed: the lease moves through every request's futures, and most
    /// requests keep nothing.
    keep: Option<Box<Keep>>,
}

/// A lease the commit may keep (hot sessions on, the session loaded).
struct Keep {
    /// The stored payload the lease read.
    bytes: Vec<u8>,
    /// Until when the store keeps the lease, if it came kept from an earlier request.
    kept_until: Option<Instant>,
    /// The stored entry's last write or refresh by this instance, if known.
    refreshed_at: Option<Instant>,
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
            keep: None,
        }
    }

    /// A lease an earlier request of this instance kept (hot sessions): held without a
    /// lock call. Its stored bytes go back through [`keep_bytes`](Self::keep_bytes).
    pub(crate) fn kept(
        engine: Arc<EngineInner>,
        id: SessionId,
        hot: Hot,
        guard: LockGuard,
    ) -> (Self, Vec<u8>) {
        let lease = Lease {
            engine,
            id,
            token: hot.token,
            fence: hot.fence,
            guard: Some(guard),
            held_until: Some(hot.held_until),
            keep: Some(Box::new(Keep {
                bytes: Vec::new(),
                kept_until: Some(hot.held_until),
                refreshed_at: Some(hot.refreshed_at),
            })),
        };
        (lease, hot.bytes)
    }

    /// Hot sessions: the session loaded from `bytes`, so its commit may keep the lease.
    pub(crate) fn keep_bytes(&mut self, bytes: Vec<u8>) {
        match &mut self.keep {
            Some(keep) => keep.bytes = bytes,
            None => {
                self.keep = Some(Box::new(Keep {
                    bytes,
                    kept_until: None,
                    refreshed_at: None,
                }));
            }
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
        // (only a lease loaded with hot sessions on carries `keep`)
        if self.keep.is_some() && !matches!(op, CommitOp::Remove) {
            let engine = Arc::clone(&self.engine);
            if let (Some(hot), Some(keep)) = (&engine.hot, self.keep.take()) {
                // boxed: inline, the kept commit's future would enlarge every commit's
                return Box::pin(self.commit_kept(hot, *keep, op, owner)).await;
            }
        }
        let result = self
            .engine
            .store
            .commit(self.id.expose(), &self.token, self.fence, op, owner)
            .await;
        self.settle(result.as_ref().err());
        result
    }

    /// After the commit call: frees the in-process lock, unless the store failed; the
    /// guard then stays for `Drop`, which releases the lease in the background (and a
    /// timeout fails the requests queued behind at once).
    fn settle(&mut self, error: Option<&Error>) {
        match error {
            Some(Error::Timeout { .. }) => self.store_failed(),
            Some(Error::Store { .. }) => {}
            _ => drop(self.guard.take()),
        }
    }
}

impl Lease {
    /// Hot sessions: applies `op` and keeps the lease, putting the session (back) into
    /// the hot table before the in-process lock is freed. A read-only request on a kept
    /// lease with time to spare makes no store call at all.
    async fn commit_kept(
        mut self,
        hot: &HotTable,
        keep: Keep,
        op: CommitOp,
        owner: Option<Owner<'_>>,
    ) -> Result<()> {
        let now = Instant::now();
        let (mut slide, mut held_until) = (true, None);
        let (op, fence, bytes, refreshed_at) = match op {
            CommitOp::Set { value, options } => {
                let bytes = value.clone();
                // the entry's expiry moves with the sliding refresh's rule: a write
                // between two refreshes leaves it where the last one put it
                slide = keep.refreshed_at.is_none_or(|at| hot.refresh_due(at, now));
                // and the kept lease is extended only once half of it has gone by
                held_until = keep.kept_until.filter(|until| hot.lease_lasts(*until, now));
                let refreshed_at = if slide { Some(now) } else { keep.refreshed_at };
                (
                    CommitOp::Set { value, options },
                    self.fence.next(),
                    bytes,
                    refreshed_at,
                )
            }
            read_only => {
                if let (Some(until), Some(at)) = (keep.kept_until, keep.refreshed_at) {
                    if hot.quiet_commit_ok(until, at, now) {
                        // the lease and the entry are as the last keeping call left them
                        let entry = self.hot(keep.bytes, self.fence, until, at);
                        self.put(hot, entry);
                        return Ok(());
                    }
                }
                let refresh = matches!(read_only, CommitOp::Refresh)
                    && keep.refreshed_at.is_none_or(|at| hot.refresh_due(at, now));
                if refresh {
                    (CommitOp::Refresh, self.fence, keep.bytes, Some(now))
                } else {
                    (CommitOp::Release, self.fence, keep.bytes, keep.refreshed_at)
                }
            }
        };
        let result = self
            .engine
            .store
            .commit_and_keep(
                self.id.expose(),
                &self.token,
                self.fence,
                op,
                owner,
                Keeping {
                    lease: hot.limits.lease,
                    slide,
                    extend: held_until.is_none(),
                },
            )
            .await;
        match result {
            Ok(Kept::Kept) => {
                let until = held_until.unwrap_or(now + hot.limits.lease);
                let entry = self.hot(bytes, fence, until, refreshed_at.unwrap_or(now));
                self.put(hot, entry);
                Ok(())
            }
            Ok(Kept::Released) => {
                self.settle(None);
                Ok(())
            }
            Err(error) => {
                self.settle(Some(&error));
                Err(error)
            }
        }
    }

    fn hot(&self, bytes: Vec<u8>, fence: Fence, held_until: Instant, refreshed_at: Instant) -> Hot {
        Hot {
            token: self.token.clone(),
            fence,
            bytes,
            held_until,
            refreshed_at,
        }
    }

    /// Puts the kept lease into the hot table, then frees the in-process lock (in that
    /// order: the session's next request, waiting for the lock, finds it there). The
    /// leases the table lets go to make room are released in the background.
    fn put(mut self, hot: &HotTable, entry: Hot) {
        let evicted = hot.put(self.id.clone(), entry);
        drop(self.guard.take());
        if evicted.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime: the kept leases lapse on their own
        };
        for (id, entry) in evicted {
            runtime.spawn(release(
                Arc::clone(&self.engine),
                id,
                entry.token,
                Some(entry.held_until),
            ));
        }
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
