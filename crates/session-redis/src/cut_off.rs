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
//! If the release fails or gets no answer in that time, it is sent again on working
//! connections until the lease would have expired anyway.
//!
//! The engine sends a release of its own after a cut-off lock call. This store answers
//! that one without a round trip, because the task above is responsible for it, or
//! because the call was cut off before it went out (waiting for a connection, as during
//! an outage), when there is nothing to release.

use std::time::{Duration, Instant};

use redis::{RedisError, Value};
use session_core::store::lease::release_until;
use session_core::store::LockToken;

use crate::{
    cache::RedisCache,
    calls::{forgot_script, unlock_call, Route},
    errors::is_transport_failure,
    keys::KeyName,
    manager::Handle,
    scripts::ScriptCall,
};

/// A lock call on its way. Dropped before it [`returned`](Self::returned), it sends the
/// release of its token behind the call, or notes that there is none to send if the call
/// never went out (see the module docs).
pub(crate) struct LockCall<'a> {
    cache: &'a RedisCache,
    key: &'a str,
    token: &'a LockToken,
    /// How long the release waits for its reply (keeping the connection open).
    lease: Duration,
    /// Where the call went.
    pub(crate) route: Route,
    fate: Fate,
}

/// How a [`LockCall`] ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Not at all: it was cut off (the engine releases the token too).
    CutOff,
    /// With a reply, or an error that says it did not run.
    Answered,
    /// With its connection failing under it: it may have run, its reply lost (the engine
    /// releases nothing after a lock call's store error).
    Failed,
}

impl<'a> LockCall<'a> {
    pub(crate) fn new(cache: &'a RedisCache, key: &'a str, token: &'a LockToken, lease: Duration) -> Self {
        LockCall {
            cache,
            key,
            token,
            lease,
            route: Route::default(),
            fate: Fate::CutOff,
        }
    }

    /// The call came back with `reply`. A reply, or an error from the server on a
    /// working connection, leaves nothing to release; an error after the call went out
    /// on a connection that failed (a transport error, or a refusal from the new
    /// connection it was sent again on, as while Redis loads its data) may hide a lease
    /// the call took, which is then released in the background.
    pub(crate) fn returned<T>(mut self, reply: &session_core::Result<T>) {
        let failed_under = match (&self.route.handle, reply) {
            (Some(handle), Err(error)) => {
                self.route.resent || is_transport_failure(error) || handle.is_broken()
            }
            _ => false,
        };
        self.fate = if failed_under {
            Fate::Failed
        } else {
            Fate::Answered
        };
    }
}

impl Drop for LockCall<'_> {
    fn drop(&mut self) {
        if self.fate == Fate::Answered {
            return;
        }
        let Some(handle) = self.route.handle.take() else {
            // cut off before it went out: no lease can come of it
            self.cache.released.record(self.token);
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // no runtime to send it on: the lease expires on its own
            return;
        };
        let data = KeyName::data(&self.cache.prefix, self.key);
        let release = unlock_call(&[data], self.token, None);
        if self.fate == Fate::CutOff {
            self.cache.released.record(self.token);
        }
        runtime.spawn(release_behind(self.cache.clone(), handle, release, self.lease));
    }
}

/// Sends `release` on `handle` (behind the call), and [again](release_again) on working
/// connections if that fails or gets no answer, until `lease` has passed.
async fn release_behind(cache: RedisCache, mut handle: Handle, release: ScriptCall, lease: Duration) {
    // (a lease past any Instant, from a caller of `SessionLock` other than the engine,
    // which caps it at 100 years: a day of retries is as good)
    let deadline = Instant::now()
        .checked_add(lease)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
    let behind = tokio::time::timeout(lease, send(&mut handle, &release)).await;
    drop(handle);
    if let Ok(Ok(_)) = behind {
        tracing::debug!("lease of a cut-off lock call released");
        return;
    }
    release_again(&cache, &release, deadline).await;
}

/// Sends `release` (of a lease that may still be in Redis) on a working connection,
/// trying again while that fails (any error: Redis cannot be reached, or is still
/// loading its data) on core's schedule until `deadline`, when the lease has expired
/// anyway: a Redis that restarts with its data (AOF or RDB) brings the lease back, and the
/// session is free again within about a second of Redis's return.
async fn release_again(cache: &RedisCache, release: &ScriptCall, deadline: Instant) {
    let attempt = || async {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, cache.run::<i64>("release", release)).await {
            Ok(answer) => answer.map(drop),
            // no answer until the lease expired: nothing is left to release
            Err(_) => Ok(()),
        }
    };
    release_until(Some(deadline), |_| true, attempt).await;
}

/// Sends a script call on `handle`, with its code if Redis forgot the script.
async fn send(handle: &mut Handle, call: &ScriptCall) -> Result<Value, RedisError> {
    match handle.send(&call.cmd).await {
        Err(e) if forgot_script(&e) => handle.send(&call.eval()).await,
        result => result,
    }
}
