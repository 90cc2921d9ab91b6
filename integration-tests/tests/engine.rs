//! Session semantics (SPEC section 2) through the core API, on the memory store and on
//! caches that count, fail or stall.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use distributed_session::adapter::{Outcome, SessionEngine, SessionScope};
use distributed_session::store::{
    async_trait, CommitOp, DistributedCache, EntryOptions, Fence, LockAttempt, LockToken, Owner, SessionLock,
};
use distributed_session::{Error, KeyRing, MemoryCache, Result, SigningKey};
use integration_tests::cookie_of;

/// A memory cache that counts its store calls, and can be told to answer its next lock
/// call late (after taking the lease), to stall its next lock call (never taking the
/// lease), to stall its next commit or next release (never applying it), or to fail
/// its next commits and releases (as a store that went down).
#[derive(Default)]
struct Probe {
    inner: MemoryCache,
    calls: AtomicUsize,
    late_lock: AtomicBool,
    stalled_lock: AtomicBool,
    stalled_commit: AtomicBool,
    stalled_release: AtomicBool,
    failing_commits: AtomicUsize,
}

impl Probe {
    fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
    fn hit(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl DistributedCache for Probe {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.hit();
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        self.hit();
        self.inner.set(key, value, options).await
    }
    async fn refresh(&self, key: &str) -> Result<()> {
        self.hit();
        self.inner.refresh(key).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.hit();
        self.inner.remove(key).await
    }
    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }
}

#[async_trait]
impl SessionLock for Probe {
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt> {
        self.hit();
        if self.stalled_lock.swap(false, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let attempt = self.inner.try_lock_and_get(key, token, lease).await;
        if self.late_lock.swap(false, Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        attempt
    }
    async fn commit_and_unlock(
        &self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
    ) -> Result<()> {
        self.hit();
        let stalled = if op == CommitOp::Release {
            &self.stalled_release
        } else {
            &self.stalled_commit
        };
        let failing = self
            .failing_commits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(Error::store(
                "commit",
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"),
            ));
        }
        if stalled.swap(false, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.commit_and_unlock(key, token, fence, op, owner).await
    }
    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        options: EntryOptions,
        owner: Option<Owner<'_>>,
    ) -> Result<bool> {
        self.hit();
        self.inner.create(key, value, options, owner).await
    }
}

/// A store that is down (fails) or hangs (never answers).
struct Broken {
    hang: bool,
}

#[async_trait]
impl DistributedCache for Broken {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
        self.fail().await
    }
    async fn set(&self, _: &str, _: Vec<u8>, _: EntryOptions) -> Result<()> {
        self.fail().await
    }
    async fn refresh(&self, _: &str) -> Result<()> {
        self.fail().await
    }
    async fn remove(&self, _: &str) -> Result<()> {
        self.fail().await
    }
}

impl Broken {
    async fn fail<T>(&self) -> Result<T> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        Err(Error::store(
            "get",
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"),
        ))
    }
}

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32]).unwrap()
}

fn engine_over(cache: Arc<dyn DistributedCache>) -> SessionEngine {
    SessionEngine::builder()
        .signing_key(key(1))
        .lock_wait(Duration::from_millis(200))
        .build_shared(cache)
        .unwrap()
}

/// One request: writes `counter = n` into a new session; returns its cookie.
async fn new_session(engine: &SessionEngine, n: i32) -> String {
    let scope = engine.start([], false);
    scope.session().set_i32("counter", n).await.unwrap();
    cookie_of(&scope.finish().await)
}

#[tokio::test]
async fn untouched_and_read_only_requests_cost_what_they_should() {
    let cache = Arc::new(Probe::default());
    let engine = engine_over(cache.clone());
    let cookie = new_session(&engine, 1).await;
    assert_eq!(cache.take(), 1, "a new session is one create");

    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.finish().await, Outcome::Unchanged);
    assert_eq!(cache.take(), 0, "an untouched session makes no store call");

    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(1));
    assert_eq!(scope.finish().await, Outcome::Unchanged, "read-only: no cookie");
    assert_eq!(cache.take(), 2, "read-only: lock+load, refresh+unlock");

    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().set_i32("counter", 2).await.unwrap();
    assert_eq!(
        scope.finish().await,
        Outcome::Unchanged,
        "later writes send no cookie"
    );
    assert_eq!(cache.take(), 2, "write: lock+load, set+unlock");

    let scope = engine.start([], false);
    assert_eq!(scope.session().get_string("x").await.unwrap(), None);
    assert_eq!(
        scope.finish().await,
        Outcome::Unchanged,
        "reading an empty new session sets no cookie"
    );
    assert_eq!(cache.take(), 0);
}

