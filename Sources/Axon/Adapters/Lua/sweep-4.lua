-- One bounded step of a tier's maintenance: removes up to a batch of expired entries (with their index
-- members and hashes); once none is left, walks the lexicographic index, the tier index, the priority index and
-- the ranking hash from a cursor and removes what names an entry that is gone (evicted) or expired. Deletes the
-- index keys when the tier is empty. The cursor is "x<n>", "i<n>", "p<n>" or "r<n>" for the key being walked;
-- "0" means the pass is complete.
-- KEYS[1] tier index i, KEYS[2] priority index p, KEYS[3] ranking hash r, KEYS[4] lexicographic index x.
-- ARGV[1] now ms, ARGV[2] entry key prefix, ARGV[3] batch size, ARGV[4] cursor ("x0" starts a pass).
-- Returns {expired entries removed, stray index members removed, next cursor}.
--@include helpers
local now, batch = number(ARGV[1], 'now'), number(ARGV[3], 'batch')
local tier, eprefix = {i = KEYS[1], p = KEYS[2], r = KEYS[3], x = KEYS[4]}, ARGV[2]
local phase, position = string.sub(ARGV[4], 1, 1), string.sub(ARGV[4], 2)
local nextPhase = {x = 'i', i = 'p', p = 'r'}
if (phase ~= 'x' and phase ~= 'i' and phase ~= 'p' and phase ~= 'r') or not tonumber(position) then
  return redis.error_reply('ERR axon sweep: malformed cursor ' .. ARGV[4])
end
local pruned = prune(tier, eprefix, now, batch)
local strays, cursor = 0, ARGV[4]
-- Removes every trace of entry `id` whose hash is gone: its tier, priority and ranking entries.
local function forgetGone(id)
  redis.call('ZREM', tier.i, id)
  redis.call('ZREM', tier.p, id)
  redis.call('HDEL', tier.r, id)
end
if pruned < batch then
  if phase == 'x' then
    local reply = redis.call('ZSCAN', tier.x, position, 'COUNT', batch)
    cursor = reply[1] == '0' and 'i0' or 'x' .. reply[1]
    local items = reply[2]
    for k = 1, #items, 2 do
      local member = items[k]
      local cut = string.find(member, '\0', 1, true)
      local id = cut and string.sub(member, cut + 1)
      local expiry = id and tonumber(redis.call('HGET', eprefix .. id, 'e'))
      if not expiry then
        redis.call('ZREM', tier.x, member)
        if id then forgetGone(id) end
        strays = strays + 1
      elseif expiry <= now then
        drop(id, eprefix, tier)
        strays = strays + 1
      end
    end
  elseif phase == 'i' then
    local reply = redis.call('ZSCAN', tier.i, position, 'COUNT', batch)
    cursor = reply[1] == '0' and 'p0' or 'i' .. reply[1]
    local items = reply[2]
    for k = 1, #items, 2 do
      local present = redis.call('EXISTS', eprefix .. items[k], bodyKey(eprefix, items[k]))
      if present == 0 then
        forgetGone(items[k])
        strays = strays + 1
      elseif present == 1 then
        -- Its hash or its body is gone (evicted): what remains goes.
        drop(items[k], eprefix, tier)
        strays = strays + 1
      end
    end
  else
    -- p and r: ids the tier index no longer names (it was evicted and rebuilt without them).
    local reply = redis.call(phase == 'p' and 'ZSCAN' or 'HSCAN', tier[phase], position, 'COUNT', batch)
    cursor = reply[1] == '0' and (nextPhase[phase] and nextPhase[phase] .. '0' or '0') or phase .. reply[1]
    local items = reply[2]
    for k = 1, #items, 2 do
      if redis.call('ZSCORE', tier.i, items[k]) == false then
        forgetGone(items[k])
        strays = strays + 1
      end
    end
  end
end
if redis.call('ZCARD', tier.i) == 0 then redis.call('DEL', tier.i, tier.p, tier.r, tier.x) end
return {pruned, strays, cursor}
