//! The configuration setters of the framework adapters, written once.
//!
//! `session-axum`'s `SessionLayer` names them `with_*` (as tower-sessions does) and
//! `session-actix`'s `SessionMiddlewareBuilder` names them as actix-session does; each
//! calls the [`SessionConfig`](crate::adapter::SessionConfig) setter of the same meaning.
//! The list below is the only place the options, their docs and their examples live:
//! `__adapter_setters!(axum)` or `__adapter_setters!(actix)` inside the adapter's `impl`
//! (which has `fn configure(self, impl FnOnce(SessionConfig) -> SessionConfig) -> Self`)
//! writes that adapter's methods.

/// Writes the configuration setters of one adapter; see the module docs.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_setters {
    ($family:ident) => {
        $crate::__adapter_setters!(@each $family;
            [with_cookie_name, cookie_name] cookie_name(name: impl Into<String>) = "\"Kr.Session\"";
                "The cookie's name (default `id`)."
            [with_secure, cookie_secure] secure(secure: bool) = "false";
                "`true`: the cookie is always `Secure` (default). `false`: never.\n\n# Warning\nWithout `Secure` the cookie also travels over plain HTTP, where anyone on the path can read the session id. Turn it off for local HTTP testing only."
            [with_secure_policy, cookie_secure_policy] secure_policy(policy: $crate::SecurePolicy) = "session_core::SecurePolicy::SameAsRequest";
                "When the cookie is `Secure` (default [`SecurePolicy::Always`](session_core::SecurePolicy::Always))."
            [with_same_site, cookie_same_site] same_site(same_site: $crate::SameSite) = "session_core::SameSite::Strict";
                "The cookie's `SameSite` (default [`SameSite::Lax`](session_core::SameSite::Lax))."
            [with_http_only, cookie_http_only] http_only(http_only: bool) = "true";
                "Whether the cookie is `HttpOnly` (default `true`; `false` lets page scripts, and any injected script, read the session id)."
            [with_path, cookie_path] cookie_path(path: impl Into<String>) = "\"/app\"";
                "The cookie's `Path` (default `/`)."
            [with_domain, cookie_domain] cookie_domain(domain: impl Into<String>) = "\"example.com\"";
                "The cookie's `Domain` (default none: the exact host only)."
            [with_max_age, cookie_max_age] max_age(max_age: std::time::Duration) = "std::time::Duration::from_secs(7 * 86_400)";
                "Makes the cookie persistent (default: it ends with the browser session). The server-side idle timeout still applies."
            [with_idle_timeout, idle_timeout] idle_timeout(idle: std::time::Duration) = "std::time::Duration::from_secs(30 * 60)";
                "How long a session lives without requests (sliding; default 20 minutes)."
            [with_absolute_lifetime, absolute_lifetime] absolute_lifetime(lifetime: std::time::Duration) = "std::time::Duration::from_secs(8 * 3600)";
                "A session older than this is dead however active it is (default: none)."
            [with_io_timeout, io_timeout] io_timeout(io: std::time::Duration) = "std::time::Duration::from_secs(2)";
                "The longest any store call may take, and by default the lock wait (10 seconds)."
            [with_lock_wait, lock_wait] lock_wait(wait: std::time::Duration) = "std::time::Duration::from_secs(5)";
                "How long a request waits for its session's lock before a 503 (default: the IO timeout)."
            [with_lock_lease, lock_lease] lock_lease(lease: std::time::Duration) = "std::time::Duration::from_secs(60)";
                "How long a lease lasts if its holder dies (default 30 seconds). A request that holds its session longer cannot commit (503)."
            [with_max_payload, max_payload] max_payload(bytes: usize) = "256 * 1024";
                "The largest encoded session, in bytes (default 64 KiB, at most 16 MiB)."
            [with_max_locked_sessions, max_locked_sessions] max_locked_sessions(count: usize) = "10_000";
                "Most sessions locked at once in this process (default 100,000); beyond it a new session's request gets a 503."
            [with_hot_sessions, hot_sessions] hot_sessions(capacity: usize) = "0";
                "Hot sessions (default 10,000; 0 turns them off): keep the leases and values of up to `capacity` sessions in this instance between their requests, on a store that can keep leases (Redis, PostgreSQL): a modifying request on a hot session makes one store call, a read-only one usually none. Every commit is still a compare-and-set on the lease token and fence; another instance that needs a hot session recalls it."
            [with_hot_lease, hot_lease] hot_lease(lease: std::time::Duration) = "std::time::Duration::from_secs(1)";
                "How long a hot session's kept lease lasts after the request that kept it (default 2 seconds, at most the lock lease): how long a dead instance blocks its hot sessions."
            [with_max_sessions_per_principal, max_sessions_per_principal] max_sessions_per_principal(count: usize) = "5";
                "Most live sessions one principal may have (default: no limit); a login beyond it ends the principal's oldest sessions. Needs a store with a principal index (every in-tree store has one)."
            [with_event_handler, on_event] on_event(handler: impl Fn(&$crate::SessionEvent) + Send + Sync + 'static) = "|event: &session_core::SessionEvent| tracing::info!(?event, \"session event\")";
                "Registers a handler of lifecycle events ([`SessionEvent`](session_core::SessionEvent): created, id cycled, flushed, revoked, expired, lock timeout, commit failed). Handlers run on a thread of their own after the commit: a slow or panicking one slows or fails no request."
            [with_trusted_proxy, trusted_proxy] trusted_proxy(proxy: $crate::TrustedProxy) = "session_core::TrustedProxy::XForwardedProto";
                "The forwarding header of the TLS-terminating proxy in front of the app, read by [`SecurePolicy::SameAsRequest`](session_core::SecurePolicy::SameAsRequest) (default none: forwarding headers are ignored, since any client can send them)."
            [with_signing_key, signing_key] signing_key(key: $crate::SigningKey) = "session_core::SigningKey::from_bytes(&[7u8; 32])?";
                "The key that signs cookies; every instance sharing a store needs the same one. Required for a shared store (Redis, SQL Server)."
            [with_key_ring, key_ring] key_ring(keys: $crate::KeyRing) = "session_core::KeyRing::new(session_core::SigningKey::from_bytes(&[2u8; 32])?).with_previous(session_core::SigningKey::from_bytes(&[1u8; 32])?)";
                "The keys that sign cookies, newest first, for rotation: the newest signs, all are accepted."
        );
    };
    (@each $family:ident; $(
        [$axum:ident, $actix:ident] $method:ident($arg:ident: $ty:ty) = $example:literal; $doc:literal
    )*) => {
        $( $crate::__adapter_setters!(@one $family [$axum, $actix] $method($arg: $ty) = $example; $doc); )*
    };
    (@one axum [$axum:ident, $actix:ident] $method:ident($arg:ident: $ty:ty) = $example:literal; $doc:literal) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "# fn main() -> Result<(), session_core::Error> {"]
        #[doc = "# let layer = session_axum::SessionLayer::new(session_memory::MemoryCache::default());"]
        #[doc = concat!("let layer = layer.", stringify!($axum), "(", $example, ");")]
        #[doc = "# Ok(()) }"]
        #[doc = "```"]
        pub fn $axum(self, $arg: $ty) -> Self {
            self.configure(|config| config.$method($arg))
        }
    };
    (@one actix [$axum:ident, $actix:ident] $method:ident($arg:ident: $ty:ty) = $example:literal; $doc:literal) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "# fn main() -> Result<(), session_core::Error> {"]
        #[doc = "let middleware = session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default())"]
        #[doc = concat!("    .", stringify!($actix), "(", $example, ")")]
        #[doc = "    .build();"]
        #[doc = "# Ok(()) }"]
        #[doc = "```"]
        pub fn $actix(self, $arg: $ty) -> Self {
            self.configure(|config| config.$method($arg))
        }
    };
}
