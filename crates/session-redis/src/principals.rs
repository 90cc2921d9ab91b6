//! The principal index on Redis: per principal, a sorted set of its session keys scored
//! by expiry (ms) and a hash of when each was first recorded and last used, both under
//! one hash tag (the principal's digest), so that they live on one Cluster node and one
//! script keeps them in step. No keyspace notifications: every write prunes up to a
//! thousand expired records, every listing prunes them all, and both keys expire with
//! the principal's last session.
//!
//! A session with a principal costs one more round trip per commit (the index script,
//! before the entry's own script: the index never misses a live session). Listing N
//! sessions costs 1 round trip plus N existence checks, and revoking them 2 more plus N
//! tombstone scripts, the N calls sent together (256 at a time) on the multiplexed
//! connection.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures_util::future::try_join_all;
use session_core::store::{principal_digest, IndexedSession, Owner, PrincipalIndex};
use session_core::Result;

use crate::{
    cache::RedisCache,
    keys::{KeyName, RecallChannel},
    scripts,
};

/// Revocations in flight at once.
const REVOKE_BATCH: usize = 256;

fn ms_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn at_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl RedisCache {
    /// Records `key` under `owner`'s principal, ahead of the entry's write.
    pub(crate) async fn index(&self, key: &str, owner: Owner<'_>) -> Result<()> {
        let digest = principal_digest(owner.principal);
        let mut call = scripts::INDEX.call(&KeyName::principal(&self.prefix, &digest), 96);
        call.arg(ms_since_epoch(SystemTime::now())).arg(key);
        match owner.expires {
            Some(at) => call.arg(ms_since_epoch(at)),
            None => call.arg("+inf"),
        };
        self.run_write("index", &call).await.map(drop)
    }
}

#[async_trait]
impl PrincipalIndex for RedisCache {
    async fn sessions_of(&self, principal: &str) -> Result<Vec<IndexedSession>> {
        let digest = principal_digest(principal);
        let mut call = scripts::LIST.call(&KeyName::principal(&self.prefix, &digest), 24);
        call.arg(ms_since_epoch(SystemTime::now()));
        let flat: Vec<String> = self.run("sessions_of", &call).await?;
        let mut listed = Vec::with_capacity(flat.len() / 3);
        for record in flat.chunks_exact(3) {
            let [key, expires, seen] = record else {
                continue;
            };
            let mut times = seen.split(':').map(|t| t.parse::<u64>().ok());
            let (created, last_seen) = match (times.next().flatten(), times.next().flatten()) {
                (Some(created), Some(seen)) => (at_ms(created), at_ms(seen)),
                // a record without its times (written by hand?): still a live session
                _ => (UNIX_EPOCH, UNIX_EPOCH),
            };
            listed.push(IndexedSession {
                key: key.clone(),
                created,
                last_seen,
                expires: expires.parse::<f64>().ok().filter(|ms| ms.is_finite()).map(|ms| {
                    // a score is a whole number of ms written by `index`
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    at_ms(ms.max(0.0) as u64)
                }),
            });
        }
        // A record can outlive its entry when a commit that recorded it then failed (a
        // revoked session's holder): each listed entry is checked, and those gone are
        // dropped from the index.
        let mut live = Vec::with_capacity(listed.len());
        let mut gone = Vec::new();
        for batch in listed.chunks(REVOKE_BATCH) {
            let checks = batch.iter().map(|s| async move {
                let mut cmd = redis::cmd("HEXISTS");
                cmd.arg(KeyName::data(&self.prefix, &s.key)).arg("data");
                self.exec("sessions_of", &cmd).await
            });
            for (session, found) in batch.iter().zip(try_join_all(checks).await?) {
                match found {
                    redis::Value::Int(1) => live.push(session.clone()),
                    _ => gone.push(session.key.clone()),
                }
            }
        }
        if !gone.is_empty() {
            self.unindex_all(principal, &gone).await?;
        }
        Ok(live)
    }

    async fn revoke(&self, principal: &str, keys: &[String]) -> Result<usize> {
        // only the principal's own sessions: those its index lists
        let digest = principal_digest(principal);
        let [index, _] = KeyName::principal(&self.prefix, &digest);
        let mut cmd = redis::cmd("ZMSCORE");
        cmd.arg(index);
        for key in keys {
            cmd.arg(key);
        }
        let scores = match self.exec("revoke", &cmd).await? {
            redis::Value::Array(scores) => scores,
            _ => Vec::new(),
        };
        let keys: Vec<String> = keys
            .iter()
            .zip(scores)
            .filter(|(_, score)| !matches!(score, redis::Value::Nil))
            .map(|(key, _)| key.clone())
            .collect();
        let mut ended = 0;
        for batch in keys.chunks(REVOKE_BATCH) {
            let calls = batch.iter().map(|key| async move {
                let channel = RecallChannel(&self.prefix);
                let mut call = scripts::REVOKE.call(&[KeyName::data(&self.prefix, key)], channel.len());
                call.arg(channel);
                self.run_write("revoke", &call).await
            });
            let answers = try_join_all(calls).await?;
            ended += answers.into_iter().filter(|&n| n == 1).count();
        }
        self.unindex_all(principal, &keys).await?;
        Ok(ended)
    }

    async fn unindex(&self, principal: &str, key: &str) -> Result<()> {
        self.unindex_all(principal, &[key.to_owned()]).await
    }
}

impl RedisCache {
    /// Drops `keys` from `principal`'s index, a thousand per call.
    async fn unindex_all(&self, principal: &str, keys: &[String]) -> Result<()> {
        let digest = principal_digest(principal);
        for batch in keys.chunks(1000) {
            let bytes = batch.iter().map(String::len).sum::<usize>() + 16 * batch.len();
            let mut call = scripts::UNINDEX.call(&KeyName::principal(&self.prefix, &digest), bytes);
            for key in batch {
                call.arg(key);
            }
            let _: i64 = self.run("unindex", &call).await?;
        }
        Ok(())
    }
}
