//! The principal-index checks: listing, revoking, pruning, and the engine keeping the
//! index exact through logins, id cycles and flushes.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use super::{acquire, key, lock, set_op};
use crate::adapter::{Outcome, SessionEngine};
use crate::error::Error;
use crate::store::{CommitOp, DistributedCache, EntryOptions, LockAttempt, LockToken, Owner, PrincipalIndex};
use crate::{Session, SigningKey};

fn index(cache: &dyn DistributedCache) -> &dyn PrincipalIndex {
    cache.principal_index().expect("store has a principal index")
}

/// A principal name no other run uses.
fn principal(name: &str) -> String {
    format!("{name}-{}@example.com", key("p"))
}

fn owner(principal: &str, ttl: Duration) -> Option<Owner<'_>> {
    Some(Owner {
        principal,
        expires: Some(SystemTime::now() + ttl),
    })
}

async fn keys_of(cache: &dyn DistributedCache, principal: &str) -> Vec<String> {
    let mut keys: Vec<String> = index(cache)
        .sessions_of(principal)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect();
    keys.sort();
    keys
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

/// Sessions created or committed with an owner are listed under its principal (with
/// plausible times), revoking ends exactly the principal's named sessions, and another
/// principal's session cannot be revoked through the wrong name.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::principal_index_lists_and_revokes(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn principal_index_lists_and_revokes(cache: Arc<dyn DistributedCache>) {
    let (l, ix) = (lock(&*cache), index(&*cache));
    let (alice, bob) = (principal("alice"), principal("bob"));
    let ttl = Duration::from_secs(60);
    let options = EntryOptions::sliding(ttl);
    let before = SystemTime::now() - Duration::from_secs(2);
    let (a1, a2, b1) = (key("a1"), key("a2"), key("b1"));
    assert!(l
        .create(&a1, b"1".to_vec(), options, owner(&alice, ttl))
        .await
        .unwrap());
    assert!(l
        .create(&a2, b"2".to_vec(), options, owner(&alice, ttl))
        .await
        .unwrap());
    assert!(l
        .create(&b1, b"3".to_vec(), options, owner(&bob, ttl))
        .await
        .unwrap());
    assert_eq!(
        keys_of(&*cache, &alice).await,
        sorted(vec![a1.clone(), a2.clone()])
    );
    assert_eq!(keys_of(&*cache, &bob).await, vec![b1.clone()]);
    for s in ix.sessions_of(&alice).await.unwrap() {
        let after = SystemTime::now() + Duration::from_secs(2);
        assert!(s.created > before && s.created < after, "{s:?}");
        assert!(
            s.last_seen >= s.created - Duration::from_secs(1) && s.last_seen < after,
            "{s:?}"
        );
        let expires = s.expires.expect("a sliding session expires");
        assert!(expires > before + ttl && expires < after + ttl, "{s:?}");
    }

    // a commit through the lock keeps the session listed
    let t = LockToken::generate();
    let (_, fence) = acquire(l, &a1, &t, Duration::from_secs(30)).await;
    l.commit_and_unlock(&a1, &t, fence, set_op(b"1b"), owner(&alice, ttl))
        .await
        .unwrap();
    assert_eq!(keys_of(&*cache, &alice).await.len(), 2);

    // bob's session cannot be ended under alice's name
    assert_eq!(ix.revoke(&alice, std::slice::from_ref(&b1)).await.unwrap(), 0);
    assert!(
        cache.get(&b1).await.unwrap().is_some(),
        "another principal's session stays"
    );

    assert_eq!(ix.revoke(&alice, std::slice::from_ref(&a1)).await.unwrap(), 1);
    assert_eq!(
        cache.get(&a1).await.unwrap(),
        None,
        "a revoked session reads as missing"
    );
    assert_eq!(
        l.try_lock_and_get(&a1, &t, Duration::from_secs(30))
            .await
            .unwrap(),
        LockAttempt::Missing
    );
    assert_eq!(keys_of(&*cache, &alice).await, vec![a2.clone()]);
    assert_eq!(ix.revoke(&alice, &[a2.clone(), a1.clone()]).await.unwrap(), 1);
    assert!(keys_of(&*cache, &alice).await.is_empty());
    assert_eq!(keys_of(&*cache, &bob).await, vec![b1]);
}

