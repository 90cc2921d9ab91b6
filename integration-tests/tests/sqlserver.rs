//! Everything on a real SQL Server (or another TDS engine such as Babelfish), wherever
//! `SESSION_TEST_MSSQL` holds a connection string: the store contract, the behaviour suite
//! on both frameworks, and two app instances sharing one database. Skipped loudly when
//! it is not set (no SQL Server can be installed on the project machines). One test needs
//! no server and always runs: the start-up check against a port that never answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{sync::Arc, time::Duration};

use distributed_session::store::DistributedCache;
use distributed_session::store_contract;
use distributed_session::{SqlServerCache, SqlServerCacheOptions};
use integration_tests::{behaviour_suite, mssql_connection_string, suite, Framework, Target};
use sessions_tutorial::StoreKind;

store_contract!(sqlserver_contract, async {
    let cs = mssql_connection_string()?;
    let options = SqlServerCacheOptions::default()
        .table_name("SessionsContract")
        .create_table_if_missing(true)
        .connect_timeout(Duration::from_secs(5));
    let cache: Arc<dyn DistributedCache> = Arc::new(SqlServerCache::connect(&cs, options).await.unwrap());
    Some((cache, ()))
});

/// 10,000 sessions of one principal that expire leave no index row after one listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_expired_sessions_leave_no_record_after_one_listing() {
    use distributed_session::sqlserver::deadpool_tiberius;
    let Some(cs) = mssql_connection_string() else {
        return;
    };
    let options = SqlServerCacheOptions::default()
        .table_name("SessionsMany")
        .create_table_if_missing(true)
        .connect_timeout(Duration::from_secs(5));
    let cache: Arc<dyn DistributedCache> = Arc::new(SqlServerCache::connect(&cs, options).await.unwrap());
    let pool = deadpool_tiberius::Manager::from_ado_string(&cs)
        .unwrap()
        .max_size(1)
        .create_pool()
        .unwrap();
    let records = |principal: String| {
        let pool = pool.clone();
        async move {
            let digest = distributed_session::store::principal_digest(&principal);
            let sql = format!("SELECT COUNT(*) FROM dbo.SessionsMany WHERE Id LIKE 'p:{digest}:%'");
            let mut conn = pool.get().await.unwrap();
            let row = conn.simple_query(sql).await.unwrap().into_row().await.unwrap();
            let count: i32 = row.and_then(|r| r.get(0)).unwrap_or(-1);
            usize::try_from(count).unwrap_or(usize::MAX)
        }
    };
    distributed_session::testing::expired_sessions_leave_no_record(cache, 10_000, records).await;
}

/// The tutorial's flags for the server at `cs`, with the tests' signing key.
fn tutorial_args(cs: String) -> [String; 4] {
    [
        "--mssql-connection-string".to_owned(),
        cs,
        "--signing-key".to_owned(),
        "an integration-test signing key, 32+ bytes long".to_owned(),
    ]
}

behaviour_suite!(axum_sqlserver, Target::sqlserver(Framework::Axum));
behaviour_suite!(actix_sqlserver, Target::sqlserver(Framework::Actix));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_one_database_lose_no_update() {
    let Some(cs) = mssql_connection_string() else {
        return;
    };
    let args = tutorial_args(cs);
    suite::two_instances_lose_no_update("axum + actix on one SQL Server", StoreKind::Sqlserver, &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_everywhere_on_two_instances_sharing_one_database() {
    let Some(cs) = mssql_connection_string() else {
        return;
    };
    let args = tutorial_args(cs);
    let label = "axum + actix on one SQL Server";
    suite::logging_out_everywhere_across_instances(label, StoreKind::Sqlserver, &args).await;
}

/// A port that accepts connections and never answers does not hold up the app's start-up
/// for the connect timeout. (Needs no SQL Server: it runs everywhere.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_does_not_hold_up_start_up() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cs = format!(
        "Server=tcp:127.0.0.1,{};User Id=u;Password=p;Encrypt=false",
        silent.local_addr().unwrap().port()
    );
    let options = SqlServerCacheOptions::default().connect_timeout(Duration::from_secs(60));
    let connecting = SqlServerCache::connect(&cs, options);
    tokio::time::timeout(Duration::from_secs(30), connecting)
        .await
        .expect("connect returned long before the connect timeout")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_the_expired_items_deletion_removes_are_reported_expired() {
    use distributed_session::sqlserver::deadpool_tiberius;
    let Some(cs) = mssql_connection_string() else {
        return;
    };
    let pool = deadpool_tiberius::Manager::from_ado_string(&cs)
        .unwrap()
        .max_size(1)
        .create_pool()
        .unwrap();
    // rows an earlier run left would be reported too
    let clear = "IF OBJECT_ID('dbo.SessionsExpiryEvents') IS NOT NULL DELETE FROM dbo.SessionsExpiryEvents";
    let mut conn = pool.get().await.unwrap();
    conn.simple_query(clear)
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    drop(conn);
    let options = SqlServerCacheOptions::default()
        .table_name("SessionsExpiryEvents")
        .create_table_if_missing(true)
        .expired_items_deletion_interval(distributed_session::sqlserver::MIN_DELETION_INTERVAL)
        .connect_timeout(Duration::from_secs(5));
    let cache: Arc<dyn DistributedCache> = Arc::new(SqlServerCache::connect(&cs, options).await.unwrap());
    integration_tests::expiry::removal_by_the_store_is_reported(
        cache,
        Duration::from_secs(20 * 60),
        |id| async move {
            let sql = format!(
                "UPDATE dbo.SessionsExpiryEvents SET ExpiresAtTime = DATEADD(minute, -2, SYSDATETIMEOFFSET()) \
                 WHERE Id = '{id}'"
            );
            let mut conn = pool.get().await.unwrap();
            conn.simple_query(sql).await.unwrap().into_results().await.unwrap();
        },
        // the deletion task runs every second
        || async {},
    )
    .await;
}
