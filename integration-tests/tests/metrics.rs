//! Every instrument of the `metrics` feature, observed from a test recorder (metrics-util's
//! debugging recorder, installed once for this test binary) while the engine runs on the
//! memory store and on Redis: created, loads by result, commits by kind and result, ids
//! cycled, flushed, revoked, lock wait, lock timeouts, leases lost, store call durations and
//! errors (Redis stopped), payload sizes. The checks run one at a time (one global
//! recorder) and compare counts before and after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
    time::Duration,
};

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::store::DistributedCache;
use distributed_session::{MemoryCache, RedisCache, RedisCacheOptions, SigningKey};
use integration_tests::{request, RedisServer};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// The recorder of this test binary, and the lock that runs its checks one at a time.
fn recorder() -> &'static (Snapshotter, tokio::sync::Mutex<()>) {
    static RECORDER: OnceLock<(Snapshotter, tokio::sync::Mutex<()>)> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("the only recorder of this test binary");
        (snapshotter, tokio::sync::Mutex::new(()))
    })
}

/// Counters (cumulative) and histogram sample counts (since the last look), by name and
/// sorted labels (`name{k=v,...}`).
#[derive(Debug, Default)]
struct Seen(HashMap<String, u64>);

impl Seen {
    fn now() -> Seen {
        let mut seen = HashMap::new();
        for (key, _, _, value) in recorder().0.snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let n = match value {
                DebugValue::Counter(n) => n,
                DebugValue::Histogram(samples) => samples.len() as u64,
                DebugValue::Gauge(_) => continue,
            };
            seen.insert(name, n);
        }
        Seen(seen)
    }

    fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }
}

/// What was recorded between two looks: counters' growth, and histograms' samples (which
/// a look drains).
struct Delta {
    before: Seen,
    after: Seen,
}

impl Delta {
    fn counter(&self, name: &str) -> u64 {
        self.after.get(name) - self.before.get(name)
    }

    fn samples(&self, name: &str) -> u64 {
        self.after.get(name)
    }
}

fn engine(cache: Arc<dyn DistributedCache>) -> SessionEngine {
    SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(&[4u8; 32]).unwrap())
        .lock_wait(Duration::from_millis(200))
        .io_timeout(Duration::from_secs(1))
        .build_shared(cache)
        .unwrap()
}

