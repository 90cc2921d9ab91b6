//! Releasing a lease that may still be in the store, again and again while the store
//! fails, until it gets through or the lease has expired anyway.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::{error::chain, error::Error, error::Result};

/// When the release of an abandoned lease is tried again while the store fails: after
/// 100 ms, doubling to 1 s, each pause drawn within ±20 % so that the releases of leases
/// abandoned together (a store outage) do not all come back at once; never past the
/// moment the lease expires by itself.
///
/// [`release_until`] follows it; it is public for stores that schedule releases of their
/// own.
#[derive(Debug, Clone)]
pub struct ReleaseRetry {
    until: Instant,
    pause: Duration,
}

impl ReleaseRetry {
    /// Retries for a lease that expires at `until`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let retry = session_core::store::lease::ReleaseRetry::until(Instant::now() + Duration::from_secs(30));
    /// ```
    pub fn until(until: Instant) -> Self {
        ReleaseRetry {
            until,
            pause: Duration::from_millis(100),
        }
    }

    /// How long to wait before the next try, or `None` if the lease will have expired
    /// by then (nothing left to release).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut retry = session_core::store::lease::ReleaseRetry::until(Instant::now() + Duration::from_secs(30));
    /// assert!(retry.next_pause().is_some_and(|pause| pause < Duration::from_millis(200)));
    /// ```
    pub fn next_pause(&mut self) -> Option<Duration> {
        let pause = self.pause.mul_f64(rand::rng().random_range(0.8..1.2));
        self.pause = (self.pause * 2).min(Duration::from_secs(1));
        (Instant::now() + pause < self.until).then_some(pause)
    }
}

/// Releases a lease with `attempt` (one release call, bounded by its own timeout) until
/// it gets through, the lease turns out not to be held ([`Error::LeaseLost`]), or it
/// fails in a way `retryable` does not accept. A lease known to be held `until` some
/// time is tried again on the [`ReleaseRetry`] schedule until then; with `until` `None`
/// it is tried once. Every outcome is logged (debug, or warn for a release given up on
/// an error that is not retryable): the caller is a background task nobody awaits.
///
/// The engine releases abandoned leases with it (retrying store errors and timeouts);
/// the Redis store releases the leases of cut-off lock calls with it (retrying any
/// error, as a Redis loading its data answers `LOADING`).
///
/// ```
/// use std::time::{Duration, Instant};
/// use session_core::store::lease::release_until;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let until = Instant::now() + Duration::from_secs(30);
/// release_until(Some(until), |_error| true, || async { Ok(()) }).await;
/// # }
/// ```
pub async fn release_until<F>(
    until: Option<Instant>,
    retryable: impl Fn(&Error) -> bool,
    mut attempt: impl FnMut() -> F,
) where
    F: std::future::Future<Output = Result<()>>,
{
    let mut retry = until.map(ReleaseRetry::until);
    loop {
        let error = match attempt().await {
            Ok(()) => {
                tracing::debug!("abandoned session lease released");
                return;
            }
            Err(Error::LeaseLost) => {
                tracing::debug!("abandoned session lease was not held (or expired)");
                return;
            }
            Err(error) => error,
        };
        match retry
            .as_mut()
            .filter(|_| retryable(&error))
            .map(ReleaseRetry::next_pause)
        {
            Some(Some(pause)) => {
                tracing::debug!(error = %chain(&error), "releasing an abandoned session lease failed; trying again");
                tokio::time::sleep(pause).await;
            }
            Some(None) => {
                tracing::debug!(error = %chain(&error), "the session store failed until the abandoned lease expired");
                return;
            }
            None => {
                tracing::warn!(error = %chain(&error), "releasing an abandoned session lease failed; unless the store releases it later, it expires with its lease");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_retries_back_off_to_a_second_and_stop_when_the_lease_expires() {
        let mut retry = ReleaseRetry::until(Instant::now() + Duration::from_secs(60));
        let pauses: Vec<Duration> = (0..8).filter_map(|_| retry.next_pause()).collect();
        assert_eq!(pauses.len(), 8);
        let ms: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert!((80..=120).contains(&ms[0]), "{ms:?}");
        assert!((160..=240).contains(&ms[1]), "{ms:?}");
        assert!(ms[5..].iter().all(|p| (800..=1200).contains(p)), "{ms:?}");
        // a lease that expires before the next try: nothing left to release
        let mut retry = ReleaseRetry::until(Instant::now() + Duration::from_millis(50));
        assert_eq!(retry.next_pause(), None);
    }
}
