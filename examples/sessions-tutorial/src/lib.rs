//! The seed's session tutorial (19.1 / 19.2), written once for both example servers:
//! the command line, the store and engine it configures, the routes' behaviour and the
//! self-signed certificate. `axum-sessions` and `actix-sessions` only wire these into
//! their framework.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod routes;
mod tls;

pub use args::{Args, StoreKind};
pub use routes::{Reply, ReplyBody, Routes};
pub use tls::SelfSigned;

/// Console logging at `info` (or `RUST_LOG`), as the tutorial's first step.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
