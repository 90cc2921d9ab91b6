//! Running one statement: prepared and bound, or as a simple query with its values
//! written in; once more on another connection if the pooled one turns out dead;
//! migrating first when asked to.

use session_core::__private::error_chain;
use session_core::store::lease::Resend;
use session_core::{Error, Result};
use sqlx::{
    postgres::{PgArguments, PgRow},
    query::Query,
    Postgres, Row,
};

use crate::{
    cache::Inner,
    sql::{Param, Statement},
};

impl Inner {
    /// Runs one statement; returns its first row, if any.
    ///
    /// A statement whose pooled connection turns out dead (the server restarted, or
    /// something between dropped the idle connection) runs again on the next one, up to
    /// the pool's size ([`Resend`]): the first requests after a restart do not fail.
    pub(crate) async fn run(&self, operation: &'static str, statement: &Statement) -> Result<Option<PgRow>> {
        self.migrated_if_asked().await?;
        let mut resend =
            Resend::up_to(usize::try_from(self.pool.options().get_max_connections()).unwrap_or(1));
        loop {
            let reused = self.pool.num_idle() > 0;
            let result = if self.prepared {
                bind(sqlx::query(&statement.sql), &statement.params)
                    .fetch_optional(&self.pool)
                    .await
            } else {
                // (sqlx 0.8's `RawSql::fetch_optional` answers a row, not an option)
                let inline = statement.inline();
                sqlx::raw_sql(&inline)
                    .fetch_all(&self.pool)
                    .await
                    .map(|rows| rows.into_iter().next())
            };
            match result {
                Err(error) if resend.again(is_transport(&error), reused) => {
                    tracing::debug!(error = %error_chain(&error), "pooled PostgreSQL connection found dead; running the statement on another");
                }
                Err(error) => return Err(Error::store(operation, explain(error))),
                Ok(row) => return Ok(row),
            }
        }
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

/// A statement found the store's tables or functions missing.
#[derive(Debug, thiserror::Error)]
#[error(
    "the session tables or functions are missing: call PostgresCache::migrate() once, set \
     PostgresCacheOptions::create_if_missing(true), or run PostgresCache::migration_sql() in your migrations"
)]
pub(crate) struct NotMigrated(#[source] sqlx::Error);

/// A column of `row` as an `int4` (`None` if absent, NULL or of another type).
pub(crate) fn int4(row: Option<&PgRow>, column: &str) -> Option<i32> {
    row?.try_get::<Option<i32>, _>(column).ok().flatten()
}

/// A column of `row` as an `int8`.
pub(crate) fn int8(row: Option<&PgRow>, column: &str) -> Option<i64> {
    row?.try_get::<Option<i64>, _>(column).ok().flatten()
}

/// A `bytea` column of `row`.
pub(crate) fn bytes(row: Option<&PgRow>, column: &str) -> Option<Vec<u8>> {
    row?.try_get::<Option<Vec<u8>>, _>(column).ok().flatten()
}

/// The statement gave no usable answer.
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL returned no result for {0}")]
pub(crate) struct NoResult(pub(crate) &'static str);
