//! The Lua scripts: every store operation is ONE round trip (`EVALSHA`; sent again with
//! the script's code, `EVAL`, when the server answers `NOSCRIPT` after a restart).
//!
//! Redis runs each `redis.call` inside a script like a command of its own (lookup,
//! timing, reply conversion), so the scripts make as few as they can: the key TTL of a
//! write is computed by the client ([`ttl_ms`](crate::keys::ttl_ms)) and sent as an
//! argument, and only the refresh scripts read the stored expiry back. The lease and the
//! fence live in the entry's hash, so a commit reads what it checks with one `HMGET` and
//! writes with one `HSET`.
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
pub(crate) fn all() -> [&'static Lua; 13] {
    [
        &GET,
        &SET,
        &REFRESH,
        &CREATE,
        &LOCK_AND_GET,
        &COMMIT_SET,
        &COMMIT_REFRESH,
        &COMMIT_KEEP,
        &COMMIT_UNLOCK,
        &INDEX,
        &LIST,
        &UNINDEX,
        &REVOKE,
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

/// Slides the TTL of the entry KEYS[1] from its `sldexp` / `absexp` (in the script's
/// locals `sld` and `abs`, as read), given the time ARGV[$now] in ticks. Deletes an entry
/// whose absolute expiry has passed and then leaves `alive` false. An entry without a
/// positive `sldexp` (-1 for none, or nonsense another writer left) keeps its TTL.
macro_rules! slide {
    ($now:literal) => {
        concat!(
            r#"
local alive = true
sld = tonumber(sld) or -1
if sld > 0 then
  local ttl = sld
  abs = tonumber(abs) or -1
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

/// [`slide!`], reading `sldexp` and `absexp` first.
macro_rules! refresh {
    ($now:literal) => {
        concat!(
            "local e = redis.call('HMGET', KEYS[1], 'sldexp', 'absexp')\nlocal sld, abs = e[1], e[2]\n",
            slide!($now)
        )
    };
}

/// Sets the local `f` to the fence in the Lua value `$x` (a field as read): a whole number
/// of 0 or more, else 0 (no fence, or something another writer left), the same in every
/// script.
macro_rules! fence_of {
    ($x:literal) => {
        concat!(
            "local f = tonumber(",
            $x,
            ") or 0\nif f < 0 or f % 1 ~= 0 then f = 0 end\n"
        )
    };
}

/// How long (ms) a session that another instance waited for counts as shared between
/// instances: [`COMMIT_KEEP`] gives its lease back instead of keeping it, so that a
/// session whose requests go to several instances (no sticky load balancing) costs two
/// round trips per request, as without hot sessions, not a recall each time.
macro_rules! shared_ms {
    () => {
        "10000"
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
        fence_of!("redis.call('HGET', KEYS[1], 'fence')"),
        "redis.call('HSET', KEYS[1], 'fence', f + 1, 'absexp', ARGV[2], 'sldexp', ARGV[3], 'data', ARGV[1])\n",
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

/// KEYS: data. ARGV: token, lease ms, recall channel.
/// A busy answer also reserves the entry for the caller (`recall`, its token, until
/// `recallexp`, 250 ms after its last try: several of its polls, which are at most 50 ms
/// apart, and the longest an abandoned reservation holds the session up), unless another
/// caller holds a live reservation. A holder that keeps its lease between requests (hot
/// sessions) lets it go at its next commit, and until the reservation lapses only the
/// caller that made it may take the lease (so the holder's own next request cannot take
/// it straight back: the lease changes hands fairly). Taking the lease clears the
/// reservation. A caller's first busy answer also publishes the entry's key on the recall
/// channel (so that a holder with no request on the session lets it go at once; a `pcall`:
/// an ACL user without the channel only loses the message) and marks the entry shared
/// (`shared`, for [`SHARED_MS`]: see [`COMMIT_KEEP`]). The lease lives in the entry itself (fields `lease`, the owner's token, '' when free,
/// and `leaseexp`, its end in ms of Redis' clock), so removing or flushing the entry ends
/// it too. Returns {2, data, fence} (lease taken), {1, nil, 0} (another owner holds a
/// live lease), {0, nil, 0} (no entry, or a key that is not a hash; nothing written). The
/// fence of an entry without one (written by ASP.NET) is 0. An entry whose TTL is shorter
/// than the lease gets the lease's, so that it cannot expire under its holder (whose
/// commit would find it gone); the commit sets its TTL again. Four commands: HMGET, TIME,
/// HSET, PTTL. The read is a `pcall`, so that a key of another type is a missing entry;
/// other errors (an ACL's `NOPERM`) are passed on, before anything is written.
pub(crate) static LOCK_AND_GET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local RESERVE_MS = 250\n",
        "local SHARED_MS = ",
        shared_ms!(),
        "\n",
        r#"
local v = redis.pcall('HMGET', KEYS[1], 'data', 'lease', 'leaseexp', 'fence', 'recall', 'recallexp')
if v.err then
  if string.find(v.err, '^WRONGTYPE') then return {0, false, 0} end
  return v
end
if type(v[1]) ~= 'string' then return {0, false, 0} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local leased = v[2] and v[2] ~= '' and v[2] ~= ARGV[1] and (tonumber(v[3]) or 0) > now
local reserved = v[5] and v[5] ~= ARGV[1] and (tonumber(v[6]) or 0) > now
if leased or reserved then
  if not reserved then
    redis.call('HSET', KEYS[1], 'recall', ARGV[1], 'recallexp', now + RESERVE_MS, 'shared', now + SHARED_MS)
    if v[5] ~= ARGV[1] then redis.pcall('PUBLISH', ARGV[3], KEYS[1]) end
  end
  return {1, false, 0}
end
local lease = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'leaseexp', now + lease)
if v[5] then redis.call('HDEL', KEYS[1], 'recall', 'recallexp') end
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and ttl < lease then redis.call('PEXPIRE', KEYS[1], lease) end
"#,
        fence_of!("v[4]"),
        "return {2, v[1], f}\n"
    ))
});

/// The check that opens every commit, after `local v = HMGET(KEYS[1], 'lease', 'fence',
/// ...)`: returns 0 (nothing done) unless ARGV[1] holds the lease; then, unless the entry
/// is still at the fence ARGV[2] (nothing wrote it since the lease read it), gives the
/// lease back and returns 0. A lease that expired with no one taking it since still
/// counts: the fence shows that nothing was written meanwhile.
macro_rules! holding_lease_at_fence {
    () => {
        concat!(
            "if v[1] ~= ARGV[1] then return 0 end\n",
            fence_of!("v[2]"),
            "if f ~= tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'lease', '') return 0 end\n"
        )
    };
}

/// KEYS: data. ARGV: token, fence, data, absexp, sldexp, ttl ms (-1: none), next fence.
/// Stores, at the next fence, and gives the lease back; returns 1, or 0 (nothing
/// written) if `token` lost the lease or the entry is no longer at `fence`.
pub(crate) static COMMIT_SET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v = redis.call('HMGET', KEYS[1], 'lease', 'fence')\n",
        holding_lease_at_fence!(),
        "redis.call('HSET', KEYS[1], 'absexp', ARGV[4], 'sldexp', ARGV[5], 'data', ARGV[3], 'fence', ARGV[7], 'lease', '')\n",
        apply_ttl!("6"),
        "return 1\n"
    ))
});

