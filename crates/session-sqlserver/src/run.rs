//! Running one statement: on a pooled connection, once more on the next if that one
//! turns out dead, creating the table first when asked to.

use deadpool_tiberius::{
    deadpool::managed,
    tiberius::{Query, Row},
};
use session_core::__private::error_chain;
use session_core::store::lease::Resend;
use session_core::{Error, Result};

use crate::{
    cache::{Inner, DELETE_BATCH},
    manager::SqlConnection,
    sql::{self, Param, Statement},
};

/// Sends one statement with its parameters; returns the first row of its last result.
///
/// The call is watched until its reply is read: a call cancelled half-way (the engine's
/// IO timeout drops it) may leave a request half-written or a reply unread, so the pool
/// must not lend that connection again. A transport error also marks it broken.
async fn execute(
    conn: &mut SqlConnection,
    statement: &Statement,
    all: bool,
) -> std::result::Result<Vec<Row>, deadpool_tiberius::tiberius::error::Error> {
    let SqlConnection { client, health } = conn;
    let watch = health.watch();
    let result = send(client, statement, all).await;
    watch.answered();
    if let Err(error) = &result {
        conn.observe(error);
    }
    result
}

async fn send(
    client: &mut deadpool_tiberius::Client,
    statement: &Statement,
    all: bool,
) -> std::result::Result<Vec<Row>, deadpool_tiberius::tiberius::error::Error> {
    let mut query = Query::new(statement.sql.as_str());
    for param in &statement.params {
        match param {
            Param::Str(s) => query.bind(s.as_str()),
            Param::Bytes(b) => query.bind(b.as_slice()),
            Param::Int(i) => query.bind(*i),
            Param::Time(t) => query.bind(sql::iso8601(*t)),
        }
    }
    let stream = query.query(client).await?;
    match all {
        false => stream.into_row().await.map(|row| row.into_iter().collect()),
        // the rows of the last result (a batch's earlier statements answer none)
        true => Ok(stream.into_results().await?.pop().unwrap_or_default()),
    }
}

impl Inner {
    /// Runs one statement; returns the first row of its last result, if any.
    ///
    /// A pooled connection that turns out dead is discarded and the statement runs again
    /// on the next one, up to the pool's size ([`Resend`]): the first requests after a
    /// SQL Server restart do not fail.
    pub(crate) async fn run(&self, operation: &'static str, statement: Statement) -> Result<Option<Row>> {
        let rows = self.run_rows(operation, statement, false).await?;
        Ok(rows.into_iter().next())
    }

    /// [`run`](Self::run) of a statement that answers any number of rows: the rows of
    /// its last result.
    pub(crate) async fn run_all(&self, operation: &'static str, statement: Statement) -> Result<Vec<Row>> {
        self.run_rows(operation, statement, true).await
    }

    async fn run_rows(&self, operation: &'static str, statement: Statement, all: bool) -> Result<Vec<Row>> {
        let mut resend = Resend::up_to(self.pool.status().max_size);
        loop {
            let mut conn = self
                .pool
                .get()
                .await
                .map_err(|e| Error::store(operation, unconnected(e)))?;
            if !self.table_ready.initialized() {
                Box::pin(self.table_ready.get_or_try_init(|| self.create_table(&mut conn))).await?;
            }
            let reused = managed::Object::metrics(&conn).recycle_count > 0;
            match execute(&mut conn, &statement, all).await {
                Err(error) if resend.again(conn.health.is_broken(), reused) => {
                    tracing::debug!(error = %error_chain(&error), "pooled SQL Server connection found dead; running the statement on another");
                }
                result => return result.map_err(|error| Error::store(operation, error)),
            }
        }
    }

