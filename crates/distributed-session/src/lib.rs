//! **distributed-session**: server-side, cookie-keyed session state for axum and
//! actix-web, with the semantics of ASP.NET Core session state, pluggable stores, and a
//! lock per session, so concurrent requests never lose each other's updates, even across
//! several app instances sharing one store.
//!
//! | feature | gives |
//! |---|---|
//! | `memory` (default) | [`MemoryCache`], the in-process store |
//! | `redis` | [`RedisCache`], Redis (one server, Cluster or Sentinel) with a cross-instance session lock |
//! | `redis-tls` | `redis` plus `rediss://` (TLS over rustls) |
//! | `sqlserver` | [`SqlServerCache`], SQL Server with a cross-instance session lock |
//! | `postgres` | [`PostgresCache`], PostgreSQL (over sqlx) with a cross-instance session lock |
//! | `axum` | [`SessionLayer`]; [`Session`] and [`Error`] as extractor and response |
//! | `actix` | [`SessionMiddleware`], [`SessionExt`]; [`Session`] and [`Error`] as extractor and response |
//! | `testing` | the store contract suite, for your own [`store::DistributedCache`] |
//! | `full` | all of the above |
//!
//! # Quick start (axum)
//!
//! ```
//! # #[cfg(all(feature = "axum", feature = "memory"))]
//! # fn main() -> Result<(), distributed_session::Error> {
//! use axum::{routing::get, Router};
//! use distributed_session::{Error, MemoryCache, Session, SessionLayer, SigningKey};
//!
//! async fn counter(session: Session) -> Result<String, Error> {
//!     let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
//!     session.insert("counter", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! let layer = SessionLayer::new(MemoryCache::default())
//!     .with_secure(false) // plain-HTTP development server only
//!     .with_signing_key(SigningKey::from_bytes(&[7u8; 32])?);
//! let app: Router = Router::new().route("/counter", get(counter)).layer(layer);
//! # let _ = app; Ok(()) }
//! # #[cfg(not(all(feature = "axum", feature = "memory")))] fn main() {}
//! ```
//!
//! # Quick start (actix-web)
//!
//! ```
//! # #[cfg(all(feature = "actix", feature = "memory"))]
//! # fn main() -> std::io::Result<()> {
//! use actix_web::{web, App, HttpServer};
//! use distributed_session::{Error, MemoryCache, Session, SessionMiddleware};
//!
//! async fn counter(session: Session) -> Result<String, Error> {
//!     let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
//!     session.insert("counter", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! let store = MemoryCache::default(); // clones share one store and one lock table
//! let server = HttpServer::new(move || {
//!     App::new()
//!         .wrap(SessionMiddleware::builder(store.clone()).cookie_secure(false).build())
//!         .route("/counter", web::get().to(counter))
//! });
//! # let _ = server; Ok(()) }
//! # #[cfg(not(all(feature = "actix", feature = "memory")))] fn main() {}
//! ```
//!
//! # Scale out on Redis: one server, a Cluster, or Sentinel
//!
//! Every instance that shares the Redis shares the sessions, and a session's requests are
//! serialized across instances by a lease in Redis whose commits are fenced (see
//! [`store::Fence`]). ACL users and passwords go in the URLs; `rediss://` asks for TLS
//! (feature `redis-tls`; the application installs a rustls crypto provider).
//!
//! ```no_run
//! # #[cfg(all(feature = "axum", feature = "redis"))]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use distributed_session::{RedisCache, RedisCacheOptions, SessionLayer, SigningKey};
//!
//! // one server
//! let one = RedisCacheOptions::default().url("redis://sessions:secret@10.0.0.5:6379");
//! // a Redis Cluster: any of its nodes as seeds; slot moves and failovers are followed
//! let cluster = RedisCacheOptions::default()
//!     .cluster(["redis://sessions:secret@10.0.0.1:7000", "redis://sessions:secret@10.0.0.2:7000"]);
//! // the master that three sentinels name `mymaster`, each commit on a replica as well
//! let sentinel = RedisCacheOptions::default()
//!     .sentinel(["redis://10.0.0.1:26379", "redis://10.0.0.2:26379", "redis://10.0.0.3:26379"], "mymaster")
//!     .sentinel_master_auth(Some("sessions"), "secret")
//!     .replica_acks(1);
//! # let _ = (one, cluster);
//!
//! let store = RedisCache::connect_with(sentinel.instance_name("KestrunSession_")).await?;
//! let key = SigningKey::from_bytes(std::env::var("SESSION_SIGNING_KEY")?.as_bytes())?;
//! let layer = SessionLayer::new(store).with_signing_key(key); // the same key on every instance
//! # let _ = layer; Ok(()) }
//! ```
//!
//! # Scale out on PostgreSQL
//!
//! Feature `postgres`: the lease is a row of an unlogged table, taken with the load in one
//! statement; a commit is one statement and, for a request that changed the session, one
//! durable write. [`PostgresCache::connect`] keeps a pool of its own;
//! [`PostgresCache::new`] runs on the application's sqlx pool.
//!
//! ```no_run
//! # #[cfg(all(feature = "axum", feature = "postgres"))]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use distributed_session::{PostgresCache, PostgresCacheOptions, SessionLayer, SigningKey};
//!
//! let store = PostgresCache::connect(
//!     "postgres://app:secret@10.0.0.7:5432/app",
//!     PostgresCacheOptions::default().create_if_missing(true),
//! )
//! .await?;
//! let deletion = store.spawn_expired_deletion(std::time::Duration::from_secs(30 * 60)); // keep it
//! let key = SigningKey::from_bytes(std::env::var("SESSION_SIGNING_KEY")?.as_bytes())?;
//! let layer = SessionLayer::new(store).with_signing_key(key);
//! # let _ = (layer, deletion); Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use session_core::{
    adapter, store, Error, KeyRing, Redacted, Result, SameSite, SecurePolicy, Session, SessionEvent,
    SessionId, SessionInfo, SessionManager, SessionRejection, SigningKey, TrustedProxy, MAX_PAYLOAD,
    MIN_KEY_LEN,
};

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
#[doc(inline)]
pub use session_core::SessionExt;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
#[doc(inline)]
pub use session_core::{store_contract, testing};

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[doc(inline)]
pub use session_core::{describe_metrics, METRICS_BYTES_BUCKETS, METRICS_SECONDS_BUCKETS};

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
#[doc(inline)]
pub use session_axum::{SessionLayer, SessionService};

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
#[doc(inline)]
pub use session_actix::{SessionMiddleware, SessionMiddlewareBuilder};