#[tokio::test]
async fn one_encoding_per_type_helpers_and_serde_round_trip() {
    let engine = engine_over(Arc::new(MemoryCache::default()));
    let scope = engine.start([], false);
    let s = scope.session();
    s.set_i32("n", 5).await.unwrap();
    s.insert("m", 7).await.unwrap();
    s.set_i64("big", i64::MIN).await.unwrap();
    s.set_bool("flag", true).await.unwrap();
    s.insert("list", vec![1, 2, 3]).await.unwrap();
    s.set_bytes("raw", [0xff, 0]).await.unwrap();
    s.set_string("name", "zoë!").await.unwrap();
    let cookie = cookie_of(&scope.finish().await);

    let scope = engine.start([cookie.as_bytes()], false);
    let s = scope.session();
    assert!(!s.is_new().await.unwrap());
    // the seed's helpers and serde read and write the same encoding
    assert_eq!(s.get::<i32>("n").await.unwrap(), Some(5));
    assert_eq!(s.get_i32("m").await.unwrap(), Some(7));
    assert_eq!(s.get_i64("n").await.unwrap(), Some(5));
    assert_eq!(s.get_i64("big").await.unwrap(), Some(i64::MIN));
    assert_eq!(s.get_bool("flag").await.unwrap(), Some(true));
    assert_eq!(s.get::<bool>("flag").await.unwrap(), Some(true));
    assert_eq!(s.get::<Vec<i32>>("list").await.unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(s.get_bytes("raw").await.unwrap(), Some(vec![0xff, 0]));
    assert_eq!(s.get::<Vec<u8>>("raw").await.unwrap(), Some(vec![0xff, 0]));
    assert_eq!(s.get_string("name").await.unwrap().as_deref(), Some("zoë!"));
    assert_eq!(s.get::<String>("name").await.unwrap().as_deref(), Some("zoë!"));
    let mut keys = s.keys().await.unwrap();
    keys.sort();
    assert_eq!(keys, ["big", "flag", "list", "m", "n", "name", "raw"]);
    assert!(s.contains_key("n").await.unwrap() && !s.contains_key("N").await.unwrap());
    assert!(!s.is_empty().await.unwrap());
    // a value of another type is an error, never a panic, and changes nothing
    assert!(matches!(s.get_i32("name").await, Err(Error::TypeMismatch { .. })));
    assert!(matches!(
        s.get_string("raw").await,
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(s.get_bool("big").await, Err(Error::TypeMismatch { .. })));
    assert!(matches!(
        s.get::<String>("list").await,
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        s.remove::<String>("raw").await,
        Err(Error::TypeMismatch { .. })
    ));
    // remove returns the old value
    assert_eq!(s.remove::<Vec<u8>>("raw").await.unwrap(), Some(vec![0xff, 0]));
    assert_eq!(s.remove::<Vec<u8>>("raw").await.unwrap(), None);
    assert_eq!(s.remove::<i32>("n").await.unwrap(), Some(5));
    let _ = scope.finish().await;

    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(
        scope.session().get_bytes("raw").await.unwrap(),
        None,
        "removed keys stay gone"
    );
    assert_eq!(scope.session().get_i32("n").await.unwrap(), None);
    let _ = scope.finish().await;
    assert!(matches!(
        scope_after_finish(&engine, &cookie).await,
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn id_makes_no_store_call_and_save_commits_early() {
    let cache = Arc::new(Probe::default());
    let engine = engine_over(cache.clone());
    let cookie = new_session(&engine, 1).await;
    cache.take();

    let scope = engine.start([cookie.as_bytes()], false);
    let s = scope.session();
    assert_eq!(s.id(), None, "not known before first use");
    assert_eq!(cache.take(), 0, "id() made no store call");
    s.insert("counter", 2).await.unwrap();
    let id = s.id().unwrap();
    assert_eq!(
        cookie.split_once('=').unwrap().1.split_once('.').unwrap().0,
        id.expose()
    );
    let calls = cache.take();
    s.save().await.unwrap();
    assert!(cache.take() > 0, "save() committed now (lock call: {calls})");
    // the lock is released: another request of the session goes through at once
    let other = engine.start([cookie.as_bytes()], false);
    assert_eq!(other.session().get_i32("counter").await.unwrap(), Some(2));
    let _ = other.finish().await;
    cache.take();
    // reads still work, writes are a clear error, and the end of the request commits nothing more
    assert_eq!(s.get_i32("counter").await.unwrap(), Some(2));
    assert!(matches!(s.insert("counter", 3).await, Err(Error::Saved)));
    assert!(matches!(s.clear().await, Err(Error::Saved)));
    assert_eq!(scope.finish().await, Outcome::Unchanged);
    assert_eq!(cache.take(), 0);

    // a new session saved early still sends its cookie with the response
    let scope = engine.start([], false);
    scope.session().insert("a", 1).await.unwrap();
    scope.session().save().await.unwrap();
    assert!(matches!(scope.finish().await, Outcome::SetCookie(_)));
}

async fn scope_after_finish(engine: &SessionEngine, cookie: &str) -> Result<Option<i32>> {
    let scope = engine.start([cookie.as_bytes()], false);
    let kept = scope.session();
    let _ = scope.finish().await;
    kept.get_i32("counter").await
}

#[tokio::test]
async fn payload_cap_refuses_the_write_and_keeps_the_stored_state() {
    let engine = SessionEngine::builder()
        .max_payload(200)
        .build(MemoryCache::default())
        .unwrap();
    let scope = engine.start([], false);
    scope.session().set_string("small", "ok").await.unwrap();
    let err = scope.session().set_bytes("big", vec![0; 300]).await;
    assert!(
        matches!(err, Err(Error::PayloadTooLarge { limit: 200, .. })),
        "{err:?}"
    );
    let cookie = cookie_of(&scope.finish().await);

    let scope = engine.start([cookie.as_bytes()], false);
    let s = scope.session();
    assert_eq!(s.keys().await.unwrap(), ["small"]);
    // filling up to the cap works, one byte more does not
    let mut len = 0;
    while s.set_string("fill", &"x".repeat(len + 1)).await.is_ok() {
        len += 1;
    }
    assert!(len > 100);
    assert_eq!(s.get_string("fill").await.unwrap().map(|v| v.len()), Some(len));
    let _ = scope.finish().await;
}

#[tokio::test]
async fn a_session_at_the_largest_cap_reads_back_and_a_larger_cap_is_refused() {
    let cache = Arc::new(MemoryCache::default());
    let engine = SessionEngine::builder()
        .signing_key(key(1))
        .max_payload(distributed_session::MAX_PAYLOAD)
        .build_shared(cache.clone())
        .unwrap();
    integration_tests::payload_cap::a_session_at_the_cap_reads_back_intact(&engine).await;
    integration_tests::payload_cap::an_entry_over_the_limit_is_left_alone(&engine, &*cache).await;
    let over = SessionEngine::builder().max_payload(distributed_session::MAX_PAYLOAD + 1);
    let refused = over.build(MemoryCache::default());
    assert!(
        matches!(&refused, Err(Error::Config(message)) if message.contains("max_payload")),
        "{refused:?}"
    );
}

/// Log lines at WARN or above, written to a buffer the test reads.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn lines_with(&self, text: &str) -> usize {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }
}

#[tokio::test]
async fn a_stale_cookie_sent_again_and_again_does_not_flood_the_warnings() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let cache = Arc::new(MemoryCache::default());
    let engine = engine_over(cache.clone());
    let cookie = new_session(&engine, 1).await;
    let id = cookie.split_once('=').unwrap().1.split_once('.').unwrap().0;
    cache.remove(id).await.unwrap();
    for _ in 0..50 {
        let scope = engine.start([cookie.as_bytes()], false);
        assert_eq!(scope.session().get_i32("counter").await.unwrap(), None);
        assert_eq!(scope.finish().await, Outcome::Unchanged);
    }
    assert_eq!(
        logs.lines_with("session expired"),
        1,
        "one warning, not one per request"
    );
}

#[tokio::test]
async fn flush_deletes_and_expires_the_cookie() {
    let cache = Arc::new(MemoryCache::default());
    let engine = engine_over(cache.clone());
    let cookie = new_session(&engine, 5).await;
    assert_eq!(cache.len(), 1);

    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().flush().await.unwrap();
    match scope.finish().await {
        Outcome::SetCookie(set) => assert!(set.contains("Max-Age=0"), "{set}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(cache.len(), 0, "destroyed sessions leave the store");

    let scope = engine.start([cookie.as_bytes()], false);
    assert!(
        scope.session().is_new().await.unwrap(),
        "the old cookie no longer works"
    );
    let _ = scope.finish().await;
}

#[tokio::test]
async fn cycle_id_moves_the_data_to_a_new_id() {
    let cache = Arc::new(MemoryCache::default());
    let engine = engine_over(cache.clone());
    let old = new_session(&engine, 7).await;

    let scope = engine.start([old.as_bytes()], false);
    scope.session().load().await.unwrap();
    let old_id = scope.session().id().unwrap();
    scope.session().cycle_id().await.unwrap();
    let new_id = scope.session().id().unwrap();
    assert_ne!(old_id, new_id);
    let new = cookie_of(&scope.finish().await);
    assert_ne!(new, old);
    assert_eq!(cache.len(), 1, "the old entry is gone");

    let scope = engine.start([new.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(7));
    let _ = scope.finish().await;
    let scope = engine.start([old.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), None);
    let _ = scope.finish().await;
}

#[tokio::test]
async fn one_session_waits_bounded_and_other_sessions_do_not_wait() {
    let engine = engine_over(Arc::new(MemoryCache::default()));
    let first = new_session(&engine, 1).await;
    let second = new_session(&engine, 1).await;

    let holder = engine.start([first.as_bytes()], false);
    holder.session().load().await.unwrap();

    // another session is not held up by the first one's lock
    let started = Instant::now();
    let other = engine.start([second.as_bytes()], false);
    assert_eq!(other.session().get_i32("counter").await.unwrap(), Some(1));
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    let _ = other.finish().await;

    // the same session waits, then gives up with a 503 instead of writing unlocked
    let waiter = engine.start([first.as_bytes()], false);
    let err = waiter.session().set_i32("counter", 99).await;
    assert!(matches!(err, Err(Error::LockTimeout { .. })), "{err:?}");
    match waiter.finish().await {
        Outcome::Failed(response) => {
            assert_eq!(response.status, 503);
            assert!(response.body.contains("\"error\""), "{}", response.body);
        }
        other => panic!("{other:?}"),
    }
    holder.session().set_i32("counter", 2).await.unwrap();
    let _ = holder.finish().await;

    let scope = engine.start([first.as_bytes()], false);
    assert_eq!(
        scope.session().get_i32("counter").await.unwrap(),
        Some(2),
        "the timed-out write never happened"
    );
    let _ = scope.finish().await;
}

#[tokio::test]
async fn a_cancelled_request_releases_the_lock() {
    let engine = engine_over(Arc::new(MemoryCache::default()));
    let cookie = new_session(&engine, 1).await;
    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().set_i32("counter", 100).await.unwrap();
    drop(scope); // the client went away mid-handler: nothing is committed

    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(1));
    let _ = scope.finish().await;
}

#[tokio::test]
async fn a_lock_taken_after_its_call_timed_out_is_released() {
    let cache = Arc::new(Probe::default());
    let engine = engine_with_long_leases(cache.clone(), Duration::from_millis(200));
    let cookie = new_session(&engine, 5).await;
    cache.late_lock.store(true, Ordering::SeqCst);
    // the lease the late call took is released in the background, long before it expires
    a_timed_out_lock_call_leaves_the_session_free(&engine, &cookie).await;
}

/// A request of the session at `cookie` (counter = 5) whose lock call times out, then
/// the next request, which must find the session free.
async fn a_timed_out_lock_call_leaves_the_session_free(engine: &SessionEngine, cookie: &str) {
    let scope = engine.start([cookie.as_bytes()], false);
    let err = scope.session().get_i32("counter").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let _ = scope.finish().await;
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(5));
    assert_eq!(scope.finish().await, Outcome::Unchanged);
}

/// An engine over `cache` whose store leases outlive the test (60 s): a lease left taken
/// shows as a lock timeout (2 s) in the next request.
fn engine_with_long_leases(cache: Arc<Probe>, io_timeout: Duration) -> SessionEngine {
    SessionEngine::builder()
        .signing_key(key(1))
        .io_timeout(io_timeout)
        .lock_wait(Duration::from_secs(2))
        .lock_lease(Duration::from_secs(60))
        .build_shared(cache)
        .unwrap()
}

/// A session holding `counter = 5`, and a request of it whose first access the handler
/// gave up on (100 ms) while the store's lock call was in flight.
async fn first_access_cut_off() -> (SessionEngine, String, SessionScope) {
    let cache = Arc::new(Probe::default());
    let engine = engine_with_long_leases(cache.clone(), Duration::from_secs(10));
    let cookie = new_session(&engine, 5).await;
    cache.late_lock.store(true, Ordering::SeqCst);
    let scope = engine.start([cookie.as_bytes()], false);
    let cut = tokio::time::timeout(Duration::from_millis(100), scope.session().get_i32("counter")).await;
    assert!(cut.is_err(), "the lock call answers late");
    (engine, cookie, scope)
}

#[tokio::test]
async fn a_request_cancelled_during_its_lock_call_releases_the_lease() {
    let (engine, cookie, scope) = first_access_cut_off().await;
    drop(scope); // the client went away while the store call was in flight
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(5));
    assert_eq!(scope.finish().await, Outcome::Unchanged);
}

#[tokio::test]
async fn a_first_access_given_up_by_the_handler_can_be_tried_again() {
    let (engine, cookie, scope) = first_access_cut_off().await;
    // the same cookie, so the same session: not a fresh one replacing it
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(5));
    scope.session().set_i32("counter", 6).await.unwrap();
    assert_eq!(scope.finish().await, Outcome::Unchanged, "no new cookie");
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(6));
    let _ = scope.finish().await;
}

#[tokio::test]
async fn a_commit_cancelled_or_timed_out_releases_the_lease() {
    for cancelled in [true, false] {
        let cache = Arc::new(Probe::default());
        let engine = engine_with_long_leases(cache.clone(), Duration::from_millis(200));
        let cookie = new_session(&engine, 5).await;
        cache.stalled_commit.store(true, Ordering::SeqCst);
        let scope = engine.start([cookie.as_bytes()], false);
        scope.session().set_i32("counter", 6).await.unwrap();
        if cancelled {
            let cut = tokio::time::timeout(Duration::from_millis(100), scope.finish()).await;
            assert!(cut.is_err(), "the commit stalls");
        } else {
            assert!(matches!(scope.finish().await, Outcome::Failed(e) if e.status == 503));
        }
        // the stalled commit never applied: the session is as it was, and free
        let scope = engine.start([cookie.as_bytes()], false);
        assert_eq!(
            scope.session().get_i32("counter").await.unwrap(),
            Some(5),
            "cancelled: {cancelled}"
        );
        let _ = scope.finish().await;
    }
}

#[tokio::test]
async fn the_next_request_does_not_wait_for_a_stalled_release() {
    let cache = Arc::new(Probe::default());
    // a lock wait shorter than the IO timeout: waiting for that release (cut off by the
    // IO timeout), the next request would time out
    let engine = SessionEngine::builder()
        .signing_key(key(1))
        .io_timeout(Duration::from_millis(300))
        .lock_wait(Duration::from_millis(100))
        .lock_lease(Duration::from_secs(60))
        .build_shared(cache.clone())
        .unwrap();
    let cookie = new_session(&engine, 5).await;
    // the lock call stalls before it takes the lease, and so does the release after it
    cache.stalled_lock.store(true, Ordering::SeqCst);
    cache.stalled_release.store(true, Ordering::SeqCst);
    // the next request goes to the store at once and finds the session free
    a_timed_out_lock_call_leaves_the_session_free(&engine, &cookie).await;
}

#[tokio::test]
async fn a_lease_held_when_the_store_went_down_is_released_when_it_is_back() {
    let cache = Arc::new(Probe::default());
    let engine = engine_with_long_leases(cache.clone(), Duration::from_secs(1));
    let cookie = new_session(&engine, 5).await;
    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().set_i32("counter", 6).await.unwrap();
    // the commit fails, and so do the first two releases after it (100 ms, 200 ms apart)
    cache.failing_commits.store(3, Ordering::SeqCst);
    assert!(matches!(scope.finish().await, Outcome::Failed(r) if r.status == 503));
    // the next request waits (its lock wait is 2 s; the lease, 60 s) until the store is
    // back and the release gets through
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(5));
    assert_eq!(scope.finish().await, Outcome::Unchanged);
}

