//! The store contract on `MemoryCache`, and what only the memory store does: the size
//! limit with LRU eviction and the expiration scan.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{sync::Arc, time::Duration};

use distributed_session::store::{DistributedCache, EntryOptions};
use distributed_session::store_contract;
use distributed_session::{Error, MemoryCache, MemoryCacheOptions};

store_contract!(memory, async {
    Some((Arc::new(MemoryCache::default()) as Arc<dyn DistributedCache>, ()))
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_expired_sessions_leave_no_record_after_one_listing() {
    let cache = MemoryCache::default();
    let records = |_principal: String| {
        let cache = cache.clone();
        async move { cache.indexed_sessions() }
    };
    let store: Arc<dyn DistributedCache> = Arc::new(cache.clone());
    session_core::testing::expired_sessions_leave_no_record(store, 10_000, records).await;
}

fn sliding() -> EntryOptions {
    EntryOptions::sliding(Duration::from_secs(60))
}

#[tokio::test]
async fn size_limit_evicts_least_recently_used() {
    let cache = MemoryCache::new(MemoryCacheOptions::default().size_limit(300));
    for k in ["a", "b", "c"] {
        cache.set(k, vec![0; 99], sliding()).await.unwrap(); // 100 bytes each with the key
    }
    assert_eq!(cache.size(), 300);
    cache.get("a").await.unwrap(); // a is now more recent than b
    cache.set("d", vec![0; 99], sliding()).await.unwrap();
    assert!(
        cache.get("b").await.unwrap().is_none(),
        "b was least recently used"
    );
    for k in ["a", "c", "d"] {
        assert!(cache.get(k).await.unwrap().is_some(), "{k}");
    }
    assert!(cache.size() <= 300);
}

#[tokio::test]
async fn an_entry_over_the_whole_limit_is_an_error() {
    let cache = MemoryCache::new(MemoryCacheOptions::default().size_limit(100));
    cache.set("small", vec![1], sliding()).await.unwrap();
    let err = cache.set("big", vec![0; 200], sliding()).await;
    assert!(
        matches!(
            err,
            Err(Error::EntryTooLarge {
                size: 203,
                limit: 100
            })
        ),
        "{err:?}"
    );
    assert!(
        cache.get("small").await.unwrap().is_some(),
        "nothing evicted for a refused entry"
    );
}

#[tokio::test]
async fn the_expiration_scan_drops_expired_entries() {
    let cache =
        MemoryCache::new(MemoryCacheOptions::default().expiration_scan_frequency(Duration::from_millis(50)));
    cache
        .set(
            "short",
            vec![0; 10],
            EntryOptions::sliding(Duration::from_millis(100)),
        )
        .await
        .unwrap();
    cache.set("long", vec![0; 10], sliding()).await.unwrap();
    assert_eq!(cache.size(), 29); // keys + values
    tokio::time::sleep(Duration::from_millis(200)).await;
    // any operation runs the due scan, which frees the expired entry's bytes
    cache.get("long").await.unwrap();
    assert_eq!(cache.size(), 14);
    assert_eq!(cache.len(), 1);
}
