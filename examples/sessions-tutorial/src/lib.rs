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

/// A started tutorial server, as both examples return it.
pub trait Tutorial: Sized {
    /// Base URL, e.g. `https://127.0.0.1:5000`.
    fn url(&self) -> &str;
    /// Stops accepting, lets requests in flight finish, and waits.
    fn stop(self) -> impl std::future::Future<Output = ()>;
}

/// The whole `main` of an example: logging, the command line, `start`, then serving
/// until Ctrl-C or SIGTERM.
pub async fn main<T, F>(framework: &str, start: impl FnOnce(Args) -> F) -> std::process::ExitCode
where
    T: Tutorial,
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    init_logging();
    let args = <Args as clap::Parser>::parse();
    match start(args).await {
        Ok(running) => {
            println!("Session tutorial ({framework}) listening on {}", running.url());
            shutdown_signal().await;
            running.stop().await;
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Console logging at `info` (or `RUST_LOG`), as the tutorial's first step. Logs go to
/// stderr (coloured only on a terminal), so stdout carries just the URL line.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
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
