//! What a Redis error means to the store: a transport failure (the connection is dead, or
//! never came up) or an answer of the server; and the errors of the connect steps, saying
//! which step got no answer.

use std::{sync::Arc, time::Duration};

use redis::RedisError;

/// Whether `error` came from the transport (the server went away or was never reached,
/// the connection was reset, a read timed out) rather than from a reply of the server.
pub(crate) fn is_transport(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
}

/// Whether the server answered that it cannot take writes (`READONLY`): the connection
/// goes to a replica, as the old master of a Sentinel failover becomes one. The
/// connection is given up, so that the next one asks the sentinels where the master is.
pub(crate) fn is_wrong_node(error: &RedisError) -> bool {
    // Redis before 7 wraps a READONLY met inside a script in an ERR
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        || (!is_transport(error) && error.to_string().contains("READONLY"))
}

/// [`is_transport`] for the store's errors: an [`Error::Store`](session_core::Error)
/// whose cause is such a Redis error (as a call reports it, or shared, as the connector
/// reports a failed connection attempt to every call that waited for it).
pub(crate) fn is_transport_failure(error: &session_core::Error) -> bool {
    let session_core::Error::Store { source, .. } = error else {
        return false;
    };
    match source.downcast_ref::<RedisError>() {
        Some(redis) => is_transport(redis),
        None => source
            .downcast_ref::<Arc<RedisError>>()
            .is_some_and(|redis| is_transport(redis)),
    }
}

pub(crate) const CONNECTING: &str = "connecting (TCP connect, TLS handshake, AUTH/SELECT); is the address a Redis, and does it speak TLS exactly when the address asks for it?";
pub(crate) const LOADING: &str = "loading the session scripts";
pub(crate) const RESOLVING: &str = "asking the sentinels where the master is";

/// A connect step that got no answer within the connect timeout, saying which.
pub(crate) fn timed_out(after: Duration, step: &str) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer within the connect timeout ({after:?}) while {step}"),
    ))
}

/// A script load that Redis refused, as its first refusal: Redis refuses every command
/// of the pipeline alike (`NOAUTH` when a password is missing), and the whole list would
/// make a long line of the same words.
pub(crate) fn first_refusal(error: RedisError) -> RedisError {
    if is_transport(&error) {
        return error;
    }
    let (kind, text) = (error.kind(), error.to_string());
    match error.into_server_errors().as_deref() {
        Some([(_, first), ..]) => RedisError::from(first.clone()),
        _ => RedisError::from((kind, "loading the session scripts failed", text)),
    }
}
