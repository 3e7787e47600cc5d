-- Reads a live entry, records the access in its record and moves its expiry later (never earlier). Returns the
-- entry's record and its fields `d`, `m`, `v` (EntryCodec.entry) or nil.
-- KEYS[1] entry hash, KEYS[2] tier index i, KEYS[3] priority index p, KEYS[4] ranking hash r,
-- KEYS[5] lexicographic index x.
-- ARGV[1] id, ARGV[2] now ms, ARGV[3] new expiry ms (0: no refresh), ARGV[4] grace ms,
-- ARGV[5] entry key prefix, ARGV[6] prune budget.
--@include helpers
local now, target = number(ARGV[2], 'now'), number(ARGV[3], 'refresh')
local grace, budget = number(ARGV[4], 'grace'), number(ARGV[6], 'prune budget')
local tier = {i = KEYS[2], p = KEYS[3], r = KEYS[4], x = KEYS[5]}
local v = redis.call('HMGET', KEYS[1], 'e', 'i', 'c', 'd', 'm', 'v')
prune(tier, ARGV[5], now, budget)
local expiry = tonumber(v[1])
if not expiry or expiry <= now then return false end
local stored = redis.call('HGET', tier.r, ARGV[1])
local _, importance, created, _, count = unpackRank(stored)
if not importance then
  -- No record (an evicting server removed the ranking hash): the entry is read from its hash, the access
  -- unrecorded, until rebuildIndexes restores the record.
  created = number(v[3], 'created')
  return {packRank(expiry, number(v[2], 'importance'), created, created, 0), v[4], v[5], v[6]}
end
local refreshed = math.max(expiry, target)
local record = packRank(refreshed, importance, created, now, count + 1)
-- Recording the access is a write: when Redis refuses writes (out of memory under noeviction), the entry is
-- still returned, unrecorded and unrefreshed.
local recorded = redis.pcall('HSET', tier.r, ARGV[1], record)
if type(recorded) == 'table' and recorded.err then return {stored, v[4], v[5], v[6]} end
if refreshed > expiry then
  redis.call('HSET', KEYS[1], 'e', ARGV[3])
  redis.call('PEXPIREAT', KEYS[1], refreshed + grace)
  redis.call('ZADD', tier.i, 'XX', 'GT', refreshed, ARGV[1])
  extendAll(tier, refreshed + grace)
end
return {record, v[4], v[5], v[6]}
