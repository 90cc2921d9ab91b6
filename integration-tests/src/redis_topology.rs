//! Real Redis topologies for failover tests, on loopback ports of the test's own: a Redis
//! Cluster of three masters and three replicas ([`RedisCluster`]), and a master with two
//! replicas watched by three Sentinels ([`RedisSentinel`]). A test can crash a node
//! (SIGKILL), restart it, wait for the failover and move a slot. Missing `redis-server` (or
//! `redis-cli`, which creates the cluster): a loud skip on a developer machine, a failure in
//! CI, as for [`RedisServer`](crate::RedisServer).
//!
//! Each node runs from a `redis.conf` in a directory of its own (the Sentinels rewrite
//! theirs, and the data nodes' when they reconfigure them). The settings trade production
//! safety for quick, predictable failovers:
//! - `cluster-node-timeout 1000`, `down-after-milliseconds 1000`: a crashed master is
//!   replaced in 2–3 s (Redis 7.0, measured by hand with these settings).
//! - `cluster-replica-validity-factor 0`: a replica may always be promoted, however long
//!   ago it last heard from its master; `cluster-allow-reads-when-down no`: a cluster that
//!   lost a master answers nothing until the failover, as in production.
//! - `repl-diskless-sync-delay 0`: a replica (or a restarted node) syncs at once instead of
//!   waiting Redis 7's default 5 s for more replicas to share the transfer.
//! - `save ""`, `appendonly no`: a restarted node comes back empty and copies its master;
//!   only `nodes.conf` and the configuration files survive a restart.
//! - Ports come from 10000–22767, so the cluster bus ports (port + 10000) stay below the
//!   ephemeral range outgoing connections use; a process-wide counter keeps the tests of
//!   one process apart, and each port (and bus port) is checked free by binding it.

use std::{
    collections::HashMap,
    ffi::OsString,
    net::TcpListener,
    ops::Range,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex, PoisonError, Weak,
    },
    thread::sleep,
    time::{Duration, Instant},
};

use distributed_session::redis::redis;

/// The topology in `slot` while some test holds it, else a new one from `start`.
fn shared<T>(slot: &Mutex<Weak<T>>, start: impl FnOnce() -> Option<T>) -> Option<Arc<T>> {
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(running) = slot.upgrade() {
        return Some(running);
    }
    let started = Arc::new(start()?);
    *slot = Arc::downgrade(&started);
    Some(started)
}

use crate::redis_server::in_ci;

const LOG: &str = "redis.log";
const POLL: Duration = Duration::from_millis(25);
const FIRST_PORT: u32 = 10_000;
const PORT_SPAN: u32 = 12_768;
const BUS_OFFSET: u16 = 10_000;
const CLUSTER_OK: &str = "cluster_state:ok cluster_slots_assigned:16384 cluster_known_nodes:6";

/// What every data node runs with; cluster nodes add [`CLUSTER_CONF`].
const DATA_CONF: &str = "save \"\"\nappendonly no\nrepl-diskless-sync yes\nrepl-diskless-sync-delay 0\n";
const CLUSTER_CONF: &str = "cluster-enabled yes\ncluster-config-file nodes.conf\n\
    cluster-node-timeout 1000\ncluster-replica-validity-factor 0\ncluster-allow-reads-when-down no\n";

/// `INFO commandstats` entries that are no client request: the commands our Lua scripts
/// run inside Redis (`RedisServer::round_trips`' list, plus `hincrby`), also as replicas
/// run them from their master's stream (which turns `PEXPIRE` into `PEXPIREAT` and may
/// expire keys with `UNLINK`); and housekeeping: these helpers' inspection and resharding,
/// connection setup, replication (`SELECT`, `MULTI`/`EXEC` around a script's writes), the
/// Sentinels' monitoring and reconfiguration, and the `WAIT` the store pipelines behind a
/// commit (the same round trip).
const NOT_REQUESTS: &str =
    "get hget hmget set hset hincrby hdel del exists pexpire persist time pttl pexpireat unlink \
    info cluster ping script client hello auth select readonly readwrite asking multi exec psync sync \
    replconf publish subscribe slaveof replicaof config role migrate restore-asking command wait";

