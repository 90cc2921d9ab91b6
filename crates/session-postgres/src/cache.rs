//! `PostgresCache`: what it holds, connecting it, migrating the schema, and the
//! expired-rows deletion (each statement runs through `run`; the store's contract is in
//! `store`).

use std::{sync::Arc, time::Duration};

use deadpool::{managed, Runtime};
use session_core::__private::{error_chain, start_up_check};
use session_core::store::{ExpiryWatchers, LocalLocks, RecallWatchers};
use session_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPool};
use tokio::sync::OnceCell;

use crate::{
    manager::{OwnPool, PgManager},
    options::PostgresCacheOptions,
    recalls::ListenTask,
    sql::{self, Names},
};

/// Rows deleted per statement by the expired-rows deletion.
pub(crate) const DELETE_BATCH: i64 = 1000;

/// The PostgreSQL store. Cheap to clone: clones share the pool and the in-process lock
/// table.
#[derive(Clone, Debug)]
pub struct PostgresCache {
    pub(crate) inner: Arc<Inner>,
}

/// Where the connections come from.
#[derive(Debug)]
pub(crate) enum Connections {
    /// The application's sqlx pool ([`PostgresCache::new`]).
    Shared(PgPool),
    /// The cache's own ([`PostgresCache::connect`]).
    Own(OwnPool),
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) connections: Connections,
    pub(crate) names: Names,
    pub(crate) prepared: bool,
    pub(crate) slack_ms: i64,
    /// Empty while `create_if_missing` has not migrated yet (the database may be down
    /// at start-up): the next statement migrates first, one at a time.
    pub(crate) migrated: OnceCell<()>,
    /// The in-process lock table every clone shares.
    pub(crate) locks: LocalLocks,
    /// The engines told of the sessions the expired-rows deletion removes.
    pub(crate) expiry: ExpiryWatchers,
    /// Hot sessions: the engines' kept leases, reached by recall notifications.
    pub(crate) recalls: RecallWatchers,
    /// The task listening for them.
    pub(crate) listening: ListenTask,
    /// Whether to listen ([`PostgresCacheOptions::listen_for_recalls`], and not behind a
    /// pooler: prepared statements on).
    pub(crate) listens: bool,
}

