//! The data behind the cache's mutex: entries in LRU order and their total size.

use std::time::{Duration, Instant, SystemTime};

use compact_str::CompactString;
use lru::LruCache;
use session_core::store::{CommitOp, EntryOptions, Fence, IndexedSession, LockToken, Owner};
use session_core::{Error, Result};

use crate::{
    entry::{millis, Entry, Owned, NEVER},
    options::MemoryCacheOptions,
    principals::Principals,
};

/// Keys of up to 24 bytes (session ids are 22) live inside the LRU node: no allocation.
type Key = CompactString;

#[derive(Debug)]
pub(crate) struct Store {
    entries: LruCache<Key, Entry>,
    /// Keys + values of all entries, in bytes.
    size: usize,
    size_limit: Option<usize>,
    scan_every: u64,
    last_scan: u64,
    /// Zero of the store's millisecond clock.
    epoch: Instant,
    principals: Principals,
}

fn weight(key: &str, value: &[u8]) -> usize {
    key.len() + value.len()
}

impl Store {
    pub(crate) fn new(options: MemoryCacheOptions) -> Self {
        Store {
            entries: LruCache::unbounded(),
            size: 0,
            size_limit: options.size_limit,
            scan_every: millis(options.expiration_scan_frequency),
            last_scan: 0,
            // Start the clock one second in, so that 0 can mean "no lease".
            epoch: Instant::now()
                .checked_sub(Duration::from_secs(1))
                .unwrap_or_else(Instant::now),
            principals: Principals::default(),
        }
    }