/// PEM of a TLS set-up: a CA, and a certificate and key for 127.0.0.1 it signed. Every
/// node then also listens for TLS on a port of its own (the plain ports stay, for the
/// helpers here), and talks TLS to the other nodes (cluster bus, replication, Sentinel).
#[derive(Debug, Clone, Copy)]
pub struct Tls<'a> {
    pub ca: &'a str,
    pub cert: &'a str,
    pub key: &'a str,
}

impl Tls<'_> {
    /// Writes the files into `dir`; the configuration lines for a node on `port`.
    fn conf(&self, dir: &Path, port: u16) -> String {
        for (name, pem) in [
            ("ca.pem", self.ca),
            ("cert.pem", self.cert),
            ("key.pem", self.key),
        ] {
            std::fs::write(dir.join(name), pem).expect("writing a TLS file");
        }
        let file = |name: &str| dir.join(name).display().to_string();
        format!(
            "tls-port {port}\ntls-cert-file \"{}\"\ntls-key-file \"{}\"\ntls-ca-cert-file \"{}\"\n\
             tls-auth-clients no\ntls-replication yes\ntls-cluster yes\n",
            file("cert.pem"),
            file("key.pem"),
            file("ca.pem")
        )
    }
}

/// A Redis Cluster of six nodes (three masters with a replica each) on loopback.
pub struct RedisCluster {
    nodes: Nodes,
    /// The nodes' TLS ports, if started with TLS.
    tls_ports: Vec<u16>,
}

impl RedisCluster {
    /// A cluster shared by the tests of this process that run at the same time and only
    /// read and write sessions through it (the last one to finish stops it); a test that
    /// kills nodes, moves slots, flushes or counts commands starts its own.
    pub fn shared() -> Option<Arc<RedisCluster>> {
        static SHARED: Mutex<Weak<RedisCluster>> = Mutex::new(Weak::new());
        shared(&SHARED, RedisCluster::start)
    }

    /// Starts six cluster-enabled servers, joins them with `redis-cli --cluster create` and
    /// waits until every node says `cluster_state:ok` with all 16384 slots assigned and
    /// every replica is in sync. `None` after a loud message if `redis-server` or
    /// `redis-cli` is not installed (panics instead when `CI` is set).
    pub fn start() -> Option<RedisCluster> {
        Self::start_inner(None)
    }

    /// [`start`](Self::start), with every node also on a TLS port (see [`Tls`]).
    pub fn start_with_tls(tls: Tls<'_>) -> Option<RedisCluster> {
        Self::start_inner(Some(tls))
    }

    fn start_inner(tls: Option<Tls<'_>>) -> Option<RedisCluster> {
        if !installed("Redis Cluster", &["redis-server", "redis-cli"]) {
            return None;
        }
        let ports = free_ports(if tls.is_some() { 12 } else { 6 }, true);
        let mut nodes = Nodes::new("cluster", &ports[..6]);
        let mut tls_ports = Vec::new();
        for i in 0..6 {
            let extra = match tls {
                Some(tls) => {
                    tls_ports.push(ports[6 + i]);
                    tls.conf(&nodes.dir, ports[6 + i])
                }
                None => String::new(),
            };
            nodes.add(i..i + 1, &format!("{DATA_CONF}{CLUSTER_CONF}{extra}"), false);
        }
        // with TLS, the cluster bus of a node is its TLS port + 10000: the nodes must meet
        // on their TLS ports, so redis-cli speaks TLS to them
        let mut create = Command::new(tool("redis-cli").expect("redis-cli"));
        match tls {
            Some(_) => {
                let ca = nodes.dir.join("ca.pem");
                create
                    .arg("--tls")
                    .arg("--cacert")
                    .arg(ca)
                    .args(["--cluster", "create"]);
                create.args(tls_ports.iter().map(|port| format!("127.0.0.1:{port}")));
            }
            None => {
                create
                    .args(["--cluster", "create"])
                    .args(nodes.all.iter().map(Node::addr));
            }
        }
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        run_bounded(&mut create, "redis-cli --cluster create", &nodes.dir);
        let cluster = RedisCluster { nodes, tls_ports };
        wait_until(20, "the cluster to be ok on all six nodes", || cluster.ready());
        Some(cluster)
    }

