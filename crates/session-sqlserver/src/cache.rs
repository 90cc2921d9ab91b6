//! `SqlServerCache`: each store operation is one statement from [`crate::sql`] on one
//! pooled connection.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use async_trait::async_trait;
use deadpool_tiberius::{
    deadpool::{managed, Runtime},
    tiberius::{Query, Row},
};
use session_core::__private::{error_chain, start_up_check};
use session_core::store::{
    CommitOp, DistributedCache, EntryOptions, LocalLocks, LockAttempt, LockToken, SessionLock,
};
use session_core::{Error, Result};
use tokio::sync::OnceCell;

use crate::{
    manager::{SqlConnection, SqlManager},
    options::SqlServerCacheOptions,
    sql::{self, CommitSql, Param, Statement, Table},
};

/// The connection pool type [`SqlServerCache::new`] takes.
pub type SqlPool = managed::Pool<SqlManager>;

/// Rows deleted per statement by the expired-items cleanup.
const DELETE_BATCH: i32 = 1000;

/// The SQL Server store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqlServerCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: SqlPool,
    table: Table,
    /// Empty while `create_table_if_missing` has not succeeded yet (SQL Server may be
    /// down at start-up): the next statement creates the table first, one at a time.
    table_ready: OnceCell<()>,
    /// The in-process lock table every clone shares.
    locks: LocalLocks,
}

impl Inner {
    fn new(pool: SqlPool, table: Table, create_table: bool) -> Arc<Self> {
        Arc::new(Inner {
            pool,
            table,
            table_ready: if create_table {
                OnceCell::new()
            } else {
                OnceCell::new_with(Some(()))
            },
            locks: LocalLocks::default(),
        })
    }
}

impl SqlServerCache {
    /// A cache on table `dbo.Sessions` over a ready pool (see
    /// [`with_table`](Self::with_table)). No cleanup task runs; see
    /// [`start_expired_items_deletion`](Self::start_expired_items_deletion).
    ///
    /// ```no_run
    /// use session_sqlserver::{SqlManager, SqlServerCache};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = SqlManager::from_ado_string("Server=tcp:127.0.0.1,1433;User Id=sa;Password=...;TrustServerCertificate=true")?;
    /// let pool = session_sqlserver::deadpool_tiberius::deadpool::managed::Pool::builder(manager).max_size(8).build()?;
    /// let cache = SqlServerCache::new(pool);
    /// # Ok(()) }
    /// ```
    pub fn new(pool: SqlPool) -> Self {
        SqlServerCache {
            inner: Inner::new(pool, Table::dbo_sessions(), false),
        }
    }

    /// Uses the table `[schema].[table]`.
    ///
    /// ```
    /// # fn run(cache: session_sqlserver::SqlServerCache) -> session_core::Result<()> {
    /// let cache = cache.with_table("app", "Sessions")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] unless both are plain identifiers (letters, digits, `_`).
    pub fn with_table(self, schema: &str, table: &str) -> Result<Self> {
        Ok(SqlServerCache {
            inner: Inner::new(self.inner.pool.clone(), table_named(schema, table)?, false),
        })
    }

