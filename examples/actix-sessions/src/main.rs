//! `cargo run -p actix-sessions -- [--http] [--port N] ...`: the session tutorial on actix-web.

use std::process::ExitCode;

use clap::Parser;
use sessions_tutorial::{init_logging, shutdown_signal, Args};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    match actix_sessions::start(args).await {
        Ok(running) => {
            println!("Session tutorial (actix) listening on {}", running.url);
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
