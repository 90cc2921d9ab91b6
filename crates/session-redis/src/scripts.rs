//! The Lua scripts: every operation is ONE round trip (EVALSHA, reloaded by redis-rs
//! when the server answers NOSCRIPT after a restart).
//!
//! Tick arithmetic happens in Lua numbers (doubles): absolute times (~6.4e17 ticks) lose
//! precision below 13 µs, far under the millisecond TTLs set from them.

use std::sync::LazyLock;

use bb8_redis::redis::Script;

/// Helpers shared by the scripts: the TTL of an entry, applying it, storing and
/// refreshing. (Each script defines them on every call; they are small.)
macro_rules! prelude {
    () => {
        r#"
local function ttl_ms(sld, abs, now)
  local ttl = nil
  if sld ~= -1 then ttl = sld end
  if abs ~= -1 then
    local rem = abs - now
    if ttl == nil or rem < ttl then ttl = rem end
  end
  if ttl == nil then return nil end
  return math.floor(ttl / 10000)
end
local function apply_ttl(key, ms)
  if ms == nil then redis.call('PERSIST', key) return true end
  if ms <= 0 then redis.call('DEL', key) return false end
  redis.call('PEXPIRE', key, ms)
  return true
end
local function store(key, data, abs, sld, now)
  redis.call('HSET', key, 'absexp', abs, 'sldexp', sld, 'data', data)
  apply_ttl(key, ttl_ms(tonumber(sld), tonumber(abs), tonumber(now)))
end
local function refresh(key, now)
  local v = redis.call('HMGET', key, 'sldexp', 'absexp')
  local sld = tonumber(v[1]) or -1
  if sld == -1 then return true end
  return apply_ttl(key, ttl_ms(sld, tonumber(v[2]) or -1, tonumber(now)))
end
"#
    };
}

/// KEYS: data. ARGV: now. Returns the data (sliding its expiry) or nil.
pub(crate) static GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
local data = redis.call('HGET', KEYS[1], 'data')
if not data then return false end
if not refresh(KEYS[1], ARGV[1]) then return false end
return data
"#
    ))
});

/// KEYS: data. ARGV: data, absexp, sldexp, now.
pub(crate) static SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
store(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
"#
    ))
});

/// KEYS: data. ARGV: now.
pub(crate) static REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
refresh(KEYS[1], ARGV[1])
return 1
"#
    ))
});

/// KEYS: data. ARGV: data, absexp, sldexp, now. Returns 1 if created, 0 if the key exists.
pub(crate) static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
store(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
"#
    ))
});

/// KEYS: data, lock. ARGV: token, lease ms.
/// Returns {2, data} (lease taken), {1, nil} (another owner holds it), {0, nil} (no entry;
/// no lease kept). The uncontended path is two commands: SET NX, HGET.
pub(crate) static LOCK_AND_GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {1, false} end
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
local data = redis.call('HGET', KEYS[1], 'data')
if not data then
  redis.call('DEL', KEYS[2])
  return {0, false}
end
return {2, data}
"#,
    )
});

/// KEYS: data, lock. ARGV: token, op (set|refresh|remove|release), now, data, absexp, sldexp.
/// Returns 1, or 0 (nothing done) if `token` does not hold the lease.
pub(crate) static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
local op = ARGV[2]
if op == 'set' then
  store(KEYS[1], ARGV[4], ARGV[5], ARGV[6], ARGV[3])
elseif op == 'refresh' then
  refresh(KEYS[1], ARGV[3])
elseif op == 'remove' then
  redis.call('DEL', KEYS[1])
end
return 1
"#
    ))
});