    /// Creates the table if it is missing (run once through `table_ready`: concurrent
    /// callers wait, then find it done). A transport error leaves it to the next
    /// statement; a SQL error (no permission, no such schema) would not go away by
    /// retrying, so it is logged and the statements run (and fail with their own errors
    /// if the table is missing).
    async fn create_table(&self, conn: &mut SqlConnection) -> Result<()> {
        match execute(conn, &sql::create_table(&self.table), false).await {
            Ok(_) => tracing::info!("session table ready (created if it was missing)"),
            Err(error) => {
                if conn.health.is_broken() {
                    return Err(Error::store("create table", error));
                }
                tracing::error!(error = %error_chain(&error), "creating the session table failed; create it as `dotnet sql-cache create` would");
            }
        }
        Ok(())
    }

    /// Deletes every expired row, a batch at a time, and reports the sessions among them
    /// to the expiry watchers.
    pub(crate) async fn delete_expired(&self) {
        let mut total = 0;
        loop {
            match self
                .run_all("delete expired", sql::delete_expired(&self.table, DELETE_BATCH))
                .await
            {
                Ok(rows) => {
                    // by position: Babelfish names an OUTPUT column `id` whatever its alias
                    let ids: Vec<String> = rows
                        .iter()
                        .filter_map(|row| row.try_get::<&str, _>(0).ok().flatten().map(str::to_owned))
                        .collect();
                    self.expiry.report(ids.iter().map(String::as_str));
                    let deleted = i32::try_from(rows.len()).unwrap_or(i32::MAX);
                    total += deleted;
                    if deleted < DELETE_BATCH {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "deleting expired SQL Server rows failed");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::debug!(deleted = total, "expired SQL Server rows deleted");
        }
    }
}

/// Why the pool gave no connection, in words that point at the fix: deadpool's own
/// timeout messages ("Timeout occurred while creating a new object") name neither.
#[derive(Debug, thiserror::Error)]
enum Unconnected {
    #[error(
        "connecting to SQL Server took longer than the connect timeout (TCP connect, TLS handshake \
         or login); a server without TLS needs `encrypt=DANGER_PLAINTEXT` in the connection string"
    )]
    ConnectTimeout,
    #[error("no pooled SQL Server connection came free within the connect timeout")]
    PoolBusy,
    #[error(transparent)]
    Other(managed::PoolError<deadpool_tiberius::tiberius::error::Error>),
}

fn unconnected(error: managed::PoolError<deadpool_tiberius::tiberius::error::Error>) -> Unconnected {
    match error {
        managed::PoolError::Timeout(managed::TimeoutType::Create) => Unconnected::ConnectTimeout,
        managed::PoolError::Timeout(managed::TimeoutType::Wait) => Unconnected::PoolBusy,
        other => Unconnected::Other(other),
    }
}

/// An `int` column of `row` (`None` if absent, NULL or of another type).
pub(crate) fn int(row: Option<&Row>, column: &str) -> Option<i32> {
    row?.try_get::<i32, _>(column).ok().flatten()
}

/// An `nvarchar` column of `row`.
pub(crate) fn text(row: Option<&Row>, column: &str) -> Option<String> {
    row?.try_get::<&str, _>(column).ok().flatten().map(str::to_owned)
}

/// A `varbinary` column of `row`.
pub(crate) fn bytes(row: Option<&Row>, column: &str) -> Option<Vec<u8>> {
    row?.try_get::<&[u8], _>(column)
        .ok()
        .flatten()
        .map(<[u8]>::to_vec)
}

/// The statement gave no usable answer (an engine that returned no row).
#[derive(Debug, thiserror::Error)]
#[error("SQL Server returned no result for {0}")]
pub(crate) struct NoResult(pub(crate) &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_say_what_to_check() {
        let create = unconnected(managed::PoolError::Timeout(managed::TimeoutType::Create)).to_string();
        assert!(
            create.contains("TLS handshake") && create.contains("encrypt=DANGER_PLAINTEXT"),
            "{create}"
        );
        let wait = unconnected(managed::PoolError::Timeout(managed::TimeoutType::Wait)).to_string();
        assert!(wait.contains("came free"), "{wait}");
        let closed = unconnected(managed::PoolError::Closed).to_string();
        assert_eq!(
            closed,
            managed::PoolError::<deadpool_tiberius::tiberius::error::Error>::Closed.to_string()
        );
    }
}
