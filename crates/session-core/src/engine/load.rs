//! First access: verify the cookie, take the session's lock, read and decode.

use std::time::{Duration, Instant};

use super::{EngineInner, Lease};
use crate::{
    error::chain,
    id::SessionId,
    lock::{CommitOp, LockAttempt, LockToken},
    payload,
    session::{Phase, State},
    values::now_unix,
    Error, Result,
};

/// Loads `state`: the stored session if the cookie is valid and live, else a fresh one.
///
/// On failure the state is marked failed (the response will be a 503) and the error is
/// returned to the handler.
pub(crate) async fn load(engine: &std::sync::Arc<EngineInner>, state: &mut State) -> Result<()> {
    let incoming = state.incoming.take();
    let had_cookie = incoming.is_some();
    let verified = incoming.and_then(|value| engine.keys.verify(value.as_str()));
    if had_cookie && verified.is_none() {
        tracing::debug!("session cookie rejected (bad format or signature); a new session will be used");
    }
    if let Some(id) = verified {
        match lock_and_read(engine, &id).await {
            Ok(Some((lease, bytes))) => match fill(engine, state, lease, &bytes) {
                Filled::Loaded => {
                    state.phase = Phase::Ready;
                    return Ok(());
                }
                Filled::Discarded => {}
                Filled::Foreign(lease) => {
                    // Written by a newer version: leave it alone, just let go of it.
                    // (boxed: a rare path that would otherwise enlarge every load's future)
                    if let Err(error) = Box::pin(lease.commit(CommitOp::Release)).await {
                        tracing::warn!(session = %id, error = %chain(&error), "releasing a session lock failed; it will expire with its lease");
                    }
                }
            },
            Ok(None) => {
                tracing::warn!(session = %id, "session expired (or deleted); a new session will be used")
            }
            Err(error) => {
                tracing::warn!(session = %id, error = %chain(&error), "session could not be loaded");
                state.phase = Phase::Failed {
                    response: crate::ErrorResponse::from_error(&error),
                    summary: error.summary(),
                };
                return Err(error);
            }
        }
    }
    state.reset(now_unix());
    state.phase = Phase::Ready;
    Ok(())
}

/// Takes the in-process lock, then the store lease with the data, waiting at most the
/// lock wait in all. `None` if the session is not in the store.
async fn lock_and_read(
    engine: &std::sync::Arc<EngineInner>,
    id: &SessionId,
) -> Result<Option<(Lease, Vec<u8>)>> {
    let wait = engine.limits.lock_wait();
    let (guard, waited) = engine.locks.acquire(*id.bytes(), wait).await?;
    // Set on the first `Busy` only: the uncontended path reads no clock.
    let mut deadline = None;
    let token = LockToken::generate();
    let mut backoff = Duration::from_millis(2);
    loop {
        let attempt = engine
            .store
            .try_lock_and_get(id.expose(), &token, engine.limits.lock_lease)
            .await;
        let attempt = match attempt {
            Ok(attempt) => attempt,
            Err(error @ Error::Timeout { .. }) => {
                // The store may still take the lease for `token` after we gave up (the
                // call was sent): release it behind that call, or it would block the
                // session until the lease expires. Dropping a lease does that in the
                // background and keeps the in-process lock until it is done.
                drop(Lease::new(
                    std::sync::Arc::clone(engine),
                    id.clone(),
                    token,
                    guard,
                ));
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        match attempt {
            LockAttempt::Acquired(bytes) => {
                let lease = Lease::new(std::sync::Arc::clone(engine), id.clone(), token, guard);
                return Ok(Some((lease, bytes)));
            }
            LockAttempt::Missing => return Ok(None),
            LockAttempt::Busy => {
                let now = Instant::now();
                let deadline = *deadline.get_or_insert_with(|| now + wait.saturating_sub(waited));
                if now + backoff > deadline {
                    return Err(Error::LockTimeout { after: wait });
                }
                tracing::debug!(session = %id, "session locked by another instance; waiting");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// What [`fill`] made of the stored bytes.
enum Filled {
    /// The state holds the stored session.
    Loaded,
    /// Unreadable or past its lifetime: the lease is retired, commit deletes the entry.
    Discarded,
    /// A payload format this version does not know (a newer version wrote it): it must
    /// be released untouched.
    Foreign(Lease),
}

/// Fills `state` from stored bytes.
fn fill(engine: &EngineInner, state: &mut State, lease: Lease, bytes: &[u8]) -> Filled {
    let stored = match payload::decode(bytes) {
        Ok(stored) => stored,
        Err(error @ payload::DecodeError::UnknownFormat(_)) => {
            tracing::warn!(session = %lease.id(), error = %error, "stored session has a newer format; a new session will be used and the stored one kept");
            return Filled::Foreign(lease);
        }
        Err(error) => {
            tracing::warn!(session = %lease.id(), error = %chain(&error), "stored session unreadable; a new session will be used");
            state.retired = Some(lease);
            return Filled::Discarded;
        }
    };
    if let Some(lifetime) = engine.limits.absolute_lifetime {
        if stored.created.saturating_add(lifetime.as_secs()) <= now_unix() {
            tracing::warn!(session = %lease.id(), "session expired (past its absolute lifetime); a new session will be used");
            state.retired = Some(lease);
            return Filled::Discarded;
        }
    }
    tracing::debug!(session = %lease.id(), keys = stored.values.len(), "session loaded");
    state.id = Some(lease.id().clone());
    state.lease = Some(lease);
    state.is_new = false;
    state.created = stored.created;
    state.entries_len = stored.values.iter().map(|(k, v)| payload::entry_len(k, v)).sum();
    state.values = stored.values;
    state.modified = false;
    Filled::Loaded
}
