//! Which connection a store call uses: the shared multiplexed handle while it works;
//! once it broke, an idle pooled connection or a new one, found by one task at a time.
//!
//! bb8's `Pool::get` never reports a failed connect: it waits out its whole connection
//! timeout. So a new connection is made here (`Pool::dedicated_connection`, then added to
//! the pool), and a refused connection or a failed TLS handshake fails the call at once,
//! with its cause. The attempt runs in a task of its own, holding the one-at-a-time lock:
//! a request cut off by its IO timeout does not throw the attempt away, and the requests
//! that queued up while it ran take its result (the new handle, or its error) instead of
//! each trying again in turn.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use bb8::Pool;
use redis::RedisError;
use session_core::__private::error_chain;
use session_core::{Error, Result};

use crate::manager::{Handle, RedisManager};

/// Finds the handle store calls use. Cheap to clone; clones share everything.
#[derive(Clone)]
pub(crate) struct Connector {
    pool: Pool<RedisManager>,
    shared: Arc<Shared>,
}

struct Shared {
    /// The handle in use: most calls skip the pool, and their commands pipeline on one
    /// connection. Replaced once it is seen broken.
    current: Mutex<Option<Handle>>,
    /// Held by the task that looks for a new handle.
    replacing: Arc<tokio::sync::Mutex<()>>,
    /// How many attempts have finished, and why the last one failed (if it did).
    attempts: Mutex<(u64, Option<Arc<RedisError>>)>,
}

impl Connector {
    pub(crate) fn new(pool: Pool<RedisManager>) -> Self {
        Connector {
            pool,
            shared: Arc::new(Shared {
                current: Mutex::new(None),
                replacing: Arc::new(tokio::sync::Mutex::new(())),
                attempts: Mutex::new((0, None)),
            }),
        }
    }

    /// A working handle for `operation`.
    ///
    /// # Errors
    /// [`Error::Store`] with the cause if no connection could be made.
    pub(crate) async fn handle(&self, operation: &'static str) -> Result<Handle> {
        if let Some(handle) = self.shared.usable_current() {
            return Ok(handle);
        }
        let finished_before = lock(&self.shared.attempts).0;
        let one_at_a_time = Arc::clone(&self.shared.replacing).lock_owned().await;
        if let Some(handle) = self.shared.usable_current() {
            return Ok(handle);
        }
        if let Some(error) = self.shared.failed_since(finished_before) {
            return Err(Error::store(operation, error));
        }
        let (pool, shared) = (self.pool.clone(), Arc::clone(&self.shared));
        let attempt = tokio::spawn(async move {
            let _one_at_a_time = one_at_a_time;
            let found = find(&pool).await;
            shared.record(&found);
            found
        });
        match attempt.await {
            Ok(found) => found.map_err(|error| Error::store(operation, error)),
            Err(task) => Err(Error::store(operation, task)),
        }
    }
}

impl Shared {
    fn usable_current(&self) -> Option<Handle> {
        lock(&self.current).as_ref().filter(|h| !h.is_broken()).cloned()
    }

    /// The error of the last attempt, if it failed and finished after the caller's
    /// `finished_before` count (that is, while the caller waited for it).
    fn failed_since(&self, finished_before: u64) -> Option<Arc<RedisError>> {
        let attempts = lock(&self.attempts);
        match &*attempts {
            (finished, Some(error)) if *finished > finished_before => Some(Arc::clone(error)),
            _ => None,
        }
    }

    /// Records an attempt's result, logging when the store becomes unreachable (with
    /// the cause) and when it is reachable again, not every attempt in between.
    fn record(&self, found: &std::result::Result<Handle, Arc<RedisError>>) {
        if let Ok(handle) = found {
            *lock(&self.current) = Some(handle.clone());
        }
        let failing_before = {
            let mut attempts = lock(&self.attempts);
            let before = attempts.1.is_some();
            *attempts = (attempts.0 + 1, found.as_ref().err().map(Arc::clone));
            before
        };
        match (failing_before, found) {
            (false, Err(error)) => {
                tracing::warn!(error = %error_chain(&**error), "cannot connect to Redis; session requests answer 503 until it is back")
            }
            (true, Ok(_)) => tracing::info!("connected to Redis again"),
            (true, Err(error)) => {
                tracing::debug!(error = %error_chain(&**error), "cannot connect to Redis (still)")
            }
            (false, Ok(_)) => {}
        }
    }
}

/// An idle pooled connection that is not broken (bb8 drops the broken ones as they come
/// back), or else a new one, added to the pool if it has room (otherwise it lives on in
/// its handles).
async fn find(pool: &Pool<RedisManager>) -> std::result::Result<Handle, Arc<RedisError>> {
    for _ in 0..pool.state().idle_connections {
        // a zero timeout: take an idle connection, never wait for one
        let Ok(Ok(pooled)) = tokio::time::timeout(Duration::ZERO, pool.get()).await else {
            break;
        };
        let handle = pooled.handle();
        if !handle.is_broken() {
            return Ok(handle);
        }
    }
    let connection = pool.dedicated_connection().await.map_err(Arc::new)?;
    let handle = connection.handle();
    let _ = pool.add(connection);
    Ok(handle)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
