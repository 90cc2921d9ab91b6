//! A PostgreSQL for the tests: the one `SESSION_TEST_POSTGRES` names, else the local
//! server (`postgres://postgres@127.0.0.1:5432/test`). Each test works in a schema of
//! its own, dropped when its [`Schema`] guard goes. A server that cannot be reached is a
//! loud skip on a developer machine and a failure in CI (`.ci/run` starts one).
//!
//! Also here: [`Proxy`], a TCP proxy a test can cut and restore (the database
//! unreachable mid-load), counting the statements that go through it; and
//! [`PgBouncer`], Debian's `pgbouncer` in transaction pooling mode in front of it.

use std::{
    io::Write,
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use distributed_session::postgres::sqlx;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::redis_server::in_ci;

/// The URL of the test server, if it answers (see the module docs).
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("SESSION_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let reachable =
        address_of(&url).is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    if reachable {
        return Some(url);
    }
    let message = format!(
        "no PostgreSQL answers at {} (SESSION_TEST_POSTGRES)",
        redact(&url)
    );
    if in_ci() {
        panic!("{message}, and CI must run the PostgreSQL tests (.ci/run starts one)");
    }
    crate::loud(&format!("SKIPPED: {message}; this PostgreSQL test did not run"));
    None
}

/// `host:port` of a `postgres://` URL (port 5432 if none).
pub fn address_of(url: &str) -> Option<SocketAddr> {
    let rest = url.split_once("://")?.1;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split(['/', '?']).next()?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (host_port, 5432),
    };
    let host = if host == "localhost" { "127.0.0.1" } else { host };
    format!("{host}:{port}").parse().ok()
}

/// The URL with another `host:port` (through a proxy or a pooler).
pub fn via(url: &str, address: SocketAddr) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (user, host_and_path) = match rest.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), rest),
    };
    let path = host_and_path.find(['/', '?']).map_or("", |i| &host_and_path[i..]);
    format!("{scheme}://{user}{address}{path}")
}

fn redact(url: &str) -> String {
    match url
        .split_once("://")
        .and_then(|(s, r)| Some((s, r.rsplit_once('@')?.1)))
    {
        Some((scheme, host)) => format!("{scheme}://…@{host}"),
        None => url.to_owned(),
    }
}

/// A schema of one test's own, dropped (with everything in it) when this goes.
pub struct Schema {
    pub name: String,
    url: String,
}

impl Schema {
    /// A fresh, unused schema name on the test server (created by the store's migration).
    pub fn fresh(url: &str, label: &str) -> Schema {
        let token = distributed_session::store::LockToken::generate();
        let suffix: String = token.as_bytes()[..5].iter().map(|b| format!("{b:02x}")).collect();
        Schema {
            name: format!("dstest_{label}_{suffix}"),
            url: url.to_owned(),
        }
    }

    /// Runs `sql` on the test server (a connection of its own).
    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        execute(&self.url, sql).await
    }

    /// The first column of the first row of `sql`, as an `i64`.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
        let value: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        value
    }
}

/// Runs `sql` (one simple query) on a connection of its own.
pub async fn execute(url: &str, sql: &str) -> Result<u64, sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let done = sqlx::raw_sql(sql).execute(&mut conn).await?;
    conn.close().await?;
    Ok(done.rows_affected())
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, sql) = (
            self.url.clone(),
            format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name),
        );
        // a runtime of its own: a guard may be dropped inside or outside one
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                let _ = rt.block_on(execute(&url, &sql));
            }
        })
        .join();
    }
}

/// A TCP proxy on a loopback port in front of `upstream`: [`cut`](Self::cut) closes
/// every connection and refuses new ones (the database gone), [`restore`](Self::restore)
/// lets them through again. It counts the extended-protocol `Execute` messages and simple
/// `Query` messages that clients send through it (statements).
pub struct Proxy {
    pub address: SocketAddr,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ProxyState {
    cut: AtomicBool,
    /// Bumped by every cut: connections of an older generation close.
    generation: AtomicUsize,
    executes: AtomicUsize,
    queries: AtomicUsize,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let state = shared.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let generation = state.generation.load(Ordering::SeqCst);
                    pipe(client, server, state, generation).await;
                });
            }
        });
        Proxy { address, state, task }
    }

    /// Closes every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }

    /// Statements sent so far: (`Execute` messages, simple `Query` messages).
    pub fn statements(&self) -> (usize, usize) {
        (
            self.state.executes.load(Ordering::SeqCst),
            self.state.queries.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// Copies both ways until either side closes or the proxy is cut, counting the client's
/// messages.
async fn pipe(
    mut client: tokio::net::TcpStream,
    mut server: tokio::net::TcpStream,
    state: Arc<ProxyState>,
    generation: usize,
) {
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let mut messages = MessageCounter::default();
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            read = client_read.read(&mut up) => {
                let Ok(n @ 1..) = read else { return };
                messages.feed(&up[..n], &state);
                if server_write.write_all(&up[..n]).await.is_err() { return }
            }
            read = server_read.read(&mut down) => {
                let Ok(n @ 1..) = read else { return };
                if client_write.write_all(&down[..n]).await.is_err() { return }
            }
            _ = tick.tick() => {
                if state.generation.load(Ordering::SeqCst) != generation { return }
            }
        }
    }
}

