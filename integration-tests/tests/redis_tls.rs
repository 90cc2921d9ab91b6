//! Redis over TLS (`rediss://`): a `redis-server` of the test's own with a TLS port whose
//! certificate a throwaway CA signed. The cache trusts that CA through
//! `tls_root_certificates` and works; without it, the server is refused (503), never
//! used unverified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::{redis::redis::Commands, RedisCache, RedisCacheOptions};
use integration_tests::error_chain;
use integration_tests::{RedisCluster, RedisSentinel, RedisServer, Tls};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A CA, and a certificate for 127.0.0.1 signed by it: (CA, certificate, key), PEM. The
/// key usages are what OpenSSL (redis-server's TLS between nodes, redis-cli) checks, and
/// the certificate serves both ends, as the nodes of a cluster or a Sentinel set-up are
/// each other's clients.
fn test_pki() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // distinct names: OpenSSL takes a certificate whose issuer is its own subject for a
    // self-signed one
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "distributed-session test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

async fn tls_engine(url: String, root: Option<&str>) -> SessionEngine {
    engine_with(RedisCacheOptions::default().url(url), root).await
}

/// An engine on a store with `options` (and `root` trusted, if given).
async fn engine_with(options: RedisCacheOptions, root: Option<&str>) -> SessionEngine {
    let mut options = options
        .instance_name("Tls_")
        .connect_timeout(Duration::from_secs(2));
    if let Some(root) = root {
        options = options.tls_root_certificates(root.as_bytes());
    }
    // the application chooses the process-wide rustls crypto provider
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cache = RedisCache::connect_with(options).await.unwrap();
    SessionEngine::builder()
        .signing_key(distributed_session::SigningKey::generate())
        .io_timeout(Duration::from_secs(2))
        .build(cache)
        .unwrap()
}

/// Two requests of one session: the second reads the first's value.
async fn counter_twice(engine: &SessionEngine) -> Result<i32, Outcome> {
    let scope = engine.start([], false);
    scope.session().set_i32("counter", 1).await.unwrap();
    let cookie = match scope.finish().await {
        Outcome::SetCookie(set) => set.split(';').next().unwrap().to_owned(),
        other => return Err(other),
    };
    let scope = engine.start([cookie.as_bytes()], false);
    let n = scope.session().get_i32("counter").await.unwrap().unwrap_or(0);
    scope.session().set_i32("counter", n + 1).await.unwrap();
    match scope.finish().await {
        Outcome::Unchanged => Ok(n + 1),
        other => Err(other),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_work_over_tls_with_the_given_root() {
    let (ca, cert, key) = test_pki();
    let Some(server) = RedisServer::start_with_tls(&cert, &key, &ca) else {
        return;
    };
    let engine = tls_engine(server.tls_url(), Some(&ca)).await;
    assert_eq!(counter_twice(&engine).await, Ok(2));
    // the same through a StackExchange.Redis configuration string with ssl=True
    let port = server.tls_url().rsplit(':').next().unwrap().to_owned();
    let config = format!("127.0.0.1:{port},ssl=True,abortConnect=False");
    let engine = tls_engine(config, Some(&ca)).await;
    assert_eq!(counter_twice(&engine).await, Ok(2));
    // the sessions are in this server (seen through its plain port)
    let mut conn = server.connection().unwrap();
    let keys: Vec<String> = conn.keys("Tls_{*").unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_the_roots_do_not_vouch_for_is_refused() {
    let (ca, cert, key) = test_pki();
    let Some(server) = RedisServer::start_with_tls(&cert, &key, &ca) else {
        return;
    };
    // the system's roots do not include the throwaway CA
    let engine = tls_engine(server.tls_url(), None).await;
    match counter_twice(&engine).await {
        Err(Outcome::Failed(response)) => assert_eq!(response.status, 503, "{response:?}"),
        other => panic!("an unverified server was used: {other:?}"),
    }
    // the call fails with the cause (not after a connection timeout, with none)
    let cache = RedisCache::connect_with(RedisCacheOptions::default().url(server.tls_url()))
        .await
        .unwrap();
    let error = error_chain(&cache.ping().await.unwrap_err());
    assert!(error.contains("certificate"), "{error}");
    // another CA's root is no better
    let (other_ca, _, _) = test_pki();
    let engine = tls_engine(server.tls_url(), Some(&other_ca)).await;
    assert!(counter_twice(&engine).await.is_err());
    let mut conn = server.connection().unwrap();
    let keys: Vec<String> = conn.keys("Tls_{*").unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

/// A Redis Cluster whose nodes speak TLS to each other and to clients: the store finds it
/// through `rediss://` seeds and verifies every node against the given root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_work_on_a_cluster_over_tls() {
    let (ca, cert, key) = test_pki();
    let tls = Tls {
        ca: &ca,
        cert: &cert,
        key: &key,
    };
    let Some(cluster) = RedisCluster::start_with_tls(tls) else {
        return;
    };
    let options = RedisCacheOptions::default().cluster(cluster.tls_seed_urls());
    let engine = engine_with(options, Some(&ca)).await;
    assert_eq!(counter_twice(&engine).await, Ok(2));
    // without the root, no node is trusted
    let options = RedisCacheOptions::default().cluster(cluster.tls_seed_urls());
    let engine = engine_with(options, None).await;
    assert!(counter_twice(&engine).await.is_err());
}

/// A Sentinel set-up over TLS: the sentinels and the master they name are reached with
/// `rediss://`, verified against the given root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_work_through_sentinel_over_tls() {
    let (ca, cert, key) = test_pki();
    let tls = Tls {
        ca: &ca,
        cert: &cert,
        key: &key,
    };
    let Some(sentinel) = RedisSentinel::start_with_tls("tlsmaster", tls) else {
        return;
    };
    let options = || RedisCacheOptions::default().sentinel(sentinel.tls_sentinel_urls(), "tlsmaster");
    let engine = engine_with(options(), Some(&ca)).await;
    assert_eq!(counter_twice(&engine).await, Ok(2));
    let engine = engine_with(options(), None).await;
    assert!(counter_twice(&engine).await.is_err());
}