    /// Connects with an ADO.NET connection string; shorthand for
    /// [`connect_with`](Self::connect_with)`(options.connection_string(connection_string))`.
    ///
    /// ```no_run
    /// use session_sqlserver::{SqlServerCache, SqlServerCacheOptions};
    /// # async fn run() -> session_core::Result<()> {
    /// let cache = SqlServerCache::connect(
    ///     "Server=tcp:127.0.0.1,1433;User Id=sa;Password=...;TrustServerCertificate=true",
    ///     SqlServerCacheOptions::default().create_table_if_missing(true),
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`connect_with`](Self::connect_with).
    pub async fn connect(connection_string: &str, options: SqlServerCacheOptions) -> Result<Self> {
        Self::connect_with(options.connection_string(connection_string)).await
    }

    /// Connects with the options' [`connection_string`](SqlServerCacheOptions::connection_string).
    ///
    /// Creates the table if asked to, and starts the expired-items deletion. If the
    /// server cannot be reached now, the cause is logged and the cache is returned all
    /// the same: session requests answer 503 until it is reachable. The start-up check
    /// holds up the caller at most [`START_UP_WAIT`](session_core::__private::START_UP_WAIT) (1 s): a
    /// server that accepts connections and does not answer is reported in the background.
    ///
    /// ```no_run
    /// use session_sqlserver::{SqlServerCache, SqlServerCacheOptions};
    /// # async fn run() -> session_core::Result<()> {
    /// let options = SqlServerCacheOptions::default()
    ///     .connection_string(std::env::var("SESSION_MSSQL_CONNECTION_STRING").unwrap_or_default())
    ///     .table_name("Sessions");
    /// let cache = SqlServerCache::connect_with(options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a missing or unparsable connection string or an invalid
    /// table name.
    pub async fn connect_with(options: SqlServerCacheOptions) -> Result<Self> {
        if options.connection_string.trim().is_empty() {
            return Err(Error::Config("no SQL Server connection string".into()));
        }
        options.validate()?;
        let manager = SqlManager::from_ado_string(&options.connection_string)?;
        let pool = managed::Pool::builder(manager)
            .max_size(options.pool_size)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("SQL Server pool: {e}")))?;
        let table = table_named(&options.schema_name, &options.table_name)?;
        let cache = SqlServerCache {
            inner: Inner::new(pool, table, options.create_table_if_missing),
        };
        // creates the table first if asked to; if that fails now, the first statement
        // after SQL Server is back does it
        let (checked, table) = (
            cache.clone(),
            format!("[{}].[{}]", options.schema_name, options.table_name),
        );
        start_up_check(async move {
            match checked.inner.run("ping", sql::ping()).await {
                Ok(_) => tracing::info!(%table, "connected to SQL Server"),
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "SQL Server check at start-up failed; session requests answer 503 until it succeeds")
                }
            }
        })
        .await;
        cache.start_expired_items_deletion(options.expired_items_deletion_interval);
        Ok(cache)
    }

    /// Deletes expired rows every `every`, in batches of 1,000, until the cache is
    /// dropped. `Duration::ZERO` starts nothing (the application deletes them itself);
    /// any other interval is at least [`MIN_DELETION_INTERVAL`](crate::MIN_DELETION_INTERVAL).
    /// Needs a Tokio runtime; does nothing without one.
    ///
    /// ```
    /// # fn run(cache: session_sqlserver::SqlServerCache) {
    /// cache.start_expired_items_deletion(std::time::Duration::from_secs(30 * 60));
    /// # }
    /// ```
    pub fn start_expired_items_deletion(&self, every: Duration) {
        if every.is_zero() {
            tracing::debug!("expired SQL Server rows are not deleted by this instance (interval zero)");
            return;
        }
        let every = every.max(crate::MIN_DELETION_INTERVAL);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no Tokio runtime: expired SQL Server rows will not be deleted");
            return;
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { break };
                inner.delete_expired().await;
            }
        });
    }
}

/// The table `[schema].[table]`, or [`Error::Config`] unless both are plain identifiers.
fn table_named(schema: &str, table: &str) -> Result<Table> {
    Table::new(schema, table).ok_or_else(|| Error::Config(format!("invalid table name [{schema}].[{table}]")))
}

/// Sends one statement with its parameters; returns the first row of its last result.
///
/// The connection counts as broken until the reply is read: a call cancelled half-way
/// (the engine's IO timeout drops it) may leave a request half-written or a reply
/// unread, so the pool must not lend that connection again. A transport error also
/// marks it broken.
async fn execute(
    conn: &mut SqlConnection,
    statement: &Statement,
) -> std::result::Result<Option<Row>, deadpool_tiberius::tiberius::error::Error> {
    conn.broken = true;
    let result = send(conn, statement).await;
    conn.broken = false;
    if let Err(error) = &result {
        conn.observe(error);
    }
    result
}

async fn send(
    conn: &mut SqlConnection,
    statement: &Statement,
) -> std::result::Result<Option<Row>, deadpool_tiberius::tiberius::error::Error> {
    let mut query = Query::new(statement.sql.as_str());
    for param in &statement.params {
        match param {
            Param::Str(s) => query.bind(s.as_str()),
            Param::Bytes(b) => query.bind(b.as_slice()),
            Param::Int(i) => query.bind(*i),
            Param::Time(t) => query.bind(sql::iso8601(*t)),
        }
    }
    query.query(&mut conn.client).await?.into_row().await
}

