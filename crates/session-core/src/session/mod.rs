//! The `Session` handle (ASP.NET Core's `ISession`): what handlers read and write.

mod state;

use std::{
    fmt,
    sync::{Arc, Mutex as StdMutex, PoisonError},
};

use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::{Mutex, MutexGuard};

use crate::{
    cookie_header::CookieValue,
    engine::{EngineInner, Outcome},
    id::SessionId,
    values, Error, Result,
};

pub(crate) use state::{Phase, State};

/// The session of the current request.
///
/// Take it as an extractor in an axum or actix-web handler (the session layer or
/// middleware must wrap the route). It is loaded on first use (one store read, after
/// taking the session's lock) and committed when the handler returns, before the
/// response leaves; until then every change stays in memory. Clones share one state.
///
/// Values are serde values under case-sensitive string keys, stored as JSON: one
/// encoding per Rust type, so `set_i32("n", 5)` and `insert("n", 5)` store the same
/// thing, and `get::<i32>("n")` reads either. The seed's typed helpers (`get_string`,
/// `set_i32`, ...) are names over the same encoding.
///
/// ```
/// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
/// let visits: u32 = session.get("visits").await?.unwrap_or(0);
/// session.insert("visits", visits + 1).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Arc<EngineInner>,
    secure_request: bool,
    state: Mutex<State>,
    /// The current id, readable without the state's lock (for [`Session::id`]).
    id: StdMutex<Option<SessionId>>,
}

impl Session {
    pub(crate) fn new(engine: Arc<EngineInner>, incoming: Option<CookieValue>, secure_request: bool) -> Self {
        Session {
            shared: Arc::new(Shared {
                engine,
                secure_request,
                state: Mutex::new(State::new(incoming)),
                id: StdMutex::new(None),
            }),
        }
    }

