//! Lock calls cut off before their reply, and the release sent behind each of them.
//!
//! A lock call that its request gave up on (the IO timeout, or the client went away) may
//! still run in Redis: a stalled or paused server runs it when it resumes, and takes the
//! lease for a token that will never commit. The session would then answer 503 until
//! that lease expired. So the release of that token is sent at once, on the connection
//! the call went out on: Redis runs the commands of one connection in order, so the
//! release finds the lease the call took, whenever that runs. It does so even when the
//! connection is retired meanwhile, because commands already sent on a closed connection
//! still run.
//!
//! The engine sends a release of its own after a cut-off lock call. This store answers
//! that one without a round trip, because its release is on its way already.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use bb8_redis::redis::{ErrorKind, ServerErrorKind};
use session_core::{error_chain, LockToken};

use crate::{
    cache::{reload_and_send, unlock_call},
    keys::KeyName,
    manager::Handle,
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
/// release of its token behind the call (see the module docs).
pub(crate) struct LockCall<'a> {
    prefix: &'a str,
    key: &'a str,
    token: &'a LockToken,
    released: &'a Released,
    /// How long the release waits for its reply (keeping the connection open).
    lease: Duration,
    /// The connection the call went out on, once it did.
    pub(crate) handle: Option<Handle>,
}

impl<'a> LockCall<'a> {
    pub(crate) fn new(
        prefix: &'a str,
        key: &'a str,
        token: &'a LockToken,
        released: &'a Released,
        lease: Duration,
    ) -> Self {
        LockCall {
            prefix,
            key,
            token,
            released,
            lease,
            handle: None,
        }
    }

    /// The call came back (with a reply or an error that says it did not run): nothing
    /// to release here.
    pub(crate) fn answered(mut self) {
        self.handle = None;
    }
}

impl Drop for LockCall<'_> {
    fn drop(&mut self) {
        let Some(mut handle) = self.handle.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // no runtime to send it on: the engine's release goes out on its own
            return;
        };
        let data = KeyName::data(self.prefix, self.key);
        let release = unlock_call(&[data, data.lock()], self.token, false);
        self.released.record(self.token);
        let lease = self.lease;
        runtime.spawn(async move {
            let sent = tokio::time::timeout(lease, async {
                match handle.send(&release.cmd).await {
                    Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                        reload_and_send(&mut handle, &release).await
                    }
                    result => result,
                }
            })
            .await;
            match sent {
                Ok(Ok(_)) => tracing::debug!("lease of a cut-off lock call released"),
                Ok(Err(error)) => {
                    tracing::debug!(error = %error_chain(&error), "releasing the lease of a cut-off lock call failed; it expires on its own")
                }
                // written behind the call: Redis runs it after the call if it runs that
                Err(_) => tracing::debug!("no reply to the release of a cut-off lock call"),
            }
        });
    }
}