/// Frames the client's side of the protocol (after the untyped start-up message) to
/// count `E` (Execute) and `Q` (Query) messages.
#[derive(Default)]
struct MessageCounter {
    started: bool,
    /// Bytes of the current message still to skip.
    skip: usize,
    header: Vec<u8>,
}

impl MessageCounter {
    fn feed(&mut self, mut bytes: &[u8], state: &ProxyState) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let need = if self.started { 5 } else { 4 };
            let n = (need - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() < need {
                continue;
            }
            let (kind, len) = if self.started {
                let len =
                    u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]);
                (Some(self.header[0]), len as usize)
            } else {
                let len =
                    u32::from_be_bytes([self.header[0], self.header[1], self.header[2], self.header[3]]);
                (None, len as usize)
            };
            match kind {
                Some(b'E') => drop(state.executes.fetch_add(1, Ordering::SeqCst)),
                Some(b'Q') => drop(state.queries.fetch_add(1, Ordering::SeqCst)),
                _ => {}
            }
            // the start-up message (or an SSL request) counts its length field; a typed
            // message's length does too, but not its type byte
            self.skip = len.saturating_sub(4);
            if !self.started {
                // an SSLRequest / GSSENCRequest (8 bytes) is followed by another untyped
                // start-up message; the start-up message itself by typed messages
                self.started = len != 8;
            }
            self.header.clear();
        }
    }
}

/// Debian's `pgbouncer` in transaction pooling mode, on a loopback port, in front of the
/// test server; stopped when dropped. `None` (a loud skip, a failure in CI) when it is
/// not installed.
pub struct PgBouncer {
    pub address: SocketAddr,
    child: Mutex<Child>,
    dir: PathBuf,
}

impl PgBouncer {
    pub fn start(url: &str) -> Option<PgBouncer> {
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(binary) = binary else {
            if in_ci() {
                panic!(
                    "pgbouncer is not installed, and CI must run the PgBouncer test (.ci/run installs it)"
                );
            }
            crate::loud("SKIPPED: pgbouncer is not installed; this PgBouncer test did not run");
            return None;
        };
        let upstream = address_of(url)?;
        let (user, password, db) = credentials(url)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("dstest-pgbouncer-{port}"));
        std::fs::create_dir_all(&dir).ok()?;
        let password = if password.is_empty() {
            String::new()
        } else {
            format!(" password={password}")
        };
        let config = format!(
            "[databases]\n{db} = host={} port={} dbname={db} user={user}{password}\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = any\n\
             pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 8\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\nunix_socket_dir =\n",
            upstream.ip(),
            upstream.port(),
            dir = dir.display(),
        );
        std::fs::File::create(dir.join("pgbouncer.ini"))
            .and_then(|mut f| f.write_all(config.as_bytes()))
            .ok()?;
        // pgbouncer refuses to run as root: it switches to `nobody`, who must reach its files
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        if as_root {
            let _ = Command::new("chmod").args(["-R", "a+rwx"]).arg(&dir).status();
        }
        let mut command = Command::new(binary);
        if as_root {
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg(dir.join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not start: {}",
                std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(PgBouncer {
            address,
            child: Mutex::new(child),
            dir,
        })
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (user, password, database) of a `postgres://` URL.
fn credentials(url: &str) -> Option<(String, String, String)> {
    let rest = url.split_once("://")?.1;
    let (userinfo, host_path) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let db = host_path
        .split_once('/')
        .map_or("postgres", |(_, d)| d.split('?').next().unwrap_or("postgres"));
    Some((user.to_owned(), password.to_owned(), db.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_and_redirected() {
        let url = "postgres://u:p@localhost:5433/db?sslmode=disable";
        assert_eq!(address_of(url), Some("127.0.0.1:5433".parse().unwrap()));
        assert_eq!(
            via(url, "127.0.0.1:7000".parse().unwrap()),
            "postgres://u:p@127.0.0.1:7000/db?sslmode=disable"
        );
        assert_eq!(credentials(url), Some(("u".into(), "p".into(), "db".into())));
        assert_eq!(redact(url), "postgres://…@localhost:5433/db?sslmode=disable");
        assert_eq!(
            address_of("postgres://127.0.0.1/test"),
            Some("127.0.0.1:5432".parse().unwrap())
        );
    }
}
