//! The deadpool manager: deadpool-tiberius's connecting, minus the hidden round trip.
//!
//! deadpool-tiberius checks every connection taken from the pool with an empty query (a
//! round trip per store call). This manager connects through deadpool-tiberius (ADO.NET
//! connection strings, TLS, routing) but recycles without a query: a connection whose
//! last call failed at the transport level is marked broken and replaced.

use session_core::store::lease::ConnectionHealth;

use deadpool_tiberius::{
    deadpool::managed::{self, Metrics, RecycleError, RecycleResult},
    tiberius, Client,
};

/// deadpool manager of [`SqlConnection`]s.
pub struct SqlManager {
    inner: deadpool_tiberius::Manager,
}

impl std::fmt::Debug for SqlManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlManager").finish_non_exhaustive()
    }
}

impl SqlManager {
    /// A manager for an ADO.NET connection string
    /// (`Server=tcp:host,1433;Database=..;User Id=..;Password=..;TrustServerCertificate=true`).
    ///
    /// Without an `Encrypt` setting the whole connection is encrypted (TLS), as with
    /// Microsoft.Data.SqlClient 4 and later; `Encrypt=false` encrypts only the login,
    /// `encrypt=DANGER_PLAINTEXT` nothing.
    ///
    /// ```
    /// let manager = session_sqlserver::SqlManager::from_ado_string(
    ///     "Server=tcp:127.0.0.1,1433;Database=app;User Id=sa;Password=...;TrustServerCertificate=true",
    /// );
    /// ```
    ///
    /// # Errors
    /// [`session_core::Error::Config`] if the connection string cannot be parsed.
    pub fn from_ado_string(connection_string: &str) -> session_core::Result<Self> {
        let settings = crate::ado::read(connection_string)?;
        let mut inner = deadpool_tiberius::Manager::from_ado_string(connection_string)
            .map_err(|e| session_core::Error::Config(format!("invalid SQL Server connection string: {e}")))?;
        if let Some(level) = settings.encryption {
            inner = inner.encryption(level);
        }
        Ok(SqlManager { inner })
    }
}

/// A pooled tiberius client that remembers whether it broke: one call at a time, so a
/// call cut off before its reply breaks it ([`ConnectionHealth::exclusive`]).
pub struct SqlConnection {
    pub(crate) client: Client,
    pub(crate) health: ConnectionHealth,
}

impl std::fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnection")
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl SqlConnection {
    /// Marks the connection broken if `error` came from the transport.
    pub(crate) fn observe(&self, error: &tiberius::error::Error) {
        use tiberius::error::Error as E;
        if matches!(
            error,
            E::Io { .. } | E::Tls(_) | E::Routing { .. } | E::Protocol(_)
        ) {
            self.health.mark_broken();
        }
    }
}

impl managed::Manager for SqlManager {
    type Type = SqlConnection;
    type Error = tiberius::error::Error;

    async fn create(&self) -> Result<SqlConnection, Self::Error> {
        let client = self.inner.create().await?;
        Ok(SqlConnection {
            client,
            health: ConnectionHealth::exclusive(),
        })
    }

    async fn recycle(&self, conn: &mut SqlConnection, _: &Metrics) -> RecycleResult<Self::Error> {
        if conn.health.is_broken() {
            return Err(RecycleError::message("connection broke"));
        }
        Ok(())
    }
}
