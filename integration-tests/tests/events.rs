//! Lifecycle events, observed by a test handler on the memory store and on Redis: created,
//! id cycled, flushed, revoked, expired, lock timeout, commit failed (Redis stopped under a
//! request); a panicking and a slow handler registered before it slow and fail nothing;
//! sessions the memory store's expiration scan drops are reported expired.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::store::DistributedCache;
use distributed_session::{
    MemoryCache, MemoryCacheOptions, RedisCache, RedisCacheOptions, SessionEvent, SigningKey,
};
use integration_tests::{request, RedisServer};

type Seen = Arc<Mutex<Vec<SessionEvent>>>;

/// An engine whose first handler panics, second sleeps 300 ms on every event, and third
/// records what it sees.
fn engine(cache: Arc<dyn DistributedCache>) -> (SessionEngine, Seen) {
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let engine = SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(&[5u8; 32]).unwrap())
        .lock_wait(Duration::from_millis(200))
        .io_timeout(Duration::from_secs(1))
        .on_event(|_| panic!("a handler that panics"))
        .on_event(|_| std::thread::sleep(Duration::from_millis(300)))
        .on_event(move |event| sink.lock().unwrap().push(event.clone()))
        .build_shared(cache)
        .unwrap();
    (engine, seen)
}

/// The events seen so far, once `count` of them arrived (at most 10 s).
async fn events(seen: &Seen, count: usize) -> Vec<SessionEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = seen.lock().unwrap().clone();
        if now.len() >= count || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The kinds of `events`, in order.
fn kinds(events: &[SessionEvent]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e {
            SessionEvent::Created { .. } => "created",
            SessionEvent::IdCycled { .. } => "id_cycled",
            SessionEvent::Flushed { .. } => "flushed",
            SessionEvent::Revoked { .. } => "revoked",
            SessionEvent::Expired { .. } => "expired",
            SessionEvent::LockTimeout { .. } => "lock_timeout",
            SessionEvent::CommitFailed { .. } => "commit_failed",
            _ => "other",
        })
        .collect()
}

async fn every_event(cache: Arc<dyn DistributedCache>) {
    let (engine, seen) = engine(cache);
    let started = Instant::now();
    let (jar, _) = request(&engine, &None, |s| async move { s.insert("n", 1).await.unwrap() }).await;
    let (jar, _) = request(
        &engine,
        &jar,
        |s| async move { s.login("ev-user").await.unwrap() },
    )
    .await;
    let (other, _) = request(
        &engine,
        &None,
        |s| async move { s.login("ev-user").await.unwrap() },
    )
    .await;
    let _ = request(&engine, &jar, |s| async move {
        assert_eq!(s.manager().revoke_others(&s).await.unwrap(), 1);
    })
    .await;
    let _ = request(&engine, &other, |s| async move { s.load().await.unwrap() }).await;
    // a request holding the session while another gives up waiting for it
    let scope = engine.start(jar.iter().map(String::as_bytes), true);
    scope.session().load().await.unwrap();
    let (_, waited) = request(&engine, &jar, |s| async move { assert!(s.load().await.is_err()) }).await;
    assert!(matches!(waited, Outcome::Failed(_)));
    drop(scope.finish().await);
    let _ = request(&engine, &jar, |s| async move { s.flush().await.unwrap() }).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "slow handlers slowed the requests: {:?}",
        started.elapsed()
    );

    let all = events(&seen, 8).await;
    assert_eq!(
        kinds(&all),
        [
            "created",
            "created",
            "id_cycled",
            "created",
            "revoked",
            "expired",
            "lock_timeout",
            "flushed"
        ],
        "{all:?}"
    );
    let [SessionEvent::Created { id: first }, SessionEvent::Created { id: logged_in }, SessionEvent::IdCycled { old, new }, ..] =
        &all[..]
    else {
        panic!("{all:?}")
    };
    assert_eq!((old, new), (first, logged_in));
    let SessionEvent::Revoked { principal, ids } = &all[4] else {
        panic!("{all:?}")
    };
    assert_eq!((principal.as_str(), ids.len()), ("ev-user", 1));
    let SessionEvent::Expired { id: expired } = &all[5] else {
        panic!("{all:?}")
    };
    assert_eq!(expired, &ids[0], "the revoked id came back");
    assert!(matches!(&all[7], SessionEvent::Flushed { id } if id == logged_in));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_on_the_memory_store() {
    every_event(Arc::new(MemoryCache::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_on_redis_and_a_failed_commit() {
    let Some(mut server) = RedisServer::start(false) else {
        return;
    };
    let options = RedisCacheOptions::default().connect_timeout(Duration::from_secs(1));
    let cache: Arc<dyn DistributedCache> =
        Arc::new(RedisCache::connect(&server.url(), options).await.unwrap());
    every_event(Arc::clone(&cache)).await;

    let (engine, seen) = engine(cache);
    let (jar, _) = request(&engine, &None, |s| async move { s.insert("n", 1).await.unwrap() }).await;
    let scope = engine.start(jar.iter().map(String::as_bytes), true);
    scope.session().insert("n", 2).await.unwrap();
    server.stop();
    assert!(matches!(scope.finish().await, Outcome::Failed(_)));
    let all = events(&seen, 2).await;
    assert_eq!(kinds(&all), ["created", "commit_failed"], "{all:?}");
    assert!(matches!(&all[1], SessionEvent::CommitFailed { status: 503, .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_the_memory_scan_drops_are_reported_expired() {
    let cache =
        MemoryCache::new(MemoryCacheOptions::default().expiration_scan_frequency(Duration::from_millis(100)));
    let idle = Duration::from_secs(1);
    let scanned = cache.clone();
    integration_tests::expiry::removal_by_the_store_is_reported(
        Arc::new(cache),
        idle,
        |_| tokio::time::sleep(idle + Duration::from_millis(200)),
        || async move { assert_eq!(scanned.len(), 0, "the scan dropped A") },
    )
    .await;
}
