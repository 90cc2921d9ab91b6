//! The principal index of the memory store: for each principal, the keys of its sessions.
//!
//! The index is exact at all times: an entry joins its principal's set when a commit
//! gives it one and leaves it whenever it leaves the store (removed, evicted, expired and
//! scanned, past its absolute expiry) or changes principal. Expired entries not yet
//! scanned are skipped and dropped by a listing.

use std::{collections::HashSet, sync::Arc};

use compact_str::CompactString;

/// For each principal, its sessions' keys.
#[derive(Debug, Default)]
pub(crate) struct Principals {
    sets: std::collections::HashMap<Arc<str>, HashSet<CompactString>>,
}

impl Principals {
    /// The shared name of `principal`, as the index holds it (one allocation per
    /// principal, not per session).
    pub(crate) fn name(&self, principal: &str) -> Arc<str> {
        self.sets
            .get_key_value(principal)
            .map_or_else(|| Arc::from(principal), |(name, _)| Arc::clone(name))
    }

    pub(crate) fn add(&mut self, principal: &Arc<str>, key: &str) {
        self.sets
            .entry(Arc::clone(principal))
            .or_default()
            .insert(CompactString::new(key));
    }

    pub(crate) fn remove(&mut self, principal: &str, key: &str) {
        if let Some(set) = self.sets.get_mut(principal) {
            set.remove(key);
            if set.is_empty() {
                self.sets.remove(principal);
            }
        }
    }

    /// The keys recorded under `principal`.
    pub(crate) fn keys(&self, principal: &str) -> Vec<CompactString> {
        self.sets
            .get(principal)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many keys the index holds in all (for tests).
    pub(crate) fn len(&self) -> usize {
        self.sets.values().map(HashSet::len).sum()
    }
}
