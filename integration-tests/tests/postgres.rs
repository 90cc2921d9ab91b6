//! Everything on a real PostgreSQL (the local server, or the one `SESSION_TEST_POSTGRES`
//! names; each test in a schema of its own): the store contract, the behaviour suite on
//! both frameworks (and once through PgBouncer in transaction pooling mode), two app
//! instances sharing one database, a lock holder that dies, the lease taken away under a
//! running request, migrations racing, and the database unreachable mid-load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::store::{DistributedCache, LockAttempt};
use distributed_session::store_contract;
use distributed_session::{PostgresCache, PostgresCacheOptions, SigningKey};
use integration_tests::{
    behaviour_suite, cookie_of, hot, postgres_args, postgres_url, suite, Browser, Framework, Proxy, Schema,
    Target,
};
use sessions_tutorial::StoreKind;

const KEY: &str = "an integration-test signing key, 32+ bytes long";

async fn cache_in(url: &str, schema: &Schema) -> PostgresCache {
    let options = PostgresCacheOptions::default()
        .schema_name(&schema.name)
        .connect_timeout(Duration::from_secs(2));
    let cache = PostgresCache::connect(url, options).await.unwrap();
    cache.migrate().await.unwrap();
    cache
}

store_contract!(postgres_contract, async {
    let url = postgres_url()?;
    let schema = Schema::fresh(&url, "contract");
    let cache: Arc<dyn DistributedCache> = Arc::new(cache_in(&url, &schema).await);
    Some((cache, schema))
});

store_contract!(postgres_simple_queries_contract, async {
    let url = postgres_url()?;
    let schema = Schema::fresh(&url, "simple");
    let options = PostgresCacheOptions::default()
        .schema_name(&schema.name)
        .prepared_statements(false)
        .create_if_missing(true);
    let cache: Arc<dyn DistributedCache> = Arc::new(PostgresCache::connect(&url, options).await.unwrap());
    Some((cache, schema))
});

store_contract!(postgres_shared_pool_contract, async {
    let url = postgres_url()?;
    let schema = Schema::fresh(&url, "shared");
    let pool = distributed_session::postgres::sqlx::PgPool::connect(&url)
        .await
        .unwrap();
    let options = PostgresCacheOptions::default().schema_name(&schema.name);
    let cache = PostgresCache::with_options(pool, &options).unwrap();
    cache.migrate().await.unwrap();
    let cache: Arc<dyn DistributedCache> = Arc::new(cache);
    Some((cache, schema))
});

behaviour_suite!(axum_postgres, Target::postgres(Framework::Axum));
behaviour_suite!(actix_postgres, Target::postgres(Framework::Actix));
behaviour_suite!(
    axum_postgres_via_pgbouncer,
    Target::postgres_via_pgbouncer(Framework::Axum)
);

fn engine(cache: PostgresCache, lease: Duration) -> SessionEngine {
    SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(KEY.as_bytes()).unwrap())
        .lock_wait(Duration::from_secs(5))
        .lock_lease(lease)
        .build(cache)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_one_database_lose_no_update() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "two");
    let args = postgres_args(&url, &schema.name);
    suite::two_instances_lose_no_update("axum + actix on one PostgreSQL", StoreKind::Postgres, &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_expired_sessions_leave_no_record_after_one_listing() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "many");
    let cache: Arc<dyn DistributedCache> = Arc::new(cache_in(&url, &schema).await);
    let records = |principal: String| {
        let schema = &schema;
        async move {
            let sql = format!(
                "SELECT count(*) FROM \"{}\".sessions WHERE principal = '{}'",
                schema.name,
                principal.replace('\'', "''")
            );
            usize::try_from(schema.scalar(&sql).await).unwrap_or(usize::MAX)
        }
    };
    session_core::testing::expired_sessions_leave_no_record(cache, 10_000, records).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_everywhere_on_two_instances_sharing_one_database() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "logout");
    let args = postgres_args(&url, &schema.name);
    let label = "axum + actix on one PostgreSQL";
    suite::logging_out_everywhere_across_instances(label, StoreKind::Postgres, &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_through_pgbouncer_lose_no_update() {
    let Some(target) = Target::postgres_via_pgbouncer(Framework::Axum) else {
        return;
    };
    suite::two_instances_lose_no_update(
        "axum + actix through PgBouncer (transaction pooling)",
        StoreKind::Postgres,
        &target.store_args,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lease_expires_and_frees_the_session() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "dead");
    let cache = cache_in(&url, &schema).await;
    let engine = engine(cache.clone(), Duration::from_secs(1));
    integration_tests::dead_holder::a_dead_holders_lease_expires_and_frees_the_session(&engine, &cache).await;
}

/// The lease taken away under a running request (deleted, as a crash empties the
/// unlogged lease table; the entry written without the lock; the entry deleted): the
/// commit is refused (503) and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_lease_was_taken_away_is_refused_and_changes_nothing() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "fence");
    let cache = cache_in(&url, &schema).await;
    let engine = engine(cache, Duration::from_secs(30));
    let s = &schema.name;
    for (how, damage, left) in [
        (
            "lease deleted",
            format!("DELETE FROM \"{s}\".sessions_leases"),
            Some(1),
        ),
        (
            "lease table truncated",
            format!("TRUNCATE \"{s}\".sessions_leases"),
            Some(1),
        ),
        (
            "written outside the lock",
            format!("UPDATE \"{s}\".sessions SET fence = fence + 1"),
            Some(1),
        ),
        ("entry deleted", format!("DELETE FROM \"{s}\".sessions"), None),
    ] {
        let scope = engine.start([], false);
        scope.session().set_i32("n", 1).await.unwrap();
        let cookie = cookie_of(&scope.finish().await);

        let scope = engine.start([cookie.as_bytes()], false);
        assert_eq!(scope.session().get_i32("n").await.unwrap(), Some(1), "{how}");
        schema.execute(&damage).await.unwrap();
        scope.session().set_i32("n", 2).await.unwrap();
        match scope.finish().await {
            Outcome::Failed(response) => assert_eq!(response.status, 503, "{how}"),
            other => panic!("{how}: the commit went through: {other:?}"),
        }
        let scope = engine.start([cookie.as_bytes()], false);
        assert_eq!(
            scope.session().get_i32("n").await.unwrap(),
            left,
            "{how}: changed nothing"
        );
        let _ = scope.finish().await;
    }
}

