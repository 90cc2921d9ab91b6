//! Hot sessions: leases an engine keeps between requests, with the session's stored bytes,
//! so that the next request of a session this instance just served takes no lock call and
//! reads nothing from the store (see `docs/design-hot-sessions.md`).
//!
//! An entry is taken out of the table by the request that uses it (the in-process lock
//! already serializes the requests of one id) and put back by its commit if the store
//! kept the lease. Entries beyond the capacity are let go, least recently used first, and
//! their leases released in the background.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use crate::{
    id::{SessionId, ID_BYTES},
    lock::{Fence, LockToken},
};

/// A kept lease and what the store holds under it.
pub(crate) struct Hot {
    pub token: LockToken,
    /// The entry's fence, as this instance last wrote or read it.
    pub fence: Fence,
    /// The stored payload, as this instance last wrote or read it.
    pub bytes: Vec<u8>,
    /// Until when the store keeps the lease, counted from when the keeping call was sent
    /// (so never past the store's own view).
    pub held_until: Instant,
    /// The entry's last write or sliding refresh, counted the same way.
    pub refreshed_at: Instant,
}

/// The hot-session settings of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HotLimits {
    /// Most sessions kept hot.
    pub capacity: usize,
    /// How long a kept lease lasts after the keeping call.
    pub lease: Duration,
}

/// The engine's kept leases.
pub(crate) struct HotTable {
    pub limits: HotLimits,
    idle_timeout: Duration,
    entries: Mutex<Entries>,
}

/// The most payload bytes the hot copies of one store hold together (64 MiB); beyond it,
/// the least recently used are let go as beyond the capacity.
pub(crate) const MOST_BYTES: usize = 64 << 20;

#[derive(Default)]
struct Entries {
    map: HashMap<[u8; ID_BYTES], (SessionId, Hot, u64)>,
    /// Use counter, for least-recently-used eviction.
    tick: u64,
    /// The payload bytes in `map`.
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, key: &[u8; ID_BYTES]) -> Option<(SessionId, Hot, u64)> {
        let removed = self.map.remove(key)?;
        self.bytes = self.bytes.saturating_sub(removed.1.bytes.len());
        Some(removed)
    }
}

impl HotTable {
    pub(crate) fn new(limits: HotLimits, idle_timeout: Duration) -> Self {
        HotTable {
            limits,
            idle_timeout,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // every step leaves the map consistent: a panic elsewhere cannot break it
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the kept lease of `id` out of the table, if there is one. `None` too for an
    /// entry too close to the end of its lease (or of the stored entry's idle timeout)
    /// to serve a request: its token is returned instead, to take the lease again with.
    pub(crate) fn take(&self, id: &SessionId, now: Instant) -> Option<Result<Hot, LockToken>> {
        let (_, hot, _) = self.lock().remove(id.bytes())?;
        let margin = self.limits.lease / 4;
        let usable =
            hot.held_until > now + margin && hot.refreshed_at + self.idle_timeout > now + self.limits.lease;
        Some(if usable { Ok(hot) } else { Err(hot.token) })
    }

    /// Whether a request on a kept lease needs no store call at its end: a read-only one,
    /// with more than half the lease left and no sliding refresh due (one is due once a
    /// tenth of the idle timeout has passed since the last).
    pub(crate) fn quiet_commit_ok(&self, hot_until: Instant, refreshed_at: Instant, now: Instant) -> bool {
        self.lease_lasts(hot_until, now) && !self.refresh_due(refreshed_at, now)
    }

    /// Whether a kept lease held until `hot_until` has more than half of its length left:
    /// a commit need not extend it yet.
    pub(crate) fn lease_lasts(&self, hot_until: Instant, now: Instant) -> bool {
        hot_until > now + self.limits.lease / 2
    }

    /// Whether the stored entry's sliding expiry should be refreshed.
    pub(crate) fn refresh_due(&self, refreshed_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(refreshed_at) >= self.idle_timeout / 10
    }

    /// Puts a kept lease (back) into the table; returns the entries let go to make room,
    /// whose leases the caller releases.
    pub(crate) fn put(&self, id: SessionId, hot: Hot) -> Vec<(SessionId, Hot)> {
        let mut entries = self.lock();
        entries.tick += 1;
        let tick = entries.tick;
        entries.bytes += hot.bytes.len();
        if let Some((_, old, _)) = entries.map.insert(*id.bytes(), (id, hot, tick)) {
            entries.bytes = entries.bytes.saturating_sub(old.bytes.len());
        }
        let mut gone = Vec::new();
        while entries.map.len() > self.limits.capacity || entries.bytes > MOST_BYTES {
            // over: let the least recently used tenth go at once, so that eviction costs
            // one scan per tenth of the table, not one per request
            let len = entries.map.len();
            let keep = if len > self.limits.capacity {
                self.limits.capacity - self.limits.capacity / 10
            } else {
                len - (len / 10).max(1)
            };
            let mut ticks: Vec<u64> = entries.map.values().map(|(_, _, t)| *t).collect();
            let cut = (len - keep).max(1);
            ticks.select_nth_unstable(cut - 1);
            let oldest = ticks.get(cut - 1).copied().unwrap_or(0);
            let keys: Vec<[u8; ID_BYTES]> = entries
                .map
                .iter()
                .filter(|(_, (_, _, t))| *t <= oldest)
                .map(|(k, _)| *k)
                .collect();
            gone.extend(
                keys.iter()
                    .filter_map(|k| entries.remove(k))
                    .map(|(id, hot, _)| (id, hot)),
            );
        }
        gone
    }

    /// Drops the kept leases of `ids` (sessions ended under them): their next request
    /// goes to the store.
    pub(crate) fn forget<'a>(&self, ids: impl IntoIterator<Item = &'a SessionId>) {
        let mut entries = self.lock();
        for id in ids {
            entries.remove(id.bytes());
        }
    }

    /// Another instance asked for `id`: takes its kept lease out of the table if no
    /// request holds it now, and returns its token, to release it with. (A request in
    /// flight lets go at its commit, which finds the store's reservation.)
    pub(crate) fn recall(&self, id: &SessionId) -> Option<LockToken> {
        self.lock().remove(id.bytes()).map(|(_, hot, _)| hot.token)
    }

    /// The store may have lost track of the kept leases (its recall messages stopped,
    /// a failover, a restart): every hot session is read from the store again at its
    /// next request, taking its lease again with the kept token.
    pub(crate) fn recheck_all(&self, now: Instant) {
        for (_, hot, _) in self.lock().map.values_mut() {
            hot.held_until = hot.held_until.min(now);
        }
    }

    /// How many sessions are kept hot.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(now: Instant) -> Hot {
        Hot {
            token: LockToken::generate(),
            fence: Fence::new(1),
            bytes: vec![1],
            held_until: now + Duration::from_secs(2),
            refreshed_at: now,
        }
    }

