-- Shared by the memory scripts: a script that says `--@include helpers` gets the functions of this file it calls, and
-- the ones those call (scripts/embed-lua.py): defining a function costs a closure per call of the script.
--
-- One tier's keys (all inside the namespace's hash tag, under `<tier>:v2:`): per entry, `e:<id>` a small hash (`n` its
-- index sources, newline-separated; `e` expiry, `i` importance and `c` created ms, for pruning, sweeps and rebuilds;
-- `m` its metadata for recall's metadata filter; in a tier without a word index `w` and `g`, its words)
-- and `b:<id>` its body, one string (EntryCodec.body: the words the phrase check reads first, then what the client
-- decodes); `i` the tier index (id -> expiry ms, for pruning and counting); `p` the priority index (id -> importance,
-- for the cap); `r` the ranking hash (id -> the entry's record: expiry, importance, created ms, last access ms and
-- access count packed as five big-endian doubles, read in bulk by recall and updated by every read); `x` the
-- lexicographic index (score 0, members "<source>\0<id>", where a source is "a" for every entry, "w<word>",
-- "t<tag hex>", "u<user hex>" or "s<session hex>"). An entry's keys outlive its expiry by a grace period, so that
-- pruning can still read `n`. Scripts get the entry hash prefix (`...:v2:e:`); the body prefix is the same with `b:`.
-- Scripts name the four index keys in a table: {i = ..., p = ..., r = ..., x = ...}.

-- Moves a key's expiry to `at` when that is later; a key without an expiry gets `at`.
local function extend(key, at)
  if redis.call('PEXPIREAT', key, at, 'GT') == 0 then redis.call('PEXPIREAT', key, at, 'NX') end
end

-- Adds entry `id`'s members to the lexicographic index: one per source of `sources` (its field `n`, newline-separated).
local function addMembers(tier, id, sources)
  local args = {}
  for source in string.gmatch(sources, '[^\n]+') do
    args[#args + 1] = 0
    args[#args + 1] = source .. '\0' .. id
  end
  for first = 1, #args, 1000 do redis.call('ZADD', tier.x, unpack(args, first, math.min(first + 999, #args))) end
end

-- The key of entry `id`'s body, from the entry hash prefix (which ends in `e:`).
local function bodyKey(eprefix, id)
  return string.sub(eprefix, 1, -3) .. 'b:' .. id
end

-- Removes entries `ids`: their index members, hashes and bodies, and their entries in the tier and priority indexes
-- and the ranking hash, with one call per key for all of them (and one read of each hash's `n`).
local function dropAll(ids, eprefix, tier)
  local members, keys = {}, {}
  for _, id in ipairs(ids) do
    local sources = redis.call('HGET', eprefix .. id, 'n')
    if sources then
      for source in string.gmatch(sources, '[^\n]+') do members[#members + 1] = source .. '\0' .. id end
    end
    keys[#keys + 1] = eprefix .. id
    keys[#keys + 1] = bodyKey(eprefix, id)
  end
  for first = 1, #members, 1000 do
    redis.call('ZREM', tier.x, unpack(members, first, math.min(first + 999, #members)))
  end
  for first = 1, #keys, 1000 do
    redis.call('DEL', unpack(keys, first, math.min(first + 999, #keys)))
  end
  for first = 1, #ids, 1000 do
    local last = math.min(first + 999, #ids)
    redis.call('ZREM', tier.i, unpack(ids, first, last))
    redis.call('ZREM', tier.p, unpack(ids, first, last))
    redis.call('HDEL', tier.r, unpack(ids, first, last))
  end
end

-- Removes entry `id` (`dropAll` of one).
local function drop(id, eprefix, tier)
  dropAll({id}, eprefix, tier)
end

-- The tier's index keys expire together, `grace` after their newest entry: `at` moves them later.
local function extendAll(tier, at)
  extend(tier.i, at)
  extend(tier.p, at)
  extend(tier.r, at)
  extend(tier.x, at)
end

-- After entries were removed: the index keys expire `grace` after their newest remaining entry and are
-- deleted when none remains.
local function refit(tier, grace)
  local newest = redis.call('ZREVRANGE', tier.i, 0, 0, 'WITHSCORES')[2]
  if newest then
    local at = tonumber(newest) + grace
    for _, key in ipairs({tier.i, tier.p, tier.r, tier.x}) do redis.call('PEXPIREAT', key, at) end
  else
    redis.call('DEL', tier.i, tier.p, tier.r, tier.x)
  end
end

-- The tier's cap (0: none): while more than `cap` entries are live, removes the lowest priority one (stepping over
-- at most `strays` dead ones on the way). `nowText` is `now` as the caller passed it. Returns the ids it evicted.
local function applyCap(tier, eprefix, now, nowText, cap, strays, grace)
  local evicted = {}
  if cap <= 0 then return evicted end
  local live = redis.call('ZCOUNT', tier.i, '(' .. nowText, '+inf')
  while live > cap do
    local victim = redis.call('ZRANGE', tier.p, 0, 0)[1]
    if not victim then break end
    local at = tonumber(redis.call('ZSCORE', tier.i, victim))
    if at and at > now then
      drop(victim, eprefix, tier)
      evicted[#evicted + 1] = victim
      live = live - 1
    elseif strays > 0 then
      strays = strays - 1
      drop(victim, eprefix, tier)
    else
      break
    end
  end
  if #evicted > 0 then refit(tier, grace) end
  return evicted
end

-- Removes up to `max` expired entries, the earliest expiry first. Returns how many.
local function prune(tier, eprefix, now, max)
  if max <= 0 then return 0 end
  local dead = redis.call('ZRANGEBYSCORE', tier.i, '-inf', now, 'LIMIT', 0, max)
  if #dead > 0 then dropAll(dead, eprefix, tier) end
  return #dead
end

-- The text's words and the tags' words at the start of body `body`: two parts, each a decimal length, `:` and the
-- bytes (EntryCodec.body); nil when the body does not start so.
local function bodyWords(body)
  local colon = string.find(body, ':', 1, true)
  local w = colon and tonumber(string.sub(body, 1, colon - 1))
  if not w then return nil end
  local from = colon + w + 1
  local second = string.find(body, ':', from, true)
  local g = second and tonumber(string.sub(body, from, second - 1))
  if not g or second + g > #body then return nil end
  return string.sub(body, colon + 1, colon + w), string.sub(body, second + 1, second + g)
end

-- Whether body `body` has the phrase: `text` in its text's words or `tag` in its tags' words (the first two parts,
-- see `bodyWords`). It searches the body in place, without copying the parts: a C function call is the costly step of
-- this server's Lua (over a thousand instructions), so a phrase in the text takes two calls. A malformed body is
-- never an error (its phrase is not found, or found where its framing says).
local function hasPhrase(body, text, tag)
  local _, open, w = string.find(body, '^(%d+):')
  if not open then return false end
  local close = open + w  -- `w` is a string of digits: Lua's arithmetic reads it as a number
  local at = string.find(body, text, open + 1, true)
  if at and at + #text - 1 <= close then return true end
  local _, tagOpen, g = string.find(body, '^(%d+):', close + 1)
  if not tagOpen then return false end
  at = string.find(body, tag, tagOpen + 1, true)
  return at ~= nil and at + #tag - 1 <= tagOpen + g
end

-- An entry's record for the ranking hash.
local function packRank(expiry, importance, created, accessed, count)
  return struct.pack('>ddddd', expiry, importance, created, accessed, count)
end

-- The five numbers of a record (false for a record that is not one).
local function unpackRank(record)
  if not record or #record ~= 40 then return false end
  return struct.unpack('>ddddd', record)
end

-- Whether `a` sorts before `b` bytewise (Lua's `<` on strings follows the server's locale, so it is not used).
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
