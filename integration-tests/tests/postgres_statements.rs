//! What one request costs on PostgreSQL, counted (a binary of its own, so that nothing
//! else runs meanwhile): statements sent, as `Execute` messages through a proxy
//! (untouched 0, read-only 2, modifying 2, new session 1; on a hot session read-only 0
//! and modifying 1), and writes to the logged
//! entries table (one per modifying request, none for a read), the lease writes going to
//! the unlogged table (taking the lease; and giving it back when nothing was written: a
//! write moves the fence, which frees it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use distributed_session::adapter::SessionEngine;
use distributed_session::{PostgresCache, PostgresCacheOptions, SigningKey};
use integration_tests::{cookie_of, postgres_url, Proxy, Schema};

/// An engine over `cache`, keeping up to `hot` sessions hot.
fn engine_with(cache: PostgresCache, hot: usize) -> SessionEngine {
    SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(b"an integration-test signing key, 32+ bytes long").unwrap())
        .idle_timeout(Duration::from_secs(20 * 60))
        .hot_sessions(hot)
        .build(cache)
        .unwrap()
}

/// An engine over `cache`, with hot sessions on (the default).
fn engine(cache: PostgresCache) -> SessionEngine {
    engine_with(cache, 10_000)
}

async fn cache(url: &str, schema: &Schema) -> PostgresCache {
    let options = PostgresCacheOptions::default()
        .schema_name(&schema.name)
        .create_if_missing(true);
    PostgresCache::connect(url, options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_per_request() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "statements");
    let proxy = Proxy::start(integration_tests::postgres::address_of(&url).unwrap()).await;
    let cache = cache(&integration_tests::postgres::via(&url, proxy.address), &schema).await;
    // without hot sessions, then with them (the default)
    let statements = || proxy.statements().0 as u64;
    integration_tests::round_trips::per_request(&engine_with(cache.clone(), 0), false, statements).await;
    integration_tests::round_trips::per_request(&engine(cache), true, statements).await;
}

/// Rows written (inserted, updated, deleted) in `table` of `schema` as the statistics
/// say now.
async fn writes(schema: &Schema, table: &str) -> i64 {
    let sql = format!(
        "SELECT (n_tup_ins + n_tup_upd + n_tup_del)::int8 FROM pg_stat_user_tables \
         WHERE schemaname = '{}' AND relname = '{table}'",
        schema.name
    );
    schema.scalar(&sql).await
}

/// The writes of `table` once the statistics show at least `least` (backends report
/// them some time after going idle: up to 10 s), and 1.5 s more for any beyond.
async fn settled(schema: &Schema, table: &str, least: i64) -> i64 {
    for _ in 0..60 {
        if writes(schema, table).await >= least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    writes(schema, table).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_durable_write_per_modifying_request_and_none_per_read() {
    durable_writes(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_durable_write_per_modifying_request_and_none_per_read_on_hot_sessions() {
    durable_writes(true).await;
}

/// Counts the writes of modifying and read-only requests on one session, without hot
/// sessions (exact lease writes: one to take the lease; one more to give it back when
/// nothing was written) or with them (the first request takes the lease, then every
/// modifying one keeps it with one lease write; reads write none, or two if the kept
/// lease ran out between the phases).
async fn durable_writes(hot: bool) {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, if hot { "durable_hot" } else { "durable" });
    let engine = engine_with(cache(&url, &schema).await, if hot { 10_000 } else { 0 });
    let scope = engine.start([], false);
    scope.session().set_i32("n", 0).await.unwrap();
    let cookie = cookie_of(&scope.finish().await);
    let persistence = |table: &str| {
        format!(
            "SELECT CASE relpersistence WHEN 'u' THEN 1 ELSE 0 END::int8 FROM pg_class \
             WHERE oid = '\"{}\".\"{table}\"'::regclass",
            schema.name
        )
    };
    assert_eq!(
        schema.scalar(&persistence("sessions_leases")).await,
        1,
        "leases are unlogged"
    );
    assert_eq!(
        schema.scalar(&persistence("sessions")).await,
        0,
        "entries are logged"
    );

    let n = 20;
    for (label, modifying) in [("modifying", true), ("read-only", false)] {
        // the session's creation (one row in each table), or the phase before, has
        // settled: these are final
        let leases_before = settled(&schema, "sessions_leases", 1).await;
        let data_before = writes(&schema, "sessions").await;
        for i in 0..n {
            let scope = engine.start([cookie.as_bytes()], false);
            let seen = scope.session().get_i32("n").await.unwrap();
            if modifying {
                scope.session().set_i32("n", i + 1).await.unwrap();
            } else {
                assert_eq!(seen, Some(n));
            }
            let _ = scope.finish().await;
        }
        // the lease writes are known (taken, and given back by a request that writes
        // nothing): once they show, so do the others
        let per_request = if modifying { 1 } else { 2 };
        let expected = match (hot, modifying) {
            (false, _) => per_request * i64::from(n),
            (true, true) => i64::from(n) + 1,
            (true, false) => 0,
        };
        let leases = settled(&schema, "sessions_leases", leases_before + expected).await - leases_before;
        let data = writes(&schema, "sessions").await - data_before;
        integration_tests::loud(&format!(
            "PostgreSQL, {n} {label} requests: {data} writes to the logged entries table, {leases} to the unlogged lease table"
        ));
        assert_eq!(
            data,
            if modifying { i64::from(n) } else { 0 },
            "{label}: durable writes"
        );
        if hot && !modifying {
            assert!(leases <= 2, "{label}: lease writes {leases}");
        } else {
            assert_eq!(leases, expected, "{label}: lease writes");
        }
    }
}
