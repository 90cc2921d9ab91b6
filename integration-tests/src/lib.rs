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

pub mod acl;
pub mod apps;
pub mod browser;
pub mod dead_holder;
pub mod expiry;
pub mod failover;
pub mod fencing;
pub mod hot;
pub mod payload_cap;
pub mod postgres;
pub mod principals;
pub mod redis_server;
pub mod redis_topology;
pub mod round_trips;
pub mod suite;
pub mod target;

pub use browser::{Browser, Reply};
pub use postgres::{postgres_url, PgBouncer, Proxy, Schema};
pub use redis_server::RedisServer;
pub use redis_topology::{RedisCluster, RedisSentinel, Tls};
pub use target::{
    cluster_args, mssql_connection_string, postgres_args, sentinel_args, two_instances, Framework, Server,
    Target,
};

/// Prints a notice the test harness does not capture (`eprintln!` output of passing tests
/// is hidden), so a skipped service is visible in every run.
pub fn loud(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** {message} ***\n");
}

/// An error and its causes on one line, as the stores log them (session-core's own).
pub use session_core::__private::error_chain;

/// The `name=value` part of a `Set-Cookie` outcome (panics on any other outcome).
pub fn cookie_of(outcome: &distributed_session::adapter::Outcome) -> String {
    match outcome {
        distributed_session::adapter::Outcome::SetCookie(set) => set.split(';').next().unwrap().to_owned(),
        other => panic!("expected a cookie, got {other:?}"),
    }
}

/// One request on `engine` with the cookie `jar` (`name=value`, if any) running `handler`
/// on its session: the cookie the browser holds afterwards (none after a removal cookie),
/// and the outcome.
pub async fn request<F, Fut>(
    engine: &distributed_session::adapter::SessionEngine,
    jar: &Option<String>,
    handler: F,
) -> (Option<String>, distributed_session::adapter::Outcome)
where
    F: FnOnce(distributed_session::Session) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let scope = engine.start(jar.iter().map(String::as_bytes), true);
    handler(scope.session().clone()).await;
    let outcome = scope.finish().await;
    let cookie = match &outcome {
        distributed_session::adapter::Outcome::SetCookie(header) => {
            let pair = header.split(';').next().unwrap_or_default();
            let value = pair.split_once('=').map_or("", |(_, v)| v);
            (!value.is_empty()).then(|| pair.to_owned())
        }
        _ => jar.clone(),
    };
    (cookie, outcome)
}