/// KEYS: data. ARGV: token, fence, now (ticks). Slides the entry's expiry and gives the
/// lease back; returns 1, or 0 (nothing done) if `token` lost the lease or the entry is
/// no longer at `fence`.
pub(crate) static COMMIT_REFRESH: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v = redis.call('HMGET', KEYS[1], 'lease', 'fence', 'sldexp', 'absexp')\n",
        holding_lease_at_fence!(),
        "redis.call('HSET', KEYS[1], 'lease', '')\n",
        "local sld, abs = v[3], v[4]\n",
        slide!("3"),
        "return 1\n"
    ))
});

/// KEYS: data. ARGV: token, fence, mode ('s' set, 'r' refresh, 'e' extend only), keep
/// ms (0: leave the lease's end where it is), then for 's': data, absexp, sldexp, ttl ms
/// (-1: none; -2: the expiry does not slide, so the TTL, `absexp` and `sldexp` stay as
/// the last sliding write left them: the engine's expiry options of a session do not
/// change between its writes), next fence; for 'r': now (ticks). Hot
/// sessions: the commit of [`COMMIT_SET`] or [`COMMIT_REFRESH`] (or nothing, 'e'), with
/// the same checks, but the lease is kept (for `keep` ms more, by Redis' clock) instead
/// of given back. Returns 1 (kept), 2 (committed, and the lease given back: another
/// caller reserved the entry (see [`LOCK_AND_GET`]), or, when extending, waited for it
/// within the last [`shared_ms!`] ms; or a refresh found it past its absolute expiry and
/// deleted it), or 0 (nothing done) if `token` lost the lease or the entry is no longer at
/// `fence`. A modifying request on a hot session runs two commands here (HMGET, one
/// HSET of `data` and `fence`); TIME and one more HSET once half the kept lease has gone
/// by (the engine asks to extend then), and PEXPIRE when the entry's expiry is due to
/// slide.
pub(crate) static COMMIT_KEEP: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v\n",
        "if ARGV[3] == 'r' then v = redis.call('HMGET', KEYS[1], 'lease', 'fence', 'recall', 'shared', 'sldexp', 'absexp')\n",
        "elseif ARGV[4] ~= '0' then v = redis.call('HMGET', KEYS[1], 'lease', 'fence', 'recall', 'shared')\n",
        "else v = redis.call('HMGET', KEYS[1], 'lease', 'fence', 'recall') end\n",
        holding_lease_at_fence!(),
        "local give_back, field, value = v[3], nil, nil\n",
        "if ARGV[4] ~= '0' then\n",
        "  local t = redis.call('TIME')\n",
        "  local now = t[1] * 1000 + math.floor(t[2] / 1000)\n",
        "  give_back = give_back or (tonumber(v[4]) or 0) > now\n",
        "  field, value = 'leaseexp', now + tonumber(ARGV[4])\n",
        "end\n",
        "if give_back then field, value = 'lease', '' end\n",
        "if ARGV[3] == 's' then\n",
        "  if ARGV[8] ~= '-2' then\n",
        "    redis.call('HSET', KEYS[1], 'absexp', ARGV[6], 'sldexp', ARGV[7], 'data', ARGV[5], 'fence', ARGV[9])\n",
        apply_ttl!("8"),
        "  else\n",
        "    redis.call('HSET', KEYS[1], 'data', ARGV[5], 'fence', ARGV[9])\n",
        "  end\n",
        "  if field then redis.call('HSET', KEYS[1], field, value) end\n",
        "else\n",
        "  if ARGV[3] == 'r' then\n",
        "    local sld, abs = v[5], v[6]\n",
        slide!("5"),
        "    if not alive then return 2 end\n",
        "  end\n",
        "  if field then redis.call('HSET', KEYS[1], field, value) end\n",
        "end\n",
        "if give_back then return 2 end\n",
        "return 1\n"
    ))
});

