//! [`SessionLayer`]: the tower `Layer` that gives every request a session, and where the
//! app configures its sessions.

use std::sync::{Arc, OnceLock};

use session_core::{
    adapter::{SessionConfig, SessionEngine, SharedStore},
    store::DistributedCache,
    Error,
};
use tower_layer::Layer;

use crate::service::SessionService;

/// Gives each request a [`Session`](session_core::Session) and commits it before the
/// response is handed back.
///
/// Build it from the app's store, set what differs from the defaults (cookie `id`,
/// `HttpOnly`, `SameSite=Lax`, `Secure`; 20-minute idle timeout; 10-second IO timeout),
/// and add it to the router:
///
/// ```
/// use axum::{routing::get, Router};
/// use session_axum::SessionLayer;
/// use session_core::{Error, Session, SigningKey};
/// use session_memory::MemoryCache;
///
/// async fn counter(session: Session) -> Result<String, Error> {
///     let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
///     session.insert("counter", n).await?;
///     Ok(n.to_string())
/// }
///
/// # fn main() -> Result<(), Error> {
/// let layer = SessionLayer::new(MemoryCache::default())
///     .with_signing_key(SigningKey::from_bytes(&[7u8; 32])?);
/// let app: Router = Router::new().route("/counter", get(counter)).layer(layer);
/// # Ok(()) }
/// ```
///
/// The configuration is checked once, when the layer is first applied: an invalid one
/// (a zero timeout, a cookie name that cannot be sent, a shared store without a signing
/// key) panics there, at start-up, with a message that names the fix, as tower-http's
/// `CorsLayer` does. [`try_build`](Self::try_build) reports it as an [`Error`] instead.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    store: SharedStore,
    config: SessionConfig,
    engine: Arc<OnceLock<SessionEngine>>,
}

impl SessionLayer {
    /// A layer over `store`, with the defaults. Clones of one store share its data and
    /// its lock table.
    ///
    /// ```
    /// let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// ```
    pub fn new(store: impl DistributedCache) -> Self {
        SessionLayer {
            store: SharedStore::new(store),
            config: SessionConfig::default(),
            engine: Arc::new(OnceLock::new()),
        }
    }

    fn configure(mut self, set: impl FnOnce(SessionConfig) -> SessionConfig) -> Self {
        self.config = set(self.config);
        self.engine = Arc::new(OnceLock::new());
        self
    }

    /// Checks the configuration and builds the layer's engine now.
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default())
    ///     .with_cookie_name("app.sid")
    ///     .try_build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] with the fix: a zero or over-long timeout, a cookie attribute
    /// that cannot be written into `Set-Cookie`, a payload cap out of range, a lock lease
    /// the store cannot hold, or a store shared by several instances with no signing key.
    pub fn try_build(self) -> Result<Self, Error> {
        self.engine()?;
        Ok(self)
    }

    /// The handle for listing and ending a user's sessions ("log out everywhere") over
    /// this layer's store; keep a clone for code outside requests (an admin endpoint, a
    /// job). Handlers can also take it from their session
    /// ([`Session::manager`](session_core::Session::manager)).
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let manager = layer.manager()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The configuration's error, as [`try_build`](Self::try_build).
    pub fn manager(&self) -> Result<session_core::SessionManager, Error> {
        self.engine().map(|engine| engine.manager())
    }

    /// The engine, built on first use.
    pub(crate) fn engine(&self) -> Result<SessionEngine, Error> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine.clone());
        }
        let engine = self.config.clone().build_shared(self.store.get())?;
        Ok(self.engine.get_or_init(|| engine).clone())
    }

    // `with_cookie_name`, `with_secure`, ..., `with_key_ring`: one setter per option,
    // written once for both adapters in session-core
    session_core::__adapter_setters!(axum);
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    #[allow(clippy::panic)] // an invalid configuration, at start-up (see the type's docs)
    fn layer(&self, inner: S) -> Self::Service {
        match self.engine() {
            Ok(engine) => SessionService::new(inner, engine),
            Err(error) => panic!("SessionLayer: {error}"),
        }
    }
}
