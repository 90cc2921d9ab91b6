//! Whom the session belongs to: the principal that "log out everywhere" finds it by.

use super::Session;
use crate::{engine::SessionManager, error::Result};

impl Session {
    /// The principal (user name or id) this session belongs to, if a handler set one.
    ///
    /// ```
    /// # async fn whoami(session: session_core::Session) -> session_core::Result<()> {
    /// match session.principal().await? {
    ///     Some(user) => println!("logged in as {user}"),
    ///     None => println!("anonymous"),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn principal(&self) -> Result<Option<String>> {
        Ok(self.ready().await?.principal.clone())
    }

    /// Records whom the session belongs to (`None`: nobody), so that
    /// [`SessionManager`] can list and end it with the principal's other sessions. The
    /// store indexes it from this request's commit. At login, prefer
    /// [`login`](Self::login), which also moves the session to a new id.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// session.set_principal(Some("alice")).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::PayloadTooLarge`](crate::Error::PayloadTooLarge) if the name would take
    /// the session over its cap (nothing changes); [`Error::Saved`](crate::Error::Saved)
    /// after [`save`](Self::save); otherwise as [`load`](Self::load).
    pub async fn set_principal(&self, principal: Option<&str>) -> Result<()> {
        let max = self.max_payload();
        self.writable()
            .await?
            .set_principal(max, principal.map(str::to_owned))
    }

    /// Logs `principal` in: moves the session to a new id (against session fixation, as
    /// [`cycle_id`](Self::cycle_id)) and records the principal, in one call. With
    /// [`max_sessions_per_principal`](crate::adapter::SessionConfig::max_sessions_per_principal)
    /// set, the principal's oldest sessions beyond it end after this request's commit.
    ///
    /// ```
    /// # async fn login(session: session_core::Session) -> session_core::Result<()> {
    /// session.login("alice").await?;
    /// session.insert("user", "alice").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`set_principal`](Self::set_principal).
    pub async fn login(&self, principal: &str) -> Result<()> {
        let max = self.max_payload();
        let mut state = self.writable().await?;
        state.set_principal(max, Some(principal.to_owned()))?;
        state.cycle();
        self.publish_id(&state);
        Ok(())
    }

    /// The handle for listing and ending the sessions of a principal, over this
    /// session's store.
    ///
    /// ```
    /// # async fn handler(session: session_core::Session) -> session_core::Result<()> {
    /// let ended = session.manager().revoke_others(&session).await?;
    /// # Ok(()) }
    /// ```
    pub fn manager(&self) -> SessionManager {
        SessionManager::new(std::sync::Arc::clone(&self.shared.engine))
    }
}