/// KEYS: data. ARGV: token, remove ('1' deletes the entry, '0' keeps it), fence. Gives
/// the lease back; returns 1, or 0 (nothing done) if `token` lost the lease or, removing,
/// the entry was written without the lock since `fence`. Removing an entry already gone
/// (it took the lease with it) succeeds.
pub(crate) static COMMIT_UNLOCK: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v = redis.call('HMGET', KEYS[1], 'lease', 'fence')\n",
        "if ARGV[2] == '1' then\n",
        "  if not v[1] and redis.call('EXISTS', KEYS[1]) == 0 then return 1 end\n",
        "  if v[1] ~= ARGV[1] then return 0 end\n",
        fence_of!("v[2]"),
        "  if f ~= tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], 'lease', '') return 0 end\n",
        "  redis.call('DEL', KEYS[1])\n",
        "  return 1\n",
        "end\n",
        "if v[1] ~= ARGV[1] then return 0 end\n",
        "redis.call('HSET', KEYS[1], 'lease', '')\n",
        "return 1\n"
    ))
});

/// Drops from a principal's index (KEYS[1], the sorted set; KEYS[2], the `seen` hash) the
/// sessions whose expiry (score, ms) is at or before ARGV[1] (now, ms): at most `$limit`
/// thousand of them, a thousand at a time (Lua's `unpack` takes a bounded count).
macro_rules! prune {
    ($limit:literal) => {
        concat!(
            "for _ = 1, ",
            $limit,
            " do\n",
            "  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)\n",
            "  if #gone == 0 then break end\n",
            "  redis.call('ZREM', KEYS[1], unpack(gone))\n",
            "  redis.call('HDEL', KEYS[2], unpack(gone))\n",
            "end\n"
        )
    };
}