/// Drives every instrument but the store errors once on `cache`, and checks each.
async fn every_instrument(cache: Arc<dyn DistributedCache>, store: &str) {
    let _one_at_a_time = recorder().1.lock().await;
    let _drained = Seen::now();
    let before = Seen::now();
    let engine = engine(Arc::clone(&cache));

    // a new session: miss, created, one payload
    let (jar, _) = request(&engine, &None, |s| async move { s.insert("n", 1).await.unwrap() }).await;
    // stored: hit + write; read: hit + refresh
    let _ = request(&engine, &jar, |s| async move { s.insert("n", 2).await.unwrap() }).await;
    let _ = request(&engine, &jar, |s| async move { s.load().await.unwrap() }).await;
    // a forged cookie
    let forged = Some("id=AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned());
    let _ = request(&engine, &forged, |s| async move { s.load().await.unwrap() }).await;
    // a login: the id cycles (the old one is removed), the principal is recorded
    let (jar, _) = request(&engine, &jar, |s| async move {
        s.login("metrics-user").await.unwrap()
    })
    .await;
    // a second browser, revoked from the first: revoked 1
    let (other, _) = request(&engine, &None, |s| async move {
        s.login("metrics-user").await.unwrap()
    })
    .await;
    let (_, _) = request(&engine, &jar, |s| async move {
        assert_eq!(s.manager().revoke_others(&s).await.unwrap(), 1);
    })
    .await;
    // the revoked cookie comes back: expired
    let _ = request(&engine, &other, |s| async move { s.load().await.unwrap() }).await;
    // a request running while its session is revoked: its commit loses the lease
    let scope = engine.start(jar.iter().map(String::as_bytes), true);
    let session = scope.session().clone();
    session.insert("n", 3).await.unwrap();
    // meanwhile, a request of the same session gives up waiting for the lock
    let (_, waited) = request(&engine, &jar, |s| async move {
        assert!(s.get::<i32>("n").await.is_err())
    })
    .await;
    assert!(matches!(waited, Outcome::Failed(_)), "{waited:?}");
    assert_eq!(engine.manager().revoke_all("metrics-user").await.unwrap(), 1);
    assert!(matches!(scope.finish().await, Outcome::Failed(_)));
    // a flush
    let (jar, _) = request(&engine, &None, |s| async move { s.insert("n", 1).await.unwrap() }).await;
    let _ = request(&engine, &jar, |s| async move { s.flush().await.unwrap() }).await;

    let d = Delta {
        before,
        after: Seen::now(),
    };
    let t = store;
    assert_eq!(
        d.counter("session_created_total{}"),
        4,
        "{t}: 3 new sessions and a login's new id"
    );
    assert_eq!(d.counter("session_loads_total{result=miss}"), 3, "{t}");
    assert_eq!(d.counter("session_loads_total{result=bad_cookie}"), 1, "{t}");
    assert_eq!(d.counter("session_loads_total{result=expired}"), 1, "{t}");
    assert!(d.counter("session_loads_total{result=hit}") >= 6, "{t}");
    assert_eq!(d.counter("session_commits_total{kind=write,result=ok}"), 1, "{t}");
    assert!(
        d.counter("session_commits_total{kind=refresh,result=ok}") >= 2,
        "{t}"
    );
    assert_eq!(
        d.counter("session_commits_total{kind=remove,result=ok}"),
        2,
        "{t}: login + flush"
    );
    assert_eq!(
        d.counter("session_commits_total{kind=write,result=lease_lost}"),
        1,
        "{t}"
    );
    assert_eq!(d.counter("session_leases_lost_total{}"), 1, "{t}");
    assert_eq!(d.counter("session_ids_cycled_total{}"), 1, "{t}");
    assert_eq!(d.counter("session_flushed_total{}"), 1, "{t}");
    assert_eq!(
        d.counter("session_revoked_total{}"),
        2,
        "{t}: revoke_others + revoke_all"
    );
    assert_eq!(d.counter("session_lock_timeouts_total{}"), 1, "{t}");
    assert!(d.samples("session_lock_wait_seconds{}") >= 6, "{t}");
    assert!(d.samples("session_payload_bytes{}") >= 5, "{t}");
    for operation in ["lock", "commit", "create", "sessions_of", "revoke"] {
        let name = format!("session_store_call_seconds{{operation={operation},store={store}}}");
        assert!(d.samples(&name) >= 1, "{t}: {name}: {:?}", d.after);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instrument_on_the_memory_store() {
    every_instrument(Arc::new(MemoryCache::default()), "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instrument_on_redis_and_its_outage() {
    let Some(mut server) = RedisServer::start(false) else {
        return;
    };
    let options = RedisCacheOptions::default().connect_timeout(Duration::from_secs(1));
    let cache: Arc<dyn DistributedCache> =
        Arc::new(RedisCache::connect(&server.url(), options).await.unwrap());
    every_instrument(Arc::clone(&cache), "redis").await;

    let _one_at_a_time = recorder().1.lock().await;
    let before = Seen::now();
    let engine = engine(cache);
    let (jar, _) = request(&engine, &None, |s| async move { s.insert("n", 1).await.unwrap() }).await;
    server.stop();
    let (_, outcome) = request(&engine, &jar, |s| async move {
        assert!(s.get::<i32>("n").await.is_err())
    })
    .await;
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    let d = Delta {
        before,
        after: Seen::now(),
    };
    let errors: u64 = ["store", "timeout"]
        .iter()
        .map(|e| {
            d.counter(&format!(
                "session_store_errors_total{{error={e},operation=lock,store=redis}}"
            ))
        })
        .sum();
    assert_eq!(errors, 1, "the failed lock call is counted: {:?}", d.after);
}
