//! Hot sessions on a real Redis (each test starts its own `redis-server`, or shares one):
//! round trips per request (hot modify 1, hot read 0), a hot copy made wrong under it
//! (lease deleted, entry written without the lock, Redis flushed) fails its next commit
//! with a 503 and is dropped, a dead instance blocks its hot sessions no longer than the
//! hot lease, another instance gets a hot session at once (recall message) or at the
//! holder's next commit (reservation), a revocation reaches hot copies, a shared session
//! is not kept hot, Redis flushed or restarted under load writes no hot copy back; and,
//! since the other Redis tests run with hot sessions on (the default), the behaviour
//! suite and two instances sharing one Redis with them off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use distributed_session::adapter::Outcome;
use distributed_session::redis::redis as redis_client;
use distributed_session::redis::{bb8, RedisManager};
use distributed_session::{RedisCache, RedisCacheOptions};
use integration_tests::hot::{self, hot_session, request};
use integration_tests::{behaviour_suite, suite, Framework, RedisServer, Target};
use sessions_tutorial::StoreKind;

const KEY: &str = "an integration-test signing key, 32+ bytes long";
const PREFIX: &str = "KestrunSession_";

async fn redis_cache(server: &RedisServer) -> RedisCache {
    let options = RedisCacheOptions::default()
        .instance_name(PREFIX)
        .connect_timeout(Duration::from_secs(1));
    RedisCache::connect(&server.url(), options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_session_costs_one_round_trip_to_modify_and_none_to_read() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let engine = hot::engine(redis_cache(&server).await, Duration::from_secs(2));
    let (cookie, _) = hot_session(&engine).await;
    let since = |label: &str, before: u64| {
        let n = server.round_trips() - before;
        eprintln!("{label}: {n} round trips");
        n
    };
    let before = server.round_trips();
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.finish().await, Outcome::Unchanged);
    assert_eq!(since("untouched", before), 0);

    for n in 3..6 {
        let before = server.round_trips();
        assert_eq!(request(&engine, &cookie, Some(n)).await.0, Some(n - 1));
        assert_eq!(since("hot modifying", before), 1, "commit and keep the lease");
    }
    let before = server.round_trips();
    assert_eq!(request(&engine, &cookie, None).await.0, Some(5));
    assert_eq!(
        since("hot read-only", before),
        0,
        "the kept lease has time to spare"
    );

    // past half the hot lease, a read-only request extends it (one round trip)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = server.round_trips();
    assert_eq!(request(&engine, &cookie, None).await.0, Some(5));
    assert_eq!(since("hot read-only, lease renewed", before), 1);

    // past the usable part of the hot lease, the session is taken again: as a cold one
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = server.round_trips();
    assert_eq!(request(&engine, &cookie, Some(6)).await.0, Some(5));
    assert_eq!(since("lapsed, modifying", before), 2, "load+lock, commit+keep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_copy_made_wrong_fails_its_next_commit_and_is_dropped() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let engine = hot::engine(redis_cache(&server).await, Duration::from_secs(2));
    let mut conn = server.connection().unwrap();
    for how in ["lease deleted", "written without the lock", "flushed"] {
        let (cookie, id) = hot_session(&engine).await;
        let entry = format!("{PREFIX}{{{id}}}");
        let mut damage = match how {
            "lease deleted" => redis_client::cmd("HDEL"),
            "written without the lock" => redis_client::cmd("HINCRBY"),
            _ => redis_client::cmd("FLUSHALL"),
        };
        match how {
            "lease deleted" => damage.arg(&entry).arg("lease").arg("leaseexp"),
            "written without the lock" => damage.arg(&entry).arg("fence").arg(1),
            _ => &mut damage,
        };
        let _: redis_client::Value = damage.query(&mut conn).unwrap();
        match request(&engine, &cookie, Some(3)).await.1 {
            Outcome::Failed(response) => assert_eq!(response.status, 503, "{how}"),
            other => panic!("{how}: a wrong hot copy was committed: {other:?}"),
        }
        // the hot copy is gone: the next request reads the store
        let expected = if how == "flushed" { None } else { Some(2) };
        assert_eq!(request(&engine, &cookie, None).await.0, expected, "{how}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_hot_sessions_are_free_within_the_hot_lease() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let hot_lease = Duration::from_millis(1500);
    let dying = hot::engine(redis_cache(&server).await, hot_lease);
    let (cookie, _) = hot_session(&dying).await;
    let kept_at = Instant::now();
    drop(dying); // dies with the lease kept: nothing releases it

    let other = hot::engine(redis_cache(&server).await, hot_lease);
    let (n, outcome) = request(&other, &cookie, Some(3)).await;
    let waited = kept_at.elapsed();
    assert_eq!((n, outcome), (Some(2), Outcome::Unchanged));
    assert!(
        waited >= Duration::from_millis(1000) && waited < hot_lease + Duration::from_secs(1),
        "waited for the hot lease, not the 30 s lock lease: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_gets_a_hot_session_at_the_holders_next_commit() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    // a store over a pool made by hand hears no recall messages: as if it missed one
    let manager = RedisManager::new(server.url().as_str()).unwrap();
    let pool = bb8::Pool::builder()
        .test_on_check_out(false)
        .build(manager)
        .await
        .unwrap();
    let deaf = RedisCache::new(pool).with_instance_name(PREFIX);
    let holder = hot::engine(deaf, Duration::from_secs(10));
    let (cookie, _) = hot_session(&holder).await;
    let other = hot::engine(redis_cache(&server).await, Duration::from_secs(10));
    let asking = tokio::spawn({
        let (other, cookie) = (other.clone(), cookie.clone());
        async move {
            let started = Instant::now();
            let (n, outcome) = request(&other, &cookie, Some(10)).await;
            (n, outcome, started.elapsed())
        }
    });
    // the other instance finds the session busy and marks it; the holder's next request
    // commits and lets go
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(request(&holder, &cookie, Some(3)).await.1, Outcome::Unchanged);
    let (n, outcome, waited) = asking.await.unwrap();
    assert_eq!((n, outcome), (Some(3), Outcome::Unchanged));
    assert!(
        waited < Duration::from_secs(2),
        "not the 10 s hot lease: {waited:?}"
    );
    assert_eq!(request(&other, &cookie, None).await.0, Some(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_holder_lets_go_of_a_hot_session_when_another_instance_asks() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let holder = hot::engine(redis_cache(&server).await, Duration::from_secs(10));
    let other = hot::engine(redis_cache(&server).await, Duration::from_secs(10));
    hot::an_idle_holder_lets_go_when_asked(&holder, &other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_two_instances_share_is_not_kept_hot() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let holder = hot::engine(redis_cache(&server).await, Duration::from_secs(10));
    let other = hot::engine(redis_cache(&server).await, Duration::from_secs(10));
    hot::a_shared_session_is_not_kept_hot(&holder, &other, 2, || server.round_trips()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_users_sessions_reaches_their_hot_copies_on_another_instance() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let holder = hot::engine(redis_cache(&server).await, Duration::from_secs(10));
    let other = hot::engine(redis_cache(&server).await, Duration::from_secs(10));
    hot::revocation_reaches_hot_copies(&holder, &other).await;
}

/// Redis loses every session under load on hot sessions (flushed, or restarted without
/// persistence): the requests holding hot copies get 503s or a new session, and no hot
/// copy is ever written back.
async fn sessions_lost_under_load(how: &str) {
    let Some(mut server) = RedisServer::start(false) else {
        return;
    };
    let engine = hot::engine(redis_cache(&server).await, Duration::from_secs(2));
    let (cookie, id) = hot_session(&engine).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (engine, stop) = (engine.clone(), Arc::clone(&stop));
            let mut jar = Some(cookie.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let (next, outcome) = integration_tests::request(&engine, &jar, |session| async move {
                        if let Ok(n) = session.get_i32("n").await {
                            let _ = session.set_i32("n", n.unwrap_or(0) + 1).await;
                        }
                    })
                    .await;
                    jar = next;
                    outcomes.push(outcome);
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    match how {
        "flushed" => {
            let mut conn = server.connection().unwrap();
            let () = redis_client::cmd("FLUSHALL").query(&mut conn).unwrap();
        }
        _ => tokio::task::block_in_place(|| {
            server.stop();
            server.restart();
        }),
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await.unwrap());
    }
    for outcome in &outcomes {
        match outcome {
            Outcome::Failed(response) => assert_eq!(response.status, 503, "{how}"),
            Outcome::Unchanged | Outcome::SetCookie(_) => {}
        }
    }
    let entry = format!("{PREFIX}{{{id}}}");
    let mut conn = server.connection().unwrap();
    let left: i64 = redis_client::cmd("EXISTS").arg(&entry).query(&mut conn).unwrap();
    assert_eq!(left, 0, "{how}: a hot copy of the lost session was written back");
    // the load goes on, on new sessions
    assert!(
        matches!(outcomes.last(), Some(Outcome::Unchanged | Outcome::SetCookie(_))),
        "{how}: {:?}",
        outcomes.last()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flushed_under_load_writes_no_hot_copy_back() {
    sessions_lost_under_load("flushed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_under_load_writes_no_hot_copy_back() {
    sessions_lost_under_load("restarted").await;
}

/// The tutorial's flags for `server`, hot sessions off (the other Redis tests run with
/// them on, the default).
fn cold_args(server: &RedisServer) -> Vec<String> {
    [
        "--redis-url",
        &server.url(),
        "--signing-key",
        KEY,
        "--hot-sessions",
        "0",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// [`Target::redis`] with hot sessions off.
fn cold(framework: Framework) -> Option<Target> {
    Target::redis(framework).map(|target| {
        let mut args = target.store_args.clone();
        args.extend(["--hot-sessions".to_owned(), "0".to_owned()]);
        target.with_store_args(&args)
    })
}

behaviour_suite!(axum_redis_cold, cold(Framework::Axum));
behaviour_suite!(actix_redis_cold, cold(Framework::Actix));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_without_hot_sessions_lose_no_update() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let label = "axum + actix on one Redis, hot sessions off";
    suite::two_instances_lose_no_update(label, StoreKind::Redis, &cold_args(&server)).await;
}
