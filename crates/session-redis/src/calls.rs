//! How a call reaches Redis: on the shared connection, sent once more on a new one if
//! that connection turns out dead, with the script's code (`EVAL`) if Redis forgot it,
//! and with `WAIT` behind a write when replicas must acknowledge it.

use std::time::SystemTime;

use redis::{Cmd, ErrorKind, FromRedisValue, RedisError, ServerErrorKind, Value};
use session_core::__private::error_chain;
use session_core::store::{lease::Resend, EntryOptions, Fence, LockToken};
use session_core::{Error, Result};

use crate::{
    cache::RedisCache,
    keys::{duration_ticks, instant_ticks, ttl_ms, KeyName},
    manager::{Handle, Sent},
    scripts::{self, Lua, ScriptCall},
};

impl RedisCache {
    /// Sends one plain command.
    pub(crate) async fn exec(&self, operation: &'static str, cmd: &Cmd) -> Result<Value> {
        let mut route = Route::default();
        let result = self.deliver(operation, cmd, None, &mut route).await?;
        settle(route.handle.as_ref(), operation, result).map(|sent| sent.value)
    }

    /// Sends `cmd` (with `wait` behind it in the same round trip, if given) on the shared
    /// connection. If that connection turns out dead (Redis restarted, or closed idle
    /// clients) or answers from a replica (`READONLY`, after a failover), `cmd` goes once
    /// more on a new one, so the first request after a restart or a failover does not
    /// fail. Every script is safe to send twice: the lock script takes the same lease
    /// again for the same token, and a commit that did run the first time finds its lease
    /// gone and reports it lost (503) rather than writing again.
    ///
    /// `route` tells where `cmd` went (see [`Route`]).
    async fn deliver(
        &self,
        operation: &'static str,
        cmd: &Cmd,
        wait: Option<&Cmd>,
        route: &mut Route,
    ) -> Result<std::result::Result<Sent, RedisError>> {
        let first = route.handle.insert(self.connector.handle(operation).await?);
        match first.send_packet(cmd, wait).await {
            // the shared connection is always one the pool lent before
            Err(error) if Resend::once().again(first.observe(&error), true) => {
                tracing::debug!(error = %error_chain(&error), "Redis connection found dead or on a replica; sending again on a new one");
                route.resent = true;
                let fresh = route.handle.insert(self.connector.handle(operation).await?);
                Ok(fresh.send_packet(cmd, wait).await)
            }
            result => Ok(result),
        }
    }

