//! The engine's view of the store: every call bounded by IOTimeout, and the lock
//! operations mapped onto plain cache calls for stores without a lock capability.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::{
    cache::DistributedCache,
    entry::EntryOptions,
    error::Error,
    error::Result,
    lock::{CommitOp, Fence, Kept, LockAttempt, LockToken},
    metrics::{self, Instruments, StoreError},
    principal::{IndexedSession, Owner, PrincipalIndex},
};

pub(crate) struct Store {
    cache: Arc<dyn DistributedCache>,
    io_timeout: Duration,
    /// The engine's instruments (empty without the `metrics` feature).
    pub(crate) metrics: Instruments,
}

impl Store {
    pub(crate) fn new(cache: Arc<dyn DistributedCache>, io_timeout: Duration) -> Self {
        let metrics = Instruments::new(cache.name());
        Store {
            cache,
            io_timeout,
            metrics,
        }
    }

    pub(crate) fn has_lock(&self) -> bool {
        self.cache.session_lock().is_some()
    }

    /// The longest lease the store's lock can hold (no limit without a lock).
    pub(crate) fn max_lease(&self) -> Duration {
        self.cache
            .session_lock()
            .map_or(Duration::MAX, |lock| lock.max_lease())
    }

    fn timed<F: Future>(&self, operation: &'static str, call: F) -> Timed<'_, F> {
        Timed {
            call,
            timer: None,
            operation,
            after: self.io_timeout,
            metrics: &self.metrics,
            started: metrics::TIMED.then(Instant::now),
        }
    }

    /// One attempt to take the lease and read the value.
    pub(crate) async fn try_lock_and_get(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<LockAttempt> {
        match self.cache.session_lock() {
            Some(lock) => self.timed("lock", lock.try_lock_and_get(key, token, lease)).await,
            None => Ok(match self.timed("get", self.cache.get(key)).await? {
                Some(value) => LockAttempt::Acquired(value, Fence::ZERO),
                None => LockAttempt::Missing,
            }),
        }
    }

    /// Applies `op` and releases the lease.
    pub(crate) fn commit<'a>(
        &'a self,
        key: &'a str,
        token: &'a LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'a>>,
    ) -> Timed<'a, BoxFuture<'a, Result<()>>> {
        if let Some(lock) = self.cache.session_lock() {
            return self.timed("commit", lock.commit_and_unlock(key, token, fence, op, owner));
        }
        match op {
            CommitOp::Set { value, options } => self.timed("set", self.cache.set(key, value, options)),
            CommitOp::Refresh => self.timed("refresh", self.cache.refresh(key)),
            CommitOp::Remove => self.timed("remove", self.cache.remove(key)),
            CommitOp::Release => self.timed("release", Box::pin(std::future::ready(Ok(())))),
        }
    }

    /// The store's lock, if it has one.
    pub(crate) fn lock(&self) -> Option<&dyn crate::lock::SessionLock> {
        self.cache.session_lock()
    }

    /// Whether the store's lock can keep leases between requests (hot sessions).
    pub(crate) fn keeps_leases(&self) -> bool {
        self.cache.session_lock().is_some_and(|lock| lock.keeps_leases())
    }

    /// Applies `op` and keeps the lease for `keep` (hot sessions; only called when the
    /// store [`keeps_leases`](Self::keeps_leases)).
    pub(crate) fn commit_and_keep<'a>(
        &'a self,
        key: &'a str,
        token: &'a LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'a>>,
        keep: crate::lock::Keeping,
    ) -> Timed<'a, BoxFuture<'a, Result<Kept>>> {
        match self.cache.session_lock() {
            Some(lock) => self.timed("commit", lock.commit_and_keep(key, token, fence, op, owner, keep)),
            None => self.timed(
                "commit",
                Box::pin(std::future::ready(Err(Error::Config(
                    "hot sessions need a store with a session lock".into(),
                )))),
            ),
        }
    }