impl PostgresCache {
    /// A cache on the table `public.sessions` over a pool the application may share,
    /// with prepared statements. Nothing is created: call [`migrate`](Self::migrate)
    /// once (or run [`migration_sql`](Self::migration_sql) in your migrations). No
    /// deletion task runs; see [`spawn_expired_deletion`](Self::spawn_expired_deletion).
    ///
    /// sqlx's pool pings a connection when it takes it back, and before it lends it
    /// unless built with `test_before_acquire(false)`: one or two round trips more per
    /// statement. [`connect`](Self::connect) keeps a pool of its own that does neither
    /// (27% more requests per second on the counter route, BENCHMARKS.md).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use session_postgres::{sqlx::postgres::PgPoolOptions, PostgresCache};
    /// let pool = PgPoolOptions::new()
    ///     .max_connections(16)
    ///     .test_before_acquire(false)
    ///     .connect("postgres://app@127.0.0.1/app")
    ///     .await?;
    /// let cache = PostgresCache::new(pool);
    /// cache.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        let defaults = PostgresCacheOptions::default();
        PostgresCache {
            inner: Inner::new(Connections::Shared(pool), Names::public_sessions(), &defaults),
        }
    }

    /// A cache over `pool` with the table and statement settings of `options` (schema,
    /// table, `create_if_missing`, `prepared_statements`, `refresh_slack`; the pool
    /// settings are the pool's own).
    ///
    /// ```no_run
    /// # fn run(pool: session_postgres::sqlx::PgPool) -> session_core::Result<()> {
    /// use session_postgres::{PostgresCache, PostgresCacheOptions};
    /// let cache = PostgresCache::with_options(pool, &PostgresCacheOptions::default().schema_name("app"))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] unless the schema and table are plain identifiers.
    pub fn with_options(pool: PgPool, options: &PostgresCacheOptions) -> Result<Self> {
        Ok(PostgresCache {
            inner: Inner::new(Connections::Shared(pool), names(options)?, options),
        })
    }

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=...`)
    /// with a pool of its own (`pool_size`, `connect_timeout`; no query when a connection
    /// is lent or taken back). Connections are opened when needed: if the database cannot be reached
    /// now, the cause is logged and the cache is returned all the same; session requests
    /// answer 503 until it can. The start-up check holds up the caller at most
    /// [`START_UP_WAIT`](session_core::__private::START_UP_WAIT) (1 s).
    ///
    /// ```no_run
    /// use session_postgres::{PostgresCache, PostgresCacheOptions};
    /// # async fn run() -> session_core::Result<()> {
    /// let cache = PostgresCache::connect(
    ///     "postgres://app@127.0.0.1:5432/app",
    ///     PostgresCacheOptions::default().create_if_missing(true),
    /// )
    /// .await?;
    /// let deletion = cache.spawn_expired_deletion(std::time::Duration::from_secs(30 * 60));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for an unparsable URL or an invalid schema or table name.
    pub async fn connect(url: &str, options: PostgresCacheOptions) -> Result<Self> {
        let names = names(&options)?;
        let mut connect: PgConnectOptions = url
            .parse()
            .map_err(|e| Error::Config(format!("PostgreSQL URL: {e}")))?;
        if !options.prepared_statements {
            connect = connect.statement_cache_capacity(0);
        }
        let pool = managed::Pool::builder(PgManager::new(connect))
            .max_size(usize::try_from(options.pool_size).unwrap_or(usize::MAX))
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("PostgreSQL pool: {e}")))?;
        let cache = PostgresCache {
            inner: Inner::new(Connections::Own(pool), names, &options),
        };
        let checked = cache.clone();
        start_up_check(async move {
            let table = checked.inner.names.data().to_owned();
            match checked.inner.run("ping", &sql::ping()).await {
                Ok(_) => tracing::info!(%table, "connected to PostgreSQL"),
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "PostgreSQL check at start-up failed; session requests answer 503 until it succeeds")
                }
            }
        })
        .await;
        Ok(cache)
    }

    /// Creates what is missing (schema, tables, indexes, columns), in one transaction
    /// that waits for any other instance migrating the same table (a transaction-scoped advisory lock): safe when several instances
    /// start at once, and safe to run on every start.
    ///
    /// ```no_run
    /// # async fn run(cache: session_postgres::PostgresCache) -> session_core::Result<()> {
    /// cache.migrate().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`] if the database cannot be reached or refuses (no permission to
    /// create the schema or tables).
    pub async fn migrate(&self) -> Result<()> {
        self.inner.migrate().await
    }

    /// The SQL [`migrate`](Self::migrate) runs, for a migrations tool: run it in one
    /// transaction, and again after upgrading this crate (it adds what a new version
    /// needs).
    ///
    /// ```no_run
    /// # fn run(cache: session_postgres::PostgresCache) {
    /// std::fs::write("migrations/0007_sessions.sql", cache.migration_sql()).ok();
    /// # }
    /// ```
    pub fn migration_sql(&self) -> String {
        sql::migration(&self.inner.names)
    }

    /// The application's pool, if the cache was made over one
    /// ([`new`](Self::new), [`with_options`](Self::with_options)); `None` for the pool of
    /// its own that [`connect`](Self::connect) keeps.
    ///
    /// ```no_run
    /// # fn run(cache: session_postgres::PostgresCache) {
    /// let shared = cache.shared_pool().map(|pool| pool.size());
    /// # }
    /// ```
    pub fn shared_pool(&self) -> Option<&PgPool> {
        match &self.inner.connections {
            Connections::Shared(pool) => Some(pool),
            Connections::Own(_) => None,
        }
    }

    /// A round trip to the database.
    ///
    /// ```no_run
    /// # async fn run(cache: session_postgres::PostgresCache) -> session_core::Result<()> {
    /// cache.ping().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`] if the database cannot be reached.
    pub async fn ping(&self) -> Result<()> {
        self.inner.run("ping", &sql::ping()).await.map(drop)
    }

    /// Deletes every expired row now, in batches of 1,000 on the expiry index (oldest
    /// first; rows whose lease is held are left to their holder's commit); returns how
    /// many. The sessions it removes are reported to engines with event handlers as
    /// `SessionEvent::Expired` (revoked sessions' tombstones are not).
    ///
    /// ```no_run
    /// # async fn run(cache: session_postgres::PostgresCache) -> session_core::Result<()> {
    /// let deleted = cache.delete_expired().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`] if a batch fails (the batches before it stay deleted).
    pub async fn delete_expired(&self) -> Result<u64> {
        self.inner.delete_expired().await
    }

    /// Runs [`delete_expired`](Self::delete_expired) every `every` (at least one second)
    /// until the returned handle is dropped or [`stop`](ExpiredDeletion::stop)ped. One
    /// instance (or a database job) is enough; every instance may run it. Needs a Tokio
    /// runtime; without one, the handle runs nothing.
    ///
    /// ```no_run
    /// # fn run(cache: session_postgres::PostgresCache) {
    /// let deletion = cache.spawn_expired_deletion(std::time::Duration::from_secs(30 * 60));
    /// // keep `deletion` as long as the application runs
    /// # }
    /// ```
    #[must_use = "the deletion stops when the handle is dropped"]
    pub fn spawn_expired_deletion(&self, every: Duration) -> ExpiredDeletion {
        let every = every.max(MIN_DELETION_INTERVAL);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no Tokio runtime: expired PostgreSQL rows will not be deleted");
            return ExpiredDeletion { task: None };
        };
        let inner = Arc::downgrade(&self.inner);
        let task = runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = inner.upgrade() else { break };
                match inner.delete_expired().await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::debug!(deleted, "expired PostgreSQL rows deleted"),
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), "deleting expired PostgreSQL rows failed")
                    }
                }
            }
        });
        ExpiredDeletion { task: Some(task) }
    }
}

