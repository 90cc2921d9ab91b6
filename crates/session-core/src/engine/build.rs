//! Building a [`SessionEngine`] from a [`SessionConfig`]: every check of the
//! configuration happens here, once, at start-up.

use std::{sync::Arc, time::Duration};

use super::{
    config::SessionConfig, lock_table::LockTable, log_limit::LogLimit, store::Store, EngineInner,
    SessionEngine,
};
use crate::{
    cache::DistributedCache,
    cookie_codec::{KeyRing, SigningKey},
    error::Error,
    error::Result,
    options::{SameSite, SecurePolicy},
    payload::MAX_PAYLOAD,
};

/// The random signing key of this process, for engines over the memory store that were
/// given none: one per process, so every engine (every actix-web worker's) accepts the
/// others' cookies. Warns once.
fn process_key() -> SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        tracing::warn!(
            "no session signing key configured: using a random per-process key, so sessions \
             end when this process stops; configure one to keep them across restarts"
        );
        SigningKey::generate()
    })
    .clone()
}

/// The longest timeout, lease or lifetime the builder takes (100 years): every store can express an
/// expiry this far out (Redis in milliseconds, SQL Server within `datetimeoffset`).
const MAX_DURATION: Duration = Duration::from_secs(36_525 * 24 * 3600);

impl SessionConfig {
    /// Builds the engine over `cache`.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero timeout or lease, a duration over 100 years (stores
    /// could not express its expiry), a lock lease longer than the store's lock can hold
    /// ([`SessionLock::max_lease`](crate::store::SessionLock::max_lease)), a cookie name, path or domain that
    /// cannot be written into a `Set-Cookie` header, a `__Host-` / `__Secure-` cookie
    /// that browsers would drop, or a payload cap too small to hold an empty session or
    /// over [`MAX_PAYLOAD`](crate::payload::MAX_PAYLOAD).
    ///
    /// ```
    /// # fn store() -> impl session_core::store::DistributedCache { session_core::__private::NullStore }
    /// use session_core::adapter::SessionConfig;
    /// let engine = SessionConfig::default().build(store());
    /// ```
    pub fn build(self, cache: impl DistributedCache) -> Result<SessionEngine> {
        self.build_shared(Arc::new(cache))
    }

    /// Builds the engine over a cache that is also used elsewhere.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{adapter::SessionConfig, store::DistributedCache};
    /// # let store = session_core::__private::NullStore;
    /// let shared: Arc<dyn DistributedCache> = Arc::new(store);
    /// let engine = SessionConfig::default().build_shared(Arc::clone(&shared));
    /// ```
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
            ("hot lease", Some(limits.hot_lease), false),
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
        let keys = match self.keys {
            Some(keys) => keys,
            None if cache.is_distributed() => {
                return Err(Error::Config(
                    "no signing key configured for a store that several instances share: \
                     give every instance the same key (with_signing_key / signing_key, for \
                     example from SESSION_SIGNING_KEY), or their cookies reject each other"
                        .into(),
                ))
            }
            None => KeyRing::new(process_key()),
        };
        let shared_locks = cache.local_locks().cloned();
        let locks = match &shared_locks {
            Some(shared) => shared.table(limits.max_locked_sessions),
            None => Arc::new(LockTable::new(limits.max_locked_sessions)),
        };
        // (a build refused below leaves a watcher of a dropped engine: it reports nothing)
        let events = Arc::new(crate::events::Events::new(self.handlers.0));
        if events.wanted() {
            cache.watch_expiry(crate::expiry::ExpiryWatcher::new(&events));
        }
        let store = Store::new(cache, limits.io_timeout);
        if limits.lock_lease > store.max_lease() {
            return Err(Error::Config(format!(
                "the lock lease ({:?}) is longer than this store can hold ({:?}): lower lock_lease",
                limits.lock_lease,
                store.max_lease()
            )));
        }
        let hot = (limits.hot_sessions > 0 && store.keeps_leases()).then(|| {
            let hot = super::hot::HotLimits {
                capacity: limits.hot_sessions,
                // (a kept lease is a lease: never longer than the lock lease)
                lease: limits.hot_lease.min(limits.lock_lease),
            };
            let make = || super::hot::HotTable::new(hot, limits.idle_timeout);
            match &shared_locks {
                Some(shared) => shared.hot(make),
                None => Arc::new(make()),
            }
        });
        if let (Some(hot), Some(lock)) = (&hot, store.lock()) {
            lock.watch_recalls(crate::recall::Recalls::new(hot));
        }
        if let Some(limit) = limits.max_sessions_per_principal {
            if limit == 0 {
                return Err(Error::Config(
                    "max_sessions_per_principal must be at least 1".into(),
                ));
            }
            if !store.has_index() {
                return Err(Error::Config(
                    "max_sessions_per_principal needs a store with a principal index (every \
                     in-tree store has one)"
                        .into(),
                ));
            }
        }
        if !store.has_lock() {
            tracing::warn!(
                "the session store has no session-lock capability: requests of one session \
                 are serialized within this process only"
            );
        }
        Ok(SessionEngine {
            inner: Arc::new(EngineInner {
                cookie: self.cookie,
                limits,
                keys,
                store,
                locks,
                expired_log: LogLimit::new(Duration::from_secs(10)),
                events,
                hot,
            }),
        })
    }
}
