//! The session engine: configuration, the per-request scope, load and commit.
//!
//! - [`lock_table`]: one async mutex per live id, bounded, freed when unused.
//! - `lease`: a held lock (in-process guard + store lease), released on commit or drop.
//! - `load`: first access; verify the cookie, lock, read, decode.
//! - `commit`: end of request; create, write, refresh or delete, then release.

mod build;
pub(crate) mod commit;
mod config;
pub(crate) mod hot;
pub(crate) mod lease;
pub(crate) mod load;
pub(crate) mod lock_table;
mod log_limit;
pub(crate) mod principal;
pub(crate) mod response;
mod setters;
mod store;

use std::sync::Arc;

use crate::{
    cache::DistributedCache,
    cookie_codec::KeyRing,
    cookie_header,
    options::{CookieOptions, Limits, TrustedProxy},
};

use lock_table::LockTable;
use store::Store;

pub use config::SessionConfig;
pub use principal::{SessionInfo, SessionManager};
pub use response::{Action, ErrorResponse, Outcome, ResponseHeader};

/// A store as an adapter keeps it until it builds its engine: cheap to clone (clones
/// share the store), and `Debug` without showing the store.
///
/// ```
/// use session_core::adapter::SharedStore;
/// # let store = session_core::__private::NullStore;
/// let shared = SharedStore::new(store);
/// let engine = session_core::adapter::SessionConfig::default().build_shared(shared.get());
/// ```
#[derive(Clone)]
pub struct SharedStore(Arc<dyn DistributedCache>);

impl SharedStore {
    /// Shares `store`.
    ///
    /// ```
    /// let shared = session_core::adapter::SharedStore::new(session_core::__private::NullStore);
    /// ```
    pub fn new(store: impl DistributedCache) -> Self {
        SharedStore(Arc::new(store))
    }

    /// The store, for [`SessionConfig::build_shared`].
    ///
    /// ```
    /// let shared = session_core::adapter::SharedStore::new(session_core::__private::NullStore);
    /// let store = shared.get();
    /// ```
    pub fn get(&self) -> Arc<dyn DistributedCache> {
        Arc::clone(&self.0)
    }
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedStore(..)")
    }
}

/// Everything one app's sessions share: options, keys, the store and the lock table.
pub(crate) struct EngineInner {
    pub cookie: CookieOptions,
    pub limits: Limits,
    pub keys: KeyRing,
    pub store: Store,
    pub locks: Arc<LockTable>,
    /// Warnings about expired sessions, which a client can repeat at will.
    pub expired_log: log_limit::LogLimit,
    /// The lifecycle-event handlers and their queue.
    pub events: Arc<crate::events::Events>,
    /// Hot sessions' kept leases (`None`: hot sessions off, or a store that keeps none).
    pub hot: Option<Arc<hot::HotTable>>,
}

/// The session engine of one app, for adapter authors: a framework adapter builds it
/// once from a [`SessionConfig`] and a store, starts a [`SessionScope`](crate::adapter::SessionScope) per request and
/// finishes it before the response leaves.
///
/// Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct SessionEngine {
    pub(crate) inner: Arc<EngineInner>,
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
    /// A configuration with the defaults: cookie `id` (HttpOnly, SameSite=Lax, Secure),
    /// 20-minute idle timeout, 10-second IOTimeout, 64 KiB payload cap.
    ///
    /// ```
    /// let config = session_core::adapter::SessionEngine::builder().cookie_name("sid");
    /// ```
    pub fn builder() -> SessionConfig {
        SessionConfig::default()
    }

    /// Whether a request counts as HTTPS for [`SecurePolicy::SameAsRequest`](crate::SecurePolicy::SameAsRequest): its URI
    /// scheme (adapters pass `https` for a TLS listener) is `https`, or the trusted proxy
    /// named in [`SessionConfig::trusted_proxy`] added `https` to its forwarding header.
    ///
    /// `header` gives the raw values of a request header, in the order received; it is
    /// asked at most once, for the trusted proxy's header only.
    ///
    /// ```
    /// use session_core::{adapter::SessionEngine, SecurePolicy, TrustedProxy};
    /// # fn main() -> session_core::Result<()> {
    /// let engine = SessionEngine::builder()
    ///     .secure_policy(SecurePolicy::SameAsRequest)
    ///     .trusted_proxy(TrustedProxy::XForwardedProto)
    ///     .build(session_core::__private::NullStore)?;
    /// // the client sent "https", the proxy appended what it saw: "http"
    /// assert!(!engine.request_is_secure(None, |_name| [b"https".as_slice(), b"http"]));
    /// assert!(engine.request_is_secure(Some("https"), |_name| []));
    /// # Ok(()) }
    /// ```
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
}
