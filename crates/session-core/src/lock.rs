//! The session-lock capability: lease locks that serialize one session's requests.

use std::{fmt, time::Duration};

use async_trait::async_trait;
use rand::RngCore;

use crate::{entry::EntryOptions, error::Result, principal::Owner};

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

/// A session's fencing number: it grows with every write of the entry, so that a commit
/// can check that nothing wrote the entry since its lease read it.
///
/// A lease alone cannot promise that: on a store that fails over to an asynchronously
/// replicated copy, or when something writes or removes the entry without the lock (a
/// "log out everywhere", another application sharing the store), the holder of a lease
/// can still hold a token that matches while the entry has changed. A fenced store
/// commits only if both the token and the fence are still the ones the lock call saw
/// (a compare-and-set on both), and writes the next fence with the value.
///
/// ```
/// use session_core::store::Fence;
/// let read = Fence::new(41);
/// assert_eq!(read.next(), Fence::new(42));
/// assert_eq!(Fence::ZERO.get(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fence(u64);

impl Fence {
    /// The fence of an entry no fenced write has touched (written by another application
    /// or an older version), and the one stores without fencing report.
    pub const ZERO: Fence = Fence(0);

    /// The fence numbered `n`.
    pub const fn new(n: u64) -> Self {
        Fence(n)
    }

    /// Its number, as stores save it.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The fence a write after this one stores.
    #[must_use]
    pub const fn next(self) -> Fence {
        Fence(self.0.saturating_add(1))
    }
}

/// What [`SessionLock::try_lock_and_get`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LockAttempt {
    /// The lease is now held by the caller's token; here is the entry's value, and its
    /// [`Fence`] (to hand back to [`SessionLock::commit_and_unlock`]).
    Acquired(Vec<u8>, Fence),
    /// There is no live entry under the key; no lease was taken.
    Missing,
    /// Another token holds a live lease; nothing was changed, except that a store that
    /// [`keeps_leases`](SessionLock::keeps_leases) may note that the caller waits (so that
    /// a kept lease is let go, and goes to the caller next).
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
///   releases the lease in one atomic step, **only** if `token` still owns the lease;
///   otherwise it changes nothing and returns [`Error::LeaseLost`](crate::Error::LeaseLost).
///   A lease that expired is lost once another token takes it; a store that
///   [`fences`](Self::fences) may still accept a commit after the expiry when no one took
///   it, since the unchanged fence shows that nothing was written in between.
/// - A store that [`fences`](Self::fences) also commits a `Set`, `Refresh` or `Remove`
///   only if the entry's [`Fence`] is still the one the lock call returned (nothing wrote
///   or removed it in between), and stores [`Fence::next`] with a `Set`; otherwise it
///   changes nothing but releasing the lease, and returns `LeaseLost`. A `Release`
///   checks the token only.
/// - [`create`](Self::create) writes a brand-new key only if it does not exist: new
///   session ids are never check-then-written.
/// - A store with a [`PrincipalIndex`](crate::store::PrincipalIndex) records a session
///   committed or created with an [`Owner`] under its principal (see that trait); others
///   ignore the owner.
#[async_trait]
pub trait SessionLock: Send + Sync {
    /// Tries once to take the lease on `key` for `lease` and read its value.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt>;

    /// Applies `op` to `key` and releases the lease, if `token` still owns it (and, on a
    /// store that [`fences`](Self::fences), the entry is still at `fence`). `owner` comes
    /// with a `Set` or `Refresh` of a session that has a principal.
    ///
    /// # Errors
    /// [`Error::LeaseLost`](crate::Error::LeaseLost) if the lease expired or belongs to
    /// another token, or the entry moved past `fence` (nothing was written);
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn commit_and_unlock(
        &self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
    ) -> Result<()>;

