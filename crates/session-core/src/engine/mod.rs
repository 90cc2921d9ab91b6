//! The session engine: configuration, the per-request scope, load and commit.
//!
//! - [`lock_table`]: one async mutex per live id, bounded, freed when unused.
//! - `lease`: a held lock (in-process guard + store lease), released on commit or drop.
//! - `load`: first access; verify the cookie, lock, read, decode.
//! - `commit`: end of request; create, write, refresh or delete, then release.

mod commit;
mod lease;
mod load;
pub(crate) mod lock_table;
mod log_limit;
mod store;

use std::{sync::Arc, time::Duration};

use crate::{
    cache::DistributedCache,
    cookie_codec::{KeyRing, SigningKey},
    cookie_header,
    options::{CookieOptions, Limits, SameSite, SecurePolicy, TrustedProxy},
    payload::MAX_PAYLOAD,
    session::Session,
    Error, Result,
};

pub(crate) use commit::commit;
pub(crate) use lease::Lease;
pub(crate) use load::load;
use lock_table::LockTable;
use store::Store;

pub use commit::{ErrorResponse, Outcome};

/// Everything one app's sessions share: options, keys, the store and the lock table.
pub(crate) struct EngineInner {
    pub cookie: CookieOptions,
    pub limits: Limits,
    pub keys: KeyRing,
    pub store: Store,
    pub locks: Arc<LockTable>,
    /// Warnings about expired sessions, which a client can repeat at will.
    pub expired_log: log_limit::LogLimit,
}

/// The session engine of one app: build it once, with one cache, and hand it to a
/// framework adapter (`session-axum`'s `SessionLayer`, `session-actix`'s
/// `SessionMiddleware`).
///
/// Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct SessionEngine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for SessionEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionEngine")
            .field("cookie", &self.inner.cookie)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl SessionEngine {
    /// A builder with the defaults: cookie `Kr.Session` (HttpOnly, SameSite=Lax, Secure
    /// over HTTPS), 20-minute idle timeout, 10-second IOTimeout, 64 KiB payload cap.
    pub fn builder() -> SessionEngineBuilder {
        SessionEngineBuilder::default()
    }

    /// Starts the session of one request. Does no I/O: the store is only touched when
    /// a handler first uses the session.
    ///
    /// `cookie_headers` are the raw values of the request's `Cookie` headers;
    /// `secure_request` says whether it came over HTTPS (see
    /// [`request_is_secure`](Self::request_is_secure)).
    pub fn start<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        secure_request: bool,
    ) -> SessionScope {
        let incoming = cookie_header::find(cookie_headers, &self.inner.cookie.name, |value| {
            self.inner.keys.verify(value).is_some()
        });
        SessionScope {
            session: Session::new(Arc::clone(&self.inner), incoming, secure_request),
        }
    }

    /// Whether a request counts as HTTPS for [`SecurePolicy::SameAsRequest`]: its URI
    /// scheme (adapters pass `https` for a TLS listener) is `https`, or the trusted proxy
    /// named in [`CookieOptions::trusted_proxy`] added `https` to its forwarding header.
    ///
    /// `header` gives the raw values of a request header, in the order received; it is
    /// asked at most once, for the trusted proxy's header only.
    pub fn request_is_secure<'a, I>(
        &self,
        uri_scheme: Option<&str>,
        header: impl FnOnce(&'static str) -> I,
    ) -> bool
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let proxy = self.inner.cookie.trusted_proxy;
        let name = match proxy {
            TrustedProxy::None => None,
            TrustedProxy::XForwardedProto => Some("x-forwarded-proto"),
            TrustedProxy::Forwarded => Some("forwarded"),
        };
        let values = name.map(header).into_iter().flatten();
        cookie_header::request_is_secure(uri_scheme, proxy, values)
    }

    /// The cookie options in force.
    pub fn cookie_options(&self) -> &CookieOptions {
        &self.inner.cookie
    }
}

/// The session of one request, owned by the framework adapter.
///
/// The adapter puts [`SessionScope::session`] where handlers can reach it, runs the
/// handler, then calls [`SessionScope::finish`] *before* handing the response back.
#[derive(Debug)]
pub struct SessionScope {
    session: Session,
}

impl SessionScope {
    /// The handle handlers use. All clones share one state.
    pub fn session(&self) -> Session {
        self.session.clone()
    }

    /// Commits the session: what to do to the response.
    pub async fn finish(self) -> Outcome {
        self.session.finish().await
    }
}

/// Configures a [`SessionEngine`]. [`build`](Self::build) consumes the builder and takes
/// the one cache, so an app cannot wire two configurations or two caches into one engine.
#[derive(Debug, Default)]
pub struct SessionEngineBuilder {
    cookie: CookieOptions,
    limits: Limits,
    keys: Option<KeyRing>,
}

/// The longest timeout, lease or lifetime the builder takes (100 years): every store can express an
/// expiry this far out (Redis in milliseconds, SQL Server within `datetimeoffset`).
const MAX_DURATION: Duration = Duration::from_secs(36_525 * 24 * 3600);

