-- Reads a live entry, records the access in its record and moves its expiry later (never earlier). Returns the
-- entry's record and body (EntryCodec.entry) or nil.
-- KEYS[1] entry hash, KEYS[2] tier index i, KEYS[3] priority index p, KEYS[4] ranking hash r,
-- KEYS[5] lexicographic index x, KEYS[6] entry body.
-- ARGV[1] id, ARGV[2] now ms, ARGV[3] new expiry ms (0: no refresh), ARGV[4] grace ms,
-- ARGV[5] entry hash prefix, ARGV[6] prune budget.
--@include helpers
local now, target = number(ARGV[2], 'now'), number(ARGV[3], 'refresh')
local grace, budget = number(ARGV[4], 'grace'), number(ARGV[6], 'prune budget')
local tier = {i = KEYS[2], p = KEYS[3], r = KEYS[4], x = KEYS[5]}
local stored = redis.call('HGET', tier.r, ARGV[1])
local expiry, importance, created, _, count = unpackRank(stored)
if not expiry then
  -- No record (an evicting server removed the ranking hash): the entry is read from its hash, the access
  -- unrecorded, until rebuildIndexes restores the record.
  local v = redis.call('HMGET', KEYS[1], 'e', 'i', 'c')
  expiry, importance, created = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if expiry and importance and created then stored = packRank(expiry, importance, created, created, 0) end
end
prune(tier, ARGV[5], now, budget)
if not expiry or expiry <= now then return false end
local body = redis.call('GET', KEYS[6])
if not body then return false end
if not count then return {stored, body} end
local refreshed = math.max(expiry, target)
local record = packRank(refreshed, importance, created, now, count + 1)
-- Recording the access is a write: when Redis refuses writes (out of memory under noeviction), the entry is
-- still returned, unrecorded and unrefreshed.
local recorded = redis.pcall('HSET', tier.r, ARGV[1], record)
if type(recorded) == 'table' and recorded.err then return {stored, body} end
if refreshed > expiry then
  redis.call('HSET', KEYS[1], 'e', ARGV[3])
  redis.call('PEXPIREAT', KEYS[1], refreshed + grace)
  redis.call('PEXPIREAT', KEYS[6], refreshed + grace)
  redis.call('ZADD', tier.i, 'XX', 'GT', refreshed, ARGV[1])
  extendAll(tier, refreshed + grace)
end
return {record, body}