    fn ready(&self) -> Result<(), String> {
        for node in &self.nodes.all {
            let info: String = query(node.port, redis::cmd("CLUSTER").arg("INFO"))?;
            for want in CLUSTER_OK.split(' ') {
                if !has_line(&info, want) {
                    return Err(format!("{} has no {want}", node.addr()));
                }
            }
            node.in_sync()?;
        }
        Ok(())
    }

    /// `redis://127.0.0.1:<port>` of every node, killed ones included.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.all.iter().map(Node::url).collect()
    }

    /// `rediss://127.0.0.1:<TLS port>` of every node of a cluster started with TLS.
    pub fn tls_seed_urls(&self) -> Vec<String> {
        self.tls_ports
            .iter()
            .map(|port| format!("rediss://127.0.0.1:{port}"))
            .collect()
    }

    /// [`seed_urls`](Self::seed_urls), comma-separated.
    pub fn urls_joined(&self) -> String {
        self.seed_urls().join(",")
    }

    /// The node that is master of `key`'s slot, as the first running node asked sees it.
    pub fn master_of_key(&self, key: &str) -> usize {
        let slot = self.slot_of(key);
        let view: String = self.ask_any(redis::cmd("CLUSTER").arg("NODES"));
        let owner = NodeLine::all(&view).find(|line| line.is_master() && line.serves(slot));
        owner
            .and_then(|line| self.index_of(line.port))
            .unwrap_or_else(|| panic!("no master serves slot {slot} of {key:?}:\n{view}"))
    }

    /// Crashes a node: SIGKILL, no chance to tell the others.
    pub fn kill(&mut self, node: usize) {
        self.nodes.all[node].kill();
    }

    /// Starts a killed node again on its port, directory and `nodes.conf`, and waits until it
    /// answers PING. A master killed and failed over rejoins as a replica of its successor
    /// (restart it only after [`wait_for_new_master`](Self::wait_for_new_master): before the
    /// failover it would serve its slots again, empty).
    pub fn restart(&mut self, node: usize) {
        self.nodes.all[node].start();
    }

    /// Polls the running nodes other than `old` until one of them says it is master of
    /// `key`'s slot and its `cluster_state` is ok: that node and when it was first seen.
    pub fn wait_for_new_master(&self, key: &str, old: usize, within: Duration) -> Option<(usize, Instant)> {
        let slot = self.slot_of(key);
        let claims = |port: u16| -> Result<bool, String> {
            let info: String = query(port, redis::cmd("CLUSTER").arg("INFO"))?;
            let view: String = query(port, redis::cmd("CLUSTER").arg("NODES"))?;
            let mut mine = NodeLine::all(&view).filter(|line| line.has_flag("myself"));
            Ok(has_line(&info, "cluster_state:ok") && mine.any(|line| line.is_master() && line.serves(slot)))
        };
        let new =
            |(i, node): &(usize, &Node)| *i != old && node.running() && claims(node.port).unwrap_or(false);
        poll(within, || {
            self.nodes.all.iter().enumerate().find(new).map(|(i, _)| i)
        })
    }

    /// Moves `key`'s slot, with its keys, from its master to another master the way an
    /// operator does: `redis-cli --cluster reshard` (which sets the slots `IMPORTING` and
    /// `MIGRATING`, `MIGRATE`s their keys in batches while clients get `ASK` for the keys
    /// already moved, then `SETSLOT NODE`). It moves the source's lowest slots first, so it
    /// is asked for as many as it takes to reach `key`'s slot. Then waits until every
    /// running node sees the new owner. Returns (from, to).
    pub fn reshard_slot_of(&self, key: &str) -> (usize, usize) {
        let slot = self.slot_of(key);
        let from = self.master_of_key(key);
        let src = self.nodes.all[from].port;
        let view: String = query(src, redis::cmd("CLUSTER").arg("NODES")).expect("CLUSTER NODES");
        let masters: Vec<NodeLine<'_>> = NodeLine::all(&view)
            .filter(|line| line.is_master() && !line.slots.is_empty())
            .filter(|line| {
                self.index_of(line.port)
                    .is_some_and(|i| self.nodes.all[i].running())
            })
            .collect();
        let source = masters
            .iter()
            .find(|m| m.port == src)
            .expect("the source among the masters");
        let target = masters
            .iter()
            .find(|m| m.port != src)
            .expect("a second running master");
        let to = self.index_of(target.port).expect("a node of this cluster");
        let (src_id, dst_id) = (source.id, target.id);
        let below = source.slots_below(slot);
        let mut reshard = Command::new(tool("redis-cli").expect("redis-cli"));
        reshard
            .args(["--cluster", "reshard", &self.nodes.all[from].addr()])
            .args(["--cluster-from", src_id, "--cluster-to", dst_id])
            .args(["--cluster-slots", &(below + 1).to_string(), "--cluster-yes"]);
        run_bounded(&mut reshard, "redis-cli --cluster reshard", &self.nodes.dir);
        wait_until(10, "every node to see the moved slot", || {
            for node in self.nodes.running() {
                let view: String = query(node.port, redis::cmd("CLUSTER").arg("NODES"))?;
                if !NodeLine::all(&view).any(|line| line.id == dst_id && line.serves(slot)) {
                    return Err(format!("{} sees slot {slot} elsewhere still", node.addr()));
                }
            }
            Ok(())
        });
        (from, to)
    }

    /// A plain (not cluster-aware) connection to one node, for inspecting it.
    pub fn connection_to(&self, node: usize) -> redis::RedisResult<redis::Connection> {
        connect(self.nodes.all[node].port)
    }

    /// Requests clients have sent the running nodes: every command in `INFO commandstats`
    /// but those our Lua scripts run inside Redis and housekeeping (inspection, resharding,
    /// replication), so each EVALSHA counts once, and the writes a replica takes from its
    /// master not at all. A killed node's count is lost with it.
    pub fn round_trips(&self) -> u64 {
        round_trips_of(&self.nodes.all)
    }

    fn slot_of(&self, key: &str) -> u16 {
        self.ask_any(redis::cmd("CLUSTER").arg(("KEYSLOT", key)))
    }

    /// `cmd`'s answer from the first running node that answers.
    fn ask_any<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let mut why = String::from("no node is running");
        for node in self.nodes.running() {
            match query(node.port, cmd) {
                Ok(answer) => return answer,
                Err(error) => why = error,
            }
        }
        panic!("no cluster node answers: {why}")
    }

    fn index_of(&self, port: u16) -> Option<usize> {
        self.nodes.all.iter().position(|node| node.port == port)
    }
}

