//! The contract every store must keep, as reusable checks (feature `testing`): the
//! [`DistributedCache`] guarantees and the [`SessionLock`] lease rules. Every in-tree
//! store runs them all; a third-party store runs the same tests with
//! [`store_contract!`](crate::store_contract):
//!
//! ```ignore
//! // tests/contract.rs (dev-dependencies: tokio with `macros` and `rt-multi-thread`)
//! session_core::store_contract!(my_store, async {
//!     let store: std::sync::Arc<dyn session_core::store::DistributedCache> =
//!         std::sync::Arc::new(MyStore::connect("...").await.ok()?);
//!     Some((store, ())) // the second element keeps a test server alive, if any
//! });
//! ```
//!
//! Each check panics with what the store got wrong. The lock checks need
//! [`DistributedCache::session_lock`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::{sync::Arc, time::Duration};

use crate::error::Error;
use crate::store::{CommitOp, DistributedCache, EntryOptions, LockAttempt, LockToken, SessionLock};

fn lock(cache: &dyn DistributedCache) -> &dyn SessionLock {
    cache
        .session_lock()
        .expect("store has the session-lock capability")
}

fn key(name: &str) -> String {
    format!(
        "contract-{name}-{}",
        LockToken::generate().as_bytes()[0..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Values are stored, replaced and removed; removing or refreshing a missing key is no error.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::get_set_remove(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn get_set_remove(cache: Arc<dyn DistributedCache>) {
    let k = key("gsr");
    assert_eq!(cache.get(&k).await.unwrap(), None);
    cache
        .set(
            &k,
            b"one".to_vec(),
            EntryOptions::sliding(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"one"[..]));
    cache
        .set(
            &k,
            b"two".to_vec(),
            EntryOptions::sliding(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"two"[..]));
    cache.remove(&k).await.unwrap();
    assert_eq!(cache.get(&k).await.unwrap(), None);
    cache.remove(&k).await.unwrap(); // missing keys are ignored
    cache.refresh(&k).await.unwrap();
}

/// A sliding entry lives on while refreshed and is never returned once expired.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::sliding_expiry_slides_and_expires(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn sliding_expiry_slides_and_expires(cache: Arc<dyn DistributedCache>) {
    let k = key("slide");
    cache
        .set(&k, vec![1], EntryOptions::sliding(Duration::from_millis(1500)))
        .await
        .unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        cache.refresh(&k).await.unwrap();
    }
    assert!(
        cache.get(&k).await.unwrap().is_some(),
        "refreshed entries live on"
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(
        cache.get(&k).await.unwrap(),
        None,
        "expired entries are never returned"
    );
}

/// An absolute expiry ends an entry however often it is refreshed.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::absolute_expiry_caps_sliding(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn absolute_expiry_caps_sliding(cache: Arc<dyn DistributedCache>) {
    let k = key("abs");
    let options = EntryOptions::sliding(Duration::from_secs(60))
        .with_absolute(std::time::SystemTime::now() + Duration::from_millis(1500));
    cache.set(&k, vec![1], options).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    cache.refresh(&k).await.unwrap();
    assert!(cache.get(&k).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(
        cache.get(&k).await.unwrap(),
        None,
        "absolute expiry wins over sliding"
    );
}

/// A lease is exclusive, only its owner commits through it or releases it, and a missing key takes no lease.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::lock_is_exclusive_and_owner_only(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn lock_is_exclusive_and_owner_only(cache: Arc<dyn DistributedCache>) {
    let k = key("lock");
    let lease = Duration::from_secs(30);
    let l = lock(cache.as_ref());
    let (a, b) = (LockToken::generate(), LockToken::generate());
    assert_eq!(
        l.try_lock_and_get(&k, &a, lease).await.unwrap(),
        LockAttempt::Missing,
        "no entry, no lease"
    );
    assert!(l
        .create(&k, b"v1".to_vec(), EntryOptions::sliding(Duration::from_secs(60)))
        .await
        .unwrap());
    assert!(
        !l.create(&k, b"other".to_vec(), EntryOptions::default())
            .await
            .unwrap(),
        "create never overwrites"
    );

    assert_eq!(
        l.try_lock_and_get(&k, &a, lease).await.unwrap(),
        LockAttempt::Acquired(b"v1".to_vec())
    );
    assert_eq!(
        l.try_lock_and_get(&k, &b, lease).await.unwrap(),
        LockAttempt::Busy
    );
    // only the owner may commit or release
    let stolen = l
        .commit_and_unlock(
            &k,
            &b,
            CommitOp::Set {
                value: b"evil".to_vec(),
                options: EntryOptions::default(),
            },
        )
        .await;
    assert!(matches!(stolen, Err(Error::LeaseLost)), "{stolen:?}");
    assert!(matches!(
        l.commit_and_unlock(&k, &b, CommitOp::Release).await,
        Err(Error::LeaseLost)
    ));
    let set = CommitOp::Set {
        value: b"v2".to_vec(),
        options: EntryOptions::sliding(Duration::from_secs(60)),
    };
    l.commit_and_unlock(&k, &a, set).await.unwrap();
    // released: b can take it now, and sees a's write
    assert_eq!(
        l.try_lock_and_get(&k, &b, lease).await.unwrap(),
        LockAttempt::Acquired(b"v2".to_vec())
    );
    l.commit_and_unlock(&k, &b, CommitOp::Remove).await.unwrap();
    assert_eq!(cache.get(&k).await.unwrap(), None);
}

/// An expired lease frees the session for the next owner, and its old owner can no longer commit.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::an_expired_lease_frees_the_session_and_cannot_commit(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn an_expired_lease_frees_the_session_and_cannot_commit(cache: Arc<dyn DistributedCache>) {
    let k = key("lease");
    let l = lock(cache.as_ref());
    let (dead, next) = (LockToken::generate(), LockToken::generate());
    assert!(l
        .create(&k, b"v1".to_vec(), EntryOptions::sliding(Duration::from_secs(60)))
        .await
        .unwrap());
    let short = Duration::from_millis(300);
    assert!(matches!(
        l.try_lock_and_get(&k, &dead, short).await.unwrap(),
        LockAttempt::Acquired(_)
    ));
    assert_eq!(
        l.try_lock_and_get(&k, &next, short).await.unwrap(),
        LockAttempt::Busy
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    // the holder "died": its lease expired, the session is free again
    assert!(matches!(
        l.try_lock_and_get(&k, &next, Duration::from_secs(30))
            .await
            .unwrap(),
        LockAttempt::Acquired(_)
    ));
    // the dead holder's late commit must not overwrite
    let late = CommitOp::Set {
        value: b"stale".to_vec(),
        options: EntryOptions::default(),
    };
    assert!(matches!(
        l.commit_and_unlock(&k, &dead, late).await,
        Err(Error::LeaseLost)
    ));
    l.commit_and_unlock(&k, &next, CommitOp::Release).await.unwrap();
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"v1"[..]));
}

