//! Turning the core's error responses into actix responses.

use actix_web::{
    http::{header, StatusCode},
    HttpResponse,
};
use session_core::ErrorResponse;

/// The actix response for `error`: its status, JSON body and, for 503, `Retry-After`.
pub(crate) fn error_response(error: &ErrorResponse) -> HttpResponse {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, ErrorResponse::CONTENT_TYPE));
    if let Some(secs) = error.retry_after() {
        response.insert_header((header::RETRY_AFTER, secs));
    }
    response.body(error.body.clone())
}
