-- Reserves the earliest call slot for one source across every replica, so
-- that no one-second window holds more than `rate` calls fleet-wide.
-- Keeps the start times of the last `rate` calls in a sorted set; a new call
-- starts no earlier than one window after the call `rate` places before it.
-- Times come from the Redis server's clock, which every replica shares.
--
-- KEYS[1]  sorted set of slot times (ms), one per call
-- ARGV[1]  rate: calls per window
-- ARGV[2]  window length in ms, margin included
-- ARGV[3]  longest wait in ms the caller accepts
-- ARGV[4]  unique member for this call
-- Returns the wait in ms before the call may start, or -1 when that wait
-- is longer than ARGV[3] (then nothing is reserved).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rate = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local slot = now
if count >= rate then
  local blocking = redis.call('ZRANGE', KEYS[1], count - rate, count - rate, 'WITHSCORES')
  slot = math.max(now, tonumber(blocking[2]) + window)
end
local wait = slot - now
if wait > tonumber(ARGV[3]) then
  return -1
end
redis.call('ZADD', KEYS[1], slot, ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(rate + 1))
redis.call('PEXPIRE', KEYS[1], window * 2 + wait)
return wait
