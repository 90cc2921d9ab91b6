//! Load through a failover: two app instances increment one session's counter while a
//! test takes the Redis master away; a probe records what a client sees meanwhile.
//! Bounded in time: the load runs until [`Load::finish`], the probe every 100 ms.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crate::Browser;

/// The increments that 32 tasks (or as many as asked) make on one session, spread over
/// the instances, until [`finish`](Self::finish).
pub struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<BTreeMap<u16, usize>>>,
    probe: tokio::task::JoinHandle<Vec<Probe>>,
    first: String,
    cookie: String,
}

/// One probe request: when it was sent, how long it took, its status, and the status of
/// `/hello` (which needs no session) sent right after it.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub sent: Instant,
    pub took: Duration,
    pub status: u16,
    pub hello: u16,
}

/// What the load saw.
#[derive(Debug)]
pub struct Tally {
    /// Increments answered 200.
    pub acked: usize,
    /// Other answers, by status.
    pub failed: BTreeMap<u16, usize>,
    /// The counter read at the end (that read counts one more).
    pub final_count: i64,
    pub probes: Vec<Probe>,
}

impl Tally {
    /// Acknowledged increments that are missing from the counter (negative: applied
    /// increments whose answer was an error).
    pub fn lost(&self) -> i64 {
        // the set-up request counted 1, the final read 1
        self.acked as i64 + 2 - self.final_count
    }

    /// The first probe sent at or after `at` that succeeded, and how long after `at`
    /// its answer came.
    pub fn recovered_after(&self, at: Instant) -> Option<Duration> {
        self.probes
            .iter()
            .find(|p| p.sent >= at && p.status == 200)
            .map(|p| (p.sent + p.took).saturating_duration_since(at))
    }

    /// The slowest probe answer sent in `[from, to)`.
    pub fn slowest_between(&self, from: Instant, to: Instant) -> Option<Probe> {
        self.probes
            .iter()
            .filter(|p| p.sent >= from && p.sent < to)
            .max_by_key(|p| p.took)
            .copied()
    }
}

impl Load {
    /// Creates a session on `urls[0]` (counter 1) and starts `tasks` tasks incrementing
    /// it through all `urls`, and the probe.
    pub async fn start(urls: &[String], tasks: usize) -> Load {
        let mut first = Browser::new(&urls[0]);
        let setup = first.get("/session/counter").await;
        assert_eq!(setup.json()["counter"], 1, "{}", setup.text);
        let cookie = first.cookie("Kr.Session").unwrap_or_default().to_owned();
        let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let mut handles = Vec::new();
        for task in 0..tasks {
            let mut b = Browser::new(&urls[task % urls.len()]);
            b.set_cookie("Kr.Session", &cookie);
            let (stop, acked) = (stop.clone(), acked.clone());
            handles.push(tokio::spawn(async move {
                let mut failed = BTreeMap::new();
                while !stop.load(Ordering::SeqCst) {
                    let r = b.get("/session/counter").await;
                    if r.status == 200 {
                        acked.fetch_add(1, Ordering::SeqCst);
                    } else {
                        *failed.entry(r.status).or_insert(0) += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                failed
            }));
        }
        let probe = {
            let (stop, acked, mut b) = (stop.clone(), acked.clone(), Browser::new(&urls[1 % urls.len()]));
            b.set_cookie("Kr.Session", &cookie);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let sent = Instant::now();
                    // an increment too: counted with the others
                    let status = b.get("/session/counter").await.status;
                    let took = sent.elapsed();
                    if status == 200 {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    let hello = b.get("/hello").await.status;
                    seen.push(Probe {
                        sent,
                        took,
                        status,
                        hello,
                    });
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                seen
            })
        };
        Load {
            stop,
            acked,
            tasks: handles,
            probe,
            first: urls[0].clone(),
            cookie,
        }
    }

    /// The session's cookie.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// Stops the load and reads the counter (retrying for up to 10 s while the store is
    /// still failing over).
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut failed = BTreeMap::new();
        for task in self.tasks {
            for (status, n) in task.await.unwrap() {
                *failed.entry(status).or_insert(0) += n;
            }
        }
        let probes = self.probe.await.unwrap();
        let mut b = Browser::new(&self.first);
        b.set_cookie("Kr.Session", &self.cookie);
        let deadline = Instant::now() + Duration::from_secs(10);
        let final_count = loop {
            let r = b.get("/session/counter").await;
            if r.status == 200 {
                break r.json()["counter"].as_i64().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "the counter cannot be read: {} {}",
                r.status,
                r.text
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Tally {
            acked: self.acked.load(Ordering::SeqCst),
            failed,
            final_count,
            probes,
        }
    }
}

/// Runs [`Load`] over `urls` (instances started with this `io_timeout`) while
/// `fail_over` (run on a blocking thread after 1 s of load) kills the master holding the
/// session and waits for its successor, returning when it killed it and when the new
/// master was first seen. The load goes on 3 s after that. Checks what a client sees:
/// while there is no master, session routes answer within the IO timeout + 1 s and
/// `/hello` keeps answering 200; within 2 s of the promotion, session routes succeed
/// again; every failed answer is a 503. Returns the tally, after printing it (how many
/// acknowledged increments were lost is the caller's to judge).
pub async fn through_a_failover<F>(label: &str, urls: &[String], io_timeout: Duration, fail_over: F) -> Tally
where
    F: FnOnce(&str) -> (Instant, Instant) + Send + 'static,
{
    let load = Load::start(urls, 32).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cookie = load.cookie().to_owned();
    let (killed, promoted) = tokio::task::spawn_blocking(move || fail_over(&cookie))
        .await
        .unwrap();
    tokio::time::sleep_until((promoted + Duration::from_secs(3)).into()).await;
    let tally = load.finish().await;
    crate::loud(&format!(
        "{label}: failover {:?} after the kill; {} increments acknowledged, {} lost; other answers {:?}; \
         recovered {:?} after the promotion; slowest answer without a master {:?}",
        promoted - killed,
        tally.acked,
        tally.lost(),
        tally.failed,
        tally.recovered_after(promoted),
        tally.slowest_between(killed, promoted).map(|p| p.took),
    ));
    if let Some(slowest) = tally.slowest_between(killed, promoted) {
        assert!(
            slowest.took < io_timeout + Duration::from_secs(1),
            "{label}: without a master, an answer took {:?}",
            slowest.took
        );
    }
    assert!(
        tally.probes.iter().all(|p| p.hello == 200),
        "{label}: /hello failed during the failover"
    );
    let recovered = tally.recovered_after(promoted);
    assert!(
        recovered.is_some_and(|after| after <= Duration::from_secs(2)),
        "{label}: session routes were not back within 2 s of the promotion: {recovered:?}"
    );
    assert!(
        tally.failed.keys().all(|status| *status == 503),
        "{label}: answers other than 200 and 503: {:?}",
        tally.failed
    );
    tally
}
