//! SQL Server [`DistributedCache`] for distributed-session, over `deadpool-tiberius`,
//! with a cross-instance session lock.
//!
//! - **Table:** exactly the one `dotnet sql-cache create` makes (`Id nvarchar(449)`
//!   primary key, `Value varbinary(max)`, `ExpiresAtTime datetimeoffset`,
//!   `SlidingExpirationInSeconds bigint NULL`, `AbsoluteExpiration datetimeoffset NULL`,
//!   index on `ExpiresAtTime`), so an ASP.NET Core deployment's table can be reused;
//!   [`SqlServerCacheOptions::create_table_if_missing`] creates it.
//! - **Lock:** the lease is a row of the same table (`<id>:lock`, its value the owner's
//!   token, its `ExpiresAtTime` the end of the lease): taken atomically, released only by
//!   its owner, expiring on its own if the holder dies; a commit without it fails.
//!   Load + lock is one round trip, commit + unlock is one (in a transaction).
//! - **Portable SQL** (SQL Server 2019/2022, Azure SQL, Babelfish for PostgreSQL): no
//!   `MERGE`, no NULL parameters, duplicate keys 2627/2601 treated as "exists", no index
//!   lookups by name. All statements are in one module with unit tests.
//! - **Outages:** every call is bounded by the engine's IOTimeout; broken connections are
//!   replaced, and a statement that finds its pooled connection dead runs again on the
//!   next, so the app recovers by itself without failing the first requests.
//! - **Housekeeping:** expired rows (and stale leases) are deleted every
//!   `expired_items_deletion_interval`, in batches of 1,000.
//!
//! TLS is rustls. `Encrypt=true` (the default) needs a certificate the client trusts,
//! or `TrustServerCertificate=true`; a server without TLS needs
//! `encrypt=DANGER_PLAINTEXT` in the connection string.
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use session_sqlserver::{SqlServerCache, SqlServerCacheOptions};
//!
//! let cache = SqlServerCache::connect(
//!     "Server=tcp:127.0.0.1,1433;Database=app;User Id=sa;Password=...;TrustServerCertificate=true",
//!     SqlServerCacheOptions::default().table_name("Sessions").create_table_if_missing(true),
//! )
//! .await?;
//! // hand it to the layer or middleware (several instances share it: they need one key)
//! let config = session_core::adapter::SessionConfig::default()
//!     .signing_key(session_core::SigningKey::from_bytes(b"the same 32+ byte secret on every instance")?);
//! let engine = config.build(cache)?;
//! # let _ = engine; Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod ado;
mod cache;
mod manager;
mod options;
mod run;
mod sql;
mod store;

pub use cache::{SqlPool, SqlServerCache};
pub use deadpool_tiberius;
pub use deadpool_tiberius::tiberius;
pub use manager::{SqlConnection, SqlManager};
pub use options::{SqlServerCacheOptions, MIN_DELETION_INTERVAL};
#[doc(no_inline)]
pub use session_core::store::{DistributedCache, SessionLock};
