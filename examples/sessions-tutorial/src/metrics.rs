//! `--metrics`: the library's instruments, exported in the Prometheus text format.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process's Prometheus recorder, installed (and the instruments described) on first
/// use: a process has one global recorder, however many tutorial servers it runs.
///
/// # Errors
/// If another recorder was installed in this process first.
pub fn prometheus() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new().install_recorder()?;
    distributed_session::describe_metrics();
    Ok(HANDLE.get_or_init(|| handle).clone())
}
