//! Ending a user's sessions: the [`SessionManager`] handle, and the per-principal limit
//! applied at login.

use std::{sync::Arc, time::SystemTime};

use super::{EngineInner, SessionEngine};
use crate::{
    error::chain, error::Result, events::SessionEvent, id::SessionId, principal::IndexedSession,
    session::Session,
};

/// One live session of a principal, as [`SessionManager::sessions_of`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's redacted id (its first four characters and `…`): enough to tell a
    /// user's sessions apart and to [`revoke`](SessionManager::revoke) one, useless as
    /// a cookie.
    pub id: String,
    /// When this session id was first stored (for a logged-in session: its login).
    pub created: SystemTime,
    /// When a request last used it (to within the store's refresh granularity).
    pub last_seen: SystemTime,
    /// When it expires unless used again (`None`: never on its own).
    pub expires: Option<SystemTime>,
    /// Whether it is the session of the request that asked.
    pub current: bool,
}

/// The handle for listing and ending a principal's sessions ("log out everywhere"),
/// from the layer or middleware the app built, or from any [`Session`]
/// ([`Session::manager`]). Cheap to clone; every call is bounded by the IO timeout.
///
/// A session belongs to a principal once a handler calls
/// [`Session::login`] or [`Session::set_principal`]; the store indexes it under that
/// name from its next commit.
///
/// ```
/// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
/// let manager = session.manager();
/// if let Some(user) = session.principal().await? {
///     for info in manager.sessions_of(&user, Some(&session)).await? {
///         println!("{} since {:?}{}", info.id, info.created, if info.current { " (this one)" } else { "" });
///     }
///     // after a password change: every other device logs in again
///     manager.revoke_others(&session).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionManager {
    engine: Arc<EngineInner>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionManager(..)")
    }
}

impl SessionEngine {
    /// The handle for listing and ending a principal's sessions.
    ///
    /// ```
    /// # fn main() -> session_core::Result<()> {
    /// let engine = session_core::adapter::SessionEngine::builder().build(session_core::__private::NullStore)?;
    /// let manager = engine.manager();
    /// # Ok(()) }
    /// ```
    pub fn manager(&self) -> SessionManager {
        SessionManager::new(Arc::clone(&self.inner))
    }
}

impl SessionManager {
    pub(crate) fn new(engine: Arc<EngineInner>) -> Self {
        SessionManager { engine }
    }

    /// The live sessions of `principal`, in the order they were created; `caller` (the
    /// session of the request asking, if any) is marked [`current`](SessionInfo::current).
    /// Records of expired sessions are dropped from the store's index on the way.
    ///
    /// ```
    /// # async fn handler(manager: session_core::SessionManager) -> session_core::Result<()> {
    /// let devices = manager.sessions_of("alice", None).await?.len();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) or [`Error::Timeout`](crate::Error::Timeout)
    /// if the store fails; [`Error::Config`](crate::Error::Config) for a store without a
    /// principal index; as [`Session::load`] for the caller's session.
    pub async fn sessions_of(&self, principal: &str, caller: Option<&Session>) -> Result<Vec<SessionInfo>> {
        if let Some(caller) = caller {
            caller.load().await?; // its id is known once it is loaded
        }
        let own = caller.and_then(Session::id);
        let mut listed = self.engine.store.sessions_of(principal).await?;
        listed.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.key.cmp(&b.key)));
        Ok(listed
            .into_iter()
            .map(|s| SessionInfo {
                id: hint(&s.key),
                current: own.as_ref().is_some_and(|own| own.expose() == s.key),
                created: s.created,
                last_seen: s.last_seen,
                expires: s.expires,
            })
            .collect())
    }

    /// Ends every session of `principal` and returns how many were live. When it returns,
    /// a request with any of their cookies, on any instance, finds an empty session; a
    /// request already running on one cannot write it back (its commit answers 503).
    ///
    /// From a request of that principal, prefer [`revoke_others`](Self::revoke_others)
    /// and then [`Session::flush`]: this request's own session, revoked under it, would
    /// answer 503 at its commit.
    ///
    /// ```
    /// # async fn on_account_takeover(manager: session_core::SessionManager) -> session_core::Result<()> {
    /// let ended = manager.revoke_all("alice").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`sessions_of`](Self::sessions_of); some sessions may have been ended already.
    pub async fn revoke_all(&self, principal: &str) -> Result<usize> {
        self.revoke_where(principal, |_| true).await
    }

    /// Ends every other session of `session`'s principal (none if it has no principal)
    /// and returns how many were live. `session` itself stays.
    ///
    /// ```
    /// # async fn after_password_change(session: session_core::Session) -> session_core::Result<()> {
    /// let ended = session.manager().revoke_others(&session).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`sessions_of`](Self::sessions_of), and as [`Session::load`].
    pub async fn revoke_others(&self, session: &Session) -> Result<usize> {
        let Some(principal) = session.principal().await? else {
            return Ok(0);
        };
        let own = session.id();
        self.revoke_where(&principal, |key| {
            own.as_ref().is_none_or(|own| own.expose() != key)
        })
        .await
    }

    /// Ends the session of `principal` whose redacted id is `id_hint` (as
    /// [`SessionInfo::id`] shows it, with or without the `…`), and returns how many were
    /// ended (0 if none matches; more than one only if several of the principal's ids
    /// start alike).
    ///
    /// ```
    /// # async fn handler(manager: session_core::SessionManager) -> session_core::Result<()> {
    /// manager.revoke("alice", "Xy3q…").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`sessions_of`](Self::sessions_of).
    pub async fn revoke(&self, principal: &str, id_hint: &str) -> Result<usize> {
        let prefix = id_hint.trim_end_matches('…');
        if prefix.len() < HINT_LEN {
            return Ok(0);
        }
        self.revoke_where(principal, |key| key.starts_with(prefix)).await
    }

    async fn revoke_where(&self, principal: &str, pick: impl Fn(&str) -> bool) -> Result<usize> {
        let keys: Vec<String> = self
            .engine
            .store
            .sessions_of(principal)
            .await?
            .into_iter()
            .map(|s| s.key)
            .filter(|key| pick(key))
            .collect();
        let ended = self.engine.store.revoke(principal, &keys).await?;
        revoked(&self.engine, principal, &keys, ended);
        tracing::info!(ended, "sessions of a principal revoked");
        Ok(ended)
    }
}

