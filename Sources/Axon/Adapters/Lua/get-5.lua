-- Reads a live entry, records the access and moves its expiry later (never earlier). Returns its fields
-- (EntryCodec.readOrder) or nil.
-- KEYS[1] entry hash, KEYS[2] tier index i, KEYS[3] priority index p, KEYS[4] ranking hash r,
-- KEYS[5] lexicographic index x.
-- ARGV[1] id, ARGV[2] now ms, ARGV[3] new expiry ms (0: no refresh), ARGV[4] grace ms,
-- ARGV[5] entry key prefix, ARGV[6] prune budget.
--@include helpers
local now, target = number(ARGV[2], 'now'), number(ARGV[3], 'refresh')
local grace, budget = number(ARGV[4], 'grace'), number(ARGV[6], 'prune budget')
local tier = {i = KEYS[2], p = KEYS[3], r = KEYS[4], x = KEYS[5]}
local expiry = tonumber(redis.call('HGET', KEYS[1], 'e'))
prune(tier, ARGV[5], now, budget)
if not expiry or expiry <= now then return false end
-- Recording the access is a write: when Redis refuses writes (out of memory under noeviction), the entry is
-- still returned, unrecorded and unrefreshed.
local recorded = redis.pcall('HINCRBY', KEYS[1], 'a', 1)
if type(recorded) == 'table' and recorded.err then return read(KEYS[1]) end
redis.call('HSET', KEYS[1], 'l', ARGV[2])
if target > expiry then
  redis.call('HSET', KEYS[1], 'e', ARGV[3])
  redis.call('PEXPIREAT', KEYS[1], target + grace)
  redis.call('ZADD', tier.i, 'XX', 'GT', target, ARGV[1])
  local packed = redis.call('HGET', tier.r, ARGV[1])
  if packed then
    local _, importance, created = struct.unpack('>ddd', packed)
    redis.call('HSET', tier.r, ARGV[1], packRank(target, importance, created))
  end
  extendAll(tier, target + grace)
end
return read(KEYS[1])
