//! End of request: create, write, refresh or delete the session, release its lock, and
//! tell the adapter what to do to the response.

use std::sync::Arc;

use super::EngineInner;
use crate::{
    cache::EntryOptions,
    cookie_header,
    error::chain,
    id::SessionId,
    lock::CommitOp,
    payload::{self, Payload},
    session::{Phase, State},
    values::lifetime_end,
    Error, Result,
};

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

/// Commits `state`; see [`Outcome`].
pub(crate) async fn commit(engine: &Arc<EngineInner>, state: &mut State, secure_request: bool) -> Outcome {
    match std::mem::replace(&mut state.phase, Phase::Finished) {
        Phase::Unloaded | Phase::Finished => Outcome::Unchanged,
        Phase::Saved(outcome) => outcome,
        Phase::Failed { response, .. } => {
            // Leases drop here and are released in the background.
            state.lease = None;
            state.retired = None;
            Outcome::Failed(response)
        }
        Phase::Ready => match write(engine, state, secure_request).await {
            Ok(outcome) => outcome,
            Err(error) => {
                let session = state.id.as_ref().map(ToString::to_string).unwrap_or_default();
                tracing::error!(%session, error = %chain(&error), "session could not be saved; answering 503");
                // Whatever the cause, an unsaved session means the request did not
                // happen as far as the client can tell: 503, retry later.
                Outcome::Failed(ErrorResponse {
                    status: 503,
                    ..ErrorResponse::from_error(&error)
                })
            }
        },
    }
}

async fn write(engine: &EngineInner, state: &mut State, secure_request: bool) -> Result<Outcome> {
    let mut outcome = Outcome::Unchanged;
    if state.is_new {
        if state.modified {
            // (boxed, as the removal below: each runs at most once per session, and
            // inline they would enlarge every commit's future)
            let id = Box::pin(create(engine, state)).await?;
            let value = engine.keys.sign(&id);
            outcome = Outcome::SetCookie(cookie_header::set_cookie(
                &engine.cookie,
                Some(&value),
                secure_request,
            ));
        } else if state.expire_cookie {
            outcome = Outcome::SetCookie(cookie_header::set_cookie(&engine.cookie, None, secure_request));
        }
    } else if let Some(lease) = state.lease.take() {
        let op = if state.modified {
            CommitOp::Set {
                value: encode(state)?,
                options: entry_options(engine, state.created),
            }
        } else {
            CommitOp::Refresh
        };
        let stored = matches!(op, CommitOp::Set { .. });
        lease.commit(op).await?;
        tracing::debug!(session = %state.id.as_ref().map(ToString::to_string).unwrap_or_default(), stored, "session committed");
    }
    if let Some(old) = state.retired.take() {
        let old_id = old.id().clone();
        Box::pin(old.commit(CommitOp::Remove)).await?;
        tracing::debug!(session = %old_id, "old session id deleted");
    }
    Ok(outcome)
}

/// Stores a new session under a fresh id, choosing another id on the (astronomically
/// unlikely) collision with an existing one. Returns the id used.
async fn create(engine: &EngineInner, state: &mut State) -> Result<SessionId> {
    let value = encode(state)?;
    let options = entry_options(engine, state.created);
    for _ in 0..3 {
        let Some(id) = state.id.clone() else {
            break;
        };
        if engine.store.create(id.expose(), value.clone(), options).await? {
            tracing::info!(session = %id, "session started");
            return Ok(id);
        }
        tracing::warn!(session = %id, "new session id already taken; drawing another");
        state.id = Some(SessionId::generate());
    }
    Err(Error::Unavailable("could not draw an unused session id"))
}

fn encode(state: &mut State) -> Result<Vec<u8>> {
    let stored = Payload {
        created: state.created,
        values: std::mem::take(&mut state.values),
    };
    let result = payload::encode(&stored).map_err(|e| Error::store("encode", e));
    state.values = stored.values;
    result
}

fn entry_options(engine: &EngineInner, created: u64) -> EntryOptions {
    let options = EntryOptions::sliding(engine.limits.idle_timeout);
    // `created` is now or a stored time that loading checked against the lifetime
    match engine
        .limits
        .absolute_lifetime
        .and_then(|lifetime| lifetime_end(created, lifetime))
    {
        Some(end) => options.with_absolute(end),
        None => options,
    }
}
