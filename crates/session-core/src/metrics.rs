//! The instruments (feature `metrics`), on the [`metrics`](https://docs.rs/metrics) crate's
//! facade: the library only records; the application installs a recorder (a Prometheus
//! exporter, say) before it builds its session layer. Each engine registers its handles
//! once, when it is built; without the feature they are empty and nothing is recorded.
//!
//! | name | kind | unit | labels |
//! |---|---|---|---|
//! | `session_created_total` | counter | sessions | |
//! | `session_loads_total` | counter | loads | `result`: `hit`, `miss`, `expired`, `bad_cookie` |
//! | `session_commits_total` | counter | commits | `kind`: `write`, `refresh`, `remove`; `result`: `ok`, `lease_lost`, `error` |
//! | `session_ids_cycled_total` | counter | ids | |
//! | `session_flushed_total` | counter | sessions | |
//! | `session_revoked_total` | counter | sessions | |
//! | `session_lock_wait_seconds` | histogram | seconds | |
//! | `session_lock_timeouts_total` | counter | requests | |
//! | `session_leases_lost_total` | counter | commits | |
//! | `session_store_call_seconds` | histogram | seconds | `store`, `operation` |
//! | `session_store_errors_total` | counter | calls | `store`, `operation`, `error`: `timeout`, `store` |
//! | `session_payload_bytes` | histogram | bytes | |
//!
//! Labels are bounded: never an id, a key or a principal. `store` is the store's
//! [`name`](crate::store::DistributedCache::name); `operation` one of `lock`, `commit`,
//! `create`, `get`, `set`, `refresh`, `remove`, `release`, `sessions_of`, `revoke`,
//! `unindex`.

use std::time::Duration;

/// Bucket bounds (seconds) suited to `session_lock_wait_seconds` and
/// `session_store_call_seconds`: 100 µs to 30 s. Give them to your exporter to render true
/// histograms (aggregatable across instances) rather than per-instance summaries.
///
/// ```
/// assert!(session_core::METRICS_SECONDS_BUCKETS.windows(2).all(|w| w[0] < w[1]));
/// ```
#[cfg(feature = "metrics")]
pub const METRICS_SECONDS_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

/// Bucket bounds (bytes) suited to `session_payload_bytes`: 64 B to 4 MiB.
///
/// ```
/// assert!(session_core::METRICS_BYTES_BUCKETS.windows(2).all(|w| w[0] < w[1]));
/// ```
#[cfg(feature = "metrics")]
pub const METRICS_BYTES_BUCKETS: &[f64] = &[
    64.0,
    256.0,
    1024.0,
    4096.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
];

/// What the first use of a request's session found (in the order of the handles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Load {
    /// The stored session, loaded.
    Hit,
    /// No session cookie: a new session.
    Miss,
    /// A valid cookie whose session is gone (expired, deleted, revoked, past its lifetime).
    Expired,
    /// A cookie that failed its signature or format check.
    BadCookie,
}

/// What a commit did to the stored session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    Write,
    Refresh,
    Remove,
}

/// How a commit or store call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    LeaseLost,
    Error,
}

impl Outcome {
    pub(crate) fn of<T>(result: &crate::Result<T>) -> Self {
        match result {
            Ok(_) => Outcome::Ok,
            Err(crate::Error::LeaseLost) => Outcome::LeaseLost,
            Err(_) => Outcome::Error,
        }
    }
}

/// The store operations timed, in the order of [`Instruments`]' per-operation handles.
#[cfg(feature = "metrics")]
const OPERATIONS: [&str; 11] = [
    "lock",
    "commit",
    "create",
    "get",
    "set",
    "refresh",
    "remove",
    "release",
    "sessions_of",
    "revoke",
    "unindex",
];

