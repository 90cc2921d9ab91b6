//! Key names and the .NET tick values of ASP.NET Core's Redis layout.
//!
//! An entry is a hash `<instance>{<key>}` with fields `absexp` (absolute expiry, .NET
//! ticks, or -1), `sldexp` (sliding window, ticks, or -1) and `data`, as
//! `Microsoft.Extensions.Caching.StackExchangeRedis` writes it, plus `fence` (the fencing
//! number this store's commits compare; ASP.NET reads past it); the key's TTL is set to
//! the nearer of the two. The session lease lives in the same hash (fields `lease` and
//! `leaseexp`), so a session is one key. The braces are a hash tag, as ASP.NET writes
//! them.

use std::{
    fmt,
    io::Write,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use redis::{RedisWrite, ToRedisArgs};
use session_core::store::EntryOptions;

/// .NET ticks (100 ns) between 0001-01-01 and the Unix epoch.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// The Redis name of an entry (`<prefix>{<key>}`), written straight into a command's
/// buffer (no `String` per call).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyName<'a> {
    prefix: &'a str,
    head: &'static str,
    key: &'a str,
    tail: &'static str,
}

impl<'a> KeyName<'a> {
    /// The entry `key` under `prefix`.
    pub(crate) fn data(prefix: &'a str, key: &'a str) -> Self {
        KeyName {
            prefix,
            head: "",
            key,
            tail: "",
        }
    }

    /// A principal's index (`<prefix>principal{<digest>}:sessions`, a sorted set of its
    /// session keys scored by expiry) and its companion (`...:seen`, a hash of each
    /// session's `created:last_seen`), under one hash tag.
    pub(crate) fn principal(prefix: &'a str, digest: &'a str) -> [Self; 2] {
        let name = |tail| KeyName {
            prefix,
            head: "principal",
            key: digest,
            tail,
        };
        [name(":sessions"), name(":seen")]
    }

    pub(crate) fn len(&self) -> usize {
        self.prefix.len() + self.head.len() + self.key.len() + self.tail.len() + 2
    }

    fn parts(&self) -> [&'a str; 6] {
        [self.prefix, self.head, "{", self.key, "}", self.tail]
    }
}

impl fmt::Display for KeyName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts().iter().try_for_each(|part| f.write_str(part))
    }
}

impl ToRedisArgs for KeyName<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        for part in self.parts() {
            // the writer appends to the command's Vec: it cannot fail
            if arg.write_all(part.as_bytes()).is_err() {
                break;
            }
        }
    }
}

/// The pub/sub channel on which a busy lock call and a revocation name the entries that
/// instances keeping them hot are to let go (`<prefix>session-recall`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecallChannel<'a>(pub(crate) &'a str);

impl RecallChannel<'_> {
    const NAME: &'static str = "session-recall";

    pub(crate) fn len(&self) -> usize {
        self.0.len() + Self::NAME.len()
    }

    /// The session key an entry's name (`<prefix>{<key>}`, as published) names, if it is
    /// one under this channel's prefix.
    pub(crate) fn key_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        name.strip_prefix(self.0)?.strip_prefix('{')?.strip_suffix('}')
    }
}

impl fmt::Display for RecallChannel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        f.write_str(Self::NAME)
    }
}

impl ToRedisArgs for RecallChannel<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        for part in [self.0, Self::NAME] {
            // the writer appends to the command's Vec: it cannot fail
            if arg.write_all(part.as_bytes()).is_err() {
                break;
            }
        }
    }
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
    fn keys_carry_their_hash_tag_into_the_command() {
        let data = KeyName::data("KestrunSession_", "abc");
        assert_eq!(data.to_string(), "KestrunSession_{abc}");
        assert_eq!(data.len(), data.to_string().len());
        let mut cmd = redis::cmd("DEL");
        cmd.arg(data);
        let args: Vec<_> = cmd.args_iter().collect();
        assert!(matches!(args[1], redis::Arg::Simple(b"KestrunSession_{abc}")));
        let [index, seen] = KeyName::principal("app:", "0f");
        assert_eq!(index.to_string(), "app:principal{0f}:sessions");
        assert_eq!(seen.to_string(), "app:principal{0f}:seen");
        assert_eq!(seen.len(), seen.to_string().len());
    }

    #[test]
    fn the_recall_channel_names_entries_under_its_prefix() {
        let channel = RecallChannel("KestrunSession_");
        assert_eq!(channel.to_string(), "KestrunSession_session-recall");
        assert_eq!(channel.len(), channel.to_string().len());
        let name = KeyName::data("KestrunSession_", "abc").to_string();
        assert_eq!(channel.key_of(&name), Some("abc"));
        assert_eq!(RecallChannel("other_").key_of(&name), None);
        assert_eq!(channel.key_of("KestrunSession_abc"), None);
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel);
        let args: Vec<_> = cmd.args_iter().collect();
        assert!(matches!(
            args[1],
            redis::Arg::Simple(b"KestrunSession_session-recall")
        ));
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
