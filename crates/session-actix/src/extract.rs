//! The `Session` extractor, `SessionExt`, and the error types handlers return.

use std::{
    future::{ready, Ready},
    ops::Deref,
};

use actix_web::{
    dev::{Payload, ServiceRequest},
    http::StatusCode,
    FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError,
};
use session_core::{Error, ErrorResponse};

use crate::response::error_response;

/// The current request's session, for actix handlers. Derefs to
/// [`session_core::Session`], which has every accessor.
#[derive(Debug, Clone)]
pub struct Session(session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Session {
    /// The core handle.
    pub fn into_inner(self) -> session_core::Session {
        self.0
    }
}

/// Access to the session from a request, for code that is not an extractor (guards,
/// other middleware).
pub trait SessionExt {
    /// The request's session.
    ///
    /// # Errors
    /// [`SessionMiddlewareMissing`] if the app has no [`SessionMiddleware`](crate::SessionMiddleware).
    fn get_session(&self) -> Result<Session, SessionMiddlewareMissing>;
}

fn from_extensions(extensions: &actix_web::dev::Extensions) -> Result<Session, SessionMiddlewareMissing> {
    match extensions.get::<session_core::Session>() {
        Some(session) => Ok(Session(session.clone())),
        None => {
            tracing::error!("{}", SessionMiddlewareMissing::MESSAGE);
            Err(SessionMiddlewareMissing)
        }
    }
}

impl SessionExt for HttpRequest {
    fn get_session(&self) -> Result<Session, SessionMiddlewareMissing> {
        from_extensions(&self.extensions())
    }
}

impl SessionExt for ServiceRequest {
    fn get_session(&self) -> Result<Session, SessionMiddlewareMissing> {
        from_extensions(&self.extensions())
    }
}

impl FromRequest for Session {
    type Error = SessionMiddlewareMissing;
    type Future = Ready<Result<Session, SessionMiddlewareMissing>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.get_session())
    }
}

/// Error of the [`Session`] extractor when the app has no
/// [`SessionMiddleware`](crate::SessionMiddleware): a 500 that says how to fix it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionMiddlewareMissing;

impl SessionMiddlewareMissing {
    const MESSAGE: &'static str = "Session middleware missing: add `SessionMiddleware` to the app";
}

impl std::fmt::Display for SessionMiddlewareMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl ResponseError for SessionMiddlewareMissing {
    fn error_response(&self) -> HttpResponse {
        error_response(&ErrorResponse::internal(Self::MESSAGE))
    }
}

/// A session error as a handler's error type: `?` converts [`session_core::Error`]
/// into it, and it answers with the error's status and a JSON body that shows no
/// internals (503 for store or lock failures).
#[derive(Debug)]
pub struct SessionError(pub Error);

impl From<Error> for SessionError {
    fn from(error: Error) -> Self {
        SessionError(error)
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&ErrorResponse::from_handler_error(&self.0))
    }
}