/// A request holding the lease of a session that is revoked under it cannot write it
/// back, refresh it, or remove it as if nothing happened (the old id of a login): each
/// commit fails with `LeaseLost` and the session stays gone.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::a_revoked_session_cannot_be_written_back(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn a_revoked_session_cannot_be_written_back(cache: Arc<dyn DistributedCache>) {
    let (l, ix) = (lock(&*cache), index(&*cache));
    let alice = principal("alice");
    let ttl = Duration::from_secs(60);
    for op in [set_op(b"resurrected"), CommitOp::Refresh, CommitOp::Remove] {
        let k = key("revoked");
        let options = EntryOptions::sliding(ttl);
        assert!(l
            .create(&k, b"v".to_vec(), options, owner(&alice, ttl))
            .await
            .unwrap());
        let t = LockToken::generate();
        let (_, fence) = acquire(l, &k, &t, Duration::from_secs(30)).await;
        assert_eq!(ix.revoke(&alice, std::slice::from_ref(&k)).await.unwrap(), 1);
        let described = format!("{op:?}").chars().take(12).collect::<String>();
        let lost = l.commit_and_unlock(&k, &t, fence, op, owner(&alice, ttl)).await;
        assert!(matches!(lost, Err(Error::LeaseLost)), "{described}: {lost:?}");
        assert_eq!(
            cache.get(&k).await.unwrap(),
            None,
            "{described}: nothing came back"
        );
        assert!(keys_of(&*cache, &alice).await.is_empty(), "{described}");
    }
}

/// Sessions that expire leave the index: one listing after they expired finds none, and
/// the principal's other sessions are still listed.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::expired_sessions_leave_the_index(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn expired_sessions_leave_the_index(cache: Arc<dyn DistributedCache>) {
    let alice = principal("alice");
    let short = Duration::from_millis(3000);
    let end = SystemTime::now() + short;
    let options = EntryOptions::sliding(Duration::from_secs(60)).with_absolute(end);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (cache, alice) = (Arc::clone(&cache), alice.clone());
        tasks.spawn(async move {
            let k = key(&format!("exp{i}"));
            let owner = Some(Owner {
                principal: &alice,
                expires: Some(end),
            });
            lock(&*cache).create(&k, vec![1], options, owner).await.unwrap()
        });
    }
    while let Some(created) = tasks.join_next().await {
        assert!(created.unwrap());
    }
    let keep = key("keep");
    let ttl = Duration::from_secs(60);
    let lasting = EntryOptions::sliding(ttl);
    assert!(lock(&*cache)
        .create(&keep, vec![1], lasting, owner(&alice, ttl))
        .await
        .unwrap());
    let listed = keys_of(&*cache, &alice).await.len();
    // (a slow store may take most of their life to make them)
    if SystemTime::now() + Duration::from_millis(500) < end {
        assert_eq!(listed, 41);
    }
    let wait = end.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1100)).await;
    assert_eq!(keys_of(&*cache, &alice).await, vec![keep.clone()]);
    assert_eq!(keys_of(&*cache, &alice).await, vec![keep]);
}

