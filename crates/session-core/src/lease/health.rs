//! Whether a pooled connection may be lent again: a call that failed at the transport
//! level, or that was cut off before its reply, can leave it dead or out of step.

use std::{
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
    time::{Duration, Instant},
};

/// What the calls on one pooled connection have seen. A pool's manager asks
/// [`is_broken`](Self::is_broken) when the connection comes back, and drops a broken one.
///
/// A call is watched from before it is sent until its reply is read
/// ([`watch`](Self::watch)); a call dropped in between (its IO timeout cut it off, or its
/// client went away) is judged by the connection's kind:
///
/// - [`exclusive`](Self::exclusive) (one call at a time, as a SQL Server or PostgreSQL
///   connection): the connection may hold half a request or an unread reply, so it is
///   broken at once;
/// - [`multiplexed`](Self::multiplexed) (calls of many requests pipelined on one
///   connection, as redis-rs's): a call dropped after waiting 100 ms or more, or the third
///   in a row dropped before its reply, marks it broken (it may have died without a word,
///   and would serve timeouts until TCP gives up, minutes later); a single call dropped
///   sooner (its client went away) says nothing about the connection the others share.
///
/// ```
/// use session_core::store::lease::ConnectionHealth;
/// let health = ConnectionHealth::exclusive();
/// let watch = health.watch();
/// drop(watch); // cut off before the reply
/// assert!(health.is_broken());
/// ```
#[derive(Debug)]
pub struct ConnectionHealth {
    broken: AtomicBool,
    /// Calls dropped in a row before their reply (any reply resets it).
    unanswered: AtomicU32,
    multiplexed: bool,
}

/// How long a reply may be awaited before a dropped call makes a multiplexed connection
/// suspect. Replies take well under a millisecond on a healthy connection.
const SUSPECT_AFTER: Duration = Duration::from_millis(100);
/// How many calls in a row may be dropped before their replies, however soon.
const UNANSWERED_LIMIT: u32 = 3;

impl ConnectionHealth {
    /// A connection that carries one call at a time.
    ///
    /// ```
    /// let health = session_core::store::lease::ConnectionHealth::exclusive();
    /// assert!(!health.is_broken());
    /// ```
    pub fn exclusive() -> Self {
        ConnectionHealth {
            broken: AtomicBool::new(false),
            unanswered: AtomicU32::new(0),
            multiplexed: false,
        }
    }

    /// A connection whose calls many requests pipeline.
    ///
    /// ```
    /// let health = session_core::store::lease::ConnectionHealth::multiplexed();
    /// drop(health.watch()); // one call dropped at once: the others go on
    /// assert!(!health.is_broken());
    /// ```
    pub fn multiplexed() -> Self {
        ConnectionHealth {
            multiplexed: true,
            ..Self::exclusive()
        }
    }

    /// Whether the connection must not be lent again.
    ///
    /// ```
    /// let health = session_core::store::lease::ConnectionHealth::multiplexed();
    /// assert!(!health.is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Marks the connection broken (a call on it failed at the transport level).
    ///
    /// ```
    /// let health = session_core::store::lease::ConnectionHealth::multiplexed();
    /// health.mark_broken();
    /// assert!(health.is_broken());
    /// ```
    pub fn mark_broken(&self) {
        self.broken.store(true, Ordering::Relaxed);
    }

    /// Watches one call: [`answered`](CallWatch::answered) when its reply (or an error
    /// reply) is read; dropped before that, the call is judged as the type's docs say.
    ///
    /// ```
    /// let health = session_core::store::lease::ConnectionHealth::exclusive();
    /// let watch = health.watch();
    /// // ... send the call, read its reply ...
    /// watch.answered();
    /// assert!(!health.is_broken());
    /// ```
    pub fn watch(&self) -> CallWatch<'_> {
        CallWatch {
            health: Some(self),
            since: Instant::now(),
        }
    }
}

/// One call in flight on a connection; see [`ConnectionHealth::watch`].
#[derive(Debug)]
#[must_use = "a watch dropped at once judges the call cut off"]
pub struct CallWatch<'a> {
    health: Option<&'a ConnectionHealth>,
    since: Instant,
}

impl CallWatch<'_> {
    /// The call's reply arrived.
    ///
    /// ```
    /// let health = session_core::store::lease::ConnectionHealth::multiplexed();
    /// health.watch().answered();
    /// ```
    pub fn answered(mut self) {
        if let Some(health) = self.health.take() {
            // (read first: the common case writes nothing to the shared line)
            if health.unanswered.load(Ordering::Relaxed) != 0 {
                health.unanswered.store(0, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for CallWatch<'_> {
    fn drop(&mut self) {
        let Some(health) = self.health else {
            return;
        };
        if !health.multiplexed {
            health.mark_broken();
            return;
        }
        let in_a_row = health
            .unanswered
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if self.since.elapsed() >= SUSPECT_AFTER || in_a_row >= UNANSWERED_LIMIT {
            health.mark_broken();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multiplexed_connection_breaks_on_a_slow_cut_off_or_three_in_a_row() {
        let health = ConnectionHealth::multiplexed();
        drop(health.watch());
        drop(health.watch());
        assert!(!health.is_broken());
        health.watch().answered();
        drop(health.watch());
        drop(health.watch());
        assert!(!health.is_broken(), "a reply in between resets the count");
        drop(health.watch());
        assert!(health.is_broken(), "the third in a row");
        let slow = ConnectionHealth::multiplexed();
        let mut watch = slow.watch();
        watch.since -= SUSPECT_AFTER;
        drop(watch);
        assert!(slow.is_broken(), "cut off after waiting 100 ms");
    }

    #[test]
    fn an_exclusive_connection_breaks_on_any_cut_off_call() {
        let health = ConnectionHealth::exclusive();
        health.watch().answered();
        assert!(!health.is_broken());
        drop(health.watch());
        assert!(health.is_broken());
    }
}