#[tokio::test]
async fn requests_queued_behind_a_failed_store_call_fail_with_it() {
    let cache = Arc::new(Probe::default());
    let engine = engine_with_long_leases(cache.clone(), Duration::from_millis(200));
    let cookie = new_session(&engine, 5).await;
    cache.stalled_lock.store(true, Ordering::SeqCst);
    let (first, second) = (
        engine.start([cookie.as_bytes()], false),
        engine.start([cookie.as_bytes()], false),
    );
    // the first takes the lock and stalls in the store; the second queues behind it
    let (session_a, session_b) = (first.session(), second.session());
    let (a, b) = tokio::join!(session_a.get_i32("counter"), session_b.get_i32("counter"));
    assert!(matches!(a, Err(Error::Timeout { .. })), "{a:?}");
    // rather than trying the store again after its lock wait: answered with the first
    assert!(matches!(b, Err(Error::Unavailable(_))), "{b:?}");
    for scope in [first, second] {
        assert!(matches!(scope.finish().await, Outcome::Failed(r) if r.status == 503));
    }
    // a request that comes afterwards tries the store itself
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(5));
    let _ = scope.finish().await;
}

#[tokio::test]
async fn store_outages_and_stalls_become_503s() {
    for hang in [false, true] {
        let engine = SessionEngine::builder()
            .signing_key(key(1))
            .io_timeout(Duration::from_millis(300))
            .build(Broken { hang })
            .unwrap();
        let cookie = {
            let memory = engine_over(Arc::new(MemoryCache::default()));
            new_session(&memory, 1).await
        };
        let started = Instant::now();
        let scope = engine.start([cookie.as_bytes()], false);
        let err = scope.session().get_i32("counter").await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // later accesses in the same request report it too, without another store call
        assert!(scope.session().set_i32("counter", 1).await.is_err());
        match scope.finish().await {
            Outcome::Failed(r) => {
                assert_eq!(r.status, 503);
                assert!(
                    !r.body.contains("refused"),
                    "no internals in the body: {}",
                    r.body
                );
            }
            other => panic!("{other:?}"),
        }
        // a new session's first write fails at commit: 503, no cookie
        let scope = engine.start([], false);
        scope.session().set_i32("counter", 1).await.unwrap();
        assert!(matches!(scope.finish().await, Outcome::Failed(r) if r.status == 503));
        // untouched requests never notice the outage
        let scope = engine.start([cookie.as_bytes()], false);
        assert_eq!(scope.finish().await, Outcome::Unchanged);
    }
}

