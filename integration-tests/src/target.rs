//! Which server a test runs against: a framework and a store, started in-process from
//! the example crates with the same command line a user would type.

use std::fmt;

use clap::Parser;
use sessions_tutorial::{Args, StoreKind};

/// The signing key of tutorial servers on a shared store, which refuses to start
/// without one; every instance of a test gets the same, as a deployment would.
pub const SHARED_STORE_KEY: &str = "the integration tests' shared-store signing key";

/// The web framework of a tutorial server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Axum,
    Actix,
}

/// A framework and a store: what a suite instance runs against.
#[derive(Clone)]
pub struct Target {
    pub framework: Framework,
    pub store: StoreKind,
    /// Extra command-line arguments for the store (URLs, ...).
    pub store_args: Vec<String>,
    /// Keeps the store's server (a test's own `redis-server`) alive with the target.
    pub keep: Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} on {:?}", self.framework, self.store)
    }
}

/// A running tutorial server.
pub struct Server {
    pub url: String,
    pub label: String,
    stop: Option<StopFn>,
}

type StopFn = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send>;

impl Server {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop().await;
        }
    }
}

impl Target {
    pub fn new(framework: Framework, store: StoreKind) -> Self {
        Target {
            framework,
            store,
            store_args: Vec::new(),
            keep: None,
        }
    }

    /// A target on the SQL Server named by `SESSION_TEST_MSSQL`; `None` (skipped, loudly)
    /// when it is not set.
    pub fn sqlserver(framework: Framework) -> Option<Self> {
        let connection_string = mssql_connection_string()?;
        let args = [
            "--mssql-connection-string".to_owned(),
            connection_string,
            "--signing-key".to_owned(),
            SHARED_STORE_KEY.to_owned(),
        ];
        Some(Target::new(framework, StoreKind::Sqlserver).with_store_args(&args))
    }

    /// A target on the test PostgreSQL, in a schema of its own (dropped with the
    /// target); `None` (skipped, loudly) when no server answers.
    pub fn postgres(framework: Framework) -> Option<Self> {
        let url = crate::postgres_url()?;
        let schema = crate::Schema::fresh(&url, "suite");
        let mut target =
            Target::new(framework, StoreKind::Postgres).with_store_args(&postgres_args(&url, &schema.name));
        target.keep = Some(std::sync::Arc::new(schema));
        Some(target)
    }

    /// A target on the test PostgreSQL through PgBouncer in transaction pooling mode
    /// (simple queries); `None` (skipped) without a server or `pgbouncer`.
    pub fn postgres_via_pgbouncer(framework: Framework) -> Option<Self> {
        let url = crate::postgres_url()?;
        let bouncer = crate::PgBouncer::start(&url)?;
        let schema = crate::Schema::fresh(&url, "bouncer");
        let mut args = postgres_args(&crate::postgres::via(&url, bouncer.address), &schema.name);
        args.push("--postgres-simple-queries".to_owned());
        let mut target = Target::new(framework, StoreKind::Postgres).with_store_args(&args);
        target.keep = Some(std::sync::Arc::new((schema, bouncer)));
        Some(target)
    }

    /// A target on a Redis server of its own; `None` (skipped) without `redis-server`.
    pub fn redis(framework: Framework) -> Option<Self> {
        let server = crate::RedisServer::shared()?;
        let args = [
            "--redis-url".to_owned(),
            server.url(),
            "--signing-key".to_owned(),
            SHARED_STORE_KEY.to_owned(),
        ];
        let mut target = Target::new(framework, StoreKind::Redis).with_store_args(&args);
        target.keep = Some(std::sync::Arc::new(std::sync::Mutex::new(server)));
        Some(target)
    }

    /// A target on a Redis Cluster shared by the tests running now (see
    /// [`RedisCluster::shared`](crate::RedisCluster::shared)); `None` (skipped) without
    /// `redis-server`.
    pub fn redis_cluster(framework: Framework) -> Option<Self> {
        let cluster = crate::RedisCluster::shared()?;
        let args = cluster_args(&cluster, SHARED_STORE_KEY);
        let mut target = Target::new(framework, StoreKind::Redis).with_store_args(&args);
        target.keep = Some(cluster);
        Some(target)
    }

