//! First access: verify the cookie, take the session's lock, read and decode.

use std::time::{Duration, Instant, SystemTime};

use super::{lease::Lease, EngineInner};
use crate::{
    clock::{lifetime_end, now_unix},
    error::chain,
    error::Error,
    error::Result,
    events::SessionEvent,
    id::SessionId,
    lock::{CommitOp, LockAttempt, LockToken},
    metrics, payload,
    session::state::{Phase, State},
};

/// Loads `state`: the stored session if the cookie is valid and live, else a fresh one.
///
/// On failure the state is marked failed (the response will be a 503) and the error is
/// returned to the handler.
pub(crate) async fn load(engine: &std::sync::Arc<EngineInner>, state: &mut State) -> Result<()> {
    // The cookie stays in `state` until the load ends: a handler that gives up on its
    // first access (a timeout around it) and tries again loads the same session.
    let had_cookie = state.incoming.is_some();
    let verified = state
        .incoming
        .as_ref()
        .and_then(|value| engine.keys.verify(value.as_str()));
    if had_cookie && verified.is_none() {
        tracing::debug!("session cookie rejected (bad format or signature); a new session will be used");
        engine.store.metrics.load(metrics::Load::BadCookie);
    } else if !had_cookie {
        engine.store.metrics.load(metrics::Load::Miss);
    }
    if let Some(id) = verified {
        match lock_and_read(engine, &id).await {
            Ok(Some((lease, bytes))) => match fill(engine, state, lease, &bytes) {
                Filled::Loaded => {
                    if engine.hot.is_some() {
                        if let Some(lease) = state.lease.as_mut() {
                            lease.keep_bytes(bytes);
                        }
                    }
                    engine.store.metrics.load(metrics::Load::Hit);
                    state.phase = Phase::Ready;
                    return Ok(());
                }
                Filled::Discarded => engine.store.metrics.load(metrics::Load::Expired),
                Filled::Foreign(lease) => {
                    engine.store.metrics.load(metrics::Load::Expired);
                    // Written by a newer version: leave it alone, just let go of it.
                    // (boxed: a rare path that would otherwise enlarge every load's future)
                    if let Err(error) = Box::pin(lease.commit(CommitOp::Release, None)).await {
                        tracing::warn!(session = %id, error = %chain(&error), "releasing a session lock failed; if the store failed, it is released in the background");
                    }
                }
            },
            Ok(None) => {
                engine.store.metrics.load(metrics::Load::Expired);
                engine.events.emit(|| SessionEvent::Expired { id: id.clone() });
                expired(
                    engine,
                    &id,
                    "session expired (or deleted); a new session will be used",
                );
            }
            Err(error) => {
                tracing::warn!(session = %id, error = %chain(&error), "session could not be loaded");
                state.phase = Phase::Failed {
                    response: crate::engine::ErrorResponse::from_error(&error),
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
    let (guard, waited) = match engine.locks.acquire(*id.bytes(), wait).await {
        Ok(acquired) => acquired,
        Err(error) => {
            if matches!(error, Error::LockTimeout { .. }) {
                engine.store.metrics.lock_timeout();
                engine
                    .events
                    .emit(|| SessionEvent::LockTimeout { id: id.clone() });
            }
            return Err(error);
        }
    };
    // Hot sessions: a lease this instance kept serves without a lock call; one too close
    // to its end is taken again with its token.
    let mut token = None;
    if let Some(hot) = &engine.hot {
        match hot.take(id, Instant::now()) {
            Some(Ok(kept)) => {
                engine.store.metrics.lock_wait(waited);
                let (lease, bytes) = Lease::kept(std::sync::Arc::clone(engine), id.clone(), kept, guard);
                return Ok(Some((lease, bytes)));
            }
            Some(Err(kept_token)) => token = Some(kept_token),
            None => {}
        }
    }
    // Armed before the store call: if this future is dropped while the call is in flight
    // (the client went away), or the call times out, the store may still take the lease
    // for this token, and dropping the lease releases it behind that call.
    let mut lease = Lease::new(
        std::sync::Arc::clone(engine),
        id.clone(),
        token.unwrap_or_else(LockToken::generate),
        guard,
    );
    // Set on the first `Busy` only: the uncontended path reads no clock.
    let mut deadline = None;
    let mut busy_since: Option<Instant> = None;
    let mut backoff = Duration::from_millis(2);
    loop {
        let attempt = engine
            .store
            .try_lock_and_get(id.expose(), lease.token(), engine.limits.lock_lease)
            .await;
        match attempt {
            Ok(LockAttempt::Acquired(bytes, fence)) => {
                lease.held(fence);
                // the in-process wait, plus the store's busy answers, if any
                let store_wait = busy_since.map_or(Duration::ZERO, |since| since.elapsed());
                engine.store.metrics.lock_wait(waited + store_wait);
                let span = tracing::Span::current();
                if !span.is_disabled() {
                    span.record("lock_wait_ms", crate::session::millis(waited + store_wait));
                }
                return Ok(Some((lease, bytes)));
            }
            Ok(LockAttempt::Missing) => {
                lease.forget();
                return Ok(None);
            }
            Ok(LockAttempt::Busy) => {
                let now = Instant::now();
                busy_since.get_or_insert(now);
                let deadline = *deadline.get_or_insert_with(|| now + wait.saturating_sub(waited));
                if now + backoff > deadline {
                    lease.forget();
                    engine.store.metrics.lock_timeout();
                    engine
                        .events
                        .emit(|| SessionEvent::LockTimeout { id: id.clone() });
                    return Err(Error::LockTimeout { after: wait });
                }
                tracing::debug!(session = %id, "session locked by another instance; waiting");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(50));
            }
            // dropped: released in the background (see above)
            Err(error @ Error::Timeout { .. }) => {
                lease.store_failed();
                return Err(error);
            }
            Err(error) => {
                lease.forget();
                return Err(error);
            }
        }
    }
}

/// Logs that the session of a validly signed cookie is gone: a client can send such a
/// cookie on every request, so at most one warning every few seconds (with the count of
/// those written at debug level since), the rest at debug level.
fn expired(engine: &EngineInner, id: &SessionId, message: &str) {
    match engine.expired_log.warn() {
        Some(0) => tracing::warn!(session = %id, "{message}"),
        Some(repeats) => {
            tracing::warn!(session = %id, repeats, "{message} (and {repeats} more, logged at debug level)")
        }
        None => tracing::debug!(session = %id, "{message}"),
    }
}

/// What [`fill`] made of the stored bytes.
enum Filled {
    /// The state holds the stored session.
    Loaded,
    /// Unreadable or past its lifetime: the lease is retired, commit deletes the entry.
    Discarded,
    /// A payload format this version does not know (a newer version wrote it), or one
    /// over this version's size limit: it must be released untouched, never deleted.
    Foreign(Lease),
}

/// Fills `state` from stored bytes.
fn fill(engine: &EngineInner, state: &mut State, lease: Lease, bytes: &[u8]) -> Filled {
    let stored = match payload::decode(bytes) {
        Ok(stored) => stored,
        Err(error) if error.is_foreign() => {
            tracing::warn!(session = %lease.id(), error = %error, "stored session is in a format or of a size this version does not read (a newer version wrote it, or it is not a session); a new session will be used and the stored one kept");
            return Filled::Foreign(lease);
        }
        Err(error) => {
            tracing::warn!(session = %lease.id(), error = %chain(&error), "stored session unreadable; a new session will be used");
            state.retired = Some(lease);
            return Filled::Discarded;
        }
    };
    if let Some(lifetime) = engine.limits.absolute_lifetime {
        // (a creation time out of range is corrupt data: treated as expired, not a panic)
        if lifetime_end(stored.created, lifetime).is_none_or(|end| end <= SystemTime::now()) {
            expired(
                engine,
                lease.id(),
                "session expired (past its absolute lifetime); a new session will be used",
            );
            engine.events.emit(|| SessionEvent::Expired {
                id: lease.id().clone(),
            });
            state.stored_principal = stored.principal;
            state.retired = Some(lease);
            return Filled::Discarded;
        }
    }
    tracing::debug!(session = %lease.id(), keys = stored.values.len(), "session loaded");
    state.id = Some(lease.id().clone());
    state.lease = Some(lease);
    state.is_new = false;
    state.created = stored.created;
    state.principal.clone_from(&stored.principal);
    state.stored_principal = stored.principal;
    state.entries_len = stored.values.iter().map(|(k, v)| payload::entry_len(k, v)).sum();
    state.values = stored.values;
    state.modified = false;
    Filled::Loaded
}