#[tokio::test]
async fn absolute_lifetime_ends_active_sessions() {
    let engine = SessionEngine::builder()
        .absolute_lifetime(Duration::from_secs(1))
        .build(MemoryCache::default())
        .unwrap();
    let cookie = new_session(&engine, 1).await;
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(1));
    let _ = scope.finish().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let scope = engine.start([cookie.as_bytes()], false);
    assert!(
        scope.session().is_new().await.unwrap(),
        "past its absolute lifetime"
    );
    let _ = scope.finish().await;
}

#[tokio::test]
async fn a_stored_creation_time_out_of_range_is_corrupt_data_not_a_panic() {
    let cache = Arc::new(MemoryCache::default());
    let engine = SessionEngine::builder()
        .signing_key(key(1))
        .absolute_lifetime(Duration::from_secs(3600))
        .build_shared(cache.clone())
        .unwrap();
    let cookie = new_session(&engine, 1).await;
    let id = cookie.split_once('=').unwrap().1.split_once('.').unwrap().0;
    // format 2: created = u64::MAX (LEB128: nine 0xff, then 0x01), no values
    let mut payload = vec![2];
    payload.extend([0xff; 9]);
    payload.extend([0x01, 0]);
    cache
        .set(id, payload, EntryOptions::sliding(Duration::from_secs(60)))
        .await
        .unwrap();
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), None);
    scope.session().set_i32("counter", 1).await.unwrap();
    assert_ne!(cookie_of(&scope.finish().await), cookie, "a new session");
}

