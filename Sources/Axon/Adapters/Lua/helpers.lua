-- Shared by the memory scripts: a script that says `--@include helpers` gets these functions.
--
-- One tier's keys (all inside the namespace's hash tag): `e:<id>` an entry hash; `i` the tier index
-- (id -> expiry ms); `p` the priority index (id -> importance); `x` the lexicographic index (score 0,
-- members "<source>\0<id>", where a source is "a" for every entry, "w<word>", "t<tag hex>",
-- "u<user hex>" or "s<session hex>"). An entry's sources are its hash field `n`, newline-separated.
-- An entry hash outlives its expiry by a grace period, so that pruning can still read `n`.

-- Moves a key's expiry to `at` when that is later; a key without an expiry gets `at`.
local function extend(key, at)
  if redis.call('PEXPIREAT', key, at, 'GT') == 0 then redis.call('PEXPIREAT', key, at, 'NX') end
end

-- The index members of entry `id` with sources `sources` (field `n`; false when the hash is gone).
local function members(id, sources)
  local out = {}
  if sources then
    for source in string.gmatch(sources, '[^\n]+') do out[#out + 1] = source .. '\0' .. id end
  end
  return out
end

-- Removes entry `id`: its index members, its hash, its tier and priority index entries.
local function drop(id, eprefix, i, p, x)
  local ekey = eprefix .. id
  local list = members(id, redis.call('HGET', ekey, 'n'))
  for first = 1, #list, 1000 do
    redis.call('ZREM', x, unpack(list, first, math.min(first + 999, #list)))
  end
  redis.call('DEL', ekey)
  redis.call('ZREM', i, id)
  redis.call('ZREM', p, id)
end

-- After entries were removed: the tier's index keys expire `grace` after their newest remaining entry
-- and are deleted when none remains.
local function refit(i, p, x, grace)
  local newest = redis.call('ZREVRANGE', i, 0, 0, 'WITHSCORES')[2]
  if newest then
    local at = tonumber(newest) + grace
    redis.call('PEXPIREAT', i, at)
    redis.call('PEXPIREAT', p, at)
    redis.call('PEXPIREAT', x, at)
  else
    redis.call('DEL', i, p, x)
  end
end

-- Removes up to `max` expired entries, the earliest expiry first. Returns how many.
local function prune(i, p, x, eprefix, now, max)
  if max <= 0 then return 0 end
  local dead = redis.call('ZRANGEBYSCORE', i, '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(dead) do drop(id, eprefix, i, p, x) end
  return #dead
end

-- An entry's fields in the order EntryCodec.readOrder decodes.
local function read(key)
  return redis.call('HMGET', key, 'x', 'i', 'c', 'e', 'l', 'a', 'u', 's', 'k', 'm')
end

-- Whether `a` sorts before `b` bytewise (Lua's `<` on strings follows the server's locale).
local function before(a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  local from = 1
  while from <= n do
    local to = math.min(from + 7, n)
    if string.sub(a, from, to) ~= string.sub(b, from, to) then
      for k = from, to do
        local x, y = string.byte(a, k), string.byte(b, k)
        if x ~= y then return x < y end
      end
    end
    from = to + 1
  end
  return #a < #b
end

-- A number argument, or an error naming it.
local function number(value, name)
  local n = tonumber(value)
  if not n or n ~= n then error({err = 'ERR axon: ' .. name .. ' is not a number: ' .. tostring(value)}) end
  return n
end
