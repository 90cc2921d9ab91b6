//! Redis [`DistributedCache`] for distributed-session, over redis-rs multiplexed
//! connections kept in a `bb8` pool by this crate's own [`RedisManager`], with a
//! cross-instance session lock.
//!
//! - **Topologies:** one server ([`RedisCacheOptions::url`]), a Redis Cluster
//!   ([`RedisCacheOptions::cluster`]) or the master Redis Sentinel names
//!   ([`RedisCacheOptions::sentinel`]); failovers and slot moves are followed without a
//!   restart. [`RedisCacheOptions::replica_acks`] makes each commit wait for replicas.
//!
//! - **Layout:** ASP.NET Core's (`Microsoft.Extensions.Caching.StackExchangeRedis`): a
//!   hash `<instance_name>{<key>}` with `absexp`, `sldexp` (.NET ticks, -1 for none) and
//!   `data` (plus this store's `fence`, `lease` and `leaseexp`), and a key TTL at the
//!   nearer expiry: one key per session.
//! - **Lock:** [`SessionLock`] with the lease in the entry itself (fields `lease`, a
//!   random token, and `leaseexp`, its end by Redis' clock); released only by its owner;
//!   a commit is a compare-and-set on the token and the entry's fencing number (`fence`),
//!   so one whose lease was lost (taken over, flushed, failed over), or whose entry was
//!   written or removed meanwhile, fails. Load + lock is one round trip, commit (or
//!   refresh) + unlock is one.
//! - **No hidden round trips:** the pool never pings on checkout (see [`RedisManager`]).
//! - **Addresses:** a Redis URL or a StackExchange.Redis configuration string
//!   (`localhost:6379`, `host:6380,password=...,ssl=True`); see [`RedisCacheOptions::url`].
//! - **TLS** (feature `tls`): `rediss://` over rustls, verified against the system's roots
//!   or the options' own.
//! - **Outages:** calls fail fast with the cause; broken connections, and those whose
//!   call was cut off before its reply, are dropped, so the app recovers by itself when
//!   Redis is back.
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use session_redis::{RedisCache, RedisCacheOptions};
//!
//! let cache = RedisCache::connect(
//!     "redis://127.0.0.1:6379",
//!     RedisCacheOptions::default().instance_name("KestrunSession_"),
//! )
//! .await?;
//! // hand it to the layer or middleware (several instances share it: they need one key)
//! let config = session_core::adapter::SessionConfig::default()
//!     .signing_key(session_core::SigningKey::from_bytes(b"the same 32+ byte secret on every instance")?);
//! let engine = config.build(cache)?;
//! # let _ = engine; Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod address;
mod cache;
mod calls;
mod client;
mod connector;
mod cut_off;
mod errors;
mod keys;
mod manager;
mod options;
mod principals;
mod recalls;
mod released;
mod scripts;
mod store;

pub use bb8;
pub use redis;

pub use cache::RedisCache;
pub use manager::{RedisConnection, RedisManager};
pub use options::RedisCacheOptions;
#[doc(no_inline)]
pub use session_core::store::{DistributedCache, SessionLock};
