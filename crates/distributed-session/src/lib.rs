//! **distributed-session**: server-side, cookie-keyed session state for Rust web
//! servers, with the semantics of ASP.NET Core session state, pluggable stores and a
//! lock per session so concurrent requests never lose each other's updates.
//!
//! This crate only re-exports; pick what you need with features:
//!
//! | feature | gives |
//! |---|---|
//! | `memory` (default) | [`MemoryCache`], the in-process store |
//! | `redis` | [`RedisCache`], Redis over bb8-redis with a cross-instance session lock |
//! | `redis-tls` | `redis` plus `rediss://` (TLS over rustls) and [`RedisCacheOptions::tls_root_certificates`] |
//! | `sqlserver` | [`SqlServerCache`], SQL Server over deadpool-tiberius with a cross-instance session lock |
//! | `axum` | [`axum::SessionLayer`] and the [`axum::Session`] extractor |
//! | `actix` | [`actix::SessionMiddleware`], the [`actix::Session`] extractor and [`actix::SessionExt`] |
//! | `full` | all of the above |
//!
//! The core types ([`SessionEngine`], [`Session`], [`DistributedCache`], ...) are
//! always available.
//!
//! # Quick start (axum)
//!
//! ```
//! # #[cfg(all(feature = "axum", feature = "memory"))]
//! # fn main() -> Result<(), distributed_session::Error> {
//! use distributed_session::{axum::{Session, SessionError, SessionLayer}, MemoryCache, SessionEngine};
//!
//! async fn counter(session: Session) -> Result<String, SessionError> {
//!     let n = session.get_i32("counter").await?.unwrap_or(0) + 1;
//!     session.set_i32("counter", n).await?;
//!     Ok(format!("counter = {n}"))
//! }
//!
//! let engine = SessionEngine::builder().build(MemoryCache::default())?;
//! let app: ::axum::Router = ::axum::Router::new()
//!     .route("/counter", ::axum::routing::get(counter))
//!     .layer(SessionLayer::new(engine));
//! # let _ = app; Ok(()) }
//! # #[cfg(not(all(feature = "axum", feature = "memory")))] fn main() {}
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use session_core::*;

#[cfg(feature = "memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
#[doc(inline)]
pub use session_memory::{MemoryCache, MemoryCacheOptions};

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(inline)]
pub use session_redis::{RedisCache, RedisCacheOptions};

/// The Redis store and the pool crates it is built on.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis {
    #[doc(inline)]
    pub use session_redis::{
        bb8, bb8_redis, redis, RedisCache, RedisCacheOptions, RedisConnection, RedisManager,
    };
}

#[cfg(feature = "sqlserver")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlserver")))]
#[doc(inline)]
pub use session_sqlserver::{SqlServerCache, SqlServerCacheOptions};

/// The SQL Server store and the pool crates it is built on.
#[cfg(feature = "sqlserver")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlserver")))]
pub mod sqlserver {
    #[doc(inline)]
    pub use session_sqlserver::{
        deadpool_tiberius, tiberius, SqlConnection, SqlManager, SqlPool, SqlServerCache,
        SqlServerCacheOptions,
    };
}

/// The axum 0.8 adapter.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum {
    #[doc(inline)]
    pub use session_axum::{Session, SessionError, SessionLayer, SessionLayerMissing, SessionService};
}

/// The actix-web 4 adapter.
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix {
    #[doc(inline)]
    pub use session_actix::{Session, SessionError, SessionExt, SessionMiddleware, SessionMiddlewareMissing};
}
