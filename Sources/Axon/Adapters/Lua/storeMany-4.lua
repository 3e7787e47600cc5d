-- Stores a batch of entries into one tier (what `store` does for each, with the tier's index keys written once for
-- the batch), then applies the tier's cap once. Returns the ids the cap evicted.
-- KEYS[1] tier index i, KEYS[2] priority index p, KEYS[3] ranking hash r, KEYS[4] lexicographic index x, then per
-- entry its hash and its body (KEYS[3 + 2k], KEYS[4 + 2k] for the k-th entry).
-- ARGV[1] now ms, ARGV[2] entry hash prefix, ARGV[3] grace ms, ARGV[4] prune budget, ARGV[5] cap (0: none), then per
-- entry: id, expiry ms, importance, index sources (newline-separated), created ms, last access ms, access count,
-- body (EntryCodec.body), the number of extra hash field pairs, and those pairs.
-- Every argument is checked before the first write; ids must be distinct within a batch.
--@include helpers
local now, eprefix = number(ARGV[1], 'now'), ARGV[2]
local grace, budget, cap = number(ARGV[3], 'grace'), number(ARGV[4], 'prune budget'), number(ARGV[5], 'cap')
if cap < 0 or grace < 0 or budget < 0 then return redis.error_reply('ERR axon store: cap, grace and budget must not be negative') end
local entries, seen, position = {}, {}, 6
while position <= #ARGV do
  local id = ARGV[position]
  local entry = {
    id = id, expiry = number(ARGV[position + 1], 'expiry'), importance = number(ARGV[position + 2], 'importance'),
    created = number(ARGV[position + 4], 'created'), accessed = number(ARGV[position + 5], 'last access'),
    count = number(ARGV[position + 6], 'access count'), at = position,
  }
  local fieldPairs = number(ARGV[position + 8], 'field count')
  if id == '' or string.find(id, '\0', 1, true) then return redis.error_reply('ERR axon store: the id is empty or contains NUL') end
  if seen[id] then return redis.error_reply('ERR axon store: an id appears twice in one batch') end
  if entry.importance < 0 or entry.importance > 1 then return redis.error_reply('ERR axon store: importance must be in 0...1') end
  if entry.expiry <= now then return redis.error_reply('ERR axon store: the entry expires before it is stored') end
  if fieldPairs < 0 or fieldPairs ~= math.floor(fieldPairs) or position + 8 + 2 * fieldPairs > #ARGV then
    return redis.error_reply('ERR axon store: malformed hash field pairs')
  end
  if not bodyWords(ARGV[position + 7]) then return redis.error_reply('ERR axon store: the body does not start with its words') end
  seen[id] = true
  entry.last = position + 8 + 2 * fieldPairs
  entries[#entries + 1] = entry
  position = entry.last + 1
end
if #KEYS ~= 4 + 2 * #entries then return redis.error_reply('ERR axon store: expected a hash and a body key per entry') end
if #entries == 0 then return {} end

local tier = {i = KEYS[1], p = KEYS[2], r = KEYS[3], x = KEYS[4]}
prune(tier, eprefix, now, budget)
-- Entries stored again replace their earlier selves.
local hashes = {}
for k = 1, #entries do hashes[k] = KEYS[3 + 2 * k] end
if redis.call('EXISTS', unpack(hashes)) > 0 then
  local again = {}
  for k, entry in ipairs(entries) do
    if redis.call('EXISTS', hashes[k]) == 1 then again[#again + 1] = entry.id end
  end
  dropAll(again, eprefix, tier)
  refit(tier, grace)
end
local byExpiry, byImportance, records, members, latest = {}, {}, {}, {}, 0
for k, entry in ipairs(entries) do
  local at, id = entry.at, entry.id
  redis.call('HSET', hashes[k], 'n', ARGV[at + 3], 'e', ARGV[at + 1], 'i', ARGV[at + 2], 'c', ARGV[at + 4], unpack(ARGV, at + 9, entry.last))
  redis.call('PEXPIREAT', hashes[k], entry.expiry + grace)
  redis.call('SET', KEYS[4 + 2 * k], ARGV[at + 7], 'PXAT', entry.expiry + grace)
  byExpiry[#byExpiry + 1] = entry.expiry
  byExpiry[#byExpiry + 1] = id
  byImportance[#byImportance + 1] = entry.importance
  byImportance[#byImportance + 1] = id
  records[#records + 1] = id
  records[#records + 1] = packRank(entry.expiry, entry.importance, entry.created, entry.accessed, entry.count)
  for source in string.gmatch(ARGV[at + 3], '[^\n]+') do
    members[#members + 1] = 0
    members[#members + 1] = source .. '\0' .. id
  end
  latest = math.max(latest, entry.expiry)
end
local function each(command, key, list)
  for first = 1, #list, 1000 do redis.call(command, key, unpack(list, first, math.min(first + 999, #list))) end
end
each('ZADD', tier.i, byExpiry)
each('ZADD', tier.p, byImportance)
each('HSET', tier.r, records)
each('ZADD', tier.x, members)
extendAll(tier, latest + grace)
return applyCap(tier, eprefix, now, ARGV[1], cap, budget, grace)