/// A refresh through the lock slides the expiry and keeps the value.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::refresh_through_the_lock_keeps_the_value(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn refresh_through_the_lock_keeps_the_value(cache: Arc<dyn DistributedCache>) {
    let k = key("refresh");
    let l = lock(cache.as_ref());
    let t = LockToken::generate();
    assert!(l
        .create(
            &k,
            b"keep".to_vec(),
            EntryOptions::sliding(Duration::from_millis(1200))
        )
        .await
        .unwrap());
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(matches!(
            l.try_lock_and_get(&k, &t, Duration::from_secs(5)).await.unwrap(),
            LockAttempt::Acquired(_)
        ));
        l.commit_and_unlock(&k, &t, CommitOp::Refresh).await.unwrap();
    }
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"keep"[..]));
}

/// Runs every [`testing`](crate::testing) check as a `#[tokio::test]`, for a store made by
/// `$make` (an async expression giving `Option<(Arc<dyn DistributedCache>, guard)>`,
/// where the guard keeps the store's server alive for the check; `None` skips). Needs
/// tokio with the `macros` and `rt-multi-thread` features in the calling crate.
#[macro_export]
macro_rules! store_contract {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_contract!(@tests $make;
                get_set_remove,
                sliding_expiry_slides_and_expires,
                absolute_expiry_caps_sliding,
                lock_is_exclusive_and_owner_only,
                an_expired_lease_frees_the_session_and_cannot_commit,
                refresh_through_the_lock_keeps_the_value,
            );
        }
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some((cache, _guard)) = $make.await {
                    $crate::testing::$check(cache).await;
                }
            }
        )*
    };
}
