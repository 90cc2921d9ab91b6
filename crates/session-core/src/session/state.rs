//! The mutable state behind a [`Session`](super::Session) and where its request stands.

use serde_bytes::ByteBuf;

use crate::{
    cookie_header::CookieValue,
    engine::{lease::Lease, response::Outcome},
    error::Error,
    error::Result,
    id::SessionId,
    payload::{self, Values},
};

/// Where the session of a request stands.
pub(crate) enum Phase {
    /// Not used yet: nothing loaded, nothing locked.
    Unloaded,
    /// Loaded (or fresh) and usable.
    Ready,
    /// Loading or an early save failed; the response becomes this error response (a 503).
    Failed {
        /// What the client gets.
        response: crate::engine::response::ErrorResponse,
        /// What later accesses in the same request report.
        summary: &'static str,
    },
    /// Committed early by `save()`: values can still be read, not written; the end of
    /// the request hands the adapter this outcome.
    Saved(Outcome),
    /// Committed; the handle is dead.
    Finished,
}

/// The mutable state behind a session.
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
    /// Whom the session belongs to now.
    pub principal: Option<String>,
    /// Whom it belonged to when loaded (the store's index lists it there).
    pub stored_principal: Option<String>,
    pub values: Values,
    /// Encoded size of all entries, kept in step with `values`.
    pub entries_len: usize,
    pub modified: bool,
    /// The client's cookie must be deleted unless a new session replaces it.
    pub expire_cookie: bool,
    /// The lock on the current, stored id.
    pub lease: Option<Lease>,
    /// The lock on a replaced id whose entry is deleted at commit (cycle, flush, past its
    /// lifetime, unreadable).
    pub retired: Option<Lease>,
    /// The request moved the session to a new id, or flushed it (for metrics).
    pub cycled: bool,
    pub flushed: bool,
}

impl State {
    pub(crate) fn new(incoming: Option<CookieValue>) -> Self {
        State {
            phase: Phase::Unloaded,
            incoming,
            id: None,
            is_new: false,
            created: 0,
            principal: None,
            stored_principal: None,
            values: Values::default(),
            entries_len: 0,
            modified: false,
            expire_cookie: false,
            lease: None,
            retired: None,
            cycled: false,
            flushed: false,
        }
    }

    /// Turns the state into a brand-new session with a fresh id, keeping `values`.
    pub(crate) fn renew(&mut self) {
        self.id = Some(SessionId::generate());
        self.is_new = true;
    }

    /// A fresh, empty session with a new id.
    pub(crate) fn reset(&mut self, created: u64) {
        self.renew();
        self.created = created;
        self.principal = None;
        self.values.clear();
        self.entries_len = 0;
        self.modified = false;
    }

    /// Stores `value` under `key`, unless the session would then exceed `max_payload`.
    pub(crate) fn put(&mut self, max_payload: usize, key: &str, value: Vec<u8>) -> Result<()> {
        let old = self.values.get(key).map_or(0, |v| payload::entry_len(key, v));
        let entries_len = self.entries_len - old + payload::entry_len(key, &value);
        let count = self.values.len() + usize::from(!self.values.contains_key(key));
        let size = payload::encoded_len(self.created, self.principal.as_deref(), count, entries_len);
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

    /// Records `principal` as the session's owner, unless the session would then exceed
    /// `max_payload`.
    pub(crate) fn set_principal(&mut self, max_payload: usize, principal: Option<String>) -> Result<()> {
        if self.principal == principal {
            return Ok(());
        }
        let size = payload::encoded_len(
            self.created,
            principal.as_deref(),
            self.values.len(),
            self.entries_len,
        );
        if size > max_payload {
            return Err(Error::PayloadTooLarge {
                size,
                limit: max_payload,
            });
        }
        self.principal = principal;
        self.modified = true;
        Ok(())
    }

    /// Removes `key`; the bytes it held.
    pub(crate) fn take(&mut self, key: &str) -> Option<ByteBuf> {
        let old = self.values.remove(key)?;
        self.entries_len -= payload::entry_len(key, &old);
        self.modified = true;
        Some(old)
    }

    /// Moves the data to a new id: the old entry is deleted at commit.
    pub(crate) fn cycle(&mut self) {
        if let Some(lease) = self.lease.take() {
            self.retired = Some(lease);
            self.cycled = true;
        }
        self.renew();
        self.modified = true;
    }

    /// Deletes the session at commit and expires its cookie; a later write in the same
    /// request starts a new session.
    pub(crate) fn flush(&mut self, now: u64) {
        if let Some(lease) = self.lease.take() {
            self.retired = Some(lease);
            self.flushed = true;
            self.cycled = false;
        }
        self.reset(now);
        self.expire_cookie = true;
    }
}