    fn table(capacity: usize) -> HotTable {
        let limits = HotLimits {
            capacity,
            lease: Duration::from_secs(2),
        };
        HotTable::new(limits, Duration::from_secs(60))
    }

    #[test]
    fn a_kept_lease_serves_until_a_quarter_of_it_is_left() {
        let now = Instant::now();
        let t = table(10);
        let id = SessionId::generate();
        t.put(id.clone(), hot(now));
        assert!(matches!(t.take(&id, now), Some(Ok(_))));
        assert!(
            t.take(&id, now).is_none(),
            "taken out by the request that uses it"
        );
        t.put(id.clone(), hot(now));
        let late = now + Duration::from_millis(1600);
        assert!(matches!(t.take(&id, late), Some(Err(_))), "too close to its end");
    }

    #[test]
    fn read_only_requests_commit_quietly_until_half_the_lease_or_a_refresh() {
        let now = Instant::now();
        let t = table(10);
        let until = now + Duration::from_secs(2);
        assert!(t.quiet_commit_ok(until, now, now));
        assert!(!t.quiet_commit_ok(until, now, now + Duration::from_millis(1100)));
        assert!(!t.quiet_commit_ok(until + Duration::from_secs(60), now, now + Duration::from_secs(7)));
    }

    #[test]
    fn the_least_recently_used_tenth_goes_beyond_the_capacity() {
        let now = Instant::now();
        let t = table(100);
        let ids: Vec<SessionId> = (0..100).map(|_| SessionId::generate()).collect();
        for id in &ids {
            assert!(t.put(id.clone(), hot(now)).is_empty());
        }
        let gone = t.put(SessionId::generate(), hot(now));
        assert_eq!(gone.len(), 11);
        assert_eq!(t.len(), 90);
        let gone: Vec<&SessionId> = gone.iter().map(|(id, _)| id).collect();
        assert!(ids[..11].iter().all(|id| gone.contains(&id)), "the oldest went");
    }

    #[test]
    fn a_recalled_session_goes_with_its_token_and_a_recheck_keeps_the_token() {
        let now = Instant::now();
        let t = table(10);
        let (id, other) = (SessionId::generate(), SessionId::generate());
        let entry = hot(now);
        let token = entry.token.clone();
        t.put(id.clone(), entry);
        t.put(other.clone(), hot(now));
        assert_eq!(t.recall(&id), Some(token));
        assert!(t.take(&id, now).is_none());
        assert!(t.recall(&id).is_none(), "recalled once");
        t.recheck_all(now);
        assert!(
            matches!(t.take(&other, now), Some(Err(_))),
            "taken again from the store"
        );
    }

    #[test]
    fn hot_copies_hold_at_most_their_byte_budget() {
        let now = Instant::now();
        let t = table(1000);
        let big = |now| Hot {
            bytes: vec![0; MOST_BYTES / 8],
            ..hot(now)
        };
        for _ in 0..8 {
            assert!(t.put(SessionId::generate(), big(now)).is_empty());
        }
        let gone = t.put(SessionId::generate(), big(now));
        assert_eq!(gone.len(), 1, "the oldest went");
        assert_eq!(t.len(), 8);
        assert!(t.lock().bytes <= MOST_BYTES);
        t.forget(gone.iter().map(|(id, _)| id));
        let id = gone[0].0.clone();
        t.put(id.clone(), hot(now));
        t.put(id.clone(), hot(now));
        assert_eq!(
            t.lock().bytes,
            MOST_BYTES / 8 * 7 + 1,
            "a copy put again counts once"
        );
    }

    #[test]
    fn forgotten_sessions_go_to_the_store() {
        let now = Instant::now();
        let t = table(10);
        let id = SessionId::generate();
        t.put(id.clone(), hot(now));
        t.forget([&id]);
        assert!(t.take(&id, now).is_none());
    }
}
