//! On a real Redis Cluster (three masters, three replicas, started by the tests): the
//! store contract, the behaviour suite on both frameworks, two instances losing no
//! update, round trips, fencing, and a master crash and a slot move under load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use distributed_session::adapter::SessionEngine;
use distributed_session::redis::redis;
use distributed_session::store::DistributedCache;
use distributed_session::store_contract;
use distributed_session::{RedisCache, RedisCacheOptions, SigningKey};
use integration_tests::acl;
use integration_tests::failover::{self, Load};
use integration_tests::{behaviour_suite, cluster_args, hot, suite, Framework, RedisCluster, Server, Target};
use sessions_tutorial::StoreKind;

const KEY: &str = "an integration-test signing key, 32+ bytes long";
const PREFIX: &str = "KestrunSession_";

async fn cluster_cache(cluster: &RedisCluster) -> RedisCache {
    let options = RedisCacheOptions::default()
        .cluster(cluster.seed_urls())
        .instance_name(PREFIX)
        .connect_timeout(Duration::from_secs(2));
    RedisCache::connect_with(options).await.unwrap()
}

fn engine(cache: RedisCache) -> SessionEngine {
    SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(KEY.as_bytes()).unwrap())
        .build(cache)
        .unwrap()
}

store_contract!(cluster_contract, async {
    let cluster = RedisCluster::shared()?;
    let cache: Arc<dyn DistributedCache> = Arc::new(cluster_cache(&cluster).await);
    Some((cache, cluster))
});

behaviour_suite!(axum_cluster, Target::redis_cluster(Framework::Axum));
behaviour_suite!(actix_cluster, Target::redis_cluster(Framework::Actix));

async fn two_instances(cluster: &RedisCluster, extra: &[&str]) -> (Server, Server) {
    integration_tests::two_instances(StoreKind::Redis, &cluster_args(cluster, KEY), extra).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_cluster_lose_no_update() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    let args = cluster_args(&cluster, KEY);
    suite::two_instances_lose_no_update("axum + actix on a Redis Cluster", StoreKind::Redis, &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_request_on_a_cluster() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let cache = cluster_cache(&cluster).await;
    integration_tests::round_trips::per_request_cold_and_hot(cache, KEY, || cluster.round_trips()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_lease_was_taken_away_is_refused_on_a_cluster() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let engine = engine(cluster_cache(&cluster).await);
    let client = redis::cluster::ClusterClient::new(cluster.seed_urls()).unwrap();
    let mut conn = client.get_connection().unwrap();
    integration_tests::fencing::a_lease_taken_away_fails_the_commit(&engine, &mut conn, PREFIX).await;
}

/// The data key of the one session in `cluster` (found on whichever master holds it).
fn session_key(cluster: &RedisCluster) -> String {
    for node in 0..6 {
        let Ok(mut conn) = cluster.connection_to(node) else {
            continue;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{PREFIX}*"))
            .query(&mut conn)
            .unwrap_or_default();
        if let Some(key) = keys.into_iter().next() {
            return key;
        }
    }
    panic!("no session in the cluster");
}

/// Crashes the master of the session's slot under a two-instance load. Without replica
/// acknowledgements, increments acknowledged by the dead master and not yet copied to
/// its replica are lost: the test reports how many (see docs/operations.md); everything
/// a client sees is checked by [`failover::through_a_failover`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_of_the_sessions_slot_crashes_under_load() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let (axum, actix) = two_instances(&cluster, &["--io-timeout", "1", "--lock-lease", "2"]).await;
    let cluster = Arc::new(Mutex::new(cluster));
    let held = cluster.clone();
    let urls = [axum.url.clone(), actix.url.clone()];
    failover::through_a_failover(
        "Redis Cluster, master crash",
        &urls,
        Duration::from_secs(1),
        move |_| {
            let mut cluster = held.lock().unwrap();
            let key = session_key(&cluster);
            let old = cluster.master_of_key(&key);
            let killed = std::time::Instant::now();
            cluster.kill(old);
            let (_, promoted) = cluster
                .wait_for_new_master(&key, old, Duration::from_secs(20))
                .expect("a replica took over the slot");
            (killed, promoted)
        },
    )
    .await;
    axum.stop().await;
    actix.stop().await;
}

/// Moves the session's slot to another master under a two-instance load: nothing
/// acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_slot_moves_under_load_and_nothing_is_lost() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let (axum, actix) = two_instances(&cluster, &["--io-timeout", "1", "--lock-lease", "2"]).await;
    let load = Load::start(&[axum.url.clone(), actix.url.clone()], 32).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cluster = Arc::new(cluster);
    let held = cluster.clone();
    let (from, to) = tokio::task::spawn_blocking(move || held.reshard_slot_of(&session_key(&held)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tally = load.finish().await;
    integration_tests::loud(&format!(
        "Redis Cluster, slot moved from node {from} to {to}: {} increments acknowledged, {} lost, other answers {:?}",
        tally.acked,
        tally.lost(),
        tally.failed
    ));
    assert!(
        tally.lost() <= 0,
        "acknowledged increments lost: {}",
        tally.lost()
    );
    assert!(tally.failed.keys().all(|s| *s == 503), "{:?}", tally.failed);
    assert_eq!(cluster.master_of_key(&session_key(&cluster)), to);
    axum.stop().await;
    actix.stop().await;
}

/// The cluster's nodes let in an ACL user named in the seed URLs; a wrong password is
/// refused with an error that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_logs_in_to_every_node() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    acl::add_user(&cluster.seed_urls());
    let seeds = |password: &str| -> Vec<String> {
        cluster
            .seed_urls()
            .iter()
            .map(|url| acl::with_user(url, password))
            .collect()
    };
    let options = |password: &str| {
        RedisCacheOptions::default()
            .cluster(seeds(password))
            .connect_timeout(Duration::from_secs(2))
    };
    acl::the_user_logs_in_and_a_wrong_password_is_refused(options(acl::USER.1), options("wrong")).await;
}

/// Hot sessions on a Cluster: the recall (published from the lock script on the node of
/// the session's slot, heard on a seed node: classic pub/sub reaches every node) and a
/// revocation reach an instance that keeps the session hot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_sessions_are_recalled_across_a_cluster() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    let lease = Duration::from_secs(10);
    let holder = hot::engine(cluster_cache(&cluster).await, lease);
    let other = hot::engine(cluster_cache(&cluster).await, lease);
    hot::an_idle_holder_lets_go_when_asked(&holder, &other).await;
    hot::revocation_reaches_hot_copies(&holder, &other).await;
}