/// A lock that started before a removal committed (its snapshot still shows the entry)
/// and waited for it on the lease row: it finds the lease newer than what it read and
/// reports the session busy, then missing; it never hands out the removed value, and no
/// lease row is left without its entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_racing_a_removal_never_returns_the_removed_session() {
    use distributed_session::postgres::sqlx::{self, Connection};
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "race_remove");
    let cache = cache_in(&url, &schema).await;
    let lock = cache.session_lock().unwrap();
    let options = distributed_session::store::EntryOptions::sliding(Duration::from_secs(60));
    assert!(lock.create("k", b"v".to_vec(), options, None).await.unwrap());

    // a removal, held open: the entry's row and then its lease row are locked
    let s = &schema.name;
    let mut remover = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!(
        "BEGIN; \
         UPDATE \"{s}\".sessions SET value = ''::bytea, expires_at = '-infinity', fence = fence + 1 WHERE id = 'k'; \
         UPDATE \"{s}\".sessions_leases SET token = NULL, until = NULL, fence = (SELECT fence FROM \"{s}\".sessions WHERE id = 'k') WHERE id = 'k';"
    ))
    .execute(&mut remover)
    .await
    .unwrap();
    let racing = {
        let cache = cache.clone();
        tokio::spawn(async move {
            let token = distributed_session::store::LockToken::generate();
            let lock = cache.session_lock().unwrap();
            lock.try_lock_and_get("k", &token, Duration::from_secs(30)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !racing.is_finished(),
        "the lock waits for the removal's lease row"
    );
    sqlx::raw_sql("COMMIT").execute(&mut remover).await.unwrap();
    let attempt = racing.await.unwrap().unwrap();
    assert_eq!(attempt, LockAttempt::Busy, "not the removed value");
    let token = distributed_session::store::LockToken::generate();
    let again = lock
        .try_lock_and_get("k", &token, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(again, LockAttempt::Missing);
    cache.remove("k").await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), None);
}

/// Eight instances migrating one schema at once: all succeed, and the store works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_migrate_safely() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "race");
    let mut caches = Vec::new();
    for _ in 0..8 {
        let options = PostgresCacheOptions::default()
            .schema_name(&schema.name)
            .pool_size(1);
        caches.push(PostgresCache::connect(&url, options).await.unwrap());
    }
    let runs = caches.iter().map(|c| {
        let c = c.clone();
        tokio::spawn(async move { c.migrate().await })
    });
    for run in futures_util::future::join_all(runs).await {
        run.unwrap().unwrap();
    }
    let cache = &caches[0];
    cache
        .set(
            "k",
            b"v".to_vec(),
            distributed_session::store::EntryOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    cache.migrate().await.unwrap();
    assert_eq!(
        cache.get("k").await.unwrap().as_deref(),
        Some(&b"v"[..]),
        "migrating again keeps the data"
    );
}

/// Without the tables, a statement says how to create them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tables_name_the_fix() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "missing");
    let cache = PostgresCache::connect(&url, PostgresCacheOptions::default().schema_name(&schema.name))
        .await
        .unwrap();
    let error = integration_tests::error_chain(&cache.get("k").await.unwrap_err());
    assert!(error.contains("migrate()"), "{error}");
}

