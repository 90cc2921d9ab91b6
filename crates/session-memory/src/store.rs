//! The data behind the cache's mutex: entries in LRU order, their total size, and the
//! session leases.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use lru::LruCache;
use session_core::{EntryOptions, Error, LockToken, Result};

use crate::{entry::Entry, options::MemoryCacheOptions};

#[derive(Debug)]
struct Lease {
    token: LockToken,
    until: Instant,
}

#[derive(Debug)]
pub(crate) struct Store {
    entries: LruCache<Box<str>, Entry>,
    /// Keys + values of all entries, in bytes.
    size: usize,
    leases: HashMap<Box<str>, Lease>,
    size_limit: Option<usize>,
    scan_every: Duration,
    last_scan: Instant,
}

fn weight(key: &str, value: &[u8]) -> usize {
    key.len() + value.len()
}

impl Store {
    pub fn new(options: MemoryCacheOptions) -> Self {
        Store {
            entries: LruCache::unbounded(),
            size: 0,
            leases: HashMap::new(),
            size_limit: options.size_limit,
            scan_every: options.expiration_scan_frequency,
            last_scan: Instant::now(),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn live_count(&self, now: Instant) -> usize {
        self.entries.iter().filter(|(_, e)| !e.is_expired(now)).count()
    }

    /// Drops expired entries and leases if the last scan is old enough.
    pub fn scan_if_due(&mut self, now: Instant) {
        if now.duration_since(self.last_scan) < self.scan_every {
            return;
        }
        self.last_scan = now;
        let expired: Vec<Box<str>> = self
            .entries
            .iter()
            .filter(|(_, e)| e.is_expired(now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            self.remove(key);
        }
        self.leases.retain(|_, lease| lease.until > now);
        if !expired.is_empty() {
            tracing::debug!(removed = expired.len(), "memory cache expiration scan");
        }
    }

    /// The live value under `key`, sliding its expiry and marking it recently used.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<&[u8]> {
        let expired = self.entries.peek(key)?.is_expired(now);
        if expired {
            self.remove(key);
            return None;
        }
        let entry = self.entries.get_mut(key)?;
        entry.touch(now);
        Some(&entry.value)
    }

    pub fn set(&mut self, key: &str, value: Vec<u8>, options: EntryOptions, now: Instant) -> Result<()> {
        let added = weight(key, &value);
        if let Some(limit) = self.size_limit {
            if added > limit {
                return Err(Error::EntryTooLarge { size: added, limit });
            }
        }
        self.remove(key);
        let Some(entry) = Entry::new(value, options, now) else {
            return Ok(()); // already past its absolute expiry: nothing to keep
        };
        if let Some(limit) = self.size_limit {
            while self.size + added > limit {
                let Some((old_key, old)) = self.entries.pop_lru() else {
                    break;
                };
                self.size -= weight(&old_key, &old.value);
                tracing::debug!("memory cache size limit reached: evicted the least recently used entry");
            }
        }
        self.size += added;
        self.entries.put(key.into(), entry);
        Ok(())
    }

    pub fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.pop(key) {
            self.size -= weight(key, &old.value);
        }
    }

    pub fn lease_held_by_other(&self, key: &str, token: &LockToken, now: Instant) -> bool {
        self.leases
            .get(key)
            .is_some_and(|lease| lease.until > now && lease.token != *token)
    }

    pub fn take_lease(&mut self, key: &str, token: &LockToken, until: Instant) {
        let lease = Lease {
            token: token.clone(),
            until,
        };
        match self.leases.get_mut(key) {
            Some(slot) => *slot = lease,
            None => {
                self.leases.insert(key.into(), lease);
            }
        }
    }

    /// Releases the lease if `token` holds it and it is still live. Returns whether it
    /// did; an expired lease of `token` is dropped but counts as lost.
    pub fn release_lease(&mut self, key: &str, token: &LockToken, now: Instant) -> bool {
        match self.leases.get(key) {
            Some(lease) if lease.token == *token => {
                let live = lease.until > now;
                self.leases.remove(key);
                live
            }
            _ => false,
        }
    }
}
