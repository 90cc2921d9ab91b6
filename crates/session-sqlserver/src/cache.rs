//! `SqlServerCache`: what it holds, connecting it, and the expired-rows deletion (each
//! statement runs through `run`; the store's contract is in `store`).

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use deadpool_tiberius::deadpool::{managed, Runtime};
use session_core::__private::{error_chain, start_up_check};
use session_core::store::{ExpiryWatchers, LocalLocks};
use session_core::{Error, Result};
use tokio::sync::OnceCell;

use crate::{
    manager::SqlManager,
    options::SqlServerCacheOptions,
    sql::{self, Table},
};

/// The connection pool type [`SqlServerCache::new`] takes.
pub type SqlPool = managed::Pool<SqlManager>;

/// Rows deleted per statement by the expired-items cleanup.
pub(crate) const DELETE_BATCH: i32 = 1000;

/// The SQL Server store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqlServerCache {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pool: SqlPool,
    pub(crate) table: Table,
    /// Empty while `create_table_if_missing` has not succeeded yet (SQL Server may be
    /// down at start-up): the next statement creates the table first, one at a time.
    pub(crate) table_ready: OnceCell<()>,
    /// The in-process lock table every clone shares.
    pub(crate) locks: LocalLocks,
    /// The engines told of the sessions the expired-items deletion removes.
    pub(crate) expiry: ExpiryWatchers,
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
            expiry: ExpiryWatchers::default(),
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
