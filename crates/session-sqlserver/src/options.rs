//! Options of the SQL Server cache (after `SqlServerCacheOptions`).

use std::time::Duration;

/// Options of [`SqlServerCache::connect`](crate::SqlServerCache::connect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlServerCacheOptions {
    pub(crate) schema_name: String,
    pub(crate) table_name: String,
    pub(crate) expired_items_deletion_interval: Duration,
    pub(crate) create_table_if_missing: bool,
    pub(crate) pool_size: usize,
    pub(crate) connect_timeout: Duration,
}

impl Default for SqlServerCacheOptions {
    /// Table `dbo.Sessions`, expired rows deleted every 30 minutes, the table not
    /// created automatically, a pool of 16, 5-second connect timeout.
    fn default() -> Self {
        SqlServerCacheOptions {
            schema_name: "dbo".to_owned(),
            table_name: "Sessions".to_owned(),
            expired_items_deletion_interval: Duration::from_secs(30 * 60),
            create_table_if_missing: false,
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl SqlServerCacheOptions {
    /// Schema of the cache table (default `dbo`).
    pub fn schema_name(mut self, schema: impl Into<String>) -> Self {
        self.schema_name = schema.into();
        self
    }

    /// Name of the cache table (default `Sessions`).
    pub fn table_name(mut self, table: impl Into<String>) -> Self {
        self.table_name = table.into();
        self
    }

    /// How often expired rows are deleted, in bounded batches (default 30 minutes; the
    /// .NET minimum of 5 minutes is not enforced).
    pub fn expired_items_deletion_interval(mut self, every: Duration) -> Self {
        self.expired_items_deletion_interval = every;
        self
    }

    /// Creates the table (as `dotnet sql-cache create` would) when it is missing.
    /// Default `false`: production schemas are usually managed by migrations.
    pub fn create_table_if_missing(mut self, create: bool) -> Self {
        self.create_table_if_missing = create;
        self
    }

    /// Most connections in the pool (default 16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long to wait for a new connection, or for a free one (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}
