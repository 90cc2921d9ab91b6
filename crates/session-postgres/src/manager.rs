//! The pool of [`PostgresCache::connect`](crate::PostgresCache::connect): deadpool over
//! sqlx connections, lent and taken back without a query.
//!
//! sqlx's own pool pings a connection when it takes it back, and (unless built with
//! `test_before_acquire(false)`) before it lends it: one or two round trips more per
//! statement, measured at 27% of the counter route's throughput (BENCHMARKS.md). Here a
//! connection whose last call failed at the transport level, or was cut off before its
//! reply (the engine's IO timeout), is marked broken and replaced; any other is lent
//! again as it is. A connect error reaches the caller at once, with its cause.

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use session_core::store::lease::ConnectionHealth;
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection};

/// Makes and keeps [`PgConn`]s.
pub(crate) struct PgManager {
    options: PgConnectOptions,
}

impl PgManager {
    pub(crate) fn new(options: PgConnectOptions) -> Self {
        PgManager { options }
    }

    /// How its connections connect.
    pub(crate) fn options(&self) -> &PgConnectOptions {
        &self.options
    }
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager").finish_non_exhaustive()
    }
}

/// A pooled connection that remembers whether it broke: one call at a time, so a call cut
/// off before its reply breaks it ([`ConnectionHealth::exclusive`]).
pub(crate) struct PgConn {
    pub(crate) conn: PgConnection,
    pub(crate) health: ConnectionHealth,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl managed::Manager for PgManager {
    type Type = PgConn;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConn, sqlx::Error> {
        Ok(PgConn {
            conn: PgConnection::connect_with(&self.options).await?,
            health: ConnectionHealth::exclusive(),
        })
    }

    async fn recycle(&self, conn: &mut PgConn, _: &Metrics) -> RecycleResult<sqlx::Error> {
        if conn.health.is_broken() {
            return Err(RecycleError::message("connection broke"));
        }
        Ok(())
    }
}

/// The pool type.
pub(crate) type OwnPool = managed::Pool<PgManager>;
