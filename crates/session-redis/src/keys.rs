//! Key names and the .NET tick values of ASP.NET Core's Redis layout.
//!
//! An entry is a hash `<instance>{<key>}` with fields `absexp` (absolute expiry, .NET
//! ticks, or -1), `sldexp` (sliding window, ticks, or -1) and `data`, as
//! `Microsoft.Extensions.Caching.StackExchangeRedis` writes it; the key's TTL is set to
//! the nearer of the two. The session lease is `<instance>{<key>}:lock`. The braces are
//! a hash tag: both keys of a session live in the same Redis Cluster slot.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use session_core::EntryOptions;

/// .NET ticks (100 ns) between 0001-01-01 and the Unix epoch.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// The data and lease keys of `key` under `prefix`.
pub(crate) fn names(prefix: &str, key: &str) -> (String, String) {
    let data = format!("{prefix}{{{key}}}");
    let lock = format!("{data}:lock");
    (data, lock)
}

/// A duration in ticks.
pub(crate) fn duration_ticks(d: Duration) -> i64 {
    i64::try_from(d.as_nanos() / 100).unwrap_or(i64::MAX)
}

/// An instant in .NET ticks (UTC).
pub(crate) fn instant_ticks(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH_TICKS.saturating_add(duration_ticks(since)),
        Err(before) => UNIX_EPOCH_TICKS.saturating_sub(duration_ticks(before.duration())),
    }
}

/// Now, in .NET ticks.
pub(crate) fn now_ticks() -> i64 {
    instant_ticks(SystemTime::now())
}

/// The key TTL of an entry written at `now` with `options`, in whole milliseconds: the
/// nearer of the sliding window and the absolute expiry; -1 for an entry that never
/// expires; `None` for one already expired (less than 1 ms left), which is not stored.
pub(crate) fn ttl_ms(options: &EntryOptions, now: SystemTime) -> Option<i64> {
    let Some(expires) = options.expires_at(now) else {
        return Some(-1);
    };
    let left = expires.duration_since(now).ok()?;
    match i64::try_from(left.as_millis()).unwrap_or(i64::MAX) {
        0 => None,
        ms => Some(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_hash_tag() {
        let (data, lock) = names("KestrunSession_", "abc");
        assert_eq!(data, "KestrunSession_{abc}");
        assert_eq!(lock, "KestrunSession_{abc}:lock");
    }

    #[test]
    fn ticks_match_dotnet() {
        // 2000-01-01T00:00:00Z is 630822816000000000 ticks in .NET
        let y2k = UNIX_EPOCH + Duration::from_secs(946_684_800);
        assert_eq!(instant_ticks(y2k), 630_822_816_000_000_000);
        assert_eq!(duration_ticks(Duration::from_secs(20 * 60)), 12_000_000_000);
    }

    #[test]
    fn ttl_is_the_nearer_expiry_in_ms() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let idle = EntryOptions::sliding(Duration::from_secs(20 * 60));
        assert_eq!(ttl_ms(&idle, now), Some(1_200_000));
        let soon = idle.with_absolute(now + Duration::from_millis(1500));
        assert_eq!(ttl_ms(&soon, now), Some(1500));
        assert_eq!(ttl_ms(&EntryOptions::default(), now), Some(-1));
        assert_eq!(
            ttl_ms(&idle.with_absolute(now + Duration::from_micros(900)), now),
            None
        );
        assert_eq!(
            ttl_ms(&idle.with_absolute(now - Duration::from_secs(1)), now),
            None
        );
    }
}