    /// Writes a new key if it does not exist yet.
    pub(crate) async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        options: EntryOptions,
        owner: Option<Owner<'_>>,
    ) -> Result<bool> {
        match self.cache.session_lock() {
            Some(lock) => {
                self.timed("create", lock.create(key, value, options, owner))
                    .await
            }
            // Plain caches have no create-if-absent; a 128-bit random id makes a
            // collision practically impossible, and the lock-capable stores check it.
            None => self
                .timed("set", self.cache.set(key, value, options))
                .await
                .map(|()| true),
        }
    }

    /// Deletes `key` outright (no lease needed): undoing a session this request created.
    pub(crate) async fn remove(&self, key: &str) -> Result<()> {
        self.timed("remove", self.cache.remove(key)).await
    }

    /// The store's principal index.
    ///
    /// # Errors
    /// [`Error::Config`] for a store without one.
    fn index(&self) -> Result<&dyn PrincipalIndex> {
        self.cache.principal_index().ok_or_else(|| {
            Error::Config(
                "this session store keeps no index of sessions by principal: listing or \
                 revoking a principal's sessions needs one (every in-tree store has it)"
                    .into(),
            )
        })
    }

    /// Whether the store can list and revoke sessions by principal.
    pub(crate) fn has_index(&self) -> bool {
        self.cache.principal_index().is_some()
    }

    /// The live sessions of `principal`.
    pub(crate) async fn sessions_of(&self, principal: &str) -> Result<Vec<IndexedSession>> {
        let index = self.index()?;
        self.timed("sessions_of", index.sessions_of(principal)).await
    }

    /// Ends the sessions `keys` of `principal`.
    pub(crate) async fn revoke(&self, principal: &str, keys: &[String]) -> Result<usize> {
        if keys.is_empty() {
            return Ok(0);
        }
        let index = self.index()?;
        self.timed("revoke", index.revoke(principal, keys)).await
    }

    /// Takes `key` out of `principal`'s index (nothing to do without an index).
    pub(crate) async fn unindex(&self, principal: &str, key: &str) -> Result<()> {
        match self.cache.principal_index() {
            Some(index) => self.timed("unindex", index.unindex(principal, key)).await,
            None => Ok(()),
        }
    }
}

/// A boxed store call, as `async_trait` methods return them.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pin_project! {
    /// A store call bounded by the IOTimeout. The timer is armed only when the call does
    /// not answer on its first poll, so in-process stores never arm one. (A hand-written
    /// future rather than an `async fn`: it is nested in every request's futures, and
    /// this keeps it as small as its parts.)
    pub(crate) struct Timed<'a, F> {
        #[pin]
        call: F,
        #[pin]
        timer: Option<Sleep>,
        operation: &'static str,
        after: Duration,
        metrics: &'a Instruments,
        // when the call started (only with the `metrics` feature)
        started: Option<Instant>,
    }
}

impl<F: Future<Output = Result<T>>, T> Future for Timed<'_, F> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let mut this = self.project();
        if let Poll::Ready(result) = this.call.poll(cx) {
            if let Some(started) = this.started {
                let error = matches!(result, Err(Error::Store { .. })).then_some(StoreError::Store);
                this.metrics.store_call(this.operation, started.elapsed(), error);
            }
            return Poll::Ready(result);
        }
        if this.timer.is_none() {
            this.timer.set(Some(tokio::time::sleep(*this.after)));
        }
        match this.timer.as_pin_mut().map(|timer| timer.poll(cx)) {
            Some(Poll::Ready(())) => {
                if let Some(started) = this.started {
                    this.metrics
                        .store_call(this.operation, started.elapsed(), Some(StoreError::Timeout));
                }
                Poll::Ready(Err(Error::Timeout {
                    operation: this.operation,
                    after: *this.after,
                }))
            }
            _ => Poll::Pending,
        }
    }
}