/// Counts and reports `ended` sessions of `principal` revoked among `keys`.
fn revoked(engine: &EngineInner, principal: &str, keys: &[String], ended: usize) {
    engine.store.metrics.revoked(ended);
    if let Some(hot) = &engine.hot {
        // this instance's hot copies of them go too (another instance's fail their next
        // compare-and-set)
        let ids: Vec<SessionId> = keys.iter().filter_map(|key| SessionId::parse(key)).collect();
        hot.forget(&ids);
    }
    if ended > 0 {
        engine.events.emit(|| SessionEvent::Revoked {
            principal: principal.to_owned(),
            ids: keys.iter().filter_map(|key| SessionId::parse(key)).collect(),
        });
    }
}

/// Characters of an id a hint shows.
const HINT_LEN: usize = 4;

/// The redacted form of a stored key.
fn hint(key: &str) -> String {
    format!("{}…", key.get(..HINT_LEN).unwrap_or(key))
}

/// Ends the oldest sessions of `principal` beyond `limit`, never `own`: after a commit
/// that gave a session its principal. Failures are logged, not reported: the login
/// itself succeeded.
pub(crate) async fn enforce_limit(
    engine: &EngineInner,
    principal: &str,
    own: Option<&SessionId>,
    limit: usize,
) {
    let result: Result<usize> = async {
        let mut others: Vec<IndexedSession> = engine
            .store
            .sessions_of(principal)
            .await?
            .into_iter()
            .filter(|s| own.is_none_or(|own| own.expose() != s.key))
            .collect();
        let keep = limit.saturating_sub(usize::from(own.is_some()));
        if others.len() <= keep {
            return Ok(0);
        }
        others.sort_by(|a, b| {
            a.created
                .cmp(&b.created)
                .then_with(|| a.last_seen.cmp(&b.last_seen))
        });
        let oldest: Vec<String> = others.into_iter().map(|s| s.key).rev().skip(keep).collect();
        let ended = engine.store.revoke(principal, &oldest).await?;
        revoked(engine, principal, &oldest, ended);
        Ok(ended)
    }
    .await;
    match result {
        Ok(0) => {}
        Ok(ended) => tracing::info!(
            ended,
            limit,
            "a principal's oldest sessions ended (max_sessions_per_principal)"
        ),
        Err(error) => {
            tracing::warn!(error = %chain(&error), "the principal's session limit could not be applied")
        }
    }
}