/// A master and two replicas on loopback, watched by three Sentinels (quorum 2).
pub struct RedisSentinel {
    name: String,
    /// The three data nodes (the first started as master), then the three Sentinels.
    nodes: Nodes,
    /// Their TLS ports, in the same order, if started with TLS.
    tls_ports: Vec<u16>,
}

impl RedisSentinel {
    /// A Sentinel set-up (master name `mymaster`) shared as [`RedisCluster::shared`] is.
    pub fn shared() -> Option<Arc<RedisSentinel>> {
        static SHARED: Mutex<Weak<RedisSentinel>> = Mutex::new(Weak::new());
        shared(&SHARED, || RedisSentinel::start("mymaster"))
    }

    /// Starts the master and its two replicas and waits until both are in sync, then three
    /// Sentinels monitoring the master as `master_name`, and waits until each of them names
    /// that master and knows both replicas and the two other Sentinels. `None` after a loud
    /// message if `redis-server` is not installed (panics instead when `CI` is set).
    pub fn start(master_name: &str) -> Option<RedisSentinel> {
        let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        let name_ok = !master_name.is_empty() && master_name.chars().all(plain);
        assert!(
            name_ok,
            "a master name of letters, digits, '-', '_' and '.': {master_name:?}"
        );
        Self::start_inner(master_name, None)
    }

