//! What handlers see of the session on each framework: the [`Session`](crate::session::Session)
//! extractor, its [`SessionRejection`], and [`Error`](crate::error::Error) as a response. The
//! framework impls sit behind the `axum` and `actix` features; the layer and the
//! middleware themselves stay in the adapter crates.

#[cfg(feature = "actix")]
pub(crate) mod actix;
#[cfg(feature = "axum")]
pub(crate) mod axum;

use crate::engine::ErrorResponse;

/// Why the [`Session`](crate::session::Session) extractor failed: the route is not wrapped by the
/// session layer (axum) or middleware (actix-web). Answers a 500 whose body names the
/// fix, and logs it.
///
/// ```
/// use session_core::SessionRejection;
/// let rejection = SessionRejection::layer_missing();
/// assert_eq!(rejection.status(), 500);
/// assert!(rejection.body_text().contains("SessionLayer"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRejection {
    message: &'static str,
}

impl SessionRejection {
    /// axum: the router has no `SessionLayer`.
    ///
    /// ```
    /// assert_eq!(session_core::SessionRejection::layer_missing().status(), 500);
    /// ```
    pub const fn layer_missing() -> Self {
        SessionRejection {
            message: "Session layer missing: add `SessionLayer` to the router",
        }
    }

    /// actix-web: the app has no `SessionMiddleware`.
    ///
    /// ```
    /// let rejection = session_core::SessionRejection::middleware_missing();
    /// assert!(rejection.to_string().contains("SessionMiddleware"));
    /// ```
    pub const fn middleware_missing() -> Self {
        SessionRejection {
            message: "Session middleware missing: add `SessionMiddleware` to the app",
        }
    }

    /// The response status: 500 (a server-side wiring mistake).
    ///
    /// ```
    /// assert_eq!(session_core::SessionRejection::middleware_missing().status(), 500);
    /// ```
    pub const fn status(&self) -> u16 {
        500
    }

    /// The JSON body of the response: `{"error": "<the fix>"}`.
    ///
    /// ```
    /// let body = session_core::SessionRejection::layer_missing().body_text();
    /// assert!(body.starts_with(r#"{"error":"#));
    /// ```
    pub fn body_text(&self) -> String {
        self.response().body
    }

    fn response(&self) -> ErrorResponse {
        ErrorResponse::internal(self.message)
    }

    /// Logs the mistake (once per rejected request).
    #[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
    fn logged(self) -> Self {
        tracing::error!("{}", self.message);
        self
    }
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for SessionRejection {}
