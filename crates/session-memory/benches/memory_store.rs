//! Benchmarks of the memory store: plain get/set and the lock + commit cycle the
//! session engine runs per request, on a cache holding 100,000 sessions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{hint::black_box, time::Duration};

use criterion::{criterion_group, criterion_main, Criterion};
use session_core::store::{CommitOp, DistributedCache, EntryOptions, LockAttempt, LockToken, SessionLock};
use session_memory::{MemoryCache, MemoryCacheOptions};

const SESSIONS: usize = 100_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let cache = MemoryCache::new(MemoryCacheOptions::default().size_limit(64 * 1024 * 1024));
    let options = EntryOptions::sliding(Duration::from_secs(1200));
    let keys: Vec<String> = (0..SESSIONS).map(|i| format!("{i:022}")).collect();
    rt.block_on(async {
        for key in &keys {
            cache.set(key, vec![7; 100], options).await.unwrap();
        }
    });
    let mut i = 0usize;
    let mut next = || {
        i = (i + 7919) % SESSIONS;
        &keys[i]
    };

    c.bench_function("memory: get (100k sessions, 100 B)", |b| {
        b.iter(|| rt.block_on(async { black_box(cache.get(next()).await.unwrap()) }))
    });
    c.bench_function("memory: set (100k sessions, 100 B)", |b| {
        b.iter(|| rt.block_on(async { cache.set(next(), vec![8; 100], options).await.unwrap() }))
    });
    c.bench_function("memory: lock+get then set+unlock (one request)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let key = next();
                let token = LockToken::generate();
                let got = cache
                    .try_lock_and_get(key, &token, Duration::from_secs(30))
                    .await
                    .unwrap();
                let LockAttempt::Acquired(_, fence) = got else {
                    panic!("the lease was not taken: {got:?}");
                };
                let op = CommitOp::Set {
                    value: vec![9; 100],
                    options,
                };
                cache
                    .commit_and_unlock(key, &token, fence, op, None)
                    .await
                    .unwrap();
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
