-- Checks one memory tier's raw Redis layout, apart from the library (run by the chaos tests through redis-cli):
--   redis-cli -p PORT --eval scripts/check-memory-layout.lua , 'axon:{ns.<hex>}:<tier>:v2:'
-- Every tier-index member has an entry hash with the same expiry and a body; every live entry hash is in the tier index;
-- the priority index and the ranking hash name exactly the tier index's ids, and each record in the ranking hash
-- starts with the entry's expiry; every lexicographic member names an
-- id of the tier index with that source in its `n` field, and every such source has its member.
-- Returns the problems found (at most 20); an empty reply means the layout is consistent.
local prefix = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local problems = {}
local function problem(text) if #problems < 20 then problems[#problems + 1] = text end end

local hashes, cursor = {}, '0'
repeat
  local reply = redis.call('SCAN', cursor, 'MATCH', prefix .. 'e:*', 'COUNT', 1000)
  cursor = reply[1]
  for _, key in ipairs(reply[2]) do hashes[string.sub(key, #prefix + 3)] = true end
until cursor == '0'

local tierIndex, items = {}, redis.call('ZRANGE', prefix .. 'i', 0, -1, 'WITHSCORES')
for k = 1, #items, 2 do
  local id, expiry = items[k], tonumber(items[k + 1])
  tierIndex[id] = expiry
  if redis.call('EXISTS', prefix .. 'b:' .. id) == 0 then problem('i names ' .. id .. ' but its body is missing') end
  if not hashes[id] then
    problem('i names ' .. id .. ' but its entry hash is missing')
  elseif tonumber(redis.call('HGET', prefix .. 'e:' .. id, 'e')) ~= expiry then
    problem('i and the entry hash disagree on the expiry of ' .. id)
  end
end
for id in pairs(hashes) do
  local expiry = tonumber(redis.call('HGET', prefix .. 'e:' .. id, 'e'))
  if expiry and expiry > now and not tierIndex[id] then problem('live entry ' .. id .. ' is missing from i') end
end
for _, id in ipairs(redis.call('ZRANGE', prefix .. 'p', 0, -1)) do
  if not tierIndex[id] then problem('p names ' .. id .. ' which i does not') end
end
for _, id in ipairs(redis.call('HKEYS', prefix .. 'r')) do
  if not tierIndex[id] then problem('r names ' .. id .. ' which i does not') end
end
local members = {}
for _, member in ipairs(redis.call('ZRANGE', prefix .. 'x', 0, -1)) do
  members[member] = true
  local cut = string.find(member, '\0', 1, true)
  local id = cut and string.sub(member, cut + 1)
  if not id or not tierIndex[id] then problem('x member of ' .. tostring(id) .. ' names no entry of i') end
end
for id in pairs(tierIndex) do
  if redis.call('ZSCORE', prefix .. 'p', id) == false then problem(id .. ' is missing from p') end
  local record = redis.call('HGET', prefix .. 'r', id)
  if not record then
    problem(id .. ' is missing from r')
  elseif #record ~= 40 or struct.unpack('>d', record) ~= tierIndex[id] then
    problem('the record of ' .. id .. ' in r is not 40 bytes starting with its expiry')
  end
  local sources = redis.call('HGET', prefix .. 'e:' .. id, 'n')
  if sources then
    for source in string.gmatch(sources, '[^\n]+') do
      if not members[source .. '\0' .. id] then problem('x lacks ' .. source .. ' for ' .. id) end
    end
  end
end
return problems
