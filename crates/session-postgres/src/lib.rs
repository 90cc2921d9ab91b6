//! PostgreSQL [`DistributedCache`] for distributed-session, over sqlx, with a
//! cross-instance session lock and one durable write per modifying request.
//!
//! - **Tables:** `<table>` (default `public.sessions`: id, value, expiry, sliding window,
//!   absolute expiry, fence, principal, created) and `<table>_leases`, an UNLOGGED table
//!   of one lease row per session that is only ever updated (no WAL, no index churn).
//!   [`PostgresCache::migrate`] creates them, safe when instances start together;
//!   [`PostgresCache::migration_sql`] gives the SQL for a migrations tool.
//! - **Lock:** a row lease (random owner token, expiry by the database clock, the fence
//!   its holder read), taken together with the load in ONE statement; commit + release in
//!   ONE statement, a compare-and-set on the token and the session's fencing number, so
//!   a holder whose lease was lost writes nothing (503). A write moves the fence, which
//!   frees the lease: a modifying request makes one durable write and nothing else. No advisory locks: they belong to a
//!   connection, would pin a pooled one for the whole request, never expire, and do not
//!   work through PgBouncer in transaction pooling mode.
//! - **Reads do not write:** a sliding expiry moves only when it would move by more than
//!   its slack ([`PostgresCacheOptions::refresh_slack`]).
//! - **Pool:** [`PostgresCache::connect`] keeps one of its own that lends connections
//!   without a query (sqlx's pool pings them); [`PostgresCache::new`] runs on yours.
//! - **Outages:** every call is bounded by the engine's IO timeout; a statement that
//!   finds its pooled connection dead runs again on the next, so the app recovers by
//!   itself.
//! - **Housekeeping:** [`PostgresCache::spawn_expired_deletion`] deletes expired rows in
//!   batches on the expiry index; the application keeps its handle.
//! - **Poolers:** behind PgBouncer in transaction pooling mode (before 1.21), turn
//!   [`PostgresCacheOptions::prepared_statements`] off.
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use session_postgres::{PostgresCache, PostgresCacheOptions};
//!
//! let cache = PostgresCache::connect(
//!     "postgres://app:secret@127.0.0.1:5432/app",
//!     PostgresCacheOptions::default().create_if_missing(true),
//! )
//! .await?;
//! let _deletion = cache.spawn_expired_deletion(std::time::Duration::from_secs(30 * 60));
//! // hand it to the layer or middleware (several instances share it: they need one key)
//! let config = session_core::adapter::SessionConfig::default()
//!     .signing_key(session_core::SigningKey::from_bytes(b"the same 32+ byte secret on every instance")?);
//! let engine = config.build(cache)?;
//! # let _ = engine; Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cache;
mod manager;
mod options;
mod recalls;
mod run;
mod sql;
mod store;

pub use cache::{ExpiredDeletion, PostgresCache, MIN_DELETION_INTERVAL};
pub use options::PostgresCacheOptions;
#[doc(no_inline)]
pub use session_core::store::{DistributedCache, SessionLock};
pub use sqlx;
