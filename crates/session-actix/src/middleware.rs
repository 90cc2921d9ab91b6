//! The actix `Transform` that starts, exposes and commits each request's session.

use std::future::{ready, Ready};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform},
    http::header::{HeaderName, HeaderValue, COOKIE, SET_COOKIE},
    Error, HttpMessage,
};
use futures_util::future::LocalBoxFuture;
use session_core::{ErrorResponse, Outcome, SessionEngine};

use crate::response::error_response;

/// Gives each request a [`Session`](crate::Session) and commits it before the response
/// is handed back. Build it from the app's one [`SessionEngine`]; store failures become
/// 503 responses with a JSON body, never errors the app must handle.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    engine: SessionEngine,
}

impl SessionMiddleware {
    /// A middleware over `engine`.
    pub fn new(engine: SessionEngine) -> Self {
        SessionMiddleware { engine }
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
        ready(Ok(InnerSessionMiddleware {
            service,
            engine: self.engine.clone(),
        }))
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
        if req.extensions().contains::<session_core::Session>() {
            let response = error_response(&ErrorResponse::applied_twice("SessionMiddleware"));
            return Box::pin(async move { Ok(req.into_response(response).map_into_right_body()) });
        }
        // A TLS listener, or the URI / a proxy saying https: core decides what counts.
        let scheme = if req.app_config().secure() {
            Some("https")
        } else {
            req.uri().scheme_str()
        };
        let headers = req.headers();
        let secure = self
            .engine
            .request_is_secure(scheme, |name| headers.get_all(name).map(HeaderValue::as_bytes));
        let scope = self
            .engine
            .start(req.headers().get_all(COOKIE).map(HeaderValue::as_bytes), secure);
        req.extensions_mut().insert(scope.session());
        let response = self.service.call(req);
        Box::pin(async move {
            // An `Err` here drops the scope: nothing is committed and the lock is released.
            let mut response = response.await?;
            match scope.finish().await {
                Outcome::Unchanged => {}
                Outcome::SetCookie(value) => match HeaderValue::try_from(value) {
                    Ok(value) => {
                        let headers = response.headers_mut();
                        headers.append(SET_COOKIE, value);
                        for (name, value) in Outcome::NO_CACHE_HEADERS {
                            headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
                        }
                    }
                    Err(_) => {
                        tracing::error!(
                            "session cookie is not a valid header value; check the cookie options"
                        )
                    }
                },
                Outcome::Failed(error) => {
                    let (request, _) = response.into_parts();
                    let replaced = ServiceResponse::new(request, error_response(&error));
                    return Ok(replaced.map_into_right_body());
                }
            }
            Ok(response.map_into_left_body())
        })
    }
}
