//! The store's contract: [`DistributedCache`] and [`SessionLock`] on Redis, one script call
//! each.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use session_core::store::{
    lease::{commit_result, kept_result, LockStatus},
    CommitOp, DistributedCache, EntryOptions, Fence, Keeping, Kept, LocalLocks, LockAttempt, LockToken,
    Owner, PrincipalIndex, Recalls, SessionLock,
};
use session_core::Result;

use crate::{
    cache::RedisCache,
    calls::{expiry_args, unlock_call},
    cut_off::LockCall,
    keys::{now_ticks, ttl_ms, KeyName, RecallChannel},
    scripts,
};

impl RedisCache {
    /// Records a session that a commit writes or refreshes under its owner's principal,
    /// before the commit (see `principals`).
    async fn index_committed(&self, key: &str, owner: Option<Owner<'_>>, op: &CommitOp) -> Result<()> {
        match owner.filter(|_| matches!(op, CommitOp::Set { .. } | CommitOp::Refresh)) {
            // boxed: only sessions with a principal take this path
            Some(owner) => Box::pin(self.index(key, owner)).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl DistributedCache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut call = scripts::GET.call(&[KeyName::data(&self.prefix, key)], 20);
        call.arg(now_ticks());
        self.run("get", &call).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, options: EntryOptions) -> Result<()> {
        if self
            .write("set", &scripts::SET, key, value, &options)
            .await?
            .is_none()
        {
            // already expired: what was stored under the key is stale too
            self.remove(key).await?;
        }
        Ok(())
    }

    async fn refresh(&self, key: &str) -> Result<()> {
        let mut call = scripts::REFRESH.call(&[KeyName::data(&self.prefix, key)], 20);
        call.arg(now_ticks());
        self.run::<i64>("refresh", &call).await.map(drop)
    }

    async fn remove(&self, key: &str) -> Result<()> {
        let mut call = redis::cmd("DEL");
        call.arg(KeyName::data(&self.prefix, key));
        self.exec_write("remove", &call).await.map(drop)
    }

    fn name(&self) -> &'static str {
        "redis"
    }

    fn session_lock(&self) -> Option<&dyn SessionLock> {
        Some(self)
    }

    fn local_locks(&self) -> Option<&LocalLocks> {
        Some(&self.locks)
    }

    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        Some(self)
    }
}

/// Beyond the [`SessionLock`] contract: a `try_lock_and_get` future dropped before its
/// reply (cut off by a timeout, or its request went away) sends the release of its token
/// behind the call, since Redis may still run it (or sends nothing, if the call never
/// went out); the next `Release` of that token is then answered without a round trip.
/// So a caller must not retry a cut-off call with the same token (the engine draws a
/// new token for every request).
#[async_trait]
impl SessionLock for RedisCache {
    async fn try_lock_and_get(&self, key: &str, token: &LockToken, lease: Duration) -> Result<LockAttempt> {
        let data = KeyName::data(&self.prefix, key);
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
        let channel = RecallChannel(&self.prefix);
        let mut call = scripts::LOCK_AND_GET.call(&[data], 64 + channel.len());
        call.arg(token.as_bytes()).arg(lease_ms).arg(channel);
        let mut in_flight = LockCall::new(self, key, token, lease);
        let reply = self.run_on("lock", &call, &mut in_flight.route).await;
        in_flight.returned(&reply);
        let (status, value, fence): (i64, Option<Vec<u8>>, i64) = reply?;
        let fence = Fence::new(u64::try_from(fence).unwrap_or(0));
        Ok(LockStatus::attempt(status, value, fence))
    }