    /// Stores `value` under `key` only if no live entry exists there (recording it under
    /// `owner`'s principal, if any). Returns `false` (and changes nothing) if one does.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store cannot be reached.
    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        options: EntryOptions,
        owner: Option<Owner<'_>>,
    ) -> Result<bool>;

    /// The longest lease this store can hold as asked. The engine refuses, at build time,
    /// a `lock_lease` over it (rather than have the store shorten leases silently).
    /// Default: no limit of the store's own.
    fn max_lease(&self) -> Duration {
        Duration::MAX
    }

    /// Whether commits also compare the entry's [`Fence`] (see the contract above).
    /// Default: `false` (the lease token alone decides).
    fn fences(&self) -> bool {
        false
    }

    /// Hot sessions: applies `op` exactly as [`commit_and_unlock`](Self::commit_and_unlock)
    /// would (the same compare-and-set on token and fence), but keeps the lease for
    /// `keep.lease` more, by the store's clock, instead of releasing it, so that the
    /// holder's next request of the session needs no lock call. A `Release` only extends
    /// the lease. A `Set` with `keep.slide` false may leave the entry's expiry where it is
    /// (the engine slid it less than a tenth of the idle timeout ago). Returns
    /// [`Kept::Released`] if the store let the lease go instead (another instance asked
    /// for the session while it was held: see [`LockAttempt::Busy`]).
    ///
    /// The default, for stores that do not [`keep leases`](Self::keeps_leases), commits
    /// and releases.
    ///
    /// # Errors
    /// As [`commit_and_unlock`](Self::commit_and_unlock).
    async fn commit_and_keep(
        &self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
        keep: Keeping,
    ) -> Result<Kept> {
        let _ = keep;
        self.commit_and_unlock(key, token, fence, op, owner)
            .await
            .map(|()| Kept::Released)
    }

    /// Whether [`commit_and_keep`](Self::commit_and_keep) can keep leases (default
    /// `false`). A store that says so also marks an entry whose lease it answers
    /// [`Busy`](LockAttempt::Busy) for, so that the holder's next keeping commit lets the
    /// lease go; and its [`try_lock_and_get`](Self::try_lock_and_get) takes a lease that
    /// the same token already holds again (a holder renewing its kept lease).
    fn keeps_leases(&self) -> bool {
        false
    }

    /// Hot sessions: the engines built over this store with hot sessions on give it
    /// their [`Recalls`](crate::store::Recalls) (the engines over one store share one:
    /// keep one of each, see [`Recalls::same_as`](crate::store::Recalls::same_as)). A
    /// store that keeps leases calls [`recall`](crate::store::Recalls::recall) when
    /// another instance waits for a session (and releases the lease it returns), and
    /// [`recheck_all`](crate::store::Recalls::recheck_all) when it may have missed such
    /// calls. The default ignores them: a waiter then gets the session at the holder's
    /// next commit, or when the kept lease lapses.
    fn watch_recalls(&self, recalls: crate::store::Recalls) {
        let _ = recalls;
    }
}

/// How [`SessionLock::commit_and_keep`] keeps a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keeping {
    /// How long the lease lasts after the commit, by the store's clock.
    pub lease: Duration,
    /// Whether a `Set` must also slide the entry's expiry (a `Refresh` always does).
    pub slide: bool,
    /// Whether a `Set` must extend the lease: `false` while more than half of what the
    /// last keeping call gave is left, when the lease may stay where that call put it
    /// (a store may extend it anyway). Every other op extends.
    pub extend: bool,
}

impl Keeping {
    /// Keeps the lease for `lease`, sliding the expiry and extending the lease.
    pub const fn new(lease: Duration) -> Self {
        Keeping {
            lease,
            slide: true,
            extend: true,
        }
    }
}

/// What [`SessionLock::commit_and_keep`] did with the lease, once the commit succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The caller's token holds the lease for the time asked.
    Kept,
    /// The lease was given back (another instance asked for the session, or the store
    /// keeps no leases).
    Released,
}
