//! The principal-index capability: which sessions belong to whom, so that an application
//! can list a user's sessions and end them all ("log out everywhere").
//!
//! The engine keeps the index exact with three rules, the same on every store:
//!
//! - a commit of a session that has a principal hands the store an [`Owner`], and the
//!   store records the session under it **before** (or in the same atomic step as) the
//!   write that keeps the entry alive: the index is never missing a live session, so a
//!   revocation cannot miss one;
//! - a session that leaves a principal (removed, moved to a new id, given another
//!   principal) is taken out **after** its entry changed ([`PrincipalIndex::unindex`]);
//! - [`PrincipalIndex::sessions_of`] drops what has expired as it lists: an index never
//!   holds more than the live sessions plus those expired since its last listing or write.
//!
//! Revocation ([`PrincipalIndex::revoke`]) ends an entry so that a request holding its
//! lease cannot commit it back: the entry's fence moves on (or the entry and its lease go
//! together), and the holder's compare-and-set fails with
//! [`Error::LeaseLost`](crate::Error::LeaseLost).

use std::time::SystemTime;

use async_trait::async_trait;

use crate::error::Result;

/// Whom a session being committed belongs to, and when its entry expires if the commit
/// succeeds: what a store needs to keep its principal index.
///
/// ```
/// use session_core::store::Owner;
/// let owner = Owner { principal: "alice", expires: None };
/// assert_eq!(owner.principal, "alice");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    /// The principal (a user name or id) the application recorded in the session.
    pub principal: &'a str,
    /// When the entry expires after this commit (`None`: never on its own).
    pub expires: Option<SystemTime>,
}

/// One live session of a principal, as the store's index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedSession {
    /// The session's full id, as the store keys it (a secret: never shown as is).
    pub key: String,
    /// When this id was first stored (a login moves a session to a new id).
    pub created: SystemTime,
    /// When a request last committed or refreshed the session, as precisely as the
    /// store records it (see each store's documentation).
    pub last_seen: SystemTime,
    /// When the session expires unless used again (`None`: never on its own).
    pub expires: Option<SystemTime>,
}

/// A store's index of sessions by principal, for listing and revoking a user's sessions.
///
/// # Contract
///
/// - Every successful [`create`](crate::store::SessionLock::create) or
///   [`commit_and_unlock`](crate::store::SessionLock::commit_and_unlock) with an
///   [`Owner`] leaves the session listed under that owner's principal until it expires,
///   is removed, or is [`unindex`](Self::unindex)ed; the record is made no later than the
///   entry's write (a crash between the two leaves at most a record too many, never one
///   too few).
/// - [`sessions_of`](Self::sessions_of) lists only live sessions, and prunes the records
///   of expired or removed ones as it goes.
/// - [`revoke`](Self::revoke) removes each entry so that it reads as missing at once, on
///   every instance, and so that a lease holder's commit on it fails with
///   [`Error::LeaseLost`](crate::Error::LeaseLost) (no resurrection); then drops the
///   records.
#[async_trait]
pub trait PrincipalIndex: Send + Sync {
    /// The live sessions recorded under `principal`, in no particular order.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn sessions_of(&self, principal: &str) -> Result<Vec<IndexedSession>>;

    /// Ends the sessions `keys` of `principal` (see the contract) and returns how many
    /// of them were live.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached; some of the
    /// sessions may have been ended already.
    async fn revoke(&self, principal: &str, keys: &[String]) -> Result<usize>;

    /// Takes `key` out of `principal`'s index, after its entry was removed or given
    /// another principal. A store whose index is the entry itself (a column, a field)
    /// has nothing to do.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn unindex(&self, principal: &str, key: &str) -> Result<()>;
}

/// A fixed-length stand-in for a principal's name where a store names things after it
/// (Redis keys, index rows): the first 128 bits of its SHA-256, in lower-case hex. Store
/// key names then have a bounded length and show no user names.
///
/// ```
/// let digest = session_core::store::principal_digest("alice");
/// assert_eq!(digest.len(), 32);
/// assert_eq!(digest, session_core::store::principal_digest("alice"));
/// assert_ne!(digest, session_core::store::principal_digest("bob"));
/// ```
pub fn principal_digest(principal: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(principal.as_bytes());
    hash.iter()
        .take(16)
        .fold(String::with_capacity(32), |mut out, byte| {
            use std::fmt::Write;
            let _ = write!(out, "{byte:02x}");
            out
        })
}
