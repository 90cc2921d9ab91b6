//! What a request does to the session as a whole: empty it, end it, move it to a new id,
//! or commit it early.

use super::{Phase, Session, State};
use crate::{
    clock,
    engine::{commit::commit, response::Outcome},
    error::Error,
    error::Result,
};

impl Session {
    /// Removes every value, and the principal (see [`login`](Self::login)), but keeps
    /// the session and its id (the seed's logout).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.clear().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Saved`] after [`save`](Self::save); otherwise as [`load`](Self::load).
    pub async fn clear(&self) -> Result<()> {
        let mut state = self.writable().await?;
        if !state.values.is_empty() {
            state.values.clear();
            state.entries_len = 0;
            state.modified = true;
        }
        if state.principal.take().is_some() {
            state.modified = true;
        }
        Ok(())
    }

    /// Deletes the session from the store and expires its cookie. Writing to the session
    /// afterwards in the same request starts a new session with a new id.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.flush().await?; // log out: nothing of the session is left
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Saved`] after [`save`](Self::save); otherwise as [`load`](Self::load).
    #[doc(alias = "destroy")]
    #[doc(alias = "purge")]
    pub async fn flush(&self) -> Result<()> {
        let mut state = self.writable().await?;
        state.flush(clock::now_unix());
        self.publish_id(&state);
        Ok(())
    }

    /// Moves the session's data to a new id and sends the new cookie; the old id stops
    /// working. Call it when privileges change (at login) against session fixation.
    ///
    /// ```
    /// # async fn login(session: session_core::Session, user: &str) -> session_core::Result<()> {
    /// session.cycle_id().await?;
    /// session.insert("user", user).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Saved`] after [`save`](Self::save); otherwise as [`load`](Self::load).
    pub async fn cycle_id(&self) -> Result<()> {
        let mut state = self.writable().await?;
        state.cycle();
        self.publish_id(&state);
        Ok(())
    }

    /// Commits the session now and releases its lock, for handlers that go on working
    /// after their last change (long polling, streaming bodies): other requests of the
    /// session no longer wait for this one. Values can still be read afterwards; a change
    /// is an [`Error::Saved`]. The cookie, if any, is still sent with the response.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.insert("job", "started").await?;
    /// session.save().await?;
    /// // ... long work that no longer holds the session's lock ...
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Unavailable`] if the commit failed (the response becomes a 503, as it
    /// would at the end of the request); otherwise as [`load`](Self::load).
    pub async fn save(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        match &state.phase {
            Phase::Saved(_) => return Ok(()),
            // nothing to read: an empty session, nothing to commit
            Phase::Unloaded if state.incoming.is_none() => {
                state.reset(clock::now_unix());
                self.publish_id(&state);
                state.phase = Phase::Saved(Outcome::Unchanged);
                return Ok(());
            }
            // a session the request never used: loaded first, so that the reads after
            // the save see it (and its expiry slides, as for any read)
            Phase::Unloaded => {
                drop(state);
                self.load().await?;
                state = self.shared.state.lock().await;
            }
            Phase::Failed { summary, .. } => return Err(Error::Unavailable(summary)),
            Phase::Finished => return Err(Error::Closed),
            Phase::Ready => {}
        }
        let outcome = self.commit(&mut state).await;
        self.publish_id(&state);
        state.phase = match outcome {
            Outcome::Failed(response) => Phase::Failed {
                response,
                summary: "session could not be saved",
            },
            outcome => Phase::Saved(outcome),
        };
        match state.phase {
            Phase::Failed { summary, .. } => Err(Error::Unavailable(summary)),
            _ => Ok(()),
        }
    }

    /// Commits `state` (locked by the caller).
    async fn commit(&self, state: &mut State) -> Outcome {
        // Boxed for the same reason as the load: adapters' futures stay small.
        let committing = Box::pin(commit(&self.shared.engine, state, self.shared.secure_request));
        match self.shared.span.get() {
            Some(span) if !span.is_disabled() => {
                let started = std::time::Instant::now();
                let outcome = tracing::Instrument::instrument(committing, span.clone()).await;
                span.record("commit_ms", super::millis(started.elapsed()));
                outcome
            }
            _ => committing.await,
        }
    }

    /// Commits the session; called once by [`SessionScope::finish`](crate::SessionScope::finish).
    pub(crate) async fn finish(&self) -> Outcome {
        let mut state = self.shared.state.lock().await;
        match std::mem::replace(&mut state.phase, Phase::Finished) {
            Phase::Unloaded | Phase::Finished => Outcome::Unchanged,
            Phase::Saved(outcome) => outcome,
            phase => {
                state.phase = phase;
                self.commit(&mut state).await
            }
        }
    }
}