/// KEYS: index, seen. ARGV: now (ms), session key, its expiry (ms, or '+inf').
/// Records the session under the principal (keeping when it was first recorded), prunes
/// up to a thousand expired records, and sets both keys to expire with the last session.
/// Sent before the session's own write, so that the index never misses a live session.
pub(crate) static INDEX: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        prune!("1"),
        r#"
local created = ARGV[1]
local before = redis.call('HGET', KEYS[2], ARGV[2])
if before then created = string.match(before, '^(%d+)') or ARGV[1] end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], created .. ':' .. ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
if last == 'inf' then
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('PEXPIREAT', KEYS[1], last)
  redis.call('PEXPIREAT', KEYS[2], last)
end
return 1
"#
    ))
});

/// KEYS: index, seen. ARGV: now (ms). Prunes every expired record, then returns the live
/// ones as a flat list: key, expiry (ms, or 'inf'), 'created:last_seen' (ms).
pub(crate) static LIST: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        prune!("1000000"),
        r#"
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
end
return out
"#
    ))
});

/// KEYS: index, seen. ARGV: session keys. Drops their records.
pub(crate) static UNINDEX: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "redis.call('ZREM', KEYS[1], unpack(ARGV))\n",
        "redis.call('HDEL', KEYS[2], unpack(ARGV))\n",
        "return 1\n"
    ))
});

/// KEYS: data. ARGV: recall channel. Ends a session for good: the entry becomes a
/// tombstone (no `data`, no lease, the fence moved on) that keeps the entry's TTL (a day
/// if it had none), so a request that still holds its lease cannot commit it back nor
/// remove it as if it had just expired (a login moving it to a new id then fails). A
/// session that was there is published on the recall channel, so that an instance that
/// keeps it hot drops its copy at once. Returns 1 if a session was there.
pub(crate) static REVOKE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(
        "local v = redis.pcall('HMGET', KEYS[1], 'data', 'fence')\n",
        "if v.err then return 0 end\n",
        "if type(v[1]) ~= 'string' and not v[2] then return 0 end\n",
        fence_of!("v[2]"),
        "local ttl = redis.call('PTTL', KEYS[1])\n",
        "redis.call('DEL', KEYS[1])\n",
        "redis.call('HSET', KEYS[1], 'fence', f + 1)\n",
        "if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PEXPIRE', KEYS[1], 86400000) end\n",
        "if type(v[1]) ~= 'string' then return 0 end\n",
        "redis.pcall('PUBLISH', ARGV[1], KEYS[1])\n",
        "return 1\n"
    ))
});
