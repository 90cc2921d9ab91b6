//! `cargo run -p actix-sessions -- [--http] [--port N] ...`: the session tutorial on actix.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    sessions_tutorial::main("actix", actix_sessions::start).await
}