    /// [`start`](Self::start), with every node also on a TLS port (see [`Tls`]); the
    /// sentinels watch the master, and replicas copy it, over TLS.
    pub fn start_with_tls(master_name: &str, tls: Tls<'_>) -> Option<RedisSentinel> {
        Self::start_inner(master_name, Some(tls))
    }

    fn start_inner(master_name: &str, tls: Option<Tls<'_>>) -> Option<RedisSentinel> {
        if !installed("Redis Sentinel", &["redis-server"]) {
            return None;
        }
        let ports = free_ports(if tls.is_some() { 12 } else { 6 }, false);
        let tls_ports = if tls.is_some() {
            ports[6..].to_vec()
        } else {
            Vec::new()
        };
        let mut nodes = Nodes::new("sentinel", &ports[..6]);
        let tls_conf = |i: usize| {
            tls.map(|tls| tls.conf(&nodes.dir, tls_ports[i]))
                .unwrap_or_default()
        };
        // the port the others reach the master on: its TLS port, with TLS
        let master = tls_ports.first().copied().unwrap_or(ports[0]);
        let confs: Vec<String> = (0..6).map(tls_conf).collect();
        nodes.add(0..1, &format!("{DATA_CONF}{}", confs[0]), false);
        for (i, tls) in confs.iter().enumerate().take(3).skip(1) {
            let conf = format!("{DATA_CONF}replicaof 127.0.0.1 {master}\n{tls}");
            nodes.add(i..i + 1, &conf, false);
        }
        wait_until(10, "both replicas to sync", || {
            nodes.all.iter().try_for_each(Node::in_sync)
        });
        let watch = format!(
            "sentinel resolve-hostnames no\nsentinel monitor {master_name} 127.0.0.1 {master} 2\n\
             sentinel down-after-milliseconds {master_name} 1000\n\
             sentinel failover-timeout {master_name} 5000\nsentinel parallel-syncs {master_name} 1\n"
        );
        for (i, tls) in confs.iter().enumerate().skip(3) {
            nodes.add(i..i + 1, &format!("{watch}{tls}"), true);
        }
        let setup = RedisSentinel {
            name: master_name.to_owned(),
            nodes,
            tls_ports,
        };
        wait_until(20, "the Sentinels to know the setup", || setup.ready(master));
        Some(setup)
    }

    fn ready(&self, master: u16) -> Result<(), String> {
        for sentinel in self.sentinels() {
            let port = sentinel.port;
            let addr: Option<(String, u16)> = query(port, &self.addr_cmd())?;
            if addr.as_ref().map(|(_, p)| *p) != Some(master) {
                return Err(format!("Sentinel {port} names master {addr:?}"));
            }
            let cmd = redis::cmd("SENTINEL").arg(("master", &self.name)).clone();
            let fields: HashMap<String, String> = query(port, &cmd)?;
            for (field, want) in [
                ("flags", "master"),
                ("num-slaves", "2"),
                ("num-other-sentinels", "2"),
            ] {
                let got = fields.get(field).map(String::as_str);
                if got != Some(want) {
                    return Err(format!("Sentinel {port}: {field} is {got:?}, not {want}"));
                }
            }
        }
        Ok(())
    }

