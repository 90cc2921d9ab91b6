//! The HTTP side of a commit: what an adapter does to the response ([`Outcome`], as
//! headers to copy or a response to send instead: [`Action`]), and the error responses
//! it sends ([`ErrorResponse`]), whose bodies never show internals.

use std::borrow::Cow;

use crate::{error::chain, error::Error};

/// What the adapter does to the response once the session is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// The session was not used or needs no cookie change: leave the response alone.
    Unchanged,
    /// Append this `Set-Cookie` header value to the response.
    SetCookie(String),
    /// The session could not be saved: replace the response with this one.
    Failed(ErrorResponse),
}

impl Outcome {
    /// Headers an adapter sets, replacing the handler's, on a response that carries a
    /// [`SetCookie`](Self::SetCookie), as ASP.NET Core's session middleware does: no
    /// cache may keep a response that hands out a session cookie and replay it to other
    /// clients. (Lower-case names, valid as static header names and values.)
    pub const NO_CACHE_HEADERS: [(&'static str, &'static str); 3] = [
        ("cache-control", "no-cache,no-store"),
        ("pragma", "no-cache"),
        ("expires", "-1"),
    ];
}

/// An error response an adapter sends in place of the handler's: a status and a JSON
/// body `{"error": "..."}` that never contains internal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// HTTP status (503 for store and lock failures).
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

impl ErrorResponse {
    /// The body's content type.
    pub const CONTENT_TYPE: &'static str = "application/json";

    /// The response for `error`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{adapter::ErrorResponse, Error};
    /// let response = ErrorResponse::from_error(&Error::LockTimeout { after: Duration::from_secs(10) });
    /// assert_eq!(response.status, 503);
    /// ```
    pub fn from_error(error: &Error) -> Self {
        ErrorResponse {
            status: error.status(),
            body: serde_json::json!({ "error": error.public_message() }).to_string(),
        }
    }

    /// The response for a session error a handler returned (through an adapter's
    /// `SessionError`); server-side failures are logged with their cause, since the body
    /// shows none.
    ///
    /// ```
    /// use session_core::{adapter::ErrorResponse, Error};
    /// let response = ErrorResponse::from_handler_error(&Error::Closed);
    /// assert_eq!(response.status, 500);
    /// ```
    pub fn from_handler_error(error: &Error) -> Self {
        if error.status() >= 500 {
            tracing::warn!(error = %chain(error), "session error returned by a handler");
        }
        Self::from_error(error)
    }

    /// A 500 whose body names a server-side mistake (`{"error": message}`), e.g. a
    /// missing session layer: the message is the developer's fix, never request data.
    ///
    /// ```
    /// let response = session_core::adapter::ErrorResponse::internal("add the layer");
    /// assert_eq!(response.body, r#"{"error":"add the layer"}"#);
    /// ```
    pub fn internal(message: &str) -> Self {
        ErrorResponse {
            status: 500,
            body: serde_json::json!({ "error": message }).to_string(),
        }
    }

    /// The response when a request already has a session: the session adapter `name`
    /// was applied twice. Logs the mistake; one session configuration per app.
    ///
    /// ```
    /// let response = session_core::adapter::ErrorResponse::applied_twice("SessionLayer");
    /// assert_eq!(response.status, 500);
    /// ```
    pub fn applied_twice(name: &str) -> Self {
        tracing::error!("{name} applied twice on one route: use one session configuration per app");
        Self::internal(&format!(
            "{name} applied twice: use one session configuration per app"
        ))
    }

    /// Seconds a client should wait before retrying, for 503 responses.
    ///
    /// ```
    /// use session_core::{adapter::ErrorResponse, Error};
    /// assert_eq!(ErrorResponse::from_error(&Error::LeaseLost).retry_after(), Some(1));
    /// assert_eq!(ErrorResponse::internal("x").retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<u32> {
        (self.status == 503).then_some(1)
    }
}

/// A header an adapter sets on the handler's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Lower-case name.
    pub name: &'static str,
    /// The value: visible ASCII, valid in any framework's header type.
    pub value: Cow<'static, str>,
    /// Append (`Set-Cookie`: the handler may set cookies of its own) or replace.
    pub append: bool,
}

/// What an adapter does to the handler's response once the session is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Set these headers (none when the session needs no cookie change).
    Headers(Vec<ResponseHeader>),
    /// The session could not be saved: send this response instead.
    Replace(ErrorResponse),
}

impl Outcome {
    /// What the adapter does to the response: for a new or changed cookie, `Set-Cookie`
    /// (appended) and the no-cache headers ASP.NET Core's session middleware sets too
    /// (replacing the handler's: no cache may replay a response that hands out a session
    /// cookie); nothing for an unchanged session; the error response for a failed one.
    ///
    /// ```
    /// use session_core::adapter::{Action, Outcome};
    /// assert_eq!(Outcome::Unchanged.into_action(), Action::Headers(Vec::new()));
    /// let Action::Headers(headers) = Outcome::SetCookie("id=v; Path=/".into()).into_action() else {
    ///     unreachable!()
    /// };
    /// assert_eq!((headers[0].name, headers[0].append), ("set-cookie", true));
    /// ```
    pub fn into_action(self) -> Action {
        match self {
            Outcome::Unchanged => Action::Headers(Vec::new()),
            Outcome::SetCookie(value) => {
                let mut headers = vec![ResponseHeader {
                    name: "set-cookie",
                    value: Cow::Owned(value),
                    append: true,
                }];
                headers.extend(Outcome::NO_CACHE_HEADERS.map(|(name, value)| ResponseHeader {
                    name,
                    value: Cow::Borrowed(value),
                    append: false,
                }));
                Action::Headers(headers)
            }
            Outcome::Failed(response) => Action::Replace(response),
        }
    }
}
