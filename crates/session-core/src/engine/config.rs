//! [`SessionConfig`]: every option of a session layer or middleware, in one place.
//!
//! Applications set these through their adapter (`SessionLayer::with_*` on axum,
//! `SessionMiddleware::builder(..)` on actix-web); adapter authors build the
//! [`SessionEngine`](crate::adapter::SessionEngine) from it.

use std::time::Duration;

use crate::{
    cookie_codec::{KeyRing, SigningKey},
    events::{Handlers, SessionEvent},
    options::{CookieOptions, Limits, SameSite, SecurePolicy, TrustedProxy},
};

/// The configuration of one app's sessions. Cheap to clone; build the engine once with
/// [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use session_core::adapter::SessionConfig;
/// let config = SessionConfig::default()
///     .cookie_name("app.sid")
///     .idle_timeout(Duration::from_secs(30 * 60));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    pub(crate) cookie: CookieOptions,
    pub(crate) limits: Limits,
    pub(crate) keys: Option<KeyRing>,
    pub(crate) handlers: Handlers,
}

impl SessionConfig {
    /// The cookie's name (default `id`).
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().cookie_name("Kr.Session");
    /// ```
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie.name = name.into();
        self
    }

    /// The cookie's `Path` (default `/`).
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().cookie_path("/app");
    /// ```
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// The cookie's `Domain` (default none: the exact host only).
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().cookie_domain("example.com");
    /// ```
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie.domain = Some(domain.into());
        self
    }

    /// Whether the cookie is `HttpOnly` (default `true`; `false` lets page scripts, and
    /// any injected script, read the session id).
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().http_only(true);
    /// ```
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.cookie.http_only = http_only;
        self
    }

    /// The cookie's `SameSite` (default [`SameSite::Lax`]).
    ///
    /// ```
    /// use session_core::{adapter::SessionConfig, SameSite};
    /// SessionConfig::default().same_site(SameSite::Strict);
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// `true`: the cookie is always `Secure` (default); `false`: never, which lets it
    /// travel over plain HTTP, where it can be read in transit (local testing only).
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().secure(false);
    /// ```
    pub fn secure(self, secure: bool) -> Self {
        self.secure_policy(if secure {
            SecurePolicy::Always
        } else {
            SecurePolicy::None
        })
    }

    /// When the cookie is `Secure` (default [`SecurePolicy::Always`]).
    ///
    /// ```
    /// use session_core::{adapter::SessionConfig, SecurePolicy};
    /// SessionConfig::default().secure_policy(SecurePolicy::SameAsRequest);
    /// ```
    pub fn secure_policy(mut self, policy: SecurePolicy) -> Self {
        self.cookie.secure = policy;
        self
    }

    /// Makes the cookie persistent for `max_age` (default: a browser-session cookie).
    ///
    /// ```
    /// use std::time::Duration;
    /// session_core::adapter::SessionConfig::default().max_age(Duration::from_secs(86_400));
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.cookie.max_age = Some(max_age);
        self
    }

    /// The forwarding header of the TLS-terminating proxy in front of the app (default
    /// none: forwarding headers are ignored). Read by [`SecurePolicy::SameAsRequest`].
    ///
    /// ```
    /// use session_core::{adapter::SessionConfig, TrustedProxy};
    /// SessionConfig::default().trusted_proxy(TrustedProxy::XForwardedProto);
    /// ```
    pub fn trusted_proxy(mut self, proxy: TrustedProxy) -> Self {
        self.cookie.trusted_proxy = proxy;
        self
    }

    /// How long a session lives without requests (sliding; default 20 minutes).
    ///
    /// ```
    /// use std::time::Duration;
    /// session_core::adapter::SessionConfig::default().idle_timeout(Duration::from_secs(1200));
    /// ```
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.limits.idle_timeout = idle;
        self
    }

    /// The longest any single store call may take (default 10 seconds).
    ///
    /// ```
    /// use std::time::Duration;
    /// session_core::adapter::SessionConfig::default().io_timeout(Duration::from_secs(2));
    /// ```
    pub fn io_timeout(mut self, io: Duration) -> Self {
        self.limits.io_timeout = io;
        self
    }

    /// A session older than this is dead however active it is (default: none).
    ///
    /// ```
    /// use std::time::Duration;
    /// session_core::adapter::SessionConfig::default().absolute_lifetime(Duration::from_secs(8 * 3600));
    /// ```
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.limits.absolute_lifetime = Some(lifetime);
        self
    }

    /// How long a request waits for its session's lock before a 503 (default: the IO
    /// timeout; zero answers a busy session at once).
    ///
    /// ```
    /// use std::time::Duration;
    /// session_core::adapter::SessionConfig::default().lock_wait(Duration::from_secs(5));
    /// ```
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.limits.lock_wait = Some(wait);
        self
    }

    /// How long a store lease lasts if its holder never releases it (a crashed instance;
    /// default 30 seconds). A request holding its session longer cannot commit (503).
    ///
    /// ```
    /// use std::time::Duration;
    /// session_core::adapter::SessionConfig::default().lock_lease(Duration::from_secs(60));
    /// ```
    pub fn lock_lease(mut self, lease: Duration) -> Self {
        self.limits.lock_lease = lease;
        self
    }

    /// Hot sessions (default 10,000; 0 turns them off): keep the leases and values of up
    /// to `capacity` sessions in this instance between their requests, on a store that
    /// can keep leases (Redis, PostgreSQL; the others ignore it), and at most 64 MiB of values in
    /// all (least recently used let go first). A request on a hot session then takes no
    /// lock call and reads nothing; a modifying one commits in one round trip, a
    /// read-only one in none (but once per half [`hot_lease`](Self::hot_lease) and for a
    /// due sliding refresh). Every commit is still a compare-and-set on the lease token
    /// and fence: a hot copy made wrong by anything (a restart, a failover, a lost lease)
    /// fails its next commit with a 503 and is dropped. Another instance that needs a hot
    /// session recalls it: the holder lets go at once, or at the end of the request it
    /// is serving (or, if the recall message is lost, when the kept lease lapses). A
    /// session that two instances share (no sticky load balancing) is not kept hot.
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().hot_sessions(0); // off
    /// ```
    pub fn hot_sessions(mut self, capacity: usize) -> Self {
        self.limits.hot_sessions = capacity;
        self
    }

    /// How long a kept lease of a hot session lasts after the request that kept it
    /// (default 2 seconds, and at most the [`lock_lease`](Self::lock_lease)): how long an instance that dies can block its hot sessions, and
    /// the longest a hot copy serves reads without asking the store.
    ///
    /// ```
    /// use std::time::Duration;
    /// session_core::adapter::SessionConfig::default().hot_lease(Duration::from_secs(1));
    /// ```
    pub fn hot_lease(mut self, lease: Duration) -> Self {
        self.limits.hot_lease = lease;
        self
    }

    /// The largest encoded session, in bytes (default 64 KiB; at most
    /// [`MAX_PAYLOAD`](crate::payload::MAX_PAYLOAD), 16 MiB).
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().max_payload(256 * 1024);
    /// ```
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.limits.max_payload = bytes;
        self
    }

    /// Most sessions locked at once in this process (default 100,000); beyond it a new
    /// session's request gets a 503.
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().max_locked_sessions(10_000);
    /// ```
    pub fn max_locked_sessions(mut self, count: usize) -> Self {
        self.limits.max_locked_sessions = count;
        self
    }

    /// Registers a handler of lifecycle events ([`SessionEvent`]: created, id cycled,
    /// flushed, revoked, expired, lock timeout, commit failed). Handlers run in order on a
    /// thread of the engine's own, after the commit and off the lock: a slow or panicking
    /// handler slows or fails no request (it is contained and logged).
    ///
    /// ```
    /// use session_core::{adapter::SessionConfig, SessionEvent};
    /// let config = SessionConfig::default().on_event(|event: &SessionEvent| {
    ///     if let SessionEvent::Revoked { principal, ids } = event {
    ///         tracing::info!(%principal, ended = ids.len(), "sessions revoked");
    ///     }
    /// });
    /// ```
    pub fn on_event(mut self, handler: impl Fn(&SessionEvent) + Send + Sync + 'static) -> Self {
        self.handlers.0.push(std::sync::Arc::new(handler));
        self
    }

    /// Most live sessions one principal may have (default: no limit). A session that gets
    /// a principal ([`Session::login`](crate::Session::login) or
    /// [`set_principal`](crate::Session::set_principal)) beyond it ends the principal's
    /// oldest sessions, after its own commit. Needs a store with a principal index.
    ///
    /// ```
    /// session_core::adapter::SessionConfig::default().max_sessions_per_principal(5);
    /// ```
    pub fn max_sessions_per_principal(mut self, count: usize) -> Self {
        self.limits.max_sessions_per_principal = Some(count);
        self
    }

    /// The key that signs cookies. Every instance sharing a store needs the same one.
    ///
    /// ```
    /// use session_core::{adapter::SessionConfig, SigningKey};
    /// # fn main() -> session_core::Result<()> {
    /// SessionConfig::default().signing_key(SigningKey::from_bytes(&[7; 32])?);
    /// # Ok(()) }
    /// ```
    pub fn signing_key(self, key: SigningKey) -> Self {
        self.key_ring(KeyRing::new(key))
    }

    /// The keys that sign cookies, newest first (for rotation).
    ///
    /// ```
    /// use session_core::{adapter::SessionConfig, KeyRing, SigningKey};
    /// # fn main() -> session_core::Result<()> {
    /// let ring = KeyRing::new(SigningKey::from_bytes(&[2; 32])?)
    ///     .with_previous(SigningKey::from_bytes(&[1; 32])?);
    /// SessionConfig::default().key_ring(ring);
    /// # Ok(()) }
    /// ```
    pub fn key_ring(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }
}