/// Through the engine: a login moves the session to a new id and lists only that one;
/// another id cycle moves the listing along; a flush empties it; a second login from
/// another browser is listed beside the first, and marked current only for its caller.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::logins_cycles_and_flushes_keep_the_index_exact(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn logins_cycles_and_flushes_keep_the_index_exact(cache: Arc<dyn DistributedCache>) {
    let engine = engine(&cache, None);
    let alice = principal("alice");
    let manager = engine.manager();
    let listed = |caller: Option<Session>| {
        let (manager, alice) = (manager.clone(), alice.clone());
        async move { manager.sessions_of(&alice, caller.as_ref()).await.unwrap() }
    };

    // an anonymous session, then its login
    let jar = request(&engine, None, |s| async move { s.insert("n", 1).await.unwrap() }).await;
    let jar = request(&engine, jar.clone(), |s| {
        let alice = alice.clone();
        async move { s.login(&alice).await.unwrap() }
    })
    .await;
    let first = listed(None).await;
    assert_eq!(first.len(), 1, "{first:?}");
    // the old, anonymous id is gone
    // another id cycle: still one session, under the new id
    let jar = request(&engine, jar, |s| async move { s.cycle_id().await.unwrap() }).await;
    let second = listed(None).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first[0].id, second[0].id);

    // a second browser logs in: two sessions, each current for its own caller
    let other = request(&engine, None, |s| {
        let alice = alice.clone();
        async move { s.login(&alice).await.unwrap() }
    })
    .await;
    let scope = engine.start(other.iter().map(String::as_bytes), true);
    let mine = listed(Some(scope.session())).await;
    assert_eq!(mine.len(), 2);
    assert_eq!(mine.iter().filter(|s| s.current).count(), 1);
    drop(scope.finish().await);

    // revoke_others from the first browser ends the second only
    let scope = engine.start(jar.iter().map(String::as_bytes), true);
    assert_eq!(manager.revoke_others(&scope.session()).await.unwrap(), 1);
    assert_eq!(scope.session().get::<i32>("n").await.unwrap(), Some(1));
    drop(scope.finish().await);
    let scope = engine.start(other.iter().map(String::as_bytes), true);
    assert_eq!(scope.session().principal().await.unwrap(), None, "revoked: empty");
    drop(scope.finish().await);
    assert_eq!(listed(None).await.len(), 1);

    // a flush ends the listing
    let _ = request(&engine, jar, |s| async move { s.flush().await.unwrap() }).await;
    assert!(listed(None).await.is_empty());
}

/// Through the engine: with `max_sessions_per_principal(2)`, a third login ends the
/// oldest session; `revoke_all` then ends the rest.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::a_login_beyond_the_limit_ends_the_oldest(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn a_login_beyond_the_limit_ends_the_oldest(cache: Arc<dyn DistributedCache>) {
    let engine = engine(&cache, Some(2));
    let alice = principal("alice");
    let mut jars = Vec::new();
    for _ in 0..3 {
        let jar = request(&engine, None, |s| {
            let alice = alice.clone();
            async move { s.login(&alice).await.unwrap() }
        })
        .await;
        jars.push(jar);
        // created times a store records in milliseconds must differ
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let manager = engine.manager();
    assert_eq!(manager.sessions_of(&alice, None).await.unwrap().len(), 2);
    let whoami = |jar: Option<String>| {
        let engine = engine.clone();
        async move {
            let scope = engine.start(jar.iter().map(String::as_bytes), true);
            let who = scope.session().principal().await.unwrap();
            drop(scope.finish().await);
            who
        }
    };
    assert_eq!(whoami(jars[0].clone()).await, None, "the oldest was ended");
    assert!(whoami(jars[1].clone()).await.is_some());
    assert!(whoami(jars[2].clone()).await.is_some());
    assert_eq!(manager.revoke_all(&alice).await.unwrap(), 2);
    assert_eq!(whoami(jars[2].clone()).await, None);
    assert!(manager.sessions_of(&alice, None).await.unwrap().is_empty());
}

