-- Removes up to a batch of a tier's entries with their index members; deletes the index keys once the
-- tier is empty. Call until it reports nothing remaining.
-- KEYS[1] tier index i, KEYS[2] priority index p, KEYS[3] ranking hash r, KEYS[4] lexicographic index x.
-- ARGV[1] now ms, ARGV[2] entry key prefix, ARGV[3] batch size.
-- Returns {live entries removed, entries remaining}.
--@include helpers
local now, batch = number(ARGV[1], 'now'), number(ARGV[3], 'batch')
local tier = {i = KEYS[1], p = KEYS[2], r = KEYS[3], x = KEYS[4]}
local items = redis.call('ZRANGE', tier.i, 0, batch - 1, 'WITHSCORES')
local live, ids = 0, {}
for k = 1, #items, 2 do
  if tonumber(items[k + 1]) > now then live = live + 1 end
  ids[#ids + 1] = items[k]
end
dropAll(ids, ARGV[2], tier)
local remaining = redis.call('ZCARD', tier.i)
if remaining == 0 then redis.call('DEL', tier.i, tier.p, tier.r, tier.x) end
return {live, remaining}
