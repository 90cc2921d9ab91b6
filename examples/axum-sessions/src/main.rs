//! `cargo run -p axum-sessions -- [--http] [--port N] ...`: the session tutorial on axum.

use std::process::ExitCode;

use clap::Parser;
use sessions_tutorial::{init_logging, shutdown_signal, Args};

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    match axum_sessions::start(args).await {
        Ok(running) => {
            println!("Session tutorial (axum) listening on {}", running.url);
            shutdown_signal().await;
            running.stop().await;
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
