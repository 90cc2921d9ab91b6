//! Options of the SQL Server cache (after `SqlServerCacheOptions`).

use std::time::Duration;

/// Options of [`SqlServerCache::connect_with`](crate::SqlServerCache::connect_with) and
/// [`SqlServerCache::connect`](crate::SqlServerCache::connect).
#[derive(Clone, PartialEq, Eq)]
pub struct SqlServerCacheOptions {
    pub(crate) connection_string: String,
    pub(crate) schema_name: String,
    pub(crate) table_name: String,
    pub(crate) expired_items_deletion_interval: Duration,
    pub(crate) create_table_if_missing: bool,
    pub(crate) pool_size: usize,
    pub(crate) connect_timeout: Duration,
}

impl Default for SqlServerCacheOptions {
    /// No connection string (set one), table `dbo.Sessions`, expired rows deleted every
    /// 30 minutes, the table not created automatically, a pool of 16, 5-second connect
    /// timeout.
    fn default() -> Self {
        SqlServerCacheOptions {
            connection_string: String::new(),
            schema_name: "dbo".to_owned(),
            table_name: "Sessions".to_owned(),
            expired_items_deletion_interval: Duration::from_secs(30 * 60),
            create_table_if_missing: false,
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The connection string is left out: it holds a password.
impl std::fmt::Debug for SqlServerCacheOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlServerCacheOptions")
            .field("schema_name", &self.schema_name)
            .field("table_name", &self.table_name)
            .field(
                "expired_items_deletion_interval",
                &self.expired_items_deletion_interval,
            )
            .field("create_table_if_missing", &self.create_table_if_missing)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl SqlServerCacheOptions {
    /// The ADO.NET connection string, e.g.
    /// `Server=tcp:127.0.0.1,1433;Database=app;User Id=sa;Password=..;TrustServerCertificate=true`
    /// (add `encrypt=DANGER_PLAINTEXT` for servers without TLS).
    ///
    /// ```
    /// let options = session_sqlserver::SqlServerCacheOptions::default()
    ///     .connection_string("Server=tcp:db,1433;User Id=app;Password=...;Encrypt=true");
    /// ```
    pub fn connection_string(mut self, connection_string: impl Into<String>) -> Self {
        self.connection_string = connection_string.into();
        self
    }

    /// Schema of the cache table (default `dbo`).
    ///
    /// ```
    /// let options = session_sqlserver::SqlServerCacheOptions::default().schema_name("app");
    /// ```
    pub fn schema_name(mut self, schema: impl Into<String>) -> Self {
        self.schema_name = schema.into();
        self
    }

    /// Name of the cache table (default `Sessions`).
    ///
    /// ```
    /// let options = session_sqlserver::SqlServerCacheOptions::default().table_name("Sessions");
    /// ```
    pub fn table_name(mut self, table: impl Into<String>) -> Self {
        self.table_name = table.into();
        self
    }

    /// How often expired rows are deleted, in bounded batches (default 30 minutes; the
    /// .NET minimum of 5 minutes is not enforced). `Duration::ZERO` turns the deletion
    /// off, for deployments where one instance or a database job does it; any other
    /// interval must be at least [`MIN_DELETION_INTERVAL`] (one second), or
    /// [`SqlServerCache::connect_with`](crate::SqlServerCache::connect_with) refuses it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let every_10_min = session_sqlserver::SqlServerCacheOptions::default()
    ///     .expired_items_deletion_interval(Duration::from_secs(600));
    /// let off = session_sqlserver::SqlServerCacheOptions::default()
    ///     .expired_items_deletion_interval(Duration::ZERO); // another instance or a job does it
    /// ```
    pub fn expired_items_deletion_interval(mut self, every: Duration) -> Self {
        self.expired_items_deletion_interval = every;
        self
    }

    /// Creates the table (as `dotnet sql-cache create` would) when it is missing.
    /// Default `false`: production schemas are usually managed by migrations.
    ///
    /// If SQL Server cannot be reached at start-up, the first statement after it is
    /// back creates the table first, so no restart is needed.
    ///
    /// ```
    /// let options = session_sqlserver::SqlServerCacheOptions::default().create_table_if_missing(true);
    /// ```
    pub fn create_table_if_missing(mut self, create: bool) -> Self {
        self.create_table_if_missing = create;
        self
    }

    /// Most connections in the pool (default 16).
    ///
    /// ```
    /// let options = session_sqlserver::SqlServerCacheOptions::default().pool_size(32);
    /// ```
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long to wait for a new connection, or for a free one (default 5 s).
    ///
    /// ```
    /// let options = session_sqlserver::SqlServerCacheOptions::default()
    ///     .connect_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// The shortest interval of the expired-rows deletion: each run is a statement that
/// scans the expiry index, so running them back to back would load the server for
/// nothing.
pub const MIN_DELETION_INTERVAL: Duration = Duration::from_secs(1);

impl SqlServerCacheOptions {
    /// Refuses what the store cannot honour, naming the fix.
    pub(crate) fn validate(&self) -> session_core::Result<()> {
        let every = self.expired_items_deletion_interval;
        if !every.is_zero() && every < MIN_DELETION_INTERVAL {
            return Err(session_core::Error::Config(format!(
                "expired_items_deletion_interval is {every:?}: use at least {MIN_DELETION_INTERVAL:?}, \
                 or Duration::ZERO to turn the deletion off"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::SqlServerCacheOptions;
    use crate::SqlServerCache;

    #[test]
    fn debug_output_leaves_the_connection_string_out() {
        let options =
            SqlServerCacheOptions::default().connection_string("Server=db;User Id=sa;Password=hunter2");
        assert!(!format!("{options:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn a_deletion_interval_below_the_floor_is_refused_and_zero_turns_it_off() {
        // nothing listens on port 1: the start-up check fails at once, in the background
        let options = |every| {
            SqlServerCacheOptions::default()
                .connection_string("Server=tcp:127.0.0.1,1;User Id=sa;Password=x;encrypt=DANGER_PLAINTEXT")
                .connect_timeout(Duration::from_millis(200))
                .expired_items_deletion_interval(every)
        };
        for every in [Duration::from_millis(1), Duration::from_millis(999)] {
            let result = SqlServerCache::connect_with(options(every)).await;
            assert!(
                matches!(&result, Err(session_core::Error::Config(m)) if m.contains("Duration::ZERO")),
                "{every:?}: {result:?}"
            );
        }
        for every in [Duration::ZERO, Duration::from_secs(1)] {
            assert!(
                SqlServerCache::connect_with(options(every)).await.is_ok(),
                "{every:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_lock_lease_the_table_cannot_hold_is_refused_at_build_time() {
        let options = SqlServerCacheOptions::default()
            .connection_string("Server=tcp:127.0.0.1,1;User Id=sa;Password=x;encrypt=DANGER_PLAINTEXT")
            .connect_timeout(Duration::from_millis(200));
        let cache = SqlServerCache::connect_with(options).await;
        let Ok(cache) = cache else {
            panic!("connect_with: {cache:?}");
        };
        let build = |lease| {
            session_core::adapter::SessionEngine::builder()
                .signing_key(session_core::SigningKey::generate())
                .lock_lease(lease)
                .build(cache.clone())
        };
        let refused = build(Duration::from_secs(25 * 24 * 3600));
        assert!(
            matches!(&refused, Err(session_core::Error::Config(m)) if m.contains("lock_lease")),
            "{refused:?}"
        );
        assert!(build(Duration::from_secs(24 * 24 * 3600)).is_ok());
    }

    #[tokio::test]
    async fn a_missing_connection_string_is_a_configuration_error() {
        let result = SqlServerCache::connect_with(SqlServerCacheOptions::default()).await;
        assert!(
            matches!(result, Err(session_core::Error::Config(_))),
            "{result:?}"
        );
    }
}
