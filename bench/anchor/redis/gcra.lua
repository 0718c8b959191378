-- GCRA, the generic cell rate algorithm (ITU-T I.371's virtual scheduling
-- algorithm for ATM cells), as rate limiters use it: redis-cell's CL.THROTTLE
-- (https://github.com/brandur/redis-cell, described in Brandur Leach, "Rate
-- Limiting, Cells, and GCRA", https://brandur.org/rate-limiting) and its
-- well-known Lua form, rwz/redis-gcra's perform_gcra_ratelimit.lua
-- (https://github.com/rwz/redis-gcra, MIT). Written here after those for
-- bench/decision_anchor.sh: the Redis side of the decision benchmark.
--
-- One key holds the theoretical arrival time (TAT) of the next request.
-- A request of `cost` is allowed when now >= TAT + cost * T - burst * T
-- (T = period / rate, the emission interval), and then moves TAT on by
-- cost * T. Time is the server's (TIME), so clients need no clock.
--
--   EVALSHA <sha> 1 <key> <burst> <rate> <period_s> <cost>
--
-- Returns {allowed (0|1), remaining, retry_after_s, reset_after_s}; the
-- times are strings (Lua numbers would be truncated to integers).
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])

local emission_interval = period / rate
local increment = emission_interval * cost
local burst_offset = emission_interval * burst

-- Seconds since 2017-01-01 with microseconds: small enough that a double
-- keeps the microseconds.
local t = redis.call("TIME")
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000

local tat = tonumber(redis.call("GET", key))
if tat == nil or tat < now then tat = now end

local new_tat = tat + increment
local allow_at = new_tat - burst_offset
local diff = now - allow_at

if diff < 0 then
  -- Refused: nothing is stored; ask again in -diff seconds.
  return {0, 0, tostring(-diff), tostring(tat - now)}
end

local reset_after = new_tat - now
if reset_after > 0 then
  redis.call("SET", key, tostring(new_tat), "EX", math.ceil(reset_after))
end
return {1, math.floor(diff / emission_interval), "-1", tostring(reset_after)}
