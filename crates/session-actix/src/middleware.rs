//! The actix `Transform` that starts, exposes and commits each request's session.

use std::future::{ready, Ready};

use std::sync::Arc;

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform},
    http::header::{HeaderMap, HeaderName, HeaderValue},
    Error, HttpMessage,
};
use futures_util::future::LocalBoxFuture;
use session_core::{
    adapter::{Action, ResponseHeader, SessionEngine},
    Error as SessionError,
};

/// Gives each request a [`Session`](session_core::Session) and commits it before the
/// response is handed back; store failures become 503 responses with a JSON body.
///
/// Build it from the app's store, with the defaults ([`new`](Self::new)) or through
/// [`builder`](Self::builder) with actix-session's names. Building it inside
/// `HttpServer::new`'s factory is safe: every worker's middleware over clones of one
/// store shares that store's data and its lock table.
///
/// ```
/// use actix_web::{web, App, HttpServer};
/// use session_actix::SessionMiddleware;
/// use session_core::{Error, Session};
/// use session_memory::MemoryCache;
///
/// async fn counter(session: Session) -> Result<String, Error> {
///     let n: i64 = session.get("counter").await?.unwrap_or(0) + 1;
///     session.insert("counter", n).await?;
///     Ok(n.to_string())
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let store = MemoryCache::default(); // one store, outside the factory
/// let server = HttpServer::new(move || {
///     App::new()
///         .wrap(SessionMiddleware::builder(store.clone()).cookie_secure(false).build())
///         .route("/counter", web::get().to(counter))
/// });
/// # let _ = server; Ok(()) }
/// ```
///
/// An invalid configuration (a zero timeout, a cookie name that cannot be sent, a
/// shared store without a signing key) is logged with its fix and stops the server at
/// start-up; [`SessionMiddlewareBuilder::try_build`](crate::SessionMiddlewareBuilder::try_build) reports it as an [`SessionError`]
/// instead.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    engine: Result<SessionEngine, Arc<SessionError>>,
}

impl SessionMiddleware {
    pub(crate) fn from_engine(engine: Result<SessionEngine, SessionError>) -> Self {
        SessionMiddleware {
            engine: engine.map_err(Arc::new),
        }
    }

    /// The handle for listing and ending a user's sessions ("log out everywhere") over
    /// this middleware's store; keep a clone for code outside requests (an admin endpoint,
    /// a job). Handlers can also take it from their session
    /// ([`Session::manager`](session_core::Session::manager)).
    ///
    /// ```
    /// # fn main() -> Result<(), session_core::Error> {
    /// let middleware = session_actix::SessionMiddleware::builder(session_memory::MemoryCache::default()).try_build()?;
    /// let manager = middleware.manager()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The configuration error the middleware was built with, if any.
    pub fn manager(&self) -> Result<session_core::SessionManager, SessionError> {
        match &self.engine {
            Ok(engine) => Ok(engine.manager()),
            Err(error) => Err(SessionError::Config(error.to_string())),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = InnerSessionMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(match &self.engine {
            Ok(engine) => Ok(InnerSessionMiddleware {
                service,
                engine: engine.clone(),
            }),
            Err(error) => {
                // actix-web then refuses to start the worker, and so the server
                tracing::error!("SessionMiddleware: {error}");
                Err(())
            }
        })
    }
}

/// The service made by [`SessionMiddleware`]; not used directly.
#[doc(hidden)]
#[derive(Debug)]
pub struct InnerSessionMiddleware<S> {
    service: S,
    engine: SessionEngine,
}

impl<S, B> Service<ServiceRequest> for InnerSessionMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let scope = match self.engine.begin(&req) {
            Ok(scope) => scope,
            Err(refused) => {
                let response = req.into_response(refused.to_actix()).map_into_right_body();
                return Box::pin(std::future::ready(Ok(response)));
            }
        };
        req.extensions_mut().insert(scope.session());
        let response = self.service.call(req);
        Box::pin(async move {
            // An `Err` here drops the scope: nothing is committed and the lock is released.
            let mut response = response.await?;
            match scope.finish().await.into_action() {
                Action::Headers(headers) => set_headers(response.headers_mut(), headers),
                Action::Replace(error) => {
                    let (request, _) = response.into_parts();
                    let replaced = ServiceResponse::new(request, error.to_actix());
                    return Ok(replaced.map_into_right_body());
                }
            }
            Ok(response.map_into_left_body())
        })
    }
}

/// Sets the session's headers on a response (values the core made: always valid).
fn set_headers(target: &mut HeaderMap, headers: Vec<ResponseHeader>) {
    for header in headers {
        let name = HeaderName::from_static(header.name);
        match HeaderValue::try_from(&*header.value) {
            Ok(value) if header.append => target.append(name, value),
            Ok(value) => drop(target.insert(name, value)),
            Err(_) => tracing::error!(header = header.name, "session header is not a valid header value"),
        }
    }
}
