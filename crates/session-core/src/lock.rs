//! The session-lock capability: lease locks that serialize one session's requests.

use std::{fmt, time::Duration};

use async_trait::async_trait;
use rand::RngCore;

use crate::{entry::EntryOptions, error::Result};

/// Proof of ownership of a session lease: 128 random bits, fresh for every request.
///
/// Only the holder of the token that took a lease can commit through it or release it.
#[derive(Clone, PartialEq, Eq)]
pub struct LockToken([u8; 16]);

impl LockToken {
    /// A new random token.
    ///
    /// ```
    /// use session_core::store::LockToken;
    /// assert_ne!(LockToken::generate(), LockToken::generate());
    /// ```
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        LockToken(bytes)
    }

    /// The token's bytes, as stores save them.
    ///
    /// ```
    /// let token = session_core::store::LockToken::generate();
    /// let stored: Vec<u8> = token.as_bytes().to_vec();
    /// ```
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for LockToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockToken(..)")
    }
}

/// What [`SessionLock::try_lock_and_get`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LockAttempt {
    /// The lease is now held by the caller's token; here is the entry's value.
    Acquired(Vec<u8>),
    /// There is no live entry under the key; no lease was taken.
    Missing,
    /// Another token holds a live lease; nothing was changed.
    Busy,
}

/// What a commit does to the entry before releasing the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOp {
    /// Replace the value and its expiry.
    Set {
        /// The new value.
        value: Vec<u8>,
        /// Its expiry.
        options: EntryOptions,
    },
    /// Slide the expiry, keeping the value.
    Refresh,
    /// Delete the entry.
    Remove,
    /// Leave the entry as it is.
    Release,
}

/// Lease locks in the store, so that the requests of one session are serialized across
/// every process sharing the store.
///
/// # Contract
///
/// - A lease is owned by a [`LockToken`] and lasts `lease` unless released; a holder
///   that dies cannot block the session for longer.
/// - [`try_lock_and_get`](Self::try_lock_and_get) takes the lease and reads the value in
///   one atomic step (one round trip for remote stores).
/// - [`commit_and_unlock`](Self::commit_and_unlock) applies its [`CommitOp`] and
///   releases the lease in one atomic step, **only** if `token` still owns a live lease;
///   otherwise it changes nothing and returns [`Error::LeaseLost`](crate::Error::LeaseLost).
/// - [`create`](Self::create) writes a brand-new key only if it does not exist: new
///   session ids are never check-then-written.
#[async_trait]
pub trait SessionLock: Send + Sync {
    /// Tries once to take the lease on `key` for `lease` and read its value.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt>;

    /// Applies `op` to `key` and releases the lease, if `token` still owns it.
    ///
    /// # Errors
    /// [`Error::LeaseLost`](crate::Error::LeaseLost) if the lease expired or belongs to
    /// another token (nothing was written); [`Error::Store`](crate::Error::Store) if the
    /// store cannot be reached.
    async fn commit_and_unlock(&self, key: &str, token: &LockToken, op: CommitOp) -> Result<()>;

    /// Stores `value` under `key` only if no live entry exists there.
    /// Returns `false` (and changes nothing) if one does.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn create(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<bool>;

    /// The longest lease this store can hold as asked. The engine refuses, at build time,
    /// a `lock_lease` over it (rather than have the store shorten leases silently).
    /// Default: no limit of the store's own.
    fn max_lease(&self) -> Duration {
        Duration::MAX
    }
}