    /// `redis://127.0.0.1:<port>` of each Sentinel.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels().iter().map(Node::url).collect()
    }

    /// `rediss://127.0.0.1:<TLS port>` of each Sentinel of a set-up started with TLS.
    pub fn tls_sentinel_urls(&self) -> Vec<String> {
        self.tls_ports[3..]
            .iter()
            .map(|port| format!("rediss://127.0.0.1:{port}"))
            .collect()
    }

    /// [`sentinel_urls`](Self::sentinel_urls), comma-separated.
    pub fn sentinel_urls_joined(&self) -> String {
        self.sentinel_urls().join(",")
    }

    /// The name the Sentinels monitor the master under.
    pub fn master_name(&self) -> &str {
        &self.name
    }

    /// `redis://127.0.0.1:<port>` of each data node (master and replicas, killed ones too).
    pub fn data_urls(&self) -> Vec<String> {
        self.data().iter().map(Node::url).collect()
    }

    /// The port of the current master, as the first Sentinel that answers names it.
    pub fn master_port(&self) -> u16 {
        let first = self.master_addrs().next();
        first.unwrap_or_else(|| panic!("no Sentinel names a master for {:?}", self.name))
    }

    /// Crashes the current master (SIGKILL); returns its index among the data nodes.
    pub fn kill_master(&mut self) -> usize {
        let port = self.master_port();
        let index = self
            .data()
            .iter()
            .position(|node| node.port == port && node.running());
        let index = index.unwrap_or_else(|| panic!("the master the Sentinels name, {port}, is not running"));
        self.nodes.all[index].kill();
        index
    }

    /// Starts a killed data node again on its port and configuration file, and waits until
    /// it answers PING. A crashed replica comes back as a replica (of the master the
    /// Sentinels last wrote into its file); a crashed master comes back as a master, until
    /// the Sentinels make it a replica of its successor about 10 s later (their fixed INFO
    /// and hello periods; 10.1–10.6 s by hand).
    pub fn restart(&mut self, node: usize) {
        assert!(node < 3, "data nodes are 0, 1 and 2");
        self.nodes.all[node].start();
    }

    /// Polls the Sentinels until one names a master other than `old_port` and that node
    /// answers `ROLE` as master: its port and when it was first seen.
    pub fn wait_for_new_master(&self, old_port: u16, within: Duration) -> Option<(u16, Instant)> {
        let is_master = |port: u16| {
            let role: Vec<redis::Value> = query(port, &redis::cmd("ROLE")).unwrap_or_default();
            let role = role
                .first()
                .and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
            role.is_some_and(|role| role == "master")
        };
        poll(within, || {
            self.master_addrs()
                .find(|&port| port != old_port && is_master(port))
        })
    }

    /// Requests clients have sent the running data nodes, counted as
    /// [`RedisCluster::round_trips`] does (the Sentinels' monitoring left out too). A killed
    /// node's count is lost with it.
    pub fn round_trips(&self) -> u64 {
        round_trips_of(self.data())
    }

    fn data(&self) -> &[Node] {
        &self.nodes.all[..3]
    }

    fn sentinels(&self) -> &[Node] {
        &self.nodes.all[3..]
    }

    fn addr_cmd(&self) -> redis::Cmd {
        redis::cmd("SENTINEL")
            .arg(("get-master-addr-by-name", &self.name))
            .clone()
    }

    /// The master port each running Sentinel that answers names, lazily.
    fn master_addrs(&self) -> impl Iterator<Item = u16> + '_ {
        let cmd = self.addr_cmd();
        let live = self.sentinels().iter().filter(|node| node.running());
        live.filter_map(move |node| {
            let addr: Option<(String, u16)> = query(node.port, &cmd).ok()?;
            addr.map(|(_, port)| port)
        })
    }
}

/// A topology's nodes, in a directory of their own under the temporary directory; all
/// killed and the directory removed on drop.
struct Nodes {
    dir: PathBuf,
    ports: Vec<u16>,
    all: Vec<Node>,
}

impl Nodes {
    fn new(kind: &str, ports: &[u16]) -> Nodes {
        let name = format!("ds-redis-{kind}-{}-{}", std::process::id(), ports[0]);
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a redis topology directory");
        let (ports, all) = (ports.to_vec(), Vec::new());
        Nodes { dir, ports, all }
    }

    /// Creates and starts the nodes on `ports[range]`, one by one (see [`Node::new`]).
    fn add(&mut self, range: Range<usize>, conf: &str, sentinel: bool) {
        for i in range {
            let mut node = Node::new(&self.dir, self.ports[i], conf, sentinel);
            node.start();
            self.all.push(node);
        }
    }

