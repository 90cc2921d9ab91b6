//! Cookie and session options, with the seed's defaults.

use std::time::Duration;

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on same-site requests and top-level cross-site navigations (default).
    #[default]
    Lax,
    /// Sent on same-site requests only.
    Strict,
    /// Sent on every request; browsers then require `Secure`.
    None,
}

/// When the session cookie carries the `Secure` attribute (ASP.NET's
/// `CookieSecurePolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurePolicy {
    /// Always `Secure`: the cookie only travels over HTTPS (default). Browsers still
    /// accept it from `http://localhost`.
    #[default]
    Always,
    /// `Secure` when the request came over HTTPS.
    SameAsRequest,
    /// Never `Secure`.
    ///
    /// # Warning
    /// The cookie then also travels over plain HTTP, where it can be read in transit.
    /// Use it for local HTTP testing only.
    None,
}

/// The forwarding header that a reverse proxy in front of the app sets, so that
/// [`SecurePolicy::SameAsRequest`] can tell that the client's request came over HTTPS.
///
/// Forwarding headers are ignored unless the application names its proxy's header: any
/// client can send them. When it does, the value *that proxy added* decides: the
/// right-most one (proxies append theirs after whatever the client sent). Name the header
/// only when every request reaches the app through that proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustedProxy {
    /// No proxy is trusted: only the request's own scheme (or TLS listener) counts
    /// (default).
    #[default]
    None,
    /// The proxy appends `X-Forwarded-Proto` (nginx, HAProxy, AWS ALB, Traefik).
    XForwardedProto,
    /// The proxy appends an RFC 7239 `Forwarded` element with `proto=`.
    Forwarded,
}

/// The session cookie (seed: `New-KrCookieBuilder`), set through
/// [`SessionConfig`](crate::adapter::SessionConfig).
///
/// Defaults: name `id`, path `/`, no domain, `HttpOnly`, `SameSite=Lax`,
/// [`SecurePolicy::Always`], no `Max-Age` (a browser-session cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieOptions {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) secure: SecurePolicy,
    pub(crate) max_age: Option<Duration>,
    pub(crate) trusted_proxy: TrustedProxy,
}

impl Default for CookieOptions {
    fn default() -> Self {
        CookieOptions {
            name: "id".to_owned(),
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            same_site: SameSite::Lax,
            secure: SecurePolicy::Always,
            max_age: None,
            trusted_proxy: TrustedProxy::None,
        }
    }
}

impl CookieOptions {
    #[cfg(test)]
    pub(crate) fn new(name: &str) -> Self {
        CookieOptions {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    #[cfg(test)]
    pub(crate) fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    #[cfg(test)]
    pub(crate) fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    #[cfg(test)]
    pub(crate) fn secure_policy(mut self, policy: SecurePolicy) -> Self {
        self.secure = policy;
        self
    }

    /// Checks that every attribute can be written into a `Set-Cookie` header as it is
    /// (RFC 6265 §4.1.1) and that browsers will keep the cookie (the `__Host-` and
    /// `__Secure-` name prefixes), so a misconfiguration fails at start-up, not on each
    /// response.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !name_ok {
            return Err(format!("invalid cookie name {:?}", self.name));
        }
        // path-av: any CHAR except CTLs or ";"; a path that does not start with '/' is
        // ignored by browsers (RFC 6265 §5.2.4), so it is refused here.
        let path_ok =
            self.path.starts_with('/') && self.path.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b';');
        if !path_ok {
            return Err(format!(
                "invalid cookie path {:?}: it must start with '/' and hold printable ASCII without ';'",
                self.path
            ));
        }
        if let Some(domain) = &self.domain {
            let host = domain.strip_prefix('.').unwrap_or(domain);
            let domain_ok = !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !domain_ok {
                return Err(format!(
                    "invalid cookie domain {domain:?}: it must be a host name (letters, digits, '-', \
                     '.'; international names in punycode, xn--...)"
                ));
            }
        }
        self.check_name_prefix()
    }

    /// Browsers drop a `__Secure-` cookie without `Secure`, and a `__Host-` cookie
    /// unless it is also `Path=/` with no `Domain` (RFC 6265bis §4.1.3).
    fn check_name_prefix(&self) -> Result<(), String> {
        let host = self.name.starts_with("__Host-");
        if (host || self.name.starts_with("__Secure-")) && self.secure == SecurePolicy::None {
            return Err(format!(
                "the cookie {:?} needs Secure: browsers drop it with SecurePolicy::None",
                self.name
            ));
        }
        if host && (self.path != "/" || self.domain.is_some()) {
            return Err(format!(
                "the cookie {:?} must have Path=/ and no Domain: browsers drop it otherwise",
                self.name
            ));
        }
        Ok(())
    }
}

