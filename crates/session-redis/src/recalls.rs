//! Recall messages (hot sessions): the store subscribes to its recall channel and lets go
//! of the kept leases that other instances wait for or that a revocation ended.
//!
//! A busy lock call publishes the entry's name on the channel (from inside the lock
//! script, so it costs no round trip), and so does a revocation. Every instance hears it;
//! the one that keeps that session hot with no request on it takes it out of its hot
//! table and releases the lease at once, instead of holding it until it lapses. The
//! subscription has a connection of its own, to the server the store uses (standalone),
//! to the master the sentinels name (asked again on every reconnect), or to one of a
//! Cluster's seeds (classic pub/sub reaches every node of a cluster). While it is down,
//! messages are missed: nothing breaks, a waiter gets the session at the holder's next
//! commit or when the kept lease lapses, and once a subscription is lost every hot
//! session is read from Redis again at its next request (and again once the
//! subscription is back), in case a message went by unheard.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use redis::{sentinel::SentinelClient, Client, RedisError};
use session_core::__private::error_chain;
use session_core::store::{CommitOp, Fence, LocalLocks, RecallWatchers, Recalls, SessionLock};

use crate::{cache::RedisCache, keys::RecallChannel};

/// How often the subscription's connection is checked with a `PING` while it hears
/// nothing (a connection cut without a reset would otherwise go unnoticed).
const PING_EVERY: Duration = Duration::from_secs(5);
/// The longest a release of a recalled lease may take.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Where the subscription connects.
#[derive(Clone)]
pub(crate) enum Source {
    /// The one server.
    Node(Box<Client>),
    /// The master the sentinels name.
    Sentinel(Arc<tokio::sync::Mutex<SentinelClient>>),
    /// A Cluster's seeds, tried in turn.
    Cluster(Vec<Client>),
}

/// The recall side of a store: where to subscribe, and the engines' hot sessions to
/// reach. Shared by the store's clones.
pub(crate) struct Listener {
    source: Option<Source>,
    connect_timeout: Duration,
    watchers: RecallWatchers,
}

impl Listener {
    /// A listener subscribing through `source`; `None` (a store built over a pool made
    /// by hand) hears no recalls.
    pub(crate) fn new(source: Option<Source>, connect_timeout: Duration) -> Self {
        Listener {
            source,
            connect_timeout,
            watchers: RecallWatchers::default(),
        }
    }

    /// Adds the hot sessions of an engine over `cache`, and starts listening if it can.
    pub(crate) fn watch(&self, cache: &RedisCache, recalls: Recalls) {
        self.watchers.add(recalls);
        self.start(cache);
    }

    /// Starts the listening task, unless it runs, no engine watches, or there is no
    /// runtime to run it on (then the next keeping commit starts it).
    pub(crate) fn start(&self, cache: &RedisCache) {
        let Some(source) = &self.source else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.watchers.start_listening() {
            return;
        }
        // (not the store's in-process tables: the task must not keep the engines' hot
        // sessions alive, or it would never see them gone)
        let cache = RedisCache {
            locks: LocalLocks::default(),
            ..cache.clone()
        };
        runtime.spawn(listen(cache, source.clone(), self.connect_timeout));
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("subscribes", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

/// The listening task: subscribes, hears, subscribes again after a failure; ends once
/// no engine watches.
async fn listen(cache: RedisCache, source: Source, connect_timeout: Duration) {
    let channel = RecallChannel(&cache.prefix).to_string();
    let listener = Arc::clone(&cache.recalls);
    let mut attempt: u32 = 0;
    let (mut failing, mut again) = (false, false);
    while listener.watchers.keep_listening() {
        match subscribe(&source, &channel, attempt, connect_timeout).await {
            Ok(pubsub) => {
                if failing {
                    tracing::info!("subscribed to the Redis recall channel again");
                }
                if again {
                    // messages may have gone by while there was no subscription
                    listener.watchers.recheck_all();
                }
                (attempt, failing, again) = (0, false, true);
                if !hear(&cache, &listener, &channel, pubsub).await {
                    return;
                }
                listener.watchers.recheck_all();
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(error = %error_chain(&error), "cannot subscribe to the Redis recall channel; another instance waits for a hot session of this one until its kept lease lapses");
                }
                failing = true;
            }
        }
        tokio::time::sleep(RecallWatchers::retry_wait(attempt)).await;
        attempt = attempt.saturating_add(1);
    }
}

/// A subscription to `channel`, through the `attempt`-th seed of a cluster.
async fn subscribe(
    source: &Source,
    channel: &str,
    attempt: u32,
    timeout: Duration,
) -> Result<redis::aio::PubSub, RedisError> {
    let connect = async {
        let client = match source {
            Source::Node(client) => (**client).clone(),
            Source::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await?,
            Source::Cluster(seeds) => {
                let index = usize::try_from(attempt).unwrap_or(0) % seeds.len().max(1);
                match seeds.get(index) {
                    Some(client) => client.clone(),
                    None => {
                        return Err(RedisError::from((
                            redis::ErrorKind::InvalidClientConfig,
                            "no Cluster seed",
                        )))
                    }
                }
            }
        };
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok(pubsub)
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from((
            redis::ErrorKind::Io,
            "subscribing to the recall channel timed out",
        ))),
    }
}

/// Hears recalls until the subscription fails (`true`) or no engine watches (`false`).
async fn hear(cache: &RedisCache, listener: &Listener, channel: &str, pubsub: redis::aio::PubSub) -> bool {
    let (mut sink, mut messages) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let prefix = RecallChannel(&cache.prefix);
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    tracing::debug!("the Redis recall channel's connection closed");
                    return true;
                };
                if message.get_channel_name() != channel {
                    continue;
                }
                let name: String = message.get_payload().unwrap_or_default();
                let Some(key) = prefix.key_of(&name) else {
                    continue;
                };
                for token in listener.watchers.recall(key) {
                    tokio::spawn(release(cache.clone(), key.to_owned(), token));
                }
            }
            _ = ping.tick() => {
                if !listener.watchers.keep_listening() {
                    return false;
                }
                let answered = tokio::time::timeout(RELEASE_WAIT, sink.ping::<String>()).await;
                if !matches!(answered, Ok(Ok(_))) {
                    tracing::debug!("the Redis recall channel's connection does not answer");
                    return true;
                }
            }
        }
    }
}

/// Releases a recalled lease (if the token still holds it).
async fn release(cache: RedisCache, key: String, token: session_core::store::LockToken) {
    let released = cache.commit_and_unlock(&key, &token, Fence::ZERO, CommitOp::Release, None);
    match tokio::time::timeout(RELEASE_WAIT, released).await {
        Ok(Ok(())) => tracing::debug!("recalled hot session released"),
        // taken over, revoked or expired meanwhile: nothing to release
        Ok(Err(session_core::Error::LeaseLost)) => {}
        Ok(Err(error)) => {
            tracing::debug!(error = %error_chain(&error), "releasing a recalled hot session failed; it lapses with its kept lease")
        }
        Err(_) => {
            tracing::debug!("releasing a recalled hot session timed out; it lapses with its kept lease")
        }
    }
}