    fn running(&self) -> impl Iterator<Item = &Node> {
        self.all.iter().filter(|node| node.running())
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.all.iter_mut().for_each(Node::kill);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One `redis-server` process, with what it takes to start it again alike.
struct Node {
    port: u16,
    dir: PathBuf,
    args: Vec<OsString>,
    child: Option<Child>,
}

impl Node {
    /// A node in `<topology>/<port>/`, whose `redis.conf` is its port, address, directory
    /// and log file, then `conf`; a Sentinel if `sentinel`.
    fn new(topology: &Path, port: u16, conf: &str, sentinel: bool) -> Node {
        let dir = topology.join(port.to_string());
        std::fs::create_dir_all(&dir).expect("a redis node directory");
        let file = dir.join("redis.conf");
        let head = format!(
            "port {port}\nbind 127.0.0.1\ndir \"{}\"\nlogfile {LOG}\n",
            dir.display()
        );
        std::fs::write(&file, head + conf).expect("writing redis.conf");
        let mut args = vec![file.into_os_string()];
        if sentinel {
            args.push("--sentinel".into());
        }
        let child = None;
        Node {
            port,
            dir,
            args,
            child,
        }
    }

    /// Starts the process and waits until it answers PING (panics after 10 s, with its log).
    fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.addr());
        let mut child = Command::new(tool("redis-server").expect("redis-server"))
            .args(&self.args)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            if query::<String>(self.port, &redis::cmd("PING")).is_ok() {
                self.child = Some(child);
                return;
            }
            sleep(POLL);
        }
        let _ = child.kill();
        let stderr = child.wait_with_output().map(|out| out.stderr).unwrap_or_default();
        let (addr, log) = (self.addr(), self.log_tail());
        panic!(
            "redis-server on {addr} did not come up: {}\n{log}",
            String::from_utf8_lossy(&stderr)
        );
    }

    /// SIGKILL, if running.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn running(&self) -> bool {
        self.child.is_some()
    }

    /// A replica whose link to its master is not up yet is not in sync; anything else is.
    fn in_sync(&self) -> Result<(), String> {
        let replication: String = query(self.port, redis::cmd("INFO").arg("replication"))?;
        if has_line(&replication, "role:slave") && !has_line(&replication, "master_link_status:up") {
            return Err(format!("replica {} is not in sync yet", self.addr()));
        }
        Ok(())
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join(LOG)).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

/// One line of `CLUSTER NODES`: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch>
/// <link> <slot ranges...>`.
struct NodeLine<'a> {
    id: &'a str,
    port: u16,
    flags: &'a str,
    slots: Vec<&'a str>,
}

impl<'a> NodeLine<'a> {
    fn all(text: &'a str) -> impl Iterator<Item = NodeLine<'a>> {
        text.lines().filter_map(NodeLine::parse)
    }

    fn parse(line: &'a str) -> Option<NodeLine<'a>> {
        let mut fields = line.split_whitespace();
        let id = fields.next()?;
        let (addr, _bus) = fields.next()?.split_once('@')?;
        let port = addr.rsplit_once(':')?.1.parse().ok()?;
        let flags = fields.next()?;
        let slots = fields.skip(5).collect();
        Some(NodeLine {
            id,
            port,
            flags,
            slots,
        })
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.flags.split(',').any(|f| f == flag)
    }

    /// A master not marked failed by consensus.
    fn is_master(&self) -> bool {
        self.has_flag("master") && !self.has_flag("fail")
    }

    /// How many of its slots are below `slot`.
    fn slots_below(&self, slot: u16) -> usize {
        let below = |(low, high): (u16, u16)| match slot.checked_sub(1) {
            Some(last) if last >= low => usize::from(high.min(last) - low) + 1,
            _ => 0,
        };
        self.ranges().map(below).sum()
    }

    /// Its slot ranges (not counting `[slot->-id]` migrations).
    fn ranges(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.slots.iter().filter_map(|&range| {
            let (low, high) = range.split_once('-').unwrap_or((range, range));
            Some((low.parse::<u16>().ok()?, high.parse::<u16>().ok()?))
        })
    }

    /// Whether `slot` is in one of its ranges (not counting `[slot->-id]` migrations).
    fn serves(&self, slot: u16) -> bool {
        self.ranges().any(|(low, high)| (low..=high).contains(&slot))
    }
}

/// The requests clients have sent the running `nodes` (see [`NOT_REQUESTS`]).
fn round_trips_of(nodes: &[Node]) -> u64 {
    let mut sum = 0;
    for node in nodes.iter().filter(|node| node.running()) {
        let stats: String =
            query(node.port, redis::cmd("INFO").arg("commandstats")).expect("INFO commandstats");
        sum += stats
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let command = name.split('|').next()?;
                let (calls, _) = rest.strip_prefix("calls=")?.split_once(',')?;
                let calls: u64 = calls.parse().ok()?;
                (!NOT_REQUESTS.split_whitespace().any(|c| c == command)).then_some(calls)
            })
            .sum::<u64>();
    }
    sum
}