/// The shortest interval of the expired-rows deletion.
pub const MIN_DELETION_INTERVAL: Duration = Duration::from_secs(1);

/// The running expired-rows deletion of [`PostgresCache::spawn_expired_deletion`]: it
/// stops when this handle is dropped (unless [`detach`](Self::detach)ed) or the cache's
/// last clone is.
#[derive(Debug)]
pub struct ExpiredDeletion {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ExpiredDeletion {
    /// Stops the deletion (a batch under way is cut off; its rows stay as they were or
    /// are deleted, never half).
    ///
    /// ```no_run
    /// # fn run(cache: session_postgres::PostgresCache) {
    /// let deletion = cache.spawn_expired_deletion(std::time::Duration::from_secs(60));
    /// deletion.stop();
    /// # }
    /// ```
    pub fn stop(self) {}

    /// Lets the deletion run on without this handle, until the cache's last clone is
    /// dropped (or the runtime ends).
    ///
    /// ```no_run
    /// # fn run(cache: session_postgres::PostgresCache) {
    /// cache.spawn_expired_deletion(std::time::Duration::from_secs(30 * 60)).detach();
    /// # }
    /// ```
    pub fn detach(mut self) {
        self.task = None;
    }
}

impl Drop for ExpiredDeletion {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Inner {
    fn new(connections: Connections, names: Names, options: &PostgresCacheOptions) -> Arc<Self> {
        Arc::new(Inner {
            connections,
            names,
            prepared: options.prepared_statements,
            slack_ms: options.slack_ms(),
            migrated: if options.create_if_missing {
                OnceCell::new()
            } else {
                OnceCell::new_with(Some(()))
            },
            locks: LocalLocks::default(),
            expiry: ExpiryWatchers::default(),
            recalls: RecallWatchers::default(),
            listening: ListenTask::default(),
            listens: options.listen_for_recalls && options.prepared_statements,
        })
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        self.migrate_sql().await.map_err(|e| Error::store("migrate", e))
    }

    async fn migrate_sql(&self) -> std::result::Result<(), sqlx::Error> {
        // one simple query: its statements run as one transaction, which holds the
        // advisory lock that serializes migrations until it ends
        let migration = sql::migration(&self.names);
        self.simple(&migration).await?;
        tracing::info!(table = %self.names.data(), "session tables ready (created if they were missing)");
        Ok(())
    }

    /// Migrates once, before the first statement, when `create_if_missing` asked for it
    /// (concurrent callers wait, then find it done). A transport error leaves it to the
    /// next statement; the database refusing (no permission) would not go away by
    /// retrying, so it is logged and the statements run (and name the fix if the tables
    /// are missing).
    pub(crate) async fn migrated_if_asked(&self) -> Result<()> {
        if self.migrated.initialized() {
            return Ok(());
        }
        let once = self.migrated.get_or_try_init(|| async {
            match self.migrate_sql().await {
                Ok(()) => Ok(()),
                Err(error) if error.as_database_error().is_some() => {
                    tracing::error!(error = %error_chain(&error), "creating the session tables failed; run PostgresCache::migration_sql() with a role that may");
                    Ok(())
                }
                Err(error) => Err(Error::store("migrate", error)),
            }
        });
        Box::pin(once).await.map(drop)
    }

    async fn delete_expired(&self) -> Result<u64> {
        let mut total = 0;
        loop {
            let row = self
                .run("delete expired", &sql::delete_expired(&self.names, DELETE_BATCH))
                .await?;
            let deleted = crate::run::int8(row.as_ref(), "deleted").unwrap_or(0);
            total += u64::try_from(deleted).unwrap_or(0);
            let expired = crate::run::texts(row.as_ref(), "expired");
            if !expired.is_empty() {
                self.expiry.report(expired.iter().map(String::as_str));
            }
            if deleted < DELETE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// The validated names of `options`' schema and table.
fn names(options: &PostgresCacheOptions) -> Result<Names> {
    Names::new(&options.schema_name, &options.table_name).ok_or_else(|| {
        Error::Config(format!(
            "invalid PostgreSQL schema or table name {:?}.{:?}: use ASCII letters, digits and _ (a table name of at most {} characters)",
            options.schema_name,
            options.table_name,
            sql::MAX_TABLE_NAME
        ))
    })
}
