//! The seed's session tutorial (19.1 / 19.2), written once for both example servers:
//! the command line, the store and engine it configures, the routes' behaviour and the
//! self-signed certificate. `axum-sessions` and `actix-sessions` only wire these into
//! their framework.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod routes;
mod tls;

pub mod metrics;

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
            // listening before the URL line: a signal sent as soon as it is read stops the
            // server cleanly instead of killing it
            let shutdown = ShutdownSignal::listen();
            println!("Session tutorial ({framework}) listening on {}", running.url());
            shutdown.received().await;
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

/// Ctrl-C and SIGTERM, caught from the moment [`listen`](Self::listen) is called (until
/// then, they end the process at once). Elsewhere than on Unix, only Ctrl-C, and from
/// the moment [`received`](Self::received) is awaited.
#[derive(Debug)]
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    /// Starts catching the signals. Call it inside the Tokio runtime.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(error) => {
                    tracing::warn!(%error, "cannot catch {name}; it will end the process without a clean stop");
                    None
                }
            };
            ShutdownSignal {
                interrupt: listen(SignalKind::interrupt(), "Ctrl-C (SIGINT)"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        ShutdownSignal {}
    }

    /// Resolves when the process receives Ctrl-C or SIGTERM.
    pub async fn received(self) {
        #[cfg(unix)]
        {
            async fn next(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = next(self.interrupt) => {},
                () = next(self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
}