#[tokio::test]
async fn rotated_keys_still_accept_old_cookies_and_foreign_keys_do_not() {
    let cache: Arc<dyn DistributedCache> = Arc::new(MemoryCache::default());
    let old_engine = SessionEngine::builder()
        .signing_key(key(1))
        .build_shared(cache.clone())
        .unwrap();
    let cookie = new_session(&old_engine, 3).await;

    let rotated = SessionEngine::builder()
        .key_ring(KeyRing::new(key(2)).with_previous(key(1)))
        .build_shared(cache.clone())
        .unwrap();
    let scope = rotated.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(3));
    let _ = scope.finish().await;

    let foreign = SessionEngine::builder()
        .signing_key(key(3))
        .build_shared(cache)
        .unwrap();
    let scope = foreign.start([cookie.as_bytes()], false);
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), None);
    let _ = scope.finish().await;
}

#[tokio::test]
async fn of_duplicate_session_cookies_the_signed_one_is_used() {
    let cache: Arc<dyn DistributedCache> = Arc::new(MemoryCache::default());
    let engine = engine_over(cache.clone());
    let good = new_session(&engine, 7).await;
    // a well-formed cookie signed with another key (a stale cookie of another path or app)
    let stale = new_session(
        &SessionEngine::builder()
            .signing_key(key(9))
            .build_shared(cache)
            .unwrap(),
        1,
    )
    .await;
    for header in [format!("{stale}; {good}"), format!("{good}; {stale}")] {
        let scope = engine.start([header.as_bytes()], false);
        assert_eq!(
            scope.session().get_i32("counter").await.unwrap(),
            Some(7),
            "{header}"
        );
        let _ = scope.finish().await;
    }
}