/// A connection to the node on `port` (1 s to connect, 10 s per reply).
fn connect(port: u16) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(conn)
}

/// `cmd` on a fresh connection to the node on `port`; the error names the node.
fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Result<T, String> {
    let answer = connect(port).and_then(|mut conn| cmd.query(&mut conn));
    answer.map_err(|error| format!("127.0.0.1:{port}: {error}"))
}

fn has_line(text: &str, want: &str) -> bool {
    text.lines().any(|line| line.trim() == want)
}

/// Calls `look` every [`POLL`] until it finds something, for at most `within`: what it
/// found and when.
fn poll<T>(within: Duration, mut look: impl FnMut() -> Option<T>) -> Option<(T, Instant)> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = look() {
            return Some((found, Instant::now()));
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL);
    }
}

/// Polls `check` until it holds; after `secs` seconds, panics naming `what` and the last
/// reason it gave.
fn wait_until(secs: u64, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let mut why = String::new();
    if poll(Duration::from_secs(secs), || check().map_err(|e| why = e).ok()).is_none() {
        panic!("timed out after {secs} s waiting for {what}: {why}");
    }
}

/// `name` found on `PATH`.
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether all `tools` are installed; if not, a loud skip of the `what` tests on a
/// developer machine, a panic in CI.
fn installed(what: &str, tools: &[&str]) -> bool {
    let Some(missing) = tools.iter().find(|name| tool(name).is_none()) else {
        return true;
    };
    if in_ci() {
        panic!("{missing} not installed, and CI must run the {what} tests (.ci/run installs it)");
    }
    crate::loud(&format!(
        "SKIPPED: {missing} not installed; the {what} tests did not run"
    ));
    false
}

/// `n` loopback ports nobody listens on (nor, if `bus`, on `port + 10000`), from
/// [`FIRST_PORT`], spread by process id and never handed out twice in one process.
/// Runs `command` to its end, or kills it after 60 s; panics with the end of what it said
/// (kept in `dir`: a pipe nobody reads while waiting would stall it) unless it succeeded.
fn run_bounded(command: &mut Command, what: &str, dir: &Path) {
    let log = dir.join("redis-cli.out");
    let file = std::fs::File::create(&log).expect("a redis-cli log file");
    let err = file.try_clone().expect("a redis-cli log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("running {what}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => sleep(POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: String = said
        .chars()
        .skip(said.chars().count().saturating_sub(2000))
        .collect();
    match status {
        Some(status) => assert!(status.success(), "{what}: {status}: ...{tail}"),
        None => panic!("{what} did not finish within 60 s: ...{tail}"),
    }
}

fn free_ports(n: usize, bus: bool) -> Vec<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
    let base = std::process::id().wrapping_mul(7919);
    let mut ports = Vec::with_capacity(n);
    for _ in 0..PORT_SPAN {
        let offset = base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % PORT_SPAN;
        let port = (FIRST_PORT + offset) as u16;
        if free(port) && (!bus || free(port + BUS_OFFSET)) {
            ports.push(port);
            if ports.len() == n {
                return ports;
            }
        }
    }
    panic!("fewer than {n} free loopback ports from {FIRST_PORT}")
}
