//! actix-web 4: the extractor, [`SessionExt`], and errors as responses.

use std::future::{ready, Ready};

use actix_web::{
    dev::{Extensions, Payload, ServiceRequest},
    http::{header, StatusCode},
    FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError,
};

use super::SessionRejection;
use crate::{engine::ErrorResponse, error::Error, session::scope::RequestHead, session::Session};

/// The session of a request, for code that is not a handler (guards, other middleware).
///
/// ```
/// use actix_web::HttpRequest;
/// use session_core::SessionExt;
///
/// async fn user(req: HttpRequest) -> Result<Option<String>, session_core::Error> {
///     match req.get_session() {
///         Ok(session) => session.get("user").await,
///         Err(_no_middleware) => Ok(None),
///     }
/// }
/// ```
pub trait SessionExt {
    /// The request's session.
    ///
    /// # Errors
    /// [`SessionRejection`] if the app has no `SessionMiddleware`.
    fn get_session(&self) -> Result<Session, SessionRejection>;
}

fn from_extensions(extensions: &Extensions) -> Result<Session, SessionRejection> {
    match extensions.get::<Session>() {
        Some(session) => Ok(session.clone()),
        None => Err(SessionRejection::middleware_missing().logged()),
    }
}

impl SessionExt for HttpRequest {
    fn get_session(&self) -> Result<Session, SessionRejection> {
        from_extensions(&self.extensions())
    }
}

impl SessionExt for ServiceRequest {
    fn get_session(&self) -> Result<Session, SessionRejection> {
        from_extensions(&self.extensions())
    }
}

impl FromRequest for Session {
    type Error = SessionRejection;
    type Future = Ready<Result<Session, SessionRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.get_session())
    }
}

/// What the engine reads of an actix-web request (`SessionMiddleware` passes it to
/// [`SessionEngine::begin`](crate::adapter::SessionEngine::begin)).
impl RequestHead for ServiceRequest {
    const ADAPTER: &'static str = "SessionMiddleware";

    fn scheme(&self) -> Option<&str> {
        // a TLS listener counts as HTTPS too
        if self.app_config().secure() {
            Some("https")
        } else {
            self.uri().scheme_str()
        }
    }

    fn header_values(&self, name: &'static str) -> impl Iterator<Item = &[u8]> {
        self.headers().get_all(name).map(|value| value.as_bytes())
    }

    fn has_session(&self) -> bool {
        self.extensions().contains::<Session>()
    }
}

impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.response())
    }
}

/// A handler's `Err(Error)`: the error's status (503 for store and lock failures) and a
/// JSON body that shows no internals.
impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&ErrorResponse::from_handler_error(self))
    }
}

impl ErrorResponse {
    /// The actix-web response: the status, JSON body and, for 503, `Retry-After`.
    ///
    /// ```
    /// use session_core::adapter::ErrorResponse;
    /// let response = ErrorResponse::internal("add the middleware").to_actix();
    /// assert_eq!(response.status().as_u16(), 500);
    /// ```
    pub fn to_actix(&self) -> HttpResponse {
        error_response(self)
    }
}

fn error_response(error: &ErrorResponse) -> HttpResponse {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, ErrorResponse::CONTENT_TYPE));
    if let Some(secs) = error.retry_after() {
        response.insert_header((header::RETRY_AFTER, secs));
    }
    response.body(error.body.clone())
}
