//! axum 0.8: the extractor (also as `Option<Session>`) and errors as responses.

use std::convert::Infallible;

use axum_core::{
    body::Body,
    extract::{FromRequestParts, OptionalFromRequestParts},
    response::{IntoResponse, Response},
};
use http::{
    header::{CONTENT_TYPE, RETRY_AFTER},
    request::Parts,
    HeaderValue, StatusCode,
};

use super::SessionRejection;
use crate::{engine::ErrorResponse, error::Error, session::scope::RequestHead, session::Session};

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Session>() {
            Some(session) => Ok(session.clone()),
            None => Err(SessionRejection::layer_missing().logged()),
        }
    }
}

/// `Option<Session>`: `None` on a route the session layer does not wrap.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned())
    }
}

/// What the engine reads of an axum request (`SessionLayer` passes it to
/// [`SessionEngine::begin`](crate::adapter::SessionEngine::begin)).
impl<B> RequestHead for http::Request<B> {
    const ADAPTER: &'static str = "SessionLayer";

    fn scheme(&self) -> Option<&str> {
        self.uri().scheme_str()
    }

    fn header_values(&self, name: &'static str) -> impl Iterator<Item = &[u8]> {
        self.headers().get_all(name).iter().map(HeaderValue::as_bytes)
    }

    fn has_session(&self) -> bool {
        self.extensions().get::<Session>().is_some()
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        error_response(&self.response())
    }
}

/// A handler's `Err(Error)`: the error's status (503 for store and lock failures) and a
/// JSON body that shows no internals.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&ErrorResponse::from_handler_error(&self))
    }
}

/// An adapter's error response (a 503 for a failed commit, a 500 for a wiring mistake):
/// its status, JSON body and, for 503, `Retry-After`.
impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

fn error_response(error: &ErrorResponse) -> Response {
    let mut response = Response::new(Body::from(error.body.clone()));
    *response.status_mut() = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(ErrorResponse::CONTENT_TYPE),
    );
    if let Some(secs) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
