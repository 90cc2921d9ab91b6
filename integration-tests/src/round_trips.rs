//! Round trips per request on a Redis store, counted by the server (`INFO
//! commandstats`, without the commands the scripts run inside it): untouched 0,
//! read-only 2, modifying 2, new session 1.

use distributed_session::adapter::{Outcome, SessionEngine};

use crate::cookie_of;

/// Checks the round trips of each kind of request against `engine`, with `count` giving
/// the server's running total.
pub async fn per_request(engine: &SessionEngine, count: impl Fn() -> u64) {
    // warm up: scripts loaded, pool connected
    let scope = engine.start([], false);
    scope.session().set_i32("n", 1).await.unwrap();
    let cookie = cookie_of(&scope.finish().await);
    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().set_i32("n", 2).await.unwrap();
    let _ = scope.finish().await;

    let since = |label: &str, before: u64| {
        let n = count() - before;
        eprintln!("{label}: {n} round trips");
        n
    };
    let before = count();
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.finish().await, Outcome::Unchanged);
    assert_eq!(since("untouched", before), 0);

    let before = count();
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("n").await.unwrap(), Some(2));
    let _ = scope.finish().await;
    assert_eq!(since("read-only", before), 2, "load+lock, refresh+unlock");

    let before = count();
    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().set_i32("n", 3).await.unwrap();
    let _ = scope.finish().await;
    assert_eq!(since("modifying", before), 2, "load+lock, write+unlock");

    let before = count();
    let scope = engine.start([], false);
    scope.session().set_i32("n", 1).await.unwrap();
    let _ = scope.finish().await;
    assert_eq!(since("new session", before), 1, "create");
}
