//! A lock holder that dies: another instance takes a session's lease and never gives it
//! back; the next request waits for the lease to expire, then goes through. Shared by
//! the stores with a cross-instance lease.

use std::time::{Duration, Instant};

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::store::{DistributedCache, LockAttempt, LockToken};

use crate::cookie_of;

/// Runs the scenario on `engine`, whose store is `cache`.
pub async fn a_dead_holders_lease_expires_and_frees_the_session(
    engine: &SessionEngine,
    cache: &dyn DistributedCache,
) {
    let scope = engine.start([], false);
    scope.session().set_i32("n", 1).await.unwrap();
    let id = scope.session().id().unwrap();
    let cookie = cookie_of(&scope.finish().await);

    // another instance takes the lease and dies without releasing it
    let dead = LockToken::generate();
    let lock = cache.session_lock().unwrap();
    let taken = lock
        .try_lock_and_get(id.expose(), &dead, Duration::from_millis(800))
        .await
        .unwrap();
    assert!(matches!(taken, LockAttempt::Acquired(..)));

    let started = Instant::now();
    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().set_i32("n", 2).await.unwrap();
    assert_eq!(scope.finish().await, Outcome::Unchanged);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "it waited for the lease: {waited:?}"
    );

    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("n").await.unwrap(), Some(2));
    let _ = scope.finish().await;
}
