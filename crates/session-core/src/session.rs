//! The `Session` handle (ASP.NET Core's `ISession`): what handlers read and write.

use std::{fmt, sync::Arc};

use serde::{de::DeserializeOwned, Serialize};
use serde_bytes::ByteBuf;
use tokio::sync::{Mutex, MutexGuard};

use crate::{
    cookie_header::CookieValue,
    engine::{EngineInner, Lease, Outcome},
    id::SessionId,
    payload::{self, Values},
    values, Error, Result,
};

/// The session of the current request.
///
/// Handlers get it from their framework adapter's extractor. It is loaded on first use
/// (one store read, after taking the session's lock) and committed by the adapter when
/// the handler returns; until then every change stays in memory. Clones share one state.
///
/// Values are bytes under case-sensitive string keys. Typed helpers store `i32`/`i64`
/// big-endian (as ASP.NET Core's `SetInt32`), `bool` as one byte, strings as UTF-8 and
/// serde values as JSON (readable from any language); the stored session around them is
/// this library's own versioned format.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Arc<EngineInner>,
    secure_request: bool,
    state: Mutex<State>,
}

/// Where the session of a request stands.
pub(crate) enum Phase {
    /// Not used yet: nothing loaded, nothing locked.
    Unloaded,
    /// Loaded (or fresh) and usable.
    Ready,
    /// Loading failed; the response becomes this error response (a 503).
    Failed {
        /// What the client gets.
        response: crate::ErrorResponse,
        /// What later accesses in the same request report.
        summary: &'static str,
    },
    /// Committed; the handle is dead.
    Finished,
}

/// The mutable state behind a [`Session`].
pub(crate) struct State {
    pub phase: Phase,
    /// The cookie value the request carried, not yet verified.
    pub incoming: Option<CookieValue>,
    /// The current id (once ready).
    pub id: Option<SessionId>,
    /// Not in the store yet: commit creates it and sends its cookie.
    pub is_new: bool,
    /// When the session was first stored (Unix seconds).
    pub created: u64,
    pub values: Values,
    /// Encoded size of all entries, kept in step with `values`.
    pub entries_len: usize,
    pub modified: bool,
    /// The client's cookie must be deleted unless a new session replaces it.
    pub expire_cookie: bool,
    /// The lock on the current, stored id.
    pub lease: Option<Lease>,
    /// The lock on a replaced id whose entry is deleted at commit (cycle, destroy,
    /// past its lifetime, unreadable).
    pub retired: Option<Lease>,
}

impl State {
    /// Turns the state into a brand-new session with a fresh id, keeping `values`.
    pub fn renew(&mut self) {
        self.id = Some(SessionId::generate());
        self.is_new = true;
    }

    /// A fresh, empty session with a new id.
    pub fn reset(&mut self, created: u64) {
        self.renew();
        self.created = created;
        self.values.clear();
        self.entries_len = 0;
        self.modified = false;
    }

    fn put(&mut self, max_payload: usize, key: &str, value: Vec<u8>) -> Result<()> {
        let old = self.values.get(key).map_or(0, |v| payload::entry_len(key, v));
        let entries_len = self.entries_len - old + payload::entry_len(key, &value);
        let count = self.values.len() + usize::from(!self.values.contains_key(key));
        let size = payload::encoded_len(self.created, count, entries_len);
        if size > max_payload {
            return Err(Error::PayloadTooLarge {
                size,
                limit: max_payload,
            });
        }
        match self.values.get_mut(key) {
            Some(slot) => *slot = ByteBuf::from(value),
            None => {
                self.values.insert(key.to_owned(), ByteBuf::from(value));
            }
        }
        self.entries_len = entries_len;
        self.modified = true;
        Ok(())
    }
}

impl Session {
    pub(crate) fn new(engine: Arc<EngineInner>, incoming: Option<CookieValue>, secure_request: bool) -> Self {
        Session {
            shared: Arc::new(Shared {
                engine,
                secure_request,
                state: Mutex::new(State {
                    phase: Phase::Unloaded,
                    incoming,
                    id: None,
                    is_new: false,
                    created: 0,
                    values: Values::default(),
                    entries_len: 0,
                    modified: false,
                    expire_cookie: false,
                    lease: None,
                    retired: None,
                }),
            }),
        }
    }

