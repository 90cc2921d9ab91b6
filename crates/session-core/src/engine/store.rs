//! The engine's view of the store: every call bounded by IOTimeout, and the lock
//! operations mapped onto plain cache calls for stores without a lock capability.

use std::{future::Future, sync::Arc, task::Poll, time::Duration};

use crate::{
    cache::{DistributedCache, EntryOptions},
    lock::{CommitOp, LockAttempt, LockToken},
    Error, Result,
};

pub(crate) struct Store {
    cache: Arc<dyn DistributedCache>,
    io_timeout: Duration,
}

impl Store {
    pub fn new(cache: Arc<dyn DistributedCache>, io_timeout: Duration) -> Self {
        Store { cache, io_timeout }
    }

    pub fn has_lock(&self) -> bool {
        self.cache.session_lock().is_some()
    }

    async fn timed<T>(&self, operation: &'static str, call: impl Future<Output = Result<T>>) -> Result<T> {
        // In-process stores answer on the first poll: no timer is armed for them.
        let mut call = std::pin::pin!(call);
        let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = first {
            return result;
        }
        match tokio::time::timeout(self.io_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                operation,
                after: self.io_timeout,
            }),
        }
    }

    /// One attempt to take the lease and read the value.
    pub async fn try_lock_and_get(
        &self,
        key: &str,
        token: &LockToken,
        lease: Duration,
    ) -> Result<LockAttempt> {
        match self.cache.session_lock() {
            Some(lock) => self.timed("lock", lock.try_lock_and_get(key, token, lease)).await,
            None => Ok(match self.timed("get", self.cache.get(key)).await? {
                Some(value) => LockAttempt::Acquired(value),
                None => LockAttempt::Missing,
            }),
        }
    }

    /// Applies `op` and releases the lease.
    pub async fn commit(&self, key: &str, token: &LockToken, op: CommitOp) -> Result<()> {
        if let Some(lock) = self.cache.session_lock() {
            return self.timed("commit", lock.commit_and_unlock(key, token, op)).await;
        }
        match op {
            CommitOp::Set { value, options } => self.timed("set", self.cache.set(key, value, options)).await,
            CommitOp::Refresh => self.timed("refresh", self.cache.refresh(key)).await,
            CommitOp::Remove => self.timed("remove", self.cache.remove(key)).await,
            CommitOp::Release => Ok(()),
        }
    }

    /// Writes a new key if it does not exist yet.
    pub async fn create(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<bool> {
        match self.cache.session_lock() {
            Some(lock) => self.timed("create", lock.create(key, value, options)).await,
            // Plain caches have no create-if-absent; a 128-bit random id makes a
            // collision practically impossible, and the lock-capable stores check it.
            None => self
                .timed("set", self.cache.set(key, value, options))
                .await
                .map(|()| true),
        }
    }
}
