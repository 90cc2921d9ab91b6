//! Lifecycle events: what happened to sessions, for the application's handlers (audit a
//! login, clean up per-session data when a session ends).
//!
//! Handlers never run on a request's path: the engine queues each event (a bounded queue
//! of [`QUEUE`] places, a store's batch of expired sessions taking one; when it is full
//! the event is dropped and a warning logged) and one
//! thread per engine (`session-events`, started with the first event) runs the handlers in
//! order, after the commit that caused the event and off the session's lock, and off the
//! async runtime: a handler that blocks holds up no request. A handler that panics is caught
//! and logged; one that takes more than [`SLOW`] is logged too (it delays only the events
//! after it).

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use crate::id::SessionId;

/// Events a handler receives. Ids print redacted (`Display` and `Debug` show four
/// characters); [`SessionId::expose`] gives the full id, to find data kept per session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A new session was stored (a login's new id included).
    Created {
        /// Its id.
        id: SessionId,
    },
    /// A session moved to a new id (`cycle_id`, `login`); the old id no longer works.
    IdCycled {
        /// The id it had.
        old: SessionId,
        /// The id it has now.
        new: SessionId,
    },
    /// A session was ended by `flush()`.
    Flushed {
        /// Its id.
        id: SessionId,
    },
    /// Sessions of a principal were ended by revocation (`revoke_all`, `revoke_others`,
    /// `revoke`, or the per-principal limit at a login).
    Revoked {
        /// Whose sessions.
        principal: String,
        /// The ids ended.
        ids: Vec<SessionId>,
    },
    /// A request came back with a valid cookie whose session is gone (it expired, or was
    /// removed or revoked) or past its absolute lifetime; or the store's own expiry
    /// removed the session (a store that watches its expiry: see
    /// [`DistributedCache::watch_expiry`](crate::store::DistributedCache::watch_expiry)).
    /// One session may be reported both ways: removed, then its cookie comes back.
    Expired {
        /// The id the cookie named.
        id: SessionId,
    },
    /// A request gave up waiting for its session's lock (it answered 503).
    LockTimeout {
        /// The session's id.
        id: SessionId,
    },
    /// A session could not be committed (the request answered with `status`, a 503 for a
    /// store outage or a lost lease).
    CommitFailed {
        /// The session's id.
        id: SessionId,
        /// The response's status.
        status: u16,
    },
}

/// A registered handler.
pub(crate) type Handler = Arc<dyn Fn(&SessionEvent) + Send + Sync>;

/// Most events waiting for the handlers.
pub(crate) const QUEUE: usize = 1024;

/// A handler slower than this is logged.
pub(crate) const SLOW: Duration = Duration::from_millis(100);

/// An engine's handlers and the queue to the task that runs them.
#[derive(Default)]
pub(crate) struct Events {
    handlers: Vec<Handler>,
    queue: OnceLock<Option<mpsc::Sender<Queued>>>,
}

/// What the queue carries: one event, or a batch (a store's expiry deletion, which may end
/// thousands of sessions at once, takes one place in the queue).
enum Queued {
    One(SessionEvent),
    Batch(Vec<SessionEvent>),
}

impl Events {
    pub(crate) fn new(handlers: Vec<Handler>) -> Self {
        Events {
            handlers,
            queue: OnceLock::new(),
        }
    }

    /// Whether any handler is registered (events are not even built otherwise).
    pub(crate) fn wanted(&self) -> bool {
        !self.handlers.is_empty()
    }

    /// Queues `event` for the handlers, without waiting.
    pub(crate) fn emit(&self, event: impl FnOnce() -> SessionEvent) {
        if self.wanted() {
            self.queue(Queued::One(event()));
        }
    }

    /// Queues `events` for the handlers in one place of the queue, without waiting.
    pub(crate) fn emit_batch(&self, events: Vec<SessionEvent>) {
        if self.wanted() && !events.is_empty() {
            self.queue(Queued::Batch(events));
        }
    }

    fn queue(&self, queued: Queued) {
        let queue = self.queue.get_or_init(|| self.start());
        let Some(queue) = queue else {
            return;
        };
        if queue.try_send(queued).is_err() {
            tracing::warn!("session events were dropped: the event handlers are behind ({QUEUE} queued)");
        }
    }

    /// Starts the thread that runs the handlers (`None` if the system refuses a thread:
    /// no events are delivered then, and that is logged).
    fn start(&self) -> Option<mpsc::Sender<Queued>> {
        let (tx, mut rx) = mpsc::channel::<Queued>(QUEUE);
        let handlers = self.handlers.clone();
        let started = std::thread::Builder::new()
            .name("session-events".into())
            .spawn(move || {
                // ends when the engine (the queue's sender) is dropped
                while let Some(queued) = rx.blocking_recv() {
                    let events = match &queued {
                        Queued::One(event) => std::slice::from_ref(event),
                        Queued::Batch(events) => events.as_slice(),
                    };
                    for event in events {
                        for handler in &handlers {
                            run(handler, event);
                        }
                    }
                }
            });
        match started {
            Ok(_) => Some(tx),
            Err(error) => {
                tracing::error!(%error, "the session event thread could not start; no events will be delivered");
                None
            }
        }
    }
}

/// Runs one handler on one event, containing a panic and reporting a slow handler.
fn run(handler: &Handler, event: &SessionEvent) {
    let started = Instant::now();
    if catch_unwind(AssertUnwindSafe(|| handler(event))).is_err() {
        tracing::error!(
            ?event,
            "a session event handler panicked; the panic was contained"
        );
    }
    let took = started.elapsed();
    if took > SLOW {
        tracing::warn!(
            ?event,
            ?took,
            "a session event handler was slow; it delays the events after it, not requests"
        );
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("handlers", &self.handlers.len())
            .finish()
    }
}

/// The handlers a configuration registers (cloned with it).
#[derive(Clone, Default)]
pub(crate) struct Handlers(pub(crate) Vec<Handler>);

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} event handler(s)", self.0.len())
    }
}
