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
    pub fn connection_string(mut self, connection_string: impl Into<String>) -> Self {
        self.connection_string = connection_string.into();
        self
    }

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
    ///
    /// If SQL Server cannot be reached at start-up, the first statement after it is
    /// back creates the table first, so no restart is needed.
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

#[cfg(test)]
mod tests {
    use super::SqlServerCacheOptions;
    use crate::SqlServerCache;

    #[test]
    fn debug_output_leaves_the_connection_string_out() {
        let options =
            SqlServerCacheOptions::default().connection_string("Server=db;User Id=sa;Password=hunter2");
        assert!(!format!("{options:?}").contains("hunter2"));
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
