//! Benchmarks of the hot paths the engine runs per request: cookie verification and
//! the payload codec (through a full request on a no-op cache).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use session_core::adapter::{Outcome, SessionEngine};
use session_core::store::{async_trait, DistributedCache, EntryOptions};
use session_core::SigningKey;

/// A cache that remembers one value: isolates the engine and codecs from store costs.
#[derive(Default)]
struct OneSlot(std::sync::Mutex<Option<Vec<u8>>>);

#[async_trait]
impl DistributedCache for OneSlot {
    async fn get(&self, _: &str) -> session_core::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().ok().and_then(|v| v.clone()))
    }
    async fn set(&self, _: &str, value: Vec<u8>, _: EntryOptions) -> session_core::Result<()> {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(value);
        }
        Ok(())
    }
    async fn refresh(&self, _: &str) -> session_core::Result<()> {
        Ok(())
    }
    async fn remove(&self, _: &str) -> session_core::Result<()> {
        Ok(())
    }
}

fn engine() -> SessionEngine {
    let key = SigningKey::from_bytes(&[7u8; 32]).unwrap_or_else(|_| SigningKey::generate());
    match SessionEngine::builder()
        .signing_key(key)
        .build(OneSlot::default())
    {
        Ok(engine) => engine,
        Err(e) => panic!("engine: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let engine = engine();
    let cookie = rt.block_on(async {
        let scope = engine.start([], false);
        let _ = scope.session().set_string("user", &"x".repeat(90)).await;
        match scope.finish().await {
            Outcome::SetCookie(c) => c.split(';').next().unwrap_or_default().to_owned(),
            other => panic!("{other:?}"),
        }
    });

    c.bench_function(
        "cookie: start + verify a signed cookie (untouched request)",
        |b| {
            b.iter(|| {
                let scope = engine.start([black_box(cookie.as_bytes())], false);
                black_box(scope.session());
            })
        },
    );
    c.bench_function("request: load + increment + commit (codec round trip)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let scope = engine.start([cookie.as_bytes()], false);
                let s = scope.session();
                let n = s.get_i32("counter").await.ok().flatten().unwrap_or(0);
                let _ = s.set_i32("counter", n.wrapping_add(1)).await;
                black_box(scope.finish().await)
            })
        })
    });
    c.bench_function("request: load + read-only + refresh", |b| {
        b.iter(|| {
            rt.block_on(async {
                let scope = engine.start([cookie.as_bytes()], false);
                let _ = black_box(scope.session().get_string("user").await);
                black_box(scope.finish().await)
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
