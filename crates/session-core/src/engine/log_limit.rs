//! Warnings a client can cause at its own request rate, written at most once per period.
//!
//! A stale but validly signed cookie (its session expired or was deleted) is sent again
//! on every request until the handler writes to the session: one warning per request
//! would let any client flood the logs. The first one of each period is a warning that
//! says how many were left out since; the others are debug lines.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// At most one warning per `period`.
#[derive(Debug)]
pub(crate) struct LogLimit {
    started: Instant,
    period: Duration,
    /// Start of the period whose warning was written, in periods since `started`, plus one
    /// (0: none yet).
    last: AtomicU64,
    left_out: AtomicU64,
}

impl LogLimit {
    pub(crate) fn new(period: Duration) -> Self {
        LogLimit {
            started: Instant::now(),
            period: period.max(Duration::from_millis(1)),
            last: AtomicU64::new(0),
            left_out: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if this occurrence is to be a warning, `n` being how many were written at
    /// debug level since the last warning; `None` if it is to be a debug line.
    pub(crate) fn warn(&self) -> Option<u64> {
        let periods = self.started.elapsed().as_nanos() / self.period.as_nanos().max(1);
        let current = u64::try_from(periods).unwrap_or(u64::MAX - 1) + 1;
        let last = self.last.load(Ordering::Acquire);
        if last != current
            && self
                .last
                .compare_exchange(last, current, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            Some(self.left_out.swap(0, Ordering::AcqRel))
        } else {
            self.left_out.fetch_add(1, Ordering::AcqRel);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_period_then_the_count_of_those_left_out() {
        let limit = LogLimit::new(Duration::from_millis(200));
        assert_eq!(limit.warn(), Some(0));
        assert_eq!((0..5).filter_map(|_| limit.warn()).count(), 0);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(limit.warn(), Some(5));
        assert_eq!(limit.warn(), None);
    }
}
