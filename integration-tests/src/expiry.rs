//! Sessions removed by a store's own expiry (its scan or deletion task) reach the
//! engine's event handlers as `SessionEvent::Expired`; revoked sessions do not come back
//! as expired ones.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use distributed_session::adapter::SessionEngine;
use distributed_session::store::DistributedCache;
use distributed_session::{SessionEvent, SigningKey};

use crate::request;

/// Builds an engine with an event handler over `cache` (idle timeout `idle`), stores a
/// session A and a logged-in session B, revokes B, then runs `expire(A's id)` (the test
/// makes A's entry expire: waits, or moves its expiry into the past) and `sweep()` (the
/// store's scan or deletion). Asserts that exactly one `Expired` event arrives, for A.
pub async fn removal_by_the_store_is_reported<E, EF, S, SF>(
    cache: Arc<dyn DistributedCache>,
    idle: Duration,
    expire: E,
    sweep: S,
) where
    E: FnOnce(String) -> EF,
    EF: Future<Output = ()>,
    S: FnOnce() -> SF,
    SF: Future<Output = ()>,
{
    let seen: Arc<Mutex<Vec<SessionEvent>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let engine = SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(&[6u8; 32]).unwrap())
        .idle_timeout(idle)
        .on_event(move |event| sink.lock().unwrap().push(event.clone()))
        .build_shared(cache)
        .unwrap();
    let _ = request(&engine, &None, |s| async move { s.insert("n", 1).await.unwrap() }).await;
    let _ = request(&engine, &None, |s| async move {
        s.login("expiry-user").await.unwrap()
    })
    .await;
    assert_eq!(engine.manager().revoke_all("expiry-user").await.unwrap(), 1);
    let first_created = wait_for(&seen, |e| matches!(e, SessionEvent::Created { .. })).await;
    let Some(SessionEvent::Created { id: a }) = first_created else {
        panic!("no Created event: {:?}", seen.lock().unwrap())
    };
    expire(a.expose().to_owned()).await;
    sweep().await;
    let expired = wait_for(&seen, |e| matches!(e, SessionEvent::Expired { .. })).await;
    assert_eq!(
        expired,
        Some(SessionEvent::Expired { id: a.clone() }),
        "the store's expiry removed A: {:?}",
        seen.lock().unwrap()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = seen.lock().unwrap().clone();
    let expired: Vec<_> = all
        .iter()
        .filter(|e| matches!(e, SessionEvent::Expired { .. }))
        .collect();
    assert_eq!(expired.len(), 1, "only A expired (B was revoked): {all:?}");
}

/// The first event `wanted` of those seen, waiting for it up to 10 s.
async fn wait_for(
    seen: &Mutex<Vec<SessionEvent>>,
    wanted: impl Fn(&SessionEvent) -> bool,
) -> Option<SessionEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = seen.lock().unwrap().iter().find(|e| wanted(e)).cloned();
        if found.is_some() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
