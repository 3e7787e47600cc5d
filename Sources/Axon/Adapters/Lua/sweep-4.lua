-- One bounded step of a tier's maintenance: removes up to a batch of expired entries (with their index
-- members and hashes); once none is left, scans the lexicographic index from a cursor and removes members
-- whose entry is gone or expired. Deletes the index keys when the tier is empty.
-- KEYS[1] tier index i, KEYS[2] priority index p, KEYS[3] ranking hash r, KEYS[4] lexicographic index x.
-- ARGV[1] now ms, ARGV[2] entry key prefix, ARGV[3] batch size, ARGV[4] index scan cursor.
-- Returns {expired entries removed, stray index members removed, next cursor ("0": scan complete)}.
--@include helpers
local now, batch = number(ARGV[1], 'now'), number(ARGV[3], 'batch')
local tier, eprefix = {i = KEYS[1], p = KEYS[2], r = KEYS[3], x = KEYS[4]}, ARGV[2]
local pruned = prune(tier, eprefix, now, batch)
local strays, cursor = 0, ARGV[4]
if pruned < batch then
  local reply = redis.call('ZSCAN', tier.x, cursor, 'COUNT', batch)
  cursor = reply[1]
  local items = reply[2]
  for k = 1, #items, 2 do
    local member = items[k]
    local cut = string.find(member, '\0', 1, true)
    local id = cut and string.sub(member, cut + 1)
    local expiry = id and tonumber(redis.call('HGET', eprefix .. id, 'e'))
    if not expiry then
      redis.call('ZREM', tier.x, member)
      strays = strays + 1
    elseif expiry <= now then
      drop(id, eprefix, tier)
      strays = strays + 1
    end
  end
end
if redis.call('ZCARD', tier.i) == 0 then redis.call('DEL', tier.i, tier.p, tier.r, tier.x) end
return {pruned, strays, cursor}
