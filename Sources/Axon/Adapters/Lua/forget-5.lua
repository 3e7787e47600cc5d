-- Removes an entry and its index members. Returns 1 if it was live.
-- KEYS[1] entry hash, KEYS[2] tier index i, KEYS[3] priority index p, KEYS[4] ranking hash r,
-- KEYS[5] lexicographic index x.
-- ARGV[1] id, ARGV[2] now ms, ARGV[3] entry key prefix, ARGV[4] grace ms, ARGV[5] prune budget.
--@include helpers
local now, grace, budget = number(ARGV[2], 'now'), number(ARGV[4], 'grace'), number(ARGV[5], 'prune budget')
local tier = {i = KEYS[2], p = KEYS[3], r = KEYS[4], x = KEYS[5]}
local expiry = tonumber(redis.call('HGET', KEYS[1], 'e'))
if expiry or redis.call('ZSCORE', tier.i, ARGV[1]) then
  drop(ARGV[1], ARGV[3], tier)
  refit(tier, grace)
end
prune(tier, ARGV[3], now, budget)
if expiry and expiry > now then return 1 end
return 0
