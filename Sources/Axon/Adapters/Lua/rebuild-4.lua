-- One bounded step of rebuilding a tier's indexes from its entry hashes (after an evicting maxmemory policy
-- removed index keys or entries on its own): SCANs entry keys from a cursor and puts every live entry back in
-- the tier, priority and lexicographic indexes and the ranking hash (idempotent); expired ones, and ones whose body
-- is gone, are dropped.
-- KEYS[1] tier index i, KEYS[2] priority index p, KEYS[3] ranking hash r, KEYS[4] lexicographic index x.
-- ARGV[1] now ms, ARGV[2] entry key prefix, ARGV[3] SCAN cursor, ARGV[4] SCAN count, ARGV[5] grace ms.
-- Returns {next cursor ("0": done), entries restored, entries dropped (expired or without a body)}.
--@include helpers
local now, count, grace = number(ARGV[1], 'now'), number(ARGV[4], 'count'), number(ARGV[5], 'grace')
local tier, eprefix = {i = KEYS[1], p = KEYS[2], r = KEYS[3], x = KEYS[4]}, ARGV[2]
local reply = redis.call('SCAN', ARGV[3], 'MATCH', eprefix .. '*', 'COUNT', count)
local restored, dropped = 0, 0
for _, key in ipairs(reply[2]) do
  local id = string.sub(key, #eprefix + 1)
  local v = redis.call('HMGET', key, 'e', 'i', 'c', 'n')
  local expiry, importance, created = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if expiry and importance and created and v[4] then
    if expiry > now and redis.call('EXISTS', bodyKey(eprefix, id)) == 1 then
      redis.call('ZADD', tier.i, expiry, id)
      redis.call('ZADD', tier.p, importance, id)
      -- An existing record keeps its access data; a restored one starts from the entry's creation.
      local _, _, _, accessed, count = unpackRank(redis.call('HGET', tier.r, id))
      redis.call('HSET', tier.r, id, packRank(expiry, importance, created, accessed or created, count or 0))
      addMembers(tier, id, v[4])
      extendAll(tier, expiry + grace)
      restored = restored + 1
    else
      drop(id, eprefix, tier)
      dropped = dropped + 1
    end
  end
end
return {reply[1], restored, dropped}