/// One engine's instruments, registered once with the recorder installed when the engine
/// is built (so install the recorder first): recording is then an atomic operation on a
/// handle, with no lookup by name per request.
#[cfg(feature = "metrics")]
pub(crate) struct Instruments {
    created: metrics::Counter,
    loads: [metrics::Counter; 4],
    commits: [[metrics::Counter; 3]; 3],
    leases_lost: metrics::Counter,
    cycled: metrics::Counter,
    flushed: metrics::Counter,
    revoked: metrics::Counter,
    lock_wait: metrics::Histogram,
    lock_timeouts: metrics::Counter,
    store_calls: [metrics::Histogram; OPERATIONS.len()],
    store_errors: [[metrics::Counter; 2]; OPERATIONS.len()],
    payload: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl Instruments {
    /// Registers every instrument of an engine over the store named `store`.
    pub(crate) fn new(store: &'static str) -> Self {
        use metrics::{counter, histogram};
        let loads = ["hit", "miss", "expired", "bad_cookie"]
            .map(|result| counter!("session_loads_total", "result" => result));
        let commits = ["write", "refresh", "remove"].map(|kind| {
            ["ok", "lease_lost", "error"]
                .map(|result| counter!("session_commits_total", "kind" => kind, "result" => result))
        });
        Instruments {
            created: counter!("session_created_total"),
            loads,
            commits,
            leases_lost: counter!("session_leases_lost_total"),
            cycled: counter!("session_ids_cycled_total"),
            flushed: counter!("session_flushed_total"),
            revoked: counter!("session_revoked_total"),
            lock_wait: histogram!("session_lock_wait_seconds"),
            lock_timeouts: counter!("session_lock_timeouts_total"),
            store_calls: OPERATIONS.map(|operation| {
                histogram!("session_store_call_seconds", "store" => store, "operation" => operation)
            }),
            store_errors: OPERATIONS.map(|operation| {
                ["store", "timeout"].map(|error| {
                    counter!("session_store_errors_total", "store" => store, "operation" => operation, "error" => error)
                })
            }),
            payload: histogram!("session_payload_bytes"),
        }
    }

    pub(crate) fn created(&self) {
        self.created.increment(1);
    }

    pub(crate) fn load(&self, result: Load) {
        self.loads[result as usize].increment(1);
    }

    pub(crate) fn commit(&self, kind: Commit, outcome: Outcome) {
        self.commits[kind as usize][outcome as usize].increment(1);
        if outcome == Outcome::LeaseLost {
            self.leases_lost.increment(1);
        }
    }

    pub(crate) fn cycled(&self) {
        self.cycled.increment(1);
    }

    pub(crate) fn flushed(&self) {
        self.flushed.increment(1);
    }

    pub(crate) fn revoked(&self, count: usize) {
        self.revoked.increment(count as u64);
    }

    pub(crate) fn lock_wait(&self, waited: Duration) {
        self.lock_wait.record(waited.as_secs_f64());
    }

    pub(crate) fn lock_timeout(&self) {
        self.lock_timeouts.increment(1);
    }

    /// A store call of `operation` that took `took`; `timed_out`, or failed (`error`).
    pub(crate) fn store_call(&self, operation: &'static str, took: Duration, error: Option<StoreError>) {
        let Some(i) = OPERATIONS.iter().position(|op| *op == operation) else {
            return;
        };
        self.store_calls[i].record(took.as_secs_f64());
        if let Some(error) = error {
            self.store_errors[i][error as usize].increment(1);
        }
    }

    pub(crate) fn payload(&self, bytes: usize) {
        self.payload.record(bytes as f64);
    }
}

/// Without the `metrics` feature: nothing is recorded.
#[cfg(not(feature = "metrics"))]
pub(crate) struct Instruments;

#[cfg(not(feature = "metrics"))]
#[allow(clippy::unused_self)]
impl Instruments {
    pub(crate) fn new(_store: &'static str) -> Self {
        Instruments
    }
    pub(crate) fn created(&self) {}
    pub(crate) fn load(&self, _: Load) {}
    pub(crate) fn commit(&self, _: Commit, _: Outcome) {}
    pub(crate) fn cycled(&self) {}
    pub(crate) fn flushed(&self) {}
    pub(crate) fn revoked(&self, _: usize) {}
    pub(crate) fn lock_wait(&self, _: Duration) {}
    pub(crate) fn lock_timeout(&self) {}
    pub(crate) fn store_call(&self, _: &'static str, _: Duration, _: Option<StoreError>) {}
    pub(crate) fn payload(&self, _: usize) {}
}

/// How a store call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreError {
    Store,
    Timeout,
}

/// Describes every instrument to the installed recorder (units and help texts).
#[cfg(feature = "metrics")]
pub(crate) fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        "session_created_total",
        Unit::Count,
        "Sessions stored for the first time"
    );
    describe_counter!(
        "session_loads_total",
        Unit::Count,
        "First uses of a request's session, by what they found"
    );
    describe_counter!(
        "session_commits_total",
        Unit::Count,
        "Commits of a stored session, by kind and result"
    );
    describe_counter!(
        "session_ids_cycled_total",
        Unit::Count,
        "Sessions moved to a new id (cycle_id, login)"
    );
    describe_counter!("session_flushed_total", Unit::Count, "Sessions ended by flush()");
    describe_counter!(
        "session_revoked_total",
        Unit::Count,
        "Sessions ended by revocation (log out everywhere)"
    );
    describe_histogram!(
        "session_lock_wait_seconds",
        Unit::Seconds,
        "Time a request waited for its session's lock"
    );
    describe_counter!(
        "session_lock_timeouts_total",
        Unit::Count,
        "Requests that gave up waiting for their session's lock (503)"
    );
    describe_counter!(
        "session_leases_lost_total",
        Unit::Count,
        "Commits refused because the lease was lost (503)"
    );
    describe_histogram!(
        "session_store_call_seconds",
        Unit::Seconds,
        "Duration of store calls, by store and operation"
    );
    describe_counter!(
        "session_store_errors_total",
        Unit::Count,
        "Store calls that failed or timed out, by store and operation"
    );
    describe_histogram!(
        "session_payload_bytes",
        Unit::Bytes,
        "Size of each stored session payload"
    );
}

/// Whether store calls are timed (the `metrics` feature): without it the engine reads no
/// clock for them.
pub(crate) const TIMED: bool = cfg!(feature = "metrics");
