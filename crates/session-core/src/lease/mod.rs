//! The machinery every store with a cross-instance lease lock shares (Redis, SQL Server,
//! and any other, such as a PostgreSQL store): one meaning for the lock and commit
//! results, one judgement of connections whose calls were cut off, and one schedule for
//! releasing leases that may still be held while the store fails.
//!
//! - [`LockStatus`] and [`commit_result`]: the numbers a store's lock statement or script
//!   returns, and what they mean to the engine;
//! - [`ConnectionHealth`]: whether a pooled connection may be lent again after a call
//!   failed or was cut off before its reply;
//! - [`Resend`]: when a failed call goes once more, on another connection;
//! - [`release_until`] and [`ReleaseRetry`]: releasing an abandoned lease until it gets
//!   through or has expired.

mod health;
mod retry;

pub use health::{CallWatch, ConnectionHealth};
pub use retry::{release_until, ReleaseRetry};

use crate::{
    error::Error,
    error::Result,
    lock::{Fence, LockAttempt},
};

/// What a store's lock call answers, as one number with the value beside it: the same
/// numbers in every store's lock statement or script, so that each maps them the same
/// way ([`attempt`](Self::attempt)).
///
/// ```
/// use session_core::store::{lease::LockStatus, Fence, LockAttempt};
/// let fence = Fence::new(7);
/// assert_eq!(LockStatus::attempt(2, Some(b"v".to_vec()), fence), LockAttempt::Acquired(b"v".to_vec(), fence));
/// assert_eq!(LockStatus::attempt(1, None, fence), LockAttempt::Busy);
/// assert_eq!(LockStatus::attempt(0, None, fence), LockAttempt::Missing);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockStatus {
    /// No live entry: no lease was taken (or the one taken was given back).
    Missing = 0,
    /// Another token holds a live lease: nothing changed.
    Busy = 1,
    /// The lease is the caller's now, and the value comes with it.
    Acquired = 2,
}

impl LockStatus {
    /// The [`LockAttempt`] of a lock call that answered `status`, `value` and the entry's
    /// `fence` ([`Fence::ZERO`] from a store without fencing). Anything but a known status
    /// with what it needs (an acquired lease without a value) counts as
    /// [`Missing`](Self::Missing): a fresh session, never a panic.
    ///
    /// ```
    /// use session_core::store::{lease::LockStatus, Fence, LockAttempt};
    /// assert_eq!(LockStatus::attempt(2, None, Fence::ZERO), LockAttempt::Missing);
    /// assert_eq!(LockStatus::attempt(7, None, Fence::ZERO), LockAttempt::Missing);
    /// ```
    pub fn attempt(status: i64, value: Option<Vec<u8>>, fence: Fence) -> LockAttempt {
        match (status, value) {
            (2, Some(value)) => LockAttempt::Acquired(value, fence),
            (1, _) => LockAttempt::Busy,
            _ => LockAttempt::Missing,
        }
    }
}

/// When a call that failed goes once more on another connection: only when the
/// connection it went out on turned out dead (a transport error: the server restarted,
/// or a network device dropped the idle connection) and was one the pool had lent before
/// (a new connection that fails says the server is down: trying again would only double
/// the failures). Every lease call is safe to send twice: a lock call takes the same lease
/// again for the same token, and a commit that ran the first time finds its lease gone
/// and reports it lost rather than writing twice.
///
/// ```
/// use session_core::store::lease::Resend;
/// let mut resend = Resend::up_to(2);
/// assert!(!resend.again(false, true), "a server error: not the connection's fault");
/// assert!(!resend.again(true, false), "a fresh connection failed: the server is down");
/// assert!(resend.again(true, true));
/// assert!(resend.again(true, true));
/// assert!(!resend.again(true, true), "at most twice");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Resend {
    left: usize,
}

impl Resend {
    /// At most once more (a multiplexed store: one dead shared connection).
    ///
    /// ```
    /// let resend = session_core::store::lease::Resend::once();
    /// ```
    pub fn once() -> Self {
        Self::up_to(1)
    }

    /// At most `times` more (a pool of exclusive connections, each of which may have
    /// died while idle: up to the pool's size).
    ///
    /// ```
    /// let resend = session_core::store::lease::Resend::up_to(16);
    /// ```
    pub fn up_to(times: usize) -> Self {
        Resend { left: times }
    }

    /// Whether the failed call goes again, on another connection: its connection is
    /// `broken` and was `reused` from the pool, and tries are left.
    ///
    /// ```
    /// let mut resend = session_core::store::lease::Resend::once();
    /// assert!(resend.again(true, true));
    /// ```
    pub fn again(&mut self, broken: bool, reused: bool) -> bool {
        let again = broken && reused && self.left > 0;
        if again {
            self.left -= 1;
        }
        again
    }
}

/// The result of a commit-and-release statement or script that answers 1 when the token
/// still owned a live lease (the operation was applied) and anything else when it did
/// not (nothing was written).
///
/// ```
/// use session_core::{store::lease::commit_result, Error};
/// assert!(commit_result(1).is_ok());
/// assert!(matches!(commit_result(0), Err(Error::LeaseLost)));
/// ```
///
/// # Errors
/// [`Error::LeaseLost`] for anything but 1.
pub fn commit_result(answer: i64) -> Result<()> {
    match answer {
        1 => Ok(()),
        _ => Err(Error::LeaseLost),
    }
}

/// The result of a commit-and-keep statement or script (hot sessions) that answers 1
/// when it kept the lease, 2 when it committed and gave the lease back, and anything
/// else when the token no longer owned a live lease (nothing was written).
///
/// ```
/// use session_core::{store::{lease::kept_result, Kept}, Error};
/// assert_eq!(kept_result(1).ok(), Some(Kept::Kept));
/// assert_eq!(kept_result(2).ok(), Some(Kept::Released));
/// assert!(matches!(kept_result(0), Err(Error::LeaseLost)));
/// ```
///
/// # Errors
/// [`Error::LeaseLost`] for anything but 1 or 2.
pub fn kept_result(answer: i64) -> Result<crate::lock::Kept> {
    match answer {
        1 => Ok(crate::lock::Kept::Kept),
        2 => Ok(crate::lock::Kept::Released),
        _ => Err(Error::LeaseLost),
    }
}