/// Timeouts and limits (seed: `Add-KrSession`).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub idle_timeout: Duration,
    pub io_timeout: Duration,
    pub absolute_lifetime: Option<Duration>,
    pub lock_wait: Option<Duration>,
    pub lock_lease: Duration,
    pub max_payload: usize,
    pub max_locked_sessions: usize,
    /// Most live sessions one principal may have; a login beyond it ends the oldest.
    pub max_sessions_per_principal: Option<usize>,
    /// Most sessions kept hot (0: hot sessions off).
    pub hot_sessions: usize,
    /// How long a kept lease lasts after its keeping call.
    pub hot_lease: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle_timeout: Duration::from_secs(20 * 60),
            io_timeout: Duration::from_secs(10),
            absolute_lifetime: None,
            lock_wait: None,
            lock_lease: Duration::from_secs(30),
            max_payload: 64 * 1024,
            max_locked_sessions: 100_000,
            max_sessions_per_principal: None,
            hot_sessions: 10_000,
            hot_lease: Duration::from_secs(2),
        }
    }
}

impl Limits {
    /// How long a request may wait for its session's lock.
    pub(crate) fn lock_wait(&self) -> Duration {
        self.lock_wait.unwrap_or(self.io_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::{CookieOptions, SecurePolicy};

    #[test]
    fn header_safe_attributes_are_accepted() {
        for options in [
            CookieOptions::default(),
            CookieOptions::new("__Host-app.sid"),
            CookieOptions::new("__Secure-app.sid")
                .path("/app/v1")
                .domain("example.com"),
            CookieOptions::new("app.sid").path("/app/v1"),
            CookieOptions::default().domain("example.com"),
            CookieOptions::default().domain(".shop.example-1.org"),
            CookieOptions::default().domain("127.0.0.1"),
        ] {
            assert_eq!(options.validate(), Ok(()), "{options:?}");
        }
    }

    #[test]
    fn attributes_that_break_the_header_are_refused() {
        for options in [
            CookieOptions::new(""),
            CookieOptions::new("bad name"),
            CookieOptions::new("a=b"),
            CookieOptions::default().path(""),
            CookieOptions::default().path("app"),
            CookieOptions::default().path("/a;Domain=evil.test"),
            CookieOptions::default().path("/a\r\nX-Injected: 1"),
            CookieOptions::default().path("/caf\u{e9}"),
            CookieOptions::default().domain(""),
            CookieOptions::default().domain("."),
            CookieOptions::default().domain("example..com"),
            CookieOptions::default().domain("-example.com"),
            CookieOptions::default().domain("example.com;Secure"),
            CookieOptions::default().domain("ex ample.com"),
            CookieOptions::default().domain(format!("{}.com", "a".repeat(64))),
            CookieOptions::new("__Host-app.sid").path("/app"),
            CookieOptions::new("__Host-app.sid").domain("example.com"),
            CookieOptions::new("__Host-app.sid").secure_policy(SecurePolicy::None),
            CookieOptions::new("__Secure-app.sid").secure_policy(SecurePolicy::None),
        ] {
            assert!(options.validate().is_err(), "{options:?}");
        }
    }
}
