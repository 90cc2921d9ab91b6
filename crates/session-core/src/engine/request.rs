//! The one request path every adapter takes: what the engine needs of a request
//! ([`RequestHead`]), and what the adapter does to the response ([`Action`]). An adapter
//! only copies headers between these and its framework.

use std::borrow::Cow;

use super::{ErrorResponse, Outcome, SessionEngine, SessionScope};

/// What the session engine needs of a request, as an adapter sees it.
///
/// ```
/// use session_core::adapter::RequestHead;
///
/// struct Head<'a>(&'a http::Request<()>);
///
/// impl RequestHead for Head<'_> {
///     const ADAPTER: &'static str = "MySessionLayer";
///     fn scheme(&self) -> Option<&str> {
///         self.0.uri().scheme_str()
///     }
///     fn header_values(&self, name: &'static str) -> impl Iterator<Item = &[u8]> {
///         self.0.headers().get_all(name).iter().map(|v| v.as_bytes())
///     }
///     fn has_session(&self) -> bool {
///         self.0.extensions().get::<session_core::Session>().is_some()
///     }
/// }
/// ```
pub trait RequestHead {
    /// The adapter's name, for the error when it wraps one route twice.
    const ADAPTER: &'static str;

    /// `Some("https")` for a request that came over a TLS listener; otherwise the URI's
    /// scheme, if it has one.
    fn scheme(&self) -> Option<&str>;

    /// The raw values of the header `name` (lower case), in the order received.
    fn header_values(&self, name: &'static str) -> impl Iterator<Item = &[u8]>;

    /// Whether the request already has a session (a session layer ran before this one).
    fn has_session(&self) -> bool;
}

/// A header an adapter sets on the handler's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Lower-case name.
    pub name: &'static str,
    /// The value: visible ASCII, valid in any framework's header type.
    pub value: Cow<'static, str>,
    /// Append (`Set-Cookie`: the handler may set cookies of its own) or replace.
    pub append: bool,
}

/// What an adapter does to the handler's response once the session is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Set these headers (none when the session needs no cookie change).
    Headers(Vec<ResponseHeader>),
    /// The session could not be saved: send this response instead.
    Replace(ErrorResponse),
}

impl SessionEngine {
    /// Begins the session of one request: the scope whose
    /// [`session`](SessionScope::session) the adapter puts where handlers find it, or the
    /// response to send instead when the request already has a session (the adapter
    /// wraps the route twice: one session configuration per app). Does no I/O.
    ///
    /// ```
    /// # use session_core::adapter::{RequestHead, SessionEngine};
    /// # struct Head;
    /// # impl RequestHead for Head {
    /// #     const ADAPTER: &'static str = "MyLayer";
    /// #     fn scheme(&self) -> Option<&str> { None }
    /// #     fn header_values(&self, _: &'static str) -> impl Iterator<Item = &[u8]> { std::iter::empty() }
    /// #     fn has_session(&self) -> bool { false }
    /// # }
    /// # fn main() -> session_core::Result<()> {
    /// # let engine = SessionEngine::builder().build(session_core::__private::NullStore)?;
    /// match engine.begin(&Head) {
    ///     Ok(scope) => { /* insert scope.session(), run the handler, scope.finish() */ }
    ///     Err(refused) => { /* answer refused.status / refused.body */ }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The 500 [`ErrorResponse`] for a session layer applied twice.
    pub fn begin<R: RequestHead>(&self, request: &R) -> Result<SessionScope, ErrorResponse> {
        if request.has_session() {
            return Err(ErrorResponse::applied_twice(R::ADAPTER));
        }
        let secure = self.request_is_secure(request.scheme(), |name| request.header_values(name));
        Ok(self.start(request.header_values("cookie"), secure))
    }
}

impl Outcome {
    /// What the adapter does to the response: for a new or changed cookie, `Set-Cookie`
    /// (appended) and the no-cache headers ASP.NET Core's session middleware sets too
    /// (replacing the handler's: no cache may replay a response that hands out a session
    /// cookie); nothing for an unchanged session; the error response for a failed one.
    ///
    /// ```
    /// use session_core::adapter::{Action, Outcome};
    /// assert_eq!(Outcome::Unchanged.into_action(), Action::Headers(Vec::new()));
    /// let Action::Headers(headers) = Outcome::SetCookie("id=v; Path=/".into()).into_action() else {
    ///     unreachable!()
    /// };
    /// assert_eq!((headers[0].name, headers[0].append), ("set-cookie", true));
    /// ```
    pub fn into_action(self) -> Action {
        match self {
            Outcome::Unchanged => Action::Headers(Vec::new()),
            Outcome::SetCookie(value) => {
                let mut headers = vec![ResponseHeader {
                    name: "set-cookie",
                    value: Cow::Owned(value),
                    append: true,
                }];
                headers.extend(Outcome::NO_CACHE_HEADERS.map(|(name, value)| ResponseHeader {
                    name,
                    value: Cow::Borrowed(value),
                    append: false,
                }));
                Action::Headers(headers)
            }
            Outcome::Failed(response) => Action::Replace(response),
        }
    }
}
