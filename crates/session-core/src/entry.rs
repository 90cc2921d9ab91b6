//! The expiry of one store entry (ASP.NET Core's `DistributedCacheEntryOptions`).

use std::time::{Duration, SystemTime};

/// Expiry of one cache entry (ASP.NET Core's `DistributedCacheEntryOptions`).
///
/// An entry with both a sliding and an absolute expiry dies at whichever comes first.
/// An entry with neither never expires on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryOptions {
    /// The entry expires this long after its last read, write or refresh.
    pub sliding_expiration: Option<Duration>,
    /// The entry expires at this instant, however often it is used.
    pub absolute_expiration: Option<SystemTime>,
}

impl EntryOptions {
    /// Options with only a sliding expiry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::store::EntryOptions;
    /// let options = EntryOptions::sliding(Duration::from_secs(20 * 60));
    /// assert_eq!(options.absolute_expiration, None);
    /// ```
    pub fn sliding(idle: Duration) -> Self {
        EntryOptions {
            sliding_expiration: Some(idle),
            absolute_expiration: None,
        }
    }

    /// Adds an absolute expiry.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use session_core::store::EntryOptions;
    /// let end = SystemTime::now() + Duration::from_secs(3600);
    /// let options = EntryOptions::sliding(Duration::from_secs(60)).with_absolute(end);
    /// ```
    pub fn with_absolute(mut self, at: SystemTime) -> Self {
        self.absolute_expiration = Some(at);
        self
    }

    /// The instant this entry expires if it is last touched at `now`, or `None` if never
    /// (also for a sliding window too long for `SystemTime` to hold its end).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use session_core::store::EntryOptions;
    /// let now = SystemTime::now();
    /// let options = EntryOptions::sliding(Duration::from_secs(60)).with_absolute(now + Duration::from_secs(10));
    /// assert_eq!(options.expires_at(now), Some(now + Duration::from_secs(10)));
    /// ```
    pub fn expires_at(&self, now: SystemTime) -> Option<SystemTime> {
        let sliding = self.sliding_expiration.and_then(|d| now.checked_add(d));
        match (sliding, self.absolute_expiration) {
            (Some(s), Some(a)) => Some(s.min(a)),
            (s, a) => s.or(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_longer_than_system_time_holds_never_ends() {
        let now = SystemTime::now();
        assert_eq!(EntryOptions::sliding(Duration::MAX).expires_at(now), None);
        let at = now + Duration::from_secs(60);
        let capped = EntryOptions::sliding(Duration::MAX).with_absolute(at);
        assert_eq!(capped.expires_at(now), Some(at));
    }
}
