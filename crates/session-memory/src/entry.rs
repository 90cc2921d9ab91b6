//! One cached value and its expiry.

use std::time::{Duration, Instant, SystemTime};

use session_core::EntryOptions;

/// A stored value. Times are kept as `Instant`s so that clock changes cannot resurrect
/// or kill entries.
#[derive(Debug)]
pub(crate) struct Entry {
    pub value: Box<[u8]>,
    /// When the entry dies unless touched again (`None`: never).
    pub expires_at: Option<Instant>,
    pub sliding: Option<Duration>,
    pub absolute: Option<Instant>,
}

impl Entry {
    /// A new entry touched at `now`; `None` if its absolute expiry has already passed.
    pub fn new(value: Vec<u8>, options: EntryOptions, now: Instant) -> Option<Entry> {
        let absolute = match options.absolute_expiration {
            Some(at) => Some(now + at.duration_since(SystemTime::now()).ok()?),
            None => None,
        };
        let mut entry = Entry {
            value: value.into_boxed_slice(),
            expires_at: None,
            sliding: options.sliding_expiration,
            absolute,
        };
        entry.touch(now);
        Some(entry)
    }

    /// Slides the expiry from `now`, capped by the absolute expiry.
    pub fn touch(&mut self, now: Instant) {
        let sliding = self.sliding.map(|d| now + d);
        self.expires_at = match (sliding, self.absolute) {
            (Some(s), Some(a)) => Some(s.min(a)),
            (s, a) => s.or(a),
        };
    }

    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_is_capped_by_absolute() {
        let now = Instant::now();
        let options = EntryOptions::sliding(Duration::from_secs(60))
            .with_absolute(SystemTime::now() + Duration::from_secs(10));
        let entry = Entry::new(vec![1], options, now);
        let expires = entry.and_then(|e| e.expires_at);
        assert!(expires.is_some_and(|at| at <= now + Duration::from_secs(10)));
    }

    #[test]
    fn past_absolute_expiry_is_not_stored() {
        let options = EntryOptions::default().with_absolute(SystemTime::now() - Duration::from_secs(1));
        assert!(Entry::new(vec![1], options, Instant::now()).is_none());
    }
}
