//! The store's contract: [`DistributedCache`] and [`SessionLock`] on SQL Server, one
//! statement each.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use session_core::store::{
    lease::{commit_result, LockStatus},
    CommitOp, DistributedCache, EntryOptions, Fence, IndexedSession, LocalLocks, LockAttempt, LockToken,
    Owner, PrincipalIndex, SessionLock,
};
use session_core::{Error, Result};

use crate::{
    cache::SqlServerCache,
    run::{bytes, int, text, NoResult},
    sql::{self, CommitSql, IndexRow},
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

    fn name(&self) -> &'static str {
        "sqlserver"
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

    fn watch_expiry(&self, watcher: session_core::store::ExpiryWatcher) {
        self.inner.expiry.add(watcher);
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

    async fn commit_and_unlock(
        &self,
        key: &str,
        token: &LockToken,
        _: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
    ) -> Result<()> {
        let index = owner
            .filter(|_| matches!(op, CommitOp::Set { .. } | CommitOp::Refresh))
            .map(index_row);
        let op = match op {
            CommitOp::Set { value, options } => CommitSql::Set(value, options),
            CommitOp::Refresh => CommitSql::Refresh,
            CommitOp::Remove => CommitSql::Remove,
            CommitOp::Release => CommitSql::Release,
        };
        let statement = sql::commit(&self.inner.table, key, token.as_bytes(), op, index);
        let row = self.inner.run("commit", statement).await?;
        match int(row.as_ref(), "Ok") {
            Some(answer) => commit_result(i64::from(answer)),
            None => Err(Error::store("commit", NoResult("commit"))),
        }
    }

    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        options: EntryOptions,
        owner: Option<Owner<'_>>,
    ) -> Result<bool> {
        let statement = sql::create(&self.inner.table, key, value, &options, owner.map(index_row));
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

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The index row a commit or create of `owner`'s session writes.
fn index_row(owner: Owner<'_>) -> IndexRow {
    // a session that never expires on its own: its index row lives as long as the table
    let expires = owner
        .expires
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(253_402_300_799));
    IndexRow {
        prefix: sql::index_prefix(owner.principal),
        seen_ms: epoch_ms(SystemTime::now()),
        expires_ms: owner.expires.map_or(u64::MAX, epoch_ms),
        expires,
    }
}

/// The principal index is rows of the session table itself (see `sql::index_prefix`),
/// written in the same transaction as the session's commit: a session with a principal
/// costs no extra round trip. Listing is one batch; revoking is one batch per 500.
#[async_trait]
impl PrincipalIndex for SqlServerCache {
    async fn sessions_of(&self, principal: &str) -> Result<Vec<IndexedSession>> {
        let prefix = sql::index_prefix(principal);
        let rows = self
            .inner
            .run_all("sessions_of", sql::sessions_of(&self.inner.table, &prefix))
            .await?;
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        Ok(rows
            .iter()
            .filter_map(|row| {
                let key = text(Some(row), "SessionId")?;
                let meta = bytes(Some(row), "Value").unwrap_or_default();
                let field = |i: usize| {
                    meta.get(i * 8..i * 8 + 8)
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map_or(0, u64::from_be_bytes)
                };
                let expires = field(1);
                let created = row
                    .try_get::<i64, _>("Created")
                    .ok()
                    .flatten()
                    .and_then(|ms| u64::try_from(ms).ok());
                Some(IndexedSession {
                    key,
                    created: at(created.unwrap_or_else(|| field(0))),
                    last_seen: at(field(0)),
                    expires: (expires != u64::MAX).then(|| at(expires)),
                })
            })
            .collect())
    }

    async fn revoke(&self, principal: &str, keys: &[String]) -> Result<usize> {
        let prefix = sql::index_prefix(principal);
        let mut ended = 0;
        for batch in keys.chunks(REVOKE_BATCH) {
            let row = self
                .inner
                .run("revoke", sql::revoke(&self.inner.table, &prefix, batch))
                .await?;
            ended += int(row.as_ref(), "Ended").map_or(0, |n| usize::try_from(n).unwrap_or(0));
        }
        Ok(ended)
    }

    async fn unindex(&self, principal: &str, key: &str) -> Result<()> {
        let index_key = format!("{}{key}", sql::index_prefix(principal));
        self.inner
            .run("unindex", sql::unindex(&self.inner.table, &index_key))
            .await
            .map(drop)
    }
}

/// Sessions revoked per batch (SQL Server takes at most 2,100 parameters).
const REVOKE_BATCH: usize = 500;
