//! The tower `Service` that starts, exposes and commits each request's session.

use std::task::{Context, Poll};

use axum_core::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::{
    header::{COOKIE, SET_COOKIE},
    HeaderName, HeaderValue, Request,
};
use session_core::adapter::{ErrorResponse, Outcome, SessionEngine};
use tower_service::Service;

/// The service made by [`SessionLayer`](crate::SessionLayer).
///
/// Infallible from the app's view: store failures become responses (503 with a JSON
/// body), never an `Err`.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    engine: SessionEngine,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, engine: SessionEngine) -> Self {
        SessionService { inner, engine }
    }
}

impl<S, B> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if req.extensions().get::<session_core::Session>().is_some() {
            let response = ErrorResponse::applied_twice("SessionLayer").into_response();
            return Box::pin(async move { Ok(response) });
        }
        let headers = req.headers();
        let secure = self.engine.request_is_secure(req.uri().scheme_str(), |name| {
            headers.get_all(name).iter().map(HeaderValue::as_bytes)
        });
        let scope = self
            .engine
            .start(headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes), secure);
        req.extensions_mut().insert(scope.session());
        // `inner` was made ready by our `poll_ready` and is called right here, not inside
        // the future, so no clone of it is needed.
        let response = self.inner.call(req);
        Box::pin(async move {
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
                Outcome::Failed(error) => response = error.into_response(),
            }
            Ok(response)
        })
    }
}