impl SessionEngineBuilder {
    /// The session cookie.
    pub fn cookie(mut self, cookie: CookieOptions) -> Self {
        self.cookie = cookie;
        self
    }

    /// How long a session lives without requests (sliding). Default 20 minutes.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.limits.idle_timeout = idle;
        self
    }

    /// The longest any single store call may take. Default 10 seconds.
    pub fn io_timeout(mut self, io: Duration) -> Self {
        self.limits.io_timeout = io;
        self
    }

    /// A session older than this is dead however active it is. Default: none.
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.limits.absolute_lifetime = Some(lifetime);
        self
    }

    /// How long a request waits for its session's lock before a 503. Default: the
    /// IOTimeout.
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.limits.lock_wait = Some(wait);
        self
    }

    /// How long a store lease lasts if its holder never releases it (a crashed
    /// instance). A request that holds its session longer than this cannot commit
    /// (503). Default 30 seconds.
    pub fn lock_lease(mut self, lease: Duration) -> Self {
        self.limits.lock_lease = lease;
        self
    }

    /// The largest encoded session, in bytes. Default 64 KiB; at most
    /// [`MAX_PAYLOAD`](crate::MAX_PAYLOAD) (16 MiB), the largest payload this version
    /// reads back.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.limits.max_payload = bytes;
        self
    }

    /// Bound of the in-process lock table: sessions locked at once in this process.
    /// Default 100,000.
    pub fn max_locked_sessions(mut self, count: usize) -> Self {
        self.limits.max_locked_sessions = count;
        self
    }

    /// The keys that sign cookies, newest first. Every instance sharing a store needs
    /// the same ring.
    pub fn key_ring(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Shorthand for a ring of one key.
    pub fn signing_key(self, key: SigningKey) -> Self {
        self.key_ring(KeyRing::new(key))
    }

    /// Builds the engine over `cache`.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero timeout or lease, a duration over 100 years (stores
    /// could not express its expiry), a lock lease longer than the store's lock can hold
    /// ([`SessionLock::max_lease`](crate::SessionLock::max_lease)), a cookie name, path or domain that
    /// cannot be written into a `Set-Cookie` header, a `__Host-` / `__Secure-` cookie
    /// that browsers would drop, or a payload cap too small to hold an empty session or
    /// over [`MAX_PAYLOAD`](crate::MAX_PAYLOAD).
    pub fn build(self, cache: impl DistributedCache) -> Result<SessionEngine> {
        self.build_shared(Arc::new(cache))
    }

    /// Builds the engine over a cache that is also used elsewhere.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_shared(self, cache: Arc<dyn DistributedCache>) -> Result<SessionEngine> {
        let limits = self.limits;
        // (a zero lock wait is valid: a busy session answers 503 at once)
        for (name, value, may_be_zero) in [
            ("idle timeout", Some(limits.idle_timeout), false),
            ("IO timeout", Some(limits.io_timeout), false),
            ("lock lease", Some(limits.lock_lease), false),
            ("lock wait", limits.lock_wait, true),
            ("absolute lifetime", limits.absolute_lifetime, true),
        ] {
            match value {
                Some(value) if value.is_zero() && !may_be_zero => {
                    return Err(Error::Config(format!("the {name} must be greater than zero")))
                }
                Some(value) if value > MAX_DURATION => {
                    return Err(Error::Config(format!("the {name} must be at most 100 years")))
                }
                _ => {}
            }
        }
        if limits.max_payload < 16 {
            return Err(Error::Config("the payload cap must be at least 16 bytes".into()));
        }
        if limits.max_payload > MAX_PAYLOAD {
            return Err(Error::Config(format!(
                "the payload cap ({} bytes) is over {MAX_PAYLOAD} bytes, the largest stored \
                 session this version reads back: lower max_payload",
                limits.max_payload
            )));
        }
        self.cookie.validate().map_err(Error::Config)?;
        if self.cookie.same_site == SameSite::None && self.cookie.secure == SecurePolicy::None {
            tracing::warn!(
                "the session cookie is SameSite=None without Secure: browsers reject such cookies"
            );
        }
        let keys = self.keys.unwrap_or_else(|| {
            tracing::warn!(
                "no session signing key configured: using a random per-process key, so \
                 sessions end when this process stops and other instances will not accept them"
            );
            KeyRing::new(SigningKey::generate())
        });
        let store = Store::new(cache, limits.io_timeout);
        if limits.lock_lease > store.max_lease() {
            return Err(Error::Config(format!(
                "the lock lease ({:?}) is longer than this store can hold ({:?}): lower lock_lease",
                limits.lock_lease,
                store.max_lease()
            )));
        }
        if !store.has_lock() {
            tracing::warn!(
                "the session store has no session-lock capability: requests of one session \
                 are serialized within this process only"
            );
        }
        let locks = Arc::new(LockTable::new(limits.max_locked_sessions));
        Ok(SessionEngine {
            inner: Arc::new(EngineInner {
                cookie: self.cookie,
                limits,
                keys,
                store,
                locks,
                expired_log: log_limit::LogLimit::new(std::time::Duration::from_secs(10)),
            }),
        })
    }
}
