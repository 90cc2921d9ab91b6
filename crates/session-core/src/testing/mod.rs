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

mod principals;

use std::{sync::Arc, time::Duration};

pub use principals::*;

use crate::error::Error;
use crate::store::{CommitOp, DistributedCache, EntryOptions, Fence, LockAttempt, LockToken, SessionLock};

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

/// The value and fence of an acquired lease (panics with what the store answered else).
async fn acquire(l: &dyn SessionLock, k: &str, token: &LockToken, lease: Duration) -> (Vec<u8>, Fence) {
    match l.try_lock_and_get(k, token, lease).await.unwrap() {
        LockAttempt::Acquired(value, fence) => (value, fence),
        other => panic!("expected the lease to be taken, got {other:?}"),
    }
}

fn set_op(value: &[u8]) -> CommitOp {
    CommitOp::Set {
        value: value.to_vec(),
        options: EntryOptions::sliding(Duration::from_secs(60)),
    }
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
        .create(
            &k,
            b"v1".to_vec(),
            EntryOptions::sliding(Duration::from_secs(60)),
            None
        )
        .await
        .unwrap());
    assert!(
        !l.create(&k, b"other".to_vec(), EntryOptions::default(), None)
            .await
            .unwrap(),
        "create never overwrites"
    );

    let (value, fence) = acquire(l, &k, &a, lease).await;
    assert_eq!(value, b"v1");
    assert_eq!(
        l.try_lock_and_get(&k, &b, lease).await.unwrap(),
        LockAttempt::Busy
    );
    // only the owner may commit or release
    let stolen = l.commit_and_unlock(&k, &b, fence, set_op(b"evil"), None).await;
    assert!(matches!(stolen, Err(Error::LeaseLost)), "{stolen:?}");
    assert!(matches!(
        l.commit_and_unlock(&k, &b, fence, CommitOp::Release, None).await,
        Err(Error::LeaseLost)
    ));
    l.commit_and_unlock(&k, &a, fence, set_op(b"v2"), None)
        .await
        .unwrap();
    // released: b can take it now, and sees a's write
    let (value, next) = acquire(l, &k, &b, lease).await;
    assert_eq!(value, b"v2");
    if l.fences() {
        assert!(
            next > fence,
            "a write moves the fence on: {fence:?} then {next:?}"
        );
    }
    l.commit_and_unlock(&k, &b, next, CommitOp::Remove, None)
        .await
        .unwrap();
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
        .create(
            &k,
            b"v1".to_vec(),
            EntryOptions::sliding(Duration::from_secs(60)),
            None
        )
        .await
        .unwrap());
    let short = Duration::from_millis(300);
    let (_, fence) = acquire(l, &k, &dead, short).await;
    assert_eq!(
        l.try_lock_and_get(&k, &next, short).await.unwrap(),
        LockAttempt::Busy
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    // the holder "died": its lease expired, the session is free again
    let (_, next_fence) = acquire(l, &k, &next, Duration::from_secs(30)).await;
    // the dead holder's late commit must not overwrite
    assert!(matches!(
        l.commit_and_unlock(&k, &dead, fence, set_op(b"stale"), None)
            .await,
        Err(Error::LeaseLost)
    ));
    l.commit_and_unlock(&k, &next, next_fence, CommitOp::Release, None)
        .await
        .unwrap();
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
            EntryOptions::sliding(Duration::from_millis(1200)),
            None
        )
        .await
        .unwrap());
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (_, fence) = acquire(l, &k, &t, Duration::from_secs(5)).await;
        l.commit_and_unlock(&k, &t, fence, CommitOp::Refresh, None)
            .await
            .unwrap();
    }
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"keep"[..]));
}

