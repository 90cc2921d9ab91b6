//! End of request: create, write, refresh or delete the session, release its lock, and
//! tell the adapter what to do to the response ([`Outcome`]).

use std::{sync::Arc, time::SystemTime};

use super::{lease::Lease, principal, EngineInner, ErrorResponse, Outcome};
use crate::{
    clock::lifetime_end,
    cookie_header,
    entry::EntryOptions,
    error::chain,
    error::Error,
    error::Result,
    events::SessionEvent,
    id::SessionId,
    lock::CommitOp,
    metrics,
    payload::{self, Payload},
    principal::Owner,
    session::state::{Phase, State},
};

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
                if let Some(id) = &state.id {
                    engine.events.emit(|| SessionEvent::CommitFailed {
                        id: id.clone(),
                        status: 503,
                    });
                }
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
    // whether this commit created the session under `state.id`, or wrote or refreshed
    // the stored one there
    let (mut created, mut committed) = (false, false);
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
            created = true;
        } else if state.expire_cookie {
            outcome = Outcome::SetCookie(cookie_header::set_cookie(&engine.cookie, None, secure_request));
        }
    } else if let Some(lease) = state.lease.take() {
        let options = entry_options(engine, state.created);
        let op = if state.modified {
            CommitOp::Set {
                value: encode(engine, state)?,
                options,
            }
        } else {
            CommitOp::Refresh
        };
        let stored = matches!(op, CommitOp::Set { .. });
        let result = lease
            .commit(op, owner(state.principal.as_deref(), &options))
            .await;
        let kind = if stored {
            metrics::Commit::Write
        } else {
            metrics::Commit::Refresh
        };
        engine.store.metrics.commit(kind, metrics::Outcome::of(&result));
        result?;
        committed = true;
        tracing::debug!(session = %state.id.as_ref().map(ToString::to_string).unwrap_or_default(), stored, "session committed");
    }
    if let Some(old) = state.retired.take() {
        Box::pin(retire(engine, state, old, created)).await?;
    }
    // (only when it changed: a logged-in session's requests skip this)
    if state.principal != state.stored_principal {
        Box::pin(principal_moved(engine, state, created, committed)).await;
    }
    state.cycled = false;
    state.flushed = false;
    Ok(outcome)
}

/// Deletes the session's old id (after a cycle or a flush, or an unreadable entry). If
/// the old id was ended under this request (revoked, or written by another holder), a
/// session this commit `created` from it must not outlive it: it is deleted again.
async fn retire(engine: &EngineInner, state: &State, old: Lease, created: bool) -> Result<()> {
    let old_id = old.id().clone();
    let result = old.commit(CommitOp::Remove, None).await;
    engine
        .store
        .metrics
        .commit(metrics::Commit::Remove, metrics::Outcome::of(&result));
    if let Err(error) = result {
        if let Some(new) = state.id.as_ref().filter(|_| created) {
            undo_create(engine, state.principal.as_deref(), new).await;
        }
        return Err(error);
    }
    tracing::debug!(session = %old_id, "old session id deleted");
    if let Some(principal) = state.stored_principal.as_deref() {
        unindex(engine, principal, &old_id).await;
    }
    if state.flushed {
        engine.store.metrics.flushed();
        engine.events.emit(|| SessionEvent::Flushed { id: old_id });
    } else if let (true, Some(new)) = (state.cycled && created, &state.id) {
        engine.store.metrics.cycled();
        engine.events.emit(|| SessionEvent::IdCycled {
            old: old_id,
            new: new.clone(),
        });
    }
    Ok(())
}

/// After a commit that changed the session's principal: takes the stored id out of its
/// old principal's index, and applies the per-principal limit under the new one.
async fn principal_moved(engine: &EngineInner, state: &mut State, created: bool, committed: bool) {
    let current = state.id.as_ref().filter(|_| created || committed);
    if let (true, Some(id), Some(was)) = (committed, current, state.stored_principal.as_deref()) {
        unindex(engine, was, id).await;
    }
    if let (Some(principal), Some(limit)) = (
        state.principal.as_deref(),
        engine.limits.max_sessions_per_principal,
    ) {
        principal::enforce_limit(engine, principal, current, limit).await;
    }
    state.stored_principal.clone_from(&state.principal);
}

/// What the store's principal index needs to know of a commit with `options`.
fn owner<'a>(principal: Option<&'a str>, options: &EntryOptions) -> Option<Owner<'a>> {
    principal.map(|principal| Owner {
        principal,
        expires: options.expires_at(SystemTime::now()),
    })
}

/// Takes `id` out of `principal`'s index after its entry left it. A failure leaves a
/// record too many, which the index drops when the entry's expiry passes: logged, the
/// request still succeeds.
async fn unindex(engine: &EngineInner, principal: &str, id: &SessionId) {
    if let Err(error) = engine.store.unindex(principal, id.expose()).await {
        tracing::warn!(session = %id, error = %chain(&error), "a session could not be taken out of its principal's index; it is listed until it would have expired");
    }
}

/// Deletes the session this request just created under `id`, after the commit failed.
async fn undo_create(engine: &EngineInner, principal: Option<&str>, id: &SessionId) {
    match engine.store.remove(id.expose()).await {
        Ok(()) => {
            if let Some(principal) = principal {
                unindex(engine, principal, id).await;
            }
        }
        Err(error) => {
            tracing::warn!(session = %id, error = %chain(&error), "a session created by a failed commit could not be deleted; no client has its cookie, and it expires unused");
        }
    }
}

/// Stores a new session under a fresh id, choosing another id on the (astronomically
/// unlikely) collision with an existing one. Returns the id used.
async fn create(engine: &EngineInner, state: &mut State) -> Result<SessionId> {
    let value = encode(engine, state)?;
    let options = entry_options(engine, state.created);
    for _ in 0..3 {
        let Some(id) = state.id.clone() else {
            break;
        };
        let owner = owner(state.principal.as_deref(), &options);
        if engine
            .store
            .create(id.expose(), value.clone(), options, owner)
            .await?
        {
            engine.store.metrics.created();
            engine.events.emit(|| SessionEvent::Created { id: id.clone() });
            tracing::info!(session = %id, "session started");
            return Ok(id);
        }
        tracing::warn!(session = %id, "new session id already taken; drawing another");
        state.id = Some(SessionId::generate());
    }
    Err(Error::Unavailable("could not draw an unused session id"))
}

fn encode(engine: &EngineInner, state: &mut State) -> Result<Vec<u8>> {
    let stored = Payload {
        created: state.created,
        principal: state.principal.take(),
        values: std::mem::take(&mut state.values),
    };
    let result = payload::encode(&stored).map_err(|e| Error::store("encode", e));
    if let Ok(bytes) = &result {
        engine.store.metrics.payload(bytes.len());
    }
    state.values = stored.values;
    state.principal = stored.principal;
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
