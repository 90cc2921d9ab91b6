//! A request's session, from the adapter's side: [`SessionEngine::begin`] (or
//! [`start`](SessionEngine::start)) makes its [`SessionScope`] from what the adapter
//! knows of the request ([`RequestHead`]); [`SessionScope::finish`] commits it.

use std::sync::Arc;

use super::Session;
use crate::{
    cookie_header,
    engine::{response::ErrorResponse, response::Outcome, SessionEngine},
};

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

impl SessionEngine {
    /// Starts the session of one request. Does no I/O: the store is only touched when
    /// a handler first uses the session.
    ///
    /// `cookie_headers` are the raw values of the request's `Cookie` headers;
    /// `secure_request` says whether it came over HTTPS (see
    /// [`request_is_secure`](Self::request_is_secure)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> session_core::Result<()> {
    /// # let engine = session_core::adapter::SessionEngine::builder().build(session_core::__private::NullStore)?;
    /// let scope = engine.start([b"id=...; theme=dark".as_slice()], true);
    /// // ... the handler runs with scope.session() ...
    /// let outcome = scope.finish().await;
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> session_core::Result<()> {
    /// # let engine = session_core::adapter::SessionEngine::builder().build(session_core::__private::NullStore)?;
    /// let scope = engine.start([], false);
    /// let session = scope.session(); // put it where handlers find it (request extensions)
    /// # Ok(()) }
    /// ```
    pub fn session(&self) -> Session {
        self.session.clone()
    }

    /// Commits the session: what to do to the response.
    ///
    /// ```
    /// use session_core::adapter::Outcome;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> session_core::Result<()> {
    /// # let engine = session_core::adapter::SessionEngine::builder().build(session_core::__private::NullStore)?;
    /// let scope = engine.start([], false);
    /// scope.session().insert("n", 1).await?;
    /// match scope.finish().await {
    ///     Outcome::Unchanged => {}
    ///     Outcome::SetCookie(value) => { /* append a Set-Cookie header */ }
    ///     Outcome::Failed(response) => { /* replace the response */ }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn finish(self) -> Outcome {
        self.session.finish().await
    }
}
