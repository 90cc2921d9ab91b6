//! The instruments (feature `metrics`), on the [`metrics`](https://docs.rs/metrics) crate's
//! facade: the library only records; the application installs a recorder (a Prometheus
//! exporter, say). Without the feature every function here is empty; with it and no
//! recorder installed, each costs a load of the global recorder.
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

/// What the first use of a request's session found.
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

#[cfg(feature = "metrics")]
mod recorded {
    use super::{Commit, Duration, Load, Outcome};

    pub(crate) fn created() {
        metrics::counter!("session_created_total").increment(1);
    }

    pub(crate) fn load(result: Load) {
        let result = match result {
            Load::Hit => "hit",
            Load::Miss => "miss",
            Load::Expired => "expired",
            Load::BadCookie => "bad_cookie",
        };
        metrics::counter!("session_loads_total", "result" => result).increment(1);
    }

    pub(crate) fn commit(kind: Commit, outcome: Outcome) {
        let kind = match kind {
            Commit::Write => "write",
            Commit::Refresh => "refresh",
            Commit::Remove => "remove",
        };
        let result = match outcome {
            Outcome::Ok => "ok",
            Outcome::LeaseLost => "lease_lost",
            Outcome::Error => "error",
        };
        metrics::counter!("session_commits_total", "kind" => kind, "result" => result).increment(1);
        if outcome == Outcome::LeaseLost {
            metrics::counter!("session_leases_lost_total").increment(1);
        }
    }

    pub(crate) fn cycled() {
        metrics::counter!("session_ids_cycled_total").increment(1);
    }

    pub(crate) fn flushed() {
        metrics::counter!("session_flushed_total").increment(1);
    }

    pub(crate) fn revoked(count: usize) {
        metrics::counter!("session_revoked_total").increment(count as u64);
    }

    pub(crate) fn lock_wait(waited: Duration) {
        metrics::histogram!("session_lock_wait_seconds").record(waited.as_secs_f64());
    }

    pub(crate) fn lock_timeout() {
        metrics::counter!("session_lock_timeouts_total").increment(1);
    }

    pub(crate) fn store_call(
        store: &'static str,
        operation: &'static str,
        took: Duration,
        error: Option<&'static str>,
    ) {
        metrics::histogram!("session_store_call_seconds", "store" => store, "operation" => operation)
            .record(took.as_secs_f64());
        if let Some(error) = error {
            metrics::counter!("session_store_errors_total", "store" => store, "operation" => operation, "error" => error)
                .increment(1);
        }
    }

    pub(crate) fn payload(bytes: usize) {
        metrics::histogram!("session_payload_bytes").record(bytes as f64);
    }

    /// Describes every instrument to the installed recorder (units and help texts).
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
}

#[cfg(not(feature = "metrics"))]
mod recorded {
    use super::{Commit, Duration, Load, Outcome};

    pub(crate) fn created() {}
    pub(crate) fn load(_: Load) {}
    pub(crate) fn commit(_: Commit, _: Outcome) {}
    pub(crate) fn cycled() {}
    pub(crate) fn flushed() {}
    pub(crate) fn revoked(_: usize) {}
    pub(crate) fn lock_wait(_: Duration) {}
    pub(crate) fn lock_timeout() {}
    pub(crate) fn store_call(_: &'static str, _: &'static str, _: Duration, _: Option<&'static str>) {}
    pub(crate) fn payload(_: usize) {}
    pub(crate) fn describe() {}
}

pub(crate) use recorded::*;

/// Whether store calls are timed (the `metrics` feature): without it the engine reads no
/// clock for them.
pub(crate) const TIMED: bool = cfg!(feature = "metrics");