    /// Locks the state and loads the session if this is its first use.
    async fn ready(&self) -> Result<MutexGuard<'_, State>> {
        let mut state = self.shared.state.lock().await;
        match &state.phase {
            Phase::Ready | Phase::Saved(_) => Ok(state),
            Phase::Unloaded => {
                // Boxed: the load (about 1 KB of future) happens once per request, and
                // boxing it keeps every accessor's future, and the handler futures that
                // await them, small.
                Box::pin(crate::engine::load(&self.shared.engine, &mut state)).await?;
                self.publish_id(&state);
                Ok(state)
            }
            Phase::Failed { summary, .. } => Err(Error::Unavailable(summary)),
            Phase::Finished => Err(Error::Closed),
        }
    }

    /// As [`ready`](Self::ready), for a change: refused once the session was saved.
    async fn writable(&self) -> Result<MutexGuard<'_, State>> {
        let state = self.ready().await?;
        match state.phase {
            Phase::Saved(_) => Err(Error::Saved),
            _ => Ok(state),
        }
    }

    /// Makes the state's id what [`id`](Self::id) returns.
    fn publish_id(&self, state: &State) {
        let mut id = self.shared.id.lock().unwrap_or_else(PoisonError::into_inner);
        id.clone_from(&state.id);
    }

    fn max_payload(&self) -> usize {
        self.shared.engine.limits.max_payload
    }

    /// Loads the session now (ASP.NET's `LoadAsync`). Other methods load on demand.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.load().await?; // fail early, before any other work
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`], [`Error::Timeout`], [`Error::LockTimeout`] if the store or
    /// the session's lock is unavailable (the response becomes a 503 regardless);
    /// [`Error::Closed`] after the request finished.
    pub async fn load(&self) -> Result<()> {
        self.ready().await.map(drop)
    }

    /// The session's id, with no store call: `None` until the session is first used in
    /// this request; then the id its commit uses (a new session's id is stored only if
    /// the session is written). `Display` and `Debug` redact it.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.insert("user", "max").await?;
    /// if let Some(id) = session.id() {
    ///     tracing::info!(session = %id, "logged in"); // prints the first 4 characters
    /// }
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> Option<SessionId> {
        self.shared
            .id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the session was created by this request (not loaded from the store).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// if session.is_new().await? {
    ///     session.insert("first_seen", "now").await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn is_new(&self) -> Result<bool> {
        Ok(self.ready().await?.is_new)
    }

    /// The keys in the session, in no particular order.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// for key in session.keys().await? {
    ///     println!("{key}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn keys(&self) -> Result<Vec<String>> {
        Ok(self.ready().await?.values.keys().cloned().collect())
    }

    /// Whether `key` has a value.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let logged_in = session.contains_key("user").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn contains_key(&self, key: &str) -> Result<bool> {
        Ok(self.ready().await?.values.contains_key(key))
    }

    /// Whether the session holds no values.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// if session.is_empty().await? { /* nothing stored yet */ }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.ready().await?.values.is_empty())
    }

    /// The value under `key`, or `None` if there is none.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Cart { items: Vec<u32> }
    /// let cart: Option<Cart> = session.get("cart").await?;
    /// let n: i64 = session.get("counter").await?.unwrap_or(0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] if the stored value is not a `T` (nothing changes);
    /// otherwise as [`load`](Self::load).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let state = self.ready().await?;
        state
            .values
            .get(key)
            .map(|v| values::decode::<T>(key, v))
            .transpose()
    }

    /// Stores `value` under `key`, replacing what was there.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.insert("counter", 1).await?;
    /// session.insert("roles", ["admin", "ops"]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::PayloadTooLarge`] if the session would exceed its cap and
    /// [`Error::Serialization`] if `value` cannot be written as JSON (nothing changes
    /// either way); [`Error::Saved`] after [`save`](Self::save); otherwise as
    /// [`load`](Self::load).
    pub async fn insert(&self, key: &str, value: impl Serialize) -> Result<()> {
        let bytes = values::encode(key, &value)?;
        let max = self.max_payload();
        self.writable().await?.put(max, key, bytes)
    }

    /// Removes `key` and returns the value it held.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let flash: Option<String> = session.remove("flash").await?;
    /// // any value, whatever its type:
    /// session.remove::<serde_json::Value>("cart").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] if the value is not a `T` (it is then kept);
    /// [`Error::Saved`] after [`save`](Self::save); otherwise as [`load`](Self::load).
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let mut state = self.writable().await?;
        let Some(old) = state
            .values
            .get(key)
            .map(|v| values::decode::<T>(key, v))
            .transpose()?
        else {
            return Ok(None);
        };
        state.take(key);
        Ok(Some(old))
    }

    /// Removes every value but keeps the session and its id (the seed's logout).
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
        state.flush(values::now_unix());
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
                state.reset(values::now_unix());
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

    /// The seed's `Get-KrSessionString`: [`get::<String>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let user = session.get_string("user").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_string(&self, key: &str) -> Result<Option<String>> {
        self.get(key).await
    }

    /// The seed's `Set-KrSessionString`: [`insert`](Self::insert) of a string.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_string("user", "max").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_string(&self, key: &str, value: &str) -> Result<()> {
        self.insert(key, value).await
    }

    /// The seed's `Get-KrSessionInt32`: [`get::<i32>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let n = session.get_i32("counter").await?.unwrap_or(0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_i32(&self, key: &str) -> Result<Option<i32>> {
        self.get(key).await
    }

    /// The seed's `Set-KrSessionInt32`: [`insert`](Self::insert) of an `i32`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_i32("counter", 5).await?;
    /// assert_eq!(session.get::<i32>("counter").await?, Some(5));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_i32(&self, key: &str, value: i32) -> Result<()> {
        self.insert(key, value).await
    }

    /// [`get::<i64>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let big = session.get_i64("bytes_sent").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_i64(&self, key: &str) -> Result<Option<i64>> {
        self.get(key).await
    }

    /// [`insert`](Self::insert) of an `i64`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_i64("bytes_sent", 1 << 40).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_i64(&self, key: &str, value: i64) -> Result<()> {
        self.insert(key, value).await
    }

    /// [`get::<bool>`](Self::get).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let dark = session.get_bool("dark_mode").await?.unwrap_or(false);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key).await
    }

    /// [`insert`](Self::insert) of a `bool`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_bool("dark_mode", true).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_bool(&self, key: &str, value: bool) -> Result<()> {
        self.insert(key, value).await
    }

    /// [`get::<Vec<u8>>`](Self::get): bytes, stored as a JSON array like any `Vec<u8>`.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let nonce = session.get_bytes("nonce").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.get(key).await
    }

    /// [`insert`](Self::insert) of bytes (a JSON array, about 3.5 bytes per byte: keep
    /// large binary data out of sessions).
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_bytes("nonce", vec![1, 2, 3]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn set_bytes(&self, key: &str, value: impl AsRef<[u8]>) -> Result<()> {
        self.insert(key, value.as_ref()).await
    }

    /// Commits `state` (locked by the caller).
    async fn commit(&self, state: &mut State) -> Outcome {
        // Boxed for the same reason as the load: adapters' futures stay small.
        Box::pin(crate::engine::commit(
            &self.shared.engine,
            state,
            self.shared.secure_request,
        ))
        .await
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

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::adapter::SessionEngine;
    use crate::store::{async_trait, DistributedCache, EntryOptions};
    use crate::Result;

    struct Nothing;

    #[async_trait]
    impl DistributedCache for Nothing {
        fn is_distributed(&self) -> bool {
            false
        }
        async fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
            Ok(None)
        }
        async fn set(&self, _: &str, _: Vec<u8>, _: EntryOptions) -> Result<()> {
            Ok(())
        }
        async fn refresh(&self, _: &str) -> Result<()> {
            Ok(())
        }
        async fn remove(&self, _: &str) -> Result<()> {
            Ok(())
        }
    }

    /// Every request allocates its load and commit futures, and handler futures embed
    /// the accessors' futures. glibc's malloc serves blocks up to 1032 bytes from its
    /// per-thread cache; larger ones take a slow path that consolidates free lists, which
    /// cost several microseconds per request when these futures were 1.1-2.8 KB.
    #[test]
    fn request_futures_stay_small() {
        const FAST_MALLOC_LIMIT: usize = 1032;
        let Ok(engine) = SessionEngine::builder().build(Nothing) else {
            panic!("engine");
        };
        let scope = engine.start([], false);
        let session = scope.session();
        let mut state = session
            .shared
            .state
            .try_lock()
            .unwrap_or_else(|_| panic!("state"));
        let engine = &session.shared.engine;
        let load = std::mem::size_of_val(&crate::engine::load(engine, &mut state));
        let commit = std::mem::size_of_val(&crate::engine::commit(engine, &mut state, false));
        let sizes = [("load", load), ("commit", commit)];
        drop(state);
        let accessor = std::mem::size_of_val(&session.set_i32("counter", 1));
        for (name, size) in sizes {
            assert!(size <= FAST_MALLOC_LIMIT, "{name} future: {size} bytes");
        }
        assert!(accessor <= 512, "accessor future: {accessor} bytes");
        assert!(std::mem::size_of_val(&scope.finish()) <= 512);
    }
}
