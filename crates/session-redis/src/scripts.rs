//! The Lua scripts: every store operation is ONE round trip (`EVALSHA`, loaded again
//! when the server answers `NOSCRIPT` after a restart).
//!
//! Redis runs each `redis.call` inside a script like a command of its own (lookup,
//! timing, reply conversion), so the scripts make as few as they can: the key TTL of a
//! write is computed by the client ([`ttl_ms`](crate::keys::ttl_ms)) and sent as an
//! argument, and only the refresh scripts read the stored expiry back.
//!
//! Tick arithmetic in the refresh scripts happens in Lua numbers (doubles): absolute
//! times (~6.4e17 ticks) lose precision below 13 µs, far under the millisecond TTLs set
//! from them.

use std::sync::LazyLock;

use redis::{Cmd, Script, ToRedisArgs};

use crate::keys::KeyName;

/// A script: its source and SHA1, for `EVALSHA` and its `SCRIPT LOAD` fallback.
pub(crate) struct Lua {
    pub(crate) code: &'static str,
    hash: String,
}

impl Lua {
    fn new(code: &'static str) -> Self {
        Lua {
            code,
            hash: Script::new(code).get_hash().to_owned(),
        }
    }

    /// `EVALSHA <sha> <keys.len()> <keys...>`, with room for the arguments the caller
    /// appends (`arg_bytes` in all), so building it allocates once.
    pub(crate) fn call(&'static self, keys: &[KeyName<'_>], arg_bytes: usize) -> ScriptCall {
        const MOST_ARGS: usize = 7;
        let key_bytes: usize = keys.iter().map(KeyName::len).sum();
        let mut cmd = Cmd::with_capacity(3 + keys.len() + MOST_ARGS, 64 + key_bytes + arg_bytes);
        cmd.arg("EVALSHA").arg(&self.hash).arg(keys.len());
        for key in keys {
            cmd.arg(key);
        }
        ScriptCall { script: self, cmd }
    }

    /// `SCRIPT LOAD <code>`.
    pub(crate) fn load(&self) -> Cmd {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(self.code);
        cmd
    }
}

/// One call of a script: the `EVALSHA` command, and the script to load if Redis forgot it.
pub(crate) struct ScriptCall {
    pub(crate) script: &'static Lua,
    pub(crate) cmd: Cmd,
}

impl ScriptCall {
    /// The same call with the script's code (`EVAL`), for a server that forgot the
    /// script: one round trip, on the node that holds the keys (in a cluster too), which
    /// keeps the script for the calls after it.
    pub(crate) fn eval(&self) -> Cmd {
        let mut cmd = Cmd::with_capacity(self.cmd.args_iter().len(), self.script.code.len() + 256);
        cmd.arg("EVAL").arg(self.script.code);
        for arg in self.cmd.args_iter().skip(2) {
            if let redis::Arg::Simple(bytes) = arg {
                cmd.arg(bytes);
            }
        }
        cmd
    }

    /// Appends an argument (`ARGV[n]`).
    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }
}

/// Every script, loaded on each new connection (one pipelined round trip), so requests
/// do not meet `NOSCRIPT` one script at a time.
pub(crate) fn all() -> [&'static Lua; 8] {
    [
        &GET,
        &SET,
        &REFRESH,
        &CREATE,
        &LOCK_AND_GET,
        &COMMIT_SET,
        &COMMIT_REFRESH,
        &COMMIT_UNLOCK,
    ]
}

/// Sets the TTL of KEYS[1] from the argument at `$ttl` (ms, -1 for none).
macro_rules! apply_ttl {
    ($ttl:literal) => {
        concat!(
            "if ARGV[",
            $ttl,
            "] == '-1' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[",
            $ttl,
            "]) end\n"
        )
    };
}

/// Slides the TTL of the entry KEYS[1] from its stored `sldexp` / `absexp`, given the
/// time ARGV[$now] in ticks. Deletes an entry whose absolute expiry has passed and then
/// leaves `alive` false. An entry without a positive `sldexp` (-1 for none, or nonsense
/// another writer left) keeps its TTL.
macro_rules! refresh {
    ($now:literal) => {
        concat!(
            r#"
local alive = true
local v = redis.call('HMGET', KEYS[1], 'sldexp', 'absexp')
local sld = tonumber(v[1]) or -1
if sld > 0 then
  local ttl = sld
  local abs = tonumber(v[2]) or -1
  if abs ~= -1 and abs - tonumber(ARGV["#,
            $now,
            r#"]) < ttl then ttl = abs - tonumber(ARGV["#,
            $now,
            r#"]) end
  local ms = math.floor(ttl / 10000)
  if ms <= 0 then redis.call('DEL', KEYS[1]) alive = false else redis.call('PEXPIRE', KEYS[1], ms) end
end
"#
        )
    };
}

/// KEYS: data. ARGV: now (ticks). Returns the data (sliding its expiry) or nil.
pub(crate) static GET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local data = redis.call('HGET', KEYS[1], 'data')\n",
        "if not data then return false end\n",
        refresh!("1"),
        "if not alive then return false end\n",
        "return data\n"
    ))
});

