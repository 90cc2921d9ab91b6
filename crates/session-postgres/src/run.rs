//! Running one statement: prepared and bound, or as a simple query with its values
//! written in; on the cache's own pool or the application's; once more on another
//! connection if the pooled one turns out dead; migrating first when asked to.

use deadpool::managed;
use session_core::__private::error_chain;
use session_core::store::lease::Resend;
use session_core::{Error, Result};
use sqlx::{
    postgres::{PgArguments, PgRow},
    query::Query,
    Executor, Postgres, Row,
};

use crate::{
    cache::{Connections, Inner},
    manager::PgConn,
    sql::{Param, Statement},
};

/// A statement as it goes out: prepared with its parameters bound, or simple (the values
/// written into its text).
enum Sendable<'a> {
    Prepared(&'a Statement),
    PreparedAll(&'a Statement),
    Simple(String),
}

impl Inner {
    /// Runs one statement; returns its first row, if any.
    ///
    /// A statement whose pooled connection turns out dead (the server restarted, or
    /// something between dropped the idle connection) runs again on the next one, up to
    /// the pool's size ([`Resend`]): the first requests after a restart do not fail.
    pub(crate) async fn run(&self, operation: &'static str, statement: &Statement) -> Result<Option<PgRow>> {
        self.migrated_if_asked().await?;
        let sendable = if self.prepared {
            Sendable::Prepared(statement)
        } else {
            Sendable::Simple(statement.inline())
        };
        self.send(operation, &sendable)
            .await
            .map(|rows| rows.into_iter().next())
    }

    /// [`run`](Self::run) of a statement that answers any number of rows.
    pub(crate) async fn run_all(&self, operation: &'static str, statement: &Statement) -> Result<Vec<PgRow>> {
        self.migrated_if_asked().await?;
        let sendable = if self.prepared {
            Sendable::PreparedAll(statement)
        } else {
            Sendable::Simple(statement.inline())
        };
        self.send(operation, &sendable).await
    }

    /// Runs `sql` (several statements, no parameters) as one simple query, which runs
    /// them in one transaction.
    pub(crate) async fn simple(&self, sql: &str) -> std::result::Result<(), sqlx::Error> {
        match &self.connections {
            Connections::Shared(pool) => pool.execute(sqlx::raw_sql(sql)).await.map(drop),
            Connections::Own(pool) => {
                let mut conn = pool.get().await.map_err(|error| match error {
                    managed::PoolError::Backend(error) => error,
                    other => sqlx::Error::Io(std::io::Error::other(unconnected(other))),
                })?;
                let sendable = Sendable::Simple(sql.to_owned());
                on_connection(&mut conn, &sendable).await.map(drop)
            }
        }
    }

    async fn send(&self, operation: &'static str, sendable: &Sendable<'_>) -> Result<Vec<PgRow>> {
        match &self.connections {
            Connections::Own(pool) => {
                let mut resend = Resend::up_to(pool.status().max_size);
                loop {
                    let mut conn = pool
                        .get()
                        .await
                        .map_err(|e| Error::store(operation, unconnected(e)))?;
                    let reused = managed::Object::metrics(&conn).recycle_count > 0;
                    match on_connection(&mut conn, sendable).await {
                        Err(error) if resend.again(conn.health.is_broken(), reused) => {
                            tracing::debug!(error = %error_chain(&error), "pooled PostgreSQL connection found dead; running the statement on another");
                        }
                        result => return result.map_err(|error| Error::store(operation, explain(error))),
                    }
                }
            }
            Connections::Shared(pool) => {
                let most = usize::try_from(pool.options().get_max_connections()).unwrap_or(1);
                let mut resend = Resend::up_to(most);
                loop {
                    // sqlx does not say whether the connection it lends is new: one was
                    // idle in the pool, so it is likely reused
                    let reused = pool.num_idle() > 0;
                    match on_pool(pool, sendable).await {
                        Err(error) if resend.again(is_transport(&error), reused) => {
                            tracing::debug!(error = %error_chain(&error), "pooled PostgreSQL connection found dead; running the statement on another");
                        }
                        result => return result.map_err(|error| Error::store(operation, explain(error))),
                    }
                }
            }
        }
    }
}

/// Sends `sendable` on `conn`, watched until its reply is read: a call cut off half-way
/// (the engine's IO timeout drops it) leaves the connection in the middle of the
/// protocol, so the pool must not lend it again; a transport error breaks it too.
async fn on_connection(
    conn: &mut PgConn,
    sendable: &Sendable<'_>,
) -> std::result::Result<Vec<PgRow>, sqlx::Error> {
    let PgConn { conn, health } = conn;
    let watch = health.watch();
    let result = match sendable {
        Sendable::Prepared(statement) => conn
            .fetch_optional(bind(sqlx::query(&statement.sql), &statement.params))
            .await
            .map(|row| row.into_iter().collect()),
        Sendable::PreparedAll(statement) => {
            conn.fetch_all(bind(sqlx::query(&statement.sql), &statement.params))
                .await
        }
        Sendable::Simple(sql) => conn.fetch_all(sqlx::raw_sql(sql)).await,
    };
    watch.answered();
    if result.as_ref().is_err_and(is_transport) {
        health.mark_broken();
    }
    result
}

/// Sends `sendable` through the application's pool.
async fn on_pool(
    pool: &sqlx::PgPool,
    sendable: &Sendable<'_>,
) -> std::result::Result<Vec<PgRow>, sqlx::Error> {
    match sendable {
        Sendable::Prepared(statement) => pool
            .fetch_optional(bind(sqlx::query(&statement.sql), &statement.params))
            .await
            .map(|row| row.into_iter().collect()),
        Sendable::PreparedAll(statement) => {
            pool.fetch_all(bind(sqlx::query(&statement.sql), &statement.params))
                .await
        }
        // (sqlx 0.8's `RawSql::fetch_optional` answers a row, not an option)
        Sendable::Simple(sql) => pool.fetch_all(sqlx::raw_sql(sql)).await,
    }
}

fn bind<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    params: &'q [Param],
) -> Query<'q, Postgres, PgArguments> {
    for param in params {
        query = match param {
            Param::Text(s) => query.bind(s.as_str()),
            Param::Bytes(b) => query.bind(b.as_slice()),
            Param::Int(i) => query.bind(*i),
            Param::OptInt(i) => query.bind(*i),
            Param::OptText(t) => query.bind(t.as_deref()),
            Param::Texts(t) => query.bind(t.as_slice()),
        };
    }
    query
}

