//! Times listing and revoking 1,000 sessions of one principal, on Redis (a server of its
//! own) and PostgreSQL (`SESSION_TEST_POSTGRES`, or the local server), and on the memory
//! store for reference: the figures of BENCHMARKS.md's "Ending a user's sessions".
//!
//! `cargo run --release -p integration-tests --example revoke_timing`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use distributed_session::adapter::SessionEngine;
use distributed_session::store::{DistributedCache, EntryOptions, Owner};
use distributed_session::{
    MemoryCache, PostgresCache, PostgresCacheOptions, RedisCache, RedisCacheOptions, SigningKey,
};
use integration_tests::{postgres::Schema, postgres_url, RedisServer};

const SESSIONS: usize = 1_000;
const ROUNDS: usize = 7;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    time("memory", Arc::new(MemoryCache::default())).await;
    let server = RedisServer::start(false).expect("redis-server");
    let redis = RedisCache::connect(&server.url(), RedisCacheOptions::default())
        .await
        .unwrap();
    time("Redis", Arc::new(redis)).await;
    let url = postgres_url().expect("PostgreSQL");
    let schema = Schema::fresh(&url, "revoke");
    let options = PostgresCacheOptions::default().schema_name(&schema.name);
    let postgres = PostgresCache::connect(&url, options).await.unwrap();
    postgres.migrate().await.unwrap();
    time("PostgreSQL", Arc::new(postgres)).await;
}

async fn time(store: &str, cache: Arc<dyn DistributedCache>) {
    let engine = SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(&[7u8; 32]).unwrap())
        .build_shared(Arc::clone(&cache))
        .unwrap();
    let manager = engine.manager();
    let (mut listing, mut revoking) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let principal = format!("timing-{round}-{}", std::process::id());
        create(&cache, &principal).await;
        let started = Instant::now();
        let listed = manager.sessions_of(&principal, None).await.unwrap();
        listing.push(started.elapsed());
        assert_eq!(listed.len(), SESSIONS);
        let started = Instant::now();
        let revoked = manager.revoke_all(&principal).await.unwrap();
        revoking.push(started.elapsed());
        assert_eq!(revoked, SESSIONS);
    }
    println!(
        "{store:<11} list {SESSIONS}: median {:>7.1} ms   revoke_all {SESSIONS}: median {:>7.1} ms   ({ROUNDS} rounds)",
        median(&mut listing),
        median(&mut revoking)
    );
}

async fn create(cache: &Arc<dyn DistributedCache>, principal: &str) {
    let idle = Duration::from_secs(600);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (cache, principal) = (Arc::clone(cache), principal.to_owned());
        tasks.spawn(async move {
            for _ in (worker..SESSIONS).step_by(16) {
                let key = distributed_session::SessionId::generate().expose().to_owned();
                let owner = Owner {
                    principal: &principal,
                    expires: Some(SystemTime::now() + idle),
                };
                let lock = cache.session_lock().unwrap();
                let created = lock
                    .create(&key, vec![2, 0, 0], EntryOptions::sliding(idle), Some(owner))
                    .await
                    .unwrap();
                assert!(created);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}
