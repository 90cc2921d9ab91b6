//! The payload cap on a real store: a session written at the largest cap reads back
//! intact, and a stored entry over what this version reads is left as it is.

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::store::{DistributedCache, EntryOptions};
use distributed_session::{Error, MAX_PAYLOAD};
use std::time::Duration;

use crate::cookie_of;

/// `engine` must have `max_payload(MAX_PAYLOAD)`: fills a session to exactly the cap,
/// commits it, and reads it back intact, twice (a read-only request, then another).
pub async fn a_session_at_the_cap_reads_back_intact(engine: &SessionEngine) {
    let scope = engine.start([], false);
    let session = scope.session();
    // the error of a value one cap long says how much the rest of the session takes
    let size = match session.set_string("big", &"a".repeat(MAX_PAYLOAD)).await {
        Err(Error::PayloadTooLarge { size, limit }) => {
            assert_eq!(limit, MAX_PAYLOAD);
            size
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    };
    let len = MAX_PAYLOAD - (size - MAX_PAYLOAD);
    let value: String = (0..len).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    session.set_string("big", &value).await.unwrap();
    let refused = session.set_string("big", &"a".repeat(len + 1)).await;
    assert!(
        matches!(refused, Err(Error::PayloadTooLarge { .. })),
        "{refused:?}"
    );
    let cookie = cookie_of(&scope.finish().await);
    for _ in 0..2 {
        let scope = engine.start([cookie.as_bytes()], false);
        let read = scope.session().get_string("big").await.unwrap();
        assert!(
            read.as_deref() == Some(value.as_str()),
            "the session at the cap read back intact"
        );
        assert!(!scope.session().is_new().await.unwrap());
        assert_eq!(scope.finish().await, Outcome::Unchanged);
    }
}

/// A stored entry over [`MAX_PAYLOAD`] (another writer's) gives a fresh session and is
/// left in the store untouched, as an entry of an unknown format is.
pub async fn an_entry_over_the_limit_is_left_alone(engine: &SessionEngine, cache: &dyn DistributedCache) {
    let scope = engine.start([], false);
    scope.session().set_i32("n", 1).await.unwrap();
    let id = scope.session().id().unwrap().expose().to_owned();
    let cookie = cookie_of(&scope.finish().await);
    let mut huge = vec![2u8; MAX_PAYLOAD + 1];
    huge[1] = 0;
    cache
        .set(&id, huge.clone(), EntryOptions::sliding(Duration::from_secs(60)))
        .await
        .unwrap();
    let scope = engine.start([cookie.as_bytes()], false);
    assert_eq!(
        scope.session().get_i32("n").await.unwrap(),
        None,
        "a fresh session"
    );
    scope.session().set_i32("n", 2).await.unwrap();
    assert_ne!(cookie_of(&scope.finish().await), cookie, "under a new id");
    let kept = cache.get(&id).await.unwrap();
    assert!(
        kept.as_deref() == Some(huge.as_slice()),
        "the entry over the limit is kept as it was"
    );
}
