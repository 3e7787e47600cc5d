-- Stores an entry, indexes it and applies the tier's cap. Returns the ids the cap evicted.
-- KEYS[1] entry hash, KEYS[2] tier index i, KEYS[3] priority index p, KEYS[4] ranking hash r,
-- KEYS[5] lexicographic index x, KEYS[6] entry body.
-- ARGV[1] id, ARGV[2] now ms, ARGV[3] expiry ms, ARGV[4] cap (0: none), ARGV[5] entry hash prefix,
-- ARGV[6] importance, ARGV[7] grace ms, ARGV[8] prune budget (expired entries removed first, and dead
-- entries the cap may step over), ARGV[9] the entry's index sources (newline-separated; stored as field n),
-- ARGV[10] created ms, ARGV[11] last access ms, ARGV[12] access count (with expiry and importance: the entry's
-- record in the ranking hash), ARGV[13] the entry's body (EntryCodec.body), ARGV[14...] more hash fields and values
-- (`m` metadata for recall's metadata filter; `w`, `g` the words, in a tier without a word index).
-- Every argument is checked before the first write.
--@include helpers
local id, eprefix, sources = ARGV[1], ARGV[5], ARGV[9]
local now, expiry = number(ARGV[2], 'now'), number(ARGV[3], 'expiry')
local cap, importance = number(ARGV[4], 'cap'), number(ARGV[6], 'importance')
local grace, budget = number(ARGV[7], 'grace'), number(ARGV[8], 'prune budget')
local created, accessed, count = number(ARGV[10], 'created'), number(ARGV[11], 'last access'), number(ARGV[12], 'access count')
if #ARGV < 13 or (#ARGV - 13) % 2 ~= 0 then return redis.error_reply('ERR axon store: hash fields must come in pairs') end
if id == '' or string.find(id, '\0', 1, true) then return redis.error_reply('ERR axon store: the id is empty or contains NUL') end
if importance < 0 or importance > 1 then return redis.error_reply('ERR axon store: importance must be in 0...1') end
if cap < 0 or grace < 0 or budget < 0 then return redis.error_reply('ERR axon store: cap, grace and budget must not be negative') end
if expiry <= now then return redis.error_reply('ERR axon store: the entry expires before it is stored') end
if not bodyWords(ARGV[13]) then return redis.error_reply('ERR axon store: the body does not start with its words') end

local tier = {i = KEYS[2], p = KEYS[3], r = KEYS[4], x = KEYS[5]}
prune(tier, eprefix, now, budget)
if redis.call('EXISTS', KEYS[1]) == 1 then
  drop(id, eprefix, tier)
  refit(tier, grace)
end
redis.call('HSET', KEYS[1], 'n', sources, 'e', ARGV[3], 'i', ARGV[6], 'c', ARGV[10], unpack(ARGV, 14))
redis.call('PEXPIREAT', KEYS[1], expiry + grace)
redis.call('SET', KEYS[6], ARGV[13], 'PXAT', expiry + grace)
redis.call('ZADD', tier.i, expiry, id)
redis.call('ZADD', tier.p, importance, id)
redis.call('HSET', tier.r, id, packRank(expiry, importance, created, accessed, count))
addMembers(tier, id, sources)
extendAll(tier, expiry + grace)

return applyCap(tier, eprefix, now, ARGV[2], cap, budget, grace)