#[tokio::test]
async fn invalid_configuration_is_refused() {
    for builder in [
        SessionEngine::builder().idle_timeout(Duration::ZERO),
        SessionEngine::builder().io_timeout(Duration::ZERO),
        SessionEngine::builder().max_payload(1),
        // durations no store can express an expiry for (a CLI value of u64::MAX seconds)
        SessionEngine::builder().idle_timeout(Duration::from_secs(u64::MAX)),
        SessionEngine::builder().io_timeout(Duration::from_secs(u64::MAX)),
        SessionEngine::builder().lock_wait(Duration::from_secs(101 * 366 * 86_400)),
        SessionEngine::builder().lock_lease(Duration::MAX),
        SessionEngine::builder().absolute_lifetime(Duration::from_secs(u64::MAX)),
        SessionEngine::builder().cookie_name("bad name;"),
        SessionEngine::builder().cookie_path("/a\r\nX: 1"),
        SessionEngine::builder().cookie_domain("a.test;Secure"),
    ] {
        assert!(matches!(
            builder.build(MemoryCache::default()),
            Err(Error::Config(_))
        ));
    }
    // a zero lock wait is valid: a busy session answers 503 at once
    let fail_fast = SessionEngine::builder().lock_wait(Duration::ZERO);
    assert!(fail_fast.build(MemoryCache::default()).is_ok());
}

