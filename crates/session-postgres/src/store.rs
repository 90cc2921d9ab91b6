//! The store's contract: [`DistributedCache`] and [`SessionLock`] on PostgreSQL, one
//! statement each.

use std::time::Duration;

use async_trait::async_trait;
use session_core::store::{
    lease::{commit_result, LockStatus},
    CommitOp, DistributedCache, EntryOptions, Fence, LocalLocks, LockAttempt, LockToken, SessionLock,
};
use session_core::{Error, Result};

use crate::{
    cache::PostgresCache,
    run::{bytes, int4, int8, NoResult},
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

    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }

    fn local_locks(&self) -> Option<&LocalLocks> {
        Some(&self.inner.locks)
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
    ) -> Result<()> {
        let i = &self.inner;
        let statement = sql::commit(&i.names, key, token.as_bytes(), fence.get(), op, i.slack_ms);
        // a write answers a row only when it was applied; the others always answer one
        let row = i.run("commit", &statement).await?;
        commit_result(int4(row.as_ref(), "ok").map_or(0, i64::from))
    }

    async fn create(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<bool> {
        let i = &self.inner;
        let row = i
            .run("create", &sql::create(&i.names, key, value, &options))
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
}