    async fn commit_and_unlock(
        &self,
        key: &str,
        token: &LockToken,
        fence: Fence,
        op: CommitOp,
        owner: Option<Owner<'_>>,
    ) -> Result<()> {
        if matches!(op, CommitOp::Release) && self.released.take(token) {
            // sent behind the cut-off lock call that may take the lease (see `cut_off`)
            return Ok(());
        }
        self.index_committed(key, owner, &op).await?;
        let data = KeyName::data(&self.prefix, key);
        let keys = [data];
        let writes = matches!(op, CommitOp::Set { .. } | CommitOp::Remove);
        let call = match op {
            CommitOp::Set { value, options } => match ttl_ms(&options, SystemTime::now()) {
                Some(ttl) => {
                    let (abs, sld) = expiry_args(&options);
                    let mut call = scripts::COMMIT_SET.call(&keys, value.len() + 128);
                    call.arg(token.as_bytes()).arg(fence.get()).arg(value);
                    call.arg(abs).arg(sld).arg(ttl).arg(fence.next().get());
                    call
                }
                // already expired: remove what is stored
                None => unlock_call(&keys, token, Some(fence)),
            },
            CommitOp::Refresh => {
                let mut call = scripts::COMMIT_REFRESH.call(&keys, 64);
                call.arg(token.as_bytes()).arg(fence.get()).arg(now_ticks());
                call
            }
            CommitOp::Remove => unlock_call(&keys, token, Some(fence)),
            CommitOp::Release => unlock_call(&keys, token, None),
        };
        // only what writes waits for replicas: a refresh or a release changes no data
        let answer = if writes {
            self.run_write("commit", &call).await?
        } else {
            self.run::<i64>("commit", &call).await?
        };
        commit_result(answer)
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
        self.recalls.start(self);
        self.index_committed(key, owner, &op).await?;
        let keys = [KeyName::data(&self.prefix, key)];
        let keep_ms = u64::try_from(keep.lease.as_millis()).unwrap_or(u64::MAX).max(1);
        // (0: a write that leaves the kept lease's end where it is)
        let set_keep_ms = if keep.extend { keep_ms } else { 0 };
        let keep_call = |mode: &str, keep_ms: u64, arg_bytes: usize| {
            let mut call = scripts::COMMIT_KEEP.call(&keys, arg_bytes + 64);
            call.arg(token.as_bytes()).arg(fence.get()).arg(mode).arg(keep_ms);
            call
        };
        // the entry goes (removed, or written already expired), and its lease with it
        let remove = || async {
            let call = unlock_call(&keys, token, Some(fence));
            self.run_write("commit", &call)
                .await
                .and_then(commit_result)
                .map(|()| Kept::Released)
        };
        let answer = match op {
            CommitOp::Set { value, options } => match ttl_ms(&options, SystemTime::now()) {
                Some(ttl) => {
                    let (abs, sld) = expiry_args(&options);
                    let mut call = keep_call("s", set_keep_ms, value.len() + 64);
                    // (-2: the entry's TTL stays where the last slide put it)
                    let ttl = if keep.slide { ttl } else { -2 };
                    call.arg(value).arg(abs).arg(sld).arg(ttl).arg(fence.next().get());
                    self.run_write("commit", &call).await?
                }
                None => return remove().await,
            },
            CommitOp::Refresh => {
                let mut call = keep_call("r", keep_ms, 20);
                call.arg(now_ticks());
                self.run::<i64>("commit", &call).await?
            }
            CommitOp::Release => self.run::<i64>("commit", &keep_call("e", keep_ms, 0)).await?,
            CommitOp::Remove => return remove().await,
        };
        kept_result(answer)
    }

    fn keeps_leases(&self) -> bool {
        true
    }

    fn watch_recalls(&self, recalls: Recalls) {
        self.recalls.watch(self, recalls);
    }

    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        options: EntryOptions,
        owner: Option<Owner<'_>>,
    ) -> Result<bool> {
        if let Some(owner) = owner {
            self.index(key, owner).await?;
        }
        // an entry expired on arrival is never visible: report it created, store nothing
        let created = self
            .write("create", &scripts::CREATE, key, value, &options)
            .await?;
        Ok(created.is_none_or(|n| n == 1))
    }
}
