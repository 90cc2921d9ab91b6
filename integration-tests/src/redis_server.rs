//! A real `redis-server` per test, on a free loopback port, that the test can stop and
//! restart. Missing `redis-server`: a loud skip on a developer machine, a failure in CI.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use distributed_session::redis::redis;

/// A running (or stopped) `redis-server` owned by a test, or an external Redis named by
/// `SESSION_TEST_REDIS` (docker-compose) for tests that only need a server to share.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    persistent: bool,
    child: Option<Child>,
    external: Option<String>,
    /// A TLS port beside the plain one, with `cert.pem`, `key.pem` and `ca.pem` in `dir`.
    tls_port: Option<u16>,
}

/// The external Redis named by `SESSION_TEST_REDIS`, if any.
fn external_url() -> Option<String> {
    std::env::var("SESSION_TEST_REDIS").ok().filter(|v| !v.is_empty())
}

fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

/// Whether this run must not skip (CI sets `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

impl RedisServer {
    /// Starts a server, or returns `None` after a loud message if `redis-server` is not
    /// installed (panics instead when `CI` is set). `persistent`: append-only file with
    /// fsync on every write, so a restart loses no acknowledged write.
    pub fn start(persistent: bool) -> Option<RedisServer> {
        Self::start_own(persistent)
    }

    /// The external Redis of `SESSION_TEST_REDIS` if set, else a server of this test's
    /// own: for tests that neither count its commands nor stop it.
    pub fn shared() -> Option<RedisServer> {
        match external_url() {
            Some(url) => Some(RedisServer {
                port: 0,
                dir: PathBuf::new(),
                persistent: false,
                child: None,
                external: Some(url),
                tls_port: None,
            }),
            None => Self::start_own(false),
        }
    }

    /// Starts a server of this test's own that also listens for TLS (see
    /// [`tls_url`](Self::tls_url)) with this certificate, key and CA, all PEM.
    pub fn start_with_tls(cert: &str, key: &str, ca: &str) -> Option<RedisServer> {
        let mut server = Self::start_own(false)?;
        server.stop();
        for (name, pem) in [("cert.pem", cert), ("key.pem", key), ("ca.pem", ca)] {
            std::fs::write(server.dir.join(name), pem).expect("writing a TLS file");
        }
        server.tls_port = Some(free_port());
        if let Err(why) = server.try_restart() {
            if in_ci() {
                panic!("redis-server did not start with TLS: {why}");
            }
            crate::loud(&format!(
                "SKIPPED: redis-server did not start with TLS (built without it?); the Redis TLS tests did not run: {why}"
            ));
            return None;
        }
        Some(server)
    }

    /// `rediss://127.0.0.1:<tls port>` of a server started with TLS.
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.tls_port.expect("started with TLS"))
    }

    fn start_own(persistent: bool) -> Option<RedisServer> {
        let Some(_) = binary() else {
            if in_ci() {
                panic!(
                    "redis-server is not installed, and CI must run the Redis tests (.ci/run installs it)"
                );
            }
            crate::loud("SKIPPED: redis-server is not installed; the Redis tests did not run");
            return None;
        };
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ds-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis data dir");
        let mut server = RedisServer {
            port,
            dir,
            persistent,
            child: None,
            external: None,
            tls_port: None,
        };
        server.restart();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        match &self.external {
            Some(url) => url.clone(),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// (Re)starts the server on the same port and data directory; waits until it answers.
    pub fn restart(&mut self) {
        if let Err(why) = self.try_restart() {
            panic!("{why}");
        }
    }

    fn try_restart(&mut self) -> Result<(), String> {
        assert!(self.external.is_none(), "an external Redis cannot be restarted");
        assert!(self.child.is_none(), "already running");
        let appendonly = if self.persistent { "yes" } else { "no" };
        let child = Command::new(binary().expect("redis-server"))
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args([
                "--appendonly",
                appendonly,
                "--appendfsync",
                "always",
                "--daemonize",
                "no",
            ])
            .args(self.tls_port.iter().flat_map(|port| {
                [
                    "--tls-port".to_owned(),
                    port.to_string(),
                    "--tls-cert-file".to_owned(),
                    "cert.pem".to_owned(),
                    "--tls-key-file".to_owned(),
                    "key.pem".to_owned(),
                    "--tls-ca-cert-file".to_owned(),
                    "ca.pem".to_owned(),
                    "--tls-auth-clients".to_owned(),
                    "no".to_owned(),
                ]
            }))
            .current_dir(&self.dir)
            .arg("--dir")
            .arg(&self.dir)
            .args(["--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self
                .connection()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                    }
                    self.child = None;
                    return Err(format!("redis-server exited ({status}): {}", stderr.trim()));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("redis-server on port {} did not come up", self.port))
    }

    /// Stops the server the way an operator would (SIGTERM: it flushes its AOF).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, like a
    /// host that went away without a word.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a [`pause`](Self::pause)d server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running server of this test's own");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// A plain connection, for inspecting the server.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(self.url())?;
        client.get_connection_with_timeout(Duration::from_secs(1))
    }

    /// Requests clients have sent so far: every command in `INFO commandstats` except
    /// those our Lua scripts run inside Redis (and `INFO` itself, and the recall
    /// subscription's `SUBSCRIBE` and `PING`), so each EVALSHA counts once, however many
    /// commands its script runs.
    pub fn round_trips(&self) -> u64 {
        const IN_SCRIPTS: [&str; 17] = [
            "get",
            "hget",
            "hmget",
            "set",
            "hset",
            "hincrby",
            "hdel",
            "del",
            "exists",
            "pexpire",
            "persist",
            "time",
            "pttl",
            "info",
            "publish",
            "subscribe",
            "ping",
        ];
        let mut conn = self.connection().expect("connection");
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut conn)
            .expect("INFO");
        stats
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = rest
                    .strip_prefix("calls=")?
                    .split(',')
                    .next()?
                    .parse::<u64>()
                    .ok()?;
                (!IN_SCRIPTS.contains(&name)).then_some(calls)
            })
            .sum()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.external.is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