impl Inner {
    /// Runs one statement; returns the first row of its last result, if any.
    ///
    /// A pooled connection that turns out dead (the server restarted, or a network
    /// device dropped the idle connection) is discarded and the statement runs again on
    /// the next one, so the first requests after a restart do not fail; a new connection
    /// that fails is not retried. Every statement is safe to run twice: the lock takes
    /// the same lease again for the same token, and a commit that did run the first time
    /// finds its lease gone and reports it lost rather than writing again.
    async fn run(&self, operation: &'static str, statement: Statement) -> Result<Option<Row>> {
        let mut pooled_left = self.pool.status().max_size;
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
            match execute(&mut conn, &statement).await {
                Err(error) if conn.broken && reused && pooled_left > 0 => {
                    pooled_left -= 1;
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
        match execute(conn, &sql::create_table(&self.table)).await {
            Ok(_) => tracing::info!("session table ready (created if it was missing)"),
            Err(error) => {
                if conn.broken {
                    return Err(Error::store("create table", error));
                }
                tracing::error!(error = %error_chain(&error), "creating the session table failed; create it as `dotnet sql-cache create` would");
            }
        }
        Ok(())
    }

    async fn delete_expired(&self) {
        let mut total = 0;
        loop {
            match self
                .run("delete expired", sql::delete_expired(&self.table, DELETE_BATCH))
                .await
            {
                Ok(row) => {
                    let deleted = int(row.as_ref(), "Deleted").unwrap_or(0);
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
fn int(row: Option<&Row>, column: &str) -> Option<i32> {
    row?.try_get::<i32, _>(column).ok().flatten()
}

/// A `varbinary` column of `row`.
fn bytes(row: Option<&Row>, column: &str) -> Option<Vec<u8>> {
    row?.try_get::<&[u8], _>(column)
        .ok()
        .flatten()
        .map(<[u8]>::to_vec)
}

/// The statement gave no usable answer (an engine that returned no row).
#[derive(Debug, thiserror::Error)]
#[error("SQL Server returned no result for {0}")]
struct NoResult(&'static str);

#[async_trait]
impl DistributedCache for SqlServerCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let row = self.inner.run("get", sql::get(&self.inner.table, key)).await?;
        Ok(bytes(row.as_ref(), "Value"))
    }

    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        self.inner
            .run("set", sql::set(&self.inner.table, key, value, &options))
            .await
            .map(drop)
    }

    async fn refresh(&self, key: &str) -> Result<()> {
        self.inner
            .run("refresh", sql::refresh(&self.inner.table, key))
            .await
            .map(drop)
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.inner
            .run("remove", sql::remove(&self.inner.table, key))
            .await
            .map(drop)
    }

    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }

    fn local_locks(&self) -> Option<&LocalLocks> {
        Some(&self.inner.locks)
    }
}

#[async_trait]
impl SessionLock for SqlServerCache {
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt> {
        let statement = sql::lock_and_get(&self.inner.table, key, token.as_bytes(), lease);
        let row = self.inner.run("lock", statement).await?;
        match int(row.as_ref(), "Status") {
            Some(2) => Ok(bytes(row.as_ref(), "Value").map_or(LockAttempt::Missing, LockAttempt::Acquired)),
            Some(1) => Ok(LockAttempt::Busy),
            Some(_) => Ok(LockAttempt::Missing),
            None => Err(Error::store("lock", NoResult("lock"))),
        }
    }

    async fn commit_and_unlock(&self, key: &str, token: &LockToken, op: CommitOp) -> Result<()> {
        let op = match op {
            CommitOp::Set { value, options } => CommitSql::Set(value, options),
            CommitOp::Refresh => CommitSql::Refresh,
            CommitOp::Remove => CommitSql::Remove,
            CommitOp::Release => CommitSql::Release,
        };
        let statement = sql::commit(&self.inner.table, key, token.as_bytes(), op);
        let row = self.inner.run("commit", statement).await?;
        match int(row.as_ref(), "Ok") {
            Some(1) => Ok(()),
            Some(_) => Err(Error::LeaseLost),
            None => Err(Error::store("commit", NoResult("commit"))),
        }
    }

    async fn create(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<bool> {
        let statement = sql::create(&self.inner.table, key, value, &options);
        let row = self.inner.run("create", statement).await?;
        match int(row.as_ref(), "Created") {
            Some(created) => Ok(created == 1),
            None => Err(Error::store("create", NoResult("create"))),
        }
    }

    fn max_lease(&self) -> Duration {
        sql::MAX_LEASE
    }
}

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
