//! Session times: creation in Unix seconds, and the end of an absolute lifetime.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When a session created at `created` (Unix seconds) ends with an absolute `lifetime`;
/// `None` if that is beyond what `SystemTime` holds (only a corrupt stored time is).
pub(crate) fn lifetime_end(created: u64, lifetime: Duration) -> Option<SystemTime> {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(created))?
        .checked_add(lifetime)
}
