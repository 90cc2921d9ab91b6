//! The start-up check of a store that connects over the network.

use std::{future::Future, time::Duration};

/// How long [`start_up_check`] holds up the caller.
pub const START_UP_WAIT: Duration = Duration::from_secs(1);

/// Runs a store's start-up check (connect, ping, log the outcome) in a task of its own
/// and waits for it at most [`START_UP_WAIT`]; past that it goes on in the background.
/// Outside a Tokio runtime (the stores need one to work at all) it logs a warning instead
/// of panicking.
///
/// A reachable store answers in milliseconds and a refused connection fails at once, so
/// both are reported before the app starts. A server that accepts connections and never
/// answers (a TLS address for a server without TLS, a port that is not the store) would
/// otherwise hold up the app's start-up, non-session routes included, for the whole
/// connect timeout.
pub async fn start_up_check(check: impl Future<Output = ()> + Send + 'static) {
    // a JoinHandle dropped by the timeout detaches the task; it is not cancelled. Its
    // log lines keep the caller's span.
    let check = tracing::Instrument::in_current_span(check);
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let _ = tokio::time::timeout(START_UP_WAIT, runtime.spawn(check)).await;
        }
        Err(_) => tracing::warn!("no Tokio runtime: the store's start-up check is skipped"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_check_goes_on_in_the_background() {
        let done = Arc::new(AtomicBool::new(false));
        let started = tokio::time::Instant::now();
        start_up_check({
            let done = Arc::clone(&done);
            async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                done.store(true, Ordering::SeqCst);
            }
        })
        .await;
        assert_eq!(started.elapsed(), START_UP_WAIT);
        assert!(!done.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(done.load(Ordering::SeqCst), "the check ran to its end");
    }

    #[test]
    fn outside_a_runtime_the_check_is_skipped() {
        let ran = Arc::new(AtomicBool::new(false));
        let check = {
            let ran = Arc::clone(&ran);
            async move { ran.store(true, Ordering::SeqCst) }
        };
        block_on_here(start_up_check(check));
        assert!(!ran.load(Ordering::SeqCst));
    }

    /// Polls `f` to completion on this thread, with no runtime around it.
    fn block_on_here<F: Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_check_is_waited_for() {
        let started = tokio::time::Instant::now();
        start_up_check(tokio::time::sleep(Duration::from_millis(5))).await;
        assert_eq!(started.elapsed(), Duration::from_millis(5));
    }
}
