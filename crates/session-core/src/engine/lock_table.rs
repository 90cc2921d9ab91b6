//! The in-process lock table: one async mutex per *live* session id.
//!
//! An id has an entry only while some request holds or waits for its lock; the last one
//! out removes it, so the table never grows with the ids it has seen. It is sharded to
//! keep requests of different sessions off each other's toes, bounded (a full table
//! refuses new ids rather than growing), and every wait is bounded by a timeout.
//!
//! The bound is one number for the whole table, not a share per shard, and the shard of
//! an id comes from a hash keyed with a random per-table seed: a client that collects
//! ids (each costs it one request) can neither tell which ids share a shard nor fill one
//! shard with a fraction of the bound.
//!
//! Requests queued behind a holder whose store call timed out (the store is stalled or
//! unreachable) take that failure instead of each trying the store again in turn:
//! otherwise the last of them would answer only after its lock wait *and* its own IO
//! timeout.

use std::{
    collections::HashMap,
    hash::BuildHasher,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, Instant},
};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::{error::Error, error::Result, id::ID_BYTES};

type Key = [u8; ID_BYTES];
/// The lock of one id, holding when the store last timed out on one of its holders.
type Slot = Arc<AsyncMutex<Option<Instant>>>;

const SHARDS: usize = 32;
/// Lock waits at least this long are logged as warnings.
const SLOW_WAIT: Duration = Duration::from_secs(1);

/// The table. Shared by every request of one engine.
#[derive(Debug)]
pub(crate) struct LockTable {
    shards: Vec<Mutex<HashMap<Key, Slot>>>,
    /// Picks an id's shard; randomly seeded, so ids cannot be aimed at one shard.
    shard_of: foldhash::quality::RandomState,
    /// Entries in all shards together.
    live: AtomicUsize,
    limit: usize,
}

/// The lock of one session, held until dropped.
#[derive(Debug)]
pub(crate) struct LockGuard {
    table: Arc<LockTable>,
    key: Key,
    guard: Option<OwnedMutexGuard<Option<Instant>>>,
}

impl LockTable {
    /// A table holding at most `limit` live ids (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        LockTable {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_of: foldhash::quality::RandomState::default(),
            live: AtomicUsize::new(0),
            limit: limit.max(1),
        }
    }

    fn shard(&self, key: &Key) -> MutexGuard<'_, HashMap<Key, Slot>> {
        // (the modulo keeps the index in range whatever the hash)
        let index = (self.shard_of.hash_one(key) % SHARDS as u64) as usize;
        // A panic while holding a shard cannot leave the map inconsistent (every
        // critical section is one map call), so a poisoned shard is still usable.
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits at most `wait` for the lock of `key`; returns the guard and how long it
    /// waited (zero, without reading the clock, when the lock was free).
    pub(crate) async fn acquire(self: &Arc<Self>, key: Key, wait: Duration) -> Result<(LockGuard, Duration)> {
        let slot = {
            let mut shard = self.shard(&key);
            match shard.get(&key) {
                Some(slot) => slot.clone(),
                None => {
                    // counted before the entry exists, and only while under the bound
                    let counted = self
                        .live
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                            (live < self.limit).then_some(live + 1)
                        });
                    if counted.is_err() {
                        return Err(Error::LockTableFull { limit: self.limit });
                    }
                    shard.entry(key).or_default().clone()
                }
            }
        };
        let (guard, waited) = match slot.clone().try_lock_owned() {
            Ok(guard) => (guard, Duration::ZERO),
            Err(_) => {
                tracing::debug!("waiting for a session lock held by another request");
                let started = std::time::Instant::now();
                // Declared before the wait, so dropped after it: whether the wait times
                // out or is cancelled (the request went away), the entry is removed if
                // this waiter was the last one interested in it.
                let _leaving = Leaving {
                    table: self,
                    key: &key,
                };
                // boxed: only contended requests pay for the wait's future
                let wait_for = Box::pin(tokio::time::timeout(wait, slot.lock_owned()));
                match wait_for.await {
                    Ok(guard) if guard.is_some_and(|failed| failed > started) => {
                        tracing::warn!(
                            "the session store did not answer the request ahead of this one; not trying again"
                        );
                        drop(guard);
                        return Err(Error::Unavailable(
                            "session store did not answer the request ahead",
                        ));
                    }
                    Ok(guard) => {
                        let waited = started.elapsed();
                        if waited >= SLOW_WAIT {
                            tracing::warn!(?waited, "a request waited long for its session's lock; keep handlers short while they hold a session");
                        }
                        (guard, waited)
                    }
                    Err(_) => {
                        tracing::warn!(?wait, "session lock not acquired in time");
                        return Err(Error::LockTimeout { after: wait });
                    }
                }
            }
        };
        let guard = LockGuard {
            table: Arc::clone(self),
            key,
            guard: Some(guard),
        };
        Ok((guard, waited))
    }

    /// Removes `key` if nobody holds or waits for it (only the table's own `Arc` left).
    fn forget_if_unused(&self, key: &Key) {
        let mut shard = self.shard(key);
        if shard.get(key).is_some_and(|slot| Arc::strong_count(slot) == 1) {
            shard.remove(key);
            self.live.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Number of live ids, for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        (0..SHARDS)
            .map(|i| self.shards[i].lock().map(|s| s.len()).unwrap_or(0))
            .sum()
    }
}

/// Removes an entry when a waiter leaves it (see [`LockTable::acquire`]).
struct Leaving<'a> {
    table: &'a LockTable,
    key: &'a Key,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.table.forget_if_unused(self.key);
    }
}

