//! [`SessionMiddlewareBuilder`]: where an actix-web app configures its sessions, with
//! actix-session's setter names.

use session_core::{
    adapter::{SessionConfig, SharedStore},
    store::DistributedCache,
    Error,
};

use crate::middleware::SessionMiddleware;

impl SessionMiddleware {
    /// The middleware over `store`, with the defaults (cookie `id`, `HttpOnly`,
    /// `SameSite=Lax`, `Secure`; 20-minute idle timeout; 10-second IO timeout).
    ///
    /// ```
    /// let middleware = session_actix::SessionMiddleware::new(session_memory::MemoryCache::default());
    /// ```
    pub fn new(store: impl DistributedCache) -> Self {
        Self::builder(store).build()
    }

    /// A builder over `store`, to change the defaults.
    ///
    /// ```
    /// let middleware = session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_name("Kr.Session")
    ///     .build();
    /// ```
    pub fn builder(store: impl DistributedCache) -> SessionMiddlewareBuilder {
        SessionMiddlewareBuilder::new(SharedStore::new(store))
    }
}

/// Configures a [`SessionMiddleware`]; made by [`SessionMiddleware::builder`].
///
/// ```
/// use session_actix::SessionMiddleware;
/// use session_core::SigningKey;
/// # fn main() -> Result<(), session_core::Error> {
/// let middleware = SessionMiddleware::builder(session_memory::MemoryCache::default())
///     .cookie_name("app.sid")
///     .signing_key(SigningKey::from_bytes(&[7u8; 32])?)
///     .build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "call build() to make the middleware"]
pub struct SessionMiddlewareBuilder {
    store: SharedStore,
    config: SessionConfig,
}

impl SessionMiddlewareBuilder {
    pub(crate) fn new(store: SharedStore) -> Self {
        SessionMiddlewareBuilder {
            store,
            config: SessionConfig::default(),
        }
    }

    fn configure(mut self, set: impl FnOnce(SessionConfig) -> SessionConfig) -> Self {
        self.config = set(self.config);
        self
    }

    /// The middleware. An invalid configuration is logged with its fix when actix-web
    /// starts the middleware, and stops the server there; see [`try_build`](Self::try_build).
    ///
    /// ```
    /// let middleware = session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default()).build();
    /// ```
    pub fn build(self) -> SessionMiddleware {
        SessionMiddleware::from_engine(self.config.build_shared(self.store.get()))
    }

    /// The middleware, or the configuration error.
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// let middleware = session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_name("app.sid")
    ///     .try_build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] with the fix: a zero or over-long timeout, a cookie attribute
    /// that cannot be written into `Set-Cookie`, a payload cap out of range, a lock lease
    /// the store cannot hold, or a store shared by several instances with no signing key.
    pub fn try_build(self) -> Result<SessionMiddleware, Error> {
        let engine = self.config.build_shared(self.store.get())?;
        Ok(SessionMiddleware::from_engine(Ok(engine)))
    }

    // `cookie_name`, `cookie_secure`, ..., `key_ring`: one setter per option, with
    // actix-session's names, written once for both adapters in session-core
    session_core::__adapter_setters!(actix);
}