    /// Runs one script call (`EVALSHA`); if Redis forgot the script (`NOSCRIPT`, after a
    /// restart), calls it again with its code (`EVAL`).
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        operation: &'static str,
        call: &ScriptCall,
    ) -> Result<T> {
        self.run_on(operation, call, &mut Route::default()).await
    }

    /// [`run`](Self::run), telling where the call went in `route`.
    pub(crate) async fn run_on<T: FromRedisValue>(
        &self,
        operation: &'static str,
        call: &ScriptCall,
        route: &mut Route,
    ) -> Result<T> {
        let sent = self.run_packet(operation, call, None, route).await?;
        T::from_redis_value(sent.value).map_err(|error| Error::store(operation, error))
    }

    /// Runs a call that writes (a commit that stores or removes, a create, a plain write)
    /// and answers an integer, 0 when it wrote nothing: with `WAIT` behind it in the same
    /// round trip when replicas must acknowledge writes (see
    /// [`RedisCacheOptions::replica_acks`](crate::RedisCacheOptions::replica_acks)). The
    /// acknowledgements count only when the call wrote: a commit that lost its lease is
    /// reported as such, whatever the replicas did.
    pub(crate) async fn run_write(&self, operation: &'static str, call: &ScriptCall) -> Result<i64> {
        let wait = self.wait_command();
        let mut route = Route::default();
        let sent = self
            .run_packet(operation, call, wait.as_ref(), &mut route)
            .await?;
        self.written(operation, sent)
    }

    /// [`exec`](Self::exec) of a plain command that writes and answers how many keys it
    /// changed (`DEL`), with `WAIT` as in [`run_write`](Self::run_write).
    pub(crate) async fn exec_write(&self, operation: &'static str, cmd: &Cmd) -> Result<i64> {
        let wait = self.wait_command();
        let mut route = Route::default();
        let result = self.deliver(operation, cmd, wait.as_ref(), &mut route).await?;
        let sent = settle(route.handle.as_ref(), operation, result)?;
        self.written(operation, sent)
    }

    /// `WAIT <count> <timeout ms>`, if replicas must acknowledge writes.
    fn wait_command(&self) -> Option<Cmd> {
        self.replica_acks.map(|(count, ms)| {
            let mut wait = redis::cmd("WAIT");
            wait.arg(count).arg(ms);
            wait
        })
    }

    /// The integer a write answered (0: it wrote nothing); unless 0, fails with
    /// [`NotReplicated`] if the `WAIT` behind it answered fewer replicas than asked for.
    fn written(&self, operation: &'static str, sent: Sent) -> Result<i64> {
        let wrote = i64::from_redis_value(sent.value).map_err(|error| Error::store(operation, error))?;
        let (Some((wanted, ms)), Some(acks), true) = (self.replica_acks, sent.acks, wrote != 0) else {
            return Ok(wrote);
        };
        let acked = i64::from_redis_value(acks).map_err(|error| Error::store(operation, error))?;
        if acked < i64::from(wanted) {
            return Err(Error::store(operation, NotReplicated { wanted, acked, ms }));
        }
        Ok(wrote)
    }

    async fn run_packet(
        &self,
        operation: &'static str,
        call: &ScriptCall,
        wait: Option<&Cmd>,
        route: &mut Route,
    ) -> Result<Sent> {
        let mut result = self.deliver(operation, &call.cmd, wait, route).await?;
        if let (Some(handle), Err(e)) = (route.handle.as_mut(), &result) {
            if forgot_script(e) {
                // boxed: a rare path that would otherwise double every call's future
                result = Box::pin(handle.send_packet(&call.eval(), wait)).await;
            }
        }
        settle(route.handle.as_ref(), operation, result)
    }

    /// Writes an entry with `script` (SET or CREATE: KEYS data; ARGV data, absexp,
    /// sldexp, ttl). `None` if the entry would already be expired (nothing is sent).
    pub(crate) async fn write(
        &self,
        operation: &'static str,
        script: &'static Lua,
        key: &str,
        value: Vec<u8>,
        options: &EntryOptions,
    ) -> Result<Option<i64>> {
        let Some(ttl) = ttl_ms(options, SystemTime::now()) else {
            return Ok(None);
        };
        let (abs, sld) = expiry_args(options);
        let mut call = script.call(&[KeyName::data(&self.prefix, key)], value.len() + 64);
        call.arg(value).arg(abs).arg(sld).arg(ttl);
        self.run_write(operation, &call).await.map(Some)
    }
}

/// A commit that fewer replicas acknowledged than asked for, in time. It was applied on
/// the master: it may or may not survive a failover, so it is not acknowledged (503).
#[derive(Debug)]
struct NotReplicated {
    wanted: u32,
    acked: i64,
    ms: u64,
}

impl std::fmt::Display for NotReplicated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the commit reached {} of the {} replicas asked for within {} ms (WAIT); it was applied on the master but is not acknowledged",
            self.acked, self.wanted, self.ms
        )
    }
}

impl std::error::Error for NotReplicated {}

/// Where a call went: the connection it went out on last (or is about to), if any, and
/// whether it was sent again because the first connection failed under it (it may have
/// run there, its reply lost). While a new connection is found, `handle` keeps the dead
/// one, so that a call cut off then still has its release sent.
#[derive(Default)]
pub(crate) struct Route {
    pub(crate) handle: Option<Handle>,
    pub(crate) resent: bool,
}

/// Whether Redis answered that it does not know the script (`NOSCRIPT`, after a
/// restart, or on a node that was down when the connection loaded the scripts): call it
/// again with its code.
pub(crate) fn forgot_script(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}

/// Maps a Redis result, marking the connection broken on transport errors.
fn settle<T>(
    handle: Option<&Handle>,
    operation: &'static str,
    result: std::result::Result<T, RedisError>,
) -> Result<T> {
    result.map_err(|error| {
        if let Some(handle) = handle {
            handle.observe(&error);
        }
        Error::store(operation, error)
    })
}

/// `absexp` and `sldexp` of `options`, in ticks (-1 for none).
pub(crate) fn expiry_args(options: &EntryOptions) -> (i64, i64) {
    (
        options.absolute_expiration.map_or(-1, instant_ticks),
        options.sliding_expiration.map_or(-1, duration_ticks),
    )
}

/// The call that releases the lease, deleting the entry too if `remove` gives the fence
/// it must still be at.
pub(crate) fn unlock_call(keys: &[KeyName<'_>], token: &LockToken, remove: Option<Fence>) -> ScriptCall {
    let mut call = scripts::COMMIT_UNLOCK.call(keys, 64);
    call.arg(token.as_bytes());
    match remove {
        Some(fence) => call.arg("1").arg(fence.get()),
        None => call.arg("0").arg(0),
    };
    call
}
