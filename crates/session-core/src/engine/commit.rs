//! End of request: create, write, refresh or delete the session, release its lock, and
//! tell the adapter what to do to the response ([`Outcome`]).

use std::sync::Arc;

use super::{EngineInner, ErrorResponse, Outcome};
use crate::{
    clock::lifetime_end,
    cookie_header,
    entry::EntryOptions,
    error::chain,
    error::Error,
    error::Result,
    id::SessionId,
    lock::CommitOp,
    payload::{self, Payload},
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
