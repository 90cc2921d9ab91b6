//! Test support for the black-box suites: start a tutorial server for a framework and
//! store ([`Target`]), talk to it like a browser ([`Browser`]), and the behaviour
//! scenarios every target must pass ([`suite`], instantiated by [`behaviour_suite!`]).
#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod apps;
pub mod browser;
pub mod payload_cap;
pub mod redis_server;
pub mod suite;
pub mod target;

pub use browser::{Browser, Reply};
pub use redis_server::RedisServer;
pub use target::{mssql_connection_string, Framework, Server, Target};

/// Prints a notice the test harness does not capture (`eprintln!` output of passing tests
/// is hidden), so a skipped service is visible in every run.
pub fn loud(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** {message} ***\n");
}

/// An error and its causes on one line (`outer: inner: root`), as the stores log them:
/// a cause whose text the line already ends with is not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.ends_with(inner_text.as_str()) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}
