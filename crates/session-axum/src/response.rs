//! Turning the core's error responses into axum responses.

use axum::{body::Body, response::Response};
use http::{
    header::{CONTENT_TYPE, RETRY_AFTER},
    HeaderValue, StatusCode,
};
use session_core::ErrorResponse;

/// The axum response for `error`: its status, JSON body and, for 503, `Retry-After`.
pub(crate) fn error_response(error: &ErrorResponse) -> Response {
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
