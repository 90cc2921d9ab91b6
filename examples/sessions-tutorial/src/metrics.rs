//! `--metrics`: the library's instruments, exported in the Prometheus text format.

use std::{sync::OnceLock, time::Duration};

use distributed_session::{METRICS_BYTES_BUCKETS, METRICS_SECONDS_BUCKETS};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// How often the recorder's samples are folded into its histograms (its "upkeep"; without
/// it, samples pile up between scrapes).
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed (and the instruments described) on first
/// use: a process has one global recorder, however many tutorial servers it runs.
///
/// Durations and sizes are true Prometheus histograms (the library's suggested buckets),
/// which aggregate across instances and cost less to record than the exporter's default
/// summaries; a thread runs the exporter's upkeep every 5 seconds.
///
/// # Errors
/// If another recorder was installed in this process first.
pub fn prometheus() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), METRICS_SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_bytes".into()), METRICS_BYTES_BUCKETS)?
        .install_recorder()?;
    distributed_session::describe_metrics();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP);
            upkeep.run_upkeep();
        })?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}
