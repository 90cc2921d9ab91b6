//! The lease taken away under a running request: the request's commit is refused (503)
//! and changes nothing, whichever way the lease went (it expired or its master failed
//! over to a replica that never saw it, Redis was flushed, or the entry was written
//! without the lock). Shared by the standalone and Cluster tests.

use distributed_session::adapter::{Outcome, SessionEngine};
use distributed_session::redis::redis::{self, ConnectionLike};

use crate::cookie_of;

/// How the lease is taken from the request that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeAway {
    /// Only the lease goes (the entry's `lease` fields): as when the master holding it
    /// failed over to a replica it had not reached yet.
    LeaseDeleted,
    /// `FLUSHALL`: the lease and the session.
    Flushed,
    /// The entry is written without the lock (its fence moves on), as by "log out
    /// everywhere" or another application.
    WrittenOutside,
}

/// Runs each [`TakeAway`] against `engine` (a Redis store under `prefix`), doing the
/// damage through `conn`.
pub async fn a_lease_taken_away_fails_the_commit(
    engine: &SessionEngine,
    conn: &mut (dyn ConnectionLike + Send),
    prefix: &str,
) {
    for how in [
        TakeAway::LeaseDeleted,
        TakeAway::WrittenOutside,
        TakeAway::Flushed,
    ] {
        let scope = engine.start([], false);
        scope.session().set_i32("n", 1).await.unwrap();
        let id = scope.session().id().unwrap().expose().to_owned();
        let cookie = cookie_of(&scope.finish().await);

        let scope = engine.start([cookie.as_bytes()], false);
        assert_eq!(scope.session().get_i32("n").await.unwrap(), Some(1), "{how:?}");
        let entry = format!("{prefix}{{{id}}}");
        let mut damage = match how {
            TakeAway::LeaseDeleted => redis::cmd("HDEL"),
            TakeAway::WrittenOutside => redis::cmd("HINCRBY"),
            TakeAway::Flushed => redis::cmd("FLUSHALL"),
        };
        match how {
            TakeAway::LeaseDeleted => damage.arg(&entry).arg("lease").arg("leaseexp"),
            TakeAway::WrittenOutside => damage.arg(&entry).arg("fence").arg(1),
            TakeAway::Flushed => &mut damage,
        };
        let _: redis::Value = damage.query(conn).unwrap();
        scope.session().set_i32("n", 2).await.unwrap();
        match scope.finish().await {
            Outcome::Failed(response) => assert_eq!(response.status, 503, "{how:?}"),
            other => panic!("{how:?}: the commit went through: {other:?}"),
        }

        let scope = engine.start([cookie.as_bytes()], false);
        let expected = if how == TakeAway::Flushed { None } else { Some(1) };
        assert_eq!(
            scope.session().get_i32("n").await.unwrap(),
            expected,
            "{how:?}: changed nothing"
        );
        let _ = scope.finish().await;
    }
}
