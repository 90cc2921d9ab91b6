//! [`SessionMiddlewareBuilder`]: where an actix-web app configures its sessions, with
//! actix-session's setter names.

use std::{sync::Arc, time::Duration};

use session_core::{
    adapter::SessionConfig, store::DistributedCache, Error, KeyRing, SameSite, SecurePolicy, SigningKey,
    TrustedProxy,
};

use crate::SessionMiddleware;

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
#[derive(Clone)]
#[must_use = "call build() to make the middleware"]
pub struct SessionMiddlewareBuilder {
    store: Arc<dyn DistributedCache>,
    config: SessionConfig,
}

impl std::fmt::Debug for SessionMiddlewareBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMiddlewareBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SessionMiddlewareBuilder {
    pub(crate) fn new(store: Arc<dyn DistributedCache>) -> Self {
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
        SessionMiddleware::from_engine(self.config.build_shared(self.store))
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
        let engine = self.config.build_shared(self.store)?;
        Ok(SessionMiddleware::from_engine(Ok(engine)))
    }

    /// The cookie's name (default `id`).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_name("Kr.Session")
    ///     .build();
    /// ```
    pub fn cookie_name(self, name: impl Into<String>) -> Self {
        self.configure(|c| c.cookie_name(name))
    }

    /// `true`: the cookie is always `Secure` (default). `false`: never.
    ///
    /// # Warning
    /// Without `Secure` the cookie also travels over plain HTTP, where anyone on the path
    /// can read the session id. Turn it off for local HTTP testing only.
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_secure(false)
    ///     .build();
    /// ```
    pub fn cookie_secure(self, secure: bool) -> Self {
        self.configure(|c| c.secure(secure))
    }

    /// When the cookie is `Secure` (default [`SecurePolicy::Always`]).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_secure_policy(session_core::SecurePolicy::SameAsRequest)
    ///     .build();
    /// ```
    pub fn cookie_secure_policy(self, policy: SecurePolicy) -> Self {
        self.configure(|c| c.secure_policy(policy))
    }

    /// The cookie's `SameSite` (default [`SameSite::Lax`]).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_same_site(session_core::SameSite::Strict)
    ///     .build();
    /// ```
    pub fn cookie_same_site(self, same_site: SameSite) -> Self {
        self.configure(|c| c.same_site(same_site))
    }

    /// Whether the cookie is `HttpOnly` (default `true`).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_http_only(true)
    ///     .build();
    /// ```
    pub fn cookie_http_only(self, http_only: bool) -> Self {
        self.configure(|c| c.http_only(http_only))
    }

    /// The cookie's `Path` (default `/`).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_path("/app")
    ///     .build();
    /// ```
    pub fn cookie_path(self, path: impl Into<String>) -> Self {
        self.configure(|c| c.cookie_path(path))
    }

    /// The cookie's `Domain` (default none: the exact host only).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_domain("example.com")
    ///     .build();
    /// ```
    pub fn cookie_domain(self, domain: impl Into<String>) -> Self {
        self.configure(|c| c.cookie_domain(domain))
    }

    /// Makes the cookie persistent (default: it ends with the browser session).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .cookie_max_age(std::time::Duration::from_secs(7 * 86_400))
    ///     .build();
    /// ```
    pub fn cookie_max_age(self, max_age: Duration) -> Self {
        self.configure(|c| c.max_age(max_age))
    }

    /// How long a session lives without requests (sliding; default 20 minutes).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .idle_timeout(std::time::Duration::from_secs(30 * 60))
    ///     .build();
    /// ```
    pub fn idle_timeout(self, idle: Duration) -> Self {
        self.configure(|c| c.idle_timeout(idle))
    }

    /// A session older than this is dead however active it is (default: none).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .absolute_lifetime(std::time::Duration::from_secs(8 * 3600))
    ///     .build();
    /// ```
    pub fn absolute_lifetime(self, lifetime: Duration) -> Self {
        self.configure(|c| c.absolute_lifetime(lifetime))
    }

    /// The longest any store call may take, and by default the lock wait (10 seconds).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .io_timeout(std::time::Duration::from_secs(2))
    ///     .build();
    /// ```
    pub fn io_timeout(self, io: Duration) -> Self {
        self.configure(|c| c.io_timeout(io))
    }

    /// How long a request waits for its session's lock before a 503 (default: the IO
    /// timeout).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .lock_wait(std::time::Duration::from_secs(5))
    ///     .build();
    /// ```
    pub fn lock_wait(self, wait: Duration) -> Self {
        self.configure(|c| c.lock_wait(wait))
    }

    /// How long a lease lasts if its holder dies (default 30 seconds).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .lock_lease(std::time::Duration::from_secs(60))
    ///     .build();
    /// ```
    pub fn lock_lease(self, lease: Duration) -> Self {
        self.configure(|c| c.lock_lease(lease))
    }

    /// The largest encoded session, in bytes (default 64 KiB, at most 16 MiB).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .max_payload(256 * 1024)
    ///     .build();
    /// ```
    pub fn max_payload(self, bytes: usize) -> Self {
        self.configure(|c| c.max_payload(bytes))
    }

    /// Most sessions locked at once in this process (default 100,000).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .max_locked_sessions(10_000)
    ///     .build();
    /// ```
    pub fn max_locked_sessions(self, count: usize) -> Self {
        self.configure(|c| c.max_locked_sessions(count))
    }

    /// The forwarding header of the TLS-terminating proxy in front of the app, read by
    /// [`SecurePolicy::SameAsRequest`] (default none: forwarding headers are ignored).
    ///
    /// ```
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .trusted_proxy(session_core::TrustedProxy::XForwardedProto)
    ///     .build();
    /// ```
    pub fn trusted_proxy(self, proxy: TrustedProxy) -> Self {
        self.configure(|c| c.trusted_proxy(proxy))
    }

    /// The key that signs cookies; every instance sharing a store needs the same one.
    /// Required for a shared store (Redis, SQL Server, PostgreSQL).
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .signing_key(session_core::SigningKey::from_bytes(&[7u8; 32])?)
    ///     .build();
    /// # Ok(()) }
    /// ```
    pub fn signing_key(self, key: SigningKey) -> Self {
        self.configure(|c| c.signing_key(key))
    }

    /// The keys that sign cookies, newest first, for rotation.
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// use session_core::{KeyRing, SigningKey};
    /// let ring = KeyRing::new(SigningKey::from_bytes(&[2u8; 32])?)
    ///     .with_previous(SigningKey::from_bytes(&[1u8; 32])?);
    /// session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())
    ///     .key_ring(ring)
    ///     .build();
    /// # Ok(()) }
    /// ```
    pub fn key_ring(self, keys: KeyRing) -> Self {
        self.configure(|c| c.key_ring(keys))
    }
}