/// Whether the connection failed, rather than the statement.
fn is_transport(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)
    )
}

/// The error, with the fix named when the schema is missing.
fn explain(error: sqlx::Error) -> session_core::store::BoxError {
    let missing = error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| matches!(code.as_ref(), "42P01" | "42883" | "3F000"));
    if missing {
        Box::new(NotMigrated(error))
    } else {
        Box::new(error)
    }
}

/// A statement found the store's tables missing.
#[derive(Debug, thiserror::Error)]
#[error(
    "the session tables are missing: call PostgresCache::migrate() once, set \
     PostgresCacheOptions::create_if_missing(true), or run PostgresCache::migration_sql() in your migrations"
)]
pub(crate) struct NotMigrated(#[source] sqlx::Error);

/// Why the pool gave no connection, in words that point at the fix: deadpool's own
/// timeout messages ("Timeout occurred while creating a new object") name neither.
#[derive(Debug, thiserror::Error)]
enum Unconnected {
    #[error("connecting to PostgreSQL took longer than the connect timeout (TCP connect, TLS or login)")]
    ConnectTimeout,
    #[error("no pooled PostgreSQL connection came free within the connect timeout")]
    PoolBusy,
    #[error(transparent)]
    Other(managed::PoolError<sqlx::Error>),
}

fn unconnected(error: managed::PoolError<sqlx::Error>) -> Unconnected {
    match error {
        managed::PoolError::Timeout(managed::TimeoutType::Create) => Unconnected::ConnectTimeout,
        managed::PoolError::Timeout(managed::TimeoutType::Wait) => Unconnected::PoolBusy,
        other => Unconnected::Other(other),
    }
}

/// A column of `row` as an `int4` (`None` if absent, NULL or of another type).
pub(crate) fn int4(row: Option<&PgRow>, column: &str) -> Option<i32> {
    row?.try_get::<Option<i32>, _>(column).ok().flatten()
}

/// A column of `row` as an `int8`.
pub(crate) fn int8(row: Option<&PgRow>, column: &str) -> Option<i64> {
    row?.try_get::<Option<i64>, _>(column).ok().flatten()
}

/// A `text` column of `row`.
pub(crate) fn text(row: Option<&PgRow>, column: &str) -> Option<String> {
    row?.try_get::<Option<String>, _>(column).ok().flatten()
}

/// A `text[]` column of `row` (empty if NULL).
pub(crate) fn texts(row: Option<&PgRow>, column: &str) -> Vec<String> {
    row.and_then(|row| row.try_get::<Option<Vec<String>>, _>(column).ok().flatten())
        .unwrap_or_default()
}

/// A `bytea` column of `row`.
pub(crate) fn bytes(row: Option<&PgRow>, column: &str) -> Option<Vec<u8>> {
    row?.try_get::<Option<Vec<u8>>, _>(column).ok().flatten()
}

/// The statement gave no usable answer.
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL returned no result for {0}")]
pub(crate) struct NoResult(pub(crate) &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_say_what_to_check() {
        let create = unconnected(managed::PoolError::Timeout(managed::TimeoutType::Create)).to_string();
        assert!(create.contains("connect timeout"), "{create}");
        let wait = unconnected(managed::PoolError::Timeout(managed::TimeoutType::Wait)).to_string();
        assert!(wait.contains("came free"), "{wait}");
    }
}