impl LockGuard {
    /// Records that the store did not answer this holder in time: the requests waiting
    /// now fail too.
    pub(crate) fn store_failed(&mut self) {
        if let Some(guard) = &mut self.guard {
            **guard = Some(Instant::now());
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.table.forget_if_unused(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        [n; ID_BYTES]
    }

    #[tokio::test]
    async fn entries_live_only_while_held() {
        let table = Arc::new(LockTable::new(1000));
        let a = table.acquire(key(1), Duration::from_secs(1)).await;
        assert!(a.is_ok());
        assert_eq!(table.len(), 1);
        drop(a);
        assert_eq!(table.len(), 0);
    }

    #[tokio::test]
    async fn same_id_waits_and_times_out() {
        let table = Arc::new(LockTable::new(1000));
        let held = table.acquire(key(1), Duration::from_secs(1)).await;
        let second = table.acquire(key(1), Duration::from_millis(20)).await;
        assert!(matches!(second, Err(Error::LockTimeout { .. })));
        // other ids are not blocked
        assert!(table.acquire(key(2), Duration::from_millis(20)).await.is_ok());
        drop(held);
        assert_eq!(table.len(), 0, "a timed-out waiter leaves nothing behind");
        assert!(table.acquire(key(1), Duration::from_millis(20)).await.is_ok());
    }

    #[tokio::test]
    async fn waiter_gets_the_lock_when_released() {
        let table = Arc::new(LockTable::new(1000));
        let held = table.acquire(key(3), Duration::from_secs(1)).await;
        let t2 = Arc::clone(&table);
        let waiter = tokio::spawn(async move { t2.acquire(key(3), Duration::from_secs(5)).await.is_ok() });
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiter.await.unwrap_or(false));
        assert_eq!(table.len(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_leaves_nothing_behind() {
        let table = Arc::new(LockTable::new(1000));
        let held = table.acquire(key(4), Duration::from_secs(1)).await;
        let t2 = Arc::clone(&table);
        let waiter = tokio::spawn(async move { t2.acquire(key(4), Duration::from_secs(60)).await.is_ok() });
        tokio::task::yield_now().await;
        waiter.abort();
        assert!(waiter.await.is_err_and(|e| e.is_cancelled()));
        drop(held);
        assert_eq!(table.len(), 0);
        // and the other order: the holder leaves first, then the waiter is cancelled
        let held = table.acquire(key(4), Duration::from_secs(1)).await;
        let t2 = Arc::clone(&table);
        let waiter = tokio::spawn(async move { t2.acquire(key(4), Duration::from_secs(60)).await.is_ok() });
        tokio::task::yield_now().await;
        drop(held);
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(table.len(), 0);
    }

    #[tokio::test]
    async fn waiters_take_the_store_failure_of_the_holder_ahead() {
        let table = Arc::new(LockTable::new(1000));
        let (mut held, _) = table.acquire(key(5), Duration::from_secs(1)).await.unwrap();
        let t2 = Arc::clone(&table);
        let waiter = tokio::spawn(async move { t2.acquire(key(5), Duration::from_secs(5)).await.map(drop) });
        tokio::task::yield_now().await;
        held.store_failed();
        drop(held);
        assert!(matches!(waiter.await.unwrap(), Err(Error::Unavailable(_))));
        assert_eq!(table.len(), 0);
        // a request that comes after the failure tries for itself
        let (mut held, _) = table.acquire(key(5), Duration::from_secs(1)).await.unwrap();
        held.store_failed();
        let t2 = Arc::clone(&table);
        let waiter = tokio::spawn(async move { t2.acquire(key(5), Duration::from_secs(5)).await.map(drop) });
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
    }

    /// Ids that share their first byte (the cookie's first characters show it).
    fn same_first_byte(n: u16) -> Key {
        let mut key = [0u8; ID_BYTES];
        key[1..3].copy_from_slice(&n.to_be_bytes());
        key
    }

    #[tokio::test]
    async fn the_bound_is_global_and_cannot_be_aimed_at_one_shard() {
        let limit = 4 * SHARDS;
        let table = Arc::new(LockTable::new(limit));
        let mut held = Vec::new();
        for n in 0..limit {
            let guard = table
                .acquire(same_first_byte(n as u16), Duration::from_secs(1))
                .await;
            assert!(guard.is_ok(), "id {n} of {limit} refused: {:?}", guard.err());
            held.push(guard);
        }
        assert_eq!(table.len(), limit);
        let full = table.acquire(same_first_byte(9999), Duration::from_secs(1)).await;
        assert!(matches!(full, Err(Error::LockTableFull { limit: l }) if l == limit));
        // an id already in the table is still reachable, and freeing one makes room
        held.pop();
        assert!(table
            .acquire(same_first_byte(9999), Duration::from_secs(1))
            .await
            .is_ok());
        drop(held);
        assert_eq!(table.len(), 0);
        assert_eq!(
            table.live.load(Ordering::Acquire),
            0,
            "the count follows the entries"
        );
    }

    #[test]
    fn shards_are_chosen_by_a_keyed_hash() {
        let (a, b) = (LockTable::new(10), LockTable::new(10));
        let index = |t: &LockTable, k: &Key| t.shard_of.hash_one(k) % SHARDS as u64;
        let spread: std::collections::HashSet<u64> =
            (0..256).map(|n| index(&a, &same_first_byte(n))).collect();
        assert!(
            spread.len() > SHARDS / 2,
            "ids of one first byte spread over the shards"
        );
        let differ = (0..64).filter(|n| index(&a, &same_first_byte(*n)) != index(&b, &same_first_byte(*n)));
        assert!(differ.count() > 0, "each table has its own seed");
    }
}
