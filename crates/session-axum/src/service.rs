//! The tower `Service` that starts, exposes and commits each request's session: header
//! copying between axum and `session-core`'s one request path.

use std::task::{Context, Poll};

use axum_core::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use session_core::adapter::{Action, ResponseHeader, SessionEngine};
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

/// Sets the session's headers on a response (values the core made: always valid).
fn set_headers(target: &mut HeaderMap, headers: Vec<ResponseHeader>) {
    for header in headers {
        let (name, value) = (
            HeaderName::from_static(header.name),
            HeaderValue::try_from(&*header.value),
        );
        match (value, header.append) {
            (Ok(value), true) => {
                target.append(name, value);
            }
            (Ok(value), false) => {
                target.insert(name, value);
            }
            (Err(_), _) => {
                tracing::error!(header = header.name, "session header is not a valid header value")
            }
        }
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
        let scope = match self.engine.begin(&req) {
            Ok(scope) => scope,
            Err(refused) => {
                let response = refused.into_response();
                return Box::pin(async move { Ok(response) });
            }
        };
        req.extensions_mut().insert(scope.session());
        // `inner` was made ready by our `poll_ready` and is called right here, not inside
        // the future, so no clone of it is needed.
        let response = self.inner.call(req);
        Box::pin(async move {
            let mut response = response.await?;
            match scope.finish().await.into_action() {
                Action::Headers(headers) => set_headers(response.headers_mut(), headers),
                Action::Replace(error) => response = error.into_response(),
            }
            Ok(response)
        })
    }
}
