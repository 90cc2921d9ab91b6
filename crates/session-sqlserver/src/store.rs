//! The store's contract: [`DistributedCache`] and [`SessionLock`] on SQL Server, one
//! statement each.

use std::time::Duration;

use async_trait::async_trait;
use session_core::store::{
    lease::{commit_result, LockStatus},
    CommitOp, DistributedCache, EntryOptions, Fence, LocalLocks, LockAttempt, LockToken, SessionLock,
};
use session_core::{Error, Result};

use crate::{
    cache::SqlServerCache,
    run::{bytes, int, NoResult},
    sql::{self, CommitSql},
};

#[async_trait]
impl DistributedCache for SqlServerCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let row = self.inner.run("get", sql::get(&self.inner.table, key)).await?;
        Ok(bytes(row.as_ref(), "Value"))
    }

    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        self.inner
            .run("set", sql::set(&self.inner.table, key, value, &options))
            .await
            .map(drop)
    }

    async fn refresh(&self, key: &str) -> Result<()> {
        self.inner
            .run("refresh", sql::refresh(&self.inner.table, key))
            .await
            .map(drop)
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.inner
            .run("remove", sql::remove(&self.inner.table, key))
            .await
            .map(drop)
    }

    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }

    fn local_locks(&self) -> Option<&LocalLocks> {
        Some(&self.inner.locks)
    }
}

#[async_trait]
impl SessionLock for SqlServerCache {
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt> {
        let statement = sql::lock_and_get(&self.inner.table, key, token.as_bytes(), lease);
        let row = self.inner.run("lock", statement).await?;
        match int(row.as_ref(), "Status") {
            Some(status) => Ok(LockStatus::attempt(
                i64::from(status),
                bytes(row.as_ref(), "Value"),
                // the ASP.NET table has no column for a fence: the lease token decides
                // (see `fences`)
                Fence::ZERO,
            )),
            None => Err(Error::store("lock", NoResult("lock"))),
        }
    }

    async fn commit_and_unlock(&self, key: &str, token: &LockToken, _: Fence, op: CommitOp) -> Result<()> {
        let op = match op {
            CommitOp::Set { value, options } => CommitSql::Set(value, options),
            CommitOp::Refresh => CommitSql::Refresh,
            CommitOp::Remove => CommitSql::Remove,
            CommitOp::Release => CommitSql::Release,
        };
        let statement = sql::commit(&self.inner.table, key, token.as_bytes(), op);
        let row = self.inner.run("commit", statement).await?;
        match int(row.as_ref(), "Ok") {
            Some(answer) => commit_result(i64::from(answer)),
            None => Err(Error::store("commit", NoResult("commit"))),
        }
    }

    async fn create(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<bool> {
        let statement = sql::create(&self.inner.table, key, value, &options);
        let row = self.inner.run("create", statement).await?;
        match int(row.as_ref(), "Created") {
            Some(created) => Ok(created == 1),
            None => Err(Error::store("create", NoResult("create"))),
        }
    }

    fn max_lease(&self) -> Duration {
        sql::MAX_LEASE
    }
}
