//! Lock calls cut off before their reply, and the release sent behind each of them.
//!
//! A lock call that its request gave up on (the IO timeout, or the client went away) may
//! still run in Redis: a stalled or paused server runs it when it resumes, and takes the
//! lease for a token that will never commit. The session would then answer 503 until
//! that lease expired. So the release of that token is handed at once to the connection
//! the call went out on: redis-rs writes one connection's commands in the order they were
//! handed to it, and Redis runs them in that order, so the release runs after the call,
//! whenever that runs. The task that sent it keeps the connection open (even one retired
//! as possibly dead) until the release is answered, for at most the lease; commands
//! still queued in redis-rs when the last handle of a connection goes are thrown away.
//! If the release fails or gets no answer in that time, it is sent once more on a
//! working connection.
//!
//! The engine sends a release of its own after a cut-off lock call. This store answers
//! that one without a round trip, because the task above is responsible for it, or
//! because the call was cut off before it went out (waiting for a connection, as during
//! an outage), when there is nothing to release.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use bb8_redis::redis::{ErrorKind, RedisError, ServerErrorKind, Value};
use session_core::{error_chain, LockToken};

use crate::{
    cache::{reload_and_send, unlock_call, RedisCache},
    keys::KeyName,
    manager::Handle,
    scripts::ScriptCall,
};

/// More tokens than this waiting for the engine's release means releases go missing (a
/// caller that never releases): the record is cleared, and the engine's releases that
/// find nothing recorded just go out again.
const MOST_RECORDED: usize = 4096;

/// The tokens whose release was sent behind their cut-off lock call, until the engine
/// asks to release them.
#[derive(Debug, Default)]
pub(crate) struct Released {
    tokens: Mutex<HashSet<[u8; 16]>>,
}

impl Released {
    /// Whether the release of `token` was sent already; forgets it.
    pub(crate) fn take(&self, token: &LockToken) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token.as_bytes())
    }

    fn record(&self, token: &LockToken) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MOST_RECORDED {
            tokens.clear();
        }
        tokens.insert(*token.as_bytes());
    }
}

/// A lock call on its way. Dropped before [`answered`](Self::answered), it sends the
/// release of its token behind the call, or notes that there is none to send if the call
/// never went out (see the module docs).
pub(crate) struct LockCall<'a> {
    cache: &'a RedisCache,
    key: &'a str,
    token: &'a LockToken,
    /// How long the release waits for its reply (keeping the connection open).
    lease: Duration,
    /// The connection the call went out on (or is about to), once there is one.
    pub(crate) handle: Option<Handle>,
    answered: bool,
}

impl<'a> LockCall<'a> {
    pub(crate) fn new(cache: &'a RedisCache, key: &'a str, token: &'a LockToken, lease: Duration) -> Self {
        LockCall {
            cache,
            key,
            token,
            lease,
            handle: None,
            answered: false,
        }
    }

    /// The call came back (with a reply or an error that says it did not run): nothing
    /// to release here.
    pub(crate) fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for LockCall<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let Some(handle) = self.handle.take() else {
            // cut off before it went out: no lease can come of it
            self.cache.released().record(self.token);
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // no runtime to send it on: the engine's release goes out on its own
            return;
        };
        let data = KeyName::data(self.cache.prefix(), self.key);
        let release = unlock_call(&[data, data.lock()], self.token, false);
        self.cache.released().record(self.token);
        runtime.spawn(release_behind(self.cache.clone(), handle, release, self.lease));
    }
}

/// Sends `release` on `handle` (behind the cut-off call), and once more on a working
/// connection if that fails or gets no answer within `lease`.
async fn release_behind(cache: RedisCache, mut handle: Handle, release: ScriptCall, lease: Duration) {
    let behind = tokio::time::timeout(lease, send(&mut handle, &release)).await;
    drop(handle);
    if let Ok(Ok(_)) = behind {
        tracing::debug!("lease of a cut-off lock call released");
        return;
    }
    match tokio::time::timeout(lease, cache.run::<i64>("release", &release)).await {
        Ok(Ok(_)) => tracing::debug!("lease of a cut-off lock call released on another connection"),
        Ok(Err(error)) => {
            tracing::warn!(error = %error_chain(&error), "releasing the lease of a cut-off lock call failed; it will expire on its own")
        }
        Err(_) => tracing::warn!(
            ?lease,
            "releasing the lease of a cut-off lock call got no answer; it will expire on its own"
        ),
    }
}

/// Sends a script call on `handle`, loading the script first if Redis forgot it.
async fn send(handle: &mut Handle, call: &ScriptCall) -> Result<Value, RedisError> {
    match handle.send(&call.cmd).await {
        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            reload_and_send(handle, call).await
        }
        result => result,
    }
}
