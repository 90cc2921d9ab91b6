//! The machinery every store with a cross-instance lease lock shares (Redis, SQL Server,
//! and any other, such as a PostgreSQL store): one meaning for the lock and commit
//! results, one judgement of connections whose calls were cut off, and one schedule for
//! releasing leases that may still be held while the store fails.
//!
//! - [`LockStatus`] and [`commit_result`]: the numbers a store's lock statement or script
//!   returns, and what they mean to the engine;
//! - [`ConnectionHealth`]: whether a pooled connection may be lent again after a call
//!   failed or was cut off before its reply;
//! - [`release_until`] and [`ReleaseRetry`]: releasing an abandoned lease until it gets
//!   through or has expired.

mod health;
mod retry;

pub use health::{CallWatch, ConnectionHealth};
pub use retry::{release_until, ReleaseRetry};

use crate::{error::Error, error::Result, lock::LockAttempt};

/// What a store's lock call answers, as one number with the value beside it: the same
/// numbers in every store's lock statement or script, so that each maps them the same
/// way ([`attempt`](Self::attempt)).
///
/// ```
/// use session_core::store::{lease::LockStatus, LockAttempt};
/// assert_eq!(LockStatus::attempt(2, Some(b"v".to_vec())), LockAttempt::Acquired(b"v".to_vec()));
/// assert_eq!(LockStatus::attempt(1, None), LockAttempt::Busy);
/// assert_eq!(LockStatus::attempt(0, None), LockAttempt::Missing);
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
    /// The [`LockAttempt`] of a lock call that answered `status` and `value`. Anything
    /// but a known status with what it needs (an acquired lease without a value) counts
    /// as [`Missing`](Self::Missing): a fresh session, never a panic.
    ///
    /// ```
    /// use session_core::store::{lease::LockStatus, LockAttempt};
    /// assert_eq!(LockStatus::attempt(2, None), LockAttempt::Missing);
    /// assert_eq!(LockStatus::attempt(7, None), LockAttempt::Missing);
    /// ```
    pub fn attempt(status: i64, value: Option<Vec<u8>>) -> LockAttempt {
        match (status, value) {
            (2, Some(value)) => LockAttempt::Acquired(value),
            (1, _) => LockAttempt::Busy,
            _ => LockAttempt::Missing,
        }
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
