//! Round trips per request on a Redis store, counted by the server (`INFO
//! commandstats`, without the commands the scripts run inside it): untouched 0,
//! read-only 2, modifying 2, new session 1; on a hot session (an engine with hot
//! sessions on, and a store that keeps leases) read-only 0 and modifying 1.

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::{RedisCache, SigningKey};

use crate::cookie_of;

/// Checks the round trips of each kind of request against `engine`, with `count` giving
/// the server's running total; `hot`: the engine keeps its sessions hot.
pub async fn per_request(engine: &SessionEngine, hot: bool, count: impl Fn() -> u64) {
    let (read_only, modifying) = if hot { (0, 1) } else { (2, 2) };
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
    assert_eq!(
        since("read-only", before),
        read_only,
        "load+lock, refresh+unlock (cold)"
    );

    let before = count();
    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().set_i32("n", 3).await.unwrap();
    let _ = scope.finish().await;
    assert_eq!(
        since("modifying", before),
        modifying,
        "load+lock, write+unlock (cold)"
    );

    let before = count();
    let scope = engine.start([], false);
    scope.session().set_i32("n", 1).await.unwrap();
    let _ = scope.finish().await;
    assert_eq!(since("new session", before), 1, "create");
}

/// [`per_request`] on a Redis store without hot sessions, then with them (the
/// default), on engines signing with `key`.
pub async fn per_request_cold_and_hot(cache: RedisCache, key: &str, count: impl Fn() -> u64) {
    let build = |hot: usize| {
        SessionEngine::builder()
            .signing_key(SigningKey::from_bytes(key.as_bytes()).unwrap())
            .hot_sessions(hot)
            .build(cache.clone())
            .unwrap()
    };
    per_request(&build(0), false, &count).await;
    per_request(&build(10_000), true, &count).await;
}