/// Expired rows are deleted in batches, with their lease rows; live ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_rows_are_deleted_in_batches() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "expire");
    let cache = cache_in(&url, &schema).await;
    let s = &schema.name;
    schema
        .execute(&format!(
            "INSERT INTO \"{s}\".sessions (id, value, expires_at, sliding_ms) \
             SELECT 'old' || i, '\\x00', now() - interval '2 minutes', 1000 FROM generate_series(1, 2500) i; \
             INSERT INTO \"{s}\".sessions_leases (id) SELECT 'old' || i FROM generate_series(1, 2500) i;"
        ))
        .await
        .unwrap();
    cache
        .set(
            "live",
            vec![1],
            distributed_session::store::EntryOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(cache.delete_expired().await.unwrap(), 2500);
    assert_eq!(
        schema
            .scalar(&format!("SELECT count(*) FROM \"{s}\".sessions"))
            .await,
        1
    );
    assert_eq!(
        schema
            .scalar(&format!("SELECT count(*) FROM \"{s}\".sessions_leases"))
            .await,
        1
    );
    assert_eq!(cache.delete_expired().await.unwrap(), 0);
}

/// The database unreachable mid-load (a proxy cut): session routes answer 503 within
/// IOTimeout + 1 s while `/hello` stays 200; the app recovers by itself when the
/// database is back, and no acknowledged increment is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_gives_fast_503s_and_recovers_without_losing_acknowledged_writes() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "outage");
    let proxy = Proxy::start(integration_tests::postgres::address_of(&url).unwrap()).await;
    let args = postgres_args(
        &integration_tests::postgres::via(&url, proxy.address),
        &schema.name,
    );
    let app = Target::new(Framework::Axum, StoreKind::Postgres)
        .with_store_args(&args)
        .start(false, &["--io-timeout", "1", "--lock-lease", "2"])
        .await;
    let load = integration_tests::failover::Load::start(std::slice::from_ref(&app.url), 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.cut();
    let cut_at = Instant::now();
    let mut probe = Browser::new(&app.url);
    probe.set_cookie("Kr.Session", load.cookie());
    tokio::time::sleep(Duration::from_millis(200)).await;
    suite::session_routes_answer_503_quickly(&mut probe).await;
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(cut_at.elapsed())).await;
    proxy.restore();
    let back = Instant::now();
    let deadline = back + Duration::from_secs(20);
    while probe.get("/session/get?key=x").await.status != 404 {
        assert!(
            Instant::now() < deadline,
            "the app did not recover after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = back.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.finish().await;
    assert!(tally.failed.keys().all(|s| *s == 503), "{:?}", tally.failed);
    assert!(!tally.failed.is_empty(), "the load saw the outage");
    assert!(tally.lost() <= 0, "acknowledged increments lost: {tally:?}");
    integration_tests::loud(&format!(
        "PostgreSQL outage: recovered {recovered:?} after the database came back; {} increments acknowledged",
        tally.acked
    ));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_the_expired_rows_deletion_removes_are_reported_expired() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "expiry_events");
    let cache = cache_in(&url, &schema).await;
    let deleting = cache.clone();
    let schema = &schema;
    integration_tests::expiry::removal_by_the_store_is_reported(
        Arc::new(cache),
        Duration::from_secs(20 * 60),
        |id| async move {
            let sql = format!(
                "UPDATE \"{}\".sessions SET expires_at = now() - interval '2 minutes' WHERE id = '{id}'",
                schema.name
            );
            assert_eq!(schema.execute(&sql).await.unwrap(), 1);
        },
        || async move {
            // A's row and B's tombstone: only A is reported
            assert_eq!(deleting.delete_expired().await.unwrap(), 2);
        },
    )
    .await;
}

// Hot sessions (on by default): the lease kept in the lease row between requests, the
// recall through NOTIFY, the shared mark, and revocations reaching hot copies.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_holder_lets_go_of_a_hot_session_when_another_instance_asks() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "recall");
    let holder = hot::engine(cache_in(&url, &schema).await, Duration::from_secs(10));
    let other = hot::engine(cache_in(&url, &schema).await, Duration::from_secs(10));
    hot::an_idle_holder_lets_go_when_asked(&holder, &other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_two_instances_share_is_not_kept_hot() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "shared_hot");
    let proxy = Proxy::start(integration_tests::postgres::address_of(&url).unwrap()).await;
    let via = integration_tests::postgres::via(&url, proxy.address);
    let holder = hot::engine(cache_in(&via, &schema).await, Duration::from_secs(10));
    let other = hot::engine(cache_in(&via, &schema).await, Duration::from_secs(10));
    hot::a_shared_session_is_not_kept_hot(&holder, &other, 2, || proxy.statements().0 as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_users_sessions_reaches_their_hot_copies_on_another_instance() {
    let Some(url) = postgres_url() else { return };
    let schema = Schema::fresh(&url, "revoke_hot");
    let holder = hot::engine(cache_in(&url, &schema).await, Duration::from_secs(10));
    let other = hot::engine(cache_in(&url, &schema).await, Duration::from_secs(10));
    hot::revocation_reaches_hot_copies(&holder, &other).await;
}
