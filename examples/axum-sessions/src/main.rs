//! `cargo run -p axum-sessions -- [--http] [--port N] ...`: the session tutorial on axum.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sessions_tutorial::main("axum", axum_sessions::start).await
}
