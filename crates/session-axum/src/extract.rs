//! The `Session` extractor and the error types handlers return.

use std::ops::Deref;

use axum::{
    extract::FromRequestParts,
    response::{IntoResponse, Response},
};
use http::request::Parts;
use session_core::{Error, ErrorResponse};

use crate::response::error_response;

/// The current request's session, for axum handlers. Derefs to
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

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionLayerMissing;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<session_core::Session>() {
            Some(session) => Ok(Session(session.clone())),
            None => {
                tracing::error!("{}", SessionLayerMissing::MESSAGE);
                Err(SessionLayerMissing)
            }
        }
    }
}

/// Rejection of the [`Session`] extractor when the router has no
/// [`SessionLayer`](crate::SessionLayer): a 500 that says how to fix it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionLayerMissing;

impl SessionLayerMissing {
    const MESSAGE: &'static str = "Session layer missing: add `SessionLayer` to the router";
}

impl std::fmt::Display for SessionLayerMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl std::error::Error for SessionLayerMissing {}

impl IntoResponse for SessionLayerMissing {
    fn into_response(self) -> Response {
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

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        error_response(&ErrorResponse::from_handler_error(&self.0))
    }
}
