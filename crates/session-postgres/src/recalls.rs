//! Recall notifications (hot sessions): the store listens on its recall channel and
//! lets go of the kept leases that other instances wait for or that a revocation ended.
//!
//! A busy lock statement notifies the channel with the session's id (`pg_notify`, in the
//! same statement, so it costs no round trip), and so does a revocation. Every instance
//! hears it on a connection of its own (`LISTEN`); the one that keeps that session hot
//! with no request on it takes it out of its hot table and releases the lease at once,
//! instead of holding it until it lapses. While the connection is down, notifications are
//! missed: nothing breaks, a waiter gets the session at the holder's next commit or when
//! the kept lease lapses, and every hot session is read from the database again at its
//! next request once the connection was lost. Behind a pooler in transaction mode
//! (PgBouncer) the store does not listen (`listen_for_recalls(false)`, implied by
//! `prepared_statements(false)`): `LISTEN` hears nothing there, and the server
//! connection that ran it would go on serving other clients with the subscription
//! attached, whose notifications then reach them (measured: it broke their results).

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use session_core::__private::error_chain;
use session_core::store::{CommitOp, LockToken, RecallWatchers};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::{
    cache::{Connections, Inner},
    sql,
};

/// The longest a release of a recalled lease may take.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Stops the listening task when the store's last clone goes.
#[derive(Debug, Default)]
pub(crate) struct ListenTask(std::sync::Mutex<Option<tokio::task::AbortHandle>>);

impl Drop for ListenTask {
    fn drop(&mut self) {
        let task = self
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(task) = task.take() {
            task.abort();
        }
    }
}

impl Inner {
    /// Starts listening for recalls, unless a listener runs, no engine keeps sessions hot,
    /// or there is no runtime to run it on (then the next keeping commit starts it).
    pub(crate) fn listen_for_recalls(self: &Arc<Self>) {
        if !self.listens {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.recalls.start_listening() {
            return;
        }
        let options = match &self.connections {
            Connections::Shared(pool) => (*pool.connect_options()).clone(),
            Connections::Own(pool) => pool.manager().options().clone(),
        };
        let task = runtime.spawn(listen(
            Arc::downgrade(self),
            options,
            self.names.channel().to_owned(),
        ));
        let mut slot = self
            .listening
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(task.abort_handle());
    }
}

/// The listening task: listens, hears, listens again after a failure; ends once no
/// engine keeps sessions hot, or the store is gone.
async fn listen(inner: Weak<Inner>, options: PgConnectOptions, channel: String) {
    let (mut attempt, mut failing, mut again) = (0u32, false, false);
    loop {
        match subscribe(&options, &channel).await {
            Ok(mut listener) => {
                if failing {
                    tracing::info!("listening on the PostgreSQL recall channel again");
                }
                if again {
                    recheck_all(&inner);
                }
                (attempt, failing, again) = (0, false, true);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            let Some(store) = inner.upgrade() else { return };
                            if !store.recalls.keep_listening() {
                                return;
                            }
                            let key = notification.payload();
                            for token in store.recalls.recall(key) {
                                tokio::spawn(release(Arc::clone(&store), key.to_owned(), token));
                            }
                        }
                        // the connection was lost (the next call connects again)
                        Ok(None) => recheck_all(&inner),
                        Err(error) => {
                            tracing::debug!(error = %error_chain(&error), "the PostgreSQL recall channel failed");
                            recheck_all(&inner);
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(error = %error_chain(&error), "cannot listen on the PostgreSQL recall channel; another instance waits for a hot session of this one until its kept lease lapses");
                }
                failing = true;
            }
        }
        tokio::time::sleep(RecallWatchers::retry_wait(attempt)).await;
        attempt = attempt.saturating_add(1);
        match inner.upgrade() {
            Some(store) if store.recalls.keep_listening() => {}
            _ => return,
        }
    }
}

fn recheck_all(inner: &Weak<Inner>) {
    if let Some(store) = inner.upgrade() {
        store.recalls.recheck_all();
    }
}

/// A listener on `channel`, on a connection of its own.
async fn subscribe(options: &PgConnectOptions, channel: &str) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

/// Releases a recalled lease (if the token still holds it).
async fn release(store: Arc<Inner>, key: String, token: LockToken) {
    let statement = sql::commit(
        &store.names,
        &key,
        token.as_bytes(),
        0,
        CommitOp::Release,
        None,
        store.slack_ms,
    );
    match tokio::time::timeout(RELEASE_WAIT, store.run("release", &statement)).await {
        Ok(Ok(_)) => tracing::debug!("recalled hot session released"),
        Ok(Err(error)) => {
            tracing::debug!(error = %error_chain(&error), "releasing a recalled hot session failed; it lapses with its kept lease")
        }
        Err(_) => {
            tracing::debug!("releasing a recalled hot session timed out; it lapses with its kept lease")
        }
    }
}