    /// Locks the state and loads the session if this is its first use.
    async fn ready(&self) -> Result<MutexGuard<'_, State>> {
        let mut state = self.shared.state.lock().await;
        match &state.phase {
            Phase::Ready => Ok(state),
            Phase::Unloaded => {
                // Boxed: the load (about 1 KB of future) happens once per request, and
                // boxing it keeps every accessor's future, and the handler futures that
                // await them, small.
                Box::pin(crate::engine::load(&self.shared.engine, &mut state)).await?;
                Ok(state)
            }
            Phase::Failed { summary, .. } => Err(Error::Unavailable(summary)),
            Phase::Finished => Err(Error::Closed),
        }
    }

    fn max_payload(&self) -> usize {
        self.shared.engine.limits.max_payload
    }

    /// Loads the session now (ASP.NET's `LoadAsync`). Other methods load on demand.
    ///
    /// # Errors
    /// [`Error::Store`], [`Error::Timeout`], [`Error::LockTimeout`] if the store or
    /// the session's lock is unavailable (the response becomes a 503 regardless);
    /// [`Error::Closed`] after the request finished.
    pub async fn load(&self) -> Result<()> {
        self.ready().await.map(drop)
    }

    /// The session's id. A new session has an id that is stored only if it is written.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn id(&self) -> Result<SessionId> {
        let state = self.ready().await?;
        state.id.clone().ok_or(Error::Closed)
    }

    /// Whether the session was created by this request (not loaded from the store).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn is_new(&self) -> Result<bool> {
        Ok(self.ready().await?.is_new)
    }

    /// The keys in the session, in no particular order.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn keys(&self) -> Result<Vec<String>> {
        Ok(self.ready().await?.values.keys().cloned().collect())
    }

    /// Whether `key` has a value.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn contains_key(&self, key: &str) -> Result<bool> {
        Ok(self.ready().await?.values.contains_key(key))
    }

    /// The bytes under `key`.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.ready().await?.values.get(key).map(|v| v.to_vec()))
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// [`Error::PayloadTooLarge`] if the session would exceed its cap (nothing changes);
    /// otherwise as [`load`](Self::load).
    pub async fn set_bytes(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<()> {
        let max = self.max_payload();
        self.ready().await?.put(max, key, value.into())
    }

    async fn get_with<T>(&self, key: &str, decode: fn(&str, &[u8]) -> Result<T>) -> Result<Option<T>> {
        let state = self.ready().await?;
        state.values.get(key).map(|v| decode(key, v)).transpose()
    }

    /// The UTF-8 string under `key`.
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] if the bytes are not UTF-8; otherwise as [`load`](Self::load).
    pub async fn get_string(&self, key: &str) -> Result<Option<String>> {
        self.get_with(key, values::decode_string).await
    }

    /// Stores a string under `key`.
    ///
    /// # Errors
    /// As [`set_bytes`](Self::set_bytes).
    pub async fn set_string(&self, key: &str, value: &str) -> Result<()> {
        self.set_bytes(key, value.as_bytes()).await
    }

    /// The `i32` under `key` (4 bytes, big-endian).
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] if the value is not 4 bytes; otherwise as [`load`](Self::load).
    pub async fn get_i32(&self, key: &str) -> Result<Option<i32>> {
        self.get_with(key, values::decode_i32).await
    }

    /// Stores an `i32` under `key`.
    ///
    /// # Errors
    /// As [`set_bytes`](Self::set_bytes).
    pub async fn set_i32(&self, key: &str, value: i32) -> Result<()> {
        self.set_bytes(key, value.to_be_bytes()).await
    }

    /// The `i64` under `key` (8 bytes, big-endian).
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] if the value is not 8 bytes; otherwise as [`load`](Self::load).
    pub async fn get_i64(&self, key: &str) -> Result<Option<i64>> {
        self.get_with(key, values::decode_i64).await
    }

    /// Stores an `i64` under `key`.
    ///
    /// # Errors
    /// As [`set_bytes`](Self::set_bytes).
    pub async fn set_i64(&self, key: &str, value: i64) -> Result<()> {
        self.set_bytes(key, value.to_be_bytes()).await
    }

    /// The `bool` under `key` (one byte, 0 or 1).
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] for anything else; otherwise as [`load`](Self::load).
    pub async fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get_with(key, values::decode_bool).await
    }

    /// Stores a `bool` under `key`.
    ///
    /// # Errors
    /// As [`set_bytes`](Self::set_bytes).
    pub async fn set_bool(&self, key: &str, value: bool) -> Result<()> {
        self.set_bytes(key, [u8::from(value)]).await
    }

    /// The serde value under `key`, stored as JSON.
    ///
    /// # Errors
    /// [`Error::Serialization`] if the JSON does not fit `T`; otherwise as [`load`](Self::load).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let state = self.ready().await?;
        state
            .values
            .get(key)
            .map(|v| values::decode_json(key, v))
            .transpose()
    }

    /// Stores a serde value under `key`, as JSON.
    ///
    /// # Errors
    /// [`Error::Serialization`] if `value` cannot be serialized; otherwise as
    /// [`set_bytes`](Self::set_bytes).
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = values::encode_json(key, value)?;
        self.set_bytes(key, bytes).await
    }

    /// Removes `key`; returns whether it had a value.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn remove(&self, key: &str) -> Result<bool> {
        let mut state = self.ready().await?;
        let Some(old) = state.values.remove(key) else {
            return Ok(false);
        };
        state.entries_len -= payload::entry_len(key, &old);
        state.modified = true;
        Ok(true)
    }

    /// Removes every value but keeps the session and its id (the seed's logout).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn clear(&self) -> Result<()> {
        let mut state = self.ready().await?;
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
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn destroy(&self) -> Result<()> {
        let mut state = self.ready().await?;
        if let Some(lease) = state.lease.take() {
            state.retired = Some(lease);
        }
        let created = values::now_unix();
        state.reset(created);
        state.expire_cookie = true;
        Ok(())
    }

    /// Moves the session's data to a new id and sends the new cookie; the old id stops
    /// working. Call it when privileges change (at login) against session fixation.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn cycle_id(&self) -> Result<()> {
        let mut state = self.ready().await?;
        if let Some(lease) = state.lease.take() {
            state.retired = Some(lease);
        }
        state.renew();
        state.modified = true;
        Ok(())
    }

    /// Commits the session; called once by [`SessionScope::finish`](crate::SessionScope::finish).
    pub(crate) async fn finish(&self) -> Outcome {
        let mut state = self.shared.state.lock().await;
        if matches!(state.phase, Phase::Unloaded) {
            state.phase = Phase::Finished;
            return Outcome::Unchanged;
        }
        // Boxed for the same reason as the load: adapters' futures stay small.
        Box::pin(crate::engine::commit(
            &self.shared.engine,
            &mut state,
            self.shared.secure_request,
        ))
        .await
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::{async_trait, DistributedCache, EntryOptions, Result, SessionEngine};

    struct Nothing;

    #[async_trait]
    impl DistributedCache for Nothing {
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
