//! The `Session` handle (ASP.NET Core's `ISession`): what handlers read and write.

mod helpers;
mod lifecycle;
mod principal;
pub(crate) mod scope;
pub(crate) mod state;

use std::{
    fmt,
    sync::{Arc, Mutex as StdMutex, PoisonError},
};

use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::{Mutex, MutexGuard};

use crate::{
    cookie_header::CookieValue,
    engine::{load::load, EngineInner},
    error::Error,
    error::Result,
    id::SessionId,
    values,
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
    /// The request's `session` span, made at the session's first use.
    span: std::sync::OnceLock<tracing::Span>,
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
                span: std::sync::OnceLock::new(),
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
                let span = self.span();
                let started = (!span.is_disabled()).then(std::time::Instant::now);
                let loaded = tracing::Instrument::instrument(
                    Box::pin(load(&self.shared.engine, &mut state)),
                    span.clone(),
                )
                .await;
                if let Some(started) = started {
                    span.record("load_ms", millis(started.elapsed()));
                    if let Some(id) = &state.id {
                        span.record("session", tracing::field::display(id));
                    }
                }
                loaded?;
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

    /// The request's span: every log of its session's load and commit is inside it, with
    /// the redacted id, the lock wait and the load and commit times as fields.
    fn span(&self) -> &tracing::Span {
        self.shared.span.get_or_init(|| {
            tracing::debug_span!(
                "session",
                session = tracing::field::Empty,
                lock_wait_ms = tracing::field::Empty,
                load_ms = tracing::field::Empty,
                commit_ms = tracing::field::Empty,
            )
        })
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
}

/// Milliseconds, as a span field.
pub(crate) fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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
    use crate::error::Result;
    use crate::store::{async_trait, DistributedCache, EntryOptions};

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
        let load = std::mem::size_of_val(&crate::engine::load::load(engine, &mut state));
        let commit = std::mem::size_of_val(&crate::engine::commit::commit(engine, &mut state, false));
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
