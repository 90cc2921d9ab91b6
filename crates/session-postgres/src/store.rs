//! The store's contract: [`DistributedCache`] and [`SessionLock`] on PostgreSQL, one
//! statement each.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use session_core::store::{
    lease::{commit_result, kept_result, LockStatus},
    CommitOp, DistributedCache, EntryOptions, ExpiryWatcher, Fence, IndexedSession, Keeping, Kept,
    LocalLocks, LockAttempt, LockToken, Owner, PrincipalIndex, Recalls, SessionLock,
};
use session_core::{Error, Result};

use crate::{
    cache::PostgresCache,
    run::{bytes, int4, int8, text, NoResult},
    sql,
};

#[async_trait]
impl DistributedCache for PostgresCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let i = &self.inner;
        let row = i.run("get", &sql::get(&i.names, key, i.slack_ms)).await?;
        Ok(bytes(row.as_ref(), "value"))
    }

    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        let i = &self.inner;
        i.run("set", &sql::set(&i.names, key, value, &options))
            .await
            .map(drop)
    }

    async fn refresh(&self, key: &str) -> Result<()> {
        let i = &self.inner;
        i.run("refresh", &sql::refresh(&i.names, key, i.slack_ms))
            .await
            .map(drop)
    }

    async fn remove(&self, key: &str) -> Result<()> {
        let i = &self.inner;
        i.run("remove", &sql::remove(&i.names, key)).await.map(drop)
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }

    fn local_locks(&self) -> Option<&LocalLocks> {
        Some(&self.inner.locks)
    }

    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        Some(self)
    }

    fn watch_expiry(&self, watcher: ExpiryWatcher) {
        self.inner.expiry.add(watcher);
    }
}

#[async_trait]
impl SessionLock for PostgresCache {
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt> {
        let i = &self.inner;
        let row = i
            .run("lock", &sql::lock_and_get(&i.names, key, token.as_bytes(), lease))
            .await?;
        // no row: no live entry; else the lease was taken (1) or is another's (0)
        let Some(row) = row else {
            return Ok(LockAttempt::Missing);
        };
        let status = match int4(Some(&row), "taken") {
            Some(1) => LockStatus::Acquired,
            Some(_) => LockStatus::Busy,
            None => return Err(Error::store("lock", NoResult("lock"))),
        };
        let fence = int8(Some(&row), "fence").and_then(|f| u64::try_from(f).ok());
        Ok(LockStatus::attempt(
            status as i64,
            bytes(Some(&row), "value"),
            Fence::new(fence.unwrap_or(0)),
        ))
    }

    async fn commit_and_unlock(
        &self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
    ) -> Result<()> {
        let i = &self.inner;
        let principal = owner.map(|o| o.principal);
        let statement = sql::commit(
            &i.names,
            key,
            token.as_bytes(),
            fence.get(),
            op,
            principal,
            i.slack_ms,
        );
        // a write answers a row only when it was applied; the others always answer one
        let row = i.run("commit", &statement).await?;
        commit_result(int4(row.as_ref(), "ok").map_or(0, i64::from))
    }

    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        options: EntryOptions,
        owner: Option<Owner<'_>>,
    ) -> Result<bool> {
        let i = &self.inner;
        let principal = owner.map(|o| o.principal);
        let row = i
            .run("create", &sql::create(&i.names, key, value, &options, principal))
            .await?;
        match int4(row.as_ref(), "created") {
            Some(created) => Ok(created == 1),
            None => Err(Error::store("create", NoResult("create"))),
        }
    }

    fn max_lease(&self) -> Duration {
        sql::MAX_LEASE
    }

    fn fences(&self) -> bool {
        true
    }

    async fn commit_and_keep(
        &self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
        keep: Keeping,
    ) -> Result<Kept> {
        if matches!(op, CommitOp::Remove) {
            // the entry goes, and its lease with it
            return self
                .commit_and_unlock(key, token, fence, op, owner)
                .await
                .map(|()| Kept::Released);
        }
        let i = &self.inner;
        i.listen_for_recalls();
        let keep_ms = i64::try_from(keep.lease.min(sql::MAX_LEASE).as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let principal = owner.map(|o| o.principal);
        // (a write between two slides keeps the stored expiry anyway: the slack rule)
        let statement = sql::commit_keep(
            &i.names,
            key,
            token.as_bytes(),
            fence.get(),
            op,
            principal,
            i.slack_ms,
            keep_ms,
        );
        let row = i.run("commit", &statement).await?;
        kept_result(int4(row.as_ref(), "ok").map_or(0, i64::from))
    }

    fn keeps_leases(&self) -> bool {
        true
    }

    fn watch_recalls(&self, recalls: Recalls) {
        self.inner.recalls.add(recalls);
        self.inner.listen_for_recalls();
    }
}

/// The principal index is the entry table's `principal` column (indexed with the expiry):
/// a commit writes it in the same statement as the value, so a session with a principal
/// costs no extra statement; listing is one statement, revoking any number is one more.
#[async_trait]
impl PrincipalIndex for PostgresCache {
    async fn sessions_of(&self, principal: &str) -> Result<Vec<IndexedSession>> {
        let i = &self.inner;
        let rows = i
            .run_all("sessions_of", &sql::sessions_of(&i.names, principal))
            .await?;
        let at = |ms: Option<i64>| {
            let ms = u64::try_from(ms.unwrap_or(0)).unwrap_or(0);
            SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
        };
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(IndexedSession {
                    key: text(Some(row), "id")?,
                    created: at(int8(Some(row), "created_ms")),
                    last_seen: at(int8(Some(row), "seen_ms")),
                    expires: Some(at(int8(Some(row), "expires_ms"))),
                })
            })
            .collect())
    }

    async fn revoke(&self, principal: &str, keys: &[String]) -> Result<usize> {
        let i = &self.inner;
        let row = i.run("revoke", &sql::revoke(&i.names, principal, keys)).await?;
        Ok(int8(row.as_ref(), "ended").map_or(0, |n| usize::try_from(n).unwrap_or(0)))
    }

    async fn unindex(&self, _principal: &str, _key: &str) -> Result<()> {
        // the index is the row's column: a removal clears it, a commit rewrites it
        Ok(())
    }
}