    /// Now, on the store's clock.
    pub(crate) fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// A duration from now, on the store's clock.
    pub(crate) fn after(&self, now: u64, d: Duration) -> u64 {
        now.saturating_add(millis(d))
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn live_count(&self, now: u64) -> usize {
        self.entries.iter().filter(|(_, e)| !e.is_expired(now)).count()
    }

    /// Drops expired entries if the last scan is old enough; returns their keys.
    pub(crate) fn scan_if_due(&mut self, now: u64) -> Vec<Key> {
        if now.saturating_sub(self.last_scan) < self.scan_every {
            return Vec::new();
        }
        self.last_scan = now;
        let expired: Vec<Key> = self
            .entries
            .iter()
            .filter(|(_, e)| e.is_expired(now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            self.remove(key);
        }
        if !expired.is_empty() {
            tracing::debug!(removed = expired.len(), "memory cache expiration scan");
        }
        expired
    }

    /// The live entry under `key`, with its expiry slid and marked recently used. An
    /// expired entry is reported missing and left for the next scan or overwrite (one
    /// hash lookup either way).
    pub(crate) fn live(&mut self, key: &str, now: u64) -> Option<&mut Entry> {
        let entry = self.entries.get_mut(key)?;
        if entry.is_expired(now) {
            return None;
        }
        entry.touch(now);
        Some(entry)
    }

    /// Releases `token`'s lease on `key` and applies `op`, in one lookup.
    pub(crate) fn commit(
        &mut self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
        now: u64,
    ) -> Result<()> {
        let limit = self.size_limit;
        let Some(entry) = self.entries.get_mut(key) else {
            return Err(Error::LeaseLost);
        };
        if !entry.release_lease(token, now) {
            return Err(Error::LeaseLost);
        }
        if !matches!(op, CommitOp::Release) && entry.fence != fence.get() {
            return Err(Error::LeaseLost); // written without the lock since: theirs stands
        }
        match op {
            CommitOp::Set { value, options } => {
                let added = weight(key, &value);
                if let Some(limit) = limit.filter(|&limit| added > limit) {
                    return Err(Error::EntryTooLarge { size: added, limit });
                }
                let old = weight(key, &entry.value);
                entry.value = value.into_boxed_slice();
                entry.fence = fence.next().get();
                let kept = entry.apply(options, now).is_some();
                self.size = self.size - old + added;
                self.own(key, owner, now);
                if !kept {
                    self.remove(key); // already past its absolute expiry
                }
                self.evict_to_fit(key);
            }
            CommitOp::Refresh => {
                entry.touch(now);
                if let Some(owned) = &mut entry.owner {
                    owned.seen = now;
                }
            }
            CommitOp::Remove => self.remove(key),
            CommitOp::Release => {}
        }
        Ok(())
    }

    /// Stores `value`, in place if the key exists (keeping its lease).
    pub(crate) fn set(&mut self, key: &str, value: Vec<u8>, options: EntryOptions, now: u64) -> Result<()> {
        let added = weight(key, &value);
        if let Some(limit) = self.size_limit {
            if added > limit {
                return Err(Error::EntryTooLarge { size: added, limit });
            }
        }
        let value = value.into_boxed_slice();
        if let Some(entry) = self.entries.get_mut(key) {
            if entry.is_expired(now) {
                entry.lease_until = 0; // a dead entry's lease dies with it
            }
            let old = weight(key, &entry.value);
            let old_value = std::mem::replace(&mut entry.value, value);
            drop(old_value);
            entry.fence = entry.fence.saturating_add(1);
            if entry.apply(options, now).is_none() {
                self.remove(key); // already past its absolute expiry
                return Ok(());
            }
            self.size = self.size - old + added;
        } else {
            let Some(entry) = Entry::new(value, options, now) else {
                return Ok(()); // already past its absolute expiry: nothing to keep
            };
            self.size += added;
            self.entries.put(Key::new(key), entry);
        }
        self.evict_to_fit(key);
        Ok(())
    }

    /// Evicts least-recently-used entries (never `keep`) until the size fits the limit.
    fn evict_to_fit(&mut self, keep: &str) {
        let Some(limit) = self.size_limit else {
            return;
        };
        while self.size > limit {
            let Some((old_key, old)) = self.entries.pop_lru() else {
                break;
            };
            if &*old_key == keep {
                self.entries.put(old_key, old); // the newest entry is never the victim
                break;
            }
            self.size -= weight(&old_key, &old.value);
            self.left(&old_key, &old);
            tracing::debug!("memory cache size limit reached: evicted the least recently used entry");
        }
    }

    /// Deletes `key`. Its weight must not have been subtracted yet.
    pub(crate) fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.pop(key) {
            self.size -= weight(key, &old.value);
            self.left(key, &old);
        }
    }

    /// Takes an entry that left the store out of its principal's index.
    fn left(&mut self, key: &str, entry: &Entry) {
        if let Some(owned) = &entry.owner {
            self.principals.remove(&owned.principal, key);
        }
    }

    /// Records `owner` (or no owner) on the entry under `key`, moving it in the index.
    pub(crate) fn own(&mut self, key: &str, owner: Option<Owner<'_>>, now: u64) {
        let name = owner.map(|owner| self.principals.name(owner.principal));
        let Some(entry) = self.entries.peek_mut(key) else {
            return;
        };
        let before = entry.owner.take();
        entry.owner = name
            .clone()
            .map(|principal| Box::new(Owned { principal, seen: now }));
        if let Some(before) = before.filter(|b| name.as_deref() != Some(&*b.principal)) {
            self.principals.remove(&before.principal, key);
        }
        if let Some(name) = name {
            self.principals.add(&name, key);
        }
    }

    /// The live sessions of `principal`; records of entries gone or expired are dropped.
    pub(crate) fn sessions_of(&mut self, principal: &str, now: u64) -> Vec<IndexedSession> {
        let wall = SystemTime::now();
        let at = |t: u64| {
            wall.checked_sub(Duration::from_millis(now.saturating_sub(t)))
                .unwrap_or(wall)
        };
        let mut live = Vec::new();
        for key in self.principals.keys(principal) {
            let found = self.entries.peek(key.as_str()).and_then(|entry| {
                let owned = entry.owner.as_ref().filter(|o| &*o.principal == principal)?;
                (!entry.is_expired(now)).then(|| IndexedSession {
                    key: key.to_string(),
                    created: at(entry.created),
                    last_seen: at(owned.seen),
                    expires: (entry.expires_at != NEVER)
                        .then(|| wall + Duration::from_millis(entry.expires_at.saturating_sub(now))),
                })
            });
            match found {
                Some(session) => live.push(session),
                None => {
                    self.principals.remove(principal, &key);
                    if self.entries.peek(key.as_str()).is_some_and(|e| e.is_expired(now)) {
                        self.remove(&key);
                    }
                }
            }
        }
        live
    }

    /// Deletes the live sessions `keys` of `principal` (their leases go with them);
    /// how many there were.
    pub(crate) fn revoke(&mut self, principal: &str, keys: &[String], now: u64) -> usize {
        let mut ended = 0;
        for key in keys {
            let owned = self
                .entries
                .peek(key.as_str())
                .is_some_and(|entry| entry.owner.as_ref().is_some_and(|o| &*o.principal == principal));
            if owned {
                ended += usize::from(
                    self.entries
                        .peek(key.as_str())
                        .is_some_and(|e| !e.is_expired(now)),
                );
                self.remove(key);
            }
        }
        ended
    }

    /// Drops `key` from `principal`'s index unless its entry still belongs there.
    pub(crate) fn unindex(&mut self, principal: &str, key: &str) {
        let owned = self
            .entries
            .peek(key)
            .and_then(|e| e.owner.as_ref())
            .is_some_and(|o| &*o.principal == principal);
        if !owned {
            self.principals.remove(principal, key);
        }
    }

    /// Keys in the principal index, over all principals (for tests).
    pub(crate) fn indexed(&self) -> usize {
        self.principals.len()
    }
}