/// On a store that [fences](SessionLock::fences), a write or removal made without the
/// lock while a lease is held (another application, a "log out everywhere") makes the
/// holder's commit fail: it changes nothing, its lease is released, and what the other
/// writer did stands. A stale fence is refused even with the right token. (A store
/// without fencing is not checked.)
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::a_write_outside_the_lease_fails_the_commit(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn a_write_outside_the_lease_fails_the_commit(cache: Arc<dyn DistributedCache>) {
    let l = lock(cache.as_ref());
    if !l.fences() {
        return;
    }
    let lease = Duration::from_secs(30);
    let t = LockToken::generate();
    let options = EntryOptions::sliding(Duration::from_secs(60));

    // written by someone else under the lease: the holder's commit is refused
    let k = key("fence-set");
    assert!(l.create(&k, b"v1".to_vec(), options, None).await.unwrap());
    let (_, fence) = acquire(l, &k, &t, lease).await;
    cache.set(&k, b"theirs".to_vec(), options).await.unwrap();
    for op in [set_op(b"mine"), CommitOp::Refresh] {
        let lost = l.commit_and_unlock(&k, &t, fence, op, None).await;
        assert!(matches!(lost, Err(Error::LeaseLost)), "{lost:?}");
        // the refused commit released the lease: the next one is taken at once
        let (value, now) = acquire(l, &k, &t, lease).await;
        assert_eq!(value, b"theirs");
        assert!(now > fence, "a plain write moves the fence on");
    }
    let (_, now) = acquire(l, &k, &t, lease).await;
    l.commit_and_unlock(&k, &t, now, set_op(b"mine"), None)
        .await
        .unwrap();
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"mine"[..]));

    // removed under the lease: the holder cannot bring it back
    let k = key("fence-remove");
    assert!(l.create(&k, b"v1".to_vec(), options, None).await.unwrap());
    let (_, fence) = acquire(l, &k, &t, lease).await;
    cache.remove(&k).await.unwrap();
    let lost = l
        .commit_and_unlock(&k, &t, fence, set_op(b"resurrected"), None)
        .await;
    assert!(matches!(lost, Err(Error::LeaseLost)), "{lost:?}");
    assert_eq!(
        cache.get(&k).await.unwrap(),
        None,
        "a removed entry stays removed"
    );
    assert_eq!(
        l.try_lock_and_get(&k, &t, lease).await.unwrap(),
        LockAttempt::Missing
    );

    // a stale fence with the right token (a lease that came back with an old copy)
    let k = key("fence-stale");
    assert!(l.create(&k, b"v1".to_vec(), options, None).await.unwrap());
    let (_, fence) = acquire(l, &k, &t, lease).await;
    l.commit_and_unlock(&k, &t, fence, set_op(b"v2"), None)
        .await
        .unwrap();
    let (_, _) = acquire(l, &k, &t, lease).await;
    let stale = l.commit_and_unlock(&k, &t, fence, set_op(b"stale"), None).await;
    assert!(matches!(stale, Err(Error::LeaseLost)), "{stale:?}");
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some(&b"v2"[..]));
}

/// Hot sessions, for a store that [`keeps_leases`](SessionLock::keeps_leases) (others
/// pass at once): a kept lease stays its holder's (another token is busy, the holder
/// takes it again with its token) until another token asks for it; the holder's next
/// keeping commit then lets it go, and the asking token (and no other) takes it.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::kept_leases_are_kept_until_asked_for(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn kept_leases_are_kept_until_asked_for(cache: Arc<dyn DistributedCache>) {
    use crate::store::Kept;
    let l = lock(cache.as_ref());
    if !l.keeps_leases() {
        return;
    }
    let k = key("kept");
    let (lease, keep) = (
        Duration::from_secs(30),
        crate::store::Keeping::new(Duration::from_secs(30)),
    );
    let (a, b, c) = (
        LockToken::generate(),
        LockToken::generate(),
        LockToken::generate(),
    );
    assert!(l
        .create(
            &k,
            b"v1".to_vec(),
            EntryOptions::sliding(Duration::from_secs(60)),
            None
        )
        .await
        .unwrap());
    let (_, fence) = acquire(l, &k, &a, lease).await;
    // a write that leaves the lease where the lock call put it (30 s) keeps it too
    let unextended = crate::store::Keeping {
        extend: false,
        ..keep
    };
    let kept = l
        .commit_and_keep(&k, &a, fence, set_op(b"v2"), None, unextended)
        .await
        .unwrap();
    assert_eq!(kept, Kept::Kept);
    let fence = if l.fences() { fence.next() } else { fence };
    // kept: the holder's next request needs no lock call, but may take it again
    let (value, again) = acquire(l, &k, &a, lease).await;
    assert_eq!((value.as_slice(), again), (&b"v2"[..], fence));
    assert_eq!(
        l.commit_and_keep(&k, &a, fence, CommitOp::Release, None, keep)
            .await
            .unwrap(),
        Kept::Kept
    );
    assert_eq!(
        cache.get(&k).await.unwrap().as_deref(),
        Some(&b"v2"[..]),
        "a kept lease blocks no plain read"
    );
    // b asks for it; the next keeping commit lets it go, for b only
    assert_eq!(
        l.try_lock_and_get(&k, &b, lease).await.unwrap(),
        LockAttempt::Busy
    );
    let kept = l
        .commit_and_keep(&k, &a, fence, set_op(b"v3"), None, keep)
        .await
        .unwrap();
    assert_eq!(kept, Kept::Released, "asked for: committed, and let go");
    assert_eq!(
        l.try_lock_and_get(&k, &c, lease).await.unwrap(),
        LockAttempt::Busy,
        "reserved for b"
    );
    let (value, fence_b) = acquire(l, &k, &b, lease).await;
    assert_eq!(value, b"v3", "b sees the holder's last write");
    // and a commit of the old holder's token changes nothing now
    let late = l
        .commit_and_keep(&k, &a, fence_b, set_op(b"late"), None, keep)
        .await;
    assert!(matches!(late, Err(Error::LeaseLost)), "{late:?}");
    l.commit_and_unlock(&k, &b, fence_b, CommitOp::Remove, None)
        .await
        .unwrap();
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
                a_write_outside_the_lease_fails_the_commit,
                kept_leases_are_kept_until_asked_for,
                principal_index_lists_and_revokes,
                a_revoked_session_cannot_be_written_back,
                expired_sessions_leave_the_index,
                logins_cycles_and_flushes_keep_the_index_exact,
                a_login_beyond_the_limit_ends_the_oldest,
                a_request_running_on_a_revoked_session_cannot_bring_it_back,
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
