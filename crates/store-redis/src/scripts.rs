//! The Lua scripts. Each runs atomically on the server and is sent by SHA1
//! (`EVALSHA`), loading itself once per server on `NOSCRIPT`.

use std::sync::LazyLock;

use redis::Script;

/// Check-and-append. `KEYS[1]` = events list, `KEYS[2]` = the list of the
/// latest appends (`<id>:<next>`, newest first), `ARGV[1]` = expected next
/// sequence, `ARGV[2]` = this append's id, `ARGV[3..]` = encoded pages in
/// order. Returns `{1, next}` when appended, `{1, next}` too when an append
/// with this id was already applied (its reply was lost and this is the
/// retry: nothing is written again), and `{0, actual}` on a sequence
/// mismatch (nothing written).
pub(crate) static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local actual = redis.call('LLEN', KEYS[1])
if actual ~= tonumber(ARGV[1]) then
  local prefix = ARGV[2] .. ':'
  for _, done in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    if string.sub(done, 1, #prefix) == prefix then
      return {1, tonumber(string.sub(done, #prefix + 1))}
    end
  end
  return {0, actual}
end
-- RPUSH in chunks: unpack() of thousands of values overflows Lua's C stack.
local n = #ARGV
local i = 3
while i <= n do
  local last = math.min(i + 199, n)
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, last))
  i = last + 1
end
local next = actual + n - 2
redis.call('LPUSH', KEYS[2], ARGV[2] .. ':' .. next)
-- The latest 64 appends are remembered.
redis.call('LTRIM', KEYS[2], 0, 63)
return {1, next}
",
    )
});

/// Delete. `KEYS[1]` = events list, `KEYS[2]` = latest appends. Returns
/// how many events it held.
pub(crate) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
return n
",
    )
});

/// Firing-guard acquire. `KEYS[1]` = guard key, `ARGV[1]` = `p:<token>`,
/// `ARGV[2]` = lease in ms. Returns `{1, 0}` when acquired, `{2, pttl}` when
/// completed, `{3, pttl}` when in progress by another holder.
pub(crate) static GUARD_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, 0}
end
local state = redis.call('GET', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if state == 'c' then
  return {2, ttl}
end
return {3, ttl}
",
    )
});

/// Firing-guard complete. `KEYS[1]` = guard key, `ARGV[1]` = `p:<token>`,
/// `ARGV[2]` = retention in ms. Returns 1 if this lease held the key (now
/// completed), 0 otherwise.
pub(crate) static GUARD_COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'c', 'PX', ARGV[2])
  return 1
end
return 0
",
    )
});

/// Firing-guard release. `KEYS[1]` = guard key, `ARGV[1]` = `p:<token>`.
/// Returns 1 if this lease held the key (now deleted), 0 otherwise.
pub(crate) static GUARD_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
",
    )
});

/// Firing-guard renew. `KEYS[1]` = guard key, `ARGV[1]` = `p:<token>`,
/// `ARGV[2]` = the new lease in ms. Returns 1 if this lease held the key
/// (now extended), 0 otherwise.
pub(crate) static GUARD_RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
",
    )
});

/// Rate-limit count. `KEYS[1]` = counter, `ARGV[1]` = window in ms. The
/// first request of a window starts it (the counter expires with the
/// window). Returns `{count, pttl}`.
pub(crate) static RATE_COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A new window (or a counter that somehow lost its expiry).
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
",
    )
});
