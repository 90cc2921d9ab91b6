//! Hot sessions between two instances, for any store that keeps leases: an idle holder
//! lets go when another instance asks (the recall), a session both instances use is not
//! kept hot, and a revocation reaches the hot copies of another instance.

use std::time::{Duration, Instant};

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::store::DistributedCache;
use distributed_session::SigningKey;

use crate::cookie_of;

const KEY: &str = "an integration-test signing key, 32+ bytes long";

/// An engine with hot sessions on, its kept leases lasting `hot_lease`, waiting at most
/// 5 s for a lock.
pub fn engine(cache: impl DistributedCache, hot_lease: Duration) -> SessionEngine {
    SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(KEY.as_bytes()).unwrap())
        .lock_wait(Duration::from_secs(5))
        .hot_sessions(1000)
        .hot_lease(hot_lease)
        .build(cache)
        .unwrap()
}

/// One request on `cookie`'s session: sets `n` (or only reads it), returns what it read.
pub async fn request(engine: &SessionEngine, cookie: &str, set: Option<i32>) -> (Option<i32>, Outcome) {
    let scope = engine.start([cookie.as_bytes()], false);
    let n = scope.session().get_i32("n").await.unwrap();
    if let Some(set) = set {
        scope.session().set_i32("n", set).await.unwrap();
    }
    (n, scope.finish().await)
}

/// A stored session (created with n = 1, then served once, setting n = 2, so that its
/// lease is kept): its cookie and id.
pub async fn hot_session(engine: &SessionEngine) -> (String, String) {
    let scope = engine.start([], false);
    scope.session().set_i32("n", 1).await.unwrap();
    let id = scope.session().id().unwrap().expose().to_owned();
    let cookie = cookie_of(&scope.finish().await);
    let (n, outcome) = request(engine, &cookie, Some(2)).await;
    assert_eq!((n, outcome), (Some(1), Outcome::Unchanged));
    (cookie, id)
}

/// `other` gets a session that `holder` keeps hot with no request on it at once, not
/// when the kept lease lapses: build both with a hot lease (10 s) longer than their lock
/// wait (5 s), so that without the recall the request would time out.
pub async fn an_idle_holder_lets_go_when_asked(holder: &SessionEngine, other: &SessionEngine) {
    let (cookie, _) = hot_session(holder).await;
    let started = Instant::now();
    let (n, outcome) = request(other, &cookie, Some(3)).await;
    let waited = started.elapsed();
    assert_eq!((n, outcome), (Some(2), Outcome::Unchanged));
    assert!(
        waited < Duration::from_secs(2),
        "recalled, not lapsed: {waited:?}"
    );
    // the holder reads what the other instance wrote
    assert_eq!(request(holder, &cookie, None).await.0, Some(3));
}

/// Once `other` asked for a session that `holder` kept hot, requests of it on either
/// instance cost what they cost without hot sessions (`cold` store calls: load+lock,
/// commit+unlock), not a recall each; `count` gives the store's running total of calls.
pub async fn a_shared_session_is_not_kept_hot(
    holder: &SessionEngine,
    other: &SessionEngine,
    cold: u64,
    count: impl Fn() -> u64,
) {
    let (cookie, _) = hot_session(holder).await;
    assert_eq!(request(other, &cookie, Some(3)).await.0, Some(2));
    for (n, engine) in [(4, holder), (5, other), (6, holder), (7, holder)] {
        let before = count();
        assert_eq!(request(engine, &cookie, Some(n)).await.0, Some(n - 1));
        assert_eq!(count() - before, cold, "request {n}");
    }
}

/// A revocation through `other` reaches the hot copy `holder` keeps: build both with a
/// hot lease (10 s) whose half outlasts the check (2 s).
pub async fn revocation_reaches_hot_copies(holder: &SessionEngine, other: &SessionEngine) {
    // (a user of its own: the store may be shared with other tests)
    let user = crate::principals::unique_user();
    let scope = holder.start([], false);
    scope.session().set_i32("n", 1).await.unwrap();
    scope.session().set_principal(Some(&user)).await.unwrap();
    let cookie = cookie_of(&scope.finish().await);
    assert_eq!(request(holder, &cookie, None).await.0, Some(1));
    assert_eq!(request(holder, &cookie, None).await.0, Some(1), "served hot");

    assert_eq!(other.manager().revoke_all(&user).await.unwrap(), 1);
    let revoked = Instant::now();
    while request(holder, &cookie, None).await.0.is_some() {
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "the revoked session's hot copy is still served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