/// KEYS: data. ARGV: data, absexp, sldexp, ttl ms (-1: none). A write without the lock:
/// it moves the fence on, so that a lease holder's commit sees it (and fails).
pub(crate) static SET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "redis.call('HSET', KEYS[1], 'absexp', ARGV[2], 'sldexp', ARGV[3], 'data', ARGV[1])\n",
        "redis.call('HINCRBY', KEYS[1], 'fence', 1)\n",
        apply_ttl!("4"),
        "return 1\n"
    ))
});

/// KEYS: data. ARGV: now (ticks).
pub(crate) static REFRESH: LazyLock<Lua> = LazyLock::new(|| Lua::new(concat!(refresh!("1"), "return 1\n")));

/// KEYS: data. ARGV: data, absexp, sldexp, ttl ms (-1: none). Returns 1 if created (at
/// fence 1), 0 if the key exists.
pub(crate) static CREATE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n",
        "redis.call('HSET', KEYS[1], 'absexp', ARGV[2], 'sldexp', ARGV[3], 'data', ARGV[1], 'fence', '1')\n",
        apply_ttl!("4"),
        "return 1\n"
    ))
});

/// KEYS: data, lock. ARGV: token, lease ms.
/// Returns {2, data, fence} (lease taken), {1, nil, 0} (another owner holds it), {0, nil,
/// 0} (no entry, or a key that is not a hash; no lease kept). The fence of an entry
/// without one (written by ASP.NET) is 0. The uncontended path is two commands: SET NX,
/// HMGET. The read is a `pcall`: Redis does not undo a script's writes when it fails, so
/// an error there (`WRONGTYPE`, an ACL's `NOPERM`) would leave the lease behind. Other
/// errors than `WRONGTYPE` are passed on after the lease is deleted.
pub(crate) static LOCK_AND_GET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r#"
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {1, false, 0} end
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
local v = redis.pcall('HMGET', KEYS[1], 'data', 'fence')
if v.err or type(v[1]) ~= 'string' then
  redis.call('DEL', KEYS[2])
  if v.err and not string.find(v.err, '^WRONGTYPE') then return v end
  return {0, false, 0}
end
return {2, v[1], tonumber(v[2]) or 0}
"#,
    )
});

/// The lease check that opens every commit: returns 0 (nothing done) unless ARGV[1]
/// holds the lease KEYS[2]; then releases it.
macro_rules! holding_lease {
    () => {
        "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end\nredis.call('DEL', KEYS[2])\n"
    };
}

/// The fence check of a commit, after [`holding_lease`]: returns 0 (nothing done but the
/// release) unless the entry KEYS[1] is still at the fence ARGV[$fence] (it was neither
/// removed nor written without the lock since the lease read it).
macro_rules! at_fence {
    ($fence:literal) => {
        concat!(
            "local f = redis.call('HMGET', KEYS[1], 'fence', 'sldexp')\n",
            "if not f[2] or (tonumber(f[1]) or 0) ~= tonumber(ARGV[",
            $fence,
            "]) then return 0 end\n"
        )
    };
}

/// KEYS: data, lock. ARGV: token, fence, data, absexp, sldexp, ttl ms (-1: none), next
/// fence. Stores and unlocks; returns 1, or 0 (nothing written) if `token` lost the lease
/// or the entry is no longer at `fence`.
pub(crate) static COMMIT_SET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        holding_lease!(),
        at_fence!("2"),
        "redis.call('HSET', KEYS[1], 'absexp', ARGV[4], 'sldexp', ARGV[5], 'data', ARGV[3], 'fence', ARGV[7])\n",
        apply_ttl!("6"),
        "return 1\n"
    ))
});

/// KEYS: data, lock. ARGV: token, fence, now (ticks). Slides the entry's expiry and
/// unlocks; returns 1, or 0 (nothing done) if `token` lost the lease or the entry is no
/// longer at `fence`.
pub(crate) static COMMIT_REFRESH: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        holding_lease!(),
        at_fence!("2"),
        refresh!("3"),
        "return 1\n"
    ))
});

/// KEYS: data, lock. ARGV: token, remove ('1' deletes the entry, '0' keeps it), fence.
/// Unlocks; returns 1, or 0 (nothing done) if `token` lost the lease or, removing, the
/// entry was written without the lock since `fence` (an entry already gone is removed).
pub(crate) static COMMIT_UNLOCK: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        holding_lease!(),
        "if ARGV[2] == '1' then\n",
        "  local f = redis.call('HMGET', KEYS[1], 'fence', 'sldexp')\n",
        "  if f[2] and (tonumber(f[1]) or 0) ~= tonumber(ARGV[3]) then return 0 end\n",
        "  redis.call('DEL', KEYS[1])\n",
        "end\n",
        "return 1\n"
    ))
});