    /// A target on a Sentinel-managed Redis shared by the tests running now.
    pub fn redis_sentinel(framework: Framework) -> Option<Self> {
        let sentinel = crate::RedisSentinel::shared()?;
        let args = sentinel_args(&sentinel, SHARED_STORE_KEY);
        let mut target = Target::new(framework, StoreKind::Redis).with_store_args(&args);
        target.keep = Some(sentinel);
        Some(target)
    }

    pub fn with_store_args(mut self, args: &[String]) -> Self {
        self.store_args = args.to_vec();
        self
    }

    /// Starts a server on a free loopback port with `extra` command-line arguments
    /// (plain HTTP unless `https`).
    pub async fn start(&self, https: bool, extra: &[&str]) -> Server {
        let store = format!("{:?}", self.store).to_lowercase();
        let mut argv = vec!["tutorial", "--port", "0", "--ip", "127.0.0.1", "--store", &store];
        if !https {
            argv.push("--http");
        }
        argv.extend(self.store_args.iter().map(String::as_str));
        argv.extend(extra);
        let args =
            Args::try_parse_from(&argv).unwrap_or_else(|e| panic!("{self}: bad arguments {argv:?}: {e}"));
        let label = self.to_string();
        let fail = |e: anyhow::Error| -> ! { panic!("{label}: server did not start: {e:#}") };
        let (url, stop): (String, StopFn) = match self.framework {
            Framework::Axum => {
                let running = axum_sessions::start(args).await.unwrap_or_else(|e| fail(e));
                (running.url.clone(), Box::new(move || Box::pin(running.stop())))
            }
            Framework::Actix => {
                let running = actix_sessions::start(args).await.unwrap_or_else(|e| fail(e));
                (running.url.clone(), Box::new(move || Box::pin(running.stop())))
            }
        };
        Server {
            url,
            label,
            stop: Some(stop),
        }
    }
}

/// The SQL Server connection string of `SESSION_TEST_MSSQL`, or `None` after a loud
/// message: no SQL Server can be installed on the project machines, so these tests run
/// wherever one is reachable (docker-compose) and are skipped elsewhere.
pub fn mssql_connection_string() -> Option<String> {
    match std::env::var("SESSION_TEST_MSSQL") {
        Ok(cs) if !cs.trim().is_empty() => Some(cs),
        _ => {
            crate::loud("SKIPPED: SESSION_TEST_MSSQL is not set; this SQL Server test did not run");
            None
        }
    }
}

/// The tutorial's arguments for PostgreSQL at `url`, in `schema`.
pub fn postgres_args(url: &str, schema: &str) -> Vec<String> {
    [
        "--postgres-url",
        url,
        "--postgres-schema",
        schema,
        "--signing-key",
        SHARED_STORE_KEY,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The tutorial's arguments for `cluster`, signing with `key`.
pub fn cluster_args(cluster: &crate::RedisCluster, key: &str) -> Vec<String> {
    let joined = cluster.urls_joined();
    ["--redis-cluster", &joined, "--signing-key", key]
        .map(str::to_owned)
        .to_vec()
}

/// The tutorial's arguments for `sentinel`, signing with `key`.
pub fn sentinel_args(sentinel: &crate::RedisSentinel, key: &str) -> Vec<String> {
    let joined = sentinel.sentinel_urls_joined();
    let master = sentinel.master_name();
    [
        "--redis-sentinel",
        &joined,
        "--redis-sentinel-master",
        master,
        "--signing-key",
        key,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Two tutorial instances, on axum and on actix-web, sharing one `store` (the same
/// `store_args`), started with `extra` arguments.
pub async fn two_instances(store: StoreKind, store_args: &[String], extra: &[&str]) -> (Server, Server) {
    let start = |framework| Target::new(framework, store).with_store_args(store_args);
    let axum = start(Framework::Axum).start(false, extra).await;
    let actix = start(Framework::Actix).start(false, extra).await;
    (axum, actix)
}
