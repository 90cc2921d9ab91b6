//! [`SessionLayer`]: the tower `Layer` that gives every request a session, and where the
//! app configures its sessions.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use session_core::{
    adapter::{SessionConfig, SessionEngine},
    store::DistributedCache,
    Error, KeyRing, SameSite, SecurePolicy, SigningKey, TrustedProxy,
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
#[derive(Clone)]
pub struct SessionLayer {
    store: Arc<dyn DistributedCache>,
    config: SessionConfig,
    engine: Arc<OnceLock<SessionEngine>>,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
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
            store: Arc::new(store),
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

    /// The engine, built on first use.
    pub(crate) fn engine(&self) -> Result<SessionEngine, Error> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine.clone());
        }
        let engine = self.config.clone().build_shared(Arc::clone(&self.store))?;
        Ok(self.engine.get_or_init(|| engine).clone())
    }

    /// The cookie's name (default `id`).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_cookie_name("Kr.Session");
    /// ```
    pub fn with_cookie_name(self, name: impl Into<String>) -> Self {
        self.configure(|c| c.cookie_name(name))
    }

    /// `true`: the cookie is always `Secure` (default). `false`: never.
    ///
    /// # Warning
    /// Without `Secure` the cookie also travels over plain HTTP, where anyone on the path
    /// can read the session id. Turn it off for local HTTP testing only.
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_secure(false); // plain-HTTP development server
    /// ```
    pub fn with_secure(self, secure: bool) -> Self {
        self.configure(|c| c.secure(secure))
    }

    /// When the cookie is `Secure` (default [`SecurePolicy::Always`]).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// use session_core::SecurePolicy;
    /// let layer = layer.with_secure_policy(SecurePolicy::SameAsRequest);
    /// ```
    pub fn with_secure_policy(self, policy: SecurePolicy) -> Self {
        self.configure(|c| c.secure_policy(policy))
    }

    /// The cookie's `SameSite` (default [`SameSite::Lax`]).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_same_site(session_core::SameSite::Strict);
    /// ```
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.configure(|c| c.same_site(same_site))
    }

    /// Whether the cookie is `HttpOnly` (default `true`).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_http_only(true);
    /// ```
    pub fn with_http_only(self, http_only: bool) -> Self {
        self.configure(|c| c.http_only(http_only))
    }

    /// The cookie's `Path` (default `/`).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_path("/app");
    /// ```
    pub fn with_path(self, path: impl Into<String>) -> Self {
        self.configure(|c| c.cookie_path(path))
    }

    /// The cookie's `Domain` (default none: the exact host only).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_domain("example.com");
    /// ```
    pub fn with_domain(self, domain: impl Into<String>) -> Self {
        self.configure(|c| c.cookie_domain(domain))
    }

    /// Makes the cookie persistent (default: it ends with the browser session).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_max_age(std::time::Duration::from_secs(7 * 86_400));
    /// ```
    pub fn with_max_age(self, max_age: Duration) -> Self {
        self.configure(|c| c.max_age(max_age))
    }

    /// How long a session lives without requests (sliding; default 20 minutes).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_idle_timeout(std::time::Duration::from_secs(30 * 60));
    /// ```
    pub fn with_idle_timeout(self, idle: Duration) -> Self {
        self.configure(|c| c.idle_timeout(idle))
    }

    /// A session older than this is dead however active it is (default: none).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_absolute_lifetime(std::time::Duration::from_secs(8 * 3600));
    /// ```
    pub fn with_absolute_lifetime(self, lifetime: Duration) -> Self {
        self.configure(|c| c.absolute_lifetime(lifetime))
    }

    /// The longest any store call may take, and by default the lock wait (10 seconds).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_io_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn with_io_timeout(self, io: Duration) -> Self {
        self.configure(|c| c.io_timeout(io))
    }

    /// How long a request waits for its session's lock before a 503 (default: the IO
    /// timeout).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_lock_wait(std::time::Duration::from_secs(5));
    /// ```
    pub fn with_lock_wait(self, wait: Duration) -> Self {
        self.configure(|c| c.lock_wait(wait))
    }

    /// How long a lease lasts if its holder dies (default 30 seconds).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_lock_lease(std::time::Duration::from_secs(60));
    /// ```
    pub fn with_lock_lease(self, lease: Duration) -> Self {
        self.configure(|c| c.lock_lease(lease))
    }

    /// The largest encoded session, in bytes (default 64 KiB, at most 16 MiB).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_max_payload(256 * 1024);
    /// ```
    pub fn with_max_payload(self, bytes: usize) -> Self {
        self.configure(|c| c.max_payload(bytes))
    }

    /// Most sessions locked at once in this process (default 100,000).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_max_locked_sessions(10_000);
    /// ```
    pub fn with_max_locked_sessions(self, count: usize) -> Self {
        self.configure(|c| c.max_locked_sessions(count))
    }

    /// The forwarding header of the TLS-terminating proxy in front of the app, read by
    /// [`SecurePolicy::SameAsRequest`] (default none: forwarding headers are ignored).
    ///
    /// ```
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// let layer = layer.with_trusted_proxy(session_core::TrustedProxy::XForwardedProto);
    /// ```
    pub fn with_trusted_proxy(self, proxy: TrustedProxy) -> Self {
        self.configure(|c| c.trusted_proxy(proxy))
    }

    /// The key that signs cookies; every instance sharing a store needs the same one.
    /// Required for a shared store (Redis, SQL Server, PostgreSQL).
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// use session_core::SigningKey;
    /// let layer = layer.with_signing_key(SigningKey::from_bytes(&[7u8; 32])?);
    /// # Ok(()) }
    /// ```
    pub fn with_signing_key(self, key: SigningKey) -> Self {
        self.configure(|c| c.signing_key(key))
    }

    /// The keys that sign cookies, newest first, for rotation.
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// # let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());
    /// use session_core::{KeyRing, SigningKey};
    /// let ring = KeyRing::new(SigningKey::from_bytes(&[2u8; 32])?)
    ///     .with_previous(SigningKey::from_bytes(&[1u8; 32])?);
    /// let layer = layer.with_key_ring(ring);
    /// # Ok(()) }
    /// ```
    pub fn with_key_ring(self, keys: KeyRing) -> Self {
        self.configure(|c| c.key_ring(keys))
    }
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
