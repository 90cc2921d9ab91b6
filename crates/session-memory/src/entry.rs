//! One cached value, its expiry and its session lease.
//!
//! Times are milliseconds since the store's creation (a monotonic clock), so clock
//! changes cannot resurrect or kill entries, and an entry stays small (64 bytes plus
//! its value).

use std::{sync::Arc, time::SystemTime};

use session_core::store::{EntryOptions, LockToken};

/// "Never" on the store's clock.
pub(crate) const NEVER: u64 = u64::MAX;

/// A stored value.
#[derive(Debug)]
pub(crate) struct Entry {
    pub value: Box<[u8]>,
    /// When the entry dies unless touched again.
    pub expires_at: u64,
    /// Sliding window in ms (`NEVER`: no sliding expiry).
    pub sliding: u64,
    /// Absolute expiry (`NEVER`: none).
    pub absolute: u64,
    /// Lease owner and end (`lease_until == 0`: no lease).
    pub lease_token: [u8; 16],
    pub lease_until: u64,
    /// The fencing number: 1 when created, one more with every write.
    pub fence: u64,
    /// When the entry was created, on the store's clock.
    pub created: u64,
    /// The principal the session belongs to, if any, and when it was last committed.
    pub owner: Option<Box<Owned>>,
}

/// Whom a session entry belongs to.
#[derive(Debug)]
pub(crate) struct Owned {
    pub principal: Arc<str>,
    /// The last commit or refresh, on the store's clock.
    pub seen: u64,
}

impl Entry {
    /// A new entry touched at `now`; `None` if its absolute expiry has already passed.
    pub(crate) fn new(value: Box<[u8]>, options: EntryOptions, now: u64) -> Option<Entry> {
        let mut entry = Entry {
            value,
            expires_at: NEVER,
            sliding: NEVER,
            absolute: NEVER,
            lease_token: [0; 16],
            lease_until: 0,
            fence: 1,
            created: now,
            owner: None,
        };
        entry.apply(options, now)?;
        Some(entry)
    }

    /// Takes new expiry options at `now`; `None` if the absolute expiry has passed.
    pub(crate) fn apply(&mut self, options: EntryOptions, now: u64) -> Option<()> {
        self.absolute = match options.absolute_expiration {
            Some(at) => now.saturating_add(millis(at.duration_since(SystemTime::now()).ok()?)),
            None => NEVER,
        };
        self.sliding = options.sliding_expiration.map_or(NEVER, millis);
        self.touch(now);
        Some(())
    }

    /// Slides the expiry from `now`, capped by the absolute expiry.
    pub(crate) fn touch(&mut self, now: u64) {
        self.expires_at = now.saturating_add(self.sliding).min(self.absolute);
    }

    pub(crate) fn is_expired(&self, now: u64) -> bool {
        self.expires_at <= now
    }

    /// Whether a live lease of another token is on the entry.
    pub(crate) fn leased_by_other(&self, token: &LockToken, now: u64) -> bool {
        self.lease_until > now && self.lease_token != *token.as_bytes()
    }

    pub(crate) fn take_lease(&mut self, token: &LockToken, until: u64) {
        self.lease_token = *token.as_bytes();
        self.lease_until = until;
    }

    /// Releases the lease if `token` holds it and it is live. An expired lease of
    /// `token` is dropped too, but counts as lost.
    pub(crate) fn release_lease(&mut self, token: &LockToken, now: u64) -> bool {
        if self.lease_until == 0 || self.lease_token != *token.as_bytes() {
            return false;
        }
        let live = self.lease_until > now;
        self.lease_until = 0;
        live
    }
}

/// Milliseconds, at least 1 for any non-zero duration, saturating.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(NEVER - 1)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sliding_is_capped_by_absolute() {
        let options = EntryOptions::sliding(Duration::from_secs(60))
            .with_absolute(SystemTime::now() + Duration::from_secs(10));
        let entry = Entry::new(Box::new([1]), options, 1000);
        assert!(entry.is_some_and(|e| e.expires_at <= 11_000 && e.expires_at > 10_000));
    }

    #[test]
    fn past_absolute_expiry_is_not_stored() {
        let options = EntryOptions::default().with_absolute(SystemTime::now() - Duration::from_secs(1));
        assert!(Entry::new(Box::new([1]), options, 0).is_none());
    }

    #[test]
    fn leases_belong_to_their_token() {
        let mut entry = Entry::new(Box::new([1]), EntryOptions::default(), 0).unwrap();
        let (a, b) = (LockToken::generate(), LockToken::generate());
        entry.take_lease(&a, 100);
        assert!(entry.leased_by_other(&b, 50));
        assert!(!entry.leased_by_other(&a, 50));
        assert!(!entry.release_lease(&b, 50));
        assert!(entry.release_lease(&a, 50));
        entry.take_lease(&a, 100);
        assert!(!entry.release_lease(&a, 150), "expired lease counts as lost");
        assert!(!entry.leased_by_other(&b, 150));
    }
}
