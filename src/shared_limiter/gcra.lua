-- muster's shared request budget: one GCRA bucket per login and gateway
-- host, with the rate learned from the gateway's 429s, in one Redis hash.
-- Run atomically by EVALSHA, so every worker of every process sees one
-- bucket; timed by Redis's own TIME, so the workers' clocks do not matter.
-- The arithmetic mirrors muster_gateway::AdaptiveLimiter (see its docs);
-- every time is in milliseconds since the Unix epoch, as a float.
--
-- KEYS[1]  the bucket's hash
-- ARGV[1]  acquire | throttled | retry_after | succeeded | load | peek
-- ARGV[2]  the configured (maximum) rate, requests per minute
-- ARGV[3]  the burst (at least 1)
-- ARGV[4]  the floor, requests per minute
-- ARGV[5]  the probe interval, ms
-- ARGV[6]  the key's time to live, ms (renewed by every write)
-- ARGV[7]  retry_after: the wait, ms; load: the learned rate per minute
-- ARGV[8]  load: when it was learned, ms since the epoch
-- ARGV[9]  the decrease factor on a 429 (muster_gateway::DECREASE_FACTOR)
-- ARGV[10] the probe step, a share of the configured rate (PROBE_STEP)
-- ARGV[11] now, ms since the epoch, or '' for Redis's TIME (tests only)
--
-- Fields: rate (per minute), tat (GCRA's theoretical arrival time), paused
-- (nothing leaves before it; 429s of requests sent before it are old
-- news), streak (429s since the last success), changed (the last decrease
-- or probe), learned (when the rate was last lowered or loaded; 0: never).
--
-- Returns {allowed (1 or 0), wait in microseconds, rate, learned} with
-- rate and learned as strings: acquire answers whether a request may leave
-- now (and takes its slot) or how long until one may; the others answer 1.

if redis.replicate_commands then
  -- Redis before 5 replicates scripts verbatim, which refuses a write
  -- after TIME; later versions replicate effects and make this a no-op.
  redis.replicate_commands()
end

local key = KEYS[1]
local op = ARGV[1]
local max = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local floor = math.min(tonumber(ARGV[4]), max)
local probe = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local value = tonumber(ARGV[7]) or 0
local value2 = tonumber(ARGV[8]) or 0
local decrease = tonumber(ARGV[9])
local step = tonumber(ARGV[10])
local now = tonumber(ARGV[11])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

local s = redis.call('HMGET', key, 'rate', 'tat', 'paused', 'streak', 'changed', 'learned')
local fresh = not s[1]
-- Workers configured with another budget for the same login still share
-- one bucket; each keeps the rate within its own floor and maximum.
local rate = math.min(math.max(tonumber(s[1]) or max, floor), max)
local tat = tonumber(s[2]) or now
local paused = tonumber(s[3]) or 0
local streak = tonumber(s[4]) or 0
local changed = tonumber(s[5]) or now
local learned = tonumber(s[6]) or 0

local function interval() return 60000 / rate end
local function tolerance() return (burst - 1) * interval() end
-- Nothing leaves before `untl`, and the burst is spent.
local function pause_until(untl)
  tat = math.max(tat, untl + tolerance())
  paused = math.max(paused, untl)
end
local function reply(allowed, wait)
  return {allowed, math.ceil(wait * 1000), string.format('%.17g', rate),
          string.format('%.17g', learned)}
end

if op == 'peek' then
  return reply(1, 0)
elseif op == 'acquire' then
  local t = math.max(tat, now)
  local at = t - tolerance()
  if at > now then
    -- Not yet: nothing is reserved, the caller sleeps and asks again (so
    -- a pause that begins meanwhile holds it back too).
    return reply(0, at - now)
  end
  tat = t + interval()
elseif op == 'throttled' then
  if now < paused then
    -- Sent before the pause began: the same lesson again.
    return reply(1, 0)
  end
  if streak == 0 then
    rate = math.max(rate * decrease, floor)
    changed = now
    learned = now
  end
  streak = streak + 1
  pause_until(now + math.min(interval() * 2 ^ math.min(streak - 1, 16), probe))
elseif op == 'retry_after' then
  pause_until(now + value)
elseif op == 'succeeded' then
  streak = 0
  if rate < max and now - changed >= probe then
    rate = math.min(rate + max * step, max)
    changed = now
  end
elseif op == 'load' then
  if not fresh then
    -- The shared bucket knows better than any one worker's saved file.
    return reply(1, 0)
  end
  rate = math.min(math.max(value, floor), max)
  learned = value2
  changed = now
  -- No burst to start with: the gateway's window may still hold the last
  -- run's requests.
  tat = math.max(tat, now + tolerance())
else
  return redis.error_reply('unknown operation ' .. tostring(op))
end

local function f(x) return string.format('%.17g', x) end
redis.call('HSET', key, 'rate', f(rate), 'tat', f(tat), 'paused', f(paused),
  'streak', f(streak), 'changed', f(changed), 'learned', f(learned))
redis.call('PEXPIRE', key, math.ceil(ttl))
return reply(1, 0)