/// Through the engine: a request already running on a session when `revoke_all` ends it
/// cannot bring it back, neither by writing it nor by moving it to a new id (a login):
/// it answers 503, and the session and its principal's listing stay empty.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// session_core::testing::a_request_running_on_a_revoked_session_cannot_bring_it_back(store).await; // panics with what the store got wrong
/// # }
/// ```
pub async fn a_request_running_on_a_revoked_session_cannot_bring_it_back(cache: Arc<dyn DistributedCache>) {
    let engine = engine(&cache, None);
    let manager = engine.manager();
    for relogin in [false, true] {
        let alice = principal("alice");
        let jar = request(&engine, None, |s| {
            let alice = alice.clone();
            async move { s.login(&alice).await.unwrap() }
        })
        .await;
        let scope = engine.start(jar.iter().map(String::as_bytes), true);
        let session = scope.session().clone();
        assert_eq!(
            session.principal().await.unwrap().as_deref(),
            Some(alice.as_str())
        );
        assert_eq!(manager.revoke_all(&alice).await.unwrap(), 1);
        session.insert("late", "write").await.unwrap();
        if relogin {
            session.login(&alice).await.unwrap();
        }
        match scope.finish().await {
            Outcome::Failed(response) => assert_eq!(response.status, 503, "relogin {relogin}"),
            other => panic!("relogin {relogin}: a revoked session was committed: {other:?}"),
        }
        assert!(
            manager.sessions_of(&alice, None).await.unwrap().is_empty(),
            "relogin {relogin}"
        );
        let scope = engine.start(jar.iter().map(String::as_bytes), true);
        assert_eq!(
            scope.session().principal().await.unwrap(),
            None,
            "relogin {relogin}"
        );
        assert_eq!(scope.session().get::<String>("late").await.unwrap(), None);
        drop(scope.finish().await);
    }
}

fn engine(cache: &Arc<dyn DistributedCache>, limit: Option<usize>) -> SessionEngine {
    let mut config = SessionEngine::builder()
        .signing_key(SigningKey::from_bytes(&[9u8; 32]).unwrap())
        .idle_timeout(Duration::from_secs(60));
    if let Some(limit) = limit {
        config = config.max_sessions_per_principal(limit);
    }
    config.build_shared(Arc::clone(cache)).unwrap()
}

/// One request with the cookie `jar` (if any) running `handler`; the cookie the browser
/// holds afterwards.
async fn request<F, Fut>(engine: &SessionEngine, jar: Option<String>, handler: F) -> Option<String>
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let scope = engine.start(jar.iter().map(String::as_bytes), true);
    handler(scope.session().clone()).await;
    match scope.finish().await {
        Outcome::SetCookie(header) => {
            let pair = header.split(';').next().unwrap_or_default();
            let value = pair.split_once('=').map_or("", |(_, v)| v);
            (!value.is_empty()).then(|| pair.to_owned())
        }
        Outcome::Unchanged => jar,
        other => panic!("the request failed: {other:?}"),
    }
}

/// `count` sessions of one principal that expire leave an empty index after ONE listing:
/// `records(principal)` counts the index records the store holds for the principal, as
/// stored (its sorted set, its rows), before and after.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn session_core::store::DistributedCache>) {
/// let records = |_principal: String| async { 0 }; // count them in the store itself
/// session_core::testing::expired_sessions_leave_no_record(store, 10_000, records).await;
/// # }
/// ```
pub async fn expired_sessions_leave_no_record<F, Fut>(
    cache: Arc<dyn DistributedCache>,
    count: usize,
    records: F,
) where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let alice = principal("many");
    let life = Duration::from_secs(3);
    let end = SystemTime::now() + life;
    let options = EntryOptions::sliding(Duration::from_secs(60)).with_absolute(end);
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 32;
    for w in 0..workers {
        let (cache, alice) = (Arc::clone(&cache), alice.clone());
        tasks.spawn(async move {
            let mut created = 0;
            for i in (w..count).step_by(workers) {
                let k = key(&format!("m{i}"));
                let owner = Some(Owner {
                    principal: &alice,
                    expires: Some(end),
                });
                created += usize::from(lock(&*cache).create(&k, vec![1], options, owner).await.unwrap());
            }
            created
        });
    }
    let mut created = 0;
    while let Some(n) = tasks.join_next().await {
        created += n.unwrap();
    }
    assert_eq!(created, count);
    let before = records(alice.clone()).await;
    assert!(
        before >= count.min(1),
        "the index records the sessions ({before})"
    );
    let wait = end.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1100)).await;
    assert!(keys_of(&*cache, &alice).await.is_empty(), "all expired");
    assert_eq!(
        records(alice).await,
        0,
        "one listing left no record of {count} expired sessions"
    );
}