#[cfg(feature = "memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
#[doc(inline)]
pub use session_memory::{MemoryCache, MemoryCacheOptions};

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(inline)]
pub use session_redis::{RedisCache, RedisCacheOptions};

/// The Redis store and the client crates it is built on.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis {
    #[doc(inline)]
    pub use session_redis::{bb8, redis, RedisCache, RedisCacheOptions, RedisConnection, RedisManager};
}

#[cfg(feature = "sqlserver")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlserver")))]
#[doc(inline)]
pub use session_sqlserver::{SqlServerCache, SqlServerCacheOptions};

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[doc(inline)]
pub use session_postgres::{PostgresCache, PostgresCacheOptions};

/// The PostgreSQL store and the client crate it is built on.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres {
    #[doc(inline)]
    pub use session_postgres::{
        sqlx, ExpiredDeletion, PostgresCache, PostgresCacheOptions, MIN_DELETION_INTERVAL,
    };
}

/// The SQL Server store and the client crates it is built on.
#[cfg(feature = "sqlserver")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlserver")))]
pub mod sqlserver {
    #[doc(inline)]
    pub use session_sqlserver::{
        deadpool_tiberius, tiberius, SqlConnection, SqlManager, SqlPool, SqlServerCache,
        SqlServerCacheOptions, MIN_DELETION_INTERVAL,
    };
}