#[tokio::test]
async fn engines_over_clones_of_one_store_share_its_lock_table() {
    let store = MemoryCache::default();
    let build = |store: MemoryCache| {
        SessionEngine::builder()
            .max_locked_sessions(1)
            .lock_wait(Duration::from_millis(50))
            .build(store)
            .unwrap()
    };
    // (as each actix-web worker builds its own middleware from a clone)
    let (a, b) = (build(store.clone()), build(store.clone()));
    let (one, two) = (new_session(&a, 1).await, new_session(&a, 2).await);
    let held = a.start([one.as_bytes()], false);
    held.session().load().await.unwrap();
    let other = b.start([two.as_bytes()], false);
    assert!(
        matches!(
            other.session().load().await,
            Err(Error::LockTableFull { limit: 1 })
        ),
        "the second engine counts the first one's lock"
    );
    let _ = other.finish().await;
    let _ = held.finish().await;
    let other = b.start([two.as_bytes()], false);
    assert_eq!(other.session().get_i32("counter").await.unwrap(), Some(2));
    let _ = other.finish().await;
}

#[tokio::test]
async fn save_before_any_other_use_still_reads_the_stored_session() {
    let engine = engine_over(Arc::new(MemoryCache::default()));
    let cookie = new_session(&engine, 4).await;
    let scope = engine.start([cookie.as_bytes()], false);
    scope.session().save().await.unwrap();
    assert_eq!(scope.session().get_i32("counter").await.unwrap(), Some(4));
    assert!(matches!(
        scope.session().insert("counter", 5).await,
        Err(Error::Saved)
    ));
    assert_eq!(scope.finish().await, Outcome::Unchanged);
    // and without a cookie: an empty session, nothing stored, no cookie
    let scope = engine.start([], false);
    scope.session().save().await.unwrap();
    assert!(scope.session().is_empty().await.unwrap());
    assert_eq!(scope.finish().await, Outcome::Unchanged);
}
