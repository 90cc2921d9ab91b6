//! The one error type of the session core, shared by stores and handlers.

use std::time::Duration;

/// A boxed error from a store's client library, kept as the cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`enum@Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a session or a store.
///
/// Store implementations return the store-side variants ([`Error::Store`],
/// [`Error::Timeout`], [`Error::LeaseLost`], [`Error::EntryTooLarge`]); handlers see the
/// rest. [`Error::status`] and [`Error::public_message`] give what an HTTP response may
/// show: they never contain internal details, which are logged instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store's client failed (connection refused, protocol error, ...).
    #[error("session store error during {operation}")]
    Store {
        /// The store operation that failed (`"get"`, `"lock"`, `"commit"`, ...).
        operation: &'static str,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
    /// A store call took longer than the configured IOTimeout.
    #[error("session store did not answer {operation} within {after:?}")]
    Timeout {
        /// The store operation that timed out.
        operation: &'static str,
        /// The IOTimeout that was exceeded.
        after: Duration,
    },
    /// The session's lock was not acquired within the lock wait.
    #[error("session lock not acquired within {after:?}")]
    LockTimeout {
        /// How long the request waited.
        after: Duration,
    },
    /// Too many sessions are locked at once in this process (see
    /// `SessionEngineBuilder::max_locked_sessions`).
    #[error("too many sessions locked at once ({limit})")]
    LockTableFull {
        /// The configured bound.
        limit: usize,
    },
    /// The commit no longer held the session's lease (it expired and another owner may
    /// have taken it), so nothing was written.
    #[error("session lease lost before commit; nothing was written")]
    LeaseLost,
    /// `set` would make the session payload larger than the configured cap; nothing was
    /// changed.
    #[error("session payload would be {size} bytes, over the {limit}-byte cap")]
    PayloadTooLarge {
        /// The encoded size the payload would have had.
        size: usize,
        /// The configured cap.
        limit: usize,
    },
    /// A single cache entry is larger than the whole store may hold.
    #[error("cache entry of {size} bytes exceeds the store size limit of {limit} bytes")]
    EntryTooLarge {
        /// Size of the entry, in bytes.
        size: usize,
        /// The store's size limit, in bytes.
        limit: usize,
    },
    /// The value under `key` is not of the requested type.
    #[error("session value {key:?} is not a valid {expected}")]
    TypeMismatch {
        /// The key that was read.
        key: String,
        /// The type the getter expected.
        expected: &'static str,
    },
    /// A value could not be written as JSON (a map with keys that are not strings, a
    /// `Serialize` impl that fails).
    #[error("session value {key:?} could not be serialized")]
    Serialization {
        /// The key that was read or written.
        key: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The session was used after its response was committed.
    #[error("session used after its request finished")]
    Closed,
    /// A change after [`Session::save`](crate::Session::save): the session is already
    /// committed, so the change would be lost.
    #[error("session changed after save(): the change would be lost")]
    Saved,
    /// The session could not be loaded: earlier in this request, or for the request of
    /// the same session ahead of this one; see the log for the cause.
    #[error("session unavailable: {0}")]
    Unavailable(&'static str),
    /// The configuration is invalid.
    #[error("invalid session configuration: {0}")]
    Config(String),
}

impl Error {
    /// Wraps a client library error from the store operation `operation`.
    ///
    /// ```
    /// let error = session_core::Error::store("get", std::io::Error::other("connection reset"));
    /// assert_eq!(error.status(), 503);
    /// ```
    pub fn store(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Store {
            operation,
            source: source.into(),
        }
    }

    /// The HTTP status a response caused by this error should carry.
    ///
    /// ```
    /// use session_core::Error;
    /// assert_eq!(Error::PayloadTooLarge { size: 70_000, limit: 65_536 }.status(), 413);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Error::Store { .. }
            | Error::Timeout { .. }
            | Error::LockTimeout { .. }
            | Error::LockTableFull { .. }
            | Error::LeaseLost
            | Error::Unavailable(_) => 503,
            Error::PayloadTooLarge { .. } | Error::EntryTooLarge { .. } => 413,
            Error::TypeMismatch { .. }
            | Error::Serialization { .. }
            | Error::Closed
            | Error::Saved
            | Error::Config(_) => 500,
        }
    }

    /// A short message safe to show to a client (no internals, no ids).
    ///
    /// ```
    /// use session_core::Error;
    /// assert_eq!(Error::LeaseLost.public_message(), "Session lock expired before the changes were saved; try again");
    /// ```
    pub fn public_message(&self) -> &'static str {
        match self {
            Error::Store { .. } | Error::Timeout { .. } | Error::Unavailable(_) => {
                "Session store unavailable; try again later"
            }
            Error::LockTimeout { .. } | Error::LockTableFull { .. } => {
                "Session is busy with another request; try again later"
            }
            Error::LeaseLost => "Session lock expired before the changes were saved; try again",
            Error::PayloadTooLarge { .. } | Error::EntryTooLarge { .. } => {
                "Session data exceeds the size limit"
            }
            Error::TypeMismatch { .. } | Error::Serialization { .. } => {
                "Session value has an unexpected type"
            }
            Error::Closed | Error::Saved | Error::Config(_) => "Session misconfigured on the server",
        }
    }

    /// Whether the error means the store (or its lock) could not serve the request.
    ///
    /// ```
    /// use session_core::Error;
    /// assert!(Error::LeaseLost.is_unavailable());
    /// assert!(!Error::Closed.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        self.status() == 503
    }

    /// The same kind of error without its cause, for reporting a failure a second time.
    pub(crate) fn summary(&self) -> &'static str {
        match self {
            Error::LockTimeout { .. } | Error::LockTableFull { .. } => "session lock not acquired",
            Error::LeaseLost => "session lease lost",
            _ => "session store unavailable",
        }
    }
}

/// An error and its causes on one line (`outer: inner: root`), for logs. A cause whose
/// text the line already ends with (an error that prints its source itself) is not
/// repeated.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        let repeated = text == inner_text
            || text
                .strip_suffix(inner_text.as_str())
                .is_some_and(|head| head.ends_with(": "));
        if !repeated {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layers(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |source, text| {
                Some(Layer {
                    text,
                    source: source.map(Box::new),
                })
            })
            .unwrap_or(Layer {
                text: "",
                source: None,
            })
    }

    #[test]
    fn causes_follow_on_one_line() {
        assert_eq!(
            chain(&layers(&["store call", "io", "refused"])),
            "store call: io: refused"
        );
    }

    #[test]
    fn a_cause_that_only_ends_like_the_line_is_kept() {
        assert_eq!(chain(&layers(&["not found", "found"])), "not found: found");
    }

    #[test]
    fn a_cause_the_error_already_prints_is_not_repeated() {
        assert_eq!(
            chain(&layers(&[
                "during create: Connection refused",
                "Connection refused"
            ])),
            "during create: Connection refused"
        );
    }
}
