//! Options of the PostgreSQL cache.

use std::time::Duration;

/// Options of [`PostgresCache::connect`](crate::PostgresCache::connect) (and, for the
/// table and statement settings, of [`PostgresCache::with_options`](crate::PostgresCache::with_options)).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresCacheOptions {
    pub(crate) schema_name: String,
    pub(crate) table_name: String,
    pub(crate) create_if_missing: bool,
    pub(crate) pool_size: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) prepared_statements: bool,
    pub(crate) refresh_slack: Duration,
    pub(crate) listen_for_recalls: bool,
}

impl Default for PostgresCacheOptions {
    /// Schema `public`, table `sessions`, nothing created automatically, a pool of 32,
    /// a 5-second connect timeout, prepared statements, a refresh slack of 60 s, recall
    /// notifications heard.
    fn default() -> Self {
        PostgresCacheOptions {
            schema_name: "public".to_owned(),
            table_name: "sessions".to_owned(),
            create_if_missing: false,
            pool_size: 32,
            connect_timeout: Duration::from_secs(5),
            prepared_statements: true,
            refresh_slack: Duration::from_secs(60),
            listen_for_recalls: true,
        }
    }
}

impl std::fmt::Debug for PostgresCacheOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCacheOptions")
            .field("schema_name", &self.schema_name)
            .field("table_name", &self.table_name)
            .field("create_if_missing", &self.create_if_missing)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("prepared_statements", &self.prepared_statements)
            .field("listen_for_recalls", &self.listen_for_recalls)
            .field("refresh_slack", &self.refresh_slack)
            .finish()
    }
}

impl PostgresCacheOptions {
    /// Schema of the store's tables (default `public`; created by
    /// [`migrate`](crate::PostgresCache::migrate) if missing).
    ///
    /// ```
    /// let options = session_postgres::PostgresCacheOptions::default().schema_name("app");
    /// ```
    pub fn schema_name(mut self, schema: impl Into<String>) -> Self {
        self.schema_name = schema.into();
        self
    }

    /// Name of the entries table (default `sessions`); the store also uses
    /// `<name>_leases` (and indexes named after it). At most 48 characters:
    /// ASCII letters, digits and `_`.
    ///
    /// ```
    /// let options = session_postgres::PostgresCacheOptions::default().table_name("web_sessions");
    /// ```
    pub fn table_name(mut self, table: impl Into<String>) -> Self {
        self.table_name = table.into();
        self
    }

    /// Runs [`migrate`](crate::PostgresCache::migrate) before the first statement
    /// (default `false`: production schemas are usually managed by migrations, for
    /// which [`PostgresCache::migration_sql`](crate::PostgresCache::migration_sql) gives
    /// the SQL). If the database cannot be reached at start-up, the first statement after
    /// it is back migrates first: no restart is needed.
    ///
    /// ```
    /// let options = session_postgres::PostgresCacheOptions::default().create_if_missing(true);
    /// ```
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// Most connections in the pool [`connect`](crate::PostgresCache::connect) makes
    /// (default 32). A commit waits for PostgreSQL's WAL flush, and the commits in flight
    /// together share one: on the counter route, 32 connections served 10-20% more
    /// requests per second than 16 (BENCHMARKS.md). Mind the server's `max_connections`
    /// (100 by default) across instances: four instances at 32 need 128.
    ///
    /// ```
    /// let options = session_postgres::PostgresCacheOptions::default().pool_size(32);
    /// ```
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long to wait for a new connection, or for a free one (default 5 s). Each store
    /// call is also bounded by the engine's IO timeout.
    ///
    /// ```
    /// let options = session_postgres::PostgresCacheOptions::default()
    ///     .connect_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether statements are prepared once per connection and bound (default `true`,
    /// the fastest). Turn it off behind a pooler that keeps no prepared statements,
    /// such as PgBouncer before 1.21 (or without `max_prepared_statements`) in
    /// transaction pooling mode: statements then go as simple queries with their values
    /// written in as literals (escaped; bytes in hex), one round trip each all the same.
    /// It also turns off [`listen_for_recalls`](Self::listen_for_recalls).
    ///
    /// ```
    /// let behind_pgbouncer = session_postgres::PostgresCacheOptions::default().prepared_statements(false);
    /// ```
    pub fn prepared_statements(mut self, prepared: bool) -> Self {
        self.prepared_statements = prepared;
        self
    }

    /// Whether the store `LISTEN`s for recall notifications (default `true`): hot
    /// sessions that another instance waits for, or that a revocation ended, are then let
    /// go at once (see the guide's "Hot sessions"). Turn it off when the store's URL goes
    /// through a pooler in transaction mode (PgBouncer): `LISTEN` does not work there,
    /// and the connection that ran it would go on to serve other clients with the
    /// subscription attached. [`prepared_statements(false)`](Self::prepared_statements)
    /// turns it off too. Without it, an instance waiting for a hot session of another
    /// gets it at the holder's next commit or when the kept lease lapses (2 s by
    /// default), and a revoked session's hot copy elsewhere is dropped at its next commit.
    ///
    /// ```
    /// let via_pooler = session_postgres::PostgresCacheOptions::default().listen_for_recalls(false);
    /// ```
    pub fn listen_for_recalls(mut self, listen: bool) -> Self {
        self.listen_for_recalls = listen;
        self
    }

    /// The most a sliding expiry may lag behind, so that a read does not have to write
    /// (default 60 s). A request that changes nothing moves a session's stored expiry
    /// only when it would move by more than `min(idle timeout / 20, refresh_slack)`; a
    /// write keeps a stored expiry that is within that much of its new one. A session
    /// therefore ends between `idle timeout - slack` and `idle timeout` after its last
    /// request (with the defaults and a 20-minute idle timeout: between 19 and 20
    /// minutes), and a burst of reads costs no durable write. `Duration::ZERO` writes
    /// every refresh.
    ///
    /// ```
    /// let exact = session_postgres::PostgresCacheOptions::default()
    ///     .refresh_slack(std::time::Duration::ZERO);
    /// ```
    pub fn refresh_slack(mut self, slack: Duration) -> Self {
        self.refresh_slack = slack;
        self
    }

    /// The slack in ms, as the statements take it.
    pub(crate) fn slack_ms(&self) -> i64 {
        // a day is more than any slack needs, and keeps interval arithmetic in range
        let most = Duration::from_secs(24 * 3600);
        i64::try_from(self.refresh_slack.min(most).as_millis()).unwrap_or(i64::MAX)
    }
}
